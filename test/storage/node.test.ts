/**
 * openStorageNode with networking: two real Helia nodes on loopback TCP in temp directories. Fetching by CID over
 * bitswap, the per-block deadline (NOT_FOUND) and the caller's AbortSignal (ABORTED) for content no peer has, the
 * loopback-only rules, and the peer id surviving a restart. (Replication between members is consortium.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { isLoopbackMultiaddr, openStorageNode } from '../../src/storage/index.js';
import type { NetworkedStorageNode } from '../../src/storage/index.js';
import { failure, readAll } from './helpers.js';

const MiB = 1024 * 1024;
/** B's per-block deadline: generous, so that real fetches under a loaded test run do not time out */
const FETCH_TIMEOUT_MS = 20_000;
/** C's: short, for the tests that wait for it to expire */
const SHORT_TIMEOUT_MS = 1500;

let base: string;
let A: NetworkedStorageNode;
let B: NetworkedStorageNode;
let C: NetworkedStorageNode;
let unhandled = 0;
const onUnhandled = (): void => {
  unhandled++;
};



const absentCid = async (): Promise<CID> => CID.createV1(0x70, await sha256.digest(randomBytes(32)));

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  base = await fsp.mkdtemp(join(tmpdir(), 'pie-storage-node-'));
  [A, B, C] = await Promise.all([
    openStorageNode({ dataDir: join(base, 'a'), fsync: false, network: { host: '127.0.0.1', port: 0 } }),
    openStorageNode({ dataDir: join(base, 'b'), fsync: false, network: { fetchTimeoutMs: FETCH_TIMEOUT_MS } }),
    openStorageNode({ dataDir: join(base, 'c-short'), fsync: false, network: { fetchTimeoutMs: SHORT_TIMEOUT_MS } }),
  ]);
  await B.dial(A.multiaddrs()[0]!);
  await C.dial(A.multiaddrs()[0]!);
});
afterAll(async () => {
  await C?.stop();
  await B?.stop();
  await A?.stop();
  await fsp.rm(base, { recursive: true, force: true });
  process.off('unhandledRejection', onUnhandled);
});

