// Interoperability of src/crypto/umbral with umbral-pre 0.10 (the WASM build @nucypher/umbral-pre, GPL,
// devDependency used only as a test oracle). Objects cross between the implementations only as bytes.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import * as ours from '../../src/crypto/umbral/index.js';

const require = createRequire(import.meta.url);
const wasm = require('@nucypher/umbral-pre') as typeof import('@nucypher/umbral-pre');

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

type Party = {
  skA: Uint8Array; // delegator secret
  skB: Uint8Array; // receiver secret
  skS: Uint8Array; // signer secret
};

function party(): Party {
  return { skA: wasm.SecretKey.random().toBEBytes(), skB: wasm.SecretKey.random().toBEBytes(), skS: wasm.SecretKey.random().toBEBytes() };
}

/** The same three key pairs on both sides. */
function keys(p: Party) {
  const o = {
    skA: ours.SecretKey.fromBEBytes(p.skA),
    skB: ours.SecretKey.fromBEBytes(p.skB),
    signer: new ours.Signer(ours.SecretKey.fromBEBytes(p.skS)),
  };
  const w = {
    skA: wasm.SecretKey.fromBEBytes(p.skA),
    skB: wasm.SecretKey.fromBEBytes(p.skB),
    signer: new wasm.Signer(wasm.SecretKey.fromBEBytes(p.skS)),
  };
  return {
    o: { ...o, pkA: o.skA.publicKey(), pkB: o.skB.publicKey(), vk: o.signer.verifyingKey() },
    w: { ...w, pkA: w.skA.publicKey(), pkB: w.skB.publicKey(), vk: w.signer.verifyingKey() },
  };
}

const FLAGS: Array<[boolean, boolean]> = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

describe('keys', () => {
  test('public keys are byte-identical; each side parses the other side', () => {
    for (let i = 0; i < 8; i++) {
      const p = party();
      const { o, w } = keys(p);
      expect(hex(o.pkA.toBytes())).toBe(hex(w.pkA.toCompressedBytes()));
      expect(hex(o.vk.toBytes())).toBe(hex(w.vk.toCompressedBytes()));
      expect(hex(ours.PublicKey.fromBytes(w.pkB.toCompressedBytes()).toBytes())).toBe(hex(w.pkB.toCompressedBytes()));
      expect(hex(wasm.PublicKey.fromCompressedBytes(o.pkB.toCompressedBytes()).toCompressedBytes())).toBe(hex(o.pkB.toBytes()));
    }
  });

  test('our random secret keys are valid for WASM and vice versa', () => {
    for (let i = 0; i < 4; i++) {
      const ob = ours.SecretKey.random().toBytes();
      expect(hex(wasm.SecretKey.fromBEBytes(ob).toBEBytes())).toBe(hex(ob));
      const wb = wasm.SecretKey.random().toBEBytes();
      expect(hex(ours.SecretKey.fromBytes(wb).toBytes())).toBe(hex(wb));
    }
  });

  test('SecretKeyFactory keys are byte-identical for random seeds and labels', () => {
    for (let i = 0; i < 4; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const label = utf8(`patient/${i}/key`);
      const o = ours.SecretKeyFactory.fromSecureRandomness(seed);
      const w = wasm.SecretKeyFactory.fromSecureRandomness(seed);
      expect(hex(o.makeKey(label).toBytes())).toBe(hex(w.makeKey(label).toBEBytes()));
      expect(hex(o.makeKey(label).publicKey().toBytes())).toBe(hex(w.makeKey(label).publicKey().toCompressedBytes()));
      expect(hex(o.makeSecret(label))).toBe(hex(w.makeSecret(label)));
      expect(hex(o.makeFactory(label).makeKey(label).toBytes())).toBe(hex(w.makeFactory(label).makeKey(label).toBEBytes()));
    }
  });
});

