// Benchmark: the PIE contract on the embedded Fabric-compatible dev network, through the real client stack
// (LedgerClient over @hyperledger/fabric-gateway → Gateway gRPC service → in-process fabric-shim chaincode →
// orderer → validating committer with a durable block store). Client and network share this one Node process.
//
//   npm run bench:ledger                      (= tsc -p tsconfig.build.json && node --expose-gc dist/bench/ledger.js)
//   node --expose-gc dist/bench/ledger.js --quick
//   node --expose-gc dist/bench/ledger.js --timeouts=0,20 --workloads=create --no-fsync
//   node --expose-gc dist/bench/ledger.js --same-thread (client and network on one event loop, as in the tests)
//   node --expose-gc dist/bench/ledger.js --timeouts=0 --concurrency=8,64,256   (closed-loop sizes at 0/20 ms)
//   node --expose-gc dist/bench/ledger.js --timeouts=0 --rates=150,300           (open-loop phases at 0/20 ms)
//   node --expose-gc dist/bench/ledger.js --timeouts=0 --concurrency=64,256 --repeat=3
//                                                                                 (every closed-loop phase 3 times,
//                                                                                  interleaved; the summary uses medians)
//   node --expose-gc dist/bench/ledger.js --timeouts=0 --commit-status            (CommitStatus per transaction instead
//                                                                                  of the filtered-block stream)
//   node --expose-gc dist/bench/ledger.js --timeouts=0 --profile=/tmp/prof        (CPU profiles of each closed-loop
//                                                                                  phase, one per thread)
//
// For every orderer batch timeout (0, 20 and 2000 ms; Fabric's default is 2 s): a fresh network in a temp dir (fsync
// on unless --no-fsync), the PIE contract, one LedgerClient for the organisation admin (registrations) and one for
// a relaying PIE node identity (every measured transaction). Participants: a patient and a physician (author) at
// Hospital1MSP, and a researcher (requester). The network runs in a worker thread, as a PIE node and a Fabric peer
// run in separate processes (each side gets an event loop; both share the machine's 2 cores); --same-thread puts
// client and network on one event loop.
//
// Workloads (each transaction touches keys no other transaction touches, so there should be no MVCC conflicts; the
// clients run with conflictRetries 0 so that any conflict shows up as a failure instead of a silent retry):
//   create record   CreateRecord of a record signed by the physician (inputs built and signed before timing)
//   request access  RequestAccess by the researcher on a LOW record (records created untimed beforehand, one
//                   request per record; the signed actions are signed just before their phase)
// Modes:
//   sequential  one transaction at a time: commit latency
//   concurrent  closed loop of C workers on the one node client: throughput = committed txs / wall time
// Latency = from the submit call (endorse + submit) to the commit status. Every phase is preceded by a warm-up on
// the same network. Medians and percentiles only; there are no timing assertions.
import '../src/chain/devnet/shim-logging.js';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Session } from 'node:inspector/promises';
import { contracts } from '../chaincode/src/index.js';
import { canonicalRecordBytes } from '../chaincode/src/domain/index.js';
import type { AccessPolicy, Participant, SecurityLevel, SignedAction } from '../chaincode/src/domain/index.js';
import { LedgerClient, LedgerClientError } from '../src/chain/client.js';
import type { LedgerIdentity } from '../src/chain/client.js';
import { blockEnvelopes } from '../src/chain/devnet/blocks.js';
import { Devnet } from '../src/chain/devnet/devnet.js';
import { PieLedger, signAction } from '../src/chain/pie-ledger.js';
import type { SignedRecordInput } from '../src/chain/pie-ledger.js';
import { SecretKey, Signer, encrypt } from '../src/crypto/umbral/index.js';
import type { PublicKey } from '../src/crypto/umbral/index.js';
import { gc, median, percentile } from './stats.js';

