/**
 * The EMR record (Table 4) as a FHIR R4 DocumentReference that points at the encrypted content on IPFS, and the
 * identifiers and references by which every view of ledger data points at ledger objects.
 *
 * Ledger identities are pseudonymous, so participants, organisations and ledger objects are referenced by
 * identifier (`Reference.identifier`), never by name. A record is also referenced literally as
 * `DocumentReference/<id>` when its ledger id is a valid FHIR id (the FHIR facade serves it under that id).
 */
import type { Coding, DocumentReference, Extension, Identifier, Organization, Patient, Practitioner, Reference } from '@medplum/fhirtypes';
import type { Category, EmrRecord, RecordSummary } from '../../../chaincode/src/domain/index.js';
import { LOINC } from '../sensitivity.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_DISPLAY, CONFIDENTIALITY_SYSTEM, LEVEL_CONFIDENTIALITY, isConfidentialityCode } from '../types.js';
import { FHIR_ID_PATTERN } from '../validate.js';

// ---- identifier systems of ledger objects ----------------------------------------------------------------------

/** Pseudonymous participant ids (32 lower-case hex), as the ledger registers them. */
export const PARTICIPANT_SYSTEM = 'urn:pie:participant';
/** Fabric MSP ids: the consortium's organisations. */
export const ORGANIZATION_SYSTEM = 'urn:pie:msp';
/** EMR record ids; each version of a record has its own id. */
export const RECORD_SYSTEM = 'urn:pie:record';
export const GRANT_SYSTEM = 'urn:pie:grant';
export const REQUEST_SYSTEM = 'urn:pie:request';
export const OPERATION_SYSTEM = 'urn:pie:operation';
/** A record chain's policy (value: a record id of the chain) and a patient's default policy (value: the patient id). */
export const RECORD_POLICY_SYSTEM = 'urn:pie:record-policy';
export const PATIENT_POLICY_SYSTEM = 'urn:pie:patient-policy';
/** Fabric transaction ids. */
export const TRANSACTION_SYSTEM = 'urn:pie:fabric-tx';
/** Fabric channels: the ledger that recorded an event. */
export const CHANNEL_SYSTEM = 'urn:pie:fabric-channel';

// ---- PIE's own definitions ---------------------------------------------------------------------------------------

export const PIE_FHIR_BASE = 'https://pie.example/fhir';
const ext = (name: string): string => `${PIE_FHIR_BASE}/StructureDefinition/${name}`;

/** Extensions PIE defines (each takes the one value type named in its comment). */
export const PIE_EXTENSIONS = Object.freeze({
  /** DocumentReference: the record's version in its chain (valuePositiveInt) */
  recordVersion: ext('record-version'),
  /** Attachment: SHA-256 of the *plaintext*, lower-case hex (valueString); attachment.hash is R4's SHA-1 of the bytes */
  plaintextSha256: ext('plaintext-sha256'),
  /** Attachment: media type of the plaintext inside the envelope (valueString: a media type with parameters may not be a valid FHIR code) */
  plaintextMediaType: ext('plaintext-media-type'),
  /** Attachment: the Umbral capsule of the data-encryption key, `Capsule.toBytes()` (valueBase64Binary) */
  umbralCapsule: ext('umbral-capsule'),
  /** Attachment: the envelope format version (valuePositiveInt) */
  envelopeVersion: ext('envelope-version'),
  /** Attachment: envelope size when it exceeds R4's unsignedInt (2^31 − 1) and attachment.size cannot hold it (valueDecimal) */
  envelopeSize: ext('envelope-size'),
  /** Consent.provision: the ledger grant a provision renders (valueIdentifier) */
  ledgerGrant: ext('ledger-grant'),
  /** Consent.provision: when the patient revoked the grant; period.end is then the revocation time (valueDateTime) */
  revokedAt: ext('revoked-at'),
});

/** Media type of PIE's encrypted envelope (src/crypto/envelope: magic "PIEE", chunked AEAD). */
export const ENVELOPE_MEDIA_TYPE = 'application/vnd.pie.emr-envelope';
/** The paper's Table 5 classes. */
export const EMR_CATEGORY_SYSTEM = `${PIE_FHIR_BASE}/CodeSystem/emr-category`;

export const CATEGORY_DISPLAY: Readonly<Record<Category, string>> = Object.freeze({
  'medical-information': 'Medical information',
  'admission-record': 'Admission record',
  prescription: 'Prescription',
  'medical-imaging': 'Medical imaging',
  'clinical-trial-device': 'Clinical trial: medical device',
  'clinical-trial-medicine': 'Clinical trial: medicine',
  'clinical-trial-observation': 'Clinical trial: clinical observation',
  'clinical-trial-omics': 'Clinical trial: omics',
  'lifelog-sensor': 'Lifelog: sensor data',
  identity: 'Identity',
});

// ---- ids and references ---------------------------------------------------------------------------------------------

/** The ledger id as a FHIR resource id, or undefined when it is not one (ledger ids may hold `_` and `:`, up to 128 characters). */
export const fhirId = (ledgerId: string): string | undefined => (FHIR_ID_PATTERN.test(ledgerId) ? ledgerId : undefined);

export type ParticipantResourceType = 'Patient' | 'Practitioner';

