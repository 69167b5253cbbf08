/**
 * Credits (seed 004's incentive): approvals and served accesses credit the patient and the authoring organisation
 * (chaincode/src/domain/credits.ts). A participant reads its own balance and its organisation's; an organisation
 * admin also those of the participants of its organisation.
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/index.js';
import type { Participant } from '../../chaincode/src/domain/index.js';
import { ExchangeError } from '../exchange/errors.js';
import { CreditBalance } from '../schema/types.js';
import { requireCaller } from './access.js';
import type { RequestContext } from './context.js';

/** The participant whose balance the caller may read: itself, or (an org admin) a participant of its organisation. */
async function holder(ctx: RequestContext, participantId: string | null | undefined): Promise<Participant> {
  const me = requireCaller(ctx).participant;
  if (participantId == null || participantId === me.id) return me;
  if (typeof participantId !== 'string' || !PARTICIPANT_ID.test(participantId)) {
    throw new ExchangeError('BAD_USER_INPUT', 'participantId: must be a participant id (32 hex characters)');
  }
  // decided before the lookup, so that nobody else learns which participants exist
  if (me.kind !== 'org-admin') throw new ExchangeError('FORBIDDEN', 'credits: only your own balance, unless you administer the participant’s organisation');
  const other = await ctx.loaders.participant.load(participantId);
  if (other === null) throw new ExchangeError('NOT_FOUND', `participant ${participantId} not found`);
  if (other.org !== me.org) throw new ExchangeError('FORBIDDEN', `participant ${participantId} belongs to ${other.org}; only an admin of that organisation may read its credits`);
  return other;
}

@Resolver(() => CreditBalance)
export class CreditsResolver {
  @Query(() => CreditBalance, {
    description: 'credit balances: yours (or, for an organisation admin, a participant’s of the organisation) and the organisation’s',
  })
  async credits(@Arg('participantId', () => ID, { nullable: true }) participantId: string | undefined, @Ctx() ctx: RequestContext): Promise<CreditBalance> {
    const p = await holder(ctx, participantId);
    const { ledger } = ctx.services;
    const [participant, organisation] = await Promise.all([ledger.credits('participant', p.id), ledger.credits('org', p.org)]);
    return { participant, organisation };
  }
}
