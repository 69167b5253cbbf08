/**
 * What the `pie` commands share: the I/O they are given (process streams in main.ts, buffers in tests), output in
 * human or --json form, and the mapping from errors to exit codes and one-line messages (never a stack trace, never
 * key material: messages come from PIE's own errors, which keep secrets out).
 */
import { PieApiError } from '../client/client.js';
import { PieInputError, PieIntegrityError } from '../client/errors.js';
import { KeystoreError } from '../crypto/keystore.js';

export interface CliStream {
  write(chunk: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

/** A terminal's stdin (for the passphrase prompt without echo). */
export interface CliInput {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  setEncoding?(encoding: 'utf8'): unknown;
  on(event: 'data', listener: (chunk: string | Uint8Array) => void): unknown;
  off(event: 'data', listener: (chunk: string | Uint8Array) => void): unknown;
  resume?(): unknown;
  pause?(): unknown;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Readonly<Record<string, string | undefined>>;
  stdin?: CliInput;
  /** aborts a long-running command (`watch`); main.ts wires it to SIGINT / SIGTERM */
  signal?: AbortSignal;
}

export const EXIT = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  UNAUTHENTICATED: 3,
  FORBIDDEN: 4,
  NOT_FOUND: 5,
  CONFLICT: 6,
  UNAVAILABLE: 7,
  INTEGRITY: 8,
  BAD_USER_INPUT: 9,
} as const;

/** An error with its exit code, raised by the CLI itself. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.UNEXPECTED,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.USAGE);
  }
}

const API_EXIT: Readonly<Record<string, number>> = {
  UNAUTHENTICATED: EXIT.UNAUTHENTICATED,
  FORBIDDEN: EXIT.FORBIDDEN,
  NOT_FOUND: EXIT.NOT_FOUND,
  CONFLICT: EXIT.CONFLICT,
  UNAVAILABLE: EXIT.UNAVAILABLE,
  BAD_USER_INPUT: EXIT.BAD_USER_INPUT,
};

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * fetch's "fetch failed" (and undici's socket errors): the node could not be reached or hung up. Duck-typed: the
 * errors may come from another realm (fetch's own), where instanceof does not hold.
 */
function networkCode(e: unknown): string | undefined {
  let failed: string | undefined;
  for (let c: unknown = e, depth = 0; typeof c === 'object' && c !== null && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = c as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code; // the most precise: the socket's
    if (name === 'TypeError' && (message === 'fetch failed' || message === 'terminated')) failed ??= message;
  }
  return failed;
}

/** The exit code and the one-line message for an error. */
export function describeError(e: unknown, nodeUrl?: string): { exitCode: number; message: string } {
  if (e instanceof CliError) return { exitCode: e.exitCode, message: e.message };
  if (e instanceof PieApiError) return { exitCode: API_EXIT[e.code] ?? EXIT.UNEXPECTED, message: `${e.code}: ${e.message}` };
  if (e instanceof PieIntegrityError) return { exitCode: EXIT.INTEGRITY, message: `integrity check failed: ${e.message}` };
  if (e instanceof PieInputError) return { exitCode: EXIT.USAGE, message: e.message };
  if (e instanceof KeystoreError) {
    if (e.code === 'WRONG_PASSPHRASE') return { exitCode: EXIT.UNAUTHENTICATED, message: 'wrong passphrase (or the keystore file was modified)' };
    if (e.code === 'INVALID_ARGUMENT') return { exitCode: EXIT.USAGE, message: e.message };
    if (e.code === 'KEY_MISMATCH') return { exitCode: EXIT.INTEGRITY, message: e.message };
    return { exitCode: EXIT.UNEXPECTED, message: e.message };
  }
  const network = networkCode(e);
  if (network !== undefined) return { exitCode: EXIT.UNAVAILABLE, message: `cannot reach the node${nodeUrl === undefined ? '' : ` at ${nodeUrl}`} (${network})` };
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) return { exitCode: EXIT.USAGE, message: (e as Error).message };
  if (typeof code === 'string' && (code === 'ENOENT' || code === 'EACCES' || code === 'EEXIST' || code === 'EISDIR')) return { exitCode: EXIT.UNEXPECTED, message: (e as Error).message };
  return { exitCode: EXIT.UNEXPECTED, message: e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e) };
}

/** Writes `chunk`, waiting for the stream to drain when it asks (large content to a pipe). */
export async function writeAll(stream: CliStream, chunk: string | Uint8Array): Promise<void> {
  if (stream.write(chunk) === false && stream.once !== undefined) await new Promise<void>((r) => stream.once!('drain', r));
}

/** One command's output: exactly one JSON document with --json, else human-readable lines. */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** The command's result: `value` as JSON, or `human` (lines, or a function making them) otherwise. */
  result(value: unknown, human: string | readonly string[] | (() => string | readonly string[])): void {
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    const h = typeof human === 'function' ? human() : human;
    const lines = typeof h === 'string' ? [h] : h;
    if (lines.length > 0) this.io.stdout.write(`${lines.join('\n')}\n`);
  }

  /** One item of a stream (watch): one JSON document per line with --json. */
  item(value: unknown, human: string): void {
    this.io.stdout.write(this.json ? `${JSON.stringify(value)}\n` : `${human}\n`);
  }

  /** A note for the person at the terminal (stderr, so stdout stays the result). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}
