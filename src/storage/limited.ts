/** Bounded concurrency for the storage layer's fan-outs (DAG walks, directory syncs, batched uploads). */

/**
 * Runs `fn` over `items`, at most `limit` at a time. On the first failure no more are started; the ones running are
 * waited for (nothing is left running or rejecting unobserved) and that first error is thrown.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed.error;
}
