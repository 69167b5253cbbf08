/**
 * The request's DataLoaders over the ledger's batch reads: any number of participants or records a GraphQL
 * response needs cost one evaluation per 100 distinct ids, not one per field; records recorded by one transaction
 * (an upload) share one block lookup.
 */
import DataLoader from 'dataloader';
import type { AccessPolicy, EmrRecord, Grant, Participant } from '../../chaincode/src/domain/index.js';
import { LedgerClientError } from '../chain/client.js';
import type { PieLedger } from '../chain/pie-ledger.js';
import { allPages } from './paging.js';

export interface Loaders {
  readonly participant: DataLoader<string, Participant | null>;
  readonly record: DataLoader<string, EmrRecord | null>;
  readonly effectivePolicy: DataLoader<string, AccessPolicy>;
  /** every grant a participant holds (one paged listing per participant) */
  readonly grantsOf: DataLoader<string, Grant[]>;
  /** whether the ledger honours a grant now (IsGrantLive) */
  readonly grantLive: DataLoader<string, boolean>;
  /** the grants one participant holds on one record version, by `grantsOnKey(granteeId, emrId)` */
  readonly grantsOn: DataLoader<string, Grant[]>;
  /** the transaction that recorded a record version (the oldest entry of its history); null without history */
  readonly recordTransaction: DataLoader<string, string | null>;
  /** the number of the block holding a committed transaction (qscc); null while the peer does not know it */
  readonly blockOfTransaction: DataLoader<string, number | null>;
}

const BATCH = 100;

export function createLoaders(ledger: PieLedger): Loaders {
  return {
    participant: new DataLoader((ids: readonly string[]) => ledger.participants(ids), { maxBatchSize: BATCH }),
    record: new DataLoader((ids: readonly string[]) => ledger.records(ids), { maxBatchSize: BATCH }),
    effectivePolicy: new DataLoader((ids: readonly string[]) => Promise.all(ids.map((id) => ledger.effectivePolicy(id)))),
    grantsOf: new DataLoader((ids: readonly string[]) => Promise.all(ids.map((id) => allGrantsOf(ledger, id)))),
    grantLive: new DataLoader((ids: readonly string[]) => Promise.all(ids.map(async (id) => (await ledger.isGrantLive(id)).live))),
    grantsOn: new DataLoader((keys: readonly string[]) =>
      Promise.all(
        keys.map((key) => {
          const [granteeId, emrId] = key.split(' ') as [string, string];
          return allPages((bookmark) => ledger.listGranteeGrants(granteeId, emrId, { pageSize: 500, bookmark }));
        }),
      ),
    ),
    recordTransaction: new DataLoader((ids: readonly string[]) => Promise.all(ids.map(async (id) => (await ledger.history('record', id)).at(-1)?.txId ?? null))),
    // one failed lookup fails its own key only
    blockOfTransaction: new DataLoader((txIds: readonly string[]) => Promise.all(txIds.map((txId) => blockNumberOf(ledger, txId).catch((e: unknown) => asError(e))))),
  };
}

/** The grantsOn key of a grantee and a record (ids never contain a space). */
export const grantsOnKey = (granteeId: string, emrId: string): string => `${granteeId} ${emrId}`;

const allGrantsOf = (ledger: PieLedger, granteeId: string): Promise<Grant[]> =>
  allPages((bookmark) => ledger.listGrants('grantee', granteeId, { pageSize: 500, bookmark }));

async function blockNumberOf(ledger: PieLedger, txId: string): Promise<number | null> {
  try {
    return Number(await ledger.transactionBlockNumber(txId));
  } catch (e) {
    if (e instanceof LedgerClientError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
