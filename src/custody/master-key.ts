/**
 * The node's master key file and what is sealed under it: secrets kept at rest (custodial accounts' keys, the
 * re-encryption proxies' keys) are AES-256-GCM ciphertexts under one 32-byte master key, `PIE_CUSTODY_KEY_FILE`.
 *
 *   sealed = nonce (12) ‖ AES-256-GCM(plaintext, associated data) ‖ tag (16)
 *
 * The associated data binds each ciphertext to the public fields stored beside it (the caller chooses them), so a
 * ciphertext moved to another entry or an edited field fails authentication. Files holding secrets, and the
 * directories they sit in, must be private to this user (like ssh).
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../crypto/keystore/atomic-file.js';
import { CustodyError } from './errors.js';

const MASTER_KEY_BYTES = 32;
/** The key file is 65 bytes; anything much larger is not ours and is not read. */
const MAX_KEY_FILE_BYTES = 1024;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** How many bytes sealing adds to the plaintext (nonce and tag). */
export const SEAL_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

const POSIX = process.platform !== 'win32';
export const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
export const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** Like ssh: refuse secrets that group/others can access, or that another (non-root) user owns. */
export function checkPrivate(st: { mode: number; uid: number }, path: string, what: string): void {
  if (!POSIX) return;
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new CustodyError('INSECURE_KEY_FILE', `${what} ${path} has mode ${mode}: it must not be accessible to group or others (chmod go-rwx)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw new CustodyError('INSECURE_KEY_FILE', `${what} ${path} is owned by uid ${st.uid}, not by this process's user (${uid}) or root`);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  if (!POSIX) return; // directories cannot be opened/fsynced on Windows
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Creates `dir` (0700) if needed and checks that it is a directory private to this user; `what` names it in messages. */
export async function ensurePrivateDir(dir: string, what: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CustodyError('IO', `cannot create the ${what} ${dir}: ${errMessage(e)}`, { cause: e });
  }
  const st = await fsp.stat(dir).catch((e: unknown) => {
    throw new CustodyError('IO', `cannot stat the ${what} ${dir}: ${errMessage(e)}`, { cause: e });
  });
  if (!st.isDirectory()) throw new CustodyError('INVALID_ARGUMENT', `${dir} is not a directory`);
  checkPrivate(st, dir, what);
}

/**
 * Reads a small regular file through one handle, so the permissions checked (`requirePrivate`) are those of the file
 * read. ENOENT is rethrown as is.
 */
export async function readSmallFile(path: string, maxBytes: number, what: string, requirePrivate: boolean): Promise<Buffer> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(path, 'r');
    const st = await handle.stat();
    if (!st.isFile()) throw new CustodyError('INTEGRITY', `${what} ${path} is not a regular file`);
    if (requirePrivate) checkPrivate(st, path, what);
    if (st.size > maxBytes) throw new CustodyError('INTEGRITY', `${what} ${path} is ${st.size} bytes; the limit is ${maxBytes}`);
    return await handle.readFile();
  } catch (e) {
    if (e instanceof CustodyError || errCode(e) === 'ENOENT') throw e;
    throw new CustodyError('IO', `cannot read ${what} ${path}: ${errMessage(e)}`, { cause: e });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

// The master key is handled as bytes, never as a JS string (strings cannot be zeroed).
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
function hexNibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** 64 hex digits and an optional line ending → 32 bytes, or undefined. */
function decodeKeyLine(text: Buffer): Buffer | undefined {
  let end = text.length;
  if (text[end - 1] === 0x0a) end--;
  if (text[end - 1] === 0x0d) end--;
  if (end !== 2 * MASTER_KEY_BYTES) return undefined;
  const key = Buffer.alloc(MASTER_KEY_BYTES);
  for (let i = 0; i < MASTER_KEY_BYTES; i++) {
    const hi = hexNibble(text[2 * i]!);
    const lo = hexNibble(text[2 * i + 1]!);
    if (hi < 0 || lo < 0) {
      key.fill(0);
      return undefined;
    }
    key[i] = (hi << 4) | lo;
  }
  return key;
}

function encodeKeyLine(key: Uint8Array): Buffer {
  const out = Buffer.alloc(2 * key.length + 1);
  key.forEach((b, i) => {
    out[2 * i] = HEX_DIGITS[b >> 4]!;
    out[2 * i + 1] = HEX_DIGITS[b & 15]!;
  });
  out[out.length - 1] = 0x0a;
  return out;
}

/**
 * Creates the key file with fresh random bytes. It is written under a temporary name and hard-linked into place:
 * link() fails if the file exists, so a concurrent creator's key is never replaced (rename would replace it), and a
 * crash never leaves a truncated key file under the real name.
 */
async function createKeyFile(keyFile: string): Promise<void> {
  const parent = dirname(keyFile);
  const tmp = join(parent, `.${basename(keyFile)}.${randomBytes(8).toString('hex')}.new`);
  const key = randomBytes(MASTER_KEY_BYTES);
  const line = encodeKeyLine(key);
  key.fill(0);
  try {
    await fsp.mkdir(parent, { recursive: true, mode: 0o700 });
    await writeFileAtomic(tmp, line, { mode: 0o600 });
    await fsp.link(tmp, keyFile);
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw new CustodyError('IO', `cannot create the key file ${keyFile}: ${errMessage(e)}`, { cause: e });
  } finally {
    line.fill(0);
    await fsp.unlink(tmp).catch(() => undefined);
  }
  await fsyncDir(parent).catch((e: unknown) => {
    throw new CustodyError('IO', `created ${keyFile} but could not fsync its directory: ${errMessage(e)}`, { cause: e });
  });
}

/**
 * The node's 32-byte master key from `keyFile` (one line of 64 hex digits, private to this user), created with fresh
 * random bytes when absent. The key stays inside a KeyObject; the bytes read are zeroed.
 */
export async function loadMasterKey(keyFile: string): Promise<KeyObject> {
  let text: Buffer;
  try {
    text = await readSmallFile(keyFile, MAX_KEY_FILE_BYTES, 'key file', true);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw e;
    await createKeyFile(keyFile);
    text = await readSmallFile(keyFile, MAX_KEY_FILE_BYTES, 'key file', true);
  }
  const key = decodeKeyLine(text);
  text.fill(0);
  if (!key) throw new CustodyError('INTEGRITY', `key file ${keyFile} must hold exactly ${2 * MASTER_KEY_BYTES} hex digits on one line`);
  try {
    return createSecretKey(key); // copies the bytes out of the JS heap
  } finally {
    key.fill(0);
  }
}

/** Seals `plaintext` under the master key with a fresh random nonce, bound to `associatedData`. */
export function sealBytes(masterKey: KeyObject, plaintext: Uint8Array, associatedData: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', masterKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/**
 * The plaintext of `sealed` (the caller zeroes it after use), or undefined when it does not authenticate: modified,
 * bound to other associated data, truncated, or sealed under another master key (GCM cannot tell these apart).
 */
export function openSealedBytes(masterKey: KeyObject, sealed: Uint8Array, associatedData: Uint8Array): Buffer | undefined {
  if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', masterKey, sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const plaintext = decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    return undefined;
  }
  return plaintext;
}
