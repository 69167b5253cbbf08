/**
 * The dev network's block store (src/chain/devnet/block-store.ts): resume after restart, recovery from a crash at
 * every point of an append (torn record, torn index entry, crash between the two fsyncs), and verifyChain finding
 * any altered byte in the block it is in.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, cp, mkdtemp, open, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common } from '@hyperledger/fabric-protos';
import { BlockStore, BlockStoreError, DATA_FILE, INDEX_FILE, crc32 } from '../../src/chain/devnet/block-store.js';
import { blockDataHash, blockHeaderHash, buildBlock, encodeBlock } from '../../src/chain/devnet/blocks.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pie-blocks-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
let seq = 0;
const freshDir = () => join(root, `s${seq++}`);

/** A chain of `n` blocks with 0–3 random envelopes each, built on `tip`. */
function makeBlocks(n: number, start = 0, tip: Uint8Array = new Uint8Array(0)): common.Block[] {
  const out: common.Block[] = [];
  let prev = tip;
  for (let i = start; i < start + n; i++) {
    const envelopes = Array.from({ length: i % 4 }, () => {
      const env = new common.Envelope();
      env.setPayload(randomBytes(40 + ((i * 37) % 200)));
      env.setSignature(randomBytes(71));
      return env.serializeBinary();
    });
    const block = buildBlock({ number: i, previousHash: prev, envelopes, validationCodes: envelopes.map((_, k) => (k === 1 ? 11 : 0)) });
    prev = blockHeaderHash(block.getHeader()!);
    out.push(block);
  }
  return out;
}

async function storeWith(dir: string, blocks: common.Block[]): Promise<BlockStore> {
  const s = await BlockStore.open(dir);
  for (const b of blocks) await s.append(b);
  return s;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (e instanceof BlockStoreError ? e.code : `not a BlockStoreError: ${String(e)}`),
  );

/** Offsets of each record in blocks.dat, from the index file. */
async function recordOffsets(dir: string): Promise<Array<{ offset: number; length: number }>> {
  const idx = await readFile(join(dir, INDEX_FILE));
  const out = [];
  for (let i = 0; i + 16 <= idx.length; i += 16) out.push({ offset: Number(idx.readBigUInt64BE(i)), length: idx.readUInt32BE(i + 8) + 8 });
  return out;
}

describe('append, read and resume', () => {
  test('restart resumes at the same height and tip; blocks read back byte-identical', async () => {
    const dir = freshDir();
    const blocks = makeBlocks(7);
    const s = await storeWith(dir, blocks);
    expect(s.height).toBe(7);
    const tip = s.tipHash;
    await s.close();

    const r = await BlockStore.open(dir);
    expect(r.height).toBe(7);
    expect(hex(r.tipHash)).toBe(hex(tip));
    expect(hex(r.tipHash)).toBe(hex(blockHeaderHash(blocks[6]!.getHeader()!)));
    expect(r.recovery).toEqual({ rolledForward: 0, truncatedDataBytes: 0, truncatedIndexBytes: 0 });
    for (let n = 0; n < 7; n++) expect(hex(await r.getBytes(n))).toBe(hex(encodeBlock(blocks[n]!)));
    const seen: number[] = [];
    for await (const b of r.blocks(2)) seen.push(b.getHeader()!.getNumber());
    expect(seen).toEqual([2, 3, 4, 5, 6]);
    expect(await r.verifyChain()).toEqual({ ok: true, height: 7 });
    // The chain continues from the reloaded tip.
    for (const b of makeBlocks(2, 7, r.tipHash)) await r.append(b);
    expect(r.height).toBe(9);
    await r.close();
    expect((await BlockStore.open(dir)).height).toBe(9);
  });

  test('an empty store has height 0 and an empty tip; the genesis block must have an empty previous hash', async () => {
    const s = await BlockStore.open(freshDir());
    expect(s.height).toBe(0);
    expect(s.tipHash).toHaveLength(0);
    expect(await s.verifyChain()).toEqual({ ok: true, height: 0 });
    expect(await codeOf(s.append(makeBlocks(1, 1, new Uint8Array(32))[0]!))).toBe('INVALID_BLOCK');
    await s.close();
  });

  test('only the next block, linked to the tip and with a correct data hash, is accepted', async () => {
    const s = await storeWith(freshDir(), makeBlocks(3));
    const next = makeBlocks(1, 3, s.tipHash)[0]!;
    expect(await codeOf(s.append(makeBlocks(1, 4, s.tipHash)[0]!))).toBe('INVALID_BLOCK'); // wrong number
    expect(await codeOf(s.append(makeBlocks(1, 3, new Uint8Array(32).fill(7))[0]!))).toBe('INVALID_BLOCK'); // broken link
    const badData = makeBlocks(1, 3, s.tipHash)[0]!;
    badData.getHeader()!.setDataHash(blockDataHash([new Uint8Array([1])]));
    await expect(s.append(badData)).rejects.toThrow(/cannot be appended at height 3: data_hash/);
    expect(s.height).toBe(3);
    await s.append(next);
    expect(s.height).toBe(4);
    await s.close();
  });

  test('concurrent appends are serialised in call order', async () => {
    const s = await BlockStore.open(freshDir());
    await Promise.all(makeBlocks(10).map((b) => s.append(b)));
    expect(s.height).toBe(10);
    expect(await s.verifyChain()).toEqual({ ok: true, height: 10 });
    await s.close();
  });

  test('reads outside the chain and use after close fail clearly', async () => {
    const s = await storeWith(freshDir(), makeBlocks(2));
    expect(await codeOf(s.get(2))).toBe('NOT_FOUND');
    expect(await codeOf(s.get(-1))).toBe('NOT_FOUND');
    await s.close();
    expect(await codeOf(s.get(0))).toBe('CLOSED');
    expect(await codeOf(s.append(makeBlocks(1, 2, new Uint8Array(32))[0]!))).toBe('CLOSED');
  });
});

