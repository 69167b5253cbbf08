/**
 * The keystore file format (version 1): types, strict validation of untrusted JSON, serialisation, the AES-GCM
 * associated data and the layout of the encrypted plaintext. See docs/keystore.md.
 */
import { KeystoreError, malformed } from './errors.js';
import { DK_LEN, SALT_BYTES, scryptParamsProblem } from './kdf.js';
import { PublicKey } from '../umbral/index.js';

export const FORMAT = 'pie-keystore';
export const VERSION = 1;
export const KDF_NAME = 'scrypt';
export const CIPHER_NAME = 'aes-256-gcm';
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const PUBLIC_KEY_BYTES = 33;
export const SECRET_KEY_BYTES = 32;
export const MAX_LABEL_LENGTH = 256;
/** Upper bound on the plaintext, leaving room for future key entries (see encodeSecrets). */
export const MAX_PLAINTEXT_BYTES = 1024;
/** Files larger than this are rejected before parsing. */
export const MAX_FILE_BYTES = 64 * 1024;

/** A keystore as stored on disk and held in memory while locked. Contains no secret in the clear. */
export interface Keystore {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  /** Random UUID identifying this keystore; kept across passphrase changes. */
  readonly id: string;
  /** Free text for humans (e.g. "Alice — laptop"); authenticated but not secret. */
  readonly label: string;
  /** ISO 8601 UTC timestamp with milliseconds, as produced by `Date.prototype.toISOString`. */
  readonly createdAt: string;
  readonly kdf: {
    readonly name: typeof KDF_NAME;
    readonly N: number;
    readonly r: number;
    readonly p: number;
    /** base64 of 32 random bytes */
    readonly salt: string;
    readonly dkLen: typeof DK_LEN;
  };
  readonly cipher: {
    readonly name: typeof CIPHER_NAME;
    /** base64 of the 12-byte AES-GCM nonce */
    readonly nonce: string;
  };
  readonly publicKeys: {
    /** hex of the 33-byte compressed secp256k1 signing public key */
    readonly signing: string;
    /** hex of the 33-byte compressed secp256k1 encryption public key */
    readonly encryption: string;
  };
  /** base64 of AES-256-GCM(plaintext) ‖ 16-byte tag */
  readonly ciphertext: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Strict decoding helpers

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
// C0/C1 control characters (incl. newlines, ESC) in a label could spoof terminal output when it is displayed.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/** Decodes canonical padded base64 (Node's decoder silently skips invalid characters, so check first). */
export function decodeBase64(value: unknown, field: string): Buffer {
  if (typeof value !== 'string') throw malformed(field, 'expected a base64 string');
  if (!BASE64_RE.test(value)) throw malformed(field, 'not valid base64');
  const bytes = Buffer.from(value, 'base64');
  // Rejects non-zero padding bits, so that every byte string has exactly one accepted encoding.
  if (bytes.toString('base64') !== value) throw malformed(field, 'not canonical base64');
  return bytes;
}

function decodeBase64Len(value: unknown, field: string, length: number): Buffer {
  const bytes = decodeBase64(value, field);
  if (bytes.length !== length) throw malformed(field, `expected ${length} bytes, got ${bytes.length}`);
  return bytes;
}

function decodePublicKey(value: unknown, field: string): PublicKey {
  if (typeof value !== 'string') throw malformed(field, 'expected a hex string');
  if (!HEX_RE.test(value)) throw malformed(field, 'not valid lowercase hex');
  if (value.length !== 2 * PUBLIC_KEY_BYTES) {
    throw malformed(field, `expected ${PUBLIC_KEY_BYTES} bytes (compressed point), got ${value.length / 2}`);
  }
  try {
    return PublicKey.fromCompressedBytes(Buffer.from(value, 'hex'));
  } catch {
    throw malformed(field, 'not a valid compressed secp256k1 point');
  }
}

function expectObject(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(field, 'expected an object');
  const obj = value as Record<string, unknown>;
  // Unknown fields are rejected rather than ignored: they are not covered by the AAD, so an attacker could add them.
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) throw malformed(field === '(root)' ? k : `${field}.${k}`, 'unknown field');
  }
  for (const k of keys) {
    if (!(k in obj)) throw malformed(field === '(root)' ? k : `${field}.${k}`, 'missing');
  }
  return obj;
}

