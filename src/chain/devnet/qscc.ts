/**
 * Fabric's query system chaincode (`qscc`) over the dev network's ledger, so that clients read chain information
 * the way they do from a Fabric peer: an Evaluate of chaincode "qscc" with the arguments
 *
 *   GetChainInfo(channelId)                → common.BlockchainInfo (height, currentBlockHash, previousBlockHash)
 *   GetBlockByNumber(channelId, number)    → common.Block (number in decimal; 2^64-1 means the newest block)
 *   GetBlockByTxID(channelId, txId)        → common.Block holding the transaction
 *   GetTransactionByID(channelId, txId)    → peer.ProcessedTransaction (transactionEnvelope, validationCode)
 *
 * all serialized protobuf. As in Fabric (core/scc/qscc/query.go), the first argument is the function, the second
 * the channel, and every failure is a chaincode error with status 500 and Fabric's own message ("Failed to get block
 * for txID …, error no such transaction ID […] in index"), which is what a client sees from a real peer and maps on
 * (src/chain/client.ts). Invalid transactions are indexed too: a transaction id finds its block whatever its
 * validation code; a duplicate id finds the first occurrence.
 *
 * GetBlockByHash is not offered (the dev network keeps no hash index). Access is as Fabric's default ACL
 * (/Channel/Application/Readers): any member of the channel's organisations, which the gateway service has checked
 * before calling this.
 */
import { common, peer } from '@hyperledger/fabric-protos';
import { blockEnvelopes, transactionsFilter } from './blocks.js';
import type { Ledger } from './ledger.js';

/** The system chaincode's name, as clients address it. */
export const QSCC = 'qscc';

/** A chaincode response: status 200 with the payload, or ≥ 400 with the message. */
export interface SystemChaincodeResponse {
  readonly status: number;
  readonly message: string;
  readonly payload: Uint8Array;
}

const UINT64_MAX = (1n << 64n) - 1n;
const EMPTY = new Uint8Array(0);

const success = (payload: Uint8Array): SystemChaincodeResponse => ({ status: 200, message: '', payload });
/** shim.Error: status 500 with the message (Fabric's qscc answers every failure this way). */
const failure = (message: string): SystemChaincodeResponse => ({ status: 500, message, payload: EMPTY });

const utf8 = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Runs one qscc function for an evaluated proposal's arguments (function name first). */
export async function invokeQscc(ledger: Ledger, args: readonly Uint8Array[]): Promise<SystemChaincodeResponse> {
  if (args.length < 2) return failure(`Incorrect number of arguments, ${args.length}`);
  const fn = utf8(args[0]!);
  const channelId = utf8(args[1]!);
  if (fn !== 'GetChainInfo' && args.length < 3) return failure(`missing 3rd argument for ${fn}`);
  if (channelId !== ledger.channelId) return failure(`Invalid chain ID, ${channelId}`);
  const arg = args[2] === undefined ? '' : utf8(args[2]);
  try {
    switch (fn) {
      case 'GetChainInfo':
        return success(await chainInfo(ledger));
      case 'GetBlockByNumber':
        return await blockByNumber(ledger, arg);
      case 'GetBlockByTxID':
        return await blockByTxId(ledger, arg);
      case 'GetTransactionByID':
        return await transactionById(ledger, arg);
      case 'GetBlockByHash':
        return failure('GetBlockByHash is not supported by the dev network (no block hash index); use GetBlockByNumber or GetBlockByTxID');
      default:
        return failure(`Requested function ${fn} not found.`);
    }
  } catch (e) {
    // a block that cannot be read (I/O, a closed ledger): the peer's own failure, reported as Fabric does
    return failure(`${fn} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function chainInfo(ledger: Ledger): Promise<Uint8Array> {
  // Height and tip are read together (no await between), so they describe the same block.
  const height = ledger.height;
  const current = ledger.tipHash;
  const info = new common.BlockchainInfo();
  info.setHeight(height);
  info.setCurrentblockhash(current);
  if (height > 0) info.setPreviousblockhash((await ledger.block(height - 1)).getHeader()!.getPreviousHash_asU8());
  return info.serializeBinary();
}

async function blockByNumber(ledger: Ledger, text: string): Promise<SystemChaincodeResponse> {
  // strconv.ParseUint(text, 10, 64)
  if (!/^[0-9]+$/.test(text)) return failure(`Failed to parse block number with error strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  let n = BigInt(text);
  if (n > UINT64_MAX) return failure(`Failed to parse block number with error strconv.ParseUint: parsing ${JSON.stringify(text)}: value out of range`);
  const height = ledger.height;
  if (n === UINT64_MAX && height > 0) n = BigInt(height - 1); // Fabric's block store: MaxUint64 is the newest block
  if (n >= BigInt(height)) return failure(`Failed to get block number ${n}, error no such block number [${n}] in index`);
  return success(await ledger.blockBytes(Number(n)));
}

async function blockByTxId(ledger: Ledger, txId: string): Promise<SystemChaincodeResponse> {
  const status = ledger.txStatus(txId);
  if (status === undefined) return failure(`Failed to get block for txID ${txId}, error no such transaction ID [${txId}] in index`);
  return success(await ledger.blockBytes(status.blockNum));
}

async function transactionById(ledger: Ledger, txId: string): Promise<SystemChaincodeResponse> {
  const notFound = failure(`Failed to get transaction with id ${txId}, error no such transaction ID [${txId}] in index`);
  const status = ledger.txStatus(txId);
  if (status === undefined) return notFound;
  const block = await ledger.block(status.blockNum);
  const filter = transactionsFilter(block);
  const envelopes = blockEnvelopes(block);
  for (let i = 0; i < envelopes.length; i++) {
    const envelope = common.Envelope.deserializeBinary(envelopes[i]!);
    if (envelopeTxId(envelope) !== txId) continue;
    const processed = new peer.ProcessedTransaction();
    processed.setTransactionenvelope(envelope);
    processed.setValidationcode(filter[i] ?? status.code);
    return success(processed.serializeBinary());
  }
  return notFound; // the index and the block disagree: not reachable with a consistent ledger
}

/** The channel header's transaction id of an envelope ('' when it has none or does not decode). */
function envelopeTxId(envelope: common.Envelope): string {
  try {
    const header = common.Payload.deserializeBinary(envelope.getPayload_asU8()).getHeader();
    return header ? common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8()).getTxId() : '';
  } catch {
    return '';
  }
}
