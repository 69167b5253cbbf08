/**
 * Access (Algorithm 2 and Algorithm 1's delegation): requests, the patient's approval or denial, direct grants,
 * revocation and break-glass. Every access check runs at the transaction time against the record's effective
 * policy, and only on the head of a record chain (a new version has a new key, so older versions are closed).
 */
import {
  ContractError,
  OBJECT_TYPES,
  PAYLOAD,
  assertGrantAnswersRequest,
  assertNewGrantWindow,
  creditsFor,
  decideRequest,
  deriveId,
  emergencyGrantIndexEntry,
  evaluateAccess,
  evaluateBreakGlass,
  grantIndexEntries,
  grantLiveness,
  invalid,
  parseAccessRequest,
  parseApproveRequestPayload,
  parseBreakGlassPayload,
  parseDenyRequestPayload,
  parseGrant,
  parseGrantAccessPayload,
  parseRequestAccessPayload,
  parseRevokeGrantPayload,
  requestIndexEntries,
  revokeGrant,
} from '../domain/index.js';
import type { AccessRefusal, AccessRequest, Grant, GrantLiveness } from '../domain/index.js';
import type { Ledger } from '../ledger.js';
import { idArgument } from './args.js';
import { authoriseAction, requirePatientOf } from './authority.js';

/** An access refusal as a failed transaction: FORBIDDEN `<REASON>: <message>`. */
const refused = (d: AccessRefusal): ContractError => new ContractError('FORBIDDEN', `${d.reason}: ${d.message}`);

const pendingKey = (l: Ledger, emrId: string, requesterId: string): string => l.key(OBJECT_TYPES.pendingRequest, emrId, requesterId);

/** RequestAccess (signed `request-access` {emrId, purpose}): a pending request, if the policy admits the actor. */
export async function requestAccess(l: Ledger, actionJson: string): Promise<AccessRequest> {
  const { action, actor } = await authoriseAction(l, actionJson, 'request-access');
  const { emrId, purpose } = parseRequestAccessPayload(action.payload);
  const record = await l.require('record', emrId);
  await l.requireHead(record.id);
  if (actor.id === record.patientId) throw invalid('action.actorId', `the patient reads the patient's own records without a request`);
  const decision = evaluateAccess(actor, await l.governed(record), l.now);
  if (!decision.allowed) throw refused(decision);
  const pending = await l.readText(pendingKey(l, record.id, actor.id));
  if (pending !== undefined) throw new ContractError('CONFLICT', `request ${pending} of ${actor.id} for record ${record.id} is already pending`);

  const request = parseAccessRequest({ id: deriveId('request', l.txId), emrId: record.id, requesterId: actor.id, purpose, status: 'pending', createdAt: l.now });
  await l.put('request', request);
  await l.writeText(pendingKey(l, record.id, actor.id), request.id);
  await l.writeIndex(requestIndexEntries(request, record.patientId));
  l.emit('AccessRequested', { requestId: request.id, emrId: record.id, patientId: record.patientId, requesterId: actor.id });
  return request;
}

/**
 * ApproveRequest (signed `approve-request` {requestId, notBefore, notAfter, threshold, shares, kfrags}): the
 * patient approves; access is checked again now (the policy or the requester may have changed), and the grant
 * carries the kfrags the patient's client made for the requester. Credits the patient and the hospital.
 */
export async function approveRequest(l: Ledger, actionJson: string): Promise<Grant> {
  const { action, actor } = await authoriseAction(l, actionJson, 'approve-request');
  const { requestId, terms } = parseApproveRequestPayload(action.payload);
  const request = await l.require('request', requestId);
  const record = await l.require('record', request.emrId);
  requirePatientOf(actor, record, 'approve requests for it');
  const decided = decideRequest(request, 'approved', l.now);
  await l.requireHead(record.id);
  const requester = await l.require('participant', request.requesterId);
  const decision = evaluateAccess(requester, await l.governed(record), l.now);
  if (!decision.allowed) throw refused(decision);
  const grant = parseGrant({ ...terms, id: deriveId('grant', l.txId), emrId: record.id, granteeId: requester.id, requestId: request.id }, PAYLOAD);
  assertGrantAnswersRequest(grant, decided);
  assertNewGrantWindow(grant, l.now);

  await l.put('request', decided);
  await l.remove(pendingKey(l, record.id, requester.id));
  await l.put('grant', grant);
  await l.writeIndex(grantIndexEntries(grant, record.patientId));
  await l.addCredits(creditsFor('approval', record));
  l.emit('AccessGranted', { requestId: request.id, grantId: grant.id, emrId: record.id, granteeId: grant.granteeId, patientId: record.patientId });
  return grant;
}

