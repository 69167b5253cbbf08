// A node keeps everything across a restart (ledger, storage, custodial accounts, the spent bootstrap code); binary
// content goes through POST /blobs + createEmr; the ledger query reports the chain and verifies it.
import { createHash, randomBytes } from 'node:crypto';
import { PieClient } from '../../src/client/index.js';
import { decryptEmr, openDekWithSecretKey } from '../../src/crypto/envelope/index.js';
import { createLogger } from '../../src/node/log.js';
import { startNode } from '../../src/node/node.js';
import { bytesOf, registerCustodial, registerWithKeys, startTestNode } from './harness.js';
import type { TestNode } from './harness.js';

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode();
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const CREATE = `mutation($input: CreateEmrInput!) { createEmr(input: $input) { id metadata { cid size mediaType contentHash } summary { category securityLevel } } }`;

it('binary content: POST /blobs, createEmr, then the patient downloads and decrypts it; the ledger verifies; a restart keeps everything', async () => {
  const patient = await registerWithKeys(t, 'PATIENT');
  const doctor = await registerCustodial(t, 'PHYSICIAN');
  const dicom = randomBytes(3 * 1024 * 1024 + 17); // an imaging-sized binary, several envelope segments
  const meta = await doctor.client.uploadBlob(patient.id, dicom, 'application/dicom');
  expect(meta).toMatchObject({ plaintextBytes: dicom.length, mediaType: 'application/dicom', contentHash: createHash('sha256').update(dicom).digest('hex') });
  const { createEmr } = await doctor.client.request<{ createEmr: { id: string; metadata: { cid: string; size: number } } }>(CREATE, {
    input: {
      patientId: patient.id,
      cid: meta.cid,
      size: meta.size,
      contentHash: meta.contentHash,
      capsule: meta.capsule,
      envelopeVersion: meta.envelopeVersion,
      mediaType: meta.mediaType,
      summary: { category: 'MEDICAL_IMAGING', securityLevel: 'PRIVATE', year: 2024, resourceTypes: ['ImagingStudy'], labels: ['R'], codes: ['http://dicom.nema.org/resources/ontology/DCM|CT'] },
    },
  });
  expect(createEmr.metadata).toMatchObject({ cid: meta.cid, size: meta.size });
  // content is recorded once
  await expect(doctor.client.request(CREATE, { input: { patientId: patient.id, cid: meta.cid, size: meta.size, contentHash: meta.contentHash, capsule: meta.capsule, envelopeVersion: 1, mediaType: 'application/dicom', summary: { category: 'MEDICAL_IMAGING', securityLevel: 'PRIVATE', year: 2024 } } })).rejects.toMatchObject({ code: 'CONFLICT' });
  // the capsule must be the envelope's own
  const other = await doctor.client.uploadBlob(patient.id, randomBytes(1000), 'text/csv');
  await expect(doctor.client.request(CREATE, { input: { patientId: patient.id, cid: other.cid, size: other.size, contentHash: other.contentHash, capsule: meta.capsule, envelopeVersion: 1, mediaType: 'text/csv', summary: { category: 'CLINICAL_TRIAL_OBSERVATION', securityLevel: 'LOW', year: 2024 } } })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/capsule/) });
  // the size must be the stored one
  await expect(doctor.client.request(CREATE, { input: { patientId: patient.id, cid: meta.cid, size: meta.size + 1, contentHash: meta.contentHash, capsule: meta.capsule, envelopeVersion: 1, mediaType: 'application/dicom', summary: { category: 'MEDICAL_IMAGING', securityLevel: 'PRIVATE', year: 2024 } } })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });

  const envelope = await bytesOf(await patient.client.downloadBlob(meta.cid));
  const plain: Uint8Array[] = [];
  for await (const p of decryptEmr([envelope], (_h, kb) => openDekWithSecretKey(kb, patient.encryptionKey))) plain.push(p);
  expect(Buffer.concat(plain).equals(dicom)).toBe(true);

  const { ledger } = await patient.client.request<{ ledger: { height: number; lastBlockHash: string; verified: boolean } }>('{ ledger(verify: true) { channel height lastBlockHash verified verificationProblem } }');
  expect(ledger.verified).toBe(true);
  expect(ledger.height).toBe(t.node.devnet!.ledger.height);
  const health = (await (await fetch(`${t.node.url}/health`)).json()) as { status: string; ledgerHeight: number };
  expect(health).toMatchObject({ status: 'ok', ledgerHeight: ledger.height });

  // restart on the same data directory
  const config = t.node.config;
  await t.node.stop();
  const again = await startNode(config, createLogger({ level: 'silent' }));
  try {
    expect(again.bootstrapCode).toBeUndefined();
    expect(again.firstAdminRegistered()).toBe(true);
    expect(again.devnet!.ledger.height).toBe(ledger.height);
    const client = new PieClient(again.url, config.audience);
    const patientAgain = client.as({ participantId: patient.id, signingKey: patient.signingKey });
    const doctorAgain = client.as({ participantId: doctor.id, apiSecret: doctor.apiSecret }); // custody survived
    const { emr } = await patientAgain.request<{ emr: { id: string; metadata: { cid: string } } }>('query($id: ID!) { emr(id: $id) { id metadata { cid } } }', { id: createEmr.id });
    expect(emr.metadata.cid).toBe(meta.cid);
    expect((await bytesOf(await patientAgain.downloadBlob(meta.cid))).equals(envelope)).toBe(true);
    expect((await doctorAgain.request<{ me: { id: string } }>('{ me { id } }')).me.id).toBe(doctor.id);
  } finally {
    await again.stop();
    // let afterAll's stop (already stopped node: idempotent steps) clean up the directory
  }
}, 120_000);
