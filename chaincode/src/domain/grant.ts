/**
 * Grants: the patient's approval with a validity window and the re-encryption key fragments, each encrypted to one
 * proxy (or a reference to where it is kept). Emergency (break-glass) grants carry the justification and may carry
 * no kfrags (the treating physician's node re-shares the DEK).
 */
import { BREAK_GLASS_MAX_DURATION_MS, MAX_JUSTIFICATION_LENGTH, MIN_JUSTIFICATION_LENGTH } from './access.js';
import { ContractError, invalid } from './errors.js';
import { participantId } from './participant.js';
import type { AccessRequest } from './request.js';
import { array, base64, deepFreeze, id, integer, isoTime, millis, object, optional, string } from './validate.js';

export interface EncryptedKFrag {
  readonly proxyId: string;
  /** the kfrag encrypted to the proxy, base64 */
  readonly ciphertext?: string;
  /** where the encrypted kfrag is kept instead (e.g. a CID) */
  readonly ref?: string;
}

export interface Grant {
  readonly id: string;
  readonly emrId: string;
  readonly granteeId: string;
  readonly requestId?: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** cfrags needed (Umbral threshold m) */
  readonly threshold: number;
  /** kfrags issued (Umbral n), one per proxy */
  readonly shares: number;
  readonly kfrags: readonly EncryptedKFrag[];
  readonly revokedAt?: string;
  readonly emergency?: { readonly justification: string };
}

export const MAX_SHARES = 32;
export const MAX_KFRAG_CIPHERTEXT_BYTES = 4096;
/** Longest ordinary grant window. */
export const GRANT_MAX_DURATION_MS = 366 * 24 * 60 * 60 * 1000;

const KFRAG_FIELDS = ['proxyId', 'ciphertext', 'ref'];

function parseKFrag(input: unknown, field: string): EncryptedKFrag {
  const o = object(input, field, KFRAG_FIELDS);
  const proxyId = id(o.proxyId, `${field}.proxyId`);
  if ((o.ciphertext === undefined) === (o.ref === undefined)) throw invalid(field, 'needs exactly one of ciphertext and ref');
  return o.ciphertext !== undefined
    ? { proxyId, ciphertext: base64(o.ciphertext, `${field}.ciphertext`, { maxBytes: MAX_KFRAG_CIPHERTEXT_BYTES }) }
    : { proxyId, ref: string(o.ref, `${field}.ref`, { max: 512 }) };
}

const FIELDS = ['id', 'emrId', 'granteeId', 'requestId', 'notBefore', 'notAfter', 'threshold', 'shares', 'kfrags', 'revokedAt', 'emergency'];

export function parseGrant(input: unknown, field = 'grant'): Grant {
  const o = object(input, field, FIELDS);
  const notBefore = isoTime(o.notBefore, `${field}.notBefore`);
  const notAfter = isoTime(o.notAfter, `${field}.notAfter`);
  const span = millis(notAfter) - millis(notBefore);
  if (span <= 0) throw invalid(`${field}.notAfter`, 'must be after notBefore');
  const emergency = optional(o.emergency, (v) => {
    const e = object(v, `${field}.emergency`, ['justification']);
    return { justification: string(e.justification, `${field}.emergency.justification`, { min: MIN_JUSTIFICATION_LENGTH, max: MAX_JUSTIFICATION_LENGTH }) };
  });
  const maxSpan = emergency ? BREAK_GLASS_MAX_DURATION_MS : GRANT_MAX_DURATION_MS;
  if (span > maxSpan) throw invalid(`${field}.notAfter`, `the window may last at most ${maxSpan / 60000} minutes`);
  // An emergency grant may have no kfrags at all (threshold = shares = 0); otherwise 1 ≤ threshold ≤ shares.
  const shares = integer(o.shares, `${field}.shares`, emergency ? 0 : 1, MAX_SHARES);
  const threshold = integer(o.threshold, `${field}.threshold`, shares === 0 ? 0 : 1, shares);
  const kfrags = array(o.kfrags, `${field}.kfrags`, parseKFrag, { min: shares, max: shares });
  kfrags.forEach((k, i) => {
    if (kfrags.findIndex((x) => x.proxyId === k.proxyId) !== i) throw invalid(`${field}.kfrags[${i}].proxyId`, 'duplicate proxy');
  });
  const requestId = optional(o.requestId, (v) => id(v, `${field}.requestId`));
  const revokedAt = optional(o.revokedAt, (v) => isoTime(v, `${field}.revokedAt`));
  return deepFreeze({
    id: id(o.id, `${field}.id`),
    emrId: id(o.emrId, `${field}.emrId`),
    granteeId: participantId(o.granteeId, `${field}.granteeId`),
    ...(requestId === undefined ? {} : { requestId }),
    notBefore,
    notAfter,
    threshold,
    shares,
    kfrags,
    ...(revokedAt === undefined ? {} : { revokedAt }),
    ...(emergency === undefined ? {} : { emergency }),
  });
}

