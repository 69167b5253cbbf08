// The PIE contract through the dev network with the unmodified fabric-gateway client (src/chain LedgerClient and
// PieLedger): Algorithm 2 end to end, refusals with the contract's codes, signed actions that a relaying node cannot
// forge or replay, events resumed from a checkpoint, the audit history and credits. The contract's rules in detail
// are tested through the harness in test/chaincode.
import { promises as fsp } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contracts } from '../../chaincode/src/index.js';
import { canonicalRecordBytes, DEFAULT_POLICY } from '../../chaincode/src/domain/index.js';
import type { ActionType, EmrRecord, Grant, Participant, ParticipantKind, SecurityLevel } from '../../chaincode/src/domain/index.js';
import { eventCheckpointers, LedgerClient, LedgerClientError } from '../../src/chain/client.js';
import type { LedgerEvent } from '../../src/chain/client.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import type { SigningIdentity } from '../../src/chain/devnet/msp.js';
import { PieLedger, signAction } from '../../src/chain/pie-ledger.js';
import type { SignedRecordInput } from '../../src/chain/pie-ledger.js';
import { encrypt, SecretKey, Signer } from '../../src/crypto/umbral/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pubHex = (sk: SecretKey): string => hex(sk.publicKey().toCompressedBytes());

let dir: string;
let net: Devnet;
const clients: LedgerClient[] = [];
let admin1: PieLedger;
let admin2: PieLedger;
let node1: PieLedger;

function ledgerFor(id: SigningIdentity): PieLedger {
  const c = LedgerClient.connect({ endpoint: net.endpoint, channel: net.channelId, chaincode: net.chaincodeName, identity: id });
  clients.push(c);
  return new PieLedger(c);
}

interface Actor {
  participant: Participant;
  signingSk: SecretKey;
  encryptionSk: SecretKey;
}

async function register(via: PieLedger, kind: ParticipantKind, clearance: SecurityLevel, roles: string[] = []): Promise<Actor> {
  const signingSk = SecretKey.random();
  const encryptionSk = SecretKey.random();
  const { result } = await via.registerParticipant({ kind, clearance, signingKey: pubHex(signingSk), encryptionKey: pubHex(encryptionSk), roles });
  return { participant: result, signingSk, encryptionSk };
}

let seq = 0;
function signedRecord(patient: Actor, author: Actor, level: SecurityLevel): SignedRecordInput {
  const [capsule] = encrypt(patient.encryptionSk.publicKey(), randomBytes(32));
  const n = ++seq;
  const unsigned = {
    id: `emr-${n}-${randomBytes(4).toString('hex')}`,
    version: 1,
    patientId: patient.participant.id,
    authorId: author.participant.id,
    hospital: author.participant.org,
    summary: {
      category: level === 'LOW' ? 'clinical-trial-observation' : 'medical-information',
      securityLevel: level,
      codes: ['http://loinc.org|4548-4'],
      year: 2024,
      resourceTypes: ['Observation'],
      labels: [level === 'LOW' ? 'L' : 'R'],
    },
    metadata: {
      cid: `bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3ocl${String(n).padStart(10, 'a').replace(/[0-9]/g, (d) => 'abcdefghij'[Number(d)]!)}`,
      size: 2048,
      mediaType: 'application/fhir+json',
      contentHash: createHash('sha256').update(`content-${n}`).digest('hex'),
      capsule: Buffer.from(capsule.toBytes()).toString('base64'),
      envelopeVersion: 1,
    },
    policy: DEFAULT_POLICY,
  };
  const authorSignature = hex(new Signer(author.signingSk).sign(canonicalRecordBytes(unsigned as never)).toBEBytes());
  return { ...unsigned, authorSignature } as SignedRecordInput;
}

const act = (actor: Actor, type: ActionType, payload: Record<string, unknown>) => signAction(actor.signingSk, actor.participant.id, type, payload, net.channelId);

async function refusal(p: Promise<unknown>): Promise<LedgerClientError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LedgerClientError);
  return e as LedgerClientError;
}

