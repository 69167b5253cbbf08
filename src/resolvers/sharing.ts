/**
 * Sharing (docs/sharing.md): access requests, the patient's decisions and grants, revocation, break-glass, and
 * opening a record after the ledger has recorded the access. Every mutation is the caller's signed action
 * (signed-actions.ts); the resolvers check first what the caller may do and see (least privilege, no existence
 * oracle), and the contract checks again.
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type {
  AccessRequest as LedgerRequest,
  EmrRecord as LedgerRecord,
  Grant as LedgerGrant,
  OperationRecord as LedgerOperation,
  Participant as LedgerParticipant,
} from '../../chaincode/src/domain/index.js';
import { ExchangeError, toExchangeError } from '../exchange/errors.js';
import { delegationOf, emergencyDek, publicKeyOf } from '../exchange/reencryption.js';
import { seal } from '../crypto/kfrag-seal.js';
import { AccessRequestStatusEnum } from '../schema/enums.js';
import { ActionSignatureInput, SealedKFragInput } from '../schema/inputs.js';
import { AccessRequest, EmrOpening, RegisteredProxy, ReencryptionGrant } from '../schema/types.js';
import { grantLooksLive, requireCaller, requireKind, visibleRecord } from './access.js';
import type { Caller, RequestContext } from './context.js';
import { grantsOnKey } from './loaders.js';
import { allPages } from './paging.js';
import { checkFirst, checkGrantWindow, checkId, checkParticipantId, checkText } from './sharing-input.js';
import { signedActionFor } from './signed-actions.js';

const REQUESTER_KINDS = ['physician', 'researcher', 'insurer'];
/** A listing reads at most this many ledger entries before it sorts and cuts to `first`. */
const MAX_LISTED = 5_000;
const MAX_PURPOSE = 512;
const MAX_REASON = 512;
const MAX_BREAK_GLASS_MINUTES = 60;

const notFound = (what: string, id: string): ExchangeError => new ExchangeError('NOT_FOUND', `${what} ${id} not found`);

/** A ledger read whose NOT_FOUND is answered as `notFound` (the same answer as "not yours"). */
async function orNotFound<T>(read: Promise<T>, what: string, id: string): Promise<T> {
  try {
    return await read;
  } catch (e) {
    if (toExchangeError(e).code === 'NOT_FOUND') throw notFound(what, id);
    throw e;
  }
}

async function recordOf(ctx: RequestContext, emrId: string): Promise<LedgerRecord | null> {
  return ctx.loaders.record.load(emrId);
}

/** A request its requester or its record's patient may see; NOT_FOUND for anyone else. */
async function visibleRequest(ctx: RequestContext, caller: Caller, id: string): Promise<{ request: LedgerRequest; record: LedgerRecord | null }> {
  checkId(id, 'id');
  const request = await orNotFound(ctx.services.ledger.request(id), 'access request', id);
  const record = await recordOf(ctx, request.emrId);
  const me = caller.participant.id;
  if (request.requesterId !== me && record?.patientId !== me) throw notFound('access request', id);
  return { request, record };
}

/** A grant its grantee or its record's patient may see; NOT_FOUND for anyone else. */
async function visibleGrant(ctx: RequestContext, caller: Caller, id: string, field = 'id'): Promise<{ grant: LedgerGrant; record: LedgerRecord | null }> {
  checkId(id, field);
  const grant = await orNotFound(ctx.services.ledger.grant(id), 'grant', id);
  const record = await recordOf(ctx, grant.emrId);
  const me = caller.participant.id;
  if (grant.granteeId !== me && record?.patientId !== me) throw notFound('grant', id);
  return { grant, record };
}

/** The patient's own record (a patient sees no other's: visibleRecord answers NOT_FOUND for those). */
async function ownRecord(ctx: RequestContext, caller: Caller, emrId: string, field = 'emrId'): Promise<LedgerRecord> {
  checkId(emrId, field);
  const record = await visibleRecord(ctx, emrId);
  if (record.patientId !== caller.participant.id) throw new ExchangeError('FORBIDDEN', `${field}: record ${emrId} is not one of your records`);
  return record;
}

