// EMR record → DocumentReference: the envelope on IPFS, Table 4 metadata in the right places, version chains.
import type { Attachment, DocumentReference, Extension } from '@medplum/fhirtypes';
import { CONFIDENTIALITY_DISPLAY, CONFIDENTIALITY_ORDER, CONFIDENTIALITY_SYSTEM, ACT_CODE_SYSTEM } from '../../../src/fhir/types.js';
import {
  EMR_CATEGORY_SYSTEM,
  ENVELOPE_MEDIA_TYPE,
  ORGANIZATION_SYSTEM,
  PARTICIPANT_SYSTEM,
  PIE_EXTENSIONS,
  RECORD_SYSTEM,
  fhirId,
  recordReference,
  recordSecurityLabels,
  recordToDocumentReference,
  securityLabelCoding,
} from '../../../src/fhir/views/index.js';
import { AUTHOR, CAPSULE, CID, CID2, NOW, PATIENT, codes, expectValidR4, record } from './fixtures.js';

const extension = (exts: Extension[] | undefined, url: string): Extension | undefined => exts?.find((e) => e.url === url);
const attachmentOf = (doc: DocumentReference): Attachment => doc.content[0]!.attachment;

describe('recordToDocumentReference', () => {
  const rec = record();
  const doc = recordToDocumentReference(rec);

  it('is valid R4', () => expectValidR4(doc));

  it('identifies the record, its patient, author and custodian pseudonymously', () => {
    expect(doc.id).toBe('emr-1');
    expect(doc.masterIdentifier).toEqual({ system: RECORD_SYSTEM, value: 'emr-1' });
    expect(doc.status).toBe('current');
    expect(doc.docStatus).toBe('final');
    expect(doc.subject).toEqual({ type: 'Patient', identifier: { system: PARTICIPANT_SYSTEM, value: PATIENT } });
    expect(doc.author).toEqual([{ type: 'Practitioner', identifier: { system: PARTICIPANT_SYSTEM, value: AUTHOR } }]);
    expect(doc.custodian).toMatchObject({ type: 'Organization', identifier: { system: ORGANIZATION_SYSTEM, value: 'Hospital1MSP' } });
    expect(doc.date).toBe(NOW);
    expect(doc.relatesTo).toBeUndefined();
    expect(extension(doc.extension, PIE_EXTENSIONS.recordVersion)?.valuePositiveInt).toBe(1);
  });

  it('points at the encrypted envelope: envelope media type, ipfs:// URL, envelope size, no attachment.hash', () => {
    const a = attachmentOf(doc);
    expect(a.contentType).toBe(ENVELOPE_MEDIA_TYPE);
    expect(a.url).toBe(`ipfs://${CID}`);
    expect(a.size).toBe(1234);
    // R4 attachment.hash is a SHA-1 of the attachment bytes; the ledger has SHA-256 of the plaintext
    expect(a.hash).toBeUndefined();
    expect(extension(a.extension, PIE_EXTENSIONS.plaintextSha256)?.valueString).toBe(rec.metadata.contentHash);
    expect(extension(a.extension, PIE_EXTENSIONS.plaintextMediaType)?.valueString).toBe('application/fhir+json');
    expect(extension(a.extension, PIE_EXTENSIONS.umbralCapsule)?.valueBase64Binary).toBe(CAPSULE);
    expect(extension(a.extension, PIE_EXTENSIONS.envelopeVersion)?.valuePositiveInt).toBe(1);
  });

  it('labels the record with its level’s confidentiality and the summary’s sensitivity labels', () => {
    expect(codes(doc.securityLabel)).toEqual([`${CONFIDENTIALITY_SYSTEM}|R`, `${ACT_CODE_SYSTEM}|HIV`]);
    expect(codes(doc.category)).toEqual([`${EMR_CATEGORY_SYSTEM}|medical-information`]);
    expect(codes([doc.type!])).toEqual(['http://loinc.org|11503-0']);
  });

  it('dates the clinical context to the summary’s year only (de-identified)', () => {
    expect(doc.context).toEqual({ period: { start: '2024', end: '2024' } });
  });

  it('maps each security level to L / M / R, first and without repeats', () => {
    expect(recordSecurityLabels({ securityLevel: 'LOW', labels: [] }).map((c) => c.code)).toEqual(['L']);
    expect(recordSecurityLabels({ securityLevel: 'MODERATE', labels: ['M', 'PSY'] }).map((c) => `${c.system}|${c.code}`)).toEqual([
      `${CONFIDENTIALITY_SYSTEM}|M`,
      `${ACT_CODE_SYSTEM}|PSY`,
    ]);
  });

  it('renders the six confidentiality codes with their display, and any other label (even an Object property name) as an ActCode', () => {
    for (const code of CONFIDENTIALITY_ORDER) expect(securityLabelCoding(code)).toEqual({ system: CONFIDENTIALITY_SYSTEM, code, display: CONFIDENTIALITY_DISPLAY[code] });
    for (const code of ['HIV', 'constructor', 'toString']) expect(securityLabelCoding(code)).toEqual({ system: ACT_CODE_SYSTEM, code });
  });

  it('a new version replaces the previous one; the older one is superseded', () => {
    const v2 = record({ id: 'emr-1-v2', version: 2, previousId: 'emr-1', metadata: { ...record().metadata, cid: CID2 } });
    const d2 = recordToDocumentReference(v2);
    expectValidR4(d2);
    expect(d2.relatesTo).toEqual([{ code: 'replaces', target: recordReference('emr-1') }]);
    expect(extension(d2.extension, PIE_EXTENSIONS.recordVersion)?.valuePositiveInt).toBe(2);
    const old = recordToDocumentReference(rec, { superseded: true });
    expectValidR4(old);
    expect(old.status).toBe('superseded');
  });

  it('a patient’s own upload has the patient as author', () => {
    const own = recordToDocumentReference(record({ authorId: PATIENT }));
    expect(own.author).toEqual([{ type: 'Patient', identifier: { system: PARTICIPANT_SYSTEM, value: PATIENT } }]);
  });

  it('a ledger id that is not a FHIR id: no resource id, no literal reference, the identifier still', () => {
    const odd = record({ id: 'emr:2024_0001' });
    expect(fhirId(odd.id)).toBeUndefined();
    const d = recordToDocumentReference(odd);
    expectValidR4(d);
    expect(d.id).toBeUndefined();
    expect(d.masterIdentifier?.value).toBe('emr:2024_0001');
    expect(recordReference(odd.id)).toEqual({ type: 'DocumentReference', identifier: { system: RECORD_SYSTEM, value: 'emr:2024_0001' } });
  });

  it('an envelope beyond R4’s unsignedInt keeps its size in an extension', () => {
    const big = record({ metadata: { ...record().metadata, size: 5_000_000_000 } });
    const a = attachmentOf(recordToDocumentReference(big));
    expectValidR4(recordToDocumentReference(big));
    expect(a.size).toBeUndefined();
    expect(extension(a.extension, PIE_EXTENSIONS.envelopeSize)?.valueDecimal).toBe(5_000_000_000);
  });

  it('the validation these tests rely on catches invalid output', () => {
    expect(() => expectValidR4({ ...doc, status: undefined } as never)).toThrow();
    expect(() => expectValidR4({ ...doc, status: 'current', securityLabel: [] })).toThrow(/empty array/);
    expect(() => expectValidR4({ ...doc, custodian: { reference: 'Organization/a_b' } })).toThrow(/not Type\/id/);
  });

  it('is deterministic', () => {
    expect(recordToDocumentReference(rec)).toEqual(doc);
  });
});
