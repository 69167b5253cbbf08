// DataLoader: a page of 100 records with their authors and patients costs a bounded number of ledger evaluations
// (one batched participant read), not one per field.
import { jest } from '@jest/globals';
import { PATIENT_FILES, readSample } from '../fhir/samples.js';
import { registerCustodial, registerWithKeys, startTestNode } from './harness.js';
import type { TestNode } from './harness.js';

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode();
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const INGEST = 'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id } } }';
const PAGE = `{ emrs(first: 100) { edges { node { id author { id kind } patient { id kind } signatureValid } } pageInfo { hasNextPage } } }`;

it('a page of 100 records with authors and patients costs a few evaluations, independent of the page size', async () => {
  const doctors = [await registerCustodial(t, 'PHYSICIAN'), await registerCustodial(t, 'PHYSICIAN')];
  let stored = 0;
  for (const [i, file] of PATIENT_FILES.entries()) {
    const patient = await registerWithKeys(t, 'PATIENT');
    const r = await doctors[i % 2]!.client.request<{ ingestFhir: { records: unknown[] } }>(INGEST, { b: readSample(file), p: patient.id });
    stored += r.ingestFhir.records.length;
  }
  expect(stored).toBeGreaterThan(100);

  const evaluate = jest.spyOn(t.node.services.ledger.client, 'evaluate');
  const { emrs } = await doctors[0]!.client.request<{ emrs: { edges: { node: { author: { id: string }; patient: { id: string }; signatureValid: boolean } }[] } }>(PAGE);
  expect(emrs.edges).toHaveLength(100);
  expect(new Set(emrs.edges.map((e) => e.node.author.id)).size).toBe(2);
  expect(new Set(emrs.edges.map((e) => e.node.patient.id)).size).toBeGreaterThan(1);
  expect(emrs.edges.every((e) => e.node.signatureValid)).toBe(true);
  const calls = evaluate.mock.calls.map((c) => c[0]);
  evaluate.mockRestore();
  // authentication (the caller), ledger pages of the search (100 per page, one more to know there is a next page),
  // and ONE batched read of all authors and patients
  expect(calls.filter((fn) => fn === 'GetParticipants')).toHaveLength(1);
  expect(calls.filter((fn) => fn === 'GetParticipant').length).toBeLessThanOrEqual(2);
  expect(calls.filter((fn) => fn === 'SearchRecords').length).toBeLessThanOrEqual(2);
  expect(calls.length).toBeLessThanOrEqual(5);
}, 180_000);
