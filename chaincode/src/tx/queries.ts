/**
 * Read-only queries: paged index scans (composite keys, so they run on LevelDB as well as CouchDB), key history
 * for audit, and credit balances. Fabric allows paged scans only in evaluate transactions.
 */
import {
  EMERGENCY_GRANT_INDEX,
  GRANT_INDEXES,
  OBJECT_TYPES,
  OPERATION_INDEXES,
  RECORD_INDEXES,
  REQUEST_INDEXES,
  indexQuery,
  invalid,
  mspId,
  parseProxyId,
  participantId,
} from '../domain/index.js';
import type { AccessRequest, CreditHolderType, EmrRecord, Grant, IndexDefinition, OperationRecord } from '../domain/index.js';
import type { HistoryEntry, Ledger, Store, StoredObject } from '../ledger.js';
import { bookmarkArgument, idArgument, jsonArgument, pageSizeArgument, textArgument } from './args.js';

export interface Page {
  readonly bookmark: string;
  /** how many index entries this page read */
  readonly fetched: number;
}

function choice<T extends string>(text: string, field: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(text)) throw invalid(field, `must be one of ${values.join(', ')}`);
  return text as T;
}

/** One page of the objects an index lists under the leading `values`. */
async function scan<S extends Store>(
  l: Ledger,
  store: S,
  index: IndexDefinition,
  values: readonly string[],
  pageSize: string,
  bookmark: string,
  minValues = 1,
): Promise<Page & { items: StoredObject<S>[] }> {
  const page = await l.page(index.objectType, indexQuery(index, values, minValues), pageSizeArgument(pageSize), bookmarkArgument(bookmark));
  const items: StoredObject<S>[] = [];
  for (const id of page.ids) items.push(await l.require(store, id));
  return { items, bookmark: page.bookmark, fetched: page.fetched };
}

const RECORD_INDEX_NAMES = Object.keys(RECORD_INDEXES) as (keyof typeof RECORD_INDEXES)[];

/**
 * SearchRecords(index, valuesJson, pageSize, bookmark): records by patient, author, hospital, category, level, code,
 * year, gender, age band or CID; no values (`[]`) lists every record in the index's order.
 */
export async function searchRecords(l: Ledger, index: string, valuesJson: string, pageSize: string, bookmark: string): Promise<Page & { records: EmrRecord[] }> {
  const name = choice(index, 'index', RECORD_INDEX_NAMES);
  const values = jsonArgument(valuesJson, 'values');
  if (!Array.isArray(values) || !values.every((v): v is string => typeof v === 'string')) throw invalid('values', 'must be a JSON array of strings');
  const { items, ...page } = await scan(l, 'record', RECORD_INDEXES[name], values, pageSize, bookmark, 0);
  return { records: items, ...page };
}

/** ListRequests(by, id): the requests for a record, of a requester, or for any of a patient's records. */
export async function listRequests(l: Ledger, by: string, id: string, pageSize: string, bookmark: string): Promise<Page & { requests: AccessRequest[] }> {
  const key = choice(by, 'by', ['record', 'requester', 'patient'] as const);
  const value = key === 'record' ? idArgument(id, 'id') : participantId(id, 'id');
  const { items, ...page } = await scan(l, 'request', REQUEST_INDEXES[key], [value], pageSize, bookmark);
  return { requests: items, ...page };
}

/** ListGrants(by, id): the grants on a record, given to a grantee, or on any of a patient's records (emergency ones too). */
export async function listGrants(l: Ledger, by: string, id: string, pageSize: string, bookmark: string): Promise<Page & { grants: Grant[] }> {
  const key = choice(by, 'by', ['record', 'grantee', 'patient'] as const);
  const value = key === 'record' ? idArgument(id, 'id') : participantId(id, 'id');
  const { items, ...page } = await scan(l, 'grant', GRANT_INDEXES[key], [value], pageSize, bookmark);
  return { grants: items, ...page };
}

