/**
 * Umbral keys and ECDSA signatures (secp256k1 over SHA-256 of the message, 64-byte r ‖ s).
 * Signing is @noble/curves' RFC 6979 (low-S); verification is ours, on the comb and MSM of
 * ../ec, and accepts high-S as umbral-pre does.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, randomBytes } from '@noble/hashes/utils.js';
import { ecdsaSign, ecdsaVerify } from '../ec/ecdsa.js';
import { N, bigintTo32Bytes, bytesToBigint } from '../ec/field.js';
import { type Affine, type Jacobian, toAffine } from '../ec/jacobian.js';
import { generatorTable } from '../ec/point.js';
import { FixedBase, VarBase } from '../ec/scalar-mult.js';
import { CurvePoint } from './curve-point.js';
import { UmbralError, assertBytes, malformed } from './errors.js';
import { hashToScalar } from './hashing.js';
import { ParsedCache } from './parsed-cache.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A secp256k1 secret scalar in [1, n). Never printed, never serialised implicitly. */
export class SecretKey {
  #scalar: bigint;
  #publicKey: PublicKey | undefined;
  private constructor(scalar: bigint) {
    this.#scalar = scalar;
  }
  /** @internal the scalar, for this module's algorithms only */
  static scalarOf(sk: SecretKey): bigint {
    return sk.#scalar;
  }
  /** @internal */
  static fromScalar(k: bigint): SecretKey {
    if (k <= 0n || k >= N) throw new UmbralError('INVALID_ARGUMENT', 'SecretKey: scalar out of range');
    return new SecretKey(k);
  }
  static random(): SecretKey {
    return new SecretKey(randomNonZeroScalar());
  }
  static fromBEBytes(bytes: Uint8Array): SecretKey {
    assertBytes(bytes, 'SecretKey bytes');
    if (bytes.length !== 32) throw malformed('SecretKey', `must be 32 bytes, got ${bytes.length}`);
    const k = bytesToBigint(bytes);
    if (k === 0n || k >= N) throw malformed('SecretKey', 'scalar must be in [1, n)');
    return new SecretKey(k);
  }
  static fromBytes(bytes: Uint8Array): SecretKey {
    return SecretKey.fromBEBytes(bytes);
  }
  toBEBytes(): Uint8Array {
    return bigintTo32Bytes(this.#scalar);
  }
  toBytes(): Uint8Array {
    return this.toBEBytes();
  }
  publicKey(): PublicKey {
    this.#publicKey ??= PublicKey.fromPoint(CurvePoint.fromAffine(toAffine(generatorTable().mulSecret(this.#scalar))!));
    return this.#publicKey;
  }
  toString(): string {
    return 'SecretKey:...';
  }
  toJSON(): string {
    return this.toString();
  }
  free(): void {}
}

/** After this many secret multiplications by one PublicKey object, it builds a comb for itself. */
const PROMOTE_AFTER = 16;
/** Public keys parsed, by their bytes: at most this many (a promoted key's comb is ≈ 100 kB). */
const PARSED_KEYS = new ParsedCache<PublicKey>(256);
const PROMOTED_WINDOW = 5;

export class PublicKey {
  #uses = 0;
  #comb: FixedBase | undefined;
  private constructor(readonly point: CurvePoint) {}
  /** @internal */
  static fromPoint(point: CurvePoint): PublicKey {
    return new PublicKey(point);
  }
  /**
   * 33-byte compressed or 65-byte uncompressed SEC1. The same bytes again return the same key (parsed-cache.ts), so
   * a key in use again and again (a patient's, a proxy's) is decompressed once and earns its comb.
   */
  static fromCompressedBytes(bytes: Uint8Array): PublicKey {
    assertBytes(bytes, 'PublicKey bytes');
    return PARSED_KEYS.get(bytes, (b) => new PublicKey(CurvePoint.fromBytes(b, 'PublicKey')));
  }
  static fromBytes(bytes: Uint8Array): PublicKey {
    return PublicKey.fromCompressedBytes(bytes);
  }
  toCompressedBytes(): Uint8Array {
    return this.point.bytes.slice();
  }
  toBytes(): Uint8Array {
    return this.toCompressedBytes();
  }
  equals(other: PublicKey): boolean {
    return other instanceof PublicKey && this.point.equals(other.point);
  }
  toString(): string {
    return `PublicKey:${bytesToHex(this.point.bytes.subarray(0, 8))}`;
  }
  toJSON(): string {
    return bytesToHex(this.point.bytes);
  }
  free(): void {}

