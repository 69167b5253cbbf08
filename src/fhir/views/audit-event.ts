/**
 * Ledger transactions as FHIR R4 AuditEvents, following the shapes of IHE BALP (Basic Audit Log Patterns). Every PIE
 * transaction emits exactly one contract event, so one AuditEvent renders one transaction: its id is the Fabric
 * transaction id, `recorded` the transaction's timestamp, and the ledger (the Fabric channel) is the observer that
 * recorded it. Inputs are what the API has: the ledger object the transaction wrote (a history entry's value, or a
 * query's result), the transaction (history entries carry txId and timestamp), and the patient the event concerns
 * (the contract event's `patientId`, or the record's).
 *
 * | contract event         | type (DCM)            | subtype                                   | action | outcome |
 * |------------------------|-----------------------|-------------------------------------------|--------|---------|
 * | RecordCreated v1       | 110110 Patient Record | rest create                               | C      | 0       |
 * | RecordCreated v>1      | 110110 Patient Record | rest update (data version / key rotation) | U      | 0       |
 * | AccessRequested        | 110113 Security Alert | —                                         | C      | 0       |
 * | AccessGranted          | 110113 Security Alert | BALP AuthZ-Consent, 110135                | E      | 0       |
 * | AccessDenied           | 110113 Security Alert | BALP AuthZ-Consent                        | E      | 8       |
 * | GrantRevoked           | 110113 Security Alert | 110135 Object Security Attributes Changed | U      | 0       |
 * | BreakGlass             | 110113 Security Alert | 110127 Emergency Override Started         | E      | 0       |
 * | AccessRecorded query   | 110112 Query          | rest search-type                          | E      | 0       |
 * | AccessRecorded download| 110110 Patient Record | rest read                                 | R      | 0       |
 * | AccessRecorded reencrypt| 110106 Export        | ISO 21089 disclose (BALP privacy disclosure)| R    | 0       |
 * | AccessRecorded modify  | 110110 Patient Record | rest update                               | U      | 0       |
 * | PolicyChanged          | 110113 Security Alert | 110135 Object Security Attributes Changed | U      | 0       |
 *
 * Each also carries a PIE subtype (`ledger-event` code system) naming the event exactly, so clients can filter.
 * Break-glass, and any operation under an emergency grant, has purposeOfEvent BTG + ETREAT.
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity, AuditEventEntityDetail, CodeableConcept, Coding, Device, Patient, Practitioner, Reference } from '@medplum/fhirtypes';
import type { AccessRequest, EmrRecord, Grant, OperationKind, OperationRecord } from '../../../chaincode/src/domain/index.js';
import { DICOM } from '../sensitivity.js';
import { BREAK_THE_GLASS, EMERGENCY_TREATMENT, INFORMATION_RECIPIENT, PARTICIPATION_TYPE_SYSTEM } from './consent.js';
import {
  CHANNEL_SYSTEM,
  GRANT_SYSTEM,
  OPERATION_SYSTEM,
  PATIENT_POLICY_SYSTEM,
  PIE_FHIR_BASE,
  RECORD_POLICY_SYSTEM,
  REQUEST_SYSTEM,
  TRANSACTION_SYSTEM,
  authorReference,
  fhirId,
  organizationReference,
  participantReference,
  patientReference,
  recordReference,
  recordSecurityLabels,
} from './document-reference.js';

// ---- inputs ---------------------------------------------------------------------------------------------------------

/** The transaction that wrote the ledger object (a HistoryEntry has txId and timestamp). */
export interface LedgerTx {
  /** Fabric transaction id */
  readonly txId: string;
  /** the transaction's timestamp, ISO-8601 UTC */
  readonly timestamp: string;
  /** MSP id of the organisation whose PIE node submitted the transaction, when known (the block has it) */
  readonly creatorMsp?: string;
}

/** The ledger that recorded the events: AuditEvent.source. */
export interface AuditSource {
  readonly channel: string;
  /** the organisation (MSP id) whose node reports the events: source.observer; default the ledger itself */
  readonly organisation?: string;
}

