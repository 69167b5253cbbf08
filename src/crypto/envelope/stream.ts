/**
 * Streaming encryption and decryption of an envelope with a raw DEK. Memory is O(segment size), independent of the
 * content size: the writer holds back one (reusable) segment buffer, the reader one segment plus one source chunk.
 */
import { randomBytes } from '@noble/ciphers/utils.js';
import { acquireBuffer, releaseBuffer } from './buffers.js';
import { checkBackendName, loadBackend, type BackendName } from './backend.js';
import { EnvelopeError } from './errors.js';
import {
  FIXED_HEADER_LENGTH,
  TAG_LENGTH,
  checkFixedHeader,
  encodeHeader,
  parseHeader,
  segmentExponent,
  SALT_LENGTH,
  type EnvelopeHeader,
} from './format.js';
import { ChunkReader, checkChunk, toAsyncIterator, type ByteSource } from './reader.js';
import { SegmentOpener, SegmentSealer, checkDek, deriveStreamKey } from './segments.js';

/** 1 MiB: the fastest of 64 KiB / 256 KiB / 1 MiB in bench/stream.ts (see docs/envelope.md). */
export const DEFAULT_SEGMENT_SIZE = 1 << 20;
const SMALL_BUFFER = 64 * 1024;

export interface EncryptOptions {
  /** Plaintext bytes per segment, a power of two in [4 KiB, 16 MiB]. Default DEFAULT_SEGMENT_SIZE. */
  segmentSize?: number;
  /** Also compute SHA-256 of the plaintext while encrypting (reported in the summary). */
  hashPlaintext?: boolean;
  /** AES-GCM implementation; both produce identical bytes. Default: 'node' under Node.js, else 'noble'. */
  backend?: BackendName;
}

export interface DecryptOptions {
  backend?: BackendName;
}

export interface EnvelopeSummary {
  readonly plaintextBytes: number;
  readonly envelopeBytes: number;
  readonly segments: number;
  /** Present when `hashPlaintext` was set. */
  readonly plaintextSha256?: Uint8Array;
}

export interface EncryptedEnvelope {
  /** Known before any content is read (the capsule is in `header.keyBlock`). */
  readonly header: EnvelopeHeader;
  /** Envelope bytes, header first. Single use: iterate it once, e.g. `pipeline(enc.stream, fs.createWriteStream(p))`. */
  readonly stream: AsyncIterable<Uint8Array>;
  /**
   * Resolves once `stream` has been consumed to the end; rejects with the stream's error, or if the consumer stopped
   * early. Never rejects unhandled, so it may be ignored.
   */
  readonly summary: Promise<EnvelopeSummary>;
}

/** A key block given as bytes or as an object that serialises itself (dek.ts `KeyBlock`). */
export type KeyBlockInput = Uint8Array | { toBytes(): Uint8Array };

/**
 * Encrypts `source` under a caller-supplied DEK, writing `keyBlock` (which must encapsulate that same DEK) into the
 * header. Lower level than `encryptEmr`: for re-sharing and key-rotation flows that already hold a DEK. The stream key
 * is derived before this returns, so the caller may wipe `dek` right away.
 */
export function encryptWithDek(
  source: ByteSource,
  dek: Uint8Array,
  keyBlock: KeyBlockInput,
  opts: EncryptOptions = {},
): EncryptedEnvelope {
  checkDek(dek);
  const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const header = encodeHeader({
    segmentSizeExponent: segmentExponent(segmentSize),
    salt: randomBytes(SALT_LENGTH),
    keyBlock: keyBlock instanceof Uint8Array ? keyBlock : keyBlock.toBytes(),
  });
  return encryptUnderHeader(source, dek, header, opts);
}

/**
 * Internal (not in index.ts): encrypts under a given header. Exported for tests that need byte-identical output from
 * both backends; a fixed salt must never be reused with the same DEK in production (that would reuse GCM nonces).
 */
