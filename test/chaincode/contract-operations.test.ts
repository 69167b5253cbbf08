// The PIE contract through fabric-shim: operation records (query, download, re-encrypt, modify), grants ended by
// expiry and key rotation, credits, paged searches with bookmarks, history, and one event per transaction.
import { deriveId } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, Grant, OperationRecord } from '../../chaincode/src/domain/index.js';
import {
  DAY,
  HOUR,
  act,
  cast,
  createRecord,
  expectTxError,
  freshCid,
  register,
  requestAndApprove,
  terms,
} from './contract-helpers.js';
import type { Actor, Cast } from './contract-helpers.js';

async function withGrant(): Promise<Cast & { record: EmrRecord; grant: Grant }> {
  const c = await cast();
  const record = await createRecord(c, c.patient, c.doctor, { level: 'LOW' });
  return { ...c, record, grant: await requestAndApprove(c, c.patient, c.researcher, record.id) };
}

const operation = (c: Cast, who: Actor, payload: Record<string, unknown>) =>
  act(c, who, 'RecordOperation', 'record-operation', payload) as Promise<OperationRecord>;

describe('RecordOperation', () => {
  it('query: any active participant; recorded with the transaction time; AccessRecorded', async () => {
    const c = await withGrant();
    const op = await operation(c, c.insurer, { kind: 'query', emrId: c.record.id });
    expect(op).toEqual({ id: deriveId('operation', c.h.lastTxId), kind: 'query', actorId: c.insurer.id, emrId: c.record.id, timestamp: c.h.time.toISOString() });
    expect(c.h.events.at(-1)).toEqual({
      name: 'AccessRecorded',
      payload: { operationId: op.id, kind: 'query', emrId: c.record.id, actorId: c.insurer.id, patientId: c.record.patientId },
      txId: c.h.lastTxId,
    });
    expect(await c.h.evaluate(c.node1, 'GetOperation', op.id)).toEqual(op);
    await expectTxError(operation(c, c.insurer, { kind: 'query', emrId: c.record.id, grantId: c.grant.id }), 'INVALID_ARGUMENT', /^action.payload.grantId: must be absent/);
    await expectTxError(operation(c, c.insurer, { kind: 'query', emrId: 'nope' }), 'NOT_FOUND');
    await expectTxError(operation(c, c.insurer, { kind: 'erase', emrId: c.record.id }), 'INVALID_ARGUMENT', /^action.payload.kind/);
  });

  it('download: the patient without a grant, anyone else with a live grant of their own for this record', async () => {
    const c = await withGrant();
    expect(await operation(c, c.patient, { kind: 'download', emrId: c.record.id })).toMatchObject({ kind: 'download', actorId: c.patient.id });
    expect(await operation(c, c.researcher, { kind: 'download', emrId: c.record.id, grantId: c.grant.id })).toMatchObject({ grantId: c.grant.id });
    expect(c.h.events.at(-1)?.payload).toMatchObject({ grantId: c.grant.id, actorId: c.researcher.id });
    await expectTxError(operation(c, c.researcher, { kind: 'download', emrId: c.record.id }), 'INVALID_ARGUMENT', /^action.payload.grantId: is required unless the patient/);
    await expectTxError(operation(c, c.insurer, { kind: 'download', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN', /^action.payload.grantId: grant .* was given to/);
    const other = await createRecord(c, c.patient, c.doctor, { level: 'LOW' });
    await expectTxError(operation(c, c.researcher, { kind: 'download', emrId: other.id, grantId: c.grant.id }), 'INVALID_ARGUMENT', /is for record/);
    await expectTxError(operation(c, c.researcher, { kind: 'download', emrId: c.record.id, grantId: 'nope' }), 'NOT_FOUND', /^action.payload.grantId: grant nope not found/);
  });

  it('reencrypt: the grantee with a live grant; credits patient and hospital for each served access', async () => {
    const c = await withGrant();
    const op = await operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id });
    expect(op).toMatchObject({ kind: 'reencrypt', grantId: c.grant.id, actorId: c.researcher.id });
    expect(c.h.events.at(-1)).toMatchObject({ name: 'AccessRecorded', payload: { operationId: op.id, kind: 'reencrypt', grantId: c.grant.id } });
    await operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id });
    // 1 for the approval + 2 served accesses
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'participant', c.patient.id)).toBe(3);
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'org', 'Hospital1MSP')).toBe(3);
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'participant', c.researcher.id)).toBe(0);
    const history = (await c.h.evaluate(c.node1, 'GetHistory', 'credit', `participant:${c.patient.id}`)) as { value: { balance: number } }[];
    expect(history.map((e) => e.value.balance)).toEqual([3, 2, 1]);
    await expectTxError(operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id }), 'INVALID_ARGUMENT', /^action.payload.grantId: is required/);
    await expectTxError(operation(c, c.insurer, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN');
  });

  it('reencrypt: an expired grant is refused', async () => {
    const c = await withGrant();
    c.h.advance(30 * DAY);
    await expectTxError(operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN', /^EXPIRED: grant .* expired at/);
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', c.grant.id)).toMatchObject({ live: false, reason: 'EXPIRED' });
  });

  it('reencrypt: a revoked grant is refused', async () => {
    const c = await withGrant();
    await act(c, c.patient, 'RevokeGrant', 'revoke-grant', { grantId: c.grant.id });
    await expectTxError(operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN', /^REVOKED: /);
    await expectTxError(operation(c, c.researcher, { kind: 'download', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN', /^REVOKED: /);
  });

  it('a new version (key rotation) ends the grants on older versions', async () => {
    const c = await withGrant();
    const v2 = await createRecord(c, c.patient, c.doctor, { id: `${c.record.id}-v2`, version: 2, previousId: c.record.id, level: 'LOW' });
    await expectTxError(operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN', new RegExp(`^SUPERSEDED: .*superseded by ${v2.id}`));
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', c.grant.id)).toMatchObject({ live: false, reason: 'SUPERSEDED' });
    // access to the new version needs a new grant
    const g2 = await requestAndApprove(c, c.patient, c.researcher, v2.id);
    expect(await operation(c, c.researcher, { kind: 'reencrypt', emrId: v2.id, grantId: g2.id })).toMatchObject({ grantId: g2.id });
  });

  it('a suspended grantee can use no grant', async () => {
    const c = await withGrant();
    await c.h.submit(c.admin2, 'SetParticipantStatus', c.researcher.id, 'suspended');
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', c.grant.id)).toMatchObject({ live: false, reason: 'GRANTEE_SUSPENDED' });
    await expectTxError(operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN', /is suspended/);
  });

  it('reencrypt on a break-glass grant is recorded (no kfrags: the treating physician re-shares)', async () => {
    const c = await cast();
    const record = await createRecord(c, c.patient, c.doctor);
    const glass = (await act(c, c.er, 'BreakGlass', 'break-glass', { emrId: record.id, justification: 'anaphylaxis, patient unresponsive' })) as Grant;
    expect(await operation(c, c.er, { kind: 'reencrypt', emrId: record.id, grantId: glass.id })).toMatchObject({ grantId: glass.id });
    c.h.advance(HOUR);
    await expectTxError(operation(c, c.er, { kind: 'reencrypt', emrId: record.id, grantId: glass.id }), 'FORBIDDEN', /^EXPIRED: /);
  });

  it('modify: the patient or the author, from the record’s current CID', async () => {
    const c = await withGrant();
    const afterCid = freshCid();
    const op = await operation(c, c.doctor, { kind: 'modify', emrId: c.record.id, beforeCid: c.record.metadata.cid, afterCid });
    expect(op).toMatchObject({ kind: 'modify', beforeCid: c.record.metadata.cid, afterCid });
    expect(await operation(c, c.patient, { kind: 'modify', emrId: c.record.id, beforeCid: c.record.metadata.cid, afterCid })).toMatchObject({ actorId: c.patient.id });
    await expectTxError(operation(c, c.doctor2, { kind: 'modify', emrId: c.record.id, beforeCid: c.record.metadata.cid, afterCid }), 'FORBIDDEN', /only the patient or the author/);
    await expectTxError(operation(c, c.doctor, { kind: 'modify', emrId: c.record.id, beforeCid: afterCid, afterCid: freshCid() }), 'CONFLICT', /^action.payload.beforeCid: is not the current CID/);
    await expectTxError(operation(c, c.doctor, { kind: 'modify', emrId: c.record.id, beforeCid: c.record.metadata.cid }), 'INVALID_ARGUMENT', /^action.payload.afterCid: is required/);
  });
});

describe('credits', () => {
  it('are 0 for holders that earned nothing; arguments are checked', async () => {
    const c = await cast();
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'participant', c.patient.id)).toBe(0);
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'org', 'Hospital2MSP')).toBe(0);
    await expectTxError(c.h.evaluate(c.node1, 'GetCredits', 'person', c.patient.id), 'INVALID_ARGUMENT', /^holderType: must be one of participant, org/);
    await expectTxError(c.h.evaluate(c.node1, 'GetCredits', 'participant', 'Hospital1MSP'), 'INVALID_ARGUMENT', /^holderId/);
    await expectTxError(c.h.evaluate(c.node1, 'GetHistory', 'credit', c.patient.id), 'INVALID_ARGUMENT', /^id: must be one of participant, org/);
  });
});

describe('paged searches', () => {
  async function manyRecords(c: Cast, n: number): Promise<EmrRecord[]> {
    const out: EmrRecord[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        await createRecord(c, c.patient, c.doctor, {
          id: `emr-page-${i}`,
          codes: ['http://loinc.org|4548-4', `http://loinc.org|${1000 + i}-0`],
          year: 2020 + (i % 2),
          // the first record predates the optional demographic fields: it has neither
          ...(i === 0 ? {} : { gender: i % 3 === 0 ? 'male' : 'female', ageBand: i < 4 ? '40-44' : '90+' }),
        }),
      );
    }
    return out;
  }

  async function allPages(c: Cast, fn: string, args: string[], pageSize: number, key: string): Promise<{ pages: number; items: { id: string }[] }> {
    const items: { id: string }[] = [];
    let bookmark = '';
    let pages = 0;
    for (;;) {
      const page = (await c.h.evaluate(c.node2, fn, ...args, String(pageSize), bookmark)) as Record<string, unknown> & { bookmark: string; fetched: number };
      const list = page[key] as { id: string }[];
      pages++;
      expect(page.fetched).toBe(list.length);
      items.push(...list);
      expect(list.length).toBeLessThanOrEqual(pageSize);
      // an empty bookmark: no further page (Fabric's LevelDB scan has nothing after this one)
      if (page.bookmark === '') break;
      if (pages > 20) throw new Error('runaway paging');
      bookmark = page.bookmark;
    }
    return { pages, items };
  }

  it('SearchRecords walks every index page by page with bookmarks', async () => {
    const c = await cast();
    const records = await manyRecords(c, 7);
    const ids = records.map((r) => r.id).sort();
    const byPatient = await allPages(c, 'SearchRecords', ['patient', JSON.stringify([c.patient.id])], 3, 'records');
    expect(byPatient.pages).toBe(3);
    expect(byPatient.items.map((r) => r.id).sort()).toEqual(ids);
    expect(byPatient.items).toEqual(expect.arrayContaining(records));
    expect((await allPages(c, 'SearchRecords', ['code', JSON.stringify(['http://loinc.org', '4548-4'])], 2, 'records')).items).toHaveLength(7);
    expect((await allPages(c, 'SearchRecords', ['code', JSON.stringify(['http://loinc.org', '1003-0'])], 2, 'records')).items.map((r) => r.id)).toEqual(['emr-page-3']);
    expect((await allPages(c, 'SearchRecords', ['year', JSON.stringify(['2021'])], 50, 'records')).items).toHaveLength(3);
    expect((await allPages(c, 'SearchRecords', ['hospital', JSON.stringify(['Hospital1MSP'])], 5, 'records')).items).toHaveLength(7);
    expect((await allPages(c, 'SearchRecords', ['author', JSON.stringify([c.doctor.id])], 7, 'records')).items).toHaveLength(7);
    expect((await allPages(c, 'SearchRecords', ['category', JSON.stringify(['medical-information'])], 4, 'records')).items).toHaveLength(7);
    expect((await allPages(c, 'SearchRecords', ['securityLevel', JSON.stringify(['LOW'])], 4, 'records')).items).toHaveLength(0);
    // no values: the whole index
    expect((await allPages(c, 'SearchRecords', ['securityLevel', '[]'], 3, 'records')).items.map((r) => r.id).sort()).toEqual(ids);
    // the de-identified demographics (Safe Harbor: gender and a 5-year age band, 90+ collapsed)
    expect((await allPages(c, 'SearchRecords', ['gender', JSON.stringify(['male'])], 5, 'records')).items.map((r) => r.id).sort()).toEqual(['emr-page-3', 'emr-page-6']);
    expect((await allPages(c, 'SearchRecords', ['gender', JSON.stringify(['female'])], 5, 'records')).items).toHaveLength(4);
    expect((await allPages(c, 'SearchRecords', ['ageBand', JSON.stringify(['40-44'])], 5, 'records')).items.map((r) => r.id).sort()).toEqual(['emr-page-1', 'emr-page-2', 'emr-page-3']);
    expect((await allPages(c, 'SearchRecords', ['ageBand', JSON.stringify(['90+'])], 5, 'records')).items).toHaveLength(3);
    // by the envelope's CID: what a storage node asks before collecting content as an orphan
    const third = records[2]!;
    expect((await allPages(c, 'SearchRecords', ['cid', JSON.stringify([third.metadata.cid])], 5, 'records')).items.map((r) => r.id)).toEqual([third.id]);
    expect((await allPages(c, 'SearchRecords', ['cid', JSON.stringify(['bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzzz'])], 5, 'records')).items).toHaveLength(0);
    // the default page size holds them all
    expect(await c.h.evaluate(c.node1, 'SearchRecords', 'patient', JSON.stringify([c.patient.id]), '', '')).toMatchObject({ fetched: 7 });
  });

  it('refuses unknown indexes, malformed values and page sizes', async () => {
    const c = await cast();
    const search = (index: string, values: string, pageSize = '') => c.h.evaluate(c.node1, 'SearchRecords', index, values, pageSize, '');
    await expectTxError(search('name', '["x"]'), 'INVALID_ARGUMENT', /^index: must be one of patient, author/);
    await expectTxError(search('patient', '"x"'), 'INVALID_ARGUMENT', /^values: must be a JSON array of strings/);
    await expectTxError(search('patient', '[1]'), 'INVALID_ARGUMENT', /^values/);
    expect(await search('patient', '[]')).toMatchObject({ records: [] }); // no values: the whole (here empty) index
    await expectTxError(search('patient', '["a","b"]'), 'INVALID_ARGUMENT', /^query: /);
    await expectTxError(search('patient', '["x"]', '0'), 'INVALID_ARGUMENT', /^pageSize: must be an integer between 1 and 500/);
    await expectTxError(search('patient', '["x"]', '501'), 'INVALID_ARGUMENT', /^pageSize/);
    await expectTxError(search('patient', '["x"]', '2.5'), 'INVALID_ARGUMENT', /^pageSize/);
    await expectTxError(c.h.evaluate(c.node1, 'ListGrants', 'author', c.patient.id, '', ''), 'INVALID_ARGUMENT', /^by: must be one of record, grantee, patient$/);
    await expectTxError(c.h.evaluate(c.node1, 'ListRequests', 'requester', 'bob', '', ''), 'INVALID_ARGUMENT', /^id: /);
  });

  it('ListGrants, ListRequests and ListEmergencyGrants page too', async () => {
    const c = await cast();
    const records = await manyRecords(c, 5);
    for (const r of records) {
      await requestAndApprove(c, c.patient, c.doctor2, r.id);
      await act(c, c.er, 'BreakGlass', 'break-glass', { emrId: r.id, justification: 'multiple trauma, unconscious' });
    }
    const grants = await allPages(c, 'ListGrants', ['grantee', c.doctor2.id], 2, 'grants');
    expect([grants.pages, grants.items.length]).toEqual([3, 5]);
    expect((await allPages(c, 'ListRequests', ['requester', c.doctor2.id], 2, 'requests')).items).toHaveLength(5);
    const emergency = await allPages(c, 'ListEmergencyGrants', [c.patient.id], 2, 'grants');
    expect(emergency.items).toHaveLength(5);
    expect(emergency.items.every((g) => (g as unknown as Grant).emergency !== undefined)).toBe(true);
    expect((await allPages(c, 'ListGrants', ['record', records[0]!.id], 10, 'grants')).items).toHaveLength(2);
    // one grantee's grants on one record, whatever it holds on the others
    const on = await allPages(c, 'ListGranteeGrants', [c.doctor2.id, records[1]!.id], 2, 'grants');
    expect(on.items.map((g) => (g as unknown as Grant).emrId)).toEqual([records[1]!.id]);
    expect((await allPages(c, 'ListGranteeGrants', [c.er.id, records[1]!.id], 2, 'grants')).items).toHaveLength(1);
    expect((await allPages(c, 'ListGranteeGrants', [c.patient.id, records[1]!.id], 2, 'grants')).items).toHaveLength(0);
    await expectTxError(c.h.evaluate(c.node1, 'ListGranteeGrants', 'bob', records[1]!.id, '', ''), 'INVALID_ARGUMENT', /^granteeId: /);
  });
});

