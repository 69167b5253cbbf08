/**
 * EMR records: read, search, and upload (FHIR through src/exchange/ingest.ts, binary content through POST /blobs +
 * createEmr or prepareCreateEmr / commitCreateEmr, src/exchange/blob-records.ts). Field resolvers apply the
 * least-privilege rules of access.ts and batch their ledger reads through the loaders.
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { canonicalJson, PARTICIPANT_ID, verifyAuthorSignature } from '../../chaincode/src/domain/index.js';
import type { SubmitResult } from '../chain/client.js';
import type {
  AccessPolicy as LedgerPolicy,
  AccessRequest as LedgerRequest,
  EmrRecord as LedgerRecord,
  Grant as LedgerGrant,
  Participant as LedgerParticipant,
  RecordMetadata,
} from '../../chaincode/src/domain/index.js';
import { Signer } from '../crypto/umbral/index.js';
import { ExchangeError } from '../exchange/errors.js';
import type { IngestResult, RecordSigner } from '../exchange/ingest.js';
import { CreateEmrInput, EmrFilter } from '../schema/inputs.js';
import type { BlobRecordInput, RecordDraft } from '../exchange/blob-records.js';
import { AccessPolicy, AccessRequest, EmrConnection, EmrDraft, EmrMetadata, EmrRecord, IngestDraft, IngestPayload, Participant, ReencryptionGrant } from '../schema/types.js';
import { allPages } from './paging.js';
import { isPartyTo, mayLocateContent, requireCaller, requireKind, visibleRecord } from './access.js';
import type { Caller, RequestContext } from './context.js';
import { searchRecords, type RecordPage } from './search.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Each one-step mutation for custodial authors, and the two steps everyone else uses instead. */
const TWO_STEPS = {
  ingestFhir: ['prepareFhirIngest', 'commitFhirIngest'],
  createEmr: ['prepareCreateEmr', 'commitCreateEmr'],
  rotateEmrKey: ['prepareRotateEmrKey', 'commitCreateEmr'],
} as const;

/** The custodial author's signer; a self-custodied author uses the prepare / commit mutations instead. */
export function custodialSigner(ctx: RequestContext, caller: Caller, mutation: keyof typeof TWO_STEPS): RecordSigner {
  if (!caller.custodial) {
    const [prepare, commit] = TWO_STEPS[mutation];
    throw new ExchangeError('BAD_USER_INPUT', `${mutation}: your signing key is in your own client; use ${prepare}, sign the payloads, then ${commit}`);
  }
  return (messages) => ctx.services.custody.withKeys(caller.participant.id, (keys) => messages.map((m) => hex(new Signer(keys.signing).sign(m).toBEBytes())));
}

/** The loaders learn which transaction recorded what was just submitted (no history read for it). */
function recorded<T extends { transactionId: string }>(ctx: RequestContext, records: readonly LedgerRecord[], result: T): T {
  for (const r of records) ctx.loaders.recordTransaction.prime(r.id, result.transactionId);
  return result;
}

const payload = (ctx: RequestContext, r: IngestResult): IngestPayload =>
  recorded(ctx, r.records, {
    records: r.records as never,
    omitted: [...r.omitted],
    transactionId: r.transactionId,
    blockNumber: Number(r.blockNumber),
  });

export const createdRecord = (ctx: RequestContext, r: SubmitResult<LedgerRecord>): LedgerRecord => recorded(ctx, [r.result], r).result;

