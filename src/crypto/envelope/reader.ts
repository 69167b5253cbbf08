/** Pull-based byte reader over an (async) iterable of chunks, with bounded read-ahead and zero-copy takes. */
import { EnvelopeError } from './errors.js';

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export function toAsyncIterator(source: ByteSource, what: string): AsyncIterator<Uint8Array> | Iterator<Uint8Array> {
  if (source != null && typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }
  if (source != null && typeof (source as Iterable<Uint8Array>)[Symbol.iterator] === 'function' && !(source instanceof Uint8Array)) {
    return (source as Iterable<Uint8Array>)[Symbol.iterator]();
  }
  throw new EnvelopeError('INVALID_ARGUMENT', `${what} must be an AsyncIterable or Iterable of Uint8Array chunks (wrap a single buffer in [ ])`);
}

export function checkChunk(chunk: unknown, what: string): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) {
    const kind = typeof chunk === 'string' ? 'a string (is the stream in text mode?)' : typeof chunk;
    throw new EnvelopeError('INVALID_ARGUMENT', `${what} yielded ${kind}; chunks must be Uint8Array`);
  }
}

/**
 * Holds at most the bytes asked for plus one source chunk. `takeParts` returns views into the source chunks; `take`
 * returns one view when the bytes lie inside one chunk, otherwise a copy. Source chunks must not be mutated after they
 * are yielded (true of Node streams and of `encryptEmr` output); on the decrypt side a violation can only cause an
 * authentication failure, never wrong plaintext.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  private chunks: Uint8Array[] = [];
  private head = 0; // index of the first live chunk in `chunks`
  private offset = 0; // bytes already consumed from chunks[head]
  private available = 0;
  private ended = false;
  /** Bytes consumed so far, the envelope offset of the next byte (for error messages). */
  position = 0;

  constructor(source: ByteSource, private readonly what = 'envelope source') {
    this.it = toAsyncIterator(source, what);
  }

  get buffered(): number {
    return this.available;
  }

  /** Pulls chunks until at least `n` bytes are buffered or the source ends; returns the number buffered. */
  async fill(n: number): Promise<number> {
    while (this.available < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const chunk: unknown = r.value;
      checkChunk(chunk, this.what);
      if (chunk.length === 0) continue;
      if (this.head > 32 && this.head * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
      this.chunks.push(chunk);
      this.available += chunk.length;
    }
    return this.available;
  }

  /** Removes `n` buffered bytes (n <= buffered): a view if they lie in one chunk, else a copy. */
  take(n: number): Uint8Array {
    if (n > this.available) throw new RangeError(`take(${n}) with ${this.available} bytes buffered`);
    this.available -= n;
    this.position += n;
    const first = this.chunks[this.head];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head]!;
      const k = Math.min(n - filled, c.length - this.offset);
      out.set(c.subarray(this.offset, this.offset + k), filled);
      filled += k;
      this.advance(k);
    }
    return out;
  }

  /** Removes `n` buffered bytes (n <= buffered) as views into the source chunks, without copying. */
  takeParts(n: number): Uint8Array[] {
    if (n > this.available) throw new RangeError(`takeParts(${n}) with ${this.available} bytes buffered`);
    this.available -= n;
    this.position += n;
    const parts: Uint8Array[] = [];
    while (n > 0) {
      const c = this.chunks[this.head]!;
      const k = Math.min(n, c.length - this.offset);
      parts.push(c.subarray(this.offset, this.offset + k));
      this.advance(k);
      n -= k;
    }
    return parts;
  }

  /** Copies up to `n` buffered bytes without consuming them (for header checks on short input). */
  peek(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.available));
    let filled = 0;
    let off = this.offset;
    for (let i = this.head; filled < out.length; i++, off = 0) {
      const c = this.chunks[i]!;
      const k = Math.min(out.length - filled, c.length - off);
      out.set(c.subarray(off, off + k), filled);
      filled += k;
    }
    return out;
  }

  private advance(k: number): void {
    this.offset += k;
    if (this.offset === this.chunks[this.head]!.length) {
      this.chunks[this.head] = EMPTY; // drop the reference so the chunk can be collected
      this.head++;
      this.offset = 0;
    }
  }

  /** Stops the source early (closes files / destroys Node streams). Safe to call more than once. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.it.return?.();
  }
}

const EMPTY = new Uint8Array(0);
