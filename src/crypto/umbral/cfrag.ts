/**
 * Capsule fragments: a proxy's re-encryption of a capsule with one kfrag, plus a proof (Chaum–
 * Pedersen style, over E, V and u) that it used the kfrag the delegator committed to.
 */
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js';
import { bigintTo32Bytes, nadd, nmul } from '../ec/field.js';
import { Jacobian, affineNeg, equals } from '../ec/jacobian.js';
import { type FixedBase, VarBase, msmUnsafe } from '../ec/scalar-mult.js';
import { Capsule, scalarField } from './capsule.js';
import { CurvePoint } from './curve-point.js';
import { UmbralError } from './errors.js';
import { DST, hashToScalar, parameters } from './hashing.js';
import { type PublicKey, type Signature, randomNonZeroScalar } from './keys.js';
import { bytesEqual } from '../../bytes.js';
import { VerifiedKeyFrag, kfragSignedMessage, signatureField } from './kfrag.js';
import { Reader, Writer } from './serde.js';

interface CapsuleFragFields {
  readonly e1: CurvePoint;
  readonly v1: CurvePoint;
  readonly kfragId: Uint8Array;
  readonly precursor: CurvePoint;
  readonly e2: CurvePoint;
  readonly v2: CurvePoint;
  readonly u1: CurvePoint; // the kfrag's commitment
  readonly u2: CurvePoint;
  readonly z: bigint;
  readonly kfragSignature: Signature; // the delegator's signature for the receiver
}

function serialise(f: CapsuleFragFields): Uint8Array {
  return new Writer()
    .array(5)
    .bin(f.e1.bytes)
    .bin(f.v1.bytes)
    .bin(f.kfragId)
    .bin(f.precursor.bytes)
    .array(6)
    .bin(f.e2.bytes)
    .bin(f.v2.bytes)
    .bin(f.u1.bytes)
    .bin(f.u2.bytes)
    .bin(bigintTo32Bytes(f.z))
    .bin(f.kfragSignature.toBEBytes())
    .bytes();
}

function serialiseSimple(f: CapsuleFragFields): Uint8Array {
  return concatBytes(
    f.e1.bytes,
    f.v1.bytes,
    f.kfragId,
    f.precursor.bytes,
    f.e2.bytes,
    f.v2.bytes,
    f.u1.bytes,
    f.u2.bytes,
    bigintTo32Bytes(f.z),
    f.kfragSignature.toBEBytes(),
  );
}

/** h = H(CFRAG_VERIFICATION; E, e1, e2, V, v1, v2, u, u1, u2) */
function challenge(capsule: Capsule, f: Omit<CapsuleFragFields, 'z' | 'kfragSignature' | 'kfragId' | 'precursor'>): bigint {
  return hashToScalar(
    DST.cfragVerification,
    capsule.e.bytes,
    f.e1.bytes,
    f.e2.bytes,
    capsule.v.bytes,
    f.v1.bytes,
    f.v2.bytes,
    parameters().uBytes,
    f.u1.bytes,
    f.u2.bytes,
  );
}

/** base·z == r2 + r1·h, checked as z·base + h·(−r1) == r2 with public scalars. */
function proofHolds(base: CurvePoint['affine'] | FixedBase, r1: CurvePoint, r2: CurvePoint, z: bigint, h: bigint): boolean {
  const lhs = msmUnsafe([
    { point: base, scalar: z },
    { point: affineNeg(r1.affine), scalar: h },
  ]);
  return equals(lhs, Jacobian.fromAffine(r2.affine));
}

export class CapsuleFrag {
  /** @internal */
  constructor(readonly fields: CapsuleFragFields) {}

  static fromBytes(bytes: Uint8Array): CapsuleFrag {
    const r = new Reader(bytes, 'CapsuleFrag');
    const point = (field: string) => CurvePoint.fromBytes(r.bin(33, field), `CapsuleFrag.${field}`);
    r.array(5);
    const e1 = point('e1');
    const v1 = point('v1');
    const kfragId = r.bin(32, 'kfrag_id');
    const precursor = point('precursor');
    r.array(6);
    const e2 = point('e2');
    const v2 = point('v2');
    const u1 = point('u1');
    const u2 = point('u2');
    const z = scalarField(r.bin(32, 'z'), 'CapsuleFrag.z');
    const kfragSignature = signatureField(r.bin(64, 'kfrag_signature'), 'CapsuleFrag.kfrag_signature');
    r.end();
    return new CapsuleFrag({ e1, v1, kfragId, precursor, e2, v2, u1, u2, z, kfragSignature });
  }

