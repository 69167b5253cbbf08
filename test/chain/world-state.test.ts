import { randomBytes } from 'node:crypto';
import { WorldState, compareKeys } from '../../src/chain/devnet/world-state.js';
import type { KeyWrite } from '../../src/chain/devnet/world-state.js';

const NS = 'cc';
const at = (blockNum: number) => ({ txId: `tx${blockNum}`, blockNum, txNum: 0, timestamp: { seconds: blockNum, nanos: 0 } });
const put = (key: string): KeyWrite => ({ key, isDelete: false, value: new TextEncoder().encode(key) });
const del = (key: string): KeyWrite => ({ key, isDelete: true, value: new Uint8Array(0) });
const keysIn = (state: WorldState, start: string, end: string): string[] => [...state.range(NS, start, end)].map(([k]) => k);

/** Keys with composite-key separators, multi-byte and supplementary-plane characters, as chaincode writes them. */
function randomKey(): string {
  const parts = ['\u0000pie.emr\u0000', 'a', 'b', 'z', 'é', '\uffff', '😀', '\u0000'];
  let k = '';
  const n = 1 + (randomBytes(1)[0]! % 6);
  for (let i = 0; i < n; i++) k += parts[randomBytes(1)[0]! % parts.length]! + randomBytes(1)[0]!.toString(36);
  return k;
}

describe('WorldState key order', () => {
  test('range scans match a sorted reference through thousands of inserts and deletes', () => {
    const state = new WorldState();
    const reference = new Set<string>();
    let block = 1;
    for (let round = 0; round < 40; round++) {
      const writes: KeyWrite[] = [];
      for (let i = 0; i < 150; i++) {
        const k = randomKey();
        if (reference.has(k) && randomBytes(1)[0]! < 96) {
          writes.push(del(k));
          reference.delete(k);
        } else {
          writes.push(put(k));
          reference.add(k);
        }
      }
      // one write per key per transaction, as in a Fabric write set
      const last = new Map(writes.map((w) => [w.key, w]));
      state.apply([{ namespace: NS, reads: [], rangeQueries: [], writes: [...last.values()] }], at(block++));
      const sorted = [...reference].sort(compareKeys);
      expect(state.size(NS)).toBe(sorted.length);
      expect(keysIn(state, '', '')).toEqual(sorted);
      const [a, b] = [randomKey(), randomKey()].sort(compareKeys) as [string, string];
      expect(keysIn(state, a, b)).toEqual(sorted.filter((k) => compareKeys(k, a) >= 0 && compareKeys(k, b) < 0));
    }
    expect(state.size(NS)).toBeGreaterThan(1024); // more than one chunk
  });

  test('an open scan survives commits: it resumes after its last key and never repeats one', () => {
    const state = new WorldState();
    const keys = Array.from({ length: 3000 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    state.apply([{ namespace: NS, reads: [], rangeQueries: [], writes: keys.map(put) }], at(1));
    const scan = state.range(NS, 'k', 'l');
    const got: string[] = [];
    for (let i = 0; i < 1000; i++) got.push(scan.next().value![0]);
    // Behind the scan position (splits chunks, moves indexes), at it, and ahead of it.
    state.apply(
      [{ namespace: NS, reads: [], rangeQueries: [], writes: [...Array.from({ length: 800 }, (_, i) => put(`k00000.${i}`)), del('k01000'), put('k02500.x'), del('k02999')] }],
      at(2),
    );
    for (let r = scan.next(); !r.done; r = scan.next()) got.push(r.value[0]);
    expect(new Set(got).size).toBe(got.length);
    expect(got.slice(0, 1000)).toEqual(keys.slice(0, 1000));
    expect(got.slice(1000)).toEqual([...keys.slice(1001, 2501), 'k02500.x', ...keys.slice(2501, 2999)]);
  });
});
