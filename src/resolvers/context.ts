/**
 * What every resolver gets: the node's services, the authenticated caller (if any) and this request's DataLoaders.
 * One context per request, so loaders never share cached ledger reads between callers.
 */
import type { Participant } from '../../chaincode/src/domain/index.js';
import type { PieLedger } from '../chain/pie-ledger.js';
import type { RecordIndex } from '../chain/record-index.js';
import type { CustodyStore } from '../custody/index.js';
import type { BlobRecords } from '../exchange/blob-records.js';
import type { FhirIngest } from '../exchange/ingest.js';
import type { ProxyService } from '../proxy/index.js';
import type { BlobStore } from '../storage/index.js';
import type { Loaders } from './loaders.js';

export interface LedgerStatus {
  channel: string;
  height: number;
  lastBlockHash: string | null;
  /** walks the whole chain; null when this ledger cannot be verified from here (a real Fabric peer) */
  verify(): Promise<{ ok: boolean; problem?: string } | null>;
}

export interface OrgBootstrap {
  /** Registers the organisation's first admin with the one-time code printed at first start. */
  registerFirstAdmin(code: string, keys: { signingKey: string; encryptionKey: string }): Promise<Participant>;
}

/** The node's read model of the ledger's records, fed from blocks (src/chain/read-model-feed.ts). */
export interface RecordReadModel {
  readonly index: RecordIndex;
  /**
   * Whether the index may answer a search that must see every block below `height` (this node's own commits):
   * false at once while it is not caught up with the chain or its block stream is down; waits a bounded time when
   * it is just behind.
   */
  readyFor(height: bigint): Promise<boolean>;
}

export interface NodeServices {
  readonly organisation: string;
  readonly ledger: PieLedger;
  readonly blobs: BlobStore;
  readonly ingest: FhirIngest;
  /** records for content uploaded through POST /blobs */
  readonly blobRecords: BlobRecords;
  readonly custody: CustodyStore;
  /** this node's re-encryption proxies: they release capsule fragments for committed reencrypt operations */
  readonly proxy: ProxyService;
  readonly bootstrap: OrgBootstrap;
  readonly maxPageSize: number;
  /** absent when the read model is switched off: `emrs` then always evaluates the chaincode's SearchRecords */
  readonly recordIndex?: RecordReadModel;
  ledgerStatus(): Promise<LedgerStatus>;
  /** Drops what the node remembers of a participant (its status changed), so its next request sees the ledger's. */
  participantChanged(id: string): void;
  /** A participant's ledger entry as the node's caller cache has it (at most a second old); undefined when unknown. */
  currentParticipant(id: string): Promise<Participant | undefined>;
}

export interface Caller {
  readonly participant: Participant;
  /** the node holds this account's keys (institutional accounts) */
  readonly custodial: boolean;
}

export interface RequestContext {
  readonly services: NodeServices;
  readonly caller?: Caller;
  readonly loaders: Loaders;
}
