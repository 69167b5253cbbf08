// Failure modes of src/crypto/umbral: every failure must throw UmbralError with the documented code
// (docs/umbral-api.md, "Errors") and a non-empty message. Where it is cheap, the same input is also fed to the
// umbral-pre 0.10 WASM oracle (@nucypher/umbral-pre, devDependency only) to check that it rejects it as well.
import { createRequire } from 'node:module';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as ours from '../../src/crypto/umbral/index.js';
import { UmbralError, type UmbralErrorCode } from '../../src/crypto/umbral/index.js';

const require = createRequire(import.meta.url);
const wasm = require('@nucypher/umbral-pre') as typeof import('@nucypher/umbral-pre');

type Code = UmbralErrorCode;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const N = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
const N_BYTES = unhex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
const P_FIELD = unhex('fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f');
const be32 = (x: bigint): Uint8Array => unhex(x.toString(16).padStart(64, '0'));
const toBig = (b: Uint8Array): bigint => BigInt('0x' + hex(b));

// Offsets in the MessagePack encodings (UMBRAL.md, "Serialisation").
const CAPSULE = { E: 3, V: 38, s: 73 } as const;
const KFRAG = { u: 4, id: 39, key: 73, precursor: 107, commitment: 143, sigProxy: 178, sigReceiver: 244, dFlag: 308, rFlag: 309 } as const;
const CFRAG = { e1: 3, v1: 38, id: 73, precursor: 107, e2: 143, v2: 178, u1: 213, u2: 248, z: 283, sig: 317 } as const;

/** x = 5 is not the x-coordinate of a secp256k1 point (asserted below with noble). */
const X_OFF_CURVE = (() => {
  const x = new Uint8Array(32);
  x[31] = 5;
  return x;
})();

/** Runs fn and asserts it throws an UmbralError whose code is one of `codes`, with a non-empty message. */
function expectUmbral(fn: () => unknown, codes: Code | Code[], label = ''): UmbralError {
  const allowed: string[] = Array.isArray(codes) ? codes : [codes];
  let thrown: unknown;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    thrown = e;
  }
  if (!threw) throw new Error(`${label}: expected UmbralError [${allowed.join(' | ')}], but nothing was thrown`);
  if (!(thrown instanceof UmbralError)) {
    throw new Error(`${label}: expected UmbralError [${allowed.join(' | ')}], got ${String((thrown as Error)?.name)}: ${String(thrown)}`);
  }
  expect(thrown).toBeInstanceOf(Error);
  const code = String((thrown as { code: unknown }).code);
  if (!allowed.includes(code)) {
    throw new Error(`${label}: expected code [${allowed.join(' | ')}], got ${code}: ${thrown.message}`);
  }
  expect(typeof thrown.message).toBe('string');
  expect(thrown.message.trim().length).toBeGreaterThan(0);
  return thrown;
}

/** The WASM oracle rejects the same input. */
function expectWasmRejects(fn: () => unknown): void {
  expect(fn).toThrow();
}

const set = (b: Uint8Array, offset: number, ...bytes: number[]): Uint8Array => {
  const c = Uint8Array.from(b);
  c.set(bytes, offset);
  return c;
};
const put = (b: Uint8Array, offset: number, part: Uint8Array): Uint8Array => {
  const c = Uint8Array.from(b);
  c.set(part, offset);
  return c;
};
const xor = (b: Uint8Array, offset: number, mask = 0x01): Uint8Array => {
  const c = Uint8Array.from(b);
  c[offset] = c[offset]! ^ mask;
  return c;
};
const flipPrefix = (b: Uint8Array, offset: number): Uint8Array => xor(b, offset, 0x01); // 02 <-> 03: the negated point
const randomPoint = (): Uint8Array => secp256k1.Point.BASE.multiply(toBig(wasm.SecretKey.random().toBEBytes())).toBytes(true);
const addOne = (b: Uint8Array, offset: number): Uint8Array => put(b, offset, be32((toBig(b.subarray(offset, offset + 32)) + 1n) % N));
const append = (b: Uint8Array, byte = 0): Uint8Array => Uint8Array.from([...b, byte]);

/** UMBRAL.md hash_to_scalar: SHA-256(u32be(len(DST)) ‖ DST ‖ parts…), then (x mod (n − 1)) + 1. */
function hashToScalar(dst: string, parts: Uint8Array[]): bigint {
  const d = utf8(dst);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, d.length, false);
  const x = toBig(sha256(Uint8Array.from([...len, ...d, ...parts.flatMap((p) => [...p])])));
  return (x % (N - 1n)) + 1n;
}

// One fixed world for the whole file: A delegates to B through signer S; C is an unrelated receiver.
const skA = ours.SecretKey.random();
const skB = ours.SecretKey.random();
const skC = ours.SecretKey.random();
const signer = new ours.Signer(ours.SecretKey.random());
const pkA = skA.publicKey();
const pkB = skB.publicKey();
const pkC = skC.publicKey();
const vk = signer.verifyingKey();
const W = {
  skA: wasm.SecretKey.fromBEBytes(skA.toBytes()),
  skB: wasm.SecretKey.fromBEBytes(skB.toBytes()),
  pkA: wasm.PublicKey.fromCompressedBytes(pkA.toBytes()),
  pkB: wasm.PublicKey.fromCompressedBytes(pkB.toBytes()),
  pkC: wasm.PublicKey.fromCompressedBytes(pkC.toBytes()),
  vk: wasm.PublicKey.fromCompressedBytes(vk.toBytes()),
};
const PLAINTEXT = utf8('negative tests');
const [capsule, ciphertext] = ours.encrypt(pkA, PLAINTEXT);
const capsuleBytes = capsule.toBytes();
const wCapsule = wasm.Capsule.fromBytes(capsuleBytes);
const kfrags = ours.generateKFrags(skA, pkB, signer, 2, 3, true, true);
const kfragBytes = kfrags[0]!.toBytes();
const cfrags = kfrags.map((k) => ours.reencrypt(capsule, k));
const cfragBytes = cfrags[0]!.toBytes();

test('fixtures are sane (the unmodified inputs are accepted by both implementations)', () => {
  expect(secp256k1.Point.fromBytes(capsuleBytes.subarray(CAPSULE.E, CAPSULE.E + 33))).toBeDefined();
  expect(() => secp256k1.Point.fromBytes(Uint8Array.from([0x02, ...X_OFF_CURVE]))).toThrow();
  expect(() => secp256k1.Point.fromBytes(Uint8Array.from([0x03, ...X_OFF_CURVE]))).toThrow();
  expect(hex(ours.decryptOriginal(skA, ours.Capsule.fromBytes(capsuleBytes), ciphertext))).toBe(hex(PLAINTEXT));
  expect(hex(wasm.decryptOriginal(W.skA, wCapsule, ciphertext))).toBe(hex(PLAINTEXT));
  expect(hex(ours.KeyFrag.fromBytes(kfragBytes).verify(vk, pkA, pkB).toBytes())).toBe(hex(kfragBytes));
  expect(hex(wasm.KeyFrag.fromBytes(kfragBytes).verify(W.vk, W.pkA, W.pkB).toBytes())).toBe(hex(kfragBytes));
  expect(hex(ours.CapsuleFrag.fromBytes(cfragBytes).verify(capsule, vk, pkA, pkB).toBytes())).toBe(hex(cfragBytes));
  expect(hex(wasm.CapsuleFrag.fromBytes(cfragBytes).verify(wCapsule, W.vk, W.pkA, W.pkB).toBytes())).toBe(hex(cfragBytes));
  expect(hex(ours.decryptReencrypted(skB, pkA, capsule, [cfrags[0]!, cfrags[1]!], ciphertext))).toBe(hex(PLAINTEXT));
});

