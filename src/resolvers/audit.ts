/**
 * The audit trail: every committed change (Fabric's history database, through GetHistory) of the objects around a
 * record or a patient, on one timeline: each version, its requests, grants (break-glass included) and operation
 * records (every access), the chain's policy; for a patient also the registration, default policy and credits. The
 * ledger's hash chain makes it tamper-evident (`ledger { verified }`). `auditEvents` is the same trail as a FHIR R4
 * Bundle of AuditEvents (src/fhir/views/audit-events.ts).
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/index.js';
import type { HistoryEntry, HistoryObjectType, PieLedger } from '../chain/pie-ledger.js';
import { ExchangeError } from '../exchange/errors.js';
import { trailToAuditEventBundle } from '../fhir/views/audit-events.js';
import { AuditEntry } from '../schema/types.js';
import { isPartyTo, requireCaller, visibleRecord } from './access.js';
import type { RequestContext } from './context.js';
import { allPages } from './paging.js';

/** A patient's trail covers at most this many records (newest pages first are not available: ledger index order). */
const MAX_RECORDS_PER_TRAIL = 200;
/** History reads in flight at once while a trail is collected. */
const HISTORY_CONCURRENCY = 16;
const PAGE = 500;

type TrailObject = readonly [objectType: HistoryObjectType, objectId: string];

const entries = (objectType: HistoryObjectType, objectId: string, history: HistoryEntry[]): AuditEntry[] =>
  history.map((h) => ({
    transactionId: h.txId,
    timestamp: h.timestamp,
    objectType,
    objectId,
    deleted: h.isDelete,
    value: (h.value as Record<string, unknown> | null) ?? null,
  }));

/** Every change of every object, each object once, at most HISTORY_CONCURRENCY reads at a time. */
async function histories(ledger: PieLedger, objects: readonly TrailObject[]): Promise<AuditEntry[]> {
  const unique = [...new Map(objects.map((o) => [`${o[0]}\u0000${o[1]}`, o])).values()];
  const out: AuditEntry[][] = new Array<AuditEntry[]>(unique.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < unique.length; i = next++) {
      const [type, id] = unique[i]!;
      out[i] = entries(type, id, await ledger.history(type, id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(HISTORY_CONCURRENCY, unique.length) }, worker));
  return out.flat();
}

/** The objects around one record chain: every version, its requests, grants and operations, the chain's policy. */
async function recordObjects(ledger: PieLedger, emrId: string): Promise<TrailObject[]> {
  const versions = await ledger.recordVersions(emrId);
  const out: TrailObject[] = [];
  for (const v of versions) {
    out.push(['record', v.id]);
    const [requests, grants, operations] = await Promise.all([
      allPages((b) => ledger.listRequests('record', v.id, { pageSize: PAGE, bookmark: b })),
      allPages((b) => ledger.listGrants('record', v.id, { pageSize: PAGE, bookmark: b })),
      allPages((b) => ledger.listOperations('record', v.id, { pageSize: PAGE, bookmark: b })),
    ]);
    out.push(...requests.map((r) => ['request', r.id] as const), ...grants.map((g) => ['grant', g.id] as const), ...operations.map((o) => ['operation', o.id] as const));
  }
  out.push(['policy', versions[0]!.id]);
  return out;
}

/** The objects around a patient: registration, default policy, credits, every record chain, every break-glass grant. */
async function patientObjects(ledger: PieLedger, patientId: string): Promise<TrailObject[]> {
  const out: TrailObject[] = [
    ['participant', patientId],
    ['patient-policy', patientId],
    ['credit', `participant:${patientId}`],
  ];
  const records = await allPages((b) => ledger.searchRecords('patient', [patientId], { pageSize: PAGE, bookmark: b }), MAX_RECORDS_PER_TRAIL);
  for (const r of records.filter((r) => r.version === 1)) out.push(...(await recordObjects(ledger, r.id)));
  // also those on records beyond MAX_RECORDS_PER_TRAIL: an emergency access is always on the patient's trail
  const emergencies = await allPages((b) => ledger.listEmergencyGrants(patientId, { pageSize: PAGE, bookmark: b }));
  out.push(...emergencies.map((g) => ['grant', g.id] as const));
  return out;
}

const byTime = (a: AuditEntry, b: AuditEntry): number => a.timestamp.localeCompare(b.timestamp) || a.transactionId.localeCompare(b.transactionId);

/** The trail the caller asked for, oldest first, and the patient it is about; the access rules of auditTrail. */
async function trailFor(ctx: RequestContext, emrId: string | undefined | null, patientId: string | undefined | null): Promise<{ patientId: string; entries: AuditEntry[] }> {
  const caller = requireCaller(ctx);
  const { ledger } = ctx.services;
  if ((emrId == null) === (patientId == null)) throw new ExchangeError('BAD_USER_INPUT', 'give exactly one of emrId and patientId');
  if (emrId != null) {
    const record = await visibleRecord(ctx, emrId);
    // the trail covers the whole chain, so the author of any version may read it from any version
    const party = isPartyTo(caller, record) || (await ledger.recordVersions(record.id)).some((v) => v.authorId === caller.participant.id);
    if (!party) throw new ExchangeError('FORBIDDEN', `only the patient and the authors of ${emrId}'s versions may read its audit trail`);
    return { patientId: record.patientId, entries: (await histories(ledger, await recordObjects(ledger, record.id))).sort(byTime) };
  }
  if (!PARTICIPANT_ID.test(patientId!)) throw new ExchangeError('BAD_USER_INPUT', 'patientId: must be a participant id (32 hex characters)');
  if (caller.participant.id !== patientId) throw new ExchangeError('FORBIDDEN', 'a patient’s whole audit trail is for the patient');
  return { patientId: patientId!, entries: (await histories(ledger, await patientObjects(ledger, patientId!))).sort(byTime) };
}

@Resolver(() => AuditEntry)
export class AuditResolver {
  @Query(() => [AuditEntry], {
    description:
      'every change around one record (its versions, policy, requests, grants, operation records) or one patient (registration, default policy, credits, every record, every break-glass grant), oldest first: for the record’s patient and the authors of its versions, a patient’s whole trail for the patient',
  })
  async auditTrail(
    @Arg('emrId', () => ID, { nullable: true }) emrId: string | undefined,
    @Arg('patientId', () => ID, { nullable: true }) patientId: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<AuditEntry[]> {
    return (await trailFor(ctx, emrId, patientId)).entries;
  }

  @Query(() => GraphQLJSONObject, {
    description:
      'auditTrail as a FHIR R4 Bundle (type collection) of AuditEvents, one per transaction (the entries a transaction wrote are entities of its event); the same access rules',
  })
  async auditEvents(
    @Arg('emrId', () => ID, { nullable: true }) emrId: string | undefined,
    @Arg('patientId', () => ID, { nullable: true }) patientId: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Record<string, unknown>> {
    const trail = await trailFor(ctx, emrId, patientId);
    const { services } = ctx;
    const bundle = trailToAuditEventBundle(trail.entries, {
      patientId: trail.patientId,
      channel: services.ledger.channel,
      organisation: services.organisation,
      generatedAt: new Date().toISOString(),
    });
    return bundle as unknown as Record<string, unknown>;
  }
}
