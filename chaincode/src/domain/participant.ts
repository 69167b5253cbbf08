import { DEFAULT_CLEARANCE, PARTICIPANT_KINDS, SECURITY_LEVELS, atLeast, minLevel } from './levels.js';
import type { ParticipantKind, SecurityLevel } from './levels.js';
import { ContractError } from './errors.js';
import { secp256k1PublicKey } from './signature.js';
import { array, deepFreeze, hex, object, oneOf, string } from './validate.js';

export const PARTICIPANT_STATUSES = ['active', 'suspended'] as const;
export type ParticipantStatus = (typeof PARTICIPANT_STATUSES)[number];

/** A registered participant: pseudonymous, no name or other PHI. */
export interface Participant {
  readonly id: string;
  readonly kind: ParticipantKind;
  /** MSP id of the registering organisation */
  readonly org: string;
  readonly clearance: SecurityLevel;
  /** 33-byte compressed secp256k1, hex: verifies the participant's signatures (records it authors) */
  readonly signingKey: string;
  /** 33-byte compressed secp256k1, hex: Umbral encryption key (capsules, kfrag delegation) */
  readonly encryptionKey: string;
  readonly roles: readonly string[];
  readonly status: ParticipantStatus;
}

export const PARTICIPANT_ID = /^[0-9a-f]{32}$/;
export const MSP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const ROLE = /^[a-z][a-z0-9-]*$/;
export const EMERGENCY_ROLE = 'emergency';

export const participantId = (v: unknown, field: string): string =>
  string(v, field, { min: 32, max: 32, pattern: PARTICIPANT_ID, shape: '32 lower-case hex characters' });
export const mspId = (v: unknown, field: string): string =>
  string(v, field, { max: 64, pattern: MSP_ID, shape: 'an MSP id' });

/** A compressed secp256k1 point in hex that is really on the curve. */
export function publicKeyHex(v: unknown, field: string): string {
  const s = hex(v, field, 33);
  if (!s.startsWith('02') && !s.startsWith('03')) throw new ContractError('INVALID_ARGUMENT', `${field}: must be a compressed point (02/03 prefix)`);
  try {
    secp256k1PublicKey(s);
  } catch {
    throw new ContractError('INVALID_ARGUMENT', `${field}: is not a point on secp256k1`);
  }
  return s;
}

const FIELDS = ['id', 'kind', 'org', 'clearance', 'signingKey', 'encryptionKey', 'roles', 'status'];

export function parseParticipant(input: unknown, field = 'participant'): Participant {
  const o = object(input, field, FIELDS);
  const kind = oneOf(o.kind, `${field}.kind`, PARTICIPANT_KINDS);
  const clearance = oneOf(o.clearance, `${field}.clearance`, SECURITY_LEVELS);
  if (!atLeast(DEFAULT_CLEARANCE[kind], clearance)) {
    throw new ContractError('INVALID_ARGUMENT', `${field}.clearance: a ${kind} may hold at most ${DEFAULT_CLEARANCE[kind]}`);
  }
  const signingKey = publicKeyHex(o.signingKey, `${field}.signingKey`);
  const encryptionKey = publicKeyHex(o.encryptionKey, `${field}.encryptionKey`);
  if (signingKey === encryptionKey) throw new ContractError('INVALID_ARGUMENT', `${field}.encryptionKey: must differ from signingKey`);
  const roles = array(o.roles, `${field}.roles`, (v, f) => string(v, f, { max: 32, pattern: ROLE, shape: 'a lower-case role name' }), {
    max: 16,
    unique: true,
  });
  if (roles.includes(EMERGENCY_ROLE) && kind !== 'physician') {
    throw new ContractError('INVALID_ARGUMENT', `${field}.roles: only a physician may hold the ${EMERGENCY_ROLE} role`);
  }
  return deepFreeze({
    id: participantId(o.id, `${field}.id`),
    kind,
    org: mspId(o.org, `${field}.org`),
    clearance,
    signingKey,
    encryptionKey,
    roles,
    status: oneOf(o.status, `${field}.status`, PARTICIPANT_STATUSES),
  });
}

/** Registered clearance capped by the kind's ceiling (DESIGN §5). */
export const effectiveClearance = (p: Participant): SecurityLevel => minLevel(p.clearance, DEFAULT_CLEARANCE[p.kind]);
