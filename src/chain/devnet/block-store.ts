/**
 * Append-only, crash-safe block storage for the embedded dev network.
 *
 * Layout under the data directory:
 *   blocks.dat  records, back to back:  u32 BE payload length ‖ u32 BE CRC-32(payload) ‖ payload (a common.Block)
 *   blocks.idx  16-byte entries, one per committed block:  u64 BE record offset ‖ u32 BE payload length ‖
 *               u32 BE CRC-32(first 12 bytes of the entry)
 *
 * append(): write the record, fdatasync blocks.dat; then write the index entry, fdatasync blocks.idx. A block is committed
 * once its index entry is durable, which is when append() resolves.
 *
 * open() recovers from a crash at any point of that sequence:
 *   - a partial (or torn, i.e. CRC-failing) trailing index entry is dropped;
 *   - records after the last indexed one are rolled forward when whole, CRC-valid, decodable and correctly chained
 *     (the crash fell between the two fsyncs); the first one that is not, and everything after it, is truncated,
 *     so a half block never survives;
 *   - a data file shorter than its index, or a damaged index entry followed by valid ones, is not a crash artefact:
 *     open() refuses with CORRUPT instead of guessing.
 * Records covered by the index are never truncated: a flipped byte there is reported by get() and verifyChain().
 *
 * The CRC detects accidental corruption of any part of a record (including the metadata, which Fabric's hashes do
 * not cover); the hash chain is checked by verifyChain(). Neither is a defence against a writer who recomputes both:
 * that needs orderer block signatures or an external anchor of the tip hash.
 */
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import type { common } from '@hyperledger/fabric-protos';
import { CodedError } from '../../errors.js';
import { bytesEqual } from '../../bytes.js';
import { blockHeaderHash, checkBlock, decodeBlock, encodeBlock } from './blocks.js';

export type BlockStoreErrorCode =
  /** The block does not extend the chain: wrong number, wrong previous hash, or internally inconsistent. */
  | 'INVALID_BLOCK'
  /** A block number outside [0, height). */
  | 'NOT_FOUND'
  /** Stored bytes fail their checksum or do not decode, or the files disagree in a way a crash cannot produce. */
  | 'CORRUPT'
  /** A file operation failed (`cause` holds the underlying error). */
  | 'IO'
  /** The store was closed, or an earlier failed write left it unusable until reopened. */
  | 'CLOSED';

export class BlockStoreError extends CodedError<BlockStoreErrorCode> {
  override readonly name = 'BlockStoreError';
}

export const DATA_FILE = 'blocks.dat';
export const INDEX_FILE = 'blocks.idx';
const RECORD_HEADER = 8;
const INDEX_ENTRY = 16;
/** Upper bound on a stored block (Fabric's AbsoluteMaxBytes default is 10 MB; leave headroom for metadata). */
export const MAX_BLOCK_BYTES = 256 * 1024 * 1024;

/** CRC-32 (IEEE 802.3, as zlib and gzip) of a stored record: zlib's native one (Node ≥ 20.15). */
export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes);
}

interface IndexEntry {
  offset: number;
  length: number;
}

export interface RecoveryReport {
  /** Whole, valid records found after the last index entry and indexed on open (crash between the two fsyncs). */
  rolledForward: number;
  /** Bytes cut from the end of blocks.dat (a torn record and anything after it). */
  truncatedDataBytes: number;
  /** Bytes cut from the end of blocks.idx (a torn index entry). */
  truncatedIndexBytes: number;
}

export type ChainVerification =
  | { ok: true; height: number }
  | { ok: false; height: number; /** the first block found altered or inconsistent */ blockNumber: number; reason: string };

export interface BlockStoreOptions {
  /** fsync after each write (default true). Turning it off keeps crash *consistency* but not durability. */
  fsync?: boolean;
}

const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function encodeIndexEntry(e: IndexEntry): Uint8Array {
  const buf = new Uint8Array(INDEX_ENTRY);
  const dv = new DataView(buf.buffer);
  dv.setBigUint64(0, BigInt(e.offset));
  dv.setUint32(8, e.length);
  dv.setUint32(12, crc32(buf.subarray(0, 12)));
  return buf;
}

