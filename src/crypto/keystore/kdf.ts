/**
 * scrypt passphrase → AES key derivation, and the bounds on its parameters.
 *
 * Bounds are enforced both when creating a keystore and when reading one, because a keystore file is untrusted
 * input: without an upper bound a crafted file could make `unlock` allocate gigabytes or run for hours; without a
 * lower bound a writer could produce a file that is cheap to brute-force.
 */
import { scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { KeystoreError } from './errors.js';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
export const SCRYPT_LIMITS = Object.freeze({
  minLog2N: 14,
  maxLog2N: 20,
  minR: 8,
  maxR: 32,
  minP: 1,
  maxP: 16,
  /** scrypt's working memory is ≈ 128·N·r bytes. */
  maxMemoryBytes: 1024 * 1024 * 1024,
  /** N·r·p is proportional to the running time; 2^24 is 16× the default cost. */
  maxWork: 2 ** 24,
});
export const SALT_BYTES = 32;
export const DK_LEN = 32;

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);

/** Returns a description of the first problem with the parameters, or null if they are within bounds. */
export function scryptParamsProblem(params: { N: unknown; r: unknown; p: unknown }): { field: 'N' | 'r' | 'p'; problem: string } | null {
  const { N, r, p } = params;
  const L = SCRYPT_LIMITS;
  if (!isInt(N) || N < 2 ** L.minLog2N || N > 2 ** L.maxLog2N || (N & (N - 1)) !== 0) {
    return { field: 'N', problem: `must be a power of two between 2^${L.minLog2N} and 2^${L.maxLog2N}` };
  }
  if (!isInt(r) || r < L.minR || r > L.maxR) return { field: 'r', problem: `must be an integer in [${L.minR}, ${L.maxR}]` };
  if (!isInt(p) || p < L.minP || p > L.maxP) return { field: 'p', problem: `must be an integer in [${L.minP}, ${L.maxP}]` };
  if (128 * N * r > L.maxMemoryBytes) return { field: 'r', problem: `128·N·r exceeds the ${L.maxMemoryBytes / 2 ** 20} MiB memory limit` };
  if (N * r * p > L.maxWork) return { field: 'p', problem: `N·r·p exceeds the work limit 2^${Math.log2(L.maxWork)}` };
  return null;
}

/**
 * Validates a passphrase and returns its UTF-8 bytes after Unicode NFC normalisation, so that the same passphrase
 * typed on systems that compose accents differently derives the same key. The caller must zero the buffer.
 */
export function passphraseBytes(passphrase: unknown, what = 'passphrase'): Buffer {
  if (typeof passphrase !== 'string') throw new KeystoreError('INVALID_ARGUMENT', `${what} must be a string`);
  if (passphrase.length === 0) throw new KeystoreError('INVALID_ARGUMENT', `${what} must not be empty`);
  const bytes = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  if (bytes.length > 4096) {
    bytes.fill(0);
    throw new KeystoreError('INVALID_ARGUMENT', `${what} is longer than 4096 bytes`);
  }
  return bytes;
}

/** Derives the 32-byte AES key. Parameters must already have passed `scryptParamsProblem`. The caller must zero the result. */
export function deriveKey(passphrase: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const { N, r, p } = params;
  // OpenSSL needs 128·r·(N+2) bytes for V plus 128·r·p for B; Node's default maxmem (32 MiB) is below the
  // 128 MiB the default parameters need, so it must be raised explicitly. A little slack covers rounding.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * r * (N + 2) + 128 * r * p + 64 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCb(passphrase, salt, DK_LEN, options, (err, key) => {
      if (err) reject(new KeystoreError('INVALID_ARGUMENT', `scrypt failed: ${err.message}`, { cause: err }));
      else resolve(key);
    });
  });
}
