/**
 * The storage layer's public types: a content-addressed blob store on Helia (UnixFS files, pinned), and what the
 * layers above it (the encrypted EMR pipeline, orphan collection, replication) rely on.
 */
import type { CID } from 'multiformats/cid';

/** A CID as a CID object or its string form (CIDv1 base32 `bafy…`, or CIDv0 `Qm…`). */
export type CidInput = CID | string;

export interface PutResult {
  /** root CID of the UnixFS file, CIDv1 */
  readonly cid: CID;
  /** bytes of content (the file's size, not the DAG's) */
  readonly size: number;
}

export interface BlobStat {
  readonly cid: CID;
  /** file size in bytes */
  readonly size: number;
  /** blocks of the DAG present locally / in total (known only when every node of the DAG is local) */
  readonly localBlocks: number;
  /** true when every block of the DAG is in the local blockstore */
  readonly complete: boolean;
  readonly pinned: boolean;
}

export interface GetOptions {
  /** first byte to return (default 0) */
  readonly offset?: number;
  /** bytes to return from `offset` (default: to the end) */
  readonly length?: number;
  readonly signal?: AbortSignal;
}

export interface PutOptions {
  readonly signal?: AbortSignal;
  /** refuse content larger than this many bytes (TOO_LARGE, nothing left pinned) */
  readonly maxBytes?: number;
}

/** Bytes to store, in chunks. */
export type PutSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Puts one file of a batch (BlobStore.putBatch): imported and its blocks written when it resolves, pinned only when
 * the whole batch commits. `maxBytes` as for put.
 */
export type BatchPut = (source: PutSource, options?: Pick<PutOptions, 'maxBytes'>) => Promise<PutResult>;

export interface GcResult {
  /** blocks deleted */
  readonly removed: number;
}

/** A content-addressed blob store: UnixFS import/export over a Helia node, every block verified on read. */
export interface BlobStore {
  /** Imports a byte stream as a UnixFS file (bounded memory) and pins it recursively before resolving. */
  put(source: PutSource, options?: PutOptions): Promise<PutResult>;
  /**
   * Several files as one unit: `fn` puts them through the `put` it is given (concurrently if it likes). Once `fn`
   * resolves, the blocks are made durable and every file is pinned in one atomic step, and then this resolves with
   * `fn`'s value. If `fn` rejects (its error comes out unchanged) or that step fails, none of the files is pinned and
   * the blocks they newly wrote are deleted. A put that fails leaves its own file out (its rejection is `fn`'s to
   * handle); a put `fn` did not wait for is waited for before the pins are written. The batch holds the store's
   * shared lock while `fn` runs: `fn` must not wait for another operation of this store (a gc queued meanwhile
   * would wait for the batch, and it for the gc).
   */
  putBatch<T>(fn: (put: BatchPut) => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
  /** The file's bytes (or a byte range), each block checked against its CID. */
  get(cid: CidInput, options?: GetOptions): AsyncIterable<Uint8Array>;
  /** true when the root block is local */
  has(cid: CidInput): Promise<boolean>;
  stat(cid: CidInput, options?: { signal?: AbortSignal }): Promise<BlobStat>;
  /** Pins recursively (fetching missing blocks from connected peers when the node is networked). */
  pin(cid: CidInput, options?: { signal?: AbortSignal }): Promise<void>;
  unpin(cid: CidInput): Promise<void>;
  isPinned(cid: CidInput): Promise<boolean>;
  pins(): AsyncIterable<CID>;
  /** Deletes every block not reachable from a pin. */
  gc(options?: { signal?: AbortSignal }): Promise<GcResult>;
}
