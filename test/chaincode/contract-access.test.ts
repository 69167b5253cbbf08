// The PIE contract through fabric-shim: signed actions (participant authority), requests, approvals, denials,
// direct grants, revocation, break-glass, and every access-denial reason as the client sees it.
import { deriveId } from '../../chaincode/src/domain/index.js';
import type { AccessRequest, EmrRecord, Grant } from '../../chaincode/src/domain/index.js';
import { SecretKey } from '../../src/crypto/umbral/index.js';
import {
  DAY,
  HOUR,
  MINUTE,
  act,
  action,
  cast,
  createRecord,
  expectTxError,
  policy,
  register,
  requestAndApprove,
  terms,
} from './contract-helpers.js';
import type { Cast } from './contract-helpers.js';

async function withRecord(level: 'LOW' | 'MODERATE' | 'PRIVATE' = 'LOW'): Promise<Cast & { record: EmrRecord }> {
  const c = await cast();
  return { ...c, record: await createRecord(c, c.patient, c.doctor, { level }) };
}

const request = (c: Cast, who: Cast['patient'], emrId: string) =>
  act(c, who, 'RequestAccess', 'request-access', { emrId, purpose: 'second opinion' }) as Promise<AccessRequest>;

describe('signed actions', () => {
  it('are verified: signature, key, channel, type, freshness, actor status, single use', async () => {
    const c = await withRecord();
    const payload = { emrId: c.record.id, purpose: 'study' };
    const submit = (json: string) => c.h.submit(c.node2, 'RequestAccess', json);
    // forged: signed with a key that is not the actor's registered signing key
    await expectTxError(submit(action(c.h, c.researcher, 'request-access', payload, { signWith: SecretKey.random() })), 'BAD_SIGNATURE', /^action.signature: does not verify/);
    // the encryption key is not a signing key
    await expectTxError(submit(action(c.h, c.researcher, 'request-access', payload, { signWith: c.researcher.encryptionSk })), 'BAD_SIGNATURE');
    // altered after signing
    await expectTxError(submit(action(c.h, c.researcher, 'request-access', payload, { tamper: (a) => ((a.payload as { purpose: string }).purpose = 'other') })), 'BAD_SIGNATURE');
    // signed for another channel
    await expectTxError(submit(action(c.h, c.researcher, 'request-access', payload, { channel: 'elsewhere' })), 'BAD_SIGNATURE');
    // signed for another transaction: refused by type, and relabelling breaks the signature
    await expectTxError(submit(action(c.h, c.researcher, 'revoke-grant', payload)), 'INVALID_ARGUMENT', /^action.type: must be request-access/);
    await expectTxError(submit(action(c.h, c.researcher, 'revoke-grant', payload, { tamper: (a) => (a.type = 'request-access') })), 'BAD_SIGNATURE');
    // stale, or too far in the future
    await expectTxError(submit(action(c.h, c.researcher, 'request-access', payload, { issuedAt: new Date(c.h.time.getTime() - 11 * MINUTE).toISOString() })), 'INVALID_ARGUMENT', /^action.issuedAt: is more than 10 minutes before/);
    await expectTxError(submit(action(c.h, c.researcher, 'request-access', payload, { issuedAt: new Date(c.h.time.getTime() + 3 * MINUTE).toISOString() })), 'INVALID_ARGUMENT', /^action.issuedAt: is more than 2 minutes after/);
    // malformed
    await expectTxError(submit('nope'), 'INVALID_ARGUMENT', /^action: is not valid JSON/);
    await expectTxError(submit(action(c.h, c.researcher, 'request-access', payload, { nonce: 'short' })), 'INVALID_ARGUMENT', /^action.nonce/);
    await expectTxError(submit(action(c.h, { ...c.researcher, id: 'a'.repeat(32) }, 'request-access', payload)), 'NOT_FOUND', /participant a+ not found/);
    // a valid one, within the window, works once
    const ok = action(c.h, c.researcher, 'request-access', payload, { issuedAt: new Date(c.h.time.getTime() - 9 * MINUTE).toISOString() });
    await submit(ok);
    await expectTxError(submit(ok), 'CONFLICT', /^action: this signed action was already used/);
  });

  it('a replay is refused even when the first use was for a decision now moot', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    const deny = action(c.h, c.patient, 'deny-request', { requestId: req.id });
    await c.h.submit(c.node1, 'DenyRequest', deny);
    await expectTxError(c.h.submit(c.node1, 'DenyRequest', deny), 'CONFLICT', /already used/);
  });

  it('a suspended actor can sign nothing', async () => {
    const c = await withRecord();
    await c.h.submit(c.admin2, 'SetParticipantStatus', c.researcher.id, 'suspended');
    await expectTxError(request(c, c.researcher, c.record.id), 'FORBIDDEN', /^action.actorId: participant .* is suspended/);
  });
});

