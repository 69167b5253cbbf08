/**
 * Requests and grants: `pie requests | request | approve | deny | grants | revoke | consent | break-glass`
 * (docs/sharing.md). Every decision is signed here with the profile's key; the node only relays it.
 */
import { DAY_MS } from '../../client/delegation.js';
import type { GrantOptions } from '../../client/delegation.js';
import type { AccessRequestInfo, AccessRequestStatus, GrantInfo } from '../../client/types.js';
import { idArg, int, str } from '../command.js';
import type { Command, Values } from '../command.js';
import { UsageError } from '../io.js';

const STATUSES = ['pending', 'approved', 'denied'];

export const requestLine = (r: AccessRequestInfo): string => `${r.id}  ${r.status}  emr ${r.emrId}  by ${r.requesterId}  ${r.createdAt}  “${r.purpose}”`;

export const grantLine = (g: GrantInfo): string =>
  [
    g.id,
    g.kind,
    g.live ? 'live' : 'ended',
    `emr ${g.emrId}`,
    `to ${g.granteeId}`,
    `${g.notBefore} → ${g.notAfter}`,
    g.shares > 0 ? `${g.threshold}-of-${g.shares}` : 'no kfrags',
    ...(g.revokedAt === null ? [] : [`revoked ${g.revokedAt}`]),
    ...(g.justification === null ? [] : [`“${g.justification}”`]),
  ].join('  ');

/** --days N and --threshold T as GrantOptions. */
function grantOptions(v: Values): GrantOptions {
  const days = int(v, 'days', 1, 366);
  const threshold = int(v, 'threshold', 1, 32);
  return { ...(days === undefined ? {} : { validFor: days * DAY_MS }), ...(threshold === undefined ? {} : { threshold }) };
}

export const requests: Command = {
  name: 'requests',
  usage: '[--status pending|approved|denied] [--emr EMR_ID]',
  summary: 'access requests: a patient’s are those for the patient’s records; anyone else’s its own',
  options: { status: { type: 'string' }, emr: { type: 'string' } },
  async run(ctx) {
    const status = str(ctx.values, 'status')?.toLowerCase();
    if (status !== undefined && !STATUSES.includes(status)) throw new UsageError(`--status: one of ${STATUSES.join(', ')}`);
    const emrId = str(ctx.values, 'emr');
    const { participant } = await ctx.session();
    const list = await participant.accessRequests({
      ...(status === undefined ? {} : { status: status.toUpperCase() as AccessRequestStatus }),
      ...(emrId === undefined ? {} : { emrId }),
    });
    ctx.out.result(list, list.length === 0 ? 'no access requests' : list.map(requestLine));
  },
};

export const request: Command = {
  name: 'request',
  usage: '<emrId> --purpose TEXT',
  summary: 'ask a record’s patient for access',
  args: ['emrId'],
  options: { purpose: { type: 'string' } },
  async run(ctx) {
    const emrId = idArg(ctx, 0, 'emrId');
    const purpose = str(ctx.values, 'purpose', true);
    const { participant } = await ctx.session();
    const r = await participant.requestAccess(emrId, purpose);
    ctx.out.result(r, `requested access to ${emrId}: request ${r.id} (${r.status})`);
  },
};

export const approve: Command = {
  name: 'approve',
  usage: '<requestId> [--days N] [--threshold T]',
  summary: 'as the patient: approve a request with re-encryption key fragments for every registered proxy (default 30 days, all proxies needed)',
  args: ['requestId'],
  options: { days: { type: 'string' }, threshold: { type: 'string' } },
  async run(ctx) {
    const requestId = idArg(ctx, 0, 'requestId');
    const opts = grantOptions(ctx.values);
    const { participant } = await ctx.session();
    const g = await participant.approve(requestId, opts);
    ctx.out.result(g, `approved ${requestId}: grant ${g.id} to ${g.granteeId} for ${g.emrId}, ${g.threshold}-of-${g.shares} proxies, until ${g.notAfter}`);
  },
};

export const deny: Command = {
  name: 'deny',
  usage: '<requestId> [--reason TEXT]',
  summary: 'as the patient: refuse a request',
  args: ['requestId'],
  options: { reason: { type: 'string' } },
  async run(ctx) {
    const requestId = idArg(ctx, 0, 'requestId');
    const { participant } = await ctx.session();
    const r = await participant.deny(requestId, str(ctx.values, 'reason'));
    ctx.out.result(r, `denied ${requestId} (${r.status})`);
  },
};

export const grants: Command = {
  name: 'grants',
  usage: '[--live] [--emr EMR_ID]',
  summary: 'grants: a patient’s are those on the patient’s records; anyone else’s those given to it',
  options: { live: { type: 'boolean' }, emr: { type: 'string' } },
  async run(ctx) {
    const emrId = str(ctx.values, 'emr');
    const { participant } = await ctx.session();
    const list = await participant.grants({ liveOnly: ctx.values.live === true, ...(emrId === undefined ? {} : { emrId }) });
    ctx.out.result(list, list.length === 0 ? 'no grants' : list.map(grantLine));
  },
};

export const revoke: Command = {
  name: 'revoke',
  usage: '<grantId>',
  summary: 'as the patient: end a grant now (the proxies refuse it from then on)',
  args: ['grantId'],
  async run(ctx) {
    const grantId = idArg(ctx, 0, 'grantId');
    const { participant } = await ctx.session();
    const g = await participant.revoke(grantId);
    ctx.out.result(g, `revoked ${g.id} at ${g.revokedAt ?? '?'}`);
  },
};

export const consent: Command = {
  name: 'consent',
  usage: '<emrId> [--days N] [--threshold T]',
  summary: 'as the patient: let the record’s author (the treating physician) read it back (Algorithm 1; default 366 days)',
  args: ['emrId'],
  options: { days: { type: 'string' }, threshold: { type: 'string' } },
  async run(ctx) {
    const emrId = idArg(ctx, 0, 'emrId');
    const opts = grantOptions(ctx.values);
    const { participant } = await ctx.session();
    const g = await participant.grantTreating(emrId, opts);
    ctx.out.result(g, `treating grant ${g.id} to ${g.granteeId} for ${emrId}, until ${g.notAfter}`);
  },
};

export const breakGlass: Command = {
  name: 'break-glass',
  usage: '<emrId> --justification TEXT [--minutes N]',
  summary: 'as a physician with the emergency role: a short, audited emergency grant; then `pie read <emrId> --grant <id>`',
  args: ['emrId'],
  options: { justification: { type: 'string' }, minutes: { type: 'string' } },
  async run(ctx) {
    const emrId = idArg(ctx, 0, 'emrId');
    const justification = str(ctx.values, 'justification', true);
    const minutes = int(ctx.values, 'minutes', 1, 24 * 60);
    const { participant } = await ctx.session();
    const g = await participant.breakGlass(emrId, justification, minutes);
    ctx.out.result(g, [`emergency grant ${g.id} for ${emrId}, until ${g.notAfter} (audited as a security alert)`, `read it: pie read ${emrId} --grant ${g.id}`]);
  },
};
