/**
 * `pie`: the patient's (and any key-holding participant's) command line on the client SDK. `runCli` parses the
 * arguments (node:util parseArgs), runs one command and returns its exit code; main.ts and the tests call it.
 * Commands, profile and exit codes: docs/cli.md.
 */
import { parseArgs } from 'node:util';
import { GLOBAL_OPTIONS, sessionOf } from './command.js';
import type { Command, CommandContext, Values } from './command.js';
import { account, audit as auditCommands, keys, records as recordCommands, sharing } from './commands/index.js';
import { describeError, EXIT, Output, UsageError } from './io.js';
import type { CliIo } from './io.js';

export type { CliIo } from './io.js';
export { EXIT } from './io.js';

export const COMMANDS: readonly Command[] = [
  keys.keysCreate,
  keys.keysImport,
  keys.keysShow,
  account.register,
  account.login,
  account.whoami,
  recordCommands.records,
  recordCommands.read,
  recordCommands.rotate,
  sharing.requests,
  sharing.request,
  sharing.approve,
  sharing.deny,
  sharing.grants,
  sharing.revoke,
  sharing.consent,
  sharing.breakGlass,
  auditCommands.audit,
  auditCommands.credits,
  auditCommands.watch,
];

const GLOBAL_USAGE = '[--profile FILE] [--passphrase-file FILE] [--json]';

export const usageOf = (c: Command): string => `usage: pie ${c.name}${c.usage === '' ? '' : ` ${c.usage}`} ${GLOBAL_USAGE}\n  ${c.summary}\n`;

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `usage: pie <command> [arguments] ${GLOBAL_USAGE}`,
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'profile: --profile FILE, or PIE_PROFILE, or ~/.pie/profile.json (written by `pie login`)',
    'passphrase: PIE_PASSPHRASE, or --passphrase-file FILE, or asked for on the terminal',
    '`pie help <command>` or `pie <command> --help` for its arguments; exit codes and examples: docs/cli.md',
    '',
  ].join('\n');
}

/** Splits off the command's words (e.g. ["keys", "create"]), wherever global options put them. */
function commandWords(argv: readonly string[]): { words: string[]; rest: string[] } {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += argv[i] === '--profile' || argv[i] === '--passphrase-file' ? 2 : 1;
  if (i >= argv.length) return { words: [], rest: [...argv] };
  const n = argv[i] === 'keys' || argv[i] === 'help' ? 2 : 1;
  const words = argv.slice(i, i + n).filter((w) => !w.startsWith('-'));
  return { words, rest: [...argv.slice(0, i), ...argv.slice(i + words.length)] };
}

/** Whether the command ends on the AbortSignal (`watch`) rather than by itself. */
export const endsOnSignal = (argv: readonly string[]): boolean => commandWords(argv).words[0] === 'watch';

const find = (words: readonly string[]): Command | undefined => COMMANDS.find((c) => c.name === words.join(' '));

/** Runs one `pie` command; returns its exit code (docs/cli.md). Errors go to stderr as `pie: <message>`. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let nodeUrl: string | undefined;
  try {
    const { words, rest } = commandWords(argv);
    if (words.length === 0) {
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(helpText());
        return EXIT.OK;
      }
      io.stderr.write(helpText());
      return EXIT.USAGE;
    }
    if (words[0] === 'help') {
      const c = words.length > 1 ? find(words.slice(1)) ?? find([words[1]!, rest.find((r) => !r.startsWith('-')) ?? '']) : undefined;
      io.stdout.write(c === undefined ? helpText() : usageOf(c));
      return EXIT.OK;
    }
    const command = find(words);
    if (command === undefined) {
      if (words[0] === 'keys') throw new UsageError('usage: pie keys create | import | show');
      throw new UsageError(`unknown command "${words.join(' ')}" (see \`pie help\`)`);
    }
    const { values, positionals } = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    if (values.help === true) {
      io.stdout.write(usageOf(command));
      return EXIT.OK;
    }
    const expected = command.args ?? [];
    if (positionals.length !== expected.length) {
      throw new UsageError(`${positionals.length < expected.length ? 'missing' : 'unexpected'} arguments; usage: pie ${command.name} ${command.usage}`);
    }
    const session = sessionOf(io, values as Values);
    const ctx: CommandContext = {
      io,
      values: values as Values,
      positionals,
      out: new Output(io, values.json === true),
      session: async () => {
        const s = await session();
        nodeUrl = s.profile.url;
        return s;
      },
    };
    return (await command.run(ctx)) ?? EXIT.OK;
  } catch (e) {
    const { exitCode, message } = describeError(e, nodeUrl);
    io.stderr.write(`pie: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return exitCode;
  }
}
