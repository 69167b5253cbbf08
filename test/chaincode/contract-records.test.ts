// The PIE contract through fabric-shim (test/chaincode/harness.ts): participants, EMR records and their version
// chains, patient policies, and how failures reach the client.
import { SecretKey } from '../../src/crypto/umbral/index.js';
import { deriveId } from '../../chaincode/src/domain/index.js';
import type { AccessPolicy, EmrRecord, Participant } from '../../chaincode/src/domain/index.js';
import { failureMessage } from '../../chaincode/src/contract.js';
import { ContractError } from '../../chaincode/src/domain/index.js';
import { HARNESS_START } from './harness.js';
import {
  DEFAULT_POLICY_JSON,
  act,
  cast,
  createRecord,
  expectTxError,
  freshCid,
  policy,
  pubHex,
  recordInput,
  register,
  world,
} from './contract-helpers.js';

describe('RegisterParticipant', () => {
  it('an organisation administrator registers a pseudonymous participant of that organisation', async () => {
    const w = await world();
    const sk = SecretKey.random();
    const ek = SecretKey.random();
    const input = { kind: 'physician', clearance: 'PRIVATE', signingKey: pubHex(sk), encryptionKey: pubHex(ek), roles: ['emergency'] };
    const p = (await w.h.submit(w.admin2, 'RegisterParticipant', JSON.stringify(input))) as Participant;
    expect(p).toEqual({ ...input, id: deriveId('participant', w.h.lastTxId), org: 'Hospital2MSP', status: 'active' });
    expect(await w.h.evaluate(w.node1, 'GetParticipant', p.id)).toEqual(p);
    expect(w.h.events.at(-1)).toEqual({ name: 'ParticipantRegistered', payload: { participantId: p.id, org: 'Hospital2MSP', kind: 'physician' }, txId: w.h.lastTxId });
    // an org-admin participant is registered by an administrator too
    expect((await register(w, 'org-admin')).participant).toMatchObject({ kind: 'org-admin', clearance: 'LOW' });
  });

  it('refuses callers without the admin role', async () => {
    const w = await world();
    const input = JSON.stringify({ kind: 'patient', clearance: 'PRIVATE', signingKey: pubHex(SecretKey.random()), encryptionKey: pubHex(SecretKey.random()), roles: [] });
    await expectTxError(w.h.submit(w.node1, 'RegisterParticipant', input), 'FORBIDDEN', /^caller: only an administrator/);
    await expectTxError(w.h.submit(w.node2, 'RegisterParticipant', input), 'FORBIDDEN', /role=admin/);
  });

  it('refuses a key already registered, as signing or as encryption key', async () => {
    const w = await world();
    const a = await register(w, 'patient');
    const reg = (signingKey: string, encryptionKey: string) =>
      w.h.submit(w.admin2, 'RegisterParticipant', JSON.stringify({ kind: 'patient', clearance: 'PRIVATE', signingKey, encryptionKey, roles: [] }));
    await expectTxError(reg(pubHex(a.signingSk), pubHex(SecretKey.random())), 'CONFLICT', new RegExp(`^participant.signingKey: .*${a.id}`));
    await expectTxError(reg(pubHex(SecretKey.random()), pubHex(a.signingSk)), 'CONFLICT', /^participant.encryptionKey: /);
    await expectTxError(reg(pubHex(a.encryptionSk), pubHex(SecretKey.random())), 'CONFLICT', /^participant.signingKey: /);
  });

  it('validates the input with field paths', async () => {
    const w = await world();
    const base = { kind: 'researcher', clearance: 'LOW', signingKey: pubHex(SecretKey.random()), encryptionKey: pubHex(SecretKey.random()), roles: [] };
    const reg = (input: unknown) => w.h.submit(w.admin1, 'RegisterParticipant', typeof input === 'string' ? input : JSON.stringify(input));
    await expectTxError(reg({ ...base, clearance: 'PRIVATE' }), 'INVALID_ARGUMENT', /^participant.clearance: a researcher may hold at most LOW/);
    await expectTxError(reg({ ...base, id: 'chosen' }), 'INVALID_ARGUMENT', /^participant.id: unknown field/);
    await expectTxError(reg({ ...base, org: 'Hospital2MSP' }), 'INVALID_ARGUMENT', /^participant.org: unknown field/);
    await expectTxError(reg({ ...base, roles: ['emergency'] }), 'INVALID_ARGUMENT', /^participant.roles: only a physician/);
    await expectTxError(reg({ ...base, signingKey: '02' + '00'.repeat(32) }), 'INVALID_ARGUMENT', /^participant.signingKey/);
    await expectTxError(reg('{not json'), 'INVALID_ARGUMENT', /^participant: is not valid JSON/);
  });
});

