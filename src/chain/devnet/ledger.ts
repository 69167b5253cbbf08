/**
 * The dev network's channel ledger: the committing peer's half of Fabric.
 *
 * `commit(envelopes)` validates each transaction in block order as a peer's validator does — structure, creator
 * signature and MSP membership, transaction-id binding, duplicates, endorsement policy (one valid endorsement by a
 * peer of a consortium organisation), then MVCC against the state including the block's earlier valid transactions —
 * writes the block (validation codes in TRANSACTIONS_FILTER, the orderer's signature in SIGNATURES) durably, and only
 * then applies the valid write sets, resolves commit-status waiters and wakes event streams.
 *
 * World state, history, the transaction index and the event index are rebuilt from the blocks at open, after the
 * whole chain (hash links and orderer signatures) has been verified, so a restart resumes at the same height and an
 * altered block is refused.
 */
import { common } from '@hyperledger/fabric-protos';
import type { peer } from '@hyperledger/fabric-protos';
import { concatBytes } from '@noble/hashes/utils.js';
import { createHash, randomBytes } from 'node:crypto';
import { CodedError } from '../../errors.js';
import { BlockMetadataIndex, blockEnvelopes, blockHeaderBytes, blockHeaderHash, buildBlock, checkBlock, headerFields, transactionsFilter, TxValidationCode } from './blocks.js';
import { BlockStore } from './block-store.js';
import type { Msp, SigningIdentity } from './msp.js';
import { parseTransaction, serializedIdentity, TransactionError } from './transaction.js';
import type { ParsedTransaction } from './transaction.js';
import { WorldState } from './world-state.js';

export type LedgerErrorCode = 'TAMPERED' | 'CLOSED';
export class LedgerError extends CodedError<LedgerErrorCode> {
  override readonly name = 'LedgerError';
}

export interface TxStatus {
  readonly code: number;
  readonly blockNum: number;
}

export interface CommittedEvent {
  readonly chaincodeName: string;
  readonly txId: string;
  readonly name: string;
  readonly payload: Uint8Array;
}

/** What event streams need of a committed block. */
export interface BlockSummary {
  readonly blockNum: number;
  readonly txs: readonly { readonly txId: string; readonly code: number; readonly event?: CommittedEvent }[];
}

export interface LedgerOptions {
  channelId: string;
  msp: Msp;
  /** signs blocks (SIGNATURES metadata), as an ordering service node does */
  orderer: SigningIdentity;
  /** fsync every block (default true; tests and benchmarks may turn it off) */
  fsync?: boolean;
}

/** The devnet's genesis transaction: a CONFIG-type envelope carrying the channel's name and organisations. */
function genesisEnvelope(channelId: string, orgs: readonly string[]): Uint8Array {
  const ch = new common.ChannelHeader();
  ch.setType(common.HeaderType.CONFIG);
  ch.setChannelId(channelId);
  const header = new common.Header();
  header.setChannelHeader(ch.serializeBinary());
  const payload = new common.Payload();
  payload.setHeader(header);
  payload.setData(new TextEncoder().encode(JSON.stringify({ devnet: 'pie', channel: channelId, organisations: orgs })));
  const env = new common.Envelope();
  env.setPayload(payload.serializeBinary());
  return env.serializeBinary();
}

/** Fabric's orderer block signature: over metadata value ‖ signature header ‖ ASN.1 block header. */
function signatureInput(value: Uint8Array, signatureHeader: Uint8Array, block: common.Block): Uint8Array {
  return concatBytes(value, signatureHeader, blockHeaderBytes(headerFields(block.getHeader()!)));
}

