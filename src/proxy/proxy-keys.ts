/**
 * The key pairs of this node's re-encryption proxies: one Umbral (secp256k1) encryption key pair per proxy,
 * generated on first start and kept under `<dataDir>/proxy/`, the secret sealed at rest under the node's master key
 * (the custody master key file, src/custody/master-key.ts).
 *
 * Layout: `<dir>/proxy-<n>.json` (0600, in a 0700 directory), one file per proxy n = 1..count:
 *   { v: 1, id: "<organisation>.proxy.<n>", encryptionKey, createdAt, sealed: base64(nonce ‖ AES-256-GCM(secret) ‖ tag) }
 * The associated data binds the id, the public key and createdAt, so a file renamed, copied to another proxy or
 * edited fails authentication. Secrets are decrypted for one use (`withSecret`) and never cached or logged.
 *
 * Lowering the count leaves the files (and the ledger registrations) of the proxies above it in place; they are not
 * served. A file is never replaced: a proxy's key is registered on the ledger, and grants hold kfrags sealed to it.
 */
import type { KeyObject } from 'node:crypto';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { proxyIdOf } from '../../chaincode/src/domain/proxy.js';
import { writeFileAtomic } from '../crypto/keystore/atomic-file.js';
import { SecretKey } from '../crypto/umbral/index.js';
import { CustodyError } from '../custody/errors.js';
import { SEAL_OVERHEAD_BYTES, ensurePrivateDir, errCode, errMessage, loadMasterKey, openSealedBytes, readSmallFile, sealBytes } from '../custody/master-key.js';

/** One of this node's proxies, as the ledger has it. */
export interface ProxyInfo {
  readonly id: string;
  readonly organisation: string;
  /** 33-byte compressed secp256k1, hex */
  readonly encryptionKey: string;
}

/** The most proxies one node runs (PIE_PROXY_COUNT). */
export const MAX_LOCAL_PROXIES = 16;