// ---------------------------------------------------------------------------------------------------------- options
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const list = (name: string): string[] | undefined =>
  args
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const QUICK = flag('quick');
/** --commit-status: learn commits with one CommitStatus call per transaction instead of the filtered-block stream */
const COMMIT_EVENTS = !flag('commit-status');
const FSYNC = !flag('no-fsync');
/** the network in a worker thread (its own event loop, so client and network can use a core each) */
const WORKER = !flag('same-thread');
const TIMEOUTS = (list('timeouts') ?? ['0', '20', '2000']).map(Number);
for (const t of TIMEOUTS) if (!Number.isInteger(t) || t < 0 || t > 60_000) throw new Error(`--timeouts: ${t} is not 0–60000 ms`);
const WORKLOADS = list('workloads') ?? ['create', 'request'];
/** --concurrency=64,256: the closed-loop sizes at the short timeouts (default 64; 32 with --quick) */
const CONCURRENCY = list('concurrency')?.map(Number);
for (const c of CONCURRENCY ?? []) if (!Number.isInteger(c) || c < 2 || c > 4096) throw new Error(`--concurrency: ${c} is not 2–4096`);
/** --rates=150,300: open-loop phases at the short timeouts (transactions started at a fixed rate, none waiting for another) */
const RATES = list('rates')?.map(Number) ?? [];
for (const r of RATES) if (!Number.isFinite(r) || r <= 0 || r > 5000) throw new Error(`--rates: ${r} is not a rate in tx/s (0–5000]`);
/** --repeat=N: the closed-loop phases at the short timeouts N times, interleaved (C = 64, 256, 64, 256, …); the summary judges medians */
const REPEAT = Number(list('repeat')?.[0] ?? 1);
if (!Number.isInteger(REPEAT) || REPEAT < 1 || REPEAT > 20) throw new Error(`--repeat: ${REPEAT} is not 1–20`);
const OPEN_SECONDS = QUICK ? 3 : 10;
/** --profile=DIR: V8 CPU profiles of every closed-loop phase, client and network thread, written to DIR */
const PROFILE_DIR = args.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);
const CHANNEL = 'pie';
const PAPER_UPLOAD_MS = 2100; // the paper's record upload latency, dominated by Fabric's 2 s batch timeout
const TARGET_P50_MS = 50;
const TARGET_TPS = 300;

interface Plan {
  warmup: number;
  seqN: number;
  /** concurrent phases: [C workers, transactions] */
  conc: [number, number][];
  /** open-loop phases: [rate in tx/s, transactions] */
  open: [number, number][];
}
/** How much to run at a batch timeout. */
function plan(timeoutMs: number): Plan {
  const slow = timeoutMs >= 500;
  const open = slow ? [] : RATES.map((r): [number, number] => [r, Math.round(r * OPEN_SECONDS)]);
  if (QUICK) return slow ? { warmup: 0, seqN: 2, conc: [[128, 128]], open } : { warmup: 32, seqN: 20, conc: (CONCURRENCY ?? [32]).map((c) => [c, Math.max(200, 4 * c)]), open };
  if (slow) return { warmup: 64, seqN: 8, conc: [[256, 768], [1024, 3072]], open };
  const sizes = Array.from({ length: REPEAT }, () => CONCURRENCY ?? [64]).flat();
  return { warmup: 128, seqN: timeoutMs === 0 ? 200 : 100, conc: sizes.map((c) => [c, Math.max(2000, 8 * c)]), open };
}

// ---------------------------------------------------------------------------------------------------------- helpers
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pubHex = (sk: SecretKey): string => hex(sk.publicKey().toCompressedBytes());
const fmtMs = (x: number): string => (Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fmtTps = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

let cidCounter = 0;
/** A distinct CIDv1-shaped (base32) string per call. */
function freshCid(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let n = ++cidCounter;
  let tail = '';
  for (let i = 0; i < 12; i++) {
    tail = alphabet[n % 32]! + tail;
    n = Math.floor(n / 32);
  }
  return `bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oc${tail}`;
}

/** Median write+fsync latency of an 8 KiB append in `dir` (what the block store pays twice per block). */
async function fsyncProbe(dir: string, n = 40): Promise<number> {
  const path = join(dir, 'fsync-probe');
  const h = await fsp.open(path, 'w');
  const buf = Buffer.alloc(8192, 7);
  const t: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      await h.write(buf);
      await h.sync();
      t.push(performance.now() - s);
    }
  } finally {
    await h.close();
    await fsp.unlink(path).catch(() => undefined);
  }
  return median(t);
}

// ---------------------------------------------------------------------------------------------------------- network
/** What the benchmark needs of a network, whether it runs on this thread or in a worker thread. */
interface NetHandle {
  readonly endpoint: string;
  readonly admin: LedgerIdentity;
  /** a plain identity of the gateway organisation (role=node): the relaying PIE node */
  readonly node: LedgerIdentity;
  height(): Promise<number>;
  /** transactions in the largest block and total serialized bytes of blocks [from, to) */
  blockStats(from: number, to: number): Promise<{ maxTx: number; bytes: number }>;
  /** the network thread's event-loop counters, when the network has a thread of its own */
  elu(): Promise<EventLoopUtilization | undefined>;
  /** keys in the chaincode's world state */
  stateKeys(): Promise<number>;
  /** starts the network thread's CPU profiler (no-op on the client's thread, which `profiled` covers) */
  profileStart(): Promise<void>;
  /** stops it and returns the profile (undefined when the network shares the client's thread) */
  profileStop(): Promise<object | undefined>;
  stop(): Promise<void>;
}

