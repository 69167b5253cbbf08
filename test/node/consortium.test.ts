// Two organisations' nodes on one Fabric-compatible network: the dev network runs standalone with Hospital1MSP and
// Hospital2MSP, and each node connects to it in Fabric mode (PIE_LEDGER=fabric) with its organisation's admin
// identity, as it would to a real Fabric gateway peer. Through HTTP:
// - the ledger status comes from Fabric's qscc GetChainInfo (height and newest block hash; verified is null);
// - EmrRecord.transactionId / blockNumber come from qscc GetBlockByTxID, one lookup per distinct transaction;
// - setParticipantStatus: an org admin suspends and reactivates its own organisation's participant; a suspended
//   participant's tokens are refused; non-admins, the other organisation's admin, unknown ids and bad statuses are
//   refused with their codes.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { contracts } from '../../chaincode/src/index.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import { PieClient } from '../../src/client/index.js';
import { registerCustodial, registerWithKeys, refused, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';
import { smallBundle } from './small-bundle.js';

let dir: string;
let net: Devnet;
let a: TestNode; // Hospital1MSP
let b: TestNode; // Hospital2MSP

function fabricEnv(org: string): Record<string, string> {
  const details = net.connectionDetails();
  const o = details.organisations.find((x) => x.mspId === org)!;
  return {
    PIE_ORG: org,
    PIE_LEDGER: 'fabric',
    PIE_FABRIC_ENDPOINT: details.endpoint,
    PIE_FABRIC_CHANNEL: details.channel,
    PIE_FABRIC_CHAINCODE: details.chaincode,
    PIE_FABRIC_CERT: o.admin.certPath,
    PIE_FABRIC_KEY: o.admin.keyPath,
  };
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-consortium-'));
  net = await Devnet.start({ dataDir: dir, contracts, organisations: ['Hospital1MSP', 'Hospital2MSP'], fsync: false, batch: { batchTimeoutMs: 5 } });
  a = await startTestNode(fabricEnv('Hospital1MSP'));
  b = await startTestNode(fabricEnv('Hospital2MSP'));
}, 120_000);
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await net?.stop();
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

const LEDGER = '{ ledger(verify: true) { channel height lastBlockHash verified verificationProblem } }';

