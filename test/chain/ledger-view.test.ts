// The node's ledger view (participants, access requests, grants, record chains) fed from the dev network's full
// blocks: after a scripted sharing history it answers exactly what the chaincode answers (GetParticipant(s),
// GetRequest, GetGrant, ListGranteeGrants, IsGrantLive); a PieLedger with the read model answers from it without
// evaluating, sees its own writes, and evaluates when the feed is down; a block it cannot read changes nothing.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { contracts } from '../../chaincode/src/index.js';
import { OBJECT_TYPES, canonicalJson, canonicalRecordBytes } from '../../chaincode/src/domain/index.js';
import type { AccessRequest, ActionType, EmrRecord, Grant, GrantLiveness, Participant, RecordSummary, SecurityLevel } from '../../chaincode/src/domain/index.js';
import { LedgerClient, LedgerClientError } from '../../src/chain/client.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import type { SigningIdentity } from '../../src/chain/devnet/msp.js';
import { LedgerView } from '../../src/chain/ledger-view.js';
import { PieLedger, signAction } from '../../src/chain/pie-ledger.js';
import type { SignedRecordInput } from '../../src/chain/pie-ledger.js';
import { ReadModelFeed } from '../../src/chain/read-model-feed.js';
import type { BlockSource } from '../../src/chain/read-model-feed.js';
import { BlockReadError, stateWrites } from '../../src/chain/state-writes.js';
import type { StateWrite } from '../../src/chain/state-writes.js';
import { sealKFrag } from '../../src/crypto/kfrag-seal.js';
import { PublicKey, SecretKey, Signer, generateKFrags } from '../../src/crypto/umbral/index.js';
import { register, signedRecord } from './fixtures/pie-records.js';
import type { Actor } from './fixtures/pie-records.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pubHex = (sk: SecretKey): string => hex(sk.publicKey().toCompressedBytes());

let dir: string;
let net: Devnet;
const clients: LedgerClient[] = [];
const feeds: ReadModelFeed[] = [];
/** the reference: answers only by evaluating the chaincode */
let plain: PieLedger;
let org1: PieLedger;
let org2: PieLedger;
/** started before the history, so that it applied it block by block as it was committed */
let follower: ReadModelFeed;

function ledgerFor(id: SigningIdentity): PieLedger {
  const c = LedgerClient.connect({ endpoint: net.endpoint, channel: net.channelId, chaincode: net.chaincodeName, identity: id });
  clients.push(c);
  return new PieLedger(c);
}

const sourceOf = (l: PieLedger): BlockSource => ({ height: async () => (await l.chainInfo()).height, blocks: (start) => l.client.blocks(start) });

function newFeed(): ReadModelFeed {
  const f = new ReadModelFeed({ source: sourceOf(plain), namespace: net.chaincodeName, retryMs: { min: 20, max: 200 } });
  feeds.push(f);
  return f;
}

const chainHeight = async (): Promise<bigint> => (await plain.chainInfo()).height;

// ---- the history's participants, records, requests and grants

let patientA: Actor;
let patientB: Actor;
let doctor1: Actor; // org 1, author of the records
let doctor2: Actor; // org 2
let doctor3: Actor; // org 2, suspended after approval
let researcher: Actor; // org 2, LOW clearance
let er: Actor; // org 2, emergency physician
let rA1: EmrRecord;
let rA2: EmrRecord;
let rA2v2: EmrRecord; // the patient's new version of rA2
let rB1: EmrRecord;
const participants: Participant[] = [];
const requests: Record<string, AccessRequest> = {};
const grants: Record<string, Grant> = {};
const proxyKeys: { id: string; key: PublicKey }[] = [];

