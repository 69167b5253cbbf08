/** The storage layer's public surface. */
export { openStorageNode, isLoopbackMultiaddr, LOCK_FILE } from './node.js';
export type { StorageNode, NetworkedStorageNode, StorageNodeOptions, NetworkOptions, StorageServices } from './node.js';
export { HeliaBlobStore, parseCid, CHUNK_SIZE, MAX_CHILDREN_PER_NODE, DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_READ_AHEAD } from './blob-store.js';
export { StorageError, toStorageError } from './errors.js';
export type { StorageErrorCode } from './errors.js';
export { VerifiedBlockstore, MAX_BLOCK_BYTES } from './verified-blockstore.js';
export type { BatchPut, BlobStore, BlobStat, CidInput, GcResult, GetOptions, PutOptions, PutResult, PutSource } from './types.js';
export { Replicator, REPLICATION_PROTOCOL, MAX_MESSAGE_BYTES, MAX_STATUS_CIDS, parseRequest, parseResponse } from './replication.js';
export type {
  ReplicatorOptions,
  ConsortiumPeer,
  ReplicaNode,
  ReplicateResult,
  ReplicaStatus,
  CheckResult,
  PeerFailure,
  StatusEntry,
  RemoteErrorCode,
  ReplicationRequest,
  ReplicationResponse,
} from './replication.js';
export { storeEmr, storeEmrs, openEmr, DEFAULT_STORE_CONCURRENCY } from './emr-blobs.js';
export type { StoredEmr, StoreEmrOptions, StoreEmrsOptions, EmrContentRef, OpenEmrOptions } from './emr-blobs.js';
export { sweepOrphans, ledgerReferences, DEFAULT_ORPHAN_GRACE_MS } from './orphans.js';
export type { LedgerReferences, SweepOptions, SweepResult } from './orphans.js';
export { PIN_METADATA } from './pin-store.js';