describe('signatures', () => {
  test('WASM signatures verify with ours (BE and DER); ours verify with WASM', () => {
    const { o, w } = keys(party());
    for (let i = 0; i < 4; i++) {
      const msg = utf8(`message ${i}`);
      const ws = w.signer.sign(msg);
      const os = ours.Signature.fromBEBytes(ws.toBEBytes());
      expect(os.verify(o.vk, msg)).toBe(true);
      expect(os.verify(o.vk, utf8('tampered'))).toBe(false);
      expect(hex(os.toDerBytes())).toBe(hex(ws.toDerBytes()));
      expect(hex(ours.Signature.fromDerBytes(ws.toDerBytes()).toBEBytes())).toBe(hex(ws.toBEBytes()));

      const sig = o.signer.sign(msg);
      const back = wasm.Signature.fromBEBytes(sig.toBEBytes());
      expect(back.verify(w.vk, msg)).toBe(true);
      expect(back.verify(w.vk, utf8('tampered'))).toBe(false);
      expect(wasm.Signature.fromDerBytes(sig.toDerBytes()).verify(w.vk, msg)).toBe(true);
      expect(hex(wasm.Signature.fromDerBytes(sig.toDerBytes()).toBEBytes())).toBe(hex(sig.toBEBytes()));
      expect(hex(back.toDerBytes())).toBe(hex(sig.toDerBytes()));
    }
  });
});

describe('encrypt / decrypt across implementations', () => {
  test.each([0, 32, 4096])('WASM encrypts %i bytes, ours decrypts (and re-serialises the capsule identically)', (size) => {
    const { o, w } = keys(party());
    const pt = new Uint8Array(randomBytes(size));
    const [wc, ct] = wasm.encrypt(w.pkA, pt);
    const c = ours.Capsule.fromBytes(wc.toBytes());
    expect(hex(c.toBytes())).toBe(hex(wc.toBytes()));
    expect(hex(c.toBytesSimple())).toBe(hex(wc.toBytesSimple()));
    expect(hex(ours.decryptOriginal(o.skA, c, ct))).toBe(hex(pt));
  });

  test.each([0, 32, 4096])('ours encrypts %i bytes, WASM decrypts', (size) => {
    const { o, w } = keys(party());
    const pt = new Uint8Array(randomBytes(size));
    const [c, ct] = ours.encrypt(o.pkA, pt);
    const wc = wasm.Capsule.fromBytes(c.toBytes());
    expect(hex(wc.toBytes())).toBe(hex(c.toBytes()));
    expect(hex(wc.toBytesSimple())).toBe(hex(c.toBytesSimple()));
    expect(hex(wasm.decryptOriginal(w.skA, wc, ct))).toBe(hex(pt));
  });

  test('ours encrypts to a public key that came from WASM bytes', () => {
    const { w } = keys(party());
    const pt = utf8('to wasm');
    const [c, ct] = ours.encrypt(ours.PublicKey.fromBytes(w.pkA.toCompressedBytes()), pt);
    expect(hex(wasm.decryptOriginal(w.skA, wasm.Capsule.fromBytes(c.toBytes()), ct))).toBe(hex(pt));
  });
});

describe('key fragments across implementations', () => {
  test.each(FLAGS)('WASM kfrags (signDelegating=%s, signReceiving=%s) parse, verify and re-serialise in ours', (sd, sr) => {
    const { o, w } = keys(party());
    const wk = wasm.generateKFrags(w.skA, w.pkB, w.signer, 2, 3, sd, sr);
    for (const k of wk) {
      const b = k.toBytes();
      const kf = ours.KeyFrag.fromBytes(b);
      expect(hex(kf.toBytes())).toBe(hex(b));
      expect(hex(kf.verify(o.vk, sd ? o.pkA : null, sr ? o.pkB : null).toBytes())).toBe(hex(b));
      expect(hex(ours.KeyFrag.fromBytes(b).verify(o.vk, o.pkA, o.pkB).toBytes())).toBe(hex(b));
    }
  });

  test.each(FLAGS)('our kfrags (signDelegating=%s, signReceiving=%s) parse, verify and re-serialise in WASM', (sd, sr) => {
    const { o, w } = keys(party());
    const ok = ours.generateKFrags(o.skA, o.pkB, o.signer, 2, 3, sd, sr);
    for (const k of ok) {
      const b = k.toBytes();
      const kf = wasm.KeyFrag.fromBytes(b);
      expect(hex(kf.toBytes())).toBe(hex(b));
      expect(hex(kf.verify(w.vk, sd ? w.pkA : null, sr ? w.pkB : null).toBytes())).toBe(hex(b));
      expect(hex(wasm.KeyFrag.fromBytes(b).verify(w.vk, w.pkA, w.pkB).toBytes())).toBe(hex(b));
    }
  });

  test('WASM rejects our kfrag when a flagged key is not supplied (our flags are encoded as WASM expects)', () => {
    const { o, w } = keys(party());
    const [kf] = ours.generateKFrags(o.skA, o.pkB, o.signer, 1, 1, true, true);
    expect(() => wasm.KeyFrag.fromBytes(kf!.toBytes()).verify(w.vk, null, w.pkB)).toThrow();
    expect(() => wasm.KeyFrag.fromBytes(kf!.toBytes()).verify(w.vk, w.pkA, null)).toThrow();
    expect(() => wasm.KeyFrag.fromBytes(kf!.toBytes()).verify(w.vk, w.pkB, w.pkB)).toThrow();
  });
});

