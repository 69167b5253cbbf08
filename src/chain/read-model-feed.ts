/**
 * Keeps the node's read model fed from the peer's full blocks (the Deliver service through fabric-gateway's
 * `Network.getBlockEvents`, so the embedded dev network and a real Fabric peer alike): the record index
 * (record-index.ts, for searches) and the ledger view (ledger-view.ts: participants, requests, grants, record
 * chains), both applied block by block, together. It says when the model may answer:
 *
 * - at start it replays the chain from block 0 (the model lives in memory); it is `live` once it has applied every
 *   block up to the height the peer reported (qscc) when the stream opened;
 * - when the stream breaks or ends it is no longer live; it reconnects with backoff and resumes at the last block it
 *   applied (delivered again and skipped: the first message proves the new stream works), live again once caught up;
 * - a VALID transaction whose objects do not parse stops it for good (`failed`): the model could not be trusted.
 *
 * While not live, reads evaluate the chaincode (src/resolvers/search.ts, src/chain/pie-ledger.ts), so a broken
 * stream costs speed, never correctness. `caughtUp(height)` gives read-your-writes: a read after this node's own
 * commit in block n waits (bounded) until the model has applied block n.
 */
import type { common } from '@hyperledger/fabric-protos';
import { LedgerView } from './ledger-view.js';
import { RecordIndex } from './record-index.js';
import { BlockReadError, blockNumberOf, recordWritesOf, stateWrites } from './state-writes.js';

/** What the feed needs of the ledger connection (LedgerClient: qscc and Deliver). */
export interface BlockSource {
  /** the channel's height as the peer has it */
  height(): Promise<bigint>;
  /** full blocks from `startBlock` on; `close` ends the stream */
  blocks(startBlock: bigint): Promise<AsyncIterable<common.Block> & { close(): void }>;
}

/** pino's shape, so that src/chain does not depend on the node's logger. */
export interface FeedLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ReadModelFeedOptions {
  readonly source: BlockSource;
  /** the chaincode whose records are indexed (its write-set namespace) */
  readonly namespace: string;
  readonly log?: FeedLog;
  /** reconnection backoff, doubling from min to max (default 250 ms … 5 s) */
  readonly retryMs?: { readonly min: number; readonly max: number };
}

export type FeedState = 'catching-up' | 'live' | 'reconnecting' | 'failed' | 'closed';

interface Waiter {
  readonly height: bigint;
  resolve(ok: boolean): void;
}