const CATEGORY: Record<SecurityLevel, RecordSummary['category']> = { LOW: 'clinical-trial-observation', MODERATE: 'lifelog-sensor', PRIVATE: 'medical-information' };
const summary = (securityLevel: SecurityLevel): RecordSummary =>
  ({ category: CATEGORY[securityLevel], securityLevel, codes: ['http://loinc.org|4548-4'], year: 2024, resourceTypes: ['Observation'], labels: [] }) as RecordSummary;

const act = (actor: Actor, type: ActionType, payload: Record<string, unknown>) => signAction(actor.signingSk, actor.participant.id, type, payload, net.channelId);

/** Grant terms as a patient's client makes them: real kfrags for the grantee, one sealed to each registered proxy. */
function terms(patient: Actor, grantee: Actor, from = Date.now() - 1_000, until = Date.now() + 3_600_000): Record<string, unknown> {
  const frags = generateKFrags(patient.encryptionSk, grantee.encryptionSk.publicKey(), new Signer(patient.signingSk), 1, proxyKeys.length, true, true);
  return {
    notBefore: new Date(from).toISOString(),
    notAfter: new Date(until).toISOString(),
    threshold: 1,
    shares: proxyKeys.length,
    kfrags: proxyKeys.map((p, i) => ({ proxyId: p.id, ciphertext: sealKFrag(frags[i]!, p.key) })),
  };
}

async function requestAccess(requester: Actor, record: EmrRecord, name: string): Promise<AccessRequest> {
  const via = requester.participant.org === 'Hospital1MSP' ? org1 : org2;
  const { result } = await via.submitAction<AccessRequest>(act(requester, 'request-access', { emrId: record.id, purpose: `purpose ${name}` }));
  return (requests[name] = result);
}

async function approve(patient: Actor, request: AccessRequest, grantee: Actor, name: string): Promise<Grant> {
  const { result } = await org1.submitAction<Grant>(act(patient, 'approve-request', { requestId: request.id, ...terms(patient, grantee) }));
  return (grants[name] = result);
}

async function grantDirectly(patient: Actor, record: EmrRecord, grantee: Actor, name: string, from?: number, until?: number): Promise<Grant> {
  const { result } = await org1.submitAction<Grant>(act(patient, 'grant-access', { emrId: record.id, granteeId: grantee.participant.id, ...terms(patient, grantee, from, until) }));
  return (grants[name] = result);
}

/** The next version of `previous` authored (and signed) by the patient, as a self upload. */
function nextVersionByPatient(previous: EmrRecord, patient: Actor): SignedRecordInput {
  const { authorSignature: _drop, ...fresh } = signedRecord(patient, patient, previous.summary);
  const unsigned = { ...fresh, version: previous.version + 1, previousId: previous.id };
  return { ...unsigned, authorSignature: hex(new Signer(patient.signingSk).sign(canonicalRecordBytes(unsigned as never)).toBEBytes()) } as SignedRecordInput;
}

