/**
 * Learns that submitted transactions have committed from one stream of filtered block events (the peer's
 * DeliverFiltered), instead of one signed CommitStatus call per transaction: what Fabric's own SDKs did with
 * their event hubs. In bench/ledger.ts the CommitStatus call was about a sixth of the CPU of a committed
 * transaction.
 *
 * The stream starts at the channel height read before the first transaction is submitted, so no commit can fall
 * between "height read" and "stream open"; after a break it resumes from the block after the last one seen. It is
 * an optimisation only: a transaction whose status the stream has not reported within `fallbackAfterMs`, or while
 * the stream is broken, is asked about with CommitStatus instead.
 */
import type { peer } from '@hyperledger/fabric-protos';

export interface CommitStatusReport {
  readonly code: number;
  readonly blockNumber: bigint;
}

/** What the watcher needs of the ledger connection (fabric-gateway's Network and qscc). */
export interface CommitWatcherSource {
  /** the channel's height (qscc GetChainInfo) */
  height(): Promise<bigint>;
  /** filtered block events from `startBlock` on (Network.getFilteredBlockEvents) */
  filteredBlocks(startBlock: bigint): Promise<AsyncIterable<peer.FilteredBlock> & { close(): void }>;
}

interface Waiter {
  resolve(r: CommitStatusReport | undefined): void;
  timer: NodeJS.Timeout;
}

export class CommitWatcher {
  readonly #source: CommitWatcherSource;
  readonly #fallbackAfterMs: number;
  readonly #waiters = new Map<string, Waiter>();
  /** the open stream (resolved once its start block is known), or undefined when none is open */
  #stream: Promise<{ close(): void }> | undefined;
  /** the next block the stream will deliver */
  #next: bigint | undefined;
  #closed = false;

  constructor(source: CommitWatcherSource, options: { fallbackAfterMs: number }) {
    this.#source = source;
    this.#fallbackAfterMs = options.fallbackAfterMs;
  }

  /**
   * Call before submitting `txId`. `status` resolves with the transaction's status once a block reports it, or with
   * undefined when the watcher cannot tell (stream broken or silent for too long: ask the peer); it never rejects.
   * `cancel` forgets the transaction (call it when the submit fails).
   */
  async watch(txId: string): Promise<{ status: Promise<CommitStatusReport | undefined>; cancel(): void }> {
    const opened = await this.#open().then(
      () => true,
      () => false,
    );
    if (!opened || this.#closed) return { status: Promise.resolve(undefined), cancel: () => undefined };
    const status = new Promise<CommitStatusReport | undefined>((resolve) => {
      const timer = setTimeout(() => this.#settle(txId, undefined), this.#fallbackAfterMs);
      timer.unref();
      this.#waiters.set(txId, { resolve, timer });
    });
    return { status, cancel: () => this.#settle(txId, undefined) };
  }

  /** transactions waiting for a block */
  get pending(): number {
    return this.#waiters.size;
  }

  /** Stops listening; pending waiters get undefined (their callers ask the peer). */
  close(): void {
    this.#closed = true;
    void this.#stream?.then((s) => s.close(), () => undefined);
    this.#stream = undefined;
    for (const id of [...this.#waiters.keys()]) this.#settle(id, undefined);
  }

  #settle(txId: string, r: CommitStatusReport | undefined): void {
    const w = this.#waiters.get(txId);
    if (!w) return;
    this.#waiters.delete(txId);
    clearTimeout(w.timer);
    w.resolve(r);
  }

  /** Opens the stream if none is open; resolves once its start block is fixed. */
  #open(): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('closed'));
    if (!this.#stream) {
      const opening = (async () => {
        this.#next ??= await this.#source.height();
        const events = await this.#source.filteredBlocks(this.#next);
        void this.#pump(events);
        return events;
      })();
      // a failed open is forgotten, so that a later transaction tries again
      opening.catch(() => {
        if (this.#stream === opening) this.#stream = undefined;
      });
      this.#stream = opening;
    }
    return this.#stream;
  }

  async #pump(events: AsyncIterable<peer.FilteredBlock>): Promise<void> {
    try {
      for await (const block of events) {
        const n = BigInt(block.getNumber());
        for (const t of block.getFilteredTransactionsList()) this.#settle(t.getTxid(), { code: t.getTxValidationCode(), blockNumber: n });
        this.#next = n + 1n;
      }
    } catch {
      // the stream broke: fall through
    }
    // The stream ended or broke: waiting transactions ask the peer; the next one reopens from #next.
    this.#stream = undefined;
    for (const id of [...this.#waiters.keys()]) this.#settle(id, undefined);
  }
}
