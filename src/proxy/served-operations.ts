/**
 * Which operations each local proxy has served: a proxy releases a capsule fragment for an operation at most once.
 * An entry is needed only while its operation could still be served (recorded at most the TTL ago); older ones are
 * dropped, so the memory holds at most the operations of one TTL window. It is not persisted: after a restart an
 * operation younger than the TTL could be served once more, to the same caller, for the same live grant.
 */

/** How often at most the whole memory is swept for aged-out entries. */
const SWEEP_INTERVAL_MS = 1_000;

export class ServedOperations {
  /** operation id → the time it ages out (ms) and the proxies that served it */
  readonly #served = new Map<string, { readonly until: number; readonly proxies: Set<string> }>();
  #sweptAt = 0;

  constructor(private readonly clock: () => number) {}

  /** The first of `proxyIds` that has served `operationId` already, if any. */
  servedBy(operationId: string, proxyIds: readonly string[]): string | undefined {
    const entry = this.#served.get(operationId);
    if (entry === undefined || entry.until <= this.clock()) return undefined;
    return proxyIds.find((p) => entry.proxies.has(p));
  }

  /**
   * Marks `operationId` served by `proxyIds`, remembered until `until` (ms); returns the first proxy that had served it
   * already instead (and marks nothing). Synchronous, so that check and mark cannot interleave with another release.
   */
  claim(operationId: string, proxyIds: readonly string[], until: number): string | undefined {
    this.#sweep();
    const already = this.servedBy(operationId, proxyIds);
    if (already !== undefined) return already;
    const entry = this.#served.get(operationId);
    if (entry !== undefined && entry.until > this.clock()) {
      for (const p of proxyIds) entry.proxies.add(p);
    } else {
      this.#served.set(operationId, { until, proxies: new Set(proxyIds) });
    }
    return undefined;
  }

  get size(): number {
    return this.#served.size;
  }

  clear(): void {
    this.#served.clear();
  }

  #sweep(): void {
    const now = this.clock();
    if (now - this.#sweptAt < SWEEP_INTERVAL_MS) return;
    this.#sweptAt = now;
    for (const [id, entry] of this.#served) if (entry.until <= now) this.#served.delete(id);
  }
}
