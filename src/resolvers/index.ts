/** The GraphQL schema: type-graphql resolvers over src/schema's types. */
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AuditResolver } from './audit.js';
import { LedgerResolver } from './ledger.js';
import { ParticipantResolver } from './participants.js';
import { AccessPolicyResolver } from './policies.js';
import { EmrRecordResolver } from './records.js';

export const RESOLVERS = [ParticipantResolver, EmrRecordResolver, AccessPolicyResolver, AuditResolver, LedgerResolver] as const;

export function buildPieSchema(): Promise<GraphQLSchema> {
  // validate: false — inputs are checked by hand and by the ledger's parsers (class-validator is not used)
  return buildSchema({ resolvers: RESOLVERS, validate: false, emitSchemaFile: false });
}

export { createLoaders } from './loaders.js';
export type { Loaders } from './loaders.js';
export type { Caller, LedgerStatus, NodeServices, OrgBootstrap, RequestContext } from './context.js';
