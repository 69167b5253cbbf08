/**
 * BlobStore.putBatch on a real offline Helia node: several files stored as one unit (one round of directory fsyncs,
 * one pin batch), pinned together only once the caller's function has resolved; on any failure none of them pinned
 * and their new blocks deleted; puts that fail alone, puts not waited for, shared blocks, abort and gc.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import * as dagPb from '@ipld/dag-pb';
import type { CID } from 'multiformats/cid';
import { openStorageNode, StorageError, VerifiedBlockstore } from '../../src/storage/index.js';
import type { BatchPut, PutResult, StorageNode } from '../../src/storage/index.js';
import { failure, readAll } from './helpers.js';

const MiB = 1024 * 1024;

let base: string;
let seq = 0;
const open: StorageNode[] = [];

async function newNode(options: { fsync?: boolean } = {}): Promise<StorageNode> {
  const node = await openStorageNode({ dataDir: join(base, `n${seq++}`), fsync: options.fsync ?? false });
  open.push(node);
  return node;
}

async function blockFiles(node: StorageNode): Promise<string[]> {
  const names = (await fsp.readdir(join(node.dataDir, 'blocks'), { recursive: true })) as string[];
  return names.filter((n) => n.endsWith('.data') || n.endsWith('.tmp')).sort();
}

async function pinList(node: StorageNode): Promise<string[]> {
  const out: string[] = [];
  for await (const c of node.blobs.pins()) out.push(c.toString());
  return out.sort();
}

/** The directory a block lives in (same sharding as the node's blockstore). */
function blockDir(node: StorageNode, cid: CID): string {
  return dirname(new VerifiedBlockstore(join(node.dataDir, 'blocks')).blockPath(cid));
}

async function dagBlocks(node: StorageNode, root: CID): Promise<CID[]> {
  const links = dagPb.decode(await readAll(node.helia.blockstore.get(root, { offline: true }))).Links.map((l) => l.Hash);
  return [root, ...links];
}

const snapshot = async (node: StorageNode) => ({ files: await blockFiles(node), pins: await pinList(node) });

