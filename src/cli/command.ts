/** How a `pie` command is declared and what it gets when it runs. */
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from './io.js';
import type { CliIo, Output } from './io.js';
import { openSession } from './profile.js';
import type { GlobalOptions, Session } from './profile.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type Values = GlobalOptions & Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  io: CliIo;
  values: Values;
  positionals: string[];
  out: Output;
  /** the profile's participant, its keystore unlocked (asks for the passphrase) */
  session(): Promise<Session>;
}

export interface Command {
  /** e.g. "approve", or "keys create" */
  name: string;
  /** positional arguments and options, e.g. "<requestId> [--days N] [--threshold T]" */
  usage: string;
  summary: string;
  options?: OptionSpecs;
  /** names of the positional arguments (all required) */
  args?: readonly string[];
  run(ctx: CommandContext): Promise<number | void>;
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  profile: { type: 'string' },
  'passphrase-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const sessionOf = (io: CliIo, values: Values): (() => Promise<Session>) => {
  let s: Promise<Session> | undefined;
  return () => (s ??= openSession(io, values));
};

/** A string option, or UsageError when it is required and missing. */
export function str(values: Values, name: string, required: true): string;
export function str(values: Values, name: string, required?: false): string | undefined;
export function str(values: Values, name: string, required = false): string | undefined {
  const v = values[name];
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name}: needs a value`);
  return v;
}

/** A positive whole number option within [min, max]. */
export function int(values: Values, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name}: must be a whole number from ${min} to ${max}`);
  return Number(v);
}

/** The id-shaped positional argument `name` (letters, digits and . _ : -). */
export function idArg(ctx: CommandContext, index: number, name: string): string {
  const v = ctx.positionals[index];
  if (v === undefined) throw new UsageError(`missing <${name}>`);
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(v)) throw new UsageError(`<${name}>: not an id`);
  return v;
}