describe('RequestAccess', () => {
  it('records a pending request when the policy admits the requester', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    expect(req).toEqual({
      id: deriveId('request', c.h.lastTxId),
      emrId: c.record.id,
      requesterId: c.researcher.id,
      purpose: 'second opinion',
      status: 'pending',
      createdAt: c.h.time.toISOString(),
    });
    expect(c.h.events.at(-1)).toEqual({
      name: 'AccessRequested',
      payload: { requestId: req.id, emrId: c.record.id, patientId: c.patient.id, requesterId: c.researcher.id },
      txId: c.h.lastTxId,
    });
    expect(await c.h.evaluate(c.node1, 'GetRequest', req.id)).toEqual(req);
    expect(await c.h.evaluate(c.node1, 'ListRequests', 'record', c.record.id, '', '')).toMatchObject({ requests: [req], fetched: 1 });
    expect(await c.h.evaluate(c.node1, 'ListRequests', 'requester', c.researcher.id, '10', '')).toMatchObject({ requests: [req] });
  });

  it('one pending request per record and requester', async () => {
    const c = await withRecord();
    const first = await request(c, c.researcher, c.record.id);
    await expectTxError(request(c, c.researcher, c.record.id), 'CONFLICT', new RegExp(`request ${first.id} .* is already pending`));
    // another requester is independent; after a decision the requester may ask again
    await request(c, c.insurer, c.record.id);
    await act(c, c.patient, 'DenyRequest', 'deny-request', { requestId: first.id });
    expect((await request(c, c.researcher, c.record.id)).status).toBe('pending');
  });

  it('the patient needs no request; a superseded record is refused naming the head; unknown records are NOT_FOUND', async () => {
    const c = await withRecord();
    await expectTxError(request(c, c.patient, c.record.id), 'INVALID_ARGUMENT', /^action.actorId: the patient reads/);
    const v2 = await createRecord(c, c.patient, c.doctor, { id: `${c.record.id}-v2`, version: 2, previousId: c.record.id, level: 'LOW' });
    await expectTxError(request(c, c.researcher, c.record.id), 'CONFLICT', new RegExp(`superseded by ${v2.id}`));
    await expectTxError(request(c, c.researcher, 'nope'), 'NOT_FOUND');
  });

  describe('refusals name the AccessDenialReason', () => {
    const setPolicy = (c: Cast & { record: EmrRecord }, over: Parameters<typeof policy>[0]) =>
      act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: c.record.id, policy: policy(over) });

    it('CLEARANCE_BELOW_LEVEL: a researcher on a PRIVATE record', async () => {
      const c = await withRecord('PRIVATE');
      await expectTxError(request(c, c.researcher, c.record.id), 'FORBIDDEN', /^CLEARANCE_BELOW_LEVEL: clearance LOW is below the record's level PRIVATE/);
    });
    it('CLEARANCE_BELOW_POLICY_MINIMUM', async () => {
      const c = await withRecord('LOW');
      await setPolicy(c, { minClearance: 'MODERATE' });
      await expectTxError(request(c, c.researcher, c.record.id), 'FORBIDDEN', /^CLEARANCE_BELOW_POLICY_MINIMUM: /);
      expect((await request(c, c.doctor2, c.record.id)).status).toBe('pending');
    });
    it('DENIED_BY_POLICY', async () => {
      const c = await withRecord();
      await setPolicy(c, { deny: [c.researcher.id] });
      await expectTxError(request(c, c.researcher, c.record.id), 'FORBIDDEN', /^DENIED_BY_POLICY: /);
    });
    it('POLICY_EXPIRED', async () => {
      const c = await withRecord();
      await setPolicy(c, { expiresAt: new Date(c.h.time.getTime() + HOUR).toISOString() });
      expect((await request(c, c.insurer, c.record.id)).status).toBe('pending');
      c.h.advance(HOUR);
      await expectTxError(request(c, c.researcher, c.record.id), 'FORBIDDEN', /^POLICY_EXPIRED: /);
    });
    it('KIND_NOT_PERMITTED: a patient or an org admin may not read others’ records', async () => {
      const c = await withRecord();
      const other = await register(c, 'patient');
      const orgAdmin = await register(c, 'org-admin');
      await expectTxError(request(c, other, c.record.id), 'FORBIDDEN', /^KIND_NOT_PERMITTED: a patient/);
      await expectTxError(request(c, orgAdmin, c.record.id), 'FORBIDDEN', /^KIND_NOT_PERMITTED: a org-admin/);
    });
    it('KIND_NOT_ALLOWED_BY_POLICY', async () => {
      const c = await withRecord();
      await setPolicy(c, { allowedKinds: ['physician', 'researcher'] });
      await expectTxError(request(c, c.insurer, c.record.id), 'FORBIDDEN', /^KIND_NOT_ALLOWED_BY_POLICY: /);
    });
    it('NOT_IN_ALLOW_LIST', async () => {
      const c = await withRecord();
      await setPolicy(c, { allow: [c.doctor2.id] });
      await expectTxError(request(c, c.researcher, c.record.id), 'FORBIDDEN', /^NOT_IN_ALLOW_LIST: /);
      expect((await request(c, c.doctor2, c.record.id)).status).toBe('pending');
    });
    it('REQUESTER_SUSPENDED: checked again when the patient approves', async () => {
      const c = await withRecord();
      const req = await request(c, c.researcher, c.record.id);
      await c.h.submit(c.admin2, 'SetParticipantStatus', c.researcher.id, 'suspended');
      await expectTxError(act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h) }), 'FORBIDDEN', /^REQUESTER_SUSPENDED: /);
    });
  });
});

