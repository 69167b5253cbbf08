/**
 * Replication between the storage nodes of a consortium (issue #4, "several nodes").
 *
 * Each hospital runs one storage node. Nodes talk over libp2p (loopback TCP in this project, explicit peer
 * addresses, no discovery) and move blocks with bitswap. On top of that, this module adds a tiny request/response
 * protocol, {@link REPLICATION_PROTOCOL}, with two requests:
 *
 * - `pin {cid}`: "please keep a copy of this DAG". The receiver fetches every missing block over bitswap from its
 *   connected peers (the requester holds them all), pins the DAG recursively, then reads the whole file back through
 *   its verifying blockstore (every block checked against its CID) and answers ok or an error code.
 * - `status {cids}`: "which of these do you hold?". The receiver answers, for each CID, whether it is pinned and
 *   whether every block of the DAG is local. It never touches the network to answer.
 *
 * The replication rule: content is pinned by its author and by at least `replicas` other consortium nodes (default
 * 1), so losing any one node loses no EMR. {@link Replicator.replicate} enforces it for one CID; {@link
 * Replicator.check} reports the copies of many CIDs and flags the under-replicated ones.
 *
 * Wire format: one request and one response per libp2p stream, each an unsigned-varint length-prefixed UTF-8 JSON
 * object of at most {@link MAX_MESSAGE_BYTES} bytes. Requests: `{"v":1,"type":"pin","cid":"bafy…","timeoutMs":n?}`,
 * `{"v":1,"type":"status","cids":["bafy…",…]}` (1 to {@link MAX_STATUS_CIDS} CIDs). Responses:
 * `{"v":1,"ok":true,"type":"pin","cid":"…","size":n}`, `{"v":1,"ok":true,"type":"status","entries":[{"cid":"…",
 * "pinned":b,"complete":b},…]}` (same CIDs, same order), or `{"v":1,"ok":false,"code":"…","message":"…"}` with a
 * {@link RemoteErrorCode}. Unknown keys, wrong types, bad CIDs, invalid UTF-8/JSON and oversize frames are refused
 * with BAD_REQUEST (by the server) or PROTOCOL (by the client); nothing a peer sends can crash the node.
 *
 * Authorisation: a node serves only peers whose peer id is in its consortium list (the `peers` option). The peer id
 * is the one authenticated by the libp2p noise handshake. Anyone else gets a FORBIDDEN response before anything they
 * send is read, and the stream is closed.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { parseCid } from './blob-store.js';
import { StorageError, toStorageError, type StorageErrorCode } from './errors.js';
import type { BlobStore, CidInput } from './types.js';

/** The libp2p protocol id of the consortium storage protocol. */
export const REPLICATION_PROTOCOL = '/pie/storage/1.0.0';
/** Largest frame (request or response body) either side accepts. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Most CIDs in one status request; {@link Replicator.check} splits longer lists. */
export const MAX_STATUS_CIDS = 1000;
/** Longest CID string accepted on the wire. */
const MAX_CID_CHARS = 200;
/** Longest error message sent on the wire (longer ones are cut). */
const MAX_ERROR_MESSAGE_CHARS = 500;
const PROTOCOL_VERSION = 1;
/** Codecs of a UnixFS DAG, and the only hash whose blocks the verifying blockstore checks. */
const DAG_PB = 0x70;
const RAW = 0x55;
const SHA2_256 = 0x12;

/** Error codes a node answers with. */
export type RemoteErrorCode =
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'BUSY'
  | 'TIMEOUT'
  | 'NOT_FOUND'
  | 'CORRUPT'
  | 'TOO_LARGE'
  | 'NO_SPACE'
  | 'IO'
  | 'ABORTED'
  | 'CLOSED'
  | 'INTERNAL';
const REMOTE_ERROR_CODES: ReadonlySet<string> = new Set<RemoteErrorCode>([
  'FORBIDDEN', 'BAD_REQUEST', 'BUSY', 'TIMEOUT', 'NOT_FOUND', 'CORRUPT', 'TOO_LARGE', 'NO_SPACE', 'IO', 'ABORTED',
  'CLOSED', 'INTERNAL',
]);

export type ReplicationRequest =
  | { readonly v: 1; readonly type: 'pin'; readonly cid: string; readonly timeoutMs?: number }
  | { readonly v: 1; readonly type: 'status'; readonly cids: readonly string[] };

export interface StatusEntry {
  readonly cid: string;
  readonly pinned: boolean;
  readonly complete: boolean;
}

export type ReplicationResponse =
  | { readonly v: 1; readonly ok: true; readonly type: 'pin'; readonly cid: string; readonly size: number }
  | { readonly v: 1; readonly ok: true; readonly type: 'status'; readonly entries: readonly StatusEntry[] }
  | { readonly v: 1; readonly ok: false; readonly code: RemoteErrorCode; readonly message: string };