/** when the short grant ends (it is EXPIRED from then on) */
let expiresAt = 0;

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-ledger-view-'));
  net = await Devnet.start({ dataDir: dir, contracts, organisations: ['Hospital1MSP', 'Hospital2MSP'], fsync: false });
  org1 = ledgerFor(net.admin('Hospital1MSP'));
  org2 = ledgerFor(net.admin('Hospital2MSP'));
  plain = ledgerFor(net.admin('Hospital1MSP'));
  follower = newFeed().start();

  // participants: two patients and the records' author in hospital 1; three physicians and a researcher in hospital 2
  patientA = await register(org1, 'patient', 'PRIVATE');
  patientB = await register(org1, 'patient', 'PRIVATE');
  doctor1 = await register(org1, 'physician', 'PRIVATE');
  doctor2 = await register(org2, 'physician', 'PRIVATE');
  doctor3 = await register(org2, 'physician', 'PRIVATE');
  researcher = await register(org2, 'researcher', 'LOW');
  const erSigning = SecretKey.random();
  const erEncryption = SecretKey.random();
  const { result: erParticipant } = await org2.registerParticipant({ kind: 'physician', clearance: 'PRIVATE', signingKey: pubHex(erSigning), encryptionKey: pubHex(erEncryption), roles: ['emergency'] });
  er = { participant: erParticipant, signingSk: erSigning, encryptionSk: erEncryption };

  // one re-encryption proxy per organisation (their keys seal the kfrags)
  for (const [via, id] of [
    [org1, 'Hospital1MSP.proxy.1'],
    [org2, 'Hospital2MSP.proxy.1'],
  ] as const) {
    const sk = SecretKey.random();
    await via.registerProxy({ id, encryptionKey: pubHex(sk) });
    proxyKeys.push({ id, key: sk.publicKey() });
  }

  rA1 = (await org1.createRecord(signedRecord(patientA, doctor1, summary('LOW')))).result;
  rA2 = (await org1.createRecord(signedRecord(patientA, doctor1, summary('MODERATE')))).result;
  rB1 = (await org1.createRecord(signedRecord(patientB, doctor1, summary('LOW')))).result;

  // approved requests: one stays live, one is revoked, one's grantee is suspended, one's record gets a new version
  await approve(patientA, await requestAccess(doctor2, rA1, 'live'), doctor2, 'live');
  await approve(patientA, await requestAccess(researcher, rA1, 'revoked'), researcher, 'revoked');
  await approve(patientB, await requestAccess(doctor3, rB1, 'suspended'), doctor3, 'suspended');
  await approve(patientA, await requestAccess(doctor2, rA2, 'superseded'), doctor2, 'superseded');
  // a denied request, a pending one
  await requestAccess(researcher, rB1, 'denied');
  requests.denied = (await org1.submitAction<AccessRequest>(act(patientB, 'deny-request', { requestId: requests.denied!.id, reason: 'not for research' }))).result;
  await requestAccess(doctor2, rB1, 'pending');
  // grants without a request: two more on (doctor2, rA1) — one not valid yet, one about to expire — and one on rB1
  await grantDirectly(patientA, rA1, doctor2, 'future', Date.now() + 86_400_000, Date.now() + 2 * 86_400_000);
  expiresAt = Date.now() + 1_500;
  await grantDirectly(patientA, rA1, doctor2, 'expired', Date.now() - 1_000, expiresAt);
  await grantDirectly(patientB, rB1, doctor2, 'direct');
  // break-glass
  grants.emergency = (await org2.submitAction<Grant>(act(er, 'break-glass', { emrId: rB1.id, justification: 'unconscious patient in the emergency room' }))).result;

  // the changes: a revocation, a suspension, a new version
  grants.revoked = (await org1.submitAction<Grant>(act(patientA, 'revoke-grant', { grantId: grants.revoked!.id }))).result;
  doctor3 = { ...doctor3, participant: (await org2.setParticipantStatus(doctor3.participant.id, 'suspended')).result };
  rA2v2 = (await org1.createRecord(nextVersionByPatient(rA2, patientA))).result;

  participants.push(...[patientA, patientB, doctor1, doctor2, doctor3, researcher, er].map((a) => a.participant));
  // the short grant has expired before any comparison
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
}, 120_000);

afterAll(async () => {
  feeds.forEach((f) => f.close());
  clients.forEach((c) => c.close());
  await net?.stop();
  if (dir !== undefined) await fsp.rm(dir, { recursive: true, force: true });
});

// ---- comparing with the chaincode

/** Every page of the chaincode's ListGranteeGrants (pages of one, so that the bookmark is followed). */
async function chaincodeGranteeGrants(granteeId: string, emrId: string): Promise<Grant[]> {
  const out: Grant[] = [];
  let bookmark = '';
  for (let i = 0; i < 20; i++) {
    const page = await plain.listGranteeGrants(granteeId, emrId, { pageSize: 1, bookmark });
    out.push(...page.items);
    bookmark = page.items.length === 0 ? '' : page.bookmark;
    if (bookmark === '') break;
  }
  return out;
}

