/**
 * `npm run demo`: the paper's sharing scenario (src/demo/scenario.ts), narrated step by step for a newcomer, on a
 * throw-away node in a temporary directory (no external services). Exit code 0 when every step did what it must.
 * PIE_FHIR_SAMPLES points at the Synthea samples (default ../shared/fhir-samples); PIE_DEMO_KEEP=1 keeps the node's
 * data directory for a look around.
 */
import '../chain/devnet/shim-logging.js'; // first: keeps the in-process chaincode's loggers quiet
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ScenarioError, runSharingScenario } from './scenario.js';

function samplesDir(): string {
  const candidates = [process.env['PIE_FHIR_SAMPLES'], resolve(process.cwd(), '../shared/fhir-samples'), '/work/shared/fhir-samples'].filter((d): d is string => !!d);
  const found = candidates.find((d) => existsSync(resolve(d, 'README.md')));
  if (found === undefined) {
    console.error(`pie demo: the Synthea samples are not in ${candidates.join(' or ')}; set PIE_FHIR_SAMPLES`);
    process.exit(2);
  }
  return found;
}

async function main(): Promise<void> {
  console.log('PIE: the patient decides who reads the EMRs, and no private key is ever handed over (Lee et al. 2022, Algorithms 1–2)\n');
  const started = performance.now();
  const report = await runSharingScenario({
    samplesDir: samplesDir(),
    keep: process.env['PIE_DEMO_KEEP'] === '1',
    narrate: (step, detail) => console.log(`${step.padEnd(10)} ${detail}\n`),
  });
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s: every step behaved as the paper's system must.`);
  if (process.env['PIE_DEMO_KEEP'] === '1') console.log(`the node's data directory: ${report.dataDir}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof ScenarioError ? `pie demo: FAILED: ${e.message}` : `pie demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
