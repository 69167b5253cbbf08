/**
 * PIE's ledger client over @hyperledger/fabric-gateway: the one way the server talks to Fabric (the embedded dev
 * network or a real Fabric gateway peer). It adds what every caller needs on top of the gateway API:
 *
 * - JSON in and out (the PIE contract takes and returns JSON text);
 * - submit = endorse + submit + wait for the commit, with the block number, retried on MVCC / phantom-read
 *   conflicts (a new proposal each time, so the contract re-reads the state);
 * - chaincode event streams that resume from a checkpoint (block number + last transaction id);
 * - the channel's chain through Fabric's query system chaincode `qscc` (chain info, blocks, transactions), decoded;
 * - one error type, `LedgerClientError`, whose `code` is the contract's ("[FORBIDDEN] …" → FORBIDDEN) or a
 *   transport/commit code, with the chaincode message and never a stack trace from the peer.
 */
import { promises as fsp } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { checkpointers, connect, hash } from '@hyperledger/fabric-gateway';
import { common, peer } from '@hyperledger/fabric-protos';
import type { ChaincodeEvent, Checkpointer, Contract, Gateway, Network } from '@hyperledger/fabric-gateway';
import { CodedError } from '../errors.js';
import { CommitWatcher } from './commit-watcher.js';
import { signP256 } from './devnet/msp.js';

export type LedgerClientErrorCode =
  /** the contract refused: its own codes */
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'BAD_SIGNATURE'
  /** the contract failed unexpectedly */
  | 'INTERNAL'
  /** the gateway refused our identity or signature */
  | 'PERMISSION_DENIED'
  /** the transaction was ordered but committed invalid (see `validationCode`) */
  | 'COMMIT_FAILED'
  /** the gateway could not be reached or timed out */
  | 'UNAVAILABLE'
  /** the configuration is unusable */
  | 'CONFIG';

export class LedgerClientError extends CodedError<LedgerClientErrorCode> {
  override readonly name = 'LedgerClientError';
  constructor(
    code: LedgerClientErrorCode,
    message: string,
    readonly details: { transactionId?: string; validationCode?: number; grpcCode?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

const CONTRACT_CODES = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'FORBIDDEN', 'CONFLICT', 'BAD_SIGNATURE', 'INTERNAL']);
/** Fabric's chaincode failure as carried in gateway ErrorDetail messages. */
const CHAINCODE_FAILURE = /chaincode response (\d+), ([\s\S]*)$/;
const CODED = /^\[([A-Z_]+)\] ([\s\S]*)$/;
/** Validation codes a retry with a fresh proposal can cure. */
const RETRYABLE = new Set([11 /* MVCC_READ_CONFLICT */, 12 /* PHANTOM_READ_CONFLICT */]);

interface GatewayLikeError {
  name?: string;
  message?: string;
  code?: number;
  details?: { message: string; mspId?: string }[];
  transactionId?: string;
}

/** Turns any error the gateway client throws into a LedgerClientError. */
export function ledgerError(e: unknown, transactionId?: string): LedgerClientError {
  if (e instanceof LedgerClientError) return e;
  const g = (e ?? {}) as GatewayLikeError;
  for (const d of g.details ?? []) {
    const m = CHAINCODE_FAILURE.exec(d.message);
    if (!m) continue;
    const coded = CODED.exec(m[2]!);
    const code = coded && CONTRACT_CODES.has(coded[1]!) ? (coded[1] as LedgerClientErrorCode) : 'INTERNAL';
    return new LedgerClientError(code, coded ? coded[2]! : m[2]!, { transactionId: g.transactionId ?? transactionId, grpcCode: g.code }, { cause: e });
  }
  const msg = g.message ?? String(e);
  const details = { transactionId: g.transactionId ?? transactionId, grpcCode: g.code };
  switch (g.code) {
    case grpc.status.PERMISSION_DENIED:
      return new LedgerClientError('PERMISSION_DENIED', msg, details, { cause: e });
    case grpc.status.NOT_FOUND:
    case grpc.status.INVALID_ARGUMENT:
      return new LedgerClientError('INVALID_ARGUMENT', msg, details, { cause: e });
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
      return new LedgerClientError('UNAVAILABLE', msg, details, { cause: e });
    default:
      return new LedgerClientError('INTERNAL', msg, details, { cause: e });
  }
}

/** Fabric's qscc failures (status 500, Fabric's own messages) by what they mean; anything else stays INTERNAL. */
const QSCC_FAILURES: readonly (readonly [RegExp, LedgerClientErrorCode])[] = [
  [/no such (?:transaction ID|block number|block hash) \[[^\]]*\] in index|Entry not found in index/, 'NOT_FOUND'],
  [/^Invalid chain ID/, 'NOT_FOUND'],
  [/^Failed to parse block number|must not be nil|^missing 3rd argument|^Incorrect number of arguments|^Requested function .* not found/, 'INVALID_ARGUMENT'],
  [/^access denied/, 'FORBIDDEN'],
];