describe('UmbralError', () => {
  test('is an Error subclass with a code and a name', () => {
    const e = expectUmbral(() => ours.Capsule.fromBytes(new Uint8Array(0)), 'MALFORMED_BYTES');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(UmbralError);
    expect(typeof e.code).toBe('string');
    expect(typeof e.name).toBe('string');
  });
});

describe('tampered capsules', () => {
  test.each([
    ['E negated (prefix 02<->03)', () => flipPrefix(capsuleBytes, CAPSULE.E)],
    ['V negated (prefix 02<->03)', () => flipPrefix(capsuleBytes, CAPSULE.V)],
    ['E replaced by another valid point', () => put(capsuleBytes, CAPSULE.E, randomPoint())],
    ['V replaced by another valid point', () => put(capsuleBytes, CAPSULE.V, randomPoint())],
    ['E and V swapped', () => put(put(capsuleBytes, CAPSULE.E, capsuleBytes.subarray(CAPSULE.V, CAPSULE.V + 33)), CAPSULE.V, capsuleBytes.subarray(CAPSULE.E, CAPSULE.E + 33))],
    ['s + 1', () => addOne(capsuleBytes, CAPSULE.s)],
    ['s = 1', () => put(capsuleBytes, CAPSULE.s, be32(1n))],
    ['s = n − 1', () => put(capsuleBytes, CAPSULE.s, be32(N - 1n))],
  ])('%s → INVALID_CAPSULE (valid encoding, proof fails)', (name, make) => {
    const b = make();
    expectUmbral(() => ours.Capsule.fromBytes(b), 'INVALID_CAPSULE', name);
    expectWasmRejects(() => wasm.Capsule.fromBytes(b));
  });

  test.each([
    ['E', CAPSULE.E],
    ['V', CAPSULE.V],
    ['s', CAPSULE.s],
  ])('byte flips inside %s → INVALID_CAPSULE or MALFORMED_BYTES', (name, off) => {
    for (const i of [1, 7, 16, 31]) {
      for (const mask of [0x01, 0x80]) {
        const b = xor(capsuleBytes, off + i, mask);
        expectUmbral(() => ours.Capsule.fromBytes(b), ['INVALID_CAPSULE', 'MALFORMED_BYTES'], `${name}[${i}]^${mask}`);
        expectWasmRejects(() => wasm.Capsule.fromBytes(b));
      }
    }
  });

  test('s = 0 → INVALID_CAPSULE or MALFORMED_BYTES', () => {
    const b = put(capsuleBytes, CAPSULE.s, new Uint8Array(32));
    expectUmbral(() => ours.Capsule.fromBytes(b), ['INVALID_CAPSULE', 'MALFORMED_BYTES'], 's=0');
    expectWasmRejects(() => wasm.Capsule.fromBytes(b));
  });
});

describe('DEM failures → DECRYPTION_FAILED', () => {
  test('ciphertext of another capsule (capsule/ciphertext mismatch)', () => {
    const [capsule2, ct2] = ours.encrypt(pkA, PLAINTEXT);
    expectUmbral(() => ours.decryptOriginal(skA, capsule2, ciphertext), 'DECRYPTION_FAILED', 'capsule2+ct1');
    expectUmbral(() => ours.decryptOriginal(skA, capsule, ct2), 'DECRYPTION_FAILED', 'capsule1+ct2');
    expectWasmRejects(() => wasm.decryptOriginal(W.skA, wCapsule, ct2));
  });

  test('tampered ciphertext (nonce, body, tag)', () => {
    for (const i of [0, 12, 23, 24, 24 + 7, ciphertext.length - 16, ciphertext.length - 1]) {
      const ct = xor(ciphertext, i, 0x40);
      expectUmbral(() => ours.decryptOriginal(skA, capsule, ct), 'DECRYPTION_FAILED', `byte ${i}`);
      expectWasmRejects(() => wasm.decryptOriginal(W.skA, wCapsule, ct));
    }
  });

  test('short, truncated and extended ciphertexts', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['1 byte', new Uint8Array(1)],
      ['23 bytes (< nonce)', ciphertext.subarray(0, 23)],
      ['24 bytes (nonce only)', ciphertext.subarray(0, 24)],
      ['39 bytes (< nonce + tag)', ciphertext.subarray(0, 39)],
      ['40 bytes (nonce + tag, no body)', ciphertext.subarray(0, 40)],
      ['truncated by one', ciphertext.subarray(0, ciphertext.length - 1)],
      ['one extra byte', append(ciphertext)],
    ];
    for (const [name, ct] of cases) {
      expectUmbral(() => ours.decryptOriginal(skA, capsule, ct), 'DECRYPTION_FAILED', name);
      expectWasmRejects(() => wasm.decryptOriginal(W.skA, wCapsule, ct));
    }
  });

  test('decryptOriginal with the wrong key', () => {
    expectUmbral(() => ours.decryptOriginal(skB, capsule, ciphertext), 'DECRYPTION_FAILED', 'skB');
    expectUmbral(() => ours.decryptOriginal(ours.SecretKey.random(), capsule, ciphertext), 'DECRYPTION_FAILED', 'random sk');
    expectWasmRejects(() => wasm.decryptOriginal(W.skB, wCapsule, ciphertext));
  });

  test('decryptReencrypted with valid cfrags but a wrong or tampered ciphertext', () => {
    const [, ct2] = ours.encrypt(pkA, PLAINTEXT);
    const two = [cfrags[0]!, cfrags[2]!];
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, two, ct2), 'DECRYPTION_FAILED', 'other ct');
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, two, xor(ciphertext, 30)), 'DECRYPTION_FAILED', 'tampered ct');
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, two, ciphertext.subarray(0, 10)), 'DECRYPTION_FAILED', 'short ct');
  });
});

