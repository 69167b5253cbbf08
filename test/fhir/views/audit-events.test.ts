// An audit trail (the GraphQL auditTrail's entries) → a FHIR R4 Bundle of AuditEvents: one per transaction, each
// valid R4 (medplum and PIE's own validator, src/fhir/validate.ts), every trail object named as an entity, the
// organisation as observer, pseudonymous participants only, BTG for break-glass.
import type { AuditEvent } from '@medplum/fhirtypes';
import { parseParticipant } from '../../../chaincode/src/domain/index.js';
import { DICOM } from '../../../src/fhir/sensitivity.js';
import { isBlocking, validateFhirResource } from '../../../src/fhir/validate.js';
import {
  AUDIT_EVENT_TYPE_SYSTEM,
  CREDIT_SYSTEM,
  GRANT_SYSTEM,
  LEDGER_EVENT_SYSTEM,
  ORGANIZATION_SYSTEM,
  PARTICIPANT_SYSTEM,
  REQUEST_SYSTEM,
  TRANSACTION_SYSTEM,
  trailToAuditEventBundle,
  trailToAuditEvents,
} from '../../../src/fhir/views/index.js';
import type { AuditTrailEntry } from '../../../src/fhir/views/index.js';
import { CID2, EMERGENCY_DOCTOR, PATIENT, RESEARCHER, authorSigningKey, codes, emergencyGrant, expectValidR4, grant, operation, policy, record, request } from './fixtures.js';

const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
const CONTEXT = { patientId: PATIENT, channel: 'pie', organisation: 'Hospital1MSP' };
const txId = (n: number): string => n.toString(16).padStart(64, '0');
const at = (n: number): string => new Date(Date.UTC(2024, 4, 1, 12, n)).toISOString();
const json = (v: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(v)) as Record<string, unknown>;

/** A trail entry written by transaction `n` at minute `n`. */
const entry = (n: number, objectType: string, objectId: string, value: unknown): AuditTrailEntry => ({
  transactionId: txId(n),
  timestamp: at(n),
  objectType,
  objectId,
  deleted: false,
  value: json(value),
});

const patientParticipant = parseParticipant({
  id: PATIENT,
  kind: 'patient',
  org: 'Hospital1MSP',
  clearance: 'PRIVATE',
  signingKey: authorSigningKey,
  encryptionKey: '02' + '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798',
  roles: [],
  status: 'active',
});

const v1 = record();
const v2 = record({ id: 'emr-1-v2', version: 2, previousId: 'emr-1', metadata: { ...v1.metadata, cid: CID2 } });
const pending = request({ createdAt: at(3) });
const approved = request({ createdAt: at(3), status: 'approved', decidedAt: at(4) });
const theGrant = grant({ notBefore: at(4), notAfter: '2024-06-01T00:00:00.000Z' });
const glass = emergencyGrant({ notBefore: at(6), notAfter: at(7) });
const second = request({ id: 'r'.repeat(31) + '2', requesterId: EMERGENCY_DOCTOR, purpose: 'second opinion', createdAt: at(10) });

/** Every kind of change a patient's trail holds, in one transaction each (the approval and accesses with their credits). */
const TRAIL: AuditTrailEntry[] = [
  entry(1, 'participant', PATIENT, patientParticipant),
  entry(2, 'patient-policy', PATIENT, policy()),
  entry(2.5, 'record', v1.id, v1),
  entry(3, 'request', pending.id, pending),
  // ApproveRequest: the request decided, the grant, the patient's credit
  entry(4, 'request', approved.id, approved),
  entry(4, 'grant', theGrant.id, theGrant),
  entry(4, 'credit', `participant:${PATIENT}`, { holderType: 'participant', holderId: PATIENT, balance: 1 }),
  // a served access (reencrypt) and its credit
  entry(5, 'operation', 'op-1', operation({ id: 'op-1', kind: 'reencrypt', grantId: theGrant.id, timestamp: at(5) })),
  entry(5, 'credit', `participant:${PATIENT}`, { holderType: 'participant', holderId: PATIENT, balance: 2 }),
  entry(6, 'grant', glass.id, glass),
  entry(6.5, 'operation', 'op-2', operation({ id: 'op-2', kind: 'reencrypt', actorId: EMERGENCY_DOCTOR, grantId: glass.id, timestamp: at(6.5) })),
  entry(8, 'grant', theGrant.id, { ...theGrant, revokedAt: at(8) }),
  entry(9, 'record', v2.id, v2),
  entry(10, 'request', second.id, second),
  entry(11, 'request', second.id, { ...second, status: 'denied', decidedAt: at(11) }),
  entry(12, 'policy', v1.id, policy({ emergencyAllowed: false })),
  entry(13, 'participant', PATIENT, { ...patientParticipant, status: 'suspended' }),
  entry(14, 'credit', 'org:Hospital1MSP', { holderType: 'org', holderId: 'Hospital1MSP', balance: 7 }),
];

