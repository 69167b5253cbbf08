/**
 * Fabric's peer Deliver service (protos.Deliver: Deliver and DeliverFiltered) over the dev network's ledger, as the
 * unmodified @hyperledger/fabric-gateway client uses it for block events (`Network.getBlockEvents`,
 * `getFilteredBlockEvents`). PIE's ledger client listens to filtered blocks to learn that its transactions have
 * committed (one stream per client instead of one CommitStatus call per transaction).
 *
 * What a Fabric 2.5 peer does and this does too (common/deliver/deliver.go):
 * - each request is a signed common.Envelope whose payload has a DELIVER_SEEK_INFO channel header and an
 *   orderer.SeekInfo; its timestamp must be within 15 minutes of the peer's clock;
 * - the creator must be a member of a consortium MSP and have signed the payload (the channel's Readers policy);
 * - blocks from start to stop are sent in order (BLOCK_UNTIL_READY waits for blocks not yet committed,
 *   FAIL_IF_NOT_READY answers NOT_FOUND), then a SUCCESS status; problems are answered with a DeliverResponse status
 *   (BAD_REQUEST, FORBIDDEN, NOT_FOUND), not a gRPC error, and the stream stays open for the next request.
 *
 * Filtered blocks carry, per transaction, its id, type and validation code and, for valid ones, the chaincode event's
 * name without its payload. The genesis (configuration) block is delivered as a filtered block without
 * transactions.
 */
import * as grpc from '@grpc/grpc-js';
import { common, orderer, peer } from '@hyperledger/fabric-protos';
import type { BlockSummary, Ledger } from './ledger.js';
import { MspError } from './msp.js';
import type { Msp } from './msp.js';
import { decodeCreator } from './transaction.js';
import type { Creator } from './transaction.js';

export interface DeliverServiceOptions {
  ledger: Ledger;
  msp: Msp;
}

/** How far a request's timestamp may be from this clock (Fabric's peer.deliveryclient / deliver TimeWindow). */
export const DELIVER_TIME_WINDOW_MS = 15 * 60_000;

type Kind = 'full' | 'filtered';

/** A request Fabric answers with a DeliverResponse status instead of blocks. */
class DeliverRefusal extends Error {
  constructor(
    readonly status: common.StatusMap[keyof common.StatusMap],
    message: string,
  ) {
    super(message);
  }
}

interface Seek {
  readonly channelId: string;
  readonly start: number;
  /** inclusive; Infinity = until the client goes away */
  readonly stop: number;
  readonly failIfNotReady: boolean;
}