describe('ApproveRequest', () => {
  it('issues the grant, marks the request approved, credits patient and hospital, emits AccessGranted', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    c.h.advance(HOUR);
    const t = terms(c.h);
    const grant = (await act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...t })) as Grant;
    expect(grant).toEqual({ ...t, id: deriveId('grant', c.h.lastTxId), emrId: c.record.id, granteeId: c.researcher.id, requestId: req.id });
    expect(c.h.events.at(-1)).toEqual({
      name: 'AccessGranted',
      payload: { requestId: req.id, grantId: grant.id, emrId: c.record.id, granteeId: c.researcher.id, patientId: c.patient.id },
      txId: c.h.lastTxId,
    });
    expect(await c.h.evaluate(c.node1, 'GetRequest', req.id)).toEqual({ ...req, status: 'approved', decidedAt: c.h.time.toISOString() });
    expect(await c.h.evaluate(c.node1, 'GetGrant', grant.id)).toEqual(grant);
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', grant.id)).toEqual({ live: true });
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'participant', c.patient.id)).toBe(1);
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'org', 'Hospital1MSP')).toBe(1);
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'org', 'Hospital2MSP')).toBe(0);
    expect(await c.h.evaluate(c.node1, 'ListGrants', 'record', c.record.id, '', '')).toMatchObject({ grants: [grant] });
    expect(await c.h.evaluate(c.node1, 'ListGrants', 'grantee', c.researcher.id, '', '')).toMatchObject({ grants: [grant] });
    // the pending marker is gone: the researcher may ask again
    expect((await request(c, c.researcher, c.record.id)).status).toBe('pending');
  });

  it('approve twice conflicts; deny after approve conflicts', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    await act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h) });
    await expectTxError(act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h) }), 'CONFLICT', /already approved/);
    await expectTxError(act(c, c.patient, 'DenyRequest', 'deny-request', { requestId: req.id }), 'CONFLICT', /already approved/);
  });

  it('only the record’s patient approves', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    await expectTxError(act(c, c.doctor, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h) }), 'FORBIDDEN', /only the patient of record/);
    await expectTxError(act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: 'nope', ...terms(c.h) }), 'NOT_FOUND', /request nope not found/);
  });

  it('access is evaluated again at approval with the effective policy', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    await act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: c.record.id, policy: policy({ allowedKinds: ['physician'] }) });
    await expectTxError(act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h) }), 'FORBIDDEN', /^KIND_NOT_ALLOWED_BY_POLICY: /);
  });

  it('a request on a record superseded since is not approved', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    await createRecord(c, c.patient, c.doctor, { id: `${c.record.id}-v2`, version: 2, previousId: c.record.id, level: 'LOW' });
    await expectTxError(act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h) }), 'CONFLICT', /superseded by/);
  });

  it('validates the grant terms with field paths', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    const approve = (over: Record<string, unknown>) => act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h, over) });
    const now = c.h.time.getTime();
    const iso = (ms: number) => new Date(now + ms).toISOString();
    await expectTxError(approve({ notBefore: iso(-6 * MINUTE) }), 'INVALID_ARGUMENT', /^action.payload.notBefore: must not be more than 5 minutes before/);
    await expectTxError(approve({ notBefore: iso(-4 * MINUTE), notAfter: iso(-MINUTE) }), 'INVALID_ARGUMENT', /^action.payload.notAfter: must be after the transaction time/);
    await expectTxError(approve({ notAfter: iso(400 * DAY) }), 'INVALID_ARGUMENT', /^action.payload.notAfter: the window may last at most/);
    await expectTxError(approve({ threshold: 4 }), 'INVALID_ARGUMENT', /^action.payload.threshold/);
    await expectTxError(approve({ shares: 2 }), 'INVALID_ARGUMENT', /^action.payload.kfrags/);
    await expectTxError(approve({ kfrags: [{ proxyId: 'p', ref: 'x' }, { proxyId: 'p', ref: 'y' }, { proxyId: 'q', ref: 'z' }] }), 'INVALID_ARGUMENT', /^action.payload.kfrags\[1\].proxyId: duplicate/);
    await expectTxError(approve({ granteeId: c.insurer.id }), 'INVALID_ARGUMENT', /^action.payload.granteeId: unknown field/);
    await expectTxError(approve({ emergency: { justification: 'x'.repeat(20) } }), 'INVALID_ARGUMENT', /^action.payload.emergency: unknown field/);
  });
});

