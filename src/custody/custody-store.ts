/**
 * The node's custodial key store for institutional accounts (an EHR vendor's system account, a research team).
 * Patients always hold their own keys; only institutional accounts may opt into custody, where the node generates
 * the account's signing and Umbral encryption key pairs and keeps the secret keys sealed at rest under a 32-byte
 * master key. The institution authenticates with an API secret of which only the SHA-256 digest is stored.
 *
 * Layout: `<dir>/<signingKeyHex>.json`, one file per account:
 *   { v: 1, signingKey, encryptionKey, participantId?, apiSecretSha256, createdAt,
 *     sealed: base64(nonce ‖ AES-256-GCM(signingSecret ‖ encryptionSecret) ‖ tag) }
 * The AES-GCM associated data binds every other field of the entry (see `associatedData`), so an edited, swapped or
 * transplanted field fails authentication.
 *
 * Threat model: an attacker who can read `dir` learns public keys and participant ids only. One who can write it
 * (but not read the key file) can delete entries or roll one back to an older version (e.g. a pre-rotation API
 * secret), but cannot forge, swap or edit entries undetected. Whoever reads the key file and `dir` has the keys.
 */
import { createHash, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/participant.js';
import { writeFileAtomic } from '../crypto/keystore/atomic-file.js';
import { PublicKey, SecretKey } from '../crypto/umbral/index.js';
import { CustodyError } from './errors.js';
import { SEAL_OVERHEAD_BYTES, ensurePrivateDir, errMessage, fsyncDir, loadMasterKey, openSealedBytes, readSmallFile, sealBytes } from './master-key.js';

export { CustodyError, type CustodyErrorCode } from './errors.js';

export interface CustodialKeys {
  readonly signing: SecretKey;
  readonly encryption: SecretKey;
}

export interface CustodialAccount {
  /** absent until `bind` (the entry exists before the participant is registered on the ledger) */
  participantId?: string;
  /** hex of the 33-byte compressed signing public key */
  signingKey: string;
  /** hex of the 33-byte compressed encryption public key */
  encryptionKey: string;
  /** ISO 8601 UTC, when the entry was generated */
  createdAt: string;
}

const ENTRY_VERSION = 1;
const AAD_LABEL = 'pie-custody-v1';
const SECRET_KEY_BYTES = 32;
const SEALED_BYTES = 2 * SECRET_KEY_BYTES + SEAL_OVERHEAD_BYTES;
const API_SECRET_PREFIX = 'pie_sk_';
const API_SECRET_BYTES = 32;
/** Entries are ~0.5 KiB; anything much larger is not ours and is not read. */
const MAX_ENTRY_FILE_BYTES = 16 * 1024;

const PUBLIC_KEY_HEX = /^[0-9a-f]{66}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const ENTRY_FILE = /^([0-9a-f]{66})\.json$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ENTRY_FIELDS = ['v', 'signingKey', 'encryptionKey', 'participantId', 'apiSecretSha256', 'createdAt', 'sealed'];

/** An entry as held in memory: exactly the file's content (immutable; a change replaces the object). */
interface Entry {
  readonly signingKey: string;
  readonly encryptionKey: string;
  readonly participantId: string | undefined;
  readonly apiSecretSha256: string;
  readonly createdAt: string;
  readonly sealed: string;
}
type EntryMeta = Omit<Entry, 'sealed'>;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * The AES-GCM associated data. The brief's minimum is the label and both public keys; participantId, the API secret
 * digest and createdAt are bound too, so that someone able to write `dir` cannot substitute their own API secret's
 * digest (and then have the node sign as the account) or move a participant id onto another entry. A JSON array of
 * strings/null is an unambiguous encoding.
 */
function associatedData(m: EntryMeta): Buffer {
  return Buffer.from(JSON.stringify([AAD_LABEL, m.signingKey, m.encryptionKey, m.participantId ?? null, m.apiSecretSha256, m.createdAt]), 'utf8');
}

function newApiSecret(): string {
  return API_SECRET_PREFIX + randomBytes(API_SECRET_BYTES).toString('base64url');
}

// ---------------------------------------------------------------------------------------------------------------
// Entry files

function parseEntry(text: string, file: string): Entry {
  const bad = (field: string, problem: string): CustodyError => new CustodyError('INTEGRITY', `custody entry ${file}: ${field} ${problem}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Not the parser's message: newer Node versions quote the input in it.
    throw new CustodyError('INTEGRITY', `custody entry ${file}: not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('(root)', 'is not an object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!ENTRY_FIELDS.includes(k)) throw bad(`"${k}"`, 'is not a known field');
  if (o.v !== ENTRY_VERSION) throw bad('"v"', `must be ${ENTRY_VERSION}`);

  const publicKey = (field: 'signingKey' | 'encryptionKey'): string => {
    const v = o[field];
    if (typeof v !== 'string' || !PUBLIC_KEY_HEX.test(v)) throw bad(`"${field}"`, 'must be 66 lower-case hex digits');
    try {
      PublicKey.fromCompressedBytes(Buffer.from(v, 'hex'));
    } catch {
      throw bad(`"${field}"`, 'is not a compressed secp256k1 point');
    }
    return v;
  };
  const signingKey = publicKey('signingKey');
  const encryptionKey = publicKey('encryptionKey');
  if (file !== `${signingKey}.json`) throw bad('"signingKey"', 'does not match the file name');

  const participantId = o.participantId;
  if (participantId !== undefined && (typeof participantId !== 'string' || !PARTICIPANT_ID.test(participantId))) {
    throw bad('"participantId"', 'must be 32 lower-case hex digits');
  }
  const { apiSecretSha256, createdAt, sealed } = o;
  if (typeof apiSecretSha256 !== 'string' || !SHA256_HEX.test(apiSecretSha256)) throw bad('"apiSecretSha256"', 'must be 64 lower-case hex digits');
  if (typeof createdAt !== 'string' || !ISO_TIME.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    throw bad('"createdAt"', 'must be an ISO 8601 UTC timestamp with milliseconds');
  }
  if (typeof sealed !== 'string' || !BASE64.test(sealed) || Buffer.from(sealed, 'base64').length !== SEALED_BYTES) {
    throw bad('"sealed"', `must be canonical base64 of ${SEALED_BYTES} bytes`);
  }
  return { signingKey, encryptionKey, participantId, apiSecretSha256, createdAt, sealed };
}

function serializeEntry(e: Entry): string {
  const json = {
    v: ENTRY_VERSION,
    signingKey: e.signingKey,
    encryptionKey: e.encryptionKey,
    ...(e.participantId === undefined ? {} : { participantId: e.participantId }),
    apiSecretSha256: e.apiSecretSha256,
    createdAt: e.createdAt,
    sealed: e.sealed,
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Builds the two SecretKeys from a 64-byte plaintext (SecretKey keeps a scalar, not the bytes, so the caller can zero them). */
function keysFrom(plaintext: Uint8Array): CustodialKeys {
  return Object.freeze({
    signing: SecretKey.fromBEBytes(plaintext.subarray(0, SECRET_KEY_BYTES)),
    encryption: SecretKey.fromBEBytes(plaintext.subarray(SECRET_KEY_BYTES, 2 * SECRET_KEY_BYTES)),
  });
}

// ---------------------------------------------------------------------------------------------------------------

export class CustodyStore {
  readonly #dir: string;
  readonly #keyFile: string;
  readonly #masterKey: KeyObject;
  /** by signing public key (hex) */
  readonly #entries = new Map<string, Entry>();
  /** bound entries by participant id */
  readonly #byParticipant = new Map<string, Entry>();
  /** compared against for unknown participants, so that verifyApiSecret does the same work either way */
  readonly #decoyDigest = randomBytes(32);
  /** mutations run one at a time, so concurrent bind/rotate/discard calls cannot interleave their writes */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, keyFile: string, masterKey: KeyObject) {
    this.#dir = dir;
    this.#keyFile = keyFile;
    this.#masterKey = masterKey;
  }

  /**
   * Opens (creating if needed) the store. `dir` holds the entries (created 0700); `keyFile` the 32-byte master key
   * as one line of hex (created 0600 with fresh random bytes if absent). Both must be private to this user
   * (INSECURE_KEY_FILE otherwise). Every entry is validated and decrypted, so a wrong master key or a modified
   * entry fails here (INTEGRITY) rather than at first use.
   */
  static async open(opts: { dir: string; keyFile: string }): Promise<CustodyStore> {
    if (typeof opts?.dir !== 'string' || opts.dir === '') throw new CustodyError('INVALID_ARGUMENT', 'dir must be a non-empty path');
    if (typeof opts.keyFile !== 'string' || opts.keyFile === '') throw new CustodyError('INVALID_ARGUMENT', 'keyFile must be a non-empty path');
    const dir = resolve(opts.dir);
    const keyFile = resolve(opts.keyFile);
    await ensurePrivateDir(dir, 'custody directory');
    const store = new CustodyStore(dir, keyFile, await loadMasterKey(keyFile));
    await store.#loadEntries();
    return store;
  }

  /**
   * Generates an account: two fresh key pairs and an API secret (`pie_sk_` + 43 base64url characters). The entry is
   * persisted before this resolves, i.e. before the caller registers the keys on the ledger; then call `bind` with
   * the new participant id, or `discard` if registration failed. The API secret is returned once and not stored.
   */
  generate(): Promise<{ signingKey: string; encryptionKey: string; apiSecret: string }> {
    return this.#serialize(async () => {
      const signing = SecretKey.random();
      let encryption = SecretKey.random();
      while (encryption.publicKey().equals(signing.publicKey())) encryption = SecretKey.random(); // never, in practice
      const apiSecret = newApiSecret();
      const meta: EntryMeta = {
        signingKey: hex(signing.publicKey().toCompressedBytes()),
        encryptionKey: hex(encryption.publicKey().toCompressedBytes()),
        participantId: undefined,
        apiSecretSha256: sha256(apiSecret).toString('hex'),
        createdAt: new Date().toISOString(),
      };
      const s = signing.toBEBytes();
      const e = encryption.toBEBytes();
      const plaintext = Buffer.concat([s, e]);
      let entry: Entry;
      try {
        entry = { ...meta, sealed: this.#seal(meta, plaintext) };
      } finally {
        s.fill(0);
        e.fill(0);
        plaintext.fill(0);
      }
      await this.#write(entry);
      this.#entries.set(entry.signingKey, entry);
      return { signingKey: entry.signingKey, encryptionKey: entry.encryptionKey, apiSecret };
    });
  }

  /** Records the participant id the ledger assigned to the entry's keys. Idempotent for the same id. */
  async bind(signingKeyHex: string, participantId: string): Promise<void> {
    checkSigningKeyArg(signingKeyHex);
    if (typeof participantId !== 'string' || !PARTICIPANT_ID.test(participantId)) {
      throw new CustodyError('INVALID_ARGUMENT', 'participantId must be 32 lower-case hex digits');
    }
    return await this.#serialize(async () => {
      const entry = this.#entryByKey(signingKeyHex);
      if (entry.participantId === participantId) return;
      if (entry.participantId !== undefined) {
        throw new CustodyError('CONFLICT', `entry ${signingKeyHex} is already bound to participant ${entry.participantId}`);
      }
      if (this.#byParticipant.has(participantId)) {
        throw new CustodyError('CONFLICT', `participant ${participantId} is already bound to another custody entry`);
      }
      const updated = this.#reseal(entry, { participantId });
      await this.#write(updated);
      this.#entries.set(updated.signingKey, updated);
      this.#byParticipant.set(participantId, updated);
    });
  }

  /** Deletes an entry that was never bound (its ledger registration failed). Bound entries are refused (CONFLICT). */
  async discard(signingKeyHex: string): Promise<void> {
    checkSigningKeyArg(signingKeyHex);
    return await this.#serialize(async () => {
      const entry = this.#entryByKey(signingKeyHex);
      if (entry.participantId !== undefined) {
        throw new CustodyError('CONFLICT', `entry ${signingKeyHex} is bound to participant ${entry.participantId}; bound entries are not discarded`);
      }
      const file = this.#fileOf(signingKeyHex);
      try {
        await fsp.unlink(file);
      } catch (e) {
        throw new CustodyError('IO', `cannot delete ${file}: ${errMessage(e)}`, { cause: e });
      }
      this.#entries.delete(signingKeyHex);
      await fsyncDir(this.#dir).catch((e: unknown) => {
        throw new CustodyError('IO', `deleted ${file} but could not fsync its directory: ${errMessage(e)}`, { cause: e });
      });
    });
  }

  /** Whether the participant's keys are held here (bound entries only). */
  isCustodial(participantId: string): boolean {
    return typeof participantId === 'string' && this.#byParticipant.has(participantId);
  }

  /**
   * Checks an API secret in constant time (timingSafeEqual on SHA-256 digests). Unknown participants are compared
   * against a random decoy digest, so they take the same path and return false.
   */
  verifyApiSecret(participantId: string, secret: string): boolean {
    const entry = typeof participantId === 'string' ? this.#byParticipant.get(participantId) : undefined;
    const expected = entry ? Buffer.from(entry.apiSecretSha256, 'hex') : this.#decoyDigest;
    const matches = timingSafeEqual(sha256(typeof secret === 'string' ? secret : ''), expected);
    return matches && entry !== undefined && typeof secret === 'string';
  }

  /** Replaces the participant's API secret; the old one is refused from now on. Returns the new secret (shown once). */
  rotateApiSecret(participantId: string): Promise<string> {
    return this.#serialize(async () => {
      const entry = this.#entryByParticipant(participantId);
      const apiSecret = newApiSecret();
      const updated = this.#reseal(entry, { apiSecretSha256: sha256(apiSecret).toString('hex') });
      await this.#write(updated);
      this.#entries.set(updated.signingKey, updated);
      this.#byParticipant.set(participantId, updated);
      return apiSecret;
    });
  }

  /**
   * Runs `fn` with the participant's secret keys, decrypted for this call only: the decrypted bytes are zeroed
   * before `fn` runs and nothing is cached. `fn` must not keep the SecretKeys (or anything holding them) after it
   * settles.
   */
  async withKeys<T>(participantId: string, fn: (keys: CustodialKeys) => T | Promise<T>): Promise<T> {
    const entry = this.#entryByParticipant(participantId);
    // The public keys were checked at open/generate and GCM authenticates the sealed bytes, so no re-check here.
    const plaintext = this.#unseal(entry);
    let keys: CustodialKeys;
    try {
      keys = keysFrom(plaintext);
    } finally {
      plaintext.fill(0);
    }
    return await fn(keys);
  }

  /** The accounts' public information, oldest first. */
  list(): CustodialAccount[] {
    return [...this.#entries.values()]
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.signingKey.localeCompare(b.signingKey))
      .map((e) => ({
        ...(e.participantId === undefined ? {} : { participantId: e.participantId }),
        signingKey: e.signingKey,
        encryptionKey: e.encryptionKey,
        createdAt: e.createdAt,
      }));
  }

  toString(): string {
    return `CustodyStore(${this.#dir}, ${this.#entries.size} entries)`;
  }
  toJSON(): string {
    return this.toString();
  }
  [inspect.custom](): string {
    return this.toString();
  }

  // ---- internals ----

  #serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #fileOf(signingKeyHex: string): string {
    return join(this.#dir, `${signingKeyHex}.json`);
  }

  #entryByKey(signingKeyHex: string): Entry {
    const entry = this.#entries.get(signingKeyHex);
    if (!entry) throw new CustodyError('NOT_FOUND', `no custody entry for signing key ${signingKeyHex}`);
    return entry;
  }

  #entryByParticipant(participantId: string): Entry {
    const entry = typeof participantId === 'string' ? this.#byParticipant.get(participantId) : undefined;
    if (!entry) {
      // The id is echoed only if well-formed: a caller could pass anything here (a secret by mistake, say).
      const id = typeof participantId === 'string' && PARTICIPANT_ID.test(participantId) ? `participant ${participantId}` : 'the participant';
      throw new CustodyError('NOT_FOUND', `${id} has no custodial keys here`);
    }
    return entry;
  }

  #seal(meta: EntryMeta, plaintext: Uint8Array): string {
    return sealBytes(this.#masterKey, plaintext, associatedData(meta)).toString('base64');
  }

  /** The 64-byte plaintext; the caller zeroes it. */
  #unseal(entry: Entry): Buffer {
    const plaintext = openSealedBytes(this.#masterKey, Buffer.from(entry.sealed, 'base64'), associatedData(entry));
    // GCM cannot tell a wrong key from modified data.
    if (!plaintext) throw new CustodyError('INTEGRITY', `custody entry ${entry.signingKey}.json: authentication failed (modified, or sealed under another master key)`);
    return plaintext;
  }

  /** A copy of `entry` with `changes`, re-encrypted under a fresh nonce (the changed fields are in the AAD). */
  #reseal(entry: Entry, changes: Partial<Pick<EntryMeta, 'participantId' | 'apiSecretSha256'>>): Entry {
    const meta: EntryMeta = {
      signingKey: entry.signingKey,
      encryptionKey: entry.encryptionKey,
      participantId: entry.participantId,
      apiSecretSha256: entry.apiSecretSha256,
      createdAt: entry.createdAt,
      ...changes,
    };
    const plaintext = this.#unseal(entry);
    try {
      return { ...meta, sealed: this.#seal(meta, plaintext) };
    } finally {
      plaintext.fill(0);
    }
  }

  async #write(entry: Entry): Promise<void> {
    const file = this.#fileOf(entry.signingKey);
    try {
      await writeFileAtomic(file, serializeEntry(entry), { mode: 0o600 });
    } catch (e) {
      throw new CustodyError('IO', `cannot write ${file}: ${errMessage(e)}`, { cause: e });
    }
  }

  async #loadEntries(): Promise<void> {
    let names: string[];
    try {
      names = (await fsp.readdir(this.#dir)).sort();
    } catch (e) {
      throw new CustodyError('IO', `cannot list ${this.#dir}: ${errMessage(e)}`, { cause: e });
    }
    const loaded: Entry[] = [];
    for (const name of names) {
      // Dot files are writeFileAtomic's temporaries (left by a crash); other non-JSON files are not ours.
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      if (!ENTRY_FILE.test(name)) throw new CustodyError('INTEGRITY', `unexpected file ${name} in ${this.#dir}: entries are named <signing key hex>.json`);
      // Entry files hold no plaintext secret and sit in the private directory: their own mode is not checked.
      const bytes = await readSmallFile(join(this.#dir, name), MAX_ENTRY_FILE_BYTES, 'custody entry', false).catch((e: unknown) => {
        if (e instanceof CustodyError) throw e;
        throw new CustodyError('IO', `cannot read ${name}: ${errMessage(e)}`, { cause: e });
      });
      loaded.push(parseEntry(bytes.toString('utf8'), name));
    }

    // Decrypt everything now, so that a wrong key file is reported at start, clearly, rather than at first use.
    let firstFailure: CustodyError | undefined;
    let failures = 0;
    for (const entry of loaded) {
      let plaintext: Buffer;
      try {
        plaintext = this.#unseal(entry);
      } catch (e) {
        if (!(e instanceof CustodyError)) throw e;
        firstFailure ??= e;
        failures++;
        continue;
      }
      try {
        const keys = keysFrom(plaintext);
        if (hex(keys.signing.publicKey().toCompressedBytes()) !== entry.signingKey || hex(keys.encryption.publicKey().toCompressedBytes()) !== entry.encryptionKey) {
          throw new CustodyError('INTEGRITY', `custody entry ${entry.signingKey}.json: the sealed secret keys do not match its public keys`);
        }
      } catch (e) {
        if (e instanceof CustodyError) throw e;
        throw new CustodyError('INTEGRITY', `custody entry ${entry.signingKey}.json: the sealed bytes are not two valid secret keys`);
      } finally {
        plaintext.fill(0);
      }
    }
    if (firstFailure && failures === loaded.length) {
      throw new CustodyError(
        'INTEGRITY',
        `the master key in ${this.#keyFile} decrypts none of the ${failures} entries in ${this.#dir}: wrong key file? (or every entry was modified; first: ${firstFailure.message})`,
      );
    }
    if (firstFailure) throw firstFailure;

    for (const entry of loaded) {
      if (entry.participantId !== undefined) {
        const other = this.#byParticipant.get(entry.participantId);
        if (other) {
          throw new CustodyError('INTEGRITY', `custody entries ${other.signingKey}.json and ${entry.signingKey}.json are both bound to participant ${entry.participantId}`);
        }
        this.#byParticipant.set(entry.participantId, entry);
      }
      this.#entries.set(entry.signingKey, entry);
    }
  }
}

function checkSigningKeyArg(signingKeyHex: unknown): void {
  if (typeof signingKeyHex !== 'string' || !PUBLIC_KEY_HEX.test(signingKeyHex)) {
    throw new CustodyError('INVALID_ARGUMENT', 'signingKeyHex must be 66 lower-case hex digits');
  }
}
