/**
 * The node's structured log: pino JSON lines with an ISO `time`, the level as a label and `service: 'pie'`.
 * Credentials and request payloads are redacted before serialisation. Request variables and FHIR bundles may carry
 * PHI: they are never logged. pino's `*` matches one level, so `*.token` censors `{ user: { token } }`, not deeper.
 */
import { hostname } from 'node:os';
import { pino } from 'pino';
import type { NodeConfig } from './config.js';

export type Logger = pino.Logger;

export const REDACT_CENSOR = '[redacted]';

/** Paths censored in every log line (and in child bindings). */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'apiSecret',
  '*.apiSecret',
  'passphrase',
  '*.passphrase',
  'secretKey',
  '*.secretKey',
  'bundle',
  '*.bundle',
  'variables',
  '*.variables',
]);

export interface LoggerOptions {
  level: NodeConfig['logLevel'];
  /** a stream, or a file path (appended to, parent directories created, written synchronously); default stdout */
  destination?: NodeJS.WritableStream | string;
  /** the `name` field of every line */
  name?: string;
}

export function createLogger(opts: LoggerOptions): Logger {
  // A file is written synchronously: no lines are lost when the process crashes or exits right after logging.
  const destination =
    typeof opts.destination === 'string' ? pino.destination({ dest: opts.destination, mkdir: true, sync: true }) : opts.destination;
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { service: 'pie', pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    ...(opts.name === undefined ? {} : { name: opts.name }),
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
