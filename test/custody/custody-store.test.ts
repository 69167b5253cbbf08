import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CustodyError, CustodyStore } from '../../src/custody/index.js';
import { decryptOriginal, encrypt, PublicKey, SecretKey, Signer } from '../../src/crypto/umbral/index.js';

const PID_A = 'a'.repeat(32);
const PID_B = 'b'.repeat(32);
const POSIX = process.platform !== 'win32';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

let root: string;
let dir: string;
let keyFile: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pie-custody-'));
  dir = join(root, 'custody');
  keyFile = join(root, 'master.key');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const open = (opts: { dir?: string; keyFile?: string } = {}): Promise<CustodyStore> =>
  CustodyStore.open({ dir: opts.dir ?? dir, keyFile: opts.keyFile ?? keyFile });

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<CustodyError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected CustodyError ${code}, but it resolved`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CustodyError);
  const ce = err as CustodyError;
  expect(ce.code).toBe(code);
  if (message) expect(ce.message).toMatch(message);
  return ce;
}

/** A store with one generated account bound to PID_A. */
async function storeWithAccount(): Promise<{ store: CustodyStore; signingKey: string; encryptionKey: string; apiSecret: string }> {
  const store = await open();
  const account = await store.generate();
  await store.bind(account.signingKey, PID_A);
  return { store, ...account };
}

const entryPath = (signingKey: string): string => join(dir, `${signingKey}.json`);
const readEntry = async (signingKey: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(entryPath(signingKey), 'utf8')) as Record<string, unknown>;
const writeEntry = (signingKey: string, entry: Record<string, unknown>): Promise<void> =>
  writeFile(entryPath(signingKey), JSON.stringify(entry));

describe('CustodyStore', () => {
  test('open creates a private directory and a 0600 key file of 64 hex digits', async () => {
    await open();
    const key = await readFile(keyFile, 'utf8');
    expect(key).toMatch(/^[0-9a-f]{64}\n$/);
    if (POSIX) {
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    }
    // Reopening keeps the existing key.
    await open();
    expect(await readFile(keyFile, 'utf8')).toBe(key);
    // No temporary files are left behind.
    expect((await readdir(root)).sort()).toEqual(['custody', 'master.key']);
  });

  test('generate → bind → withKeys: the keys match the public keys, sign and decrypt', async () => {
    const store = await open();
    const { signingKey, encryptionKey, apiSecret } = await store.generate();
    expect(signingKey).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(encryptionKey).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(encryptionKey).not.toBe(signingKey);
    expect(apiSecret).toMatch(/^pie_sk_[A-Za-z0-9_-]{43}$/);

    // Persisted before bind, unbound, and holding no secret in the clear.
    const file = await readEntry(signingKey);
    expect(Object.keys(file)).toEqual(['v', 'signingKey', 'encryptionKey', 'apiSecretSha256', 'createdAt', 'sealed']);
    expect(file).toMatchObject({ v: 1, signingKey, encryptionKey });
    expect(JSON.stringify(file)).not.toContain(apiSecret);
    if (POSIX) expect((await stat(entryPath(signingKey))).mode & 0o777).toBe(0o600);
    expect(store.isCustodial(PID_A)).toBe(false);
    expect(store.list()).toEqual([{ signingKey, encryptionKey, createdAt: file.createdAt }]);

    await store.bind(signingKey, PID_A);
    await store.bind(signingKey, PID_A); // idempotent
    expect(store.isCustodial(PID_A)).toBe(true);
    expect((await readEntry(signingKey)).participantId).toBe(PID_A);
    expect(store.list()).toEqual([{ participantId: PID_A, signingKey, encryptionKey, createdAt: file.createdAt }]);

    const message = new TextEncoder().encode('record body');
    const result = await store.withKeys(PID_A, async ({ signing, encryption }) => {
      expect(hex(signing.publicKey().toCompressedBytes())).toBe(signingKey);
      expect(hex(encryption.publicKey().toCompressedBytes())).toBe(encryptionKey);
      const [capsule, ciphertext] = encrypt(PublicKey.fromCompressedBytes(Buffer.from(encryptionKey, 'hex')), message);
      expect(decryptOriginal(encryption, capsule, ciphertext)).toEqual(message);
      return new Signer(signing).sign(message);
    });
    expect(result.verify(PublicKey.fromCompressedBytes(Buffer.from(signingKey, 'hex')), message)).toBe(true);
  });

  test('withKeys passes fn errors through', async () => {
    const { store } = await storeWithAccount();
    await expect(store.withKeys(PID_A, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  test('entries persist across reopen', async () => {
    const { store, signingKey, apiSecret } = await storeWithAccount();
    const unbound = await store.generate();
    const reopened = await open();
    expect(reopened.list()).toEqual(store.list());
    expect(reopened.isCustodial(PID_A)).toBe(true);
    expect(reopened.verifyApiSecret(PID_A, apiSecret)).toBe(true);
    const pk = await reopened.withKeys(PID_A, ({ signing }) => hex(signing.publicKey().toCompressedBytes()));
    expect(pk).toBe(signingKey);
    // The unbound entry survives too and can still be bound.
    await reopened.bind(unbound.signingKey, PID_B);
    expect((await open()).isCustodial(PID_B)).toBe(true);
  });

  test('API secrets: verify, rotate (the old one is refused), persisted', async () => {
    const { store, apiSecret } = await storeWithAccount();
    expect(store.verifyApiSecret(PID_A, apiSecret)).toBe(true);
    expect(store.verifyApiSecret(PID_A, apiSecret.slice(0, -1) + (apiSecret.endsWith('A') ? 'B' : 'A'))).toBe(false);
    expect(store.verifyApiSecret(PID_A, '')).toBe(false);
    expect(store.verifyApiSecret(PID_B, apiSecret)).toBe(false); // unknown participant
    expect(store.verifyApiSecret(PID_A, undefined as unknown as string)).toBe(false);

    const rotated = await store.rotateApiSecret(PID_A);
    expect(rotated).toMatch(/^pie_sk_[A-Za-z0-9_-]{43}$/);
    expect(rotated).not.toBe(apiSecret);
    expect(store.verifyApiSecret(PID_A, rotated)).toBe(true);
    expect(store.verifyApiSecret(PID_A, apiSecret)).toBe(false);

    const reopened = await open();
    expect(reopened.verifyApiSecret(PID_A, rotated)).toBe(true);
    expect(reopened.verifyApiSecret(PID_A, apiSecret)).toBe(false);
  });

  test('an unbound entry is not custodial and has no usable API secret', async () => {
    const store = await open();
    const { signingKey, apiSecret } = await store.generate();
    expect(store.verifyApiSecret(signingKey, apiSecret)).toBe(false);
    await rejectsWith(store.withKeys(signingKey, () => 1), 'NOT_FOUND');
  });

  test('unknown participants and keys → NOT_FOUND', async () => {
    const { store } = await storeWithAccount();
    await rejectsWith(store.withKeys(PID_B, () => 1), 'NOT_FOUND', new RegExp(PID_B));
    await rejectsWith(store.rotateApiSecret(PID_B), 'NOT_FOUND');
    await rejectsWith(store.bind('02' + '11'.repeat(32), PID_B), 'NOT_FOUND');
    await rejectsWith(store.discard('02' + '11'.repeat(32)), 'NOT_FOUND');
    // A malformed id is not echoed back.
    const err = await rejectsWith(store.withKeys('pie_sk_oops', () => 1), 'NOT_FOUND');
    expect(err.message).not.toContain('pie_sk_oops');
    expect(store.isCustodial(PID_B)).toBe(false);
  });

  test('bind: CONFLICT for another id or an id bound elsewhere; INVALID_ARGUMENT for malformed input', async () => {
    const { store, signingKey } = await storeWithAccount();
    await rejectsWith(store.bind(signingKey, PID_B), 'CONFLICT', new RegExp(PID_A));
    const other = await store.generate();
    await rejectsWith(store.bind(other.signingKey, PID_A), 'CONFLICT');
    await rejectsWith(store.bind(other.signingKey, 'not-an-id'), 'INVALID_ARGUMENT');
    await rejectsWith(store.bind('zz', PID_B), 'INVALID_ARGUMENT');
    // Nothing changed on disk or in memory.
    expect((await readEntry(signingKey)).participantId).toBe(PID_A);
    expect((await readEntry(other.signingKey)).participantId).toBeUndefined();
    expect(store.isCustodial(PID_B)).toBe(false);
  });

  test('discard removes an unbound entry and refuses a bound one', async () => {
    const { store, signingKey } = await storeWithAccount();
    const unbound = await store.generate();
    await store.discard(unbound.signingKey);
    await expect(stat(entryPath(unbound.signingKey))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(store.list().map((a) => a.signingKey)).toEqual([signingKey]);
    await rejectsWith(store.discard(unbound.signingKey), 'NOT_FOUND');
    await rejectsWith(store.discard(signingKey), 'CONFLICT');
    expect((await open()).list().map((a) => a.signingKey)).toEqual([signingKey]);
  });

  test('concurrent mutations do not interleave', async () => {
    const store = await open();
    const accounts = await Promise.all(Array.from({ length: 5 }, () => store.generate()));
    const pids = accounts.map((_, i) => String(i).repeat(32));
    await Promise.all(accounts.map((a, i) => store.bind(a.signingKey, pids[i]!)));
    const secrets = await Promise.all([...pids, ...pids].map((p) => store.rotateApiSecret(p)));
    const reopened = await open();
    pids.forEach((p, i) => {
      expect(reopened.verifyApiSecret(p, secrets[i + pids.length]!)).toBe(true);
      expect(reopened.verifyApiSecret(p, secrets[i]!)).toBe(false);
    });
  });

  test('a wrong master key is reported at open', async () => {
    await storeWithAccount();
    const otherKey = join(root, 'other.key');
    await rejectsWith(open({ keyFile: otherKey }), 'INTEGRITY', /master key .* decrypts none of the 1 entries.*wrong key file/);
  });

  test('a malformed key file is refused without echoing it', async () => {
    await writeFile(keyFile, 'ab'.repeat(31) + 'zz\n', { mode: 0o600 });
    const err = await rejectsWith(open(), 'INTEGRITY', /64 hex digits/);
    expect(err.message).not.toContain('abab');
  });

  test('tampered sealed bytes → INTEGRITY naming the file', async () => {
    const { signingKey } = await storeWithAccount();
    const entry = await readEntry(signingKey);
    const sealed = Buffer.from(entry.sealed as string, 'base64');
    sealed[20]! ^= 1;
    await writeEntry(signingKey, { ...entry, sealed: sealed.toString('base64') });
    const err = await rejectsWith(open(), 'INTEGRITY', new RegExp(`${signingKey}\\.json`));
    expect(err.message).not.toContain(sealed.toString('base64').slice(0, 16));
  });

  test('a tampered API secret digest is detected (it is authenticated)', async () => {
    const { store, signingKey } = await storeWithAccount();
    await store.generate(); // an intact entry, so the failure is reported as this entry's rather than as a wrong key
    const entry = await readEntry(signingKey);
    await writeEntry(signingKey, { ...entry, apiSecretSha256: 'ab'.repeat(32) });
    await rejectsWith(open(), 'INTEGRITY', new RegExp(`^custody entry ${signingKey}\\.json: authentication failed`));
  });

  describe('the documented format, checked with node:crypto alone', () => {
    const aad = (e: Record<string, unknown>): Buffer =>
      Buffer.from(JSON.stringify(['pie-custody-v1', e.signingKey, e.encryptionKey, e.participantId ?? null, e.apiSecretSha256, e.createdAt]));
    const masterKey = async (): Promise<Buffer> => Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'hex');
    const seal = async (e: Record<string, unknown>, plaintext: Buffer): Promise<string> => {
      const nonce = Buffer.alloc(12, 7);
      const cipher = createCipheriv('aes-256-gcm', await masterKey(), nonce);
      cipher.setAAD(aad(e));
      return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]).toString('base64');
    };

    test('sealed = nonce ‖ AES-256-GCM(signing ‖ encryption secret) ‖ tag; apiSecretSha256 = SHA-256(secret)', async () => {
      const { signingKey, encryptionKey, apiSecret } = await storeWithAccount();
      const entry = await readEntry(signingKey);
      const sealed = Buffer.from(entry.sealed as string, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', await masterKey(), sealed.subarray(0, 12));
      decipher.setAAD(aad(entry));
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      const plaintext = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
      expect(plaintext.length).toBe(64);
      expect(hex(SecretKey.fromBEBytes(plaintext.subarray(0, 32)).publicKey().toCompressedBytes())).toBe(signingKey);
      expect(hex(SecretKey.fromBEBytes(plaintext.subarray(32)).publicKey().toCompressedBytes())).toBe(encryptionKey);
      expect(entry.apiSecretSha256).toBe(createHash('sha256').update(apiSecret).digest('hex'));
    });

    test('authentic secret keys that do not match the public keys → INTEGRITY', async () => {
      const { signingKey } = await storeWithAccount();
      const entry = await readEntry(signingKey);
      const other = Buffer.concat([SecretKey.random().toBEBytes(), SecretKey.random().toBEBytes()]);
      await writeEntry(signingKey, { ...entry, sealed: await seal(entry, other) });
      await rejectsWith(open(), 'INTEGRITY', new RegExp(`${signingKey}\\.json: the sealed secret keys do not match`));
    });

    test('two authentic entries bound to one participant → INTEGRITY', async () => {
      const { store } = await storeWithAccount();
      const second = await store.generate();
      await store.bind(second.signingKey, PID_B);
      const entry = await readEntry(second.signingKey);
      const plaintext = await store.withKeys(PID_B, (k) => Buffer.concat([k.signing.toBEBytes(), k.encryption.toBEBytes()]));
      const forged = { ...entry, participantId: PID_A };
      await writeEntry(second.signingKey, { ...forged, sealed: await seal(forged, plaintext) });
      await rejectsWith(open(), 'INTEGRITY', new RegExp(`both bound to participant ${PID_A}`));
    });
  });

  describe('swapping between two entries is detected', () => {
    let a: Record<string, unknown>;
    let b: Record<string, unknown>;
    let keyA: string;
    let keyB: string;
    beforeEach(async () => {
      const { store, signingKey } = await storeWithAccount();
      const other = await store.generate();
      await store.bind(other.signingKey, PID_B);
      keyA = signingKey;
      keyB = other.signingKey;
      a = await readEntry(keyA);
      b = await readEntry(keyB);
    });

    test.each(['sealed', 'encryptionKey', 'participantId', 'apiSecretSha256'])('field %s', async (field) => {
      await writeEntry(keyA, { ...a, [field]: b[field] });
      await writeEntry(keyB, { ...b, [field]: a[field] });
      await rejectsWith(open(), 'INTEGRITY');
    });

    test('signingKey and encryptionKey together (file name mismatch)', async () => {
      await writeEntry(keyA, { ...a, signingKey: b.signingKey, encryptionKey: b.encryptionKey });
      await rejectsWith(open(), 'INTEGRITY', /does not match the file name/);
    });

    test('whole files', async () => {
      await writeEntry(keyA, b);
      await writeEntry(keyB, a);
      await rejectsWith(open(), 'INTEGRITY', /does not match the file name/);
    });
  });

  (POSIX ? test : test.skip)('insecure permissions are refused', async () => {
    await storeWithAccount();
    await chmod(keyFile, 0o644);
    await rejectsWith(open(), 'INSECURE_KEY_FILE', /key file .* mode 644/);
    await chmod(keyFile, 0o600);
    await chmod(dir, 0o750);
    await rejectsWith(open(), 'INSECURE_KEY_FILE', /custody directory .* mode 750/);
    await chmod(dir, 0o700);
    await open();
  });

  describe('malformed entry files → INTEGRITY with the file name', () => {
    let signingKey: string;
    let entry: Record<string, unknown>;
    beforeEach(async () => {
      ({ signingKey } = await storeWithAccount());
      entry = await readEntry(signingKey);
    });

    const cases: [string, () => Record<string, unknown> | string, RegExp][] = [
      ['not JSON', () => '{"v": 1, "sealed": "QUJD', /not valid JSON/],
      ['an array', () => '[]', /not an object/],
      ['an unknown field', () => ({ ...entry, extra: 1 }), /"extra" is not a known field/],
      ['a missing field', () => ({ ...entry, createdAt: undefined }), /"createdAt"/],
      ['another version', () => ({ ...entry, v: 2 }), /"v" must be 1/],
      ['a bad public key', () => ({ ...entry, encryptionKey: '04' + '00'.repeat(32) }), /"encryptionKey"/],
      ['a bad participant id', () => ({ ...entry, participantId: 'Alice' }), /"participantId"/],
      ['non-canonical sealed', () => ({ ...entry, sealed: `${entry.sealed as string}\n` }), /"sealed"/],
      ['a short sealed', () => ({ ...entry, sealed: Buffer.alloc(10).toString('base64') }), /"sealed"/],
    ];
    test.each(cases)('%s', async (_name, make, message) => {
      const content = make();
      await writeFile(entryPath(signingKey), typeof content === 'string' ? content : JSON.stringify(content));
      const err = await rejectsWith(open(), 'INTEGRITY', message);
      expect(err.message).toContain(`${signingKey}.json`);
      expect(err.message).not.toContain((entry.sealed as string).slice(0, 16));
    });

    test('a .json file that is not named after a signing key', async () => {
      await writeFile(join(dir, 'notes.json'), '{}');
      await rejectsWith(open(), 'INTEGRITY', /unexpected file notes\.json/);
    });

    test('leftover temporary files and non-JSON files are ignored', async () => {
      await writeFile(join(dir, `.${signingKey}.json.0123456789abcdef.tmp`), 'partial');
      await writeFile(join(dir, 'README'), 'hello');
      expect((await open()).isCustodial(PID_A)).toBe(true);
    });
  });

  test('string, JSON and inspect forms reveal no secret', async () => {
    const { store, apiSecret } = await storeWithAccount();
    const masterKey = (await readFile(keyFile, 'utf8')).trim();
    const secretHex = await store.withKeys(PID_A, (k) => [hex(k.signing.toBEBytes()), hex(k.encryption.toBEBytes())]);
    for (const shown of [String(store), JSON.stringify(store), inspect(store, { showHidden: true, depth: 10 }), JSON.stringify(store.list())]) {
      for (const secret of [masterKey, apiSecret, ...secretHex]) expect(shown).not.toContain(secret);
    }
    expect(String(store)).toMatch(/^CustodyStore\(.*, 1 entries\)$/);
  });

  test('open validates its options', async () => {
    await rejectsWith(CustodyStore.open({ dir: '', keyFile }), 'INVALID_ARGUMENT');
    await rejectsWith(CustodyStore.open({ dir, keyFile: '' }), 'INVALID_ARGUMENT');
  });
});
