/** GraphQL input types. Shape checks here; the ledger's own parsers (chaincode/src/domain) remain the authority. */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { GraphQLJSONObject, GraphQLSafeInt } from 'graphql-scalars';
import { Field, ID, InputType, Int } from 'type-graphql';
import { EmrCategoryEnum, GenderEnum, ParticipantKindEnum, SecurityLevelEnum } from './enums.js';

@InputType({ description: 'Filters on the ledger’s indexed summary fields; all given filters must match' })
export class EmrFilter {
  @Field(() => ID, { nullable: true }) patientId?: string;
  @Field(() => ID, { nullable: true }) authorId?: string;
  @Field(() => String, { nullable: true, description: 'MSP id of the authoring organisation' }) hospital?: string;
  @Field(() => EmrCategoryEnum, { nullable: true }) category?: EmrCategoryEnum;
  @Field(() => SecurityLevelEnum, { nullable: true }) securityLevel?: SecurityLevelEnum;
  @Field(() => String, { nullable: true, description: 'a coded concept, system|code' }) code?: string;
  @Field(() => GenderEnum, { nullable: true }) gender?: GenderEnum;
  @Field(() => String, { nullable: true, description: '0-4, 5-9, …, 85-89, 90+' }) ageBand?: string;
  @Field(() => Int, { nullable: true }) year?: number;
}

@InputType({ description: 'An action signed by the participant’s own client (src/chain signAction): the node relays it and cannot forge it' })
export class SignedActionInput {
  @Field() type!: string;
  @Field(() => ID) actorId!: string;
  @Field() issuedAt!: string;
  @Field() nonce!: string;
  @Field(() => GraphQLJSONObject) payload!: Record<string, unknown>;
  @Field() signature!: string;
}

@InputType()
export class RegisterParticipantInput {
  @Field(() => ParticipantKindEnum) kind!: ParticipantKindEnum;
  @Field(() => SecurityLevelEnum, { nullable: true, description: 'default: the kind’s default clearance' }) clearance?: SecurityLevelEnum;
  @Field(() => [String], { defaultValue: [] }) roles!: string[];
  @Field(() => String, { nullable: true, description: 'compressed secp256k1 hex; absent for a custodial account' }) signingKey?: string;
  @Field(() => String, { nullable: true, description: 'compressed secp256k1 hex; absent for a custodial account' }) encryptionKey?: string;
  @Field({ defaultValue: false, description: 'the node generates and keeps the keys (institutional accounts; never patients)' }) custodial!: boolean;
}

@InputType()
export class RecordSummaryInput {
  @Field(() => EmrCategoryEnum) category!: EmrCategoryEnum;
  @Field(() => SecurityLevelEnum) securityLevel!: SecurityLevelEnum;
  @Field(() => [String], { defaultValue: [] }) codes!: string[];
  @Field(() => Int) year!: number;
  @Field(() => [String], { defaultValue: [] }) resourceTypes!: string[];
  @Field(() => [String], { defaultValue: [] }) labels!: string[];
  @Field(() => GenderEnum, { nullable: true }) gender?: GenderEnum;
  @Field(() => String, { nullable: true }) ageBand?: string;
}

@InputType({ description: 'A record for content uploaded through POST /blobs (binary EMRs: DICOM, PDF, CSV)' })
export class CreateEmrInput {
  @Field(() => ID) patientId!: string;
  @Field({ description: 'the CID POST /blobs returned' }) cid!: string;
  @Field(() => GraphQLSafeInt) size!: number;
  @Field() contentHash!: string;
  @Field() capsule!: string;
  @Field(() => Int) envelopeVersion!: number;
  @Field() mediaType!: string;
  @Field(() => RecordSummaryInput) summary!: RecordSummaryInput;
}

@InputType({ description: 'The signature over the action a sharing mutation’s arguments make (src/exchange/action-payloads.ts); the node rebuilds and relays the action' })
export class ActionSignatureInput {
  @Field({ description: 'ISO 8601, exactly as signed' }) issuedAt!: string;
  @Field({ description: '16 to 64 lower-case hex characters of client randomness' }) nonce!: string;
  @Field({ description: 'hex r ‖ s (64 bytes), ECDSA secp256k1 / SHA-256 over actionSigningBytes' }) signature!: string;
}

@InputType({ description: 'A kfrag sealed to one registered proxy (src/crypto/kfrag-seal.ts sealKFrag)' })
export class SealedKFragInput {
  @Field(() => ID) proxyId!: string;
  @Field({ description: 'base64' }) ciphertext!: string;
}

@InputType({ description: 'The re-uploaded content of a data version update (key rotation): what POST /blobs answered for it' })
export class RotatedContentInput {
  @Field({ description: 'the CID POST /blobs returned' }) cid!: string;
  @Field(() => GraphQLSafeInt) size!: number;
  @Field() contentHash!: string;
  @Field() capsule!: string;
  @Field(() => Int) envelopeVersion!: number;
}
