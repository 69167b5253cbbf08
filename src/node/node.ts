/**
 * A PIE node: one organisation's GraphQL/HTTP server over its ledger (the embedded dev network by default, or a real
 * Fabric gateway), its Helia store, its custodial key store and the FHIR validator, all under one data directory:
 *
 *   <dataDir>/ledger/      the dev network (blocks, MSP); absent with a real Fabric gateway
 *   <dataDir>/storage/     Helia blocks and datastore
 *   <dataDir>/custody/     custodial accounts' keys, encrypted under the master key file
 *   <dataDir>/proxy/       the re-encryption proxies' keys, encrypted under the same master key file
 *   <dataDir>/bootstrap.json   the first admin's one-time code (hash only), until used
 *
 * `startNode` brings the parts up in dependency order and, if any fails, stops what it started; `stop` shuts down
 * in reverse order (the HTTP server first, so no request arrives at a closed store).
 */
import '../chain/devnet/shim-logging.js'; // before the chaincode is loaded
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { contracts } from '../../chaincode/src/index.js';
import type { Participant } from '../../chaincode/src/domain/index.js';
import { AccessTokenVerifier, ReplayCache } from '../auth/index.js';
import { LedgerClient, loadIdentity } from '../chain/client.js';
import type { LedgerConnectionConfig } from '../chain/client.js';
import { Devnet } from '../chain/devnet/devnet.js';
import { PieLedger } from '../chain/pie-ledger.js';
import { ReadModelFeed } from '../chain/read-model-feed.js';
import { writeFileAtomic } from '../crypto/keystore/atomic-file.js';
import { CustodyStore } from '../custody/index.js';
import { ExchangeError, toExchangeError } from '../exchange/errors.js';
import { BlobRecords } from '../exchange/blob-records.js';
import { FhirIngest } from '../exchange/ingest.js';
import { FhirValidatorPool, ReferenceDirectory } from '../fhir/index.js';
import { ProxyService } from '../proxy/index.js';
import type { LedgerStatus, NodeServices, OrgBootstrap, RecordReadModel } from '../resolvers/index.js';
import { openStorageNode } from '../storage/index.js';
import type { StorageNode } from '../storage/index.js';
import type { NodeConfig } from './config.js';
import { startHttpServer } from './http.js';
import type { PieHttpServer } from './http.js';
import type { Logger } from './log.js';

/** How long a caller's participant entry is reused: a suspension takes effect within this time. */
const CALLER_CACHE_MS = 1_000;

/** Participants by id with a short time to live; concurrent reads of one id share one ledger evaluation. */
export class ParticipantCache {
  readonly #entries = new Map<string, { at: number; value: Promise<Participant | undefined> }>();
  constructor(
    private readonly ledger: PieLedger,
    private readonly ttlMs: number,
  ) {}

  get(id: string): Promise<Participant | undefined> {
    const now = Date.now();
    const hit = this.#entries.get(id);
    if (hit !== undefined && now - hit.at < this.ttlMs) return hit.value;
    if (this.#entries.size > 10_000) this.#entries.clear();
    const value = this.ledger.participant(id).catch((e: unknown) => {
      this.#entries.delete(id);
      if (toExchangeError(e).code === 'NOT_FOUND') return undefined;
      throw e;
    });
    this.#entries.set(id, { at: now, value });
    return value;
  }

  /** The next `get` of `id` reads the ledger (its entry changed). */
  forget(id: string): void {
    this.#entries.delete(id);
  }
}

export interface StartNodeOptions {
  /** FHIR Bundles of Organizations / Practitioners that conditional references resolve against */
  readonly directory?: ReferenceDirectory;
}

export interface PieNode {
  readonly config: NodeConfig;
  /** http://host:port */
  readonly url: string;
  readonly services: NodeServices;
  readonly storage: StorageNode;
  /** the embedded dev network, when the node runs one */
  readonly devnet?: Devnet;
  /** the first admin's one-time code; only on the start that created it, otherwise undefined */
  readonly bootstrapCode?: string;
  /** whether the first admin has registered (the bootstrap code is spent) */
  readonly firstAdminRegistered: () => boolean;
  stop(): Promise<void>;
}

/** The one-time code that lets the first organisation admin register (its keys stay with the admin). */
class FirstAdminBootstrap implements OrgBootstrap {
  private constructor(
    private readonly file: string,
    private state: { codeSha256: string; usedBy?: string },
    private readonly ledger: PieLedger,
  ) {}