/** Live at `now`: notBefore ≤ now < notAfter, and not revoked at or before now. */
export function isGrantLive(grant: Grant, now: string): boolean {
  const t = millis(now, 'now');
  if (t < millis(grant.notBefore) || t >= millis(grant.notAfter)) return false;
  return grant.revokedAt === undefined || t < millis(grant.revokedAt);
}

/** The grant revoked at `now` (the revoking transaction's time); CONFLICT if already revoked. */
export function revokeGrant(grant: Grant, now: string): Grant {
  if (grant.revokedAt !== undefined) throw new ContractError('CONFLICT', `grant ${grant.id} was already revoked at ${grant.revokedAt}`);
  return parseGrant({ ...grant, revokedAt: isoTime(now, 'now') });
}

/** An ordinary grant answers an approved request: same record, the requester as grantee. */
export function assertGrantAnswersRequest(grant: Grant, request: AccessRequest): void {
  if (request.status !== 'approved') throw new ContractError('CONFLICT', `request ${request.id} is ${request.status}, not approved`);
  if (grant.requestId !== request.id) throw invalid('grant.requestId', `must be ${request.id}`);
  if (grant.emrId !== request.emrId) throw invalid('grant.emrId', `must be the request's record ${request.emrId}`);
  if (grant.granteeId !== request.requesterId) throw invalid('grant.granteeId', `must be the requester ${request.requesterId}`);
  if (grant.emergency !== undefined) throw invalid('grant.emergency', 'an approved request gives an ordinary grant');
}

export type GrantEndReason = 'REVOKED' | 'NOT_YET_VALID' | 'EXPIRED' | 'SUPERSEDED' | 'GRANTEE_SUSPENDED';
export type GrantLiveness = { readonly live: true } | { readonly live: false; readonly reason: GrantEndReason; readonly message: string };

/**
 * Whether a grant may be used at `now`, given the head of its record's chain and the grantee's status: the window
 * and revocation (isGrantLive), and also a data version update ends every grant on older versions (the new
 * ciphertext has a new DEK the old kfrags do not reach), and a suspended grantee may use no grant.
 */
export function grantLiveness(grant: Grant, now: string, facts: { readonly headId: string; readonly granteeStatus: string }): GrantLiveness {
  const t = millis(now, 'now');
  if (grant.revokedAt !== undefined && t >= millis(grant.revokedAt)) {
    return { live: false, reason: 'REVOKED', message: `grant ${grant.id} was revoked at ${grant.revokedAt}` };
  }
  if (t < millis(grant.notBefore)) return { live: false, reason: 'NOT_YET_VALID', message: `grant ${grant.id} is valid from ${grant.notBefore}` };
  if (t >= millis(grant.notAfter)) return { live: false, reason: 'EXPIRED', message: `grant ${grant.id} expired at ${grant.notAfter}` };
  if (facts.headId !== grant.emrId) {
    return { live: false, reason: 'SUPERSEDED', message: `grant ${grant.id} ended: record ${grant.emrId} is superseded by ${facts.headId}` };
  }
  if (facts.granteeStatus !== 'active') return { live: false, reason: 'GRANTEE_SUSPENDED', message: `grantee ${grant.granteeId} is suspended` };
  return { live: true };
}
