// The audit trail, its FHIR AuditEvents and credits on a real node: every operation record of every version and
// every break-glass grant is on a record's (and the patient's) trail; auditEvents renders that trail as a valid FHIR
// R4 Bundle; approvals and served accesses (re-encryptions) credit the patient and the organisation.
import { randomBytes } from 'node:crypto';
import type { Bundle, AuditEvent } from '@medplum/fhirtypes';
import { CREDIT_AMOUNTS } from '../../chaincode/src/domain/index.js';
import type { Grant, OperationRecord } from '../../chaincode/src/domain/index.js';
import type { BlobMetadata } from '../../src/client/index.js';
import { Signer } from '../../src/crypto/umbral/index.js';
import { ActionPayloads } from '../../src/exchange/action-payloads.js';
import { isBlocking, validateFhirResource } from '../../src/fhir/validate.js';
import { hex, registerWithKeys, refused, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';
import { reencrypt, requestAndApprove, signed } from './ledger-actions.js';

let t: TestNode;
let author: KeyHolder;
let patient: KeyHolder;
let reader: KeyHolder; // a physician who asks the patient for access
let er: KeyHolder; // an emergency physician
beforeAll(async () => {
  t = await startTestNode();
  author = await registerWithKeys(t, 'PHYSICIAN');
  patient = await registerWithKeys(t, 'PATIENT');
  reader = await registerWithKeys(t, 'PHYSICIAN');
  er = await registerWithKeys(t, 'PHYSICIAN', { roles: ['emergency'] });
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const SUMMARY = { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2024, resourceTypes: ['Observation'] };
const contentOf = (m: BlobMetadata) => ({ cid: m.cid, size: m.size, contentHash: m.contentHash, capsule: m.capsule, envelopeVersion: m.envelopeVersion });

async function newRecord(): Promise<string> {
  const blob = await author.client.uploadBlob(patient.id, randomBytes(800), 'text/csv');
  return (await author.client.createEmr({ patientId: patient.id, ...contentOf(blob), mediaType: 'text/csv', summary: SUMMARY })).id;
}

/** The patient rotates the record's key: version n + 1 (prepareRotateEmrKey, signed here, commitCreateEmr). */
async function rotate(emrId: string): Promise<string> {
  const blob = await patient.client.uploadBlob(patient.id, randomBytes(800), 'text/csv');
  const { prepareRotateEmrKey: draft } = await patient.client.request<{ prepareRotateEmrKey: { draftId: string; signingPayload: string } }>(
    'mutation($e: ID!, $c: RotatedContentInput!) { prepareRotateEmrKey(emrId: $e, content: $c) { draftId signingPayload } }',
    { e: emrId, c: contentOf(blob) },
  );
  const s = hex(new Signer(patient.signingKey).sign(Buffer.from(draft.signingPayload, 'base64')).toBEBytes());
  const { commitCreateEmr } = await patient.client.request<{ commitCreateEmr: { id: string } }>('mutation($d: ID!, $s: String!) { commitCreateEmr(draftId: $d, signature: $s) { id } }', {
    d: draft.draftId,
    s,
  });
  return commitCreateEmr.id;
}

interface Entry {
  transactionId: string;
  timestamp: string;
  objectType: string;
  objectId: string;
  value: Record<string, unknown> | null;
}
const TRAIL = 'query($e: ID, $p: ID) { auditTrail(emrId: $e, patientId: $p) { transactionId timestamp objectType objectId value } }';
const EVENTS = 'query($e: ID, $p: ID) { auditEvents(emrId: $e, patientId: $p) }';
const CREDITS = 'query($p: ID) { credits(participantId: $p) { participant organisation } }';

const trail = async (who: KeyHolder, args: { e?: string; p?: string }): Promise<Entry[]> => (await who.client.request<{ auditTrail: Entry[] }>(TRAIL, args)).auditTrail;
const idsOf = (entries: Entry[], objectType: string): string[] => [...new Set(entries.filter((e) => e.objectType === objectType).map((e) => e.objectId))].sort();

describe('the audit trail', () => {
  let v1: string;
  let v2: string;
  let approval: { grant: Grant };
  let glass: Grant;
  const ops: OperationRecord[] = [];

  beforeAll(async () => {
    v1 = await newRecord();
    approval = await requestAndApprove(t, patient, reader, v1, 'cardiology consult');
    ops.push(await reencrypt(t, reader, v1, approval.grant.id));
    ops.push(await signed<OperationRecord>(t, patient, 'record-operation', ActionPayloads.openEmr({ emrId: v1 })));
    glass = await signed<Grant>(t, er, 'break-glass', ActionPayloads.breakGlass({ emrId: v1, justification: 'unconscious patient, suspected anaphylaxis', durationMinutes: 30 }));
    ops.push(await reencrypt(t, er, v1, glass.id));
    v2 = await rotate(v1);
    ops.push(await signed<OperationRecord>(t, patient, 'record-operation', ActionPayloads.openEmr({ emrId: v2 })));
  }, 60_000);

  it('a record’s trail holds every operation of every version, the break-glass grant, both versions, oldest first', async () => {
    for (const id of [v1, v2]) {
      const entries = await trail(patient, { e: id });
      expect(idsOf(entries, 'operation')).toEqual(ops.map((o) => o.id).sort());
      expect(idsOf(entries, 'record')).toEqual([v1, v2].sort());
      expect(idsOf(entries, 'grant')).toEqual([approval.grant.id, glass.id].sort());
      const op = entries.find((e) => e.objectId === ops[2]!.id)!;
      expect(op.value).toMatchObject({ kind: 'reencrypt', actorId: er.id, grantId: glass.id, emrId: v1 });
      const times = entries.map((e) => e.timestamp);
      expect(times).toEqual([...times].sort());
    }
    // the author may read it too; the reader, a party to nothing, may not
    expect(idsOf(await trail(author, { e: v2 }), 'operation')).toHaveLength(ops.length);
    await refused(reader.client.request(TRAIL, { e: v1 }), 'FORBIDDEN');
  });

  it('the patient’s trail holds them too, with the patient’s credits', async () => {
    const entries = await trail(patient, { p: patient.id });
    expect(idsOf(entries, 'operation')).toEqual(expect.arrayContaining(ops.map((o) => o.id)));
    expect(idsOf(entries, 'grant')).toEqual(expect.arrayContaining([glass.id, approval.grant.id]));
    expect(idsOf(entries, 'credit')).toEqual([`participant:${patient.id}`]);
    // each change once
    const keys = entries.map((e) => `${e.objectType} ${e.objectId} ${e.transactionId}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('auditEvents: the same trail as a valid FHIR R4 Bundle of AuditEvents, one per transaction', async () => {
    const entries = await trail(patient, { e: v2 });
    const { auditEvents } = await patient.client.request<{ auditEvents: Bundle<AuditEvent> }>(EVENTS, { e: v2 });
    expect(auditEvents).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    const events = auditEvents.entry!.map((x) => x.resource!);
    expect(events.map((e) => e.id)).toEqual([...new Set(entries.map((e) => e.transactionId))]);
    // the node's own FHIR validation accepts the Bundle
    expect(validateFhirResource(auditEvents).filter((i) => isBlocking(i))).toEqual([]);
    for (const e of events) {
      expect(e.source.observer).toMatchObject({ identifier: { value: 'Hospital1MSP' } });
      expect(e.source.site).toBe(t.node.services.ledger.channel);
      expect(e.outcome).toBe('0');
    }
    // every operation is an event naming it; break-glass and the access under it carry purpose BTG
    const named = (id: string): AuditEvent => events.find((e) => e.entity!.some((x) => x.what?.identifier?.value === id))!;
    for (const op of ops) expect(named(op.id)).toBeDefined();
    const btg = (e: AuditEvent): boolean => (e.purposeOfEvent ?? []).some((c) => c.coding?.some((x) => x.code === 'BTG'));
    expect(btg(named(ops[2]!.id))).toBe(true);
    expect(btg(events.find((e) => e.entity!.some((x) => x.what?.identifier?.value === glass.id) && e.subtype!.some((s) => s.code === 'break-glass'))!)).toBe(true);
    expect(btg(named(ops[0]!.id))).toBe(false);
    // participants by pseudonymous id only
    expect(JSON.stringify(auditEvents)).not.toMatch(/"reference":"(Patient|Practitioner)\//);

    const mine = (await patient.client.request<{ auditEvents: Bundle }>(EVENTS, { p: patient.id })).auditEvents;
    expect(validateFhirResource(mine).filter((i) => isBlocking(i))).toEqual([]);
    expect(mine.entry!.length).toBeGreaterThan(events.length);
  });

  it('auditEvents has auditTrail’s access rules', async () => {
    const stranger = await registerWithKeys(t, 'PATIENT');
    await refused(reader.client.request(EVENTS, { e: v1 }), 'FORBIDDEN');
    await refused(stranger.client.request(EVENTS, { e: v1 }), 'NOT_FOUND');
    await refused(reader.client.request(EVENTS, { p: patient.id }), 'FORBIDDEN');
    await refused(patient.client.request(EVENTS, {}), 'BAD_USER_INPUT', /exactly one of emrId and patientId/);
    await refused(patient.client.request(EVENTS, { e: v1, p: patient.id }), 'BAD_USER_INPUT');
    await refused(t.anonymous.request(EVENTS, { e: v1 }), 'UNAUTHENTICATED');
  });
});

describe('credits', () => {
  interface Balance {
    participant: number;
    organisation: number;
  }
  const credits = async (who: KeyHolder, participantId?: string): Promise<Balance> => (await who.client.request<{ credits: Balance }>(CREDITS, { p: participantId ?? null })).credits;

  it('an approval and each re-encryption credit the patient and the organisation; the reader earns nothing', async () => {
    const emrId = await newRecord();
    const before = await credits(patient);
    const readerBefore = await credits(reader);

    const { grant } = await requestAndApprove(t, patient, reader, emrId);
    const a = CREDIT_AMOUNTS.approval;
    expect(await credits(patient)).toEqual({ participant: before.participant + a.patient, organisation: before.organisation + a.hospital });

    await reencrypt(t, reader, emrId, grant.id);
    await reencrypt(t, reader, emrId, grant.id);
    const s = CREDIT_AMOUNTS['served-access'];
    const after = await credits(patient);
    expect(after).toEqual({ participant: before.participant + a.patient + 2 * s.patient, organisation: before.organisation + a.hospital + 2 * s.hospital });
    // the patient's own download earns nothing
    await signed(t, patient, 'record-operation', ActionPayloads.openEmr({ emrId }));
    expect(await credits(patient)).toEqual(after);
    expect(await credits(reader)).toEqual({ participant: readerBefore.participant, organisation: after.organisation });
  });

  it('another participant’s balance only for an admin of its organisation', async () => {
    const own = await credits(patient);
    expect(await credits(patient, patient.id)).toEqual(own);
    await refused(reader.client.request(CREDITS, { p: patient.id }), 'FORBIDDEN', /only your own balance/);
    await refused(patient.client.request(CREDITS, { p: reader.id }), 'FORBIDDEN');
    const { credits: viaAdmin } = await t.admin.request<{ credits: Balance }>(CREDITS, { p: patient.id });
    expect(viaAdmin).toEqual(own);
    await refused(t.admin.request(CREDITS, { p: 'f'.repeat(32) }), 'NOT_FOUND');
    await refused(t.admin.request(CREDITS, { p: 'not-an-id' }), 'BAD_USER_INPUT', /participantId/);
    await refused(t.anonymous.request(CREDITS, {}), 'UNAUTHENTICATED');
  });
});