describe('full PRE flows across implementations', () => {
  test.each(FLAGS)('WASM kfrags → our reencrypt → WASM verify + decrypt (flags %s/%s)', (sd, sr) => {
    const { o, w } = keys(party());
    const pt = utf8('wasm kfrags, our proxy');
    const [wc, ct] = wasm.encrypt(w.pkA, pt);
    const wk = wasm.generateKFrags(w.skA, w.pkB, w.signer, 2, 3, sd, sr);
    const capsule = ours.Capsule.fromBytes(wc.toBytes());
    const cfragBytes = wk.map((k) => ours.reencrypt(capsule, ours.KeyFrag.fromBytes(k.toBytes()).verify(o.vk, o.pkA, o.pkB)).toBytes());
    const wcf = cfragBytes.map((b) => wasm.CapsuleFrag.fromBytes(b).verify(wc, w.vk, w.pkA, w.pkB));
    expect(hex(wcf[0]!.toBytes())).toBe(hex(cfragBytes[0]!));
    expect(hex(wasm.decryptReencrypted(w.skB, w.pkA, wc, [wcf[0]!, wcf[2]!], ct))).toBe(hex(pt));
    expect(hex(wasm.decryptReencrypted(w.skB, w.pkA, wc, wcf, ct))).toBe(hex(pt));
  });

  test.each(FLAGS)('our kfrags → WASM reencrypt → our verify + decrypt (flags %s/%s)', (sd, sr) => {
    const { o, w } = keys(party());
    const pt = utf8('our kfrags, wasm proxy');
    const [c, ct] = ours.encrypt(o.pkA, pt);
    const ok = ours.generateKFrags(o.skA, o.pkB, o.signer, 2, 3, sd, sr);
    const wc = wasm.Capsule.fromBytes(c.toBytes());
    const cfragBytes = ok.map((k) =>
      wasm.reencrypt(wc, wasm.KeyFrag.fromBytes(k.toBytes()).verify(w.vk, sd ? w.pkA : null, sr ? w.pkB : null)).toBytes(),
    );
    const vcf = cfragBytes.map((b) => {
      const cf = ours.CapsuleFrag.fromBytes(b);
      expect(hex(cf.toBytes())).toBe(hex(b));
      return cf.verify(c, o.vk, o.pkA, o.pkB);
    });
    expect(hex(ours.decryptReencrypted(o.skB, o.pkA, c, [vcf[1]!, vcf[2]!], ct))).toBe(hex(pt));
    expect(hex(ours.decryptReencrypted(o.skB, o.pkA, c, vcf, ct))).toBe(hex(pt));
  });

  test('everything WASM-made (keys, capsule, ciphertext, kfrags, cfrags) is verified and decrypted by ours', () => {
    const { o, w } = keys(party());
    const pt = new Uint8Array(randomBytes(100));
    const [wc, ct] = wasm.encrypt(w.pkA, pt);
    const wk = wasm.generateKFrags(w.skA, w.pkB, w.signer, 3, 5, true, true);
    const wcf = wk.map((k) => wasm.reencrypt(wc, k));
    const capsule = ours.Capsule.fromBytes(wc.toBytes());
    const vcf = wcf.map((cf) => {
      const b = cf.toBytes();
      const parsed = ours.CapsuleFrag.fromBytes(b);
      expect(hex(parsed.toBytes())).toBe(hex(b));
      expect(hex(parsed.toBytesSimple())).toBe(hex(cf.toBytesSimple()));
      return parsed.verify(capsule, o.vk, o.pkA, o.pkB);
    });
    expect(hex(ours.decryptReencrypted(o.skB, o.pkA, capsule, vcf.slice(0, 3), ct))).toBe(hex(pt));
    expect(hex(ours.decryptReencrypted(o.skB, o.pkA, capsule, vcf.slice(1, 5), ct))).toBe(hex(pt));
  });

  test('everything ours-made is verified and decrypted by WASM', () => {
    const { o, w } = keys(party());
    const pt = new Uint8Array(randomBytes(100));
    const [c, ct] = ours.encrypt(o.pkA, pt);
    const ok = ours.generateKFrags(o.skA, o.pkB, o.signer, 3, 5, true, true);
    const ocf = ok.map((k) => ours.reencrypt(c, k));
    const wc = wasm.Capsule.fromBytes(c.toBytes());
    const wcf = ocf.map((cf) => {
      const b = cf.toBytes();
      const parsed = wasm.CapsuleFrag.fromBytes(b);
      expect(hex(parsed.toBytes())).toBe(hex(b));
      expect(hex(parsed.toBytesSimple())).toBe(hex(cf.toBytesSimple()));
      return parsed.verify(wc, w.vk, w.pkA, w.pkB);
    });
    expect(hex(wasm.decryptReencrypted(w.skB, w.pkA, wc, wcf.slice(2, 5), ct))).toBe(hex(pt));
    expect(hex(wasm.decryptReencrypted(w.skB, w.pkA, wc, wcf, ct))).toBe(hex(pt));
  });

  test('cfrags from both implementations combine in one decryptReencrypted (ours and WASM as receiver)', () => {
    const { o, w } = keys(party());
    const pt = utf8('mixed proxies');
    const [c, ct] = ours.encrypt(o.pkA, pt);
    const wc = wasm.Capsule.fromBytes(c.toBytes());
    const ok = ours.generateKFrags(o.skA, o.pkB, o.signer, 3, 4, false, true);
    // proxies 0 and 2 run ours, proxies 1 and 3 run WASM
    const bytes = ok.map((k, i) =>
      i % 2 === 0 ? ours.reencrypt(c, k).toBytes() : wasm.reencrypt(wc, wasm.KeyFrag.fromBytes(k.toBytes()).verify(w.vk, null, w.pkB)).toBytes(),
    );
    const ov = bytes.map((b) => ours.CapsuleFrag.fromBytes(b).verify(c, o.vk, o.pkA, o.pkB));
    const wv = bytes.map((b) => wasm.CapsuleFrag.fromBytes(b).verify(wc, w.vk, w.pkA, w.pkB));
    expect(hex(ours.decryptReencrypted(o.skB, o.pkA, c, [ov[0]!, ov[1]!, ov[3]!], ct))).toBe(hex(pt));
    expect(hex(ours.decryptReencrypted(o.skB, o.pkA, c, [ov[3]!, ov[2]!, ov[1]!, ov[0]!], ct))).toBe(hex(pt));
    expect(hex(wasm.decryptReencrypted(w.skB, w.pkA, wc, [wv[0]!, wv[1]!, wv[2]!], ct))).toBe(hex(pt));
  });

  test('WASM-generated kfrags: proxies split between implementations, ours decrypts', () => {
    const { o, w } = keys(party());
    const pt = utf8('wasm delegator, mixed proxies, our receiver');
    const [wc, ct] = wasm.encrypt(w.pkA, pt);
    const wk = wasm.generateKFrags(w.skA, w.pkB, w.signer, 2, 2, true, false);
    const c = ours.Capsule.fromBytes(wc.toBytes());
    const b0 = wasm.reencrypt(wc, wk[0]!).toBytes();
    const b1 = ours.reencrypt(c, ours.KeyFrag.fromBytes(wk[1]!.toBytes()).verify(o.vk, o.pkA, null)).toBytes();
    const cfs = [b0, b1].map((b) => ours.CapsuleFrag.fromBytes(b).verify(c, o.vk, o.pkA, o.pkB));
    expect(new TextDecoder().decode(ours.decryptReencrypted(o.skB, o.pkA, c, cfs, ct))).toBe('wasm delegator, mixed proxies, our receiver');
  });
});

