// DataLoader: a page of 100 records with their authors and patients costs a bounded number of ledger reads (one
// batched participant read, answered by the node's read model), not one per field; their transactions' block numbers cost one lookup per distinct
// transaction, not one per record.
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

const INGEST = 'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id } transactionId blockNumber } }';
/** per record id, the upload that recorded it */
const uploads = new Map<string, { transactionId: string; blockNumber: number }>();
let doctorClient: { request<T>(q: string): Promise<T> };
const PAGE = `{ emrs(first: 100) { edges { node { id author { id kind } patient { id kind } signatureValid } } pageInfo { hasNextPage } } }`;

it('a page of 100 records with authors and patients costs a few evaluations, independent of the page size', async () => {
  const doctors = [await registerCustodial(t, 'PHYSICIAN'), await registerCustodial(t, 'PHYSICIAN')];
  let stored = 0;
  for (const [i, file] of PATIENT_FILES.entries()) {
    const patient = await registerWithKeys(t, 'PATIENT');
    const r = await doctors[i % 2]!.client.request<{ ingestFhir: { records: { id: string }[]; transactionId: string; blockNumber: number } }>(INGEST, {
      b: readSample(file),
      p: patient.id,
    });
    stored += r.ingestFhir.records.length;
    for (const { id } of r.ingestFhir.records) uploads.set(id, { transactionId: r.ingestFhir.transactionId, blockNumber: r.ingestFhir.blockNumber });
  }
  expect(stored).toBeGreaterThan(100);
  doctorClient = doctors[0]!.client;

  const evaluate = jest.spyOn(t.node.services.ledger.client, 'evaluate');
  const participantReads = jest.spyOn(t.node.services.ledger, 'participants');
  const { emrs } = await doctors[0]!.client.request<{ emrs: { edges: { node: { author: { id: string }; patient: { id: string }; signatureValid: boolean } }[] } }>(PAGE);
  expect(emrs.edges).toHaveLength(100);
  expect(new Set(emrs.edges.map((e) => e.node.author.id)).size).toBe(2);
  expect(new Set(emrs.edges.map((e) => e.node.patient.id)).size).toBeGreaterThan(1);
  expect(emrs.edges.every((e) => e.node.signatureValid)).toBe(true);
  const calls = evaluate.mock.calls.map((c) => c[0]);
  const batches = participantReads.mock.calls.map((c) => c[0]);
  evaluate.mockRestore();
  participantReads.mockRestore();
  // ONE batched read of all authors and patients, which the node's read model answers without an evaluation;
  // at most the caller's authentication and the search's ledger pages (100 per page, one more to know there is a
  // next page) are evaluated
  expect(batches).toHaveLength(1);
  expect(new Set(batches[0])).toEqual(new Set(emrs.edges.flatMap((e) => [e.node.author.id, e.node.patient.id])));
  expect(calls.filter((fn) => fn === 'GetParticipants')).toHaveLength(0);
  expect(calls.filter((fn) => fn === 'GetParticipant').length).toBeLessThanOrEqual(2);
  expect(calls.filter((fn) => fn === 'SearchRecords').length).toBeLessThanOrEqual(2);
  expect(calls.length).toBeLessThanOrEqual(5);
}, 180_000);

it('transactionId and blockNumber of a page of 100 records: one block lookup per distinct transaction, the upload’s own', async () => {
  const { ledger } = t.node.services;
  const histories = jest.spyOn(ledger, 'history');
  const lookups = jest.spyOn(ledger, 'transactionBlockNumber');
  const { emrs } = await doctorClient.request<{ emrs: { edges: { node: { id: string; transactionId: string; blockNumber: number } }[] } }>(
    '{ emrs(first: 100) { edges { node { id transactionId blockNumber } } } }',
  );
  const historyCalls = histories.mock.calls.length;
  const lookupCalls = lookups.mock.calls.map((c) => c[0]);
  histories.mockRestore();
  lookups.mockRestore();
  expect(emrs.edges).toHaveLength(100);
  for (const { node } of emrs.edges) expect({ id: node.id, transactionId: node.transactionId, blockNumber: node.blockNumber }).toEqual({ id: node.id, ...uploads.get(node.id) });
  const transactions = new Set(emrs.edges.map((e) => e.node.transactionId));
  expect(transactions.size).toBeGreaterThan(1);
  expect(transactions.size).toBeLessThan(100);
  // one history read per record (transactionId and blockNumber share it), one block lookup per transaction
  expect(historyCalls).toBe(100);
  expect(lookupCalls.sort()).toEqual([...transactions].sort());
}, 60_000);