describe('DenyRequest', () => {
  it('the patient denies; the request is closed; AccessDenied carries the reason', async () => {
    const c = await withRecord();
    const req = await request(c, c.researcher, c.record.id);
    await expectTxError(act(c, c.researcher, 'DenyRequest', 'deny-request', { requestId: req.id }), 'FORBIDDEN', /only the patient/);
    const denied = await act(c, c.patient, 'DenyRequest', 'deny-request', { requestId: req.id, reason: 'not now' });
    expect(denied).toEqual({ ...req, status: 'denied', decidedAt: c.h.time.toISOString() });
    expect(c.h.events.at(-1)).toMatchObject({
      name: 'AccessDenied',
      payload: { requestId: req.id, emrId: c.record.id, patientId: c.patient.id, requesterId: c.researcher.id, reason: 'not now' },
    });
    await expectTxError(act(c, c.patient, 'ApproveRequest', 'approve-request', { requestId: req.id, ...terms(c.h) }), 'CONFLICT', /already denied/);
    await expectTxError(act(c, c.patient, 'DenyRequest', 'deny-request', { requestId: req.id }), 'CONFLICT', /already denied/);
  });
});

describe('GrantAccess (Algorithm 1: delegation without a request)', () => {
  it('the patient grants the treating physician directly', async () => {
    const c = await withRecord('PRIVATE');
    const t = terms(c.h, { threshold: 1, shares: 1, kfrags: [{ proxyId: 'proxy-1', ref: 'bafy-kfrag' }] });
    const grant = (await act(c, c.patient, 'GrantAccess', 'grant-access', { emrId: c.record.id, granteeId: c.doctor.id, ...t })) as Grant;
    expect(grant).toEqual({ ...t, id: deriveId('grant', c.h.lastTxId), emrId: c.record.id, granteeId: c.doctor.id });
    expect(c.h.events.at(-1)).toEqual({
      name: 'AccessGranted',
      payload: { grantId: grant.id, emrId: c.record.id, granteeId: c.doctor.id, patientId: c.patient.id },
      txId: c.h.lastTxId,
    });
    // no credits for a delegation
    expect(await c.h.evaluate(c.node1, 'GetCredits', 'participant', c.patient.id)).toBe(0);
  });

  it('the grantee must pass the policy; only the patient grants; not to the patient', async () => {
    const c = await withRecord('PRIVATE');
    const grant = (granteeId: string, who = c.patient) => act(c, who, 'GrantAccess', 'grant-access', { emrId: c.record.id, granteeId, ...terms(c.h) });
    await expectTxError(grant(c.researcher.id), 'FORBIDDEN', /^CLEARANCE_BELOW_LEVEL: /);
    await expectTxError(grant(c.doctor2.id, c.doctor), 'FORBIDDEN', /only the patient/);
    await expectTxError(grant(c.patient.id), 'INVALID_ARGUMENT', /^action.payload.granteeId: the patient needs no grant/);
    await expectTxError(grant('c'.repeat(32)), 'NOT_FOUND', /^action.payload.granteeId: participant c+ not found/);
    await c.h.submit(c.admin2, 'SetParticipantStatus', c.doctor2.id, 'suspended');
    await expectTxError(grant(c.doctor2.id), 'FORBIDDEN', /^REQUESTER_SUSPENDED: /);
  });
});

