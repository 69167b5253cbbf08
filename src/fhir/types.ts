/**
 * Vocabulary shared by the FHIR adapter's modules. The paper's classes and levels are the chaincode's own
 * (chaincode/src/domain/levels.ts), so a summary built here is what the contract validates.
 */
export { CATEGORIES, CATEGORY_LEVEL, SECURITY_LEVELS, atLeast, levelRank } from '../../chaincode/src/domain/levels.js';
export type { Category, SecurityLevel } from '../../chaincode/src/domain/levels.js';
export type { RecordSummary } from '../../chaincode/src/domain/record.js';

/** HL7 code systems used for security labels (meta.security). */
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