/** every (grantee, record) pair a grant names, and some that have none */
function pairs(): [string, string][] {
  const seen = new Map<string, [string, string]>();
  for (const g of Object.values(grants)) seen.set(`${g.granteeId}/${g.emrId}`, [g.granteeId, g.emrId]);
  seen.set('none-1', [doctor2.participant.id, rA2v2.id]);
  seen.set('none-2', [researcher.participant.id, rB1.id]); // denied: no grant
  seen.set('none-3', [doctor1.participant.id, rA1.id]);
  return [...seen.values()];
}

/** The view answers what the chaincode answers, object for object; returns the liveness of every grant. */
async function expectAgreement(view: LedgerView): Promise<Record<string, GrantLiveness>> {
  for (const p of participants) expect(view.participant(p.id)).toEqual(await plain.participant(p.id));
  for (const [name, r] of Object.entries(requests)) expect({ name, request: view.request(r.id) }).toEqual({ name, request: await plain.request(r.id) });
  for (const [name, g] of Object.entries(grants)) expect({ name, grant: view.grant(g.id) }).toEqual({ name, grant: await plain.grant(g.id) });
  for (const [granteeId, emrId] of pairs()) {
    expect({ granteeId, emrId, grants: view.granteeGrants(granteeId, emrId) }).toEqual({ granteeId, emrId, grants: await chaincodeGranteeGrants(granteeId, emrId) });
  }
  for (const id of [rA1.id, rA2.id, rA2v2.id, rB1.id]) expect(view.headOfChainContaining(id)).toBe((await plain.recordHead(id)).id);
  const liveness: Record<string, GrantLiveness> = {};
  for (const [name, g] of Object.entries(grants)) {
    const now = new Date().toISOString();
    liveness[name] = await plain.isGrantLive(g.id);
    expect({ name, liveness: view.grantLiveness(g.id, now) }).toEqual({ name, liveness: liveness[name] });
  }
  return liveness;
}

async function failure(p: Promise<unknown>): Promise<LedgerClientError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LedgerClientError);
  return e as LedgerClientError;
}

const described = (e: LedgerClientError) => ({ name: e.name, code: e.code, message: e.message });

/** The evaluate calls made through a spied client: their transaction names. */
const evaluated = (spy: { mock: { calls: unknown[][] } }): string[] => spy.mock.calls.map((c) => c[0] as string);

// ---------------------------------------------------------------------------------------------------------------