function signBlock(block: common.Block, orderer: SigningIdentity): void {
  const lastConfig = new common.LastConfig();
  lastConfig.setIndex(0);
  const obm = new common.OrdererBlockMetadata();
  obm.setLastConfig(lastConfig);
  const value = obm.serializeBinary();
  const sh = new common.SignatureHeader();
  sh.setCreator(serializedIdentity(orderer.mspId, orderer.certificatePem));
  sh.setNonce(randomBytes(24));
  const shBytes = sh.serializeBinary();
  const sig = new common.MetadataSignature();
  sig.setSignatureHeader(shBytes);
  sig.setSignature(orderer.sign(signatureInput(value, shBytes, block)));
  const md = new common.Metadata();
  md.setValue(value);
  md.setSignaturesList([sig]);
  const list = block.getMetadata()!.getMetadataList_asU8();
  list[BlockMetadataIndex.SIGNATURES] = md.serializeBinary();
  block.getMetadata()!.setMetadataList(list);
}

/** How many endorsements signed by this peer and not yet committed the ledger remembers (see noteEndorsed). */
const ENDORSED_HERE_LIMIT = 16_384;
/** How many of the newest committed blocks the ledger keeps in memory for its Deliver streams. */
const RECENT_BLOCKS = 32;

const digest = (a: Uint8Array, b: Uint8Array): string => createHash('sha256').update(a).update(b).digest('base64');

export class Ledger {
  readonly state = new WorldState();
  private readonly txIndex = new Map<string, TxStatus>();
  private readonly summaries: BlockSummary[] = [];
  private readonly waiters = new Map<string, ((s: TxStatus) => void)[]>();
  private readonly blockListeners = new Set<() => void>();
  /** envelopes this peer's Submit parsed and whose creator signature it verified, by the very bytes it ordered */
  private readonly submitted = new WeakMap<Uint8Array, ParsedTransaction>();
  /** endorsements this peer signed and not yet committed: signature (base64) → SHA-256 of what it signed */
  private readonly endorsedHere = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** the newest committed blocks, by number: every Deliver stream asks for each new block as soon as it commits */
  private readonly recent = new Map<number, common.Block>();

  private constructor(
    private readonly store: BlockStore,
    private readonly opts: LedgerOptions,
  ) {}

  get channelId(): string {
    return this.opts.channelId;
  }
  get height(): number {
    return this.store.height;
  }
  get tipHash(): Uint8Array {
    return this.store.tipHash;
  }

  /** Opens the ledger in `dir`: verifies the chain, replays it into state, or writes the genesis block. */
  static async open(dir: string, opts: LedgerOptions): Promise<Ledger> {
    const store = await BlockStore.open(dir, { fsync: opts.fsync ?? true });
    const ledger = new Ledger(store, opts);
    try {
      if (store.height === 0) {
        const genesis = buildBlock({ number: 0, previousHash: new Uint8Array(0), envelopes: [genesisEnvelope(opts.channelId, opts.msp.organisations().map((o) => o.mspId))] });
        signBlock(genesis, opts.orderer);
        await store.append(genesis);
      }
      await ledger.replay();
    } catch (e) {
      await store.close();
      throw e;
    }
    return ledger;
  }

  /** Why `block` (number n, following `previousHash`) is not a block this network wrote, or undefined. */
  private async blockProblem(block: common.Block, n: number, previousHash: Uint8Array): Promise<string | undefined> {
    const problem = checkBlock(block, { number: n, previousHash });
    if (problem) return problem;
    const md = common.Metadata.deserializeBinary(block.getMetadata()!.getMetadataList_asU8()[BlockMetadataIndex.SIGNATURES] ?? new Uint8Array(0));
    const sig = md.getSignaturesList()[0];
    if (!sig) return 'no orderer signature';
    const creator = common.SignatureHeader.deserializeBinary(sig.getSignatureHeader_asU8()).getCreator_asU8();
    const expected = serializedIdentity(this.opts.orderer.mspId, this.opts.orderer.certificatePem);
    if (Buffer.compare(Buffer.from(creator), Buffer.from(expected)) !== 0) return 'signed by an unknown orderer';
    try {
      await this.opts.msp.verifySignature(
        this.opts.orderer.mspId,
        this.opts.orderer.certificatePem,
        signatureInput(md.getValue_asU8(), sig.getSignatureHeader_asU8(), block),
        sig.getSignature_asU8(),
      );
    } catch (e) {
      return `orderer signature does not verify: ${e instanceof Error ? e.message : String(e)}`;
    }
    return undefined;
  }

