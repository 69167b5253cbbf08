/**
 * Scalar multiplication on secp256k1, the hot path of Umbral.
 *
 * Three multipliers, each for one kind of work:
 * - `VarBase`  : k·P for a point seen once or twice and a SECRET k. GLV splits k into two ~128-bit
 *                halves (k = k1 + λ·k2), each recoded into odd signed digits (never zero), so every
 *                window performs exactly W doublings and two mixed additions, and table entries are
 *                picked by scanning the whole table: the sequence of point operations does not
 *                depend on k. Parity is fixed by adding 1 to even halves and subtracting the point
 *                afterwards, with both results computed and one selected.
 * - `FixedBase`: k·B for a point used many times (G, Umbral's u, a patient's cached public key):
 *                a comb of affine odd multiples per window, no doublings at all. Secret and public
 *                variants; the secret one scans every entry and always adds.
 * - `msmUnsafe`: Σ kᵢ·Pᵢ for PUBLIC scalars (signature and proof verification): Strauss–Shamir with
 *                width-5 wNAF over GLV halves, one shared doubling chain, tables normalised with one
 *                inversion.
 *
 * JavaScript bigint arithmetic is not constant-time at the instruction level (no runtime gives
 * that); what we control is that the sequence of field and point operations for secret scalars is
 * fixed, which is the same standard @noble/curves holds itself to.
 */
import { _splitEndoScalar } from '@noble/curves/abstract/weierstrass.js';
import { BETA, N, P, fmul, fneg } from './field.js';
import { type Affine, Jacobian, add, addMixed, double, negate, toAffineBatch } from './jacobian.js';

const GLV_BASIS: [[bigint, bigint], [bigint, bigint]] = [
  [0x3086d221a7d46bcde86c90e49284eb15n, -0xe4437ed6010e88286f547fa90abfe4c3n],
  [0x114ca50f7a8e2f3f657c1108d9d44cfd8n, 0x3086d221a7d46bcde86c90e49284eb15n],
];

function assertScalar(k: bigint, allowZero: boolean): void {
  if (typeof k !== 'bigint' || k < (allowZero ? 0n : 1n) || k >= N) {
    throw new RangeError(`scalar out of range [${allowZero ? 0 : 1}, n)`);
  }
}

/**
 * Recodes an odd k (k < 2^(windows·w)) into `windows` odd signed digits in ±[1, 2^w − 1] so that
 * k = Σ dᵢ·2^(w·i) + 2^(w·windows). The loop count is fixed.
 */
function recodeOdd(k: bigint, w: number, windows: number): Int32Array {
  const digits = new Int32Array(windows);
  const mask = BigInt((1 << (w + 1)) - 1);
  const half = 1 << w;
  const wb = BigInt(w);
  for (let i = 0; i < windows; i++) {
    const d = Number(k & mask) - half;
    digits[i] = d;
    k = (k - BigInt(d)) >> wb;
  }
  if (k !== 1n) throw new Error('internal: odd-digit recoding did not terminate at 1');
  return digits;
}

/** Data-oblivious pick of ±table[(|d|−1)/2]: touches every entry, negates by selection. */
function pickOdd(table: readonly Affine[], d: number, negateAll: boolean): Affine {
  const abs = d < 0 ? -d : d;
  const idx = (abs - 1) >> 1;
  let sel = table[0]!;
  for (let i = 1; i < table.length; i++) sel = i === idx ? table[i]! : sel;
  const neg = (d < 0) !== negateAll;
  const ny = fneg(sel.y);
  return { x: sel.x, y: neg ? ny : sel.y };
}

/** Affine odd multiples [1P, 3P, …, (2·size−1)P] of a point other than the identity. */
function oddMultiples(p: Affine | Jacobian, size: number): Affine[] {
  const pj = p instanceof Jacobian ? p : Jacobian.fromAffine(p);
  const p2 = double(pj);
  const out: Jacobian[] = [pj];
  for (let i = 1; i < size; i++) out.push(add(out[i - 1]!, p2));
  return toAffineBatch(out);
}

