/** Parsing of the contract's string arguments (objects arrive as JSON text, numbers as decimal text). */
import { DEFAULT_PAGE_SIZE, ID_PATTERN, MAX_PAGE_SIZE, invalid } from '../domain/index.js';

/** JSON text → value; INVALID_ARGUMENT naming the argument when it is not JSON. */
export function jsonArgument(text: string, field: string): unknown {
  if (typeof text !== 'string' || text.length === 0) throw invalid(field, 'is required (JSON text)');
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(field, 'is not valid JSON');
  }
}

/** A page size: empty → DEFAULT_PAGE_SIZE, else a decimal integer 1..MAX_PAGE_SIZE. */
export function pageSizeArgument(text: string, field = 'pageSize'): number {
  if (text === '' || text === undefined) return DEFAULT_PAGE_SIZE;
  const n = /^[0-9]{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) throw invalid(field, `must be an integer between 1 and ${MAX_PAGE_SIZE}`);
  return n;
}

/** A bookmark returned by a previous page ('' for the first page). */
export function bookmarkArgument(text: string, field = 'bookmark'): string {
  if (typeof text !== 'string' || text.length > 4096) throw invalid(field, 'must be a bookmark from a previous page, or empty');
  return text;
}

/** A required plain string argument (an id or a name), without control characters. */
export function textArgument(text: string, field: string, max = 256): string {
  // eslint-disable-next-line no-control-regex
  if (typeof text !== 'string' || text.length === 0 || text.length > max || /[\u0000-\u001f\u007f\u{10ffff}]/u.test(text)) {
    throw invalid(field, `must be a non-empty string of at most ${max} characters without control characters`);
  }
  return text;
}

/** An object id (record, request, grant, operation, participant): letters, digits and . _ : - */
export function idArgument(text: string, field: string): string {
  const s = textArgument(text, field, 128);
  if (!ID_PATTERN.test(s)) throw invalid(field, 'must be an identifier of letters, digits and . _ : -');
  return s;
}

/** The most ids one batch read takes. */
export const MAX_BATCH_IDS = 100;

/** A JSON array of 1..MAX_BATCH_IDS ids, each checked by `parse` (duplicates allowed: the caller gets one answer per position). */
export function idListArgument(text: string, field: string, parse: (v: unknown, field: string) => string): string[] {
  const list = jsonArgument(text, field);
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH_IDS) throw invalid(field, `must be a JSON array of 1 to ${MAX_BATCH_IDS} ids`);
  return list.map((v, i) => parse(v, `${field}[${i}]`));
}
