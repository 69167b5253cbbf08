/**
 * The EMR record: every field of the paper's Table 4. The content itself is never on the ledger: only its CID,
 * size, media type, SHA-256, the Umbral capsule of its data-encryption key, and a de-identified summary.
 */
import { ContractError, invalid } from './errors.js';
import { CATEGORIES, CATEGORY_LEVEL, SECURITY_LEVELS, atLeast } from './levels.js';
import type { Category, SecurityLevel } from './levels.js';
import { mspId, participantId } from './participant.js';
import { parseAccessPolicy } from './policy.js';
import type { AccessPolicy } from './policy.js';
import { array, base64, deepFreeze, hex, id, integer, isoTime, object, oneOf, optional, string } from './validate.js';

/** De-identified "EMR information" (HIPAA Safe Harbor: year only, no identifiers). */
export interface RecordSummary {
  readonly category: Category;
  readonly securityLevel: SecurityLevel;
  /** coded concepts as `system|code`, e.g. `http://snomed.info/sct|44054006` */
  readonly codes: readonly string[];
  readonly year: number;
  /** FHIR resource types in the record, e.g. `Condition` */
  readonly resourceTypes: readonly string[];
  /** security labels, e.g. v3 confidentiality `R` or sensitivity `HIV` */
  readonly labels: readonly string[];
  /** the patient's administrative gender (FHIR Patient.gender), when known */
  readonly gender?: Gender;
  /** the patient's age at the time of service in 5-year bands, over 89 collapsed to `90+` (Safe Harbor) */
  readonly ageBand?: AgeBand;
}

export const GENDERS = ['male', 'female', 'other', 'unknown'] as const;
export type Gender = (typeof GENDERS)[number];
/** Five-year bands `0-4`, `5-9`, …, `85-89`; ages over 89 collapse to `90+` (Safe Harbor). */
export const AGE_BANDS = [
  '0-4', '5-9', '10-14', '15-19', '20-24', '25-29', '30-34', '35-39', '40-44', '45-49', '50-54', '55-59', '60-64',
  '65-69', '70-74', '75-79', '80-84', '85-89', '90+',
] as const;
export type AgeBand = (typeof AGE_BANDS)[number];

export interface RecordMetadata {
  /** IPFS CID of the encrypted envelope */
  readonly cid: string;
  /** size in bytes of the stored (encrypted) envelope */
  readonly size: number;
  readonly mediaType: string;
  /** SHA-256 of the plaintext content, lower-case hex */
  readonly contentHash: string;
  /** Umbral `Capsule.toBytes()` (105 bytes), base64 */
  readonly capsule: string;
  readonly envelopeVersion: number;
}

export interface EmrRecord {
  readonly id: string;
  /** 1 for a first upload; n + 1 for a data version update (key rotation) of version n */
  readonly version: number;
  /** the record this one replaces; present exactly when version > 1 */
  readonly previousId?: string;
  readonly patientId: string;
  readonly authorId: string;
  /** MSP id of the authoring organisation */
  readonly hospital: string;
  /** the transaction's timestamp (set by the contract, not signed by the author) */
  readonly timestamp: string;
  readonly summary: RecordSummary;
  readonly metadata: RecordMetadata;
  readonly policy: AccessPolicy;
  /** ECDSA(SHA-256) over canonicalRecordBytes(record), r ‖ s, 64 bytes hex */
  readonly authorSignature: string;
}

export const CAPSULE_BYTES = 105;
/** The most records one CreateRecords transaction takes (≈ 2 kB each on the ledger). */
export const MAX_BATCH_RECORDS = 256;
export const MAX_CONTENT_SIZE = Number.MAX_SAFE_INTEGER;
const CID = /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{20,200}|z[1-9A-HJ-NP-Za-km-z]{20,200})$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(;[ -~]*)?$/i;
const CODE = /^[^|\s]+\|[^|]+$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Structural check of umbral-pre's serialised capsule: msgpack [bin(33) E, bin(33) V, bin(32) s]. */
function capsule(v: unknown, field: string): string {
  const s = base64(v, field, { bytes: CAPSULE_BYTES });
  const b = Buffer.from(s, 'base64');
  const ok =
    b[0] === 0x93 &&
    b[1] === 0xc4 && b[2] === 33 && (b[3] === 2 || b[3] === 3) &&
    b[36] === 0xc4 && b[37] === 33 && (b[38] === 2 || b[38] === 3) &&
    b[71] === 0xc4 && b[72] === 32;
  if (!ok) throw invalid(field, 'is not a serialised Umbral capsule');
  return s;
}

/** `{ [name]: value }`, or nothing when the value is absent (so absent fields stay absent, not `undefined`). */
const optionalField = <K extends string, T>(name: K, value: T | undefined): { [P in K]?: T } => (value === undefined ? {} : ({ [name]: value } as { [P in K]?: T }));