/** ListGranteeGrants(granteeId, emrId): the grants one grantee holds on one record version. */
export async function listGranteeGrants(l: Ledger, granteeId: string, emrId: string, pageSize: string, bookmark: string): Promise<Page & { grants: Grant[] }> {
  const values = [participantId(granteeId, 'granteeId'), idArgument(emrId, 'emrId')];
  const { items, ...page } = await scan(l, 'grant', GRANT_INDEXES.granteeRecord, values, pageSize, bookmark);
  return { grants: items, ...page };
}

/** ListOperations(by, id, pageSize, bookmark): the operation records of one record version (`by` = 'record'). */
export async function listOperations(l: Ledger, by: string, id: string, pageSize: string, bookmark: string): Promise<Page & { operations: OperationRecord[] }> {
  const key = choice(by, 'by', ['record'] as const);
  const { items, ...page } = await scan(l, 'operation', OPERATION_INDEXES[key], [idArgument(id, 'id')], pageSize, bookmark);
  return { operations: items, ...page };
}

/** Every break-glass grant on a patient's records. */
export async function listEmergencyGrants(l: Ledger, patientId: string, pageSize: string, bookmark: string): Promise<Page & { grants: Grant[] }> {
  const { items, ...page } = await scan(l, 'grant', EMERGENCY_GRANT_INDEX, [participantId(patientId, 'patientId')], pageSize, bookmark);
  return { grants: items, ...page };
}

export const HISTORY_OBJECT_TYPES = ['participant', 'record', 'request', 'grant', 'operation', 'proxy', 'policy', 'patient-policy', 'credit'] as const;

/** The state key GetHistory reads for an object type and id (`policy`: any version of the chain; `credit`: `participant:<id>` or `org:<msp>`). */
async function historyKey(l: Ledger, objectType: string, id: string): Promise<string> {
  switch (choice(objectType, 'objectType', HISTORY_OBJECT_TYPES)) {
    case 'participant':
      return l.key(OBJECT_TYPES.participant, participantId(id, 'id'));
    case 'record':
      return l.key(OBJECT_TYPES.record, idArgument(id, 'id'));
    case 'request':
      return l.key(OBJECT_TYPES.request, idArgument(id, 'id'));
    case 'grant':
      return l.key(OBJECT_TYPES.grant, idArgument(id, 'id'));
    case 'operation':
      return l.key(OBJECT_TYPES.operation, idArgument(id, 'id'));
    case 'proxy':
      return l.key(OBJECT_TYPES.proxy, parseProxyId(id, 'id').id);
    case 'policy':
      return l.key(OBJECT_TYPES.recordPolicy, await l.rootOf(idArgument(id, 'id')));
    case 'patient-policy':
      return l.key(OBJECT_TYPES.patientPolicy, participantId(id, 'id'));
    case 'credit': {
      const text = textArgument(id, 'id', 128);
      const i = text.indexOf(':');
      const holderType = choice(text.slice(0, Math.max(i, 0)), 'id', ['participant', 'org'] as const);
      return l.key(OBJECT_TYPES.credit, ...creditHolder(holderType, text.slice(i + 1), 'id'));
    }
  }
}

/** GetHistory(objectType, id): every committed change of the object, as Fabric's history database has it. */
export async function getHistory(l: Ledger, objectType: string, id: string): Promise<HistoryEntry[]> {
  return l.history(await historyKey(l, objectType, id));
}

function creditHolder(holderType: CreditHolderType, holderId: string, field: string): [CreditHolderType, string] {
  return [holderType, holderType === 'participant' ? participantId(holderId, field) : mspId(holderId, field)];
}

/** GetCredits(holderType, holderId): the balance, 0 when the holder has earned nothing yet. */
export async function getCredits(l: Ledger, holderTypeText: string, holderIdText: string): Promise<number> {
  const [holderType, holderId] = creditHolder(choice(holderTypeText, 'holderType', ['participant', 'org'] as const), holderIdText, 'holderId');
  return (await l.credit(holderType, holderId))?.balance ?? 0;
}