/**
 * A grant this request has just committed: its liveness is what the contract judged at the transaction (policy,
 * newest version, grantee active) within its window, so the `live` field need not evaluate IsGrantLive again.
 */
function committedGrant(ctx: RequestContext, grant: LedgerGrant): LedgerGrant {
  ctx.loaders.grantLive.prime(grant.id, grantLooksLive(grant));
  return grant;
}

/** What a patient's listing scans: one of the patient's own records, or all of them. */
async function patientListing(ctx: RequestContext, caller: Caller, emrId: string | null | undefined): Promise<readonly ['record' | 'patient', string]> {
  return emrId != null ? ['record', (await ownRecord(ctx, caller, emrId)).id] : ['patient', caller.participant.id];
}

/** The registered proxies' ids, read again from the ledger when `needed` names one the kept list does not have. */
async function registeredProxyIds(ctx: RequestContext, needed: readonly string[] = []): Promise<Set<string>> {
  const ids = new Set((await ctx.services.ledger.proxies()).map((p) => p.id));
  if (needed.every((id) => ids.has(id))) return ids;
  return new Set((await ctx.services.ledger.proxies({ fresh: true })).map((p) => p.id));
}

const newestFirst = <T>(key: (x: T) => string) => (a: T, b: T): number => key(b).localeCompare(key(a));

@Resolver()
export class SharingResolver {
  // ---- queries ----

  @Query(() => [RegisteredProxy], { description: 'every re-encryption proxy registered on the channel (seal kfrags to these keys)' })
  async proxies(@Ctx() ctx: RequestContext): Promise<RegisteredProxy[]> {
    requireCaller(ctx);
    return (await ctx.services.ledger.proxies()).map((p) => ({ id: p.id, organisation: p.org, encryptionKey: p.encryptionKey }));
  }

