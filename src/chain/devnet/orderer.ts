/**
 * Block cutting as Fabric's orderer does it (orderer/common/blockcutter): a block is cut when MaxMessageCount
 * transactions are pending, when the next transaction would push the pending bytes over PreferredMaxBytes (it then
 * starts the next block; a transaction larger than PreferredMaxBytes goes alone in its own block), or when
 * BatchTimeout has passed since the first pending transaction. Transactions over AbsoluteMaxBytes are refused.
 *
 * Fabric's defaults are 2 s / 500 / 10 MB / 2 MB; the dev network defaults to a short timeout (a block as soon as
 * the event loop is idle, like Anvil's instant mining) and accepts Fabric's values for paper-faithful runs.
 */
import { CodedError } from '../../errors.js';

export interface BatchConfig {
  /** ms from the first pending transaction to the cut; 0 = cut as soon as the current burst has been queued and the committer has finished the previous block */
  batchTimeoutMs: number;
  maxMessageCount: number;
  absoluteMaxBytes: number;
  preferredMaxBytes: number;
}

export const FABRIC_BATCH_DEFAULTS: Readonly<BatchConfig> = Object.freeze({
  batchTimeoutMs: 2000,
  maxMessageCount: 500,
  absoluteMaxBytes: 10 * 1024 * 1024,
  preferredMaxBytes: 2 * 1024 * 1024,
});

export const DEVNET_BATCH_DEFAULTS: Readonly<BatchConfig> = Object.freeze({ ...FABRIC_BATCH_DEFAULTS, batchTimeoutMs: 0 });

export class OrdererError extends CodedError<'INVALID_ARGUMENT' | 'TOO_LARGE' | 'STOPPED'> {
  override readonly name = 'OrdererError';
}

export function checkBatchConfig(c: BatchConfig): BatchConfig {
  const bad = (what: string): never => {
    throw new OrdererError('INVALID_ARGUMENT', `batch config: ${what}`);
  };
  if (!Number.isFinite(c.batchTimeoutMs) || c.batchTimeoutMs < 0 || c.batchTimeoutMs > 60_000) bad('batchTimeoutMs must be 0–60000');
  if (!Number.isSafeInteger(c.maxMessageCount) || c.maxMessageCount < 1) bad('maxMessageCount must be a positive integer');
  if (!Number.isSafeInteger(c.absoluteMaxBytes) || c.absoluteMaxBytes < 1) bad('absoluteMaxBytes must be a positive integer');
  if (!Number.isSafeInteger(c.preferredMaxBytes) || c.preferredMaxBytes < 1 || c.preferredMaxBytes > c.absoluteMaxBytes) {
    bad('preferredMaxBytes must be a positive integer ≤ absoluteMaxBytes');
  }
  return c;
}

/** Orders envelopes into batches and hands each batch to `deliver` (one at a time, in order). */
export class Orderer {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: { cancel(): void } | undefined;
  private delivering: Promise<unknown> = Promise.resolve();
  /** batches handed to `deliver` and not yet delivered */
  private inFlight = 0;
  /** timeout 0 only: the timer fired while a batch was being delivered, so cut when that delivery ends */
  private cutWhenIdle = false;
  private stopped = false;

  constructor(
    private readonly config: BatchConfig,
    private readonly deliver: (batch: Uint8Array[]) => Promise<unknown>,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {
    checkBatchConfig(config);
  }

  /** Queues one transaction envelope; throws TOO_LARGE or STOPPED. */
  order(envelope: Uint8Array): void {
    if (this.stopped) throw new OrdererError('STOPPED', 'the orderer is stopped');
    const size = envelope.length;
    if (size > this.config.absoluteMaxBytes) {
      throw new OrdererError('TOO_LARGE', `transaction of ${size} bytes exceeds AbsoluteMaxBytes ${this.config.absoluteMaxBytes}`);
    }
    if (size > this.config.preferredMaxBytes) {
      // Fabric: cut what is pending, then this transaction alone.
      this.cut();
      this.pending.push(envelope);
      this.pendingBytes = size;
      this.cut();
      return;
    }
    if (this.pendingBytes + size > this.config.preferredMaxBytes) this.cut();
    this.pending.push(envelope);
    this.pendingBytes += size;
    if (this.pending.length >= this.config.maxMessageCount) this.cut();
    else this.startTimer();
  }

  private startTimer(): void {
    if (this.timer !== undefined || this.cutWhenIdle) return;
    // Timeout 0: setImmediate (after the I/O callbacks of this turn of the event loop; setTimeout(0) would wait a
    // whole millisecond), so a burst of submissions arriving together still shares a block. While the committer is
    // busy with the previous block the batch keeps growing and is cut when it is free: one block per commit instead
    // of a queue of small ones, so throughput grows with load while an idle network still commits each transaction
    // at once. A non-zero timeout is Fabric's rule exactly.
    const fire = (): void => {
      this.timer = undefined;
      if (this.config.batchTimeoutMs === 0 && this.inFlight > 0) this.cutWhenIdle = true;
      else this.cut();
    };
    if (this.config.batchTimeoutMs === 0) {
      const immediate = setImmediate(fire);
      this.timer = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(fire, this.config.batchTimeoutMs);
      this.timer = { cancel: () => clearTimeout(timeout) };
    }
  }

  private cut(): void {
    if (this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
    this.cutWhenIdle = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight++;
    this.delivering = this.delivering
      .then(() => this.deliver(batch))
      .catch(this.onError)
      .finally(() => {
        this.inFlight--;
        if (this.cutWhenIdle && this.inFlight === 0) this.cut();
      });
  }

  /** Cuts what is pending, waits for every batch to be delivered, and refuses further transactions. */
  async stop(): Promise<void> {
    this.cut();
    this.stopped = true;
    await this.delivering;
  }
}