/** A V8 CPU profiler on the calling thread. */
class ThreadProfiler {
  private session: Session | undefined;
  async start(): Promise<void> {
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 200 });
    await this.session.post('Profiler.start');
  }
  async stop(): Promise<object> {
    const s = this.session!;
    const { profile } = await s.post('Profiler.stop');
    s.disconnect();
    this.session = undefined;
    return profile;
  }
}

interface NetOptions {
  dataDir: string;
  batchTimeoutMs: number;
  fsync: boolean;
}

const pem = (id: LedgerIdentity): LedgerIdentity => ({ mspId: id.mspId, certificatePem: id.certificatePem, privateKeyPem: id.privateKeyPem });

async function startNet(o: NetOptions): Promise<NetHandle> {
  const net = await Devnet.start({ dataDir: o.dataDir, contracts, batch: { batchTimeoutMs: o.batchTimeoutMs }, fsync: o.fsync });
  const node = await net.issue(net.gatewayOrg, 'node1', { role: 'node' });
  return {
    endpoint: net.endpoint,
    admin: pem(net.admin()),
    node: pem(node),
    height: async () => net.ledger.height,
    blockStats: async (from, to) => {
      let maxTx = 0;
      let bytes = 0;
      for (let b = from; b < to; b++) {
        const block = await net.ledger.block(b);
        maxTx = Math.max(maxTx, blockEnvelopes(block).length);
        bytes += block.serializeBinary().length;
      }
      return { maxTx, bytes };
    },
    elu: async () => undefined,
    stateKeys: async () => net.ledger.state.size(net.chaincodeName),
    profileStart: async () => undefined,
    profileStop: async () => undefined,
    stop: () => net.stop(),
  };
}

const WORKER_ROLE = 'pie-bench-ledger-network';
type WorkerCall =
  | { op: 'height' }
  | { op: 'blockStats'; from: number; to: number }
  | { op: 'elu' }
  | { op: 'stateKeys' }
  | { op: 'profileStart' }
  | { op: 'profileStop' }
  | { op: 'stop' };
type WorkerRequest = WorkerCall & { id: number };

/** The network in a worker thread running this same module; calls go over postMessage. */
async function startNetInWorker(o: NetOptions): Promise<NetHandle> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: WORKER_ROLE, options: o } });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failed: Error | undefined;
  const fail = (e: Error): void => {
    failed = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  const ready = new Promise<{ endpoint: string; admin: LedgerIdentity; node: LedgerIdentity }>((resolve, reject) => {
    worker.once('message', (m: { ready?: { endpoint: string; admin: LedgerIdentity; node: LedgerIdentity }; error?: string }) =>
      m.ready ? resolve(m.ready) : reject(new Error(`network worker: ${m.error}`)),
    );
    worker.once('error', reject);
  });
  const info = await ready;
  worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(`network worker: ${m.error}`));
    else p.resolve(m.result);
  });
  worker.on('error', fail);
  let stopping = false;
  worker.on('exit', (code) => {
    if (!stopping) fail(new Error(`network worker exited (${code})`));
  });
  const call = <T>(req: WorkerCall): Promise<T> => {
    if (failed) return Promise.reject(failed);
    const id = ++nextId;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...req, id });
    });
  };
  return {
    ...info,
    height: () => call<number>({ op: 'height' }),
    blockStats: (from, to) => call<{ maxTx: number; bytes: number }>({ op: 'blockStats', from, to }),
    elu: () => call<EventLoopUtilization>({ op: 'elu' }),
    stateKeys: () => call<number>({ op: 'stateKeys' }),
    profileStart: () => call<void>({ op: 'profileStart' }),
    profileStop: () => call<object>({ op: 'profileStop' }),
    stop: async () => {
      await call<void>({ op: 'stop' });
      stopping = true;
      await worker.terminate();
    },
  };
}