  private async replay(): Promise<void> {
    let prev: Uint8Array = new Uint8Array(0);
    for await (const block of this.store.blocks()) {
      const n = this.summaries.length;
      const problem = await this.blockProblem(block, n, prev);
      if (problem) throw new LedgerError('TAMPERED', `block ${n} of ${this.store.dir}: ${problem}`);
      prev = blockHeaderHash(block.getHeader()!);
      const filter = transactionsFilter(block);
      const txs: BlockSummary['txs'][number][] = [];
      blockEnvelopes(block).forEach((bytes, i) => {
        if (n === 0) return; // genesis: configuration only
        const code = filter[i] ?? TxValidationCode.INVALID_OTHER_REASON;
        let tx: ParsedTransaction | undefined;
        try {
          tx = parseTransaction(common.Envelope.deserializeBinary(bytes));
        } catch {
          tx = undefined; // recorded invalid when committed
        }
        if (!tx) return;
        if (code === TxValidationCode.VALID) this.state.apply(tx.rwsets, { txId: tx.txId, blockNum: n, txNum: i, timestamp: tx.timestamp });
        if (!this.txIndex.has(tx.txId)) this.txIndex.set(tx.txId, { code, blockNum: n });
        txs.push(this.summaryTx(tx, code));
      });
      this.summaries.push({ blockNum: n, txs });
    }
  }

  private summaryTx(tx: ParsedTransaction, code: number): BlockSummary['txs'][number] {
    const ev = tx.event;
    return code === TxValidationCode.VALID && ev
      ? { txId: tx.txId, code, event: { chaincodeName: ev.getChaincodeId(), txId: tx.txId, name: ev.getEventName(), payload: ev.getPayload_asU8() } }
      : { txId: tx.txId, code };
  }

  /**
   * Notes that this peer's Submit has parsed `bytes` and verified its creator's signature, just before handing the
   * same bytes to the orderer. The committer then reuses the parse and skips that one signature check: the dev
   * network's gateway, orderer and committer are one process, so checking the same bytes twice adds nothing (in
   * Fabric the orderer and the committing peer are separate parties and each checks). Anything else that reaches
   * commit (blocks replayed from disk, envelopes ordered another way) is checked in full.
   */
  noteSubmitted(bytes: Uint8Array, tx: ParsedTransaction): void {
    this.submitted.set(bytes, tx);
  }

  /**
   * Notes an endorsement this peer has just signed (its Endorse), so that the committer need not verify this peer's
   * own signature again when the transaction comes back for commit with exactly the bytes that were signed. Same
   * reasoning as `noteSubmitted`: in Fabric the committing peer re-verifies every endorsement because endorser and
   * committer may be different peers; here they are one process. Any other endorsement, or this one over different
   * bytes, is verified in full. Unsubmitted endorsements are forgotten oldest first beyond ENDORSED_HERE_LIMIT.
   */
  noteEndorsed(response: peer.ProposalResponse): void {
    const e = response.getEndorsement();
    if (!e) return;
    if (this.endorsedHere.size >= ENDORSED_HERE_LIMIT) this.endorsedHere.delete(this.endorsedHere.keys().next().value!);
    this.endorsedHere.set(
      Buffer.from(e.getSignature_asU8()).toString('base64'),
      digest(response.getPayload_asU8(), e.getEndorser_asU8()),
    );
  }

