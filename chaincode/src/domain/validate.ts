/**
 * Field validators for the domain parsers. Every failure is a ContractError('INVALID_ARGUMENT') whose message
 * starts with the dotted path of the field (e.g. `record.metadata.capsule: …`). Strings reject control characters
 * (which also keeps Fabric's composite-key delimiters U+0000 and U+10FFFF out of every indexed attribute).
 */
import { invalid } from './errors.js';

export type Obj = Record<string, unknown>;

/** A plain JSON object with only the listed keys (unknown keys are refused: what is stored is exactly what is signed). */
export function object(v: unknown, field: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(field, 'must be an object');
  if (!isPlainObject(v)) throw invalid(field, 'must be a plain object');
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw invalid(`${field}.${k}`, 'unknown field');
  }
  return v as Obj;
}

/** A plain object from any realm (JSON.parse, structuredClone or a literal; not a class instance, Date, Map…). */
export function isPlainObject(v: unknown): v is Obj {
  if (typeof v !== 'object' || v === null || Object.prototype.toString.call(v) !== '[object Object]') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f\u{10ffff}]/u;

export interface StringRule {
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** what the pattern means, for the message */
  shape?: string;
}

export function string(v: unknown, field: string, rule: StringRule = {}): string {
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  const { min = 1, max = 256 } = rule;
  if (v.length < min) throw invalid(field, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
  if (v.length > max) throw invalid(field, `must be at most ${max} characters`);
  if (CONTROL.test(v)) throw invalid(field, 'must not contain control characters');
  if (rule.pattern && !rule.pattern.test(v)) throw invalid(field, `must be ${rule.shape ?? `of the form ${rule.pattern.source}`}`);
  return v;
}

export function optional<T>(v: unknown, parse: (v: unknown) => T): T | undefined {
  return v === undefined ? undefined : parse(v);
}

export function integer(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(field, 'must be an integer');
  if (v < min || v > max) throw invalid(field, `must be between ${min} and ${max}`);
  return v;
}

export function boolean(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw invalid(field, 'must be true or false');
  return v;
}

export function oneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw invalid(field, `must be one of ${values.join(', ')}`);
  }
  return v as T;
}

export function array<T>(
  v: unknown,
  field: string,
  item: (v: unknown, field: string) => T,
  opts: { min?: number; max: number; unique?: boolean },
): T[] {
  if (!Array.isArray(v)) throw invalid(field, 'must be an array');
  const { min = 0, max } = opts;
  if (v.length < min) throw invalid(field, `must have at least ${min} item${min === 1 ? '' : 's'}`);
  if (v.length > max) throw invalid(field, `must have at most ${max} items`);
  const out = v.map((x, i) => item(x, `${field}[${i}]`));
  if (opts.unique) {
    const seen = new Set<string>();
    out.forEach((x, i) => {
      const key = typeof x === 'string' ? x : JSON.stringify(x);
      if (seen.has(key)) throw invalid(`${field}[${i}]`, 'duplicate');
      seen.add(key);
    });
  }
  return out;
}

/** Lower-case hex of exactly `bytes` bytes. */
export function hex(v: unknown, field: string, bytes: number): string {
  return string(v, field, { min: 2 * bytes, max: 2 * bytes, pattern: /^[0-9a-f]*$/, shape: `${bytes} bytes of lower-case hex` });
}

/** Canonical standard base64 (with padding); returns the string, checks the decoded length when given. */
export function base64(v: unknown, field: string, opts: { bytes?: number; maxBytes?: number } = {}): string {
  const s = string(v, field, { max: 4 * Math.ceil((opts.bytes ?? opts.maxBytes ?? 65536) / 3) });
  const decoded = Buffer.from(s, 'base64');
  if (decoded.toString('base64') !== s) throw invalid(field, 'must be canonical base64');
  if (opts.bytes !== undefined && decoded.length !== opts.bytes) {
    throw invalid(field, `must decode to ${opts.bytes} bytes, got ${decoded.length}`);
  }
  return s;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/** An ISO-8601 UTC instant (`2024-05-01T12:00:00.000Z`), a real calendar date. */
export function isoTime(v: unknown, field: string): string {
  const s = string(v, field, { max: 40 });
  const m = ISO.exec(s);
  const ms = Date.parse(s);
  if (!m || Number.isNaN(ms)) throw invalid(field, 'must be an ISO-8601 UTC timestamp like 2024-05-01T12:00:00.000Z');
  const d = new Date(ms);
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() + 1 !== Number(m[2]) || d.getUTCDate() !== Number(m[3])) {
    throw invalid(field, 'is not a real calendar date');
  }
  return s;
}

/** Milliseconds since the epoch of an ISO instant already validated (or supplied by the contract). */
export function millis(iso: string, field = 'time'): number {
  const ms = Date.parse(isoTime(iso, field));
  return ms;
}

/** Identifiers of ledger objects: safe as composite-key attributes and state keys. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
export function id(v: unknown, field: string): string {
  return string(v, field, { max: 128, pattern: ID_PATTERN, shape: 'an identifier of letters, digits and . _ : - (≤ 128)' });
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
