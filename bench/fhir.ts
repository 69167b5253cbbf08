/**
 * FHIR adapter benchmark (issue 5): resources per second through validation + classification + grouping +
 * de-identified summaries on the Synthea sample bundles (target ≥ 2,000 resources/s after warm-up), and the process
 * start-up cost of loading the R4 definitions.
 *
 *   npm run bench:fhir                      (default: 5 cold starts, 3 warm-up rounds, 15 timed rounds)
 *   node --expose-gc dist/bench/fhir.js --rounds=30 --starts=10
 *   node --expose-gc dist/bench/fhir.js --baseline=dist-old   (A/B: see compareWithBaseline)
 *   node dist/bench/fhir.js                 (no forced GC before each round, as a node runs: see below)
 *
 * Each round runs every sample patient bundle through `prepareFhirInput` (parse, normalise references, resolve the
 * conditional references against the directory, validate every resource, classify, group, label, summarise). The
 * stages are also timed on their own in the same run, so the shares are measured side by side.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { ReferenceDirectory } from '../src/fhir/directory.js';
import { groupResources } from '../src/fhir/group.js';
import { parseFhirInput } from '../src/fhir/input.js';
import { prepareFhirInput, prepareFhirInputOnPool } from '../src/fhir/prepare.js';
import { FhirValidatorPool } from '../src/fhir/validator-pool.js';
import { summariseGroup } from '../src/fhir/summary.js';
import { gc, median, percentile, rssMiB } from './stats.js';

const argv = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const count = (name: string, dflt: number): number => {
  const v = Number(argv.get(name) ?? dflt);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const TARGET_PER_S = 2000;
/** --samples, $PIE_FHIR_SAMPLES, ../shared/fhir-samples next to the project, or the workspace's copy (as the tests look). */
const SAMPLES = resolve(
  [argv.get('samples'), process.env['PIE_FHIR_SAMPLES'], join(process.cwd(), '../shared/fhir-samples'), '/work/shared/fhir-samples'].find(
    (d): d is string => d !== undefined && d !== '' && existsSync(d),
  ) ?? join(process.cwd(), '../shared/fhir-samples'),
);

// ------------------------------------------------------------------------------------- child: one cold start-up
if (argv.has('child-startup')) {
  const rss0 = rssMiB();
  const t0 = performance.now();
  loadDefinitions();
  const ms = performance.now() - t0;
  gc();
  process.stdout.write(JSON.stringify({ ms, rssDeltaMiB: rssMiB() - rss0, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 }));
  process.exit(0);
}

