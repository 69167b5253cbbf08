/** The notification type of the `sharingEvents` subscription (src/exchange/sharing-events.ts, docs/sharing.md). */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { GraphQLJSONObject, GraphQLSafeInt } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';
import { SHARING_EVENT_TYPES } from '../exchange/sharing-events.js';

@ObjectType({ description: 'Something that happened to one of the caller’s records, requests or grants, as the ledger recorded it' })
export class SharingEvent {
  @Field({ description: 'opaque; pass it as `after` to resume right after this event' }) cursor!: string;
  @Field({ description: SHARING_EVENT_TYPES.join(', ') }) type!: string;
  @Field(() => ID) transactionId!: string;
  @Field(() => GraphQLSafeInt) blockNumber!: number;
  @Field(() => ID, { nullable: true }) emrId!: string | null;
  @Field(() => ID, { nullable: true }) requestId!: string | null;
  @Field(() => ID, { nullable: true }) grantId!: string | null;
  @Field(() => ID, { nullable: true }) operationId!: string | null;
  @Field(() => ID, { nullable: true, description: 'the requester, grantee or operation actor' }) actorId!: string | null;
  @Field({ description: 'break-glass, or an access or revocation on an emergency grant' }) emergency!: boolean;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'the contract’s event payload (for a record of a batch: that record’s entry)' })
  payload!: Record<string, unknown> | null;
}
