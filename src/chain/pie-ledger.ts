/**
 * The PIE contract's operations, typed, over a LedgerClient. Organisation-level operations (registering
 * participants, relaying signed records) run under the node's Fabric identity; participant-level operations take a
 * `SignedAction` that the participant's own client signed (see `signAction`), so the node can relay but never forge
 * them. Queries return the contract's JSON as the domain types.
 */
import type {
  AccessPolicy,
  AccessRequest,
  ActionType,
  CreditHolderType,
  EmrRecord,
  Grant,
  GrantLiveness,
  OperationRecord,
  Participant,
  ParticipantKind,
  RegisteredProxy,
  ParticipantStatus,
  RecordIndexName,
  SecurityLevel,
  SignedAction,
} from '../../chaincode/src/domain/index.js';
import { ID_PATTERN } from '../../chaincode/src/domain/index.js';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/participant.js';
import { MAX_BATCH_IDS, pageSizeArgument } from '../../chaincode/src/tx/args.js';
import type { ChainInfo, LedgerClient, LedgerEvent, SubmitResult } from './client.js';
import type { LedgerView } from './ledger-view.js';

/** The transaction each signed action type goes to. */
export const ACTION_TRANSACTIONS: Readonly<Record<ActionType, string>> = Object.freeze({
  'set-patient-policy': 'SetPatientPolicy',
  'set-record-policy': 'SetRecordPolicy',
  'request-access': 'RequestAccess',
  'approve-request': 'ApproveRequest',
  'deny-request': 'DenyRequest',
  'grant-access': 'GrantAccess',
  'revoke-grant': 'RevokeGrant',
  'break-glass': 'BreakGlass',
  'record-operation': 'RecordOperation',
});

/**
 * A participant's client signs an action with the participant's signing key (never sent anywhere). The signature
 * binds the type, actor, time, a fresh nonce, the payload and the channel; the contract accepts it once. The one
 * signer is the client SDK's (browser-safe); the node uses it for custodial accounts.
 */
export { signActionWith as signAction } from '../client/sign.js';

export interface ParticipantRegistration {
  kind: ParticipantKind;
  clearance: SecurityLevel;
  signingKey: string;
  encryptionKey: string;
  roles: string[];
}

/** A record as its author's client signs it: everything but the timestamp, which the contract sets. */
export type SignedRecordInput = Omit<EmrRecord, 'timestamp'>;

export interface Page<T> {
  items: T[];
  /** pass back to get the next page; empty when there is none */
  bookmark: string;
}

export interface HistoryEntry<T = unknown> {
  txId: string;
  timestamp: string;
  isDelete: boolean;
  value: T | null;
}

/** History keys; a credit's id is `participant:<id>` or `org:<msp>`, a policy's any version id of the record. */
export type HistoryObjectType = 'participant' | 'record' | 'request' | 'grant' | 'operation' | 'proxy' | 'policy' | 'patient-policy' | 'credit';

const pageArgs = (page: { pageSize?: number; bookmark?: string } = {}): [string, string] => [page.pageSize === undefined ? '' : String(page.pageSize), page.bookmark ?? ''];

/** How many records PieLedger keeps (≈1–2 kB each). */
const RECORD_CACHE = 20_000;
/** How long the list of registered proxies is reused. */
const PROXY_LIST_TTL_MS = 30_000;

/** How many transaction → block numbers PieLedger remembers (a committed transaction never moves). */
const TX_BLOCK_CACHE = 10_000;

/** The node's read model as PieLedger reads it (read-model-feed.ts). */
export interface LedgerReadModel {
  readonly view: LedgerView;
  /**
   * Whether the view has applied every block below `height`: false at once while it is not caught up with the chain
   * or its block stream is down; waits a bounded time when it is just behind.
   */
  readyFor(height: bigint): Promise<boolean>;
}

/** Ids (and, below, id lists and page sizes) the chaincode would take: it refuses others with its own message, so those are left to it. */
const isObjectId = (id: string): boolean => typeof id === 'string' && id.length <= 128 && ID_PATTERN.test(id);
const isParticipantId = (id: string): boolean => typeof id === 'string' && PARTICIPANT_ID.test(id);
/** The chaincode's page size for `page` (its default when unset), or undefined when the chaincode would refuse it. */
function pageSizeOf(page: { pageSize?: number } | undefined): number | undefined {
  try {
    return pageSizeArgument(pageArgs(page)[0]);
  } catch {
    return undefined;
  }
}