/** What the replicator needs of a storage node (a `StorageNode` from ./node.js satisfies it). */
export interface ReplicaNode {
  readonly helia: { readonly libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol'> };
  readonly blobs: BlobStore;
}

export interface ConsortiumPeer {
  /** the member's libp2p peer id (base58btc `12D3Koo…` or CID form) */
  readonly peerId: string;
  /** where to reach it, e.g. `/ip4/127.0.0.1/tcp/4101` (a trailing `/p2p/<peerId>` is optional but must match) */
  readonly multiaddr: string;
}

export interface ReplicatorOptions {
  /**
   * The other consortium members. It is both the allow-list of the protocol (only these peer ids are served) and
   * the set of nodes asked to hold copies. The node's own peer id must not be in it.
   */
  readonly peers: readonly ConsortiumPeer[];
  /** copies required besides the author's (default 1; at most `peers.length`) */
  readonly replicas?: number;
  /** limit for a dial plus a status request/response, and for reading an incoming request (default 10 s) */
  readonly requestTimeoutMs?: number;
  /** how long a peer may take to fetch, pin and verify a DAG we ask it to pin (default 120 s) */
  readonly pinTimeoutMs?: number;
  /** cap on the time this node spends serving one incoming pin request (default 600 s) */
  readonly maxServePinTimeoutMs?: number;
  /** incoming pin requests served at once; more get BUSY (default 4) */
  readonly maxConcurrentPins?: number;
  /**
   * Refuse (TOO_LARGE) incoming pin requests for files larger than this many bytes, judged from the root node's
   * declared size before any other block is fetched (default: no limit).
   */
  readonly maxPinBytes?: number;
  /**
   * After pinning a DAG for a peer, read the whole file back through the verifying blockstore so that every block
   * (including any that were already local) is checked against its CID before answering ok (default true).
   */
  readonly verifyPins?: boolean;
}

export interface PeerFailure {
  readonly peerId: string;
  readonly code: StorageErrorCode;
  readonly message: string;
}

export interface ReplicateResult {
  readonly cid: string;
  /** consortium peers (not this node) that hold a pinned, complete copy: `replicas` or more */
  readonly pinnedBy: readonly string[];
  /** peers that failed a status or pin request along the way (replication still succeeded) */
  readonly failures: readonly PeerFailure[];
}

export interface ReplicaStatus {
  readonly cid: string;
  /** nodes (this one included) holding a pinned, complete copy */
  readonly copies: number;
  /** their peer ids */
  readonly holders: readonly string[];
  /** copies required: 1 (the author) + replicas */
  readonly required: number;
  /** copies < required */
  readonly underReplicated: boolean;
}

export interface CheckResult {
  readonly entries: readonly ReplicaStatus[];
  /** peers that could not be asked (their copies are not counted) */
  readonly unreachable: readonly PeerFailure[];
}

interface Member {
  readonly peerId: string;
  readonly addr: Multiaddr;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Runs the consortium storage protocol on one node: serves peers and asks them for copies. */
export class Replicator {
  readonly replicas: number;
  private readonly members: readonly Member[];
  private readonly allowed: ReadonlySet<string>;
  private readonly self: string;
  private readonly requestTimeoutMs: number;
  private readonly pinTimeoutMs: number;
  private readonly maxServePinTimeoutMs: number;
  private readonly maxConcurrentPins: number;
  private readonly maxPinBytes: number | undefined;
  private readonly verifyPins: boolean;
  private readonly stopController = new AbortController();
  /** incoming pin jobs by CID string: a second request for the same CID joins the first */
  private readonly pinJobs = new Map<string, Promise<number>>();
  /** every running handler and outgoing request, awaited by stop() */
  private readonly inflight = new Set<Promise<unknown>>();
  private state: 'new' | 'started' | 'stopped' = 'new';
  private starting: Promise<void> | undefined;

  constructor(
    private readonly node: ReplicaNode,
    options: ReplicatorOptions,
  ) {
    if (node?.helia?.libp2p == null) throw invalid('replication needs a networked storage node (openStorageNode with `network`)');
    this.self = node.helia.libp2p.peerId.toString();
    if (!Array.isArray(options?.peers)) throw invalid('options.peers must be an array of { peerId, multiaddr }');
    const members: Member[] = [];
    const seen = new Set<string>();
    for (const [i, p] of options.peers.entries()) {
      const m = parseMember(p, i);
      if (m.peerId === this.self) throw invalid(`options.peers[${i}] is this node itself (${m.peerId})`);
      if (seen.has(m.peerId)) throw invalid(`options.peers[${i}]: peer ${m.peerId} is listed twice`);
      seen.add(m.peerId);
      members.push(m);
    }
    this.members = members;
    this.allowed = seen;
    this.replicas = intOption(options.replicas, 'replicas', 1, 0, 1024);
    if (this.replicas > members.length) {
      throw invalid(`options.replicas is ${this.replicas} but only ${members.length} peers are configured`);
    }
    this.requestTimeoutMs = intOption(options.requestTimeoutMs, 'requestTimeoutMs', 10_000, 1, 3_600_000);
    this.pinTimeoutMs = intOption(options.pinTimeoutMs, 'pinTimeoutMs', 120_000, 1, 86_400_000);
    this.maxServePinTimeoutMs = intOption(options.maxServePinTimeoutMs, 'maxServePinTimeoutMs', 600_000, 1, 86_400_000);
    this.maxConcurrentPins = intOption(options.maxConcurrentPins, 'maxConcurrentPins', 4, 1, 1024);
    this.maxPinBytes = options.maxPinBytes === undefined ? undefined : intOption(options.maxPinBytes, 'maxPinBytes', 0, 0, Number.MAX_SAFE_INTEGER);
    this.verifyPins = options.verifyPins ?? true;
  }