/** Worker side: start the network, answer the main thread's calls. */
async function serveNetwork(o: NetOptions): Promise<void> {
  const port = parentPort!;
  let net: NetHandle;
  try {
    net = await startNet(o);
  } catch (e) {
    port.postMessage({ error: e instanceof Error ? e.message : String(e) });
    return;
  }
  const profiler = new ThreadProfiler();
  port.on('message', (req: WorkerRequest) => {
    const run = async (): Promise<unknown> => {
      switch (req.op) {
        case 'height':
          return net.height();
        case 'blockStats':
          return net.blockStats(req.from, req.to);
        case 'elu':
          return performance.eventLoopUtilization();
        case 'stateKeys':
          return net.stateKeys();
        case 'profileStart':
          return profiler.start();
        case 'profileStop':
          return profiler.stop();
        case 'stop':
          await net.stop(); // the main thread terminates the worker once it has the answer
          return undefined;
      }
    };
    run().then(
      (result) => port.postMessage({ id: req.id, result }),
      (e: unknown) => port.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) }),
    );
  });
  port.postMessage({ ready: { endpoint: net.endpoint, admin: net.admin, node: net.node } });
}

// ---------------------------------------------------------------------------------------------------------- actors
interface Actor {
  readonly participant: Participant;
  readonly signingSk: SecretKey;
  readonly encryptionSk: SecretKey;
}

async function register(pie: PieLedger, kind: Participant['kind'], clearance: SecurityLevel): Promise<Actor> {
  const signingSk = SecretKey.random();
  const encryptionSk = SecretKey.random();
  const { result } = await pie.registerParticipant({ kind, clearance, signingKey: pubHex(signingSk), encryptionKey: pubHex(encryptionSk), roles: [] });
  return { participant: result, signingSk, encryptionSk };
}

/** A record signed by `author` as the author's client builds it (capsule of a fresh DEK under the patient's key). */
function recordInput(id: string, patient: Actor, patientPk: PublicKey, author: Actor, authorSigner: Signer, policy: AccessPolicy, level: SecurityLevel): SignedRecordInput {
  const category = level === 'PRIVATE' ? 'medical-information' : level === 'MODERATE' ? 'lifelog-sensor' : 'clinical-trial-observation';
  const [capsule] = encrypt(patientPk, crypto.getRandomValues(new Uint8Array(32)));
  const unsigned = {
    id,
    version: 1,
    patientId: patient.participant.id,
    authorId: author.participant.id,
    hospital: author.participant.org,
    summary: {
      category,
      securityLevel: level,
      codes: ['http://snomed.info/sct|44054006'],
      year: 2024,
      resourceTypes: ['Condition'],
      labels: [level === 'PRIVATE' ? 'R' : level === 'MODERATE' ? 'M' : 'L'],
    },
    metadata: {
      cid: freshCid(),
      size: 4096,
      mediaType: 'application/fhir+json',
      contentHash: createHash('sha256').update(id).digest('hex'),
      capsule: Buffer.from(capsule.toBytes()).toString('base64'),
      envelopeVersion: 1,
    },
    policy,
  } as const;
  const authorSignature = hex(authorSigner.sign(canonicalRecordBytes(unsigned as never)).toBEBytes());
  return { ...unsigned, authorSignature } as unknown as SignedRecordInput;
}

// ---------------------------------------------------------------------------------------------------------- phases
interface PhaseResult {
  timeoutMs: number;
  workload: string;
  mode: 'sequential' | 'concurrent' | 'open';
  /** closed-loop workers (1 = sequential); for open-loop phases, the offered rate in tx/s */
  concurrency: number;
  n: number;
  ok: number;
  failures: Record<string, number>;
  wallMs: number;
  tps: number;
  p50: number;
  p99: number;
  blocks: number;
  txPerBlock: number;
  maxTxPerBlock: number;
  meanBlockKiB: number;
  /** process CPU (user + system) / wall time, in cores */
  cpuCores: number;
  /** event-loop utilisation of the client's thread, and of the network's thread when it has its own */
  loopUtilisation: number[];
  /** world-state keys when the phase started (the committer's cost per new key grows with it) */
  stateKeys: number;
}

const failureMessages = new Map<string, string>();
function failureKind(e: unknown): string {
  const kind =
    e instanceof LedgerClientError ? (e.details.validationCode !== undefined ? `${e.code}/${e.details.validationCode}` : e.code) : e instanceof Error ? e.name : 'unknown';
  if (!failureMessages.has(kind)) failureMessages.set(kind, e instanceof Error ? e.message : String(e));
  return kind;
}

