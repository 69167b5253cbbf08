/**
 * The BlobStore on a real offline Helia node (blockstore on disk, LevelDB datastore) in a temp directory: round
 * trips and byte ranges, pins and gc, restart, damaged and missing blocks, bad CIDs, failed and aborted puts and
 * gets, the data directory lock.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dagPb from '@ipld/dag-pb';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256, sha512 } from 'multiformats/hashes/sha2';
import { CHUNK_SIZE, LOCK_FILE, openStorageNode, StorageError, VerifiedBlockstore } from '../../src/storage/index.js';
import type { StorageNode } from '../../src/storage/index.js';
import { failure, readAll } from './helpers.js';

const MiB = 1024 * 1024;

let base: string;
let seq = 0;
const open: StorageNode[] = [];

async function newNode(options: { fsync?: boolean; dataDir?: string } = {}): Promise<StorageNode> {
  const node = await openStorageNode({ dataDir: options.dataDir ?? join(base, `n${seq++}`), fsync: options.fsync ?? false });
  open.push(node);
  return node;
}



/** Content split into uneven pieces, as an upload arrives. */
function* pieces(b: Uint8Array, size = 100_003): Generator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function blockFiles(node: StorageNode): Promise<string[]> {
  const dir = join(node.dataDir, 'blocks');
  const names = (await fsp.readdir(dir, { recursive: true })) as string[];
  return names.filter((n) => n.endsWith('.data')).sort();
}

async function pinList(node: StorageNode): Promise<string[]> {
  const out: string[] = [];
  for await (const c of node.blobs.pins()) out.push(c.toString());
  return out.sort();
}

async function rootLinks(node: StorageNode, root: CID): Promise<CID[]> {
  const bytes = await readAll(node.helia.blockstore.get(root, { offline: true }));
  return dagPb.decode(bytes).Links.map((l) => l.Hash);
}

/** Where a block lives on disk (same sharding as the node's blockstore). */
function blockPath(node: StorageNode, cid: CID): string {
  return new VerifiedBlockstore(join(node.dataDir, 'blocks')).blockPath(cid);
}

