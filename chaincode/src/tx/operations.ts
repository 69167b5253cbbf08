/**
 * Operation records (Chen et al.): queries, downloads, re-encryptions and modifications, each a transaction. The
 * proxies watch AccessRecorded events and release a capsule fragment only for a committed `reencrypt` record of a
 * live grant: no read without an audit record.
 */
import { ContractError, PAYLOAD, creditsForOperation, deriveId, invalid, operationIndexEntries, parseOperationPayload, parseOperationRecord } from '../domain/index.js';
import type { CreditEntry, EmrRecord, Grant, OperationRecord, Participant } from '../domain/index.js';
import type { Ledger } from '../ledger.js';
import { liveness } from './access.js';
import { idArgument } from './args.js';
import { authoriseAction } from './authority.js';

/** The operation's grant: for this record, given to the actor, and live now; FORBIDDEN `<REASON>: …` when it is not. */
async function usableGrant(l: Ledger, grantId: string, actor: Participant, record: EmrRecord): Promise<Grant> {
  const grant = await l.get('grant', grantId);
  if (!grant) throw new ContractError('NOT_FOUND', `${PAYLOAD}.grantId: grant ${grantId} not found`);
  if (grant.emrId !== record.id) throw invalid(`${PAYLOAD}.grantId`, `grant ${grant.id} is for record ${grant.emrId}, not ${record.id}`);
  if (grant.granteeId !== actor.id) throw new ContractError('FORBIDDEN', `${PAYLOAD}.grantId: grant ${grant.id} was given to ${grant.granteeId}, not to ${actor.id}`);
  const live = await liveness(l, grant);
  if (!live.live) throw new ContractError('FORBIDDEN', `${live.reason}: ${live.message}`);
  return grant;
}

/**
 * RecordOperation (signed `record-operation` {kind, emrId, grantId?, beforeCid?, afterCid?}). `query`: any active
 * participant. `download`: the patient, or a grantee with a live grant. `reencrypt`: a grantee with a live grant on
 * the head version (credits the patient and the hospital). `modify`: the patient or the author, from the record's
 * current CID.
 */
export async function recordOperation(l: Ledger, actionJson: string): Promise<OperationRecord> {
  const { action, actor } = await authoriseAction(l, actionJson, 'record-operation');
  const fields = parseOperationPayload(action.payload);
  const op = parseOperationRecord({ ...fields, id: deriveId('operation', l.txId), actorId: actor.id, timestamp: l.now }, PAYLOAD);
  const record = await l.require('record', op.emrId);
  let credits: CreditEntry[] = [];
  switch (op.kind) {
    case 'query':
      break;
    case 'download':
      if (op.grantId !== undefined) await usableGrant(l, op.grantId, actor, record);
      else if (actor.id !== record.patientId) throw invalid(`${PAYLOAD}.grantId`, 'is required unless the patient downloads');
      break;
    case 'reencrypt': {
      // domain parsing guarantees a grantId; liveness includes "the grant's record is the head of its chain"
      const grant = await usableGrant(l, op.grantId ?? '', actor, record);
      if (grant.emergency === undefined && grant.shares < 1) throw new ContractError('FORBIDDEN', `${PAYLOAD}.grantId: grant ${grant.id} carries no kfrags`);
      credits = creditsForOperation(op, record);
      break;
    }
    case 'modify':
      if (actor.id !== record.patientId && actor.id !== record.authorId) {
        throw new ContractError('FORBIDDEN', `action.actorId: only the patient or the author of record ${record.id} may modify it`);
      }
      if (op.beforeCid !== record.metadata.cid) throw new ContractError('CONFLICT', `${PAYLOAD}.beforeCid: is not the current CID of record ${record.id} (${record.metadata.cid})`);
      break;
  }
  await l.put('operation', op);
  await l.writeIndex(operationIndexEntries(op));
  await l.addCredits(credits);
  l.emit('AccessRecorded', { operationId: op.id, kind: op.kind, emrId: op.emrId, grantId: op.grantId, actorId: op.actorId, patientId: record.patientId });
  return op;
}

export async function getOperation(l: Ledger, id: string): Promise<OperationRecord> {
  return l.require('operation', idArgument(id, 'operationId'));
}
