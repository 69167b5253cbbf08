// Block cutting as Fabric's blockcutter: count, preferred bytes, oversized transactions, timeout, absolute maximum.
import { DEVNET_BATCH_DEFAULTS, FABRIC_BATCH_DEFAULTS, Orderer, OrdererError } from '../../src/chain/devnet/orderer.js';
import type { BatchConfig } from '../../src/chain/devnet/orderer.js';

const tx = (size: number, tag = 0): Uint8Array => new Uint8Array(size).fill(tag);

function collect(config: Partial<BatchConfig>) {
  const batches: number[][] = [];
  const o = new Orderer({ ...FABRIC_BATCH_DEFAULTS, ...config }, async (b) => {
    batches.push(b.map((e) => e.length));
  });
  return { o, batches };
}

test('cuts at MaxMessageCount without waiting for the timeout', async () => {
  const { o, batches } = collect({ maxMessageCount: 3, batchTimeoutMs: 60_000 });
  for (let i = 0; i < 7; i++) o.order(tx(10));
  await new Promise((r) => setTimeout(r, 20));
  expect(batches).toEqual([[10, 10, 10], [10, 10, 10]]);
  await o.stop();
  expect(batches).toEqual([[10, 10, 10], [10, 10, 10], [10]]);
});

test('a transaction that would overflow PreferredMaxBytes starts the next block; a larger one goes alone', async () => {
  const { o, batches } = collect({ preferredMaxBytes: 100, absoluteMaxBytes: 1000, batchTimeoutMs: 60_000 });
  o.order(tx(40));
  o.order(tx(40));
  o.order(tx(40)); // 120 > 100: cut [40, 40] first
  o.order(tx(500)); // over preferred: cut [40], then [500] alone
  o.order(tx(10));
  await o.stop();
  expect(batches).toEqual([[40, 40], [40], [500], [10]]);
});

test('a transaction over AbsoluteMaxBytes is refused', () => {
  const { o } = collect({ absoluteMaxBytes: 50, preferredMaxBytes: 50 });
  expect(() => o.order(tx(51))).toThrow(OrdererError);
  expect(() => o.order(tx(51))).toThrow(/exceeds AbsoluteMaxBytes 50/);
});

test('BatchTimeout runs from the first pending transaction', async () => {
  const { o, batches } = collect({ batchTimeoutMs: 80 });
  const t0 = Date.now();
  o.order(tx(1));
  await new Promise((r) => setTimeout(r, 40));
  o.order(tx(2));
  expect(batches).toEqual([]);
  while (batches.length === 0) await new Promise((r) => setTimeout(r, 5));
  expect(batches).toEqual([[1, 2]]);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
  await o.stop();
});

test('timeout 0: what arrives while the committer is busy becomes one block, cut when it is free', async () => {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  const o = new Orderer(DEVNET_BATCH_DEFAULTS, (b) => {
    batches.push(b.map((e) => e.length));
    return new Promise<void>((resolve) => releases.push(resolve));
  });
  const tick = () => new Promise((r) => setTimeout(r, 5));
  o.order(tx(1));
  await tick();
  expect(batches).toEqual([[1]]); // an idle network commits at once
  for (const size of [2, 3]) {
    o.order(tx(size));
    await tick(); // the timer fires while block 1 is being delivered: no cut yet
  }
  o.order(tx(4));
  await tick();
  expect(batches).toEqual([[1]]);
  releases.shift()!();
  await tick();
  expect(batches).toEqual([[1], [2, 3, 4]]);
  releases.shift()!();
  await tick();
  o.order(tx(5));
  await tick();
  expect(batches).toEqual([[1], [2, 3, 4], [5]]);
  releases.shift()!();
  await o.stop();
});

test('a non-zero timeout cuts on time even while a block is being delivered (Fabric)', async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const o = new Orderer({ ...FABRIC_BATCH_DEFAULTS, batchTimeoutMs: 10 }, (b) => {
    batches.push(b.map((e) => e.length));
    return batches.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
  });
  o.order(tx(1));
  await new Promise((r) => setTimeout(r, 30));
  o.order(tx(2));
  await new Promise((r) => setTimeout(r, 30));
  o.order(tx(3));
  await new Promise((r) => setTimeout(r, 30));
  release();
  await o.stop();
  expect(batches).toEqual([[1], [2], [3]]);
});

test('the dev network default (timeout 0) still groups a synchronous burst into one block', async () => {
  const { o, batches } = collect(DEVNET_BATCH_DEFAULTS);
  for (let i = 0; i < 5; i++) o.order(tx(1));
  await new Promise((r) => setTimeout(r, 10));
  expect(batches).toEqual([[1, 1, 1, 1, 1]]);
  await o.stop();
});

test('batches are delivered one at a time, in order; a stopped orderer refuses transactions', async () => {
  const order: string[] = [];
  const o = new Orderer({ ...FABRIC_BATCH_DEFAULTS, maxMessageCount: 1 }, async (b) => {
    order.push(`start ${b[0]![0]}`);
    await new Promise((r) => setTimeout(r, 10));
    order.push(`end ${b[0]![0]}`);
  });
  o.order(tx(1, 1));
  o.order(tx(1, 2));
  await o.stop();
  expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  expect(() => o.order(tx(1))).toThrow(/stopped/);
});

test('invalid configurations are refused', () => {
  expect(() => new Orderer({ ...FABRIC_BATCH_DEFAULTS, maxMessageCount: 0 }, async () => undefined)).toThrow(/maxMessageCount/);
  expect(() => new Orderer({ ...FABRIC_BATCH_DEFAULTS, preferredMaxBytes: FABRIC_BATCH_DEFAULTS.absoluteMaxBytes + 1 }, async () => undefined)).toThrow(/preferredMaxBytes/);
  expect(() => new Orderer({ ...FABRIC_BATCH_DEFAULTS, batchTimeoutMs: -1 }, async () => undefined)).toThrow(/batchTimeoutMs/);
});