  static async open(dataDir: string, ledger: PieLedger): Promise<{ bootstrap: FirstAdminBootstrap; newCode?: string }> {
    const file = join(dataDir, 'bootstrap.json');
    try {
      const state = JSON.parse(await fsp.readFile(file, 'utf8')) as { codeSha256: string; usedBy?: string };
      return { bootstrap: new FirstAdminBootstrap(file, state, ledger) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ExchangeError('INTERNAL', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
    const code = `pie-bootstrap-${randomBytes(24).toString('base64url')}`;
    const state = { codeSha256: createHash('sha256').update(code).digest('hex') };
    await writeFileAtomic(file, JSON.stringify(state));
    return { bootstrap: new FirstAdminBootstrap(file, state, ledger), newCode: code };
  }

  get used(): boolean {
    return this.state.usedBy !== undefined;
  }

  async registerFirstAdmin(code: string, keys: { signingKey: string; encryptionKey: string }): Promise<Participant> {
    const given = createHash('sha256').update(String(code)).digest();
    const ok = timingSafeEqual(given, Buffer.from(this.state.codeSha256, 'hex'));
    if (!ok || this.used) throw new ExchangeError('FORBIDDEN', 'registerFirstAdmin: wrong or already used bootstrap code');
    // Mark the code used before registering: a crash in between leaves an unused admin slot, never a reusable code.
    this.state = { ...this.state, usedBy: 'pending' };
    await writeFileAtomic(this.file, JSON.stringify(this.state));
    try {
      const { result } = await this.ledger.registerParticipant({ kind: 'org-admin', clearance: 'LOW', roles: [], ...keys });
      this.state = { ...this.state, usedBy: result.id };
      await writeFileAtomic(this.file, JSON.stringify(this.state));
      return result;
    } catch (e) {
      // the keys were refused (malformed, already registered): the code stays usable
      this.state = { codeSha256: this.state.codeSha256 };
      await writeFileAtomic(this.file, JSON.stringify(this.state));
      throw toExchangeError(e);
    }
  }
}

/** A started part and how to stop it. */
interface Step {
  name: string;
  stop: () => Promise<void>;
}

async function connectLedger(config: NodeConfig, stack: Step[]): Promise<{ client: LedgerClient; devnet?: Devnet; status: () => Promise<LedgerStatus> }> {
  const l = config.ledger;
  if (l.mode === 'devnet') {
    const devnet = await Devnet.start({
      dataDir: join(config.dataDir, 'ledger'),
      contracts,
      organisations: [config.organisation],
      batch: { batchTimeoutMs: l.batchTimeoutMs, maxMessageCount: l.maxMessageCount },
      port: l.port,
    });
    stack.push({ name: 'devnet', stop: () => devnet.stop() });
    const client = LedgerClient.connect({ endpoint: devnet.endpoint, channel: devnet.channelId, chaincode: devnet.chaincodeName, identity: devnet.admin(config.organisation) });
    stack.push({ name: 'ledger client', stop: async () => client.close() });
    const status = async (): Promise<LedgerStatus> => ({
      channel: devnet.channelId,
      height: devnet.ledger.height,
      lastBlockHash: devnet.ledger.height === 0 ? null : Buffer.from(devnet.ledger.tipHash).toString('hex'),
      verify: async () => {
        const v = await devnet.ledger.verify();
        return v.ok ? { ok: true } : { ok: false, problem: v.reason };
      },
    });
    return { client, devnet, status };
  }
  const connection: LedgerConnectionConfig = {
    endpoint: l.endpoint,
    channel: l.channel,
    chaincode: l.chaincode,
    identity: await loadIdentity(l.certPath, l.keyPath, l.mspId),
    ...(l.tlsCaCertPath === undefined ? {} : { tlsCaCertPem: await fsp.readFile(l.tlsCaCertPath, 'utf8') }),
    ...(l.tlsServerName === undefined ? {} : { tlsServerName: l.tlsServerName }),
  };
  const client = LedgerClient.connect(connection);
  stack.push({ name: 'ledger client', stop: async () => client.close() });
  // The peer's own view through Fabric's query system chaincode (qscc GetChainInfo). A real peer verifies its chain
  // itself (hash links, orderer signatures), so there is nothing for the node to walk: verify answers null.
  const status = async (): Promise<LedgerStatus> => {
    const info = await client.chainInfo();
    return {
      channel: l.channel,
      height: Number(info.height),
      lastBlockHash: info.height === 0n ? null : Buffer.from(info.currentBlockHash).toString('hex'),
      verify: async () => null,
    };
  };
  return { client, status };
}

/**
 * The node's read model (the record index for `emrs`, the ledger view for PieLedger's reads), fed from the peer's
 * full blocks. It catches up in the background: until it has, and whenever its block stream is down, searches and
 * reads evaluate the chaincode.
 */
function startReadModel(client: LedgerClient, ledger: PieLedger, waitMs: number, log: Logger, stack: Step[]): RecordReadModel {
  const feed = new ReadModelFeed({
    source: { height: async () => (await client.chainInfo()).height, blocks: (start) => client.blocks(start) },
    namespace: client.config.chaincode,
    log: log.child({ component: 'read-model' }),
  }).start();
  stack.push({ name: 'read model', stop: async () => feed.close() });
  const readyFor = async (height: bigint): Promise<boolean> => {
    if (await feed.caughtUp(height, waitMs)) return true;
    if (feed.live) log.warn({ height: Number(height), modelHeight: Number(feed.index.height), waitMs }, 'read model did not reach this node’s last commit in time; the chaincode answered');
    return false;
  };
  ledger.useReadModel({ view: feed.view, readyFor });
  return { index: feed.index, readyFor };
}

export async function startNode(config: NodeConfig, log: Logger, options: StartNodeOptions = {}): Promise<PieNode> {
  const stack: Step[] = [];
  let stopped: Promise<void> | undefined;
  // Stops in reverse start order, once (later calls wait for the first).
  const unwind = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const { name, stop } of [...stack].reverse()) {
        const t0 = performance.now();
        await stop().catch((e: unknown) => log.error({ step: name, err: (e as Error).message }, 'shutdown step failed'));
        log.debug({ step: name, ms: Math.round(performance.now() - t0) }, 'stopped');
      }
    })());
  try {
    await fsp.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const { client, devnet, status } = await connectLedger(config, stack);
    const ledger = new PieLedger(client);
    const recordIndex = config.search.readModel ? startReadModel(client, ledger, config.search.readModelWaitMs, log, stack) : undefined;

    const storage = await openStorageNode({
      dataDir: join(config.dataDir, 'storage'),
      ...(config.storage.listenPort === undefined ? {} : { network: { port: config.storage.listenPort } }),
    });
    stack.push({ name: 'storage', stop: () => storage.stop() });
    for (const peer of config.storage.peers) await storage.dial(peer).catch((e: unknown) => log.warn({ peer, err: (e as Error).message }, 'storage peer unreachable'));

    const custody = await CustodyStore.open({ dir: join(config.dataDir, 'custody'), keyFile: config.custodyKeyFile });
    // The proxies are on the ledger before the node serves anything (a client seals kfrags to their keys).
    const proxy = await ProxyService.start({
      dir: join(config.dataDir, 'proxy'),
      keyFile: config.custodyKeyFile,
      // proxy ids name the MSP the contract sees as the caller (PIE_FABRIC_MSP_ID, by default the organisation)
      organisation: config.ledger.mode === 'fabric' ? config.ledger.mspId : config.organisation,
      count: config.proxy.count,
      operationTtlSeconds: config.proxy.operationTtlSeconds,
      ledger,
      log: log.child({ component: 'proxy' }),
    });
    stack.push({ name: 'proxies', stop: () => proxy.close() });
    const validator = await FhirValidatorPool.start();
    stack.push({ name: 'FHIR validator', stop: () => validator.close() });
    const draftTtlMs = config.limits.draftTtlSeconds * 1000;
    const ingest = new FhirIngest({ ledger, blobs: storage.blobs, validator, organisation: config.organisation, directory: options.directory, draftTtlMs });
    stack.push({ name: 'uploads', stop: () => ingest.close() });
    const blobRecords = new BlobRecords({ ledger, blobs: storage.blobs, organisation: config.organisation, draftTtlMs });
    stack.push({ name: 'record drafts', stop: () => blobRecords.close() });
    const { bootstrap, newCode } = await FirstAdminBootstrap.open(config.dataDir, ledger);

    // The caller's ledger entry, read once per request (token check and context share it) and kept a moment.
    const callers = new ParticipantCache(ledger, CALLER_CACHE_MS);
    const services: NodeServices = {
      organisation: config.organisation,
      ledger,
      blobs: storage.blobs,
      ingest,
      blobRecords,
      custody,
      proxy,
      bootstrap,
      maxPageSize: config.limits.maxPageSize,
      ...(recordIndex === undefined ? {} : { recordIndex }),
      ledgerStatus: status,
      participantChanged: (id) => callers.forget(id),
      currentParticipant: (id) => callers.get(id),
    };
    const verifier = new AccessTokenVerifier({
      audience: config.audience,
      resolveSigningKey: async (id) => {
        const p = await callers.get(id);
        return p?.status === 'active' ? p.signingKey : undefined;
      },
      replayCache: new ReplayCache(),
      clockSkewSeconds: config.auth.clockSkewSeconds,
      maxLifetimeSeconds: config.auth.maxTokenLifetimeSeconds,
      notIssuedBefore: Date.now(),
    });
    const http: PieHttpServer = await startHttpServer({ services, verifier, callers, config, log }, { host: config.host, port: config.port });
    stack.push({ name: 'http', stop: () => http.close() });
    const address = http.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      config,
      url: `http://${host}:${port}`,
      services,
      storage,
      devnet,
      bootstrapCode: newCode,
      firstAdminRegistered: () => bootstrap.used,
      stop: unwind,
    };
  } catch (e) {
    await unwind();
    throw e;
  }
}
