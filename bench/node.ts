/**
 * PIE node benchmark (issue 6): a whole node — embedded dev network, Helia store, FHIR validator pool, GraphQL over
 * HTTP — in a temporary directory, driven through its API as clients drive it. Figures only, no assertions.
 *
 *   npm run build --silent && node --expose-gc dist/bench/node.js
 *   node --expose-gc dist/bench/node.js --seconds 5 --concurrency 32 --ingest-rounds 10
 *   node --expose-gc dist/bench/node.js --same-thread          (load generator on the node's event loop)
 *
 * Options (`--name value` or `--name=value`):
 *   --ingest-rounds N   timed ingestFhir rounds of one ~1 MB sample bundle (default 5), each for a fresh patient
 *   --concurrency C     requests in flight in the search load phases (default 16)
 *   --seconds D         length of each load phase (default 10), after a 1 s warm-up at the same concurrency
 *   --samples DIR       the Synthea samples (else $PIE_FHIR_SAMPLES, ../shared/fhir-samples, /work/shared/fhir-samples)
 *   --batch-timeout-ms  the dev network's orderer batch timeout (default: the node's default)
 *   --same-thread       run the load generator on the node's thread instead of a worker thread
 *   --mint-inline       mint each request's token inside the load loop (default: all minted before the timed window)
 *
 * What it does:
 * 1. starts a node with its default configuration (fresh data directory, port 0, log level warn) and the reference
 *    directory of the hospital and practitioner sample bundles; registers the first admin, a custodial physician, a
 *    researcher (LOW clearance, keys in its own client) and a patient per sample bundle (keys in their own clients);
 * 2. warm-up: ingests every sample bundle once for its patient (ingestFhir as the physician, through PieClient);
 * 3. ingest latency: ingestFhir of one ~1 MB bundle per round, each round for a freshly registered patient (the
 *    registration is not timed). The time is the client's: token exchange (custodial client), JSON encoding, HTTP,
 *    validation + classification + grouping, encryption + Helia storage of every EMR, and the one ledger transaction
 *    up to its commit. Target < 2 s.
 * 4. search load: the query `emrs(first: 20) { … }` as the researcher and as a patient, C requests in flight for D
 *    seconds over keep-alive loopback connections (fetch / undici). Each request carries a fresh single-use token
 *    (ES256K signature). They are minted before the phase (PREMINT_PER_SECOND per second of load, 60 s lifetime;
 *    past that supply the generator mints inline and says so), so that the generator's share of the cores goes to HTTP,
 *    as a client on another machine would leave the server's; --mint-inline mints each token inside the request loop
 *    instead, and then the latency includes it. By default the load
 *    generator runs in a worker thread (its own event loop, like a client in another process on the same machine);
 *    the node's thread serves HTTP, GraphQL and the dev network. Target ≥ 500 requests/s.
 * 5. the cost of one request, taken apart on the same node, sequentially: minting the token (client), verifying it
 *    (signature + replay cache, server), reading the participant from the ledger (the node does it twice per
 *    request: once to resolve the token's key, once to load the caller), and the ledger evaluation of the search
 *    itself (SearchRecords through LedgerClient: gateway gRPC → chaincode → world state), which the resolver asks
 *    for a page of 100 records whatever `first` is; the `emrs` resolver in-process on each of its two paths (the
 *    node's record index, and the chaincode's SearchRecords when the index is off or not caught up); and one whole
 *    request at concurrency 1.
 *
 * The node's record index (PIE_SEARCH_READ_MODEL, on by default) is waited for before the search load: it is fed
 * from the ledger's blocks in the background and answers `emrs` once it has caught up with the chain.
 */