  /**
   * Verifies the delegator's signature over the kfrag (id, commitment, precursor, both keys) and
   * the three proof equations E·z = e2 + e1·h, V·z = v2 + v1·h, u·z = u2 + u1·h for THIS capsule.
   */
  verify(capsule: Capsule, verifyingPk: PublicKey, delegatingPk: PublicKey, receivingPk: PublicKey): VerifiedCapsuleFrag {
    const f = this.fields;
    const fail = (why: string): never => {
      throw new UmbralError('CFRAG_VERIFICATION_FAILED', `CapsuleFrag verification failed: ${why}`);
    };
    if (!(capsule instanceof Capsule)) throw new UmbralError('INVALID_ARGUMENT', 'CapsuleFrag.verify: capsule must be a Capsule');
    const message = kfragSignedMessage(f.kfragId, f.u1, f.precursor, delegatingPk, receivingPk);
    if (!f.kfragSignature.verify(verifyingPk, message)) {
      fail('the kfrag signature does not verify (wrong verifying, delegating or receiving key, or a forged cfrag)');
    }
    const h = challenge(capsule, f);
    const ok =
      proofHolds(capsule.e.affine, f.e1, f.e2, f.z, h) &&
      proofHolds(capsule.v.affine, f.v1, f.v2, f.z, h) &&
      proofHolds(parameters().uTable, f.u1, f.u2, f.z, h);
    if (!ok) fail('the re-encryption proof does not hold for this capsule (a cfrag of another capsule, or a corrupt/forged cfrag)');
    return new VerifiedCapsuleFrag(f);
  }

  skipVerification(): VerifiedCapsuleFrag {
    return new VerifiedCapsuleFrag(this.fields);
  }
  toBytes(): Uint8Array {
    return serialise(this.fields);
  }
  toBytesSimple(): Uint8Array {
    return serialiseSimple(this.fields);
  }
  equals(other: CapsuleFrag): boolean {
    return other instanceof CapsuleFrag && bytesEqual(serialise(this.fields), serialise(other.fields));
  }
  toString(): string {
    return `CapsuleFrag:${bytesToHex(this.fields.kfragId.subarray(0, 8))}`;
  }
  free(): void {}
}

export class VerifiedCapsuleFrag {
  /** @internal */
  constructor(readonly fields: CapsuleFragFields) {}
  toBytes(): Uint8Array {
    return serialise(this.fields);
  }
  toBytesSimple(): Uint8Array {
    return serialiseSimple(this.fields);
  }
  unverify(): CapsuleFrag {
    return new CapsuleFrag(this.fields);
  }
  equals(other: VerifiedCapsuleFrag): boolean {
    return other instanceof VerifiedCapsuleFrag && bytesEqual(serialise(this.fields), serialise(other.fields));
  }
  toString(): string {
    return `VerifiedCapsuleFrag:${bytesToHex(this.fields.kfragId.subarray(0, 8))}`;
  }
  free(): void {}
}

/** The proxy's work: e1 = E·rk, v1 = V·rk, and a proof with fresh randomness t. */
export function reencrypt(capsule: Capsule, kfrag: VerifiedKeyFrag): VerifiedCapsuleFrag {
  if (!(capsule instanceof Capsule)) throw new UmbralError('INVALID_ARGUMENT', 'reencrypt: capsule must be a Capsule');
  if (!(kfrag instanceof VerifiedKeyFrag)) {
    throw new UmbralError('INVALID_ARGUMENT', 'reencrypt: the kfrag must be verified first (KeyFrag.verify returns a VerifiedKeyFrag)');
  }
  const k = kfrag.fields;
  const rk = k.key;
  const t = randomNonZeroScalar();
  const eBase = new VarBase(capsule.e.affine);
  const vBase = new VarBase(capsule.v.affine);
  const [e1, v1, e2, v2, u2] = CurvePoint.fromJacobians(
    [eBase.mulSecret(rk), vBase.mulSecret(rk), eBase.mulSecret(t), vBase.mulSecret(t), parameters().uTable.mulSecret(t)],
    're-encryption',
  ) as [CurvePoint, CurvePoint, CurvePoint, CurvePoint, CurvePoint];
  const u1 = k.commitment;
  const h = challenge(capsule, { e1, v1, e2, v2, u1, u2 });
  const z = nadd(t, nmul(h, rk));
  return new VerifiedCapsuleFrag({ e1, v1, kfragId: k.id, precursor: k.precursor, e2, v2, u1, u2, z, kfragSignature: k.signatureForReceiver });
}
