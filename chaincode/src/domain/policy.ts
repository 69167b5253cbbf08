/**
 * The patient's access policy (the paper's "contract code"). It can only narrow DESIGN §5's defaults: the shape
 * makes most widening inexpressible (minClearance, allow, deny and expiresAt only ever add conditions), and
 * `allowedKinds` must stay within the default reader kinds.
 */
import { ContractError, invalid } from './errors.js';
import { DEFAULT_READER_KINDS, PARTICIPANT_KINDS, SECURITY_LEVELS } from './levels.js';
import type { ParticipantKind, SecurityLevel } from './levels.js';
import { participantId } from './participant.js';
import { array, boolean, deepFreeze, isoTime, object, oneOf, optional } from './validate.js';

export interface AccessPolicy {
  /** a requester's effective clearance must reach this as well as the record's level */
  readonly minClearance: SecurityLevel;
  /** kinds that may read (besides the patient); a subset of DEFAULT_READER_KINDS */
  readonly allowedKinds: readonly ParticipantKind[];
  /** when non-empty, only these participants may read (still subject to kind and clearance) */
  readonly allow: readonly string[];
  /** these participants may never read, not even by breaking the glass */
  readonly deny: readonly string[];
  /** whether a physician with the emergency role may break the glass */
  readonly emergencyAllowed: boolean;
  /** from this instant on, nobody but the patient (and break-glass) may be given access */
  readonly expiresAt?: string;
}

export const DEFAULT_POLICY: AccessPolicy = deepFreeze({
  minClearance: 'LOW',
  allowedKinds: [...DEFAULT_READER_KINDS],
  allow: [],
  deny: [],
  emergencyAllowed: true,
});

const MAX_LIST = 256;
const FIELDS = ['minClearance', 'allowedKinds', 'allow', 'deny', 'emergencyAllowed', 'expiresAt'];

/** The ways a policy would widen the defaults (empty when it only narrows). */
export function policyWidenings(policy: AccessPolicy): string[] {
  return policy.allowedKinds
    .filter((k) => !DEFAULT_READER_KINDS.includes(k))
    .map((k) => `allowedKinds: a ${k} may not read other participants' records by default, and a policy may only narrow`);
}

export const policyNarrowsDefaults = (policy: AccessPolicy): boolean => policyWidenings(policy).length === 0;

/** Parses a policy; a policy that widens the defaults is refused with FORBIDDEN. */
export function parseAccessPolicy(input: unknown, field = 'policy'): AccessPolicy {
  const o = object(input, field, FIELDS);
  const kinds = array(o.allowedKinds, `${field}.allowedKinds`, (v, f) => oneOf(v, f, PARTICIPANT_KINDS), { max: PARTICIPANT_KINDS.length, unique: true });
  const allow = array(o.allow, `${field}.allow`, participantId, { max: MAX_LIST, unique: true });
  const deny = array(o.deny, `${field}.deny`, participantId, { max: MAX_LIST, unique: true });
  deny.forEach((d, i) => {
    if (allow.includes(d)) throw invalid(`${field}.deny[${i}]`, 'is also in allow');
  });
  const expiresAt = optional(o.expiresAt, (v) => isoTime(v, `${field}.expiresAt`));
  const policy: AccessPolicy = {
    minClearance: oneOf(o.minClearance, `${field}.minClearance`, SECURITY_LEVELS),
    allowedKinds: kinds,
    allow,
    deny,
    emergencyAllowed: boolean(o.emergencyAllowed, `${field}.emergencyAllowed`),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
  const widenings = policyWidenings(policy);
  if (widenings.length > 0) throw new ContractError('FORBIDDEN', `${field}.${widenings[0]}`);
  return deepFreeze(policy);
}