/** ledgerError for qscc calls: its plain-text chaincode failures get the code their message means. */
function qsccError(e: unknown): LedgerClientError {
  const err = ledgerError(e);
  const fromChaincode = ((e ?? {}) as GatewayLikeError).details?.some((d) => CHAINCODE_FAILURE.test(d.message)) ?? false;
  if (!fromChaincode || err.code !== 'INTERNAL') return err;
  const code = QSCC_FAILURES.find(([re]) => re.test(err.message))?.[1];
  return code === undefined ? err : new LedgerClientError(code, err.message, err.details, { cause: e });
}

/** The channel's chain as the peer has it (qscc GetChainInfo). */
export interface ChainInfo {
  /** number of blocks; the next block's number */
  height: bigint;
  /** header hash of the newest block */
  currentBlockHash: Uint8Array;
  /** the newest block's previous_hash (empty when it is the genesis block) */
  previousBlockHash: Uint8Array;
}

/** A committed transaction (qscc GetTransactionByID): its envelope as ordered and its validation code (0 = VALID). */
export interface ProcessedTransaction {
  validationCode: number;
  envelope: common.Envelope;
}

const QSCC = 'qscc';
const UINT64_MAX = (1n << 64n) - 1n;

export interface LedgerIdentity {
  mspId: string;
  certificatePem: string;
  privateKeyPem: string;
}

export interface LedgerConnectionConfig {
  /** host:port of a Fabric gateway peer (or the dev network) */
  endpoint: string;
  /** PEM of the CA that signed the peer's TLS certificate; absent = plaintext (the dev network on loopback only) */
  tlsCaCertPem?: string;
  /** the TLS host name to expect when it differs from the endpoint's (e.g. peer0.org1.example.com) */
  tlsServerName?: string;
  channel: string;
  chaincode: string;
  identity: LedgerIdentity;
  /** per-call deadlines in ms (defaults: evaluate 10 s, endorse 15 s, submit 30 s, commit status 60 s) */
  timeouts?: Partial<Record<'evaluate' | 'endorse' | 'submit' | 'commitStatus', number>>;
  /** submit attempts on MVCC / phantom-read conflicts (default 3) */
  conflictRetries?: number;
  /**
   * Learn that transactions committed from one stream of filtered block events (the peer's Deliver service)
   * instead of a CommitStatus call per transaction (default true; see commit-watcher.ts). Either way the result is
   * the same; without a Deliver service the client falls back to CommitStatus by itself.
   */
  commitEvents?: boolean;
}

export interface SubmitResult<T> {
  result: T;
  transactionId: string;
  blockNumber: bigint;
}

export interface LedgerEvent<P = unknown> {
  name: string;
  payload: P;
  transactionId: string;
  blockNumber: bigint;
}

