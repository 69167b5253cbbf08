/**
 * Canonical JSON (the RFC 8785 subset PIE needs): object keys sorted by UTF-16 code units, no whitespace, strings
 * escaped as JSON.stringify does, numbers only safe integers, `undefined` properties omitted. Equal values give
 * equal bytes whatever the key order they were built with.
 */
import { ContractError } from './errors.js';
import type { EmrRecord } from './record.js';
import { isPlainObject } from './validate.js';

export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isSafeInteger(value)) throw new ContractError('INVALID_ARGUMENT', `${path}: canonical JSON allows only safe integers`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(',')}]`;
      if (!isPlainObject(value)) throw new ContractError('INVALID_ARGUMENT', `${path}: not a plain object`);
      const entries = Object.keys(value)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], `${path}.${k}`)}`);
      return `{${entries.join(',')}}`;
    }
    default:
      throw new ContractError('INVALID_ARGUMENT', `${path}: ${typeof value} is not JSON`);
  }
}

/** The record content the author signs: everything but the signature and the transaction timestamp. */
export type RecordSigningContent = Omit<EmrRecord, 'authorSignature' | 'timestamp'> & {
  readonly authorSignature?: string;
  readonly timestamp?: string;
};

/** Domain separation: a record signature can never be replayed as a signature over anything else. */
export const RECORD_SIGNING_DOMAIN = 'PIE/emr-record/v1\n';

/**
 * The bytes an author signs: UTF-8 of RECORD_SIGNING_DOMAIN ‖ canonical JSON of the record without
 * `authorSignature` and `timestamp` (the timestamp is the transaction's, unknown until the contract runs).
 */
export function canonicalRecordBytes(record: RecordSigningContent): Buffer {
  const { authorSignature: _s, timestamp: _t, ...content } = record;
  return Buffer.from(RECORD_SIGNING_DOMAIN + canonicalJson(content, 'record'), 'utf8');
}