export function encryptUnderHeader(source: ByteSource, dek: Uint8Array, header: EnvelopeHeader, opts: EncryptOptions = {}): EncryptedEnvelope {
  checkDek(dek);
  checkBackendName(opts.backend);
  const segmentSize = header.segmentSize;
  const streamKey = deriveStreamKey(dek, header);
  const sourceIt = toAsyncIterator(source, 'plaintext source'); // validate now, not on first read

  let settle!: { resolve(s: EnvelopeSummary): void; reject(e: unknown): void };
  const summary = new Promise<EnvelopeSummary>((resolve, reject) => (settle = { resolve, reject }));
  summary.catch(() => {}); // the promise is optional to observe: never an unhandled rejection

  const gen = sealStream(sourceIt, header, streamKey, segmentSize, opts, settle);
  return { header, stream: singleUse(gen, 'encryption stream'), summary };
}

async function* sealStream(
  it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>,
  header: EnvelopeHeader,
  streamKey: Uint8Array,
  segmentSize: number,
  opts: EncryptOptions,
  settle: { resolve(s: EnvelopeSummary): void; reject(e: unknown): void },
): AsyncGenerator<Uint8Array, void, undefined> {
  let completed = false;
  // One reusable plaintext buffer for the held-back segment. It starts small so that a 400-byte note does not take a
  // full segment, and jumps straight to the segment size when outgrown. Pooled across streams (buffers.ts).
  let buf = acquireBuffer(Math.min(segmentSize, SMALL_BUFFER));
  let fill = 0;
  let used = 0; // high-water mark of `fill`, for wiping
  try {
    const backend = await loadBackend(opts.backend);
    const sealer = new SegmentSealer(backend.segmentCipher(streamKey), segmentSize);
    streamKey.fill(0);
    const hasher = opts.hashPlaintext ? backend.sha256() : undefined;
    let plaintextBytes = 0;
    let envelopeBytes = header.bytes.length;
    function* emit(sealed: readonly Uint8Array[]): Generator<Uint8Array> {
      for (const c of sealed) {
        envelopeBytes += c.length;
        yield c;
      }
    }

    yield header.bytes.slice(); // a copy: consumers may keep or mutate what they receive

    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const chunk: unknown = r.value;
      checkChunk(chunk, 'plaintext source');
      hasher?.update(chunk);
      plaintextBytes += chunk.length;
      let off = 0;
      while (off < chunk.length) {
        // A full buffer followed by more data is not the last segment: seal it now (the one-segment hold-back).
        if (fill === segmentSize) {
          yield* emit(sealer.seal(buf, false));
          used = segmentSize;
          fill = 0;
        }
        // Zero-copy: a whole segment inside the chunk with at least one byte after it is sealed in place.
        if (fill === 0 && chunk.length - off > segmentSize) {
          yield* emit(sealer.seal(chunk.subarray(off, off + segmentSize), false));
          off += segmentSize;
          continue;
        }
        const n = Math.min(segmentSize - fill, chunk.length - off);
        if (fill + n > buf.length) {
          const grown = acquireBuffer(segmentSize);
          grown.set(buf.subarray(0, fill));
          releaseBuffer(buf, fill);
          buf = grown;
        }
        buf.set(chunk.subarray(off, off + n), fill);
        fill += n;
        off += n;
      }
    }
    yield* emit(sealer.seal(buf.subarray(0, fill), true));
    completed = true;
    settle.resolve({
      plaintextBytes,
      envelopeBytes,
      segments: sealer.segments,
      ...(hasher ? { plaintextSha256: hasher.digest() } : {}),
    });
  } catch (err) {
    settle.reject(err);
    throw err;
  } finally {
    releaseBuffer(buf, Math.max(used, fill));
    streamKey.fill(0);
    if (!completed) {
      settle.reject(new EnvelopeError('INVALID_ARGUMENT', 'encryption stream was closed before the end of the source'));
      await it.return?.();
    }
  }
}

/** What `decryptWithDek` needs to open the stream: the DEK, or a function of the parsed header returning it. */
export type DekSource = Uint8Array | ((header: EnvelopeHeader) => Uint8Array | Promise<Uint8Array>);

/**
 * Decrypts an envelope with its DEK. Plaintext is released segment by segment as each authenticates; the content is
 * complete and untruncated only once iteration ends without an error (on error, discard what was written).
 */
