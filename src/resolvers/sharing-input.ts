/**
 * Boundary checks of the sharing operations' arguments, with the GraphQL argument named in every message. The
 * contract parses the relayed payload again and stays the authority; these catch a client's mistakes before a
 * transaction, and keep a malformed id from failing a whole DataLoader batch.
 */
import { ID_PATTERN, MAX_KFRAG_CIPHERTEXT_BYTES, MAX_SHARES, PARTICIPANT_ID, isoTime } from '../../chaincode/src/domain/index.js';
import { fromBase64 } from '../bytes.js';
import type { GrantWindow } from '../exchange/action-payloads.js';
import { ExchangeError } from '../exchange/errors.js';

const bad = (message: string): ExchangeError => new ExchangeError('BAD_USER_INPUT', message);

export function checkId(v: string, field: string): string {
  if (typeof v !== 'string' || v.length > 128 || !ID_PATTERN.test(v)) throw bad(`${field}: must be an identifier of letters, digits and . _ : - (≤ 128)`);
  return v;
}

export function checkParticipantId(v: string, field: string): string {
  if (typeof v !== 'string' || !PARTICIPANT_ID.test(v)) throw bad(`${field}: must be a participant id (32 lower-case hex characters)`);
  return v;
}

/** `first` of a listing: 1 ≤ first ≤ the node's largest page. */
export function checkFirst(first: number, max: number): number {
  if (!Number.isSafeInteger(first) || first < 1 || first > max) throw bad(`first: must be between 1 and ${max}`);
  return first;
}

export function checkText(v: string, field: string, max: number): string {
  if (typeof v !== 'string' || v.trim().length === 0) throw bad(`${field}: must not be empty`);
  if (v.length > max) throw bad(`${field}: must be at most ${max} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw bad(`${field}: must not contain control characters`);
  return v;
}

function checkTime(v: string, field: string): number {
  try {
    return Date.parse(isoTime(v, field));
  } catch (e) {
    throw bad((e as Error).message);
  }
}

/**
 * A grant's window, threshold and sealed kfrags: an ISO window that ends after it starts, 1 ≤ threshold ≤ kfrags ≤
 * MAX_SHARES, one kfrag per registered proxy (`proxies`: the ids registered on the ledger), base64 ciphertexts.
 */
export function checkGrantWindow(w: GrantWindow, proxies: ReadonlySet<string>): void {
  const from = checkTime(w.validFrom, 'validFrom');
  const until = checkTime(w.validUntil, 'validUntil');
  if (until <= from) throw bad('validUntil: must be after validFrom');
  const n = w.kfrags.length;
  if (n < 1 || n > MAX_SHARES) throw bad(`kfrags: give 1 to ${MAX_SHARES} sealed kfrags, one per proxy (got ${n})`);
  if (!Number.isSafeInteger(w.threshold) || w.threshold < 1 || w.threshold > n) throw bad(`threshold: must be between 1 and the number of kfrags (${n})`);
  const seen = new Set<string>();
  w.kfrags.forEach((k, i) => {
    if (!proxies.has(k.proxyId)) throw bad(`kfrags[${i}].proxyId: ${String(k.proxyId).slice(0, 130)} is not a registered proxy (see the proxies query)`);
    if (seen.has(k.proxyId)) throw bad(`kfrags[${i}].proxyId: a second kfrag for proxy ${k.proxyId}`);
    seen.add(k.proxyId);
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(k.ciphertext, `kfrags[${i}].ciphertext`);
    } catch (e) {
      throw bad((e as Error).message);
    }
    if (bytes.length === 0 || bytes.length > MAX_KFRAG_CIPHERTEXT_BYTES) throw bad(`kfrags[${i}].ciphertext: must be 1 to ${MAX_KFRAG_CIPHERTEXT_BYTES} bytes`);
  });
}
