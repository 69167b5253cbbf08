/**
 * secp256k1 points in Jacobian coordinates (x = X/Z², y = Y/Z³; Z = 0 is the identity) and affine
 * points, with the a = 0 formulas from the Explicit-Formulas Database:
 *   doubling     dbl-2009-l   2M + 5S
 *   mixed add    madd-2007-bl 7M + 4S   (Jacobian + affine)
 *   full add     add-2007-bl  11M + 5S
 *
 * These formulas are not complete: adding P to ±P needs a special case, handled below by
 * branching. The scalar multipliers in scalar-mult.ts only reach those branches with negligible
 * probability (their accumulators never equal a table entry except for a scalar ≡ 0 relation
 * that random or hashed scalars do not hit), as in libsecp256k1's reasoning for ecmult_const.
 */
import { P, fadd, finv, finvBatch, fmul, fneg, fsqr, fsub } from './field.js';

/** An affine point other than the identity. */
export interface Affine {
  readonly x: bigint;
  readonly y: bigint;
}

export class Jacobian {
  constructor(
    readonly x: bigint,
    readonly y: bigint,
    readonly z: bigint,
  ) {}
  static readonly ZERO = new Jacobian(0n, 1n, 0n);
  static fromAffine(p: Affine): Jacobian {
    return new Jacobian(p.x, p.y, 1n);
  }
  isZero(): boolean {
    return this.z === 0n;
  }
}

export const affineNeg = (p: Affine): Affine => ({ x: p.x, y: fneg(p.y) });

export function double(p: Jacobian): Jacobian {
  if (p.z === 0n) return p;
  const { x, y, z } = p;
  const a = fsqr(x);
  const b = fsqr(y);
  const c = fsqr(b);
  let d = fsub(fsub(fsqr(x + b), a), c); // lazy: x + b < 2p only feeds a square
  d = fadd(d, d);
  const e = a + a + a; // lazy: < 3p, only feeds multiplications
  const x3 = fsub(fsqr(e), fadd(d, d));
  let c8 = fadd(c, c);
  c8 = fadd(c8, c8);
  c8 = fadd(c8, c8);
  const y3 = fsub(fmul(e, fsub(d, x3)), c8);
  return new Jacobian(x3, y3, fmul(y + y, z));
}

/** p + q for Jacobian p and affine q. */
export function addMixed(p: Jacobian, q: Affine): Jacobian {
  if (p.z === 0n) return new Jacobian(q.x, q.y, 1n);
  const z1z1 = fsqr(p.z);
  const u2 = fmul(q.x, z1z1);
  const s2 = fmul(fmul(q.y, p.z), z1z1);
  const h = fsub(u2, p.x);
  let r = fsub(s2, p.y);
  if (h === 0n) return r === 0n ? double(p) : Jacobian.ZERO;
  r = fadd(r, r);
  const hh = fsqr(h);
  const i = 4n * hh; // lazy: < 4p, only feeds multiplications
  const j = fmul(h, i);
  const v = fmul(p.x, i);
  const x3 = fsub(fsub(fsqr(r), j), fadd(v, v));
  const yj = fmul(p.y, j);
  const y3 = fsub(fmul(r, fsub(v, x3)), fadd(yj, yj));
  const z3 = fsub(fsub(fsqr(p.z + h), z1z1), hh);
  return new Jacobian(x3, y3, z3);
}

export function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = fsqr(p.z);
  const z2z2 = fsqr(q.z);
  const u1 = fmul(p.x, z2z2);
  const u2 = fmul(q.x, z1z1);
  const s1 = fmul(fmul(p.y, q.z), z2z2);
  const s2 = fmul(fmul(q.y, p.z), z1z1);
  const h = fsub(u2, u1);
  let r = fsub(s2, s1);
  if (h === 0n) return r === 0n ? double(p) : Jacobian.ZERO;
  r = fadd(r, r);
  const i = fsqr(h + h);
  const j = fmul(h, i);
  const v = fmul(u1, i);
  const x3 = fsub(fsub(fsqr(r), j), fadd(v, v));
  const s1j = fmul(s1, j);
  const y3 = fsub(fmul(r, fsub(v, x3)), fadd(s1j, s1j));
  const z3 = fmul(fsub(fsub(fsqr(p.z + q.z), z1z1), z2z2), h);
  return new Jacobian(x3, y3, z3);
}

export const negate = (p: Jacobian): Jacobian => new Jacobian(p.x, fneg(p.y), p.z);

/** Converts to affine; returns undefined for the identity. */
export function toAffine(p: Jacobian): Affine | undefined {
  if (p.z === 0n) return undefined;
  if (p.z === 1n) return { x: p.x, y: p.y };
  const zi = finv(p.z);
  const zi2 = fsqr(zi);
  return { x: fmul(p.x, zi2), y: fmul(fmul(p.y, zi2), zi) };
}

/** Converts many points to affine with a single inversion. No point may be the identity. */
export function toAffineBatch(points: readonly Jacobian[]): Affine[] {
  if (points.some((p) => p.z === 0n)) throw new RangeError('cannot normalise the identity point');
  const inv = finvBatch(points.map((p) => p.z));
  return points.map((p, i) => {
    const zi = inv[i]!;
    const zi2 = fsqr(zi);
    return { x: fmul(p.x, zi2), y: fmul(fmul(p.y, zi2), zi) };
  });
}

/** Projective equality without inversions. */
export function equals(p: Jacobian, q: Jacobian): boolean {
  if (p.z === 0n || q.z === 0n) return p.z === 0n && q.z === 0n;
  const z1z1 = fsqr(p.z);
  const z2z2 = fsqr(q.z);
  if (fmul(p.x, z2z2) !== fmul(q.x, z1z1)) return false;
  return fmul(fmul(p.y, q.z), z2z2) === fmul(fmul(q.y, p.z), z1z1);
}

/** y² = x³ + 7 */
export function isOnCurve(p: Affine): boolean {
  if (p.x < 0n || p.x >= P || p.y < 0n || p.y >= P) return false;
  return fsqr(p.y) === fadd(fmul(fsqr(p.x), p.x), 7n);
}
