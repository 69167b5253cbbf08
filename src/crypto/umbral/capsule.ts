/**
 * The capsule (E, V, s): an Umbral key encapsulation whose correctness g·s = V + E·h is publicly
 * checkable, so a proxy cannot be fed a forged capsule.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js';
import { N, bigintTo32Bytes, bytesToBigint, nadd, nmul } from '../ec/field.js';
import { Jacobian, add, affineNeg, equals } from '../ec/jacobian.js';
import { generatorTable } from '../ec/point.js';
import { VarBase, msmUnsafe } from '../ec/scalar-mult.js';
import { CurvePoint } from './curve-point.js';
import { UmbralError, malformed } from './errors.js';
import { DST, hashToScalar } from './hashing.js';
import { type PublicKey, SecretKey, randomNonZeroScalar } from './keys.js';
import { ParsedCache } from './parsed-cache.js';
import { Reader, Writer } from './serde.js';

/** Capsules parsed and checked, by their bytes (a record's capsule comes back at every opening). */
const PARSED = new ParsedCache<Capsule>(1024);

export class Capsule {
  private constructor(
    readonly e: CurvePoint,
    readonly v: CurvePoint,
    readonly s: bigint,
  ) {}

  /** @internal h = H(CAPSULE_POINTS; E, V) */
  static challenge(e: CurvePoint, v: CurvePoint): bigint {
    return hashToScalar(DST.capsulePoints, e.bytes, v.bytes);
  }

  /** @internal a fresh capsule for pk and the shared point only its holder (or delegates) can recompute */
  static fromPublicKey(pk: PublicKey): { capsule: Capsule; sharedPoint: Uint8Array } {
    const r = randomNonZeroScalar();
    const u = randomNonZeroScalar();
    const g = generatorTable();
    const shared = pk.mulSecret(nadd(r, u) || 1n); // r + u ≡ 0 has probability 2^-256; never feed 0
    const [e, v, sharedPoint] = CurvePoint.fromJacobians([g.mulSecret(r), g.mulSecret(u), shared], 'encapsulation');
    const s = nadd(u, nmul(r, Capsule.challenge(e!, v!)));
    return { capsule: new Capsule(e!, v!, s), sharedPoint: sharedPoint!.bytes };
  }

  /** @internal (E + V)·sk */
  openOriginal(sk: SecretKey): Uint8Array {
    const sum = add(Jacobian.fromAffine(this.e.affine), Jacobian.fromAffine(this.v.affine));
    if (sum.isZero()) throw new UmbralError('INVALID_CAPSULE', 'Capsule: E + V is the point at infinity, nothing can be decapsulated');
    const [p] = CurvePoint.fromJacobians([new VarBase(sum).mulSecret(SecretKey.scalarOf(sk))], 'decapsulation');
    return p!.bytes;
  }

  /** Parses and checks a capsule; the same bytes again return the capsule already checked (parsed-cache.ts). */
  static fromBytes(bytes: Uint8Array): Capsule {
    if (!(bytes instanceof Uint8Array)) return Capsule.#parse(bytes);
    return PARSED.get(bytes, (b) => Capsule.#parse(b));
  }

  static #parse(bytes: Uint8Array): Capsule {
    const r = new Reader(bytes, 'Capsule');
    r.array(3);
    const e = CurvePoint.fromBytes(r.bin(33, 'E'), 'Capsule.E');
    const v = CurvePoint.fromBytes(r.bin(33, 'V'), 'Capsule.V');
    const s = scalarField(r.bin(32, 's'), 'Capsule.s');
    r.end();
    return Capsule.checked(e, v, s);
  }

  /** Verifies g·s == V + E·h, as umbral-pre does on deserialisation. */
  private static checked(e: CurvePoint, v: CurvePoint, s: bigint): Capsule {
    const h = Capsule.challenge(e, v);
    const lhs = msmUnsafe([
      { point: generatorTable(), scalar: s },
      { point: affineNeg(e.affine), scalar: h },
    ]);
    if (!equals(lhs, Jacobian.fromAffine(v.affine))) {
      throw new UmbralError('INVALID_CAPSULE', 'Capsule: the capsule proof g·s = V + E·h does not hold (tampered or corrupt capsule)');
    }
    return new Capsule(e, v, s);
  }

  toBytes(): Uint8Array {
    return new Writer().array(3).bin(this.e.bytes).bin(this.v.bytes).bin(bigintTo32Bytes(this.s)).bytes();
  }
  /** E ‖ V ‖ s (98 bytes): the DEM's associated data. */
  toBytesSimple(): Uint8Array {
    return concatBytes(this.e.bytes, this.v.bytes, bigintTo32Bytes(this.s));
  }
  equals(other: Capsule): boolean {
    return other instanceof Capsule && this.e.equals(other.e) && this.v.equals(other.v) && this.s === other.s;
  }
  toString(): string {
    return `Capsule:${bytesToHex(sha256(this.toBytesSimple()).subarray(0, 8))}`;
  }
  free(): void {}
}

/** A 32-byte big-endian scalar in [0, n). */
export function scalarField(bytes: Uint8Array, what: string): bigint {
  const k = bytesToBigint(bytes);
  if (k >= N) throw malformed(what, 'scalar must be less than the group order n');
  return k;
}
