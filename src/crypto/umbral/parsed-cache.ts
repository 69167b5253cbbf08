/**
 * A small LRU of objects parsed from public bytes (capsules, public keys), keyed by the bytes themselves. Parsing
 * them costs point decompression and, for a capsule, its proof check (≈ 1 ms each here); the same bytes come back
 * again and again (a record's capsule at every opening and in its envelope, a patient's keys at every grant). The
 * cached objects are immutable for their users; a public key keeps its own lazily built comb (keys.ts), so a hot key
 * gets faster with use. Only public data is ever a key: nothing secret is kept here.
 */
import { bytesToHex } from '@noble/hashes/utils.js';

export class ParsedCache<T> {
  readonly #entries = new Map<string, T>();
  constructor(private readonly capacity: number) {}

  /** The object parsed from `bytes`, parsed now (and kept) unless these exact bytes were parsed before. */
  get(bytes: Uint8Array, parse: (bytes: Uint8Array) => T): T {
    const key = bytesToHex(bytes);
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key); // most recently used last
      this.#entries.set(key, hit);
      return hit;
    }
    const parsed = parse(bytes); // a parse that throws is not kept
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, parsed);
    return parsed;
  }
}
