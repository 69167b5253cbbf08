/**
 * Cipher backends for suite 1 (AES-256-GCM, 12-byte nonce, 16-byte tag, empty AAD). Both produce identical bytes.
 *
 * - `node`:  node:crypto (OpenSSL, AES-NI + PCLMUL). ~1.5 GB/s per core on segment-sized calls; the default in Node.
 * - `noble`: @noble/ciphers, pure JS, ~35 MB/s; the portable fallback for browsers and other runtimes.
 *
 * The node backend is loaded with a dynamic import so that this module graph carries no static `node:crypto`
 * dependency and bundles for the browser.
 */
import { EnvelopeError } from './errors.js';

export type BackendName = 'node' | 'noble';

/** AES-256-GCM bound to one key. Every call is synchronous and never retains its arguments. */
export interface SegmentCipher {
  /**
   * Encrypts `plaintext` under `nonce`; returns ciphertext || tag as one or two freshly allocated chunks (their
   * concatenation is the sealed segment). Never aliases `plaintext`, so the caller may reuse its buffer.
   */
  seal(nonce: Uint8Array, plaintext: Uint8Array): readonly Uint8Array[];
  /**
   * Decrypts a sealed segment given as consecutive parts (their concatenation is ciphertext || tag, at least 16 bytes;
   * parts may split anywhere, the tag included). Returns the plaintext as fresh chunks (empty list for an empty
   * segment), or null when the tag does not verify. Passing the parts avoids joining segments that straddle source
   * chunks.
   */
  open(nonce: Uint8Array, sealed: readonly Uint8Array[]): Uint8Array[] | null;
}

export interface Sha256 {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

export interface CryptoBackend {
  readonly name: BackendName;
  segmentCipher(key: Uint8Array): SegmentCipher;
  sha256(): Sha256;
}

const loaded = new Map<BackendName, Promise<CryptoBackend>>();

export function isNodeRuntime(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** The measured-fastest backend available: `node` under Node.js, `noble` elsewhere. */
export function defaultBackendName(): BackendName {
  return isNodeRuntime() ? 'node' : 'noble';
}

/** Synchronous check of a user-supplied backend option (so misuse fails at the call, not on first read). */
export function checkBackendName(name: unknown): asserts name is BackendName | undefined {
  if (name !== undefined && name !== 'node' && name !== 'noble') {
    throw new EnvelopeError('INVALID_ARGUMENT', `unknown backend ${JSON.stringify(name)} (use 'node' or 'noble')`);
  }
}

export function loadBackend(name: BackendName = defaultBackendName()): Promise<CryptoBackend> {
  let p = loaded.get(name);
  if (!p) {
    if (name === 'node') p = import('./backend-node.js').then((m) => m.nodeBackend);
    else if (name === 'noble') p = import('./backend-noble.js').then((m) => m.nobleBackend);
    else return Promise.reject(new EnvelopeError('INVALID_ARGUMENT', `unknown backend ${String(name)} (use 'node' or 'noble')`));
    loaded.set(name, p);
  }
  return p;
}
