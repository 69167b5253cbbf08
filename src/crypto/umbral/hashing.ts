/** Umbral's hash-to-scalar, its domain separation tags, and the parameter point u. */
import { sha256 } from '@noble/hashes/sha2.js';
import { N, bytesToBigint } from '../ec/field.js';
import { type Affine } from '../ec/jacobian.js';
import { encodeCompressed, hashToCurve } from '../ec/point.js';
import { FixedBase } from '../ec/scalar-mult.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

export const DST = {
  polynomialArg: ascii('POLYNOMIAL_ARG'),
  sharedSecret: ascii('SHARED_SECRET'),
  capsulePoints: ascii('CAPSULE_POINTS'),
  cfragVerification: ascii('CFRAG_VERIFICATION'),
} as const;

/**
 * SHA-256(u32be(len(dst)) ‖ dst ‖ parts…) mapped to a NON-ZERO scalar as (x mod (n − 1)) + 1.
 * Points are fed as their compressed encodings.
 */
export function hashToScalar(dst: Uint8Array, ...parts: Uint8Array[]): bigint {
  const h = sha256.create();
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, dst.length, false);
  h.update(len).update(dst);
  for (const p of parts) h.update(p);
  return (bytesToBigint(h.digest()) % (N - 1n)) + 1n;
}

/** The parameter point u = hash_to_curve("POINT_U", DST "PARAMETERS"), with its comb. */
export interface Parameters {
  readonly u: Affine;
  readonly uBytes: Uint8Array;
  readonly uTable: FixedBase;
}

let params: Parameters | undefined;
export function parameters(): Parameters {
  if (!params) {
    const u = hashToCurve(ascii('POINT_U'), 'PARAMETERS');
    params = { u, uBytes: encodeCompressed(u), uTable: new FixedBase(u, 8) };
  }
  return params;
}
