/**
 * An audit trail (GraphQL `auditTrail`: the committed changes of the ledger objects around a record or a patient) as
 * a FHIR R4 Bundle of AuditEvents (`auditEvents`). One AuditEvent per transaction of the trail, rendered as
 * audit-event.ts renders that transaction's contract event; the trail entries a transaction wrote besides its main
 * object (an approval's request and grant, the credits of an approval or a served access) are further entities of
 * the same AuditEvent, so an event is never counted twice and each AuditEvent's id stays its transaction's id.
 *
 * The main object of a transaction, by precedence:
 * grant (revoked → GrantRevoked, emergency → BreakGlass, else AccessGranted with its request's purpose) ›
 * request (pending → AccessRequested, denied → AccessDenied) › operation (AccessRecorded; the purpose of the
 * grant's request, BTG for an emergency grant) › record (RecordCreated) › policy / patient-policy (PolicyChanged) ›
 * participant (registration or status change) › credit (balance change). Participants are referenced only by their
 * pseudonymous ids; source.observer is the organisation whose node exports the trail.
 */
import type { AuditEvent, AuditEventEntity, Bundle, Coding } from '@medplum/fhirtypes';
import {
  parseAccessRequest,
  parseCreditBalance,
  parseEmrRecord,
  parseGrant,
  parseOperationRecord,
  parseParticipant,
} from '../../../chaincode/src/domain/index.js';
import type { AccessRequest, Grant } from '../../../chaincode/src/domain/index.js';
import { DICOM } from '../sensitivity.js';
import {
  LEDGER_EVENT_SYSTEM,
  RESTFUL_INTERACTION_SYSTEM,
  SYSTEM_OBJECT,
  accessDeniedAuditEvent,
  accessGrantedAuditEvent,
  accessRequestedAuditEvent,
  auditEvent,
  breakGlassAuditEvent,
  grantRevokedAuditEvent,
  operationAuditEvent,
  patientEntity,
  policyChangedAuditEvent,
  recordCreatedAuditEvent,
} from './audit-event.js';
import type { AuditSource, LedgerTx } from './audit-event.js';
import {
  GRANT_SYSTEM,
  OPERATION_SYSTEM,
  PARTICIPANT_SYSTEM,
  PATIENT_POLICY_SYSTEM,
  RECORD_POLICY_SYSTEM,
  RECORD_SYSTEM,
  REQUEST_SYSTEM,
  organizationReference,
  participantReference,
} from './document-reference.js';

/** One committed change of a ledger object, as the GraphQL AuditEntry has it. */
export interface AuditTrailEntry {
  readonly transactionId: string;
  readonly timestamp: string;
  /** record, policy, request, grant, operation, participant, patient-policy, credit */
  readonly objectType: string;
  readonly objectId: string;
  readonly deleted: boolean;
  /** the object after the change; null when it was deleted */
  readonly value: Record<string, unknown> | null;
}

export interface AuditTrailContext {
  /** the patient the trail is about (a record trail: the record's patient) */
  readonly patientId: string;
  /** the Fabric channel: source.site */
  readonly channel: string;
  /** MSP id of the organisation whose node exports the trail: source.observer */
  readonly organisation: string;
  /** Bundle.timestamp, when given */
  readonly generatedAt?: string;
}

/** Credit balances: value `participant:<id>` or `org:<msp>`, as GetHistory names them. */
export const CREDIT_SYSTEM = 'urn:pie:credit';
export const AUDIT_EVENT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-event-type';

/** BALP: the client that sent the request; here the organisation whose admin registered or suspended a participant. */
const SOURCE_ROLE: Coding = { system: DICOM, code: '110153', display: 'Source Role ID' };
const REST_TYPE: Coding = { system: AUDIT_EVENT_TYPE_SYSTEM, code: 'rest', display: 'RESTful Operation' };
const rest = (code: string): Coding => ({ system: RESTFUL_INTERACTION_SYSTEM, code, display: code });
const pie = (code: string, display: string): Coding => ({ system: LEDGER_EVENT_SYSTEM, code, display });
export const TRAIL_EVENT_CODES = Object.freeze({
  participantRegistered: pie('participant-registered', 'Participant registered'),
  participantStatusChanged: pie('participant-status-changed', 'Participant status changed'),
  creditChanged: pie('credit-changed', 'Credit balance changed'),
  objectDeleted: pie('object-deleted', 'Ledger object deleted'),
});

const IDENTIFIER_SYSTEMS: Readonly<Record<string, string>> = {
  record: RECORD_SYSTEM,
  request: REQUEST_SYSTEM,
  grant: GRANT_SYSTEM,
  operation: OPERATION_SYSTEM,
  policy: RECORD_POLICY_SYSTEM,
  'patient-policy': PATIENT_POLICY_SYSTEM,
  participant: PARTICIPANT_SYSTEM,
  credit: CREDIT_SYSTEM,
};
const systemOf = (objectType: string): string => IDENTIFIER_SYSTEMS[objectType] ?? `urn:pie:${objectType}`;

