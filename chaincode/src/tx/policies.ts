/**
 * Patient access policies (the paper's "contract code"). A patient's default policy is copied into each record
 * created afterwards; a chain policy (set on any version) governs every version of that chain from then on.
 */
import { ContractError, OBJECT_TYPES, parsePatientPolicyPayload, parseRecordPolicyPayload, participantId } from '../domain/index.js';
import type { AccessPolicy } from '../domain/index.js';
import type { Ledger } from '../ledger.js';
import { idArgument } from './args.js';
import { authoriseAction, requirePatientOf } from './authority.js';

/** SetPatientPolicy (signed `set-patient-policy` {policy}): the actor's default policy for new records. */
export async function setPatientPolicy(l: Ledger, actionJson: string): Promise<AccessPolicy> {
  const { action, actor } = await authoriseAction(l, actionJson, 'set-patient-policy');
  if (actor.kind !== 'patient') throw new ContractError('FORBIDDEN', `action.actorId: only a patient has a policy (participant ${actor.id} is a ${actor.kind})`);
  const { policy } = parsePatientPolicyPayload(action.payload);
  await l.writeJson(l.key(OBJECT_TYPES.patientPolicy, actor.id), policy);
  l.emit('PolicyChanged', { scope: 'patient', patientId: actor.id });
  return policy;
}

/** SetRecordPolicy (signed `set-record-policy` {emrId, policy}): the policy of the record's whole chain. */
export async function setRecordPolicy(l: Ledger, actionJson: string): Promise<AccessPolicy> {
  const { action, actor } = await authoriseAction(l, actionJson, 'set-record-policy');
  const { emrId, policy } = parseRecordPolicyPayload(action.payload);
  const record = await l.require('record', emrId);
  requirePatientOf(actor, record, 'set its policy');
  const rootId = await l.rootOf(record.id);
  await l.writeJson(l.key(OBJECT_TYPES.recordPolicy, rootId), policy);
  l.emit('PolicyChanged', { scope: 'record', patientId: actor.id, emrId: record.id, rootId });
  return policy;
}

export async function getEffectivePolicy(l: Ledger, emrId: string): Promise<AccessPolicy> {
  return l.effectivePolicy(await l.require('record', idArgument(emrId, 'emrId')));
}

/** The policy new records of this patient must carry (DEFAULT_POLICY until the patient sets one). */
export async function getPatientPolicy(l: Ledger, patientIdText: string): Promise<AccessPolicy> {
  const patient = await l.require('participant', participantId(patientIdText, 'patientId'));
  if (patient.kind !== 'patient') throw new ContractError('INVALID_ARGUMENT', `patientId: participant ${patient.id} is a ${patient.kind}, not a patient`);
  return l.patientPolicy(patient.id);
}
