import { createCipheriv, createDecipheriv, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  changePassphrase,
  createKeystore,
  importKeys,
  type Keystore,
  KeystoreError,
  loadKeystore,
  parseKeystore,
  publicKeysOf,
  saveKeystore,
  serializeKeystore,
  unlockKeystore,
} from '../../src/crypto/keystore.js';
import { type AtomicWriteFs, nodeFs } from '../../src/crypto/keystore/atomic-file.js';
import { associatedData, encodeSecrets } from '../../src/crypto/keystore/format.js';
import { deriveKey } from '../../src/crypto/keystore/kdf.js';
import { SecretKey } from '../../src/crypto/umbral/index.js';

const FAST = { N: 2 ** 14 };
const PASS = 'correct horse battery staple';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

let dir: string;
let base: Keystore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pie-keystore-'));
  base = await createKeystore({ passphrase: PASS, label: 'Alice — laptop', kdf: FAST });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts that `promise` rejects with a KeystoreError of `code` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp | string): Promise<KeystoreError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected KeystoreError ${code}, but it resolved`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeystoreError);
  const ke = err as KeystoreError;
  expect(ke.code).toBe(code);
  if (message !== undefined) expect(ke.message).toMatch(message);
  return ke;
}

function throwsWith(fn: () => unknown, code: string, message?: RegExp | string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(KeystoreError);
  expect((err as KeystoreError).code).toBe(code);
  if (message !== undefined) expect((err as KeystoreError).message).toMatch(message);
}

/** A deep mutable copy of a keystore as plain JSON. */
const clone = (ks: Keystore): any => JSON.parse(JSON.stringify(ks));

/** Encrypts an arbitrary plaintext under `header`, as a writer with the passphrase could (bypassing the API checks). */
async function craft(header: Omit<Keystore, 'ciphertext'>, plaintext: Uint8Array, passphrase: string): Promise<Keystore> {
  const key = await deriveKey(Buffer.from(passphrase), Buffer.from(header.kdf.salt, 'base64'), header.kdf);
  const c = createCipheriv('aes-256-gcm', key, Buffer.from(header.cipher.nonce, 'base64'));
  c.setAAD(associatedData(header));
  const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return { ...header, ciphertext: ct.toString('base64') };
}

async function rawPlaintext(ks: Keystore, passphrase: string): Promise<Buffer> {
  const key = await deriveKey(Buffer.from(passphrase), Buffer.from(ks.kdf.salt, 'base64'), ks.kdf);
  const ct = Buffer.from(ks.ciphertext, 'base64');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(ks.cipher.nonce, 'base64'));
  d.setAAD(associatedData(ks));
  d.setAuthTag(ct.subarray(-16));
  return Buffer.concat([d.update(ct.subarray(0, -16)), d.final()]);
}

describe('create / save / load / unlock', () => {
  test('round trip through a real file', async () => {
    const path = join(dir, 'roundtrip.json');
    await saveKeystore(path, base);
    const loaded = await loadKeystore(path);
    expect(loaded).toEqual(base);
    expect(await readFile(path, 'utf8')).toBe(serializeKeystore(base));

    const keys = await unlockKeystore(loaded, PASS);
    const pks = publicKeysOf(loaded);
    expect(hex(keys.signingKey.publicKey().toCompressedBytes())).toBe(loaded.publicKeys.signing);
    expect(hex(keys.encryptionKey.publicKey().toCompressedBytes())).toBe(loaded.publicKeys.encryption);
    expect(pks.signing.equals(keys.signingKey.publicKey())).toBe(true);
    expect(pks.encryption.equals(keys.encryptionKey.publicKey())).toBe(true);
    expect(hex(keys.signingKey.toBEBytes())).not.toBe(hex(keys.encryptionKey.toBEBytes()));
  });

  test('file has the documented shape and mode 0o600', async () => {
    const path = join(dir, 'shape.json');
    await saveKeystore(path, base);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const json = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(json)).toEqual(['format', 'version', 'id', 'label', 'createdAt', 'kdf', 'cipher', 'publicKeys', 'ciphertext']);
    expect(json).toMatchObject({ format: 'pie-keystore', version: 1, label: 'Alice — laptop', kdf: { name: 'scrypt', N: 2 ** 14, r: 8, p: 1, dkLen: 32 }, cipher: { name: 'aes-256-gcm' } });
    expect(json.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Date(json.createdAt).toISOString()).toBe(json.createdAt);
    expect(Buffer.from(json.kdf.salt, 'base64')).toHaveLength(32);
    expect(Buffer.from(json.cipher.nonce, 'base64')).toHaveLength(12);
    expect(json.publicKeys.signing).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(json.publicKeys.encryption).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(Buffer.from(json.ciphertext, 'base64')).toHaveLength(68 + 16);
  });

  test('default KDF parameters are N=2^17, r=8, p=1', async () => {
    const ks = await createKeystore({ passphrase: PASS });
    expect(ks.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 17, r: 8, p: 1, dkLen: 32 });
    expect(ks.label).toBe('');
    await expect(unlockKeystore(ks, PASS)).resolves.toBeDefined();
  });

  test('each keystore gets fresh keys, id, salt and nonce', async () => {
    const other = await createKeystore({ passphrase: PASS, kdf: FAST });
    expect(other.id).not.toBe(base.id);
    expect(other.kdf.salt).not.toBe(base.kdf.salt);
    expect(other.cipher.nonce).not.toBe(base.cipher.nonce);
    expect(other.publicKeys.signing).not.toBe(base.publicKeys.signing);
    expect(other.publicKeys.encryption).not.toBe(base.publicKeys.encryption);
  });

  test('wrong passphrase', async () => {
    await rejectsWith(unlockKeystore(base, 'correct horse battery stapler'), 'WRONG_PASSPHRASE', 'wrong passphrase (or the keystore was modified)');
  });

  test('passphrases are NFC-normalised', async () => {
    const ks = await createKeystore({ passphrase: 'caf\u00e9', kdf: FAST });
    await expect(unlockKeystore(ks, 'cafe\u0301')).resolves.toBeDefined();
  });

  test('invalid arguments', async () => {
    await rejectsWith(createKeystore({ passphrase: '', kdf: FAST }), 'INVALID_ARGUMENT', /passphrase must not be empty/);
    await rejectsWith(createKeystore({ passphrase: 42 as unknown as string, kdf: FAST }), 'INVALID_ARGUMENT', /passphrase must be a string/);
    await rejectsWith(createKeystore({ passphrase: PASS, kdf: { N: 2 ** 13 } }), 'INVALID_ARGUMENT', /kdf\.N .*power of two/);
    await rejectsWith(createKeystore({ passphrase: PASS, kdf: { N: 3 * 2 ** 14 } }), 'INVALID_ARGUMENT', /kdf\.N/);
    await rejectsWith(createKeystore({ passphrase: PASS, kdf: { N: 2 ** 14, r: 4 } }), 'INVALID_ARGUMENT', /kdf\.r/);
    await rejectsWith(createKeystore({ passphrase: PASS, kdf: { N: 2 ** 14, p: 0 } }), 'INVALID_ARGUMENT', /kdf\.p/);
    await rejectsWith(createKeystore({ passphrase: PASS, kdf: { N: 2 ** 20, r: 16 } }), 'INVALID_ARGUMENT', /memory limit/);
    await rejectsWith(createKeystore({ passphrase: PASS, label: 'a\nb', kdf: FAST }), 'INVALID_ARGUMENT', /label contains control characters/);
    await rejectsWith(unlockKeystore(base, ''), 'INVALID_ARGUMENT', /passphrase must not be empty/);
  });
});

describe('tampering', () => {
  const otherUuid = (): string => randomUUID();
  const otherKey = (): string => hex(SecretKey.random().publicKey().toCompressedBytes());
  const flipB64 = (s: string): string => {
    const b = Buffer.from(s, 'base64');
    b[0]! ^= 1;
    return b.toString('base64');
  };
  const cases: [string, (j: any) => void][] = [
    ['id', (j) => (j.id = otherUuid())],
    ['label', (j) => (j.label = 'Mallory')],
    ['createdAt', (j) => (j.createdAt = '2001-01-01T00:00:00.000Z')],
    ['kdf.N', (j) => (j.kdf.N = 2 ** 15)],
    ['kdf.r', (j) => (j.kdf.r = 9)],
    ['kdf.p', (j) => (j.kdf.p = 2)],
    ['kdf.salt', (j) => (j.kdf.salt = flipB64(j.kdf.salt))],
    ['cipher.nonce', (j) => (j.cipher.nonce = flipB64(j.cipher.nonce))],
    ['publicKeys.signing', (j) => (j.publicKeys.signing = otherKey())],
    ['publicKeys.encryption', (j) => (j.publicKeys.encryption = otherKey())],
    ['publicKeys swapped', (j) => ([j.publicKeys.signing, j.publicKeys.encryption] = [j.publicKeys.encryption, j.publicKeys.signing])],
    ['ciphertext (body)', (j) => (j.ciphertext = flipB64(j.ciphertext))],
    [
      'ciphertext (tag)',
      (j) => {
        const b = Buffer.from(j.ciphertext, 'base64');
        b[b.length - 1]! ^= 0x80;
        j.ciphertext = b.toString('base64');
      },
    ],
  ];
  test.each(cases)('modifying %s is detected', async (_name, mutate) => {
    const j = clone(base);
    mutate(j);
    const ks = parseKeystore(JSON.stringify(j)); // still a well-formed keystore
    await rejectsWith(unlockKeystore(ks, PASS), 'WRONG_PASSPHRASE', 'wrong passphrase (or the keystore was modified)');
  });

  test('format and version edits are rejected before decryption', async () => {
    const j = clone(base);
    j.version = 2;
    await rejectsWith(unlockKeystore(j, PASS), 'UNSUPPORTED_VERSION', /version 2 is not supported/);
    const k = clone(base);
    k.format = 'other-keystore';
    await rejectsWith(unlockKeystore(k, PASS), 'MALFORMED', /"format"/);
  });

  test('keys that do not match the stored public keys → KEY_MISMATCH', async () => {
    // Authentic ciphertext (correct passphrase) of keys other than the ones in publicKeys: only a buggy or malicious
    // writer holding the passphrase can produce this.
    const { ciphertext: _, ...header } = base;
    const a = SecretKey.random().toBEBytes();
    const b = SecretKey.random().toBEBytes();
    const ks = await craft(header, encodeSecrets(a, b), PASS);
    await rejectsWith(unlockKeystore(ks, PASS), 'KEY_MISMATCH', /signing key does not match publicKeys\.signing/);
    await rejectsWith(changePassphrase(ks, PASS, 'new one'), 'KEY_MISMATCH');
  });

  test('decrypted material that is not a valid layout → MALFORMED', async () => {
    const { ciphertext: _, ...header } = base;
    const pt = encodeSecrets(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    pt[1] = 31; // signing entry length 31 → layout broken
    await rejectsWith(unlockKeystore(await craft(header, pt, PASS), PASS), 'MALFORMED', /decrypted key material/);
  });
});

describe('strict parsing', () => {
  const good = (): any => clone(base);
  const bad = (mutate: (j: any) => void): string => {
    const j = good();
    mutate(j);
    return JSON.stringify(j);
  };
  const expectMalformed = (json: string, message: RegExp | string): void => throwsWith(() => parseKeystore(json), 'MALFORMED', message);

  test('not JSON / not an object', () => {
    expectMalformed('{"format": "pie-keystore",', /not valid JSON/);
    expectMalformed('[]', /expected a JSON object/);
    expectMalformed('null', /expected a JSON object/);
    expectMalformed('"pie-keystore"', /expected a JSON object/);
  });

  const fields = ['format', 'version', 'id', 'label', 'createdAt', 'kdf', 'kdf.name', 'kdf.N', 'kdf.r', 'kdf.p', 'kdf.salt', 'kdf.dkLen', 'cipher', 'cipher.name', 'cipher.nonce', 'publicKeys', 'publicKeys.signing', 'publicKeys.encryption', 'ciphertext'];
  test.each(fields)('missing %s', (field) => {
    const json = bad((j) => {
      const path = field.split('.');
      const parent = path.length === 2 ? j[path[0]!] : j;
      delete parent[path[path.length - 1]!];
    });
    expect(() => parseKeystore(json)).toThrow(new RegExp(`"${field.replace('.', '\\.')}": missing`));
  });

  test('unknown fields', () => {
    expectMalformed(bad((j) => (j.extra = 1)), /"extra": unknown field/);
    expectMalformed(bad((j) => (j.kdf.extra = 1)), /"kdf\.extra": unknown field/);
    expectMalformed(bad((j) => (j.cipher.tag = 'AA==')), /"cipher\.tag": unknown field/);
    expectMalformed(bad((j) => (j.publicKeys.other = j.publicKeys.signing)), /"publicKeys\.other": unknown field/);
  });

  const invalid: [string, (j: any) => void, RegExp][] = [
    ['format', (j) => (j.format = 'ethereum-keystore'), /"format": expected "pie-keystore"/],
    ['version (type)', (j) => (j.version = '1'), /"version": expected an integer/],
    ['id', (j) => (j.id = 'not-a-uuid'), /"id": expected a lowercase UUID/],
    ['id (uppercase)', (j) => (j.id = j.id.toUpperCase()), /"id"/],
    ['label (type)', (j) => (j.label = 5), /"label": expected a string/],
    ['label (control chars)', (j) => (j.label = 'x\u001b[2J'), /"label": contains control characters/],
    ['label (length)', (j) => (j.label = 'x'.repeat(257)), /"label": longer than 256/],
    ['createdAt (format)', (j) => (j.createdAt = '2025-01-01'), /"createdAt"/],
    ['createdAt (impossible date)', (j) => (j.createdAt = '2025-02-30T00:00:00.000Z'), /"createdAt"/],
    ['kdf (type)', (j) => (j.kdf = 'scrypt'), /"kdf": expected an object/],
    ['kdf.name', (j) => (j.kdf.name = 'argon2id'), /"kdf\.name": unsupported KDF/],
    ['kdf.N (not a power of two)', (j) => (j.kdf.N = 100000), /"kdf\.N": must be a power of two/],
    ['kdf.N (too small)', (j) => (j.kdf.N = 2 ** 13), /"kdf\.N"/],
    ['kdf.N (too large)', (j) => (j.kdf.N = 2 ** 21), /"kdf\.N"/],
    ['kdf.N (string)', (j) => (j.kdf.N = '16384'), /"kdf\.N"/],
    ['kdf.N (fraction)', (j) => (j.kdf.N = 16384.5), /"kdf\.N"/],
    ['kdf.r (too small)', (j) => (j.kdf.r = 1), /"kdf\.r": must be an integer in \[8, 32\]/],
    ['kdf.r (too large)', (j) => (j.kdf.r = 33), /"kdf\.r"/],
    ['kdf.r (memory)', (j) => ((j.kdf.N = 2 ** 20), (j.kdf.r = 16)), /"kdf\.r": .*memory limit/],
    ['kdf.p (zero)', (j) => (j.kdf.p = 0), /"kdf\.p"/],
    ['kdf.p (too large)', (j) => (j.kdf.p = 17), /"kdf\.p"/],
    ['kdf.p (work)', (j) => ((j.kdf.N = 2 ** 20), (j.kdf.p = 16)), /"kdf\.p": .*work limit/],
    ['kdf.salt (bad base64)', (j) => (j.kdf.salt = '!!!!' + j.kdf.salt.slice(4)), /"kdf\.salt": not valid base64/],
    ['kdf.salt (unpadded)', (j) => (j.kdf.salt = j.kdf.salt.replace(/=+$/, '')), /"kdf\.salt": not valid base64/],
    ['kdf.salt (non-canonical)', (j) => (j.kdf.salt = j.kdf.salt.slice(0, 42) + 'B='), /"kdf\.salt": not canonical base64/],
    ['kdf.salt (length)', (j) => (j.kdf.salt = Buffer.alloc(16).toString('base64')), /"kdf\.salt": expected 32 bytes, got 16/],
    ['kdf.salt (type)', (j) => (j.kdf.salt = 7), /"kdf\.salt": expected a base64 string/],
    ['kdf.dkLen', (j) => (j.kdf.dkLen = 64), /"kdf\.dkLen": must be 32/],
    ['cipher.name', (j) => (j.cipher.name = 'aes-128-gcm'), /"cipher\.name": unsupported cipher/],
    ['cipher.nonce (length)', (j) => (j.cipher.nonce = Buffer.alloc(16).toString('base64')), /"cipher\.nonce": expected 12 bytes, got 16/],
    ['cipher.nonce (bad base64)', (j) => (j.cipher.nonce = 'AAAA AAAAAAAAAAAA'), /"cipher\.nonce": not valid base64/],
    ['publicKeys (type)', (j) => (j.publicKeys = []), /"publicKeys": expected an object/],
    ['publicKeys.signing (bad hex)', (j) => (j.publicKeys.signing = 'zz' + j.publicKeys.signing.slice(2)), /"publicKeys\.signing": not valid lowercase hex/],
    ['publicKeys.signing (uppercase)', (j) => (j.publicKeys.signing = j.publicKeys.signing.toUpperCase()), /"publicKeys\.signing": not valid lowercase hex/],
    ['publicKeys.signing (odd length)', (j) => (j.publicKeys.signing = j.publicKeys.signing.slice(1)), /"publicKeys\.signing": not valid lowercase hex/],
    ['publicKeys.signing (uncompressed length)', (j) => (j.publicKeys.signing = '04' + 'ab'.repeat(64)), /"publicKeys\.signing": expected 33 bytes/],
    ['publicKeys.encryption (not on curve)', (j) => (j.publicKeys.encryption = '02' + 'ff'.repeat(32)), /"publicKeys\.encryption": not a valid compressed secp256k1 point/],
    ['publicKeys.encryption (bad prefix)', (j) => (j.publicKeys.encryption = '05' + j.publicKeys.encryption.slice(2)), /"publicKeys\.encryption": not a valid/],
    ['publicKeys (equal)', (j) => (j.publicKeys.encryption = j.publicKeys.signing), /"publicKeys": signing and encryption keys must differ/],
    ['ciphertext (too short)', (j) => (j.ciphertext = Buffer.alloc(83).toString('base64')), /"ciphertext": expected 84 to 1040 bytes, got 83/],
    ['ciphertext (too long)', (j) => (j.ciphertext = Buffer.alloc(1041).toString('base64')), /"ciphertext": expected 84 to 1040 bytes/],
    ['ciphertext (bad base64)', (j) => (j.ciphertext = j.ciphertext + '*'), /"ciphertext": not valid base64/],
  ];
  test.each(invalid)('invalid %s', (_name, mutate, message) => {
    expectMalformed(bad(mutate), message);
  });

  test('unsupported version', () => {
    throwsWith(() => parseKeystore(bad((j) => (j.version = 2))), 'UNSUPPORTED_VERSION', /version 2 is not supported/);
    // A future version may have other fields: the version is reported, not the fields.
    throwsWith(() => parseKeystore(JSON.stringify({ format: 'pie-keystore', version: 2, foo: 1 })), 'UNSUPPORTED_VERSION');
  });

  test('loadKeystore: errors name the file; IO errors; size limit', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, bad((j) => delete j.kdf.salt));
    const e = await rejectsWith(loadKeystore(path), 'MALFORMED', /"kdf\.salt": missing/);
    expect(e.message).toContain(path);
    await rejectsWith(loadKeystore(join(dir, 'does-not-exist.json')), 'IO', /could not read .*does-not-exist\.json/);
    const big = join(dir, 'big.json');
    await writeFile(big, ' '.repeat(70 * 1024));
    await rejectsWith(loadKeystore(big), 'MALFORMED', /limit is 65536/);
  });

  test('saveKeystore refuses to write an invalid keystore', async () => {
    const path = join(dir, 'invalid-save.json');
    await rejectsWith(saveKeystore(path, { ...base, version: 3 as 1 }), 'UNSUPPORTED_VERSION');
    await expect(stat(path)).rejects.toThrow();
  });
});

describe('changePassphrase and importKeys', () => {
  test('changePassphrase re-encrypts under the new passphrase only', async () => {
    const changed = await changePassphrase(base, PASS, 'a new passphrase');
    expect(changed).toMatchObject({ id: base.id, label: base.label, createdAt: base.createdAt, publicKeys: base.publicKeys });
    expect(changed.kdf).toMatchObject({ N: base.kdf.N, r: base.kdf.r, p: base.kdf.p });
    expect(changed.kdf.salt).not.toBe(base.kdf.salt);
    expect(changed.cipher.nonce).not.toBe(base.cipher.nonce);
    await rejectsWith(unlockKeystore(changed, PASS), 'WRONG_PASSPHRASE');
    const before = await unlockKeystore(base, PASS);
    const after = await unlockKeystore(changed, 'a new passphrase');
    expect(hex(after.signingKey.toBEBytes())).toBe(hex(before.signingKey.toBEBytes()));
    expect(hex(after.encryptionKey.toBEBytes())).toBe(hex(before.encryptionKey.toBEBytes()));
  });

  test('changePassphrase: wrong old passphrase, empty new one, new KDF parameters', async () => {
    await rejectsWith(changePassphrase(base, 'nope', 'new'), 'WRONG_PASSPHRASE');
    await rejectsWith(changePassphrase(base, PASS, ''), 'INVALID_ARGUMENT', /new passphrase must not be empty/);
    await rejectsWith(changePassphrase(base, PASS, 'x', { kdf: { N: 2 ** 12 } }), 'INVALID_ARGUMENT', /kdf\.N/);
    const stronger = await changePassphrase(base, PASS, 'x', { kdf: { N: 2 ** 15, p: 2 } });
    expect(stronger.kdf).toMatchObject({ N: 2 ** 15, r: 8, p: 2 });
    await expect(unlockKeystore(stronger, 'x')).resolves.toBeDefined();
  });

  test('changePassphrase preserves plaintext entries it does not know (forward compatibility)', async () => {
    const { ciphertext: _, ...header } = base;
    const unlocked = await unlockKeystore(base, PASS);
    const extra = Buffer.from([0x03, 4, 0xde, 0xad, 0xbe, 0xef]);
    const pt = Buffer.concat([encodeSecrets(unlocked.signingKey.toBEBytes(), unlocked.encryptionKey.toBEBytes()), extra]);
    const future = await craft(header, pt, PASS);
    await expect(unlockKeystore(future, PASS)).resolves.toBeDefined();
    const changed = await changePassphrase(future, PASS, 'next');
    expect(await rawPlaintext(changed, 'next')).toEqual(pt);
  });

  test('importKeys wraps the given keys', async () => {
    const signingKey = SecretKey.random();
    const encryptionKey = SecretKey.random();
    const ks = await importKeys({ signingKey, encryptionKey }, PASS, { label: 'imported', kdf: FAST });
    expect(ks.label).toBe('imported');
    expect(ks.publicKeys.signing).toBe(hex(signingKey.publicKey().toCompressedBytes()));
    const keys = await unlockKeystore(ks, PASS);
    expect(hex(keys.signingKey.toBEBytes())).toBe(hex(signingKey.toBEBytes()));
    expect(hex(keys.encryptionKey.toBEBytes())).toBe(hex(encryptionKey.toBEBytes()));
    // the caller's keys are still usable (not zeroed)
    expect(hex(signingKey.publicKey().toCompressedBytes())).toBe(ks.publicKeys.signing);
  });

  test('importKeys rejects identical or invalid keys', async () => {
    const k = SecretKey.random();
    await rejectsWith(importKeys({ signingKey: k, encryptionKey: k }, PASS, { kdf: FAST }), 'INVALID_ARGUMENT', /must be different/);
    await rejectsWith(importKeys({ signingKey: k, encryptionKey: {} as SecretKey }, PASS, { kdf: FAST }), 'INVALID_ARGUMENT', /encryptionKey must be a SecretKey/);
    const zero = { toBEBytes: () => new Uint8Array(32) } as unknown as SecretKey;
    await rejectsWith(importKeys({ signingKey: zero, encryptionKey: k }, PASS, { kdf: FAST }), 'INVALID_ARGUMENT', /not a valid secp256k1 secret key/);
  });
});

describe('atomic write', () => {
  /** nodeFs with one operation replaced. */
  const faulty = (overrides: Partial<AtomicWriteFs> & { partialWrite?: boolean; failSync?: boolean }): AtomicWriteFs => ({
    ...nodeFs,
    ...overrides,
    open: async (path, flags, mode) => {
      const h = await nodeFs.open(path, flags, mode);
      return {
        writeFile: async (data) => {
          if (overrides.partialWrite) {
            await h.writeFile(String(data).slice(0, 100)); // half-written, then the disk "fails"
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          }
          return h.writeFile(data);
        },
        sync: async () => {
          if (overrides.failSync && flags !== 'r') throw new Error('EIO: i/o error, fsync');
          return h.sync();
        },
        close: () => h.close(),
      };
    },
  });

  const failures: [string, AtomicWriteFs][] = [
    ['write', faulty({ partialWrite: true })],
    ['fsync', faulty({ failSync: true })],
    ['rename', faulty({ rename: async () => Promise.reject(new Error('EXDEV: cross-device link')) })],
  ];
  test.each(failures)('a failure during %s leaves the old file intact and no temp file', async (_name, fs) => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const path = join(sub, 'keystore.json');
    await saveKeystore(path, base);
    const old = await readFile(path, 'utf8');
    const next = await changePassphrase(base, PASS, 'other');
    await rejectsWith(saveKeystore(path, next, { fs }), 'IO', /could not write/);
    expect(await readFile(path, 'utf8')).toBe(old);
    expect(await readdir(sub)).toEqual(['keystore.json']);
  });

  test('a failure when there was no old file leaves nothing behind', async () => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    await rejectsWith(saveKeystore(join(sub, 'k.json'), base, { fs: faulty({ partialWrite: true }) }), 'IO', /ENOSPC/);
    expect(await readdir(sub)).toEqual([]);
  });

  test('a successful save replaces the file completely and resets its mode to 0o600', async () => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const path = join(sub, 'keystore.json');
    await writeFile(path, 'x'.repeat(10000));
    await chmod(path, 0o644);
    await saveKeystore(path, base);
    expect(await readFile(path, 'utf8')).toBe(serializeKeystore(base));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(sub)).toEqual(['keystore.json']);
  });

  test('missing directory → IO', async () => {
    await rejectsWith(saveKeystore(join(dir, 'no', 'such', 'dir', 'k.json'), base), 'IO', /ENOENT/);
  });
});

describe('no secrets in output', () => {
  test('unlocked keys do not reveal secret bytes through String, JSON, inspect or enumeration', async () => {
    const keys = await unlockKeystore(base, PASS);
    const secrets = [hex(keys.signingKey.toBEBytes()), hex(keys.encryptionKey.toBEBytes())];
    const b64 = [Buffer.from(keys.signingKey.toBEBytes()).toString('base64'), Buffer.from(keys.encryptionKey.toBEBytes()).toString('base64')];
    const renderings = [
      String(keys),
      `${keys}`,
      JSON.stringify(keys),
      JSON.stringify({ keys }),
      inspect(keys, { depth: 10, showHidden: true }),
      JSON.stringify({ ...keys }),
      String(keys.signingKey),
      JSON.stringify(Object.entries(keys)),
    ];
    for (const r of renderings) for (const s of [...secrets, ...b64]) expect(r).not.toContain(s);
    expect(JSON.parse(JSON.stringify(keys))).toEqual(base.publicKeys);
    expect(String(keys)).toContain(base.publicKeys.signing);
  });

  test('the keystore JSON and error messages contain neither the secret keys nor the passphrase', async () => {
    const keys = await unlockKeystore(base, PASS);
    const secrets = [hex(keys.signingKey.toBEBytes()), hex(keys.encryptionKey.toBEBytes())];
    const file = serializeKeystore(base);
    for (const s of secrets) expect(file).not.toContain(s);
    const errors = [
      await rejectsWith(unlockKeystore(base, 'hunter2-wrong'), 'WRONG_PASSPHRASE'),
      await rejectsWith(changePassphrase(base, 'hunter2-wrong', 'hunter3-new'), 'WRONG_PASSPHRASE'),
      await rejectsWith(createKeystore({ passphrase: 'hunter4-secret', kdf: { N: 5 } }), 'INVALID_ARGUMENT'),
    ];
    for (const e of errors) {
      const text = `${e.message} ${String(e)} ${JSON.stringify(e)} ${e.stack}`;
      for (const s of [...secrets, 'hunter2', 'hunter3', 'hunter4', PASS]) expect(text).not.toContain(s);
    }
  });
});