describe('LedgerView fed from the dev network', () => {
  test('after the history, followed block by block and replayed from block 0, it answers what the chaincode answers', async () => {
    const height = await chainHeight();
    expect(await follower.caughtUp(height, 10_000)).toBe(true);
    const replay = newFeed().start();
    expect(await replay.whenLive(30_000)).toBe(true);
    expect(await replay.caughtUp(height, 10_000)).toBe(true);

    for (const view of [follower.view, replay.view]) {
      const liveness = await expectAgreement(view);
      // every way a grant ends was in the history (so the comparison covered each rule)
      expect(Object.fromEntries(Object.entries(liveness).map(([name, l]) => [name, l.live ? 'live' : l.reason]))).toEqual({
        live: 'live',
        revoked: 'REVOKED',
        suspended: 'GRANTEE_SUSPENDED',
        superseded: 'SUPERSEDED',
        future: 'NOT_YET_VALID',
        expired: 'EXPIRED',
        direct: 'live',
        emergency: 'live',
      });
    }
    // the history's shapes are in the view: a suspended participant, a denied and a pending request, three grants of
    // one grantee on one record in id order, a rotated chain
    const v = replay.view;
    expect(v.participant(doctor3.participant.id)?.status).toBe('suspended');
    expect(v.request(requests.denied!.id)?.status).toBe('denied');
    expect(v.request(requests.pending!.id)?.status).toBe('pending');
    expect(v.request(requests.live!.id)?.status).toBe('approved');
    const onA1 = v.granteeGrants(doctor2.participant.id, rA1.id).map((g) => g.id);
    expect(onA1).toEqual([grants.live!.id, grants.future!.id, grants.expired!.id].sort());
    expect(v.headOfChainContaining(rA2.id)).toBe(rA2v2.id);
    expect(v.headOfChainContaining('emr-unknown')).toBeUndefined();
    expect(v.grantLiveness('grant-unknown', new Date().toISOString())).toBeUndefined();
    expect(v.height).toBe(replay.index.height);
    // every reader shares the view's objects: they are frozen, down to a grant's sealed kfrags
    const shared = v.grant(grants.live!.id)!;
    expect(Object.isFrozen(shared) && Object.isFrozen(shared.kfrags) && Object.isFrozen(shared.kfrags[0])).toBe(true);
    expect(() => (shared as { revokedAt?: string }).revokedAt = 'now').toThrow(TypeError);
    expect(Object.isFrozen(v.participant(doctor3.participant.id))).toBe(true);
    expect(Object.isFrozen(v.request(requests.live!.id))).toBe(true);
  });

  test('a PieLedger with the read model answers from the view, as the chaincode does, and sees its own writes', async () => {
    const ledger = ledgerFor(net.admin('Hospital1MSP'));
    ledger.useReadModel({ view: follower.view, readyFor: (h) => follower.caughtUp(h, 1000) });
    const evaluate = jest.spyOn(ledger.client, 'evaluate');
    expect(await follower.caughtUp(await chainHeight(), 10_000)).toBe(true);

    // valid ids: the same answers, and no evaluation
    for (const p of participants) expect(await ledger.participant(p.id)).toEqual(await plain.participant(p.id));
    const ids = participants.map((p) => p.id);
    expect(await ledger.participants(ids)).toEqual(await plain.participants(ids));
    for (const r of Object.values(requests)) expect(await ledger.request(r.id)).toEqual(await plain.request(r.id));
    for (const g of Object.values(grants)) {
      expect(await ledger.grant(g.id)).toEqual(await plain.grant(g.id));
      expect(await ledger.isGrantLive(g.id)).toEqual(await plain.isGrantLive(g.id));
    }
    for (const [granteeId, emrId] of pairs()) {
      const page = await ledger.listGranteeGrants(granteeId, emrId);
      expect({ granteeId, emrId, items: page.items }).toEqual({ granteeId, emrId, items: await chaincodeGranteeGrants(granteeId, emrId) });
      expect(page.bookmark).toBe('');
    }
    // a page size the view's answer fits in is still the view's
    const three = await ledger.listGranteeGrants(doctor2.participant.id, rA1.id, { pageSize: 10 });
    expect(three.items).toEqual((await plain.listGranteeGrants(doctor2.participant.id, rA1.id, { pageSize: 10 })).items);
    expect(three.items).toHaveLength(3);
    expect(evaluated(evaluate)).toEqual([]);

    // unknown ids: what the view has not seen (unknown, or in a block still on its way) is asked of the chaincode, so
    // NOT_FOUND is the chaincode's own answer
    const UNKNOWN_PARTICIPANT = 'f'.repeat(32);
    const unknowns: [string, string, (l: PieLedger) => Promise<unknown>][] = [
      ['participant', 'GetParticipant', (l) => l.participant(UNKNOWN_PARTICIPANT)],
      ['participants', 'GetParticipants', (l) => l.participants([participants[0]!.id, UNKNOWN_PARTICIPANT])],
      ['request', 'GetRequest', (l) => l.request('request-unknown')],
      ['grant', 'GetGrant', (l) => l.grant('grant-unknown')],
      ['isGrantLive', 'IsGrantLive', (l) => l.isGrantLive('grant-unknown')],
    ];
    for (const [what, fn, read] of unknowns) {
      if (what === 'participants') {
        expect(await read(ledger)).toEqual([await plain.participant(participants[0]!.id), null]);
      } else {
        const viaView = await failure(read(ledger));
        expect({ what, ...described(viaView) }).toEqual({ what, ...described(await failure(read(plain))) });
        expect(viaView.code).toBe('NOT_FOUND');
      }
      expect({ what, evaluated: evaluated(evaluate) }).toEqual({ what, evaluated: [fn] });
      evaluate.mockClear();
    }
    // a list the view holds is its answer, empty or not
    expect((await ledger.listGranteeGrants(UNKNOWN_PARTICIPANT, rA1.id)).items).toEqual([]);
    expect(evaluated(evaluate)).toEqual([]);

    // malformed ids go to the chaincode, which refuses them with its own message
    const malformed: [string, (l: PieLedger) => Promise<unknown>][] = [
      ['GetParticipant', (l) => l.participant('bad id!')],
      ['GetParticipants', (l) => l.participants([participants[0]!.id, 'bad id!'])],
      ['GetRequest', (l) => l.request('bad id!')],
      ['GetGrant', (l) => l.grant('bad id!')],
      ['IsGrantLive', (l) => l.isGrantLive('bad id!')],
      ['ListGranteeGrants', (l) => l.listGranteeGrants('bad id!', rA1.id)],
      ['ListGranteeGrants', (l) => l.listGranteeGrants(doctor2.participant.id, 'bad id!')],
    ];
    for (const [fn, read] of malformed) {
      evaluate.mockClear();
      const viaView = await failure(read(ledger));
      expect(evaluated(evaluate)).toEqual([fn]);
      expect({ fn, ...described(viaView) }).toEqual({ fn, ...described(await failure(read(plain))) });
      expect(viaView.code).toBe('INVALID_ARGUMENT');
    }

    // a page smaller than the grants, or a continuation, is the chaincode's
    evaluate.mockClear();
    const first = await ledger.listGranteeGrants(doctor2.participant.id, rA1.id, { pageSize: 1 });
    expect(first).toEqual(await plain.listGranteeGrants(doctor2.participant.id, rA1.id, { pageSize: 1 }));
    expect(first.items).toHaveLength(1);
    expect(evaluated(evaluate)).toEqual(['ListGranteeGrants']);

    // read-your-writes: right after its own commits it waits for the view to have the block, then answers from it
    evaluate.mockClear();
    const revoked = await ledger.submitAction<Grant>(act(patientB, 'revoke-grant', { grantId: grants.direct!.id }));
    expect(revoked.result.revokedAt).toBeDefined();
    expect(await ledger.grant(grants.direct!.id)).toEqual(revoked.result);
    expect(await ledger.isGrantLive(grants.direct!.id)).toMatchObject({ live: false, reason: 'REVOKED' });
    expect(await ledger.listGranteeGrants(doctor2.participant.id, rB1.id)).toEqual({ items: [revoked.result], bookmark: '' });
    const asked = await ledger.submitAction<AccessRequest>(act(doctor2, 'request-access', { emrId: rA2v2.id, purpose: 'follow-up' }));
    expect(ledger.committedHeight).toBe(asked.blockNumber + 1n);
    expect(await ledger.request(asked.result.id)).toEqual(asked.result);
    expect(await ledger.request(asked.result.id)).toEqual(await plain.request(asked.result.id));
    expect(evaluated(evaluate)).toEqual([]);
    grants.direct = revoked.result;
    requests.followUp = asked.result;
    evaluate.mockRestore();
  });

  test('fallback: with the feed never started, or closed, PieLedger evaluates and its answers stay right', async () => {
    // never started: not live, so never ready; its view is empty (had it answered, it would have said NOT_FOUND)
    const idle = newFeed();
    const l1 = ledgerFor(net.admin('Hospital1MSP'));
    l1.useReadModel({ view: idle.view, readyFor: (h) => idle.caughtUp(h, 1000) });
    expect(await idle.caughtUp(0n, 100)).toBe(false);
    expect(idle.view.grant(grants.live!.id)).toBeUndefined();
    const spy1 = jest.spyOn(l1.client, 'evaluate');
    expect(await l1.participant(patientA.participant.id)).toEqual(patientA.participant);
    expect(await l1.participants([doctor3.participant.id])).toEqual([doctor3.participant]);
    expect(await l1.request(requests.denied!.id)).toEqual(await plain.request(requests.denied!.id));
    expect(await l1.grant(grants.live!.id)).toEqual(grants.live);
    expect(await l1.isGrantLive(grants.live!.id)).toEqual({ live: true });
    expect((await l1.listGranteeGrants(doctor2.participant.id, rA1.id)).items).toEqual(await chaincodeGranteeGrants(doctor2.participant.id, rA1.id));
    expect(evaluated(spy1)).toEqual(['GetParticipant', 'GetParticipants', 'GetRequest', 'GetGrant', 'IsGrantLive', 'ListGranteeGrants']);

    // closed: its view stops where it was; a later write is answered right all the same (by the chaincode)
    const closed = newFeed().start();
    expect(await closed.whenLive(30_000)).toBe(true);
    expect(await closed.caughtUp(await chainHeight(), 10_000)).toBe(true);
    closed.close();
    expect(closed.state).toBe('closed');
    const l2 = ledgerFor(net.admin('Hospital2MSP'));
    l2.useReadModel({ view: closed.view, readyFor: (h) => closed.caughtUp(h, 1000) });
    const again = await l2.submitAction<AccessRequest>(act(researcher, 'request-access', { emrId: rA1.id, purpose: 'second cohort' }));
    const status = await l2.setParticipantStatus(doctor2.participant.id, 'suspended');
    expect(closed.view.request(again.result.id)).toBeUndefined();
    expect(closed.view.participant(doctor2.participant.id)?.status).toBe('active');
    const spy2 = jest.spyOn(l2.client, 'evaluate');
    expect(await l2.request(again.result.id)).toEqual(again.result);
    expect(await l2.participant(doctor2.participant.id)).toEqual(status.result);
    expect(await l2.isGrantLive(grants.live!.id)).toMatchObject({ live: false, reason: 'GRANTEE_SUSPENDED' });
    expect(closed.view.grantLiveness(grants.live!.id, new Date().toISOString())).toEqual({ live: true }); // what the stale view would have said
    expect(evaluated(spy2)).toEqual(['GetRequest', 'GetParticipant', 'IsGrantLive']);
    // the running feed has it all
    expect(await follower.caughtUp(status.blockNumber + 1n, 10_000)).toBe(true);
    expect(follower.view.request(again.result.id)).toEqual(again.result);
    expect(follower.view.grantLiveness(grants.live!.id, new Date().toISOString())).toMatchObject({ live: false, reason: 'GRANTEE_SUSPENDED' });
    await l2.setParticipantStatus(doctor2.participant.id, 'active');
  });
});

