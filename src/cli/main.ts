#!/usr/bin/env node
/** The `pie` executable: runs one command with the process's streams. Ctrl-C ends `watch` cleanly, anything else at once. */
import { endsOnSignal, runCli } from './run.js';

const argv = process.argv.slice(2);
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!endsOnSignal(argv) || controller.signal.aborted) process.exit(130);
    controller.abort();
  });
}

process.exitCode = await runCli(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin, signal: controller.signal });