/** Runs `jobs` with `concurrency` workers (closed loop); latencies of successful jobs, failures by kind. */
async function drive(jobs: readonly (() => Promise<unknown>)[], concurrency: number): Promise<{ lat: number[]; failures: Record<string, number>; wallMs: number }> {
  const lat: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= jobs.length) return;
      await timed(jobs[i]!, lat, failures);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  return { lat, failures, wallMs: performance.now() - t0 };
}

async function timed(job: () => Promise<unknown>, lat: number[], failures: Record<string, number>, start = performance.now()): Promise<void> {
  try {
    await job();
    lat.push(performance.now() - start);
  } catch (e) {
    const k = failureKind(e);
    failures[k] = (failures[k] ?? 0) + 1;
  }
}

/**
 * Open loop: job i is due at i / rate seconds and starts then whatever is still in flight (a late start is caught
 * up at once, and its latency counts from its due time). A system that cannot sustain the rate shows it as a
 * throughput below the rate and latencies that grow through the phase.
 */
async function driveOpen(jobs: readonly (() => Promise<unknown>)[], rate: number): Promise<{ lat: number[]; failures: Record<string, number>; wallMs: number }> {
  const lat: number[] = [];
  const failures: Record<string, number> = {};
  const running: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < jobs.length; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    running.push(timed(jobs[i]!, lat, failures, Math.min(due, performance.now())));
  }
  await Promise.all(running);
  return { lat, failures, wallMs: performance.now() - t0 };
}

/**
 * One timed phase. `committed` phases also count the blocks cut meanwhile and read their shapes back (untimed);
 * evaluate-only phases run nothing through the orderer.
 */
async function measure(
  net: NetHandle,
  timeoutMs: number,
  workload: string,
  concurrency: number,
  jobs: readonly (() => Promise<unknown>)[],
  committed = true,
  openRate?: number,
): Promise<PhaseResult> {
  gc();
  const h0 = committed ? await net.height() : 0;
  const stateKeys = await net.stateKeys();
  const elu0 = performance.eventLoopUtilization();
  const netElu0 = await net.elu();
  const profiling = PROFILE_DIR !== undefined && openRate === undefined && concurrency > 1 ? new ThreadProfiler() : undefined;
  if (profiling) await Promise.all([profiling.start(), net.profileStart()]);
  const cpu0 = process.cpuUsage();
  const { lat, failures, wallMs } = openRate === undefined ? await drive(jobs, concurrency) : await driveOpen(jobs, openRate);
  const cpu = process.cpuUsage(cpu0);
  if (profiling) {
    const [client, network] = await Promise.all([profiling.stop(), net.profileStop()]);
    const base = join(PROFILE_DIR!, `${timeoutMs}ms-${workload.replace(/\W+/g, '-')}-c${concurrency}`);
    await fsp.mkdir(PROFILE_DIR!, { recursive: true });
    await fsp.writeFile(`${base}-client.cpuprofile`, JSON.stringify(client));
    if (network) await fsp.writeFile(`${base}-network.cpuprofile`, JSON.stringify(network));
  }
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const netElu1 = await net.elu();
  const h1 = committed ? await net.height() : 0;
  const { maxTx, bytes } = committed ? await net.blockStats(h0, h1) : { maxTx: 0, bytes: 0 };
  const blocks = h1 - h0;
  return {
    timeoutMs,
    workload,
    mode: openRate !== undefined ? 'open' : concurrency === 1 ? 'sequential' : 'concurrent',
    concurrency: openRate ?? concurrency,
    n: jobs.length,
    ok: lat.length,
    failures,
    wallMs,
    tps: (lat.length * 1000) / wallMs,
    p50: median(lat),
    p99: percentile(lat, 99),
    blocks,
    txPerBlock: blocks ? jobs.length / blocks : 0,
    maxTxPerBlock: maxTx,
    meanBlockKiB: blocks ? bytes / blocks / 1024 : 0,
    cpuCores: (cpu.user + cpu.system) / 1000 / wallMs,
    loopUtilisation: netElu0 && netElu1 ? [elu, performance.eventLoopUtilization(netElu1, netElu0).utilization] : [elu],
    stateKeys,
  };
}

