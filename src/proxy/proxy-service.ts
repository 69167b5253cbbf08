/**
 * This node's re-encryption proxies (docs/sharing.md, "Open"): each holds an Umbral key pair; a grant carries one
 * kfrag per proxy, sealed to that proxy's key by the patient's client. A proxy turns its kfrag into a capsule
 * fragment (cfrag) of the record's capsule only for a committed `reencrypt` operation record: no read without an
 * audit record on the ledger first.
 *
 * The release rule, every check against the ledger at the time of the call (through PieLedger: the node's read model
 * once it holds this node's own last commit, the chaincode otherwise; src/chain/README.md "Read model"):
 *   1. the operation exists, is of kind `reencrypt`, was recorded by the caller, at most the TTL ago (and not in the
 *      future), and has not been served by these proxies before;
 *   2. its grant is an ordinary grant (break-glass grants carry no kfrags; the node serves them through the treating
 *      physician's delegation) and is live now (IsGrantLive: revocation, window, newest version, grantee active);
 *   3. the grant holds a kfrag sealed to at least one local proxy; each such kfrag opens with that proxy's key and
 *      verifies against the patient's signing key (signer), the patient's encryption key (delegating key) and the
 *      grantee's encryption key (receiving key), all read from the ledger. One bad kfrag refuses the release.
 */
import type { Grant, OperationRecord, Participant } from '../../chaincode/src/domain/index.js';
import { ID_PATTERN } from '../../chaincode/src/domain/index.js';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/participant.js';
import { fromBase64, fromHex, toBase64 } from '../bytes.js';
import type { PieLedger } from '../chain/pie-ledger.js';
import { openSealedKFrag } from '../crypto/kfrag-seal.js';
import { Capsule, PublicKey, reencrypt } from '../crypto/umbral/index.js';
import type { VerifiedKeyFrag } from '../crypto/umbral/index.js';
import { ExchangeError, toExchangeError } from '../exchange/errors.js';
import type { Logger } from '../node/log.js';
import { ProxyKeyStore } from './proxy-keys.js';
import type { ProxyInfo } from './proxy-keys.js';
import { registerProxies } from './registration.js';
import { ServedOperations } from './served-operations.js';

/** A capsule fragment one local proxy released. */
export interface ReleasedCFrag {
  readonly proxyId: string;
  /** base64 CapsuleFrag.toBytes() */
  readonly cfrag: string;
}

/**
 * Ledger objects the node itself has just committed or read (never a client's input), so that release need not
 * evaluate them again: the operation as its commit returned it, the grant as the node read it. Liveness is always
 * read afresh (IsGrantLive).
 */
export interface KnownLedgerObjects {
  readonly operation?: OperationRecord;
  readonly grant?: Grant;
  /** the record's patient and the grantee (only their keys are used, and a participant's keys never change) */
  readonly patient?: Participant;
  readonly grantee?: Participant;
}

/** How far in the future an operation's timestamp may be (clock skew between this node and the recording peer). */
const MAX_FUTURE_SKEW_MS = 60_000;

export interface ProxyServiceOptions {
  readonly ledger: PieLedger;
  readonly keys: ProxyKeyStore;
  /** how old an operation may be when its cfrags are released (PIE_PROXY_OPERATION_TTL_SECONDS) */
  readonly operationTtlSeconds: number;
  readonly log: Logger;
  /** ms since the epoch; the wall clock unless given */
  readonly clock?: () => number;
}

export class ProxyService {
  readonly #ledger: PieLedger;
  readonly #keys: ProxyKeyStore;
  readonly #ttlMs: number;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #served: ServedOperations;
  #closed = false;

  /** this node's proxies */
  readonly local: readonly ProxyInfo[];

  constructor(opts: ProxyServiceOptions) {
    if (!Number.isInteger(opts.operationTtlSeconds) || opts.operationTtlSeconds < 1) throw new RangeError('operationTtlSeconds must be a positive integer');
    this.#ledger = opts.ledger;
    this.#keys = opts.keys;
    this.#ttlMs = opts.operationTtlSeconds * 1000;
    this.#log = opts.log;
    this.#clock = opts.clock ?? Date.now;
    this.#served = new ServedOperations(this.#clock);
    this.local = opts.keys.proxies;
  }

