/** The GraphQL schema: type-graphql resolvers over src/schema's types. */
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { OperationRecord } from '../schema/types.js';
import { AuditResolver } from './audit.js';
import { CreditsResolver } from './credits.js';
import { NO_PUB_SUB, SharingEventsResolver } from './events.js';
import { LedgerResolver } from './ledger.js';
import { EmrOpeningResolver } from './opening.js';
import { ParticipantResolver } from './participants.js';
import { ReencryptionGrantResolver } from './grants.js';
import { AccessRequestResolver } from './requests.js';
import { AccessPolicyResolver } from './policies.js';
import { EmrRecordResolver } from './records.js';
import { RotationResolver } from './rotation.js';
import { SharingResolver } from './sharing.js';

export const RESOLVERS = [ParticipantResolver, EmrRecordResolver, ReencryptionGrantResolver, AccessRequestResolver, AccessPolicyResolver, AuditResolver, LedgerResolver, SharingResolver, EmrOpeningResolver, SharingEventsResolver, RotationResolver, CreditsResolver] as const;

export function buildPieSchema(): Promise<GraphQLSchema> {
  // validate: false — inputs are checked by hand and by the ledger's parsers (class-validator is not used)
  // OperationRecord is served by the sharing workflows (issue 7); it is in the schema from now on.
  return buildSchema({ resolvers: RESOLVERS, orphanedTypes: [OperationRecord], validate: false, emitSchemaFile: false, pubSub: NO_PUB_SUB });
}

export { createLoaders } from './loaders.js';
export type { Loaders } from './loaders.js';
export type { Caller, LedgerStatus, NodeServices, OrgBootstrap, RecordReadModel, RequestContext } from './context.js';