const HEADER = `${'timeout'.padStart(7)}  ${'workload'.padEnd(24)} ${'mode'.padEnd(10)} ${'C'.padStart(6)} ${'n'.padStart(5)} ${'tx/s'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'blocks'.padStart(6)} ${'tx/blk'.padStart(6)} ${'max'.padStart(4)} ${'KiB/blk'.padStart(7)} ${'CPU'.padStart(5)} ${'loop'.padStart(9)} ${'keys'.padStart(5)}  failed`;
function printRow(r: PhaseResult): void {
  const failed = Object.entries(r.failures)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  console.log(
    `${`${r.timeoutMs} ms`.padStart(7)}  ${r.workload.padEnd(24)} ${r.mode.padEnd(10)} ${(r.mode === 'open' ? `${r.concurrency}/s` : String(r.concurrency)).padStart(6)} ${String(r.n).padStart(5)} ${fmtTps(r.tps).padStart(6)} ${fmtMs(r.p50).padStart(7)} ${fmtMs(r.p99).padStart(7)} ${String(r.blocks || '—').padStart(6)} ${(r.blocks ? r.txPerBlock.toFixed(1) : '—').padStart(6)} ${String(r.maxTxPerBlock || '—').padStart(4)} ${(r.blocks ? r.meanBlockKiB.toFixed(0) : '—').padStart(7)} ${r.cpuCores.toFixed(2).padStart(5)} ${r.loopUtilisation.map((u) => u.toFixed(2)).join('/').padStart(9)} ${`${Math.round(r.stateKeys / 1000)}k`.padStart(5)}  ${failed || '0'}`,
  );
}

