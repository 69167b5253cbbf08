/**
 * Typed world-state access over ChaincodeStub: domain objects by type and id (canonical JSON, re-validated by the
 * domain parsers on every read), index entries, paged index scans, key history, credits, signed-action replay
 * markers and the transaction's single event.
 *
 * Fabric does not show a transaction its own writes (getState returns the committed value), so transactions read
 * everything they need before they write.
 */
import type { Context } from 'fabric-contract-api';
import {
  ContractError,
  DEFAULT_POLICY,
  OBJECT_TYPES,
  applyCredit,
  canonicalJson,
  invalid,
  isoFromTxTimestamp,
  parseAccessPolicy,
  parseAccessRequest,
  parseCreditBalance,
  parseEmrRecord,
  parseGrant,
  parseOperationRecord,
  parseParticipant,
  parseProxy,
} from './domain/index.js';
import type { AccessPolicy, CreditBalance, CreditEntry, CreditHolderType, EmrRecord, IndexEntry } from './domain/index.js';

type Stub = Context['stub'];

/** The primary-keyed object stores: [object type, domain parser, noun for messages]. */
const STORES = {
  participant: { type: OBJECT_TYPES.participant, parse: parseParticipant, noun: 'participant' },
  record: { type: OBJECT_TYPES.record, parse: parseEmrRecord, noun: 'record' },
  request: { type: OBJECT_TYPES.request, parse: parseAccessRequest, noun: 'request' },
  grant: { type: OBJECT_TYPES.grant, parse: parseGrant, noun: 'grant' },
  operation: { type: OBJECT_TYPES.operation, parse: parseOperationRecord, noun: 'operation' },
  proxy: { type: OBJECT_TYPES.proxy, parse: parseProxy, noun: 'proxy' },
} as const;
export type Store = keyof typeof STORES;
export type StoredObject<S extends Store> = ReturnType<(typeof STORES)[S]['parse']>;

/** One page of an index scan: the indexed objects' ids (the last key attribute) and the bookmark of the next page. */
export interface IdPage {
  readonly ids: string[];
  readonly bookmark: string;
  readonly fetched: number;
}

export interface HistoryEntry {
  readonly txId: string;
  readonly timestamp: string;
  readonly isDelete: boolean;
  readonly value: unknown;
}

/** Index entries carry no data; Fabric refuses empty values in some versions, hence one zero byte. */
const INDEX_VALUE = Buffer.from([0]);

const decode = (bytes: Uint8Array | undefined): string | undefined =>
  bytes && bytes.length > 0 ? Buffer.from(bytes).toString('utf8') : undefined;

export class Ledger {
  private readonly stub: Stub;
  private nowIso?: string;

  constructor(private readonly ctx: Context) {
    this.stub = ctx.stub;
  }

  /** The transaction's timestamp (ISO, ms): the contract's only clock. */
  get now(): string {
    return (this.nowIso ??= isoFromTxTimestamp(this.stub.getTxTimestamp()));
  }
  get txId(): string {
    return this.stub.getTxID();
  }
  get channel(): string {
    return this.stub.getChannelID();
  }
  /** MSP id of the submitting Fabric identity (its organisation). */
  get callerMsp(): string {
    return this.ctx.clientIdentity.getMSPID();
  }
  /** The Fabric CA attribute `role` of the submitting identity (`admin` for an organisation's administrator). */
  get callerRole(): string | undefined {
    return this.ctx.clientIdentity.getAttributeValue('role') ?? undefined;
  }

  key(objectType: string, ...attributes: string[]): string {
    return this.stub.createCompositeKey(objectType, attributes);
  }

  // ---- raw values -------------------------------------------------------------------------------------------------

  async readText(key: string): Promise<string | undefined> {
    return decode(await this.stub.getState(key));
  }
  async writeText(key: string, text: string): Promise<void> {
    await this.stub.putState(key, Buffer.from(text, 'utf8'));
  }
  async readJson(key: string): Promise<unknown> {
    const text = await this.readText(key);
    return text === undefined ? undefined : JSON.parse(text);
  }
  async writeJson(key: string, value: unknown): Promise<void> {
    await this.writeText(key, canonicalJson(value));
  }
  async has(key: string): Promise<boolean> {
    return (await this.readText(key)) !== undefined;
  }
  async remove(key: string): Promise<void> {
    await this.stub.deleteState(key);
  }

  // ---- domain objects ---------------------------------------------------------------------------------------------

  async get<S extends Store>(store: S, id: string): Promise<StoredObject<S> | undefined> {
    const { type, parse } = STORES[store];
    const value = await this.readJson(this.key(type, id));
    return value === undefined ? undefined : (parse(value) as StoredObject<S>);
  }

  /** The object, or NOT_FOUND naming it. */
  async require<S extends Store>(store: S, id: string): Promise<StoredObject<S>> {
    const found = await this.get(store, id);
    if (found === undefined) throw new ContractError('NOT_FOUND', `${STORES[store].noun} ${id} not found`);
    return found;
  }

  async exists(store: Store, id: string): Promise<boolean> {
    return this.has(this.key(STORES[store].type, id));
  }

  async put<S extends Store>(store: S, value: StoredObject<S>): Promise<void> {
    await this.writeJson(this.key(STORES[store].type, value.id), value);
  }

  // ---- indexes ----------------------------------------------------------------------------------------------------

