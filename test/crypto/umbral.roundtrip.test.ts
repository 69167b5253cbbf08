// Round trips of src/crypto/umbral: encrypt/decrypt, the full PRE flow for several (t, N) and all signing-flag
// combinations, threshold subsets, toBytes/fromBytes of every object, Signer/Signature, equals.
import { randomBytes } from 'node:crypto';
import * as ours from '../../src/crypto/umbral/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const N_ORDER = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');

/** All k-subsets of [0, n) (n ≤ 5 here, so this stays tiny). */
function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const rec = (start: number, acc: number[]): void => {
    if (acc.length === k) {
      out.push([...acc]);
      return;
    }
    for (let i = start; i < n; i++) rec(i + 1, [...acc, i]);
  };
  rec(0, []);
  return out;
}

/** A few t-subsets (first, last, a middle one) plus one of size t+1 and all N, shuffled where it matters. */
function pickSubsets(t: number, n: number): number[][] {
  const all = subsets(n, t);
  const chosen = new Map<string, number[]>();
  for (const s of [all[0], all[all.length - 1], all[Math.floor(all.length / 2)]]) if (s) chosen.set(s.join(','), s);
  if (t < n) {
    const bigger = subsets(n, t + 1);
    const s = bigger[bigger.length - 1]!;
    chosen.set(s.join(','), s);
    const everything = [...Array(n).keys()].reverse(); // all N, in reverse order
    chosen.set(everything.join(','), everything);
  }
  return [...chosen.values()];
}

describe('encrypt / decryptOriginal', () => {
  const sk = ours.SecretKey.random();
  const pk = sk.publicKey();

  test.each([
    ['empty', 0],
    ['small (32 B, a DEK)', 32],
    ['odd size', 1001],
  ])('%s plaintext', (_name, size) => {
    const pt = new Uint8Array(randomBytes(size));
    const [capsule, ct] = ours.encrypt(pk, pt);
    expect(ct.length).toBe(size + 40);
    expect(hex(ours.decryptOriginal(sk, capsule, ct))).toBe(hex(pt));
  });

  test('1 MB plaintext', () => {
    const pt = new Uint8Array(randomBytes(1 << 20));
    const [capsule, ct] = ours.encrypt(pk, pt);
    expect(ct.length).toBe((1 << 20) + 40);
    const out = ours.decryptOriginal(sk, capsule, ct);
    expect(out.length).toBe(pt.length);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(pt))).toBe(0);
  });

  test('capsule and ciphertext survive serialisation', () => {
    const pt = utf8('hello, Umbral');
    const [capsule, ct] = ours.encrypt(pk, pt);
    const capsule2 = ours.Capsule.fromBytes(capsule.toBytes());
    expect(capsule2.equals(capsule)).toBe(true);
    expect(hex(capsule2.toBytes())).toBe(hex(capsule.toBytes()));
    expect(new TextDecoder().decode(ours.decryptOriginal(sk, capsule2, Uint8Array.from(ct)))).toBe('hello, Umbral');
  });

  test('encryption is randomised (capsules and ciphertexts differ for equal input)', () => {
    const pt = utf8('same');
    const [c1, ct1] = ours.encrypt(pk, pt);
    const [c2, ct2] = ours.encrypt(pk, pt);
    expect(hex(c1.toBytes())).not.toBe(hex(c2.toBytes()));
    expect(hex(ct1)).not.toBe(hex(ct2));
    expect(c1.equals(c2)).toBe(false);
  });

  test('a key parsed from bytes decrypts too', () => {
    const [capsule, ct] = ours.encrypt(ours.PublicKey.fromBytes(pk.toBytes()), utf8('x'));
    expect(hex(ours.decryptOriginal(ours.SecretKey.fromBytes(sk.toBytes()), capsule, ct))).toBe(hex(utf8('x')));
  });
});

