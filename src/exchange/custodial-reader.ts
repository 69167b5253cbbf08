/**
 * GET /emrs/:id/content[?grantId=…] (docs/sharing.md, "Custodial accounts"): the node reads a record for an account
 * whose keys it holds. It signs the account's `reencrypt` operation on a live grant, and only once that is committed
 * gets cfrags from its proxies, verifies them, opens the DEK with the account's encryption key and streams the
 * plaintext, checked against the ledger's hash and size as it goes (src/storage openEmr). An emergency grant is
 * served through the treating physician's delegation, as openEmr serves it. Participants with their own keys use
 * openEmr and decrypt in their client.
 */
import type { ServerResponse } from 'node:http';
import { ID_PATTERN } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, Grant, OperationRecord } from '../../chaincode/src/domain/index.js';
import type { EmrDekSource } from '../crypto/envelope/index.js';
import type { Logger } from '../node/log.js';
import { grantLooksLive, requireCaller, visibleRecord } from '../resolvers/access.js';
import type { RequestContext } from '../resolvers/context.js';
import { grantsOnKey } from '../resolvers/loaders.js';
import { openEmr } from '../storage/index.js';
import { ExchangeError, toExchangeError } from './errors.js';
import { assertSameCapsule, delegationOf, emergencyDek, openDekAsCustodian, reencryptAsCustodian, signAsCustodian } from './reencryption.js';

const isId = (v: string): boolean => v.length <= 128 && ID_PATTERN.test(v);

export interface CustodialContent {
  readonly record: EmrRecord;
  /** the committed operation record that authorised this read */
  readonly operationId: string;
  /**
   * The plaintext. Its first chunk is already decrypted (so key, grant and header problems are errors before any
   * byte is sent) and the DEK already zeroed; the content is genuine only if iteration ends without an error.
   */
  readonly body: AsyncIterable<Uint8Array>;
}

/** The caller's grant for the record: the one named, or its live grant (an ordinary one before an emergency one). */
async function grantFor(ctx: RequestContext, record: EmrRecord, grantId: string | undefined): Promise<Grant> {
  const me = requireCaller(ctx).participant;
  const { ledger } = ctx.services;
  if (grantId !== undefined) {
    if (!isId(grantId)) throw new ExchangeError('BAD_USER_INPUT', 'grantId: must be a grant id');
    const grant = await ledger.grant(grantId).catch((e: unknown) => {
      throw toExchangeError(e).code === 'NOT_FOUND' ? new ExchangeError('NOT_FOUND', `grant ${grantId} not found`) : e;
    });
    if (grant.granteeId !== me.id) throw new ExchangeError('NOT_FOUND', `grant ${grantId} not found`);
    if (grant.emrId !== record.id) throw new ExchangeError('BAD_USER_INPUT', `grantId: grant ${grantId} is for another record`);
    return grant; // the contract judges whether it is live
  }
  const candidates = (await ctx.loaders.grantsOn.load(grantsOnKey(me.id, record.id)))
    .filter((g) => grantLooksLive(g))
    .sort((a, b) => Number(a.emergency !== undefined) - Number(b.emergency !== undefined) || b.notBefore.localeCompare(a.notBefore));
  for (const g of candidates) if ((await ledger.isGrantLive(g.id)).live) return g;
  throw new ExchangeError('FORBIDDEN', `you hold no live grant for record ${record.id}; ask the patient for access (requestAccess)`);
}

/** Pulls the first chunk (the header, the DEK, the first segment), then runs `afterFirst` and yields the rest. */
async function primed(source: AsyncIterable<Uint8Array>, afterFirst: () => void): Promise<AsyncIterable<Uint8Array>> {
  const it = source[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await it.next();
  } finally {
    afterFirst();
  }
  return (async function* () {
    let done = first.done === true;
    try {
      if (!done) yield first.value as Uint8Array;
      while (!done) {
        const next = await it.next();
        done = next.done === true;
        if (!done) yield next.value;
      }
    } finally {
      if (!done) await it.return?.();
    }
  })();
}

/** Records the read on the ledger and opens the content for a custodial caller. */
export async function openCustodialContent(ctx: RequestContext, emrId: string, grantId: string | undefined): Promise<CustodialContent> {
  const caller = requireCaller(ctx);
  if (!caller.custodial) {
    throw new ExchangeError('BAD_USER_INPUT', 'GET /emrs/:id/content is for custodial accounts; with your own keys, call openEmr and decrypt in your client');
  }
  const record = await visibleRecord(ctx, emrId);
  const grant = await grantFor(ctx, record, grantId);
  const { services } = ctx;
  const d = await delegationOf(services, record);
  let dek: Uint8Array | undefined;
  let operationId: string;
  let dekSource: EmrDekSource;
  if (grant.emergency !== undefined) {
    const action = await signAsCustodian(services, caller.participant.id, 'record-operation', { kind: 'reencrypt', emrId: record.id, grantId: grant.id });
    operationId = (await services.ledger.submitAction<OperationRecord>(action)).result.id;
    dek = (await emergencyDek(services, record, d)).dek;
    dekSource = dek;
  } else {
    const { operation, cfrags } = await reencryptAsCustodian(services, caller.participant, record, grant, d);
    operationId = operation.id;
    dekSource = async (_header, keyBlock) => {
      assertSameCapsule(keyBlock, d, record);
      dek = await openDekAsCustodian(services, caller.participant.id, keyBlock, d, cfrags);
      return dek;
    };
  }
  const m = record.metadata;
  let plaintext: AsyncIterable<Uint8Array>;
  try {
    plaintext = openEmr(services.blobs, { cid: m.cid, contentHash: m.contentHash, size: m.size }, dekSource);
  } catch (e) {
    dek?.fill(0);
    throw e;
  }
  // the stream key is derived from the DEK before the first segment is opened: the DEK is not needed after that
  const body = await primed(plaintext, () => dek?.fill(0));
  return { record, operationId, body };
}

/** The route's handler: headers once the content opens, then the plaintext; a failure mid-stream destroys the response. */
export async function serveCustodialContent(ctx: RequestContext, res: ServerResponse, emrId: string, grantId: string | undefined, log: Logger): Promise<void> {
  if (!isId(emrId)) throw new ExchangeError('BAD_USER_INPUT', 'id: must be a record id');
  const { record, operationId, body } = await openCustodialContent(ctx, emrId, grantId);
  res.writeHead(200, {
    'content-type': record.metadata.mediaType,
    'x-pie-operation-id': operationId,
    'x-pie-content-sha256': record.metadata.contentHash,
    'cache-control': 'no-store',
    // EMR content of any media type, served from the API's origin: never rendered or sniffed by a browser
    'content-disposition': 'attachment',
    'x-content-type-options': 'nosniff',
  });
  try {
    for await (const chunk of body) if (!res.write(chunk)) await drained(res);
    res.end();
  } catch (e) {
    log.warn({ emrId, operationId, err: (e as Error).message }, 'EMR content stream failed');
    res.destroy(e as Error);
  }
}

/** Resolves when the response can take more, or rejects when it closed first (the client went away). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      reject(new Error('the client closed the connection'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
