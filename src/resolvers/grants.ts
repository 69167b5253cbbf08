/** Derived fields of a re-encryption grant: its kind and whether the ledger still honours it. */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Grant } from '../../chaincode/src/domain/index.js';
import { GrantKindEnum } from '../schema/enums.js';
import { ReencryptionGrant } from '../schema/types.js';
import { treatingPhysicianOf } from '../exchange/reencryption.js';
import type { RequestContext } from './context.js';

@Resolver(() => ReencryptionGrant)
export class ReencryptionGrantResolver {
  @FieldResolver(() => GrantKindEnum, { description: 'emergency: break-glass; treating: to the record’s author (Algorithm 1); standard: an approved request' })
  async kind(@Root() g: Grant, @Ctx() ctx: RequestContext): Promise<GrantKindEnum> {
    if (g.emergency !== undefined) return GrantKindEnum.EMERGENCY;
    const record = await ctx.loaders.record.load(g.emrId);
    if (record === null) return GrantKindEnum.STANDARD;
    return (await treatingPhysicianOf(ctx.services.ledger, record)) === g.granteeId ? GrantKindEnum.TREATING : GrantKindEnum.STANDARD;
  }

  @FieldResolver(() => String, { nullable: true, description: 'the break-glass justification' })
  justification(@Root() g: Grant): string | null {
    return g.emergency?.justification ?? null;
  }

  @FieldResolver(() => Boolean, { description: 'whether the ledger honours the grant now (window, revocation, newest version, grantee active)' })
  async live(@Root() g: Grant, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.loaders.grantLive.load(g.id);
  }
}