describe('crash recovery', () => {
  /** A closed store with `n` blocks, plus the bytes block n would add. */
  async function crashed(n: number): Promise<{ dir: string; record: Buffer; entry: Buffer; tip: Uint8Array }> {
    const dir = freshDir();
    const all = makeBlocks(n + 1);
    const s = await storeWith(dir, all);
    const tip = blockHeaderHash(all[n - 1]!.getHeader()!);
    await s.close();
    const offsets = await recordOffsets(dir);
    const last = offsets[n]!;
    const data = await readFile(join(dir, DATA_FILE));
    const idx = await readFile(join(dir, INDEX_FILE));
    await truncate(join(dir, DATA_FILE), last.offset);
    await truncate(join(dir, INDEX_FILE), n * 16);
    return { dir, record: data.subarray(last.offset), entry: idx.subarray(n * 16), tip };
  }

  test('a torn record (data written partly, no index entry) is cut back to the last whole block', async () => {
    for (const fraction of [0.1, 0.5, 0.99]) {
      const { dir, record, tip } = await crashed(4);
      const cut = Math.max(1, Math.floor(record.length * fraction));
      await appendFile(join(dir, DATA_FILE), record.subarray(0, cut));
      const before = (await stat(join(dir, DATA_FILE))).size;
      const s = await BlockStore.open(dir);
      expect(s.height).toBe(4);
      expect(hex(s.tipHash)).toBe(hex(tip));
      expect(s.recovery).toMatchObject({ rolledForward: 0, truncatedDataBytes: cut });
      expect((await stat(join(dir, DATA_FILE))).size).toBe(before - cut);
      expect(await s.verifyChain()).toEqual({ ok: true, height: 4 });
      await s.append(makeBlocks(1, 4, s.tipHash)[0]!);
      await s.close();
      const again = await BlockStore.open(dir);
      expect(again.height).toBe(5);
      expect(await again.verifyChain()).toEqual({ ok: true, height: 5 });
      await again.close();
    }
  });

  test('a whole record whose payload reached the disk as zeros is dropped, not kept', async () => {
    const { dir, record } = await crashed(3);
    const zeroed = Buffer.from(record);
    zeroed.fill(0, 8);
    await appendFile(join(dir, DATA_FILE), zeroed);
    const s = await BlockStore.open(dir);
    expect(s.height).toBe(3);
    expect(s.recovery.truncatedDataBytes).toBe(record.length);
    await s.close();
  });

  test('a crash between the data fsync and the index fsync rolls the whole block forward', async () => {
    const { dir, record } = await crashed(5);
    await appendFile(join(dir, DATA_FILE), record);
    const s = await BlockStore.open(dir);
    expect(s.height).toBe(6);
    expect(s.recovery).toEqual({ rolledForward: 1, truncatedDataBytes: 0, truncatedIndexBytes: 0 });
    expect(await s.verifyChain()).toEqual({ ok: true, height: 6 });
    await s.close();
  });

  test('a torn index entry is dropped and the block it described rolled forward', async () => {
    const { dir, record, entry } = await crashed(2);
    await appendFile(join(dir, DATA_FILE), record);
    await appendFile(join(dir, INDEX_FILE), entry.subarray(0, 9));
    let s = await BlockStore.open(dir);
    expect(s.height).toBe(3);
    expect(s.recovery).toEqual({ rolledForward: 1, truncatedDataBytes: 0, truncatedIndexBytes: 9 });
    await s.close();
    // A whole but garbled last entry (e.g. zeros) is treated the same way.
    await truncate(join(dir, INDEX_FILE), 2 * 16);
    await appendFile(join(dir, INDEX_FILE), Buffer.alloc(16));
    s = await BlockStore.open(dir);
    expect(s.height).toBe(3);
    expect(s.recovery).toEqual({ rolledForward: 1, truncatedDataBytes: 0, truncatedIndexBytes: 16 });
    expect(await s.verifyChain()).toEqual({ ok: true, height: 3 });
    await s.close();
  });

  test('states no crash can produce are refused instead of silently truncating committed blocks', async () => {
    const dir = freshDir();
    await (await storeWith(dir, makeBlocks(4))).close();
    const copy = freshDir();
    await cp(dir, copy, { recursive: true });
    // Data file shorter than the index.
    const offsets = await recordOffsets(copy);
    await truncate(join(copy, DATA_FILE), offsets[3]!.offset + 3);
    await expect(BlockStore.open(copy)).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/committed blocks are missing/) });
    // A damaged index entry in the middle.
    const copy2 = freshDir();
    await cp(dir, copy2, { recursive: true });
    const h = await open(join(copy2, INDEX_FILE), 'r+');
    await h.write(Buffer.from([0xff]), 0, 1, 16 + 3);
    await h.close();
    await expect(BlockStore.open(copy2)).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/entry for block 1 is damaged/) });
  });
});

