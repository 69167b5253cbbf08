/**
 * What both ways of answering `emrs` share (the chaincode's SearchRecords, search-ledger.ts, and the node's record
 * index, search-index.ts): the checked filter, the index each filter field searches, the match test, and the order
 * of the answer.
 *
 * The order is the chaincode's composite-key order, so both ways list the same records in the same order and a cursor
 * from one is understood by the other: a search with any filter walks an index under fully given values, which lists
 * records by id; a search without one walks the level index, which lists them by (level, id). A record's sort key is
 * accordingly [id] or [level, id].
 */
import { ID_PATTERN, PARTICIPANT_ID, splitCode, yearAttribute } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, RecordIndexName } from '../../chaincode/src/domain/index.js';
import { ExchangeError } from '../exchange/errors.js';
import type { EmrFilter } from '../schema/inputs.js';
import type { Caller } from './context.js';

const AGE_BAND = /^([0-9]|[1-8][05])-([0-9]|[1-8][49])$|^90\+$/;

/** A search as both ways answer it: the effective filter (a patient's own id added) for a caller that may search. */
export interface SearchQuery {
  readonly caller: Caller;
  readonly filter: EmrFilter;
  readonly first: number;
  /** no filter field given: the answer is in (level, id) order */
  readonly byLevel: boolean;
}

export type SortKey = readonly [id: string] | readonly [level: string, id: string];

export function checkFilter(f: EmrFilter): void {
  const bad = (field: string, why: string): never => {
    throw new ExchangeError('BAD_USER_INPUT', `filter.${field}: ${why}`);
  };
  if (f.patientId != null && !PARTICIPANT_ID.test(f.patientId)) bad('patientId', 'must be a participant id (32 hex characters)');
  if (f.authorId != null && !PARTICIPANT_ID.test(f.authorId)) bad('authorId', 'must be a participant id (32 hex characters)');
  if (f.hospital != null && !ID_PATTERN.test(f.hospital)) bad('hospital', 'must be an MSP id');
  if (f.code != null && !/^[^|\s]+\|[^|]+$/.test(f.code)) bad('code', 'must be system|code');
  if (f.ageBand != null && !AGE_BAND.test(f.ageBand)) bad('ageBand', 'must be a 5-year band like 40-44, or 90+');
  if (f.year != null && (!Number.isInteger(f.year) || f.year < 1900 || f.year > 9999)) bad('year', 'must be a year between 1900 and 9999');
}

/**
 * The index searches a filter asks for, as (index, leading values) pairs, most selective field first (the order the
 * chaincode path picks from); empty when no field is given.
 */
export function filterIndexes(f: EmrFilter): { index: RecordIndexName; values: string[] }[] {
  const out: { index: RecordIndexName; values: string[] }[] = [];
  if (f.patientId != null) out.push({ index: 'patient', values: [f.patientId] });
  if (f.authorId != null) out.push({ index: 'author', values: [f.authorId] });
  if (f.code != null) out.push({ index: 'code', values: splitCode(f.code) });
  if (f.year != null) out.push({ index: 'year', values: [yearAttribute(f.year)] });
  if (f.category != null) out.push({ index: 'category', values: [f.category] });
  if (f.ageBand != null) out.push({ index: 'ageBand', values: [f.ageBand] });
  if (f.gender != null) out.push({ index: 'gender', values: [f.gender] });
  if (f.securityLevel != null) out.push({ index: 'securityLevel', values: [f.securityLevel] });
  if (f.hospital != null) out.push({ index: 'hospital', values: [f.hospital] });
  return out;
}

export function matches(r: EmrRecord, f: EmrFilter): boolean {
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

export const sortKeyOf = (r: EmrRecord, byLevel: boolean): SortKey => (byLevel ? [r.summary.securityLevel, r.id] : [r.id]);

/** Compares sort keys of the same kind element by element (ids and levels are ASCII: code-unit order is byte order). */
export function compareSortKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

export interface RecordPage {
  edges: { cursor: string; node: EmrRecord }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
