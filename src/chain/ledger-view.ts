/**
 * The node's read model of the sharing state: participants, access requests, grants (with the chaincode's
 * grantee-and-record index) and record chains (each version's first version, each chain's newest version), built
 * only from committed blocks (state-writes.ts), block by block, exactly as the chaincode stored them. At `height` it
 * answers what the chaincode's GetParticipant(s), GetRequest, GetGrant, ListGranteeGrants and IsGrantLive would
 * answer on a peer at that height, without an evaluation; PieLedger reads it when it is caught up (pie-ledger.ts).
 *
 * Objects are parsed with the contract's own parsers and frozen (every reader shares them). A value that does not
 * parse, or is filed under another id, in a VALID transaction means the view cannot be trusted: BlockReadError,
 * never a skipped object.
 */
import { OBJECT_TYPES, grantLiveness, parseAccessRequest, parseGrant, parseParticipant } from '../../chaincode/src/domain/index.js';
import type { AccessRequest, Grant, GrantLiveness, Participant } from '../../chaincode/src/domain/index.js';
import { BlockReadError, primaryKeyId, storedObject } from './state-writes.js';
import type { StateWrite } from './state-writes.js';

const granteeRecordKey = (granteeId: string, emrId: string): string => `${granteeId}\u0000${emrId}`;

export class LedgerView {
  readonly #participants = new Map<string, Participant>();
  readonly #requests = new Map<string, AccessRequest>();
  readonly #grants = new Map<string, Grant>();
  /** grantee and record → the ids of the grantee's grants on that record version */
  readonly #granteeGrants = new Map<string, Set<string>>();
  /** record id → the id of its chain's first version */
  readonly #roots = new Map<string, string>();
  /** first version's id → the chain's newest version */
  readonly #heads = new Map<string, string>();
  #height = 0n;

  /** blocks applied: the next block expected is number `height` */
  get height(): bigint {
    return this.#height;
  }

  participant(id: string): Participant | undefined {
    return this.#participants.get(id);
  }

  request(id: string): AccessRequest | undefined {
    return this.#requests.get(id);
  }

  grant(id: string): Grant | undefined {
    return this.#grants.get(id);
  }

  /** The grantee's grants on one record version, in the chaincode's index order (by grant id). */
  granteeGrants(granteeId: string, emrId: string): Grant[] {
    const ids = this.#granteeGrants.get(granteeRecordKey(granteeId, emrId));
    if (ids === undefined) return [];
    return [...ids].sort().map((id) => this.#grants.get(id)!);
  }

  /** The newest version of the chain that holds `recordId`; undefined for a record the view does not know. */
  headOfChainContaining(recordId: string): string | undefined {
    const root = this.#roots.get(recordId);
    return root === undefined ? undefined : this.#heads.get(root);
  }

  /**
   * IsGrantLive at `now` (ISO time): the contract's own rule (grantLiveness) over the view's grant, chain head and
   * grantee. Undefined when the view lacks one of them (the chaincode would answer NOT_FOUND).
   */
  grantLiveness(grantId: string, now: string): GrantLiveness | undefined {
    const grant = this.#grants.get(grantId);
    if (grant === undefined) return undefined;
    const headId = this.headOfChainContaining(grant.emrId);
    const grantee = this.#participants.get(grant.granteeId);
    if (headId === undefined || grantee === undefined) return undefined;
    return grantLiveness(grant, now, { headId, granteeStatus: grantee.status });
  }

  /** Applies block `blockNumber`'s writes of the chaincode's namespace; blocks must come in order, each once. */
  applyBlock(blockNumber: bigint, writes: readonly StateWrite[]): void {
    if (blockNumber !== this.#height) throw new RangeError(`ledger view: block ${blockNumber} applied at height ${this.#height}`);
    // parsed first, applied after: a block that fails leaves the view as it was
    const changes: (() => void)[] = [];
    for (const w of writes) {
      const change = this.#change(w, blockNumber);
      if (change !== undefined) changes.push(change);
    }
    for (const change of changes) change();
    this.#height = blockNumber + 1n;
  }

  #change(w: StateWrite, n: bigint): (() => void) | undefined {
    let id: string | undefined;
    if ((id = primaryKeyId(w.key, OBJECT_TYPES.participant)) !== undefined) {
      const p = w.value === undefined ? undefined : deepFreeze(storedObject(w, n, id, parseParticipant, 'participant'));
      return () => setOrDelete(this.#participants, id!, p);
    }
    if ((id = primaryKeyId(w.key, OBJECT_TYPES.request)) !== undefined) {
      const r = w.value === undefined ? undefined : deepFreeze(storedObject(w, n, id, parseAccessRequest, 'request'));
      return () => setOrDelete(this.#requests, id!, r);
    }
    if ((id = primaryKeyId(w.key, OBJECT_TYPES.grant)) !== undefined) {
      const g = w.value === undefined ? undefined : deepFreeze(storedObject(w, n, id, parseGrant, 'grant'));
      return () => this.#setGrant(id!, g);
    }
    if ((id = primaryKeyId(w.key, OBJECT_TYPES.recordRoot)) !== undefined) {
      const root = w.value === undefined ? undefined : text(w, n, id);
      return () => setOrDelete(this.#roots, id!, root);
    }
    if ((id = primaryKeyId(w.key, OBJECT_TYPES.recordHead)) !== undefined) {
      const head = w.value === undefined ? undefined : text(w, n, id);
      return () => setOrDelete(this.#heads, id!, head);
    }
    return undefined;
  }

  #setGrant(id: string, grant: Grant | undefined): void {
    const old = this.#grants.get(id);
    if (old !== undefined) {
      const key = granteeRecordKey(old.granteeId, old.emrId);
      const ids = this.#granteeGrants.get(key);
      ids?.delete(id);
      if (ids?.size === 0) this.#granteeGrants.delete(key);
    }
    setOrDelete(this.#grants, id, grant);
    if (grant !== undefined) {
      const key = granteeRecordKey(grant.granteeId, grant.emrId);
      let ids = this.#granteeGrants.get(key);
      if (ids === undefined) this.#granteeGrants.set(key, (ids = new Set()));
      ids.add(id);
    }
  }
}

function setOrDelete<T>(map: Map<string, T>, id: string, value: T | undefined): void {
  if (value === undefined) map.delete(id);
  else map.set(id, value);
}

function text(w: StateWrite, n: bigint, id: string): string {
  const s = Buffer.from(w.value!).toString('utf8');
  if (s === '') throw new BlockReadError('BAD_RECORD', `block ${n}, transaction ${w.txId}: the value stored under ${JSON.stringify(w.key)} (${id}) is empty`);
  return s;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
