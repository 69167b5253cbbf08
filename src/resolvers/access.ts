/**
 * Who may see what (least privilege, per field):
 * - a patient sees the patient's own records, whole;
 * - physicians, researchers and insurers see the summaries of records whose level their effective clearance
 *   reaches; the storage references (CID, capsule) only as the record's author or through a live grant;
 * - a record's policy only by its patient and its author;
 * - organisation admins administer participants and never see EMRs.
 */
import { atLeast, DEFAULT_READER_KINDS, effectiveClearance, ID_PATTERN } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, Grant, SecurityLevel } from '../../chaincode/src/domain/index.js';
import { ExchangeError } from '../exchange/errors.js';
import type { Caller, RequestContext } from './context.js';
import { grantsOnKey } from './loaders.js';

export function requireCaller(ctx: RequestContext): Caller {
  if (ctx.caller === undefined) throw new ExchangeError('UNAUTHENTICATED', 'this operation needs a bearer token (Authorization: Bearer <JWS>)');
  return ctx.caller;
}

export function requireKind(ctx: RequestContext, kinds: readonly string[], what: string): Caller {
  const caller = requireCaller(ctx);
  if (!kinds.includes(caller.participant.kind)) throw new ExchangeError('FORBIDDEN', `${what}: only a ${kinds.join(' or ')} may do this`);
  return caller;
}

/** Whether the caller may see records of this level that it is not a party to (a reader kind with the clearance). */
export function mayReadLevel(caller: Caller, level: SecurityLevel): boolean {
  const me = caller.participant;
  return DEFAULT_READER_KINDS.includes(me.kind) && atLeast(effectiveClearance(me), level);
}

/** Whether the caller may see that the record exists, with its summary. */
export function maySeeRecord(caller: Caller, record: EmrRecord): boolean {
  const me = caller.participant;
  if (record.patientId === me.id || record.authorId === me.id) return true;
  return mayReadLevel(caller, record.summary.securityLevel);
}

export const isPartyTo = (caller: Caller, record: EmrRecord): boolean => record.patientId === caller.participant.id || record.authorId === caller.participant.id;

/** A grant the ledger would still honour as far as its own fields say (the proxy checks IsGrantLive itself). */
export function grantLooksLive(grant: Grant, now = Date.now()): boolean {
  return (grant.revokedAt === undefined || Date.parse(grant.revokedAt) > now) && Date.parse(grant.notBefore) <= now && now < Date.parse(grant.notAfter);
}

/** Whether the caller may have the record's storage references (CID, size, hash, capsule). */
export async function mayLocateContent(ctx: RequestContext, record: EmrRecord): Promise<boolean> {
  const caller = ctx.caller;
  if (caller === undefined) return false;
  if (isPartyTo(caller, record)) return true;
  const grants = await ctx.loaders.grantsOn.load(grantsOnKey(caller.participant.id, record.id));
  return grants.some((g) => grantLooksLive(g));
}

/** The record, or NOT_FOUND when it does not exist or the caller may not see it (no existence oracle). */
export async function visibleRecord(ctx: RequestContext, id: string): Promise<EmrRecord> {
  const caller = requireCaller(ctx);
  // checked here: one malformed id would fail the loader's whole batch
  if (typeof id !== 'string' || id.length > 128 || !ID_PATTERN.test(id)) throw new ExchangeError('BAD_USER_INPUT', 'id: must be a record id');
  const record = await ctx.loaders.record.load(id);
  if (record === null || !maySeeRecord(caller, record)) throw new ExchangeError('NOT_FOUND', `record ${id} not found`);
  return record;
}