export class PieLedger {
  /** committed transactions' block numbers, oldest insertion first */
  readonly #txBlocks = new Map<string, bigint>();
  /** records read, by id (immutable once written), oldest use first */
  readonly #records = new Map<string, EmrRecord>();
  #proxies: { at: number; list: RegisteredProxy[] } | undefined;
  /** one past the newest block holding a transaction this PieLedger submitted */
  #committedHeight = 0n;
  #readModel: LedgerReadModel | undefined;

  constructor(readonly client: LedgerClient) {}

  /**
   * From now on participants, requests, grants, a grantee's grants on a record and grant liveness are read from the
   * node's read model whenever it has seen every block of this node's own commits (read-your-writes), and evaluated
   * on the peer otherwise. The model answers as the chaincode would at the model's height, which holds every block
   * of this node's own commits but may lack, for the moment of its delivery, another node's newest block (as an
   * evaluation on a peer that has not committed it yet would); it saves the evaluation. What the view does not hold
   * (an id it has not seen: unknown, or written in a block still on its way) is asked of the chaincode, so a
   * NOT_FOUND is always the chaincode's and an object another node has just written is found.
   */
  useReadModel(model: LedgerReadModel): void {
    this.#readModel = model;
  }

  /** The read model's view when it may answer (caught up with this node's commits); undefined: evaluate instead. */
  async #view(): Promise<LedgerView | undefined> {
    const model = this.#readModel;
    if (model === undefined) return undefined;
    return (await model.readyFor(this.#committedHeight)) ? model.view : undefined;
  }

  get channel(): string {
    return this.client.config.channel;
  }

  /**
   * One past the number of the newest block that holds a transaction submitted through this PieLedger: a read model
   * fed from blocks (the record index) has seen this node's own writes once its height reaches this.
   */
  get committedHeight(): bigint {
    return this.#committedHeight;
  }

  // ---- organisation operations (the caller's Fabric identity) ----

  registerParticipant(input: ParticipantRegistration): Promise<SubmitResult<Participant>> {
    return this.#submit('RegisterParticipant', JSON.stringify(input));
  }

  setParticipantStatus(participantId: string, status: ParticipantStatus): Promise<SubmitResult<Participant>> {
    return this.#submit('SetParticipantStatus', participantId, status);
  }

  /** Registers one of this organisation's re-encryption proxies (`<msp>.proxy.<n>`); the same id and key again is a no-op. */
  async registerProxy(input: { id: string; encryptionKey: string }): Promise<SubmitResult<RegisteredProxy>> {
    try {
      return await this.#submit('RegisterProxy', JSON.stringify({ id: input.id, encryptionKey: input.encryptionKey }));
    } finally {
      this.#proxies = undefined; // the kept list may lack it now
    }
  }

  /** Relays a record signed by its author (the submitting organisation must be the author's). */
  async createRecord(record: SignedRecordInput): Promise<SubmitResult<EmrRecord>> {
    return this.#remember(await this.#submit<EmrRecord>('CreateRecord', JSON.stringify(record)));
  }

  /** Relays several first versions in one transaction: all are recorded or none (at most MAX_BATCH_RECORDS). */
  async createRecords(records: readonly SignedRecordInput[]): Promise<SubmitResult<EmrRecord[]>> {
    return this.#remember(await this.#submit<EmrRecord[]>('CreateRecords', JSON.stringify(records)));
  }

  // ---- participant operations (a SignedAction from the participant's client) ----

  /** Relays a signed action to its transaction. */
  submitAction<T = unknown>(action: SignedAction): Promise<SubmitResult<T>> {
    return this.#submit(ACTION_TRANSACTIONS[action.type], JSON.stringify(action));
  }

  /** Every submit goes through here, so that committedHeight knows this node's newest commit. */
  async #submit<T>(fn: string, ...args: string[]): Promise<SubmitResult<T>> {
    const committed = await this.client.submit<T>(fn, ...args);
    if (committed.blockNumber >= this.#committedHeight) this.#committedHeight = committed.blockNumber + 1n;
    return committed;
  }

  // ---- queries ----

  async participant(id: string): Promise<Participant> {
    const view = isParticipantId(id) ? await this.#view() : undefined;
    return view?.participant(id) ?? this.client.evaluate('GetParticipant', id);
  }
  /** Up to 100 ids, from the read model when it holds them all, else in one evaluation; null where an id is unknown. */
  async participants(ids: readonly string[]): Promise<(Participant | null)[]> {
    const view = ids.length > 0 && ids.length <= MAX_BATCH_IDS && ids.every(isParticipantId) ? await this.#view() : undefined;
    if (view !== undefined) {
      const seen = ids.map((id) => view.participant(id) ?? null);
      if (seen.every((p) => p !== null)) return seen;
    }
    return this.client.evaluate('GetParticipants', JSON.stringify(ids));
  }
  /** One evaluation for up to 100 ids; null where an id is unknown. */
  async records(ids: readonly string[]): Promise<(EmrRecord | null)[]> {
    const missing = [...new Set(ids.filter((id) => !this.#records.has(id)))];
    if (missing.length > 0) {
      const found = await this.client.evaluate<(EmrRecord | null)[]>('GetRecords', JSON.stringify(missing));
      found.forEach((r) => r !== null && this.#rememberRecord(r));
    }
    return ids.map((id) => this.#records.get(id) ?? null);
  }
  async record(id: string): Promise<EmrRecord> {
    return this.#records.get(id) ?? this.#rememberRecord(await this.client.evaluate<EmrRecord>('GetRecord', id));
  }

  /** A record never changes once written (a new version is a new record), so what was read once is kept (LRU). */
  #rememberRecord(r: EmrRecord): EmrRecord {
    this.#records.delete(r.id);
    if (this.#records.size >= RECORD_CACHE) this.#records.delete(this.#records.keys().next().value!);
    this.#records.set(r.id, r);
    return r;
  }
  recordHead(id: string): Promise<EmrRecord> {
    return this.client.evaluate('GetRecordHead', id);
  }
  recordVersions(id: string): Promise<EmrRecord[]> {
    return this.client.evaluate('GetRecordVersions', id);
  }
  async searchRecords(index: RecordIndexName, values: readonly string[], page?: { pageSize?: number; bookmark?: string }): Promise<Page<EmrRecord>> {
    const r = await this.client.evaluate<{ records: EmrRecord[]; bookmark: string }>('SearchRecords', index, JSON.stringify(values), ...pageArgs(page));
    return { items: r.records, bookmark: r.bookmark };
  }
  effectivePolicy(emrId: string): Promise<AccessPolicy> {
    return this.client.evaluate('GetEffectivePolicy', emrId);
  }
  patientPolicy(patientId: string): Promise<AccessPolicy> {
    return this.client.evaluate('GetPatientPolicy', patientId);
  }
  async request(id: string): Promise<AccessRequest> {
    const view = isObjectId(id) ? await this.#view() : undefined;
    return view?.request(id) ?? this.client.evaluate('GetRequest', id);
  }
  async grant(id: string): Promise<Grant> {
    const view = isObjectId(id) ? await this.#view() : undefined;
    return view?.grant(id) ?? this.client.evaluate('GetGrant', id);
  }
  /** Whether the grant may be used now; when not, the reason (REVOKED, EXPIRED, SUPERSEDED, …) and a message. */
  async isGrantLive(id: string): Promise<GrantLiveness> {
    const view = isObjectId(id) ? await this.#view() : undefined;
    if (view !== undefined) {
      const liveness = view.grantLiveness(id, new Date().toISOString());
      if (liveness !== undefined) return liveness;
    }
    return this.client.evaluate('IsGrantLive', id);
  }
  async listRequests(by: 'record' | 'requester' | 'patient', id: string, page?: { pageSize?: number; bookmark?: string }): Promise<Page<AccessRequest>> {
    const r = await this.client.evaluate<{ requests: AccessRequest[]; bookmark: string }>('ListRequests', by, id, ...pageArgs(page));
    return { items: r.requests, bookmark: r.bookmark };
  }
  /** The grants one grantee holds on one record version. */
  async listGranteeGrants(granteeId: string, emrId: string, page?: { pageSize?: number; bookmark?: string }): Promise<Page<Grant>> {
    // the view answers a first page that holds them all; a continuation, a page too small for them all (its bookmark
    // is the chaincode's to make) or a page size the chaincode refuses is the chaincode's
    const pageSize = pageSizeOf(page);
    const view = isParticipantId(granteeId) && isObjectId(emrId) && pageSize !== undefined && (page?.bookmark ?? '') === '' ? await this.#view() : undefined;
    if (view !== undefined) {
      const items = view.granteeGrants(granteeId, emrId);
      if (items.length <= pageSize!) return { items, bookmark: '' };
    }
    const r = await this.client.evaluate<{ grants: Grant[]; bookmark: string }>('ListGranteeGrants', granteeId, emrId, ...pageArgs(page));
    return { items: r.grants, bookmark: r.bookmark };
  }
  async listGrants(by: 'record' | 'grantee' | 'patient', id: string, page?: { pageSize?: number; bookmark?: string }): Promise<Page<Grant>> {
    const r = await this.client.evaluate<{ grants: Grant[]; bookmark: string }>('ListGrants', by, id, ...pageArgs(page));
    return { items: r.grants, bookmark: r.bookmark };
  }
  async listEmergencyGrants(patientId: string, page?: { pageSize?: number; bookmark?: string }): Promise<Page<Grant>> {
    const r = await this.client.evaluate<{ grants: Grant[]; bookmark: string }>('ListEmergencyGrants', patientId, ...pageArgs(page));
    return { items: r.grants, bookmark: r.bookmark };
  }
  /** The operation records of one record version (each version has its own). */
  async listOperations(by: 'record', id: string, page?: { pageSize?: number; bookmark?: string }): Promise<Page<OperationRecord>> {
    const r = await this.client.evaluate<{ operations: OperationRecord[]; bookmark: string }>('ListOperations', by, id, ...pageArgs(page));
    return { items: r.operations, bookmark: r.bookmark };
  }
  operation(id: string): Promise<OperationRecord> {
    return this.client.evaluate('GetOperation', id);
  }
  /**
   * Every registered re-encryption proxy of the channel, in id order. A proxy never changes once registered (its key
   * is fixed) and is never removed, so the list is kept for PROXY_LIST_TTL_MS; `fresh` reads the ledger again (a
   * proxy id not in the kept list may have been registered since).
   */
  async proxies(opts: { fresh?: boolean } = {}): Promise<RegisteredProxy[]> {
    const kept = this.#proxies;
    if (opts.fresh !== true && kept !== undefined && performance.now() - kept.at < PROXY_LIST_TTL_MS) return kept.list;
    const list = await this.client.evaluate<RegisteredProxy[]>('GetProxies');
    this.#proxies = { at: performance.now(), list };
    return list;
  }
  history<T = unknown>(objectType: HistoryObjectType, id: string): Promise<HistoryEntry<T>[]> {
    return this.client.evaluate('GetHistory', objectType, id);
  }
  /** The credit balance of a participant or an organisation (0 before any credit). */
  credits(holderType: CreditHolderType, holderId: string): Promise<number> {
    return this.client.evaluate('GetCredits', holderType, holderId);
  }

  // ---- the chain (Fabric's qscc) ----

  /** Height and the newest block's hashes, as the gateway peer has them. */
  chainInfo(): Promise<ChainInfo> {
    return this.client.chainInfo();
  }

  /**
   * The number of the block holding a committed transaction (NOT_FOUND while the peer does not know it). Answers are
   * remembered: qscc can only answer with the whole block, and a committed transaction never moves.
   */
  async transactionBlockNumber(txId: string): Promise<bigint> {
    const known = this.#txBlocks.get(txId);
    if (known !== undefined) return known;
    const n = await this.client.transactionBlockNumber(txId);
    this.#remember({ transactionId: txId, blockNumber: n });
    return n;
  }

  #remember<T extends { transactionId: string; blockNumber: bigint }>(committed: T): T {
    if (this.#txBlocks.size >= TX_BLOCK_CACHE) this.#txBlocks.delete(this.#txBlocks.keys().next().value!);
    this.#txBlocks.set(committed.transactionId, committed.blockNumber);
    return committed;
  }

  /** The contract's events (RecordCreated, RecordsCreated, AccessRequested, AccessGranted, GrantRevoked, BreakGlass, …). */
  events(opts?: Parameters<LedgerClient['events']>[0]): AsyncGenerator<LedgerEvent<Record<string, unknown>>> {
    return this.client.events(opts);
  }
}
