/**
 * Key fragments: the delegator's re-encryption key rk = f(x) for a random degree-(t−1) polynomial
 * with f(0) = sk_A / d, one per proxy, each with a commitment u·rk and two signatures.
 */
import { bytesToHex, concatBytes, randomBytes } from '@noble/hashes/utils.js';
import { bytesEqual } from '../../bytes.js';
import { bigintTo32Bytes, nadd, ninv, nmul } from '../ec/field.js';
import { equals as jacEquals, Jacobian } from '../ec/jacobian.js';
import { generatorTable } from '../ec/point.js';
import { scalarField } from './capsule.js';
import { CurvePoint } from './curve-point.js';
import { UmbralError, malformed } from './errors.js';
import { DST, hashToScalar, parameters } from './hashing.js';
import { type PublicKey, SecretKey, Signature, Signer, randomNonZeroScalar } from './keys.js';
import { Reader, Writer } from './serde.js';

/** The message both kfrag signatures cover; absent keys are a single 0x00 byte. */
export function kfragSignedMessage(
  id: Uint8Array,
  commitment: CurvePoint,
  precursor: CurvePoint,
  delegatingPk: PublicKey | null,
  receivingPk: PublicKey | null,
): Uint8Array {
  const key = (pk: PublicKey | null) => (pk ? concatBytes(Uint8Array.of(1), pk.point.bytes) : Uint8Array.of(0));
  return concatBytes(id, commitment.bytes, precursor.bytes, key(delegatingPk), key(receivingPk));
}

interface KeyFragFields {
  readonly id: Uint8Array;
  readonly key: bigint;
  readonly precursor: CurvePoint;
  readonly commitment: CurvePoint;
  readonly signatureForProxy: Signature;
  readonly signatureForReceiver: Signature;
  readonly delegatingKeySigned: boolean;
  readonly receivingKeySigned: boolean;
}

function serialise(f: KeyFragFields): Uint8Array {
  return new Writer()
    .array(5)
    .array(1)
    .bin(parameters().uBytes)
    .bin(f.id)
    .bin(bigintTo32Bytes(f.key))
    .bin(f.precursor.bytes)
    .array(5)
    .bin(f.commitment.bytes)
    .bin(f.signatureForProxy.toBEBytes())
    .bin(f.signatureForReceiver.toBEBytes())
    .bool(f.delegatingKeySigned)
    .bool(f.receivingKeySigned)
    .bytes();
}

const fieldsEqual = (a: KeyFragFields, b: KeyFragFields): boolean => bytesEqual(serialise(a), serialise(b));

/** A key fragment as received from the network: must be verified before use. */
export class KeyFrag {
  /** @internal */
  constructor(readonly fields: KeyFragFields) {}

  static fromBytes(bytes: Uint8Array): KeyFrag {
    const r = new Reader(bytes, 'KeyFrag');
    r.array(5);
    r.array(1);
    const u = r.bin(33, 'parameters.u');
    if (!bytesEqual(u, parameters().uBytes)) throw malformed('KeyFrag', 'parameters.u is not the Umbral parameter point');
    const id = r.bin(32, 'id');
    const key = scalarField(r.bin(32, 'key'), 'KeyFrag.key');
    const precursor = CurvePoint.fromBytes(r.bin(33, 'precursor'), 'KeyFrag.precursor');
    r.array(5);
    const commitment = CurvePoint.fromBytes(r.bin(33, 'commitment'), 'KeyFrag.commitment');
    const signatureForProxy = signatureField(r.bin(64, 'signature_for_proxy'), 'KeyFrag.signature_for_proxy');
    const signatureForReceiver = signatureField(r.bin(64, 'signature_for_receiver'), 'KeyFrag.signature_for_receiver');
    const delegatingKeySigned = r.bool('delegating_key_signed');
    const receivingKeySigned = r.bool('receiving_key_signed');
    r.end();
    return new KeyFrag({ id, key, precursor, commitment, signatureForProxy, signatureForReceiver, delegatingKeySigned, receivingKeySigned });
  }

  /**
   * Checks the commitment u·key and the delegator's signature for the proxy. The delegating and
   * receiving keys must be given when the kfrag was generated with the matching signing flag.
   */
  verify(verifyingPk: PublicKey, delegatingPk: PublicKey | null = null, receivingPk: PublicKey | null = null): VerifiedKeyFrag {
    const f = this.fields;
    const fail = (why: string): never => {
      throw new UmbralError('KFRAG_VERIFICATION_FAILED', `KeyFrag verification failed: ${why}`);
    };
    if (f.key === 0n || !jacEquals(parameters().uTable.mulSecret(f.key), Jacobian.fromAffine(f.commitment.affine))) {
      fail('the commitment does not match the key (corrupt or forged kfrag)');
    }
    if (f.delegatingKeySigned && !delegatingPk) fail('the kfrag signs the delegating key, but no delegating key was given');
    if (f.receivingKeySigned && !receivingPk) fail('the kfrag signs the receiving key, but no receiving key was given');
    const message = kfragSignedMessage(
      f.id,
      f.commitment,
      f.precursor,
      f.delegatingKeySigned ? delegatingPk : null,
      f.receivingKeySigned ? receivingPk : null,
    );
    if (!f.signatureForProxy.verify(verifyingPk, message)) {
      fail('the signature does not verify (wrong verifying, delegating or receiving key, or a forged kfrag)');
    }
    return new VerifiedKeyFrag(f);
  }

