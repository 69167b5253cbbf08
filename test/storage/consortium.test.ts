/**
 * Several storage nodes (issue #4, "consortium"): real networked Helia nodes on loopback TCP, connected by explicit
 * dials. Hospital A writes; B and C fetch by CID over bitswap and verify; the replication protocol makes peers pin,
 * counts copies and flags under-replicated content; a non-member is refused; malformed requests get errors; and when A
 * is gone, its content is still readable from the node that pinned it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { openStorageNode, type NetworkedStorageNode } from '../../src/storage/node.js';
import { StorageError } from '../../src/storage/errors.js';
import {
  MAX_MESSAGE_BYTES,
  MAX_STATUS_CIDS,
  parseRequest,
  parseResponse,
  REPLICATION_PROTOCOL,
  Replicator,
  type ConsortiumPeer,
} from '../../src/storage/replication.js';
import { readAll } from './helpers.js';

const NET_TIMEOUT = 20_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function peerOf(n: NetworkedStorageNode): ConsortiumPeer {
  return { peerId: n.peerId, multiaddr: n.multiaddrs()[0]! };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<StorageError> {
  const e = await p.then(
    () => {
      throw new Error(`expected a StorageError ${code}, got success`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StorageError);
  expect((e as StorageError).code).toBe(code);
  return e as StorageError;
}

describe('storage consortium (three networked nodes on loopback)', () => {
  let base: string;
  let A: NetworkedStorageNode, B: NetworkedStorageNode, C: NetworkedStorageNode, D: NetworkedStorageNode;
  let rA: Replicator, rB: Replicator, rC: Replicator, rD: Replicator;
  const stopped = new Set<unknown>();
  const timings: Record<string, number> = {};

  const time = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      timings[label] = Math.round(performance.now() - t);
    }
  };

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'pie-consortium-'));
    const open = (name: string) => openStorageNode({ dataDir: path.join(base, name), network: { host: '127.0.0.1', port: 0 }, fsync: false });
    [A, B, C, D] = await time('start 4 nodes', () => Promise.all([open('a'), open('b'), open('c'), open('d')]));
    // consortium A, B, C; D is an outsider that knows B's address
    rA = new Replicator(A, { peers: [peerOf(B), peerOf(C)], replicas: 1, requestTimeoutMs: 5_000, pinTimeoutMs: NET_TIMEOUT });
    rB = new Replicator(B, { peers: [peerOf(A), peerOf(C)], replicas: 1, requestTimeoutMs: 5_000, pinTimeoutMs: NET_TIMEOUT });
    rC = new Replicator(C, { peers: [peerOf(A), peerOf(B)], replicas: 1, requestTimeoutMs: 5_000, pinTimeoutMs: NET_TIMEOUT });
    rD = new Replicator(D, { peers: [peerOf(B)], replicas: 1, requestTimeoutMs: 5_000, maxPinBytes: 100_000 });
    await Promise.all([rA.start(), rB.start(), rC.start(), rD.start()]);
    // explicit dials, full mesh among members
    await time('dials', async () => {
      await B.dial(A.multiaddrs()[0]!);
      await C.dial(A.multiaddrs()[0]!);
      await C.dial(B.multiaddrs()[0]!);
    });
  });

  afterAll(async () => {
    for (const r of [rA, rB, rC, rD]) await r?.stop();
    for (const n of [A, B, C, D]) if (n && !stopped.has(n)) await n.stop();
    if (base) await rm(base, { recursive: true, force: true });
    console.log('consortium timings (ms):', JSON.stringify(timings));
  });

  it('listens on loopback only', () => {
    for (const n of [A, B, C, D]) {
      expect(n.multiaddrs().length).toBeGreaterThan(0);
      for (const ma of n.multiaddrs()) expect(ma).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
    }
  });

  it('B and C fetch by CID what only A holds, verified, and B can pin it', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 12345);
    const { cid, size } = await A.blobs.put([bytes]);
    expect(size).toBe(bytes.length);
    expect(await B.blobs.has(cid)).toBe(false);
    expect(await C.blobs.has(cid)).toBe(false);

    const onB = await time('B fetch 3 MiB from A', () => readAll(B.blobs.get(cid, { signal: AbortSignal.timeout(NET_TIMEOUT) })));
    expect(sha(onB)).toBe(sha(bytes));
    const onC = await time('C fetch 3 MiB', () => readAll(C.blobs.get(cid, { signal: AbortSignal.timeout(NET_TIMEOUT) })));
    expect(sha(onC)).toBe(sha(bytes));
    // a byte range, fetched and verified the same way
    const range = await readAll(C.blobs.get(cid, { offset: 1_000_000, length: 70_000 }));
    expect(range.equals(bytes.subarray(1_000_000, 1_070_000))).toBe(true);

    expect(await B.blobs.isPinned(cid)).toBe(false);
    await B.blobs.pin(cid, { signal: AbortSignal.timeout(NET_TIMEOUT) });
    const st = await B.blobs.stat(cid);
    expect(st).toMatchObject({ size: bytes.length, complete: true, pinned: true });
  });

  it('replicate(): A makes a consortium peer pin its content; check() counts the copies', async () => {
    const bytes = randomBytes(1024 * 1024 + 1);
    const { cid } = await A.blobs.put([bytes]);
    const key = cid.toString();

    const before = await rA.check([cid]);
    expect(before.unreachable).toEqual([]);
    expect(before.entries).toEqual([{ cid: key, copies: 1, holders: [rA.peerId], required: 2, underReplicated: true }]);

    const res = await time('replicate 1 MiB (B pins)', () => rA.replicate(cid));
    expect(res).toEqual({ cid: key, pinnedBy: [rB.peerId], failures: [] });
    expect(await B.blobs.stat(cid)).toMatchObject({ pinned: true, complete: true });
    expect(await C.blobs.has(cid)).toBe(false);

    // every member sees the same count
    for (const r of [rA, rB, rC]) {
      const { entries } = await r.check([key, key]);
      expect(entries).toHaveLength(1);
      expect(entries[0]!.copies).toBe(2);
      expect([...entries[0]!.holders].sort()).toEqual([rA.peerId, rB.peerId].sort());
      expect(entries[0]!.underReplicated).toBe(false);
    }

    // already satisfied: no new pin
    expect(await rA.replicate(key)).toEqual({ cid: key, pinnedBy: [rB.peerId], failures: [] });
    expect(await C.blobs.has(cid)).toBe(false);

    // the count is configurable: a client-only replicator on A that wants 2 extra copies makes C pin too
    const rA2 = new Replicator(A, { peers: [peerOf(B), peerOf(C)], replicas: 2, pinTimeoutMs: NET_TIMEOUT });
    try {
      const res2 = await time('replicate to C (replicas 2)', () => rA2.replicate(cid));
      expect([...res2.pinnedBy].sort()).toEqual([rB.peerId, rC.peerId].sort());
      expect(await C.blobs.stat(cid)).toMatchObject({ pinned: true, complete: true });
      const { entries } = await rA2.check([cid]);
      expect(entries[0]).toMatchObject({ copies: 3, required: 3, underReplicated: false });
    } finally {
      await rA2.stop();
    }
    // the status request, directly
    expect(await rA.requestStatus(rC.peerId, [cid])).toEqual([{ cid: key, pinned: true, complete: true }]);
  });

  it('replicate() refuses content this node does not hold, and bad arguments', async () => {
    const { cid } = await B.blobs.put([randomBytes(1000)]);
    await rejectsWith(rA.replicate(cid), 'NOT_FOUND');
    await rejectsWith(rA.replicate('not-a-cid'), 'INVALID_CID');
    // a CID that is not a UnixFS DAG (dag-cbor)
    await rejectsWith(rA.replicate('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), 'INVALID_CID');
    expect(() => new Replicator(A, { peers: [peerOf(B)], replicas: 2 })).toThrow(StorageError);
    expect(() => new Replicator(A, { peers: [peerOf(A)] })).toThrow(/this node itself/);
    expect(() => new Replicator(A, { peers: [{ peerId: 'nope', multiaddr: '/ip4/127.0.0.1/tcp/1' }] })).toThrow(/peer id/);
    expect(() => new Replicator(A, { peers: [{ peerId: rB.peerId, multiaddr: `/ip4/127.0.0.1/tcp/1/p2p/${rC.peerId}` }] })).toThrow(
      /names peer/,
    );
    expect(() => new Replicator(A, { peers: [peerOf(B), peerOf(B)] })).toThrow(/twice/);
    expect(() => new Replicator({ helia: {}, blobs: A.blobs } as never, { peers: [] })).toThrow(/networked/);
  });

  it('a peer outside the consortium is refused', async () => {
    const { cid } = await A.blobs.put([randomBytes(2000)]);
    // D lists B as a peer, but B's allow-list does not contain D
    await rejectsWith(rD.requestStatus(rB.peerId, [cid]), 'FORBIDDEN');
    await rejectsWith(rD.requestPin(rB.peerId, cid), 'FORBIDDEN');
    expect(await B.blobs.has(cid)).toBe(false);
    // a member cannot be asked about a peer it is not configured with
    await rejectsWith(rA.requestStatus(rD.peerId, [cid]), 'INVALID_ARGUMENT');

    // D, for its part, does serve B (B is in D's list), within D's size limit
    const toD = new Replicator(B, { peers: [peerOf(D)], replicas: 1, pinTimeoutMs: NET_TIMEOUT });
    try {
      const small = await B.blobs.put([randomBytes(50_000)]);
      const big = await B.blobs.put([randomBytes(200_000)]);
      await toD.requestPin(rD.peerId, small.cid);
      expect(await D.blobs.stat(small.cid)).toMatchObject({ pinned: true, complete: true, size: 50_000 });
      const e = await rejectsWith(toD.requestPin(rD.peerId, big.cid), 'TOO_LARGE');
      expect(e.message).toMatch(/over this node's limit of 100000/);
      expect(await D.blobs.isPinned(big.cid)).toBe(false);
    } finally {
      await toD.stop();
    }

    // raw stream from D: FORBIDDEN comes back before anything D sends is read, then the stream ends
    const stream = await D.helia.libp2p.dialProtocol(multiaddr(B.multiaddrs()[0]!), REPLICATION_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
    const lp = lpStream(stream);
    await lp.write(enc.encode(JSON.stringify({ v: 1, type: 'status', cids: [cid.toString()] })));
    const res = parseResponse((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray());
    expect(res).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    await expect(lp.read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
  });

  it('malformed requests get BAD_REQUEST answers and the node keeps serving', async () => {
    const { cid } = await A.blobs.put([randomBytes(500)]);
    const key = cid.toString();
    const ask = async (frame: Uint8Array | ((s: import('@libp2p/interface').Stream) => void)): Promise<unknown> => {
      const stream = await C.helia.libp2p.dialProtocol(multiaddr(A.multiaddrs()[0]!), REPLICATION_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
      const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES });
      if (frame instanceof Uint8Array) await lp.write(frame);
      else frame(stream);
      const out = JSON.parse(dec.decode((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray()));
      await stream.close().catch(() => undefined);
      return out;
    };
    const bad = (message: RegExp) => ({ v: 1, ok: false, code: 'BAD_REQUEST', message: expect.stringMatching(message) });
    const json = (v: unknown) => enc.encode(JSON.stringify(v));

    expect(await ask(enc.encode('{not json'))).toEqual(bad(/not valid JSON/));
    expect(await ask(new Uint8Array([0xff, 0xfe, 0x22]))).toEqual(bad(/UTF-8/));
    expect(await ask(json([1, 2]))).toEqual(bad(/JSON object/));
    expect(await ask(json({ v: 2, type: 'status', cids: [key] }))).toEqual(bad(/version/));
    expect(await ask(json({ v: 1, type: 'delete', cid: key }))).toEqual(bad(/unknown request type/));
    expect(await ask(json({ v: 1, type: 'pin', cid: 'bafy-nonsense' }))).toEqual(bad(/not a valid CID/));
    expect(await ask(json({ v: 1, type: 'pin', cid: key, extra: true }))).toEqual(bad(/unknown field/));
    expect(await ask(json({ v: 1, type: 'pin', cid: key, timeoutMs: -5 }))).toEqual(bad(/timeoutMs/));
    expect(await ask(json({ v: 1, type: 'status', cids: [] }))).toEqual(bad(/1 to/));
    expect(await ask(json({ v: 1, type: 'status', cids: Array(MAX_STATUS_CIDS + 1).fill(key) }))).toEqual(bad(/1 to/));
    expect(await ask(json({ v: 1, type: 'status', cids: [key.toUpperCase()] }))).toEqual(bad(/CID/));
    // a length prefix announcing 1 MiB: refused before any of it is buffered
    expect(
      await ask((s) => {
        s.send(new Uint8Array([0x80, 0x80, 0x40, 1, 2, 3]));
      }),
    ).toEqual(bad(/too long/));

    // still serving
    expect(await ask(json({ v: 1, type: 'status', cids: [key] }))).toEqual({
      v: 1,
      ok: true,
      type: 'status',
      entries: [{ cid: key, pinned: true, complete: true }],
    });
    expect((await rC.check([cid])).entries[0]).toMatchObject({ copies: 1, holders: [rA.peerId] });
  });

  it('timeouts, aborts and stop end remote calls with TIMEOUT / ABORTED / CLOSED', async () => {
    // content nobody has: B tries to fetch it until the deadline C asked for, then answers TIMEOUT
    const absent = CID.createV1(0x55, await sha256.digest(randomBytes(64)));
    const quick = new Replicator(C, { peers: [peerOf(B)], pinTimeoutMs: 1_000, requestTimeoutMs: 3_000 });
    try {
      const t = performance.now();
      const e = await rejectsWith(quick.requestPin(rB.peerId, absent), 'TIMEOUT');
      expect(e.message).toMatch(/answered TIMEOUT/);
      expect(performance.now() - t).toBeLessThan(3_500);
      expect(await B.blobs.isPinned(absent)).toBe(false);
      // the caller's signal
      await rejectsWith(quick.requestPin(rB.peerId, absent, { signal: AbortSignal.timeout(200) }), 'ABORTED');
      await rejectsWith(quick.check([absent], { signal: AbortSignal.abort() }), 'ABORTED');
      // stop() while a request is in flight: it ends with CLOSED, and the replicator refuses new work
      const pending = quick.requestPin(rB.peerId, absent);
      await new Promise((r) => setTimeout(r, 100));
      await quick.stop();
      await rejectsWith(pending, 'CLOSED');
      await rejectsWith(quick.check([absent]), 'CLOSED');
    } finally {
      await quick.stop();
    }
    // B is still fine
    expect(await rC.requestStatus(rB.peerId, [absent])).toEqual([{ cid: absent.toString(), pinned: false, complete: false }]);
  });

  it('validates messages (unit)', () => {
    const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
    expect(parseRequest(enc.encode(JSON.stringify({ v: 1, type: 'pin', cid })))).toEqual({ v: 1, type: 'pin', cid });
    expect(parseRequest(new Uint8Array(MAX_MESSAGE_BYTES + 1))).toMatch(/exceeds/);
    expect(() => parseResponse(enc.encode(JSON.stringify({ v: 1, ok: false, code: 'WHATEVER', message: 'x' })))).toThrow(/unknown error code/);
    expect(() => parseResponse(enc.encode(JSON.stringify({ v: 1, ok: true, type: 'status', entries: [{ cid, pinned: 'yes', complete: true }] })))).toThrow(
      /booleans/,
    );
    expect(parseResponse(enc.encode(JSON.stringify({ v: 1, ok: true, type: 'pin', cid, size: 3 })))).toEqual({ v: 1, ok: true, type: 'pin', cid, size: 3 });
  });

  it('one node lost, no EMR lost: A stops, C reads via B; check() reports under-replication; replicate() repairs it', async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 7);
    const { cid } = await A.blobs.put([bytes]);
    const key = cid.toString();
    expect(await rA.replicate(cid)).toMatchObject({ pinnedBy: [rB.peerId] });
    // C never had it
    expect(await C.blobs.has(cid)).toBe(false);

    await rA.stop();
    await A.stop();
    stopped.add(A);

    // C fetches from B (the only node left holding it); B reads its own copy
    const onC = await time('C fetch 2 MiB via B after A stopped', () => readAll(C.blobs.get(cid, { signal: AbortSignal.timeout(NET_TIMEOUT) })));
    expect(sha(onC)).toBe(sha(bytes));
    expect(sha(await readAll(B.blobs.get(cid)))).toBe(sha(bytes));
    expect(await C.blobs.isPinned(cid)).toBe(false); // a read caches blocks, it does not make a copy

    // B's view: A is unreachable, so the CID has one copy of the two required
    const after = await time('check with a dead peer', () => rB.check([cid]));
    expect(after.unreachable.map((u) => u.peerId)).toEqual([rA.peerId]);
    expect(after.entries).toEqual([{ cid: key, copies: 1, holders: [rB.peerId], required: 2, underReplicated: true }]);

    // B wants 2 extra copies but only C is left: C pins, then UNDER_REPLICATED naming A's failure
    const rB2 = new Replicator(B, { peers: [peerOf(A), peerOf(C)], replicas: 2, requestTimeoutMs: 3_000, pinTimeoutMs: NET_TIMEOUT });
    try {
      const e = await rejectsWith(rB2.replicate(cid), 'UNDER_REPLICATED');
      expect(e.message).toContain(rA.peerId);
      expect(e.message).toMatch(/1 of 2/);
    } finally {
      await rB2.stop();
    }
    expect(await C.blobs.stat(cid)).toMatchObject({ pinned: true, complete: true });
    // with the normal rule (1 extra copy) it is satisfied again, A still down
    expect(await rB.replicate(cid)).toMatchObject({ pinnedBy: [rC.peerId] });
    const healed = await rB.check([cid]);
    expect(healed.entries[0]).toMatchObject({ copies: 2, underReplicated: false });
  });
});
