/**
 * `emrs` answered by the chaincode: SearchRecords evaluations over its composite-key indexes. The most selective
 * given filter picks the index; the other filters and the caller's visibility are applied here while walking ledger
 * pages. Used when the node's record index is switched off, not caught up, or its block stream is down.
 *
 * A cursor names the ledger page it points into (its bookmark), how many of its entries were consumed, and the sort
 * key of the last one; entries up to that key are skipped, so paging is stable while records arrive. A cursor of the
 * record index (sort key only) is continued from the start of the index, skipping up to its key. One request scans
 * at most MAX_SCANNED ledger entries; past that it returns what it found with hasNextPage, and the next page continues
 * the scan.
 */
import type { EmrRecord } from '../../chaincode/src/domain/index.js';
import { maySeeRecord } from './access.js';
import type { RequestContext } from './context.js';
import { encodeCursor, LEDGER_PAGE } from './search-cursor.js';
import type { Cursor } from './search-cursor.js';
import { compareSortKeys, filterIndexes, matches, sortKeyOf } from './search-filter.js';
import type { RecordPage, SearchQuery } from './search-filter.js';

const MAX_SCANNED = 2_000;

export async function searchLedger(ctx: RequestContext, q: SearchQuery, after: Cursor | undefined): Promise<RecordPage> {
  // no filter: every record, grouped by level
  const { index, values } = filterIndexes(q.filter)[0] ?? { index: 'securityLevel' as const, values: [] };
  const skipThrough = after?.k;
  let bookmark = after?.b ?? '';
  let offset = after?.o ?? 0;
  const edges: RecordPage['edges'] = [];
  let scanned = 0;
  let firstPage = true;
  for (;;) {
    // The first ledger page only as long as this answer can need (what the cursor consumed, the edges still missing
    // and one more to know whether there is a next page); the pages after it full.
    const pageSize = firstPage ? Math.min(LEDGER_PAGE, offset + q.first + 1) : LEDGER_PAGE;
    firstPage = false;
    const page = await ctx.services.ledger.searchRecords(index, values, { pageSize, bookmark });
    // With a sort key, entries up to it are skipped wherever they are (records may have arrived before it since);
    // an old cursor without one skips by offset.
    for (let i = skipThrough === undefined ? offset : 0; i < page.items.length; i++) {
      const record: EmrRecord = page.items[i]!;
      const key = sortKeyOf(record, q.byLevel);
      scanned++;
      if (skipThrough !== undefined && compareSortKeys(key, skipThrough) <= 0) continue;
      ctx.loaders.record.prime(record.id, record);
      if (!matches(record, q.filter) || !maySeeRecord(q.caller, record)) continue;
      if (edges.length === q.first) {
        // one more match exists: the page is full and there is a next page
        return { edges, pageInfo: { hasNextPage: true, endCursor: edges.at(-1)!.cursor } };
      }
      edges.push({ cursor: encodeCursor({ k: key, b: bookmark, o: i + 1 }), node: record });
    }
    const exhausted = page.items.length < pageSize || page.bookmark === '';
    if (exhausted) return { edges, pageInfo: { hasNextPage: false, endCursor: edges.at(-1)?.cursor ?? null } };
    const last = page.items.at(-1)!;
    bookmark = page.bookmark;
    offset = 0;
    if (scanned >= MAX_SCANNED) {
      // Stop scanning; resume from the next ledger page.
      return { edges, pageInfo: { hasNextPage: true, endCursor: encodeCursor({ k: sortKeyOf(last, q.byLevel), b: bookmark, o: 0 }) } };
    }
  }
}
