// Ledger transactions → AuditEvents (IHE BALP shapes): one per contract event, each valid R4 with the right codes.
import type { AuditEvent } from '@medplum/fhirtypes';
import type { OperationKind } from '../../../chaincode/src/domain/index.js';
import { DICOM } from '../../../src/fhir/sensitivity.js';
import {
  BALP_AUTHZ_SUBTYPE_SYSTEM,
  CHANNEL_SYSTEM,
  GRANT_SYSTEM,
  LEDGER_EVENT_SYSTEM,
  ORGANIZATION_SYSTEM,
  PARTICIPANT_SYSTEM,
  RECORD_SYSTEM,
  RESTFUL_INTERACTION_SYSTEM,
  TRANSACTION_SYSTEM,
  ledgerAuditEvent,
  operationAuditEvent,
  recordCreatedAuditEvent,
} from '../../../src/fhir/views/index.js';
import type { LedgerAuditInput, LedgerTx } from '../../../src/fhir/views/index.js';
import { AUTHOR, CID, CID2, EMERGENCY_DOCTOR, NOW, PATIENT, RESEARCHER, TX, codes, emergencyGrant, expectValidR4, grant, operation, record, request } from './fixtures.js';

const SOURCE = { channel: 'pie' };
const tx: LedgerTx = { txId: TX, timestamp: NOW, creatorMsp: 'Research1MSP' };
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

const dcm = (code: string): string => `${DICOM}|${code}`;
const rest = (code: string): string => `${RESTFUL_INTERACTION_SYSTEM}|${code}`;
const pie = (code: string): string => `${LEDGER_EVENT_SYSTEM}|${code}`;
const participantValue = (e: AuditEvent, i: number): string | undefined => e.agent[i]?.who?.identifier?.value;
const entitySystems = (e: AuditEvent): string[] => (e.entity ?? []).map((x) => x.what?.identifier?.system ?? '');

/** What every PIE AuditEvent has: the transaction as id, recorded time, the ledger as source, the patient and the tx as entities. */
function expectCommon(e: AuditEvent, patientId = PATIENT): void {
  expectValidR4(e);
  expect(e.id).toBe(TX);
  expect(e.recorded).toBe(NOW);
  expect(['C', 'R', 'U', 'D', 'E']).toContain(e.action);
  expect(['0', '4', '8', '12']).toContain(e.outcome);
  expect(e.source).toEqual({
    site: 'pie',
    observer: { type: 'Device', identifier: { system: CHANNEL_SYSTEM, value: 'pie' }, display: 'PIE ledger (Fabric channel pie)' },
    type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
  });
  const patient = e.entity!.find((x) => x.role?.code === '1');
  expect(patient).toMatchObject({ what: { type: 'Patient', identifier: { system: PARTICIPANT_SYSTEM, value: patientId } }, type: { code: '1' } });
  expect(e.entity!.at(-1)).toMatchObject({ what: { identifier: { system: TRANSACTION_SYSTEM, value: TX } } });
  expect(e.agent.filter((a) => a.requestor)).toHaveLength(1);
}