beforeAll(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'pie-put-batch-'));
});
afterAll(async () => {
  for (const n of open) await n.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

describe('a batch commits as one unit', () => {
  test('files are pinned together once the function resolves, not before; the value comes back; CIDs are put()’s', async () => {
    const node = await newNode();
    const contents = [randomBytes(10), randomBytes(5000), randomBytes(MiB + 7), randomBytes(1)];
    let pinnedInside: boolean[] = [];
    const { results, tag } = await node.blobs.putBatch(async (put) => {
      const results = await Promise.all(contents.map((c) => put([c])));
      pinnedInside = await Promise.all(results.map((r) => node.blobs.isPinned(r.cid)));
      return { results, tag: 'done' };
    });
    expect(tag).toBe('done');
    expect(pinnedInside).toEqual(contents.map(() => false));
    expect(results.map((r) => r.size)).toEqual(contents.map((c) => c.length));
    expect(await pinList(node)).toEqual(results.map((r) => r.cid.toString()).sort());
    for (const [i, r] of results.entries()) {
      expect((await readAll(node.blobs.get(r.cid))).equals(contents[i]!)).toBe(true);
      expect(await node.blobs.stat(r.cid)).toMatchObject({ complete: true, pinned: true });
    }
    // the same bytes put alone give the same CID (and no second pin)
    const alone = await node.blobs.put([contents[2]!]);
    expect(alone.cid.equals(results[2]!.cid)).toBe(true);
    expect(await pinList(node)).toHaveLength(contents.length);
    expect((await node.blobs.gc()).removed).toBe(0);
  });

  test('two files sharing blocks in one batch both protect them; unpinning one keeps the shared blocks', async () => {
    const node = await newNode();
    const whole = randomBytes(3 * MiB);
    const [X, Y] = await node.blobs.putBatch((put) => Promise.all([put([whole.subarray(0, 2 * MiB)]), put([whole])]));
    const shared = (await dagBlocks(node, X!.cid)).slice(1);
    expect((await dagBlocks(node, Y!.cid)).slice(1, 3).map(String)).toEqual(shared.map(String));
    for (const leaf of shared) expect(await node.helia.pins.isPinned(leaf)).toBe(true);
    await node.blobs.unpin(X!.cid);
    expect((await node.blobs.gc()).removed).toBe(1); // X's root only
    expect((await readAll(node.blobs.get(Y!.cid))).equals(whole)).toBe(true);
    await node.blobs.unpin(Y!.cid);
    expect((await node.blobs.gc()).removed).toBe(4);
  });

  test('the same content twice in one batch: one pin', async () => {
    const node = await newNode();
    const c = randomBytes(2000);
    const [a, b] = await node.blobs.putBatch((put) => Promise.all([put([c]), put([c])]));
    expect(a!.cid.equals(b!.cid)).toBe(true);
    expect(await pinList(node)).toEqual([a!.cid.toString()]);
    await node.blobs.unpin(a!.cid);
    expect((await node.blobs.gc()).removed).toBe(2);
  });

  test('a put the function did not wait for is waited for and pinned', async () => {
    const node = await newNode();
    let late: Promise<PutResult> | undefined;
    await node.blobs.putBatch(async (put) => {
      late = put(
        (async function* () {
          await new Promise((r) => setTimeout(r, 50));
          yield randomBytes(3000);
        })(),
      );
    });
    const { cid } = await late!;
    expect(await node.blobs.isPinned(cid)).toBe(true);
  });

  test('a put after the function has settled is INVALID_ARGUMENT; what was put stays pinned', async () => {
    const node = await newNode();
    let kept: BatchPut | undefined;
    const { cid } = await node.blobs.putBatch(async (put) => {
      kept = put;
      return put([randomBytes(100)]);
    });
    const e = await failure(kept!([randomBytes(100)]));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(await pinList(node)).toEqual([cid.toString()]);
  });

  test('not a function → INVALID_ARGUMENT', async () => {
    const node = await newNode();
    expect((await failure(node.blobs.putBatch(42 as unknown as () => Promise<void>))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('failures pin nothing and leave no blocks behind', () => {
  let node: StorageNode;
  let keep: CID;
  beforeAll(async () => {
    node = await newNode();
    ({ cid: keep } = await node.blobs.put([randomBytes(MiB + 3)]));
  });
  async function expectUnchanged(before: { files: string[]; pins: string[] }): Promise<void> {
    expect(await snapshot(node)).toEqual(before);
    expect((await node.blobs.gc()).removed).toBe(0); // nothing unpinned was left for gc either
    expect(await node.blobs.stat(keep)).toMatchObject({ complete: true, pinned: true });
  }

  test('the function fails after several puts: its own error comes out unchanged; nothing pinned, no blocks left', async () => {
    const before = await snapshot(node);
    const boom = new Error('the caller changed its mind');
    let stored = 0;
    const e = await node.blobs
      .putBatch(async (put) => {
        for (let i = 0; i < 5; i++) {
          await put([randomBytes(i === 2 ? 2 * MiB + 1 : 1000)]);
          stored++;
        }
        throw boom;
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(e).toBe(boom);
    expect(stored).toBe(5);
    await expectUnchanged(before);
  });

  test('one put fails while others run: the function’s error (that put’s StorageError) fails the whole batch', async () => {
    const before = await snapshot(node);
    const e = await failure(
      node.blobs.putBatch((put) =>
        Promise.all([
          put([randomBytes(3 * MiB)]),
          put([randomBytes(2000)]),
          put([randomBytes(5000)], { maxBytes: 4000 }), // TOO_LARGE
          put(
            (async function* () {
              yield randomBytes(MiB);
              throw new Error('upstream went away');
            })(),
          ),
        ]),
      ),
    );
    expect(['TOO_LARGE', 'SOURCE']).toContain(e.code);
    await expectUnchanged(before);
  });

  test('a put that fails alone, caught by the function, leaves only its own file out', async () => {
    const before = await snapshot(node);
    const good = randomBytes(5000);
    const [ok, bad] = await node.blobs.putBatch(async (put) => {
      const ok = await put([good]);
      const bad = await put(
        (async function* () {
          yield randomBytes(2 * MiB); // two leaves written
          throw new Error('upstream went away');
        })(),
      ).catch((err: unknown) => err);
      return [ok, bad] as const;
    });
    expect(bad).toBeInstanceOf(StorageError);
    expect((bad as StorageError).code).toBe('SOURCE');
    expect(await pinList(node)).toEqual([...before.pins, ok.cid.toString()].sort());
    expect((await node.blobs.gc()).removed).toBe(0); // the failed file's leaves were deleted already
    expect((await readAll(node.blobs.get(ok.cid))).equals(good)).toBe(true);
    await node.blobs.unpin(ok.cid);
    await node.blobs.gc();
    await expectUnchanged(before);
  });

  test('a failed batch deletes only blocks it added: blocks that were there before stay, even unpinned ones', async () => {
    const content = randomBytes(MiB + 9);
    const { cid } = await node.blobs.put([content]);
    await node.blobs.unpin(cid); // its blocks stay on disk until a gc
    const before = await snapshot(node);
    const boom = new Error('no');
    await expect(
      node.blobs.putBatch(async (put) => {
        expect((await put([content])).cid.equals(cid)).toBe(true);
        await put([randomBytes(2000)]);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await snapshot(node)).toEqual(before);
    expect((await readAll(node.blobs.get(cid))).equals(content)).toBe(true);
    expect((await node.blobs.gc()).removed).toBe(3);
  });

  test('abort while a source hangs → ABORTED promptly; nothing pinned, no blocks left', async () => {
    const before = await snapshot(node);
    const ac = new AbortController();
    let written!: () => void;
    const someWritten = new Promise<void>((r) => (written = r));
    const p = node.blobs.putBatch(
      async (put) => {
        await put([randomBytes(4000)]);
        written();
        await put(
          (async function* () {
            yield randomBytes(MiB);
            await new Promise(() => undefined); // never resolves
          })(),
        );
      },
      { signal: ac.signal },
    );
    await someWritten;
    const t = performance.now();
    ac.abort(new Error('client went away'));
    expect((await failure(p)).code).toBe('ABORTED');
    expect(performance.now() - t).toBeLessThan(2000);
    await expectUnchanged(before);
  });

  test('a batch that fails stops its puts still running, even one whose source hangs', async () => {
    const before = await snapshot(node);
    const boom = new Error('the caller gave up');
    let hanging: Promise<unknown> | undefined;
    const t = performance.now();
    await expect(
      node.blobs.putBatch(async (put) => {
        hanging = put(
          (async function* () {
            yield randomBytes(MiB);
            await new Promise(() => undefined); // never resolves
          })(),
        ).catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 50));
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(performance.now() - t).toBeLessThan(2000);
    expect(await hanging).toMatchObject({ code: 'ABORTED' });
    await expectUnchanged(before);
  });

  test('gc waits for a batch in progress and does not collect its blocks', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = randomBytes(2 * MiB + 5);
    const putting = node.blobs.putBatch(async (put) => {
      const first = await put([a]); // written, not pinned yet
      await gate;
      return first;
    });
    await new Promise((r) => setTimeout(r, 50));
    const collecting = node.blobs.gc();
    await new Promise((r) => setTimeout(r, 50));
    release();
    const { cid } = await putting;
    expect((await collecting).removed).toBe(0);
    expect((await readAll(node.blobs.get(cid))).equals(a)).toBe(true);
  });
});

describe('durability: block directories are fsynced once each, after the function and before the pins', () => {
  /** Records the directories opened (for fsync) under `node`'s blocks/, while `fn` runs. */
  async function watchDirectoryOpens<T>(node: StorageNode, fn: (opened: string[]) => Promise<T>): Promise<T> {
    const realOpen = fsp.open;
    const blocks = join(node.dataDir, 'blocks') + sep;
    const opened: string[] = [];
    fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
      const path = String(args[0]);
      if (path.startsWith(blocks) && !path.endsWith('.tmp') && !path.endsWith('.data')) opened.push(path);
      return realOpen(...args);
    }) as typeof fsp.open;
    try {
      return await fn(opened);
    } finally {
      fsp.open = realOpen;
    }
  }

  test('durable batch: no directory fsync while the function runs, then each block directory once, then the pins', async () => {
    const node = await newNode({ fsync: true });
    await watchDirectoryOpens(node, async (opened) => {
      let duringFn: string[] = [];
      const results = await node.blobs.putBatch(async (put) => {
        const rs = await Promise.all([put([randomBytes(3000)]), put([randomBytes(MiB + 1)]), put([randomBytes(10)])]);
        duringFn = [...opened];
        return rs;
      });
      expect(duringFn).toEqual([]);
      const dirs = new Set<string>();
      for (const r of results) for (const b of await dagBlocks(node, r.cid)) dirs.add(blockDir(node, b));
      expect(new Set(opened)).toEqual(dirs);
      expect(opened).toHaveLength(dirs.size); // once each
      expect(await pinList(node)).toEqual(results.map((r) => r.cid.toString()).sort());
    });
  });

  test('a single durable put syncs its blocks’ directories before it resolves', async () => {
    const node = await newNode({ fsync: true });
    await watchDirectoryOpens(node, async (opened) => {
      const { cid } = await node.blobs.put([randomBytes(MiB + 1)]);
      expect(new Set(opened)).toEqual(new Set((await dagBlocks(node, cid)).map((b) => blockDir(node, b))));
    });
  });

  test('a directory fsync that fails: IO error, nothing pinned, the batch’s blocks deleted', async () => {
    const node = await newNode({ fsync: true });
    const before = await snapshot(node);
    const realOpen = fsp.open;
    const blocks = join(node.dataDir, 'blocks') + sep;
    fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
      const path = String(args[0]);
      if (path.startsWith(blocks) && !path.endsWith('.tmp') && !path.endsWith('.data')) {
        throw Object.assign(new Error('EIO: i/o error, open'), { code: 'EIO', errno: -5, syscall: 'open' });
      }
      return realOpen(...args);
    }) as typeof fsp.open;
    let e: StorageError;
    try {
      e = await failure(node.blobs.putBatch((put) => Promise.all([put([randomBytes(3000)]), put([randomBytes(MiB + 1)])])));
    } finally {
      fsp.open = realOpen;
    }
    expect(e.code).toBe('IO');
    expect(e.message).toMatch(/sync directory/);
    expect(await snapshot(node)).toEqual(before);
  });
});