describe('KeyFrag.verify → KFRAG_VERIFICATION_FAILED', () => {
  const flagged = {
    none: ours.generateKFrags(skA, pkB, signer, 1, 1, false, false)[0]!.toBytes(),
    d: ours.generateKFrags(skA, pkB, signer, 1, 1, true, false)[0]!.toBytes(),
    r: ours.generateKFrags(skA, pkB, signer, 1, 1, false, true)[0]!.toBytes(),
    both: kfragBytes,
  };

  test('kfrag for another receiver (receiving key signed) verified with the other receiving key', () => {
    for (const b of [flagged.r, flagged.both]) {
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkC), 'KFRAG_VERIFICATION_FAILED', 'pkC');
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.vk, W.pkA, W.pkC));
    }
  });

  test('wrong verifying key', () => {
    for (const b of Object.values(flagged)) {
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(pkA, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', 'vk=pkA');
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(pkC, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', 'vk=pkC');
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.pkA, W.pkA, W.pkB));
    }
  });

  test('wrong delegating key (delegating key signed)', () => {
    for (const b of [flagged.d, flagged.both]) {
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkC, pkB), 'KFRAG_VERIFICATION_FAILED', 'pkA=pkC');
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkB, pkB), 'KFRAG_VERIFICATION_FAILED', 'pkA=pkB');
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.vk, W.pkC, W.pkB));
    }
  });

  test('a key required by the flags is not supplied (null or omitted)', () => {
    const cases: Array<[string, Uint8Array, () => unknown, () => unknown]> = [
      ['d: no delegating key (null)', flagged.d, () => ours.KeyFrag.fromBytes(flagged.d).verify(vk, null, pkB), () => wasm.KeyFrag.fromBytes(flagged.d).verify(W.vk, null, W.pkB)],
      ['d: no keys (omitted)', flagged.d, () => ours.KeyFrag.fromBytes(flagged.d).verify(vk), () => wasm.KeyFrag.fromBytes(flagged.d).verify(W.vk, null, null)],
      ['r: no receiving key (null)', flagged.r, () => ours.KeyFrag.fromBytes(flagged.r).verify(vk, pkA, null), () => wasm.KeyFrag.fromBytes(flagged.r).verify(W.vk, W.pkA, null)],
      ['r: no receiving key (omitted)', flagged.r, () => ours.KeyFrag.fromBytes(flagged.r).verify(vk, pkA), () => wasm.KeyFrag.fromBytes(flagged.r).verify(W.vk, W.pkA, null)],
      ['both: only delegating key', flagged.both, () => ours.KeyFrag.fromBytes(flagged.both).verify(vk, pkA, null), () => wasm.KeyFrag.fromBytes(flagged.both).verify(W.vk, W.pkA, null)],
      ['both: only receiving key', flagged.both, () => ours.KeyFrag.fromBytes(flagged.both).verify(vk, null, pkB), () => wasm.KeyFrag.fromBytes(flagged.both).verify(W.vk, null, W.pkB)],
      ['both: no keys', flagged.both, () => ours.KeyFrag.fromBytes(flagged.both).verify(vk, undefined, undefined), () => wasm.KeyFrag.fromBytes(flagged.both).verify(W.vk, null, null)],
    ];
    for (const [name, , o, w] of cases) {
      expectUmbral(o, 'KFRAG_VERIFICATION_FAILED', name);
      expectWasmRejects(w);
    }
  });

  test('forged signature for the proxy (byte flips in r and in s)', () => {
    for (const i of [0, 15, 31, 32, 47, 63]) {
      const b = xor(kfragBytes, KFRAG.sigProxy + i, 0x01);
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', `sig[${i}]`);
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.vk, W.pkA, W.pkB));
    }
  });

  test('signature for the proxy replaced by a valid signature of something else', () => {
    const other = signer.sign(utf8('something else')).toBytes();
    const b = put(kfragBytes, KFRAG.sigProxy, other);
    expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', 'other sig');
    // and by the kfrag's own signature for the receiver (which covers a different message)
    const b2 = put(kfragBytes, KFRAG.sigProxy, kfragBytes.subarray(KFRAG.sigReceiver, KFRAG.sigReceiver + 64));
    const flaggedD = ours.generateKFrags(skA, pkB, signer, 1, 1, true, false)[0]!.toBytes();
    const b3 = put(flaggedD, KFRAG.sigProxy, flaggedD.subarray(KFRAG.sigReceiver, KFRAG.sigReceiver + 64));
    expectUmbral(() => ours.KeyFrag.fromBytes(b3).verify(vk, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', 'receiver sig (d only)');
    expectWasmRejects(() => wasm.KeyFrag.fromBytes(b3).verify(W.vk, W.pkA, W.pkB));
    // with both flags set the two signed messages coincide, so b2 is NOT a forgery: it must still verify
    expect(hex(ours.KeyFrag.fromBytes(b2).verify(vk, pkA, pkB).toBytes())).toBe(hex(b2));
  });

  test('altered key (rk + 1): commitment check fails', () => {
    const b = addOne(kfragBytes, KFRAG.key);
    expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', 'rk+1');
    expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.vk, W.pkA, W.pkB));
  });

  test('altered commitment (negated; another point; consistent with an altered key): signature or commitment fails', () => {
    const u = secp256k1.Point.fromBytes(kfragBytes.subarray(KFRAG.u, KFRAG.u + 33));
    const rk1 = (toBig(kfragBytes.subarray(KFRAG.key, KFRAG.key + 32)) + 1n) % N;
    const consistent = put(put(kfragBytes, KFRAG.key, be32(rk1)), KFRAG.commitment, u.multiply(rk1).toBytes(true));
    const cases: Array<[string, Uint8Array]> = [
      ['negated', flipPrefix(kfragBytes, KFRAG.commitment)],
      ['random point', put(kfragBytes, KFRAG.commitment, randomPoint())],
      ['key and commitment both altered consistently', consistent],
    ];
    for (const [name, b] of cases) {
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', name);
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.vk, W.pkA, W.pkB));
    }
  });

  test('altered id, precursor or flags', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['id', xor(kfragBytes, KFRAG.id + 5)],
      ['precursor negated', flipPrefix(kfragBytes, KFRAG.precursor)],
      ['precursor replaced', put(kfragBytes, KFRAG.precursor, randomPoint())],
      ['delegating flag cleared', set(kfragBytes, KFRAG.dFlag, 0xc2)],
      ['receiving flag cleared', set(kfragBytes, KFRAG.rFlag, 0xc2)],
      ['both flags cleared', set(kfragBytes, KFRAG.dFlag, 0xc2, 0xc2)],
      ['delegating flag set on an unsigned kfrag', set(flagged.none, KFRAG.dFlag, 0xc3)],
      ['receiving flag set on an unsigned kfrag', set(flagged.none, KFRAG.rFlag, 0xc3)],
    ];
    for (const [name, b] of cases) {
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkB), 'KFRAG_VERIFICATION_FAILED', name);
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.vk, W.pkA, W.pkB));
    }
  });

  test('key = 0 or zeroed signature: rejected on parsing (MALFORMED_BYTES) or on verification', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['key 0', put(kfragBytes, KFRAG.key, new Uint8Array(32))],
      ['sig for proxy all zero', put(kfragBytes, KFRAG.sigProxy, new Uint8Array(64))],
      ['sig for proxy r = 0', put(kfragBytes, KFRAG.sigProxy, new Uint8Array(32))],
      ['sig for proxy s = 0', put(kfragBytes, KFRAG.sigProxy + 32, new Uint8Array(32))],
    ];
    for (const [name, b] of cases) {
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkB), ['MALFORMED_BYTES', 'KFRAG_VERIFICATION_FAILED'], name);
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b).verify(W.vk, W.pkA, W.pkB));
    }
  });
});