describe('LedgerView.applyBlock', () => {
  const keyOf = (type: string, id: string): string => `\u0000${type}\u0000${id}\u0000`;
  const json = (o: unknown): Uint8Array => new TextEncoder().encode(canonicalJson(o));

  test('a value that does not parse, or is filed under another id, throws BlockReadError and changes nothing; blocks come in order', async () => {
    // the view replayed by hand from the chain's blocks (qscc)
    const view = new LedgerView();
    const height = await chainHeight();
    const blocks = await Promise.all(Array.from({ length: Number(height) }, (_, n) => plain.client.block(n)));
    blocks.forEach((b, n) => view.applyBlock(BigInt(n), stateWrites(b, net.chaincodeName)));
    expect(view.height).toBe(height);
    const live = grants.live!;
    expect(view.grant(live.id)).toEqual(await plain.grant(live.id));

    const snapshot = () => ({
      height: view.height,
      grant: view.grant(live.id),
      onA1: view.granteeGrants(live.granteeId, rA1.id).map((g) => g.id),
      onB1: view.granteeGrants(live.granteeId, rB1.id).map((g) => g.id),
      participant: view.participant(doctor2.participant.id),
      request: view.request(requests.pending!.id),
      head: view.headOfChainContaining(rA1.id),
    });
    const before = snapshot();
    expect(before.onA1).toContain(live.id);

    // a valid write first in each bad block: it must not be applied either
    const newcomer = { ...doctor2.participant, id: 'a'.repeat(32) };
    const good: StateWrite = { key: keyOf(OBJECT_TYPES.participant, newcomer.id), value: json(newcomer), txId: 't0' };
    const bad: [string, StateWrite][] = [
      ['not JSON', { key: keyOf(OBJECT_TYPES.grant, live.id), value: new TextEncoder().encode('{not json'), txId: 't' }],
      ['not a grant', { key: keyOf(OBJECT_TYPES.grant, live.id), value: json({ ...live, threshold: 5 }), txId: 't' }],
      ['filed under another id', { key: keyOf(OBJECT_TYPES.grant, live.id), value: json({ ...live, id: 'grant-other' }), txId: 't' }],
      ['not a request', { key: keyOf(OBJECT_TYPES.request, requests.pending!.id), value: json({ ...requests.pending, status: 'maybe' }), txId: 't' }],
      ['not a participant', { key: keyOf(OBJECT_TYPES.participant, doctor2.participant.id), value: json({ ...doctor2.participant, status: 'gone' }), txId: 't' }],
      ['an empty chain head', { key: keyOf(OBJECT_TYPES.recordHead, rA1.id), value: new Uint8Array(0), txId: 't' }],
    ];
    for (const [what, w] of bad) {
      let thrown: unknown;
      try {
        view.applyBlock(view.height, [good, w]);
      } catch (e) {
        thrown = e;
      }
      expect({ what, error: thrown instanceof BlockReadError ? thrown.code : thrown }).toEqual({ what, error: 'BAD_RECORD' });
      expect(snapshot()).toEqual(before);
      expect(view.participant(newcomer.id)).toBeUndefined();
    }

    // out of order: ahead, again, behind
    expect(() => view.applyBlock(view.height + 1n, [good])).toThrow(RangeError);
    expect(() => view.applyBlock(view.height - 1n, [good])).toThrow(RangeError);
    expect(() => view.applyBlock(0n, [])).toThrow(RangeError);
    expect(snapshot()).toEqual(before);

    // a good block applies (and keeps the grantee-and-record index right when a grant moves, or is deleted)
    const moved = { ...live, emrId: rB1.id };
    view.applyBlock(view.height, [good, { key: keyOf(OBJECT_TYPES.grant, live.id), value: json(moved), txId: 't1' }]);
    expect(view.height).toBe(height + 1n);
    expect(view.participant(newcomer.id)).toEqual(newcomer);
    expect(view.granteeGrants(live.granteeId, rA1.id).map((g) => g.id)).toEqual(before.onA1.filter((id) => id !== live.id));
    expect(view.granteeGrants(live.granteeId, rB1.id).map((g) => g.id)).toEqual([...before.onB1, live.id].sort());
    expect(() => view.applyBlock(height, [])).toThrow(RangeError); // the same block twice
    view.applyBlock(view.height, [{ key: keyOf(OBJECT_TYPES.grant, live.id), value: undefined, txId: 't2' }]);
    expect(view.grant(live.id)).toBeUndefined();
    expect(view.granteeGrants(live.granteeId, rB1.id).map((g) => g.id)).toEqual(before.onB1);
    expect(view.grantLiveness(live.id, new Date().toISOString())).toBeUndefined();
  });
});
