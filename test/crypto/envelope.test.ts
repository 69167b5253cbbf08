// The segment layer and header format of the EMR envelope, with a raw DEK (no Umbral): round trips, both backends,
// every attack, malformed headers. EMR/key-block flows: envelope.emr.test.ts; memory: envelope.memory.test.ts.
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadBackend, type BackendName } from '../../src/crypto/envelope/backend.js';
import { acquireBuffer, releaseBuffer } from '../../src/crypto/envelope/buffers.js';
import { HEADER_LENGTH, KEY_BLOCK_LENGTH, TAG_LENGTH, encodeHeader, parseHeader } from '../../src/crypto/envelope/format.js';
import { deriveStreamKey, segmentNonce } from '../../src/crypto/envelope/segments.js';
import { DEFAULT_SEGMENT_SIZE, decryptWithDek, encryptUnderHeader, encryptWithDek } from '../../src/crypto/envelope/stream.js';
import { collect, expectCode } from './envelope-helpers.js';

const S = 4096; // smallest segment size: keeps multi-segment cases small
const SEALED = S + TAG_LENGTH;
const BACKENDS: BackendName[] = ['node', 'noble'];

/** Deterministic PRNG (mulberry32) so that random chunkings are reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Splits `data` into chunks of random sizes in [min, max] (as views, like a Readable would deliver). */
function* chunked(data: Uint8Array, min: number, max: number, seed = 1): Generator<Uint8Array> {
  const rnd = prng(seed);
  for (let off = 0; off < data.length; ) {
    const n = Math.min(data.length - off, min + Math.floor(rnd() * (max - min + 1)));
    yield data.subarray(off, off + n);
    off += n;
  }
}

const keyBlock = () => randomBytes(KEY_BLOCK_LENGTH); // opaque to the segment layer
const dek = () => new Uint8Array(randomBytes(32));

async function seal(plain: Uint8Array, k: Uint8Array, opts: { segmentSize?: number; backend?: BackendName } = {}) {
  return collect(encryptWithDek([plain], k, keyBlock(), { segmentSize: S, ...opts }).stream);
}

const open = (env: Uint8Array, k: Uint8Array, backend?: BackendName) => collect(decryptWithDek([env], k, backend ? { backend } : {}));

