/**
 * The secp256k1 engine under Umbral (src/crypto/ec), checked against @noble/curves as the reference:
 * every multiplier on random and edge scalars, the incomplete formulas' special cases, SEC1 decoding,
 * the square root, and RFC 6979 signatures (byte-identical to noble's).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ecdsaSign, ecdsaVerify } from '../../src/crypto/ec/ecdsa.js';
import { N, P, bytesToBigint, fmul, fsqr, fsqrt, finvBatch, finv } from '../../src/crypto/ec/field.js';
import { type Affine, Jacobian, add, addMixed, double, equals, negate, toAffine, toAffineBatch } from '../../src/crypto/ec/jacobian.js';
import { G, decodePoint, encodeCompressed, generatorTable } from '../../src/crypto/ec/point.js';
import { FixedBase, VarBase, msmUnsafe, mulSecret } from '../../src/crypto/ec/scalar-mult.js';

const NP = secp256k1.Point;
const randomScalar = (): bigint => NP.Fn.fromBytes(secp256k1.utils.randomSecretKey());
const nobleOf = (j: Jacobian) => {
  const a = toAffine(j);
  return a ? NP.fromAffine(a) : NP.ZERO;
};
const affineOf = (p: InstanceType<typeof NP>): Affine => ({ x: p.x, y: p.y });
const LAMBDA = 0x5363ad4cc05c30e0a5261c028812645a122e22ea20816678df02967c1b23bd72n;
const EDGE = [1n, 2n, 3n, 15n, 16n, 17n, N - 1n, N - 2n, N >> 1n, (N >> 1n) + 1n, 1n << 128n, (1n << 128n) - 1n, (1n << 129n) + 1n, LAMBDA, N - LAMBDA];
const scalars = [...EDGE, ...Array.from({ length: 40 }, randomScalar)];

describe('field', () => {
  test('multiplication, inversion and batch inversion agree with bigint % p', () => {
    for (let i = 0; i < 200; i++) {
      const a = randomScalar() % P;
      const b = randomScalar() % P;
      expect(fmul(a, b)).toBe((a * b) % P);
      expect(fmul(a, finv(a))).toBe(1n);
    }
    const values = Array.from({ length: 9 }, () => randomScalar() % P);
    expect(finvBatch(values)).toEqual(values.map(finv));
  });

  test('lazy inputs up to 4p reduce correctly', () => {
    const big = 4n * P - 1n;
    expect(fmul(big, big)).toBe((big * big) % P);
    expect(fsqr(3n * P - 5n)).toBe(((3n * P - 5n) ** 2n) % P);
  });

  test('square roots exist exactly for quadratic residues', () => {
    for (let i = 0; i < 50; i++) {
      const a = randomScalar() % P;
      const r = fsqrt(fsqr(a));
      expect(r === a || r === P - a).toBe(true);
    }
    // p ≡ 3 (mod 4): −1 is a non-residue, so −a² never has a root.
    expect(fsqrt(P - fsqr(12345n))).toBeUndefined();
  });
});

describe('point formulas (incomplete: the special cases are branches)', () => {
  const p = affineOf(NP.BASE.multiply(randomScalar()));
  const pj = Jacobian.fromAffine(p);
  test('P + P doubles, P + (−P) is the identity, O + P is P', () => {
    expect(equals(addMixed(pj, p), double(pj))).toBe(true);
    expect(equals(add(pj, pj), double(pj))).toBe(true);
    expect(addMixed(pj, { x: p.x, y: P - p.y }).isZero()).toBe(true);
    expect(add(pj, negate(pj)).isZero()).toBe(true);
    expect(equals(addMixed(Jacobian.ZERO, p), pj)).toBe(true);
    expect(add(Jacobian.ZERO, pj)).toBe(pj);
    expect(double(Jacobian.ZERO).isZero()).toBe(true);
    expect(toAffine(Jacobian.ZERO)).toBeUndefined();
    expect(() => toAffineBatch([pj, Jacobian.ZERO])).toThrow(/identity/);
  });
  test('the formulas agree with noble on a random walk', () => {
    let acc = Jacobian.fromAffine(G);
    let ref = NP.BASE;
    for (let i = 0; i < 30; i++) {
      const q = NP.BASE.multiply(randomScalar());
      acc = i % 3 === 0 ? double(acc) : i % 3 === 1 ? addMixed(acc, affineOf(q)) : add(acc, double(Jacobian.fromAffine(affineOf(q))));
      ref = i % 3 === 0 ? ref.double() : i % 3 === 1 ? ref.add(q) : ref.add(q.double());
      expect(nobleOf(acc).equals(ref)).toBe(true);
    }
  });
});

describe('scalar multiplication matches noble', () => {
  const Q = NP.BASE.multiply(randomScalar());
  const q = affineOf(Q);
  const comb = new FixedBase(q, 5);

  test.each([['VarBase (GLV, odd digits)'], ['FixedBase.mulSecret'], ['FixedBase.mulPublic'], ['generator comb']])('%s', (kind) => {
    for (const k of scalars) {
      const want = kind === 'generator comb' ? NP.BASE.multiply(k) : Q.multiply(k);
      const got =
        kind === 'VarBase (GLV, odd digits)'
          ? mulSecret(q, k)
          : kind === 'FixedBase.mulSecret'
            ? comb.mulSecret(k)
            : kind === 'FixedBase.mulPublic'
              ? comb.mulPublic(k)
              : generatorTable().mulSecret(k);
      expect(nobleOf(got).equals(want)).toBe(true);
    }
  });

  test('a VarBase built from a Jacobian point, reused for several scalars', () => {
    const jac = add(Jacobian.fromAffine(q), Jacobian.fromAffine(G)); // Z ≠ 1
    const base = new VarBase(jac);
    for (const k of scalars.slice(0, 10)) expect(nobleOf(base.mulSecret(k)).equals(Q.add(NP.BASE).multiply(k))).toBe(true);
  });

  test('secret multipliers reject 0 and n; public ones accept 0', () => {
    expect(() => mulSecret(q, 0n)).toThrow(RangeError);
    expect(() => mulSecret(q, N)).toThrow(RangeError);
    expect(() => comb.mulSecret(0n)).toThrow(RangeError);
    expect(comb.mulPublic(0n).isZero()).toBe(true);
    expect(() => comb.mulPublic(N)).toThrow(RangeError);
  });

  test('msmUnsafe: mixed fixed and variable terms, zero scalars, cancellation', () => {
    for (let i = 0; i < 8; i++) {
      const R = NP.BASE.multiply(randomScalar());
      const [a, b, c] = [randomScalar(), randomScalar(), i === 0 ? 0n : randomScalar()];
      const got = msmUnsafe([
        { point: q, scalar: a },
        { point: affineOf(R), scalar: b },
        { point: generatorTable(), scalar: c },
      ]);
      const want = Q.multiply(a).add(R.multiply(b)).add(c === 0n ? NP.ZERO : NP.BASE.multiply(c));
      expect(nobleOf(got).equals(want)).toBe(true);
    }
    expect(msmUnsafe([{ point: q, scalar: 0n }]).isZero()).toBe(true);
    expect(msmUnsafe([]).isZero()).toBe(true);
    const k = randomScalar();
    expect(msmUnsafe([{ point: q, scalar: k }, { point: { x: q.x, y: P - q.y }, scalar: k }]).isZero()).toBe(true);
  });
});

describe('SEC1 encoding', () => {
  test('compressed and uncompressed round trips agree with noble', () => {
    for (let i = 0; i < 30; i++) {
      const Q = NP.BASE.multiply(randomScalar());
      expect(Buffer.from(encodeCompressed(affineOf(Q)))).toEqual(Buffer.from(Q.toBytes(true)));
      expect(decodePoint(Q.toBytes(true))).toEqual(affineOf(Q));
      expect(decodePoint(Q.toBytes(false))).toEqual(affineOf(Q));
    }
  });
  test('accepts exactly the x noble accepts', () => {
    let valid = 0;
    for (let i = 0; i < 100; i++) {
      const b = secp256k1.utils.randomSecretKey();
      const bytes = Uint8Array.of(2 + (i & 1), ...b);
      let ours = true;
      let theirs = true;
      try {
        decodePoint(bytes);
      } catch {
        ours = false;
      }
      try {
        NP.fromBytes(bytes);
      } catch {
        theirs = false;
      }
      expect(ours).toBe(theirs);
      if (ours) valid++;
    }
    expect(valid).toBeGreaterThan(20); // about half of all x are abscissas
  });
  test('rejects bad prefixes, lengths, x ≥ p and off-curve points', () => {
    const good = NP.BASE.toBytes(true);
    expect(() => decodePoint(Uint8Array.of(0x05, ...good.subarray(1)))).toThrow(/prefix/);
    expect(() => decodePoint(good.subarray(1))).toThrow(/32 bytes/);
    expect(() => decodePoint(Uint8Array.of(0x02, ...new Uint8Array(32).fill(0xff)))).toThrow(/field element/);
    const unc = NP.BASE.toBytes(false);
    unc[64] = unc[64]! ^ 1;
    expect(() => decodePoint(unc)).toThrow(/not on secp256k1/);
  });
});

describe('ECDSA', () => {
  test('RFC 6979 signatures are byte-identical to noble and verify there', () => {
    for (let i = 0; i < 20; i++) {
      const sk = secp256k1.utils.randomSecretKey();
      const msg = secp256k1.utils.randomSecretKey().subarray(0, i);
      const { r, s } = ecdsaSign(bytesToBigint(sk), msg);
      const want = NP.Fn.fromBytes(secp256k1.sign(msg, sk).subarray(0, 32));
      expect(r).toBe(want);
      expect(s <= N >> 1n).toBe(true);
      const pk = affineOf(NP.fromBytes(secp256k1.getPublicKey(sk)));
      expect(ecdsaVerify({ r, s }, pk, msg)).toBe(true);
      expect(ecdsaVerify({ r, s: N - s }, pk, msg)).toBe(true); // high-S accepted
      expect(ecdsaVerify({ r, s }, pk, Uint8Array.of(...msg, 0))).toBe(false);
      expect(ecdsaVerify({ r, s }, G, msg)).toBe(false);
    }
  });
});