let patient: Actor;
let doctor: Actor;
let researcher: Actor;
let er: Actor;

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-chain-'));
  net = await Devnet.start({ dataDir: dir, contracts, organisations: ['Hospital1MSP', 'Hospital2MSP'], fsync: false });
  admin1 = ledgerFor(net.admin('Hospital1MSP'));
  admin2 = ledgerFor(net.admin('Hospital2MSP'));
  node1 = ledgerFor(await net.issue('Hospital1MSP', 'pie-node'));
  patient = await register(admin1, 'patient', 'PRIVATE');
  doctor = await register(admin1, 'physician', 'PRIVATE');
  researcher = await register(admin2, 'researcher', 'LOW');
  er = await register(admin2, 'physician', 'PRIVATE', ['emergency']);
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await net.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('PIE contract on the dev network (real gateway client)', () => {
  test('registration: org admins only; participants carry their org and pseudonymous id', async () => {
    expect(patient.participant).toMatchObject({ kind: 'patient', org: 'Hospital1MSP', status: 'active' });
    expect(patient.participant.id).toMatch(/^[0-9a-f]{32}$/);
    expect(researcher.participant.org).toBe('Hospital2MSP');
    const e = await refusal(register(node1, 'patient', 'PRIVATE'));
    expect(e.code).toBe('FORBIDDEN');
    expect(await node1.participant(doctor.participant.id)).toEqual(doctor.participant);
  });

  test('Algorithm 2 end to end: record, search, request, approval, served access, revocation, audit, credits', async () => {
    const checkpoint = eventCheckpointers.inMemory();
    const startBlock = BigInt(net.ledger.height);
    const { result: record, blockNumber } = await node1.createRecord(signedRecord(patient, doctor, 'LOW'));
    expect(record).toMatchObject({ patientId: patient.participant.id, hospital: 'Hospital1MSP', version: 1 });
    expect(blockNumber).toBeGreaterThanOrEqual(startBlock);

    const found = await admin2.searchRecords('patient', [patient.participant.id]);
    expect(found.items.map((r) => r.id)).toContain(record.id);

    // The researcher's request (relayed by hospital 2's node), the patient's approval (relayed by hospital 1's).
    const { result: request } = await admin2.submitAction<{ id: string; status: string }>(act(researcher, 'request-access', { emrId: record.id, purpose: 'cohort study' }));
    expect(request.status).toBe('pending');
    const now = Date.now();
    const { result: grant } = await node1.submitAction<Grant>(
      act(patient, 'approve-request', {
        requestId: request.id,
        notBefore: new Date(now).toISOString(),
        notAfter: new Date(now + 86_400_000).toISOString(),
        threshold: 1,
        shares: 1,
        kfrags: [{ proxyId: 'proxy-hospital1', ciphertext: randomBytes(64).toString('base64') }],
      }),
    );
    expect(grant).toMatchObject({ emrId: record.id, granteeId: researcher.participant.id, requestId: request.id });
    expect(await admin2.isGrantLive(grant.id)).toMatchObject({ live: true });

    // A proxy serves only after this operation record commits.
    const { result: op } = await admin2.submitAction<{ id: string }>(act(researcher, 'record-operation', { kind: 'reencrypt', emrId: record.id, grantId: grant.id }));
    expect(await node1.operation(op.id)).toMatchObject({ kind: 'reencrypt', actorId: researcher.participant.id, grantId: grant.id });
    expect(await node1.credits('participant', patient.participant.id)).toBe(2); // approval + served access
    expect(await node1.credits('org', 'Hospital1MSP')).toBe(2);

    await node1.submitAction(act(patient, 'revoke-grant', { grantId: grant.id }));
    expect(await admin2.isGrantLive(grant.id)).toMatchObject({ live: false });
    const after = await refusal(admin2.submitAction(act(researcher, 'record-operation', { kind: 'reencrypt', emrId: record.id, grantId: grant.id })));
    expect(after.code).toBe('FORBIDDEN');

    const history = await node1.history<Grant>('grant', grant.id);
    expect(history).toHaveLength(2);
    expect(history[0]!.value?.revokedAt).toBeDefined();
    expect(history[1]!.value?.revokedAt).toBeUndefined();

    // The same story as events, read back from the start block and resumed from a checkpoint.
    const names: string[] = [];
    const abort = new AbortController();
    for await (const e of node1.events({ startBlock, signal: abort.signal })) {
      names.push(e.name);
      if (names.length === 3) {
        await checkpoint.checkpointChaincodeEvent({ blockNumber: e.blockNumber, transactionId: e.transactionId } as never);
        abort.abort();
      }
    }
    expect(names).toEqual(['RecordCreated', 'AccessRequested', 'AccessGranted']);
    const rest: LedgerEvent<Record<string, unknown>>[] = [];
    const abort2 = new AbortController();
    for await (const e of node1.events({ checkpoint, signal: abort2.signal })) {
      rest.push(e);
      if (rest.length === 2) abort2.abort();
    }
    expect(rest.map((e) => e.name)).toEqual(['AccessRecorded', 'GrantRevoked']);
    expect(rest[1]!.payload).toMatchObject({ grantId: grant.id, patientId: patient.participant.id });
  });

  test('refusals carry the contract code and reason', async () => {
    const { result: privateRecord } = await node1.createRecord(signedRecord(patient, doctor, 'PRIVATE'));
    const low = await refusal(admin2.submitAction(act(researcher, 'request-access', { emrId: privateRecord.id, purpose: 'study' })));
    expect(low.code).toBe('FORBIDDEN');
    expect(low.message).toMatch(/^CLEARANCE_BELOW_LEVEL: /);
    // A record relayed by an organisation that is not the author's.
    const foreign = await refusal(admin2.createRecord(signedRecord(patient, doctor, 'LOW')));
    expect(foreign.code).toBe('FORBIDDEN');
    // A record whose author signature does not match.
    const bad = signedRecord(patient, doctor, 'LOW');
    const forged = await refusal(node1.createRecord({ ...bad, authorSignature: hex(new Signer(SecretKey.random()).sign(canonicalRecordBytes(bad as never)).toBEBytes()) }));
    expect(forged.code).toBe('BAD_SIGNATURE');
    expect(await refusal(node1.record('no-such-record')).then((e) => e.code)).toBe('NOT_FOUND');
  });

  test('a relaying node can neither forge nor replay a participant’s action', async () => {
    const { result: record } = await node1.createRecord(signedRecord(patient, doctor, 'LOW'));
    const forged = signAction(SecretKey.random(), researcher.participant.id, 'request-access', { emrId: record.id, purpose: 'x' }, net.channelId);
    expect((await refusal(admin2.submitAction(forged))).code).toBe('BAD_SIGNATURE');
    const genuine = act(researcher, 'request-access', { emrId: record.id, purpose: 'study' });
    await admin2.submitAction(genuine);
    expect((await refusal(admin2.submitAction(genuine))).code).toBe('CONFLICT');
  });

  test('break-glass: an emergency physician gets a short flagged grant, listed for the patient', async () => {
    const { result: record } = await node1.createRecord(signedRecord(patient, doctor, 'PRIVATE'));
    const { result: grant } = await admin2.submitAction<Grant>(act(er, 'break-glass', { emrId: record.id, justification: 'unconscious patient in the emergency room' }));
    expect(grant.emergency?.justification).toMatch(/unconscious/);
    expect(Date.parse(grant.notAfter) - Date.parse(grant.notBefore)).toBeLessThanOrEqual(3_600_000);
    const listed = await node1.listEmergencyGrants(patient.participant.id);
    expect(listed.items.map((g) => g.id)).toContain(grant.id);
    const refused = await refusal(admin2.submitAction(act(researcher, 'break-glass', { emrId: record.id, justification: 'I would like to see it now' })));
    expect(refused.code).toBe('FORBIDDEN');
  });

  test('data version update: the new version links to the old one and becomes the head', async () => {
    const { result: v1 } = await node1.createRecord(signedRecord(patient, doctor, 'LOW'));
    const next = signedRecord(patient, doctor, 'LOW');
    const v2input = { ...next, id: `${v1.id}-v2`, version: 2, previousId: v1.id };
    const { authorSignature: _drop, ...unsigned } = v2input;
    const v2signed = { ...unsigned, authorSignature: hex(new Signer(doctor.signingSk).sign(canonicalRecordBytes(unsigned as never)).toBEBytes()) } as SignedRecordInput;
    const { result: v2 } = await node1.createRecord(v2signed);
    expect((await node1.recordHead(v1.id)).id).toBe(v2.id);
    expect((await node1.recordVersions(v2.id)).map((r: EmrRecord) => r.version)).toEqual([1, 2]);
  });
});