// ---------------------------------------------------------------------------------------------------------- one network
async function runTimeout(timeoutMs: number, results: PhaseResult[], withEvaluate: boolean): Promise<{ fsyncMs: number }> {
  const p = plan(timeoutMs);
  const dataDir = await fsp.mkdtemp(join(os.tmpdir(), `pie-bench-ledger-${timeoutMs}-`));
  const fsyncMs = await fsyncProbe(dataDir);
  const netOptions: NetOptions = { dataDir, batchTimeoutMs: timeoutMs, fsync: FSYNC };
  const net = WORKER ? await startNetInWorker(netOptions) : await startNet(netOptions);
  const clients: LedgerClient[] = [];
  // Generous deadlines: with 1024 transactions in flight a submit call queues behind ~1000 endorsements on the one
  // event loop and exceeds the client's default 5 s submit deadline (which would count as UNAVAILABLE).
  const connect = (identity: LedgerIdentity): PieLedger => {
    const c = LedgerClient.connect({ endpoint: net.endpoint, channel: CHANNEL, chaincode: 'pie', identity, conflictRetries: 0, commitEvents: COMMIT_EVENTS, timeouts: { endorse: 120_000, submit: 120_000, commitStatus: 120_000 } });
    clients.push(c);
    return new PieLedger(c);
  };
  const record = (r: PhaseResult): void => {
    results.push(r);
    printRow(r);
  };
  try {
    const admin = connect(net.admin);
    const node = connect(net.node);
    // registrations in parallel: one block even at a 2 s timeout
    const [patient, physician, researcher] = await Promise.all([
      register(admin, 'patient', 'PRIVATE'),
      register(admin, 'physician', 'PRIVATE'),
      register(admin, 'researcher', 'LOW'),
    ]);
    // the policy a record must carry: the patient's current default, as the author's client reads it
    const policy = await node.patientPolicy(patient.participant.id);
    const patientPk = patient.encryptionSk.publicKey();
    const authorSigner = new Signer(physician.signingSk);
    const researcherId = researcher.participant.id;
    let seq = 0;
    const buildRecords = (n: number, level: SecurityLevel): SignedRecordInput[] =>
      Array.from({ length: n }, () => recordInput(`emr-${timeoutMs}-${++seq}`, patient, patientPk, physician, authorSigner, policy, level));
    const createJobs = (inputs: readonly SignedRecordInput[]) => inputs.map((r) => () => node.createRecord(r));
    const requestActions = (emrIds: readonly string[]): SignedAction[] =>
      emrIds.map((emrId) => signAction(researcher.signingSk, researcherId, 'request-access', { emrId, purpose: 'research' }, CHANNEL));
    const requestJobs = (actions: readonly SignedAction[]) => actions.map((a) => () => node.submitAction(a));
    const maxC = Math.max(...p.conc.map(([c]) => c));

    if (WORKLOADS.includes('create')) {
      const warm = buildRecords(p.warmup, 'PRIVATE');
      const seqIn = buildRecords(p.seqN, 'PRIVATE');
      const concIn = p.conc.map(([, n]) => buildRecords(n, 'PRIVATE'));
      const openIn = p.open.map(([, n]) => buildRecords(n, 'PRIVATE'));
      if (warm.length) await drive(createJobs(warm), Math.min(maxC, 64));
      record(await measure(net, timeoutMs, 'create record', 1, createJobs(seqIn)));
      for (const [i, [c]] of p.conc.entries()) record(await measure(net, timeoutMs, 'create record', c, createJobs(concIn[i]!)));
      for (const [i, [rate]] of p.open.entries()) record(await measure(net, timeoutMs, 'create record', 0, createJobs(openIn[i]!), true, rate));
      if (withEvaluate) {
        // fresh signed records (the measured ones exist now and would be refused), simulated and never ordered
        const evalIn = buildRecords(QUICK ? 50 : 300, 'PRIVATE');
        const evalJobs = evalIn.map((r) => () => node.client.evaluate('CreateRecord', JSON.stringify(r)));
        await drive(evalJobs.slice(0, 50), 16);
        record(await measure(net, timeoutMs, 'create record (evaluate)', 1, evalJobs, false));
        record(await measure(net, timeoutMs, 'create record (evaluate)', 64, evalJobs, false));
      }
    }

    if (WORKLOADS.includes('request')) {
      // LOW records the researcher may request, created untimed (one request per record and requester)
      const need = p.warmup + p.seqN + [...p.conc, ...p.open].reduce((a, [, n]) => a + n, 0) + (withEvaluate ? 1 : 0);
      const lowRecords = buildRecords(need, 'LOW');
      const pre = await drive(createJobs(lowRecords), Math.max(256, maxC));
      const preFailed = Object.entries(pre.failures);
      if (preFailed.length) throw new Error(`creating the records to request failed: ${JSON.stringify(pre.failures)} (${[...failureMessages.values()].join(' | ')})`);
      const ids = lowRecords.map((r) => r.id);
      let at = 0;
      const take = (n: number): string[] => ids.slice(at, (at += n));
      const warmIds = take(p.warmup);
      const seqIds = take(p.seqN);
      const concIds = p.conc.map(([, n]) => take(n));
      const openIds = p.open.map(([, n]) => take(n));
      // actions are signed just before their phase (the contract accepts them for 10 minutes)
      if (warmIds.length) await drive(requestJobs(requestActions(warmIds)), Math.min(maxC, 64));
      record(await measure(net, timeoutMs, 'request access', 1, requestJobs(requestActions(seqIds))));
      for (const [i, [c]] of p.conc.entries()) record(await measure(net, timeoutMs, 'request access', c, requestJobs(requestActions(concIds[i]!))));
      for (const [i, [rate]] of p.open.entries()) record(await measure(net, timeoutMs, 'request access', 0, requestJobs(requestActions(openIds[i]!)), true, rate));
      if (withEvaluate) {
        // evaluate does not commit the replay marker, so one record and fresh signatures suffice
        const [evalId] = take(1);
        const evalJobs = requestActions(Array.from({ length: QUICK ? 50 : 300 }, () => evalId!)).map((a) => () => node.client.evaluate('RequestAccess', JSON.stringify(a)));
        await drive(evalJobs.slice(0, 50), 16);
        record(await measure(net, timeoutMs, 'request access (evaluate)', 1, evalJobs, false));
        record(await measure(net, timeoutMs, 'request access (evaluate)', 64, evalJobs, false));
      }
    }
  } finally {
    for (const c of clients) c.close();
    try {
      await net.stop();
    } finally {
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  }
  return { fsyncMs };
}

// ---------------------------------------------------------------------------------------------------------- main
async function main(): Promise<void> {
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    mode: QUICK ? 'quick' : 'full',
    fsync: FSYNC,
    network: WORKER ? 'worker thread' : 'same thread',
    commits: COMMIT_EVENTS ? 'filtered block events' : 'CommitStatus per transaction',
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    tmpdir: os.tmpdir(),
  };
  console.log(`Ledger benchmark — PIE contract on the embedded dev network, client and network in one process (${machine.mode} run)`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.platform}`);
  console.log(`commits learnt from ${machine.commits}`);
  console.log(`network on ${WORKER ? 'a worker thread' : 'the client\'s thread (--same-thread)'}; block store fsync ${FSYNC ? 'on' : 'OFF (--no-fsync)'}; data in ${machine.tmpdir}; gc ${'gc' in globalThis ? 'between phases' : 'not exposed'}; load average ${machine.loadavg.join(' ')}`);
  console.log('');
  console.log(HEADER);
  console.log('-'.repeat(HEADER.length));

  const results: PhaseResult[] = [];
  const fsyncs: Record<number, number> = {};
  const t0 = performance.now();
  for (const [i, t] of TIMEOUTS.entries()) {
    const { fsyncMs } = await runTimeout(t, results, i === 0);
    fsyncs[t] = fsyncMs;
  }
  const elapsed = (performance.now() - t0) / 1000;

  console.log('');
  console.log('  tx/s = committed transactions / wall time of the phase; p50/p99 = submit call → commit status (nearest rank; with');
  console.log('  fewer than 100 transactions p99 is the maximum); tx/blk = mean transactions per block, max = largest block;');
  console.log('  CPU = process user+system time / wall time (cores); loop = event-loop utilisation of the thread (client/network');
  console.log('  unless --same-thread); keys = world-state keys when the phase started; "(evaluate)" rows simulate the proposal on');
  console.log('  the peer only: nothing is ordered or committed.');
  console.log(`  write+fsync of 8 KiB in the data directory (median): ${Object.entries(fsyncs).map(([t, ms]) => `${ms.toFixed(2)} ms (at ${t} ms)`).join(', ')}; the block store fsyncs twice per block`);
  for (const [k, m] of failureMessages) console.log(`  failure ${k}: ${m}`);

  // ---- summary against the issue's targets
  const committed = (r: PhaseResult): boolean => !r.workload.includes('evaluate');
  const at = (t: number, mode: PhaseResult['mode']) => results.filter((r) => committed(r) && r.timeoutMs === t && r.mode === mode);
  const failedTotal = results.reduce((a, r) => a + Object.values(r.failures).reduce((x, y) => x + y, 0), 0);
  console.log('');
  console.log('Summary');
  const def = 0;
  if (TIMEOUTS.includes(def)) {
    for (const r of at(def, 'sequential')) {
      console.log(`  p50 commit at the default timeout (${def} ms), ${r.workload}: ${fmtMs(r.p50)} ms — target < ${TARGET_P50_MS} ms: ${r.p50 < TARGET_P50_MS ? 'met' : 'NOT met'}`);
    }
    // one line per workload and C: the median over --repeat phases (all of them listed when there are several)
    const groups = new Map<string, PhaseResult[]>();
    for (const r of at(def, 'concurrent')) {
      const k = `${r.workload} (C = ${r.concurrency})`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const [k, rs] of groups) {
      const tps = median(rs.map((r) => r.tps));
      const each = rs.length > 1 ? ` (median of ${rs.length}: ${rs.map((r) => fmtTps(r.tps)).join(', ')})` : '';
      console.log(`  sustained throughput at ${def} ms, ${k}: ${fmtTps(tps)} tx/s${each} — target ≥ ${TARGET_TPS}: ${tps >= TARGET_TPS ? 'met' : 'NOT met'}`);
    }
  }
  const slow = results.find((r) => committed(r) && r.timeoutMs === 2000 && r.mode === 'sequential' && r.workload === 'create record');
  if (slow) {
    console.log(`  record creation p50 at a 2 s timeout: ${fmtMs(slow.p50)} ms = ${(slow.p50 / PAPER_UPLOAD_MS).toFixed(2)} × the paper's ${PAPER_UPLOAD_MS} ms upload`);
  }
  const best = results.filter((r) => committed(r) && r.mode === 'concurrent').reduce<PhaseResult | undefined>((a, r) => (!a || r.tps > a.tps ? r : a), undefined);
  if (best) console.log(`  best sustained throughput: ${fmtTps(best.tps)} tx/s (${best.workload}, ${best.timeoutMs} ms, C = ${best.concurrency})`);
  console.log(`  failed or conflicting transactions: ${failedTotal}`);
  console.log(`  measured in ${elapsed.toFixed(1)} s; load average now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(
    JSON.stringify({
      bench: 'ledger',
      machine,
      fsyncProbeMs: fsyncs,
      targets: { p50Ms: TARGET_P50_MS, tps: TARGET_TPS, paperUploadMs: PAPER_UPLOAD_MS },
      rows: results.map((r) => ({
        ...r,
        wallMs: Math.round(r.wallMs),
        tps: Math.round(r.tps * 10) / 10,
        p50: Math.round(r.p50 * 10) / 10,
        p99: Math.round(r.p99 * 10) / 10,
        txPerBlock: Math.round(r.txPerBlock * 10) / 10,
        meanBlockKiB: Math.round(r.meanBlockKiB),
        cpuCores: Math.round(r.cpuCores * 100) / 100,
        loopUtilisation: r.loopUtilisation.map((u) => Math.round(u * 100) / 100),
      })),
    }),
  );
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else if ((workerData as { role?: string } | null)?.role === WORKER_ROLE) {
  void serveNetwork((workerData as { options: NetOptions }).options);
}