const FILE_VERSION = 1;
const AAD_LABEL = 'pie-proxy-key-v1';
const SECRET_KEY_BYTES = 32;
const SEALED_BYTES = SECRET_KEY_BYTES + SEAL_OVERHEAD_BYTES;
const MAX_FILE_BYTES = 4096;
const PUBLIC_KEY_HEX = /^0[23][0-9a-f]{64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const FIELDS = ['v', 'id', 'encryptionKey', 'createdAt', 'sealed'];

interface KeyFile {
  readonly id: string;
  readonly encryptionKey: string;
  readonly createdAt: string;
  readonly sealed: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const associatedData = (f: Omit<KeyFile, 'sealed'>): Buffer => Buffer.from(JSON.stringify([AAD_LABEL, f.id, f.encryptionKey, f.createdAt]), 'utf8');
const fileName = (n: number): string => `proxy-${n}.json`;

function parseKeyFile(text: string, name: string): KeyFile {
  const bad = (field: string, problem: string): CustodyError => new CustodyError('INTEGRITY', `proxy key file ${name}: ${field} ${problem}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CustodyError('INTEGRITY', `proxy key file ${name}: not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('(root)', 'is not an object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.includes(k)) throw bad(`"${k}"`, 'is not a known field');
  if (o.v !== FILE_VERSION) throw bad('"v"', `must be ${FILE_VERSION}`);
  const { id, encryptionKey, createdAt, sealed } = o;
  if (typeof id !== 'string') throw bad('"id"', 'must be a string');
  if (typeof encryptionKey !== 'string' || !PUBLIC_KEY_HEX.test(encryptionKey)) throw bad('"encryptionKey"', 'must be a compressed secp256k1 key in hex');
  if (typeof createdAt !== 'string' || !ISO_TIME.test(createdAt) || Number.isNaN(Date.parse(createdAt))) throw bad('"createdAt"', 'must be an ISO 8601 UTC timestamp');
  if (typeof sealed !== 'string' || !BASE64.test(sealed) || Buffer.from(sealed, 'base64').length !== SEALED_BYTES) {
    throw bad('"sealed"', `must be canonical base64 of ${SEALED_BYTES} bytes`);
  }
  return { id, encryptionKey, createdAt, sealed };
}

export class ProxyKeyStore {
  readonly #dir: string;
  readonly #masterKey: KeyObject;
  readonly #files: ReadonlyMap<string, KeyFile>;
  /** this node's proxies, proxy 1 first */
  readonly proxies: readonly ProxyInfo[];

  private constructor(dir: string, masterKey: KeyObject, files: readonly KeyFile[], organisation: string) {
    this.#dir = dir;
    this.#masterKey = masterKey;
    this.#files = new Map(files.map((f) => [f.id, f]));
    this.proxies = Object.freeze(files.map((f) => Object.freeze({ id: f.id, organisation, encryptionKey: f.encryptionKey })));
  }

  /**
   * Opens the keys of proxies 1..count of `organisation` in `dir` (created 0700), generating those that are missing.
   * Every file is checked and decrypted now, so a wrong master key, an edited file or a file of another organisation
   * fails at start (CustodyError INTEGRITY), not at first use.
   */
  static async open(opts: { dir: string; keyFile: string; organisation: string; count: number }): Promise<ProxyKeyStore> {
    const { organisation, count } = opts;
    if (!Number.isInteger(count) || count < 1 || count > MAX_LOCAL_PROXIES) {
      throw new CustodyError('INVALID_ARGUMENT', `the proxy count must be an integer in 1..${MAX_LOCAL_PROXIES}, got ${String(count)}`);
    }
    const dir = resolve(opts.dir);
    await ensurePrivateDir(dir, 'proxy key directory');
    const masterKey = await loadMasterKey(resolve(opts.keyFile));
    const files: KeyFile[] = [];
    for (let n = 1; n <= count; n++) {
      const id = proxyIdOf(organisation, n);
      const path = join(dir, fileName(n));
      let bytes: Buffer | undefined;
      try {
        bytes = await readSmallFile(path, MAX_FILE_BYTES, 'proxy key file', true);
      } catch (e) {
        if (errCode(e) !== 'ENOENT') throw e;
      }
      files.push(bytes === undefined ? await generate(path, id, masterKey) : check(parseKeyFile(bytes.toString('utf8'), fileName(n)), id, fileName(n), masterKey));
    }
    return new ProxyKeyStore(dir, masterKey, files, organisation);
  }

  /**
   * Runs `fn` with the proxy's secret key, decrypted for this call only (the decrypted bytes are zeroed before `fn`
   * runs). `fn` must not keep the key.
   */
  withSecret<T>(proxyId: string, fn: (secret: SecretKey) => T): T {
    const file = this.#files.get(proxyId);
    if (file === undefined) throw new CustodyError('NOT_FOUND', `no key for proxy ${proxyId} on this node`);
    const secret = unseal(file, this.#masterKey, proxyId);
    let sk: SecretKey;
    try {
      sk = SecretKey.fromBEBytes(secret);
    } finally {
      secret.fill(0);
    }
    return fn(sk);
  }

  toString(): string {
    return `ProxyKeyStore(${this.#dir}, ${this.proxies.map((p) => p.id).join(', ')})`;
  }
  toJSON(): string {
    return this.toString();
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

/** The 32 secret bytes (the caller zeroes them); INTEGRITY when the file does not authenticate. */
function unseal(file: KeyFile, masterKey: KeyObject, name: string): Buffer {
  const secret = openSealedBytes(masterKey, Buffer.from(file.sealed, 'base64'), associatedData(file));
  if (secret === undefined) {
    throw new CustodyError('INTEGRITY', `proxy key file ${name}: authentication failed (modified, moved from another proxy, or sealed under another master key)`);
  }
  return secret;
}

/** A loaded file must be this proxy's and hold the secret of its public key. */
function check(file: KeyFile, id: string, name: string, masterKey: KeyObject): KeyFile {
  if (file.id !== id) throw new CustodyError('INTEGRITY', `proxy key file ${name} belongs to proxy ${file.id}, not ${id} (was the organisation renamed?)`);
  const secret = unseal(file, masterKey, name);
  try {
    if (hex(SecretKey.fromBEBytes(secret).publicKey().toCompressedBytes()) !== file.encryptionKey) {
      throw new CustodyError('INTEGRITY', `proxy key file ${name}: the sealed secret key does not match its public key`);
    }
  } catch (e) {
    if (e instanceof CustodyError) throw e;
    throw new CustodyError('INTEGRITY', `proxy key file ${name}: the sealed bytes are not a valid secret key`);
  } finally {
    secret.fill(0);
  }
  return file;
}

async function generate(path: string, id: string, masterKey: KeyObject): Promise<KeyFile> {
  const sk = SecretKey.random();
  const meta = { id, encryptionKey: hex(sk.publicKey().toCompressedBytes()), createdAt: new Date().toISOString() };
  const secret = sk.toBEBytes();
  let file: KeyFile;
  try {
    file = { ...meta, sealed: sealBytes(masterKey, secret, associatedData(meta)).toString('base64') };
  } finally {
    secret.fill(0);
  }
  const text = `${JSON.stringify({ v: FILE_VERSION, ...file }, null, 2)}\n`;
  try {
    await writeFileAtomic(path, text, { mode: 0o600 });
  } catch (e) {
    throw new CustodyError('IO', `cannot write ${path}: ${errMessage(e)}`, { cause: e });
  }
  return file;
}
