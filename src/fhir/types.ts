/**
 * Vocabulary shared by the FHIR adapter's modules. The paper's classes and levels, and the summary's genders and age
 * bands, are the chaincode's own (chaincode/src/domain/levels.ts, record.ts), so a summary built here is what the
 * contract validates.
 */
import type { SecurityLevel } from '../../chaincode/src/domain/levels.js';

export { CATEGORIES, CATEGORY_LEVEL, SECURITY_LEVELS, atLeast, levelRank } from '../../chaincode/src/domain/levels.js';
export type { Category, SecurityLevel } from '../../chaincode/src/domain/levels.js';
export { AGE_BANDS, GENDERS } from '../../chaincode/src/domain/record.js';
export type { AgeBand, Gender, RecordSummary } from '../../chaincode/src/domain/record.js';

/** HL7 code systems used for security labels (meta.security). */
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
/** The R4 confidentiality system and the STU3 one, which some sources still send. */
export const CONFIDENTIALITY_SYSTEMS: ReadonlySet<string> = new Set([CONFIDENTIALITY_SYSTEM, 'http://hl7.org/fhir/v3/Confidentiality']);

/** v3-Confidentiality codes from least to most restrictive. */
export const CONFIDENTIALITY_ORDER = ['U', 'L', 'M', 'N', 'R', 'V'] as const;
export type ConfidentialityCode = (typeof CONFIDENTIALITY_ORDER)[number];

export const CONFIDENTIALITY_DISPLAY: Readonly<Record<ConfidentialityCode, string>> = Object.freeze({
  U: 'unrestricted',
  L: 'low',
  M: 'moderate',
  N: 'normal',
  R: 'restricted',
  V: 'very restricted',
});

/** The confidentiality codes a security level maps to. */
export type Confidentiality = Extract<ConfidentialityCode, 'L' | 'M' | 'R'>;

/** DESIGN §5: LOW → L, MODERATE → M, PRIVATE → R. */
export const LEVEL_CONFIDENTIALITY: Readonly<Record<SecurityLevel, Confidentiality>> = Object.freeze({ LOW: 'L', MODERATE: 'M', PRIVATE: 'R' });

export const isConfidentialityCode = (code: string): code is ConfidentialityCode => (CONFIDENTIALITY_ORDER as readonly string[]).includes(code);

/** Position of a code in CONFIDENTIALITY_ORDER (higher is more restrictive); -1 for anything that is not a v3-Confidentiality code. */
export const confidentialityRank = (code: string): number => CONFIDENTIALITY_ORDER.indexOf(code as ConfidentialityCode);
