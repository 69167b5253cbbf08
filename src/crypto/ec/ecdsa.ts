/**
 * ECDSA on secp256k1 over SHA-256(message), r ‖ s encoding, on this module's scalar multipliers:
 * signing uses the generator's constant-time comb with an RFC 6979 deterministic nonce (so it produces
 * exactly the signatures @noble/curves and umbral-pre produce, low-S); verification uses the MSM and
 * accepts high-S (umbral-pre's rule).
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { N, bigintTo32Bytes, bytesToBigint, nadd, ninv, nmul } from './field.js';
import { type Affine, toAffine } from './jacobian.js';
import { generatorTable } from './point.js';
import { type FixedBase, msmUnsafe } from './scalar-mult.js';

export interface EcdsaSignature {
  readonly r: bigint;
  readonly s: bigint;
}

/** RFC 6979 §3.2 nonce generator (HMAC-SHA256 DRBG), yielding candidates k ∈ [1, n). */
function* rfc6979Nonces(secret: bigint, digest: Uint8Array): Generator<bigint> {
  const x = bigintTo32Bytes(secret);
  const h = bigintTo32Bytes(bytesToBigint(digest) % N); // bits2octets
  let v = new Uint8Array(32).fill(1);
  let k = new Uint8Array(32);
  k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0), x, h));
  v = hmac(sha256, k, v);
  k = hmac(sha256, k, concatBytes(v, Uint8Array.of(1), x, h));
  v = hmac(sha256, k, v);
  x.fill(0);
  for (;;) {
    v = hmac(sha256, k, v);
    const candidate = bytesToBigint(v);
    if (candidate >= 1n && candidate < N) yield candidate;
    k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0)));
    v = hmac(sha256, k, v);
  }
}

/** Signs SHA-256(message) with secret scalar d ∈ [1, n); low-S. */
export function ecdsaSign(d: bigint, message: Uint8Array): EcdsaSignature {
  const digest = sha256(message);
  const e = bytesToBigint(digest) % N;
  for (const k of rfc6979Nonces(d, digest)) {
    const R = toAffine(generatorTable().mulSecret(k));
    if (!R) continue;
    const r = R.x % N;
    if (r === 0n) continue;
    const s = nmul(ninv(k), nadd(e, nmul(r, d)));
    if (s === 0n) continue;
    return { r, s: s > N >> 1n ? N - s : s };
  }
  throw new Error('unreachable');
}

/** Verifies an ECDSA signature over SHA-256(message); r, s must already be in [1, n). */
export function ecdsaVerify(sig: EcdsaSignature, publicKey: Affine | FixedBase, message: Uint8Array): boolean {
  const e = bytesToBigint(sha256(message)) % N;
  const w = ninv(sig.s);
  const R = toAffine(
    msmUnsafe([
      { point: generatorTable(), scalar: nmul(e, w) },
      { point: publicKey, scalar: nmul(sig.r, w) },
    ]),
  );
  return R !== undefined && R.x % N === sig.r;
}