function decodeIndexEntry(buf: Uint8Array): IndexEntry | undefined {
  const dv = new DataView(buf.buffer, buf.byteOffset, INDEX_ENTRY);
  if (dv.getUint32(12) !== crc32(buf.subarray(0, 12))) return undefined;
  return { offset: Number(dv.getBigUint64(0)), length: dv.getUint32(8) };
}

async function openRw(path: string): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(path, fsc.O_RDWR | fsc.O_CREAT, 0o644);
  } catch (e) {
    throw new BlockStoreError('IO', `cannot open ${path}: ${errMessage(e)}`, { cause: e });
  }
}

async function readAt(h: fsp.FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await h.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

async function writeAt(h: fsp.FileHandle, position: number, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await h.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

export class BlockStore {
  private readonly index: IndexEntry[] = [];
  private dataEnd = 0;
  private tip: Uint8Array = new Uint8Array(0);
  private tipProblem: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: BlockStoreError | undefined;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly data: fsp.FileHandle,
    private readonly idx: fsp.FileHandle,
    private readonly fsync: boolean,
    readonly recovery: RecoveryReport,
  ) {}

  /** Opens (creating if needed) the store in `dir`, recovering from an interrupted append. */
  static async open(dir: string, opts: BlockStoreOptions = {}): Promise<BlockStore> {
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new BlockStoreError('IO', `cannot create block store directory ${dir}: ${errMessage(e)}`, { cause: e });
    }
    const data = await openRw(join(dir, DATA_FILE));
    let idx: fsp.FileHandle | undefined;
    try {
      idx = await openRw(join(dir, INDEX_FILE));
      const store = new BlockStore(dir, data, idx, opts.fsync ?? true, { rolledForward: 0, truncatedDataBytes: 0, truncatedIndexBytes: 0 });
      await store.recover();
      return store;
    } catch (e) {
      await data.close().catch(() => undefined);
      await idx?.close().catch(() => undefined);
      if (e instanceof BlockStoreError) throw e;
      throw new BlockStoreError('IO', `cannot open block store ${dir}: ${errMessage(e)}`, { cause: e });
    }
  }

  /** Number of committed blocks; the next block's number. */
  get height(): number {
    return this.index.length;
  }

  /** Header hash of the last block (the next block's previous_hash); empty while the store is empty. */
  get tipHash(): Uint8Array {
    return this.tip.slice();
  }

  private async recover(): Promise<void> {
    const where = this.dir;
    // 1. The index: whole entries with a valid CRC and contiguous offsets.
    const idxSize = (await this.idx.stat()).size;
    const idxBytes = await readAt(this.idx, 0, idxSize);
    const whole = Math.floor(idxSize / INDEX_ENTRY);
    let valid = 0;
    let expectOffset = 0;
    for (; valid < whole; valid++) {
      const e = decodeIndexEntry(idxBytes.subarray(valid * INDEX_ENTRY, (valid + 1) * INDEX_ENTRY));
      if (!e || e.offset !== expectOffset || e.length > MAX_BLOCK_BYTES) break;
      this.index.push(e);
      expectOffset = e.offset + RECORD_HEADER + e.length;
    }
    if (valid < whole - 1) {
      throw new BlockStoreError(
        'CORRUPT',
        `${where}/${INDEX_FILE}: entry for block ${valid} is damaged but ${whole - valid - 1} entries follow it; not a crash artefact`,
      );
    }
    const keepIdx = valid * INDEX_ENTRY;
    if (keepIdx < idxSize) {
      await this.truncate(this.idx, keepIdx, INDEX_FILE);
      this.recovery.truncatedIndexBytes = idxSize - keepIdx;
    }

    // 2. The data file must hold every indexed record.
    const dataSize = (await this.data.stat()).size;
    if (dataSize < expectOffset) {
      throw new BlockStoreError(
        'CORRUPT',
        `${where}/${DATA_FILE} is ${dataSize} bytes but its index covers ${expectOffset}: committed blocks are missing`,
      );
    }
    this.dataEnd = expectOffset;
    if (this.index.length > 0) await this.loadTip();

    // 3. Roll forward whole, valid, chained records written after the last index entry; truncate the rest.
    let pos = expectOffset;
    while (pos + RECORD_HEADER <= dataSize) {
      const head = await readAt(this.data, pos, RECORD_HEADER);
      const dv = new DataView(head.buffer);
      const len = dv.getUint32(0);
      if (len > MAX_BLOCK_BYTES || pos + RECORD_HEADER + len > dataSize) break;
      const payload = await readAt(this.data, pos + RECORD_HEADER, len);
      if (crc32(payload) !== dv.getUint32(4)) break;
      let block: common.Block;
      try {
        block = decodeBlock(payload);
      } catch {
        break;
      }
      if (this.tipProblem !== undefined) break;
      const problem = checkBlock(block, { number: this.height, previousHash: this.height === 0 ? new Uint8Array(0) : this.tip });
      if (problem !== undefined) break;
      const entry = { offset: pos, length: len };
      await writeAt(this.idx, this.index.length * INDEX_ENTRY, encodeIndexEntry(entry));
      if (this.fsync) await this.idx.sync();
      this.index.push(entry);
      this.tip = blockHeaderHash(block.getHeader()!);
      pos += RECORD_HEADER + len;
      this.recovery.rolledForward++;
    }
    this.dataEnd = pos;
    if (pos < dataSize) {
      await this.truncate(this.data, pos, DATA_FILE);
      this.recovery.truncatedDataBytes = dataSize - pos;
    }
  }

  private async loadTip(): Promise<void> {
    try {
      const block = await this.get(this.height - 1);
      this.tip = blockHeaderHash(block.getHeader()!);
      this.tipProblem = undefined;
    } catch (e) {
      this.tipProblem = errMessage(e);
    }
  }

  private async truncate(h: fsp.FileHandle, size: number, name: string): Promise<void> {
    try {
      await h.truncate(size);
      if (this.fsync) await h.sync();
    } catch (e) {
      throw new BlockStoreError('IO', `cannot truncate ${this.dir}/${name} to ${size} bytes: ${errMessage(e)}`, { cause: e });
    }
  }

  private usable(): void {
    if (this.closed) throw new BlockStoreError('CLOSED', `block store ${this.dir} is closed`);
    if (this.failure) throw new BlockStoreError('CLOSED', `block store ${this.dir} is unusable after a failed write; reopen it`, { cause: this.failure });
  }

  /**
   * Appends the next block. It must carry number = height, previous_hash = tipHash and a correct data hash.
   * Resolves once the block is durable; concurrent calls are serialised.
   */
  append(block: common.Block): Promise<void> {
    const run = this.queue.then(() => this.appendNow(block));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(block: common.Block): Promise<void> {
    this.usable();
    if (this.tipProblem !== undefined) {
      throw new BlockStoreError('CORRUPT', `cannot append to ${this.dir}: the last block ${this.height - 1} is unreadable (${this.tipProblem})`);
    }
    const n = this.height;
    const problem = checkBlock(block, { number: n, previousHash: n === 0 ? new Uint8Array(0) : this.tip });
    if (problem !== undefined) throw new BlockStoreError('INVALID_BLOCK', `block ${block.getHeader()?.getNumber() ?? '?'} cannot be appended at height ${n}: ${problem}`);
    const payload = encodeBlock(block);
    if (payload.length > MAX_BLOCK_BYTES) throw new BlockStoreError('INVALID_BLOCK', `block ${n} is ${payload.length} bytes; the limit is ${MAX_BLOCK_BYTES}`);

    const record = new Uint8Array(RECORD_HEADER + payload.length);
    const dv = new DataView(record.buffer);
    dv.setUint32(0, payload.length);
    dv.setUint32(4, crc32(payload));
    record.set(payload, RECORD_HEADER);
    const entry = { offset: this.dataEnd, length: payload.length };
    try {
      // fdatasync: the appended bytes and the new file size, without the timestamps fsync would flush as well
      await writeAt(this.data, this.dataEnd, record);
      if (this.fsync) await this.data.datasync();
      await writeAt(this.idx, n * INDEX_ENTRY, encodeIndexEntry(entry));
      if (this.fsync) await this.idx.datasync();
    } catch (e) {
      // Undo the partial write so the files stay as they were; if even that fails, refuse further writes.
      try {
        await this.idx.truncate(n * INDEX_ENTRY);
        await this.data.truncate(this.dataEnd);
      } catch (undoError) {
        this.failure = new BlockStoreError('IO', `could not undo a failed append of block ${n}: ${errMessage(undoError)}`, { cause: undoError });
      }
      throw new BlockStoreError('IO', `cannot append block ${n} to ${this.dir}: ${errMessage(e)}`, { cause: e });
    }
    this.index.push(entry);
    this.dataEnd += record.length;
    this.tip = blockHeaderHash(block.getHeader()!);
  }

  /** The stored bytes of block n, checked against their CRC. */
  async getBytes(n: number): Promise<Uint8Array> {
    if (this.closed) throw new BlockStoreError('CLOSED', `block store ${this.dir} is closed`);
    const e = Number.isSafeInteger(n) ? this.index[n] : undefined;
    if (!e) throw new BlockStoreError('NOT_FOUND', `block ${n} is not in ${this.dir} (height ${this.height})`);
    let rec: Uint8Array;
    try {
      rec = await readAt(this.data, e.offset, RECORD_HEADER + e.length);
    } catch (err) {
      throw new BlockStoreError('IO', `cannot read block ${n} from ${this.dir}: ${errMessage(err)}`, { cause: err });
    }
    if (rec.length !== RECORD_HEADER + e.length) throw new BlockStoreError('CORRUPT', `block ${n}: record is cut short in ${this.dir}/${DATA_FILE}`);
    const dv = new DataView(rec.buffer);
    if (dv.getUint32(0) !== e.length) throw new BlockStoreError('CORRUPT', `block ${n}: record length ${dv.getUint32(0)} disagrees with the index (${e.length})`);
    const payload = rec.subarray(RECORD_HEADER);
    if (crc32(payload) !== dv.getUint32(4)) throw new BlockStoreError('CORRUPT', `block ${n}: checksum mismatch in ${this.dir}/${DATA_FILE} at offset ${e.offset}`);
    return payload;
  }

  /** Block n, decoded. */
  async get(n: number): Promise<common.Block> {
    const bytes = await this.getBytes(n);
    try {
      return decodeBlock(bytes);
    } catch (e) {
      throw new BlockStoreError('CORRUPT', `block ${n} does not decode: ${errMessage(e)}`, { cause: e });
    }
  }

  /** Blocks from `from` (inclusive) to `to` (exclusive, default the height at the time of each step). */
  async *blocks(from = 0, to?: number): AsyncGenerator<common.Block> {
    for (let n = from; n < (to ?? this.height); n++) yield await this.get(n);
  }

  /**
   * Walks the whole chain: every record's checksum, block numbers, data hashes, TRANSACTIONS_FILTER length and
   * every previous_hash link against the recomputed header hash of its predecessor. Reports the first bad block.
   */
  async verifyChain(): Promise<ChainVerification> {
    const height = this.height;
    let prev: Uint8Array = new Uint8Array(0);
    for (let n = 0; n < height; n++) {
      let block: common.Block;
      try {
        block = await this.get(n);
      } catch (e) {
        return { ok: false, height, blockNumber: n, reason: errMessage(e) };
      }
      const problem = checkBlock(block, { number: n, previousHash: prev });
      if (problem !== undefined) return { ok: false, height, blockNumber: n, reason: `block ${n}: ${problem}` };
      prev = blockHeaderHash(block.getHeader()!);
    }
    if (!bytesEqual(prev, this.tip) && height > 0) {
      return { ok: false, height, blockNumber: height - 1, reason: `block ${height - 1}: header hash changed since the store was opened` };
    }
    return { ok: true, height };
  }

  /** Waits for pending appends, then closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    await Promise.allSettled([this.data.close(), this.idx.close()]);
  }
}
