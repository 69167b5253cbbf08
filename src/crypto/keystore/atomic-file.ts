/**
 * Crash-safe file replacement and bounded reads. The fs functions are injectable so tests can simulate failures.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { KeystoreError } from './errors.js';

/** The subset of a `fs.promises` FileHandle used here. */
export interface FileHandleLike {
  writeFile(data: Uint8Array | string): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The subset of `node:fs/promises` used by `writeFileAtomic`. */
export interface AtomicWriteFs {
  open(path: string, flags: string, mode?: number): Promise<FileHandleLike>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

export const nodeFs: AtomicWriteFs = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: fsp.rename,
  unlink: fsp.unlink,
};

const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Replaces `path` with `data` so that, whatever happens (exception, crash, power loss), `path` holds either the old
 * or the new complete content:
 *   1. create `.<name>.<random>.tmp` in the same directory (rename is only atomic within a file system) with
 *      O_EXCL and the final mode, so the secret-bearing file is never readable by others, even briefly;
 *   2. write and fsync it, so its data is durable before it becomes visible under the final name;
 *   3. rename it over `path` (atomic on POSIX);
 *   4. fsync the directory, so the rename itself is durable.
 * On failure before step 3 the temp file is removed and `path` is untouched.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: { mode?: number; fs?: AtomicWriteFs } = {},
): Promise<void> {
  const fs = opts.fs ?? nodeFs;
  const mode = opts.mode ?? 0o600;
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);

  let handle: FileHandleLike | undefined;
  let tmpExists = false;
  try {
    handle = await fs.open(tmp, 'wx', mode);
    tmpExists = true;
    await handle.writeFile(data);
    await handle.sync();
    const h = handle;
    handle = undefined;
    await h.close();
    await fs.rename(tmp, target);
    tmpExists = false;
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    if (tmpExists) await fs.unlink(tmp).catch(() => undefined);
    throw new KeystoreError('IO', `could not write ${target}: ${errMessage(e)}`, { cause: e });
  }

  // The new file is in place; this only makes the rename durable across a power loss.
  if (process.platform === 'win32') return; // directories cannot be opened/fsynced there
  let dirHandle: FileHandleLike | undefined;
  try {
    dirHandle = await fs.open(dir, 'r');
    await dirHandle.sync();
  } catch (e) {
    throw new KeystoreError('IO', `wrote ${target} but could not fsync its directory: ${errMessage(e)}`, { cause: e });
  } finally {
    await dirHandle?.close().catch(() => undefined);
  }
}

/** Reads a whole file as UTF-8, refusing files larger than `maxBytes` before reading them. */
export async function readFileBounded(path: string, maxBytes: number): Promise<string> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(path, 'r');
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new KeystoreError('MALFORMED', `keystore file ${path} is ${size} bytes; the limit is ${maxBytes}`);
    }
    return await handle.readFile({ encoding: 'utf8' });
  } catch (e) {
    if (e instanceof KeystoreError) throw e;
    throw new KeystoreError('IO', `could not read ${path}: ${errMessage(e)}`, { cause: e });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
