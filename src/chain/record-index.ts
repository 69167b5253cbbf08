/**
 * The node's read model of the ledger's EMR records: every record the chain holds, in memory, with the chaincode's
 * own composite-key indexes (chaincode/src/domain recordIndexEntries: patient, author, hospital, category, level,
 * code, year, gender, age band, CID) as posting lists of ids in the chaincode's key order. It is built only from
 * committed blocks (record-writes.ts), block by block, so it is the chaincode's state as of `height`; a search reads
 * it without a ledger evaluation.
 *
 * A write of a record already indexed re-indexes it (its old entries are dropped first); a deletion drops it.
 */
import { RECORD_INDEXES, recordIndexEntries } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, RecordIndexName } from '../../chaincode/src/domain/index.js';
import type { RecordWrite } from './state-writes.js';
import { SortedIds } from './sorted-ids.js';

const INDEX_OF_OBJECT_TYPE: ReadonlyMap<string, RecordIndexName> = new Map(
  (Object.entries(RECORD_INDEXES) as [RecordIndexName, { objectType: string }][]).map(([name, def]) => [def.objectType, name]),
);

/** The posting-list key of an index's leading values (e.g. ['http://loinc.org', '4548-4'] for the code index). */
export const indexValueKey = (values: readonly string[]): string => values.join('\u0000');

export class RecordIndex {
  readonly #records = new Map<string, EmrRecord>();
  readonly #lists = new Map<RecordIndexName, Map<string, SortedIds>>((Object.keys(RECORD_INDEXES) as RecordIndexName[]).map((name) => [name, new Map()]));
  #height = 0n;

  /** blocks applied: the next block expected is number `height` */
  get height(): bigint {
    return this.#height;
  }

  get size(): number {
    return this.#records.size;
  }

  get(id: string): EmrRecord | undefined {
    return this.#records.get(id);
  }

  /** The ids an index lists under its leading values, in the chaincode's order; undefined when there are none. */
  list(index: RecordIndexName, values: readonly string[]): SortedIds | undefined {
    return this.#lists.get(index)!.get(indexValueKey(values));
  }

  /** Applies block `blockNumber`'s record writes; blocks must come in order, each once. */
  applyBlock(blockNumber: bigint, writes: readonly RecordWrite[]): void {
    if (blockNumber !== this.#height) throw new RangeError(`record index: block ${blockNumber} applied at height ${this.#height}`);
    for (const w of writes) {
      const old = this.#records.get(w.id);
      if (old !== undefined) this.#unindex(old);
      if (w.record === undefined) this.#records.delete(w.id);
      else {
        this.#records.set(w.id, w.record);
        this.#index(w.record);
      }
    }
    this.#height = blockNumber + 1n;
  }

  #index(record: EmrRecord): void {
    for (const { index, key } of entries(record)) {
      const lists = this.#lists.get(index)!;
      let ids = lists.get(key);
      if (ids === undefined) lists.set(key, (ids = new SortedIds()));
      ids.add(record.id);
    }
  }

  #unindex(record: EmrRecord): void {
    for (const { index, key } of entries(record)) {
      const lists = this.#lists.get(index)!;
      const ids = lists.get(key);
      ids?.delete(record.id);
      if (ids?.size === 0) lists.delete(key);
    }
  }
}

/** The record's entries as (index, posting-list key), exactly the chaincode's index keys without the trailing id. */
function entries(record: EmrRecord): { index: RecordIndexName; key: string }[] {
  return recordIndexEntries(record).map((e) => {
    const index = INDEX_OF_OBJECT_TYPE.get(e.objectType);
    if (index === undefined) throw new Error(`record index: unknown index object type ${e.objectType}`);
    return { index, key: indexValueKey(e.attributes.slice(0, -1)) };
  });
}