describe('envelope: round trips', () => {
  const sizes = [0, 1, 400, S - 1, S, S + 1, 2 * S, 3 * S + 17, 7 * S];
  for (const backend of BACKENDS) {
    test.each(sizes)(`${backend}: %i bytes`, async (size) => {
      const plain = new Uint8Array(randomBytes(size));
      const k = dek();
      const enc = encryptWithDek([plain], k, keyBlock(), { segmentSize: S, backend, hashPlaintext: true });
      const env = await collect(enc.stream);
      const segments = Math.max(1, Math.ceil(size / S)); // a full final segment is the last one
      expect(env.length).toBe(HEADER_LENGTH + size + segments * TAG_LENGTH);
      const summary = await enc.summary;
      expect(summary).toMatchObject({ plaintextBytes: size, envelopeBytes: env.length, segments });
      expect(Buffer.from(summary.plaintextSha256!)).toEqual(
        (await import('node:crypto')).createHash('sha256').update(plain).digest(),
      );
      expect(await open(env, k, backend)).toEqual(plain);
    });
  }

  test('random chunkings on both sides (1-byte chunks to chunks larger than a segment)', async () => {
    const plain = new Uint8Array(randomBytes(5 * S + 123));
    const k = dek();
    const ranges: [number, number][] = [[1, 1], [1, 7], [100, 5000], [S - 3, S + 3], [3 * S, 6 * S]];
    let seed = 1;
    for (const [min, max] of ranges) {
      const env = await collect(encryptWithDek(chunked(plain, min, max, seed++), k, keyBlock(), { segmentSize: S }).stream);
      for (const [rmin, rmax] of ranges) {
        expect(await collect(decryptWithDek(chunked(env, rmin, rmax, seed++), k))).toEqual(plain);
      }
    }
  });

  test('output does not depend on input chunking (same header): every chunking gives the same bytes', async () => {
    const plain = new Uint8Array(randomBytes(4 * S + 5));
    const k = dek();
    const header = encodeHeader({ segmentSizeExponent: 12, salt: new Uint8Array(32).fill(7), keyBlock: keyBlock() });
    const ref = await collect(encryptUnderHeader([plain], k, header).stream);
    for (const [min, max] of [[1, 3], [S, S], [S + 1, S + 1], [1, 3 * S]] as const) {
      expect(await collect(encryptUnderHeader(chunked(plain, min, max), k, header).stream)).toEqual(ref);
    }
  });

  test('empty chunks and an empty source', async () => {
    const k = dek();
    const env = await collect(encryptWithDek([new Uint8Array(0), new Uint8Array(0)], k, keyBlock(), { segmentSize: S }).stream);
    expect(env.length).toBe(HEADER_LENGTH + TAG_LENGTH); // one empty last segment
    expect((await open(env, k)).length).toBe(0);
    const plain = new Uint8Array(randomBytes(S + 2));
    const env2 = await seal(plain, k);
    const withEmpties = [env2.subarray(0, 10), new Uint8Array(0), env2.subarray(10, 300), new Uint8Array(0), env2.subarray(300)];
    expect(await collect(decryptWithDek(withEmpties, k))).toEqual(plain);
  });

  test('segment sizes 4 KiB .. 16 MiB, default 1 MiB', async () => {
    const k = dek();
    const plain = new Uint8Array(randomBytes(70_000));
    for (const segmentSize of [2 ** 12, 2 ** 16, 2 ** 20, 2 ** 24]) {
      const enc = encryptWithDek([plain], k, keyBlock(), { segmentSize });
      expect(enc.header.segmentSize).toBe(segmentSize);
      expect(await collect(decryptWithDek(enc.stream, k))).toEqual(plain);
    }
    expect(encryptWithDek([], k, keyBlock()).header.segmentSize).toBe(DEFAULT_SEGMENT_SIZE);
    for (const segmentSize of [2 ** 11, 2 ** 25, 5000, 0, -4096, NaN]) {
      expect(() => encryptWithDek([], k, keyBlock(), { segmentSize })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  test('Node streams: Readable source, stream.pipeline with generator transforms', async () => {
    const plain = new Uint8Array(randomBytes(6 * S + 99));
    const k = dek();
    const parts: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        cb();
      },
    });
    await pipeline(
      Readable.from(chunked(plain, 1000, 3000)),
      (src: AsyncIterable<Uint8Array>) => encryptWithDek(src, k, keyBlock(), { segmentSize: S }).stream,
      (src: AsyncIterable<Uint8Array>) => decryptWithDek(src, k),
      sink,
    );
    expect(new Uint8Array(Buffer.concat(parts))).toEqual(plain);
  });

  test('the summary settles after consumption; stopping early rejects it and closes the source', async () => {
    let closed = false;
    function* src() {
      try {
        for (let i = 0; i < 10; i++) yield new Uint8Array(S);
      } finally {
        closed = true;
      }
    }
    const enc = encryptWithDek(src(), dek(), keyBlock(), { segmentSize: S });
    let n = 0;
    for await (const c of enc.stream) {
      void c;
      if (++n === 3) break; // header, segment 0, segment 1: the source is mid-way
    }
    await expectCode(enc.summary, 'INVALID_ARGUMENT', /closed before the end/);
    expect(closed).toBe(true);
  });

  test('concurrent streams (sharing the buffer pool) stay independent', async () => {
    const k = dek();
    const plains = [0, 1, 3 * S + 5, 70_000, S].map((n) => new Uint8Array(randomBytes(n)));
    const envs = await Promise.all(
      plains.map((p, i) => collect(encryptWithDek(chunked(p, 1, 9000, i + 10), k, keyBlock(), { segmentSize: i % 2 ? S : 2 ** 16 }).stream)),
    );
    const outs = await Promise.all(envs.map((e, i) => collect(decryptWithDek(chunked(e, 1, 5000, i + 20), k))));
    outs.forEach((o, i) => expect(o).toEqual(plains[i]));
  });

  test('pooled buffers are wiped on release', () => {
    const b = acquireBuffer(12345);
    b.fill(0xaa);
    releaseBuffer(b);
    const again = acquireBuffer(12345);
    expect(again).toBe(b);
    expect(again.every((x) => x === 0)).toBe(true);
    releaseBuffer(again);
  });

  test('streams are single use', async () => {
    const enc = encryptWithDek([new Uint8Array(3)], dek(), keyBlock(), { segmentSize: S });
    await collect(enc.stream);
    expect(() => enc.stream[Symbol.asyncIterator]()).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('envelope: backends', () => {
  test.each([
    [12, [0, 1, S, 3 * S + 5]],
    [17, [2 ** 17, 2 ** 17 + 65_537]], // segments larger than the node backend's 64 KiB update pieces
  ])('node and noble produce identical bytes and decrypt each other (segment 2^%i)', async (exponent, sizes) => {
    const k = dek();
    const header = encodeHeader({ segmentSizeExponent: exponent, salt: new Uint8Array(randomBytes(32)), keyBlock: keyBlock() });
    for (const size of sizes) {
      const plain = new Uint8Array(randomBytes(size));
      const a = await collect(encryptUnderHeader([plain], k, header, { backend: 'node' }).stream);
      const b = await collect(encryptUnderHeader([plain], k, header, { backend: 'noble' }).stream);
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
      expect(await open(a, k, 'noble')).toEqual(plain);
      expect(await open(b, k, 'node')).toEqual(plain);
    }
  });

  test('segment ciphers agree on a known-answer vector (AES-256-GCM, NIST-style 12-byte nonce)', async () => {
    const key = new Uint8Array(32).map((_, i) => i);
    const nonce = segmentNonce(1, true);
    expect(Buffer.from(nonce).toString('hex')).toBe('000000' + '0000000000000001' + '01');
    expect(Buffer.from(segmentNonce(2 ** 40 + 5, false)).toString('hex')).toBe('000000' + '0000010000000005' + '00');
    const pt = new TextEncoder().encode('PIE segment cipher');
    const outs: string[] = [];
    for (const name of BACKENDS) {
      const c = (await loadBackend(name)).segmentCipher(key);
      const sealed = Buffer.concat(c.seal(nonce, pt));
      outs.push(sealed.toString('hex'));
      // Any split of ct || tag into parts, the tag included, opens to the same plaintext.
      for (const cuts of [[], [1], [pt.length], [pt.length + 5], [3, 9, pt.length + 1, pt.length + 15]]) {
        const parts: Uint8Array[] = [];
        let prev = 0;
        for (const cut of [...cuts, sealed.length]) (parts.push(sealed.subarray(prev, cut)), (prev = cut));
        expect(Buffer.concat(c.open(nonce, parts)!)).toEqual(Buffer.from(pt));
      }
      sealed[0]! ^= 1;
      expect(c.open(nonce, [sealed])).toBeNull();
      sealed[0]! ^= 1;
      sealed[sealed.length - 1]! ^= 1;
      expect(c.open(nonce, [sealed.subarray(0, 10), sealed.subarray(10)])).toBeNull();
      expect(c.open(nonce, [sealed.subarray(0, 10)])).toBeNull(); // shorter than a tag
    }
    const { createCipheriv } = await import('node:crypto');
    const ref = createCipheriv('aes-256-gcm', key, nonce);
    const expected = Buffer.concat([ref.update(pt), ref.final(), ref.getAuthTag()]).toString('hex');
    expect(outs).toEqual([expected, expected]);
  });

  test('unknown backend is rejected at the call', () => {
    expect(() => encryptWithDek([], dek(), keyBlock(), { backend: 'wasm' as BackendName })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('envelope: key derivation', () => {
  test('stream key binds DEK, salt and every header byte', () => {
    const k = dek();
    const h = encodeHeader({ segmentSizeExponent: 12, salt: new Uint8Array(32), keyBlock: new Uint8Array(KEY_BLOCK_LENGTH) });
    const base = Buffer.from(deriveStreamKey(k, h)).toString('hex');
    const kb2 = new Uint8Array(KEY_BLOCK_LENGTH);
    kb2[176] = 1;
    const others = [
      deriveStreamKey(dek(), h),
      deriveStreamKey(k, encodeHeader({ segmentSizeExponent: 13, salt: new Uint8Array(32), keyBlock: new Uint8Array(KEY_BLOCK_LENGTH) })),
      deriveStreamKey(k, encodeHeader({ segmentSizeExponent: 12, salt: new Uint8Array(32).fill(1), keyBlock: new Uint8Array(KEY_BLOCK_LENGTH) })),
      deriveStreamKey(k, encodeHeader({ segmentSizeExponent: 12, salt: new Uint8Array(32), keyBlock: kb2 })),
    ];
    for (const o of others) expect(Buffer.from(o).toString('hex')).not.toBe(base);
  });

  test('two envelopes of the same content under the same DEK differ (random salt)', async () => {
    const k = dek();
    const plain = new Uint8Array(100);
    const kb = keyBlock();
    const a = await collect(encryptWithDek([plain], k, kb, { segmentSize: S }).stream);
    const b = await collect(encryptWithDek([plain], k, kb, { segmentSize: S }).stream);
    expect(Buffer.from(a.subarray(HEADER_LENGTH)).equals(Buffer.from(b.subarray(HEADER_LENGTH)))).toBe(false);
  });
});

describe('envelope: attacks', () => {
  // 3 full segments + a partial last one, and an envelope whose last segment is full-sized.
  const k = dek();
  const plain = new Uint8Array(randomBytes(3 * S + 100));
  const plainFull = new Uint8Array(randomBytes(3 * S));
  let env: Uint8Array; // segments 0..2 full, segment 3 = 100 B
  let envFull: Uint8Array; // segments 0..2 full, segment 2 last
  let other: Uint8Array; // another envelope, same DEK, same layout
  const seg = (e: Uint8Array, i: number) => e.subarray(HEADER_LENGTH + i * SEALED, Math.min(e.length, HEADER_LENGTH + (i + 1) * SEALED));
  const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
  const flip = (e: Uint8Array, at: number) => {
    const c = e.slice();
    c[at]! ^= 0x01;
    return c;
  };

  beforeAll(async () => {
    env = await seal(plain, k);
    envFull = await seal(plainFull, k);
    other = await seal(new Uint8Array(randomBytes(3 * S + 100)), k);
    expect(env.length).toBe(HEADER_LENGTH + 3 * SEALED + 100 + TAG_LENGTH);
    expect(envFull.length).toBe(HEADER_LENGTH + 3 * SEALED);
  });

  test('wrong DEK fails at segment 0', async () => {
    await expectCode(open(env, dek()), 'AUTHENTICATION_FAILED', /segment 0\b/);
  });

  test('truncation at a segment boundary', async () => {
    for (const n of [1, 2, 3]) await expectCode(open(env.subarray(0, HEADER_LENGTH + n * SEALED), k), 'TRUNCATED', new RegExp(`segment ${n - 1}\\b`));
    for (const n of [1, 2]) await expectCode(open(envFull.subarray(0, HEADER_LENGTH + n * SEALED), k), 'TRUNCATED');
    await expectCode(open(env.subarray(0, HEADER_LENGTH), k), 'TRUNCATED', /no segment after the header/);
  });

  test('truncation between boundaries', async () => {
    // Fewer than a tag's worth of bytes of the next segment: unambiguously truncated.
    for (const extra of [1, 15]) await expectCode(open(env.subarray(0, HEADER_LENGTH + 2 * SEALED + extra), k), 'TRUNCATED');
    for (const extra of [1, 15]) await expectCode(open(env.subarray(0, HEADER_LENGTH + extra), k), 'TRUNCATED');
    // A longer piece of a segment is indistinguishable from a tampered final segment: it fails authentication, and
    // the message says it may be cut short.
    for (const extra of [16, 100, SEALED - 1]) {
      await expectCode(open(env.subarray(0, HEADER_LENGTH + 2 * SEALED + extra), k), 'AUTHENTICATION_FAILED', /segment 2 .*cut short/);
    }
    await expectCode(open(env.subarray(0, env.length - 1), k), 'AUTHENTICATION_FAILED', /segment 3 .*cut short/);
    // Inside the header.
    for (const n of [0, 3, 41, 42, HEADER_LENGTH - 1]) await expectCode(open(env.subarray(0, n), k), 'TRUNCATED', /inside the header/);
  });

  test('reordering segments', async () => {
    await expectCode(open(cat(env.subarray(0, HEADER_LENGTH), seg(env, 1), seg(env, 0), seg(env, 2), seg(env, 3)), k), 'AUTHENTICATION_FAILED', /segment 0\b/);
    await expectCode(open(cat(env.subarray(0, HEADER_LENGTH), seg(env, 0), seg(env, 2), seg(env, 1), seg(env, 3)), k), 'AUTHENTICATION_FAILED', /segment 1\b/);
    // The full-sized last segment moved before a non-last one.
    await expectCode(open(cat(envFull.subarray(0, HEADER_LENGTH), seg(envFull, 0), seg(envFull, 2), seg(envFull, 1)), k), 'AUTHENTICATION_FAILED', /segment 1\b/);
    // Duplicated segment.
    await expectCode(open(cat(env.subarray(0, HEADER_LENGTH), seg(env, 0), seg(env, 0), seg(env, 2), seg(env, 3)), k), 'AUTHENTICATION_FAILED', /segment 1\b/);
  });

  test('swapping segments between two envelopes (same DEK, same position)', async () => {
    await expectCode(open(cat(env.subarray(0, HEADER_LENGTH), seg(env, 0), seg(other, 1), seg(env, 2), seg(env, 3)), k), 'AUTHENTICATION_FAILED', /segment 1\b/);
    await expectCode(open(cat(env.subarray(0, HEADER_LENGTH), seg(env, 0), seg(env, 1), seg(env, 2), seg(other, 3)), k), 'AUTHENTICATION_FAILED', /segment 3\b/);
    // The other envelope's header on this envelope's segments.
    await expectCode(open(cat(other.subarray(0, HEADER_LENGTH), env.subarray(HEADER_LENGTH)), k), 'AUTHENTICATION_FAILED', /segment 0\b/);
  });

  test('appended data after the last segment', async () => {
    // Full-sized last segment: the reader proves it authenticates as the last one, so the extra bytes are trailing.
    await expectCode(open(cat(envFull, seg(envFull, 0)), k), 'TRAILING_DATA');
    await expectCode(open(cat(envFull, new Uint8Array(1)), k), 'TRAILING_DATA');
    // Partial last segment: the added bytes merge into it and it no longer authenticates.
    await expectCode(open(cat(env, new Uint8Array(1)), k), 'AUTHENTICATION_FAILED', /segment 3\b/);
    await expectCode(open(cat(env, seg(env, 0)), k), 'AUTHENTICATION_FAILED', /segment 3\b/);
    // Dropping the last segment's flag is impossible: a full segment re-presented as last fails.
    await expectCode(open(cat(env, seg(other, 3)), k), 'AUTHENTICATION_FAILED');
  });

  test('bit flips: header, every region of a segment, the tag', async () => {
    // Salt and key block: not checked by the segment layer, but bound into the key: segment 0 fails.
    for (const at of [8, 39, 42, 42 + 104, 42 + 105, HEADER_LENGTH - 1]) {
      await expectCode(open(flip(env, at), k), 'AUTHENTICATION_FAILED', /segment 0\b/);
    }
    for (const i of [0, 1, 2]) {
      const base = HEADER_LENGTH + i * SEALED;
      for (const at of [0, 1, S >> 1, S - 1, S, S + 7, S + 15]) {
        await expectCode(open(flip(env, base + at), k), 'AUTHENTICATION_FAILED', new RegExp(`segment ${i}\\b`));
      }
    }
    const last = HEADER_LENGTH + 3 * SEALED;
    for (const at of [0, 50, 99, 100, 115]) await expectCode(open(flip(env, last + at), k), 'AUTHENTICATION_FAILED', /segment 3\b/);
  });

  test('plaintext released before a failure is only the authenticated segments', async () => {
    const got: Uint8Array[] = [];
    await expectCode(
      (async () => {
        for await (const c of decryptWithDek([flip(env, HEADER_LENGTH + 2 * SEALED + 5)], k)) got.push(c);
      })(),
      'AUTHENTICATION_FAILED',
    );
    expect(new Uint8Array(Buffer.concat(got))).toEqual(plain.subarray(0, 2 * S));
  });
});

describe('envelope: malformed headers', () => {
  const k = dek();
  let env: Uint8Array;
  beforeAll(async () => {
    env = await seal(new Uint8Array(randomBytes(100)), k);
  });
  const patch = (at: number, ...bytes: number[]) => {
    const c = env.slice();
    c.set(bytes, at);
    return c;
  };

  test.each([
    ['bad magic', 0, [0x50, 0x49, 0x45, 0x46], 'MALFORMED_HEADER', /magic/],
    ['bad magic (gzip)', 0, [0x1f, 0x8b], 'MALFORMED_HEADER', /magic/],
    ['version 0', 4, [0], 'UNSUPPORTED_VERSION', /version 0/],
    ['version 2', 4, [2], 'UNSUPPORTED_VERSION', /version 2/],
    ['suite 0', 5, [0], 'UNSUPPORTED_SUITE', /suite 0/],
    ['suite 2', 5, [2], 'UNSUPPORTED_SUITE', /suite 2/],
    ['exponent 11', 6, [11], 'MALFORMED_HEADER', /exponent 11/],
    ['exponent 25', 6, [25], 'MALFORMED_HEADER', /exponent 25/],
    ['exponent 0', 6, [0], 'MALFORMED_HEADER', /exponent 0/],
    ['exponent 255', 6, [255], 'MALFORMED_HEADER', /exponent 255/],
    ['flags 1', 7, [1], 'MALFORMED_HEADER', /flags/],
    ['flags 0x80', 7, [0x80], 'MALFORMED_HEADER', /flags/],
    ['key block length 0', 40, [0, 0], 'MALFORMED_HEADER', /key block length 0/],
    ['key block length 176', 40, [0, 176], 'MALFORMED_HEADER', /key block length 176/],
    ['key block length 178', 40, [0, 178], 'MALFORMED_HEADER', /key block length 178/],
    ['key block length 0xffff', 40, [0xff, 0xff], 'MALFORMED_HEADER', /key block length 65535/],
  ] as const)('%s', async (_name, at, bytes, code, msg) => {
    await expectCode(open(patch(at, ...bytes), k), code, msg);
    expect(() => parseHeader(patch(at, ...bytes).subarray(0, HEADER_LENGTH))).toThrow(expect.objectContaining({ code }));
  });

  test('a valid but different exponent: authentication fails', async () => {
    await expectCode(open(patch(6, 13), k), 'AUTHENTICATION_FAILED', /segment 0\b/);
  });

  test('short inputs report the first wrong field, else TRUNCATED', async () => {
    await expectCode(open(new Uint8Array(0), k), 'TRUNCATED');
    await expectCode(open(Uint8Array.of(0x50, 0x49, 0x58), k), 'MALFORMED_HEADER', /magic/);
    await expectCode(open(Uint8Array.of(0x50, 0x49, 0x45, 0x45, 9), k), 'UNSUPPORTED_VERSION');
    await expectCode(open(env.subarray(0, 10), k), 'TRUNCATED');
  });

  test('parseHeader round-trips encodeHeader and rejects extra bytes', () => {
    const h = parseHeader(env.subarray(0, HEADER_LENGTH));
    expect(h).toMatchObject({ version: 1, suite: 1, segmentSizeExponent: 12, segmentSize: S, flags: 0 });
    expect(h.keyBlock.length).toBe(KEY_BLOCK_LENGTH);
    expect(encodeHeader(h).bytes).toEqual(h.bytes);
    expect(() => parseHeader(env.subarray(0, HEADER_LENGTH + 1))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('envelope: arguments', () => {
  test('bad DEKs, sources and chunks are INVALID_ARGUMENT', async () => {
    const bad = expect.objectContaining({ code: 'INVALID_ARGUMENT' });
    expect(() => encryptWithDek([], new Uint8Array(31), keyBlock())).toThrow(bad);
    expect(() => encryptWithDek([], 'key' as unknown as Uint8Array, keyBlock())).toThrow(bad);
    expect(() => encryptWithDek([], dek(), new Uint8Array(10))).toThrow(bad);
    expect(() => encryptWithDek(42 as unknown as Iterable<Uint8Array>, dek(), keyBlock())).toThrow(bad);
    expect(() => encryptWithDek(new Uint8Array(3) as unknown as Iterable<Uint8Array>, dek(), keyBlock())).toThrow(bad);
    expect(() => decryptWithDek([], new Uint8Array(33))).toThrow(bad);
    await expectCode(collect(encryptWithDek(['text'] as unknown as Uint8Array[], dek(), keyBlock()).stream), 'INVALID_ARGUMENT', /string/);
    const env = await seal(new Uint8Array(10), dek());
    await expectCode(collect(decryptWithDek([env], () => new Uint8Array(16))), 'INVALID_ARGUMENT', /32-byte/);
  });

  test('a DEK function receives the parsed header', async () => {
    const k = dek();
    const enc = encryptWithDek([new Uint8Array(5)], k, keyBlock(), { segmentSize: S });
    const env = await collect(enc.stream);
    let seen: Uint8Array | undefined;
    const out = await collect(
      decryptWithDek([env], async (h) => {
        seen = h.bytes;
        return k;
      }),
    );
    expect(out).toEqual(new Uint8Array(5));
    expect(seen).toEqual(enc.header.bytes);
  });

  test('error messages never contain key material', async () => {
    const k = dek();
    const env = await seal(new Uint8Array(10), k);
    const errs = [
      await expectCode(open(env, dek()), 'AUTHENTICATION_FAILED'),
      await expectCode(open(env.subarray(0, env.length - 3), k), 'AUTHENTICATION_FAILED'),
    ];
    const hex = Buffer.from(k).toString('hex');
    for (const e of errs) {
      expect(e.message).not.toContain(hex);
      expect(e.message).not.toContain(Buffer.from(k).toString('base64'));
    }
  });
});
