/**
 * Passphrase-protected keystore for the key pairs a PIE participant (patient, clinician) holds on the client: a
 * signing key (Umbral `Signer`: kfrags, ledger records) and an encryption key (Umbral delegating/receiving key).
 * The secret keys never leave the client in the clear. File format, KDF cost and threat model: docs/keystore.md.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { type AtomicWriteFs, readFileBounded, writeFileAtomic } from './keystore/atomic-file.js';
import { KeystoreError } from './keystore/errors.js';
import {
  associatedData,
  CIPHER_NAME,
  decodeSecrets,
  encodeSecrets,
  FORMAT,
  KDF_NAME,
  type Keystore,
  labelProblem,
  MAX_FILE_BYTES,
  NONCE_BYTES,
  parseKeystore,
  serializeKeystore,
  TAG_BYTES,
  validateKeystore,
  VERSION,
} from './keystore/format.js';
import { DEFAULT_SCRYPT, deriveKey, DK_LEN, passphraseBytes, SALT_BYTES, type ScryptParams, scryptParamsProblem } from './keystore/kdf.js';
import { PublicKey, SecretKey } from './umbral/index.js';

export { KeystoreError, type KeystoreErrorCode } from './keystore/errors.js';
export { type Keystore, parseKeystore, serializeKeystore } from './keystore/format.js';
export { DEFAULT_SCRYPT, SCRYPT_LIMITS, type ScryptParams } from './keystore/kdf.js';
export type { AtomicWriteFs, FileHandleLike } from './keystore/atomic-file.js';

/** scrypt cost overrides; omitted fields take DEFAULT_SCRYPT's values. */
export interface KdfOptions {
  N?: number;
  r?: number;
  p?: number;
}

export interface KeystoreOptions {
  /** Human-readable label stored (authenticated, not encrypted) in the file. Default "". */
  label?: string;
  kdf?: KdfOptions;
}

/** The secret keys of an unlocked keystore. Its string, JSON and inspect forms show only the public keys. */
export class UnlockedKeys {
  readonly #signingKey: SecretKey;
  readonly #encryptionKey: SecretKey;