describe('RecordCreated', () => {
  it('a first version: BALP PatientCreate (Patient Record, create, C), author requestor, hospital, labelled record', () => {
    const rec = record();
    const e = recordCreatedAuditEvent({ record: rec, tx: { txId: TX, timestamp: NOW } }, SOURCE);
    expectCommon(e);
    expect(codes([e.type])).toEqual([dcm('110110')]);
    expect(codes(e.subtype)).toEqual([rest('create'), pie('record-created')]);
    expect(e.action).toBe('C');
    expect(e.agent[0]).toMatchObject({ type: { coding: [{ code: 'AUT' }] }, requestor: true, who: { type: 'Practitioner', identifier: { value: AUTHOR } } });
    expect(e.agent[1]).toMatchObject({ type: { coding: [{ system: DICOM, code: '110153' }] }, requestor: false, who: { identifier: { system: ORGANIZATION_SYSTEM, value: 'Hospital1MSP' } } });
    const data = e.entity!.find((x) => x.what?.identifier?.system === RECORD_SYSTEM)!;
    expect(data).toMatchObject({ what: { reference: 'DocumentReference/emr-1' }, type: { code: '2' }, role: { code: '4' } });
    expect(data.securityLabel!.map((c) => c.code)).toEqual(['R', 'HIV']);
  });

  it('a new version (data version update, key rotation): update, U, the superseded version as an entity', () => {
    const v2 = record({ id: 'emr-1-v2', version: 2, previousId: 'emr-1', metadata: { ...record().metadata, cid: CID2 } });
    const e = ledgerAuditEvent({ kind: 'RecordCreated', record: v2, tx }, SOURCE);
    expectCommon(e);
    expect(e.action).toBe('U');
    expect(codes(e.subtype)).toEqual([rest('update'), pie('record-versioned')]);
    expect(e.entity!.filter((x) => x.what?.identifier?.system === RECORD_SYSTEM).map((x) => x.what!.identifier!.value)).toEqual(['emr-1-v2', 'emr-1']);
    // the record's hospital, not the creator field, is the submitting organisation
    expect(e.agent[1]!.who!.identifier!.value).toBe('Hospital1MSP');
  });
});

describe('access requests, decisions, grants, revocations', () => {
  it('AccessRequested: a security alert for the patient, the requester’s purpose as text', () => {
    const e = ledgerAuditEvent({ kind: 'AccessRequested', request: request(), patientId: PATIENT, tx }, SOURCE);
    expectCommon(e);
    expect(codes([e.type])).toEqual([dcm('110113')]);
    expect(codes(e.subtype)).toEqual([pie('access-requested')]);
    expect(e.action).toBe('C');
    expect(e.purposeOfEvent).toEqual([{ text: 'diabetes cohort study' }]);
    expect(e.agent[0]).toMatchObject({ type: { coding: [{ code: 'IRCP' }] }, requestor: true });
    expect(participantValue(e, 0)).toBe(RESEARCHER);
    expect(e.agent[1]!.who!.identifier!.value).toBe('Research1MSP');
    expect(entitySystems(e)).toContain('urn:pie:request');
  });

  it('AccessGranted on approval: BALP AuthZconsent permit (E, outcome 0), patient grantor, grantee, grant as Consent', () => {
    const e = ledgerAuditEvent({ kind: 'AccessGranted', grant: grant(), patientId: PATIENT, request: request({ status: 'approved', decidedAt: NOW }), tx }, SOURCE);
    expectCommon(e);
    expect(codes([e.type])).toEqual([dcm('110113')]);
    expect(codes(e.subtype)).toEqual([`${BALP_AUTHZ_SUBTYPE_SYSTEM}|AuthZ-Consent`, dcm('110135'), pie('access-granted')]);
    expect(e.action).toBe('E');
    expect(e.outcome).toBe('0');
    expect(e.agent.map((a) => [a.type!.coding![0]!.code, a.who!.identifier!.value, a.requestor])).toEqual([
      ['GRANTOR', PATIENT, true],
      ['GRANTEE', RESEARCHER, false],
      ['110153', 'Research1MSP', false],
    ]);
    const g = e.entity!.find((x) => x.what?.identifier?.system === GRANT_SYSTEM)!;
    expect(g).toMatchObject({ what: { type: 'Consent' }, type: { system: 'http://hl7.org/fhir/resource-types', code: 'Consent' } });
    expect(g.detail).toEqual([
      { type: 'notBefore', valueString: NOW },
      { type: 'notAfter', valueString: grant().notAfter },
    ]);
  });

  it('a direct grant (no request) has no purpose and no request entity', () => {
    const e = ledgerAuditEvent({ kind: 'AccessGranted', grant: grant({ requestId: undefined }), patientId: PATIENT, tx: { txId: TX, timestamp: NOW } }, SOURCE);
    expectCommon(e);
    expect(e.purposeOfEvent).toBeUndefined();
    expect(entitySystems(e)).not.toContain('urn:pie:request');
    expect(e.agent).toHaveLength(2); // no creator organisation known
  });

  it('AccessDenied: BALP AuthZconsent deny (outcome 8) with the patient’s reason', () => {
    const e = ledgerAuditEvent({ kind: 'AccessDenied', request: request({ status: 'denied', decidedAt: NOW }), patientId: PATIENT, reason: 'not for research', tx }, SOURCE);
    expectCommon(e);
    expect(codes(e.subtype)).toEqual([`${BALP_AUTHZ_SUBTYPE_SYSTEM}|AuthZ-Consent`, pie('access-denied')]);
    expect(e.outcome).toBe('8');
    expect(e.outcomeDesc).toBe('not for research');
  });

  it('GrantRevoked: object security attributes changed (U), the revocation time on the grant', () => {
    const revoked = grant({ revokedAt: NOW });
    const e = ledgerAuditEvent({ kind: 'GrantRevoked', grant: revoked, patientId: PATIENT, tx }, SOURCE);
    expectCommon(e);
    expect(codes(e.subtype)).toEqual([dcm('110135'), pie('grant-revoked')]);
    expect(e.action).toBe('U');
    expect(e.entity!.find((x) => x.what?.identifier?.system === GRANT_SYSTEM)!.detail).toContainEqual({ type: 'revokedAt', valueString: NOW });
  });

  it('PolicyChanged: the record chain’s policy or the patient’s default', () => {
    const chain = ledgerAuditEvent({ kind: 'PolicyChanged', patientId: PATIENT, recordId: 'emr-1', tx }, SOURCE);
    expectCommon(chain);
    expect(codes(chain.subtype)).toEqual([dcm('110135'), pie('policy-changed')]);
    expect(entitySystems(chain)).toEqual([PARTICIPANT_SYSTEM, RECORD_SYSTEM, 'urn:pie:record-policy', TRANSACTION_SYSTEM]);
    const own = ledgerAuditEvent({ kind: 'PolicyChanged', patientId: PATIENT, tx }, SOURCE);
    expectCommon(own);
    expect(entitySystems(own)).toEqual([PARTICIPANT_SYSTEM, 'urn:pie:patient-policy', TRANSACTION_SYSTEM]);
  });
});

