/**
 * ECDSA secp256k1 / SHA-256 verification with node:crypto (chaincode runs on Node 18 CommonJS, so no @noble).
 * Accepts what PIE's Umbral `Signer` produces: `new Signer(sk).sign(bytes).toBEBytes()` = r ‖ s over SHA-256(bytes),
 * low-S. High-S signatures are refused so that each (key, message) has one valid encoding.
 */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { canonicalRecordBytes } from './canonical.js';
import type { RecordSigningContent } from './canonical.js';
import { ContractError } from './errors.js';

/** SubjectPublicKeyInfo DER prefix: id-ecPublicKey, secp256k1, BIT STRING of 33 bytes. */
const SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');
const HALF_N = BigInt('0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0');
const KEY_HEX = /^0[23][0-9a-f]{64}$/;
const SIG_HEX = /^[0-9a-f]{128}$/;

const cache = new Map<string, KeyObject>();

/** A node:crypto public key from 33-byte compressed hex; throws INVALID_ARGUMENT for anything else or a point off the curve. */
export function secp256k1PublicKey(keyHex: string): KeyObject {
  const hit = cache.get(keyHex);
  if (hit) return hit;
  if (typeof keyHex !== 'string' || !KEY_HEX.test(keyHex)) {
    throw new ContractError('INVALID_ARGUMENT', 'signingKey: must be a 33-byte compressed secp256k1 key in hex');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(keyHex, 'hex')]), format: 'der', type: 'spki' });
  } catch {
    throw new ContractError('INVALID_ARGUMENT', 'signingKey: is not a point on secp256k1');
  }
  if (cache.size >= 1024) cache.clear();
  cache.set(keyHex, key);
  return key;
}

/**
 * true iff `signatureHex` (64 bytes r ‖ s, low-S) is a valid ECDSA signature of SHA-256(message) under the key.
 * OpenSSL's secp256k1 is generic-curve code (≈ 0.4 ms a verification), so it runs on libuv's thread pool through
 * node:crypto's callback form instead of blocking the event loop; the result is the same.
 */
export async function verifySignature(message: Uint8Array, signatureHex: string, keyHex: string): Promise<boolean> {
  const key = secp256k1PublicKey(keyHex);
  if (typeof signatureHex !== 'string' || !SIG_HEX.test(signatureHex)) return false;
  if (BigInt(`0x${signatureHex.slice(64)}`) > HALF_N) return false;
  return new Promise<boolean>((resolve, reject) =>
    verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signatureHex, 'hex'), (e, ok) => (e ? reject(e) : resolve(ok))),
  );
}

export const verifyAuthorSignature = (record: RecordSigningContent & { authorSignature: string }, signingKeyHex: string): Promise<boolean> =>
  verifySignature(canonicalRecordBytes(record), record.authorSignature, signingKeyHex);

export async function assertAuthorSignature(record: RecordSigningContent & { authorSignature: string }, signingKeyHex: string): Promise<void> {
  if (!(await verifyAuthorSignature(record, signingKeyHex))) {
    throw new ContractError('BAD_SIGNATURE', `record.authorSignature: does not verify under the author's registered signing key`);
  }
}
