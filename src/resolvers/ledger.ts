/** The ledger as this node sees it, and the organisations. */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { LedgerInfo, Organization } from '../schema/types.js';
import { requireCaller } from './access.js';
import type { RequestContext } from './context.js';

@Resolver(() => LedgerInfo)
export class LedgerResolver {
  @Query(() => LedgerInfo, { description: 'height and newest block hash; verify: true walks the whole chain (hash links, orderer signatures)' })
  async ledger(@Arg('verify', { defaultValue: false }) verify: boolean, @Ctx() ctx: RequestContext): Promise<LedgerInfo> {
    requireCaller(ctx);
    const status = await ctx.services.ledgerStatus();
    const check = verify ? await status.verify() : null;
    return {
      channel: status.channel,
      height: status.height,
      lastBlockHash: status.lastBlockHash,
      verified: check === null ? null : check.ok,
      verificationProblem: check?.problem ?? null,
    };
  }

  @Query(() => Organization, { description: 'the organisation this node serves' })
  organization(@Ctx() ctx: RequestContext): Organization {
    requireCaller(ctx);
    return { id: ctx.services.organisation, thisNode: true };
  }
}
