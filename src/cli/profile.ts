/**
 * The CLI's profile ({url, audience, participantId, keystore}, default ~/.pie/profile.json, or --profile / PIE_PROFILE),
 * the keystore passphrase (PIE_PASSPHRASE, --passphrase-file, or a prompt without echo on a terminal), and the
 * session a command runs in: the participant with its keys unlocked in memory for this run only.
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/participant.js';
import { PieClient } from '../client/client.js';
import { PieParticipant } from '../client/participant.js';
import { loadKeystore, unlockKeystore } from '../crypto/keystore.js';
import type { Keystore } from '../crypto/keystore.js';
import { writeFileAtomic } from '../crypto/keystore/atomic-file.js';
import { CliError, EXIT, UsageError } from './io.js';
import type { CliInput, CliIo } from './io.js';

export interface Profile {
  /** the node's base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  /** the node's token audience (PIE_AUDIENCE; default pie://<organisation>) */
  audience: string;
  participantId: string;
  /** the keystore file; a relative path is relative to the profile's directory */
  keystore: string;
}

/** The options every command takes. */
export interface GlobalOptions {
  profile?: string;
  'passphrase-file'?: string;
  json?: boolean;
}

const MAX_PROFILE_BYTES = 64 * 1024;

export function profilePath(io: CliIo, opts: GlobalOptions): string {
  const p = opts.profile ?? io.env.PIE_PROFILE;
  if (p !== undefined && p !== '') return resolve(p);
  return join(io.env.HOME ?? homedir(), '.pie', 'profile.json');
}

export function parseProfile(text: string, path: string): Profile {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`${path}: not JSON`);
  }
  const field = (name: keyof Profile): string => {
    const v = o?.[name];
    if (typeof v !== 'string' || v === '') throw new CliError(`${path}: "${name}" must be a non-empty string`);
    return v;
  };
  const profile = { url: field('url'), audience: field('audience'), participantId: field('participantId'), keystore: field('keystore') };
  checkUrl(profile.url, `${path}: "url"`);
  if (!PARTICIPANT_ID.test(profile.participantId)) throw new CliError(`${path}: "participantId" must be 32 lower-case hex characters`);
  return profile;
}

export function checkUrl(url: string, what: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${what}: not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${what}: must be http:// or https://`);
  return url.replace(/\/+$/, '');
}

export async function readProfile(path: string): Promise<Profile> {
  let text: string;
  try {
    const stat = await fsp.stat(path);
    if (stat.size > MAX_PROFILE_BYTES) throw new CliError(`${path}: too large for a profile`);
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new UsageError(`no profile at ${path}: run \`pie login\` first (or pass --profile / set PIE_PROFILE)`);
    throw e;
  }
  return parseProfile(text, path);
}

/** Writes the profile (mode 0600; its directory 0700 when created). */
export async function writeProfile(path: string, profile: Profile): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
}

export const keystorePathOf = (profilePathValue: string, profile: Profile): string =>
  isAbsolute(profile.keystore) ? profile.keystore : resolve(dirname(profilePathValue), profile.keystore);

/** The keystore passphrase: PIE_PASSPHRASE, else --passphrase-file (its first line), else a prompt on a terminal. */
export async function passphrase(io: CliIo, opts: GlobalOptions, prompt = 'keystore passphrase: '): Promise<string> {
  const env = io.env.PIE_PASSPHRASE;
  if (env !== undefined && env !== '') return env;
  if (opts['passphrase-file'] !== undefined) {
    const text = await fsp.readFile(opts['passphrase-file'], 'utf8');
    const line = text.split(/\r?\n/, 1)[0] ?? '';
    if (line === '') throw new UsageError(`${opts['passphrase-file']}: the first line (the passphrase) is empty`);
    return line;
  }
  const stdin = io.stdin;
  if (stdin?.isTTY === true && typeof stdin.setRawMode === 'function') return promptHidden(stdin, io, prompt);
  throw new UsageError('no passphrase: set PIE_PASSPHRASE, pass --passphrase-file FILE, or run in a terminal');
}

/** A new passphrase, asked twice on a terminal. */
export async function newPassphrase(io: CliIo, opts: GlobalOptions): Promise<string> {
  if ((io.env.PIE_PASSPHRASE ?? '') !== '' || opts['passphrase-file'] !== undefined) return passphrase(io, opts);
  const first = await passphrase(io, opts, 'new keystore passphrase: ');
  const again = await passphrase(io, opts, 'repeat the passphrase: ');
  if (first !== again) throw new UsageError('the passphrases differ');
  return first;
}

/** Reads a line from a terminal in raw mode, echoing nothing. */
function promptHidden(stdin: CliInput, io: CliIo, prompt: string): Promise<string> {
  io.stderr.write(prompt);
  stdin.setRawMode!(true);
  stdin.setEncoding?.('utf8');
  stdin.resume?.();
  let typed = '';
  return new Promise<string>((resolvePromise, reject) => {
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode!(false);
      stdin.pause?.();
      io.stderr.write('\n');
    };
    const onData = (chunk: string | Uint8Array): void => {
      const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolvePromise(typed);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(new CliError('cancelled', EXIT.UNEXPECTED));
          return;
        }
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export interface Session {
  profile: Profile;
  profilePath: string;
  participant: PieParticipant;
}

/** Unlocks `keystore` with the passphrase and makes the participant `id` at `url`. */
export async function unlockParticipant(io: CliIo, opts: GlobalOptions, at: { url: string; audience: string; participantId: string }, keystore: Keystore): Promise<PieParticipant> {
  const keys = await unlockKeystore(keystore, await passphrase(io, opts));
  return PieParticipant.fromKeys(new PieClient(at.url, at.audience), at.participantId, { signing: keys.signingKey, encryption: keys.encryptionKey });
}

/** The profile's participant, its keystore unlocked. */
export async function openSession(io: CliIo, opts: GlobalOptions): Promise<Session> {
  const path = profilePath(io, opts);
  const profile = await readProfile(path);
  const keystore = await loadKeystore(keystorePathOf(path, profile));
  return { profile, profilePath: path, participant: await unlockParticipant(io, opts, profile, keystore) };
}
