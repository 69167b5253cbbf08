/**
 * `emrs` answered from the node's record index (src/chain/record-index.ts) without a ledger evaluation: the same
 * records in the same order as the chaincode path (search-ledger.ts), with the same visibility rule.
 *
 * Which entries a request walks, so that it costs O(first + skipped):
 * - with filters: the shortest posting list among the given fields (every list is in id order, so any of them gives
 *   the chaincode's order); the other fields and visibility are tested per record;
 * - without: the level lists in level order; a level above the caller's clearance is not walked at all, only the
 *   caller's own records of that level (as author or patient), when the caller has any.
 * A cursor is the sort key of the last entry consumed; a page resumes after it by binary search. One request tests at
 * most MAX_SCANNED records; past that it answers with what it found, hasNextPage, and a cursor at the last one tested.
 */
import { SECURITY_LEVELS } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, SecurityLevel } from '../../chaincode/src/domain/index.js';
import type { RecordIndex } from '../chain/record-index.js';
import type { SortedIds } from '../chain/sorted-ids.js';
import { mayReadLevel, maySeeRecord } from './access.js';
import type { RequestContext } from './context.js';
import { encodeCursor } from './search-cursor.js';
import { filterIndexes, matches } from './search-filter.js';
import type { RecordPage, SearchQuery, SortKey } from './search-filter.js';

const MAX_SCANNED = 5_000;
/** the level index's order: its keys sort by the level's name */
const LEVEL_ORDER: readonly SecurityLevel[] = [...SECURITY_LEVELS].sort();

export function searchIndex(ctx: RequestContext, index: RecordIndex, q: SearchQuery, after: SortKey | undefined): RecordPage {
  const edges: RecordPage['edges'] = [];
  let scanned = 0;
  let last: SortKey | undefined;
  for (const [key, record] of q.byLevel ? byLevel(index, q, after) : filtered(index, q, after?.[0])) {
    if (scanned === MAX_SCANNED) {
      const endCursor = edges.length === q.first ? edges.at(-1)!.cursor : encodeCursor({ k: last! });
      return { edges, pageInfo: { hasNextPage: true, endCursor } };
    }
    scanned++;
    last = key;
    if (!matches(record, q.filter) || !maySeeRecord(q.caller, record)) continue;
    // one more match: the page is full and there is a next page
    if (edges.length === q.first) return { edges, pageInfo: { hasNextPage: true, endCursor: edges.at(-1)!.cursor } };
    ctx.loaders.record.prime(record.id, record);
    edges.push({ cursor: encodeCursor({ k: key }), node: record });
  }
  return { edges, pageInfo: { hasNextPage: false, endCursor: edges.at(-1)?.cursor ?? null } };
}

type Entry = [SortKey, EmrRecord];

/** The records of the shortest posting list of the filter's fields, after `afterId`. */
function* filtered(index: RecordIndex, q: SearchQuery, afterId: string | undefined): Generator<Entry> {
  let shortest: SortedIds | undefined;
  for (const { index: name, values } of filterIndexes(q.filter)) {
    const list = index.list(name, values);
    if (list === undefined) return; // nothing has this value
    if (shortest === undefined || list.size < shortest.size) shortest = list;
  }
  if (shortest === undefined) return;
  for (const id of idsAfter(shortest, afterId)) yield [[id], record(index, id)];
}

/** Every record the caller may see, by (level, id), after `after`. */
function* byLevel(index: RecordIndex, q: SearchQuery, after: SortKey | undefined): Generator<Entry> {
  const me = q.caller.participant.id;
  for (const level of LEVEL_ORDER) {
    if (after !== undefined && level < after[0]) continue;
    const afterId = after !== undefined && level === after[0] ? after[1] : undefined;
    const all = index.list('securityLevel', [level]);
    if (all === undefined) continue;
    let ids: Iterable<string> = idsAfter(all, afterId);
    if (!mayReadLevel(q.caller, level)) {
      // only the caller's own records of this level are visible: walk those when they are fewer
      const authored = index.list('author', [me]);
      const own = index.list('patient', [me]);
      const ownCount = (authored?.size ?? 0) + (own?.size ?? 0);
      if (ownCount === 0) continue;
      if (ownCount < all.size) ids = filterLevel(index, level, union(idsAfter(authored, afterId), idsAfter(own, afterId)));
    }
    for (const id of ids) yield [[level, id], record(index, id)];
  }
}

function* idsAfter(list: SortedIds | undefined, afterId: string | undefined): Generator<string> {
  if (list === undefined) return;
  for (let i = list.positionAfter(afterId); ; i++) {
    const id = list.at(i);
    if (id === undefined) return;
    yield id;
  }
}

/** Two ascending id streams merged into one, without duplicates. */
function* union(a: Iterator<string>, b: Iterator<string>): Generator<string> {
  let x = a.next();
  let y = b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value < y.value)) {
      yield x.value;
      x = a.next();
    } else if (x.done || y.value < x.value) {
      yield y.value;
      y = b.next();
    } else {
      yield x.value;
      x = a.next();
      y = b.next();
    }
  }
}

function* filterLevel(index: RecordIndex, level: SecurityLevel, ids: Iterable<string>): Generator<string> {
  for (const id of ids) if (record(index, id).summary.securityLevel === level) yield id;
}

function record(index: RecordIndex, id: string): EmrRecord {
  const r = index.get(id);
  if (r === undefined) throw new Error(`record index: ${id} is listed but not stored`);
  return r;
}