describe('SetParticipantStatus and GetParticipant', () => {
  it('an administrator of the participant’s own organisation suspends and reactivates it', async () => {
    const w = await world();
    const p = await register(w, 'physician');
    const suspended = (await w.h.submit(w.admin1, 'SetParticipantStatus', p.id, 'suspended')) as Participant;
    expect(suspended).toEqual({ ...p.participant, status: 'suspended' });
    expect(w.h.events.at(-1)).toMatchObject({ name: 'ParticipantStatusChanged', payload: { participantId: p.id, org: 'Hospital1MSP', status: 'suspended', previousStatus: 'active' } });
    await expectTxError(w.h.submit(w.admin1, 'SetParticipantStatus', p.id, 'suspended'), 'CONFLICT', /already suspended/);
    expect(await w.h.submit(w.admin1, 'SetParticipantStatus', p.id, 'active')).toMatchObject({ status: 'active' });
  });

  it('refuses another organisation’s administrator, non-administrators and bad arguments', async () => {
    const w = await world();
    const p = await register(w, 'physician');
    await expectTxError(w.h.submit(w.admin2, 'SetParticipantStatus', p.id, 'suspended'), 'FORBIDDEN', /belongs to Hospital1MSP/);
    await expectTxError(w.h.submit(w.node1, 'SetParticipantStatus', p.id, 'suspended'), 'FORBIDDEN', /administrator/);
    await expectTxError(w.h.submit(w.admin1, 'SetParticipantStatus', p.id, 'retired'), 'INVALID_ARGUMENT', /^status: must be one of active, suspended/);
    await expectTxError(w.h.submit(w.admin1, 'SetParticipantStatus', 'f'.repeat(32), 'suspended'), 'NOT_FOUND', /participant f+ not found/);
    await expectTxError(w.h.evaluate(w.node1, 'GetParticipant', 'nobody'), 'INVALID_ARGUMENT', /^participantId: /);
  });
});