  /**
   * Opens (generating on first start) the keys of proxies 1..count under `dir`, sealed under the master key in
   * `keyFile`, and registers them on the ledger (those it does not have yet). Call before the node serves requests.
   */
  static async start(opts: {
    dir: string;
    keyFile: string;
    organisation: string;
    count: number;
    operationTtlSeconds: number;
    ledger: PieLedger;
    log: Logger;
  }): Promise<ProxyService> {
    const keys = await ProxyKeyStore.open({ dir: opts.dir, keyFile: opts.keyFile, organisation: opts.organisation, count: opts.count });
    await registerProxies(opts.ledger, keys.proxies, opts.log);
    return new ProxyService({ ledger: opts.ledger, keys, operationTtlSeconds: opts.operationTtlSeconds, log: opts.log });
  }

  /**
   * Capsule fragments of this node's proxies for a committed `reencrypt` operation record of `callerId`.
   * Throws ExchangeError (FORBIDDEN / NOT_FOUND / CONFLICT / BAD_USER_INPUT) with a clear reason otherwise.
   */
  async release(operationId: string, callerId: string, known: KnownLedgerObjects = {}): Promise<ReleasedCFrag[]> {
    if (this.#closed) throw new ExchangeError('UNAVAILABLE', 'the re-encryption proxies of this node are stopped');
    if (typeof operationId !== 'string' || operationId.length > 128 || !ID_PATTERN.test(operationId)) {
      throw new ExchangeError('BAD_USER_INPUT', 'operationId: must be an operation id (letters, digits and . _ : -)');
    }
    if (typeof callerId !== 'string' || !PARTICIPANT_ID.test(callerId)) throw new ExchangeError('BAD_USER_INPUT', 'callerId: must be a participant id (32 lower-case hex digits)');

    const op = known.operation?.id === operationId ? known.operation : await this.#read(() => this.#ledger.operation(operationId));
    const until = this.#checkOperation(op, callerId);
    const grant = known.grant !== undefined && known.grant.id === op.grantId ? known.grant : await this.#read(() => this.#ledger.grant(op.grantId!));
    const mine = await this.#checkGrant(grant, op);
    const servedBy = this.#served.servedBy(op.id, mine.map((p) => p.id));
    if (servedBy !== undefined) throw replayed(op, servedBy);

    const record = await this.#read(() => this.#ledger.record(grant.emrId));
    const [patient, grantee] =
      known.patient?.id === record.patientId && known.grantee?.id === grant.granteeId
        ? [known.patient, known.grantee]
        : await this.#read(() => this.#ledger.participants([record.patientId, grant.granteeId]));
    if (!patient || !grantee) throw new ExchangeError('NOT_FOUND', `the patient or the grantee of grant ${grant.id} is not registered`);
    const kfrags = this.#openKFrags(mine, grant, op, { patient, grantee });
    let capsule: Capsule;
    try {
      capsule = Capsule.fromBytes(fromBase64(record.metadata.capsule, 'record capsule'));
    } catch (e) {
      throw new ExchangeError('INTERNAL', `record ${record.id}: its capsule on the ledger does not parse (${(e as Error).message})`);
    }

    // The last check and the mark run without an await between them: two concurrent releases cannot both pass.
    const raced = this.#served.claim(op.id, mine.map((p) => p.id), until);
    if (raced !== undefined) throw replayed(op, raced);
    const released = kfrags.map(({ proxyId, kfrag }) => ({ proxyId, cfrag: toBase64(reencrypt(capsule, kfrag).toBytes()) }));
    this.#log.info({ operationId: op.id, grantId: grant.id, proxies: released.map((r) => r.proxyId) }, 'capsule fragments released');
    return released;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#served.clear();
  }

  /** Rule 1 (kind, actor, age); returns when the operation ages out (ms). */
  #checkOperation(op: OperationRecord, callerId: string): number {
    if (op.kind !== 'reencrypt') {
      throw new ExchangeError('BAD_USER_INPUT', `operation ${op.id} is a ${op.kind} operation; the proxies release capsule fragments only for a reencrypt operation`);
    }
    if (op.actorId !== callerId) throw new ExchangeError('FORBIDDEN', `operation ${op.id} was recorded by another participant; only its own actor may use it`);
    if (op.grantId === undefined) throw new ExchangeError('INTERNAL', `operation ${op.id} is a reencrypt operation without a grant`);
    const recordedAt = Date.parse(op.timestamp);
    const now = this.#clock();
    if (now - recordedAt > this.#ttlMs) {
      throw new ExchangeError('FORBIDDEN', `operation ${op.id} was recorded at ${op.timestamp}, more than ${this.#ttlMs / 1000} s ago; record a new reencrypt operation`);
    }
    if (recordedAt - now > MAX_FUTURE_SKEW_MS) throw new ExchangeError('FORBIDDEN', `operation ${op.id} is dated ${op.timestamp}, in the future`);
    return recordedAt + this.#ttlMs;
  }

