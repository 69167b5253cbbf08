/**
 * Orphaned uploads: an envelope is stored and pinned first, then its record is submitted to the ledger. A crash or a
 * refused transaction between the two leaves content that no record points to. The sweep finds such pins and
 * collects them; content that a record on the ledger points to is never collected.
 *
 * The pin itself is the journal (no separate bookkeeping that a crash could lose): the blob store pins with
 * metadata `pinnedAt` (ms since the epoch). A sweep looks at every pin not yet known to be recorded:
 *   - younger than the grace period: left alone (its upload may still be on its way to the ledger);
 *   - a record on the ledger has its CID: marked `recorded` (never asked again, never collected);
 *   - otherwise: unpinned, and its blocks go with the garbage collection that ends the sweep.
 * If the ledger cannot be asked, nothing is unpinned.
 */
import type { Helia } from '@helia/interface';
import type { PieLedger } from '../chain/pie-ledger.js';
import { StorageError } from './errors.js';
import { PIN_METADATA } from './pin-store.js';
import type { BlobStore } from './types.js';

/** Whether a record on the ledger points to a CID. */
export interface LedgerReferences {
  isRecorded(cid: string): Promise<boolean>;
}

/** The ledger's `cid` record index as LedgerReferences. */
export const ledgerReferences = (ledger: Pick<PieLedger, 'searchRecords'>): LedgerReferences => ({
  isRecorded: async (cid) => (await ledger.searchRecords('cid', [cid], { pageSize: 1 })).items.length > 0,
});


export interface SweepOptions {
  /** pins younger than this are not judged yet (default 1 h) */
  readonly graceMs?: number;
  /** the clock (tests) */
  readonly now?: () => number;
  readonly signal?: AbortSignal;
}

export interface SweepResult {
  /** CIDs found on the ledger by this sweep (now marked recorded) */
  readonly recorded: string[];
  /** CIDs unpinned as orphans */
  readonly collected: string[];
  /** CIDs left for a later sweep (inside the grace period) */
  readonly young: string[];
  /** blocks deleted by the garbage collection */
  readonly removedBlocks: number;
}

export const DEFAULT_ORPHAN_GRACE_MS = 60 * 60 * 1000;

/** One sweep over the pins of `helia`, unpinning and collecting through `blobs` (the same node's blob store). */
export async function sweepOrphans(
  helia: Pick<Helia, 'pins'>,
  blobs: Pick<BlobStore, 'unpin' | 'gc'>,
  ledger: LedgerReferences,
  options: SweepOptions = {},
): Promise<SweepResult> {
  const graceMs = options.graceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new StorageError('INVALID_ARGUMENT', 'graceMs must be a non-negative number of milliseconds');
  const now = (options.now ?? Date.now)();
  const result = { recorded: [] as string[], collected: [] as string[], young: [] as string[] };
  const candidates = [];
  for await (const pin of helia.pins.ls({ signal: options.signal })) {
    if (pin.metadata[PIN_METADATA.recorded] === true) continue;
    const pinnedAt = pin.metadata[PIN_METADATA.pinnedAt];
    // A pin without a time (made outside the blob store) is judged at once: the ledger decides.
    if (typeof pinnedAt === 'number' && now - pinnedAt < graceMs) result.young.push(pin.cid.toString());
    else candidates.push(pin);
  }
  for (const pin of candidates) {
    options.signal?.throwIfAborted();
    const cid = pin.cid.toString();
    let recorded: boolean;
    try {
      recorded = await ledger.isRecorded(cid);
    } catch (e) {
      throw new StorageError('UNAVAILABLE', `cannot ask the ledger whether ${cid} is recorded; nothing was collected after this point`, { cause: e });
    }
    if (recorded) {
      await helia.pins.setMetadata(pin.cid, { ...pin.metadata, [PIN_METADATA.recorded]: true });
      result.recorded.push(cid);
    } else {
      await blobs.unpin(pin.cid);
      result.collected.push(cid);
    }
  }
  const removedBlocks = result.collected.length > 0 ? (await blobs.gc({ signal: options.signal })).removed : 0;
  return { ...result, removedBlocks };
}
