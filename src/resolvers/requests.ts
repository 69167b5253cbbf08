/** Derived fields of an access request. */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { AccessRequest as LedgerRequest, Participant as LedgerParticipant } from '../../chaincode/src/domain/index.js';
import { AccessRequest, Participant } from '../schema/types.js';
import type { RequestContext } from './context.js';

@Resolver(() => AccessRequest)
export class AccessRequestResolver {
  @FieldResolver(() => Participant, {
    nullable: true,
    description: 'the requester’s public, pseudonymous entry (its encryption key is what the patient’s kfrags re-encrypt to); null if it is gone',
  })
  requester(@Root() q: LedgerRequest, @Ctx() ctx: RequestContext): Promise<LedgerParticipant | null> {
    return ctx.loaders.participant.load(q.requesterId);
  }
}
