/**
 * SEC1 encoding of secp256k1 points, the generator's precomputed comb, and hash-to-curve.
 * Decoding (which needs a square root) is delegated to @noble/curves, which validates the point.
 */
import { secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { P, bigintTo32Bytes, bytesToBigint, fadd, fmul, fsqr, fsqrt } from './field.js';
import { type Affine, isOnCurve } from './jacobian.js';
import { FixedBase } from './scalar-mult.js';

const NoblePoint = secp256k1.Point;

export const G: Affine = { x: NoblePoint.BASE.x, y: NoblePoint.BASE.y };

let gTable: FixedBase | undefined;
/** The generator's comb (w = 8: 33 windows × 128 points), built on first use (~40 ms). */
export function generatorTable(): FixedBase {
  gTable ??= new FixedBase(G, 8);
  return gTable;
}

/** 33-byte SEC1 compressed encoding. */
export function encodeCompressed(p: Affine): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = (p.y & 1n) === 0n ? 0x02 : 0x03;
  out.set(bigintTo32Bytes(p.x), 1);
  return out;
}

/**
 * Parses a SEC1 point (33-byte compressed or 65-byte uncompressed); throws RangeError when the bytes
 * are not a point on the curve. The identity has no 33/65-byte encoding, so it is never returned.
 * (secp256k1 has prime order, so every curve point is in the group: no subgroup check is needed.)
 */
export function decodePoint(bytes: Uint8Array): Affine {
  const prefix = bytes[0];
  if (bytes.length === 33 && (prefix === 0x02 || prefix === 0x03)) {
    const x = bytesToBigint(bytes.subarray(1));
    if (x >= P) throw new RangeError('x coordinate is not a field element');
    let y = fsqrt(fadd(fmul(fsqr(x), x), 7n));
    if (y === undefined) throw new RangeError('x is not the abscissa of a secp256k1 point');
    if (Number(y & 1n) !== (prefix & 1)) y = P - y;
    return { x, y };
  }
  if (bytes.length === 65 && prefix === 0x04) {
    const p = { x: bytesToBigint(bytes.subarray(1, 33)), y: bytesToBigint(bytes.subarray(33)) };
    if (!isOnCurve(p)) throw new RangeError('uncompressed point is not on secp256k1');
    return p;
  }
  throw new RangeError(`expected 33 bytes with prefix 02/03 or 65 bytes with prefix 04, got ${bytes.length} bytes with prefix ${prefix ?? 'none'}`);
}

/** RFC 9380 secp256k1_XMD:SHA-256_SSWU_RO_ with the given domain separation tag. */
export function hashToCurve(msg: Uint8Array, dst: string): Affine {
  const p = secp256k1_hasher.hashToCurve(msg, { DST: dst });
  return { x: p.x, y: p.y };
}