describe('RevokeGrant', () => {
  it('the patient revokes at the transaction time; twice conflicts; the history shows both states', async () => {
    const c = await withRecord();
    const grant = await requestAndApprove(c, c.patient, c.researcher, c.record.id);
    const grantTx = c.h.lastTxId;
    await expectTxError(act(c, c.researcher, 'RevokeGrant', 'revoke-grant', { grantId: grant.id }), 'FORBIDDEN', /only the patient/);
    c.h.advance(DAY);
    const revoked = await act(c, c.patient, 'RevokeGrant', 'revoke-grant', { grantId: grant.id });
    const revokeTx = c.h.lastTxId;
    const revokedAt = c.h.time.toISOString();
    expect(revoked).toEqual({ ...grant, revokedAt });
    expect(c.h.events.at(-1)).toEqual({
      name: 'GrantRevoked',
      payload: { grantId: grant.id, emrId: c.record.id, granteeId: c.researcher.id, patientId: c.patient.id, revokedAt },
      txId: revokeTx,
    });
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', grant.id)).toMatchObject({ live: false, reason: 'REVOKED' });
    await expectTxError(act(c, c.patient, 'RevokeGrant', 'revoke-grant', { grantId: grant.id }), 'CONFLICT', /already revoked/);
    // newest first
    const history = (await c.h.evaluate(c.node1, 'GetHistory', 'grant', grant.id)) as { txId: string; value: Grant }[];
    expect(history.map((e) => [e.txId, e.value.revokedAt])).toEqual([
      [revokeTx, revokedAt],
      [grantTx, undefined],
    ]);
    await expectTxError(act(c, c.patient, 'RevokeGrant', 'revoke-grant', { grantId: 'nope' }), 'NOT_FOUND', /grant nope not found/);
  });
});

