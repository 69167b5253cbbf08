/**
 * The dev network's world state and history index, as a Fabric peer with a LevelDB state database keeps them:
 *
 * - per chaincode namespace, key → { value, version = (block number, transaction number) };
 * - keys ordered by their UTF-8 bytes (the order LevelDB range scans and composite-key queries see);
 * - the history of every key (GetHistoryForKey), newest first as Fabric 2.x returns it;
 * - MVCC validation of a transaction's read set against the committed state: a read whose version changed gives
 *   MVCC_READ_CONFLICT, a range query whose re-execution differs gives PHANTOM_READ_CONFLICT.
 *
 * The state is derived from the blocks only (the committer replays them at start-up), so it can never disagree with
 * the chain after a crash.
 */
import { TxValidationCode } from './blocks.js';

export interface Version {
  readonly blockNum: number;
  readonly txNum: number;
}

export interface StateEntry {
  readonly value: Uint8Array;
  readonly version: Version;
}

export interface HistoryEntry {
  readonly txId: string;
  readonly blockNum: number;
  readonly txNum: number;
  /** the transaction's timestamp (from its channel header) */
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
  readonly value: Uint8Array;
  readonly isDelete: boolean;
}

/** A read of a single key at simulation time; no version means the key did not exist. */
export interface KeyRead {
  readonly key: string;
  readonly version?: Version;
}

/** A range scan made during simulation (phantom-read protection). */
export interface RangeRead {
  readonly startKey: string;
  readonly endKey: string;
  /** false when the chaincode stopped before the end of the range; then only the keys it saw are re-checked */
  readonly itrExhausted: boolean;
  readonly reads: readonly KeyRead[];
}

export interface KeyWrite {
  readonly key: string;
  readonly isDelete: boolean;
  readonly value: Uint8Array;
}

/** One namespace's part of a transaction's read/write set. */
export interface NamespaceRwSet {
  readonly namespace: string;
  readonly reads: readonly KeyRead[];
  readonly rangeQueries: readonly RangeRead[];
  readonly writes: readonly KeyWrite[];
}

export interface CommitPosition {
  readonly txId: string;
  readonly blockNum: number;
  readonly txNum: number;
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
}

/**
 * Compares strings by Unicode code point, which is the order of their UTF-8 bytes (JavaScript's `<` compares
 * UTF-16 code units and puts U+E000–U+FFFF after the supplementary planes). Surrogates are moved above the BMP.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}
const rank = (u: number): number => (u >= 0xd800 && u <= 0xdfff ? u + 0x2000 : u >= 0xe000 ? u - 0x800 : u);

const sameVersion = (a: Version | undefined, b: Version | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.blockNum === b.blockNum && a.txNum === b.txNum;

/**
 * Keys in UTF-8 order, as a list of sorted chunks of at most CHUNK_MAX keys: an insert or delete moves at most one
 * chunk's entries (a single sorted array costs O(n) per new key, ≈ 1 ms per record at 100 000 keys), a lookup is two
 * binary searches, and a range scan walks the chunks in order.
 */
class SortedKeys {
  private static readonly CHUNK_MAX = 512;
  private readonly chunks: string[][] = [];
  /** bumped by every insert and remove, so an open scan knows to find its place again */
  private mutations = 0;

  /** [chunk, index] of the first key ≥ `key` (chunk = chunks.length when every key is smaller). */
  private lowerBound(key: string): [number, number] {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (compareKeys(chunk[chunk.length - 1]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.chunks.length) return [lo, 0];
    const chunk = this.chunks[lo]!;
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (compareKeys(chunk[mid]!, key) < 0) a = mid + 1;
      else b = mid;
    }
    return [lo, a];
  }

  /** Adds a key that is not present. */
  insert(key: string): void {
    this.mutations++;
    let [c, i] = this.lowerBound(key);
    if (c === this.chunks.length) {
      // Larger than every key: append to the last chunk (or start the first one).
      if (c === 0) {
        this.chunks.push([key]);
        return;
      }
      c--;
      i = this.chunks[c]!.length;
    }
    const chunk = this.chunks[c]!;
    chunk.splice(i, 0, key);
    if (chunk.length > SortedKeys.CHUNK_MAX) this.chunks.splice(c + 1, 0, chunk.splice(chunk.length >>> 1));
  }

  /** Removes a key that is present. */
  remove(key: string): void {
    this.mutations++;
    const [c, i] = this.lowerBound(key);
    const chunk = this.chunks[c]!;
    chunk.splice(i, 1);
    if (chunk.length === 0) this.chunks.splice(c, 1);
  }

