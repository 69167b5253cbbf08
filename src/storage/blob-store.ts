/**
 * The BlobStore over a Helia node: content in, one pinned UnixFS file out, and back.
 *
 * Layout (fixed: the CID of given bytes must be the same on every node and release): CIDv1, 1 MiB fixed-size chunks
 * as raw leaves, balanced DAG of up to 1024 links per node, and always a dag-pb root (`bafy…`), even for one chunk,
 * so every blob's size is in its root node. 1 GiB = 1024 leaves + 1 root (≈95–130 MB/s put with/without fsync,
 * ≈500 MB/s get, peak RSS ≈240 MiB on the 2-core dev VM).
 *
 * put: the importer pulls the caller's stream through a guard (bytes only, `maxBytes`, abort) and writes blocks
 * (each fsynced when durable, then renamed into place); the DAG is walked over the blocks it just wrote, their
 * directories are fsynced (once each) and the file is pinned in one atomic LevelDB batch. Memory: the importer holds
 * ≈10 chunks in flight (≈10 MiB). On any failure nothing is pinned: block writes still running are let finish (new
 * ones refused), then the blocks this put newly wrote are deleted under the exclusive lock (so after other puts in
 * flight have pinned what they share with it); a block that cannot be deleted stays unpinned for gc.
 * putBatch: the same for many files as one unit: one round of directory fsyncs and one pin batch (one sync) for all
 * of them, or, on failure, none pinned and their new blocks deleted. (Stored one by one, the 119 small EMRs of a
 * 1 MB FHIR upload paid ≈5 fsyncs and ≈20 thread-pool round trips each, one after the other.)
 * get: see file-reader.ts (bounded read-ahead; every block verified by the blockstore).
 * gc takes the lock exclusively, so it never deletes the blocks of a put or pin still in progress.
 */
import { setMaxListeners } from 'node:events';
import { dirname } from 'node:path';
import { unixfs } from '@helia/unixfs';
import type { Helia } from 'helia';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { CID } from 'multiformats/cid';
import { StorageError, toStorageError } from './errors.js';
import { decodeFileNode, readRange } from './file-reader.js';
import { walkDag, type WalkSource } from './pin-walker.js';
import { PIN_METADATA, type PinEntry, type PinStore } from './pin-store.js';
import type { BatchPut, BlobStat, BlobStore, CidInput, GcResult, GetOptions, PutOptions, PutResult, PutSource } from './types.js';
import { assertSha256, isBytes, type BlockPutOptions, type VerifiedBlockstore } from './verified-blockstore.js';

export const CHUNK_SIZE = 1024 * 1024;
export const MAX_CHILDREN_PER_NODE = 1024;
/** Per-block deadline for fetching from peers (networked nodes). */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** Raw leaves read ahead of the consumer: bounds a read to ≈ this many MiB of block data. */
export const DEFAULT_READ_AHEAD = 8;
const DAG_PB = 0x70;
const RAW = 0x55;

const IMPORT_OPTIONS = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: false,
  chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
  layout: balanced({ maxChildrenPerNode: MAX_CHILDREN_PER_NODE }),
} as const;

export interface HeliaBlobStoreInit {
  readonly helia: Helia;
  /** the blockstore under `helia` (gc lists and deletes through it) */
  readonly blockstore: VerifiedBlockstore;
  readonly pins: PinStore;
  /** true for a node without libp2p: never try to fetch, absent blocks are NOT_FOUND at once */
  readonly offline: boolean;
  /** per-block deadline for fetching from peers (default 30 s) */
  readonly fetchTimeoutMs?: number;
  /** number of connected peers, for error messages */
  readonly connectedPeers?: () => number;
  /** raw leaves fetched ahead of the consumer in get() (default 8) */
  readonly readAhead?: number;
}

/** What a put batch (one put, or putBatch) keeps until it commits or fails. */
interface PutBatchState {
  /** false once the batch's function has settled: no more puts */
  open: boolean;
  /** true once the batch as a whole failed: importers still running are stopped at their next block */
  failed: boolean;
  /** a put of the batch failed (its file is left out; its blocks are deleted after the commit) */
  putFailed: boolean;
  /** blocks the batch's puts added to the store (not those already there) */
  readonly written: CID[];
  /** directories of every block the puts wrote or found there, fsynced once each before the pins are written */
  readonly directories: Set<string>;
  /** the pins to write at the commit, one per file put */
  readonly pins: PinEntry[];
  /** the puts in progress */
  readonly running: Set<Promise<unknown>>;
}