describe('break-glass', () => {
  it('a Security Alert (Emergency Override Started) with purposeOfEvent BTG and the justification', () => {
    const g = emergencyGrant();
    const e = ledgerAuditEvent({ kind: 'BreakGlass', grant: g, patientId: PATIENT, tx }, SOURCE);
    expectCommon(e);
    expect(codes([e.type])).toEqual([dcm('110113')]);
    expect(codes(e.subtype)).toEqual([dcm('110127'), pie('break-glass')]);
    expect(e.action).toBe('E');
    expect(codes(e.purposeOfEvent)).toEqual([`${ACT_REASON}|BTG`, `${ACT_REASON}|ETREAT`]);
    expect(participantValue(e, 0)).toBe(EMERGENCY_DOCTOR);
    expect(codes(e.agent[0]!.purposeOfUse)).toEqual([`${ACT_REASON}|BTG`, `${ACT_REASON}|ETREAT`]);
    expect(e.entity!.find((x) => x.what?.identifier?.system === GRANT_SYSTEM)!.detail).toContainEqual({
      type: 'justification',
      valueString: 'unconscious patient in the emergency department',
    });
  });

  it('refuses an ordinary grant as break-glass (a caller bug)', () => {
    expect(() => ledgerAuditEvent({ kind: 'BreakGlass', grant: grant(), patientId: PATIENT, tx }, SOURCE)).toThrow(/not an emergency grant/);
  });
});