const SUMMARY_FIELDS = ['category', 'securityLevel', 'codes', 'year', 'resourceTypes', 'labels', 'gender', 'ageBand'];

export function parseRecordSummary(input: unknown, field = 'summary'): RecordSummary {
  const o = object(input, field, SUMMARY_FIELDS);
  const category = oneOf(o.category, `${field}.category`, CATEGORIES);
  const securityLevel = oneOf(o.securityLevel, `${field}.securityLevel`, SECURITY_LEVELS);
  if (!atLeast(securityLevel, CATEGORY_LEVEL[category])) {
    throw invalid(`${field}.securityLevel`, `a ${category} record is at least ${CATEGORY_LEVEL[category]}`);
  }
  return {
    category,
    securityLevel,
    codes: array(o.codes, `${field}.codes`, (v, f) => string(v, f, { max: 512, pattern: CODE, shape: 'system|code' }), { max: 64, unique: true }),
    year: integer(o.year, `${field}.year`, 1900, 9999),
    resourceTypes: array(o.resourceTypes, `${field}.resourceTypes`, (v, f) => string(v, f, { max: 64, pattern: RESOURCE_TYPE, shape: 'a FHIR resource type' }), {
      max: 64,
      unique: true,
    }),
    labels: array(o.labels, `${field}.labels`, (v, f) => string(v, f, { max: 64, pattern: LABEL, shape: 'a security label code' }), { max: 32, unique: true }),
    ...optionalField('gender', optional(o.gender, (v) => oneOf(v, `${field}.gender`, GENDERS))),
    ...optionalField('ageBand', optional(o.ageBand, (v) => oneOf(v, `${field}.ageBand`, AGE_BANDS))),
  };
}

const METADATA_FIELDS = ['cid', 'size', 'mediaType', 'contentHash', 'capsule', 'envelopeVersion'];

export function parseRecordMetadata(input: unknown, field = 'metadata'): RecordMetadata {
  const o = object(input, field, METADATA_FIELDS);
  return {
    cid: string(o.cid, `${field}.cid`, { max: 256, pattern: CID, shape: 'an IPFS CID' }),
    size: integer(o.size, `${field}.size`, 0, MAX_CONTENT_SIZE),
    mediaType: string(o.mediaType, `${field}.mediaType`, { max: 128, pattern: MEDIA_TYPE, shape: 'a media type like application/fhir+json' }),
    contentHash: hex(o.contentHash, `${field}.contentHash`, 32),
    capsule: capsule(o.capsule, `${field}.capsule`),
    envelopeVersion: integer(o.envelopeVersion, `${field}.envelopeVersion`, 1, 255),
  };
}

const RECORD_FIELDS = [
  'id', 'version', 'previousId', 'patientId', 'authorId', 'hospital', 'timestamp', 'summary', 'metadata', 'policy', 'authorSignature',
];

export function parseEmrRecord(input: unknown, field = 'record'): EmrRecord {
  const o = object(input, field, RECORD_FIELDS);
  const recordId = id(o.id, `${field}.id`);
  const version = integer(o.version, `${field}.version`, 1, 1_000_000);
  const previousId = optional(o.previousId, (v) => id(v, `${field}.previousId`));
  if (version > 1 && previousId === undefined) throw invalid(`${field}.previousId`, 'is required when version > 1');
  if (version === 1 && previousId !== undefined) throw invalid(`${field}.previousId`, 'must be absent for version 1');
  if (previousId === recordId) throw invalid(`${field}.previousId`, 'must differ from id');
  const patientId = participantId(o.patientId, `${field}.patientId`);
  const authorId = participantId(o.authorId, `${field}.authorId`);
  return deepFreeze({
    id: recordId,
    version,
    ...(previousId === undefined ? {} : { previousId }),
    patientId,
    authorId,
    hospital: mspId(o.hospital, `${field}.hospital`),
    timestamp: isoTime(o.timestamp, `${field}.timestamp`),
    summary: parseRecordSummary(o.summary, `${field}.summary`),
    metadata: parseRecordMetadata(o.metadata, `${field}.metadata`),
    policy: parseAccessPolicy(o.policy, `${field}.policy`),
    authorSignature: hex(o.authorSignature, `${field}.authorSignature`, 64),
  });
}

/** A data version update must continue the chain: same patient, next version, linked to the current head. */
export function assertValidSuccessor(previous: EmrRecord, next: EmrRecord): void {
  if (next.previousId !== previous.id) throw invalid('record.previousId', `must be ${previous.id}`);
  if (next.version !== previous.version + 1) throw new ContractError('CONFLICT', `record.version: must be ${previous.version + 1} (the next version of ${previous.id})`);
  if (next.patientId !== previous.patientId) throw invalid('record.patientId', 'must stay the same across versions');
  if (next.metadata.cid === previous.metadata.cid) throw invalid('record.metadata.cid', 'a new version needs new ciphertext (new CID)');
}