describe('PRE flow', () => {
  const cases: Array<[number, number]> = [
    [1, 1],
    [1, 3],
    [2, 3],
    [3, 5],
    [5, 5],
  ];
  const flags: Array<[boolean, boolean]> = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];
  const table = cases.flatMap(([t, n]) => flags.map(([sd, sr]) => [t, n, sd, sr] as const));

  test.each(table)('t=%i N=%i signDelegating=%s signReceiving=%s', (t, n, sd, sr) => {
    const skA = ours.SecretKey.random();
    const pkA = skA.publicKey();
    const skB = ours.SecretKey.random();
    const pkB = skB.publicKey();
    const signer = new ours.Signer(ours.SecretKey.random());
    const vk = signer.verifyingKey();
    const pt = new Uint8Array(randomBytes(48));
    const [capsule, ct] = ours.encrypt(pkA, pt);

    const kfrags = ours.generateKFrags(skA, pkB, signer, t, n, sd, sr);
    expect(kfrags.length).toBe(n);

    // Proxy side: kfrags travel as bytes and are verified with exactly the keys the flags require,
    // and also with every key supplied (extra keys are fine).
    const verified = kfrags.map((kf) => {
      const bytes = kf.toBytes();
      const v1 = ours.KeyFrag.fromBytes(bytes).verify(vk, sd ? pkA : null, sr ? pkB : null);
      const v2 = ours.KeyFrag.fromBytes(bytes).verify(vk, pkA, pkB);
      expect(hex(v1.toBytes())).toBe(hex(bytes));
      expect(hex(v2.toBytes())).toBe(hex(bytes));
      expect(v1.equals(kf)).toBe(true);
      return v1;
    });
    if (!sd && !sr) {
      // no key flagged: the verifying key alone suffices (both omitted and undefined)
      expect(hex(ours.KeyFrag.fromBytes(kfrags[0]!.toBytes()).verify(vk).toBytes())).toBe(hex(kfrags[0]!.toBytes()));
    }

    // Re-encryption; cfrags travel as bytes and are verified by the receiver.
    const cfrags = verified.map((kf) => {
      const vcf = ours.reencrypt(capsule, kf);
      const cf = ours.CapsuleFrag.fromBytes(vcf.toBytes());
      expect(cf.equals(vcf.unverify())).toBe(true);
      return cf.verify(capsule, vk, pkA, pkB);
    });

    for (const subset of pickSubsets(t, n)) {
      const chosen = subset.map((i) => cfrags[i]!);
      const out = ours.decryptReencrypted(skB, pkA, capsule, chosen, ct);
      expect(hex(out)).toBe(hex(pt));
    }
    // the delegator can still open the original
    expect(hex(ours.decryptOriginal(skA, capsule, ct))).toBe(hex(pt));
  });

  test('keys whose flag is not set are not part of the kfrag check (any value is ignored, as in umbral-pre)', () => {
    const skA = ours.SecretKey.random();
    const skB = ours.SecretKey.random();
    const other = ours.SecretKey.random().publicKey();
    const signer = new ours.Signer(ours.SecretKey.random());
    const vk = signer.verifyingKey();
    const [none] = ours.generateKFrags(skA, skB.publicKey(), signer, 1, 1, false, false);
    const [dOnly] = ours.generateKFrags(skA, skB.publicKey(), signer, 1, 1, true, false);
    const [rOnly] = ours.generateKFrags(skA, skB.publicKey(), signer, 1, 1, false, true);
    expect(hex(ours.KeyFrag.fromBytes(none!.toBytes()).verify(vk, other, other).toBytes())).toBe(hex(none!.toBytes()));
    expect(hex(ours.KeyFrag.fromBytes(dOnly!.toBytes()).verify(vk, skA.publicKey(), other).toBytes())).toBe(hex(dOnly!.toBytes()));
    expect(hex(ours.KeyFrag.fromBytes(rOnly!.toBytes()).verify(vk, other, skB.publicKey()).toBytes())).toBe(hex(rOnly!.toBytes()));
  });

  test('Buffer (a Uint8Array subclass) is accepted wherever bytes are', () => {
    const sk = ours.SecretKey.fromBytes(Buffer.from(ours.SecretKey.random().toBytes()));
    const pk = ours.PublicKey.fromBytes(Buffer.from(sk.publicKey().toBytes()));
    const [capsule, ct] = ours.encrypt(pk, Buffer.from('buffer input'));
    const c2 = ours.Capsule.fromBytes(Buffer.from(capsule.toBytes()));
    expect(Buffer.from(ours.decryptOriginal(sk, c2, Buffer.from(ct))).toString()).toBe('buffer input');
    const signer = new ours.Signer(sk);
    const [kf] = ours.generateKFrags(sk, pk, signer, 1, 1, true, true);
    const vkf = ours.KeyFrag.fromBytes(Buffer.from(kf!.toBytes())).verify(pk, pk, pk);
    const cf = ours.CapsuleFrag.fromBytes(Buffer.from(ours.reencrypt(c2, vkf).toBytes())).verify(c2, pk, pk, pk);
    expect(Buffer.from(ours.decryptReencrypted(sk, pk, c2, [cf], Buffer.from(ct))).toString()).toBe('buffer input');
    expect(ours.Signature.fromBytes(Buffer.from(signer.sign(Buffer.from('m')).toBytes())).verify(pk, Buffer.from('m'))).toBe(true);
    const seed = Buffer.alloc(32);
    expect(hex(ours.SecretKeyFactory.fromSecureRandomness(seed).makeKey(Buffer.from('foo')).toBytes())).toBe(
      '341093e43e1ed1e3646d1edfc767978e4576ec09421cea4e2fa665da43107c33',
    );
  });

  test('every t-subset of a 3-of-5 split decrypts (10 subsets), and cfrags made by reencrypt decrypt unverified-by-bytes', () => {
    const skA = ours.SecretKey.random();
    const skB = ours.SecretKey.random();
    const signer = new ours.Signer(ours.SecretKey.random());
    const pt = utf8('every subset');
    const [capsule, ct] = ours.encrypt(skA.publicKey(), pt);
    const kfrags = ours.generateKFrags(skA, skB.publicKey(), signer, 3, 5, true, true);
    const cfrags = kfrags.map((kf) => ours.reencrypt(capsule, kf)); // already VerifiedCapsuleFrag
    const all = subsets(5, 3);
    expect(all.length).toBe(10);
    for (const s of all) {
      const out = ours.decryptReencrypted(skB, skA.publicKey(), capsule, s.map((i) => cfrags[i]!), ct);
      expect(new TextDecoder().decode(out)).toBe('every subset');
    }
  });

  test('one kfrag set re-encrypts many capsules', () => {
    const skA = ours.SecretKey.random();
    const skB = ours.SecretKey.random();
    const signer = new ours.Signer(ours.SecretKey.random());
    const kfrags = ours.generateKFrags(skA, skB.publicKey(), signer, 2, 2, false, false);
    for (let i = 0; i < 3; i++) {
      const pt = utf8(`message ${i}`);
      const [capsule, ct] = ours.encrypt(skA.publicKey(), pt);
      const cfrags = kfrags.map((kf) => ours.reencrypt(capsule, kf));
      expect(new TextDecoder().decode(ours.decryptReencrypted(skB, skA.publicKey(), capsule, cfrags, ct))).toBe(`message ${i}`);
    }
  });

  test('delegating to oneself works (pkB = pkA)', () => {
    const sk = ours.SecretKey.random();
    const signer = new ours.Signer(sk);
    const [capsule, ct] = ours.encrypt(sk.publicKey(), utf8('self'));
    const [kf] = ours.generateKFrags(sk, sk.publicKey(), signer, 1, 1, true, true);
    const cf = ours.reencrypt(capsule, kf!);
    const v = ours.CapsuleFrag.fromBytes(cf.toBytes()).verify(capsule, sk.publicKey(), sk.publicKey(), sk.publicKey());
    expect(new TextDecoder().decode(ours.decryptReencrypted(sk, sk.publicKey(), capsule, [v], ct))).toBe('self');
  });

  test('re-encryption is randomised but both cfrags of one kfrag verify', () => {
    const skA = ours.SecretKey.random();
    const skB = ours.SecretKey.random();
    const signer = new ours.Signer(ours.SecretKey.random());
    const [capsule] = ours.encrypt(skA.publicKey(), utf8('r'));
    const [kf] = ours.generateKFrags(skA, skB.publicKey(), signer, 1, 1, false, false);
    const a = ours.reencrypt(capsule, kf!);
    const b = ours.reencrypt(capsule, kf!);
    expect(hex(a.toBytes())).not.toBe(hex(b.toBytes()));
    expect(a.equals(b)).toBe(false);
    // e1, v1, id, precursor are deterministic (first 140 bytes)
    expect(hex(a.toBytes().subarray(0, 140))).toBe(hex(b.toBytes().subarray(0, 140)));
    for (const c of [a, b]) {
      expect(hex(ours.CapsuleFrag.fromBytes(c.toBytes()).verify(capsule, signer.verifyingKey(), skA.publicKey(), skB.publicKey()).toBytes())).toBe(
        hex(c.toBytes()),
      );
    }
  });
});