describe('operation records (AccessRecorded)', () => {
  const cases: [OperationKind, Record<string, unknown>, string, string, string][] = [
    ['query', {}, '110112', rest('search-type'), 'E'],
    ['download', { grantId: grant().id }, '110110', rest('read'), 'R'],
    ['reencrypt', { grantId: grant().id }, '110106', 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle|disclose', 'R'],
    ['modify', { actorId: AUTHOR, beforeCid: CID, afterCid: CID2 }, '110110', rest('update'), 'U'],
  ];
  for (const [kind, over, type, subtype, action] of cases) {
    it(`${kind}: DCM ${type}, ${subtype.split('|')[1]}, ${action}`, () => {
      const e = ledgerAuditEvent({ kind: 'AccessRecorded', operation: operation({ kind, ...over }), patientId: PATIENT, tx }, SOURCE);
      expectCommon(e);
      expect(codes([e.type])).toEqual([dcm(type)]);
      expect(codes(e.subtype)).toEqual([subtype, pie(`operation-${kind}`)]);
      expect(e.action).toBe(action);
      expect(e.agent[0]!.type!.coding![0]!.code).toBe(kind === 'modify' ? 'AUT' : 'IRCP');
      expect(entitySystems(e)).toContain('urn:pie:operation');
      expect(entitySystems(e).includes(GRANT_SYSTEM)).toBe('grantId' in over);
    });
  }

  it('modify records the CIDs before and after', () => {
    const e = operationAuditEvent({ operation: operation({ kind: 'modify', actorId: AUTHOR, beforeCid: CID, afterCid: CID2 }), patientId: PATIENT, tx }, SOURCE);
    expect(e.entity!.find((x) => x.what?.identifier?.system === RECORD_SYSTEM)!.detail).toEqual([
      { type: 'beforeCid', valueString: CID },
      { type: 'afterCid', valueString: CID2 },
    ]);
  });

  it('a re-encryption under an emergency grant is a break-glass use: purpose BTG', () => {
    const g = emergencyGrant();
    const e = operationAuditEvent({ operation: operation({ kind: 'reencrypt', actorId: EMERGENCY_DOCTOR, grantId: g.id }), patientId: PATIENT, grant: g, tx }, SOURCE);
    expectCommon(e);
    expect(codes(e.purposeOfEvent)).toEqual([`${ACT_REASON}|BTG`, `${ACT_REASON}|ETREAT`]);
    expect(() => operationAuditEvent({ operation: operation({ kind: 'reencrypt', grantId: 'other' }), patientId: PATIENT, grant: g, tx }, SOURCE)).toThrow(/not/);
  });
});

describe('the dispatcher', () => {
  it('renders every contract event kind, deterministically; a tx id that is not a FHIR id gives no resource id', () => {
    const inputs: LedgerAuditInput[] = [
      { kind: 'RecordCreated', record: record(), tx },
      { kind: 'AccessRequested', request: request(), patientId: PATIENT, tx },
      { kind: 'AccessGranted', grant: grant(), patientId: PATIENT, tx },
      { kind: 'AccessDenied', request: request({ status: 'denied', decidedAt: NOW }), patientId: PATIENT, tx },
      { kind: 'GrantRevoked', grant: grant({ revokedAt: NOW }), patientId: PATIENT, tx },
      { kind: 'BreakGlass', grant: emergencyGrant(), patientId: PATIENT, tx },
      { kind: 'AccessRecorded', operation: operation(), patientId: PATIENT, tx },
      { kind: 'PolicyChanged', patientId: PATIENT, tx },
    ];
    const subtypes = inputs.map((i) => {
      const e = ledgerAuditEvent(i, SOURCE);
      expectCommon(e);
      expect(ledgerAuditEvent(i, SOURCE)).toEqual(e);
      return codes(e.subtype).find((c) => c.startsWith(LEDGER_EVENT_SYSTEM));
    });
    expect(new Set(subtypes).size).toBe(inputs.length);
    const odd = ledgerAuditEvent({ kind: 'PolicyChanged', patientId: PATIENT, tx: { txId: 'tx_1', timestamp: NOW } }, SOURCE);
    expect(odd.id).toBeUndefined();
    expect(odd.entity!.at(-1)!.what!.identifier!.value).toBe('tx_1');
  });
});
