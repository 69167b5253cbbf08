/**
 * Who may read a record: ordinary access (Algorithm 2's check before a request is recorded, and again before a
 * grant is issued) and break-glass emergency access (Fig 5B).
 */
import { DEFAULT_READER_KINDS, atLeast } from './levels.js';
import { EMERGENCY_ROLE, effectiveClearance } from './participant.js';
import type { Participant } from './participant.js';
import type { EmrRecord } from './record.js';
import { millis } from './validate.js';

export type AccessDenialReason =
  | 'REQUESTER_SUSPENDED'
  | 'DENIED_BY_POLICY'
  | 'POLICY_EXPIRED'
  | 'KIND_NOT_PERMITTED'
  | 'KIND_NOT_ALLOWED_BY_POLICY'
  | 'NOT_IN_ALLOW_LIST'
  | 'CLEARANCE_BELOW_LEVEL'
  | 'CLEARANCE_BELOW_POLICY_MINIMUM'
  | 'NOT_EMERGENCY_PHYSICIAN'
  | 'EMERGENCY_NOT_ALLOWED'
  | 'JUSTIFICATION_REQUIRED';

export interface AccessRefusal {
  readonly allowed: false;
  readonly reason: AccessDenialReason;
  readonly message: string;
}

export type AccessDecision = { readonly allowed: true; readonly basis: 'owner' | 'policy' } | AccessRefusal;

const deny = (reason: AccessDenialReason, message: string): AccessRefusal => ({ allowed: false, reason, message });

/**
 * Ordinary access at `now` (the transaction's ISO timestamp). The patient may always read the patient's own records
 * (while active). Everyone else needs: active, not denied, policy not expired, a kind the defaults and the policy
 * admit, a place on the allow list when there is one, and an effective clearance reaching both the record's level
 * and the policy's minimum.
 */
export function evaluateAccess(requester: Participant, record: EmrRecord, now: string): AccessDecision {
  const { policy } = record;
  if (requester.status !== 'active') return deny('REQUESTER_SUSPENDED', `participant ${requester.id} is suspended`);
  if (requester.id === record.patientId) return { allowed: true, basis: 'owner' };
  if (policy.deny.includes(requester.id)) return deny('DENIED_BY_POLICY', `the patient's policy denies ${requester.id}`);
  if (policy.expiresAt !== undefined && millis(now, 'now') >= millis(policy.expiresAt)) {
    return deny('POLICY_EXPIRED', `the patient's policy expired at ${policy.expiresAt}`);
  }
  if (!DEFAULT_READER_KINDS.includes(requester.kind)) return deny('KIND_NOT_PERMITTED', `a ${requester.kind} may not read another participant's records`);
  if (!policy.allowedKinds.includes(requester.kind)) return deny('KIND_NOT_ALLOWED_BY_POLICY', `the patient's policy does not admit a ${requester.kind}`);
  if (policy.allow.length > 0 && !policy.allow.includes(requester.id)) {
    return deny('NOT_IN_ALLOW_LIST', `${requester.id} is not on the patient's allow list`);
  }
  const clearance = effectiveClearance(requester);
  const level = record.summary.securityLevel;
  if (!atLeast(clearance, level)) return deny('CLEARANCE_BELOW_LEVEL', `clearance ${clearance} is below the record's level ${level}`);
  if (!atLeast(clearance, policy.minClearance)) {
    return deny('CLEARANCE_BELOW_POLICY_MINIMUM', `clearance ${clearance} is below the policy's minimum ${policy.minClearance}`);
  }
  return { allowed: true, basis: 'policy' };
}

/** Fixed maximum life of a break-glass grant. */
export const BREAK_GLASS_MAX_DURATION_MS = 60 * 60 * 1000;
export const MIN_JUSTIFICATION_LENGTH = 10;
export const MAX_JUSTIFICATION_LENGTH = 1000;

export type BreakGlassDecision =
  | { readonly allowed: true; readonly notBefore: string; readonly notAfter: string; readonly justification: string }
  | AccessRefusal;

/**
 * Break-glass: an active physician with the emergency role, on a record whose policy allows it, not on the deny
 * list, with clearance for the record's level and a justification (≥ 10 characters after trimming, no control
 * characters). It bypasses the patient's approval, the allow list and the policy's expiry (an unconscious patient
 * cannot approve); the window is [now, now + min(requested, 1 h)). The grant is flagged for the patient.
 */
export function evaluateBreakGlass(
  requester: Participant,
  record: EmrRecord,
  justification: unknown,
  now: string,
  requestedDurationMs: number = BREAK_GLASS_MAX_DURATION_MS,
): BreakGlassDecision {
  if (requester.status !== 'active') return deny('REQUESTER_SUSPENDED', `participant ${requester.id} is suspended`);
  if (requester.kind !== 'physician' || !requester.roles.includes(EMERGENCY_ROLE)) {
    return deny('NOT_EMERGENCY_PHYSICIAN', `break-glass needs a physician with the ${EMERGENCY_ROLE} role`);
  }
  if (!record.policy.emergencyAllowed) return deny('EMERGENCY_NOT_ALLOWED', `the patient's policy does not allow emergency access`);
  if (record.policy.deny.includes(requester.id)) return deny('DENIED_BY_POLICY', `the patient's policy denies ${requester.id}`);
  const clearance = effectiveClearance(requester);
  if (!atLeast(clearance, record.summary.securityLevel)) {
    return deny('CLEARANCE_BELOW_LEVEL', `clearance ${clearance} is below the record's level ${record.summary.securityLevel}`);
  }
  const text = typeof justification === 'string' ? justification.trim() : '';
  // eslint-disable-next-line no-control-regex
  if (text.length < MIN_JUSTIFICATION_LENGTH || text.length > MAX_JUSTIFICATION_LENGTH || /[\u0000-\u001f\u007f]/.test(text)) {
    return deny('JUSTIFICATION_REQUIRED', `justification: ${MIN_JUSTIFICATION_LENGTH}–${MAX_JUSTIFICATION_LENGTH} characters of text are required`);
  }
  const duration = Number.isSafeInteger(requestedDurationMs) && requestedDurationMs > 0 ? Math.min(requestedDurationMs, BREAK_GLASS_MAX_DURATION_MS) : BREAK_GLASS_MAX_DURATION_MS;
  const start = millis(now, 'now');
  return {
    allowed: true,
    notBefore: new Date(start).toISOString(),
    notAfter: new Date(start + duration).toISOString(),
    justification: text,
  };
}