describe('GetHistory', () => {
  it('shows each committed change of a participant, newest first', async () => {
    const c = await cast();
    const p = await register(c, 'insurer');
    const registeredTx = c.h.lastTxId;
    c.h.advance(HOUR);
    await c.h.submit(c.admin1, 'SetParticipantStatus', p.id, 'suspended');
    const history = (await c.h.evaluate(c.node1, 'GetHistory', 'participant', p.id)) as { txId: string; timestamp: string; isDelete: boolean; value: { status: string } }[];
    expect(history.map((e) => [e.txId, e.value.status, e.isDelete])).toEqual([
      [c.h.lastTxId, 'suspended', false],
      [registeredTx, 'active', false],
    ]);
    expect(history[0]!.timestamp).toBe(c.h.time.toISOString());
  });

  it('covers records, requests and operations; unknown types are refused', async () => {
    const c = await withGrant();
    expect(await c.h.evaluate(c.node1, 'GetHistory', 'record', c.record.id)).toEqual([expect.objectContaining({ value: c.record })]);
    expect(((await c.h.evaluate(c.node1, 'GetHistory', 'request', c.grant.requestId!)) as unknown[]).length).toBe(2);
    expect(await c.h.evaluate(c.node1, 'GetHistory', 'grant', 'unknown')).toEqual([]);
    await expectTxError(c.h.evaluate(c.node1, 'GetHistory', 'blocks', 'x'), 'INVALID_ARGUMENT', /^objectType: must be one of/);
    await expectTxError(c.h.evaluate(c.node1, 'GetHistory', 'policy', 'nope'), 'NOT_FOUND');
  });
});

