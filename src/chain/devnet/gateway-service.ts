/**
 * Fabric's Gateway gRPC service (gateway.Gateway: Evaluate, Endorse, Submit, CommitStatus, ChaincodeEvents) over the
 * dev network, close enough to a Fabric 2.5 peer that the unmodified @hyperledger/fabric-gateway client works:
 *
 * - every proposal, submitted transaction, commit-status and event request is signed; the signer must be a member
 *   of a consortium MSP and sign with low-S (PERMISSION_DENIED otherwise);
 * - chaincode errors come back as Fabric's do: status UNKNOWN (Evaluate) or ABORTED (Endorse) with a
 *   gateway.ErrorDetail "chaincode response 500, <message>" in the grpc-status-details-bin trailer;
 * - Evaluate of chaincode "qscc" answers Fabric's ledger queries (qscc.ts); Endorse of it is refused;
 * - Submit hands the signed envelope to the orderer; CommitStatus waits for the commit and returns the validation
 *   code; ChaincodeEvents streams one response per block with matching events, from the requested position.
 */
import * as grpc from '@grpc/grpc-js';
import { gateway, google, msp, orderer, peer } from '@hyperledger/fabric-protos';
import anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import type { ChaincodeRunner } from './chaincode-runner.js';
import type { Ledger } from './ledger.js';
import { MspError } from './msp.js';
import type { Member, Msp, SigningIdentity } from './msp.js';
import type { Orderer } from './orderer.js';
import { OrdererError } from './orderer.js';
import { invokeQscc, QSCC } from './qscc.js';
import { decodeProposal, endorse, parseTransaction, preparedTransaction, TransactionError } from './transaction.js';
import type { DecodedProposal } from './transaction.js';

const { Any } = anyPb; // a CommonJS module without named ESM exports

export interface GatewayServiceOptions {
  ledger: Ledger;
  msp: Msp;
  runner: ChaincodeRunner;
  orderer: Orderer;
  /** the peer identity that endorses (OU peer) */
  peer: SigningIdentity;
  /** host:port this service is reachable at (reported in error details) */
  address: () => string;
}

interface Detail {
  address: string;
  mspId: string;
  message: string;
}

/** A gRPC error carrying gateway.ErrorDetail entries the way Fabric's gateway does. */
function gatewayError(code: grpc.status, message: string, details: readonly Detail[] = []): grpc.ServiceError {
  const status = new google.rpc.Status();
  status.setCode(code);
  status.setMessage(message);
  status.setDetailsList(
    details.map((d) => {
      const ed = new gateway.ErrorDetail();
      ed.setAddress(d.address);
      ed.setMspId(d.mspId);
      ed.setMessage(d.message);
      const any = new Any();
      any.setTypeUrl('type.googleapis.com/gateway.ErrorDetail');
      any.setValue(ed.serializeBinary());
      return any;
    }),
  );
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(status.serializeBinary()));
  return Object.assign(new Error(message), { code, details: message, metadata });
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Maps a thrown error to the gRPC status a Fabric peer would use. */
function asServiceError(e: unknown): grpc.ServiceError {
  if (e && typeof e === 'object' && 'metadata' in e && 'code' in e) return e as grpc.ServiceError;
  if (e instanceof MspError) return gatewayError(grpc.status.PERMISSION_DENIED, `access denied: ${e.message}`);
  if (e instanceof TransactionError) return gatewayError(grpc.status.INVALID_ARGUMENT, e.message);
  if (e instanceof OrdererError) {
    return gatewayError(e.code === 'TOO_LARGE' ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAVAILABLE, e.message);
  }
  return gatewayError(grpc.status.INTERNAL, errText(e));
}

function unary<Req, Res>(handler: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (res) => callback(null, res),
      (e: unknown) => callback(asServiceError(e)),
    );
  };
}