const SILENT: FeedLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class ReadModelFeed {
  readonly index = new RecordIndex();
  readonly view = new LedgerView();
  readonly #source: BlockSource;
  readonly #namespace: string;
  readonly #log: FeedLog;
  readonly #retry: { readonly min: number; readonly max: number };
  readonly #waiters = new Set<Waiter>();
  #state: FeedState = 'catching-up';
  #stream: { close(): void } | undefined;
  #wakeSleep: (() => void) | undefined;
  #started = false;
  #startedAt = 0;
  /** the last stream problem logged; the same problem again (a peer down for long) is not logged each retry */
  #lastProblem: string | undefined;

  constructor(o: ReadModelFeedOptions) {
    if (o.namespace === '') throw new RangeError('read model feed: namespace must be the chaincode name');
    const retry = o.retryMs ?? { min: 250, max: 5_000 };
    if (!(retry.min > 0 && retry.max >= retry.min)) throw new RangeError(`read model feed: retryMs must have 0 < min <= max, got ${JSON.stringify(retry)}`);
    this.#source = o.source;
    this.#namespace = o.namespace;
    this.#log = o.log ?? SILENT;
    this.#retry = retry;
  }

  get state(): FeedState {
    return this.#state;
  }

  /** caught up with the peer and streaming: the model may answer */
  get live(): boolean {
    return this.#state === 'live';
  }

  /** Starts following the chain (once). */
  start(): this {
    if (!this.#started) {
      this.#started = true;
      this.#startedAt = performance.now();
      void this.#run();
    }
    return this;
  }

  /**
   * True once the feed is live and the model has applied every block below `height`; false at once when the feed is
   * not live, and false when that does not happen within `timeoutMs` or the feed stops being live meanwhile.
   */
  caughtUp(height: bigint, timeoutMs: number): Promise<boolean> {
    if (this.#state !== 'live') return Promise.resolve(false);
    if (this.index.height >= height) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        height,
        resolve: (ok) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      timer.unref();
      this.#waiters.add(waiter);
    });
  }

  /** Resolves true once the feed is live (or false after `timeoutMs`, or when it fails or closes): for start-up and tests. */
  async whenLive(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#state !== 'live') {
      if (this.#state === 'failed' || this.#state === 'closed' || Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  /** Stops following the chain; pending waits resolve false. */
  close(): void {
    this.#setState('closed');
    this.#stream?.close();
    this.#wakeSleep?.();
  }

  #setState(state: FeedState): void {
    if (this.#state === 'closed' || this.#state === state) return;
    this.#state = state;
    if (state !== 'live') for (const w of [...this.#waiters]) w.resolve(false);
  }

  /** Resolves the waits the model has now reached. */
  #wake(): void {
    const h = this.index.height;
    for (const w of [...this.#waiters]) if (w.height <= h) w.resolve(true);
  }

  /** closed, or failed for good (a method, so that TypeScript does not narrow #state across awaits) */
  #stopped(): boolean {
    return this.#state === 'closed' || this.#state === 'failed';
  }

  async #run(): Promise<void> {
    let delay = this.#retry.min;
    while (!this.#stopped()) {
      try {
        await this.#follow(() => {
          delay = this.#retry.min;
          this.#lastProblem = undefined;
        });
        if (this.#stopped()) return;
        throw new Error('the block stream ended');
      } catch (e) {
        if (this.#stopped()) return;
        if (e instanceof BlockReadError) {
          this.#setState('failed');
          this.#log.error({ err: e.message, height: Number(this.index.height) }, 'read model stopped: a committed block cannot be applied; reads use the chaincode');
          return;
        }
        const wasLive = this.#state === 'live';
        this.#setState(this.#state === 'catching-up' ? 'catching-up' : 'reconnecting');
        const problem = (e as Error).message;
        if (wasLive || problem !== this.#lastProblem) {
          const log = wasLive ? this.#log.warn.bind(this.#log) : this.#log.info.bind(this.#log);
          log({ err: problem, height: Number(this.index.height), retryInMs: delay }, 'read model: block stream unavailable; reads use the chaincode until it is back');
        }
        this.#lastProblem = problem;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          timer.unref(); // a feed nobody closed does not keep the process alive
          this.#wakeSleep = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wakeSleep = undefined;
        delay = Math.min(delay * 2, this.#retry.max);
      }
    }
  }

  /** One stream: open at the last applied block, apply what follows until it ends or breaks. */
  async #follow(connected: () => void): Promise<void> {
    const index = this.index;
    const target = await this.#source.height();
    const start = index.height > 0n ? index.height - 1n : 0n;
    const stream = await this.#source.blocks(start);
    this.#stream = stream;
    try {
      if (this.#stopped()) return;
      for await (const block of stream) {
        const n = blockNumberOf(block);
        if (n > index.height) throw new Error(`the stream skipped from block ${index.height} to ${n}`);
        if (n === index.height) {
          // everything parsed before anything is applied: a block that fails leaves both parts at the same height
          const writes = stateWrites(block, this.#namespace);
          const records = recordWritesOf(writes, n);
          this.view.applyBlock(n, writes);
          index.applyBlock(n, records);
        }
        connected();
        if (this.#state !== 'live' && index.height >= target) {
          const first = this.#state === 'catching-up';
          this.#setState('live');
          if (first) {
            this.#log.info({ height: Number(index.height), records: index.size, ms: Math.round(performance.now() - this.#startedAt) }, 'read model caught up with the chain');
          } else this.#log.info({ height: Number(index.height) }, 'read model: block stream back');
        }
        this.#wake();
      }
    } finally {
      this.#stream = undefined;
      stream.close();
    }
  }
}
