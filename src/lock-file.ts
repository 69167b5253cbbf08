/**
 * One process per data directory: a lock file holding the owner's pid, created exclusively. A lock whose process is
 * gone (a crash) is taken over; a live owner (this process included) makes the second open fail.
 */
import { promises as fsp } from 'node:fs';
import { CodedError } from './errors.js';

export class LockFileError extends CodedError<'LOCKED' | 'IO'> {
  override readonly name = 'LockFileError';
  constructor(
    code: 'LOCKED' | 'IO',
    message: string,
    /** the pid of the live owner, for LOCKED */
    readonly holderPid?: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Takes the lock file at `path`; resolves to its release function. */
export async function takeLockFile(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return async () => {
        await fsp.unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LockFileError('IO', `cannot create ${path}: ${(e as Error).message}`, undefined, { cause: e });
      const pid = Number((await fsp.readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) throw new LockFileError('LOCKED', `${path} is held by process ${pid}`, pid);
      await fsp.unlink(path).catch(() => undefined); // stale lock of a crashed process
    }
  }
  throw new LockFileError('LOCKED', `cannot take ${path}`);
}