  /** Rule 2 and the first half of 3; returns the local proxies the grant holds a sealed kfrag for. */
  async #checkGrant(grant: Grant, op: OperationRecord): Promise<ProxyInfo[]> {
    if (grant.granteeId !== op.actorId || grant.emrId !== op.emrId) {
      throw new ExchangeError('FORBIDDEN', `operation ${op.id} does not match grant ${grant.id} (grantee or record differs)`);
    }
    if (grant.emergency !== undefined) {
      throw new ExchangeError(
        'BAD_USER_INPUT',
        `grant ${grant.id} is an emergency (break-glass) grant: it holds no kfrags, so the proxies release nothing for it; the node serves it through the treating physician's delegation (openEmr)`,
      );
    }
    const live = await this.#read(() => this.#ledger.isGrantLive(grant.id));
    if (!live.live) throw new ExchangeError('FORBIDDEN', `${live.reason}: ${live.message}`);
    const mine = this.local.filter((p) => grant.kfrags.some((k) => k.proxyId === p.id && k.ciphertext !== undefined));
    if (mine.length === 0) {
      const named = grant.kfrags.map((k) => (k.ciphertext === undefined ? `${k.proxyId} (by reference)` : k.proxyId)).join(', ');
      throw new ExchangeError(
        'CONFLICT',
        `grant ${grant.id} holds no sealed kfrag for this node's proxies (${this.local.map((p) => p.id).join(', ')}); it names ${named || 'no proxy'}: ask a node that runs one of those`,
      );
    }
    return mine;
  }

  /** The second half of rule 3: every local kfrag opened with its proxy's key and verified. */
  #openKFrags(mine: readonly ProxyInfo[], grant: Grant, op: OperationRecord, p: { patient: Participant; grantee: Participant }): { proxyId: string; kfrag: VerifiedKeyFrag }[] {
    const verifyingPk = publicKey(p.patient.signingKey);
    const delegatingPk = publicKey(p.patient.encryptionKey);
    const receivingPk = publicKey(p.grantee.encryptionKey);
    return mine.map((proxy) => {
      const sealed = grant.kfrags.find((k) => k.proxyId === proxy.id)!.ciphertext!;
      let stage: 'open' | 'verify' = 'open';
      try {
        const kfrag = this.#keys.withSecret(proxy.id, (sk) => openSealedKFrag(sealed, sk));
        stage = 'verify';
        return { proxyId: proxy.id, kfrag: kfrag.verify(verifyingPk, delegatingPk, receivingPk) };
      } catch (e) {
        // the error names the failing check only (SealError / UmbralError messages carry no key material)
        this.#log.warn({ proxyId: proxy.id, grantId: grant.id, operationId: op.id, stage, problem: (e as Error).message }, 'a kfrag of the grant was refused');
        throw new ExchangeError(
          'FORBIDDEN',
          stage === 'open' ?
            `grant ${grant.id}: the kfrag for proxy ${proxy.id} does not open with that proxy's key (sealed to another key, or damaged)`
          : `grant ${grant.id}: the kfrag for proxy ${proxy.id} does not verify against the patient's keys and the grantee's key`,
        );
      }
    });
  }

  async #read<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      throw toExchangeError(e);
    }
  }
}

const publicKey = (hex: string): PublicKey => PublicKey.fromCompressedBytes(fromHex(hex, 'public key'));

const replayed = (op: OperationRecord, proxyId: string): ExchangeError =>
  new ExchangeError('CONFLICT', `operation ${op.id} was already served by proxy ${proxyId}; an operation is served once: record a new reencrypt operation`);
