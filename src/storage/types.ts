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

export interface GcResult {
  /** blocks deleted */
  readonly removed: number;
}

/** A content-addressed blob store: UnixFS import/export over a Helia node, every block verified on read. */
export interface BlobStore {
  /** Imports a byte stream as a UnixFS file (bounded memory) and pins it recursively before resolving. */
  put(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: PutOptions): Promise<PutResult>;
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
