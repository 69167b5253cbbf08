/**
 * Recursive pins, kept in the node's LevelDB in Helia's own layout so that `helia.pins.ls/get/setMetadata/isPinned`
 * and `helia.gc()` keep working on them:
 *   /pin/<base36 CIDv1>                  cbor { depth, metadata }           one per pinned root
 *   /pinned-block/<base36 multihash>     cbor { pinCount, pinnedBy: [root CID bytes…] }   one per protected block
 * Why not helia.pins itself (helia 7.1.15): add() bumps each block's record as it walks and writes the root's record
 * last, so a walk that fails half-way (a block missing, a deadline, an abort) leaves blocks pinned by nobody, for
 * ever; and rm() keeps the wrong entries in `pinnedBy` (a filter with the test inverted), so two pins sharing blocks
 * can lose those blocks to gc. Here the walk happens first and all the records of one pin or unpin (or of the pins of
 * one put batch, `addMany`) are written in a single LevelDB batch (atomic; synced when the node is durable),
 * serialised by a mutex.
 */
import { encode, decode } from 'cborg';
import type { LevelDatastore } from 'datastore-level';
import { base36 } from 'multiformats/bases/base36';
import { CID } from 'multiformats/cid';
import { StorageError } from './errors.js';

/** Pin metadata keys: `pinnedAt` (ms, written with the pin), `recorded` (set by the orphan sweep, orphans.ts). */
export const PIN_METADATA = Object.freeze({ pinnedAt: 'pinnedAt', recorded: 'recorded' });

const PIN_PREFIX = '/pin/';
const BLOCK_PREFIX = '/pinned-block/';
/** The first key after every key with `prefix` (prefixes here end in '/', and '0' follows '/'). */
const after = (prefix: string): string => `${prefix.slice(0, -1)}0`;

interface PinnedBlock {
  pinCount: number;
  pinnedBy: Uint8Array[];
}

type Db = LevelDatastore['db'];

/** One recursive pin to add: the root and every distinct block of its DAG (root included). */
export interface PinEntry {
  readonly root: CID;
  readonly blocks: readonly CID[];
  readonly metadata?: Record<string, string | number | boolean>;
}

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

const pinKey = (root: CID): string => `${PIN_PREFIX}${root.toV1().toString(base36)}`;
const blockKey = (cid: CID): string => `${BLOCK_PREFIX}${base36.encode(cid.multihash.bytes)}`;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function decodeBlockRecord(key: string, value: Uint8Array): PinnedBlock {
  try {
    const r = decode(value) as Partial<PinnedBlock>;
    if (!Array.isArray(r.pinnedBy)) throw new Error('no pinnedBy list');
    return { pinCount: typeof r.pinCount === 'number' ? r.pinCount : r.pinnedBy.length, pinnedBy: r.pinnedBy };
  } catch (e) {
    throw new StorageError('CORRUPT', `pin index record ${key} does not decode`, { cause: e });
  }
}

export class PinStore {
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    /** fsync each batch (LevelDB `sync`) */
    private readonly sync: boolean,
  ) {}

  /** Runs `fn` after every earlier exclusive section (pins and unpins read-modify-write shared records). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async isPinned(root: CID): Promise<boolean> {
    return (await this.db.get(pinKey(root))) !== undefined;
  }

  /** true when some pin protects the block (what gc asks) */
  async isBlockPinned(cid: CID): Promise<boolean> {
    return (await this.db.get(blockKey(cid))) !== undefined;
  }

  async *roots(): AsyncGenerator<CID> {
    for await (const key of this.db.keys({ gt: PIN_PREFIX, lt: after(PIN_PREFIX) })) {
      yield CID.parse(key.slice(PIN_PREFIX.length), base36);
    }
  }

  /**
   * Pins `root` over `blocks` (every distinct block of its DAG, root included), atomically. Returns false, changing
   * nothing, when the root is already pinned.
   */
  async add(root: CID, blocks: readonly CID[], metadata: Record<string, string | number | boolean> = {}): Promise<boolean> {
    const [added] = await this.addMany([{ root, blocks, metadata }]);
    return added!;
  }

  /**
   * Pins several roots in one atomic batch (one sync): after a crash either all of them are pinned or none. Per pin,
   * true when it was added, false when its root was already pinned (or came earlier in `pins`).
   */
  addMany(pins: readonly PinEntry[]): Promise<boolean[]> {
    return this.#exclusive(async () => {
      const roots = pins.map((p) => pinKey(p.root));
      const rootValues = await this.db.getMany(roots);
      const adding = new Set<string>();
      const added = pins.map((_p, i) => {
        if (rootValues[i] !== undefined || adding.has(roots[i]!)) return false;
        adding.add(roots[i]!);
        return true;
      });
      // Block records shared by several of these pins are read once and updated in memory, then written once.
      const keys = [...new Set(pins.flatMap((p, i) => (added[i] ? p.blocks.map(blockKey) : [])))];
      const values = await this.db.getMany(keys);
      const records = new Map<string, { rec: PinnedBlock; changed: boolean }>();
      keys.forEach((key, i) => {
        const v = values[i];
        records.set(key, { rec: v === undefined ? { pinCount: 0, pinnedBy: [] } : decodeBlockRecord(key, v), changed: false });
      });
      const ops: Op[] = [];
      pins.forEach((p, i) => {
        if (!added[i]) return;
        const by = p.root.toV1().bytes;
        for (const cid of p.blocks) {
          const entry = records.get(blockKey(cid))!;
          if (entry.rec.pinnedBy.some((b) => sameBytes(b, by))) continue;
          entry.rec.pinnedBy.push(by);
          entry.rec.pinCount = entry.rec.pinnedBy.length;
          entry.changed = true;
        }
        ops.push({ type: 'put', key: roots[i]!, value: encode({ depth: Infinity, metadata: p.metadata ?? {} }) });
      });
      for (const [key, { rec, changed }] of records) if (changed) ops.push({ type: 'put', key, value: encode(rec) });
      if (ops.length > 0) await this.db.batch(ops, { sync: this.sync });
      return added;
    });
  }

  /**
   * Unpins `root`, atomically. `blocks` is its DAG as walked now; when undefined (a block of the DAG is gone or
   * damaged, so the walk failed) every block record is scanned for the root instead. Returns false when the root
   * was not pinned.
   */
  remove(root: CID, blocks: readonly CID[] | undefined): Promise<boolean> {
    return this.#exclusive(async () => {
      if (!(await this.isPinned(root))) return false;
      const by = root.toV1().bytes;
      const ops: Op[] = [];
      const release = (key: string, value: Uint8Array): void => {
        const rec = decodeBlockRecord(key, value);
        const rest = rec.pinnedBy.filter((b) => !sameBytes(b, by));
        if (rest.length === rec.pinnedBy.length) return;
        if (rest.length === 0) ops.push({ type: 'del', key });
        else ops.push({ type: 'put', key, value: encode({ pinCount: rest.length, pinnedBy: rest }) });
      };
      if (blocks !== undefined) {
        const keys = blocks.map(blockKey);
        const values = await this.db.getMany(keys);
        keys.forEach((key, i) => {
          const v = values[i];
          if (v !== undefined) release(key, v);
        });
      } else {
        for await (const [key, value] of this.db.iterator({ gt: BLOCK_PREFIX, lt: after(BLOCK_PREFIX) })) release(key, value);
      }
      ops.push({ type: 'del', key: pinKey(root) });
      await this.db.batch(ops, { sync: this.sync });
      return true;
    });
  }
}
