/**
 * `emrs` cursors: opaque to clients (base64url of a small JSON object), checked field by field when they come back.
 *
 * Every cursor carries `k`, the sort key of the last entry the search consumed (search-filter.ts): the record index
 * resumes right after it by binary search, and the chaincode path skips entries up to it. A cursor the chaincode path
 * made carries its ledger position too, `b` (the bookmark of the ledger page) and `o` (entries of that page already
 * consumed, which sizes the page to ask for), so it resumes there without walking from the start. Cursors made before
 * `k` existed (`b` and `o` only) are still read, by the chaincode path.
 */
import { ID_PATTERN, SECURITY_LEVELS } from '../../chaincode/src/domain/index.js';
import { ExchangeError } from '../exchange/errors.js';
import type { SortKey } from './search-filter.js';

/** The chaincode path's ledger page size; a cursor's offset is within one page. */
export const LEDGER_PAGE = 100;
const MAX_BOOKMARK = 4096;
const MAX_ID = 128;

export interface Cursor {
  readonly k?: SortKey;
  readonly b?: string;
  readonly o?: number;
}

export const encodeCursor = (c: Cursor): string => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');

const notACursor = (): ExchangeError => new ExchangeError('BAD_USER_INPUT', 'after: not a cursor from this API');

function sortKey(v: unknown): SortKey {
  if (!Array.isArray(v) || (v.length !== 1 && v.length !== 2) || !v.every((x) => typeof x === 'string')) throw notACursor();
  const id = v.at(-1) as string;
  if (id.length > MAX_ID || !ID_PATTERN.test(id)) throw notACursor();
  if (v.length === 2 && !(SECURITY_LEVELS as readonly string[]).includes(v[0] as string)) throw notACursor();
  return v.length === 1 ? [id] : [v[0] as string, id];
}

/** The cursor in `after`, checked; BAD_USER_INPUT for anything this API did not make, or made for another kind of search. */
export function decodeCursor(text: string, byLevel: boolean): Cursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw notACursor();
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw notACursor();
  const o = c as Record<string, unknown>;
  if (Object.keys(o).some((key) => key !== 'k' && key !== 'b' && key !== 'o')) throw notACursor();
  const k = o.k === undefined ? undefined : sortKey(o.k);
  if (o.b === undefined && o.o !== undefined) throw notACursor();
  if (o.b !== undefined) {
    if (typeof o.b !== 'string' || o.b.length > MAX_BOOKMARK) throw notACursor();
    if (!Number.isInteger(o.o) || (o.o as number) < 0 || (o.o as number) > LEDGER_PAGE) throw notACursor();
  } else if (k === undefined) throw notACursor();
  if (k !== undefined && (k.length === 2) !== byLevel) {
    throw new ExchangeError('BAD_USER_INPUT', `after: this cursor is from a search ${byLevel ? 'with' : 'without'} a filter; page with the filter it came from`);
  }
  return { ...(k === undefined ? {} : { k }), ...(o.b === undefined ? {} : { b: o.b as string, o: o.o as number }) };
}
