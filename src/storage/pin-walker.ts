/**
 * The DAG walker behind pin, unpin and stat. Helia's own walker (@helia/utils 3.0.5) runs block reads as detached
 * queue jobs: when a block is missing it both throws to the caller and leaves a promise rejection nobody handles,
 * which kills the process. This one is a plain sequential depth-first loop, so every failure surfaces once, to the
 * caller. Raw leaves carry no links, so a local raw leaf is only checked for presence, never read: pinning a 1 GiB
 * file reads its dag-pb nodes (≈50 kB) and stats 1024 leaf files.
 */
import * as dagPb from '@ipld/dag-pb';
import type { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { StorageError } from './errors.js';
import { forEachLimited } from './limited.js';
import { SHA2_256 } from './verified-blockstore.js';

const IDENTITY = 0x00;

/** Blocks as the walker sees them. */
export interface WalkSource {
  /** true when the block is in the local store */
  has(cid: CID, signal: AbortSignal | undefined): Promise<boolean>;
  /** the block's verified bytes; may fetch from peers; rejects when it cannot be had */
  get(cid: CID, signal: AbortSignal | undefined): Promise<Uint8Array>;
}

export interface WalkOptions {
  /**
   * 'fetch': every block must be obtained through `source.get` (a missing one fails the walk);
   * 'report': missing blocks are reported (`present: false`) and their subtrees skipped, nothing is fetched.
   */
  readonly missing: 'fetch' | 'report';
  /** 'fetch' mode: missing raw leaves of a node fetched at once (default 1: one after the other) */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

export interface WalkedBlock {
  readonly cid: CID;
  /** false only in 'report' mode, for a block not in the local store */
  readonly present: boolean;
}

/** Identity CIDs inline their bytes: there is nothing to store or pin. */
function isInline(cid: CID): boolean {
  return cid.multihash.code === IDENTITY;
}

/**
 * Visits every distinct block of the DAG under `root` once (by multihash, as the blockstore and the pin index key
 * them), depth-first in link order. Root: INVALID_CID unless dag-pb or raw over sha2-256. Below the root: a link to
 * another codec or hash, or a dag-pb node that does not decode, is CORRUPT.
 */
export async function* walkDag(root: CID, source: WalkSource, options: WalkOptions): AsyncGenerator<WalkedBlock> {
  if ((root.code !== dagPb.code && root.code !== raw.code) || root.multihash.code !== SHA2_256) {
    throw new StorageError('INVALID_CID', `${root} is not a UnixFS (dag-pb or raw, sha2-256) CID`);
  }
  const seen = new Set<string>();
  const stack: CID[] = [root];
  while (stack.length > 0) {
    options.signal?.throwIfAborted();
    const cid = stack.pop()!;
    const key = Buffer.from(cid.multihash.bytes).toString('base64');
    if (seen.has(key)) continue;
    seen.add(key);
    if (cid.multihash.code !== SHA2_256) {
      throw new StorageError('CORRUPT', `the DAG under ${root} links to ${cid}, hashed with 0x${cid.multihash.code.toString(16)} (sha2-256 only)`);
    }
    const present = await source.has(cid, options.signal);
    if (cid.code === raw.code) {
      if (!present) {
        if (options.missing === 'report') {
          yield { cid, present: false };
          continue;
        }
        await source.get(cid, options.signal); // fetched and stored (verified) by the source
      }
      yield { cid, present: true };
      continue;
    }
    if (cid.code !== dagPb.code) {
      throw new StorageError('CORRUPT', `the DAG under ${root} links to ${cid} of codec 0x${cid.code.toString(16)} (UnixFS is dag-pb and raw)`);
    }
    if (!present && options.missing === 'report') {
      yield { cid, present: false };
      continue;
    }
    const bytes = await source.get(cid, options.signal);
    let node: dagPb.PBNode;
    try {
      node = dagPb.decode(bytes);
    } catch (e) {
      throw new StorageError('CORRUPT', `block ${cid} under ${root} is not a valid dag-pb node`, { cause: e });
    }
    if (options.missing === 'fetch' && (options.concurrency ?? 1) > 1) {
      // Fetching leaves one at a time costs a round trip each: bring the missing ones over in parallel first.
      const missing: CID[] = [];
      for (const link of node.Links) {
        const c = link.Hash;
        if (c.code !== raw.code || c.multihash.code !== SHA2_256 || seen.has(Buffer.from(c.multihash.bytes).toString('base64'))) continue;
        if (!(await source.has(c, options.signal))) missing.push(c);
      }
      await forEachLimited(missing, options.concurrency!, (c) => source.get(c, options.signal));
    }
    // push in reverse so that links are visited in order
    for (let i = node.Links.length - 1; i >= 0; i--) {
      const child = node.Links[i]!.Hash;
      if (!isInline(child)) stack.push(child);
    }
    yield { cid, present: true };
  }
}