/** Which object of a transaction the AuditEvent renders (lower first). */
const PRECEDENCE = ['grant', 'request', 'operation', 'record', 'policy', 'patient-policy', 'participant', 'credit'];
/** A deletion (never made by the contract) or an unknown object type renders only when nothing else does. */
function rank(e: AuditTrailEntry): number {
  const i = PRECEDENCE.indexOf(e.objectType);
  return e.value === null || i === -1 ? PRECEDENCE.length : i;
}

/** What the whole trail knows, for the events that refer to other objects (an operation's grant, a grant's request). */
class TrailObjects {
  readonly #grants = new Map<string, { timestamp: string; grant: Grant }[]>();
  readonly #requests = new Map<string, AccessRequest>();
  /** the oldest change of each object */
  readonly #first = new Map<string, AuditTrailEntry>();

  /** `entries` oldest first */
  constructor(entries: readonly AuditTrailEntry[]) {
    for (const e of entries) {
      const key = `${e.objectType}\u0000${e.objectId}`;
      if (!this.#first.has(key)) this.#first.set(key, e);
      if (e.value === null) continue;
      if (e.objectType === 'grant') {
        const list = this.#grants.get(e.objectId) ?? [];
        list.push({ timestamp: e.timestamp, grant: parseGrant(e.value) });
        this.#grants.set(e.objectId, list);
      } else if (e.objectType === 'request' && !this.#requests.has(e.objectId)) {
        this.#requests.set(e.objectId, parseAccessRequest(e.value)); // any version: the purpose never changes
      }
    }
    for (const list of this.#grants.values()) list.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  }

  /** The grant as it was at `time` (its first version if the trail has none that early). */
  grantAt(id: string | undefined, time: string): Grant | undefined {
    const list = id === undefined ? undefined : this.#grants.get(id);
    if (list === undefined) return undefined;
    return (list.filter((g) => g.timestamp <= time).at(-1) ?? list[0])!.grant;
  }

  request(id: string | undefined): AccessRequest | undefined {
    return id === undefined ? undefined : this.#requests.get(id);
  }

  /** Whether `e` is the oldest change of its object on the trail (a participant's registration). */
  isFirstChange(e: AuditTrailEntry): boolean {
    return this.#first.get(`${e.objectType}\u0000${e.objectId}`) === e;
  }
}

/** The AuditEvent of the transaction's main entry. */
function mainEvent(main: AuditTrailEntry, tx: LedgerTx, group: readonly AuditTrailEntry[], trail: TrailObjects, ctx: AuditTrailContext, source: AuditSource): AuditEvent {
  const { patientId } = ctx;
  const value = main.value;
  if (value === null) {
    // no trail object is ever deleted by the contract; rendered for completeness, the actor unknown
    return auditEvent(
      { type: REST_TYPE, subtype: [rest('delete'), TRAIL_EVENT_CODES.objectDeleted], action: 'D', agents: [{ who: organizationReference(ctx.organisation), requestor: false }], entities: [patientEntity(patientId)] },
      tx,
      source,
    );
  }
  switch (main.objectType) {
    case 'grant': {
      const grant = parseGrant(value);
      if (grant.revokedAt !== undefined) return grantRevokedAuditEvent({ grant, patientId, tx }, source);
      if (grant.emergency !== undefined) return breakGlassAuditEvent({ grant, patientId, tx }, source);
      // the approval's own request entry (status approved) when the trail has it, else any version of the request
      const sameTx = group.find((e) => e.objectType === 'request' && e.objectId === grant.requestId && e.value !== null);
      const request = sameTx ? parseAccessRequest(sameTx.value) : trail.request(grant.requestId);
      return accessGrantedAuditEvent({ grant, patientId, tx, ...(request ? { request } : {}) }, source);
    }
    case 'request': {
      const request = parseAccessRequest(value);
      if (request.status === 'denied') return accessDeniedAuditEvent({ request, patientId, tx }, source);
      return accessRequestedAuditEvent({ request, patientId, tx }, source);
    }
    case 'operation': {
      const operation = parseOperationRecord(value);
      const grant = trail.grantAt(operation.grantId, tx.timestamp);
      const event = operationAuditEvent({ operation, patientId, tx, ...(grant ? { grant } : {}) }, source);
      const request = grant?.emergency === undefined ? trail.request(grant?.requestId) : undefined;
      return request && event.purposeOfEvent === undefined ? { ...event, purposeOfEvent: [{ text: request.purpose }] } : event;
    }
    case 'record':
      return recordCreatedAuditEvent({ record: parseEmrRecord(value), tx }, source);
    case 'policy':
      return policyChangedAuditEvent({ patientId, recordId: main.objectId, tx }, source);
    case 'patient-policy':
      return policyChangedAuditEvent({ patientId: main.objectId, tx }, source);
    case 'participant': {
      const p = parseParticipant(value);
      const registration = trail.isFirstChange(main);
      return auditEvent(
        {
          type: REST_TYPE,
          subtype: registration ? [rest('create'), TRAIL_EVENT_CODES.participantRegistered] : [rest('update'), TRAIL_EVENT_CODES.participantStatusChanged],
          action: registration ? 'C' : 'U',
          // an admin of the participant's organisation registers it and changes its status
          agents: [{ type: { coding: [SOURCE_ROLE] }, who: organizationReference(p.org), requestor: true }],
          entities: [
            p.kind === 'patient'
              ? patientEntity(p.id)
              : { what: participantReference(p.id, p.kind === 'physician' ? 'Practitioner' : undefined), type: SYSTEM_OBJECT, description: `participant (${p.kind}, ${p.status})` },
          ],
        },
        tx,
        source,
      );
    }
    case 'credit': {
      const credit = parseCreditBalance(value);
      const holder = credit.holderType === 'participant' ? participantReference(credit.holderId) : organizationReference(credit.holderId);
      return auditEvent(
        {
          type: REST_TYPE,
          subtype: [rest('update'), TRAIL_EVENT_CODES.creditChanged],
          action: 'U',
          agents: [{ who: holder, requestor: false }],
          entities: [patientEntity(patientId)],
        },
        tx,
        source,
      );
    }
    default:
      throw new Error(`auditEvents: unknown trail object type ${main.objectType}`);
  }
}

/** An entity naming a trail entry's ledger object, with what else is worth knowing of it. */
function entryEntity(e: AuditTrailEntry): AuditEventEntity {
  const balance = e.objectType === 'credit' && e.value !== null && typeof e.value.balance === 'number' ? [{ type: 'balance', valueString: String(e.value.balance) }] : [];
  return {
    what: { identifier: { system: systemOf(e.objectType), value: e.objectId } },
    type: SYSTEM_OBJECT,
    description: e.deleted ? `${e.objectType} (deleted)` : e.objectType,
    ...(balance.length > 0 ? { detail: balance } : {}),
  };
}

const sameObject = (a: AuditEventEntity, system: string, value: string): boolean => a.what?.identifier?.system === system && a.what.identifier.value === value;

/** Every entry of the transaction names its object in the event: those the main event does not name are added before the transaction entity. */
function withEveryEntry(event: AuditEvent, group: readonly AuditTrailEntry[]): AuditEvent {
  const entities = [...(event.entity ?? [])];
  const transaction = entities.pop()!; // audit-event.ts puts the transaction last
  for (const e of group) {
    const at = entities.findIndex((x) => sameObject(x, systemOf(e.objectType), e.objectId));
    if (at === -1) entities.push(entryEntity(e));
    else if (e.objectType === 'credit') entities[at] = { ...entities[at], ...entryEntity(e) };
  }
  return { ...event, entity: [...entities, transaction] };
}

/** The trail's AuditEvents, one per transaction, oldest first. */
export function trailToAuditEvents(entries: readonly AuditTrailEntry[], ctx: AuditTrailContext): AuditEvent[] {
  const ordered = [...entries].sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.transactionId.localeCompare(b.transactionId));
  const groups = new Map<string, AuditTrailEntry[]>();
  for (const e of ordered) {
    const g = groups.get(e.transactionId);
    if (g) g.push(e);
    else groups.set(e.transactionId, [e]);
  }
  const trail = new TrailObjects(ordered);
  const source: AuditSource = { channel: ctx.channel, organisation: ctx.organisation };
  const events: AuditEvent[] = [];
  for (const [txId, group] of groups) {
    const main = [...group].sort((a, b) => rank(a) - rank(b))[0]!;
    const tx: LedgerTx = { txId, timestamp: main.timestamp };
    events.push(withEveryEntry(mainEvent(main, tx, group, trail, ctx, source), group));
  }
  return events;
}

/** The trail as a FHIR R4 Bundle (type collection) of AuditEvents. */
export function trailToAuditEventBundle(entries: readonly AuditTrailEntry[], ctx: AuditTrailContext): Bundle<AuditEvent> {
  const events = trailToAuditEvents(entries, ctx);
  return {
    resourceType: 'Bundle',
    type: 'collection',
    ...(ctx.generatedAt !== undefined ? { timestamp: ctx.generatedAt } : {}),
    ...(events.length > 0 ? { entry: events.map((resource) => ({ resource })) } : {}),
  };
}