/** A chaincode result or event payload: JSON when it parses, else the text; undefined when empty. */
export const decodeJson = (bytes: Uint8Array): unknown => {
  const text = Buffer.from(bytes).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

/** Reads connection details from files: certificate, key and TLS CA paths resolved to their contents. */
export async function loadIdentity(certPath: string, keyPath: string, mspId: string): Promise<LedgerIdentity> {
  try {
    return { mspId, certificatePem: await fsp.readFile(certPath, 'utf8'), privateKeyPem: await fsp.readFile(keyPath, 'utf8') };
  } catch (e) {
    throw new LedgerClientError('CONFIG', `cannot read the ledger identity (${certPath}, ${keyPath}): ${(e as Error).message}`, {}, { cause: e });
  }
}

export class LedgerClient {
  private readonly network: Network;
  private readonly contract: Contract;
  private readonly qscc: Contract;
  private readonly commits: CommitWatcher | undefined;

  private constructor(
    private readonly grpcClient: grpc.Client,
    private readonly gateway: Gateway,
    readonly config: LedgerConnectionConfig,
    commitStatusTimeoutMs: number,
  ) {
    this.network = gateway.getNetwork(config.channel);
    this.contract = this.network.getContract(config.chaincode);
    this.qscc = this.network.getContract(QSCC);
    this.commits =
      config.commitEvents === false
        ? undefined
        : new CommitWatcher(
            { height: async () => (await this.chainInfo()).height, filteredBlocks: (startBlock) => this.network.getFilteredBlockEvents({ startBlock }) },
            { fallbackAfterMs: commitStatusTimeoutMs },
          );
  }

  static connect(config: LedgerConnectionConfig): LedgerClient {
    if (!/^[^\s:]+:\d{1,5}$/.test(config.endpoint)) throw new LedgerClientError('CONFIG', `endpoint "${config.endpoint}" must be host:port`);
    let key;
    try {
      key = createPrivateKey(config.identity.privateKeyPem);
    } catch (e) {
      throw new LedgerClientError('CONFIG', `the identity's private key is not a PEM private key`, {}, { cause: e });
    }
    const credentials = config.tlsCaCertPem ? grpc.credentials.createSsl(Buffer.from(config.tlsCaCertPem)) : grpc.credentials.createInsecure();
    const options: grpc.ClientOptions = config.tlsServerName ? { 'grpc.ssl_target_name_override': config.tlsServerName } : {};
    const client = new grpc.Client(config.endpoint, credentials, options);
    const t = { evaluate: 10_000, endorse: 15_000, submit: 30_000, commitStatus: 60_000, ...config.timeouts };
    const deadline = (ms: number) => (): grpc.CallOptions => ({ deadline: Date.now() + ms });
    const gateway = connect({
      client,
      identity: { mspId: config.identity.mspId, credentials: Buffer.from(config.identity.certificatePem) },
      // node:crypto signs (SHA-256 + ECDSA, low-S) natively: the gateway's own signer is pure-JS P-256 and was
      // 19 % of the CPU per transaction in bench/ledger.ts. hash.none hands the signer the message itself.
      hash: hash.none,
      signer: async (message) => signP256(key, message),
      evaluateOptions: deadline(t.evaluate),
      endorseOptions: deadline(t.endorse),
      submitOptions: deadline(t.submit),
      commitStatusOptions: deadline(t.commitStatus),
    });
    return new LedgerClient(client, gateway, config, t.commitStatus);
  }

  /** Runs a query transaction on one peer; nothing is ordered. */
  async evaluate<T = unknown>(fn: string, ...args: string[]): Promise<T> {
    try {
      return decodeJson(await this.contract.evaluateTransaction(fn, ...args)) as T;
    } catch (e) {
      throw ledgerError(e);
    }
  }

  /** Endorses, submits and waits for the commit; retries MVCC / phantom conflicts with a fresh proposal. */
  async submit<T = unknown>(fn: string, ...args: string[]): Promise<SubmitResult<T>> {
    const attempts = Math.max(1, (this.config.conflictRetries ?? 3) + 1);
    for (let attempt = 1; ; attempt++) {
      let txId: string | undefined;
      try {
        const endorsed = await this.contract.newProposal(fn, { arguments: args }).endorse();
        txId = endorsed.getTransactionId();
        // watch for the commit before submitting, so that the block that holds it cannot pass unseen
        const watch = await this.commits?.watch(txId);
        let submitted;
        try {
          submitted = await endorsed.submit();
        } catch (e) {
          watch?.cancel();
          throw e;
        }
        const status = (await watch?.status) ?? (await submitted.getStatus());
        if (status.code !== peer.TxValidationCode.VALID) {
          if (RETRYABLE.has(status.code) && attempt < attempts) continue;
          throw new LedgerClientError('COMMIT_FAILED', `${fn}: transaction ${txId} committed invalid (validation code ${status.code})`, {
            transactionId: txId,
            validationCode: status.code,
          });
        }
        return { result: decodeJson(submitted.getResult()) as T, transactionId: txId, blockNumber: status.blockNumber };
      } catch (e) {
        throw ledgerError(e, txId);
      }
    }
  }

  // ---- the chain (Fabric's query system chaincode, evaluated on the gateway peer) ----

  /** qscc `fn(channel, …args)`: the serialized protobuf answer. */
  private async system(fn: string, ...args: string[]): Promise<Uint8Array> {
    try {
      return await this.qscc.evaluateTransaction(fn, this.config.channel, ...args);
    } catch (e) {
      throw qsccError(e);
    }
  }

  private static decode<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw new LedgerClientError('INTERNAL', `qscc answered bytes that are not a ${what}`, {}, { cause: e });
    }
  }

  private static checkTxId(txId: string): void {
    if (typeof txId !== 'string' || txId === '') throw new LedgerClientError('INVALID_ARGUMENT', 'transaction id: must be a non-empty string');
  }

  /** Height and the newest block's hashes (qscc GetChainInfo). */
  async chainInfo(): Promise<ChainInfo> {
    const bytes = await this.system('GetChainInfo');
    const info = LedgerClient.decode('common.BlockchainInfo', () => common.BlockchainInfo.deserializeBinary(bytes));
    return { height: BigInt(info.getHeight()), currentBlockHash: info.getCurrentblockhash_asU8(), previousBlockHash: info.getPreviousblockhash_asU8() };
  }

  /** Block `number` (qscc GetBlockByNumber); NOT_FOUND at or past the height. */
  async block(number: bigint | number): Promise<common.Block> {
    const n = typeof number === 'bigint' ? number : Number.isSafeInteger(number) ? BigInt(number) : -1n;
    if (n < 0n || n > UINT64_MAX) throw new LedgerClientError('INVALID_ARGUMENT', `block number ${String(number)}: must be an integer from 0 to 2^64-1`);
    const bytes = await this.system('GetBlockByNumber', n.toString());
    return LedgerClient.decode('common.Block', () => common.Block.deserializeBinary(bytes));
  }

  /** The block holding a transaction, valid or not (qscc GetBlockByTxID); NOT_FOUND for an unknown id. */
  async blockOfTransaction(txId: string): Promise<common.Block> {
    LedgerClient.checkTxId(txId);
    const bytes = await this.system('GetBlockByTxID', txId);
    return LedgerClient.decode('common.Block', () => common.Block.deserializeBinary(bytes));
  }

  /**
   * The number of the block holding a transaction; NOT_FOUND for an unknown id. Fabric's qscc has no cheaper answer
   * than the whole block (GetTransactionByID omits the block number), so callers should cache: a committed
   * transaction never moves (PieLedger does).
   */
  async transactionBlockNumber(txId: string): Promise<bigint> {
    const header = (await this.blockOfTransaction(txId)).getHeader();
    if (header === undefined) throw new LedgerClientError('INTERNAL', `qscc answered a block without a header for transaction ${txId}`);
    return BigInt(header.getNumber());
  }

  /** A committed transaction's envelope and validation code (qscc GetTransactionByID); NOT_FOUND for an unknown id. */
  async transaction(txId: string): Promise<ProcessedTransaction> {
    LedgerClient.checkTxId(txId);
    const bytes = await this.system('GetTransactionByID', txId);
    const processed = LedgerClient.decode('peer.ProcessedTransaction', () => peer.ProcessedTransaction.deserializeBinary(bytes));
    const envelope = processed.getTransactionenvelope();
    if (envelope === undefined) throw new LedgerClientError('INTERNAL', `qscc answered a transaction without an envelope for ${txId}`);
    return { validationCode: processed.getValidationcode(), envelope };
  }

  /**
   * Full blocks from `startBlock` on (the peer's Deliver service, `Network.getBlockEvents`): what the node's record
   * index is fed from. Errors of the stream surface from its iterator; `close` ends it.
   */
  async blocks(startBlock: bigint): Promise<AsyncIterable<common.Block> & { close(): void }> {
    try {
      return await this.network.getBlockEvents({ startBlock });
    } catch (e) {
      throw ledgerError(e);
    }
  }

  /**
   * Chaincode events from `startBlock` (default: the next commit), or resuming after `checkpoint`; the iterator
   * ends when `signal` aborts. Checkpoint each event you have handled to resume exactly after it.
   */
  async *events<P = unknown>(opts: { startBlock?: bigint; checkpoint?: Checkpointer; signal?: AbortSignal } = {}): AsyncGenerator<LedgerEvent<P>> {
    let stream: AsyncIterable<ChaincodeEvent> & { close(): void };
    try {
      stream = await this.network.getChaincodeEvents(this.config.chaincode, {
        ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
        ...(opts.startBlock !== undefined ? { startBlock: opts.startBlock } : {}),
      });
    } catch (e) {
      throw ledgerError(e);
    }
    const close = (): void => stream.close();
    opts.signal?.addEventListener('abort', close, { once: true });
    if (opts.signal?.aborted) close(); // aborted while the stream was being opened: no abort event will come
    try {
      for await (const e of stream) {
        yield { name: e.eventName, payload: decodeJson(e.payload) as P, transactionId: e.transactionId, blockNumber: e.blockNumber };
      }
    } catch (e) {
      if (!opts.signal?.aborted) throw ledgerError(e);
    } finally {
      opts.signal?.removeEventListener('abort', close);
      close();
    }
  }

  close(): void {
    this.commits?.close();
    this.gateway.close();
    this.grpcClient.close();
  }
}

/** An in-memory or file checkpointer for `events` (re-exported so callers need not import the gateway package). */
export const eventCheckpointers = checkpointers;