describe('deterministic outputs are byte-identical', () => {
  test('reencrypt: deterministic parts (e1, v1, id, precursor, u1, signature) agree between implementations', () => {
    const { o, w } = keys(party());
    const [wc] = wasm.encrypt(w.pkA, utf8('det'));
    const [wk] = wasm.generateKFrags(w.skA, w.pkB, w.signer, 1, 1, true, true);
    const c = ours.Capsule.fromBytes(wc.toBytes());
    const ob = ours.reencrypt(c, ours.KeyFrag.fromBytes(wk!.toBytes()).verify(o.vk, o.pkA, o.pkB)).toBytes();
    const wb = wasm.reencrypt(wc, wk!).toBytes();
    expect(ob.length).toBe(wb.length);
    expect(hex(ob.subarray(0, 143))).toBe(hex(wb.subarray(0, 143))); // e1, v1, id, precursor, 96 framing, e2 prefix header
    expect(hex(ob.subarray(211, 246))).toBe(hex(wb.subarray(211, 246))); // u1 with its header
    expect(hex(ob.subarray(315))).toBe(hex(wb.subarray(315))); // signature with its header
  });

  test('fromBytes/toBytes round trips of WASM objects are the identity', () => {
    const { w } = keys(party());
    const [wc] = wasm.encrypt(w.pkA, utf8('id'));
    const wk = wasm.generateKFrags(w.skA, w.pkB, w.signer, 2, 3, false, true);
    const wcf = wasm.reencrypt(wc, wk[0]!);
    const sig = w.signer.sign(utf8('id'));
    expect(hex(ours.Capsule.fromBytes(wc.toBytes()).toBytes())).toBe(hex(wc.toBytes()));
    expect(hex(ours.KeyFrag.fromBytes(wk[2]!.toBytes()).toBytes())).toBe(hex(wk[2]!.toBytes()));
    expect(hex(ours.CapsuleFrag.fromBytes(wcf.toBytes()).toBytes())).toBe(hex(wcf.toBytes()));
    expect(hex(ours.CapsuleFrag.fromBytes(wcf.toBytes()).toBytesSimple())).toBe(hex(wcf.toBytesSimple()));
    expect(hex(ours.Signature.fromBytes(sig.toBEBytes()).toBytes())).toBe(hex(sig.toBEBytes()));
    expect(hex(ours.Signature.fromDerBytes(sig.toDerBytes()).toDerBytes())).toBe(hex(sig.toDerBytes()));
    expect(hex(ours.PublicKey.fromBytes(w.pkA.toCompressedBytes()).toBytes())).toBe(hex(w.pkA.toCompressedBytes()));
    expect(hex(ours.SecretKey.fromBytes(w.skA.toBEBytes()).toBytes())).toBe(hex(w.skA.toBEBytes()));
  });

  test('fromBytes/toBytes round trips of our objects through WASM are the identity', () => {
    const { o } = keys(party());
    const [c] = ours.encrypt(o.pkA, utf8('id'));
    const ok = ours.generateKFrags(o.skA, o.pkB, o.signer, 2, 3, true, false);
    const cf = ours.reencrypt(c, ok[1]!);
    const sig = o.signer.sign(utf8('id'));
    expect(hex(wasm.Capsule.fromBytes(c.toBytes()).toBytes())).toBe(hex(c.toBytes()));
    expect(hex(wasm.KeyFrag.fromBytes(ok[0]!.toBytes()).toBytes())).toBe(hex(ok[0]!.toBytes()));
    expect(hex(wasm.CapsuleFrag.fromBytes(cf.toBytes()).toBytes())).toBe(hex(cf.toBytes()));
    expect(hex(wasm.CapsuleFrag.fromBytes(cf.toBytes()).toBytesSimple())).toBe(hex(cf.toBytesSimple()));
    expect(hex(wasm.Signature.fromBEBytes(sig.toBytes()).toBEBytes())).toBe(hex(sig.toBytes()));
    expect(hex(wasm.Signature.fromBEBytes(sig.toBytes()).toDerBytes())).toBe(hex(sig.toDerBytes()));
  });
});