describe('CapsuleFrag.verify → CFRAG_VERIFICATION_FAILED', () => {
  const verifyOurs = (b: Uint8Array, c = capsule) => () => ours.CapsuleFrag.fromBytes(b).verify(c, vk, pkA, pkB);
  const verifyWasm = (b: Uint8Array) => () => wasm.CapsuleFrag.fromBytes(b).verify(wCapsule, W.vk, W.pkA, W.pkB);

  test('forged signature (byte flips in r and s; another valid signature)', () => {
    for (const i of [0, 31, 32, 63]) {
      const b = xor(cfragBytes, CFRAG.sig + i, 0x01);
      expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', `sig[${i}]`);
      expectWasmRejects(verifyWasm(b));
    }
    const b = put(cfragBytes, CFRAG.sig, signer.sign(utf8('other')).toBytes());
    expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', 'other sig');
    expectWasmRejects(verifyWasm(b));
  });

  const POINT_FIELDS = ['e1', 'v1', 'e2', 'v2', 'u1', 'u2', 'precursor'] as const;

  test.each(POINT_FIELDS)('proof field %s negated (still a valid point) → CFRAG_VERIFICATION_FAILED', (f) => {
    const b = flipPrefix(cfragBytes, CFRAG[f]);
    expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', `${f} negated`);
    expectWasmRejects(verifyWasm(b));
  });

  test.each(POINT_FIELDS)('proof field %s replaced by another valid point → CFRAG_VERIFICATION_FAILED', (f) => {
    const b = put(cfragBytes, CFRAG[f], randomPoint());
    expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', `${f} replaced`);
    expectWasmRejects(verifyWasm(b));
  });

  test.each(POINT_FIELDS)('byte flips in the x-coordinate of %s → CFRAG_VERIFICATION_FAILED or MALFORMED_BYTES', (f) => {
    for (const i of [1, 16, 32]) {
      const b = xor(cfragBytes, CFRAG[f] + i, 0x04);
      expectUmbral(verifyOurs(b), ['CFRAG_VERIFICATION_FAILED', 'MALFORMED_BYTES'], `${f}[${i}]`);
      expectWasmRejects(verifyWasm(b));
    }
  });

  test('z altered (z + 1, z = 1, z = n − 1, byte flip) → CFRAG_VERIFICATION_FAILED', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['z+1', addOne(cfragBytes, CFRAG.z)],
      ['z=1', put(cfragBytes, CFRAG.z, be32(1n))],
      ['z=n-1', put(cfragBytes, CFRAG.z, be32(N - 1n))],
      ['z byte flip', xor(cfragBytes, CFRAG.z + 31, 0x02)],
    ];
    for (const [name, b] of cases) {
      expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', name);
      expectWasmRejects(verifyWasm(b));
    }
  });

  test('z = 0 → CFRAG_VERIFICATION_FAILED or MALFORMED_BYTES', () => {
    const b = put(cfragBytes, CFRAG.z, new Uint8Array(32));
    expectUmbral(verifyOurs(b), ['CFRAG_VERIFICATION_FAILED', 'MALFORMED_BYTES'], 'z=0');
    expectWasmRejects(verifyWasm(b));
  });

  test('altered kfrag id → CFRAG_VERIFICATION_FAILED', () => {
    const b = xor(cfragBytes, CFRAG.id + 3);
    expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', 'id');
    expectWasmRejects(verifyWasm(b));
  });

  test('verified against another capsule → CFRAG_VERIFICATION_FAILED', () => {
    const [other] = ours.encrypt(pkA, PLAINTEXT);
    expectUmbral(verifyOurs(cfragBytes, other), 'CFRAG_VERIFICATION_FAILED', 'other capsule');
    const wOther = wasm.Capsule.fromBytes(other.toBytes());
    expectWasmRejects(() => wasm.CapsuleFrag.fromBytes(cfragBytes).verify(wOther, W.vk, W.pkA, W.pkB));
  });

  test('wrong verifying / delegating / receiving key → CFRAG_VERIFICATION_FAILED (for every flag combination)', () => {
    for (const [sd, sr] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const [kf] = ours.generateKFrags(skA, pkB, signer, 1, 1, sd, sr);
      const b = ours.reencrypt(capsule, kf!).toBytes();
      const cf = () => ours.CapsuleFrag.fromBytes(b);
      expectUmbral(() => cf().verify(capsule, pkC, pkA, pkB), 'CFRAG_VERIFICATION_FAILED', `vk ${sd}/${sr}`);
      expectUmbral(() => cf().verify(capsule, vk, pkC, pkB), 'CFRAG_VERIFICATION_FAILED', `pkA ${sd}/${sr}`);
      expectUmbral(() => cf().verify(capsule, vk, pkA, pkC), 'CFRAG_VERIFICATION_FAILED', `pkB ${sd}/${sr}`);
      expectUmbral(() => cf().verify(capsule, vk, pkB, pkA), 'CFRAG_VERIFICATION_FAILED', `swapped ${sd}/${sr}`);
      expectWasmRejects(() => wasm.CapsuleFrag.fromBytes(b).verify(wCapsule, W.vk, W.pkA, W.pkC));
      // and the right keys do verify
      expect(hex(cf().verify(capsule, vk, pkA, pkB).toBytes())).toBe(hex(b));
    }
  });

  test('tampered kfrag signature for the receiver (kfrag used unverified) → the cfrag fails', () => {
    const forged = xor(kfragBytes, KFRAG.sigReceiver + 10, 0x01);
    const vkf = ours.KeyFrag.fromBytes(forged).skipVerification();
    const b = ours.reencrypt(capsule, vkf).toBytes();
    expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', 'kfrag sig for receiver');
    expectWasmRejects(verifyWasm(b));
  });

  // A malicious proxy holds a genuine kfrag (so it knows rk and has the delegator's signature) and builds a
  // cfrag by hand (noble + the UMBRAL.md formulas) in which exactly ONE of the three proof equations fails.
  // An implementation that skips any one of the three checks accepts the corresponding forgery.
  const forge = (bad: 'none' | 'e1' | 'v1' | 'u2' | 'e2'): Uint8Array => {
    const G = secp256k1.Point;
    const k = kfragBytes;
    const rk = toBig(k.subarray(KFRAG.key, KFRAG.key + 32));
    const u = G.fromBytes(k.subarray(KFRAG.u, KFRAG.u + 33));
    const u1 = k.subarray(KFRAG.commitment, KFRAG.commitment + 33);
    const E = G.fromBytes(capsuleBytes.subarray(CAPSULE.E, CAPSULE.E + 33));
    const V = G.fromBytes(capsuleBytes.subarray(CAPSULE.V, CAPSULE.V + 33));
    const t = toBig(wasm.SecretKey.random().toBEBytes());
    const t2 = toBig(wasm.SecretKey.random().toBEBytes());
    const enc = (p: InstanceType<typeof G>): Uint8Array => p.toBytes(true);
    const e1 = bad === 'e1' ? randomPoint() : enc(E.multiply(rk));
    const v1 = bad === 'v1' ? randomPoint() : enc(V.multiply(rk));
    const e2 = bad === 'e2' ? enc(E.multiply(t2)) : enc(E.multiply(t));
    const v2 = enc(V.multiply(t));
    const u2 = bad === 'u2' ? enc(u.multiply(t2)) : enc(u.multiply(t));
    const h = hashToScalar('CFRAG_VERIFICATION', [enc(E), e1, e2, enc(V), v1, v2, enc(u), u1, u2]);
    const z = (t + h * rk) % N;
    const bin = (b: Uint8Array): number[] => [0xc4, b.length, ...b];
    return Uint8Array.from([
      0x95,
      ...bin(e1),
      ...bin(v1),
      ...bin(k.subarray(KFRAG.id, KFRAG.id + 32)),
      ...bin(k.subarray(KFRAG.precursor, KFRAG.precursor + 33)),
      0x96,
      ...bin(e2),
      ...bin(v2),
      ...bin(u1),
      ...bin(u2),
      ...bin(be32(z)),
      ...bin(k.subarray(KFRAG.sigReceiver, KFRAG.sigReceiver + 64)),
    ]);
  };

  test('positive control: a hand-built honest cfrag verifies in both implementations and decrypts', () => {
    const b = forge('none');
    expect(b.length).toBe(381);
    const v = ours.CapsuleFrag.fromBytes(b).verify(capsule, vk, pkA, pkB);
    expect(hex(v.toBytes())).toBe(hex(b));
    expect(hex(wasm.CapsuleFrag.fromBytes(b).verify(wCapsule, W.vk, W.pkA, W.pkB).toBytes())).toBe(hex(b));
    expect(hex(ours.decryptReencrypted(skB, pkA, capsule, [v, cfrags[1]!], ciphertext))).toBe(hex(PLAINTEXT));
  });

  test.each([
    ['e1 (E·z = e2 + e1·h fails; V and u equations hold)', 'e1'],
    ['e2 (E·z = e2 + e1·h fails; V and u equations hold)', 'e2'],
    ['v1 (V·z = v2 + v1·h fails; E and u equations hold)', 'v1'],
    ['u2 (u·z = u2 + u1·h fails; E and V equations hold)', 'u2'],
  ] as const)('malicious proxy with a genuine kfrag forges %s → CFRAG_VERIFICATION_FAILED', (_label, bad) => {
    const b = forge(bad);
    expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', `forged ${bad}`);
    expectWasmRejects(verifyWasm(b));
  });

  test('a forged e1 that slips past verification (skipVerification) is caught by decryptReencrypted', () => {
    const forged = ours.CapsuleFrag.fromBytes(forge('e1')).skipVerification();
    expectUmbral(
      () => ours.decryptReencrypted(skB, pkA, capsule, [forged, cfrags[1]!], ciphertext),
      'REENCRYPTION_CHECK_FAILED',
      'forged e1 unverified',
    );
  });

  test('cfrag made from a tampered (unverified) kfrag key → the cfrag fails', () => {
    const vkf = ours.KeyFrag.fromBytes(addOne(kfragBytes, KFRAG.key)).skipVerification();
    const b = ours.reencrypt(capsule, vkf).toBytes();
    expectUmbral(verifyOurs(b), 'CFRAG_VERIFICATION_FAILED', 'rk+1');
    expectWasmRejects(verifyWasm(b));
  });
});