export function gatewayServiceImplementation(o: GatewayServiceOptions): grpc.UntypedServiceImplementation {
  const channelId = o.ledger.channelId;

  /** Membership plus signature, for requests carrying a serialized identity. */
  const authenticate = async (identityBytes: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<Member> => {
    if (signature.length === 0) throw gatewayError(grpc.status.PERMISSION_DENIED, 'access denied: request is not signed');
    let id: msp.SerializedIdentity;
    try {
      id = msp.SerializedIdentity.deserializeBinary(identityBytes);
    } catch {
      throw gatewayError(grpc.status.INVALID_ARGUMENT, 'identity is not a msp.SerializedIdentity');
    }
    return await o.msp.verifySignature(id.getMspid(), new TextDecoder().decode(id.getIdBytes_asU8()), data, signature);
  };

  const checkChannel = (requested: string): void => {
    if (requested !== channelId) throw gatewayError(grpc.status.NOT_FOUND, `channel "${requested}" not found (this network has "${channelId}")`);
  };

  /** Decodes and authenticates a proposal. */
  const authorise = async (sp: peer.SignedProposal | undefined, requestTxId: string, requestChannel: string): Promise<DecodedProposal> => {
    if (!sp) throw gatewayError(grpc.status.INVALID_ARGUMENT, 'a proposal is required');
    const p = decodeProposal(sp);
    checkChannel(p.channelId);
    if (requestChannel !== '' && requestChannel !== p.channelId) throw gatewayError(grpc.status.INVALID_ARGUMENT, 'request channel differs from the proposal');
    if (requestTxId !== '' && requestTxId !== p.txId) throw gatewayError(grpc.status.INVALID_ARGUMENT, 'request transaction id differs from the proposal');
    await o.msp.verifySignature(p.creator.mspId, p.creator.certificatePem, p.proposalBytes, p.signature);
    return p;
  };

  /** Runs an authorised proposal on the installed chaincode. */
  const simulate = async (p: DecodedProposal) => {
    if (p.chaincodeName !== o.runner.name) {
      throw gatewayError(grpc.status.NOT_FOUND, `chaincode "${p.chaincodeName}" is not installed on channel "${channelId}"`);
    }
    return o.runner.simulate(o.ledger.state, { channelId: p.channelId, txId: p.txId, input: p.input, signedProposal: p.signedProposal });
  };

  const chaincodeFailure = (status: grpc.status, summary: string, sim: { status: number; message: string }): grpc.ServiceError =>
    gatewayError(status, summary, [{ address: o.address(), mspId: o.peer.mspId, message: `chaincode response ${sim.status}, ${sim.message}` }]);

  return {
    evaluate: unary<gateway.EvaluateRequest, gateway.EvaluateResponse>(async (req) => {
      const p = await authorise(req.getProposedTransaction(), req.getTransactionId(), req.getChannelId());
      // the query system chaincode answers from the ledger itself (chain info, blocks, transactions)
      const sim = p.chaincodeName === QSCC ? await invokeQscc(o.ledger, p.input.getArgsList_asU8()) : await simulate(p);
      if (sim.status >= 400) {
        throw chaincodeFailure(grpc.status.UNKNOWN, `evaluate call to endorser returned error: chaincode response ${sim.status}, ${sim.message}`, sim);
      }
      const response = new peer.Response();
      response.setStatus(sim.status);
      response.setMessage(sim.message);
      response.setPayload(sim.payload);
      const res = new gateway.EvaluateResponse();
      res.setResult(response);
      return res;
    }),

    endorse: unary<gateway.EndorseRequest, gateway.EndorseResponse>(async (req) => {
      const p = await authorise(req.getProposedTransaction(), req.getTransactionId(), req.getChannelId());
      if (p.chaincodeName === QSCC) {
        throw gatewayError(grpc.status.INVALID_ARGUMENT, `chaincode "${QSCC}" answers queries only: use Evaluate (it does not endorse transactions for ordering)`);
      }
      const sim = await simulate(p);
      if (sim.status >= 400) throw chaincodeFailure(grpc.status.ABORTED, 'failed to endorse transaction, see attached details for more info', sim);
      const endorsement = endorse(p, sim, o.peer);
      o.ledger.noteEndorsed(endorsement);
      const res = new gateway.EndorseResponse();
      res.setPreparedTransaction(preparedTransaction(p, [endorsement]));
      return res;
    }),

    submit: unary<gateway.SubmitRequest, gateway.SubmitResponse>(async (req) => {
      const env = req.getPreparedTransaction();
      if (!env) throw gatewayError(grpc.status.INVALID_ARGUMENT, 'a prepared transaction is required');
      if (env.getSignature_asU8().length === 0) throw gatewayError(grpc.status.INVALID_ARGUMENT, 'prepared transaction must be signed');
      const tx = parseTransaction(env);
      checkChannel(tx.channelId);
      if (req.getTransactionId() !== tx.txId) throw gatewayError(grpc.status.INVALID_ARGUMENT, 'request transaction id differs from the envelope');
      await o.msp.verifySignature(tx.creator.mspId, tx.creator.certificatePem, tx.payloadBytes, tx.signature);
      const bytes = env.serializeBinary();
      o.ledger.noteSubmitted(bytes, tx);
      o.orderer.order(bytes);
      return new gateway.SubmitResponse();
    }),

    commitStatus: unary<gateway.SignedCommitStatusRequest, gateway.CommitStatusResponse>(async (req, call) => {
      const bytes = req.getRequest_asU8();
      let r: gateway.CommitStatusRequest;
      try {
        r = gateway.CommitStatusRequest.deserializeBinary(bytes);
      } catch {
        throw gatewayError(grpc.status.INVALID_ARGUMENT, 'request is not a gateway.CommitStatusRequest');
      }
      await authenticate(r.getIdentity_asU8(), bytes, req.getSignature_asU8());
      checkChannel(r.getChannelId());
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort(new Error('cancelled')));
      const status = await o.ledger.waitForTx(r.getTransactionId(), abort.signal);
      const res = new gateway.CommitStatusResponse();
      res.setResult(status.code as peer.TxValidationCodeMap[keyof peer.TxValidationCodeMap]);
      res.setBlockNumber(status.blockNum);
      return res;
    }),

    chaincodeEvents: (call: grpc.ServerWritableStream<gateway.SignedChaincodeEventsRequest, gateway.ChaincodeEventsResponse>) => {
      const abort = new AbortController();
      const end = (): void => abort.abort();
      call.on('cancelled', end);
      call.on('close', end);
      void (async () => {
        const bytes = call.request.getRequest_asU8();
        const r = gateway.ChaincodeEventsRequest.deserializeBinary(bytes);
        await authenticate(r.getIdentity_asU8(), bytes, call.request.getSignature_asU8());
        checkChannel(r.getChannelId());
        const ccName = r.getChaincodeId();
        const pos = r.getStartPosition();
        const height = o.ledger.height;
        let start: number;
        switch (pos?.getTypeCase() ?? orderer.SeekPosition.TypeCase.TYPE_NOT_SET) {
          case orderer.SeekPosition.TypeCase.SPECIFIED:
            start = pos!.getSpecified()!.getNumber();
            break;
          case orderer.SeekPosition.TypeCase.OLDEST:
            start = 0;
            break;
          case orderer.SeekPosition.TypeCase.NEWEST:
            start = Math.max(0, height - 1);
            break;
          default:
            start = height; // next commit
        }
        let skipUntil = r.getAfterTransactionId();
        for await (const block of o.ledger.blocksFrom(start, abort.signal)) {
          const events: peer.ChaincodeEvent[] = [];
          for (const tx of block.txs) {
            if (skipUntil !== '') {
              if (tx.txId === skipUntil) skipUntil = '';
              continue;
            }
            const e = tx.event;
            if (!e || e.chaincodeName !== ccName) continue;
            const ev = new peer.ChaincodeEvent();
            ev.setChaincodeId(e.chaincodeName);
            ev.setTxId(e.txId);
            ev.setEventName(e.name);
            ev.setPayload(e.payload);
            events.push(ev);
          }
          // The after-transaction id applies to the start block only.
          if (block.blockNum === start) skipUntil = '';
          if (events.length === 0) continue;
          const res = new gateway.ChaincodeEventsResponse();
          res.setEventsList(events);
          res.setBlockNumber(block.blockNum);
          if (!call.write(res)) await new Promise((resolve) => call.once('drain', resolve));
        }
      })().then(
        () => call.end(),
        (e: unknown) => {
          if (!abort.signal.aborted) call.destroy(asServiceError(e));
        },
      );
    },
  };
}

/**
 * Binds the Gateway service, and `more` services (the peer's Deliver service), on `host:port` (port 0 = any free
 * port); returns the server and the bound port.
 */
export async function startGatewayServer(
  impl: grpc.UntypedServiceImplementation,
  host: string,
  port: number,
  more: readonly { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation }[] = [],
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 100 * 1024 * 1024, 'grpc.max_send_message_length': 100 * 1024 * 1024 });
  server.addService(gateway.GatewayService as unknown as grpc.ServiceDefinition, impl);
  for (const s of more) server.addService(s.definition, s.implementation);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port: bound };
}

