// The node through HTTP with a real GraphQL client: register, ingest a Synthea bundle as the treating physician,
// search, and read back as the patient's client, decrypting locally.
import { createHash } from 'node:crypto';
import { decryptEmr, openDekWithSecretKey } from '../../src/crypto/envelope/index.js';
import { PATIENT_FILES, readSample } from '../fhir/samples.js';
import { bytesOf, registerCustodial, registerWithKeys, startTestNode } from './harness.js';
import type { TestNode } from './harness.js';

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode();
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

describe('PIE node over HTTP', () => {
  it('ingests a patient bundle as a custodial physician; the patient finds and decrypts the records locally', async () => {
    const patient = await registerWithKeys(t, 'PATIENT');
    const doctor = await registerCustodial(t, 'PHYSICIAN');
    const bundle = readSample(PATIENT_FILES[0]!);
    const { ingestFhir } = await doctor.client.request<{ ingestFhir: { records: { id: string; summary: { category: string } }[]; transactionId: string } }>(
      'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id summary { category securityLevel year } } transactionId blockNumber } }',
      { b: bundle, p: patient.id },
    );
    expect(ingestFhir.records.length).toBeGreaterThan(1);

    const { emrs } = await patient.client.request<{ emrs: { edges: { node: { id: string; metadata: { cid: string; contentHash: string; size: number } } }[] } }>(
      '{ emrs(first: 100) { edges { cursor node { id patientId metadata { cid contentHash size capsule } author { id kind } signatureValid grants { id kind live } accessRequests { id } transactionId versions { id } } } pageInfo { hasNextPage endCursor } } }',
    );
    expect(emrs.edges.length).toBe(Math.min(100, ingestFhir.records.length));
    const first = emrs.edges[0]!.node;
    // nothing shared yet; the version chain is the record itself; the transaction is the upload's
    expect(first).toMatchObject({ grants: [], accessRequests: [], versions: [{ id: first.id }], transactionId: ingestFhir.transactionId, signatureValid: true });
    const envelope = await bytesOf(await patient.client.downloadBlob(first.metadata.cid));
    expect(envelope.length).toBe(first.metadata.size);
    const parts: Uint8Array[] = [];
    for await (const p of decryptEmr([envelope], (_header, kb) => openDekWithSecretKey(kb, patient.encryptionKey))) parts.push(p);
    const plaintext = Buffer.concat(parts);
    expect(createHash('sha256').update(plaintext).digest('hex')).toBe(first.metadata.contentHash);
    expect(JSON.parse(plaintext.toString('utf8'))).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
  }, 120_000);
});