export interface RecordCreatedInput {
  readonly record: EmrRecord;
  readonly tx: LedgerTx;
}
export interface AccessRequestedInput {
  readonly request: AccessRequest;
  readonly patientId: string;
  readonly tx: LedgerTx;
}
export interface AccessGrantedInput {
  readonly grant: Grant;
  readonly patientId: string;
  /** the approved request, when the grant answers one (grant.requestId) */
  readonly request?: AccessRequest;
  readonly tx: LedgerTx;
}
export interface AccessDeniedInput {
  readonly request: AccessRequest;
  readonly patientId: string;
  /** the patient's reason, from the AccessDenied event */
  readonly reason?: string;
  readonly tx: LedgerTx;
}
export interface GrantRevokedInput {
  readonly grant: Grant;
  readonly patientId: string;
  readonly tx: LedgerTx;
}
export interface BreakGlassInput {
  readonly grant: Grant;
  readonly patientId: string;
  readonly tx: LedgerTx;
}
export interface OperationInput {
  readonly operation: OperationRecord;
  readonly patientId: string;
  /** the grant the operation used, when known: an emergency grant makes the event a break-glass use */
  readonly grant?: Grant;
  readonly tx: LedgerTx;
}
export interface PolicyChangedInput {
  readonly patientId: string;
  /** the record whose chain policy changed; absent when the patient's default policy changed */
  readonly recordId?: string;
  readonly tx: LedgerTx;
}

/** One input per contract event (`kind` is the event's name, as LedgerEvent.name carries it). */
export type LedgerAuditInput =
  | ({ readonly kind: 'RecordCreated' } & RecordCreatedInput)
  | ({ readonly kind: 'AccessRequested' } & AccessRequestedInput)
  | ({ readonly kind: 'AccessGranted' } & AccessGrantedInput)
  | ({ readonly kind: 'AccessDenied' } & AccessDeniedInput)
  | ({ readonly kind: 'GrantRevoked' } & GrantRevokedInput)
  | ({ readonly kind: 'BreakGlass' } & BreakGlassInput)
  | ({ readonly kind: 'AccessRecorded' } & OperationInput)
  | ({ readonly kind: 'PolicyChanged' } & PolicyChangedInput);

export type LedgerEventKind = LedgerAuditInput['kind'];

// ---- vocabulary ---------------------------------------------------------------------------------------------------

export const RESTFUL_INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
export const BALP_AUTHZ_SUBTYPE_SYSTEM = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType';
/** PIE's subtypes: one code per contract event (operations per kind). */
export const LEDGER_EVENT_SYSTEM = `${PIE_FHIR_BASE}/CodeSystem/ledger-event`;

const dcm = (code: string, display: string): Coding => ({ system: DICOM, code, display });
const rest = (code: string): Coding => ({ system: RESTFUL_INTERACTION_SYSTEM, code, display: code });
const pie = (code: string, display: string): Coding => ({ system: LEDGER_EVENT_SYSTEM, code, display });

