/**
 * The audit trail: every committed change (Fabric's history database, through GetHistory) of the objects around a
 * record or a patient, on one timeline. The ledger's hash chain makes it tamper-evident (`ledger { verified }`).
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/index.js';
import type { HistoryEntry, HistoryObjectType, PieLedger } from '../chain/pie-ledger.js';
import { ExchangeError } from '../exchange/errors.js';
import { AuditEntry } from '../schema/types.js';
import { isPartyTo, requireCaller, visibleRecord } from './access.js';
import type { RequestContext } from './context.js';
import { allPages } from './paging.js';

/** A patient's trail covers at most this many records (newest pages first are not available: ledger index order). */
const MAX_RECORDS_PER_TRAIL = 200;

const entries = (objectType: HistoryObjectType, objectId: string, history: HistoryEntry[]): AuditEntry[] =>
  history.map((h) => ({
    transactionId: h.txId,
    timestamp: h.timestamp,
    objectType,
    objectId,
    deleted: h.isDelete,
    value: (h.value as Record<string, unknown> | null) ?? null,
  }));

async function recordTrail(ledger: PieLedger, emrId: string): Promise<AuditEntry[]> {
  const versions = await ledger.recordVersions(emrId);
  const out: AuditEntry[] = [];
  for (const v of versions) {
    out.push(...entries('record', v.id, await ledger.history('record', v.id)));
    const requests = await allPages((b) => ledger.listRequests('record', v.id, { pageSize: 500, bookmark: b }));
    const grants = await allPages((b) => ledger.listGrants('record', v.id, { pageSize: 500, bookmark: b }));
    for (const r of requests) out.push(...entries('request', r.id, await ledger.history('request', r.id)));
    for (const g of grants) out.push(...entries('grant', g.id, await ledger.history('grant', g.id)));
  }
  out.push(...entries('policy', versions[0]!.id, await ledger.history('policy', versions[0]!.id)));
  return out;
}

const byTime = (a: AuditEntry, b: AuditEntry): number => a.timestamp.localeCompare(b.timestamp) || a.transactionId.localeCompare(b.transactionId);

@Resolver(() => AuditEntry)
export class AuditResolver {
  @Query(() => [AuditEntry], {
    description: 'every change around one record (its versions, policy, requests, grants) or one patient (registration, default policy, credits, every record), oldest first',
  })
  async auditTrail(
    @Arg('emrId', () => ID, { nullable: true }) emrId: string | undefined,
    @Arg('patientId', () => ID, { nullable: true }) patientId: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<AuditEntry[]> {
    const caller = requireCaller(ctx);
    const { ledger } = ctx.services;
    if ((emrId == null) === (patientId == null)) throw new ExchangeError('BAD_USER_INPUT', 'give exactly one of emrId and patientId');
    if (emrId != null) {
      const record = await visibleRecord(ctx, emrId);
      if (!isPartyTo(caller, record)) throw new ExchangeError('FORBIDDEN', `only the patient and the author of ${emrId} may read its audit trail`);
      return (await recordTrail(ledger, record.id)).sort(byTime);
    }
    if (!PARTICIPANT_ID.test(patientId!)) throw new ExchangeError('BAD_USER_INPUT', 'patientId: must be a participant id (32 hex characters)');
    if (caller.participant.id !== patientId) throw new ExchangeError('FORBIDDEN', 'a patient’s whole audit trail is for the patient');
    const out = [
      ...entries('participant', patientId, await ledger.history('participant', patientId)),
      ...entries('patient-policy', patientId, await ledger.history('patient-policy', patientId)),
      ...entries('credit', `participant:${patientId}`, await ledger.history('credit', `participant:${patientId}`)),
    ];
    const records = await allPages((b) => ledger.searchRecords('patient', [patientId], { pageSize: 500, bookmark: b }), MAX_RECORDS_PER_TRAIL);
    for (const r of records.filter((r) => r.version === 1)) out.push(...(await recordTrail(ledger, r.id)));
    return out.sort(byTime);
  }
}
