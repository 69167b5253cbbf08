/** Deterministic time and identifiers from the transaction (never the wall clock, never Math.random). */
import { createHash } from 'node:crypto';
import { invalid } from './errors.js';

/**
 * ISO-8601 (millisecond precision) of a transaction timestamp: ChaincodeStub.getTxTimestamp() gives
 * { seconds: Long | number | string, nanos: number }. Every endorser computes the same string.
 */
export function isoFromTxTimestamp(ts: { seconds: { toString(): string } | number | string | bigint; nanos: number }): string {
  const seconds = BigInt(ts.seconds.toString());
  if (!Number.isInteger(ts.nanos) || ts.nanos < 0 || ts.nanos > 999_999_999) throw invalid('txTimestamp.nanos', 'out of range');
  const ms = seconds * 1000n + BigInt(Math.floor(ts.nanos / 1e6));
  if (ms < 0n || ms > 253402300799999n) throw invalid('txTimestamp.seconds', 'out of range');
  return new Date(Number(ms)).toISOString();
}

/** A deterministic 32-hex id: SHA-256 over the NUL-separated parts (e.g. namespace, txId, index), truncated to 128 bits. */
export function deriveId(...parts: string[]): string {
  const h = createHash('sha256');
  parts.forEach((p, i) => {
    if (i > 0) h.update('\u0000');
    h.update(p, 'utf8');
  });
  return h.digest('hex').slice(0, 32);
}
