/**
 * The filesystem blockstore under Helia, with three changes to blockstore-fs's FsBlockstore:
 * - every read is checked against the CID's sha2-256 digest. Helia verifies only blocks fetched from peers, never
 *   local ones, so a flipped bit on disk would otherwise reach the reader (and be served to peers) unnoticed;
 * - a read is one readFile() instead of a 64 KiB read stream, and a missing file is NotFoundError while other
 *   failures keep their cause (FsBlockstore reports every failure, an abort included, as NotFoundError);
 * - a write goes to a temporary file that is fsynced (optional), then renamed over the block's path, then the
 *   directory is fsynced: a crash leaves either the whole block or none. ENOSPC/EDQUOT become NO_SPACE. A caller
 *   that writes many blocks may put the directory fsync off (`syncDirectory: false`) and make the renames durable
 *   later with one `syncDirectories` over the directories involved (blob-store.ts does, before it pins).
 * Only sha2-256 is accepted (what the importer and bitswap produce here); anything else is INVALID_CID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { FsBlockstore } from 'blockstore-fs';
import { NextToLast } from 'blockstore-fs/sharding';
import type { Pair } from 'interface-blockstore';
import { NotFoundError } from 'interface-store';
import type { CID } from 'multiformats/cid';
import { StorageError, toStorageError } from './errors.js';
import { forEachLimited } from './limited.js';

export const SHA2_256 = 0x12;
/** Largest block accepted: the importer writes 1 MiB leaves; bitswap refuses blocks over 2 MiB. */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024;

export interface VerifiedBlockstoreInit {
  /** fsync each block file and its directory before put() resolves (default false) */
  readonly fsync?: boolean;
}

interface SignalOptions {
  signal?: AbortSignal;
}

export interface BlockPutOptions extends SignalOptions {
  /**
   * false: do not fsync the block's directory after the rename; the caller then owes a `syncDirectories` over
   * `dirname(blockPath(cid))` before it relies on the block being there after a crash (default true)
   */
  syncDirectory?: boolean;
}

/** Directories fsynced at once by syncDirectories (each takes a thread of libuv's pool of 4 for a moment). */
const DIRECTORY_SYNC_CONCURRENCY = 8;

/** Throws INVALID_CID unless `cid` is addressed by a full-length sha2-256 digest. */
export function assertSha256(cid: CID, op: string): void {
  if (cid.multihash.code !== SHA2_256 || cid.multihash.digest.length !== 32) {
    throw new StorageError(
      'INVALID_CID',
      `${op} ${cid}: hash function 0x${cid.multihash.code.toString(16)} (${cid.multihash.digest.length} bytes) is not supported; this store holds sha2-256 blocks only`,
    );
  }
}

function matches(cid: CID, bytes: Uint8Array): boolean {
  const digest = createHash('sha256').update(bytes).digest();
  return digest.equals(cid.multihash.digest);
}

/** A Uint8Array (Buffer included) from any realm: jest runs tests in a vm context whose Uint8Array differs. */
export function isBytes(v: unknown): v is Uint8Array {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Uint8Array]';
}

async function collect(val: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, cid: CID): Promise<Uint8Array> {
  if (isBytes(val)) return val;
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of val) {
    n += p.length;
    if (n > MAX_BLOCK_BYTES) throw new StorageError('TOO_LARGE', `put ${cid}: block is over ${MAX_BLOCK_BYTES} bytes`);
    parts.push(p);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

async function syncDirectory(dir: string): Promise<void> {
  const dh = await fsp.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export class VerifiedBlockstore extends FsBlockstore {
  readonly #sharding: NextToLast;
  readonly #fsync: boolean;

  constructor(location: string, init: VerifiedBlockstoreInit = {}) {
    // FsBlockstore keeps its sharding strategy private: hand it the instance we use for paths.
    const sharding = new NextToLast();
    super(location, { shardingStrategy: sharding });
    this.#sharding = sharding;
    this.#fsync = init.fsync ?? false;
  }

  /** shard directories known to exist (one mkdir per directory instead of one per block) */
  readonly #dirs = new Set<string>();

  /** The file that holds `cid`'s bytes (blocks/<next-to-last 2 chars>/<BASE32 multihash>.data). */
  blockPath(cid: CID): string {
    const { dir, file } = this.#sharding.encode(cid);
    return join(this.path, dir, file);
  }

  override async put(cid: CID, val: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: BlockPutOptions): Promise<CID> {
    assertSha256(cid, 'put');
    options?.signal?.throwIfAborted();
    const bytes = await collect(val, cid);
    if (bytes.length > MAX_BLOCK_BYTES) throw new StorageError('TOO_LARGE', `put ${cid}: block of ${bytes.length} bytes is over ${MAX_BLOCK_BYTES}`);
    // No hash check here: the importer derives each CID from the bytes it writes, Helia checks blocks fetched from
    // peers before storing them, and every read below is checked. Hashing again cost ≈1.1 s per GB of upload.
    const file = this.blockPath(cid);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const dir = dirname(file);
      if (!this.#dirs.has(dir)) {
        await fsp.mkdir(dir, { recursive: true });
        this.#dirs.add(dir);
      }
      const fh = await fsp.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(bytes);
        if (this.#fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
      // the rename is durable only once the directory entry is
      if (this.#fsync && options?.syncDirectory !== false) await syncDirectory(dirname(file));
      return cid;
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw toStorageError(e, { op: 'put block', cid: cid.toString() });
    }
  }

  /**
   * Makes the block renames in `dirs` durable (fsync of each directory; nothing when the store does not fsync). For
   * the writes made with `syncDirectory: false`.
   */
  async syncDirectories(dirs: Iterable<string>): Promise<void> {
    if (!this.#fsync) return;
    await forEachLimited([...new Set(dirs)], DIRECTORY_SYNC_CONCURRENCY, async (dir) => {
      try {
        await syncDirectory(dir);
      } catch (e) {
        throw toStorageError(e, { op: `sync directory ${dir}` });
      }
    });
  }

  override async *get(cid: CID, options?: SignalOptions): AsyncGenerator<Uint8Array> {
    assertSha256(cid, 'get');
    options?.signal?.throwIfAborted();
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(this.blockPath(cid), { signal: options?.signal });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Helia and its brokers recognise NotFoundError by name; the blob store maps it to NOT_FOUND.
      if (code === 'ENOENT') throw new NotFoundError(`block ${cid} is not in the local store`);
      if ((e as Error).name === 'AbortError') throw e;
      throw toStorageError(e, { op: 'read block', cid: cid.toString() });
    }
    if (!matches(cid, bytes)) {
      throw new StorageError('CORRUPT', `block ${cid}: the ${bytes.length} bytes on disk do not hash to the CID (damaged file ${this.blockPath(cid)})`);
    }
    yield bytes;
  }

  /** Every block's CID, with bytes read (and verified) only if the caller iterates them. */
  override async *getAll(options?: SignalOptions): AsyncGenerator<Pair> {
    for await (const { cid } of super.getAll(options)) yield { cid, bytes: this.get(cid, options) };
  }
}