/** DenyRequest (signed `deny-request` {requestId, reason?}): the patient refuses. */
export async function denyRequest(l: Ledger, actionJson: string): Promise<AccessRequest> {
  const { action, actor } = await authoriseAction(l, actionJson, 'deny-request');
  const { requestId, reason } = parseDenyRequestPayload(action.payload);
  const request = await l.require('request', requestId);
  const record = await l.require('record', request.emrId);
  requirePatientOf(actor, record, 'deny requests for it');
  const decided = decideRequest(request, 'denied', l.now);
  await l.put('request', decided);
  await l.remove(pendingKey(l, record.id, request.requesterId));
  l.emit('AccessDenied', { requestId: request.id, emrId: record.id, patientId: record.patientId, requesterId: request.requesterId, reason });
  return decided;
}

/**
 * GrantAccess (signed `grant-access` {emrId, granteeId, notBefore, notAfter, threshold, shares, kfrags}): a grant
 * without a request, e.g. Algorithm 1's delegation to the treating physician. The grantee must pass the policy.
 */
export async function grantAccess(l: Ledger, actionJson: string): Promise<Grant> {
  const { action, actor } = await authoriseAction(l, actionJson, 'grant-access');
  const { emrId, granteeId, terms } = parseGrantAccessPayload(action.payload);
  const record = await l.require('record', emrId);
  requirePatientOf(actor, record, 'grant access to it');
  await l.requireHead(record.id);
  if (granteeId === record.patientId) throw invalid(`${PAYLOAD}.granteeId`, 'the patient needs no grant for the patient’s own records');
  const grantee = await l.get('participant', granteeId);
  if (!grantee) throw new ContractError('NOT_FOUND', `${PAYLOAD}.granteeId: participant ${granteeId} not found`);
  const decision = evaluateAccess(grantee, await l.governed(record), l.now);
  if (!decision.allowed) throw refused(decision);
  const grant = parseGrant({ ...terms, id: deriveId('grant', l.txId), emrId: record.id, granteeId }, PAYLOAD);
  assertNewGrantWindow(grant, l.now);

  await l.put('grant', grant);
  await l.writeIndex(grantIndexEntries(grant, record.patientId));
  l.emit('AccessGranted', { grantId: grant.id, emrId: record.id, granteeId, patientId: record.patientId });
  return grant;
}

/** RevokeGrant (signed `revoke-grant` {grantId}): the patient ends a grant now; proxies refuse it from then on. */
export async function revoke(l: Ledger, actionJson: string): Promise<Grant> {
  const { action, actor } = await authoriseAction(l, actionJson, 'revoke-grant');
  const { grantId } = parseRevokeGrantPayload(action.payload);
  const grant = await l.require('grant', grantId);
  const record = await l.require('record', grant.emrId);
  requirePatientOf(actor, record, 'revoke its grants');
  const revoked = revokeGrant(grant, l.now);
  await l.put('grant', revoked);
  l.emit('GrantRevoked', { grantId: grant.id, emrId: grant.emrId, granteeId: grant.granteeId, patientId: record.patientId, revokedAt: revoked.revokedAt });
  return revoked;
}

/**
 * BreakGlass (signed `break-glass` {emrId, justification, durationMs?}): an emergency physician's short grant
 * without the patient's approval, flagged and indexed by patient so the patient sees every emergency access.
 */
export async function breakGlass(l: Ledger, actionJson: string): Promise<Grant> {
  const { action, actor } = await authoriseAction(l, actionJson, 'break-glass');
  const { emrId, justification, durationMs } = parseBreakGlassPayload(action.payload);
  const record = await l.require('record', emrId);
  await l.requireHead(record.id);
  const decision = evaluateBreakGlass(actor, await l.governed(record), justification, l.now, durationMs);
  if (!decision.allowed) throw refused(decision);
  const grant = parseGrant({
    id: deriveId('grant', l.txId),
    emrId: record.id,
    granteeId: actor.id,
    notBefore: decision.notBefore,
    notAfter: decision.notAfter,
    threshold: 0,
    shares: 0,
    kfrags: [],
    emergency: { justification: decision.justification },
  });

  await l.put('grant', grant);
  await l.writeIndex([...grantIndexEntries(grant, record.patientId), emergencyGrantIndexEntry(grant, record.patientId)]);
  l.emit('BreakGlass', { grantId: grant.id, emrId: record.id, patientId: record.patientId, granteeId: actor.id, notAfter: grant.notAfter });
  return grant;
}

export async function getRequest(l: Ledger, id: string): Promise<AccessRequest> {
  return l.require('request', idArgument(id, 'requestId'));
}

export async function getGrant(l: Ledger, id: string): Promise<Grant> {
  return l.require('grant', idArgument(id, 'grantId'));
}

/** Whether a grant may be used at the transaction time (window, revocation, newer version, grantee status). */
export async function liveness(l: Ledger, grant: Grant): Promise<GrantLiveness> {
  const headId = await l.headOfChainContaining(grant.emrId);
  const grantee = await l.require('participant', grant.granteeId);
  return grantLiveness(grant, l.now, { headId, granteeStatus: grantee.status });
}

export async function isGrantLive(l: Ledger, id: string): Promise<GrantLiveness> {
  return liveness(l, await getGrant(l, id));
}