/** A pseudonymous participant; `type` only when the participant's kind is known (a record's patient, its author). */
export function participantReference(id: string, type?: ParticipantResourceType): Reference<Patient | Practitioner> {
  return { ...(type ? { type } : {}), identifier: { system: PARTICIPANT_SYSTEM, value: id } };
}

export const patientReference = (patientId: string): Reference<Patient> => ({ type: 'Patient', identifier: { system: PARTICIPANT_SYSTEM, value: patientId } });

/** A record's author is a physician, or the patient uploading the patient's own data. */
export const authorReference = (record: Pick<EmrRecord, 'authorId' | 'patientId'>): Reference<Patient | Practitioner> =>
  participantReference(record.authorId, record.authorId === record.patientId ? 'Patient' : 'Practitioner');

export function organizationReference(mspId: string): Reference<Organization> {
  return { type: 'Organization', identifier: { system: ORGANIZATION_SYSTEM, value: mspId }, display: mspId };
}

/** An EMR record version: identifier always, literal `DocumentReference/<id>` when the id is a valid FHIR id. */
export function recordReference(recordId: string): Reference<DocumentReference> {
  const id = fhirId(recordId);
  return { ...(id ? { reference: `DocumentReference/${id}` } : {}), type: 'DocumentReference', identifier: recordIdentifier(recordId) };
}

export const recordIdentifier = (recordId: string): Identifier => ({ system: RECORD_SYSTEM, value: recordId });

// ---- security labels ---------------------------------------------------------------------------------------------

/** A label of the summary as a Coding: the six v3 confidentiality codes, anything else a v3-ActCode (sensitivity, policy). */
export function securityLabelCoding(label: string): Coding {
  return isConfidentialityCode(label)
    ? { system: CONFIDENTIALITY_SYSTEM, code: label, display: CONFIDENTIALITY_DISPLAY[label] }
    : { system: ACT_CODE_SYSTEM, code: label };
}

/** The record's confidentiality (from its level) first, then the summary's labels, without repeats. */
export function recordSecurityLabels(summary: Pick<RecordSummary, 'securityLevel' | 'labels'>): Coding[] {
  const codes = [LEVEL_CONFIDENTIALITY[summary.securityLevel], ...summary.labels];
  return [...new Set(codes)].map(securityLabelCoding);
}

// ---- the DocumentReference -----------------------------------------------------------------------------------------

export interface DocumentReferenceOptions {
  /** a newer version of the record exists (the record is not the head of its chain): status `superseded` */
  readonly superseded?: boolean;
}

/** LOINC document type: every PIE record is (part of) a medical record; the Table 5 class is the category. */
const MEDICAL_RECORDS: Coding = { system: LOINC, code: '11503-0', display: 'Medical records' };
/** R4 Attachment.size is an unsignedInt. */
const MAX_UNSIGNED_INT = 2 ** 31 - 1;

/** The EMR record as a DocumentReference to its encrypted envelope on IPFS. */
export function recordToDocumentReference(record: EmrRecord, options: DocumentReferenceOptions = {}): DocumentReference {
  const id = fhirId(record.id);
  const year = String(record.summary.year).padStart(4, '0');
  return {
    resourceType: 'DocumentReference',
    ...(id ? { id } : {}),
    extension: [{ url: PIE_EXTENSIONS.recordVersion, valuePositiveInt: record.version }],
    // ledger record ids are per version: exactly FHIR's "master version-specific identifier"
    masterIdentifier: recordIdentifier(record.id),
    status: options.superseded ? 'superseded' : 'current',
    docStatus: 'final',
    type: { coding: [MEDICAL_RECORDS] },
    category: [{ coding: [{ system: EMR_CATEGORY_SYSTEM, code: record.summary.category, display: CATEGORY_DISPLAY[record.summary.category] }] }],
    subject: patientReference(record.patientId),
    date: record.timestamp,
    author: [authorReference(record)],
    custodian: organizationReference(record.hospital),
    ...(record.previousId !== undefined ? { relatesTo: [{ code: 'replaces', target: recordReference(record.previousId) }] } : {}),
    securityLabel: recordSecurityLabels(record.summary).map((coding) => ({ coding: [coding] })),
    content: [{ attachment: envelopeAttachment(record) }],
    // The de-identified summary keeps only the year of service (HIPAA Safe Harbor): a year-precision period.
    context: { period: { start: year, end: year } },
  };
}

function envelopeAttachment(record: EmrRecord): NonNullable<DocumentReference['content']>[number]['attachment'] {
  const m = record.metadata;
  const fits = m.size <= MAX_UNSIGNED_INT;
  const extension: Extension[] = [
    { url: PIE_EXTENSIONS.plaintextMediaType, valueString: m.mediaType },
    { url: PIE_EXTENSIONS.plaintextSha256, valueString: m.contentHash },
    { url: PIE_EXTENSIONS.umbralCapsule, valueBase64Binary: m.capsule },
    { url: PIE_EXTENSIONS.envelopeVersion, valuePositiveInt: m.envelopeVersion },
    ...(fits ? [] : [{ url: PIE_EXTENSIONS.envelopeSize, valueDecimal: m.size }]),
  ];
  return {
    extension,
    contentType: ENVELOPE_MEDIA_TYPE,
    url: `ipfs://${m.cid}`,
    ...(fits ? { size: m.size } : {}),
  };
}