/** Shared/exclusive lock, FIFO (a waiting writer holds back later readers, so gc is not starved). */
class RwLock {
  #readers = 0;
  #writing = false;
  readonly #waiting: { write: boolean; grant: () => void }[] = [];

  acquire(write: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.#waiting.push({ write, grant: () => resolve(this.#releaser(write)) });
      this.#pump();
    });
  }

  #releaser(write: boolean): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (write) this.#writing = false;
      else this.#readers--;
      this.#pump();
    };
  }

  #pump(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      if (next.write) {
        if (this.#writing || this.#readers > 0) return;
        this.#writing = true;
      } else {
        if (this.#writing) return;
        this.#readers++;
      }
      this.#waiting.shift();
      next.grant();
    }
  }
}

/** Parses and checks a CID argument: a UnixFS CID (dag-pb or raw) over sha2-256, else INVALID_CID. */
export function parseCid(input: CidInput): CID {
  let cid: CID | null;
  if (typeof input === 'string') {
    if (input.length === 0 || input.length > 512 || /\s/.test(input)) {
      throw new StorageError('INVALID_CID', `not a CID: ${JSON.stringify(input.slice(0, 80))}`);
    }
    try {
      cid = CID.parse(input);
    } catch (e) {
      throw new StorageError('INVALID_CID', `not a CID: ${JSON.stringify(input.slice(0, 80))}`, { cause: e });
    }
  } else {
    cid = CID.asCID(input);
    if (cid === null) throw new StorageError('INVALID_CID', 'not a CID (expected a CID object or string)');
  }
  if (cid.code !== DAG_PB && cid.code !== RAW) {
    throw new StorageError('INVALID_CID', `${cid} is not a UnixFS CID (codec 0x${cid.code.toString(16)}; dag-pb or raw expected)`);
  }
  assertSha256(cid, 'use');
  return cid;
}

/** Blocks are stored and pinned by multihash (the walker's key too). */
const multihashKey = (cid: CID): string => Buffer.from(cid.multihash.bytes).toString('base64');

