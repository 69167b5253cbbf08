/**
 * The patient's side of a re-encryption grant (docs/sharing.md, Approve; Algorithm 2 step 3 and Algorithm 1's
 * treating grant): Umbral kfrags from the patient's encryption key to the grantee's, signed with the patient's signing
 * key (delegating and receiving keys included, so a proxy can check both), each sealed to one ledger-registered proxy,
 * and the grant's validity window. Browser-safe.
 */
import { fromHex } from '../bytes.js';
import { sealKFrag } from '../crypto/kfrag-seal.js';
import { PublicKey, Signer, generateKFrags } from '../crypto/umbral/index.js';
import type { SecretKey } from '../crypto/umbral/index.js';
import type { GrantWindow, SealedKFragInput } from '../exchange/action-payloads.js';
import { PieInputError, PieIntegrityError } from './errors.js';
import type { ProxyInfo } from './types.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
/** Default validity of an approved request's grant. */
export const DEFAULT_GRANT_MS = 30 * DAY_MS;
/** The contract's longest ordinary grant window (GRANT_MAX_DURATION_MS, chaincode/src/domain/grant.ts). */
export const MAX_GRANT_MS = 366 * DAY_MS;
/** Umbral's and the contract's largest number of kfrags in one grant. */
export const MAX_SHARES = 32;

export interface GrantOptions {
  /** how long the grant lasts from now, in ms (default 30 days); or give validUntil */
  validFor?: number;
  /** when the grant ends; exclusive with validFor */
  validUntil?: Date;
  /** cfrags needed: t of n; default n (all proxies) */
  threshold?: number;
}

/** The window [now, now + validFor) or [now, validUntil), checked against the contract's limits. */
export function grantWindowOf(opts: GrantOptions, now: Date = new Date(), defaultMs = DEFAULT_GRANT_MS): { validFrom: string; validUntil: string } {
  if (opts.validFor !== undefined && opts.validUntil !== undefined) throw new PieInputError('give validFor or validUntil, not both');
  let until: number;
  if (opts.validUntil !== undefined) {
    until = opts.validUntil instanceof Date ? opts.validUntil.getTime() : NaN;
    if (!Number.isFinite(until)) throw new PieInputError('validUntil: must be a valid Date');
  } else {
    const ms = opts.validFor ?? defaultMs;
    if (!Number.isSafeInteger(ms) || ms <= 0) throw new PieInputError('validFor: must be a positive whole number of milliseconds');
    until = now.getTime() + ms;
  }
  if (until <= now.getTime()) throw new PieInputError('validUntil: must be in the future');
  if (until - now.getTime() > MAX_GRANT_MS) throw new PieInputError(`the grant may last at most ${MAX_GRANT_MS / DAY_MS} days`);
  return { validFrom: now.toISOString(), validUntil: new Date(until).toISOString() };
}

/**
 * n = every proxy (at most 32, first come) kfrags with threshold t, from `patient.encryption` to `receivingKeyHex`,
 * each sealed to its proxy's ledger-registered encryption key.
 */
export function sealedKFrags(
  patient: { signing: SecretKey; encryption: SecretKey },
  receivingKeyHex: string,
  proxies: readonly ProxyInfo[],
  threshold?: number,
): Pick<GrantWindow, 'threshold' | 'kfrags'> {
  const unique = proxies.filter((p, i) => proxies.findIndex((q) => q.id === p.id) === i).slice(0, MAX_SHARES);
  if (unique.length === 0) throw new Error('no re-encryption proxy is registered on the ledger: a grant needs at least one');
  const n = unique.length;
  const t = threshold ?? n;
  if (!Number.isInteger(t) || t < 1 || t > n) throw new PieInputError(`threshold: must be a whole number from 1 to ${n} (the registered proxies)`);
  const receiving = publicKeyOf(receivingKeyHex, 'the grantee’s encryption key');
  const proxyKeys = unique.map((p) => publicKeyOf(p.encryptionKey, `proxy ${p.id}’s encryption key`));
  const kfrags = generateKFrags(patient.encryption, receiving, new Signer(patient.signing), t, n, true, true);
  const sealed: SealedKFragInput[] = kfrags.map((k, i) => ({ proxyId: unique[i]!.id, ciphertext: sealKFrag(k, proxyKeys[i]!) }));
  return { threshold: t, kfrags: sealed };
}

/** A key the node sent; a malformed one is an integrity failure. */
export function publicKeyOf(hex: string, what: string): PublicKey {
  try {
    return PublicKey.fromCompressedBytes(fromHex(hex, what));
  } catch {
    throw new PieIntegrityError(`${what} is not a compressed secp256k1 public key`);
  }
}