@Resolver(() => EmrRecord)
export class EmrRecordResolver {
  @Query(() => EmrRecord, { description: 'a record you may see (NOT_FOUND otherwise)' })
  async emr(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<LedgerRecord> {
    return visibleRecord(ctx, id);
  }

  @Query(() => EmrConnection, { description: 'records by summary fields, newest ledger order within an index; first ≤ 100' })
  emrs(
    @Arg('filter', () => EmrFilter, { defaultValue: {} }) filter: EmrFilter,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<RecordPage> {
    return searchRecords(ctx, filter, first, after ?? undefined);
  }

  @Mutation(() => IngestPayload, {
    description:
      'A FHIR resource or Bundle for one patient → validated, classified (Table 5), split into EMRs, each encrypted under the patient’s public key, stored on IPFS and recorded in one ledger transaction. For custodial authors; others use prepareFhirIngest.',
  })
  async ingestFhir(
    @Arg('bundle', () => GraphQLJSONObject) bundle: Record<string, unknown>,
    @Arg('patientId', () => ID) patientId: string,
    @Ctx() ctx: RequestContext,
  ): Promise<IngestPayload> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'ingestFhir');
    checkPatientId(patientId);
    const sign = custodialSigner(ctx, caller, 'ingestFhir');
    return payload(ctx, await ctx.services.ingest.ingest({ input: bundle, patientId, author: caller.participant }, sign));
  }