/** Decodes, authenticates and bounds one deliver request. */
async function readSeek(env: common.Envelope, o: DeliverServiceOptions, now = Date.now()): Promise<Seek> {
  const bad = (m: string): DeliverRefusal => new DeliverRefusal(common.Status.BAD_REQUEST, m);
  let payload: common.Payload;
  let ch: common.ChannelHeader;
  let sh: common.SignatureHeader;
  let seek: orderer.SeekInfo;
  try {
    payload = common.Payload.deserializeBinary(env.getPayload_asU8());
    const header = payload.getHeader();
    if (!header) throw new Error('no header');
    ch = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
    sh = common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
    seek = orderer.SeekInfo.deserializeBinary(payload.getData_asU8());
  } catch (e) {
    throw bad(`malformed deliver request: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (ch.getType() !== common.HeaderType.DELIVER_SEEK_INFO) throw bad(`channel header type ${ch.getType()} is not DELIVER_SEEK_INFO`);
  if (ch.getChannelId() !== o.ledger.channelId) throw new DeliverRefusal(common.Status.NOT_FOUND, `channel "${ch.getChannelId()}" not found`);
  const ts = ch.getTimestamp();
  if (!ts) throw bad('the request has no timestamp');
  const skewMs = Math.abs(ts.getSeconds() * 1000 + Math.floor(ts.getNanos() / 1e6) - now);
  if (skewMs > DELIVER_TIME_WINDOW_MS) throw bad(`the request's timestamp is ${Math.round(skewMs / 1000)} s from this peer's clock (limit 900 s)`);
  let creator: Creator;
  try {
    creator = decodeCreator(sh.getCreator_asU8());
  } catch {
    throw bad('the creator is not a msp.SerializedIdentity');
  }
  try {
    await o.msp.verifySignature(creator.mspId, creator.certificatePem, env.getPayload_asU8(), env.getSignature_asU8());
  } catch (e) {
    if (e instanceof MspError) throw new DeliverRefusal(common.Status.FORBIDDEN, `access denied: ${e.message}`);
    throw e;
  }
  const height = o.ledger.height;
  const position = (p: orderer.SeekPosition | undefined, what: string): number => {
    switch (p?.getTypeCase() ?? orderer.SeekPosition.TypeCase.TYPE_NOT_SET) {
      case orderer.SeekPosition.TypeCase.OLDEST:
        return 0;
      case orderer.SeekPosition.TypeCase.NEWEST:
        return Math.max(0, height - 1);
      case orderer.SeekPosition.TypeCase.NEXT_COMMIT:
        return height;
      case orderer.SeekPosition.TypeCase.SPECIFIED: {
        const n = p!.getSpecified()!.getNumber();
        return n >= Number.MAX_SAFE_INTEGER ? Infinity : n;
      }
      default:
        throw bad(`seek ${what} position is not set`);
    }
  };
  const start = position(seek.getStart(), 'start');
  const stop = position(seek.getStop(), 'stop');
  if (start === Infinity) throw bad('seek start is not a block number');
  if (start > stop) throw bad(`seek start ${start} is after stop ${stop}`);
  return { channelId: ch.getChannelId(), start, stop, failIfNotReady: seek.getBehavior() === orderer.SeekInfo.SeekBehavior.FAIL_IF_NOT_READY };
}

function filteredBlock(channelId: string, s: BlockSummary): peer.FilteredBlock {
  const fb = new peer.FilteredBlock();
  fb.setChannelId(channelId);
  fb.setNumber(s.blockNum);
  fb.setFilteredTransactionsList(
    s.txs.map((t) => {
      const ft = new peer.FilteredTransaction();
      ft.setTxid(t.txId);
      ft.setType(common.HeaderType.ENDORSER_TRANSACTION);
      ft.setTxValidationCode(t.code as peer.TxValidationCodeMap[keyof peer.TxValidationCodeMap]);
      if (t.event) {
        const ev = new peer.ChaincodeEvent();
        ev.setChaincodeId(t.event.chaincodeName);
        ev.setTxId(t.event.txId);
        ev.setEventName(t.event.name); // no payload in a filtered block
        const action = new peer.FilteredChaincodeAction();
        action.setChaincodeEvent(ev);
        const actions = new peer.FilteredTransactionActions();
        actions.setChaincodeActionsList([action]);
        ft.setTransactionActions(actions);
      }
      return ft;
    }),
  );
  return fb;
}

const statusResponse = (status: common.StatusMap[keyof common.StatusMap]): peer.DeliverResponse => {
  const r = new peer.DeliverResponse();
  r.setStatus(status);
  return r;
};

export function deliverServiceImplementation(o: DeliverServiceOptions): grpc.UntypedServiceImplementation {
  const serve = (kind: Kind) => (call: grpc.ServerDuplexStream<common.Envelope, peer.DeliverResponse>) => {
    const abort = new AbortController();
    const end = (): void => abort.abort();
    call.on('cancelled', end);
    call.on('close', end);
    call.on('error', end);
    const write = async (r: peer.DeliverResponse): Promise<void> => {
      if (!call.write(r)) await new Promise((resolve) => call.once('drain', resolve));
    };
    /** Answers one request: its blocks then SUCCESS, or the refusal's status. */
    const answer = async (env: common.Envelope): Promise<void> => {
      let seek: Seek;
      try {
        seek = await readSeek(env, o);
      } catch (e) {
        if (e instanceof DeliverRefusal) return write(statusResponse(e.status));
        throw e;
      }
      if (seek.failIfNotReady && seek.start >= o.ledger.height) return write(statusResponse(common.Status.NOT_FOUND));
      for await (const summary of o.ledger.blocksFrom(seek.start, abort.signal)) {
        const r = new peer.DeliverResponse();
        if (kind === 'full') r.setBlock(await o.ledger.block(summary.blockNum));
        else r.setFilteredBlock(filteredBlock(seek.channelId, summary));
        await write(r);
        if (summary.blockNum >= seek.stop) return write(statusResponse(common.Status.SUCCESS));
        if (seek.failIfNotReady && summary.blockNum + 1 >= o.ledger.height) return write(statusResponse(common.Status.NOT_FOUND));
      }
    };
    // Requests on one stream are answered in order; the stream ends when the client half-closes and all are answered.
    let queue: Promise<void> = Promise.resolve();
    call.on('data', (env: common.Envelope) => {
      queue = queue.then(() => (abort.signal.aborted ? undefined : answer(env)));
    });
    call.on('end', () => {
      void queue.then(
        () => call.end(),
        (e: unknown) => {
          if (!abort.signal.aborted) call.destroy(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  };
  return { deliver: serve('full'), deliverFiltered: serve('filtered') };
}

/** The service definition (protos.Deliver) the dev network's gRPC server registers next to the Gateway service. */
export const DELIVER_SERVICE = peer.DeliverService as unknown as grpc.ServiceDefinition;
