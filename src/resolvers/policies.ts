/** Access policies: read by the patient (and a record's author), set only by the patient's own signed action. */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/index.js';
import type { AccessPolicy as LedgerPolicy, SignedAction } from '../../chaincode/src/domain/index.js';
import { ExchangeError } from '../exchange/errors.js';
import { SignedActionInput } from '../schema/inputs.js';
import { AccessPolicy } from '../schema/types.js';
import { isPartyTo, requireCaller, requireKind, visibleRecord } from './access.js';
import type { RequestContext } from './context.js';

const POLICY_ACTIONS = ['set-patient-policy', 'set-record-policy'];

@Resolver(() => AccessPolicy)
export class AccessPolicyResolver {
  @Query(() => AccessPolicy, {
    description: 'emrId: the policy in force for that record (its patient or author); patientId: the patient’s default for new records (the patient, or a physician about to upload)',
  })
  async accessPolicy(
    @Arg('emrId', () => ID, { nullable: true }) emrId: string | undefined,
    @Arg('patientId', () => ID, { nullable: true }) patientId: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerPolicy> {
    const caller = requireCaller(ctx);
    if ((emrId == null) === (patientId == null)) throw new ExchangeError('BAD_USER_INPUT', 'give exactly one of emrId and patientId');
    if (emrId != null) {
      const record = await visibleRecord(ctx, emrId);
      if (!isPartyTo(caller, record)) throw new ExchangeError('FORBIDDEN', `only the patient and the author of ${emrId} may read its policy`);
      return await ctx.loaders.effectivePolicy.load(emrId);
    }
    if (!PARTICIPANT_ID.test(patientId!)) throw new ExchangeError('BAD_USER_INPUT', 'patientId: must be a participant id (32 hex characters)');
    const me = caller.participant;
    // An author needs the patient's default policy: the contract requires it, unchanged, in every new record.
    if (me.id !== patientId && me.kind !== 'physician') throw new ExchangeError('FORBIDDEN', 'only the patient (or a physician about to upload) may read a patient’s default policy');
    return await ctx.services.ledger.patientPolicy(patientId!);
  }

  @Mutation(() => AccessPolicy, {
    description:
      'The patient’s signed action set-patient-policy (default for new records) or set-record-policy (one record chain), made and signed in the patient’s client; the node relays it',
  })
  async setAccessPolicy(@Arg('action', () => SignedActionInput) action: SignedActionInput, @Ctx() ctx: RequestContext): Promise<LedgerPolicy> {
    const caller = requireKind(ctx, ['patient'], 'setAccessPolicy');
    if (!POLICY_ACTIONS.includes(action.type)) throw new ExchangeError('BAD_USER_INPUT', `action.type: must be one of ${POLICY_ACTIONS.join(', ')}`);
    if (action.actorId !== caller.participant.id) throw new ExchangeError('FORBIDDEN', 'action.actorId: you may only relay your own actions');
    const { result } = await ctx.services.ledger.submitAction<LedgerPolicy>({ ...action } as SignedAction);
    return result;
  }
}