const events = trailToAuditEvents(TRAIL, CONTEXT);
const byTx = (n: number): AuditEvent => {
  const e = events.find((x) => x.id === txId(n));
  if (e === undefined) throw new Error(`no AuditEvent for transaction ${n}`);
  return e;
};
const entityIds = (e: AuditEvent, system: string): string[] => (e.entity ?? []).filter((x) => x.what?.identifier?.system === system).map((x) => x.what!.identifier!.value!);

describe('trailToAuditEvents', () => {
  it('one AuditEvent per transaction, oldest first: id = the transaction, recorded = its time, outcome 0 unless denied', () => {
    const transactions = [...new Set(TRAIL.map((e) => e.transactionId))];
    expect(events.map((e) => e.id)).toEqual(transactions);
    for (const e of events) {
      const n = TRAIL.find((x) => x.transactionId === e.id)!;
      expect(e.recorded).toBe(n.timestamp);
      expect(['C', 'R', 'U', 'D', 'E']).toContain(e.action);
      expect(e.outcome).toBe(e.id === txId(11) ? '8' : '0');
      // the transaction as the last entity
      expect(e.entity!.at(-1)).toMatchObject({ what: { identifier: { system: TRANSACTION_SYSTEM, value: e.id } } });
    }
  });

  it('every event is valid R4 (medplum) and passes the node’s own FHIR validation, alone and as the Bundle', () => {
    for (const e of events) {
      expectValidR4(e);
      expect(validateFhirResource(e).filter((i) => isBlocking(i))).toEqual([]);
    }
    const bundle = trailToAuditEventBundle(TRAIL, { ...CONTEXT, generatedAt: at(20) });
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection', timestamp: at(20) });
    expect(bundle.entry!.map((x) => x.resource)).toEqual(events);
    expectValidR4(bundle);
    expect(validateFhirResource(bundle).filter((i) => isBlocking(i))).toEqual([]);
    // an empty trail is an empty collection (no empty entry array)
    const empty = trailToAuditEventBundle([], CONTEXT);
    expect(empty).toEqual({ resourceType: 'Bundle', type: 'collection' });
    expect(validateFhirResource(empty).filter((i) => isBlocking(i))).toEqual([]);
  });

  it('the validator would notice a broken event (the check can fail)', () => {
    const broken = { ...events[0]!, action: 'X' } as unknown as AuditEvent;
    expect(validateFhirResource(broken).some((i) => isBlocking(i))).toBe(true);
  });

  it('names every trail object of a transaction as an entity (an approval: request, grant, credit with its balance)', () => {
    for (const t of TRAIL) {
      const e = events.find((x) => x.id === t.transactionId)!;
      expect(e.entity!.some((x) => x.what?.identifier?.value === t.objectId)).toBe(true);
    }
    const approval = byTx(4);
    expect(codes(approval.subtype)).toContain(`${LEDGER_EVENT_SYSTEM}|access-granted`);
    expect(approval.purposeOfEvent).toEqual([{ text: 'diabetes cohort study' }]);
    expect(entityIds(approval, GRANT_SYSTEM)).toEqual([theGrant.id]);
    expect(entityIds(approval, REQUEST_SYSTEM)).toEqual([approved.id]);
    const credit = approval.entity!.find((x) => x.what?.identifier?.system === CREDIT_SYSTEM)!;
    expect(credit).toMatchObject({ what: { identifier: { value: `participant:${PATIENT}` } }, detail: [{ type: 'balance', valueString: '1' }] });
  });

  it('types and actions: record created (C) and rotated (U), request, denial, revocation, policy, export on re-encryption', () => {
    const dcm = (c: string): string => `${DICOM}|${c}`;
    expect([codes([byTx(2.5).type]), byTx(2.5).action]).toEqual([[dcm('110110')], 'C']);
    expect([codes([byTx(9).type]), byTx(9).action]).toEqual([[dcm('110110')], 'U']);
    expect(codes(byTx(3).subtype)).toEqual([`${LEDGER_EVENT_SYSTEM}|access-requested`]);
    expect(codes(byTx(11).subtype)).toContain(`${LEDGER_EVENT_SYSTEM}|access-denied`);
    expect(codes(byTx(8).subtype)).toEqual([dcm('110135'), `${LEDGER_EVENT_SYSTEM}|grant-revoked`]);
    expect(codes(byTx(12).subtype)).toContain(`${LEDGER_EVENT_SYSTEM}|policy-changed`);
    expect(codes(byTx(2).subtype)).toContain(`${LEDGER_EVENT_SYSTEM}|policy-changed`);
    const served = byTx(5);
    expect([codes([served.type]), served.action]).toEqual([[dcm('110106')], 'R']);
    // the purpose of the request the grant answered
    expect(served.purposeOfEvent).toEqual([{ text: 'diabetes cohort study' }]);
    expect(entityIds(served, CREDIT_SYSTEM)).toEqual([`participant:${PATIENT}`]);
  });

  it('break-glass and an access under it: security alert, purposeOfEvent BTG', () => {
    const glassEvent = byTx(6);
    expect(codes([glassEvent.type])).toEqual([`${DICOM}|110113`]);
    expect(codes(glassEvent.purposeOfEvent)).toContain(`${ACT_REASON}|BTG`);
    const access = byTx(6.5);
    expect(codes(access.purposeOfEvent)).toContain(`${ACT_REASON}|BTG`);
    expect(entityIds(access, GRANT_SYSTEM)).toEqual([glass.id]);
  });

  it('participants (registration C, status change U) and a lone credit change: audit-event-type rest', () => {
    const rest = `${AUDIT_EVENT_TYPE_SYSTEM}|rest`;
    expect([codes([byTx(1).type]), byTx(1).action, codes(byTx(1).subtype)]).toEqual([[rest], 'C', ['http://hl7.org/fhir/restful-interaction|create', `${LEDGER_EVENT_SYSTEM}|participant-registered`]]);
    expect([codes([byTx(13).type]), byTx(13).action]).toEqual([[rest], 'U']);
    expect(byTx(1).agent[0]).toMatchObject({ who: { identifier: { system: ORGANIZATION_SYSTEM, value: 'Hospital1MSP' } }, requestor: true });
    const credit = byTx(14);
    expect([codes([credit.type]), credit.action]).toEqual([[rest], 'U']);
    expect(credit.agent[0]!.who).toMatchObject({ identifier: { system: ORGANIZATION_SYSTEM, value: 'Hospital1MSP' } });
    expect(entityIds(credit, CREDIT_SYSTEM)).toEqual(['org:Hospital1MSP']);
  });

  it('source: the channel as site, the exporting organisation as observer', () => {
    for (const e of events) {
      expect(e.source.site).toBe('pie');
      expect(e.source.observer).toEqual({ type: 'Organization', identifier: { system: ORGANIZATION_SYSTEM, value: 'Hospital1MSP' }, display: 'Hospital1MSP' });
    }
  });

  it('participants only by pseudonymous id: no literal Patient/Practitioner references, no names', () => {
    const text = JSON.stringify(events);
    expect(text).not.toMatch(/"reference":"(Patient|Practitioner)\//);
    expect(text).not.toMatch(/"name"/);
    for (const e of events) {
      for (const a of e.agent) {
        const system = a.who?.identifier?.system;
        expect([PARTICIPANT_SYSTEM, ORGANIZATION_SYSTEM]).toContain(system);
        expect(a.who!.reference).toBeUndefined();
      }
    }
    expect(byTx(5).agent[0]!.who!.identifier!.value).toBe(RESEARCHER);
  });
});