describe('CreateRecord', () => {
  it('stores the signed record with the transaction time, its chain head, and emits RecordCreated', async () => {
    const c = await cast();
    c.h.setTime(new Date('2025-02-03T04:05:06.789Z'));
    const input = recordInput(c.patient, c.doctor);
    const record = (await c.h.submit(c.node1, 'CreateRecord', JSON.stringify(input))) as EmrRecord;
    expect(record).toEqual({ ...input, timestamp: '2025-02-03T04:05:06.789Z' });
    expect(await c.h.evaluate(c.node2, 'GetRecord', record.id)).toEqual(record);
    expect(await c.h.evaluate(c.node2, 'GetRecordHead', record.id)).toEqual(record);
    expect(await c.h.evaluate(c.node2, 'GetRecordVersions', record.id)).toEqual([record]);
    expect(c.h.events.at(-1)).toEqual({
      name: 'RecordCreated',
      payload: { recordId: record.id, patientId: c.patient.id, hospital: 'Hospital1MSP', version: 1 },
      txId: c.h.lastTxId,
    });
  });

  it('CreateRecords stores several first versions in one transaction, or none of them', async () => {
    const c = await cast();
    const inputs = [recordInput(c.patient, c.doctor), recordInput(c.patient, c.doctor), recordInput(c.patient, c.doctor)];
    const created = (await c.h.submit(c.node1, 'CreateRecords', JSON.stringify(inputs))) as EmrRecord[];
    expect(created.map((r) => r.id)).toEqual(inputs.map((r) => r.id));
    for (const r of created) expect(await c.h.evaluate(c.node2, 'GetRecordHead', r.id)).toEqual(r);
    expect(c.h.events.at(-1)).toEqual({
      name: 'RecordsCreated',
      payload: { records: inputs.map((r) => ({ recordId: r.id, patientId: c.patient.id, hospital: 'Hospital1MSP', version: 1 })) },
      txId: c.h.lastTxId,
    });
    // one bad item refuses the whole batch, naming it
    const fresh = recordInput(c.patient, c.doctor);
    const altered = recordInput(c.patient, c.doctor);
    (altered.summary as { year: number }).year = 2001;
    await expectTxError(c.h.submit(c.node1, 'CreateRecords', JSON.stringify([fresh, altered])), 'BAD_SIGNATURE', /^records\[1\]: record.authorSignature/);
    await expectTxError(c.h.evaluate(c.node1, 'GetRecord', fresh.id as string), 'NOT_FOUND', /not found/);
    await expectTxError(c.h.submit(c.node1, 'CreateRecords', JSON.stringify([fresh, fresh])), 'CONFLICT', /^records\[1\].id: .* appears twice/);
    await expectTxError(c.h.submit(c.node1, 'CreateRecords', JSON.stringify([inputs[0]])), 'CONFLICT', /^records\[0\]: record .* already exists/);
    await expectTxError(c.h.submit(c.node1, 'CreateRecords', '[]'), 'INVALID_ARGUMENT', /^records: must be an array of 1 to 256/);
    await expectTxError(c.h.submit(c.node1, 'CreateRecords', JSON.stringify([{ ...fresh, previousId: inputs[0]!.id }])), 'INVALID_ARGUMENT', /^records\[0\].previousId: a data version update goes alone/);
  });

  it('GetRecords and GetParticipants read up to 100 objects in one evaluation, null where unknown', async () => {
    const c = await cast();
    const input = recordInput(c.patient, c.doctor);
    const record = (await c.h.submit(c.node1, 'CreateRecord', JSON.stringify(input))) as EmrRecord;
    expect(await c.h.evaluate(c.node2, 'GetRecords', JSON.stringify([record.id, 'emr-unknown', record.id]))).toEqual([record, null, record]);
    const people = (await c.h.evaluate(c.node2, 'GetParticipants', JSON.stringify([c.doctor.id, 'f'.repeat(32), c.patient.id]))) as (Participant | null)[];
    expect(people.map((p) => p?.id ?? null)).toEqual([c.doctor.id, null, c.patient.id]);
    await expectTxError(c.h.evaluate(c.node2, 'GetRecords', '[]'), 'INVALID_ARGUMENT', /^recordIds: must be a JSON array of 1 to 100 ids/);
    await expectTxError(c.h.evaluate(c.node2, 'GetRecords', JSON.stringify(Array(101).fill(record.id))), 'INVALID_ARGUMENT', /^recordIds: /);
    await expectTxError(c.h.evaluate(c.node2, 'GetParticipants', JSON.stringify(['nobody'])), 'INVALID_ARGUMENT', /^participantIds\[0\]: /);
  });

  it('a replayed submission conflicts (the id is inside the signed content)', async () => {
    const c = await cast();
    const input = JSON.stringify(recordInput(c.patient, c.doctor));
    await c.h.submit(c.node1, 'CreateRecord', input);
    await expectTxError(c.h.submit(c.node1, 'CreateRecord', input), 'CONFLICT', /already exists/);
  });

  it('the timestamp is the contract’s', async () => {
    const c = await cast();
    const input = { ...recordInput(c.patient, c.doctor), timestamp: HARNESS_START.toISOString() };
    await expectTxError(c.h.submit(c.node1, 'CreateRecord', JSON.stringify(input)), 'INVALID_ARGUMENT', /^record.timestamp: is set by the contract/);
    await expectTxError(c.h.submit(c.node1, 'CreateRecord', '[]'), 'INVALID_ARGUMENT', /^record: must be an object/);
  });

  it('refuses a forged or altered author signature', async () => {
    const c = await cast();
    await expectTxError(createRecord(c, c.patient, c.doctor, { signWith: c.doctor.encryptionSk }), 'BAD_SIGNATURE', /^record.authorSignature/);
    const altered = recordInput(c.patient, c.doctor);
    (altered.summary as { year: number }).year = 2001;
    await expectTxError(c.h.submit(c.node1, 'CreateRecord', JSON.stringify(altered)), 'BAD_SIGNATURE', /^record.authorSignature/);
  });

  it('the submitting organisation, the hospital and the author’s organisation must agree', async () => {
    const c = await cast();
    await expectTxError(createRecord(c, c.patient, c.doctor, {}, c.node2), 'FORBIDDEN', /^caller: Hospital2MSP may not submit records authored by a participant of Hospital1MSP/);
    await expectTxError(createRecord(c, c.patient, c.doctor, { hospital: 'Hospital2MSP' }), 'FORBIDDEN', /^record.hospital: must be the author's organisation Hospital1MSP/);
  });

  it('the author must be an active physician, or the patient uploading the patient’s own data', async () => {
    const c = await cast();
    await expectTxError(createRecord(c, c.patient, c.researcher), 'FORBIDDEN', /^record.authorId: a researcher may not author records/);
    const other = await register(c, 'patient');
    await expectTxError(createRecord(c, c.patient, other), 'FORBIDDEN', /^record.authorId: a patient may not author records/);
    const own = await createRecord(c, c.patient, c.patient, { level: 'MODERATE' });
    expect(own).toMatchObject({ authorId: c.patient.id, patientId: c.patient.id });
    await c.h.submit(c.admin1, 'SetParticipantStatus', c.doctor.id, 'suspended');
    await expectTxError(createRecord(c, c.patient, c.doctor), 'FORBIDDEN', /^record.authorId: participant .* is suspended/);
    const ghost = { ...c.doctor, id: 'e'.repeat(32) };
    await expectTxError(createRecord(c, c.patient, ghost), 'NOT_FOUND', /^record.authorId: participant e+ not found/);
  });

  it('the patient must be a registered, active patient', async () => {
    const c = await cast();
    await expectTxError(createRecord(c, c.doctor2, c.doctor), 'INVALID_ARGUMENT', /^record.patientId: participant .* is a physician, not a patient/);
    await expectTxError(createRecord(c, { ...c.patient, id: 'd'.repeat(32) }, c.doctor), 'NOT_FOUND', /^record.patientId: /);
    await c.h.submit(c.admin1, 'SetParticipantStatus', c.patient.id, 'suspended');
    await expectTxError(createRecord(c, c.patient, c.doctor), 'FORBIDDEN', /^record.patientId: patient .* is suspended/);
  });

  it('the policy must be the patient’s current one: an author cannot choose it', async () => {
    const c = await cast();
    const narrow: AccessPolicy = policy({ allowedKinds: ['physician'], emergencyAllowed: false });
    await expectTxError(createRecord(c, c.patient, c.doctor, { policy: narrow }), 'INVALID_ARGUMENT', /^record.policy: must be the patient's current policy/);
    await act(c, c.patient, 'SetPatientPolicy', 'set-patient-policy', { policy: narrow });
    await expectTxError(createRecord(c, c.patient, c.doctor), 'INVALID_ARGUMENT', /^record.policy/);
    expect((await createRecord(c, c.patient, c.doctor, { policy: narrow })).policy).toEqual(narrow);
  });
});

describe('record versions (data version update / key rotation)', () => {
  it('a new version follows the head; the head key moves; versions list oldest first', async () => {
    const c = await cast();
    const v1 = await createRecord(c, c.patient, c.doctor);
    const v2 = await createRecord(c, c.patient, c.doctor, { id: `${v1.id}-v2`, version: 2, previousId: v1.id });
    expect(c.h.events.at(-1)?.payload).toEqual({ recordId: v2.id, patientId: c.patient.id, hospital: 'Hospital1MSP', version: 2, previousId: v1.id });
    // the patient may rotate too
    const v3 = await createRecord(c, c.patient, c.patient, { id: `${v1.id}-v3`, version: 3, previousId: v2.id });
    for (const id of [v1.id, v2.id, v3.id]) {
      expect(await c.h.evaluate(c.node1, 'GetRecordHead', id)).toEqual(v3);
      expect(await c.h.evaluate(c.node1, 'GetRecordVersions', id)).toEqual([v1, v2, v3]);
    }
  });

  it('refuses a successor of a superseded record, naming the head', async () => {
    const c = await cast();
    const v1 = await createRecord(c, c.patient, c.doctor);
    await createRecord(c, c.patient, c.doctor, { id: `${v1.id}-v2`, version: 2, previousId: v1.id });
    await expectTxError(createRecord(c, c.patient, c.doctor, { id: `${v1.id}-x`, version: 2, previousId: v1.id }), 'CONFLICT', new RegExp(`superseded by ${v1.id}-v2`));
  });

  it('checks the chain: next version number, same patient, new ciphertext, existing predecessor', async () => {
    const c = await cast();
    const v1 = await createRecord(c, c.patient, c.doctor);
    await expectTxError(createRecord(c, c.patient, c.doctor, { id: 'x1', version: 3, previousId: v1.id }), 'CONFLICT', /^record.version: must be 2/);
    await expectTxError(createRecord(c, c.patient, c.doctor, { id: 'x2', version: 2, previousId: v1.id, cid: v1.metadata.cid }), 'INVALID_ARGUMENT', /^record.metadata.cid/);
    const other = await register(c, 'patient');
    await expectTxError(createRecord(c, other, c.doctor, { id: 'x3', version: 2, previousId: v1.id }), 'INVALID_ARGUMENT', /^record.patientId: must stay the same/);
    await expectTxError(createRecord(c, c.patient, c.doctor, { id: 'x4', version: 2, previousId: 'nope' }), 'NOT_FOUND', /^record.previousId: record nope not found/);
  });

  it('only the patient or the first version’s author may add a version', async () => {
    const c = await cast();
    const colleague = await register(c, 'physician');
    const v1 = await createRecord(c, c.patient, c.doctor);
    await expectTxError(createRecord(c, c.patient, colleague, { id: 'x', version: 2, previousId: v1.id }), 'FORBIDDEN', /^record.authorId: a new version may be authored only by the patient or by/);
  });

  it('reads of unknown records are NOT_FOUND; malformed ids INVALID_ARGUMENT', async () => {
    const c = await cast();
    await expectTxError(c.h.evaluate(c.node1, 'GetRecord', 'nope'), 'NOT_FOUND', /^record nope not found/);
    await expectTxError(c.h.evaluate(c.node1, 'GetRecordHead', 'nope'), 'NOT_FOUND');
    await expectTxError(c.h.evaluate(c.node1, 'GetRecordVersions', 'nope'), 'NOT_FOUND');
    await expectTxError(c.h.evaluate(c.node1, 'GetRecord', 'a b'), 'INVALID_ARGUMENT', /^recordId: /);
  });
});

describe('patient policies', () => {
  it('SetPatientPolicy sets the policy of records created afterwards', async () => {
    const c = await cast();
    expect(await c.h.evaluate(c.node1, 'GetPatientPolicy', c.patient.id)).toEqual(DEFAULT_POLICY_JSON);
    const before = await createRecord(c, c.patient, c.doctor);
    const p = policy({ minClearance: 'MODERATE', deny: [c.insurer.id] });
    expect(await act(c, c.patient, 'SetPatientPolicy', 'set-patient-policy', { policy: p })).toEqual(p);
    expect(c.h.events.at(-1)).toMatchObject({ name: 'PolicyChanged', payload: { scope: 'patient', patientId: c.patient.id } });
    expect(await c.h.evaluate(c.node1, 'GetPatientPolicy', c.patient.id)).toEqual(p);
    // an existing record keeps its own policy
    expect(await c.h.evaluate(c.node1, 'GetEffectivePolicy', before.id)).toEqual(DEFAULT_POLICY_JSON);
  });

  it('only a patient has a policy; a policy may only narrow', async () => {
    const c = await cast();
    await expectTxError(act(c, c.doctor, 'SetPatientPolicy', 'set-patient-policy', { policy: policy() }), 'FORBIDDEN', /^action.actorId: only a patient has a policy/);
    await expectTxError(act(c, c.patient, 'SetPatientPolicy', 'set-patient-policy', { policy: policy({ allowedKinds: ['patient'] }) }), 'FORBIDDEN', /^action.payload.policy.allowedKinds/);
    await expectTxError(act(c, c.patient, 'SetPatientPolicy', 'set-patient-policy', { policy: { ...policy(), minClearance: 'TOP' } }), 'INVALID_ARGUMENT', /^action.payload.policy.minClearance/);
    await expectTxError(c.h.evaluate(c.node1, 'GetPatientPolicy', c.doctor.id), 'INVALID_ARGUMENT', /not a patient/);
  });

  it('SetRecordPolicy governs every version of the chain, from then on', async () => {
    const c = await cast();
    const v1 = await createRecord(c, c.patient, c.doctor);
    const v2 = await createRecord(c, c.patient, c.doctor, { id: `${v1.id}-v2`, version: 2, previousId: v1.id });
    const p = policy({ allow: [c.doctor2.id] });
    expect(await act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: v1.id, policy: p })).toEqual(p);
    expect(c.h.events.at(-1)).toMatchObject({ name: 'PolicyChanged', payload: { scope: 'record', patientId: c.patient.id, emrId: v1.id, rootId: v1.id } });
    expect(await c.h.evaluate(c.node1, 'GetEffectivePolicy', v1.id)).toEqual(p);
    expect(await c.h.evaluate(c.node1, 'GetEffectivePolicy', v2.id)).toEqual(p);
    // the records themselves are unchanged (signed content)
    expect(((await c.h.evaluate(c.node1, 'GetRecord', v2.id)) as EmrRecord).policy).toEqual(DEFAULT_POLICY_JSON);
  });

  it('only the record’s patient sets its policy', async () => {
    const c = await cast();
    const r = await createRecord(c, c.patient, c.doctor);
    await expectTxError(act(c, c.doctor, 'SetRecordPolicy', 'set-record-policy', { emrId: r.id, policy: policy() }), 'FORBIDDEN', /only the patient of record/);
    await expectTxError(act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: 'nope', policy: policy() }), 'NOT_FOUND', /record nope not found/);
  });

  it('GetHistory shows each policy change', async () => {
    const c = await cast();
    const r = await createRecord(c, c.patient, c.doctor);
    const p1 = policy({ emergencyAllowed: false });
    const p2 = policy({ minClearance: 'PRIVATE' });
    await act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: r.id, policy: p1 });
    const tx1 = c.h.lastTxId;
    c.h.advance(60_000);
    await act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: r.id, policy: p2 });
    expect(await c.h.evaluate(c.node1, 'GetHistory', 'policy', r.id)).toEqual([
      { txId: c.h.lastTxId, timestamp: new Date(HARNESS_START.getTime() + 60_000).toISOString(), isDelete: false, value: p2 },
      { txId: tx1, timestamp: HARNESS_START.toISOString(), isDelete: false, value: p1 },
    ]);
    await act(c, c.patient, 'SetPatientPolicy', 'set-patient-policy', { policy: p1 });
    expect(await c.h.evaluate(c.node1, 'GetHistory', 'patient-policy', c.patient.id)).toEqual([expect.objectContaining({ txId: c.h.lastTxId, value: p1 })]);
  });
});

describe('failed transactions', () => {
  it('carry `[CODE] message`; an unknown transaction is NOT_FOUND', async () => {
    const w = await world();
    await expectTxError(w.h.evaluate(w.node1, 'NoSuchThing'), 'NOT_FOUND', /NoSuchThing: no such transaction/);
  });

  it('anything but a ContractError is INTERNAL, first line only', () => {
    expect(failureMessage(new ContractError('CONFLICT', 'x'))).toBe('[CONFLICT] x');
    expect(failureMessage(new Error('boom\n    at secret (file.js:1:1)'))).toBe('[INTERNAL] boom');
    expect(failureMessage('text')).toBe('[INTERNAL] text');
  });

  it('a distinct CID per fixture record', () => {
    expect(freshCid()).not.toBe(freshCid());
  });
});