describe('toBytes / fromBytes round trips', () => {
  const skA = ours.SecretKey.random();
  const skB = ours.SecretKey.random();
  const signer = new ours.Signer(ours.SecretKey.random());
  const [capsule] = ours.encrypt(skA.publicKey(), utf8('objects'));
  const kfrags = ours.generateKFrags(skA, skB.publicKey(), signer, 2, 3, true, false);
  const vcfrag = ours.reencrypt(capsule, kfrags[1]!);

  test('SecretKey', () => {
    const b = skA.toBytes();
    expect(hex(skA.toBEBytes())).toBe(hex(b));
    const sk2 = ours.SecretKey.fromBytes(b);
    const sk3 = ours.SecretKey.fromBEBytes(b);
    expect(hex(sk2.toBytes())).toBe(hex(b));
    expect(hex(sk3.toBEBytes())).toBe(hex(b));
    expect(sk2.publicKey().equals(skA.publicKey())).toBe(true);
    // ours keeps its own copy: mutating the input afterwards changes nothing
    const copy = Uint8Array.from(b);
    const sk4 = ours.SecretKey.fromBytes(copy);
    copy.fill(7);
    expect(hex(sk4.toBytes())).toBe(hex(b));
  });

  test('SecretKey.toString does not reveal the secret', () => {
    const s = skA.toString();
    expect(s.startsWith('SecretKey')).toBe(true);
    const h = hex(skA.toBytes());
    expect(s.toLowerCase()).not.toContain(h.slice(0, 8));
    expect(String(skA)).not.toContain(h.slice(0, 8));
  });

  test('PublicKey (compressed)', () => {
    const pk = skA.publicKey();
    const b = pk.toBytes();
    expect(hex(pk.toCompressedBytes())).toBe(hex(b));
    expect(hex(ours.PublicKey.fromBytes(b).toBytes())).toBe(hex(b));
    expect(hex(ours.PublicKey.fromCompressedBytes(b).toCompressedBytes())).toBe(hex(b));
    expect(ours.PublicKey.fromBytes(b).equals(pk)).toBe(true);
    expect(typeof pk.toString()).toBe('string');
  });

  test('SecretKeyFactory (seed)', () => {
    const f = ours.SecretKeyFactory.random();
    const seed = f.toBytes();
    expect(seed.length).toBe(ours.SecretKeyFactory.seedSize());
    const f2 = ours.SecretKeyFactory.fromSecureRandomness(seed);
    expect(hex(f2.toBytes())).toBe(hex(seed));
    expect(hex(f2.makeKey(utf8('k')).toBytes())).toBe(hex(f.makeKey(utf8('k')).toBytes()));
    expect(hex(f2.makeSecret(utf8('s')))).toBe(hex(f.makeSecret(utf8('s'))));
    expect(hex(f2.makeFactory(utf8('f')).makeKey(utf8('k')).toBytes())).toBe(hex(f.makeFactory(utf8('f')).makeKey(utf8('k')).toBytes()));
    // two random factories differ
    expect(hex(ours.SecretKeyFactory.random().toBytes())).not.toBe(hex(seed));
  });

  test('Capsule (framed and simple)', () => {
    const b = capsule.toBytes();
    const c2 = ours.Capsule.fromBytes(b);
    expect(hex(c2.toBytes())).toBe(hex(b));
    expect(hex(c2.toBytesSimple())).toBe(hex(capsule.toBytesSimple()));
    expect(c2.equals(capsule)).toBe(true);
  });

  test('KeyFrag and VerifiedKeyFrag', () => {
    for (const vkf of kfrags) {
      const b = vkf.toBytes();
      const kf = ours.KeyFrag.fromBytes(b);
      expect(hex(kf.toBytes())).toBe(hex(b));
      expect(kf.equals(vkf.unverify())).toBe(true);
      expect(hex(vkf.unverify().toBytes())).toBe(hex(b));
      const skipped = kf.skipVerification();
      expect(hex(skipped.toBytes())).toBe(hex(b));
      expect(skipped.equals(vkf)).toBe(true);
    }
    expect(kfrags[0]!.equals(kfrags[1]!)).toBe(false);
    expect(ours.KeyFrag.fromBytes(kfrags[0]!.toBytes()).equals(ours.KeyFrag.fromBytes(kfrags[2]!.toBytes()))).toBe(false);
  });

  test('CapsuleFrag and VerifiedCapsuleFrag (framed and simple)', () => {
    const b = vcfrag.toBytes();
    const cf = ours.CapsuleFrag.fromBytes(b);
    expect(hex(cf.toBytes())).toBe(hex(b));
    expect(hex(cf.toBytesSimple())).toBe(hex(vcfrag.toBytesSimple()));
    expect(cf.equals(vcfrag.unverify())).toBe(true);
    const skipped = cf.skipVerification();
    expect(skipped.equals(vcfrag)).toBe(true);
    expect(hex(skipped.toBytesSimple())).toBe(hex(vcfrag.toBytesSimple()));
    const verified = cf.verify(capsule, signer.verifyingKey(), skA.publicKey(), skB.publicKey());
    expect(verified.equals(vcfrag)).toBe(true);
    expect(hex(verified.toBytes())).toBe(hex(b));
    const other = ours.reencrypt(capsule, kfrags[0]!);
    expect(other.equals(vcfrag)).toBe(false);
    expect(ours.CapsuleFrag.fromBytes(other.toBytes()).equals(cf)).toBe(false);
  });

  test('free() exists and is harmless', () => {
    const sk = ours.SecretKey.random();
    const pk = sk.publicKey();
    const [c] = ours.encrypt(pk, utf8('f'));
    for (const o of [sk, pk, c, kfrags[0]!, vcfrag]) {
      expect(typeof (o as { free?: unknown }).free).toBe('function');
    }
    pk.free();
    c.free();
    // still usable after free() (there is no WASM memory to release)
    expect(pk.toBytes().length).toBe(33);
    expect(c.toBytes().length).toBe(105);
  });
});