  @Query(() => [AccessRequest], { description: 'a patient: requests for the patient’s records; anyone else: the caller’s own requests. Newest first' })
  async accessRequests(
    @Arg('status', () => AccessRequestStatusEnum, { nullable: true }) status: AccessRequestStatusEnum | null | undefined,
    @Arg('emrId', () => ID, { nullable: true }) emrId: string | null | undefined,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerRequest[]> {
    const caller = requireCaller(ctx);
    const me = caller.participant;
    checkFirst(first, ctx.services.maxPageSize);
    const { ledger } = ctx.services;
    let requests: LedgerRequest[];
    if (me.kind === 'patient') {
      const [by, id] = await patientListing(ctx, caller, emrId);
      requests = await allPages((b) => ledger.listRequests(by, id, { pageSize: 500, bookmark: b }), MAX_LISTED);
    } else {
      if (emrId != null) checkId(emrId, 'emrId');
      requests = await allPages((b) => ledger.listRequests('requester', me.id, { pageSize: 500, bookmark: b }), MAX_LISTED);
    }
    return requests
      .filter((r) => (status == null || r.status === status) && (emrId == null || r.emrId === emrId))
      .sort(newestFirst((r) => r.createdAt))
      .slice(0, first);
  }

  @Query(() => [ReencryptionGrant], { description: 'a patient: grants on the patient’s records (emergency ones too); anyone else: grants given to the caller. Newest first' })
  async grants(
    @Arg('emrId', () => ID, { nullable: true }) emrId: string | null | undefined,
    @Arg('liveOnly', { defaultValue: false }) liveOnly: boolean,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerGrant[]> {
    const caller = requireCaller(ctx);
    const me = caller.participant;
    checkFirst(first, ctx.services.maxPageSize);
    const { ledger } = ctx.services;
    let grants: LedgerGrant[];
    if (me.kind === 'patient') {
      const [by, id] = await patientListing(ctx, caller, emrId);
      grants = await allPages((b) => ledger.listGrants(by, id, { pageSize: 500, bookmark: b }), MAX_LISTED);
    } else {
      // only the caller's own grants: a grantee never sees another grantee's
      if (emrId != null) checkId(emrId, 'emrId');
      grants = await (emrId != null ? ctx.loaders.grantsOn.load(grantsOnKey(me.id, emrId)) : ctx.loaders.grantsOf.load(me.id));
    }
    const sorted = grants.filter((g) => emrId == null || g.emrId === emrId).sort(newestFirst((g) => g.notBefore));
    if (!liveOnly) return sorted.slice(0, first);
    const live: LedgerGrant[] = [];
    for (const g of sorted) {
      if (live.length >= first) break;
      // the ledger's answer counts (newest version, grantee status); the local look only skips the obviously ended
      if (grantLooksLive(g) && (await ctx.loaders.grantLive.load(g.id))) live.push(g);
    }
    return live;
  }

  @Query(() => AccessRequest, { description: 'an access request: for its requester and the record’s patient' })
  async accessRequest(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<LedgerRequest> {
    return (await visibleRequest(ctx, requireCaller(ctx), id)).request;
  }

  @Query(() => ReencryptionGrant, { description: 'a grant: for its grantee and the record’s patient' })
  async grant(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<LedgerGrant> {
    return (await visibleGrant(ctx, requireCaller(ctx), id)).grant;
  }

  // ---- mutations ----

  @Mutation(() => AccessRequest, { description: 'asks the record’s patient for access (signed request-access; custodial accounts may leave signed out)' })
  async requestAccess(
    @Arg('emrId', () => ID) emrId: string,
    @Arg('purpose') purpose: string,
    @Arg('signed', () => ActionSignatureInput, { nullable: true }) signed: ActionSignatureInput | null | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerRequest> {
    const caller = requireKind(ctx, REQUESTER_KINDS, 'requestAccess');
    checkId(emrId, 'emrId');
    checkText(purpose, 'purpose', MAX_PURPOSE);
    // a record the caller may not see is NOT_FOUND here, as everywhere; the contract gives the reasons for the rest
    await visibleRecord(ctx, emrId);
    const action = await signedActionFor(ctx.services, caller, 'requestAccess', { emrId, purpose }, signed);
    return (await ctx.services.ledger.submitAction<LedgerRequest>(action)).result;
  }

  @Mutation(() => ReencryptionGrant, { description: 'the patient approves a pending request with kfrags sealed to registered proxies (signed approve-request)' })
  async approveAccessRequest(
    @Arg('requestId', () => ID) requestId: string,
    @Arg('validFrom') validFrom: string,
    @Arg('validUntil') validUntil: string,
    @Arg('threshold', () => Int) threshold: number,
    @Arg('kfrags', () => [SealedKFragInput]) kfrags: SealedKFragInput[],
    @Arg('signed', () => ActionSignatureInput) signed: ActionSignatureInput,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerGrant> {
    const caller = requireKind(ctx, ['patient'], 'approveAccessRequest');
    await patientsRequest(ctx, caller, requestId);
    const args = { requestId, validFrom, validUntil, threshold, kfrags };
    checkGrantWindow(args, await registeredProxyIds(ctx, args.kfrags.map((k) => k.proxyId)));
    const action = await signedActionFor(ctx.services, caller, 'approveAccessRequest', args, signed);
    return committedGrant(ctx, (await ctx.services.ledger.submitAction<LedgerGrant>(action)).result);
  }

  @Mutation(() => AccessRequest, { description: 'the patient refuses a pending request (signed deny-request)' })
  async denyAccessRequest(
    @Arg('requestId', () => ID) requestId: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null | undefined,
    @Arg('signed', () => ActionSignatureInput) signed: ActionSignatureInput,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerRequest> {
    const caller = requireKind(ctx, ['patient'], 'denyAccessRequest');
    await patientsRequest(ctx, caller, requestId);
    if (reason != null) checkText(reason, 'reason', MAX_REASON);
    const action = await signedActionFor(ctx.services, caller, 'denyAccessRequest', { requestId, reason }, signed);
    return (await ctx.services.ledger.submitAction<LedgerRequest>(action)).result;
  }

  @Mutation(() => ReencryptionGrant, { description: 'the patient grants access without a request, e.g. to the record’s author (Algorithm 1, a treating grant; signed grant-access)' })
  async grantAccess(
    @Arg('emrId', () => ID) emrId: string,
    @Arg('granteeId', () => ID) granteeId: string,
    @Arg('validFrom') validFrom: string,
    @Arg('validUntil') validUntil: string,
    @Arg('threshold', () => Int) threshold: number,
    @Arg('kfrags', () => [SealedKFragInput]) kfrags: SealedKFragInput[],
    @Arg('signed', () => ActionSignatureInput) signed: ActionSignatureInput,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerGrant> {
    const caller = requireKind(ctx, ['patient'], 'grantAccess');
    await ownRecord(ctx, caller, emrId);
    checkParticipantId(granteeId, 'granteeId');
    const args = { emrId, granteeId, validFrom, validUntil, threshold, kfrags };
    checkGrantWindow(args, await registeredProxyIds(ctx, args.kfrags.map((k) => k.proxyId)));
    const action = await signedActionFor(ctx.services, caller, 'grantAccess', args, signed);
    return committedGrant(ctx, (await ctx.services.ledger.submitAction<LedgerGrant>(action)).result);
  }

  @Mutation(() => ReencryptionGrant, { description: 'the patient ends a grant now; proxies refuse it from then on (signed revoke-grant)' })
  async revokeGrant(
    @Arg('grantId', () => ID) grantId: string,
    @Arg('signed', () => ActionSignatureInput) signed: ActionSignatureInput,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerGrant> {
    const caller = requireKind(ctx, ['patient'], 'revokeGrant');
    const { record } = await visibleGrant(ctx, caller, grantId, 'grantId');
    if (record?.patientId !== caller.participant.id) throw notFound('grant', grantId);
    const action = await signedActionFor(ctx.services, caller, 'revokeGrant', { grantId }, signed);
    return committedGrant(ctx, (await ctx.services.ledger.submitAction<LedgerGrant>(action)).result);
  }

  @Mutation(() => ReencryptionGrant, {
    description: 'an emergency physician’s short, audited grant without the patient’s approval, where the policy allows it (signed break-glass; custodial accounts may leave signed out)',
  })
  async breakGlass(
    @Arg('emrId', () => ID) emrId: string,
    @Arg('justification') justification: string,
    @Arg('durationMinutes', () => Int, { nullable: true }) durationMinutes: number | null | undefined,
    @Arg('signed', () => ActionSignatureInput, { nullable: true }) signed: ActionSignatureInput | null | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerGrant> {
    const caller = requireKind(ctx, ['physician'], 'breakGlass');
    checkId(emrId, 'emrId');
    if (durationMinutes != null && (!Number.isSafeInteger(durationMinutes) || durationMinutes < 1 || durationMinutes > MAX_BREAK_GLASS_MINUTES)) {
      throw new ExchangeError('BAD_USER_INPUT', `durationMinutes: must be between 1 and ${MAX_BREAK_GLASS_MINUTES}`);
    }
    await visibleRecord(ctx, emrId);
    // the emergency role, the policy and the justification are the contract's to judge (FORBIDDEN <REASON>: …)
    const action = await signedActionFor(ctx.services, caller, 'breakGlass', { emrId, justification, durationMinutes }, signed);
    return committedGrant(ctx, (await ctx.services.ledger.submitAction<LedgerGrant>(action)).result);
  }

  @Mutation(() => EmrOpening, {
    description:
      'records the access (signed record-operation: the patient’s download without grantId, a grantee’s reencrypt with it), then returns what opens the record: this node’s proxies’ cfrags, or for break-glass the DEK sealed to the caller',
  })
  async openEmr(
    @Arg('emrId', () => ID) emrId: string,
    @Arg('grantId', () => ID, { nullable: true }) grantId: string | null | undefined,
    @Arg('signed', () => ActionSignatureInput) signed: ActionSignatureInput,
    @Ctx() ctx: RequestContext,
  ): Promise<EmrOpening> {
    const caller = requireCaller(ctx);
    const me = caller.participant;
    checkId(emrId, 'emrId');
    const record = await visibleRecord(ctx, emrId);
    let grant: LedgerGrant | undefined;
    if (grantId == null) {
      if (record.patientId !== me.id) throw new ExchangeError('BAD_USER_INPUT', `grantId: is required: only the patient opens record ${emrId} without a grant`);
    } else {
      checkId(grantId, 'grantId');
      grant = await orNotFound(ctx.services.ledger.grant(grantId), 'grant', grantId);
      if (grant.granteeId !== me.id) {
        if (record.patientId === me.id) throw new ExchangeError('BAD_USER_INPUT', `grantId: you open your own records without a grant`);
        throw notFound('grant', grantId);
      }
      if (grant.emrId !== record.id) throw new ExchangeError('BAD_USER_INPUT', `grantId: grant ${grantId} is for another record`);
    }
    const action = await signedActionFor(ctx.services, caller, 'openEmr', { emrId, grantId }, signed);
    // the contract checks the grant (window, revocation, newest version, grantee active) and records the access
    const { result: operation } = await ctx.services.ledger.submitAction<LedgerOperation>(action);
    // only the patient's keys are used, and they never change: the node's short-lived participant cache will do
    const patient = (await ctx.services.currentParticipant(record.patientId)) ?? null;
    if (patient === null) throw new ExchangeError('INTERNAL', `patient ${record.patientId} of record ${record.id} is not registered`);
    if (grant === undefined) return opening(record, operation, patient, { threshold: 0, cfrags: [], emergencyKey: null });
    if (grant.emergency !== undefined) return breakGlassOpening(ctx, caller, record, operation, patient);
    return grantOpening(ctx, caller, record, grant, operation, patient);
  }
}

/** A request for one of the calling patient's records (NOT_FOUND for anyone else's). */
async function patientsRequest(ctx: RequestContext, caller: Caller, requestId: string): Promise<LedgerRequest> {
  checkId(requestId, 'requestId');
  const request = await orNotFound(ctx.services.ledger.request(requestId), 'access request', requestId);
  const record = await recordOf(ctx, request.emrId);
  if (record === null || record.patientId !== caller.participant.id) throw notFound('access request', requestId);
  return request;
}

function opening(
  record: LedgerRecord,
  operation: LedgerOperation,
  patient: LedgerParticipant,
  rest: Pick<EmrOpening, 'threshold' | 'cfrags' | 'emergencyKey'>,
): EmrOpening {
  const m = record.metadata;
  return {
    record: record as never,
    operationId: operation.id,
    grantId: operation.grantId ?? null,
    cid: m.cid,
    size: m.size,
    contentHash: m.contentHash,
    mediaType: m.mediaType,
    capsule: m.capsule,
    delegatingKey: patient.encryptionKey,
    verifyingKey: patient.signingKey,
    ...rest,
  };
}

/** An ordinary grant: this node's proxies release cfrags for the committed operation; only those that verify go out. */
async function grantOpening(ctx: RequestContext, caller: Caller, record: LedgerRecord, grant: LedgerGrant, operation: LedgerOperation, patient: LedgerParticipant): Promise<EmrOpening> {
  // This node's own proxies made these cfrags a moment ago: they are not verified again here; the requester's client
  // verifies every cfrag against the patient's keys before it uses any (src/client/opening.ts).
  const released = await ctx.services.proxy.release(operation.id, caller.participant.id, { operation, grant, patient, grantee: caller.participant });
  // the answer's record.metadata needs the caller's grants on the record: this one was live at the commit
  ctx.loaders.grantsOn.prime(grantsOnKey(caller.participant.id, record.id), [grant]);
  return opening(record, operation, patient, { threshold: grant.threshold, cfrags: released.map((r) => r.cfrag), emergencyKey: null });
}

/** Break-glass: the DEK through the treating physician's delegation, sealed to the caller's encryption key. */
async function breakGlassOpening(ctx: RequestContext, caller: Caller, record: LedgerRecord, operation: LedgerOperation, patient: LedgerParticipant): Promise<EmrOpening> {
  const d = await delegationOf(ctx.services, record, patient);
  const { dek } = await emergencyDek(ctx.services, record, d);
  try {
    const emergencyKey = seal(dek, publicKeyOf(caller.participant.encryptionKey, 'your encryption key'));
    return opening(record, operation, patient, { threshold: 0, cfrags: [], emergencyKey });
  } finally {
    dek.fill(0);
  }
}
