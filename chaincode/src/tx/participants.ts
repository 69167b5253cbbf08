/** Participants: registered by an administrator of their organisation, with pseudonymous ids and two public keys. */
import { ContractError, OBJECT_TYPES, PARTICIPANT_STATUSES, deriveId, invalid, parseParticipant, participantId } from '../domain/index.js';
import { object } from '../domain/validate.js';
import type { Participant, ParticipantStatus } from '../domain/index.js';
import type { Ledger } from '../ledger.js';
import { idListArgument, jsonArgument, textArgument } from './args.js';
import { requireOrgAdmin } from './authority.js';

const INPUT_FIELDS = ['kind', 'clearance', 'signingKey', 'encryptionKey', 'roles'];

/**
 * RegisterParticipant: the caller's organisation registers a participant (id derived from the transaction). A
 * public key may belong to one participant only, whether as signing or encryption key: a shared signing key would
 * let one participant's signatures pass as another's. Nor may it be a proxy's (see RegisterProxy).
 */
export async function registerParticipant(l: Ledger, inputJson: string): Promise<Participant> {
  const org = requireOrgAdmin(l);
  const input = object(jsonArgument(inputJson, 'participant'), 'participant', INPUT_FIELDS);
  const participant = parseParticipant({ ...input, id: deriveId('participant', l.txId), org, status: 'active' });
  if (await l.exists('participant', participant.id)) throw new ContractError('CONFLICT', `participant ${participant.id} already exists`);
  for (const field of ['signingKey', 'encryptionKey'] as const) {
    const owner = await l.readText(l.key(OBJECT_TYPES.participantKey, participant[field]));
    if (owner !== undefined) throw new ContractError('CONFLICT', `participant.${field}: this key is already registered (participant ${owner})`);
    const proxy = await l.readText(l.key(OBJECT_TYPES.proxyKey, participant[field]));
    if (proxy !== undefined) throw new ContractError('CONFLICT', `participant.${field}: this key is registered to proxy ${proxy}`);
  }
  await l.put('participant', participant);
  await l.writeText(l.key(OBJECT_TYPES.participantKey, participant.signingKey), participant.id);
  await l.writeText(l.key(OBJECT_TYPES.participantKey, participant.encryptionKey), participant.id);
  l.emit('ParticipantRegistered', { participantId: participant.id, org, kind: participant.kind });
  return participant;
}

/** SetParticipantStatus: an administrator of the participant's own organisation suspends or reactivates it. */
export async function setParticipantStatus(l: Ledger, id: string, statusText: string): Promise<Participant> {
  const org = requireOrgAdmin(l);
  const status = textArgument(statusText, 'status', 32) as ParticipantStatus;
  if (!PARTICIPANT_STATUSES.includes(status)) throw invalid('status', `must be one of ${PARTICIPANT_STATUSES.join(', ')}`);
  const current = await l.require('participant', participantId(id, 'participantId'));
  if (current.org !== org) throw new ContractError('FORBIDDEN', `caller: participant ${current.id} belongs to ${current.org}; only its administrators may change it`);
  if (current.status === status) throw new ContractError('CONFLICT', `participant ${current.id} is already ${status}`);
  const updated = parseParticipant({ ...current, status });
  await l.put('participant', updated);
  l.emit('ParticipantStatusChanged', { participantId: updated.id, org, status, previousStatus: current.status });
  return updated;
}

export async function getParticipant(l: Ledger, id: string): Promise<Participant> {
  return l.require('participant', participantId(id, 'participantId'));
}

/** GetParticipants: several participants in one evaluation (null where an id is unknown), for a client's batch loads. */
export async function getParticipants(l: Ledger, idsJson: string): Promise<(Participant | null)[]> {
  const ids = idListArgument(idsJson, 'participantIds', participantId);
  return Promise.all(ids.map(async (id) => (await l.get('participant', id)) ?? null));
}