function expectString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw malformed(field, 'expected a string');
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

export function labelProblem(label: unknown): string | null {
  if (typeof label !== 'string') return 'expected a string';
  if (label.length > MAX_LABEL_LENGTH) return `longer than ${MAX_LABEL_LENGTH} characters`;
  if (CONTROL_RE.test(label)) return 'contains control characters';
  return null;
}

const ROOT_KEYS = ['format', 'version', 'id', 'label', 'createdAt', 'kdf', 'cipher', 'publicKeys', 'ciphertext'] as const;

/**
 * Validates an untrusted value (e.g. parsed JSON) as a version-1 keystore and returns a frozen copy holding exactly the
 * known fields. Throws KeystoreError MALFORMED / UNSUPPORTED_VERSION naming the first offending field.
 */
export function validateKeystore(value: unknown): Keystore {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeystoreError('MALFORMED', 'keystore: expected a JSON object');
  }
  const raw = value as Record<string, unknown>;
  // format and version first, so that a future version with different fields is reported as such.
  if (!('format' in raw)) throw malformed('format', 'missing (not a PIE keystore?)');
  if (raw.format !== FORMAT) throw malformed('format', `expected "${FORMAT}" (not a PIE keystore?)`);
  if (!('version' in raw)) throw malformed('version', 'missing');
  if (typeof raw.version !== 'number' || !Number.isSafeInteger(raw.version)) throw malformed('version', 'expected an integer');
  if (raw.version !== VERSION) {
    throw new KeystoreError('UNSUPPORTED_VERSION', `keystore version ${raw.version} is not supported (this software reads version ${VERSION})`);
  }
  const o = expectObject(raw, '(root)', ROOT_KEYS);

  const id = expectString(o.id, 'id');
  if (!UUID_RE.test(id)) throw malformed('id', 'expected a lowercase UUID');

  const labelErr = labelProblem(o.label);
  if (labelErr) throw malformed('label', labelErr);
  const label = o.label as string;

  const createdAt = expectString(o.createdAt, 'createdAt');
  if (!ISO_RE.test(createdAt) || Number.isNaN(Date.parse(createdAt)) || new Date(createdAt).toISOString() !== createdAt) {
    throw malformed('createdAt', 'expected an ISO 8601 UTC timestamp like 2025-01-31T12:00:00.000Z');
  }

  const kdf = expectObject(o.kdf, 'kdf', ['name', 'N', 'r', 'p', 'salt', 'dkLen']);
  if (kdf.name !== KDF_NAME) throw malformed('kdf.name', `unsupported KDF (only "${KDF_NAME}")`);
  const kdfErr = scryptParamsProblem({ N: kdf.N, r: kdf.r, p: kdf.p });
  if (kdfErr) throw malformed(`kdf.${kdfErr.field}`, kdfErr.problem);
  decodeBase64Len(kdf.salt, 'kdf.salt', SALT_BYTES);
  if (kdf.dkLen !== DK_LEN) throw malformed('kdf.dkLen', `must be ${DK_LEN}`);

  const cipher = expectObject(o.cipher, 'cipher', ['name', 'nonce']);
  if (cipher.name !== CIPHER_NAME) throw malformed('cipher.name', `unsupported cipher (only "${CIPHER_NAME}")`);
  decodeBase64Len(cipher.nonce, 'cipher.nonce', NONCE_BYTES);

  const pks = expectObject(o.publicKeys, 'publicKeys', ['signing', 'encryption']);
  decodePublicKey(pks.signing, 'publicKeys.signing');
  decodePublicKey(pks.encryption, 'publicKeys.encryption');
  if (pks.signing === pks.encryption) throw malformed('publicKeys', 'signing and encryption keys must differ');

  const ct = decodeBase64(o.ciphertext, 'ciphertext');
  const minCt = TAG_BYTES + 2 * (2 + SECRET_KEY_BYTES);
  if (ct.length < minCt || ct.length > TAG_BYTES + MAX_PLAINTEXT_BYTES) {
    throw malformed('ciphertext', `expected ${minCt} to ${TAG_BYTES + MAX_PLAINTEXT_BYTES} bytes, got ${ct.length}`);
  }

  return deepFreeze({
    format: FORMAT,
    version: VERSION,
    id,
    label,
    createdAt,
    kdf: { name: KDF_NAME, N: kdf.N as number, r: kdf.r as number, p: kdf.p as number, salt: kdf.salt as string, dkLen: DK_LEN },
    cipher: { name: CIPHER_NAME, nonce: cipher.nonce as string },
    publicKeys: { signing: pks.signing as string, encryption: pks.encryption as string },
    ciphertext: o.ciphertext as string,
  });
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}

