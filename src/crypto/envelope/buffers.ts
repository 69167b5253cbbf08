/**
 * A small pool of plaintext segment buffers. A fresh 1 MiB allocation costs ~0.2 ms of page faults on first write,
 * as much as encrypting a quarter of it; reusing warm buffers keeps small envelopes close to raw cipher speed.
 * Buffers are zeroed on release, so no plaintext lingers in the pool.
 */
const pool = new Map<number, Uint8Array[]>();
const MAX_PER_SIZE = 4; // beyond this many concurrent streams, buffers are simply left to the GC

export function acquireBuffer(size: number): Uint8Array {
  return pool.get(size)?.pop() ?? new Uint8Array(size);
}

/** `used`: how many leading bytes may hold data (only those are wiped). */
export function releaseBuffer(buf: Uint8Array, used = buf.length): void {
  buf.fill(0, 0, used);
  let list = pool.get(buf.length);
  if (!list) pool.set(buf.length, (list = []));
  if (list.length < MAX_PER_SIZE) list.push(buf);
}