describe('decryptReencrypted failures', () => {
  test('empty list → NO_CFRAGS', () => {
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, [], ciphertext), 'NO_CFRAGS', 'empty');
    expectWasmRejects(() => wasm.decryptReencrypted(W.skB, W.pkA, wCapsule, [], ciphertext));
  });

  test('cfrags from two generateKFrags calls (different precursors) → MISMATCHED_CFRAGS', () => {
    const other = ours.generateKFrags(skA, pkB, signer, 2, 3, true, true);
    const mixed = [cfrags[0]!, ours.reencrypt(capsule, other[1]!)];
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, mixed, ciphertext), 'MISMATCHED_CFRAGS', 'mixed');
    const three = [cfrags[0]!, cfrags[1]!, ours.reencrypt(capsule, other[2]!)];
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, three, ciphertext), 'MISMATCHED_CFRAGS', 'mixed (3, t satisfied)');
    const w = mixed.map((c) => wasm.CapsuleFrag.fromBytes(c.toBytes()).skipVerification());
    expectWasmRejects(() => wasm.decryptReencrypted(W.skB, W.pkA, wCapsule, w, ciphertext));
  });

  test('the same kfrag twice → DUPLICATE_CFRAGS', () => {
    const again = ours.reencrypt(capsule, kfrags[0]!); // a fresh cfrag from the same kfrag (same x)
    expect(hex(again.toBytes())).not.toBe(hex(cfragBytes));
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, [cfrags[0]!, again], ciphertext), 'DUPLICATE_CFRAGS', 'reencrypted twice');
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, [cfrags[0]!, cfrags[0]!], ciphertext), 'DUPLICATE_CFRAGS', 'same object');
    expectUmbral(
      () => ours.decryptReencrypted(skB, pkA, capsule, [cfrags[0]!, cfrags[1]!, again], ciphertext),
      'DUPLICATE_CFRAGS',
      'duplicate among enough',
    );
    const w = [cfrags[0]!, again].map((c) => wasm.CapsuleFrag.fromBytes(c.toBytes()).skipVerification());
    expectWasmRejects(() => wasm.decryptReencrypted(W.skB, W.pkA, wCapsule, w, ciphertext));
  });

  test('fewer than threshold cfrags → REENCRYPTION_CHECK_FAILED', () => {
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, [cfrags[1]!], ciphertext), 'REENCRYPTION_CHECK_FAILED', '1 of 2');
    const k35 = ours.generateKFrags(skA, pkB, signer, 3, 5, false, false);
    const c35 = k35.map((k) => ours.reencrypt(capsule, k));
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, [c35[0]!, c35[4]!], ciphertext), 'REENCRYPTION_CHECK_FAILED', '2 of 3');
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, [c35[3]!], ciphertext), 'REENCRYPTION_CHECK_FAILED', '1 of 3');
    const w = [c35[0]!, c35[4]!].map((c) => wasm.CapsuleFrag.fromBytes(c.toBytes()).skipVerification());
    expectWasmRejects(() => wasm.decryptReencrypted(W.skB, W.pkA, wCapsule, w, ciphertext));
  });

  test('cfrags for another receiver used by this receiver → REENCRYPTION_CHECK_FAILED', () => {
    const forC = ours.generateKFrags(skA, pkC, signer, 2, 3, false, false).map((k) => ours.reencrypt(capsule, k));
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, forC.slice(0, 2), ciphertext), 'REENCRYPTION_CHECK_FAILED', 'for C');
    // … and the intended receiver does succeed
    expect(hex(ours.decryptReencrypted(skC, pkA, capsule, forC.slice(1, 3), ciphertext))).toBe(hex(PLAINTEXT));
    const w = forC.slice(0, 2).map((c) => wasm.CapsuleFrag.fromBytes(c.toBytes()).skipVerification());
    expectWasmRejects(() => wasm.decryptReencrypted(W.skB, W.pkA, wCapsule, w, ciphertext));
  });

  test('wrong delegating public key → REENCRYPTION_CHECK_FAILED', () => {
    const two = [cfrags[0]!, cfrags[1]!];
    expectUmbral(() => ours.decryptReencrypted(skB, pkC, capsule, two, ciphertext), 'REENCRYPTION_CHECK_FAILED', 'pkC as delegator');
    const w = two.map((c) => wasm.CapsuleFrag.fromBytes(c.toBytes()).skipVerification());
    expectWasmRejects(() => wasm.decryptReencrypted(W.skB, W.pkC, wCapsule, w, ciphertext));
  });

  test('cfrags of another capsule → REENCRYPTION_CHECK_FAILED', () => {
    const [other] = ours.encrypt(pkA, PLAINTEXT);
    const two = [ours.reencrypt(other, kfrags[0]!), ours.reencrypt(other, kfrags[1]!)];
    expectUmbral(() => ours.decryptReencrypted(skB, pkA, capsule, two, ciphertext), 'REENCRYPTION_CHECK_FAILED', 'other capsule');
    const w = two.map((c) => wasm.CapsuleFrag.fromBytes(c.toBytes()).skipVerification());
    expectWasmRejects(() => wasm.decryptReencrypted(W.skB, W.pkA, wCapsule, w, ciphertext));
  });

  test('wrong receiving secret key → REENCRYPTION_CHECK_FAILED', () => {
    expectUmbral(
      () => ours.decryptReencrypted(skC, pkA, capsule, [cfrags[0]!, cfrags[1]!], ciphertext),
      'REENCRYPTION_CHECK_FAILED',
      'skC',
    );
  });
});

