/**
 * Work prepared for an author whose signing key lives in its own client, waiting for the author's signatures (the
 * two-step uploads: prepareFhirIngest / commitFhirIngest, prepareCreateEmr / commitCreateEmr).
 *
 * - A draft belongs to its author: anyone else asking for it gets the same NOT_FOUND as for an unknown draft.
 * - It expires after a time to live; `onExpire` then releases what it holds (e.g. unpins stored content).
 * - A commit in progress holds the draft: a second commit of it is a CONFLICT, and it does not expire under the
 *   commit (expiry waits for the outcome). A failed commit (a refused signature) keeps the draft so the client can
 *   retry; a successful one removes it.
 * - At most `max` drafts are pending (UNAVAILABLE beyond).
 */
import { randomBytes } from 'node:crypto';
import { ExchangeError } from './errors.js';

export interface DraftsOptions<T> {
  readonly ttlMs: number;
  readonly max: number;
  /** releases what an expired (or, at close, abandoned) draft holds; never throws */
  readonly onExpire?: (value: T) => Promise<void>;
  readonly now?: () => number;
}

interface Pending<T> {
  readonly value: T;
  readonly authorId: string;
  readonly expiresAt: number;
  readonly timer: NodeJS.Timeout;
  committing: boolean;
}

export class Drafts<T> {
  readonly #pending = new Map<string, Pending<T>>();
  readonly #o: DraftsOptions<T>;

  constructor(options: DraftsOptions<T>) {
    this.#o = options;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** UNAVAILABLE when `max` drafts are pending: check before doing the work a draft would hold. */
  assertRoom(): void {
    if (this.#pending.size >= this.#o.max) throw new ExchangeError('UNAVAILABLE', `too many uncommitted uploads (${this.#o.max}); commit or let them expire`);
  }

  /** Keeps `value` for its author until committed or expired. */
  add(authorId: string, value: T): { draftId: string; expiresAt: Date } {
    this.assertRoom();
    const draftId = randomBytes(16).toString('hex');
    const expiresAt = this.#now() + this.#o.ttlMs;
    const timer = setTimeout(() => void this.#expire(draftId), this.#o.ttlMs);
    timer.unref();
    this.#pending.set(draftId, { value, authorId, expiresAt, timer, committing: false });
    return { draftId, expiresAt: new Date(expiresAt) };
  }

  /**
   * Runs `commit` on the author's draft; removes the draft when it succeeds, keeps it when it fails. NOT_FOUND for an
   * unknown, expired or someone else's draft; CONFLICT while another commit of it runs.
   */
  async commit<R>(draftId: string, authorId: string, commit: (value: T) => Promise<R>): Promise<R> {
    const d = typeof draftId === 'string' ? this.#pending.get(draftId) : undefined;
    if (d === undefined || d.authorId !== authorId || this.#now() >= d.expiresAt) {
      throw new ExchangeError('NOT_FOUND', `no pending upload ${draftId} of yours (it may have expired)`);
    }
    if (d.committing) throw new ExchangeError('CONFLICT', `upload ${draftId} is being committed`);
    d.committing = true;
    let committed = false;
    try {
      const result = await commit(d.value);
      committed = true;
      return result;
    } finally {
      d.committing = false;
      if (committed) {
        clearTimeout(d.timer);
        this.#pending.delete(draftId);
      } else if (this.#now() >= d.expiresAt) {
        await this.#expire(draftId); // it expired while the refused commit ran
      }
    }
  }

  /** Expires every pending draft (node shutdown); one being committed is left to its commit. */
  async close(): Promise<void> {
    await Promise.all([...this.#pending.keys()].map((id) => this.#expire(id)));
  }

  async #expire(draftId: string): Promise<void> {
    const d = this.#pending.get(draftId);
    if (d === undefined || d.committing) return; // a running commit decides (see commit)
    clearTimeout(d.timer);
    this.#pending.delete(draftId);
    await this.#o.onExpire?.(d.value);
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }
}
