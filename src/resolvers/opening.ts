/**
 * The envelope of a small record, inline in the openEmr answer: the client then decrypts without a GET /blobs round
 * trip. The opening itself is the authorisation (openEmr has committed the caller's operation record), and the
 * content is what GET /blobs/:cid would stream: the blob store verifies every block against its CID, the client
 * checks the length against the ledger's size and the plaintext against its SHA-256.
 */
import 'reflect-metadata'; // type-graphql reads decorator metadata while these classes are defined
import { concatBytes } from '@noble/hashes/utils.js';
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { toBase64 } from '../bytes.js';
import { EmrOpening } from '../schema/types.js';
import type { RequestContext } from './context.js';

/** Envelopes up to this size come inline (base64 grows them by a third); larger ones stream from GET /blobs. */
export const INLINE_ENVELOPE_MAX_BYTES = 64 * 1024;

@Resolver(() => EmrOpening)
export class EmrOpeningResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description: `the encrypted envelope itself, base64, when it is at most ${INLINE_ENVELOPE_MAX_BYTES / 1024} KiB (saves GET /blobs/:cid); null for a larger one`,
  })
  async envelope(@Root() o: EmrOpening, @Ctx() ctx: RequestContext): Promise<string | null> {
    if (o.size > INLINE_ENVELOPE_MAX_BYTES) return null;
    const chunks: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of ctx.services.blobs.get(o.cid)) {
      length += chunk.length;
      // the store holds what the ledger recorded; more than that is not answered inline
      if (length > INLINE_ENVELOPE_MAX_BYTES) return null;
      chunks.push(chunk);
    }
    return toBase64(concatBytes(...chunks));
  }
}
