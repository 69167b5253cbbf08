// Author signature → Provenance: the signature bytes survive, verify under the author's key, and the codes are R4's.
import { canonicalRecordBytes, verifyAuthorSignature, verifySignature } from '../../../chaincode/src/domain/index.js';
import {
  ORGANIZATION_SYSTEM,
  PARTICIPANT_SYSTEM,
  SIGNATURE_FORMAT,
  SIGNED_RECORD_FORMAT,
  provenanceSignatureHex,
  recordReference,
  recordToProvenance,
} from '../../../src/fhir/views/index.js';
import { AUTHOR, CID2, NOW, authorSigningKey, codes, expectValidR4, record } from './fixtures.js';

describe('recordToProvenance', () => {
  const rec = record();
  const prov = recordToProvenance(rec);

  it('is valid R4 and targets the record', () => {
    expectValidR4(prov);
    expect(prov.id).toBe('emr-1');
    expect(prov.target).toEqual([recordReference('emr-1')]);
    expect(prov.recorded).toBe(NOW);
    expect(codes([prov.activity!])).toEqual(['http://terminology.hl7.org/CodeSystem/v3-DataOperation|CREATE']);
    expect(prov.entity).toBeUndefined();
  });

  it('names the author (for the hospital) and the hospital as custodian', () => {
    expect(prov.agent.map((a) => [codes([a.type!])[0], a.who.identifier])).toEqual([
      ['http://terminology.hl7.org/CodeSystem/provenance-participant-type|author', { system: PARTICIPANT_SYSTEM, value: AUTHOR }],
      ['http://terminology.hl7.org/CodeSystem/provenance-participant-type|custodian', { system: ORGANIZATION_SYSTEM, value: 'Hospital1MSP' }],
    ]);
    expect(prov.agent[0]!.onBehalfOf?.identifier?.value).toBe('Hospital1MSP');
  });

  it('carries the author’s signature (ASTM E1762 author’s signature, PIE media types, r ‖ s base64)', () => {
    const [sig] = prov.signature!;
    expect(codes(sig!.type)).toEqual(['urn:iso-astm:E1762-95:2013|1.2.840.10065.1.12.1.1']);
    expect(sig!.who.identifier!.value).toBe(AUTHOR);
    expect(sig!.when).toBe(NOW);
    expect(sig!.sigFormat).toBe(SIGNATURE_FORMAT);
    expect(sig!.targetFormat).toBe(SIGNED_RECORD_FORMAT);
    expect(Buffer.from(sig!.data!, 'base64')).toHaveLength(64);
    expect(provenanceSignatureHex(prov)).toBe(rec.authorSignature);
  });

  it('the signature in the Provenance verifies over canonicalRecordBytes under the author’s key', async () => {
    await expect(verifyAuthorSignature(rec, authorSigningKey)).resolves.toBe(true);
    await expect(verifySignature(canonicalRecordBytes(rec), provenanceSignatureHex(prov)!, authorSigningKey)).resolves.toBe(true);
    const tampered = { ...rec, summary: { ...rec.summary, year: 2023 } };
    await expect(verifySignature(canonicalRecordBytes(tampered), provenanceSignatureHex(prov)!, authorSigningKey)).resolves.toBe(false);
  });

  it('a new version is an UPDATE revising the previous version', () => {
    const v2 = recordToProvenance(record({ id: 'emr-1-v2', version: 2, previousId: 'emr-1', metadata: { ...rec.metadata, cid: CID2 } }));
    expectValidR4(v2);
    expect(codes([v2.activity!])).toEqual(['http://terminology.hl7.org/CodeSystem/v3-DataOperation|UPDATE']);
    expect(v2.entity).toEqual([{ role: 'revision', what: recordReference('emr-1') }]);
  });

  it('a patient’s own upload is signed by the patient', () => {
    const own = recordToProvenance(record({ authorId: record().patientId }));
    expectValidR4(own);
    expect(own.signature![0]!.who.type).toBe('Patient');
  });
});
