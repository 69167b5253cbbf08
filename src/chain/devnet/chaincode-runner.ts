/**
 * Runs a fabric-contract-api chaincode in-process, the way a Fabric peer's endorser does: the real fabric-shim
 * `ChaincodeStub` and `ChaincodeFromContract` (so ClientIdentity, argument marshalling, events and error responses
 * are Fabric's own), with this module standing in for the peer side of the chaincode protocol (the shim "handler").
 *
 * A simulation reads committed state only (like Fabric's transaction simulator, a transaction does not see its own
 * writes), records the version of every key read and every range scanned, and collects the writes. Fabric's rules
 * are enforced: no private data, no rich queries (LevelDB), no chaincode-to-chaincode calls, and paginated queries
 * only in read-only transactions.
 */
import './shim-logging.js';
import './shim-certificates.js';
import { ledger, peer } from '@hyperledger/fabric-protos';
import ChaincodeFromContract from 'fabric-shim/lib/contract-spi/chaincodefromcontract.js';
import iterators from 'fabric-shim/lib/iterators.js';
import ChaincodeStub from 'fabric-shim/lib/stub.js';
import JSONSerializer from 'fabric-contract-api/lib/jsontransactionserializer.js';
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js';
import { CodedError } from '../../errors.js';
import { compareKeys } from './world-state.js';
import type { KeyRead, KeyWrite, NamespaceRwSet, RangeRead, WorldState } from './world-state.js';

const { Timestamp } = timestampPb; // a CommonJS module without named ESM exports

const { StateQueryIterator, HistoryQueryIterator } = iterators;
type ShimStub = InstanceType<typeof ChaincodeStub>;
type ContractClass = abstract new (...args: never[]) => unknown;

export type RunnerErrorCode = 'UNSUPPORTED' | 'INVALID_KEY' | 'INVALID_ARGUMENT';
export class RunnerError extends CodedError<RunnerErrorCode> {
  override readonly name = 'RunnerError';
}

export interface ChaincodeEventData {
  readonly name: string;
  readonly payload: Uint8Array;
}

export interface SimulationResult {
  /** the chaincode's response: status 200 with payload, or ≥ 400 with message */
  readonly status: number;
  readonly message: string;
  readonly payload: Uint8Array;
  readonly rwset: NamespaceRwSet;
  readonly event?: ChaincodeEventData;
}

export interface SimulationInput {
  readonly channelId: string;
  readonly txId: string;
  readonly input: peer.ChaincodeInput;
  readonly signedProposal: peer.SignedProposal;
}

/** Results handed to the shim per round trip, as a peer does (core.yaml totalQueryLimit batches of 100). */
const QUERY_BATCH = 100;

const EMPTY = Buffer.alloc(0);

/** One transaction's simulation: the shim handler plus the read/write set it records. */
class Simulation {
  private readonly reads = new Map<string, KeyRead>();
  private readonly writes = new Map<string, KeyWrite>();
  private readonly rangeQueries: RangeRead[] = [];
  private readonly openQueries = new Map<string, { next: () => peer.QueryResponse }>();
  private queryCounter = 0;
  private paginated = false;

  constructor(
    private readonly state: WorldState,
    private readonly namespace: string,
  ) {}

  rwset(): NamespaceRwSet {
    const byKey = <T extends { key: string }>(m: Map<string, T>): T[] => [...m.values()].sort((a, b) => compareKeys(a.key, b.key));
    return { namespace: this.namespace, reads: byKey(this.reads), rangeQueries: this.rangeQueries, writes: byKey(this.writes) };
  }

  private publicOnly(collection: string, what: string): void {
    if (collection !== '') throw new RunnerError('UNSUPPORTED', `${what}: private data collections are not supported by the dev network`);
  }

  private read(key: string): Buffer {
    const entry = this.state.get(this.namespace, key);
    if (!this.reads.has(key)) this.reads.set(key, entry ? { key, version: entry.version } : { key });
    return entry ? Buffer.from(entry.value) : EMPTY;
  }

  private write(key: string, w: KeyWrite): void {
    if (this.paginated) throw new RunnerError('UNSUPPORTED', 'paginated queries are supported only in read-only transactions');
    if (key === '') throw new RunnerError('INVALID_KEY', 'key must not be empty');
    this.writes.set(key, w);
  }