describe('BreakGlass', () => {
  it('an emergency physician gets a short, flagged grant the patient can list', async () => {
    const c = await withRecord('PRIVATE');
    const grant = (await act(c, c.er, 'BreakGlass', 'break-glass', { emrId: c.record.id, justification: '  unconscious patient in the ER  ', durationMs: 20 * MINUTE })) as Grant;
    expect(grant).toEqual({
      id: deriveId('grant', c.h.lastTxId),
      emrId: c.record.id,
      granteeId: c.er.id,
      notBefore: c.h.time.toISOString(),
      notAfter: new Date(c.h.time.getTime() + 20 * MINUTE).toISOString(),
      threshold: 0,
      shares: 0,
      kfrags: [],
      emergency: { justification: 'unconscious patient in the ER' },
    });
    expect(c.h.events.at(-1)).toEqual({
      name: 'BreakGlass',
      payload: { grantId: grant.id, emrId: c.record.id, patientId: c.patient.id, granteeId: c.er.id, notAfter: grant.notAfter },
      txId: c.h.lastTxId,
    });
    expect(await c.h.evaluate(c.node1, 'ListEmergencyGrants', c.patient.id, '', '')).toMatchObject({ grants: [grant], fetched: 1 });
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', grant.id)).toEqual({ live: true });
    c.h.advance(20 * MINUTE);
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', grant.id)).toMatchObject({ live: false, reason: 'EXPIRED' });
  });

  it('lasts at most an hour, bypasses the allow list and expiry', async () => {
    const c = await withRecord('PRIVATE');
    await act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', {
      emrId: c.record.id,
      policy: policy({ allow: [c.doctor.id], expiresAt: c.h.time.toISOString() }),
    });
    const grant = (await act(c, c.er, 'BreakGlass', 'break-glass', { emrId: c.record.id, justification: 'cardiac arrest, no consent possible', durationMs: 5 * HOUR })) as Grant;
    expect(Date.parse(grant.notAfter) - Date.parse(grant.notBefore)).toBe(HOUR);
  });

  describe('refusals name the AccessDenialReason', () => {
    const glass = (c: Cast & { record: EmrRecord }, who: Cast['er'], justification: unknown = 'patient unconscious after accident') =>
      act(c, who, 'BreakGlass', 'break-glass', { emrId: c.record.id, justification });

    it('NOT_EMERGENCY_PHYSICIAN', async () => {
      const c = await withRecord();
      await expectTxError(glass(c, c.doctor2), 'FORBIDDEN', /^NOT_EMERGENCY_PHYSICIAN: /);
      await expectTxError(glass(c, c.researcher), 'FORBIDDEN', /^NOT_EMERGENCY_PHYSICIAN: /);
      await expectTxError(glass(c, c.patient), 'FORBIDDEN', /^NOT_EMERGENCY_PHYSICIAN: /);
    });
    it('EMERGENCY_NOT_ALLOWED', async () => {
      const c = await withRecord();
      await act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: c.record.id, policy: policy({ emergencyAllowed: false }) });
      await expectTxError(glass(c, c.er), 'FORBIDDEN', /^EMERGENCY_NOT_ALLOWED: /);
    });
    it('DENIED_BY_POLICY', async () => {
      const c = await withRecord();
      await act(c, c.patient, 'SetRecordPolicy', 'set-record-policy', { emrId: c.record.id, policy: policy({ deny: [c.er.id] }) });
      await expectTxError(glass(c, c.er), 'FORBIDDEN', /^DENIED_BY_POLICY: /);
    });
    it('CLEARANCE_BELOW_LEVEL', async () => {
      const c = await withRecord('PRIVATE');
      const junior = await register(c, 'physician', { admin: c.admin2, roles: ['emergency'], clearance: 'MODERATE' });
      await expectTxError(glass(c, junior), 'FORBIDDEN', /^CLEARANCE_BELOW_LEVEL: /);
    });
    it('JUSTIFICATION_REQUIRED', async () => {
      const c = await withRecord();
      await expectTxError(glass(c, c.er, '   urgent   '), 'FORBIDDEN', /^JUSTIFICATION_REQUIRED: /);
      await expectTxError(act(c, c.er, 'BreakGlass', 'break-glass', { emrId: c.record.id }), 'FORBIDDEN', /^JUSTIFICATION_REQUIRED: /);
      await expectTxError(glass(c, c.er, 42), 'FORBIDDEN', /^JUSTIFICATION_REQUIRED: /);
    });
    it('a superseded record is refused, naming the head', async () => {
      const c = await withRecord();
      const v2 = await createRecord(c, c.patient, c.doctor, { id: `${c.record.id}-v2`, version: 2, previousId: c.record.id, level: 'LOW' });
      await expectTxError(glass(c, c.er), 'CONFLICT', new RegExp(`superseded by ${v2.id}`));
    });
  });
});

describe('IsGrantLive', () => {
  it('is not live before notBefore', async () => {
    const c = await withRecord();
    const grant = await requestAndApprove(c, c.patient, c.researcher, c.record.id, { notBefore: new Date(c.h.time.getTime() + DAY).toISOString() });
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', grant.id)).toMatchObject({ live: false, reason: 'NOT_YET_VALID' });
    c.h.advance(DAY);
    expect(await c.h.evaluate(c.node1, 'IsGrantLive', grant.id)).toEqual({ live: true });
    await expectTxError(c.h.evaluate(c.node1, 'IsGrantLive', 'nope'), 'NOT_FOUND');
  });
});
