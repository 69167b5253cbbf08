/**
 * Remembers each token id (jti) until its token can no longer be accepted, so a captured bearer token cannot be
 * replayed. In memory only: a restart forgets everything, which is why AccessTokenVerifier takes `notIssuedBefore`.
 *
 * Entries are grouped in one-second buckets (keyed by the second their expiry falls in); a min-heap of bucket
 * seconds lets each call drop every expired bucket without scanning live entries. Token lifetimes are capped, so
 * the heap holds at most a few hundred buckets: O(log buckets) ≈ O(1) per entry.
 */
// ESM cycle with ./tokens.js (which constructs a default ReplayCache): safe, neither module uses the other's
// exports while it is being evaluated.
import { AuthError } from './errors.js';

export const DEFAULT_REPLAY_CACHE_MAX_ENTRIES = 1_000_000;

export interface ReplayCacheOptions {
  /** Live entries kept at most; when full (after purging), checkAndRemember throws AuthError 'BUSY'. */
  maxEntries?: number;
}

export class ReplayCache {
  readonly maxEntries: number;
  /** jti → expiry (ms, inclusive) */
  readonly #expiries = new Map<string, number>();
  /** bucket second → the jtis whose expiry falls in it */
  readonly #buckets = new Map<number, string[]>();
  readonly #bucketHeap = new MinHeap();

  constructor(options: ReplayCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_REPLAY_CACHE_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`ReplayCache: maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.maxEntries = maxEntries;
  }

  /** Live (or expired but not yet purged) entries. */
  get size(): number {
    return this.#expiries.size;
  }

  /**
   * True the first time `jti` is seen, and remembers it through `expiresAtMs` (inclusive: the last instant at which
   * its token could still be accepted); false for a replay within that time. Throws AuthError 'BUSY' when the cache
   * holds maxEntries entries that have not been purged: the request is refused rather than accepted unprotected.
   */
  checkAndRemember(jti: string, expiresAtMs: number, nowMs: number): boolean {
    if (!Number.isFinite(expiresAtMs) || !Number.isFinite(nowMs)) {
      throw new RangeError('ReplayCache.checkAndRemember: expiresAtMs and nowMs must be finite numbers');
    }
    this.purge(nowMs);
    const known = this.#expiries.get(jti);
    if (known !== undefined && known >= nowMs) return false;
    if (expiresAtMs < nowMs) return true; // already expired: nothing to remember
    if (known === undefined && this.#expiries.size >= this.maxEntries) {
      throw new AuthError('BUSY', `replay cache is full (${this.maxEntries} unexpired tokens); retry shortly`);
    }
    this.#remember(jti, expiresAtMs);
    return true;
  }

  /**
   * Forgets entries whose expiry is before `nowMs`, a whole bucket at a time (so up to a second late, never early).
   * checkAndRemember calls it; call it yourself only to release memory while idle.
   */
  purge(nowMs: number): void {
    for (let second = this.#bucketHeap.peek(); second !== undefined && (second + 1) * 1000 <= nowMs; second = this.#bucketHeap.peek()) {
      this.#bucketHeap.pop();
      const bucketEndMs = (second + 1) * 1000;
      for (const jti of this.#buckets.get(second) ?? []) {
        // A jti re-remembered after its first expiry lives in a later bucket: leave that entry alone.
        const expiry = this.#expiries.get(jti);
        if (expiry !== undefined && expiry < bucketEndMs) this.#expiries.delete(jti);
      }
      this.#buckets.delete(second);
    }
  }

  #remember(jti: string, expiresAtMs: number): void {
    this.#expiries.set(jti, expiresAtMs);
    const second = Math.floor(expiresAtMs / 1000);
    const bucket = this.#buckets.get(second);
    if (bucket) {
      bucket.push(jti);
    } else {
      this.#buckets.set(second, [jti]);
      this.#bucketHeap.push(second);
    }
  }
}

/** A binary min-heap of numbers. */
class MinHeap {
  readonly #items: number[] = [];

  peek(): number | undefined {
    return this.#items[0];
  }

  push(value: number): void {
    const items = this.#items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= value) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]! < items[left]! ? right : left;
      if (items[child]! >= last) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