export function parseKeystore(json: string): Keystore {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new KeystoreError('MALFORMED', `keystore: not valid JSON (${(e as Error).message})`);
  }
  return validateKeystore(value);
}

/** Pretty-printed JSON with a fixed field order and a trailing newline. */
export function serializeKeystore(ks: Keystore): string {
  return JSON.stringify(validateKeystore(ks), null, 2) + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Associated data

/** JSON with object keys sorted recursively and no whitespace (enough for the strings and integers used here). */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * AES-GCM associated data: the canonical JSON of every non-secret field except the nonce (an input of GCM itself) and
 * the ciphertext. Changing any of them makes decryption fail.
 */
export function associatedData(ks: Omit<Keystore, 'ciphertext' | 'cipher'> & { cipher: { name: string } }): Buffer {
  return Buffer.from(
    canonicalJson({
      format: ks.format,
      version: ks.version,
      id: ks.id,
      label: ks.label,
      createdAt: ks.createdAt,
      kdf: ks.kdf,
      cipher: { name: ks.cipher.name },
      publicKeys: ks.publicKeys,
    }),
    'utf8',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Plaintext layout

/** Entry tags of the plaintext. 0x03–0xff are reserved for future key material. */
export const TAG_SIGNING = 0x01;
export const TAG_ENCRYPTION = 0x02;

/**
 * The plaintext is a sequence of entries `tag (1 B) ‖ length (1 B) ‖ value`. Version 1 writes exactly
 * `01 20 <signing sk> 02 20 <encryption sk>` (68 bytes). Readers require one entry each for tags 0x01 and 0x02 and
 * ignore other tags, so a later writer can add key material (e.g. a seed for per-record keys) without breaking older
 * readers; changePassphrase re-encrypts the plaintext unchanged, so such entries survive it.
 */
export function encodeSecrets(signing: Uint8Array, encryption: Uint8Array): Buffer {
  const out = Buffer.alloc(2 * (2 + SECRET_KEY_BYTES));
  out[0] = TAG_SIGNING;
  out[1] = SECRET_KEY_BYTES;
  out.set(signing, 2);
  out[2 + SECRET_KEY_BYTES] = TAG_ENCRYPTION;
  out[3 + SECRET_KEY_BYTES] = SECRET_KEY_BYTES;
  out.set(encryption, 4 + SECRET_KEY_BYTES);
  return out;
}

/** Splits the plaintext; the returned arrays are views into it (zeroing the plaintext zeroes them). */
export function decodeSecrets(plaintext: Uint8Array): { signing: Uint8Array; encryption: Uint8Array } {
  const found = new Map<number, Uint8Array>();
  let i = 0;
  while (i < plaintext.length) {
    if (i + 2 > plaintext.length) throw new KeystoreError('MALFORMED', 'keystore: decrypted key material is truncated');
    const tag = plaintext[i]!;
    const len = plaintext[i + 1]!;
    if (i + 2 + len > plaintext.length) throw new KeystoreError('MALFORMED', 'keystore: decrypted key material is truncated');
    if (found.has(tag)) throw new KeystoreError('MALFORMED', `keystore: decrypted key material repeats entry ${tag}`);
    found.set(tag, plaintext.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  const signing = found.get(TAG_SIGNING);
  const encryption = found.get(TAG_ENCRYPTION);
  if (signing?.length !== SECRET_KEY_BYTES || encryption?.length !== SECRET_KEY_BYTES) {
    throw new KeystoreError('MALFORMED', 'keystore: decrypted key material lacks a 32-byte signing or encryption key');
  }
  return { signing, encryption };
}
