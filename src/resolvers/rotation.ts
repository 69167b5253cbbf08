/**
 * Key rotation (data version update): after the patient's client re-uploaded a record's plaintext through POST /blobs
 * (a fresh DEK, capsule and CID), the next version of the record chain is recorded with the same patient, summary
 * and media type (src/exchange/blob-records.ts). Authors whose key is in their own client prepare it and sign it,
 * then commitCreateEmr records it; custodial authors have the node sign at once. Recording it ends every grant on the
 * older versions (SUPERSEDED); re-issuing the treating grant is the patient's client's part.
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { EmrRecord as LedgerRecord } from '../../chaincode/src/domain/index.js';
import type { RotatedContent } from '../exchange/blob-records.js';
import { ExchangeError } from '../exchange/errors.js';
import { RotatedContentInput } from '../schema/inputs.js';
import { EmrDraft, EmrRecord } from '../schema/types.js';
import { requireKind, visibleRecord } from './access.js';
import type { RequestContext } from './context.js';
import { createdRecord, custodialSigner, emrDraft } from './records.js';

const contentOf = (c: RotatedContentInput): RotatedContent => {
  if (c == null) throw new ExchangeError('BAD_USER_INPUT', 'content: is required');
  return { cid: c.cid, size: c.size, contentHash: c.contentHash, capsule: c.capsule, envelopeVersion: c.envelopeVersion };
};

@Resolver()
export class RotationResolver {
  @Mutation(() => EmrDraft, {
    description:
      'Key rotation: checks re-uploaded content (POST /blobs) and returns the next version of the record (the chain’s head) and the exact bytes to sign; commitCreateEmr records it. For the patient or the author of version 1',
  })
  async prepareRotateEmrKey(
    @Arg('emrId', () => ID) emrId: string,
    @Arg('content', () => RotatedContentInput) content: RotatedContentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<EmrDraft> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'prepareRotateEmrKey');
    await visibleRecord(ctx, emrId); // NOT_FOUND for a record the caller may not see
    return emrDraft(await ctx.services.blobRecords.prepareRotation(emrId, contentOf(content), caller.participant));
  }

  @Mutation(() => EmrRecord, {
    description: 'Key rotation signed with the key the node holds (custodial authors of version 1); others use prepareRotateEmrKey',
  })
  async rotateEmrKey(
    @Arg('emrId', () => ID) emrId: string,
    @Arg('content', () => RotatedContentInput) content: RotatedContentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<LedgerRecord> {
    const caller = requireKind(ctx, ['physician', 'patient'], 'rotateEmrKey');
    const sign = custodialSigner(ctx, caller, 'rotateEmrKey');
    await visibleRecord(ctx, emrId);
    return createdRecord(ctx, await ctx.services.blobRecords.rotate(emrId, contentOf(content), caller.participant, sign));
  }
}