  /** This node's peer id. */
  get peerId(): string {
    return this.self;
  }

  /** Registers the protocol handler: from now on, consortium members can ask this node to pin and for status. */
  async start(): Promise<void> {
    if (this.state === 'stopped') throw new StorageError('CLOSED', 'replicator is stopped');
    this.starting ??= (async () => {
      await this.node.helia.libp2p.handle(
        REPLICATION_PROTOCOL,
        (stream, connection) => {
          this.track(this.serve(stream, connection));
        },
        { maxInboundStreams: 32, maxOutboundStreams: 64 },
      );
      if (this.state === 'new') this.state = 'started';
      else await this.node.helia.libp2p.unhandle(REPLICATION_PROTOCOL).catch(() => undefined); // stopped meanwhile
    })();
    try {
      await this.starting;
    } catch (e) {
      this.starting = undefined;
      throw toStorageError(e, { op: `register ${REPLICATION_PROTOCOL}` });
    }
  }

  /**
   * Unregisters the handler, aborts incoming jobs and outgoing requests (they fail with CLOSED) and waits for them
   * to settle. Does not stop the node.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasStarted = this.state === 'started';
    this.state = 'stopped';
    this.stopController.abort(new StorageError('CLOSED', 'replicator stopped'));
    if (wasStarted) {
      try {
        await this.node.helia.libp2p.unhandle(REPLICATION_PROTOCOL);
      } catch {
        // the node is stopping or stopped: nothing is registered any more
      }
    }
    await Promise.allSettled([...this.inflight]);
  }

  /**
   * Applies the replication rule to one CID this node holds: asks the consortium which peers already hold it, then
   * asks others to pin it until `replicas` peers hold a verified, pinned copy. Peers are tried in configured order,
   * `replicas - holders` at a time; a failed one is replaced by the next candidate.
   *
   * Throws StorageError INVALID_CID (bad CID), NOT_FOUND (this node does not hold a pinned, complete copy to serve),
   * UNDER_REPLICATED (fewer than `replicas` peers could be made to hold it; the message lists each peer's failure,
   * `cause` is an AggregateError of them), ABORTED (options.signal) or CLOSED (replicator stopped).
   */
  async replicate(cidInput: CidInput, options: { signal?: AbortSignal } = {}): Promise<ReplicateResult> {
    this.assertUsable();
    const cid = parseCid(cidInput);
    const key = cid.toString();
    return this.op(`replicate ${key}`, options.signal, async () => {
      const local = await this.localStatus([key], this.localSignal(1, options.signal));
      if (!local[0]!.pinned || !local[0]!.complete) {
        throw new StorageError('NOT_FOUND', `${key} is not pinned and complete on this node: nothing to replicate`);
      }
      const failures: PeerFailure[] = [];
      const holders: string[] = [];
      const candidates: Member[] = [];
      const unknown: Member[] = [];
      const statuses = await Promise.all(
        this.members.map(async (m) => {
          try {
            return { m, entry: (await this.statusOf(m, [key], options.signal))[0]! };
          } catch (e) {
            this.rethrowIfOurs(e, options.signal);
            failures.push(failureOf(m.peerId, e));
            return { m, entry: undefined };
          }
        }),
      );
      for (const { m, entry } of statuses) {
        if (entry === undefined) unknown.push(m);
        else if (entry.pinned && entry.complete) holders.push(m.peerId);
        else candidates.push(m);
      }
      // peers whose status failed are probably down: try them only when the reachable ones are not enough
      const queue = [...candidates, ...unknown];
      const tryNext = async (): Promise<void> => {
        while (holders.length < this.replicas) {
          const m = queue.shift();
          if (m === undefined) return;
          try {
            await this.pinOn(m, key, options.signal);
            holders.push(m.peerId);
          } catch (e) {
            this.rethrowIfOurs(e, options.signal);
            failures.push(failureOf(m.peerId, e));
          }
        }
      };
      const lanes = Math.max(0, this.replicas - holders.length);
      await Promise.all(Array.from({ length: lanes }, tryNext));
      if (holders.length < this.replicas) {
        const detail = failures.map((f) => `${f.peerId}: ${f.code} ${f.message}`).join('; ');
        throw new StorageError(
          'UNDER_REPLICATED',
          `${key}: ${holders.length} of ${this.replicas} required extra copies` + (detail ? ` (${detail})` : ''),
          { cause: new AggregateError(failures.map((f) => new StorageError(f.code, `${f.peerId}: ${f.message}`)), 'peer failures') },
        );
      }
      return { cid: key, pinnedBy: holders, failures };
    });
  }