  @Mutation(() => IngestDraft, { description: 'ingestFhir for an author who signs in its own client: stores the content and returns what to sign' })
  async prepareFhirIngest(
    @Arg('bundle', () => GraphQLJSONObject) bundle: Record<string, unknown>,
    @Arg('patientId', () => ID) patientId: string,
    @Ctx() ctx: RequestContext,
  ): Promise<IngestDraft> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'prepareFhirIngest');
    checkPatientId(patientId);
    const draft = await ctx.services.ingest.prepare({ input: bundle, patientId, author: caller.participant });
    return {
      draftId: draft.draftId,
      expiresAt: draft.expiresAt,
      records: draft.records.map((r) => JSON.parse(canonicalJson(r)) as Record<string, unknown>),
      signingPayloads: draft.signingPayloads.map((p) => Buffer.from(p).toString('base64')),
      omitted: [...draft.omitted],
    };
  }

  @Mutation(() => IngestPayload, { description: 'records a prepared upload with the author’s signatures (hex r‖s, in the order of the draft’s records)' })
  async commitFhirIngest(
    @Arg('draftId', () => ID) draftId: string,
    @Arg('signatures', () => [String]) signatures: string[],
    @Ctx() ctx: RequestContext,
  ): Promise<IngestPayload> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'commitFhirIngest');
    return payload(ctx, await ctx.services.ingest.commit(draftId, caller.participant.id, signatures));
  }

  @Mutation(() => EmrRecord, {
    description: 'Records content uploaded through POST /blobs (binary EMRs), signed with the key the node holds: custodial authors; others use prepareCreateEmr',
  })
  async createEmr(@Arg('input', () => CreateEmrInput) input: CreateEmrInput, @Ctx() ctx: RequestContext): Promise<LedgerRecord> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'createEmr');
    checkPatientId(input.patientId);
    const sign = custodialSigner(ctx, caller, 'createEmr');
    return createdRecord(ctx, await ctx.services.blobRecords.create(blobRecordInput(input), caller.participant, sign));
  }

  @Mutation(() => EmrDraft, {
    description: 'createEmr for an author who signs in its own client: checks the content and returns the record and the exact bytes to sign; commitCreateEmr records it',
  })
  async prepareCreateEmr(@Arg('input', () => CreateEmrInput) input: CreateEmrInput, @Ctx() ctx: RequestContext): Promise<EmrDraft> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'prepareCreateEmr');
    checkPatientId(input.patientId);
    return emrDraft(await ctx.services.blobRecords.prepare(blobRecordInput(input), caller.participant));
  }

  @Mutation(() => EmrRecord, {
    description: 'records a prepared record with the author’s signature (hex r‖s over the draft’s signingPayload), verified before it is submitted',
  })
  async commitCreateEmr(@Arg('draftId', () => ID) draftId: string, @Arg('signature') signature: string, @Ctx() ctx: RequestContext): Promise<LedgerRecord> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'commitCreateEmr');
    return createdRecord(ctx, await ctx.services.blobRecords.commit(draftId, caller.participant, signature));
  }

  // ---- fields ----

  @FieldResolver(() => Participant, { nullable: true, description: 'null if the participant record is gone' })
  patient(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<LedgerParticipant | null> {
    return ctx.loaders.participant.load(r.patientId);
  }

  @FieldResolver(() => Participant, { nullable: true })
  author(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<LedgerParticipant | null> {
    return ctx.loaders.participant.load(r.authorId);
  }

  @FieldResolver(() => EmrMetadata, { nullable: true, description: 'storage references: for the patient, the author and holders of a live grant; null otherwise' })
  async metadata(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<RecordMetadata | null> {
    return (await mayLocateContent(ctx, r)) ? r.metadata : null;
  }

  @FieldResolver(() => AccessPolicy, { nullable: true, description: 'the policy in force for the record chain: for its patient and author; null otherwise' })
  async policy(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<LedgerPolicy | null> {
    const caller = requireCaller(ctx);
    return isPartyTo(caller, r) ? ctx.loaders.effectivePolicy.load(r.id) : null;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'whether the author’s signature verifies under the author’s registered key (null: author unknown)' })
  async signatureValid(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<boolean | null> {
    const author = await ctx.loaders.participant.load(r.authorId);
    return author === null ? null : verifyAuthorSignature(r, author.signingKey);
  }

  @FieldResolver(() => EmrRecord, { nullable: true, description: 'the version this one replaced' })
  async previous(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<LedgerRecord | null> {
    return r.previousId === undefined ? null : ctx.loaders.record.load(r.previousId);
  }

  @FieldResolver(() => [EmrRecord], { description: 'every version of the record’s chain, oldest first' })
  async versions(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<LedgerRecord[]> {
    const versions = await ctx.services.ledger.recordVersions(r.id);
    for (const v of versions) ctx.loaders.record.prime(v.id, v);
    return versions;
  }

  @FieldResolver(() => [ReencryptionGrant], { nullable: true, description: 'grants on this version: for its patient and author; null otherwise' })
  async grants(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<LedgerGrant[] | null> {
    if (!isPartyTo(requireCaller(ctx), r)) return null;
    return allPages((b) => ctx.services.ledger.listGrants('record', r.id, { pageSize: 500, bookmark: b }));
  }

  @FieldResolver(() => [AccessRequest], { nullable: true, description: 'access requests for this version: for its patient and author; null otherwise' })
  async accessRequests(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<LedgerRequest[] | null> {
    if (!isPartyTo(requireCaller(ctx), r)) return null;
    return allPages((b) => ctx.services.ledger.listRequests('record', r.id, { pageSize: 500, bookmark: b }));
  }

  @FieldResolver(() => ID, { nullable: true, description: 'the transaction that recorded this version' })
  transactionId(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<string | null> {
    return ctx.loaders.recordTransaction.load(r.id);
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description: 'number of the block holding the transaction that recorded this version (Fabric qscc GetBlockByTxID); null while the peer does not know it',
  })
  async blockNumber(@Root() r: LedgerRecord, @Ctx() ctx: RequestContext): Promise<number | null> {
    const txId = await ctx.loaders.recordTransaction.load(r.id);
    return txId === null ? null : ctx.loaders.blockOfTransaction.load(txId);
  }
}

/** A record draft as the API answers it: the record as JSON and base64 of the exact bytes to sign. */
export const emrDraft = (draft: RecordDraft): EmrDraft => ({
  draftId: draft.draftId,
  expiresAt: draft.expiresAt,
  record: JSON.parse(canonicalJson(draft.record)) as Record<string, unknown>,
  signingPayload: Buffer.from(draft.signingPayload).toString('base64'),
});

function checkPatientId(id: string): void {
  if (!PARTICIPANT_ID.test(id)) throw new ExchangeError('BAD_USER_INPUT', 'patientId: must be a participant id (32 hex characters)');
}

const blobRecordInput = (input: CreateEmrInput): BlobRecordInput => ({ ...input, summary: stripNulls(input.summary) });

/** GraphQL gives absent optional input fields as null; the ledger's parsers want them absent. */
function stripNulls<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as T;
}
