// Shared by the benchmarks: medians and percentiles, the GC hook (node --expose-gc), and memory readings.
import { readFileSync } from 'node:fs';

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

export const rssMiB = (): number => process.memoryUsage.rss() / 2 ** 20;

/**
 * Peak RSS of this process. Linux's `getrusage` maxRSS (`resourceUsage().maxRSS`) of a spawned child starts at the
 * parent's RSS at fork time (the high-water mark survives exec), so read /proc/self/status VmHWM, which belongs to
 * the child's own address space; fall back to maxRSS elsewhere.
 */
export function highWaterRssMiB(): number {
  try {
    const m = /VmHWM:\s*(\d+)\s*kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Peak RSS sampled in the data path (timers would not fire inside a microtask-only loop). */
export class Peak {
  value = 0;
  sample(): void {
    this.value = Math.max(this.value, rssMiB());
  }
}

/** Drains a byte stream and counts its bytes, sampling `peak` every `sampleEvery` chunks (reading RSS costs ≈0.2 ms). */
export async function countSink(it: AsyncIterable<Uint8Array>, peak?: Peak, sampleEvery = 8): Promise<number> {
  let n = 0;
  let k = 0;
  for await (const c of it) {
    n += c.length;
    if (peak && ++k % sampleEvery === 0) peak.sample();
  }
  peak?.sample();
  return n;
}