  /**
   * Counts the copies of each CID across the consortium (this node included): a copy is a pinned DAG with every
   * block local. Each reachable peer is asked once per {@link MAX_STATUS_CIDS} CIDs; an unreachable peer is listed in
   * `unreachable` and its copies are not counted, so its content shows up as under-replicated. Duplicates in
   * `cids` are reported once. Throws INVALID_CID for a bad CID, ABORTED, CLOSED; never for a peer's failure.
   */
  async check(cids: Iterable<CidInput>, options: { signal?: AbortSignal } = {}): Promise<CheckResult> {
    this.assertUsable();
    const keys = [...new Set([...cids].map((c) => parseCid(c).toString()))];
    return this.op('check', options.signal, async () => {
      const holders = new Map<string, string[]>(keys.map((k) => [k, []]));
      const unreachable: PeerFailure[] = [];
      const count = (peerId: string, entries: readonly StatusEntry[]): void => {
        for (const e of entries) if (e.pinned && e.complete) holders.get(e.cid)?.push(peerId);
      };
      if (keys.length > 0) {
        count(this.self, await this.localStatus(keys, this.localSignal(keys.length, options.signal)));
        await Promise.all(
          this.members.map(async (m) => {
            const got: StatusEntry[] = [];
            try {
              for (let i = 0; i < keys.length; i += MAX_STATUS_CIDS) {
                got.push(...(await this.statusOf(m, keys.slice(i, i + MAX_STATUS_CIDS), options.signal)));
              }
            } catch (e) {
              this.rethrowIfOurs(e, options.signal);
              unreachable.push(failureOf(m.peerId, e));
              return;
            }
            count(m.peerId, got);
          }),
        );
      }
      const required = 1 + this.replicas;
      const entries = keys.map((cid) => {
        const h = holders.get(cid)!;
        return { cid, copies: h.length, holders: h, required, underReplicated: h.length < required };
      });
      return { entries, unreachable };
    });
  }

  /**
   * Asks one consortium peer to pin a CID (it fetches the DAG from its connected peers, pins and verifies it).
   * Throws StorageError: FORBIDDEN (the peer does not count us as a member), UNREACHABLE (dial/stream failure,
   * peer busy or shutting down), TIMEOUT, PROTOCOL (malformed exchange), NOT_FOUND / CORRUPT / NO_SPACE / TOO_LARGE
   * / IO (the peer's failure), ABORTED, CLOSED, INVALID_ARGUMENT (not a member).
   */
  async requestPin(peerId: string, cid: CidInput, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.assertUsable();
    const m = this.member(peerId);
    const key = parseCid(cid).toString();
    await this.op(`pin request to ${peerId}`, options.signal, () => this.pinOn(m, key, options.signal));
  }

  /** Asks one consortium peer which of `cids` (at most {@link MAX_STATUS_CIDS}) it holds. Errors as requestPin. */
  async requestStatus(peerId: string, cids: readonly CidInput[], options: { signal?: AbortSignal } = {}): Promise<StatusEntry[]> {
    this.assertUsable();
    const m = this.member(peerId);
    const keys = cids.map((c) => parseCid(c).toString());
    if (keys.length === 0 || keys.length > MAX_STATUS_CIDS) throw invalid(`between 1 and ${MAX_STATUS_CIDS} CIDs per status request`);
    return this.op(`status request to ${peerId}`, options.signal, () => this.statusOf(m, keys, options.signal));
  }

  // ---- client side ----------------------------------------------------------------------------------------------

  private async pinOn(m: Member, cid: string, signal: AbortSignal | undefined): Promise<void> {
    const res = await this.request(m, { v: 1, type: 'pin', cid, timeoutMs: this.pinTimeoutMs }, this.pinTimeoutMs + this.requestTimeoutMs, signal);
    if (res.type !== 'pin' || res.cid !== cid) throw protocolError(m.peerId, `answered a pin of ${cid} with a ${res.type} response`);
  }

  private async statusOf(m: Member, cids: readonly string[], signal: AbortSignal | undefined): Promise<StatusEntry[]> {
    // the peer checks every block of every DAG: allow time in proportion to the number of CIDs
    const res = await this.request(m, { v: 1, type: 'status', cids }, this.statusTimeoutMs(cids.length), signal);
    if (res.type !== 'status') throw protocolError(m.peerId, `answered a status request with a ${res.type} response`);
    if (res.entries.length !== cids.length || res.entries.some((e, i) => e.cid !== cids[i])) {
      throw protocolError(m.peerId, 'status response does not list the requested CIDs in order');
    }
    return [...res.entries];
  }

