/**
 * The request's DataLoaders over the ledger's batch reads: any number of participants or records a GraphQL
 * response needs cost one evaluation per 100 distinct ids, not one per field.
 */
import DataLoader from 'dataloader';
import type { AccessPolicy, EmrRecord, Grant, Participant } from '../../chaincode/src/domain/index.js';
import type { PieLedger } from '../chain/pie-ledger.js';
import { allPages } from './paging.js';

export interface Loaders {
  readonly participant: DataLoader<string, Participant | null>;
  readonly record: DataLoader<string, EmrRecord | null>;
  readonly effectivePolicy: DataLoader<string, AccessPolicy>;
  /** every grant a participant holds (one paged listing per participant) */
  readonly grantsOf: DataLoader<string, Grant[]>;
}

const BATCH = 100;

export function createLoaders(ledger: PieLedger): Loaders {
  return {
    participant: new DataLoader((ids: readonly string[]) => ledger.participants(ids), { maxBatchSize: BATCH }),
    record: new DataLoader((ids: readonly string[]) => ledger.records(ids), { maxBatchSize: BATCH }),
    effectivePolicy: new DataLoader((ids: readonly string[]) => Promise.all(ids.map((id) => ledger.effectivePolicy(id)))),
    grantsOf: new DataLoader((ids: readonly string[]) => Promise.all(ids.map((id) => allGrantsOf(ledger, id)))),
  };
}

const allGrantsOf = (ledger: PieLedger, granteeId: string): Promise<Grant[]> =>
  allPages((bookmark) => ledger.listGrants('grantee', granteeId, { pageSize: 500, bookmark }));