  // ---- the shim handler interface (method names and arguments as in fabric-shim/lib/handler.js) ----

  async handleGetState(collection: string, key: string): Promise<Buffer> {
    this.publicOnly(collection, 'getState');
    return this.read(key);
  }

  async handlePutState(collection: string, key: string, value: Uint8Array): Promise<void> {
    this.publicOnly(collection, 'putState');
    this.write(key, { key, isDelete: false, value: Uint8Array.from(value) });
  }

  async handleDeleteState(collection: string, key: string): Promise<void> {
    this.publicOnly(collection, 'deleteState');
    this.write(key, { key, isDelete: true, value: new Uint8Array(0) });
  }

  async handleGetStateByRange(
    collection: string,
    startKey: string,
    endKey: string,
    channelId: string,
    txId: string,
    metadata?: Uint8Array,
  ): Promise<{ iterator: unknown; metadata?: { bookmark: string; fetchedRecordsCount: number } }> {
    this.publicOnly(collection, 'getStateByRange');
    if (metadata) return this.paginatedRange(startKey, endKey, channelId, txId, peer.QueryMetadata.deserializeBinary(metadata));
    // A plain range scan: recorded for phantom-read validation, handed out in batches.
    const rq = { startKey, endKey, itrExhausted: false, reads: [] as KeyRead[] };
    this.rangeQueries.push(rq);
    const it = this.state.range(this.namespace, startKey, endKey);
    const id = this.nextQueryId();
    const next = (): peer.QueryResponse => {
      const kvs: ledger.queryresult.KV[] = [];
      let done = false;
      while (kvs.length < QUERY_BATCH) {
        const r = it.next();
        if (r.done) {
          done = true;
          break;
        }
        const [key, entry] = r.value;
        rq.reads.push({ key, version: entry.version });
        kvs.push(this.kv(key, entry.value));
      }
      if (done) rq.itrExhausted = true;
      return this.queryResponse(id, kvs, !done);
    };
    this.openQueries.set(id, { next });
    return { iterator: new StateQueryIterator(this, channelId, txId, next()) };
  }

  private paginatedRange(startKey: string, endKey: string, channelId: string, txId: string, meta: peer.QueryMetadata) {
    if (this.writes.size > 0) throw new RunnerError('UNSUPPORTED', 'paginated queries are supported only in read-only transactions');
    this.paginated = true;
    const pageSize = meta.getPagesize();
    if (!Number.isInteger(pageSize) || pageSize <= 0) throw new RunnerError('INVALID_ARGUMENT', `page size ${pageSize} must be a positive integer`);
    const bookmark = meta.getBookmark();
    let from = startKey;
    if (bookmark !== '') {
      // A bookmark is the key where the next page starts; it must lie inside the queried range.
      if (compareKeys(bookmark, startKey) < 0 || (endKey !== '' && compareKeys(bookmark, endKey) >= 0)) {
        throw new RunnerError('INVALID_ARGUMENT', 'bookmark does not belong to this query');
      }
      from = bookmark;
    }
    const kvs: ledger.queryresult.KV[] = [];
    let nextKey = '';
    for (const [key, entry] of this.state.range(this.namespace, from, endKey)) {
      if (kvs.length === pageSize) {
        nextKey = key;
        break;
      }
      kvs.push(this.kv(key, entry.value));
    }
    const response = this.queryResponse(this.nextQueryId(), kvs, false);
    const rm = new peer.QueryResponseMetadata();
    rm.setFetchedRecordsCount(kvs.length);
    rm.setBookmark(nextKey);
    response.setMetadata(rm.serializeBinary());
    return {
      iterator: new StateQueryIterator(this, channelId, txId, response),
      metadata: { bookmark: nextKey, fetchedRecordsCount: kvs.length },
    };
  }

  async handleQueryStateNext(id: string): Promise<peer.QueryResponse> {
    const q = this.openQueries.get(id);
    if (!q) throw new RunnerError('INVALID_ARGUMENT', `query ${id} is not open`);
    return q.next();
  }

  async handleQueryStateClose(id: string): Promise<peer.QueryResponse> {
    this.openQueries.delete(id);
    return this.queryResponse(id, [], false);
  }