  /** One request/response exchange on a fresh stream; every failure becomes a StorageError. */
  private async request(
    m: Member,
    req: ReplicationRequest,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<Extract<ReplicationResponse, { ok: true }>> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signals = [this.stopController.signal, timeout];
    if (callerSignal) signals.push(callerSignal);
    const signal = AbortSignal.any(signals);
    const why = (e: unknown, what: string): StorageError => {
      if (this.stopController.signal.aborted) return new StorageError('CLOSED', `replicator stopped during ${what} to ${m.peerId}`, { cause: e });
      if (callerSignal?.aborted) return new StorageError('ABORTED', `${what} to ${m.peerId} aborted`, { cause: callerSignal.reason });
      if (timeout.aborted) return new StorageError('TIMEOUT', `${what} to ${m.peerId}: no answer within ${timeoutMs} ms`, { cause: e });
      if (e instanceof StorageError) return e;
      return new StorageError('UNREACHABLE', `${what} to ${m.peerId} failed: ${errorText(e)}`, { cause: e });
    };
    if (signal.aborted) throw why(signal.reason, `${req.type} request`);
    let stream: Stream;
    try {
      stream = await this.node.helia.libp2p.dialProtocol(m.addr, REPLICATION_PROTOCOL, { signal });
    } catch (e) {
      throw why(e, `dial for a ${req.type} request`);
    }
    let res: ReplicationResponse;
    try {
      const lp = framed(stream);
      await lp.write(encoder.encode(JSON.stringify(req)), { signal });
      let frame: Uint8Array;
      try {
        frame = (await lp.read({ signal })).subarray();
      } catch (e) {
        if (isFramingError(e)) throw protocolError(m.peerId, `bad response frame: ${errorText(e)}`, e);
        throw e;
      }
      res = parseResponse(frame, m.peerId);
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)));
      throw why(e, `${req.type} request`);
    }
    await stream.close({ signal }).catch(() => undefined);
    if (!res.ok) throw remoteError(m.peerId, res.code, res.message);
    return res;
  }

  // ---- server side ----------------------------------------------------------------------------------------------

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString();
    const lp = framed(stream);
    try {
      if (!this.allowed.has(remote)) {
        await this.reply(stream, lp, errorResponse('FORBIDDEN', 'peer is not a member of this consortium'));
        return;
      }
      const readSignal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
      let frame: Uint8Array;
      try {
        frame = (await lp.read({ signal: readSignal })).subarray();
      } catch (e) {
        if (isFramingError(e)) {
          await this.reply(stream, lp, errorResponse('BAD_REQUEST', `bad frame: ${errorText(e)}`));
        } else {
          stream.abort(e instanceof Error ? e : new Error(String(e)));
        }
        return;
      }
      const parsed = parseRequest(frame);
      if (typeof parsed === 'string') {
        await this.reply(stream, lp, errorResponse('BAD_REQUEST', parsed));
        return;
      }
      const res = parsed.type === 'pin' ? await this.servePin(parsed) : await this.serveStatus(parsed.cids);
      await this.reply(stream, lp, res);
    } catch (e) {
      // never let a peer's stream take the node down
      stream.abort(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async reply(stream: Stream, lp: LengthPrefixedStream<Stream>, res: ReplicationResponse): Promise<void> {
    // not tied to stop(): a CLOSED answer still goes out, but stop() waits at most 1 s for it
    const signal = AbortSignal.timeout(this.stopController.signal.aborted ? Math.min(1_000, this.requestTimeoutMs) : this.requestTimeoutMs);
    await lp.write(encoder.encode(JSON.stringify(res)), { signal });
    await stream.close({ signal });
    await stream.closeRead({ signal }).catch(() => undefined);
  }

  private async servePin(req: Extract<ReplicationRequest, { type: 'pin' }>): Promise<ReplicationResponse> {
    const timeoutMs = Math.min(req.timeoutMs ?? this.maxServePinTimeoutMs, this.maxServePinTimeoutMs);
    let job = this.pinJobs.get(req.cid);
    if (job === undefined) {
      if (this.pinJobs.size >= this.maxConcurrentPins) {
        return errorResponse('BUSY', `already pinning ${this.pinJobs.size} DAGs; retry later`);
      }
      job = this.pinAndVerify(req.cid, timeoutMs).finally(() => this.pinJobs.delete(req.cid));
      this.pinJobs.set(req.cid, job);
    }
    try {
      const size = await job;
      return { v: 1, ok: true, type: 'pin', cid: req.cid, size };
    } catch (e) {
      return this.failureResponse(e);
    }
  }

  /** Fetches (bitswap) and pins the DAG, then checks it: pinned, every block local, every block's hash. */
  private async pinAndVerify(cid: string, timeoutMs: number): Promise<number> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([this.stopController.signal, timeout]);
    let pinnedHere = false;
    try {
      if (this.maxPinBytes !== undefined) {
        // fetches the root node only (with verifyPins, the bytes read back are checked against the size it declares)
        const { size } = await this.node.blobs.stat(cid, { signal });
        if (size > this.maxPinBytes) throw new StorageError('TOO_LARGE', `${cid} is ${size} bytes, over this node's limit of ${this.maxPinBytes}`);
      }
      const had = await this.node.blobs.isPinned(cid);
      await this.node.blobs.pin(cid, { signal });
      pinnedHere = !had;
      const st = await this.node.blobs.stat(cid, { signal });
      if (!st.pinned || !st.complete) throw new StorageError('IO', `${cid} is not pinned and complete after pinning`);
      if (this.verifyPins) {
        let n = 0;
        for await (const chunk of this.node.blobs.get(cid, { signal })) n += chunk.byteLength;
        if (n !== st.size) throw new StorageError('CORRUPT', `${cid}: read ${n} bytes, file size is ${st.size}`);
      }
      return st.size;
    } catch (e) {
      // a copy we could not verify is not a copy: drop the pin this request added (its blocks go at the next gc)
      if (pinnedHere) await this.node.blobs.unpin(cid).catch(() => undefined);
      if (this.stopController.signal.aborted) throw new StorageError('CLOSED', 'node is shutting down', { cause: e });
      if (timeout.aborted) {
        throw new StorageError('TIMEOUT', `could not fetch, pin and verify ${cid} within ${timeoutMs} ms`, { cause: e });
      }
      throw e;
    }
  }

  private async serveStatus(cids: readonly string[]): Promise<ReplicationResponse> {
    const timeoutMs = this.statusTimeoutMs(cids.length) - 1_000; // answer before the requester gives up
    const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
    try {
      return { v: 1, ok: true, type: 'status', entries: await this.localStatus(cids, AbortSignal.any([this.stopController.signal, timeout])) };
    } catch (e) {
      if (!this.stopController.signal.aborted && timeout.aborted) {
        return errorResponse('TIMEOUT', `status of ${cids.length} CIDs took over ${timeoutMs} ms`);
      }
      return this.failureResponse(e);
    }
  }

  /** Local, offline status of each CID: pinned, and every block of the DAG present (a broken block counts as absent). */
  private async localStatus(cids: readonly string[], signal: AbortSignal): Promise<StatusEntry[]> {
    const out: StatusEntry[] = [];
    for (const cid of cids) {
      signal.throwIfAborted();
      const pinned = await this.node.blobs.isPinned(cid);
      let complete = false;
      if (pinned) {
        try {
          complete = (await this.node.blobs.stat(cid, { signal })).complete;
        } catch (e) {
          if (signal.aborted) throw e;
          complete = false; // missing or corrupt node in the DAG: not a usable copy
        }
      }
      out.push({ cid, pinned, complete });
    }
    return out;
  }

  private failureResponse(e: unknown): ReplicationResponse {
    if (e instanceof StorageError && REMOTE_ERROR_CODES.has(e.code)) return errorResponse(e.code as RemoteErrorCode, e.message);
    if (e instanceof StorageError && e.code === 'INVALID_CID') return errorResponse('BAD_REQUEST', e.message);
    if (this.stopController.signal.aborted) return errorResponse('CLOSED', 'node is shutting down');
    // StorageError messages name the operation and CID, never content: safe to send
    if (e instanceof StorageError) return errorResponse('IO', `${e.code}: ${e.message}`);
    // unexpected errors: no internals on the wire
    return errorResponse('INTERNAL', 'internal error');
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  /** Time allowed for a status of `n` CIDs: the request timeout plus 100 ms per CID (each DAG is walked). */
  private statusTimeoutMs(n: number): number {
    return this.requestTimeoutMs + 100 * n;
  }

  /** Signal for this node's own status of `n` CIDs: stop, the caller's signal, a deadline as for a peer. */
  private localSignal(n: number, callerSignal: AbortSignal | undefined): AbortSignal {
    const signals = [this.stopController.signal, AbortSignal.timeout(this.statusTimeoutMs(n))];
    if (callerSignal) signals.push(callerSignal);
    return AbortSignal.any(signals);
  }

  /**
   * Runs a public operation: tracked for stop(), and every failure a StorageError (CLOSED when the replicator
   * stopped, ABORTED when the caller's signal fired, TIMEOUT for a local deadline).
   */
  private op<T>(what: string, signal: AbortSignal | undefined, f: () => Promise<T>): Promise<T> {
    return this.track(
      (async () => {
        try {
          signal?.throwIfAborted();
          return await f();
        } catch (e) {
          if (this.stopController.signal.aborted) {
            throw e instanceof StorageError && e.code === 'CLOSED' ? e : new StorageError('CLOSED', `${what}: replicator stopped`, { cause: e });
          }
          if (signal?.aborted) {
            throw e instanceof StorageError && e.code === 'ABORTED' ? e : new StorageError('ABORTED', `${what}: aborted`, { cause: signal.reason });
          }
          if (e instanceof StorageError) throw e;
          if ((e as { name?: unknown })?.name === 'TimeoutError') throw new StorageError('TIMEOUT', `${what}: timed out`, { cause: e });
          throw toStorageError(e, { op: what });
        }
      })(),
    );
  }

  private member(peerId: string): Member {
    const m = this.members.find((x) => x.peerId === peerId);
    if (m === undefined) throw invalid(`${peerId} is not a configured consortium peer`);
    return m;
  }

  private assertUsable(): void {
    if (this.state === 'stopped') throw new StorageError('CLOSED', 'replicator is stopped');
  }

  /** A peer's failure is recorded; our own abort or stop ends the whole operation. */
  private rethrowIfOurs(e: unknown, signal: AbortSignal | undefined): void {
    if (this.stopController.signal.aborted || signal?.aborted) throw e;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }
}

// ---- message validation (exported for tests and tools) -------------------------------------------------------------

/** Parses and validates a request frame. Returns the request, or a description of what is wrong with it. */
export function parseRequest(frame: Uint8Array): ReplicationRequest | string {
  const v = parseJsonObject(frame);
  if (typeof v === 'string') return v;
  if (v.v !== PROTOCOL_VERSION) return `unsupported protocol version ${JSON.stringify(v.v)} (expected ${PROTOCOL_VERSION})`;
  if (v.type === 'pin') {
    const extra = unknownKeys(v, ['v', 'type', 'cid', 'timeoutMs']);
    if (extra) return extra;
    const cid = wireCid(v.cid, 'cid');
    if (cid.startsWith('!')) return cid.slice(1);
    if (v.timeoutMs !== undefined && !(Number.isSafeInteger(v.timeoutMs) && (v.timeoutMs as number) > 0)) {
      return 'timeoutMs must be a positive integer';
    }
    return v.timeoutMs === undefined ? { v: 1, type: 'pin', cid } : { v: 1, type: 'pin', cid, timeoutMs: v.timeoutMs as number };
  }
  if (v.type === 'status') {
    const extra = unknownKeys(v, ['v', 'type', 'cids']);
    if (extra) return extra;
    if (!Array.isArray(v.cids) || v.cids.length === 0 || v.cids.length > MAX_STATUS_CIDS) {
      return `cids must be an array of 1 to ${MAX_STATUS_CIDS} CID strings`;
    }
    const cids: string[] = [];
    for (const [i, c] of (v.cids as unknown[]).entries()) {
      const cid = wireCid(c, `cids[${i}]`);
      if (cid.startsWith('!')) return cid.slice(1);
      cids.push(cid);
    }
    return { v: 1, type: 'status', cids };
  }
  return `unknown request type ${JSON.stringify(v.type)?.slice(0, 40)} (expected "pin" or "status")`;
}

/** Parses and validates a response frame; throws StorageError PROTOCOL. */
export function parseResponse(frame: Uint8Array, from = 'peer'): ReplicationResponse {
  const v = parseJsonObject(frame);
  if (typeof v === 'string') throw protocolError(from, v);
  const bad = (msg: string): never => {
    throw protocolError(from, msg);
  };
  if (v.v !== PROTOCOL_VERSION) bad(`unsupported protocol version ${JSON.stringify(v.v)}`);
  if (v.ok === false) {
    const extra = unknownKeys(v, ['v', 'ok', 'code', 'message']);
    if (extra) bad(extra);
    if (typeof v.code !== 'string' || !REMOTE_ERROR_CODES.has(v.code)) bad('unknown error code');
    if (typeof v.message !== 'string' || v.message.length > MAX_ERROR_MESSAGE_CHARS) bad('bad error message');
    return { v: 1, ok: false, code: v.code as RemoteErrorCode, message: v.message as string };
  }
  if (v.ok !== true) bad('"ok" must be true or false');
  if (v.type === 'pin') {
    const extra = unknownKeys(v, ['v', 'ok', 'type', 'cid', 'size']);
    if (extra) bad(extra);
    const cid = wireCid(v.cid, 'cid');
    if (cid.startsWith('!')) bad(cid.slice(1));
    if (!Number.isSafeInteger(v.size) || (v.size as number) < 0) bad('size must be a non-negative integer');
    return { v: 1, ok: true, type: 'pin', cid, size: v.size as number };
  }
  if (v.type === 'status') {
    const extra = unknownKeys(v, ['v', 'ok', 'type', 'entries']);
    if (extra) bad(extra);
    if (!Array.isArray(v.entries) || v.entries.length > MAX_STATUS_CIDS) bad('entries must be an array');
    const entries: StatusEntry[] = [];
    for (const [i, e] of (v.entries as unknown[]).entries()) {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) bad(`entries[${i}] must be an object`);
      const o = e as Record<string, unknown>;
      const extraE = unknownKeys(o, ['cid', 'pinned', 'complete']);
      if (extraE) bad(`entries[${i}]: ${extraE}`);
      const cid = wireCid(o.cid, `entries[${i}].cid`);
      if (cid.startsWith('!')) bad(cid.slice(1));
      if (typeof o.pinned !== 'boolean' || typeof o.complete !== 'boolean') bad(`entries[${i}]: pinned/complete must be booleans`);
      entries.push({ cid, pinned: o.pinned as boolean, complete: o.complete as boolean });
    }
    return { v: 1, ok: true, type: 'status', entries };
  }
  return bad('unknown response type');
}

