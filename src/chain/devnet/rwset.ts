/**
 * Read/write sets in Fabric's wire format (rwset.TxReadWriteSet with KV data model, one kvrwset.KVRWSet per
 * chaincode namespace), as they travel in ChaincodeAction.results inside every endorsed transaction. The committer
 * decodes them again from the block, so world state can always be rebuilt from the chain.
 */
import { ledger } from '@hyperledger/fabric-protos';
import { CodedError } from '../../errors.js';
import type { KeyRead, KeyWrite, NamespaceRwSet, RangeRead, Version } from './world-state.js';

const { TxReadWriteSet, NsReadWriteSet } = ledger.rwset;
const { KVRWSet, KVRead, KVWrite, RangeQueryInfo, QueryReads, Version: VersionPb } = ledger.rwset.kvrwset;

export class RwSetError extends CodedError<'MALFORMED'> {
  override readonly name = 'RwSetError';
}

function versionPb(v: Version | undefined): InstanceType<typeof VersionPb> | undefined {
  if (!v) return undefined;
  const pb = new VersionPb();
  pb.setBlockNum(v.blockNum);
  pb.setTxNum(v.txNum);
  return pb;
}

function readPb(r: KeyRead): InstanceType<typeof KVRead> {
  const pb = new KVRead();
  pb.setKey(r.key);
  const v = versionPb(r.version);
  if (v) pb.setVersion(v);
  return pb;
}

export function encodeRwSets(sets: readonly NamespaceRwSet[]): Uint8Array {
  const tx = new TxReadWriteSet();
  tx.setDataModel(TxReadWriteSet.DataModel.KV);
  tx.setNsRwsetList(
    sets.map((s) => {
      const kv = new KVRWSet();
      kv.setReadsList(s.reads.map(readPb));
      kv.setRangeQueriesInfoList(
        s.rangeQueries.map((rq) => {
          const info = new RangeQueryInfo();
          info.setStartKey(rq.startKey);
          info.setEndKey(rq.endKey);
          info.setItrExhausted(rq.itrExhausted);
          const reads = new QueryReads();
          reads.setKvReadsList(rq.reads.map(readPb));
          info.setRawReads(reads);
          return info;
        }),
      );
      kv.setWritesList(
        s.writes.map((w) => {
          const pb = new KVWrite();
          pb.setKey(w.key);
          pb.setIsDelete(w.isDelete);
          pb.setValue(w.value);
          return pb;
        }),
      );
      const ns = new NsReadWriteSet();
      ns.setNamespace(s.namespace);
      ns.setRwset(kv.serializeBinary());
      return ns;
    }),
  );
  return tx.serializeBinary();
}

const readOf = (pb: InstanceType<typeof KVRead>): KeyRead => {
  const v = pb.getVersion();
  return v ? { key: pb.getKey(), version: { blockNum: v.getBlockNum(), txNum: v.getTxNum() } } : { key: pb.getKey() };
};

export function decodeRwSets(bytes: Uint8Array): NamespaceRwSet[] {
  try {
    const tx = TxReadWriteSet.deserializeBinary(bytes);
    if (tx.getDataModel() !== TxReadWriteSet.DataModel.KV) throw new Error(`data model ${tx.getDataModel()} is not KV`);
    return tx.getNsRwsetList().map((ns) => {
      const kv = KVRWSet.deserializeBinary(ns.getRwset_asU8());
      const rangeQueries: RangeRead[] = kv.getRangeQueriesInfoList().map((info) => ({
        startKey: info.getStartKey(),
        endKey: info.getEndKey(),
        itrExhausted: info.getItrExhausted(),
        reads: info.getRawReads()?.getKvReadsList().map(readOf) ?? [],
      }));
      const writes: KeyWrite[] = kv.getWritesList().map((w) => ({ key: w.getKey(), isDelete: w.getIsDelete(), value: w.getValue_asU8() }));
      return { namespace: ns.getNamespace(), reads: kv.getReadsList().map(readOf), rangeQueries, writes };
    });
  } catch (e) {
    throw new RwSetError('MALFORMED', `transaction read/write set cannot be decoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