  async handleGetHistoryForKey(key: string, channelId: string, txId: string): Promise<unknown> {
    // Not recorded for validation (Fabric does not re-check history reads either).
    const results = this.state.history(this.namespace, key).map((h) => {
      const km = new ledger.queryresult.KeyModification();
      km.setTxId(h.txId);
      km.setValue(h.value);
      km.setIsDelete(h.isDelete);
      const ts = new Timestamp();
      ts.setSeconds(h.timestamp.seconds);
      ts.setNanos(h.timestamp.nanos);
      km.setTimestamp(ts);
      return this.resultBytes(km.serializeBinary());
    });
    const response = new peer.QueryResponse();
    response.setResultsList(results);
    response.setHasMore(false);
    response.setId(this.nextQueryId());
    return new HistoryQueryIterator(this, channelId, txId, response);
  }

  async handleGetQueryResult(): Promise<never> {
    throw new RunnerError('UNSUPPORTED', 'rich (CouchDB) queries are not supported: the dev network has a LevelDB-style state database');
  }
  async handleGetStateMetadata(collection: string): Promise<Record<string, never>> {
    this.publicOnly(collection, 'getStateMetadata');
    return {};
  }
  async handlePutStateMetadata(): Promise<never> {
    throw new RunnerError('UNSUPPORTED', 'key-level endorsement policies are not supported by the dev network');
  }
  async handleGetPrivateDataHash(): Promise<never> {
    throw new RunnerError('UNSUPPORTED', 'private data collections are not supported by the dev network');
  }
  async handlePurgeState(): Promise<never> {
    throw new RunnerError('UNSUPPORTED', 'private data collections are not supported by the dev network');
  }
  async handleInvokeChaincode(): Promise<never> {
    throw new RunnerError('UNSUPPORTED', 'chaincode-to-chaincode invocation is not supported by the dev network');
  }

  // ---- helpers ----

  private nextQueryId(): string {
    return String(++this.queryCounter);
  }

  private kv(key: string, value: Uint8Array): ledger.queryresult.KV {
    const kv = new ledger.queryresult.KV();
    kv.setNamespace(this.namespace);
    kv.setKey(key);
    kv.setValue(value);
    return kv;
  }

  private resultBytes(bytes: Uint8Array): peer.QueryResultBytes {
    const r = new peer.QueryResultBytes();
    r.setResultbytes(bytes);
    return r;
  }

  private queryResponse(id: string, kvs: ledger.queryresult.KV[], hasMore: boolean): peer.QueryResponse {
    const response = new peer.QueryResponse();
    response.setResultsList(kvs.map((kv) => this.resultBytes(kv.serializeBinary())));
    response.setHasMore(hasMore);
    response.setId(id);
    return response;
  }
}

/** A chaincode (one or more contract classes) installed under `name`, ready to simulate proposals. */
export class ChaincodeRunner {
  private readonly chaincode: InstanceType<typeof ChaincodeFromContract>;

  constructor(
    readonly name: string,
    contracts: readonly ContractClass[],
    version = '1.0',
  ) {
    // ChaincodeFromContract appends its system contract to the array it is given: hand it a copy.
    this.chaincode = new ChaincodeFromContract([...contracts], { transaction: 'jsonSerializer', serializers: { jsonSerializer: JSONSerializer } }, {}, name, version);
  }

  /** Executes the proposal against committed `state`; nothing is written to the state. */
  async simulate(state: WorldState, { channelId, txId, input, signedProposal }: SimulationInput): Promise<SimulationResult> {
    const sim = new Simulation(state, this.name);
    let stub: ShimStub;
    try {
      stub = new ChaincodeStub(sim, channelId, txId, input, signedProposal);
    } catch (e) {
      throw new RunnerError('INVALID_ARGUMENT', `proposal cannot be read by the chaincode shim: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const response = await this.chaincode.Invoke(stub);
    const ev = stub.chaincodeEvent;
    const event = ev && ev.getEventName() !== '' ? { name: ev.getEventName(), payload: Uint8Array.from(ev.getPayload_asU8()) } : undefined;
    return {
      status: response.status,
      message: response.message ?? '',
      payload: response.payload ? Uint8Array.from(response.payload) : new Uint8Array(0),
      rwset: sim.rwset(),
      ...(event ? { event } : {}),
    };
  }
}
