/**
 * Security levels, participant kinds, the paper's Table 5 categories, and the DESIGN §5 defaults that every patient
 * policy may only narrow.
 */
export const SECURITY_LEVELS = ['LOW', 'MODERATE', 'PRIVATE'] as const;
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];

/** LOW = 0 < MODERATE = 1 < PRIVATE = 2. */
export const levelRank = (level: SecurityLevel): number => SECURITY_LEVELS.indexOf(level);
export const atLeast = (have: SecurityLevel, need: SecurityLevel): boolean => levelRank(have) >= levelRank(need);
export const minLevel = (a: SecurityLevel, b: SecurityLevel): SecurityLevel => (levelRank(a) <= levelRank(b) ? a : b);

export const PARTICIPANT_KINDS = ['patient', 'physician', 'researcher', 'insurer', 'org-admin'] as const;
export type ParticipantKind = (typeof PARTICIPANT_KINDS)[number];

/**
 * DESIGN §5 default clearances, which are also each kind's ceiling: a participant is registered with at most this
 * clearance (an organisation may register lower), and effective clearance never exceeds it. A patient's PRIVATE
 * clearance is for the patient's own records; org admins administer and never read EMRs.
 */
export const DEFAULT_CLEARANCE: Readonly<Record<ParticipantKind, SecurityLevel>> = Object.freeze({
  patient: 'PRIVATE',
  physician: 'PRIVATE',
  researcher: 'LOW',
  insurer: 'LOW',
  'org-admin': 'LOW',
});

/** Kinds that may, by default, read another person's records (subject to clearance). */
export const DEFAULT_READER_KINDS: readonly ParticipantKind[] = Object.freeze(['physician', 'researcher', 'insurer']);

/** The paper's Table 5 classes of EMR information. */
export const CATEGORIES = [
  'medical-information',
  'admission-record',
  'prescription',
  'medical-imaging',
  'clinical-trial-device',
  'clinical-trial-medicine',
  'clinical-trial-observation',
  'clinical-trial-omics',
  'lifelog-sensor',
  'identity',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Table 5's level per class: a record's level may be raised (sensitive codes force PRIVATE), never lowered. */
export const CATEGORY_LEVEL: Readonly<Record<Category, SecurityLevel>> = Object.freeze({
  'medical-information': 'PRIVATE',
  'admission-record': 'PRIVATE',
  prescription: 'PRIVATE',
  'medical-imaging': 'PRIVATE',
  'clinical-trial-device': 'LOW',
  'clinical-trial-medicine': 'LOW',
  'clinical-trial-observation': 'LOW',
  'clinical-trial-omics': 'LOW',
  'lifelog-sensor': 'MODERATE',
  identity: 'PRIVATE',
});