describe('verifyChain', () => {
  test('flipping any byte of any block is reported with that block\'s number', async () => {
    const pristine = freshDir();
    const s = await storeWith(pristine, makeBlocks(6));
    await s.close();
    const offsets = await recordOffsets(pristine);
    for (let n = 0; n < offsets.length; n++) {
      const { offset, length } = offsets[n]!;
      for (const at of [0, 3, 5, 8, 9, 8 + Math.floor((length - 8) / 2), length - 1]) {
        const dir = freshDir();
        await cp(pristine, dir, { recursive: true });
        const h = await open(join(dir, DATA_FILE), 'r+');
        const b = Buffer.alloc(1);
        await h.read(b, 0, 1, offset + at);
        b[0]! ^= 0x40;
        await h.write(b, 0, 1, offset + at);
        await h.close();
        const store = await BlockStore.open(dir);
        expect(store.height).toBe(6); // committed blocks are never cut, even a damaged last one
        const v = await store.verifyChain();
        expect(v).toMatchObject({ ok: false, height: 6, blockNumber: n });
        await expect(store.get(n)).rejects.toMatchObject({ code: 'CORRUPT' });
        await store.close();
        await rm(dir, { recursive: true });
      }
    }
  });

  test('the hash chain catches rewrites that keep the record checksum valid', async () => {
    const pristine = freshDir();
    const blocks = makeBlocks(5);
    await (await storeWith(pristine, blocks)).close();
    const offsets = await recordOffsets(pristine);

    /** Replaces block n's stored payload with `payload` (same length) and a matching CRC. */
    const rewrite = async (dir: string, n: number, payload: Uint8Array) => {
      const { offset, length } = offsets[n]!;
      expect(payload.length).toBe(length - 8);
      const head = Buffer.alloc(8);
      head.writeUInt32BE(payload.length, 0);
      head.writeUInt32BE(crc32(payload), 4);
      const h = await open(join(dir, DATA_FILE), 'r+');
      await h.write(Buffer.concat([head, payload]), 0, length, offset);
      await h.close();
    };
    const alteredEnvelope = (b: common.Block): common.Block => {
      const copy = common.Block.deserializeBinary(b.serializeBinary());
      const list = copy.getData()!.getDataList_asU8().map((d) => Uint8Array.from(d));
      list[0]![list[0]!.length - 1]! ^= 1;
      copy.getData()!.setDataList(list);
      return copy;
    };

    // 1. Data changed, header untouched: the data hash no longer matches.
    let dir = freshDir();
    await cp(pristine, dir, { recursive: true });
    await rewrite(dir, 2, encodeBlock(alteredEnvelope(blocks[2]!)));
    let store = await BlockStore.open(dir);
    expect(await store.verifyChain()).toMatchObject({ ok: false, blockNumber: 2, reason: expect.stringMatching(/data_hash/) });
    await store.close();

    // 2. Data and data hash changed consistently: the next block's previous_hash link breaks.
    dir = freshDir();
    await cp(pristine, dir, { recursive: true });
    const forged = alteredEnvelope(blocks[1]!);
    forged.getHeader()!.setDataHash(blockDataHash(forged.getData()!.getDataList_asU8()));
    await rewrite(dir, 1, encodeBlock(forged));
    store = await BlockStore.open(dir);
    expect(await store.verifyChain()).toMatchObject({ ok: false, blockNumber: 2, reason: expect.stringMatching(/previous_hash .* block 1/) });
    await store.close();

    // 3. The validation codes (metadata, outside Fabric's hashes) are covered by the record checksum.
    dir = freshDir();
    await cp(pristine, dir, { recursive: true });
    const meta = common.Block.deserializeBinary(blocks[3]!.serializeBinary());
    const list = meta.getMetadata()!.getMetadataList_asU8().map((m) => Uint8Array.from(m));
    list[2]![0] = 11;
    meta.getMetadata()!.setMetadataList(list);
    const { offset } = offsets[3]!;
    const h = await open(join(dir, DATA_FILE), 'r+');
    const bytes = encodeBlock(meta);
    await h.write(bytes, 0, bytes.length, offset + 8); // payload only, stale CRC
    await h.close();
    store = await BlockStore.open(dir);
    expect(await store.verifyChain()).toMatchObject({ ok: false, blockNumber: 3, reason: expect.stringMatching(/checksum/) });
    await store.close();
  });

  test('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789')).toString(16)).toBe('cbf43926');
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});