  /**
   * @internal k·PK for a secret k. Keys used repeatedly (a patient's key at upload, a verifying
   * key) get a comb of their own after PROMOTE_AFTER uses: ≈10 ms once, then ≈4× faster.
   */
  mulSecret(k: bigint): Jacobian {
    return this.#multiplier()?.mulSecret(k) ?? new VarBase(this.point.affine).mulSecret(k);
  }
  /** @internal the comb if built (for public-scalar MSMs), else the affine point */
  msmBase(): FixedBase | Affine {
    return this.#multiplier() ?? this.point.affine;
  }
  #multiplier(): FixedBase | undefined {
    if (!this.#comb && ++this.#uses >= PROMOTE_AFTER) this.#comb = new FixedBase(this.point.affine, PROMOTED_WINDOW);
    return this.#comb;
  }
}

export function randomNonZeroScalar(): bigint {
  for (;;) {
    // 64 bytes reduced mod n − 1, plus 1: bias < 2^-256, never zero.
    const k = (bytesToBigint(randomBytes(64)) % (N - 1n)) + 1n;
    if (k > 0n && k < N) return k;
  }
}

export class Signature {
  private constructor(
    readonly r: bigint,
    readonly s: bigint,
  ) {}
  /** 64 bytes r ‖ s, big-endian; r and s must be in [1, n). High-S is accepted. */
  static fromBEBytes(bytes: Uint8Array): Signature {
    assertBytes(bytes, 'Signature bytes');
    if (bytes.length !== 64) throw malformed('Signature', `must be 64 bytes, got ${bytes.length}`);
    const r = bytesToBigint(bytes.subarray(0, 32));
    const s = bytesToBigint(bytes.subarray(32));
    if (r === 0n || r >= N || s === 0n || s >= N) throw malformed('Signature', 'r and s must be in [1, n)');
    return new Signature(r, s);
  }
  static fromBytes(bytes: Uint8Array): Signature {
    return Signature.fromBEBytes(bytes);
  }
  /** @internal */
  static fromScalars(r: bigint, s: bigint): Signature {
    return new Signature(r, s);
  }
  static fromDerBytes(der: Uint8Array): Signature {
    assertBytes(der, 'Signature DER bytes');
    let compact: Uint8Array;
    try {
      compact = secp256k1.Signature.fromBytes(der, 'der').toBytes('compact');
    } catch (e) {
      throw malformed('Signature (DER)', (e as Error).message);
    }
    return Signature.fromBEBytes(compact);
  }
  toBEBytes(): Uint8Array {
    return concatBytes(bigintTo32Bytes(this.r), bigintTo32Bytes(this.s));
  }
  toBytes(): Uint8Array {
    return this.toBEBytes();
  }
  toDerBytes(): Uint8Array {
    return new secp256k1.Signature(this.r, this.s).toBytes('der');
  }
  /** ECDSA verification of SHA-256(message); false (never a throw) for a signature that does not verify. */
  verify(verifyingPk: PublicKey, message: Uint8Array): boolean {
    assertBytes(message, 'message');
    if (!(verifyingPk instanceof PublicKey)) throw new UmbralError('INVALID_ARGUMENT', 'Signature.verify needs a PublicKey');
    return ecdsaVerify(this, verifyingPk.msmBase(), message);
  }
  equals(other: Signature): boolean {
    return other instanceof Signature && this.r === other.r && this.s === other.s;
  }
  toString(): string {
    return `Signature:${bytesToHex(this.toBEBytes().subarray(0, 8))}`;
  }
  free(): void {}
}

export class Signer {
  readonly #sk: SecretKey;
  constructor(secretKey: SecretKey) {
    if (!(secretKey instanceof SecretKey)) throw new UmbralError('INVALID_ARGUMENT', 'Signer needs a SecretKey');
    this.#sk = secretKey;
  }
  /** ECDSA over SHA-256(message), RFC 6979 deterministic nonce, low-S. */
  sign(message: Uint8Array): Signature {
    assertBytes(message, 'message');
    const { r, s } = ecdsaSign(SecretKey.scalarOf(this.#sk), message);
    return Signature.fromScalars(r, s);
  }
  verifyingKey(): PublicKey {
    return this.#sk.publicKey();
  }
  toString(): string {
    return 'Signer:...';
  }
  free(): void {}
}

const SEED_SIZE = 32;

/** Deterministic derivation of many keys from one 32-byte seed (umbral-pre's SecretKeyFactory). */
export class SecretKeyFactory {
  readonly #seed: Uint8Array;
  private constructor(seed: Uint8Array) {
    this.#seed = seed;
  }
  static seedSize(): number {
    return SEED_SIZE;
  }
  static random(): SecretKeyFactory {
    return new SecretKeyFactory(randomBytes(SEED_SIZE));
  }
  static fromSecureRandomness(seed: Uint8Array): SecretKeyFactory {
    assertBytes(seed, 'SecretKeyFactory seed');
    if (seed.length !== SEED_SIZE) throw malformed('SecretKeyFactory', `seed must be ${SEED_SIZE} bytes, got ${seed.length}`);
    return new SecretKeyFactory(seed.slice());
  }
  static fromBytes(seed: Uint8Array): SecretKeyFactory {
    return SecretKeyFactory.fromSecureRandomness(seed);
  }
  /** The seed itself: secret. */
  toBytes(): Uint8Array {
    return this.#seed.slice();
  }
  makeSecret(label: Uint8Array): Uint8Array {
    assertBytes(label, 'label');
    return hkdf(sha256, this.#seed, undefined, concatBytes(ascii('SECRET_DERIVATION/'), label), 64);
  }
  makeKey(label: Uint8Array): SecretKey {
    assertBytes(label, 'label');
    const info = concatBytes(ascii('KEY_DERIVATION/'), label);
    const material = hkdf(sha256, this.#seed, undefined, info, 64);
    return SecretKey.fromScalar(hashToScalar(info, material));
  }
  makeFactory(label: Uint8Array): SecretKeyFactory {
    assertBytes(label, 'label');
    return new SecretKeyFactory(hkdf(sha256, this.#seed, undefined, concatBytes(ascii('FACTORY_DERIVATION/'), label), SEED_SIZE));
  }
  toString(): string {
    return 'SecretKeyFactory:...';
  }
  free(): void {}
}
