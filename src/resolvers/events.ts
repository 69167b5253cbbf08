/**
 * `sharingEvents`: the caller's notifications over GraphQL subscriptions (graphql-transport-ws at /graphql,
 * src/node/subscriptions.ts). The stream, who sees what and the cursors are src/exchange/sharing-events.ts.
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Arg, Resolver, Root, Subscription } from 'type-graphql';
import type { PubSub, SubscribeResolverData } from 'type-graphql';
import { ExchangeError } from '../exchange/errors.js';
import { openSharingEvents } from '../exchange/sharing-events.js';
import type { SharingEventData } from '../exchange/sharing-events.js';
import { SharingEvent } from '../schema/events.js';
import { requireCaller } from './access.js';
import type { RequestContext } from './context.js';

/**
 * type-graphql wants a PubSub as soon as the schema has a subscription; sharingEvents brings its own `subscribe`, so
 * this one is never used.
 */
export const NO_PUB_SUB: PubSub = {
  publish() {
    throw new Error('no PubSub: subscriptions have their own subscribe functions');
  },
  subscribe() {
    throw new Error('no PubSub: subscriptions have their own subscribe functions');
  },
};

function subscribeSharingEvents({ args, context }: SubscribeResolverData<unknown, { after?: string | null }, RequestContext>): Promise<AsyncIterable<SharingEventData>> {
  const caller = requireCaller(context);
  return openSharingEvents(context.services, caller.participant.id, args.after);
}

@Resolver(() => SharingEvent)
export class SharingEventsResolver {
  @Subscription(() => SharingEvent, {
    subscribe: subscribeSharingEvents,
    description:
      'The caller’s sharing events (a patient: everything about the patient’s records; anyone else: its own requests, grants and accesses), from the next commit on, or right after the cursor `after`',
  })
  sharingEvents(@Root() event: SharingEventData | undefined, @Arg('after', () => String, { nullable: true }) _after?: string | null): SharingEvent {
    // Over HTTP the operation is executed like a query, with no event
    if (event === undefined) throw new ExchangeError('BAD_USER_INPUT', 'sharingEvents is a subscription: subscribe over WebSocket (graphql-transport-ws) at /graphql');
    return event;
  }
}