function parseJsonObject(frame: Uint8Array): Record<string, unknown> | string {
  if (frame.byteLength > MAX_MESSAGE_BYTES) return `message of ${frame.byteLength} bytes exceeds ${MAX_MESSAGE_BYTES}`;
  let text: string;
  try {
    text = decoder.decode(frame);
  } catch {
    return 'message is not valid UTF-8';
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'message is not valid JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'message must be a JSON object';
  return v as Record<string, unknown>;
}

function unknownKeys(o: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  return extra.length > 0 ? `unknown field(s): ${extra.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}` : undefined;
}

/** Canonical string of a wire CID, or `!reason`. Only UnixFS DAGs (dag-pb or raw, sha2-256) are accepted. */
function wireCid(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_CID_CHARS) return `!${field} must be a CID string`;
  let cid: CID;
  try {
    cid = CID.parse(v);
  } catch {
    return `!${field} is not a valid CID`;
  }
  if (cid.code !== DAG_PB && cid.code !== RAW) return `!${field}: codec 0x${cid.code.toString(16)} is not dag-pb or raw`;
  if (cid.multihash.code !== SHA2_256) return `!${field}: hash 0x${cid.multihash.code.toString(16)} is not sha2-256`;
  const s = cid.toString();
  if (s !== v) return `!${field} is not in canonical form (${s})`;
  return s;
}