export function decryptWithDek(source: ByteSource, dek: DekSource, opts: DecryptOptions = {}): AsyncIterable<Uint8Array> {
  if (!(dek instanceof Uint8Array) && typeof dek !== 'function') {
    throw new EnvelopeError('INVALID_ARGUMENT', 'dek must be a 32-byte Uint8Array or a function (header) => DEK');
  }
  if (dek instanceof Uint8Array) checkDek(dek);
  checkBackendName(opts.backend);
  return singleUse(openStream(new ChunkReader(source), async (h) => (typeof dek === 'function' ? dek(h) : dek), opts), 'decryption stream');
}

/** Reads and strictly parses the header from the front of `reader`. */
export async function readHeader(reader: ChunkReader): Promise<EnvelopeHeader> {
  await reader.fill(FIXED_HEADER_LENGTH);
  const length = checkFixedHeader(reader.peek(FIXED_HEADER_LENGTH));
  if ((await reader.fill(length)) < length) {
    throw new EnvelopeError('TRUNCATED', `envelope ends inside the header (${reader.buffered} of ${length} bytes)`);
  }
  return parseHeader(reader.take(length));
}

/** Core decryption loop, shared with `decryptEmr` (which adds key-block checks in `resolveDek`). */
export async function* openStream(
  reader: ChunkReader,
  resolveDek: (header: EnvelopeHeader) => Promise<Uint8Array>,
  opts: DecryptOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    const header = await readHeader(reader);
    const dek = await resolveDek(header);
    const streamKey = deriveStreamKey(dek, header);
    const backend = await loadBackend(opts.backend);
    const opener = new SegmentOpener(backend.segmentCipher(streamKey));
    streamKey.fill(0);

    const full = header.segmentSize + TAG_LENGTH;
    for (let i = 0; ; i++) {
      // Read one byte past a full segment: only then do we know whether it is the last one.
      const n = await reader.fill(full + 1);
      if (n > full) {
        const sealed = reader.takeParts(full); // views, no copy: segments usually straddle source chunks
        const pt = opener.open(i, sealed, false);
        if (pt === null) {
          if (opener.open(i, sealed, true) !== null) {
            throw new EnvelopeError('TRAILING_DATA', `data after the last segment (segment ${i}, which ends at envelope offset ${reader.position})`);
          }
          throw authFailed(i, reader.position - full, false);
        }
        for (const c of pt) yield c;
        continue;
      }
      // The source has ended: the remaining n <= full bytes must be the last segment.
      if (n < TAG_LENGTH) {
        throw new EnvelopeError(
          'TRUNCATED',
          i === 0
            ? `envelope has no segment after the header${n ? ` (only ${n} bytes)` : ''}`
            : `envelope ends after segment ${i - 1}, which is not the last one${n ? ` (${n} stray bytes follow)` : ''}`,
        );
      }
      const sealed = reader.takeParts(n);
      const pt = opener.open(i, sealed, true);
      if (pt === null) {
        // A genuine non-last segment followed by nothing: cut at a segment boundary.
        if (n === full && opener.open(i, sealed, false) !== null) {
          throw new EnvelopeError('TRUNCATED', `envelope ends after segment ${i}, which is not the last one`);
        }
        throw authFailed(i, reader.position - n, true);
      }
      for (const c of pt) yield c;
      return;
    }
  } finally {
    await reader.close();
  }
}

function authFailed(index: number, offset: number, final: boolean): EnvelopeError {
  return new EnvelopeError(
    'AUTHENTICATION_FAILED',
    `segment ${index} (envelope offset ${offset}) failed authentication: wrong DEK, or the header or segment was modified, ` +
      `reordered or taken from another envelope` +
      (final ? '; as the final segment it may also be cut short or have bytes appended' : ''),
  );
}

/** Wraps a generator so that iterating it a second time fails loudly instead of silently yielding nothing. */
export function singleUse(gen: AsyncGenerator<Uint8Array, void, undefined>, what: string): AsyncIterable<Uint8Array> {
  let used = false;
  return {
    [Symbol.asyncIterator]() {
      if (used) throw new EnvelopeError('INVALID_ARGUMENT', `the ${what} can only be iterated once`);
      used = true;
      return gen;
    },
  };
}