describe('the ledger status of a node on a Fabric gateway (qscc GetChainInfo)', () => {
  it('both nodes report the network’s height and newest block hash; verification is the peer’s (null)', async () => {
    for (const t of [a, b]) {
      expect(t.node.devnet).toBeUndefined();
      const { ledger } = await t.admin.request<{ ledger: Record<string, unknown> }>(LEDGER);
      expect(ledger).toEqual({
        channel: 'pie',
        height: net.ledger.height,
        lastBlockHash: Buffer.from(net.ledger.tipHash).toString('hex'),
        verified: null,
        verificationProblem: null,
      });
    }
    const health = (await (await fetch(`${b.node.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toEqual({ status: 'ok', organisation: 'Hospital2MSP', ledgerHeight: net.ledger.height });
  });

  it('the height follows the commits', async () => {
    const before = (await a.admin.request<{ ledger: { height: number } }>('{ ledger { height } }')).ledger.height;
    await registerWithKeys(a, 'PATIENT');
    const after = (await b.admin.request<{ ledger: { height: number; lastBlockHash: string } }>('{ ledger { height lastBlockHash } }')).ledger;
    expect(after.height).toBe(before + 1);
    expect(after.lastBlockHash).toBe(Buffer.from(net.ledger.tipHash).toString('hex'));
  });
});

interface RecordNode {
  id: string;
  transactionId: string | null;
  blockNumber: number | null;
}

describe('EmrRecord.transactionId and blockNumber', () => {
  let patient: KeyHolder;
  const expected = new Map<string, { transactionId: string; blockNumber: number }>();

  beforeAll(async () => {
    patient = await registerWithKeys(a, 'PATIENT');
    const doctor = await registerCustodial(a, 'PHYSICIAN');
    const { ingestFhir } = await doctor.client.request<{ ingestFhir: { records: RecordNode[]; transactionId: string; blockNumber: number } }>(
      'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id transactionId blockNumber } transactionId blockNumber } }',
      { b: smallBundle(), p: patient.id },
    );
    expect(ingestFhir.records.length).toBeGreaterThanOrEqual(2);
    // the payload's records carry their transaction and block
    for (const r of ingestFhir.records) {
      expect(r).toEqual({ id: r.id, transactionId: ingestFhir.transactionId, blockNumber: ingestFhir.blockNumber });
      expected.set(r.id, { transactionId: ingestFhir.transactionId, blockNumber: ingestFhir.blockNumber });
    }
    const blob = await doctor.client.uploadBlob(patient.id, randomBytes(2000), 'text/csv');
    const created = await doctor.client.createEmr({ patientId: patient.id, ...blob, summary: { category: 'CLINICAL_TRIAL_OBSERVATION', securityLevel: 'LOW', year: 2024 } });
    expect(created.blockNumber).toBeGreaterThan(ingestFhir.blockNumber);
    expected.set(created.id, { transactionId: created.transactionId, blockNumber: created.blockNumber! });
  }, 60_000);

  it('through the other organisation’s node, which never saw the transactions: the block of each, one qscc lookup per transaction', async () => {
    // the patient's own client, pointed at hospital 2's node (same ledger, that node's audience)
    const viaB = new PieClient(b.node.url, b.node.config.audience, { participantId: patient.id, signingKey: patient.signingKey });
    // a node answers searches as of its read model's height: hospital 2's has to have received hospital 1's last block
    expect(await b.node.services.recordIndex!.readyFor(BigInt(net.ledger.height))).toBe(true);
    const lookups = jest.spyOn(b.node.services.ledger.client, 'transactionBlockNumber');
    const { emrs } = await viaB.request<{ emrs: { edges: { node: RecordNode }[] } }>('{ emrs(first: 100) { edges { node { id transactionId blockNumber } } } }');
    const calls = lookups.mock.calls.map((c) => c[0]);
    lookups.mockRestore();
    expect(new Map(emrs.edges.map((e) => [e.node.id, { transactionId: e.node.transactionId, blockNumber: e.node.blockNumber }]))).toEqual(expected);
    expect(calls.sort()).toEqual([...new Set([...expected.values()].map((v) => v.transactionId))].sort());
    // each block really holds its transaction
    for (const { transactionId, blockNumber } of expected.values()) expect(net.ledger.txStatus(transactionId)?.blockNum).toBe(blockNumber);
    // asked again, the node answers from what it learnt: no lookup
    const again = jest.spyOn(b.node.services.ledger.client, 'transactionBlockNumber');
    await viaB.request('{ emrs(first: 100) { edges { node { blockNumber } } } }');
    expect(again).not.toHaveBeenCalled();
    again.mockRestore();
  });
});

const SET_STATUS = 'mutation($id: ID!, $s: ParticipantStatus!) { setParticipantStatus(participantId: $id, status: $s) { id status org } }';

describe('setParticipantStatus', () => {
  let physician: KeyHolder;
  beforeAll(async () => {
    physician = await registerWithKeys(a, 'PHYSICIAN');
  });

  it('the organisation’s admin suspends a participant, whose tokens are then refused; reactivated, they are accepted again', async () => {
    expect((await physician.client.request<{ me: { status: string } }>('{ me { status } }')).me.status).toBe('ACTIVE');
    const { setParticipantStatus: suspended } = await a.admin.request<{ setParticipantStatus: Record<string, string> }>(SET_STATUS, { id: physician.id, s: 'SUSPENDED' });
    expect(suspended).toEqual({ id: physician.id, status: 'SUSPENDED', org: 'Hospital1MSP' });
    // at once on the node that suspended it (its cache entry is dropped) ...
    await refused(physician.client.request('{ me { id } }'), 'UNAUTHENTICATED', /UNKNOWN_PARTICIPANT|suspended/);
    await expect(physician.client.uploadBlob(physician.id, new Uint8Array([1]), 'text/plain')).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    // ... and on any other node within its 1 s participant cache
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const viaB = new PieClient(b.node.url, b.node.config.audience, { participantId: physician.id, signingKey: physician.signingKey });
    await refused(viaB.request('{ me { id } }'), 'UNAUTHENTICATED', /UNKNOWN_PARTICIPANT|suspended/);
    // suspending twice is a CONFLICT
    await refused(a.admin.request(SET_STATUS, { id: physician.id, s: 'SUSPENDED' }), 'CONFLICT', /already suspended/);

    const { setParticipantStatus: active } = await a.admin.request<{ setParticipantStatus: Record<string, string> }>(SET_STATUS, { id: physician.id, s: 'ACTIVE' });
    expect(active).toMatchObject({ id: physician.id, status: 'ACTIVE' });
    expect((await physician.client.request<{ me: { id: string; status: string } }>('{ me { id status } }')).me).toEqual({ id: physician.id, status: 'ACTIVE' });
  });

  it('by a patient, a physician (custodial or not) or a researcher: FORBIDDEN, and nothing changes', async () => {
    const patient = await registerWithKeys(a, 'PATIENT');
    const custodial = await registerCustodial(a, 'PHYSICIAN');
    const researcher = await registerWithKeys(a, 'RESEARCHER', { clearance: 'LOW' });
    for (const c of [patient.client, custodial.client, researcher.client, physician.client]) {
      await refused(c.request(SET_STATUS, { id: custodial.id, s: 'SUSPENDED' }), 'FORBIDDEN', /setParticipantStatus: only a org-admin/);
      await refused(c.request(SET_STATUS, { id: patient.id, s: 'SUSPENDED' }), 'FORBIDDEN');
    }
    expect((await custodial.client.request<{ me: { status: string } }>('{ me { status } }')).me.status).toBe('ACTIVE');
    expect((await patient.client.request<{ me: { status: string } }>('{ me { status } }')).me.status).toBe('ACTIVE');
  });

  it('by the other organisation’s admin: FORBIDDEN on its own node (not its participant) and on this one (not its node)', async () => {
    const height = net.ledger.height;
    // hospital 2's admin, on hospital 2's node, about a participant of hospital 1
    await refused(b.admin.request(SET_STATUS, { id: physician.id, s: 'SUSPENDED' }), 'FORBIDDEN', /belongs to Hospital1MSP; only an admin of that organisation/);
    // hospital 2's admin with a token for hospital 1's node
    const admin2AtA = new PieClient(a.node.url, a.node.config.audience, b.admin.credentials);
    await refused(admin2AtA.request(SET_STATUS, { id: physician.id, s: 'SUSPENDED' }), 'FORBIDDEN', /this node administers participants of Hospital1MSP/);
    expect(net.ledger.height).toBe(height);
    expect((await physician.client.request<{ me: { status: string } }>('{ me { status } }')).me.status).toBe('ACTIVE');
    // and it does administer its own organisation's participants
    const own = await registerWithKeys(b, 'PATIENT');
    const { setParticipantStatus } = await b.admin.request<{ setParticipantStatus: Record<string, string> }>(SET_STATUS, { id: own.id, s: 'SUSPENDED' });
    expect(setParticipantStatus).toEqual({ id: own.id, status: 'SUSPENDED', org: 'Hospital2MSP' });
  });

  it('an unknown participant is NOT_FOUND; a malformed id and an unknown status are BAD_USER_INPUT; an admin may not change its own status', async () => {
    await refused(a.admin.request(SET_STATUS, { id: randomBytes(16).toString('hex'), s: 'SUSPENDED' }), 'NOT_FOUND', /participant [0-9a-f]{32} not found/);
    await refused(a.admin.request(SET_STATUS, { id: 'not-an-id', s: 'SUSPENDED' }), 'BAD_USER_INPUT', /participantId: must be a participant id/);
    await refused(a.admin.request(SET_STATUS, { id: physician.id, s: 'BANNED' }), 'BAD_USER_INPUT', /BANNED/);
    await refused(a.admin.request(SET_STATUS, { id: physician.id, s: 'suspended' }), 'BAD_USER_INPUT');
    const me = (await a.admin.request<{ me: { id: string } }>('{ me { id } }')).me.id;
    await refused(a.admin.request(SET_STATUS, { id: me, s: 'SUSPENDED' }), 'FORBIDDEN', /may not change its own status/);
  });
});