describe('events', () => {
  it('each successful submit emits exactly one event, named after what happened', async () => {
    const c = await cast();
    const before = c.h.events.length;
    const names: string[] = [];
    const track = async (p: Promise<unknown>) => {
      await p;
      names.push(c.h.events.at(-1)!.name);
      expect(c.h.events.at(-1)!.txId).toBe(c.h.lastTxId);
    };
    const record = await createRecord(c, c.patient, c.doctor, { level: 'LOW' });
    names.push('RecordCreated');
    await track(act(c, c.patient, 'SetPatientPolicy', 'set-patient-policy', { policy: { minClearance: 'LOW', allowedKinds: ['physician', 'researcher', 'insurer'], allow: [], deny: [], emergencyAllowed: true } }));
    await track(act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: record.id, policy: { minClearance: 'LOW', allowedKinds: ['physician', 'researcher', 'insurer'], allow: [], deny: [], emergencyAllowed: true } }));
    const req = (await act(c, c.insurer, 'RequestAccess', 'request-access', { emrId: record.id, purpose: 'claim' })) as { id: string };
    names.push('AccessRequested');
    await track(act(c, c.patient, 'DenyRequest', 'deny-request', { requestId: req.id }));
    const grant = await requestAndApprove(c, c.patient, c.researcher, record.id);
    names.push('AccessRequested', 'AccessGranted');
    await track(act(c, c.patient, 'GrantAccess', 'grant-access', { emrId: record.id, granteeId: c.doctor2.id, ...terms(c.h) }));
    await track(act(c, c.researcher, 'RecordOperation', 'record-operation', { kind: 'reencrypt', emrId: record.id, grantId: grant.id }));
    await track(act(c, c.patient, 'RevokeGrant', 'revoke-grant', { grantId: grant.id }));
    await track(act(c, c.er, 'BreakGlass', 'break-glass', { emrId: record.id, justification: 'stroke symptoms, aphasic' }));
    await track(c.h.submit(c.admin2, 'SetParticipantStatus', c.insurer.id, 'suspended'));
    const emitted = c.h.events.slice(before);
    expect(emitted.map((e) => e.name)).toEqual(names);
    expect(names).toEqual([
      'RecordCreated',
      'PolicyChanged',
      'PolicyChanged',
      'AccessRequested',
      'AccessDenied',
      'AccessRequested',
      'AccessGranted',
      'AccessGranted',
      'AccessRecorded',
      'GrantRevoked',
      'BreakGlass',
      'ParticipantStatusChanged',
    ]);
    expect(new Set(emitted.map((e) => e.txId)).size).toBe(emitted.length);
  });

  it('a failed transaction emits nothing', async () => {
    const c = await cast();
    const before = c.h.events.length;
    await expectTxError(act(c, c.patient, 'RevokeGrant', 'revoke-grant', { grantId: 'nope' }), 'NOT_FOUND');
    expect(c.h.events.length).toBe(before);
  });
});
