/**
 * What the node's read model learns from each full block of the peer's Deliver stream: the writes of the PIE
 * chaincode's namespace (`stateWrites`), and of those the EMR records (`recordWrites`). Only transactions the
 * committer marked VALID count (TRANSACTIONS_FILTER), only endorser transactions, and only the chaincode's namespace
 * of their write sets; everything else in a block (configuration transactions, other chaincodes, invalid
 * transactions, which Fabric keeps in the block) is skipped.
 *
 * A record's primary key is the composite key `\0pie.emr\0<id>\0` (chaincode/src/ledger.ts), its value the canonical
 * JSON the contract wrote; it is parsed with the contract's own parser, so the index holds exactly what the
 * chaincode's reads return. A value that does not parse in a VALID transaction means the index cannot be trusted:
 * that is an error, never a skipped record.
 */
import { common, ledger, peer } from '@hyperledger/fabric-protos';
import { OBJECT_TYPES, parseEmrRecord } from '../../chaincode/src/domain/index.js';
import type { EmrRecord } from '../../chaincode/src/domain/index.js';
import { CodedError } from '../errors.js';

export class BlockReadError extends CodedError<'MALFORMED_BLOCK' | 'BAD_RECORD'> {
  override readonly name = 'BlockReadError';
}

/** One write of a record's primary key: the record as stored, or its deletion. */
export interface RecordWrite {
  readonly id: string;
  /** undefined: the key was deleted */
  readonly record: EmrRecord | undefined;
  readonly txId: string;
}

/** The single attribute of a primary key `\0<type>\0<id>\0`, or undefined for a key of another type or shape. */
export function primaryKeyId(key: string, type: string): string | undefined {
  const prefix = `\u0000${type}\u0000`;
  if (!key.startsWith(prefix) || !key.endsWith('\u0000')) return undefined;
  const id = key.slice(prefix.length, -1);
  return id === '' || id.includes('\u0000') ? undefined : id;
}

/** The record id of a primary key `\0pie.emr\0<id>\0`, or undefined for any other key (indexes, heads, roots, …). */
export const recordIdOfKey = (key: string): string | undefined => primaryKeyId(key, OBJECT_TYPES.record);

function decode<T>(what: string, blockNumber: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new BlockReadError('MALFORMED_BLOCK', `block ${blockNumber}: ${what} cannot be decoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** The block's number (its header's). */
export function blockNumberOf(block: common.Block): bigint {
  const header = block.getHeader();
  if (header === undefined) throw new BlockReadError('MALFORMED_BLOCK', 'a block without a header');
  return BigInt(header.getNumber());
}

/** One write of the chaincode's world state: a key and the value written, or its deletion. */
export interface StateWrite {
  readonly key: string;
  /** undefined: the key was deleted */
  readonly value: Uint8Array | undefined;
  readonly txId: string;
}

/** Every write of the VALID transactions of `namespace` in the block, in block order. */
export function stateWrites(block: common.Block, namespace: string): StateWrite[] {
  const n = Number(blockNumberOf(block));
  const envelopes = block.getData()?.getDataList_asU8() ?? [];
  const codes = block.getMetadata()?.getMetadataList_asU8()[common.BlockMetadataIndex.TRANSACTIONS_FILTER] ?? new Uint8Array(0);
  if (codes.length !== envelopes.length) {
    throw new BlockReadError('MALFORMED_BLOCK', `block ${n}: ${codes.length} validation codes for ${envelopes.length} transactions`);
  }
  const writes: StateWrite[] = [];
  envelopes.forEach((bytes, i) => {
    if (codes[i] !== peer.TxValidationCode.VALID) return;
    const envelope = decode(`transaction ${i}`, n, () => common.Envelope.deserializeBinary(bytes));
    const payload = decode(`transaction ${i} payload`, n, () => common.Payload.deserializeBinary(envelope.getPayload_asU8()));
    const channelHeader = decode(`transaction ${i} channel header`, n, () => common.ChannelHeader.deserializeBinary(payload.getHeader()?.getChannelHeader_asU8() ?? new Uint8Array(0)));
    if (channelHeader.getType() !== common.HeaderType.ENDORSER_TRANSACTION) return;
    const txId = channelHeader.getTxId();
    const tx = decode(`transaction ${txId}`, n, () => peer.Transaction.deserializeBinary(payload.getData_asU8()));
    for (const action of tx.getActionsList()) {
      for (const kv of namespaceWrites(action, namespace, `transaction ${txId}`, n)) {
        writes.push({ key: kv.getKey(), value: kv.getIsDelete() ? undefined : kv.getValue_asU8(), txId });
      }
    }
  });
  return writes;
}

/** The record writes among a block's state writes (`stateWrites(block)`), in block order. */
export function recordWritesOf(writes: readonly StateWrite[], blockNumber: bigint): RecordWrite[] {
  const out: RecordWrite[] = [];
  for (const w of writes) {
    const id = recordIdOfKey(w.key);
    if (id === undefined) continue;
    out.push({ id, record: w.value === undefined ? undefined : storedObject(w, blockNumber, id, parseEmrRecord, 'record'), txId: w.txId });
  }
  return out;
}

/** Every record write of the VALID transactions of `namespace` in the block, in block order. */
export function recordWrites(block: common.Block, namespace: string): RecordWrite[] {
  return recordWritesOf(stateWrites(block, namespace), blockNumberOf(block));
}

/** The writes of one namespace in a transaction action's read/write set. */
function namespaceWrites(action: peer.TransactionAction, namespace: string, what: string, n: number): ledger.rwset.kvrwset.KVWrite[] {
  const cap = decode(`${what} chaincode action payload`, n, () => peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8()));
  const prp = decode(`${what} proposal response payload`, n, () =>
    peer.ProposalResponsePayload.deserializeBinary(cap.getAction()?.getProposalResponsePayload_asU8() ?? new Uint8Array(0)),
  );
  const chaincodeAction = decode(`${what} chaincode action`, n, () => peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8()));
  const rwset = decode(`${what} read/write set`, n, () => ledger.rwset.TxReadWriteSet.deserializeBinary(chaincodeAction.getResults_asU8()));
  const out: ledger.rwset.kvrwset.KVWrite[] = [];
  for (const ns of rwset.getNsRwsetList()) {
    if (ns.getNamespace() !== namespace) continue;
    const kv = decode(`${what} write set of ${namespace}`, n, () => ledger.rwset.kvrwset.KVRWSet.deserializeBinary(ns.getRwset_asU8()));
    out.push(...kv.getWritesList());
  }
  return out;
}

/**
 * The object a write stored under `id` (`w.value`), parsed as the chaincode's reads parse it (JSON, then `parse`, the
 * contract's parser); BlockReadError when it does not parse or carries another id.
 */
export function storedObject<T extends { id: string }>(w: StateWrite, blockNumber: bigint, id: string, parse: (input: unknown) => T, noun: string): T {
  const at = `block ${blockNumber}, transaction ${w.txId}`;
  let o: T;
  try {
    o = parse(JSON.parse(Buffer.from(w.value ?? new Uint8Array(0)).toString('utf8')));
  } catch (e) {
    throw new BlockReadError('BAD_RECORD', `${at}: the ${noun} stored under ${id} does not parse: ${(e as Error).message}`, { cause: e });
  }
  if (o.id !== id) throw new BlockReadError('BAD_RECORD', `${at}: the ${noun} stored under ${id} has id ${o.id}`);
  return o;
}
