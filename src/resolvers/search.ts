/**
 * `emrs(filter, first, after)`: Relay pagination over the chaincode's composite-key indexes. The most selective
 * given filter picks the index (patient, author, code, …); the other filters and the caller's visibility are applied
 * here while walking ledger pages. A cursor names a ledger page (its bookmark) and how many of its entries were
 * consumed, so paging is stable while new records arrive. One request scans at most MAX_SCANNED ledger entries; past
 * that it returns what it found with hasNextPage, and the next page continues the scan.
 */
import { ID_PATTERN, PARTICIPANT_ID } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, RecordIndexName } from '../../chaincode/src/domain/index.js';
import { ExchangeError } from '../exchange/errors.js';
import type { EmrFilter } from '../schema/inputs.js';
import { maySeeRecord, requireCaller } from './access.js';
import type { RequestContext } from './context.js';

const LEDGER_PAGE = 100;
const MAX_SCANNED = 2_000;
const AGE_BAND = /^([0-9]|[1-8][05])-([0-9]|[1-8][49])$|^90\+$/;

interface Cursor {
  /** bookmark of the ledger page the cursor points into ('' = the first page) */
  b: string;
  /** entries of that page already consumed */
  o: number;
}

export const encodeCursor = (c: Cursor): string => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');

function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (typeof c.b === 'string' && c.b.length <= 4096 && Number.isInteger(c.o) && c.o >= 0 && c.o <= LEDGER_PAGE) return c;
  } catch {
    // fall through
  }
  throw new ExchangeError('BAD_USER_INPUT', 'after: not a cursor from this API');
}

const FILTER_OF_INDEX: Partial<Record<RecordIndexName, keyof EmrFilter>> = {
  patient: 'patientId',
  author: 'authorId',
  code: 'code',
  year: 'year',
  category: 'category',
  ageBand: 'ageBand',
  gender: 'gender',
  securityLevel: 'securityLevel',
  hospital: 'hospital',
};
/** Index order: the filters that single out the fewest records first. */
const INDEX_ORDER: readonly RecordIndexName[] = ['patient', 'author', 'code', 'year', 'category', 'ageBand', 'gender', 'securityLevel', 'hospital'];

function checkFilter(f: EmrFilter): void {
  const bad = (field: string, why: string): never => {
    throw new ExchangeError('BAD_USER_INPUT', `filter.${field}: ${why}`);
  };
  if (f.patientId != null && !PARTICIPANT_ID.test(f.patientId)) bad('patientId', 'must be a participant id (32 hex characters)');
  if (f.authorId != null && !PARTICIPANT_ID.test(f.authorId)) bad('authorId', 'must be a participant id (32 hex characters)');
  if (f.hospital != null && !ID_PATTERN.test(f.hospital)) bad('hospital', 'must be an MSP id');
  if (f.code != null && !/^[^|\s]+\|[^|]+$/.test(f.code)) bad('code', 'must be system|code');
  if (f.ageBand != null && !AGE_BAND.test(f.ageBand)) bad('ageBand', 'must be a 5-year band like 40-44, or 90+');
  if (f.year != null && (f.year < 1900 || f.year > 9999)) bad('year', 'must be a year between 1900 and 9999');
}

/** The index to walk and its key values. */
function chooseIndex(f: EmrFilter): { index: RecordIndexName; values: string[] } {
  for (const index of INDEX_ORDER) {
    const field = FILTER_OF_INDEX[index]!;
    const value = f[field];
    if (value == null) continue;
    if (index === 'code') {
      const [system, code] = splitCode(String(value));
      return { index, values: [system, code] };
    }
    return { index, values: [String(value)] };
  }
  return { index: 'securityLevel', values: [] }; // no filter: every record, grouped by level
}

const splitCode = (sc: string): [string, string] => {
  const bar = sc.indexOf('|');
  return [sc.slice(0, bar), sc.slice(bar + 1)];
};

function matches(r: EmrRecord, f: EmrFilter): boolean {
  const s = r.summary;
  return (
    (f.patientId == null || r.patientId === f.patientId) &&
    (f.authorId == null || r.authorId === f.authorId) &&
    (f.hospital == null || r.hospital === f.hospital) &&
    (f.category == null || s.category === f.category) &&
    (f.securityLevel == null || s.securityLevel === f.securityLevel) &&
    (f.code == null || s.codes.includes(f.code)) &&
    (f.gender == null || s.gender === f.gender) &&
    (f.ageBand == null || s.ageBand === f.ageBand) &&
    (f.year == null || s.year === f.year)
  );
}

export interface RecordPage {
  edges: { cursor: string; node: EmrRecord }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export async function searchRecords(ctx: RequestContext, filter: EmrFilter, first: number, after: string | undefined): Promise<RecordPage> {
  const caller = requireCaller(ctx);
  const max = ctx.services.maxPageSize;
  if (!Number.isInteger(first) || first < 1 || first > max) throw new ExchangeError('BAD_USER_INPUT', `first: must be between 1 and ${max}`);
  checkFilter(filter);
  const me = caller.participant;
  if (me.kind === 'org-admin') throw new ExchangeError('FORBIDDEN', 'an organisation admin administers participants and does not read EMRs');
  // A patient searches only the patient's own records.
  const effective: EmrFilter = me.kind === 'patient' ? { ...filter, patientId: me.id } : filter;
  if (me.kind === 'patient' && filter.patientId != null && filter.patientId !== me.id) {
    throw new ExchangeError('FORBIDDEN', 'filter.patientId: a patient may search only the patient’s own records');
  }
  const { index, values } = chooseIndex(effective);
  let cursor = after === undefined ? { b: '', o: 0 } : decodeCursor(after);
  const edges: RecordPage['edges'] = [];
  let scanned = 0;
  for (;;) {
    // The first ledger page only as long as this answer can need (what the cursor skipped, the edges still missing and
    // one more to know whether there is a next page); the pages after it full.
    const pageSize = scanned === 0 ? Math.min(LEDGER_PAGE, cursor.o + first - edges.length + 1) : LEDGER_PAGE;
    const page = await ctx.services.ledger.searchRecords(index, values, { pageSize, bookmark: cursor.b });
    for (let i = cursor.o; i < page.items.length; i++) {
      const record = page.items[i]!;
      ctx.loaders.record.prime(record.id, record);
      scanned++;
      if (!matches(record, effective) || !maySeeRecord(caller, record)) continue;
      if (edges.length === first) {
        // one more match exists: the page is full and there is a next page
        return { edges, pageInfo: { hasNextPage: true, endCursor: edges.at(-1)!.cursor } };
      }
      edges.push({ cursor: encodeCursor({ b: cursor.b, o: i + 1 }), node: record });
    }
    const exhausted = page.items.length < pageSize || page.bookmark === '';
    if (exhausted) return { edges, pageInfo: { hasNextPage: false, endCursor: edges.at(-1)?.cursor ?? null } };
    cursor = { b: page.bookmark, o: 0 };
    if (scanned >= MAX_SCANNED) {
      // Stop scanning; resume from the next ledger page.
      return { edges, pageInfo: { hasNextPage: true, endCursor: encodeCursor(cursor) } };
    }
  }
}