  async writeIndex(entries: readonly IndexEntry[]): Promise<void> {
    for (const e of entries) await this.stub.putState(this.key(e.objectType, ...e.attributes), INDEX_VALUE);
  }

  /** A page of ids from an index scan by leading attributes (Fabric allows paged scans only in evaluate transactions). */
  async page(objectType: string, attributes: readonly string[], pageSize: number, bookmark: string): Promise<IdPage> {
    const { iterator, metadata } = await this.stub.getStateByPartialCompositeKeyWithPagination(objectType, [...attributes], pageSize, bookmark);
    const ids: string[] = [];
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.value) {
          const id = this.stub.splitCompositeKey(next.value.key).attributes.at(-1);
          if (id !== undefined) ids.push(id);
        }
        if (next.done) break;
      }
    } finally {
      await iterator.close();
    }
    return { ids, bookmark: metadata?.bookmark ?? '', fetched: metadata?.fetchedRecordsCount ?? ids.length };
  }

  /** Every committed version of a key, newest first as Fabric returns them, values parsed (null when deleted). */
  async history(key: string): Promise<HistoryEntry[]> {
    const iterator = await this.stub.getHistoryForKey(key);
    const out: HistoryEntry[] = [];
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.value) {
          const m = next.value;
          const text = decode(m.value);
          out.push({
            txId: m.txId,
            timestamp: isoFromTxTimestamp(m.timestamp),
            isDelete: Boolean(m.isDelete),
            value: m.isDelete || text === undefined ? null : JSON.parse(text),
          });
        }
        if (next.done) break;
      }
    } finally {
      await iterator.close();
    }
    return out;
  }

  // ---- record chains and policies ---------------------------------------------------------------------------------

  /** The first version's id of the chain that contains `recordId`. */
  async rootOf(recordId: string): Promise<string> {
    const root = await this.readText(this.key(OBJECT_TYPES.recordRoot, recordId));
    if (root === undefined) throw new ContractError('NOT_FOUND', `record ${recordId} not found`);
    return root;
  }
  async headOf(rootId: string): Promise<string> {
    const head = await this.readText(this.key(OBJECT_TYPES.recordHead, rootId));
    if (head === undefined) throw new ContractError('NOT_FOUND', `record chain ${rootId} not found`);
    return head;
  }
  async headOfChainContaining(recordId: string): Promise<string> {
    return this.headOf(await this.rootOf(recordId));
  }

  /** CONFLICT unless `recordId` is the newest version of its chain. */
  async requireHead(recordId: string): Promise<void> {
    const head = await this.headOfChainContaining(recordId);
    if (head !== recordId) throw new ContractError('CONFLICT', `record ${recordId} is superseded by ${head}`);
  }

  /** The patient's policy for records created from now on (DEFAULT_POLICY until the patient sets one). */
  async patientPolicy(patientId: string): Promise<AccessPolicy> {
    const stored = await this.readJson(this.key(OBJECT_TYPES.patientPolicy, patientId));
    return stored === undefined ? DEFAULT_POLICY : parseAccessPolicy(stored);
  }

  /** The policy that governs `record`: the chain's policy once the patient set one, else the record's own. */
  async effectivePolicy(record: EmrRecord): Promise<AccessPolicy> {
    const stored = await this.readJson(this.key(OBJECT_TYPES.recordPolicy, await this.rootOf(record.id)));
    return stored === undefined ? record.policy : parseAccessPolicy(stored);
  }

  /** The record as access checks must see it: with its effective policy. */
  async governed(record: EmrRecord): Promise<EmrRecord> {
    return { ...record, policy: await this.effectivePolicy(record) };
  }

  // ---- credits ----------------------------------------------------------------------------------------------------

  async credit(holderType: CreditHolderType, holderId: string): Promise<CreditBalance | undefined> {
    const stored = await this.readJson(this.key(OBJECT_TYPES.credit, holderType, holderId));
    return stored === undefined ? undefined : parseCreditBalance(stored);
  }

  /** Applies credit entries (each holder at most once per transaction: Fabric does not read its own writes). */
  async addCredits(entries: readonly CreditEntry[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of entries) {
      const key = this.key(OBJECT_TYPES.credit, e.holderType, e.holderId);
      if (seen.has(key)) throw invalid('credit', `${e.holderType} ${e.holderId} credited twice in one transaction`);
      seen.add(key);
      await this.writeJson(key, applyCredit(await this.credit(e.holderType, e.holderId), e));
    }
  }

  // ---- signed actions and events ----------------------------------------------------------------------------------

  /** Records that a signed action (by the digest of its signed bytes) is used; CONFLICT if it was used before. */
  async useAction(digest: string, marker: { readonly type: string; readonly actorId: string }): Promise<void> {
    const key = this.key(OBJECT_TYPES.action, digest);
    const used = (await this.readJson(key)) as { txId?: string } | undefined;
    if (used !== undefined) throw new ContractError('CONFLICT', `action: this signed action was already used (transaction ${used.txId ?? 'unknown'}); sign a new one`);
    await this.writeJson(key, { ...marker, txId: this.txId, usedAt: this.now });
  }

  /** The transaction's event (Fabric keeps only the last setEvent of a transaction, so each submit emits one). */
  emit(name: string, payload: unknown): void {
    this.stub.setEvent(name, Buffer.from(canonicalJson(payload), 'utf8'));
  }
}