function parseMember(p: ConsortiumPeer, i: number): Member {
  if (typeof p !== 'object' || p === null) throw invalid(`options.peers[${i}] must be { peerId, multiaddr }`);
  let peerId: string;
  try {
    peerId = peerIdFromString(p.peerId).toString();
  } catch (e) {
    throw invalid(`options.peers[${i}].peerId is not a peer id: ${String(p.peerId).slice(0, 80)}`, e);
  }
  let addr: Multiaddr;
  try {
    addr = multiaddr(p.multiaddr);
  } catch (e) {
    throw invalid(`options.peers[${i}].multiaddr is not a multiaddr: ${String(p.multiaddr).slice(0, 120)}`, e);
  }
  const p2p = addr.getComponents().filter((c) => c.name === 'p2p');
  if (p2p.length > 1) throw invalid(`options.peers[${i}].multiaddr has more than one /p2p component`);
  if (p2p.length === 1) {
    if (p2p[0]!.value !== peerId) throw invalid(`options.peers[${i}].multiaddr names peer ${p2p[0]!.value}, not ${peerId}`);
  } else {
    addr = addr.encapsulate(`/p2p/${peerId}`);
  }
  return { peerId, addr };
}

function framed(stream: Stream): LengthPrefixedStream<Stream> {
  return lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES, maxBufferSize: MAX_MESSAGE_BYTES + 16 });
}