describe('generateKFrags / encrypt argument checks → INVALID_ARGUMENT', () => {
  test.each([
    [0, 3],
    [0, 0],
    [1, 0],
    [4, 3],
    [6, 5],
    [-1, 3],
    [1.5, 3],
    [2, 2.5],
    [Number.NaN, 3],
    [2, 256],
  ])('threshold=%s shares=%s', (t, n) => {
    expectUmbral(() => ours.generateKFrags(skA, pkB, signer, t, n, false, false), 'INVALID_ARGUMENT', `t=${t} n=${n}`);
  });

  test('boundaries that are valid: t = N = 1 and t = 1, N = 255', () => {
    expect(ours.generateKFrags(skA, pkB, signer, 1, 1, false, false).length).toBe(1);
    expect(ours.generateKFrags(skA, pkB, signer, 1, 255, false, false).length).toBe(255);
  });

  test('non-Uint8Array plaintext / ciphertext', () => {
    const bad = 'not bytes' as unknown as Uint8Array;
    expectUmbral(() => ours.encrypt(pkA, bad), 'INVALID_ARGUMENT', 'encrypt string');
    expectUmbral(() => ours.encrypt(pkA, [1, 2, 3] as unknown as Uint8Array), 'INVALID_ARGUMENT', 'encrypt array');
    expectUmbral(() => ours.decryptOriginal(skA, capsule, bad), 'INVALID_ARGUMENT', 'decryptOriginal string');
  });

  test('non-Uint8Array input to fromBytes → MALFORMED_BYTES or INVALID_ARGUMENT', () => {
    const bad = 'x'.repeat(105) as unknown as Uint8Array;
    expectUmbral(() => ours.Capsule.fromBytes(bad), ['MALFORMED_BYTES', 'INVALID_ARGUMENT'], 'Capsule string');
    expectUmbral(() => ours.PublicKey.fromBytes(null as unknown as Uint8Array), ['MALFORMED_BYTES', 'INVALID_ARGUMENT'], 'PublicKey null');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Malformed encodings of every object → MALFORMED_BYTES
// ---------------------------------------------------------------------------------------------------------

type Parser = { name: string; ours: (b: Uint8Array) => unknown; wasm: (b: Uint8Array) => unknown };
const PARSERS = {
  secretKey: { name: 'SecretKey.fromBEBytes', ours: (b) => ours.SecretKey.fromBEBytes(b), wasm: (b) => wasm.SecretKey.fromBEBytes(b) },
  secretKeyFromBytes: { name: 'SecretKey.fromBytes', ours: (b) => ours.SecretKey.fromBytes(b), wasm: (b) => wasm.SecretKey.fromBEBytes(b) },
  publicKey: { name: 'PublicKey.fromBytes', ours: (b) => ours.PublicKey.fromBytes(b), wasm: (b) => wasm.PublicKey.fromCompressedBytes(b) },
  publicKeyCompressed: {
    name: 'PublicKey.fromCompressedBytes',
    ours: (b) => ours.PublicKey.fromCompressedBytes(b),
    wasm: (b) => wasm.PublicKey.fromCompressedBytes(b),
  },
  signature: { name: 'Signature.fromBEBytes', ours: (b) => ours.Signature.fromBEBytes(b), wasm: (b) => wasm.Signature.fromBEBytes(b) },
  signatureFromBytes: { name: 'Signature.fromBytes', ours: (b) => ours.Signature.fromBytes(b), wasm: (b) => wasm.Signature.fromBEBytes(b) },
  signatureDer: { name: 'Signature.fromDerBytes', ours: (b) => ours.Signature.fromDerBytes(b), wasm: (b) => wasm.Signature.fromDerBytes(b) },
  capsule: { name: 'Capsule.fromBytes', ours: (b) => ours.Capsule.fromBytes(b), wasm: (b) => wasm.Capsule.fromBytes(b) },
  kfrag: { name: 'KeyFrag.fromBytes', ours: (b) => ours.KeyFrag.fromBytes(b), wasm: (b) => wasm.KeyFrag.fromBytes(b) },
  cfrag: { name: 'CapsuleFrag.fromBytes', ours: (b) => ours.CapsuleFrag.fromBytes(b), wasm: (b) => wasm.CapsuleFrag.fromBytes(b) },
} satisfies Record<string, Parser>;

/** [label, bytes, does the WASM oracle reject it too?] — WASM (rmp-serde) ignores trailing bytes after a MessagePack object. */
type Bad = [string, Uint8Array, boolean];

function commonLengthCases(good: Uint8Array, msgpack: boolean): Bad[] {
  return [
    ['empty', new Uint8Array(0), true],
    ['truncated by one byte', good.subarray(0, good.length - 1), true],
    ['truncated to half', good.subarray(0, good.length >> 1), true],
    ['one extra byte (0x00)', append(good, 0x00), !msgpack],
    ['one extra byte (0xc4)', append(good, 0xc4), !msgpack],
  ];
}

/** Invalid point encodings at a 33-byte point field starting at `off`. */
function pointCases(good: Uint8Array, off: number, field: string): Bad[] {
  const x = good.subarray(off + 1, off + 33);
  return [
    [`${field}: prefix 0x04`, set(good, off, 0x04), true],
    // umbral-pre's k256/sec1 accepts the 33-byte "compact" tag 0x05; PIE only takes 02/03 (and 04 for 65-byte keys)
    [`${field}: prefix 0x05`, set(good, off, 0x05), false],
    [`${field}: prefix 0x00`, set(good, off, 0x00), true],
    [`${field}: prefix 0xff`, set(good, off, 0xff), true],
    [`${field}: all zero (no identity encoding in 33 bytes)`, put(good, off, new Uint8Array(33)), true],
    [`${field}: x not on the curve (02)`, put(good, off, Uint8Array.from([0x02, ...X_OFF_CURVE])), true],
    [`${field}: x not on the curve (03)`, put(good, off, Uint8Array.from([0x03, ...X_OFF_CURVE])), true],
    [`${field}: x = p (not reduced)`, put(good, off, Uint8Array.from([0x02, ...P_FIELD])), true],
    [`${field}: x = 2^256 − 1`, put(good, off, Uint8Array.from([0x03, ...new Uint8Array(32).fill(0xff)])), true],
    [`${field}: x copied with prefix 04 but no y`, put(good, off, Uint8Array.from([0x04, ...x])), true],
  ];
}

/** Out-of-range scalars at a 32-byte scalar field starting at `off`. */
function scalarCases(good: Uint8Array, off: number, field: string): Bad[] {
  return [
    [`${field} = n`, put(good, off, N_BYTES), true],
    [`${field} = n + 1`, put(good, off, be32(N + 1n)), true],
    [`${field} = 2^256 − 1`, put(good, off, new Uint8Array(32).fill(0xff)), true],
  ];
}

/** Runs every case and reports all failures at once (so one bad case does not hide the others). */
function runBad(parser: Parser, cases: Bad[]): void {
  const failures: string[] = [];
  for (const [label, bytes, wasmRejects] of cases) {
    try {
      expectUmbral(() => parser.ours(bytes), 'MALFORMED_BYTES', `${parser.name} ${label}`);
    } catch (e) {
      failures.push((e as Error).message.split('\n')[0]!);
    }
    if (wasmRejects) {
      let threw = false;
      try {
        parser.wasm(bytes);
      } catch {
        threw = true;
      }
      if (!threw) failures.push(`oracle accepted ${parser.name} ${label} (test assumption wrong)`);
    }
  }
  expect(failures).toEqual([]);
}

describe('malformed bytes → MALFORMED_BYTES', () => {
  test('SecretKey: lengths, zero, n, above n', () => {
    const good = skA.toBytes();
    const cases: Bad[] = [
      ...commonLengthCases(good, false),
      ['31 bytes', new Uint8Array(31).fill(1), true],
      ['33 bytes', new Uint8Array(33).fill(1), true],
      ['zero', new Uint8Array(32), true],
      ...scalarCases(good, 0, 'sk'),
    ];
    runBad(PARSERS.secretKey, cases);
    runBad(PARSERS.secretKeyFromBytes, cases);
  });

  test('SecretKey.fromBEBytes of zero and of n', () => {
    expectUmbral(() => ours.SecretKey.fromBEBytes(new Uint8Array(32)), 'MALFORMED_BYTES', 'zero');
    expectUmbral(() => ours.SecretKey.fromBEBytes(N_BYTES), 'MALFORMED_BYTES', 'n');
    expectWasmRejects(() => wasm.SecretKey.fromBEBytes(new Uint8Array(32)));
    expectWasmRejects(() => wasm.SecretKey.fromBEBytes(N_BYTES));
  });

  test('PublicKey: wrong lengths, bad prefixes, points off the curve, bad uncompressed keys', () => {
    const good = pkA.toBytes();
    const unc = secp256k1.Point.fromBytes(good).toBytes(false);
    const badY = xor(unc, 64, 0x01); // y changed: (x, y') is not on the curve
    const cases: Bad[] = [
      ...commonLengthCases(good, false),
      ['32 bytes (x only)', good.subarray(1), true],
      ['34 bytes', new Uint8Array([...good, 1]), true],
      ['64 bytes (x‖y, no prefix)', unc.subarray(1), true],
      ['66 bytes', new Uint8Array([...unc, 0]), true],
      ...pointCases(good, 0, 'pk'),
      ['65 bytes with prefix 02', set(unc, 0, 0x02), true],
      ['65 bytes with prefix 06 (hybrid)', set(unc, 0, 0x06), true],
      ['65 bytes, y not matching x', badY, true],
      ['65 bytes, all zero', new Uint8Array(65), true],
      ['65 bytes: 04 then zeros', set(new Uint8Array(65), 0, 0x04), true],
    ];
    runBad(PARSERS.publicKey, cases);
    runBad(PARSERS.publicKeyCompressed, cases);
  });

  test('Signature (BE r‖s): wrong lengths, r or s zero, r or s ≥ n', () => {
    const good = signer.sign(utf8('sig')).toBytes();
    const cases: Bad[] = [
      ...commonLengthCases(good, false),
      ['63 bytes', good.subarray(0, 63), true],
      ['65 bytes', append(good, 1), true],
      ['all zero', new Uint8Array(64), true],
      ['r = 0', put(good, 0, new Uint8Array(32)), true],
      ['s = 0', put(good, 32, new Uint8Array(32)), true],
      ['r = n', put(good, 0, N_BYTES), true],
      ['s = n', put(good, 32, N_BYTES), true],
      ['r = 2^256 − 1', put(good, 0, new Uint8Array(32).fill(0xff)), true],
      ['s = 2^256 − 1', put(good, 32, new Uint8Array(32).fill(0xff)), true],
    ];
    runBad(PARSERS.signature, cases);
    runBad(PARSERS.signatureFromBytes, cases);
  });

  test('Signature (DER): garbage, truncated, BE bytes, wrong tags', () => {
    const sig = signer.sign(utf8('der'));
    const der = sig.toDerBytes();
    const cases: Bad[] = [
      ['empty', new Uint8Array(0), true],
      ['garbage', Uint8Array.from([1, 2, 3]), true],
      ['truncated by one', der.subarray(0, der.length - 1), true],
      ['the 64-byte BE form', sig.toBEBytes(), true],
      ['sequence tag 0x31', set(der, 0, 0x31), true],
      ['integer tag 0x03', set(der, 2, 0x03), true],
      ['sequence length off by one', set(der, 1, der[1]! + 1), true],
    ];
    runBad(PARSERS.signatureDer, cases);
  });

  test('Capsule: lengths, framing, points, scalar', () => {
    const g = capsuleBytes;
    const cases: Bad[] = [
      ...commonLengthCases(g, true),
      ['the 98-byte simple form', capsule.toBytesSimple(), true],
      ['array header 0x92', set(g, 0, 0x92), true],
      ['array header 0x94', set(g, 0, 0x94), true],
      ['array header 0x90', set(g, 0, 0x90), true],
      ['not an array (0x80 map)', set(g, 0, 0x83), true],
      ['not an array (bin8 0xc4)', set(g, 0, 0xc4), true],
      ['E: bin8 length 0x20', set(g, CAPSULE.E - 1, 0x20), true],
      ['E: bin8 length 0x22', set(g, CAPSULE.E - 1, 0x22), true],
      ['V: bin8 length 0x20', set(g, CAPSULE.V - 1, 0x20), true],
      ['s: bin8 length 0x21', set(g, CAPSULE.s - 1, 0x21), false /* WASM then hits EOF too, but keep it ours-only */],
      ['s: bin8 length 0x1f', set(g, CAPSULE.s - 1, 0x1f), true],
      ['E: marker bin16 0xc5', set(g, CAPSULE.E - 2, 0xc5), true],
      // rmp-serde (umbral-pre) also reads a str8 where a bin8 is expected; the PIE contract requires bin8
      ['E: marker str8 0xd9', set(g, CAPSULE.E - 2, 0xd9), false],
      ...pointCases(g, CAPSULE.E, 'E'),
      ...pointCases(g, CAPSULE.V, 'V'),
      ...scalarCases(g, CAPSULE.s, 's'),
    ];
    runBad(PARSERS.capsule, cases);
  });

  test('KeyFrag: lengths, framing, points, scalar, booleans', () => {
    const g = kfragBytes;
    const cases: Bad[] = [
      ...commonLengthCases(g, true),
      ['outer array header 0x94', set(g, 0, 0x94), true],
      ['outer array header 0x96', set(g, 0, 0x96), true],
      ['params array header 0x92', set(g, 1, 0x92), true],
      ['params array header 0x90', set(g, 1, 0x90), true],
      ['proof array header 0x94', set(g, KFRAG.commitment - 3, 0x94), true],
      ['proof array header 0x96', set(g, KFRAG.commitment - 3, 0x96), true],
      ['u: bin8 length 0x20', set(g, KFRAG.u - 1, 0x20), true],
      ['id: bin8 length 0x21', set(g, KFRAG.id - 1, 0x21), true],
      ['id: bin8 length 0x1f', set(g, KFRAG.id - 1, 0x1f), true],
      ['key: bin8 length 0x21', set(g, KFRAG.key - 1, 0x21), true],
      ['precursor: bin8 length 0x20', set(g, KFRAG.precursor - 1, 0x20), true],
      ['commitment: bin8 length 0x22', set(g, KFRAG.commitment - 1, 0x22), true],
      ['signature: bin8 length 0x3f', set(g, KFRAG.sigProxy - 1, 0x3f), true],
      ['signature: bin8 length 0x41', set(g, KFRAG.sigReceiver - 1, 0x41), true],
      ['id: marker bin16 0xc5', set(g, KFRAG.id - 2, 0xc5), true],
      ...pointCases(g, KFRAG.u, 'u'),
      ...pointCases(g, KFRAG.precursor, 'precursor'),
      ...pointCases(g, KFRAG.commitment, 'commitment'),
      ...scalarCases(g, KFRAG.key, 'key'),
      ['delegating flag 0x00', set(g, KFRAG.dFlag, 0x00), true],
      ['delegating flag 0x01', set(g, KFRAG.dFlag, 0x01), true],
      ['delegating flag 0xc0 (nil)', set(g, KFRAG.dFlag, 0xc0), true],
      ['receiving flag 0x01', set(g, KFRAG.rFlag, 0x01), true],
      ['receiving flag 0xc4', set(g, KFRAG.rFlag, 0xc4), true],
      ['receiving flag 0xc1 (never used)', set(g, KFRAG.rFlag, 0xc1), true],
      ['receiving flag 0xff', set(g, KFRAG.rFlag, 0xff), true],
    ];
    runBad(PARSERS.kfrag, cases);
  });

  test('KeyFrag: signatures with r or s out of range → MALFORMED_BYTES on parsing, or KFRAG_VERIFICATION_FAILED on verify', () => {
    const g = kfragBytes;
    for (const [label, b] of [
      ['sig for proxy r = n', put(g, KFRAG.sigProxy, N_BYTES)],
      ['sig for proxy s = n', put(g, KFRAG.sigProxy + 32, N_BYTES)],
      ['sig for receiver all zero', put(g, KFRAG.sigReceiver, new Uint8Array(64))],
    ] as const) {
      expectUmbral(() => ours.KeyFrag.fromBytes(b).verify(vk, pkA, pkB), ['MALFORMED_BYTES', 'KFRAG_VERIFICATION_FAILED'], label);
      expectWasmRejects(() => wasm.KeyFrag.fromBytes(b));
    }
  });

  test('CapsuleFrag: lengths, framing, points, scalar', () => {
    const g = cfragBytes;
    const cases: Bad[] = [
      ...commonLengthCases(g, true),
      ['the 359-byte simple form', cfrags[0]!.toBytesSimple(), true],
      ['outer array header 0x94', set(g, 0, 0x94), true],
      ['outer array header 0x96', set(g, 0, 0x96), true],
      ['proof array header 0x95', set(g, CFRAG.e2 - 3, 0x95), true],
      ['proof array header 0x97', set(g, CFRAG.e2 - 3, 0x97), true],
      ['e1: bin8 length 0x20', set(g, CFRAG.e1 - 1, 0x20), true],
      ['id: bin8 length 0x21', set(g, CFRAG.id - 1, 0x21), true],
      ['u2: bin8 length 0x22', set(g, CFRAG.u2 - 1, 0x22), true],
      ['z: bin8 length 0x1f', set(g, CFRAG.z - 1, 0x1f), true],
      ['signature: bin8 length 0x3f', set(g, CFRAG.sig - 1, 0x3f), true],
      ['e1: marker bin16 0xc5', set(g, CFRAG.e1 - 2, 0xc5), true],
      ...(['e1', 'v1', 'precursor', 'e2', 'v2', 'u1', 'u2'] as const).flatMap((f) => pointCases(g, CFRAG[f], f)),
      ...scalarCases(g, CFRAG.z, 'z'),
    ];
    runBad(PARSERS.cfrag, cases);
  });

  test('CapsuleFrag: signature r or s out of range → MALFORMED_BYTES on parsing, or CFRAG_VERIFICATION_FAILED on verify', () => {
    for (const [label, b] of [
      ['sig r = n', put(cfragBytes, CFRAG.sig, N_BYTES)],
      ['sig s = n', put(cfragBytes, CFRAG.sig + 32, N_BYTES)],
      ['sig all zero', put(cfragBytes, CFRAG.sig, new Uint8Array(64))],
    ] as const) {
      expectUmbral(() => ours.CapsuleFrag.fromBytes(b).verify(capsule, vk, pkA, pkB), ['MALFORMED_BYTES', 'CFRAG_VERIFICATION_FAILED'], label);
      expectWasmRejects(() => wasm.CapsuleFrag.fromBytes(b));
    }
  });

  test('objects of one type are not accepted as another', () => {
    expectUmbral(() => ours.KeyFrag.fromBytes(cfragBytes.subarray(0, 310)), 'MALFORMED_BYTES', 'cfrag prefix as kfrag');
    expectUmbral(() => ours.CapsuleFrag.fromBytes(Uint8Array.from([...kfragBytes, ...new Uint8Array(71)])), 'MALFORMED_BYTES', 'kfrag as cfrag');
    expectUmbral(() => ours.Capsule.fromBytes(cfragBytes.subarray(0, 105)), 'MALFORMED_BYTES', 'cfrag prefix as capsule');
    expectUmbral(() => ours.PublicKey.fromBytes(skA.toBytes()), 'MALFORMED_BYTES', 'secret key as public key');
  });

  test('SecretKeyFactory.fromSecureRandomness with a wrong-size seed', () => {
    for (const n of [0, 31, 33, 64]) {
      expectUmbral(() => ours.SecretKeyFactory.fromSecureRandomness(new Uint8Array(n)), ['MALFORMED_BYTES', 'INVALID_ARGUMENT'], `seed ${n}`);
      expectWasmRejects(() => wasm.SecretKeyFactory.fromSecureRandomness(new Uint8Array(n)));
    }
  });
});
