// Shared by the benchmarks: medians and percentiles, and the GC hook (node --expose-gc).
export const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
export const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
export const median = (xs: readonly number[]): number => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Nearest-rank percentile (p99 of fewer than 100 samples is the maximum). */
export const percentile = (xs: readonly number[], p: number): number => {
  const s = sorted(xs);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
