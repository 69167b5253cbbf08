/**
 * Payloads of the signed actions, one parser per action type. Field paths start at `action.payload`, so a client
 * sees exactly which argument is wrong. Grant terms are only picked out here; parseGrant validates them when the
 * contract builds the grant (with the same field path).
 */
import { invalid } from './errors.js';
import type { Grant } from './grant.js';
import { OPERATION_KINDS } from './operation.js';
import { participantId } from './participant.js';
import { parseAccessPolicy } from './policy.js';
import type { AccessPolicy } from './policy.js';
import { id, integer, millis, object, optional, string } from './validate.js';
import type { Obj } from './validate.js';

export const PAYLOAD = 'action.payload';

/** The grant's window, threshold, shares and encrypted kfrags, as the patient's client chose them. */
const GRANT_TERMS = ['notBefore', 'notAfter', 'threshold', 'shares', 'kfrags'] as const;
export type GrantTerms = Obj;

const pick = (o: Obj, keys: readonly string[]): Obj => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

export interface PatientPolicyPayload {
  readonly policy: AccessPolicy;
}
export function parsePatientPolicyPayload(input: unknown, field = PAYLOAD): PatientPolicyPayload {
  const o = object(input, field, ['policy']);
  return { policy: parseAccessPolicy(o.policy, `${field}.policy`) };
}

export interface RecordPolicyPayload {
  readonly emrId: string;
  readonly policy: AccessPolicy;
}
export function parseRecordPolicyPayload(input: unknown, field = PAYLOAD): RecordPolicyPayload {
  const o = object(input, field, ['emrId', 'policy']);
  return { emrId: id(o.emrId, `${field}.emrId`), policy: parseAccessPolicy(o.policy, `${field}.policy`) };
}

export interface RequestAccessPayload {
  readonly emrId: string;
  readonly purpose: string;
}
export function parseRequestAccessPayload(input: unknown, field = PAYLOAD): RequestAccessPayload {
  const o = object(input, field, ['emrId', 'purpose']);
  return { emrId: id(o.emrId, `${field}.emrId`), purpose: string(o.purpose, `${field}.purpose`, { max: 512 }) };
}

export interface ApproveRequestPayload {
  readonly requestId: string;
  readonly terms: GrantTerms;
}
export function parseApproveRequestPayload(input: unknown, field = PAYLOAD): ApproveRequestPayload {
  const o = object(input, field, ['requestId', ...GRANT_TERMS]);
  return { requestId: id(o.requestId, `${field}.requestId`), terms: pick(o, GRANT_TERMS) };
}

export interface DenyRequestPayload {
  readonly requestId: string;
  readonly reason?: string;
}
export function parseDenyRequestPayload(input: unknown, field = PAYLOAD): DenyRequestPayload {
  const o = object(input, field, ['requestId', 'reason']);
  const reason = optional(o.reason, (v) => string(v, `${field}.reason`, { max: 512 }));
  return { requestId: id(o.requestId, `${field}.requestId`), ...(reason === undefined ? {} : { reason }) };
}

export interface GrantAccessPayload {
  readonly emrId: string;
  readonly granteeId: string;
  readonly terms: GrantTerms;
}
export function parseGrantAccessPayload(input: unknown, field = PAYLOAD): GrantAccessPayload {
  const o = object(input, field, ['emrId', 'granteeId', ...GRANT_TERMS]);
  return { emrId: id(o.emrId, `${field}.emrId`), granteeId: participantId(o.granteeId, `${field}.granteeId`), terms: pick(o, GRANT_TERMS) };
}

export interface RevokeGrantPayload {
  readonly grantId: string;
}
export function parseRevokeGrantPayload(input: unknown, field = PAYLOAD): RevokeGrantPayload {
  const o = object(input, field, ['grantId']);
  return { grantId: id(o.grantId, `${field}.grantId`) };
}

export interface BreakGlassPayload {
  readonly emrId: string;
  /** judged by evaluateBreakGlass (a missing or short one is refused as JUSTIFICATION_REQUIRED) */
  readonly justification: unknown;
  readonly durationMs?: number;
}
export function parseBreakGlassPayload(input: unknown, field = PAYLOAD): BreakGlassPayload {
  const o = object(input, field, ['emrId', 'justification', 'durationMs']);
  const durationMs = optional(o.durationMs, (v) => integer(v, `${field}.durationMs`, 1, Number.MAX_SAFE_INTEGER));
  return { emrId: id(o.emrId, `${field}.emrId`), justification: o.justification, ...(durationMs === undefined ? {} : { durationMs }) };
}

/** The operation fields a client may set (id, actor and timestamp come from the transaction). */
export function parseOperationPayload(input: unknown, field = PAYLOAD): Obj {
  const o = object(input, field, ['kind', 'emrId', 'grantId', 'beforeCid', 'afterCid']);
  // kind first, so that a wrong kind is named before any field that depends on it
  if (!OPERATION_KINDS.includes(o.kind as never)) throw invalid(`${field}.kind`, `must be one of ${OPERATION_KINDS.join(', ')}`);
  return o;
}

/** How far before the approving transaction a grant may start (clients' clocks drift a little). */
export const GRANT_MAX_BACKDATE_MS = 5 * 60 * 1000;

/** A new grant starts no earlier than now − 5 min and ends after now. */
export function assertNewGrantWindow(grant: Grant, now: string, field = PAYLOAD): void {
  const t = millis(now, 'now');
  if (millis(grant.notBefore) < t - GRANT_MAX_BACKDATE_MS) {
    throw invalid(`${field}.notBefore`, `must not be more than ${GRANT_MAX_BACKDATE_MS / 60000} minutes before the transaction time ${now}`);
  }
  if (millis(grant.notAfter) <= t) throw invalid(`${field}.notAfter`, `must be after the transaction time ${now}`);
}
