// Running `pie` in-process (runCli) with captured streams, for the CLI tests.
import { runCli } from '../../src/cli/run.js';
import type { CliIo } from '../../src/cli/run.js';

export interface PieRun {
  code: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

export class Capture {
  readonly chunks: Buffer[] = [];
  constructor(readonly isTTY = false) {}
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    return true;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get text(): string {
    return this.bytes.toString('utf8');
  }
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  stderrTTY?: boolean;
}

/** `pie <args>` with `env` (HOME and PIE_PASSPHRASE from the test's `base`). */
export function pieWith(base: Record<string, string>): (args: string[], opts?: RunOptions) => Promise<PieRun> {
  return async (args, opts = {}) => {
    const stdout = new Capture();
    const stderr = new Capture(opts.stderrTTY === true);
    const io: CliIo = { stdout, stderr, env: { ...base, ...opts.env }, ...(opts.signal === undefined ? {} : { signal: opts.signal }) };
    const code = await runCli(args, io);
    return { code, stdout: stdout.text, stdoutBytes: stdout.bytes, stderr: stderr.text };
  };
}

/** The one JSON document a --json run printed. */
export function json<T = Record<string, unknown>>(r: PieRun): T {
  if (r.code !== 0) throw new Error(`pie exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
