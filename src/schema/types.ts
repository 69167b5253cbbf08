/**
 * GraphQL object types. Their fields mirror the ledger objects (chaincode/src/domain), so a resolver returns the
 * ledger's JSON as it is; fields that need another read (a record's author, a grant's liveness…) are field
 * resolvers in src/resolvers, batched through the request's DataLoaders.
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { GraphQLDateTimeISO, GraphQLJSONObject, GraphQLSafeInt } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import {
  AccessRequestStatusEnum,
  EmrCategoryEnum,
  GenderEnum,
  GrantKindEnum,
  OperationKindEnum,
  ParticipantKindEnum,
  ParticipantStatusEnum,
  SecurityLevelEnum,
} from './enums.js';

@ObjectType({ description: 'A registered participant: pseudonymous (no name or other PHI), with its two public keys' })
export class Participant {
  @Field(() => ID) id!: string;
  @Field(() => ParticipantKindEnum) kind!: ParticipantKindEnum;
  @Field({ description: 'MSP id of the registering organisation' }) org!: string;
  @Field(() => SecurityLevelEnum, { description: 'registered clearance (capped by the kind’s default)' }) clearance!: SecurityLevelEnum;
  @Field({ description: 'compressed secp256k1 point, hex: verifies the participant’s signatures and tokens' }) signingKey!: string;
  @Field({ description: 'compressed secp256k1 point, hex: Umbral encryption key (capsules, kfrag delegation)' }) encryptionKey!: string;
  @Field(() => [String]) roles!: string[];
  @Field(() => ParticipantStatusEnum) status!: ParticipantStatusEnum;
}

@ObjectType({ description: 'A consortium member (a Fabric organisation)' })
export class Organization {
  @Field(() => ID, { description: 'MSP id' }) id!: string;
  @Field({ description: 'whether this node serves the organisation' }) thisNode!: boolean;
}

@ObjectType('EmrSummary', { description: 'De-identified "EMR information" of Table 4 (HIPAA Safe Harbor: year only, no identifiers)' })
export class EmrSummary {
  @Field(() => EmrCategoryEnum) category!: EmrCategoryEnum;
  @Field(() => SecurityLevelEnum) securityLevel!: SecurityLevelEnum;
  @Field(() => [String], { description: 'coded concepts as system|code' }) codes!: string[];
  @Field(() => Int, { description: 'year of service' }) year!: number;
  @Field(() => [String]) resourceTypes!: string[];
  @Field(() => [String], { description: 'v3 confidentiality and sensitivity codes' }) labels!: string[];
  @Field(() => GenderEnum, { nullable: true }) gender?: GenderEnum;
  @Field(() => String, { nullable: true, description: '5-year band, 90+ collapsed' }) ageBand?: string;
}

@ObjectType({ description: 'Where and how the encrypted content is stored (Table 4 metadata)' })
export class EmrMetadata {
  @Field({ description: 'IPFS CID of the encrypted envelope' }) cid!: string;
  @Field(() => GraphQLSafeInt, { description: 'bytes of the stored envelope' }) size!: number;
  @Field() mediaType!: string;
  @Field({ description: 'SHA-256 of the plaintext, hex' }) contentHash!: string;
  @Field({ description: 'Umbral capsule of the data-encryption key, base64' }) capsule!: string;
  @Field(() => Int) envelopeVersion!: number;
}

@ObjectType({ description: 'The patient’s access policy (the paper’s contract code); it can only narrow the defaults' })
export class AccessPolicy {
  @Field(() => SecurityLevelEnum) minClearance!: SecurityLevelEnum;
  @Field(() => [ParticipantKindEnum]) allowedKinds!: ParticipantKindEnum[];
  @Field(() => [ID]) allow!: string[];
  @Field(() => [ID]) deny!: string[];
  @Field() emergencyAllowed!: boolean;
  @Field(() => GraphQLDateTimeISO, { nullable: true }) expiresAt?: string;
}

@ObjectType({ description: 'An EMR record: every field of the paper’s Table 4. Content is never on the ledger.' })
export class EmrRecord {
  @Field(() => ID) id!: string;
  @Field(() => Int) version!: number;
  @Field(() => ID, { nullable: true }) previousId?: string;
  @Field(() => ID) patientId!: string;
  @Field(() => ID) authorId!: string;
  @Field({ description: 'MSP id of the authoring organisation' }) hospital!: string;
  @Field(() => GraphQLDateTimeISO, { description: 'the transaction’s time' }) timestamp!: string;
  @Field(() => EmrSummary) summary!: EmrSummary;
  @Field({ description: 'ECDSA-SHA256 r‖s over the canonical record, hex' }) authorSignature!: string;
}

@ObjectType()
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType()
export class EmrEdge {
  @Field() cursor!: string;
  @Field(() => EmrRecord) node!: EmrRecord;
}

@ObjectType({ description: 'A Relay connection of records; cursors come from ledger bookmarks' })
export class EmrConnection {
  @Field(() => [EmrEdge]) edges!: EmrEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class AccessRequest {
  @Field(() => ID) id!: string;
  @Field(() => ID) emrId!: string;
  @Field(() => ID) requesterId!: string;
  @Field() purpose!: string;
  @Field(() => AccessRequestStatusEnum) status!: AccessRequestStatusEnum;
  @Field(() => GraphQLDateTimeISO) createdAt!: string;
  @Field(() => GraphQLDateTimeISO, { nullable: true }) decidedAt?: string;
}

@ObjectType({ description: 'A key fragment encrypted to one re-encryption proxy (or a reference to where it is)' })
export class EncryptedKFrag {
  @Field() proxyId!: string;
  @Field(() => String, { nullable: true }) ciphertext?: string;
  @Field(() => String, { nullable: true }) ref?: string;
}

@ObjectType({ description: 'A re-encryption grant: the patient’s kfrags let the proxies re-encrypt the capsule for the grantee' })
export class ReencryptionGrant {
  @Field(() => ID) id!: string;
  @Field(() => ID) emrId!: string;
  @Field(() => ID) granteeId!: string;
  @Field(() => ID, { nullable: true }) requestId?: string;
  @Field(() => GraphQLDateTimeISO) notBefore!: string;
  @Field(() => GraphQLDateTimeISO) notAfter!: string;
  @Field(() => Int) threshold!: number;
  @Field(() => Int) shares!: number;
  @Field(() => [EncryptedKFrag]) kfrags!: EncryptedKFrag[];
  @Field(() => GraphQLDateTimeISO, { nullable: true }) revokedAt?: string;
}

@ObjectType({ description: 'An access to an EMR recorded on the ledger before it was served' })
export class OperationRecord {
  @Field(() => ID) id!: string;
  @Field(() => OperationKindEnum) kind!: OperationKindEnum;
  @Field(() => ID) actorId!: string;
  @Field(() => ID) emrId!: string;
  @Field(() => ID, { nullable: true }) grantId?: string;
  @Field(() => String, { nullable: true }) beforeCid?: string;
  @Field(() => String, { nullable: true }) afterCid?: string;
  @Field(() => GraphQLDateTimeISO) timestamp!: string;
}

@ObjectType({ description: 'One committed change of a ledger object (the tamper-evident audit trail)' })
export class AuditEntry {
  @Field(() => ID) transactionId!: string;
  @Field(() => GraphQLDateTimeISO) timestamp!: string;
  @Field({ description: 'record, policy, request, grant, operation, …' }) objectType!: string;
  @Field(() => ID) objectId!: string;
  @Field() deleted!: boolean;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'the object as it was after this change' }) value!: Record<string, unknown> | null;
}

@ObjectType({ description: 'The channel’s chain as this node sees it' })
export class LedgerInfo {
  @Field() channel!: string;
  @Field(() => GraphQLSafeInt) height!: number;
  @Field(() => String, { nullable: true, description: 'header hash of the newest block, hex' }) lastBlockHash!: string | null;
  @Field(() => Boolean, { nullable: true, description: 'result of walking the whole chain (hash links and signatures); null when not asked or not possible' })
  verified!: boolean | null;
  @Field(() => String, { nullable: true }) verificationProblem!: string | null;
}

@ObjectType()
export class OmittedResource {
  @Field() resource!: string;
  @Field() reason!: string;
}

@ObjectType({ description: 'The outcome of an upload: the records committed in one transaction' })
export class IngestPayload {
  @Field(() => [EmrRecord]) records!: EmrRecord[];
  @Field(() => [OmittedResource]) omitted!: OmittedResource[];
  @Field(() => ID) transactionId!: string;
  @Field(() => GraphQLSafeInt) blockNumber!: number;
}

@ObjectType({ description: 'An upload stored but not yet recorded: the author signs each payload with its own key, then commits' })
export class IngestDraft {
  @Field(() => ID) draftId!: string;
  @Field(() => GraphQLDateTimeISO) expiresAt!: Date;
  @Field(() => [GraphQLJSONObject], { description: 'the records without signatures, as they will be submitted' }) records!: Record<string, unknown>[];
  @Field(() => [String], { description: 'per record, base64 of the exact bytes to sign (ECDSA-SHA256, r‖s hex back)' }) signingPayloads!: string[];
  @Field(() => [OmittedResource]) omitted!: OmittedResource[];
}

@ObjectType({ description: 'A record for content uploaded through POST /blobs, checked but not yet recorded: the author signs signingPayload with its own key, then commits' })
export class EmrDraft {
  @Field(() => ID) draftId!: string;
  @Field(() => GraphQLDateTimeISO) expiresAt!: Date;
  @Field(() => GraphQLJSONObject, { description: 'the record without its signature, as it will be submitted (the ledger adds the timestamp)' }) record!: Record<string, unknown>;
  @Field({ description: 'base64 of the exact bytes to sign (ECDSA-SHA256 over canonicalRecordBytes(record); r‖s hex back to commitCreateEmr)' }) signingPayload!: string;
}

@ObjectType()
export class RegisteredParticipant {
  @Field(() => Participant) participant!: Participant;
  @Field(() => String, { nullable: true, description: 'custodial accounts only: the API secret, shown once; exchange it at POST /auth/token' })
  apiSecret!: string | null;
}

// Named RegisteredProxy in TypeScript: a class called Proxy would shadow the global.
@ObjectType('Proxy', { description: 'A re-encryption proxy registered on the ledger by its organisation: patients seal kfrags to its key' })
export class RegisteredProxy {
  @Field(() => ID) id!: string;
  @Field({ description: 'MSP id of the organisation that runs it' }) organisation!: string;
  @Field({ description: 'compressed secp256k1 point, hex: seal each kfrag to it (src/crypto/kfrag-seal.ts)' }) encryptionKey!: string;
}

@ObjectType({ description: 'What a reader needs to open a record after its access was recorded on the ledger (openEmr)' })
export class EmrOpening {
  @Field(() => EmrRecord) record!: EmrRecord;
  @Field(() => ID, { description: 'the committed operation record that authorised this opening' }) operationId!: string;
  @Field(() => ID, { nullable: true, description: 'null when the patient opens the patient’s own record' }) grantId!: string | null;
  @Field({ description: 'IPFS CID of the encrypted envelope (GET /blobs/:cid)' }) cid!: string;
  @Field(() => GraphQLSafeInt, { description: 'bytes of the stored envelope' }) size!: number;
  @Field({ description: 'SHA-256 of the plaintext, hex: check the decrypted content against it' }) contentHash!: string;
  @Field() mediaType!: string;
  @Field({ description: 'the record’s Umbral capsule, base64 (what the cfrags re-encrypt)' }) capsule!: string;
  @Field(() => Int, { description: 'cfrags needed to open the capsule; 0 for the patient and for break-glass' }) threshold!: number;
  @Field(() => [String], { description: 'base64 CapsuleFrag bytes, one per proxy of this node that released one; verify each before use' }) cfrags!: string[];
  @Field({ description: 'the patient’s encryption public key, hex (delegating key for cfrag verification)' }) delegatingKey!: string;
  @Field({ description: 'the patient’s signing public key, hex (the kfrags’ signer)' }) verifyingKey!: string;
  @Field(() => String, { nullable: true, description: 'break-glass only: the DEK sealed to your encryption key (src/crypto/kfrag-seal.ts openSealed)' })
  emergencyKey!: string | null;
}

@ObjectType({ description: 'Credits earned by approvals and served accesses (chaincode/src/domain/credits.ts)' })
export class CreditBalance {
  @Field(() => Int, { description: 'the participant’s own balance' }) participant!: number;
  @Field(() => Int, { description: 'the balance of the participant’s organisation' }) organisation!: number;
}

export { GrantKindEnum };
