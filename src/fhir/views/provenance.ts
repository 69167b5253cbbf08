/**
 * The author's signature of an EMR record as a FHIR R4 Provenance: who authored the record for which organisation,
 * and the signature itself, so that anyone holding the author's registered signing key can check the record.
 *
 * The signature is PIE's own, not JOSE: ECDSA on secp256k1 over SHA-256 of `canonicalRecordBytes(record)` (the
 * domain `PIE/emr-record/v1\n` followed by the record's canonical JSON without signature and timestamp), encoded as
 * the 64 bytes r ‖ s (IEEE P1363, low-S). A JWS would sign `base64url(header).base64url(payload)` instead, which the
 * author never signed; so `sigFormat` and `targetFormat` are PIE media types that name these exact bytes.
 */
import type { Coding, Provenance } from '@medplum/fhirtypes';
import type { EmrRecord } from '../../../chaincode/src/domain/index.js';
import { authorReference, fhirId, organizationReference, recordReference } from './document-reference.js';

/** Raw ECDSA secp256k1 / SHA-256 signature, r ‖ s (64 bytes), low-S. */
export const SIGNATURE_FORMAT = 'application/vnd.pie.ecdsa-secp256k1-sha256';
/** The signed bytes: `canonicalRecordBytes(record)` (chaincode/src/domain/canonical.ts), version 1. */
export const SIGNED_RECORD_FORMAT = 'application/vnd.pie.emr-record-signing.v1';

const AUTHORS_SIGNATURE: Coding = { system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1', display: "Author's Signature" };
const PARTICIPANT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
const AUTHOR: Coding = { system: PARTICIPANT_TYPE_SYSTEM, code: 'author', display: 'Author' };
const CUSTODIAN: Coding = { system: PARTICIPANT_TYPE_SYSTEM, code: 'custodian', display: 'Custodian' };
const DATA_OPERATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
const CREATE: Coding = { system: DATA_OPERATION_SYSTEM, code: 'CREATE', display: 'create' };
const UPDATE: Coding = { system: DATA_OPERATION_SYSTEM, code: 'UPDATE', display: 'revise' };

/**
 * The record's provenance. `recorded` and `signature.when` are the transaction's timestamp: the contract verified
 * the signature then (the author's signing time is not on the ledger). A new version names the version it revises.
 */
export function recordToProvenance(record: EmrRecord): Provenance {
  const id = fhirId(record.id);
  const author = authorReference(record);
  const hospital = organizationReference(record.hospital);
  return {
    resourceType: 'Provenance',
    ...(id ? { id } : {}),
    target: [recordReference(record.id)],
    recorded: record.timestamp,
    activity: { coding: [record.previousId === undefined ? CREATE : UPDATE] },
    agent: [
      { type: { coding: [AUTHOR] }, who: author, onBehalfOf: hospital },
      { type: { coding: [CUSTODIAN] }, who: hospital },
    ],
    ...(record.previousId !== undefined ? { entity: [{ role: 'revision', what: recordReference(record.previousId) }] } : {}),
    signature: [
      {
        type: [AUTHORS_SIGNATURE],
        when: record.timestamp,
        who: author,
        onBehalfOf: hospital,
        targetFormat: SIGNED_RECORD_FORMAT,
        sigFormat: SIGNATURE_FORMAT,
        data: Buffer.from(record.authorSignature, 'hex').toString('base64'),
      },
    ],
  };
}

/** The author's signature (r ‖ s hex, as the ledger stores it) carried by a Provenance made by recordToProvenance. */
export function provenanceSignatureHex(provenance: Provenance): string | undefined {
  const sig = provenance.signature?.find((s) => s.sigFormat === SIGNATURE_FORMAT && s.data !== undefined);
  return sig?.data === undefined ? undefined : Buffer.from(sig.data, 'base64').toString('hex');
}