  /** Trusts the kfrag without checking it (e.g. it was verified when it was stored). */
  skipVerification(): VerifiedKeyFrag {
    return new VerifiedKeyFrag(this.fields);
  }
  toBytes(): Uint8Array {
    return serialise(this.fields);
  }
  equals(other: KeyFrag): boolean {
    return other instanceof KeyFrag && fieldsEqual(this.fields, other.fields);
  }
  toString(): string {
    return `KeyFrag:${bytesToHex(this.fields.id.subarray(0, 8))}`;
  }
  free(): void {}
}

export class VerifiedKeyFrag {
  /** @internal */
  constructor(readonly fields: KeyFragFields) {}
  toBytes(): Uint8Array {
    return serialise(this.fields);
  }
  unverify(): KeyFrag {
    return new KeyFrag(this.fields);
  }
  equals(other: VerifiedKeyFrag): boolean {
    return other instanceof VerifiedKeyFrag && fieldsEqual(this.fields, other.fields);
  }
  toString(): string {
    return `VerifiedKeyFrag:${bytesToHex(this.fields.id.subarray(0, 8))}`;
  }
  free(): void {}
}

export function signatureField(bytes: Uint8Array, what: string): Signature {
  try {
    return Signature.fromBEBytes(bytes);
  } catch (e) {
    throw malformed(what, (e as Error).message);
  }
}

/** x_i = H(POLYNOMIAL_ARG; precursor, pk_B, dh, id): the evaluation point of a kfrag. */
export function polynomialArg(precursor: CurvePoint, receivingPk: PublicKey, dh: CurvePoint, id: Uint8Array): bigint {
  return hashToScalar(DST.polynomialArg, precursor.bytes, receivingPk.point.bytes, dh.bytes, id);
}

/** d = H(SHARED_SECRET; precursor, pk_B, dh) */
export function sharedSecretScalar(precursor: CurvePoint, receivingPk: PublicKey, dh: CurvePoint): bigint {
  return hashToScalar(DST.sharedSecret, precursor.bytes, receivingPk.point.bytes, dh.bytes);
}

const MAX_SHARES = 255;

export function generateKFrags(
  delegatingSk: SecretKey,
  receivingPk: PublicKey,
  signer: Signer,
  threshold: number,
  shares: number,
  signDelegatingKey: boolean,
  signReceivingKey: boolean,
): VerifiedKeyFrag[] {
  if (!(delegatingSk instanceof SecretKey)) throw new UmbralError('INVALID_ARGUMENT', 'generateKFrags: delegatingSk must be a SecretKey');
  if (!(signer instanceof Signer)) throw new UmbralError('INVALID_ARGUMENT', 'generateKFrags: signer must be a Signer');
  if (!Number.isInteger(threshold) || !Number.isInteger(shares) || threshold < 1 || shares < threshold || shares > MAX_SHARES) {
    throw new UmbralError('INVALID_ARGUMENT', `generateKFrags: need 1 ≤ threshold ≤ shares ≤ ${MAX_SHARES}, got threshold ${threshold}, shares ${shares}`);
  }
  const delegatingPk = delegatingSk.publicKey();
  const xp = randomNonZeroScalar();
  const [precursor, dh] = CurvePoint.fromJacobians([generatorTable().mulSecret(xp), receivingPk.mulSecret(xp)], 'precursor');
  const d = sharedSecretScalar(precursor!, receivingPk, dh!);
  const coefficients = [nmul(SecretKey.scalarOf(delegatingSk), ninv(d))];
  for (let i = 1; i < threshold; i++) coefficients.push(randomNonZeroScalar());
  const evaluate = (x: bigint): bigint => coefficients.reduceRight((acc, c) => nadd(nmul(acc, x), c), 0n);

  const ids: Uint8Array[] = [];
  const keys: bigint[] = [];
  for (let i = 0; i < shares; i++) {
    const id = randomBytes(32);
    const key = evaluate(polynomialArg(precursor!, receivingPk, dh!, id));
    if (key === 0n) throw new Error('internal: zero re-encryption key (probability 2^-256)');
    ids.push(id);
    keys.push(key);
  }
  const commitments = CurvePoint.fromJacobians(keys.map((k) => parameters().uTable.mulSecret(k)), 'commitment');
  return ids.map((id, i) => {
    const commitment = commitments[i]!;
    const forReceiver = kfragSignedMessage(id, commitment, precursor!, delegatingPk, receivingPk);
    const forProxy = kfragSignedMessage(id, commitment, precursor!, signDelegatingKey ? delegatingPk : null, signReceivingKey ? receivingPk : null);
    return new VerifiedKeyFrag({
      id,
      key: keys[i]!,
      precursor: precursor!,
      commitment,
      signatureForProxy: signer.sign(forProxy),
      signatureForReceiver: signer.sign(forReceiver),
      delegatingKeySigned: signDelegatingKey,
      receivingKeySigned: signReceivingKey,
    });
  });
}