  /**
   * The checks of one transaction that do not depend on the state or on the other transactions (Fabric's
   * ValidateTransaction and endorsement policy): payload, channel, creator signature, endorsement. VALID here means
   * "go on to the duplicate and MVCC checks".
   */
  private async checkTransaction(bytes: Uint8Array): Promise<{ code: number; tx?: ParsedTransaction }> {
    let tx = this.submitted.get(bytes);
    const creatorChecked = tx !== undefined;
    if (!tx) {
      try {
        tx = parseTransaction(common.Envelope.deserializeBinary(bytes));
      } catch (e) {
        const code = e instanceof TransactionError && e.code === 'BAD_TXID' ? TxValidationCode.BAD_PROPOSAL_TXID : TxValidationCode.BAD_PAYLOAD;
        return { code };
      }
    }
    if (tx.channelId !== this.opts.channelId) return { code: TxValidationCode.TARGET_CHAIN_NOT_FOUND, tx };
    try {
      if (!creatorChecked) await this.opts.msp.verifySignature(tx.creator.mspId, tx.creator.certificatePem, tx.payloadBytes, tx.signature);
    } catch {
      return { code: TxValidationCode.BAD_CREATOR_SIGNATURE, tx };
    }
    if (tx.responseStatus < 200 || tx.responseStatus >= 400) return { code: TxValidationCode.INVALID_ENDORSER_TRANSACTION, tx };
    if (!(await this.endorsedByPeer(tx))) return { code: TxValidationCode.ENDORSEMENT_POLICY_FAILURE, tx };
    if (tx.rwsets.some((s) => s.namespace !== tx.chaincodeName)) return { code: TxValidationCode.ILLEGAL_WRITESET, tx };
    return { code: TxValidationCode.VALID, tx };
  }

  /** The endorsement policy: a valid signature of a peer of any member organisation. */
  private async endorsedByPeer(tx: ParsedTransaction): Promise<boolean> {
    for (const e of tx.endorsements) {
      try {
        const m = this.signedHere(tx, e)
          ? this.opts.msp.verifyMember(e.endorser.mspId, e.endorser.certificatePem)
          : await this.opts.msp.verifySignature(e.endorser.mspId, e.endorser.certificatePem, concatBytes(tx.proposalResponsePayload, e.endorser.bytes), e.signature);
        if (m.ou === 'peer') return true;
      } catch {
        // an invalid endorsement does not count; another one may satisfy the policy
      }
    }
    return false;
  }

  /** Whether `e` is an endorsement this peer signed over exactly these bytes (see noteEndorsed); forgets it. */
  private signedHere(tx: ParsedTransaction, e: ParsedTransaction['endorsements'][number]): boolean {
    const key = Buffer.from(e.signature).toString('base64');
    const signed = this.endorsedHere.get(key);
    if (signed === undefined) return false;
    this.endorsedHere.delete(key);
    return signed === digest(tx.proposalResponsePayload, e.endorser.bytes);
  }