import { promises as fsp, existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { AccessTokenVerifier, ReplayCache, mintAccessToken } from '../src/auth/index.js';
import { PieClient } from '../src/client/index.js';
import { SecretKey } from '../src/crypto/umbral/index.js';
import { ReferenceDirectory } from '../src/fhir/directory.js';
import { loadNodeConfig } from '../src/node/config.js';
import { createLogger } from '../src/node/log.js';
import { startNode } from '../src/node/node.js';
import type { PieNode } from '../src/node/node.js';
import { createLoaders } from '../src/resolvers/index.js';
import type { Caller, NodeServices } from '../src/resolvers/index.js';
import { searchRecords } from '../src/resolvers/search.js';
import { gc, median, percentile } from './stats.js';

// ---------------------------------------------------------------------------------------------------------- options
const args = process.argv.slice(2);
function option(name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}`) return args[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}
function count(name: string, dflt: number, max = 1_000_000): number {
  const v = Number(option(name) ?? dflt);
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`--${name} must be an integer in 1..${max}`);
  return v;
}
const INGEST_ROUNDS = count('ingest-rounds', 5, 1000);
const CONCURRENCY = count('concurrency', 16, 4096);
const SECONDS = count('seconds', 10, 3600);
const SAME_THREAD = args.includes('--same-thread');
const MINT_INLINE = args.includes('--mint-inline');
/** tokens minted ahead per second of load (warm-up included): above any rate this machine reaches */
const PREMINT_PER_SECOND = 1000;
const BATCH_TIMEOUT = option('batch-timeout-ms');
const WARMUP_SECONDS = 1;
const TARGET_INGEST_MS = 2000;
const TARGET_RPS = 500;
const WORKER_ROLE = 'pie-bench-node-load';

const SEARCH_FIELDS = 'edges { cursor node { id summary { category securityLevel year codes } } } pageInfo { hasNextPage endCursor }';
const SEARCH = `{ emrs(first: 20) { ${SEARCH_FIELDS} } }`;
/** the same search restricted to LOW records: what a LOW-clearance researcher can see anyway */
const SEARCH_LOW = `{ emrs(first: 20, filter: { securityLevel: LOW }) { ${SEARCH_FIELDS} } }`;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pubHex = (sk: SecretKey): string => hex(sk.publicKey().toCompressedBytes());
const fmtMs = (x: number): string => (Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

// ------------------------------------------------------------------------------------------------ the load generator
interface LoadJob {
  url: string;
  audience: string;
  participantId: string;
  signingKeyHex: string;
  query: string;
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  /** single-use tokens minted before the load (used first, one per request); past them tokens are minted inline */
  tokens: string[];
}

interface LoadResult {
  /** client latencies of the measured requests (ms): token mint → answer parsed */
  latencies: number[];
  ok: number;
  errors: number;
  errorSample?: string;
  wallMs: number;
  /** edges in the last good answer (to show the query did find something) */
  edges: number;
  /** the generator's own event-loop utilisation during the measured part */
  generatorElu: number;
  /** tokens minted before the load started, and those minted inside the loop (supply exhausted, or --mint-inline) */
  tokens: { preminted: number; inline: number };
}

/** C loops, each sending one request after the other until the deadline; requests of the warm-up are not counted. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  const signingKey = SecretKey.fromBEBytes(Buffer.from(job.signingKeyHex, 'hex'));
  const endpoint = `${job.url}/graphql`;
  const body = JSON.stringify({ query: job.query });
  const mint = (): string => mintAccessToken({ signingKey, participantId: job.participantId, audience: job.audience, lifetimeSeconds: 60 });
  const supply = [...job.tokens];
  const tokens = { preminted: supply.length, inline: 0 };
  const nextToken = (): string => {
    const t = supply.pop();
    if (t !== undefined) return t;
    tokens.inline++;
    return mint();
  };
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let errorSample: string | undefined;
  let edges = 0;
  const t0 = performance.now();
  const measureFrom = t0 + job.warmupSeconds * 1000;
  const end = measureFrom + job.seconds * 1000;
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  const loop = async (): Promise<void> => {
    for (;;) {
      const start = performance.now();
      if (start >= end) return;
      const measured = start >= measureFrom;
      if (measured && elu0 === undefined) elu0 = performance.eventLoopUtilization();
      let failure: string | undefined;
      try {
        const token = nextToken();
        const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
        const answer = (await res.json()) as { data?: { emrs?: { edges: unknown[] } }; errors?: { message: string }[] };
        if (!res.ok || answer.errors !== undefined || answer.data?.emrs === undefined) failure = `HTTP ${res.status}: ${answer.errors?.[0]?.message ?? 'no data'}`;
        else edges = answer.data.emrs.edges.length;
      } catch (e) {
        failure = (e as Error).message;
      }
      if (!measured) continue;
      const ms = performance.now() - start;
      if (failure === undefined) {
        ok++;
        latencies.push(ms);
      } else {
        errors++;
        errorSample ??= failure;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const generatorElu = elu0 === undefined ? NaN : performance.eventLoopUtilization(elu0).utilization;
  return { latencies, ok, errors, errorSample, wallMs: Math.max(0, performance.now() - measureFrom), edges, generatorElu, tokens };
}

/** The load in a worker thread running this module (its own event loop), or on this thread with --same-thread. */
async function load(job: LoadJob): Promise<LoadResult> {
  if (SAME_THREAD) return runLoad(job);
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: WORKER_ROLE, job } });
  try {
    return await new Promise<LoadResult>((resolvePromise, reject) => {
      worker.once('message', (m: { result?: LoadResult; error?: string }) => (m.result ? resolvePromise(m.result) : reject(new Error(m.error))));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`load worker exited with code ${code}`)));
    });
  } finally {
    await worker.terminate();
  }
}

// ------------------------------------------------------------------------------------------------------- the samples
const SAMPLES = resolve(
  [option('samples'), process.env['PIE_FHIR_SAMPLES'], join(process.cwd(), '../shared/fhir-samples'), '/work/shared/fhir-samples'].find(
    (d): d is string => d !== undefined && d !== '' && existsSync(join(d, 'README.md')),
  ) ?? join(process.cwd(), '../shared/fhir-samples'),
);

function loadSamples(): { patients: { file: string; text: string; bundle: Record<string, unknown> }[]; directory: ReferenceDirectory } {
  const files = readdirSync(SAMPLES);
  const patientFiles = files.filter((f) => /^[A-Z][a-z]+\d+_[A-Z][a-z]+\d+_.*\.json$/.test(f)).sort();
  const directoryFiles = files.filter((f) => /^(hospital|practitioner)Information\d+\.json$/.test(f)).sort();
  if (patientFiles.length === 0 || directoryFiles.length !== 2) throw new Error(`expected Synthea patient bundles and two directory bundles in ${SAMPLES}`);
  const directory = ReferenceDirectory.fromBundles(...directoryFiles.map((f) => JSON.parse(readFileSync(join(SAMPLES, f), 'utf8')) as unknown));
  const patients = patientFiles.map((file) => {
    const text = readFileSync(join(SAMPLES, file), 'utf8');
    return { file, text, bundle: JSON.parse(text) as Record<string, unknown> };
  });
  return { patients, directory };
}

// --------------------------------------------------------------------------------------------------------- the node
interface Holder {
  id: string;
  signingKey: SecretKey;
  client: PieClient;
}

const REGISTER = 'mutation($input: RegisterParticipantInput!) { registerParticipant(input: $input) { participant { id } apiSecret } }';
const INGEST = 'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id } transactionId blockNumber } }';

async function registerWithKeys(admin: PieClient, kind: string, extra: Record<string, unknown> = {}): Promise<Holder> {
  const signingKey = SecretKey.random();
  const encryptionKey = SecretKey.random();
  const r = await admin.request<{ registerParticipant: { participant: { id: string } } }>(REGISTER, {
    input: { kind, signingKey: pubHex(signingKey), encryptionKey: pubHex(encryptionKey), ...extra },
  });
  const id = r.registerParticipant.participant.id;
  return { id, signingKey, client: admin.as({ participantId: id, signingKey }) };
}

/** Median / p99 of `n` sequential runs of `fn` (ms), after `warm` unmeasured runs. */
async function timeIt(n: number, fn: () => unknown, warm = Math.min(20, n)): Promise<{ median: number; p99: number; n: number }> {
  for (let i = 0; i < warm; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return { median: median(xs), p99: percentile(xs, 99), n };
}

// ---------------------------------------------------------------------------------------------------------- main
interface LoadRow {
  caller: string;
  query: string;
  result: LoadResult;
  rps: number;
  p50: number;
  p99: number;
  serverElu: number;
  cpuCores: number;
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
  console.log(`# PIE node bench (issue 6), ${new Date().toISOString()}`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.platform}; load average ${machine.loadavg.join(' ')}`);

  const { patients: samples, directory } = loadSamples();
  // the sample closest to 1 MB
  const big = [...samples].sort((a, b) => Math.abs(a.text.length - 1e6) - Math.abs(b.text.length - 1e6))[0]!;
  const bigMB = Buffer.byteLength(big.text) / 1e6;

  const dir = await fsp.mkdtemp(join(os.tmpdir(), 'pie-bench-node-'));
  let node: PieNode | undefined;
  const started = performance.now();
  try {
    const env: Record<string, string> = { PIE_DATA_DIR: join(dir, 'data'), PIE_PORT: '0' };
    if (BATCH_TIMEOUT !== undefined) env['PIE_DEVNET_BATCH_TIMEOUT_MS'] = BATCH_TIMEOUT;
    const config = await loadNodeConfig({ env, cwd: dir });
    const log = createLogger({ level: 'warn' });
    const tStart = performance.now();
    node = await startNode(config, log, { directory });
    const startMs = performance.now() - tStart;
    const batch = config.ledger.mode === 'devnet' ? `${config.ledger.batchTimeoutMs} ms` : 'n/a';
    console.log(`node: started in ${fmtMs(startMs)} ms at ${node.url}; dev network batch timeout ${batch}; load generator on ${SAME_THREAD ? "the node's thread (--same-thread)" : 'a worker thread'}; gc ${'gc' in globalThis ? 'between phases' : 'not exposed'}`);
    console.log(`samples: ${samples.length} patient bundles from ${SAMPLES}; directory of ${directory.size} resources`);

    // ---- participants
    const anonymous = new PieClient(node.url, config.audience);
    const admin = await anonymous.registerFirstAdmin(node.bootstrapCode!, { signing: SecretKey.random(), encryption: SecretKey.random() });
    const reg = await admin.request<{ registerParticipant: { participant: { id: string }; apiSecret: string } }>(REGISTER, { input: { kind: 'PHYSICIAN', custodial: true } });
    const physician = anonymous.as({ participantId: reg.registerParticipant.participant.id, apiSecret: reg.registerParticipant.apiSecret });
    const researcher = await registerWithKeys(admin, 'RESEARCHER', { clearance: 'LOW' });
    const patients: Holder[] = [];
    for (let i = 0; i < samples.length; i++) patients.push(await registerWithKeys(admin, 'PATIENT'));

    // ---- warm-up: every sample once
    const warm: { file: string; ms: number; records: number }[] = [];
    for (const [i, s] of samples.entries()) {
      const t = performance.now();
      const r = await physician.request<{ ingestFhir: { records: unknown[] } }>(INGEST, { b: s.bundle, p: patients[i]!.id });
      warm.push({ file: s.file, ms: performance.now() - t, records: r.ingestFhir.records.length });
    }
    console.log(`\n## warm-up: each sample bundle ingested once`);
    for (const w of warm) console.log(`  ${w.file.slice(0, 40).padEnd(40)} ${fmtMs(w.ms).padStart(7)} ms  ${w.records} EMRs`);

    // ---- ingest latency
    gc();
    const ingestMs: number[] = [];
    let ingestRecords = 0;
    for (let i = 0; i < INGEST_ROUNDS; i++) {
      const fresh = await registerWithKeys(admin, 'PATIENT');
      const t = performance.now();
      const r = await physician.request<{ ingestFhir: { records: unknown[] } }>(INGEST, { b: big.bundle, p: fresh.id });
      ingestMs.push(performance.now() - t);
      ingestRecords = r.ingestFhir.records.length;
    }
    const ingest = { median: median(ingestMs), p99: percentile(ingestMs, 99), min: Math.min(...ingestMs), max: Math.max(...ingestMs) };
    console.log(`\n## ingestFhir of ${big.file} (${bigMB.toFixed(2)} MB, ${ingestRecords} EMRs), ${INGEST_ROUNDS} rounds, each for a fresh patient`);
    console.log(`  median ${fmtMs(ingest.median)} ms, p99 ${fmtMs(ingest.p99)} ms [min ${fmtMs(ingest.min)} – max ${fmtMs(ingest.max)}]; ${(bigMB / (ingest.median / 1000)).toFixed(2)} MB/s`);
    console.log(`  target < ${TARGET_INGEST_MS} ms (median): ${ingest.median < TARGET_INGEST_MS ? 'met' : 'NOT met'}`);

    // ---- the record index must have caught up before the search load (it answers emrs from then on)
    const readModel = node.services.recordIndex;
    if (readModel !== undefined) {
      const t0 = performance.now();
      while (!(await readModel.readyFor(node.services.ledger.committedHeight))) {
        if (performance.now() - t0 > 60_000) throw new Error('the record index did not catch up within 60 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      console.log(`\nrecord index: caught up at height ${readModel.index.height} with ${readModel.index.size} records (waited ${fmtMs(performance.now() - t0)} ms)`);
    } else console.log('\nrecord index: off (PIE_SEARCH_READ_MODEL=false): emrs evaluates SearchRecords');

    // ---- the cost of one request, taken apart
    gc();
    const patient = patients[0]!;
    const ledger = node.services.ledger;
    const verifier = new AccessTokenVerifier({ audience: config.audience, resolveSigningKey: async () => pubHex(researcher.signingKey), replayCache: new ReplayCache() });
    const mintOnce = (): string => mintAccessToken({ signingKey: researcher.signingKey, participantId: researcher.id, audience: config.audience, lifetimeSeconds: 60 });
    const N = 200;
    const lowPage = await ledger.searchRecords('securityLevel', ['LOW'], { pageSize: 100 });
    // the emrs resolver in-process (no HTTP, no GraphQL), as the researcher, on each path
    const researcherCaller: Caller = { participant: await ledger.participant(researcher.id), custodial: false };
    const resolve = (services: NodeServices) => () => searchRecords({ services, caller: researcherCaller, loaders: createLoaders(services.ledger) }, {}, 20, undefined);
    const onChaincode: NodeServices = { ...node.services, recordIndex: undefined };
    const lowBytes = Buffer.byteLength(JSON.stringify(lowPage.items));
    const parts = {
      mint: await timeIt(N, mintOnce),
      verify: await timeIt(N, () => verifier.verify(mintOnce())),
      participant: await timeIt(N, () => ledger.participant(researcher.id)),
      searchLow100: await timeIt(N, () => ledger.searchRecords('securityLevel', ['LOW'], { pageSize: 100 })),
      searchLow21: await timeIt(N, () => ledger.searchRecords('securityLevel', ['LOW'], { pageSize: 21 })),
      searchPatient100: await timeIt(N, () => ledger.searchRecords('patient', [patient.id], { pageSize: 100 })),
      resolverIndex: readModel === undefined ? undefined : await timeIt(N, resolve(node.services)),
      resolverChaincode: await timeIt(N, resolve(onChaincode)),
    };
    // whole requests, one at a time, through the same path as the load (token minted per request)
    const oneRequest = async (who: Holder, query: string): Promise<void> => {
      const token = mintAccessToken({ signingKey: who.signingKey, participantId: who.id, audience: config.audience, lifetimeSeconds: 60 });
      const res = await fetch(`${node!.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
      const answer = (await res.json()) as { errors?: { message: string }[] };
      if (answer.errors !== undefined) throw new Error(answer.errors[0]!.message);
    };

    // ---- the search load
    // The researcher's query without a filter is tried first; if the node refuses it, the LOW-filtered one is used.
    const researcherProbe = await oneRequest(researcher, SEARCH).then(
      () => undefined,
      (e: unknown) => (e as Error).message,
    );
    const researcherQuery = researcherProbe === undefined ? SEARCH : SEARCH_LOW;
    const sequential = {
      researcher: await timeIt(100, () => oneRequest(researcher, researcherQuery)),
      patient: await timeIt(100, () => oneRequest(patient, SEARCH)),
    };

    const rows: LoadRow[] = [];
    for (const [caller, who, query, label] of [
      ['researcher', researcher, researcherQuery, researcherQuery === SEARCH ? 'emrs(first: 20)' : 'emrs(first: 20, filter: {securityLevel: LOW})'],
      ['patient', patient, SEARCH, 'emrs(first: 20)'],
    ] as const) {
      // tokens minted before the phase (not timed), unless --mint-inline
      const tokens = MINT_INLINE
        ? []
        : Array.from({ length: Math.ceil((WARMUP_SECONDS + SECONDS) * PREMINT_PER_SECOND) }, () =>
            mintAccessToken({ signingKey: who.signingKey, participantId: who.id, audience: config.audience, lifetimeSeconds: 60 }),
          );
      gc();
      const elu0 = performance.eventLoopUtilization();
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      const result = await load({
        tokens,
        url: node.url,
        audience: config.audience,
        participantId: who.id,
        signingKeyHex: hex(who.signingKey.toBEBytes()),
        query,
        concurrency: CONCURRENCY,
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
      });
      const wall = performance.now() - w0;
      const cpu = process.cpuUsage(cpu0);
      rows.push({
        caller,
        query: label,
        result,
        rps: result.ok / (result.wallMs / 1000),
        p50: median(result.latencies),
        p99: percentile(result.latencies, 99),
        // the node's thread over the whole phase (warm-up included); CPU of the process (node + generator + validator pool)
        serverElu: performance.eventLoopUtilization(elu0).utilization,
        cpuCores: (cpu.user + cpu.system) / 1000 / wall,
      });
    }

    // ---- report
    console.log(`\n## search load: C = ${CONCURRENCY} in flight for ${SECONDS} s (after ${WARMUP_SECONDS} s warm-up), keep-alive loopback, a fresh token per request`);
    if (researcherProbe !== undefined) {
      console.log(`  NOTE: the researcher's emrs(first: 20) without a filter is refused by the node ("${researcherProbe}");`);
      console.log('        the researcher rows use filter {securityLevel: LOW} instead (the records a LOW clearance can see).');
    }
    const HEADER = `  ${'caller'.padEnd(11)} ${'query'.padEnd(46)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'ok'.padStart(7)} ${'errors'.padStart(6)} ${'edges'.padStart(5)} ${'node loop'.padStart(9)} ${'gen loop'.padStart(8)} ${'CPU'.padStart(5)}`;
    console.log(HEADER);
    console.log(`  ${'-'.repeat(HEADER.length - 2)}`);
    for (const r of rows) {
      console.log(
        `  ${r.caller.padEnd(11)} ${r.query.padEnd(46)} ${r.rps.toFixed(0).padStart(7)} ${fmtMs(r.p50).padStart(7)} ${fmtMs(r.p99).padStart(7)} ${String(r.result.ok).padStart(7)} ${String(r.result.errors).padStart(6)} ${String(r.result.edges).padStart(5)} ${r.serverElu.toFixed(2).padStart(9)} ${r.result.generatorElu.toFixed(2).padStart(8)} ${r.cpuCores.toFixed(2).padStart(5)}`,
      );
      if (r.result.errorSample !== undefined) console.log(`      first error: ${r.result.errorSample}`);
      const t = r.result.tokens;
      if (t.inline > 0) console.log(`      tokens: ${t.preminted} minted before the phase, ${t.inline} minted inside the load loop`);
    }
    console.log(
      MINT_INLINE
        ? '  latency = token mint → answer parsed, at the client (--mint-inline); node loop = event-loop utilisation of the node\'s thread (HTTP,'
        : '  latency = request sent → answer parsed (tokens minted before the phase); node loop = event-loop utilisation of the node\'s thread (HTTP,',
    );
    console.log('  GraphQL, dev network); gen loop = the load generator\'s; CPU = process CPU time / wall time (cores).');

    console.log(`\n## one request taken apart (sequential, median [p99] of ${N}; on the node's thread while idle)`);
    const line = (what: string, t: { median: number; p99: number }, note = ''): void =>
      console.log(`  ${what.padEnd(72)} ${fmtMs(t.median).padStart(7)} ms [${fmtMs(t.p99)}]${note ? `  ${note}` : ''}`);
    line('mint a token (client: ES256K sign)', parts.mint);
    line('mint + verify a token (server: signature, claims, replay cache)', parts.verify);
    line('ledger: GetParticipant (evaluate; at most once per caller per second)', parts.participant);
    line('ledger: SearchRecords securityLevel=LOW, page 100', parts.searchLow100, `${lowPage.items.length} records, ${(lowBytes / 1024).toFixed(0)} KiB of JSON`);
    line('ledger: SearchRecords securityLevel=LOW, page 21 (what emrs(first: 20) asks)', parts.searchLow21);
    line('ledger: SearchRecords patient=<id>, page 100', parts.searchPatient100);
    if (parts.resolverIndex !== undefined) line('emrs(first: 20) resolver as the researcher, from the record index', parts.resolverIndex);
    line('emrs(first: 20) resolver as the researcher, from the chaincode (index off)', parts.resolverChaincode);
    line(`whole request, C = 1: researcher ${researcherQuery === SEARCH ? 'emrs(first: 20)' : 'emrs(first: 20, LOW)'}`, sequential.researcher);
    line('whole request, C = 1: patient emrs(first: 20)', sequential.patient);
    const search = parts.resolverIndex ?? parts.resolverChaincode;
    const accounted = parts.verify.median + search.median;
    console.log(
      `  → token + the search (${parts.resolverIndex === undefined ? 'chaincode' : 'record index'}) ≈ ${fmtMs(accounted)} ms of the researcher's ${fmtMs(sequential.researcher.median)} ms; the rest is HTTP, GraphQL parse/validate/execute and JSON`,
    );

    console.log('\n## targets');
    console.log(`  ingestFhir of a ~1 MB bundle < ${TARGET_INGEST_MS} ms: median ${fmtMs(ingest.median)} ms — ${ingest.median < TARGET_INGEST_MS ? 'met' : 'NOT met'}`);
    for (const r of rows) console.log(`  search ≥ ${TARGET_RPS} req/s (${r.caller}): ${r.rps.toFixed(0)} req/s — ${r.rps >= TARGET_RPS ? 'met' : 'NOT met'}${r.result.errors ? ` (${r.result.errors} errors)` : ''}`);
    console.log(`  measured in ${((performance.now() - started) / 1000).toFixed(1)} s; load average now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log(
      JSON.stringify({
        bench: 'node',
        machine,
        options: { ingestRounds: INGEST_ROUNDS, concurrency: CONCURRENCY, seconds: SECONDS, sameThread: SAME_THREAD, batchTimeout: batch },
        startMs,
        ingest: { file: big.file, mb: bigMB, emrs: ingestRecords, ...ingest, rounds: ingestMs },
        load: rows.map((r) => ({ caller: r.caller, query: r.query, rps: r.rps, p50: r.p50, p99: r.p99, ok: r.result.ok, errors: r.result.errors, serverElu: r.serverElu, generatorElu: r.result.generatorElu, cpuCores: r.cpuCores })),
        parts: { ...parts, sequential },
        researcherUnfilteredRefused: researcherProbe ?? null,
        recordIndex: readModel === undefined ? null : { height: Number(readModel.index.height), records: readModel.index.size },
        targets: { ingestMs: TARGET_INGEST_MS, rps: TARGET_RPS },
      }),
    );
  } finally {
    await node?.stop();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
} else if ((workerData as { role?: string } | null)?.role === WORKER_ROLE) {
  runLoad((workerData as { job: LoadJob }).job).then(
    (result) => parentPort!.postMessage({ result }),
    (e: unknown) => parentPort!.postMessage({ error: (e as Error).stack ?? String(e) }),
  );
}