function coldStarts(n: number): { ms: number[]; rss: number[]; heap: number[] } {
  const out = { ms: [] as number[], rss: [] as number[], heap: [] as number[] };
  for (let i = 0; i < n; i++) {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child-startup'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`start-up child failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { ms: number; rssDeltaMiB: number; heapMiB: number };
    out.ms.push(j.ms);
    out.rss.push(j.rssDeltaMiB);
    out.heap.push(j.heapMiB);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------- the workload
const read = (f: string): unknown => JSON.parse(readFileSync(join(SAMPLES, f), 'utf8'));
const files = readdirSync(SAMPLES);
const patientFiles = files.filter((f) => /^[A-Z][a-z]+\d+_[A-Z][a-z]+\d+_.*\.json$/.test(f)).sort();
const directoryFiles = files.filter((f) => /^(hospital|practitioner)Information\d+\.json$/.test(f)).sort();
if (patientFiles.length === 0 || directoryFiles.length !== 2) throw new Error(`expected Synthea patient bundles and two directory bundles in ${SAMPLES}`);
const directory = ReferenceDirectory.fromBundles(...directoryFiles.map(read));
// JSON text, as a server receives it: parsing is part of the work
const texts = patientFiles.map((f) => readFileSync(join(SAMPLES, f), 'utf8'));
const ORG = 'Hospital1MSP';

interface Round {
  resources: number;
  emrs: number;
  ms: number;
}

function fullRound(): Round {
  let resources = 0;
  let emrs = 0;
  const t0 = performance.now();
  for (const text of texts) {
    const p = prepareFhirInput(text, { organizationId: ORG, directory, now: () => new Date('2026-01-01T00:00:00Z') });
    resources += p.parsed.resources.length;
    emrs += p.emrs.length;
  }
  return { resources, emrs, ms: performance.now() - t0 };
}

/** The same work with the structural validation on a worker pool: the bundles one after the other, as one client sends them. */
async function poolRound(pool: FhirValidatorPool): Promise<Round> {
  let resources = 0;
  let emrs = 0;
  const t0 = performance.now();
  for (const text of texts) {
    const p = await prepareFhirInputOnPool(text, pool, { organizationId: ORG, directory, now: () => new Date('2026-01-01T00:00:00Z') });
    resources += p.parsed.resources.length;
    emrs += p.emrs.length;
  }
  return { resources, emrs, ms: performance.now() - t0 };
}

/** Every bundle at once, as concurrent uploads from several clients: the event loop's own work overlaps the pool's. */
async function concurrentPoolRound(pool: FhirValidatorPool): Promise<Round> {
  const t0 = performance.now();
  const all = await Promise.all(texts.map((text) => prepareFhirInputOnPool(text, pool, { organizationId: ORG, directory, now: () => new Date('2026-01-01T00:00:00Z') })));
  return { resources: all.reduce((n, p) => n + p.parsed.resources.length, 0), emrs: all.reduce((n, p) => n + p.emrs.length, 0), ms: performance.now() - t0 };
}

/** The stages apart: parse + validate, then classify + group + label, then summarise. */
function stageRound(): { parse: number; group: number; summarise: number } {
  let parse = 0;
  let group = 0;
  let summarise = 0;
  for (const text of texts) {
    let t = performance.now();
    const parsed = parseFhirInput(text, { directory });
    parse += performance.now() - t;
    t = performance.now();
    const groups = groupResources(parsed.resources);
    group += performance.now() - t;
    t = performance.now();
    const patient = parsed.resources.find((r) => r.resourceType === 'Patient');
    for (const g of groups) summariseGroup(g, { organizationId: ORG, patient: patient?.resourceType === 'Patient' ? patient : undefined, now: () => new Date('2026-01-01T00:00:00Z') });
    summarise += performance.now() - t;
  }
  return { parse, group, summarise };
}

// ------------------------------------------------------------------------------------------------------ main
const STARTS = count('starts', 5);
const WARMUP = count('warmup', 3);
const ROUNDS = count('rounds', 15);
const f1 = (x: number): string => x.toFixed(1);

console.log(`# PIE FHIR bench (issue 5), ${new Date().toISOString()}`);
console.log(`machine: ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${os.cpus().length} cores, Node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`samples: ${patientFiles.length} Synthea patient bundles (${texts.reduce((n, t) => n + t.length, 0)} B of JSON) + directory of ${directory.size} resources`);
// With --expose-gc each timed round starts after a forced full GC (less variance). The node never forces one, and the
// forced GC leaves its concurrent sweeping and a shrunken heap to the round: without --expose-gc the rounds run as
// a node's uploads do.
console.log(`forced full GC before each timed round: ${(globalThis as { gc?: unknown }).gc ? 'yes (--expose-gc)' : 'no'}`);

const cold = coldStarts(STARTS);
console.log(`\n## start-up: loading the R4 StructureDefinitions once per process (${STARTS} fresh processes, median [min–max])`);
console.log(`loadDefinitions ${f1(median(cold.ms))} ms [${f1(Math.min(...cold.ms))}–${f1(Math.max(...cold.ms))}]; RSS +${f1(median(cold.rss))} MiB; heap after GC ${f1(median(cold.heap))} MiB`);

loadDefinitions();
for (let i = 0; i < WARMUP; i++) fullRound();
const rounds: Round[] = [];
const stages: ReturnType<typeof stageRound>[] = [];
for (let i = 0; i < ROUNDS; i++) {
  gc();
  rounds.push(fullRound());
  stages.push(stageRound());
}
const tPool = performance.now();
const pool = await FhirValidatorPool.start();
const poolStartMs = performance.now() - tPool;
const poolRounds: Round[] = [];
const concurrentRounds: Round[] = [];
try {
  for (let i = 0; i < WARMUP; i++) await poolRound(pool);
  for (let i = 0; i < ROUNDS; i++) {
    gc();
    poolRounds.push(await poolRound(pool));
    gc();
    concurrentRounds.push(await concurrentPoolRound(pool));
  }
} finally {
  await pool.close();
}
const rate = (rs: Round[]): number[] => rs.map((r) => (r.resources / r.ms) * 1000);
const perS = rate(rounds);
const med = median(perS);
const poolPerS = rate(poolRounds);
const poolMed = median(poolPerS);
const concurrentPerS = rate(concurrentRounds);
const concurrentMed = median(concurrentPerS);
const r0 = rounds[0]!;
const resourcesPerRound = r0.resources;
console.log(`\n## throughput after ${WARMUP} warm-up rounds: ${ROUNDS} rounds of ${r0.resources} resources → ${r0.emrs} EMRs (median [p10–p90])`);
console.log(`prepareFhirInput, one thread:                ${med.toFixed(0)} resources/s [${percentile(perS, 10).toFixed(0)}–${percentile(perS, 90).toFixed(0)}]; ${f1((median(rounds.map((r) => r.ms)) * 1000) / r0.resources)} µs per resource`);
console.log(`prepareFhirInputOnPool, ${pool.threads} validator threads: ${poolMed.toFixed(0)} resources/s [${percentile(poolPerS, 10).toFixed(0)}–${percentile(poolPerS, 90).toFixed(0)}]; ${(poolMed / med).toFixed(2)} × one thread (pool start-up ${f1(poolStartMs)} ms)`);
console.log(`  the ${texts.length} bundles at once on the pool (concurrent uploads): ${concurrentMed.toFixed(0)} resources/s [${percentile(concurrentPerS, 10).toFixed(0)}–${percentile(concurrentPerS, 90).toFixed(0)}]; ${(concurrentMed / med).toFixed(2)} × one thread`);
const sp = median(stages.map((s) => s.parse));
const sg = median(stages.map((s) => s.group));
const ss = median(stages.map((s) => s.summarise));
const total = sp + sg + ss;
console.log(`stages on one thread (same run, medians per round): parse + normalise + validate ${f1(sp)} ms (${((sp / total) * 100).toFixed(0)} %), classify + group + label ${f1(sg)} ms (${((sg / total) * 100).toFixed(0)} %), summarise ${f1(ss)} ms (${((ss / total) * 100).toFixed(0)} %)`);
const best = Math.max(med, poolMed, concurrentMed);
console.log(`\n## target: ≥ ${TARGET_PER_S} resources/s after warm-up`);
console.log(`  one thread: ${med.toFixed(0)}/s = ${(med / TARGET_PER_S).toFixed(2)} × the target: ${med >= TARGET_PER_S ? 'met' : 'NOT met'}`);
console.log(`  validator pool (${pool.threads} threads, what the node uses), one upload at a time: ${poolMed.toFixed(0)}/s = ${(poolMed / TARGET_PER_S).toFixed(2)} × the target: ${poolMed >= TARGET_PER_S ? 'met' : 'NOT met'}`);
console.log(`  validator pool, concurrent uploads: ${concurrentMed.toFixed(0)}/s = ${(concurrentMed / TARGET_PER_S).toFixed(2)} × the target: ${concurrentMed >= TARGET_PER_S ? 'met' : 'NOT met'}`);
console.log(
  JSON.stringify({
    bench: 'fhir',
    startup: { ms: median(cold.ms), rssDeltaMiB: median(cold.rss), heapMiB: median(cold.heap), n: STARTS, poolStartMs },
    throughput: {
      oneThread: { resourcesPerS: med, p10: percentile(perS, 10), p90: percentile(perS, 90) },
      pool: { threads: pool.threads, resourcesPerS: poolMed, p10: percentile(poolPerS, 10), p90: percentile(poolPerS, 90) },
      poolConcurrent: { resourcesPerS: concurrentMed, p10: percentile(concurrentPerS, 10), p90: percentile(concurrentPerS, 90) },
      rounds: ROUNDS,
      resourcesPerRound: r0.resources,
      emrsPerRound: r0.emrs,
    },
    stagesMs: { parseValidate: sp, classifyGroupLabel: sg, summarise: ss },
    target: { perS: TARGET_PER_S, met: best >= TARGET_PER_S },
  }),
);

// ------------------------------------------------------------------------------------- optional: A/B
/**
 * --baseline=<dir>: another build of PIE (`npx tsc -p tsconfig.build.json --outDir <dir>` on another commit, plus the
 * chaincode's CommonJS marker). Its pool and this build's run the same rounds in turn, in this process, so both
 * see the same machine load; the ratio is the median of the per-round ratios.
 */
async function compareWithBaseline(dir: string): Promise<void> {
  const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(dir, path)).href)) as T;
  const base = await load<typeof import('../src/fhir/prepare.js')>('src/fhir/prepare.js');
  const BasePool = (await load<typeof import('../src/fhir/validator-pool.js')>('src/fhir/validator-pool.js')).FhirValidatorPool;
  const BaseDirectory = (await load<typeof import('../src/fhir/directory.js')>('src/fhir/directory.js')).ReferenceDirectory;
  const baseDirectory = BaseDirectory.fromBundles(...directoryFiles.map(read));
  const options = (d: ReferenceDirectory) => ({ organizationId: ORG, directory: d, now: () => new Date('2026-01-01T00:00:00Z') });
  type Run = (text: string) => Promise<unknown>;
  const timed = async (run: Run, atOnce: boolean): Promise<number> => {
    gc();
    const t0 = performance.now();
    if (atOnce) await Promise.all(texts.map(run));
    else for (const text of texts) await run(text);
    return (resourcesPerRound / (performance.now() - t0)) * 1000;
  };
  const [ourPool, basePool] = await Promise.all([FhirValidatorPool.start(), BasePool.start()]);
  try {
    const ours: Run = (text) => prepareFhirInputOnPool(text, ourPool, options(directory));
    const theirs: Run = (text) => base.prepareFhirInputOnPool(text, basePool, options(baseDirectory));
    const result = { seq: { ours: [] as number[], base: [] as number[] }, atOnce: { ours: [] as number[], base: [] as number[] } };
    for (let i = -WARMUP; i < ROUNDS; i++) {
      for (const mode of ['seq', 'atOnce'] as const) {
        // alternate who goes first, so neither always runs right after the other's garbage
        const pair = i % 2 === 0 ? [ours, theirs] : [theirs, ours];
        const [first, second] = [await timed(pair[0]!, mode === 'atOnce'), await timed(pair[1]!, mode === 'atOnce')];
        if (i < 0) continue;
        result[mode].ours.push(i % 2 === 0 ? first : second);
        result[mode].base.push(i % 2 === 0 ? second : first);
      }
    }
    console.log(`\n## A/B against ${dir} (pools of ${ourPool.threads} threads each, rounds in turn; medians, ratio = median of the per-round ratios)`);
    for (const [mode, r] of Object.entries(result)) {
      const ratio = median(r.ours.map((x, k) => x / r.base[k]!));
      const show = (xs: number[]): string => `${median(xs).toFixed(0)} /s (p90 ${percentile(xs, 90).toFixed(0)})`;
      console.log(`  ${mode === 'seq' ? 'one upload at a time' : `${texts.length} uploads at once  `}: this build ${show(r.ours)}, baseline ${show(r.base)}: ${ratio.toFixed(2)} ×`);
    }
  } finally {
    await Promise.all([ourPool.close(), basePool.close()]);
  }
}

const baseline = argv.get('baseline');
if (baseline !== undefined) await compareWithBaseline(resolve(baseline));