  /** Validates and commits one block of transaction envelopes; resolves when it is durable and applied. */
  commit(envelopes: readonly Uint8Array[]): Promise<BlockSummary> {
    const run = this.queue.then(() => this.commitNow(envelopes));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async commitNow(envelopes: readonly Uint8Array[]): Promise<BlockSummary> {
    if (this.closed) throw new LedgerError('CLOSED', 'ledger is closed');
    const n = this.store.height;
    // Signatures and endorsements of the whole block at once (they run on the thread pool), as Fabric's committer
    // validates a block's transactions in parallel ...
    const checked = await Promise.all(envelopes.map((bytes) => this.checkTransaction(bytes)));
    if (this.closed) throw new LedgerError('CLOSED', 'ledger is closed');
    // ... then duplicates and MVCC in block order. Writes are applied at once, so later transactions of the block
    // validate against them (Fabric's in-block semantics).
    const seen = new Set<string>();
    const results = checked.map((r, i) => {
      const { tx } = r;
      if (!tx) return r;
      let code = r.code;
      if (code === TxValidationCode.VALID && (this.txIndex.has(tx.txId) || seen.has(tx.txId))) code = TxValidationCode.DUPLICATE_TXID;
      seen.add(tx.txId);
      if (code === TxValidationCode.VALID) code = this.state.validate(tx.rwsets);
      if (code === TxValidationCode.VALID) this.state.apply(tx.rwsets, { txId: tx.txId, blockNum: n, txNum: i, timestamp: tx.timestamp });
      return { code, tx };
    });
    const block = buildBlock({ number: n, previousHash: this.store.tipHash, envelopes, validationCodes: results.map((r) => r.code) });
    signBlock(block, this.opts.orderer);
    try {
      await this.store.append(block);
    } catch (e) {
      // The state already holds this block's writes but the block is not durable: this ledger must not go on.
      this.closed = true;
      throw e;
    }
    this.recent.set(n, block);
    if (this.recent.size > RECENT_BLOCKS) this.recent.delete(this.recent.keys().next().value!);
    const txs = results.filter((r) => r.tx).map((r) => this.summaryTx(r.tx!, r.code));
    const summary: BlockSummary = { blockNum: n, txs };
    this.summaries.push(summary);
    for (const t of txs) {
      if (!this.txIndex.has(t.txId)) this.txIndex.set(t.txId, { code: t.code, blockNum: n });
      const w = this.waiters.get(t.txId);
      if (w) {
        this.waiters.delete(t.txId);
        const status = this.txIndex.get(t.txId)!;
        for (const resolve of w) resolve(status);
      }
    }
    for (const wake of this.blockListeners) wake();
    return summary;
  }

  /** The status of a committed transaction, or undefined. */
  txStatus(txId: string): TxStatus | undefined {
    return this.txIndex.get(txId);
  }

  /** Resolves when `txId` commits (at once if it has); rejects when `signal` aborts. */
  waitForTx(txId: string, signal?: AbortSignal): Promise<TxStatus> {
    const done = this.txIndex.get(txId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(txId) ?? [];
      const onAbort = (): void => {
        const l = this.waiters.get(txId);
        if (l) l.splice(l.indexOf(resolver), 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      const resolver = (s: TxStatus): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(s);
      };
      list.push(resolver);
      this.waiters.set(txId, list);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Committed block summaries from `from` on, then each new block as it commits, until `signal` aborts. */
  async *blocksFrom(from: number, signal: AbortSignal): AsyncGenerator<BlockSummary> {
    let next = from;
    while (!signal.aborted) {
      while (next < this.summaries.length) yield this.summaries[next++]!;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.blockListeners.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.blockListeners.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** Reads a committed block (the newest ones from memory; callers must not modify it). */
  block(n: number): Promise<common.Block> {
    const kept = this.recent.get(n);
    return kept !== undefined ? Promise.resolve(kept) : this.store.get(n);
  }

  /** A committed block as stored (serialized common.Block), for answers that carry the bytes as they are. */
  blockBytes(n: number): Promise<Uint8Array> {
    return this.store.getBytes(n);
  }

  /** Walks the stored chain once: record checksums, hash links, data hashes and orderer signatures. */
  async verify(): Promise<{ ok: true; height: number } | { ok: false; height: number; blockNumber: number; reason: string }> {
    const height = this.store.height;
    let prev: Uint8Array = new Uint8Array(0);
    for (let n = 0; n < height; n++) {
      let problem: string | undefined;
      try {
        const block = await this.store.get(n);
        problem = await this.blockProblem(block, n, prev);
        prev = blockHeaderHash(block.getHeader()!);
      } catch (e) {
        problem = e instanceof Error ? e.message : String(e);
      }
      if (problem) return { ok: false, height, blockNumber: n, reason: `block ${n}: ${problem}` };
    }
    if (height > 0 && Buffer.compare(Buffer.from(prev), Buffer.from(this.store.tipHash)) !== 0) {
      return { ok: false, height, blockNumber: height - 1, reason: `block ${height - 1}: header hash changed since the ledger was opened` };
    }
    return { ok: true, height };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.store.close();
  }
}