  /**
   * Keys ≥ `startKey` in order. A scan may stay open while blocks commit (a chaincode reads a range in batches):
   * after a change it resumes at the first key after the last one it gave, so no key is given twice.
   */
  *from(startKey: string): Generator<string> {
    let [c, i] = this.lowerBound(startKey);
    let seen = this.mutations;
    while (c < this.chunks.length) {
      const chunk = this.chunks[c]!;
      if (i >= chunk.length) {
        c++;
        i = 0;
        continue;
      }
      const key = chunk[i]!;
      yield key;
      if (this.mutations !== seen) {
        seen = this.mutations;
        [c, i] = this.lowerBound(`${key}\u0000`);
      } else i++;
    }
  }
}

/** One chaincode's keys: a map for point reads and the sorted keys for range scans. */
class Namespace {
  readonly entries = new Map<string, StateEntry>();
  private readonly sorted = new SortedKeys();
  readonly history = new Map<string, HistoryEntry[]>();

  put(key: string, entry: StateEntry): void {
    if (!this.entries.has(key)) this.sorted.insert(key);
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.sorted.remove(key);
  }

  /** Keys in [startKey, endKey) in UTF-8 order; an empty endKey means unbounded. */
  *range(startKey: string, endKey: string): Generator<[string, StateEntry]> {
    for (const key of this.sorted.from(startKey)) {
      if (endKey !== '' && compareKeys(key, endKey) >= 0) return;
      yield [key, this.entries.get(key)!];
    }
  }
}

export class WorldState {
  private readonly namespaces = new Map<string, Namespace>();

  private ns(name: string): Namespace {
    let ns = this.namespaces.get(name);
    if (!ns) {
      ns = new Namespace();
      this.namespaces.set(name, ns);
    }
    return ns;
  }

  get(namespace: string, key: string): StateEntry | undefined {
    return this.namespaces.get(namespace)?.entries.get(key);
  }

  /** Committed keys in [startKey, endKey) of `namespace`, in UTF-8 byte order. */
  *range(namespace: string, startKey: string, endKey: string): Generator<[string, StateEntry]> {
    const ns = this.namespaces.get(namespace);
    if (ns) yield* ns.range(startKey, endKey);
  }

  /** Every committed modification of `key`, newest first (Fabric 2.x order). */
  history(namespace: string, key: string): readonly HistoryEntry[] {
    return [...(this.namespaces.get(namespace)?.history.get(key) ?? [])].reverse();
  }

  /** Number of keys in `namespace` (for tests and statistics). */
  size(namespace: string): number {
    return this.namespaces.get(namespace)?.entries.size ?? 0;
  }

  /**
   * MVCC validation against the current committed state (which already includes the earlier valid transactions of
   * the same block): VALID, MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT.
   */
  validate(rwsets: readonly NamespaceRwSet[]): number {
    for (const set of rwsets) {
      for (const read of set.reads) {
        if (!sameVersion(this.get(set.namespace, read.key)?.version, read.version)) return TxValidationCode.MVCC_READ_CONFLICT;
      }
      for (const rq of set.rangeQueries) {
        if (!this.rangeUnchanged(set.namespace, rq)) return TxValidationCode.PHANTOM_READ_CONFLICT;
      }
    }
    return TxValidationCode.VALID;
  }

  private rangeUnchanged(namespace: string, rq: RangeRead): boolean {
    // A range the chaincode left early is re-checked only up to (and including) the last key it saw.
    const last = rq.reads[rq.reads.length - 1];
    const end = rq.itrExhausted || last === undefined ? rq.endKey : `${last.key}\u0000`;
    let i = 0;
    for (const [key, entry] of this.range(namespace, rq.startKey, end)) {
      const seen = rq.reads[i++];
      if (seen === undefined || seen.key !== key || !sameVersion(seen.version, entry.version)) return false;
    }
    return i === rq.reads.length;
  }

  /** Applies a valid transaction's writes at `at` and records them in the history index. */
  apply(rwsets: readonly NamespaceRwSet[], at: CommitPosition): void {
    const version: Version = { blockNum: at.blockNum, txNum: at.txNum };
    for (const set of rwsets) {
      const ns = this.ns(set.namespace);
      for (const w of set.writes) {
        if (w.isDelete) ns.delete(w.key);
        else ns.put(w.key, { value: w.value, version });
        let h = ns.history.get(w.key);
        if (!h) ns.history.set(w.key, (h = []));
        h.push({ txId: at.txId, blockNum: at.blockNum, txNum: at.txNum, timestamp: at.timestamp, value: w.isDelete ? new Uint8Array(0) : w.value, isDelete: w.isDelete });
      }
    }
  }
}