const VAR_W = 5;
const VAR_TABLE = 1 << (VAR_W - 1);
// GLV halves are < 2^128; +1 for parity makes them ≤ 2^128 + 1 (129 bits): windows·W ≥ 130.
const VAR_WINDOWS = Math.ceil(130 / VAR_W);

/**
 * A point prepared for a few constant-time multiplications by secret scalars. A Jacobian input is
 * normalised together with its table (one inversion for both).
 */
export class VarBase {
  private readonly table: Affine[];
  private readonly endoTable: Affine[];
  constructor(point: Affine | Jacobian) {
    this.table = oddMultiples(point, VAR_TABLE);
    this.endoTable = this.table.map((q) => ({ x: fmul(q.x, BETA), y: q.y }));
  }

  /** k·P for secret k ∈ [1, n). */
  mulSecret(k: bigint): Jacobian {
    assertScalar(k, false);
    const { k1neg, k1, k2neg, k2 } = _splitEndoScalar(k, GLV_BASIS, N);
    const k1even = (k1 & 1n) === 0n;
    const k2even = (k2 & 1n) === 0n;
    const d1 = recodeOdd(k1 + (k1even ? 1n : 0n), VAR_W, VAR_WINDOWS);
    const d2 = recodeOdd(k2 + (k2even ? 1n : 0n), VAR_W, VAR_WINDOWS);
    const p1 = pickOdd(this.table, 1, k1neg); // ±P
    const p2 = pickOdd(this.endoTable, 1, k2neg); // ±λP
    let acc = addMixed(Jacobian.fromAffine(p1), p2); // the two leading digits (both 1)
    for (let i = VAR_WINDOWS - 1; i >= 0; i--) {
      for (let j = 0; j < VAR_W; j++) acc = double(acc);
      acc = addMixed(acc, pickOdd(this.table, d1[i]!, k1neg));
      acc = addMixed(acc, pickOdd(this.endoTable, d2[i]!, k2neg));
    }
    const fixed1 = addMixed(acc, { x: p1.x, y: fneg(p1.y) });
    acc = k1even ? fixed1 : acc;
    const fixed2 = addMixed(acc, { x: p2.x, y: fneg(p2.y) });
    return k2even ? fixed2 : acc;
  }
}

/** One-shot constant-time k·P for a secret k. */
export const mulSecret = (p: Affine | Jacobian, k: bigint): Jacobian => new VarBase(p).mulSecret(k);

/** A comb of precomputed affine multiples for a point that is multiplied many times. */
export class FixedBase {
  private readonly rows: Affine[][];
  private readonly top: Affine;
  private readonly windows: number;
  constructor(
    readonly point: Affine,
    private readonly w = 8,
  ) {
    if (!Number.isInteger(w) || w < 2 || w > 10) throw new RangeError('window must be 2..10');
    this.windows = Math.ceil(257 / w); // odd k < n < 2^256 needs windows·w ≥ 257
    const half = 1 << (w - 1);
    const flat: Jacobian[] = [];
    let base = Jacobian.fromAffine(point);
    for (let i = 0; i < this.windows; i++) {
      const b2 = double(base);
      let cur = base;
      flat.push(cur);
      for (let j = 1; j < half; j++) {
        cur = add(cur, b2);
        flat.push(cur);
      }
      base = add(cur, base); // (2^w − 1)·base + base = 2^w·base
    }
    const affine = toAffineBatch([...flat, base]);
    this.top = affine.pop()!;
    this.rows = [];
    for (let i = 0; i < this.windows; i++) this.rows.push(affine.slice(i * half, (i + 1) * half));
  }

  /** k·B for secret k ∈ [1, n): odd digits, every window adds, every entry is scanned. */
  mulSecret(k: bigint): Jacobian {
    assertScalar(k, false);
    const even = (k & 1n) === 0n;
    const odd = even ? N - k : k; // n is odd, so one of k, n − k is odd; k·B = −(n − k)·B
    const digits = recodeOdd(odd, this.w, this.windows);
    let acc = Jacobian.fromAffine(this.top);
    for (let i = 0; i < this.windows; i++) acc = addMixed(acc, pickOdd(this.rows[i]!, digits[i]!, false));
    const neg = negate(acc);
    return even ? neg : acc;
  }