describe('Signer / Signature', () => {
  const sk = ours.SecretKey.random();
  const signer = new ours.Signer(sk);
  const msg = utf8('sign me');

  test('verifyingKey is the signer public key', () => {
    expect(signer.verifyingKey().equals(sk.publicKey())).toBe(true);
    expect(hex(signer.verifyingKey().toBytes())).toBe(hex(sk.publicKey().toBytes()));
  });

  test('sign / verify, wrong message and wrong key fail', () => {
    const sig = signer.sign(msg);
    expect(sig.verify(signer.verifyingKey(), msg)).toBe(true);
    expect(sig.verify(signer.verifyingKey(), utf8('sign me!'))).toBe(false);
    expect(sig.verify(ours.SecretKey.random().publicKey(), msg)).toBe(false);
    const empty = signer.sign(new Uint8Array(0));
    expect(empty.verify(sk.publicKey(), new Uint8Array(0))).toBe(true);
    expect(empty.verify(sk.publicKey(), new Uint8Array(1))).toBe(false);
  });

  test('signatures are low-S', () => {
    for (let i = 0; i < 8; i++) {
      const be = signer.sign(utf8(`m${i}`)).toBEBytes();
      const s = BigInt('0x' + hex(be.subarray(32)));
      expect(s <= N_ORDER / 2n).toBe(true);
      expect(s > 0n).toBe(true);
    }
  });

  test('BE round trip', () => {
    const sig = signer.sign(msg);
    const be = sig.toBEBytes();
    expect(hex(sig.toBytes())).toBe(hex(be));
    const s2 = ours.Signature.fromBEBytes(be);
    const s3 = ours.Signature.fromBytes(be);
    expect(hex(s2.toBEBytes())).toBe(hex(be));
    expect(s2.equals(sig)).toBe(true);
    expect(s3.equals(sig)).toBe(true);
    expect(s2.verify(sk.publicKey(), msg)).toBe(true);
  });

  test('DER round trip', () => {
    for (let i = 0; i < 6; i++) {
      const sig = signer.sign(utf8(`der ${i}`));
      const der = sig.toDerBytes();
      expect(der[0]).toBe(0x30);
      expect(der[1]).toBe(der.length - 2);
      const s2 = ours.Signature.fromDerBytes(der);
      expect(hex(s2.toBEBytes())).toBe(hex(sig.toBEBytes()));
      expect(hex(s2.toDerBytes())).toBe(hex(der));
      expect(s2.equals(sig)).toBe(true);
      expect(s2.verify(sk.publicKey(), utf8(`der ${i}`))).toBe(true);
    }
  });

  test('high-S signatures are accepted on verification', () => {
    const sig = signer.sign(msg);
    const be = sig.toBEBytes();
    const s = BigInt('0x' + hex(be.subarray(32)));
    const highS = new Uint8Array(64);
    highS.set(be.subarray(0, 32), 0);
    highS.set(Buffer.from((N_ORDER - s).toString(16).padStart(64, '0'), 'hex'), 32);
    const hs = ours.Signature.fromBEBytes(highS);
    expect(hs.verify(sk.publicKey(), msg)).toBe(true);
    expect(hs.verify(sk.publicKey(), utf8('other'))).toBe(false);
    expect(hs.equals(sig)).toBe(false);
  });

  test('equals distinguishes signatures', () => {
    const a = signer.sign(msg);
    const b = signer.sign(utf8('different'));
    expect(a.equals(b)).toBe(false);
    expect(a.equals(ours.Signature.fromBytes(a.toBytes()))).toBe(true);
  });
});

describe('equals on keys and capsules', () => {
  test('PublicKey.equals', () => {
    const a = ours.SecretKey.random().publicKey();
    const b = ours.SecretKey.random().publicKey();
    expect(a.equals(a)).toBe(true);
    expect(a.equals(ours.PublicKey.fromBytes(a.toBytes()))).toBe(true);
    expect(a.equals(b)).toBe(false);
  });

  test('Capsule.equals', () => {
    const pk = ours.SecretKey.random().publicKey();
    const [a] = ours.encrypt(pk, utf8('a'));
    const [b] = ours.encrypt(pk, utf8('a'));
    expect(a.equals(ours.Capsule.fromBytes(a.toBytes()))).toBe(true);
    expect(a.equals(b)).toBe(false);
  });
});
