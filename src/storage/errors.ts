/**
 * The storage layer's error: one class, a stable `code` to branch on, and a message naming the operation and the CID
 * (never content bytes). `toStorageError` maps what Helia, interface-store, libp2p and the filesystem throw.
 */
import { CodedError } from '../errors.js';

export type StorageErrorCode =
  /** a caller's argument is malformed or out of range (offset/length, options, a non-loopback address…) */
  | 'INVALID_ARGUMENT'
  /** a string that is not a CID, or a CID this store cannot hold (hash other than sha2-256, codec not UnixFS) */
  | 'INVALID_CID'
  /** a block is not in the local store and (offline) cannot be fetched, or (networked) did not arrive in time */
  | 'NOT_FOUND'
  /** a block whose bytes do not hash to its CID, or a DAG that is not a well-formed UnixFS file */
  | 'CORRUPT'
  /** content that is intact as blocks but disagrees with what the ledger recorded (used by emr-blobs) */
  | 'INTEGRITY'
  /** content over the caller's `maxBytes`, or a block over the store's block size limit */
  | 'TOO_LARGE'
  /** the filesystem is full (ENOSPC) or over quota (EDQUOT) */
  | 'NO_SPACE'
  /** any other failure of the disk or of a dependency (`cause` holds it) */
  | 'IO'
  /** the caller's AbortSignal fired */
  | 'ABORTED'
  /** a deadline of a higher layer passed (replication) */
  | 'TIMEOUT'
  /** the node (or the replicator) was stopped */
  | 'CLOSED'
  /** the data directory is held by another open node (this process or another one) */
  | 'LOCKED'
  /** the caller's byte source threw or yielded something other than bytes while importing (`cause` holds it) */
  | 'SOURCE'
  /** the operation needs something this node does not have (networking on an offline node, the ledger…) */
  | 'UNAVAILABLE'
  /** a peer could not be dialled or did not answer */
  | 'UNREACHABLE'
  /** a peer broke the replication protocol */
  | 'PROTOCOL'
  /** a peer refused the request */
  | 'FORBIDDEN'
  /** fewer consortium nodes hold the content than the replication rule requires (replication) */
  | 'UNDER_REPLICATED';

export class StorageError extends CodedError<StorageErrorCode> {
  override readonly name = 'StorageError';
}

/** What was being done when an error happened, for the message. */
export interface ErrorContext {
  /** e.g. 'get', 'put', 'pin' */
  readonly op: string;
  /** the CID concerned (root or block), as a string */
  readonly cid?: string;
}

const NOT_FOUND_NAMES = new Set(['NotFoundError', 'BlockNotFoundWhileOfflineError', 'LoadBlockFailedError']);
const ABORT_NAMES = new Set(['AbortError', 'TimeoutError']);

function errno(e: unknown): string | undefined {
  // blockstore-fs and datastore-level wrap fs errors as PutFailedError(String(err)): look through causes and text.
  for (let cur: unknown = e, depth = 0; cur != null && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  const m = /\b(ENOSPC|EDQUOT|ENOENT|EACCES|EPERM|EIO|EROFS|EMFILE)\b/.exec(String((e as Error)?.message ?? e));
  return m?.[1];
}

/** Maps any thrown value to a StorageError with context (a StorageError passes through unchanged). */
export function toStorageError(e: unknown, ctx: ErrorContext): StorageError {
  if (e instanceof StorageError) return e;
  const where = ctx.cid === undefined ? ctx.op : `${ctx.op} ${ctx.cid}`;
  const name = (e as { name?: unknown })?.name;
  const detail = e instanceof Error ? e.message : String(e);
  const code = errno(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageError('NO_SPACE', `${where}: no space left on the storage device (${code})`, { cause: e });
  }
  if (typeof name === 'string' && ABORT_NAMES.has(name)) return new StorageError('ABORTED', `${where}: aborted`, { cause: e });
  if ((e as { code?: unknown })?.code === 'ABORT_ERR') return new StorageError('ABORTED', `${where}: aborted`, { cause: e });
  if ((typeof name === 'string' && NOT_FOUND_NAMES.has(name)) || code === 'ENOENT') {
    return new StorageError('NOT_FOUND', `${where}: not available locally`, { cause: e });
  }
  if (name === 'InvalidConfigurationError' && /block brokers/i.test(detail)) {
    // a Helia node with no block brokers asked to fetch: the offline equivalent of "not found"
    return new StorageError('NOT_FOUND', `${where}: not available locally and the node has no peers to ask`, { cause: e });
  }
  if (name === 'InvalidMultihashError') {
    return new StorageError('CORRUPT', `${where}: a block does not match its CID`, { cause: e });
  }
  return new StorageError('IO', `${where} failed: ${detail}`, { cause: e });
}