test('listens on loopback only and has a peer id', () => {
  expect(A.peerId).toMatch(/^12D3Koo/);
  expect(A.multiaddrs().length).toBeGreaterThan(0);
  for (const a of A.multiaddrs()) expect(a).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${A.peerId}$`));
  expect(B.helia.libp2p.getConnections(A.helia.libp2p.peerId).length).toBeGreaterThan(0);
});

test('a peer reads content by CID over bitswap; every byte arrives, blocks are then local (not pinned)', async () => {
  const content = randomBytes(3 * MiB + 17);
  const { cid } = await A.blobs.put([content]);
  expect(await B.blobs.has(cid)).toBe(false);
  expect((await readAll(B.blobs.get(cid))).equals(content)).toBe(true);
  expect(await B.blobs.stat(cid)).toMatchObject({ size: content.length, complete: true, localBlocks: 5, pinned: false });
  // a range fetched from the peer
  const other = randomBytes(3 * MiB);
  const o = await A.blobs.put([other]);
  expect((await readAll(B.blobs.get(o.cid, { offset: MiB + 10, length: 6 }))).equals(other.subarray(MiB + 10, MiB + 16))).toBe(true);
  // only the root and the one leaf the range needed came over
  expect(await B.blobs.stat(o.cid)).toMatchObject({ complete: false, localBlocks: 2 });
});

test('pin fetches the whole DAG from the peer and survives the peer going away', async () => {
  const content = randomBytes(2 * MiB + 5);
  const { cid } = await A.blobs.put([content]);
  await B.blobs.pin(cid.toString());
  expect(await B.blobs.stat(cid)).toMatchObject({ complete: true, pinned: true, localBlocks: 4 });
  await A.blobs.unpin(cid);
  await A.blobs.gc();
  expect(await A.blobs.has(cid)).toBe(false);
  expect((await readAll(B.blobs.get(cid))).equals(content)).toBe(true);
});

test('content no peer has: NOT_FOUND after the per-block deadline, nothing pinned, no stray rejections', async () => {
  const absent = await absentCid();
  const t = performance.now();
  const e = await failure(C.blobs.get(absent));
  expect(e.code).toBe('NOT_FOUND');
  expect(e.message).toMatch(/1 connected peer within 1500 ms/);
  // the deadline cannot fire early (no upper bound: a loaded machine may be late)
  expect(performance.now() - t).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 50);
  expect((await failure(C.blobs.pin(absent))).code).toBe('NOT_FOUND');
  expect(await C.blobs.isPinned(absent)).toBe(false);
  await new Promise((r) => setTimeout(r, 100));
  expect(unhandled).toBe(0);
});

test.each(['get', 'stat', 'pin'] as const)("the caller's signal ends a %s fetch early with ABORTED", async (op) => {
  const absent = await absentCid();
  const signal = AbortSignal.timeout(200);
  const t = performance.now();
  const e = await failure(op === 'get' ? B.blobs.get(absent, { signal }) : B.blobs[op](absent, { signal }));
  expect(e.code).toBe('ABORTED');
  expect(performance.now() - t).toBeLessThan(FETCH_TIMEOUT_MS); // well before B's 20 s deadline would have fired
});

test.each([
  ['a LAN address', '/ip4/192.0.2.1/tcp/4001'],
  ['a DNS name', '/dns4/example.com/tcp/4001'],
  ['the wildcard address', '/ip4/0.0.0.0/tcp/4001'],
  ['an IPv6 non-loopback', '/ip6/2001:db8::1/tcp/4001'],
  ['garbage', 'not a multiaddr'],
])('dial refuses %s with INVALID_ARGUMENT (nothing is dialled)', async (_name, addr) => {
  expect((await failure(B.dial(addr))).code).toBe('INVALID_ARGUMENT');
});

test('dial to a loopback port nobody listens on → UNREACHABLE', async () => {
  expect((await failure(B.dial('/ip4/127.0.0.1/tcp/1'))).code).toBe('UNREACHABLE');
});

test('isLoopbackMultiaddr (the connection gater rule)', () => {
  expect(isLoopbackMultiaddr(multiaddr('/ip4/127.0.0.1/tcp/1'))).toBe(true);
  expect(isLoopbackMultiaddr(multiaddr('/ip4/127.8.9.10/tcp/1'))).toBe(true);
  expect(isLoopbackMultiaddr(multiaddr('/ip6/::1/tcp/1'))).toBe(true);
  expect(isLoopbackMultiaddr(multiaddr('/ip4/10.0.0.1/tcp/1'))).toBe(false);
  expect(isLoopbackMultiaddr(multiaddr('/dns4/localhost/tcp/1'))).toBe(false);
  expect(isLoopbackMultiaddr(multiaddr(`/p2p/${A.peerId}`))).toBe(false);
});

test('the peer id persists across a restart of the same data directory', async () => {
  const dataDir = join(base, 'c');
  const first = await openStorageNode({ dataDir, fsync: false, network: {} });
  const id = first.peerId;
  await first.stop();
  const second = await openStorageNode({ dataDir, fsync: false, network: {} });
  try {
    expect(second.peerId).toBe(id);
  } finally {
    await second.stop();
  }
});

test('allowPeers: only consortium members may connect, so a stranger cannot fetch blocks over bitswap', async () => {
  // Peer ids are made at the first start and kept; learn them, then reopen the gated node.
  const gatedDir = join(base, 'gated');
  const strangerDir = join(base, 'stranger');
  const first = await openStorageNode({ dataDir: gatedDir, fsync: false, network: {} });
  const gatedId = first.peerId;
  await first.stop();
  const gated = await openStorageNode({ dataDir: gatedDir, fsync: false, network: { allowPeers: [B.peerId] } });
  const stranger = await openStorageNode({ dataDir: strangerDir, fsync: false, network: { fetchTimeoutMs: SHORT_TIMEOUT_MS } });
  try {
    expect(gated.peerId).toBe(gatedId);
    const content = randomBytes(300_000);
    const { cid } = await gated.blobs.put([content]);
    // a member fetches
    await B.dial(gated.multiaddrs()[0]!);
    expect((await readAll(B.blobs.get(cid))).equals(content)).toBe(true);
    // A stranger is refused at the connection both ways. Dialling in, the stranger's side may finish its handshake
    // before the gated side closes the connection; what matters is that no connection stays and nothing is served.
    await gated.dial(stranger.multiaddrs()[0]!).then(
      () => {
        throw new Error('the gated node dialled a stranger');
      },
      (e: unknown) => expect(e).toMatchObject({ code: 'UNREACHABLE' }),
    );
    await stranger.dial(gated.multiaddrs()[0]!).catch(() => undefined);
    expect((await failure(stranger.blobs.get(cid))).code).toBe('NOT_FOUND');
    const strangerConnections = gated.helia.libp2p.getConnections().filter((c) => c.remotePeer.toString() === stranger.peerId);
    expect(strangerConnections).toEqual([]);
  } finally {
    await Promise.all([gated.stop(), stranger.stop()]);
  }
});

test('allowPeers must be peer ids', async () => {
  await expect(openStorageNode({ dataDir: join(base, 'bad-allow'), network: { allowPeers: ['not-a-peer-id'] } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
});