  constructor(signingKey: SecretKey, encryptionKey: SecretKey) {
    this.#signingKey = signingKey;
    this.#encryptionKey = encryptionKey;
  }
  // Getters over private fields: the keys are not enumerable, so spreading or Object.entries() cannot leak them.
  get signingKey(): SecretKey {
    return this.#signingKey;
  }
  get encryptionKey(): SecretKey {
    return this.#encryptionKey;
  }
  toJSON(): { signing: string; encryption: string } {
    return {
      signing: hex(this.#signingKey.publicKey().toCompressedBytes()),
      encryption: hex(this.#encryptionKey.publicKey().toCompressedBytes()),
    };
  }
  toString(): string {
    const { signing, encryption } = this.toJSON();
    return `UnlockedKeys(signing=${signing}, encryption=${encryption})`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function resolveKdf(kdf: KdfOptions | undefined): ScryptParams {
  const params = { ...DEFAULT_SCRYPT, ...kdf };
  const problem = scryptParamsProblem(params);
  if (problem) throw new KeystoreError('INVALID_ARGUMENT', `kdf.${problem.field} ${problem.problem}`);
  return { N: params.N, r: params.r, p: params.p };
}

function checkLabel(label: unknown): string {
  const problem = labelProblem(label);
  if (problem) throw new KeystoreError('INVALID_ARGUMENT', `label ${problem}`);
  return label as string;
}

/** Fails fast on an unusable passphrase before spending a KDF run. */
function checkPassphrase(passphrase: unknown, what?: string): void {
  passphraseBytes(passphrase, what).fill(0);
}

/** Encrypts `plaintext` under a fresh salt and nonce and returns the complete keystore. */
async function seal(
  meta: Pick<Keystore, 'id' | 'label' | 'createdAt' | 'publicKeys'>,
  plaintext: Uint8Array,
  passphrase: string,
  kdf: ScryptParams,
): Promise<Keystore> {
  const pw = passphraseBytes(passphrase);
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  let key: Buffer | undefined;
  try {
    key = await deriveKey(pw, salt, kdf);
    const header = {
      format: FORMAT,
      version: VERSION,
      id: meta.id,
      label: meta.label,
      createdAt: meta.createdAt,
      kdf: { name: KDF_NAME, N: kdf.N, r: kdf.r, p: kdf.p, salt: salt.toString('base64'), dkLen: DK_LEN },
      cipher: { name: CIPHER_NAME, nonce: nonce.toString('base64') },
      publicKeys: { signing: meta.publicKeys.signing, encryption: meta.publicKeys.encryption },
    } as const;
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(header));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return validateKeystore({ ...header, ciphertext: ct.toString('base64') });
  } finally {
    pw.fill(0);
    key?.fill(0);
  }
}

/** Decrypts the keystore's plaintext. The caller must zero the result. */
async function open(ks: Keystore, passphrase: string): Promise<Buffer> {
  const pw = passphraseBytes(passphrase);
  let key: Buffer | undefined;
  try {
    key = await deriveKey(pw, Buffer.from(ks.kdf.salt, 'base64'), ks.kdf);
    const ct = Buffer.from(ks.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ks.cipher.nonce, 'base64'), { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(ks));
    decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
    const plaintext = decipher.update(ct.subarray(0, ct.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      // GCM cannot tell a wrong key from modified data (header fields, salt, nonce or ciphertext).
      throw new KeystoreError('WRONG_PASSPHRASE', 'wrong passphrase (or the keystore was modified)');
    }
    return plaintext;
  } finally {
    pw.fill(0);
    key?.fill(0);
  }
}

/**
 * Builds SecretKey objects from the plaintext and checks they derive the stored public keys. Copies are handed to
 * SecretKey (it may keep a reference), so the caller can zero the plaintext.
 */
function keysFromPlaintext(ks: Keystore, plaintext: Uint8Array): UnlockedKeys {
  const secrets = decodeSecrets(plaintext);
  const make = (bytes: Uint8Array, which: 'signing' | 'encryption'): SecretKey => {
    let sk: SecretKey;
    try {
      sk = SecretKey.fromBEBytes(Uint8Array.from(bytes));
    } catch {
      throw new KeystoreError('MALFORMED', `keystore: the decrypted ${which} key is not a valid secp256k1 scalar`);
    }
    if (hex(sk.publicKey().toCompressedBytes()) !== ks.publicKeys[which]) {
      throw new KeystoreError('KEY_MISMATCH', `keystore: the decrypted ${which} key does not match publicKeys.${which}`);
    }
    return sk;
  };
  return new UnlockedKeys(make(secrets.signing, 'signing'), make(secrets.encryption, 'encryption'));
}

/** Extracts and validates the bytes of a caller-supplied secret key (Umbral SecretKey or anything with toBEBytes). */
function secretBytes(key: unknown, which: string): Uint8Array {
  const toBEBytes = (key as { toBEBytes?: unknown } | null)?.toBEBytes;
  if (typeof toBEBytes !== 'function') throw new KeystoreError('INVALID_ARGUMENT', `${which} must be a SecretKey`);
  const bytes: unknown = toBEBytes.call(key);
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
    throw new KeystoreError('INVALID_ARGUMENT', `${which}.toBEBytes() must return 32 bytes`);
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/** Wraps existing secret keys in a new keystore (fresh id, salt and nonce). */
export async function importKeys(
  keys: { signingKey: SecretKey; encryptionKey: SecretKey },
  passphrase: string,
  opts: KeystoreOptions = {},
): Promise<Keystore> {
  checkPassphrase(passphrase);
  const label = checkLabel(opts.label ?? '');
  const kdf = resolveKdf(opts.kdf);
  const signing = secretBytes(keys?.signingKey, 'signingKey');
  const encryption = secretBytes(keys?.encryptionKey, 'encryptionKey');
  // Not zeroing signing/encryption: toBEBytes() might return the SecretKey's own buffer, and the caller's SecretKey
  // objects hold the secrets anyway. The plaintext copy is ours and is zeroed.
  const plaintext = encodeSecrets(signing, encryption);
  try {
    let publicKeys: { signing: string; encryption: string };
    try {
      const pk = (b: Uint8Array): string => hex(SecretKey.fromBEBytes(Uint8Array.from(b)).publicKey().toCompressedBytes());
      const { signing: s, encryption: e } = decodeSecrets(plaintext);
      publicKeys = { signing: pk(s), encryption: pk(e) };
    } catch {
      throw new KeystoreError('INVALID_ARGUMENT', 'signingKey or encryptionKey is not a valid secp256k1 secret key');
    }
    if (publicKeys.signing === publicKeys.encryption) {
      throw new KeystoreError('INVALID_ARGUMENT', 'signingKey and encryptionKey must be different keys');
    }
    const meta = { id: randomUUID(), label, createdAt: new Date().toISOString(), publicKeys };
    return await seal(meta, plaintext, passphrase, kdf);
  } finally {
    plaintext.fill(0);
  }
}

/** Generates a fresh signing and encryption key pair (CSPRNG) and returns them in a new keystore. */
export async function createKeystore(opts: { passphrase: string } & KeystoreOptions): Promise<Keystore> {
  checkPassphrase(opts?.passphrase);
  const signingKey = SecretKey.random();
  let encryptionKey = SecretKey.random();
  // Astronomically unlikely, but importKeys rejects equal keys.
  while (encryptionKey.publicKey().equals(signingKey.publicKey())) encryptionKey = SecretKey.random();
  return importKeys({ signingKey, encryptionKey }, opts.passphrase, opts);
}

/** Decrypts the keystore. Wrong passphrase or any modification → KeystoreError WRONG_PASSPHRASE. */
export async function unlockKeystore(ks: Keystore, passphrase: string): Promise<UnlockedKeys> {
  const valid = validateKeystore(ks);
  checkPassphrase(passphrase);
  const plaintext = await open(valid, passphrase);
  try {
    return keysFromPlaintext(valid, plaintext);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Re-encrypts the keystore under a new passphrase with a fresh salt and nonce, keeping id, label, createdAt, the keys
 * and (unless `opts.kdf` is given) the KDF parameters. Returns the new keystore; the caller saves it.
 */
export async function changePassphrase(
  ks: Keystore,
  oldPassphrase: string,
  newPassphrase: string,
  opts: { kdf?: KdfOptions } = {},
): Promise<Keystore> {
  const valid = validateKeystore(ks);
  checkPassphrase(oldPassphrase, 'old passphrase');
  checkPassphrase(newPassphrase, 'new passphrase');
  const kdf = opts.kdf ? resolveKdf(opts.kdf) : { N: valid.kdf.N, r: valid.kdf.r, p: valid.kdf.p };
  const plaintext = await open(valid, oldPassphrase);
  try {
    keysFromPlaintext(valid, plaintext); // never re-seal keys that do not match the public keys
    // The plaintext is re-encrypted as is, preserving any entries a newer writer added (see encodeSecrets).
    return await seal(valid, plaintext, newPassphrase, kdf);
  } finally {
    plaintext.fill(0);
  }
}

/** The public keys, readable without the passphrase. */
export function publicKeysOf(ks: Keystore): { signing: PublicKey; encryption: PublicKey } {
  const valid = validateKeystore(ks);
  return {
    signing: PublicKey.fromCompressedBytes(Buffer.from(valid.publicKeys.signing, 'hex')),
    encryption: PublicKey.fromCompressedBytes(Buffer.from(valid.publicKeys.encryption, 'hex')),
  };
}

/** Atomically writes the keystore to `path` with mode 0o600 (see writeFileAtomic). `opts.fs` is for tests. */
export async function saveKeystore(path: string, ks: Keystore, opts: { fs?: AtomicWriteFs } = {}): Promise<void> {
  const data = serializeKeystore(ks);
  await writeFileAtomic(path, data, { mode: 0o600, ...(opts.fs ? { fs: opts.fs } : {}) });
}

/** Reads and strictly validates a keystore file. Errors name the file and the offending field. */
export async function loadKeystore(path: string): Promise<Keystore> {
  const text = await readFileBounded(path, MAX_FILE_BYTES);
  try {
    return parseKeystore(text);
  } catch (e) {
    if (e instanceof KeystoreError) throw new KeystoreError(e.code, `${path}: ${e.message}`);
    throw e;
  }
}