const PATIENT_RECORD = dcm('110110', 'Patient Record');
const QUERY = dcm('110112', 'Query');
const EXPORT = dcm('110106', 'Export');
const SECURITY_ALERT = dcm('110113', 'Security Alert');
const EMERGENCY_OVERRIDE_STARTED = dcm('110127', 'Emergency Override Started');
const SECURITY_ATTRIBUTES_CHANGED = dcm('110135', 'Object Security Attributes Changed');
const AUTHZ_CONSENT: Coding = { system: BALP_AUTHZ_SUBTYPE_SYSTEM, code: 'AuthZ-Consent', display: 'Authorization Decision using Roles and Consent' };
const DISCLOSE: Coding = { system: 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle', code: 'disclose', display: 'Disclose Record Lifecycle Event' };

/** The PIE subtype codes, one per event (and per operation kind). */
export const LEDGER_EVENT_CODES = Object.freeze({
  recordCreated: pie('record-created', 'EMR record created'),
  recordVersioned: pie('record-versioned', 'EMR record new version (data version update, key rotation)'),
  accessRequested: pie('access-requested', 'Access requested'),
  accessGranted: pie('access-granted', 'Access granted'),
  accessDenied: pie('access-denied', 'Access request denied'),
  grantRevoked: pie('grant-revoked', 'Grant revoked'),
  breakGlass: pie('break-glass', 'Emergency access (break-glass)'),
  policyChanged: pie('policy-changed', 'Access policy changed'),
  operation: (kind: OperationKind): Coding => pie(`operation-${kind}`, `Operation recorded: ${kind}`),
});

const AUTHOR = { system: PARTICIPATION_TYPE_SYSTEM, code: 'AUT', display: 'author (originator)' };
const ROLE_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const GRANTOR: Coding = { system: ROLE_CODE_SYSTEM, code: 'GRANTOR', display: 'grantor' };
const GRANTEE: Coding = { system: ROLE_CODE_SYSTEM, code: 'GRANTEE', display: 'grantee' };
/** BALP: the client that sent the request; here the organisation whose PIE node submitted the transaction. */
const SOURCE_ROLE = dcm('110153', 'Source Role ID');

const ENTITY_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const PERSON: Coding = { system: ENTITY_TYPE_SYSTEM, code: '1', display: 'Person' };
export const SYSTEM_OBJECT: Coding = { system: ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' };
const CONSENT_ENTITY: Coding = { system: 'http://hl7.org/fhir/resource-types', code: 'Consent', display: 'Consent' };
const OBJECT_ROLE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/object-role';
const PATIENT_ROLE: Coding = { system: OBJECT_ROLE_SYSTEM, code: '1', display: 'Patient' };
const DOMAIN_RESOURCE: Coding = { system: OBJECT_ROLE_SYSTEM, code: '4', display: 'Domain Resource' };
const SECURITY_RESOURCE: Coding = { system: OBJECT_ROLE_SYSTEM, code: '13', display: 'Security Resource' };
/** The chaincode is application logic running on every peer. */
const APPLICATION_SERVER: Coding = { system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' };

const EMERGENCY_PURPOSE: CodeableConcept[] = [{ coding: [BREAK_THE_GLASS] }, { coding: [EMERGENCY_TREATMENT] }];

// ---- building blocks ------------------------------------------------------------------------------------------------

export interface AuditEventParts {
  readonly type: Coding;
  readonly subtype: Coding[];
  readonly action: NonNullable<AuditEvent['action']>;
  readonly outcome?: NonNullable<AuditEvent['outcome']>;
  readonly outcomeDesc?: string;
  readonly purposeOfEvent?: CodeableConcept[];
  readonly agents: AuditEventAgent[];
  /** the organisation that submitted the transaction, when known */
  readonly org?: string;
  readonly entities: AuditEventEntity[];
}

/** An AuditEvent of one transaction: the parts, the transaction (id, recorded, entity) and the reporting source. */
export function auditEvent(parts: AuditEventParts, tx: LedgerTx, source: AuditSource): AuditEvent {
  const id = fhirId(tx.txId);
  return {
    resourceType: 'AuditEvent',
    ...(id ? { id } : {}),
    type: parts.type,
    subtype: parts.subtype,
    action: parts.action,
    recorded: tx.timestamp,
    outcome: parts.outcome ?? '0',
    ...(parts.outcomeDesc !== undefined ? { outcomeDesc: parts.outcomeDesc } : {}),
    ...(parts.purposeOfEvent && parts.purposeOfEvent.length > 0 ? { purposeOfEvent: parts.purposeOfEvent } : {}),
    agent: [...parts.agents, ...(parts.org !== undefined ? [organizationAgent(parts.org)] : [])],
    source: ledgerSource(source),
    entity: [...parts.entities, transactionEntity(tx)],
  };
}

const ledgerReference = (channel: string): Reference<Device> => ({
  type: 'Device',
  identifier: { system: CHANNEL_SYSTEM, value: channel },
  display: `PIE ledger (Fabric channel ${channel})`,
});

const ledgerSource = (source: AuditSource): AuditEvent['source'] => ({
  site: source.channel,
  observer: source.organisation !== undefined ? organizationReference(source.organisation) : ledgerReference(source.channel),
  type: [APPLICATION_SERVER],
});

const participantAgent = (who: Reference<Patient | Practitioner>, type: Coding, requestor: boolean): AuditEventAgent => ({ type: { coding: [type] }, who, requestor });

const organizationAgent = (msp: string): AuditEventAgent => ({ type: { coding: [SOURCE_ROLE] }, who: organizationReference(msp), requestor: false });

export const patientEntity = (patientId: string): AuditEventEntity => ({ what: patientReference(patientId), type: PERSON, role: PATIENT_ROLE });

const recordEntity = (recordId: string, extra: Partial<AuditEventEntity> = {}): AuditEventEntity => ({
  what: recordReference(recordId),
  type: SYSTEM_OBJECT,
  role: DOMAIN_RESOURCE,
  ...withoutEmpty(extra),
});

/** FHIR forbids empty arrays: drops the empty ones of `extra`. */
const withoutEmpty = <T extends object>(extra: T): Partial<T> =>
  Object.fromEntries(Object.entries(extra).filter(([, v]) => !(Array.isArray(v) && v.length === 0))) as Partial<T>;

const transactionEntity = (tx: LedgerTx): AuditEventEntity => ({
  what: { identifier: { system: TRANSACTION_SYSTEM, value: tx.txId } },
  type: SYSTEM_OBJECT,
  description: 'the Fabric transaction that recorded this event',
});

const detail = (type: string, value: string | undefined): AuditEventEntityDetail[] => (value === undefined ? [] : [{ type, valueString: value }]);

/** The grant, as the Consent it is rendered as (BALP's AuthZ pattern names the consent the decision rests on). */
function grantEntity(grant: Grant): AuditEventEntity {
  return {
    what: { type: 'Consent', identifier: { system: GRANT_SYSTEM, value: grant.id } },
    type: CONSENT_ENTITY,
    role: SECURITY_RESOURCE,
    detail: [
      ...detail('notBefore', grant.notBefore),
      ...detail('notAfter', grant.notAfter),
      ...detail('revokedAt', grant.revokedAt),
      ...detail('justification', grant.emergency?.justification),
    ],
  };
}

/** A grant known only by its id (an operation's grantId when the grant itself was not looked up). */
const grantIdEntity = (grantId: string): AuditEventEntity => ({
  what: { type: 'Consent', identifier: { system: GRANT_SYSTEM, value: grantId } },
  type: CONSENT_ENTITY,
  role: SECURITY_RESOURCE,
});

const requestEntity = (request: AccessRequest): AuditEventEntity => ({
  what: { identifier: { system: REQUEST_SYSTEM, value: request.id } },
  type: SYSTEM_OBJECT,
  description: `access request (${request.status})`,
});

const requesterPurpose = (request: AccessRequest | undefined): CodeableConcept[] => (request ? [{ text: request.purpose }] : []);

// ---- one function per contract event ----------------------------------------------------------------------------------

/** RecordCreated: BALP PatientCreate (v1), or the update of a record chain by a new version (key rotation). */
export function recordCreatedAuditEvent({ record, tx }: RecordCreatedInput, source: AuditSource): AuditEvent {
  const versioned = record.previousId !== undefined;
  return auditEvent(
    {
      type: PATIENT_RECORD,
      subtype: versioned ? [rest('update'), LEDGER_EVENT_CODES.recordVersioned] : [rest('create'), LEDGER_EVENT_CODES.recordCreated],
      action: versioned ? 'U' : 'C',
      agents: [participantAgent(authorReference(record), AUTHOR, true)],
      // the contract requires the submitting organisation to be the record's hospital
      org: record.hospital,
      entities: [
        patientEntity(record.patientId),
        recordEntity(record.id, { securityLabel: recordSecurityLabels(record.summary), detail: detail('version', String(record.version)) }),
        ...(record.previousId !== undefined ? [recordEntity(record.previousId, { description: 'the version this record supersedes' })] : []),
      ],
    },
    tx,
    source,
  );
}

/** AccessRequested: a participant asks the patient for access (Algorithm 2); the patient is alerted to decide. */
export function accessRequestedAuditEvent({ request, patientId, tx }: AccessRequestedInput, source: AuditSource): AuditEvent {
  return auditEvent(
    {
      type: SECURITY_ALERT,
      subtype: [LEDGER_EVENT_CODES.accessRequested],
      action: 'C',
      purposeOfEvent: requesterPurpose(request),
      agents: [participantAgent(participantReference(request.requesterId), INFORMATION_RECIPIENT, true)],
      org: tx.creatorMsp,
      entities: [patientEntity(patientId), recordEntity(request.emrId), requestEntity(request)],
    },
    tx,
    source,
  );
}

/** AccessGranted: the patient's permit (approving a request, or a direct grant); BALP AuthZconsent. */
export function accessGrantedAuditEvent({ grant, patientId, request, tx }: AccessGrantedInput, source: AuditSource): AuditEvent {
  return auditEvent(
    {
      type: SECURITY_ALERT,
      subtype: [AUTHZ_CONSENT, SECURITY_ATTRIBUTES_CHANGED, LEDGER_EVENT_CODES.accessGranted],
      action: 'E',
      purposeOfEvent: requesterPurpose(request),
      agents: [participantAgent(patientReference(patientId), GRANTOR, true), participantAgent(participantReference(grant.granteeId), GRANTEE, false)],
      org: tx.creatorMsp,
      entities: [patientEntity(patientId), recordEntity(grant.emrId), grantEntity(grant), ...(request ? [requestEntity(request)] : [])],
    },
    tx,
    source,
  );
}

/** AccessDenied: the patient's deny decision; BALP AuthZconsent with outcome 8 and the reason. */
export function accessDeniedAuditEvent({ request, patientId, reason, tx }: AccessDeniedInput, source: AuditSource): AuditEvent {
  return auditEvent(
    {
      type: SECURITY_ALERT,
      subtype: [AUTHZ_CONSENT, LEDGER_EVENT_CODES.accessDenied],
      action: 'E',
      outcome: '8',
      outcomeDesc: reason ?? 'the patient denied the request',
      purposeOfEvent: requesterPurpose(request),
      agents: [participantAgent(patientReference(patientId), GRANTOR, true), participantAgent(participantReference(request.requesterId), INFORMATION_RECIPIENT, false)],
      org: tx.creatorMsp,
      entities: [patientEntity(patientId), recordEntity(request.emrId), requestEntity(request)],
    },
    tx,
    source,
  );
}

/** GrantRevoked: the patient ends a grant; proxies refuse it from the transaction's time on. */
export function grantRevokedAuditEvent({ grant, patientId, tx }: GrantRevokedInput, source: AuditSource): AuditEvent {
  return auditEvent(
    {
      type: SECURITY_ALERT,
      subtype: [SECURITY_ATTRIBUTES_CHANGED, LEDGER_EVENT_CODES.grantRevoked],
      action: 'U',
      agents: [participantAgent(patientReference(patientId), GRANTOR, true), participantAgent(participantReference(grant.granteeId), GRANTEE, false)],
      org: tx.creatorMsp,
      entities: [patientEntity(patientId), recordEntity(grant.emrId), grantEntity(grant)],
    },
    tx,
    source,
  );
}

/** BreakGlass: an emergency physician's override, a security alert with purpose BTG and the justification. */
export function breakGlassAuditEvent({ grant, patientId, tx }: BreakGlassInput, source: AuditSource): AuditEvent {
  if (grant.emergency === undefined) throw new Error(`breakGlassAuditEvent: grant ${grant.id} is not an emergency grant`);
  return auditEvent(
    {
      type: SECURITY_ALERT,
      subtype: [EMERGENCY_OVERRIDE_STARTED, LEDGER_EVENT_CODES.breakGlass],
      action: 'E',
      purposeOfEvent: EMERGENCY_PURPOSE,
      agents: [{ ...participantAgent(participantReference(grant.granteeId), INFORMATION_RECIPIENT, true), purposeOfUse: EMERGENCY_PURPOSE }],
      org: tx.creatorMsp,
      entities: [patientEntity(patientId), recordEntity(grant.emrId), grantEntity(grant)],
    },
    tx,
    source,
  );
}

const OPERATION_SHAPES: Readonly<Record<OperationKind, Pick<AuditEventParts, 'type' | 'action'> & { subtype: Coding }>> = {
  query: { type: QUERY, subtype: rest('search-type'), action: 'E' },
  download: { type: PATIENT_RECORD, subtype: rest('read'), action: 'R' },
  // a re-encryption releases the record's key to the grantee: BALP's privacy disclosure at the source
  reencrypt: { type: EXPORT, subtype: DISCLOSE, action: 'R' },
  modify: { type: PATIENT_RECORD, subtype: rest('update'), action: 'U' },
};

/** AccessRecorded: Chen et al.'s operation records (query, download, re-encryption, modification). */
export function operationAuditEvent({ operation: op, patientId, grant, tx }: OperationInput, source: AuditSource): AuditEvent {
  if (grant !== undefined && grant.id !== op.grantId) throw new Error(`operationAuditEvent: operation ${op.id} used grant ${op.grantId ?? '(none)'}, not ${grant.id}`);
  const shape = OPERATION_SHAPES[op.kind];
  const emergency = grant?.emergency !== undefined;
  return auditEvent(
    {
      type: shape.type,
      subtype: [shape.subtype, LEDGER_EVENT_CODES.operation(op.kind)],
      action: shape.action,
      ...(emergency ? { purposeOfEvent: EMERGENCY_PURPOSE } : {}),
      agents: [participantAgent(participantReference(op.actorId), op.kind === 'modify' ? AUTHOR : INFORMATION_RECIPIENT, true)],
      org: tx.creatorMsp,
      entities: [
        patientEntity(patientId),
        recordEntity(op.emrId, { detail: [...detail('beforeCid', op.beforeCid), ...detail('afterCid', op.afterCid)] }),
        { what: { identifier: { system: OPERATION_SYSTEM, value: op.id } }, type: SYSTEM_OBJECT, description: `operation record (${op.kind})` },
        ...(grant ? [grantEntity(grant)] : op.grantId !== undefined ? [grantIdEntity(op.grantId)] : []),
      ],
    },
    tx,
    source,
  );
}

/** PolicyChanged: the patient narrowed (or relaxed back towards the defaults) a policy. */
export function policyChangedAuditEvent({ patientId, recordId, tx }: PolicyChangedInput, source: AuditSource): AuditEvent {
  const policy: AuditEventEntity = {
    what: { type: 'Consent', identifier: recordId !== undefined ? { system: RECORD_POLICY_SYSTEM, value: recordId } : { system: PATIENT_POLICY_SYSTEM, value: patientId } },
    type: CONSENT_ENTITY,
    role: SECURITY_RESOURCE,
    description: recordId !== undefined ? 'the access policy of the record’s version chain' : 'the patient’s default access policy for new records',
  };
  return auditEvent(
    {
      type: SECURITY_ALERT,
      subtype: [SECURITY_ATTRIBUTES_CHANGED, LEDGER_EVENT_CODES.policyChanged],
      action: 'U',
      agents: [participantAgent(patientReference(patientId), GRANTOR, true)],
      org: tx.creatorMsp,
      entities: [patientEntity(patientId), ...(recordId !== undefined ? [recordEntity(recordId)] : []), policy],
    },
    tx,
    source,
  );
}

/** The AuditEvent of any contract event. */
export function ledgerAuditEvent(input: LedgerAuditInput, source: AuditSource): AuditEvent {
  switch (input.kind) {
    case 'RecordCreated':
      return recordCreatedAuditEvent(input, source);
    case 'AccessRequested':
      return accessRequestedAuditEvent(input, source);
    case 'AccessGranted':
      return accessGrantedAuditEvent(input, source);
    case 'AccessDenied':
      return accessDeniedAuditEvent(input, source);
    case 'GrantRevoked':
      return grantRevokedAuditEvent(input, source);
    case 'BreakGlass':
      return breakGlassAuditEvent(input, source);
    case 'AccessRecorded':
      return operationAuditEvent(input, source);
    case 'PolicyChanged':
      return policyChangedAuditEvent(input, source);
  }
}