beforeAll(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'pie-blob-store-'));
});
afterAll(async () => {
  for (const n of open) await n.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

describe('round trips and layout', () => {
  let node: StorageNode;
  beforeAll(async () => {
    node = await newNode();
  });

  test.each([
    ['empty', 0],
    ['1 byte', 1],
    ['0.4 kB', 400],
    ['exactly one chunk', CHUNK_SIZE],
    ['several MiB, uneven tail', 5 * MiB + 123],
  ])('%s', async (_name, n) => {
    const content = randomBytes(n);
    const { cid, size } = await node.blobs.put(pieces(content));
    expect(size).toBe(n);
    expect(cid.version).toBe(1);
    expect(cid.toString()).toMatch(/^bafybei/); // always a dag-pb UnixFS root, even for one chunk
    expect(await node.blobs.has(cid)).toBe(true);
    expect(await node.blobs.isPinned(cid)).toBe(true);
    expect(await node.blobs.isPinned(cid.toString())).toBe(true);
    const back = await readAll(node.blobs.get(cid.toString()));
    expect(back.equals(content)).toBe(true);
    const st = await node.blobs.stat(cid);
    expect(st).toMatchObject({ size: n, complete: true, pinned: true });
    expect(st.localBlocks).toBe(1 + Math.ceil(n / CHUNK_SIZE));
  });

  test('accepts sync iterables, async iterables and zero-length chunks', async () => {
    const a = randomBytes(3000);
    const viaArray = await node.blobs.put([a.subarray(0, 0), a.subarray(0, 1000), new Uint8Array(0), a.subarray(1000)]);
    const viaAsync = await node.blobs.put(
      (async function* () {
        yield a.subarray(0, 2000);
        yield a.subarray(2000);
      })(),
    );
    expect(viaAsync.cid.equals(viaArray.cid)).toBe(true);
  });

  test('the layout is fixed: 1 MiB raw leaves under a dag-pb root, CIDv1 (same bytes, same CID everywhere)', async () => {
    const content = new Uint8Array(2.5 * MiB).fill(7);
    const { cid } = await node.blobs.put([content]);
    // computed once with @helia/unixfs 8.0.5 / ipfs-unixfs-importer 17.1.1 and these parameters
    expect(cid.toString()).toBe('bafybeiag5pssu7b647ezhys7rufurvizo4pxebhpr3xpxltyd3tjffmldy');
    const links = await rootLinks(node, cid);
    expect(links.map((l) => l.code)).toEqual([raw.code, raw.code, raw.code]);
    // the two full chunks are identical: one block, counted once
    expect(links[0]!.equals(links[1]!)).toBe(true);
    expect((await node.blobs.stat(cid)).localBlocks).toBe(3);
  });

  test('putting the same content twice gives the same CID and one pin', async () => {
    const content = randomBytes(1.5 * MiB);
    const before = (await blockFiles(node)).length;
    const a = await node.blobs.put(pieces(content));
    const b = await node.blobs.put(pieces(content, 65536));
    expect(b.cid.equals(a.cid)).toBe(true);
    expect((await blockFiles(node)).length).toBe(before + 3);
    expect((await pinList(node)).filter((c) => c === a.cid.toString())).toHaveLength(1);
  });

  test('durable mode (fsync) round trip', async () => {
    const durable = await newNode({ fsync: true });
    const content = randomBytes(3 * MiB + 5);
    const t = performance.now();
    const { cid } = await durable.blobs.put(pieces(content, 256 * 1024));
    const ms = performance.now() - t;
    expect((await readAll(durable.blobs.get(cid))).equals(content)).toBe(true);
    console.log(`durable put of 3 MiB: ${ms.toFixed(0)} ms`);
  });
});

describe('byte ranges', () => {
  let node: StorageNode;
  let content: Buffer;
  let cid: CID;
  beforeAll(async () => {
    node = await newNode();
    content = randomBytes(3 * MiB + 1000);
    ({ cid } = await node.blobs.put(pieces(content)));
  });

  test.each([
    ['start', 0, 10],
    ['middle of a chunk', 1.5 * MiB, 1234],
    ['across a chunk boundary', MiB - 5, 10],
    ['across two chunk boundaries', 0.5 * MiB, 2 * MiB + 7],
    ['exactly one chunk', MiB, MiB],
    ['end', 3 * MiB + 1000 - 7, 7],
    ['last byte', 3 * MiB + 999, 1],
    ['zero length in the middle', 12345, 0],
    ['zero length at the end', 3 * MiB + 1000, 0],
  ])('%s (offset %d, length %d)', async (_name, offset, length) => {
    const got = await readAll(node.blobs.get(cid, { offset, length }));
    expect(got.equals(content.subarray(offset, offset + length))).toBe(true);
  });

  test('offset alone reads to the end; offset = size gives nothing', async () => {
    expect((await readAll(node.blobs.get(cid, { offset: 2 * MiB + 3 }))).equals(content.subarray(2 * MiB + 3))).toBe(true);
    expect(await readAll(node.blobs.get(cid, { offset: content.length }))).toHaveLength(0);
  });

  test('length alone reads from the start', async () => {
    expect((await readAll(node.blobs.get(cid, { length: MiB + 1 }))).equals(content.subarray(0, MiB + 1))).toBe(true);
  });

  test.each([
    ['offset past the end', { offset: 3 * MiB + 1001 }],
    ['range past the end', { offset: 3 * MiB, length: 1001 }],
    ['length past the end from 0', { length: 3 * MiB + 1001 }],
    ['negative offset', { offset: -1 }],
    ['fractional length', { length: 1.5 }],
    ['NaN offset', { offset: Number.NaN }],
    ['string length', { length: '10' as unknown as number }],
  ])('%s → INVALID_ARGUMENT', async (_name, opts) => {
    expect((await failure(node.blobs.get(cid, opts))).code).toBe('INVALID_ARGUMENT');
  });

  test('a small blob (one leaf) honours ranges too', async () => {
    const small = randomBytes(400);
    const s = await node.blobs.put([small]);
    expect((await readAll(node.blobs.get(s.cid, { offset: 100, length: 50 }))).equals(small.subarray(100, 150))).toBe(true);
    expect((await failure(node.blobs.get(s.cid, { offset: 401 }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('pins and gc', () => {
  test('pins() lists roots; unpin + gc removes exactly the unpinned blocks and keeps pinned ones', async () => {
    const node = await newNode();
    const a = randomBytes(2 * MiB + 10); // 3 leaves + root
    const b = randomBytes(MiB + 10); // 2 leaves + root
    const A = await node.blobs.put(pieces(a));
    const B = await node.blobs.put(pieces(b));
    expect(await pinList(node)).toEqual([A.cid.toString(), B.cid.toString()].sort());
    expect((await node.blobs.gc()).removed).toBe(0);
    expect(await blockFiles(node)).toHaveLength(7);

    await node.blobs.unpin(A.cid);
    await node.blobs.unpin(A.cid); // unpinning twice is a no-op
    expect(await node.blobs.isPinned(A.cid)).toBe(false);
    expect(await pinList(node)).toEqual([B.cid.toString()]);
    // unpinned but not yet collected: still readable
    expect((await readAll(node.blobs.get(A.cid))).equals(a)).toBe(true);

    expect((await node.blobs.gc()).removed).toBe(4);
    expect(await blockFiles(node)).toHaveLength(3);
    expect(await node.blobs.has(A.cid)).toBe(false);
    expect((await failure(node.blobs.get(A.cid))).code).toBe('NOT_FOUND');
    expect((await readAll(node.blobs.get(B.cid))).equals(b)).toBe(true);
    expect(await node.blobs.stat(B.cid)).toMatchObject({ complete: true, localBlocks: 3, pinned: true });
  });

  test('blocks shared by two pins survive unpinning one of them (helia 7 pins.rm would lose them)', async () => {
    const node = await newNode();
    const whole = randomBytes(3 * MiB);
    const X = await node.blobs.put(pieces(whole.subarray(0, 2 * MiB))); // its two leaves are Y's first two
    const Y = await node.blobs.put(pieces(whole));
    expect((await rootLinks(node, Y.cid)).slice(0, 2).map(String)).toEqual((await rootLinks(node, X.cid)).map(String));
    // the sequence that corrupts helia.pins' bookkeeping: pin X, pin Y, unpin X, pin X, unpin Y
    await node.blobs.unpin(X.cid);
    await node.blobs.pin(X.cid);
    await node.blobs.unpin(Y.cid);
    const { removed } = await node.blobs.gc();
    expect(removed).toBe(2); // Y's root and its last leaf
    expect((await readAll(node.blobs.get(X.cid))).equals(whole.subarray(0, 2 * MiB))).toBe(true);
    expect(await node.blobs.stat(X.cid)).toMatchObject({ complete: true, pinned: true, localBlocks: 3 });
  });

  test('pin of local content is idempotent; pin after unpin restores protection', async () => {
    const node = await newNode();
    const c = randomBytes(MiB + 1);
    const { cid } = await node.blobs.put([c]);
    await node.blobs.pin(cid);
    await node.blobs.unpin(cid);
    await node.blobs.pin(cid.toString());
    expect((await node.blobs.gc()).removed).toBe(0);
    expect((await readAll(node.blobs.get(cid))).equals(c)).toBe(true);
  });

  test('the pin records are Helia-compatible (helia.pins.ls/isPinned/setMetadata see them)', async () => {
    const node = await newNode();
    const { cid } = await node.blobs.put([randomBytes(MiB + 1)]);
    const listed: string[] = [];
    for await (const p of node.helia.pins.ls()) listed.push(p.cid.toString());
    expect(listed).toEqual([cid.toString()]);
    for (const leaf of await rootLinks(node, cid)) expect(await node.helia.pins.isPinned(leaf)).toBe(true);
    await node.helia.pins.setMetadata(cid, { recorded: true });
    expect((await node.helia.pins.get(cid)).metadata).toEqual({ recorded: true });
    await node.blobs.unpin(cid);
    expect(await node.helia.pins.isPinned(cid)).toBe(false);
    expect((await node.blobs.gc()).removed).toBe(3);
  });

  test('pins survive a restart (same data directory)', async () => {
    const dataDir = join(base, 'restart');
    const content = randomBytes(2 * MiB + 77);
    let node = await newNode({ dataDir });
    const kept = await node.blobs.put(pieces(content));
    const dropped = await node.blobs.put([randomBytes(5000)]);
    await node.blobs.unpin(dropped.cid);
    await node.stop();

    node = await newNode({ dataDir });
    expect(await pinList(node)).toEqual([kept.cid.toString()]);
    expect(await node.blobs.isPinned(kept.cid)).toBe(true);
    expect((await node.blobs.gc()).removed).toBe(2); // the dropped blob: root + leaf
    expect((await readAll(node.blobs.get(kept.cid))).equals(content)).toBe(true);
  });

  test('gc waits for a put in progress and does not collect its blocks', async () => {
    const node = await newNode();
    const content = randomBytes(3 * MiB);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const putting = node.blobs.put(
      (async function* () {
        yield content.subarray(0, 2 * MiB); // two leaves written, not pinned yet
        await gate;
        yield content.subarray(2 * MiB);
      })(),
    );
    await new Promise((r) => setTimeout(r, 50));
    const collecting = node.blobs.gc();
    await new Promise((r) => setTimeout(r, 50));
    release();
    const { cid } = await putting;
    expect((await collecting).removed).toBe(0);
    expect((await readAll(node.blobs.get(cid))).equals(content)).toBe(true);
  });
});

describe('failed puts leave nothing pinned and no blocks behind', () => {
  // The importer writes leaves in batches of 10: 12 MiB of input guarantees blocks are on disk when the put fails.
  const WRITTEN = 12;
  let node: StorageNode;
  let keep: CID;
  beforeAll(async () => {
    node = await newNode();
    ({ cid: keep } = await node.blobs.put([randomBytes(MiB + 3)]));
  });

  async function* mebibytes(n: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < n; i++) yield randomBytes(MiB);
  }
  /** Resolves once the put has left more block files on disk than `before`. */
  async function blocksWritten(before: number): Promise<void> {
    while ((await blockFiles(node)).length <= before) await new Promise((r) => setTimeout(r, 10));
  }
  async function expectUnchanged(before: { files: string[]; pins: string[] }): Promise<void> {
    expect(await blockFiles(node)).toEqual(before.files);
    expect(await pinList(node)).toEqual(before.pins);
    expect((await node.blobs.gc()).removed).toBe(0); // nothing unpinned was left for gc either
    expect(await node.blobs.stat(keep)).toMatchObject({ complete: true, pinned: true });
  }
  const snapshot = async () => ({ files: await blockFiles(node), pins: await pinList(node) });

  test('TOO_LARGE (maxBytes) after blocks were written', async () => {
    const before = await snapshot();
    let watched = false;
    const e = await failure(
      node.blobs.put(
        (async function* () {
          yield* mebibytes(WRITTEN);
          await blocksWritten(before.files.length);
          watched = true;
          yield randomBytes(MiB);
        })(),
        { maxBytes: WRITTEN * MiB + 10 },
      ),
    );
    expect(e.code).toBe('TOO_LARGE');
    expect(watched).toBe(true);
    await expectUnchanged(before);
  });

  test('content of exactly maxBytes is accepted', async () => {
    const { size } = await node.blobs.put([randomBytes(1000)], { maxBytes: 1000 });
    expect(size).toBe(1000);
  });

  test('a source that throws part-way → SOURCE, cause kept', async () => {
    const before = await snapshot();
    const boom = new Error('upstream went away');
    const e = await failure(
      node.blobs.put(
        (async function* () {
          yield* mebibytes(WRITTEN);
          await blocksWritten(before.files.length);
          throw boom;
        })(),
      ),
    );
    expect(e.code).toBe('SOURCE');
    expect(e.cause).toBe(boom);
    await expectUnchanged(before);
  });

  test('a chunk that is not bytes → INVALID_ARGUMENT', async () => {
    const before = await snapshot();
    const e = await failure(
      node.blobs.put(
        (async function* () {
          yield* mebibytes(WRITTEN);
          await blocksWritten(before.files.length);
          yield 'text' as unknown as Uint8Array;
        })(),
      ),
    );
    expect(e.code).toBe('INVALID_ARGUMENT');
    await expectUnchanged(before);
  });

  test.each([
    ['null', null],
    ['a number', 42],
    ['a bare Uint8Array', new Uint8Array(3)],
    ['a plain object', {}],
  ])('a source that is %s → INVALID_ARGUMENT', async (_name, source) => {
    expect((await failure(node.blobs.put(source as unknown as Iterable<Uint8Array>))).code).toBe('INVALID_ARGUMENT');
  });

  test.each([-1, 1.5, Number.NaN])('maxBytes %p → INVALID_ARGUMENT', async (maxBytes) => {
    expect((await failure(node.blobs.put([new Uint8Array(1)], { maxBytes }))).code).toBe('INVALID_ARGUMENT');
  });

  test('abort while the source hangs (blocks already written) → ABORTED promptly', async () => {
    const before = await snapshot();
    const ac = new AbortController();
    const p = node.blobs.put(
      (async function* () {
        yield* mebibytes(WRITTEN);
        await new Promise(() => undefined); // never resolves
      })(),
      { signal: ac.signal },
    );
    await blocksWritten(before.files.length);
    const t = performance.now();
    ac.abort(new Error('client went away'));
    const e = await failure(p);
    expect(e.code).toBe('ABORTED');
    expect(performance.now() - t).toBeLessThan(2000);
    await expectUnchanged(before);
  });

  test('a full disk (ENOSPC from the filesystem) → NO_SPACE; no block, temp file or pin left', async () => {
    const full = await newNode();
    const realOpen = fsp.open;
    let writes = 0;
    // the filesystem, not Helia, is what fails here: block temp files accept 5 writes, then the device is full
    fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
      const fh = await realOpen(...args);
      if (String(args[0]).endsWith('.tmp') && ++writes > 5) {
        fh.writeFile = async () => {
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        };
      }
      return fh;
    }) as typeof fsp.open;
    let e: StorageError;
    try {
      e = await failure(full.blobs.put((async function* () { yield* mebibytes(WRITTEN); })()));
    } finally {
      fsp.open = realOpen;
    }
    expect(e.code).toBe('NO_SPACE');
    expect(writes).toBeGreaterThan(5);
    const names = (await fsp.readdir(join(full.dataDir, 'blocks'), { recursive: true })) as string[];
    expect(names.filter((n) => n.endsWith('.tmp') || n.endsWith('.data'))).toEqual([]);
    expect(await pinList(full)).toEqual([]);
  });

  test('an already aborted signal → ABORTED, nothing written', async () => {
    const before = await snapshot();
    expect((await failure(node.blobs.put([randomBytes(10)], { signal: AbortSignal.abort() }))).code).toBe('ABORTED');
    await expectUnchanged(before);
  });
});

describe('reads: aborts, damage, absence', () => {
  test('abort during a get → ABORTED; an already aborted signal → ABORTED', async () => {
    const node = await newNode();
    const { cid } = await node.blobs.put(pieces(randomBytes(5 * MiB)));
    const ac = new AbortController();
    let got = 0;
    const e = await failure(
      (async () => {
        for await (const c of node.blobs.get(cid, { signal: ac.signal })) {
          got += c.length;
          ac.abort();
        }
      })(),
    );
    expect(e.code).toBe('ABORTED');
    expect(got).toBe(MiB);
    expect((await failure(node.blobs.get(cid, { signal: AbortSignal.abort() }))).code).toBe('ABORTED');
    // the store is fine afterwards
    expect((await readAll(node.blobs.get(cid))).length).toBe(5 * MiB);
  });

  test('a flipped byte in a leaf on disk → CORRUPT (ranges avoiding that leaf still read)', async () => {
    const node = await newNode();
    const content = randomBytes(3 * MiB);
    const { cid } = await node.blobs.put(pieces(content));
    const leaf = (await rootLinks(node, cid))[1]!;
    const file = blockPath(node, leaf);
    const bytes = await fsp.readFile(file);
    bytes[12345] = bytes[12345]! ^ 0x01;
    await fsp.writeFile(file, bytes);

    const e = await failure(node.blobs.get(cid));
    expect(e.code).toBe('CORRUPT');
    expect(e.message).toContain(leaf.toString());
    expect((await failure(node.blobs.get(cid, { offset: MiB + 5, length: 1 }))).code).toBe('CORRUPT');
    expect((await readAll(node.blobs.get(cid, { offset: 0, length: MiB }))).equals(content.subarray(0, MiB))).toBe(true);
    expect((await readAll(node.blobs.get(cid, { offset: 2 * MiB }))).equals(content.subarray(2 * MiB))).toBe(true);
  });

  test('a flipped byte in the root → CORRUPT on get and stat', async () => {
    const node = await newNode();
    const { cid } = await node.blobs.put([randomBytes(2 * MiB)]);
    const file = blockPath(node, cid);
    const bytes = await fsp.readFile(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x80;
    await fsp.writeFile(file, bytes);
    expect((await failure(node.blobs.get(cid))).code).toBe('CORRUPT');
    expect((await failure(node.blobs.stat(cid))).code).toBe('CORRUPT');
  });

  test('a truncated leaf → CORRUPT; a deleted leaf → NOT_FOUND, stat incomplete, unpin and gc still work', async () => {
    const node = await newNode();
    const { cid } = await node.blobs.put(pieces(randomBytes(3 * MiB)));
    const [l0, l1] = await rootLinks(node, cid);
    await fsp.truncate(blockPath(node, l0!), 1000);
    expect((await failure(node.blobs.get(cid))).code).toBe('CORRUPT');
    await fsp.unlink(blockPath(node, l1!));
    expect((await failure(node.blobs.get(cid, { offset: MiB, length: 10 }))).code).toBe('NOT_FOUND');
    expect(await node.blobs.stat(cid)).toMatchObject({ size: 3 * MiB, complete: false, localBlocks: 3, pinned: true });
    await node.blobs.unpin(cid); // the DAG cannot be walked: the pin index is scanned instead
    expect(await node.blobs.isPinned(cid)).toBe(false);
    for (const leaf of [l0!, l1!]) expect(await node.helia.pins.isPinned(leaf)).toBe(false);
    expect((await node.blobs.gc()).removed).toBe(3);
    expect(await blockFiles(node)).toEqual([]);
  });

  test('an absent CID on an offline node → NOT_FOUND at once (get, stat, pin); has/isPinned false', async () => {
    const node = await newNode();
    const absent = CID.createV1(dagPb.code, await sha256.digest(randomBytes(32)));
    const absentRaw = CID.createV1(raw.code, await sha256.digest(randomBytes(32)));
    for (const attempt of [() => node.blobs.get(absent), () => node.blobs.get(absentRaw), () => node.blobs.stat(absent), () => node.blobs.pin(absent)]) {
      const t = performance.now();
      expect((await failure(attempt())).code).toBe('NOT_FOUND');
      expect(performance.now() - t).toBeLessThan(500); // no deadline to wait for: typically ~1 ms
    }
    expect(await node.blobs.has(absent)).toBe(false);
    expect(await node.blobs.isPinned(absent)).toBe(false);
    expect(await pinList(node)).toEqual([]);
  });

  test('pin of a DAG whose leaf is missing fails and pins nothing', async () => {
    const node = await newNode();
    const { cid } = await node.blobs.put(pieces(randomBytes(2 * MiB + 1)));
    await node.blobs.unpin(cid);
    await fsp.unlink(blockPath(node, (await rootLinks(node, cid))[2]!));
    expect((await failure(node.blobs.pin(cid))).code).toBe('NOT_FOUND');
    expect(await node.blobs.isPinned(cid)).toBe(false);
    for (const leaf of (await rootLinks(node, cid)).slice(0, 2)) expect(await node.helia.pins.isPinned(leaf)).toBe(false);
    expect((await node.blobs.gc()).removed).toBe(3);
  });

  test('a raw CID (one block, not made by put) reads as a file', async () => {
    const node = await newNode();
    const bytes = randomBytes(300);
    const cid = CID.createV1(raw.code, await sha256.digest(bytes));
    await node.helia.blockstore.put(cid, bytes);
    expect((await readAll(node.blobs.get(cid, { offset: 10, length: 20 }))).equals(bytes.subarray(10, 30))).toBe(true);
    expect(await node.blobs.stat(cid)).toMatchObject({ size: 300, localBlocks: 1, complete: true, pinned: false });
  });
});

describe('CID arguments', () => {
  let node: StorageNode;
  beforeAll(async () => {
    node = await newNode();
  });
  const valid = 'bafybeiag5pssu7b647ezhys7rufurvizo4pxebhpr3xpxltyd3tjffmldy';

  test.each([
    ['empty', ''],
    ['words', 'not-a-cid'],
    ['too short', 'bafy123'],
    ['CIDv0 too short', 'Qm123'],
    ['truncated', valid.slice(0, -1)],
    ['whitespace', ` ${valid}`],
    ['a character outside base32', `${valid.slice(0, 20)}1${valid.slice(21)}`],
    ['CIDv0 with a bad checksum-length', 'QmXoypizjW3WknFiJnKLwHCnL72vedxjQkDDP1mXWo6uc'],
  ])('malformed string (%s) → INVALID_CID everywhere', async (_name, s) => {
    expect((await failure(node.blobs.get(s))).code).toBe('INVALID_CID');
    expect((await failure(node.blobs.has(s))).code).toBe('INVALID_CID');
    expect((await failure(node.blobs.stat(s))).code).toBe('INVALID_CID');
    expect((await failure(node.blobs.pin(s))).code).toBe('INVALID_CID');
    expect((await failure(node.blobs.unpin(s))).code).toBe('INVALID_CID');
    expect((await failure(node.blobs.isPinned(s))).code).toBe('INVALID_CID');
  });

  test('valid CIDs this store cannot hold → INVALID_CID (other codec, other hash, not a CID object)', async () => {
    const cbor = CID.createV1(0x71, await sha256.digest(randomBytes(8)));
    const sha5 = CID.createV1(raw.code, await sha512.digest(randomBytes(8)));
    for (const c of [cbor, sha5, { not: 'a cid' } as unknown as CID, 42 as unknown as CID]) {
      expect((await failure(node.blobs.get(c))).code).toBe('INVALID_CID');
      expect((await failure(node.blobs.pin(c))).code).toBe('INVALID_CID');
    }
  });

  test('CIDv0 strings are accepted', async () => {
    const v0 = CID.createV0(await sha256.digest(randomBytes(8))).toString();
    expect(v0).toMatch(/^Qm/);
    expect(await node.blobs.has(v0)).toBe(false);
    expect((await failure(node.blobs.get(v0))).code).toBe('NOT_FOUND');
  });
});

describe('the node', () => {
  test('a second open of the same data directory is LOCKED until the first stops', async () => {
    const dataDir = join(base, 'locked');
    const first = await newNode({ dataDir });
    const e = await failure(openStorageNode({ dataDir }));
    expect(e.code).toBe('LOCKED');
    await first.stop();
    await first.stop(); // idempotent
    const second = await newNode({ dataDir });
    expect(await pinList(second)).toEqual([]);
  });

  test('a stale lock file of a dead process is taken over', async () => {
    const dataDir = join(base, 'stale');
    await fsp.mkdir(dataDir, { recursive: true });
    await fsp.writeFile(join(dataDir, LOCK_FILE), '2147483646\n');
    const node = await newNode({ dataDir });
    expect((await fsp.readFile(join(dataDir, LOCK_FILE), 'utf8')).trim()).toBe(String(process.pid));
    await node.stop();
    await expect(fsp.access(join(dataDir, LOCK_FILE))).rejects.toThrow();
  });

  test('after stop every operation is CLOSED; a put in progress ends CLOSED and leaves nothing', async () => {
    const dataDir = join(base, 'closing');
    const node = await newNode({ dataDir });
    const putting = node.blobs.put(
      (async function* () {
        for (let i = 0; i < 12; i++) yield randomBytes(MiB);
        await new Promise(() => undefined);
      })(),
    );
    while ((await blockFiles(node)).length === 0) await new Promise((r) => setTimeout(r, 10));
    await node.stop();
    expect((await failure(putting)).code).toBe('CLOSED');
    expect((await failure(node.blobs.put([new Uint8Array(1)]))).code).toBe('CLOSED');
    expect((await failure(node.blobs.get(valid()))).code).toBe('CLOSED');
    expect((await failure(node.blobs.has(valid()))).code).toBe('CLOSED');
    expect((await failure(node.blobs.gc())).code).toBe('CLOSED');
    const again = await newNode({ dataDir });
    expect(await blockFiles(again)).toEqual([]);
    function valid(): string {
      return 'bafybeiag5pssu7b647ezhys7rufurvizo4pxebhpr3xpxltyd3tjffmldy';
    }
  });

  test('offline: no libp2p, no peer id, no addresses; dial is UNAVAILABLE', async () => {
    const node = await newNode();
    expect('libp2p' in node.helia).toBe(false);
    expect(node.peerId).toBeUndefined();
    expect(node.multiaddrs()).toEqual([]);
    expect((await failure(node.dial('/ip4/127.0.0.1/tcp/4001'))).code).toBe('UNAVAILABLE');
  });

  test.each([
    ['empty dataDir', { dataDir: '' }],
    ['dataDir not a string', { dataDir: 5 }],
    ['wildcard host', { dataDir: 'x', network: { host: '0.0.0.0' } }],
    ['LAN host', { dataDir: 'x', network: { host: '192.168.1.10' } }],
    ['host name', { dataDir: 'x', network: { host: 'localhost' } }],
    ['port out of range', { dataDir: 'x', network: { port: 70000 } }],
    ['fractional port', { dataDir: 'x', network: { port: 1.5 } }],
    ['zero fetch timeout', { dataDir: 'x', network: { fetchTimeoutMs: 0 } }],
    ['fsync not boolean', { dataDir: 'x', fsync: 'yes' }],
  ])('options: %s → INVALID_ARGUMENT', async (_name, o) => {
    expect((await failure(openStorageNode(o as never))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('verified blockstore', () => {
  test('bytes stored under a CID they do not hash to are refused when read; hashes other than sha2-256 always', async () => {
    const store = new VerifiedBlockstore(join(base, 'vbs'));
    await store.open();
    const bytes = randomBytes(100);
    const cid = CID.createV1(raw.code, await sha256.digest(bytes));
    // put trusts its callers (the importer hashes what it writes, Helia checks blocks from peers); get never does
    await store.put(cid, randomBytes(100));
    expect((await failure(readAll(store.get(cid)))).code).toBe('CORRUPT');
    await store.delete(cid);
    const other = CID.createV1(raw.code, await sha512.digest(bytes));
    expect((await failure(store.put(other, bytes))).code).toBe('INVALID_CID');
    expect((await failure(readAll(store.get(other)))).code).toBe('INVALID_CID');
    await store.put(cid, bytes);
    expect((await readAll(store.get(cid))).equals(bytes)).toBe(true);
    await expect(readAll(store.get(CID.createV1(raw.code, await sha256.digest(randomBytes(4)))))).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});
