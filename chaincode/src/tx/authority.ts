/**
 * Who may submit what. Organisation authority comes from the Fabric caller (MSP id and the CA attribute `role`);
 * participant authority comes from a signed action, relayed by the node but signed by the participant's client.
 */
import {
  ContractError,
  actionDigest,
  assertActionFresh,
  assertActionSignature,
  parseSignedAction,
} from '../domain/index.js';
import type { ActionType, Participant, SignedAction } from '../domain/index.js';
import type { Ledger } from '../ledger.js';
import { jsonArgument } from './args.js';

export const ADMIN_ROLE = 'admin';

/** The caller's MSP id, when the caller is an administrator of that organisation (role=admin); else FORBIDDEN. */
export function requireOrgAdmin(l: Ledger): string {
  if (l.callerRole !== ADMIN_ROLE) {
    throw new ContractError('FORBIDDEN', `caller: only an administrator (role=${ADMIN_ROLE}) of an organisation may do this`);
  }
  return l.callerMsp;
}

export interface Authorised {
  readonly action: SignedAction;
  /** the signing participant, active */
  readonly actor: Participant;
}

/**
 * Verifies a signed action for a transaction of type `type`: shape and type, freshness against the transaction
 * time, the signature under the actor's registered signing key (over the channel too), the actor active, and
 * first use (the replay marker is written here, so it commits exactly when the transaction does).
 */
export async function authoriseAction(l: Ledger, actionJson: string, type: ActionType): Promise<Authorised> {
  const action = parseSignedAction(jsonArgument(actionJson, 'action'), type);
  assertActionFresh(action, l.now);
  const actor = await l.require('participant', action.actorId);
  const bytes = await assertActionSignature(action, l.channel, actor.signingKey);
  if (actor.status !== 'active') throw new ContractError('FORBIDDEN', `action.actorId: participant ${actor.id} is ${actor.status}`);
  await l.useAction(actionDigest(bytes), { type, actorId: actor.id });
  return { action, actor };
}

/** FORBIDDEN unless the actor is the record's patient. */
export function requirePatientOf(actor: Participant, record: { readonly id: string; readonly patientId: string }, what: string): void {
  if (actor.id !== record.patientId) {
    throw new ContractError('FORBIDDEN', `action.actorId: only the patient of record ${record.id} may ${what}`);
  }
}