function isFramingError(e: unknown): boolean {
  const name = (e as { name?: unknown })?.name;
  return (
    name === 'InvalidDataLengthError' ||
    name === 'InvalidDataLengthLengthError' ||
    name === 'InvalidMessageLengthError' ||
    name === 'UnexpectedEOFError'
  );
}

function errorResponse(code: RemoteErrorCode, message: string): ReplicationResponse {
  return { v: 1, ok: false, code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) };
}

/** Maps a peer's error code to ours. */
function remoteError(peerId: string, code: RemoteErrorCode, message: string): StorageError {
  const mapped: StorageErrorCode =
    code === 'BAD_REQUEST' ? 'PROTOCOL'
    : code === 'BUSY' || code === 'CLOSED' || code === 'ABORTED' ? 'UNREACHABLE'
    : code === 'INTERNAL' ? 'IO'
    : code;
  return new StorageError(mapped, `peer ${peerId} answered ${code}: ${message}`);
}

function protocolError(peerId: string, message: string, cause?: unknown): StorageError {
  return new StorageError('PROTOCOL', `peer ${peerId}: ${message}`, cause === undefined ? undefined : { cause });
}

function failureOf(peerId: string, e: unknown): PeerFailure {
  if (e instanceof StorageError) return { peerId, code: e.code, message: e.message };
  return { peerId, code: 'UNREACHABLE', message: errorText(e) };
}

function invalid(message: string, cause?: unknown): StorageError {
  return new StorageError('INVALID_ARGUMENT', message, cause === undefined ? undefined : { cause });
}

function intOption(v: number | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalid(`options.${name} must be an integer in [${min}, ${max}]`);
  return v;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 300);
  return String(e).slice(0, 300);
}