function optionalCount(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new StorageError('INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

async function toBytes(source: PutSource): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of source) parts.push(p);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Settles with `p`, or rejects with the signal's reason as soon as it fires (the caller's source may hang). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** The caller's stream as the importer sees it: only bytes, at most `maxBytes` of them, stopped by `signal`. */
async function* guard(
  source: PutSource,
  maxBytes: number | undefined,
  signal: AbortSignal,
  count: { bytes: number },
): AsyncGenerator<Uint8Array> {
  const it: AsyncIterator<unknown> | Iterator<unknown> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<unknown>)[Symbol.iterator]();
  let n = 0;
  try {
    for (;;) {
      let r: IteratorResult<unknown>;
      try {
        r = await abortable(Promise.resolve(it.next()), signal);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        throw new StorageError('SOURCE', `the byte source failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      if (r.done === true) return;
      const chunk = r.value;
      if (!isBytes(chunk)) throw new StorageError('INVALID_ARGUMENT', `chunk #${n} of the source is a ${describe(chunk)}, not a Uint8Array`);
      n++;
      count.bytes += chunk.length;
      if (maxBytes !== undefined && count.bytes > maxBytes) {
        throw new StorageError('TOO_LARGE', `content is over the limit of ${maxBytes} bytes`);
      }
      // a view in this realm: the importer tests `instanceof Uint8Array`, and jest's vm context has its own
      if (chunk.length > 0) yield chunk instanceof Uint8Array ? chunk : new Uint8Array((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).byteLength);
    }
  } finally {
    // not awaited: a source stuck in next() would keep its return() queued for ever
    void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

export class HeliaBlobStore implements BlobStore {
  readonly #helia: Helia;
  readonly #blockstore: VerifiedBlockstore;
  readonly #pins: PinStore;
  readonly #offline: boolean;
  readonly #fetchTimeoutMs: number;
  readonly #connectedPeers: () => number;
  readonly #readAhead: number;
  readonly #lock = new RwLock();
  /** controllers of operations in progress, aborted by close() */
  readonly #ops = new Set<AbortController>();
  /** mutating operations in progress, awaited by close() */
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(init: HeliaBlobStoreInit) {
    this.#helia = init.helia;
    this.#blockstore = init.blockstore;
    this.#pins = init.pins;
    this.#offline = init.offline;
    this.#fetchTimeoutMs = optionalCount(init.fetchTimeoutMs, 'fetchTimeoutMs') ?? DEFAULT_FETCH_TIMEOUT_MS;
    this.#connectedPeers = init.connectedPeers ?? (() => 0);
    this.#readAhead = Math.max(1, optionalCount(init.readAhead, 'readAhead') ?? DEFAULT_READ_AHEAD);
  }

  put(source: PutSource, options: PutOptions = {}): Promise<PutResult> {
    return this.#mutation('put', undefined, options.signal, (signal) => this.#batch(signal, options.signal, (put) => put(source, options)));
  }

  putBatch<T>(fn: (put: BatchPut) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new StorageError('INVALID_ARGUMENT', `putBatch needs a function, got ${describe(fn)}`));
    let own: { error: unknown } | undefined;
    const run = this.#mutation('put batch', undefined, options.signal, (signal) =>
      this.#batch(signal, options.signal, async (put) => {
        try {
          return await fn(put);
        } catch (error) {
          own = { error };
          throw error;
        }
      }),
    );
    // the caller's own errors come out as they are (unless the store was stopped or the caller aborted)
    return run.catch((e: unknown) => {
      throw own !== undefined && !this.#closed && options.signal?.aborted !== true ? own.error : e;
    });
  }

  /**
   * The put path, for one file or many: each file is imported (blocks fsynced and renamed into place, their
   * directories' fsyncs put off) and its DAG walked; when `fn` resolves the directories are fsynced once each and all
   * the pins written in one batch. On failure the blocks written are deleted under the exclusive lock (after other
   * puts in flight have pinned what they share with these), unless a pin holds them.
   */
  async #batch<T>(operation: AbortSignal, caller: AbortSignal | undefined, fn: (put: BatchPut) => Promise<T>): Promise<T> {
    const batch: PutBatchState = { open: true, failed: false, written: [], directories: new Set(), pins: [], running: new Set(), putFailed: false };
    // the puts stop when the operation is aborted, or at once when the batch fails (a source may hang)
    const failing = new AbortController();
    const signal = AbortSignal.any([operation, failing.signal]);
    setMaxListeners(Infinity, signal); // each put's guard and walk listen on it
    let release = await this.#lock.acquire(false);
    try {
      const value = await fn((source, options = {}) => this.#batchPut(batch, source, options, signal, caller));
      batch.open = false;
      await Promise.allSettled([...batch.running]);
      signal.throwIfAborted();
      await this.#blockstore.syncDirectories(batch.directories);
      signal.throwIfAborted();
      // pinnedAt: when an orphan sweep may judge these pins (orphans.ts)
      const pinnedAt = Date.now();
      await this.#pins.addMany(batch.pins.map((p) => ({ ...p, metadata: { [PIN_METADATA.pinnedAt]: pinnedAt } })));
      if (batch.putFailed) {
        // a put that failed inside a batch that did not: its blocks are pinned by no one
        release();
        release = await this.#lock.acquire(true);
        await this.#discard(batch.written);
      }
      return value;
    } catch (e) {
      batch.open = false;
      batch.failed = true; // refuse writes the importers still start, then let those running finish before cleaning up
      failing.abort(new StorageError('ABORTED', 'another part of the put batch failed'));
      await Promise.allSettled([...batch.running]);
      release();
      release = await this.#lock.acquire(true);
      await this.#discard(batch.written);
      throw e;
    } finally {
      release();
    }
  }

  /** One file of a batch: imported and walked, its pin queued for the batch's commit. */
  #batchPut(batch: PutBatchState, source: PutSource, options: Pick<PutOptions, 'maxBytes'>, signal: AbortSignal, caller: AbortSignal | undefined): Promise<PutResult> {
    const run = (async (): Promise<PutResult> => {
      if (!batch.open) throw new StorageError('INVALID_ARGUMENT', 'this put batch is already committing or has failed: put inside its function');
      const maxBytes = optionalCount(options?.maxBytes, 'maxBytes');
      if (source == null || (typeof source !== 'object' && typeof source !== 'function')) {
        throw new StorageError('INVALID_ARGUMENT', `put needs an iterable of Uint8Array chunks, got ${describe(source)}`);
      }
      if (isBytes(source)) throw new StorageError('INVALID_ARGUMENT', 'put needs an iterable of Uint8Array chunks, got a single Uint8Array (wrap it: [bytes])');
      if (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source)) {
        throw new StorageError('INVALID_ARGUMENT', `put needs an iterable of Uint8Array chunks, got a ${describe(source)}`);
      }
      /** block writes in progress: the importer writes ≈10 at once and does not wait for the others when one fails */
      const writing = new Set<Promise<CID>>();
      let failed = false;
      const count = { bytes: 0 };
      const blocks = this.#helia.blockstore;
      /** the blocks as the importer wrote them (dag-pb nodes with their bytes), for the walk that lists the pin's blocks */
      const imported = new Map<string, Uint8Array | undefined>();
      const write = async (cid: CID, bytes: Parameters<typeof blocks.put>[1]): Promise<CID> => {
        if (failed || batch.failed) throw new StorageError('ABORTED', 'put already failed');
        signal.throwIfAborted(); // the importer ignores AbortSignals: stop it here
        // The rename of a block already there may come from another batch that has not synced its directory yet.
        batch.directories.add(dirname(this.#blockstore.blockPath(cid)));
        // Helia's put looks for the block first and skips the write if it is there: it says so, no second look here.
        // (Were the event ever missing, a block already there would count as written: deleted on failure only if no
        // pin holds it, under the exclusive lock, as gc would.)
        let had = false;
        const putOptions: BlockPutOptions & { onProgress: (evt: { type: string }) => void } = {
          syncDirectory: false,
          onProgress: (evt) => {
            if (evt.type === 'blocks:put:duplicate') had = true;
          },
        };
        await blocks.put(cid, bytes, putOptions);
        if (!had) batch.written.push(cid);
        imported.set(multihashKey(cid), cid.code === DAG_PB && isBytes(bytes) ? bytes : undefined);
        return cid;
      };
      const tracking = {
        has: blocks.has.bind(blocks),
        get: blocks.get.bind(blocks),
        put: (cid: CID, bytes: Parameters<typeof blocks.put>[1]): Promise<CID> => {
          const p = write(cid, bytes);
          writing.add(p);
          const done = (): void => void writing.delete(p);
          p.then(done, done);
          return p;
        },
      };
      try {
        const root = await unixfs({ blockstore: tracking }).addByteStream(guard(source, maxBytes, signal, count), IMPORT_OPTIONS);
        // Walked from memory: every block the importer put is on disk and stays there (no gc or discard runs while
        // the batch holds the shared lock), so reading the nodes back would only cost round trips.
        const disk = this.#source('local');
        const fromImport: WalkSource = {
          has: async (cid, s) => imported.has(multihashKey(cid)) || disk.has(cid, s),
          get: async (cid, s) => imported.get(multihashKey(cid)) ?? disk.get(cid, s),
        };
        batch.pins.push({ root, blocks: await this.#walk(root, fromImport, signal) });
        return { cid: root, size: count.bytes };
      } catch (e) {
        failed = true;
        await Promise.allSettled([...writing]);
        throw e;
      }
    })();
    const tracked = run.catch((e: unknown) => {
      batch.putFailed = true;
      throw this.#failure(e, 'put', undefined, caller);
    });
    batch.running.add(tracked);
    const done = (): void => void batch.running.delete(tracked);
    tracked.then(done, done);
    return tracked;
  }

  get(cid: CidInput, options: GetOptions = {}): AsyncIterable<Uint8Array> {
    const self = this;
    return (async function* () {
      const root = parseCid(cid);
      const offset = optionalCount(options.offset, 'offset') ?? 0;
      const length = optionalCount(options.length, 'length');
      const { signal, end } = self.#begin(options.signal);
      try {
        const node = decodeFileNode(root, await self.#fetch(root, signal), true);
        if (offset > node.size) throw new StorageError('INVALID_ARGUMENT', `offset ${offset} is beyond the end of ${root} (${node.size} bytes)`);
        const stop = length === undefined ? node.size : offset + length;
        if (stop > node.size) {
          throw new StorageError('INVALID_ARGUMENT', `range ${offset}+${length} is beyond the end of ${root} (${node.size} bytes)`);
        }
        yield* readRange(node, offset, stop, (c, s) => self.#fetch(c, s), { readAhead: self.#readAhead, signal });
      } catch (e) {
        throw self.#failure(e, 'get', root, options.signal);
      } finally {
        end();
      }
    })();
  }

  async has(cid: CidInput): Promise<boolean> {
    const root = parseCid(cid);
    this.#assertOpen();
    try {
      return await this.#helia.blockstore.has(root);
    } catch (e) {
      throw this.#failure(e, 'has', root, undefined);
    }
  }

  async stat(cid: CidInput, options: { signal?: AbortSignal } = {}): Promise<BlobStat> {
    const root = parseCid(cid);
    const { signal, end } = this.#begin(options.signal);
    try {
      const node = decodeFileNode(root, await this.#fetch(root, signal), true);
      let localBlocks = 0;
      let complete = true;
      for await (const b of walkDag(root, this.#source('local'), { missing: 'report', signal })) {
        if (b.present) localBlocks++;
        else complete = false;
      }
      return { cid: root, size: node.size, localBlocks, complete, pinned: await this.#pins.isPinned(root) };
    } catch (e) {
      throw this.#failure(e, 'stat', root, options.signal);
    } finally {
      end();
    }
  }

  pin(cid: CidInput, options: { signal?: AbortSignal } = {}): Promise<void> {
    let root: CID;
    try {
      root = parseCid(cid);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#mutation('pin', root, options.signal, async (signal) => {
      const release = await this.#lock.acquire(false);
      try {
        await this.#pinWalked(root, signal, this.#offline ? 'local' : 'network');
      } finally {
        release();
      }
    });
  }

  /** Unpins `cid` (no-op when it is not pinned). Its blocks go at the next gc unless another pin holds them. */
  unpin(cid: CidInput): Promise<void> {
    let root: CID;
    try {
      root = parseCid(cid);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#mutation('unpin', root, undefined, async (signal) => {
      const release = await this.#lock.acquire(false);
      try {
        if (!(await this.#pins.isPinned(root))) return;
        let blocks: CID[] | undefined = [];
        try {
          for await (const b of walkDag(root, this.#source('local'), { missing: 'fetch', signal })) blocks.push(b.cid);
        } catch (e) {
          if (signal.aborted) throw e;
          blocks = undefined; // part of the DAG is gone or damaged: find the pin's blocks by scanning the index
        }
        await this.#pins.remove(root, blocks);
      } finally {
        release();
      }
    });
  }

  async isPinned(cid: CidInput): Promise<boolean> {
    const root = parseCid(cid);
    this.#assertOpen();
    try {
      return await this.#pins.isPinned(root);
    } catch (e) {
      throw this.#failure(e, 'isPinned', root, undefined);
    }
  }

  pins(): AsyncIterable<CID> {
    const self = this;
    return (async function* () {
      self.#assertOpen();
      try {
        yield* self.#pins.roots();
      } catch (e) {
        throw self.#failure(e, 'list pins', undefined, undefined);
      }
    })();
  }

  gc(options: { signal?: AbortSignal } = {}): Promise<GcResult> {
    return this.#mutation('gc', undefined, options.signal, async (signal) => {
      const release = await this.#lock.acquire(true);
      try {
        let removed = 0;
        for await (const { cid } of this.#blockstore.getAll({ signal })) {
          signal.throwIfAborted();
          if (await this.#pins.isBlockPinned(cid)) continue;
          await this.#blockstore.delete(cid);
          removed++;
        }
        return { removed };
      } finally {
        release();
      }
    });
  }

  /** Refuses new operations, aborts those in progress (CLOSED) and waits for puts/pins/unpins/gc to settle. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const ctl of this.#ops) ctl.abort(new StorageError('CLOSED', 'the storage node is stopping'));
    await Promise.allSettled([...this.#inflight]);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError('CLOSED', 'the storage node is stopped');
  }

  /** An operation's signal: the caller's, or close(). */
  #begin(caller: AbortSignal | undefined): { signal: AbortSignal; end: () => void } {
    this.#assertOpen();
    const ctl = new AbortController();
    setMaxListeners(Infinity, ctl.signal); // bitswap and the reader each listen on it
    const onAbort = (): void => ctl.abort(caller?.reason);
    if (caller?.aborted) ctl.abort(caller.reason);
    else caller?.addEventListener('abort', onAbort, { once: true });
    this.#ops.add(ctl);
    return {
      signal: ctl.signal,
      end: () => {
        caller?.removeEventListener('abort', onAbort);
        this.#ops.delete(ctl);
      },
    };
  }

  /** Runs a mutating operation: tracked for close(), errors mapped with context. */
  #mutation<T>(op: string, root: CID | undefined, caller: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let begun: { signal: AbortSignal; end: () => void };
    try {
      begun = this.#begin(caller);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = (async () => {
      try {
        return await fn(begun.signal);
      } catch (e) {
        throw this.#failure(e, op, root, caller);
      } finally {
        begun.end();
      }
    })();
    this.#inflight.add(run);
    void run.then(
      () => this.#inflight.delete(run),
      () => this.#inflight.delete(run),
    );
    return run;
  }

  #failure(e: unknown, op: string, root: CID | undefined, caller: AbortSignal | undefined): StorageError {
    const where = root === undefined ? op : `${op} ${root}`;
    if (this.#closed) return e instanceof StorageError && e.code === 'CLOSED' ? e : new StorageError('CLOSED', `${where}: the storage node was stopped`, { cause: e });
    if (caller?.aborted) return new StorageError('ABORTED', `${where}: aborted by the caller`, { cause: caller.reason });
    if (e instanceof StorageError) return e;
    return toStorageError(e, { op, cid: root?.toString() });
  }

  /**
   * A block's verified bytes. Offline: local only (NOT_FOUND at once). Networked: from peers if absent, within the
   * per-block deadline (NOT_FOUND after it) and the operation's signal.
   */
  async #fetch(cid: CID, signal: AbortSignal): Promise<Uint8Array> {
    if (this.#closed) throw new StorageError('CLOSED', 'the storage node is stopped');
    if (this.#offline) return toBytes(this.#helia.blockstore.get(cid, { offline: true, signal }));
    const deadline = new AbortController();
    setMaxListeners(Infinity, deadline.signal);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort(new StorageError('NOT_FOUND', `block ${cid} not received within ${this.#fetchTimeoutMs} ms`));
    }, this.#fetchTimeoutMs);
    const onAbort = (): void => deadline.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await toBytes(this.#helia.blockstore.get(cid, { signal: deadline.signal }));
    } catch (e) {
      if (timedOut && !signal.aborted) {
        const peers = this.#connectedPeers();
        throw new StorageError(
          'NOT_FOUND',
          `block ${cid} is not in the local store and was not received from ${peers} connected peer${peers === 1 ? '' : 's'} within ${this.#fetchTimeoutMs} ms`,
          { cause: e },
        );
      }
      throw e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Blocks for the walker: 'local' reads only what is on disk; 'network' may fetch (see #fetch). */
  #source(mode: 'local' | 'network'): WalkSource {
    const blocks = this.#helia.blockstore;
    return {
      has: async (cid, signal) => blocks.has(cid, { signal }),
      get: (cid, signal) =>
        mode === 'network' ? this.#fetch(cid, signal ?? new AbortController().signal) : toBytes(blocks.get(cid, { offline: true, signal })),
    };
  }

  /** Walks the DAG under `root` (fetching if allowed) and pins it in one batch; nothing is pinned if the walk fails. */
  async #pinWalked(root: CID, signal: AbortSignal, mode: 'local' | 'network'): Promise<void> {
    if (await this.#pins.isPinned(root)) return;
    const blocks = await this.#walk(root, this.#source(mode), signal, mode === 'network' ? this.#readAhead : 1);
    signal.throwIfAborted();
    // pinnedAt: when an orphan sweep may judge this pin (orphans.ts)
    await this.#pins.add(root, blocks, { [PIN_METADATA.pinnedAt]: Date.now() });
  }

  /** Every distinct block of the DAG under `root` (fetching missing ones if allowed): what a pin of it protects. */
  async #walk(root: CID, source: WalkSource, signal: AbortSignal, concurrency = 1): Promise<CID[]> {
    const blocks: CID[] = [];
    for await (const b of walkDag(root, source, { missing: 'fetch', concurrency, signal })) blocks.push(b.cid);
    return blocks;
  }

  /** Deletes the blocks a failed put wrote, unless a pin now holds them. Call with the exclusive lock held. */
  async #discard(written: readonly CID[]): Promise<void> {
    for (const cid of written) {
      try {
        if (!(await this.#pins.isBlockPinned(cid))) await this.#blockstore.delete(cid);
      } catch {
        // left unpinned: the next gc removes it
      }
    }
  }
}