  /** k·B for public k ∈ [0, n): same comb, direct table indexing. */
  mulPublic(k: bigint): Jacobian {
    assertScalar(k, true);
    if (k === 0n) return Jacobian.ZERO;
    const even = (k & 1n) === 0n;
    const digits = recodeOdd(even ? N - k : k, this.w, this.windows);
    let acc = Jacobian.fromAffine(this.top);
    for (let i = 0; i < this.windows; i++) {
      const d = digits[i]!;
      const e = this.rows[i]![((d < 0 ? -d : d) - 1) >> 1]!;
      acc = addMixed(acc, d < 0 ? { x: e.x, y: P - e.y } : e);
    }
    return even ? negate(acc) : acc;
  }
}

/** Width-w NAF digits of k ≥ 0, least significant first. */
function wnaf(k: bigint, w: number): Int8Array {
  const out: number[] = [];
  const mod = 1 << w;
  const halfMod = mod >> 1;
  const mask = BigInt(mod - 1);
  while (k > 0n) {
    let d = 0;
    if (k & 1n) {
      d = Number(k & mask);
      if (d >= halfMod) d -= mod;
      k -= BigInt(d);
    }
    out.push(d);
    k >>= 1n;
  }
  return Int8Array.from(out);
}

const MSM_W = 5;
const MSM_TABLE = 1 << (MSM_W - 2); // odd multiples up to ±(2^(w−1) − 1)

export interface MsmTerm {
  point: Affine | FixedBase;
  scalar: bigint;
}

/** Σ scalarᵢ·pointᵢ for PUBLIC scalars in [0, n). Not constant-time. */
export function msmUnsafe(terms: readonly MsmTerm[]): Jacobian {
  let fixedSum = Jacobian.ZERO;
  const varTerms: { point: Affine; scalar: bigint }[] = [];
  for (const t of terms) {
    assertScalar(t.scalar, true);
    if (t.point instanceof FixedBase) fixedSum = add(fixedSum, t.point.mulPublic(t.scalar));
    else if (t.scalar !== 0n) varTerms.push({ point: t.point, scalar: t.scalar });
  }
  if (varTerms.length === 0) return fixedSum;

  // Odd-multiple tables of every point, normalised together with one inversion.
  const jac: Jacobian[] = [];
  for (const { point } of varTerms) {
    const pj = Jacobian.fromAffine(point);
    const p2 = double(pj);
    jac.push(pj);
    for (let i = 1; i < MSM_TABLE; i++) jac.push(add(jac[jac.length - 1]!, p2));
  }
  const affine = toAffineBatch(jac);
  const walks: { digits: Int8Array; table: Affine[]; negate: boolean }[] = [];
  varTerms.forEach(({ scalar }, t) => {
    const table = affine.slice(t * MSM_TABLE, (t + 1) * MSM_TABLE);
    const endo = table.map((q) => ({ x: fmul(q.x, BETA), y: q.y }));
    const { k1neg, k1, k2neg, k2 } = _splitEndoScalar(scalar, GLV_BASIS, N);
    walks.push({ digits: wnaf(k1, MSM_W), table, negate: k1neg });
    walks.push({ digits: wnaf(k2, MSM_W), table: endo, negate: k2neg });
  });
  const len = Math.max(...walks.map((w) => w.digits.length));
  let acc = Jacobian.ZERO;
  for (let i = len - 1; i >= 0; i--) {
    acc = double(acc);
    for (const walk of walks) {
      const d = walk.digits[i] ?? 0;
      if (d === 0) continue;
      const e = walk.table[((d < 0 ? -d : d) - 1) >> 1]!;
      acc = addMixed(acc, d < 0 !== walk.negate ? { x: e.x, y: fneg(e.y) } : e);
    }
  }
  return add(acc, fixedSum);
}
