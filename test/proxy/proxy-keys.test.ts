// The proxies' key files: generated once, sealed at rest under the master key (never in the clear on disk), private
// files in a private directory, the same keys on every open, and every kind of tampering refused at open.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustodyStore } from '../../src/custody/index.js';
import { CustodyError } from '../../src/custody/errors.js';
import { ProxyKeyStore } from '../../src/proxy/index.js';

let dir: string;
let keyFile: string;
let proxyDir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-proxy-keys-'));
  keyFile = join(dir, 'custody', 'master.key');
  proxyDir = join(dir, 'proxy');
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const open = (over: Partial<{ organisation: string; count: number; keyFile: string }> = {}) =>
  ProxyKeyStore.open({ dir: proxyDir, keyFile, organisation: 'Hospital1MSP', count: 2, ...over });

const secretHex = (store: ProxyKeyStore, id: string): string => store.withSecret(id, (sk) => Buffer.from(sk.toBEBytes()).toString('hex'));

async function rejects(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const e = await p.then(
    () => new Error('expected a refusal'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CustodyError);
  expect({ code: (e as CustodyError).code, message: (e as CustodyError).message }).toEqual({ code, message: expect.stringMatching(message) });
}

test('first open generates one key pair per proxy: private files in a private directory, ids <organisation>.proxy.<n>', async () => {
  const store = await open({ count: 3 });
  expect(store.proxies.map((p) => p.id)).toEqual(['Hospital1MSP.proxy.1', 'Hospital1MSP.proxy.2', 'Hospital1MSP.proxy.3']);
  expect(store.proxies.every((p) => p.organisation === 'Hospital1MSP' && /^0[23][0-9a-f]{64}$/.test(p.encryptionKey))).toBe(true);
  expect(new Set(store.proxies.map((p) => p.encryptionKey)).size).toBe(3);
  expect((await fsp.stat(proxyDir)).mode & 0o777).toBe(0o700);
  expect((await fsp.readdir(proxyDir)).sort()).toEqual(['proxy-1.json', 'proxy-2.json', 'proxy-3.json']);
  for (const name of await fsp.readdir(proxyDir)) expect((await fsp.stat(join(proxyDir, name))).mode & 0o777).toBe(0o600);
  // each secret is the one of its public key
  for (const p of store.proxies) {
    expect(store.withSecret(p.id, (sk) => Buffer.from(sk.publicKey().toCompressedBytes()).toString('hex'))).toBe(p.encryptionKey);
  }
  expect(() => store.withSecret('Hospital1MSP.proxy.4', () => 1)).toThrow(/no key for proxy Hospital1MSP.proxy.4/);
  // nothing secret in how the store prints
  expect(`${String(store)} ${JSON.stringify(store)}`).not.toContain(secretHex(store, 'Hospital1MSP.proxy.1'));
});

test('sealed at rest: the files hold neither the secret nor anything that decrypts without the master key', async () => {
  const store = await open();
  for (const p of store.proxies) {
    const secret = Buffer.from(secretHex(store, p.id), 'hex');
    const text = await fsp.readFile(join(proxyDir, `proxy-${p.id.at(-1)}.json`), 'utf8');
    for (const form of [secret.toString('hex'), secret.toString('base64'), secret.toString('base64url'), secret.toString('hex').toUpperCase()]) {
      expect(text).not.toContain(form);
    }
    expect(Buffer.from(text).includes(secret)).toBe(false);
    expect(JSON.parse(text)).toEqual({ v: 1, id: p.id, encryptionKey: p.encryptionKey, createdAt: expect.any(String), sealed: expect.any(String) });
  }
  // another master key opens none of them
  await rejects(open({ keyFile: join(dir, 'other.key') }), 'INTEGRITY', /proxy key file proxy-1.json: authentication failed/);
});

test('the same keys on every open, from the master key the custody store shares', async () => {
  const custody = await CustodyStore.open({ dir: join(dir, 'custody'), keyFile }); // creates the master key first
  const first = await open({ count: 2 });
  const secrets = first.proxies.map((p) => secretHex(first, p.id));
  const again = await open({ count: 2 });
  expect(again.proxies).toEqual(first.proxies);
  expect(again.proxies.map((p) => secretHex(again, p.id))).toEqual(secrets);
  // a higher count keeps the existing keys and adds new ones; a lower one serves fewer and deletes nothing
  const more = await open({ count: 3 });
  expect(more.proxies.slice(0, 2)).toEqual(first.proxies);
  expect(more.proxies).toHaveLength(3);
  const fewer = await open({ count: 1 });
  expect(fewer.proxies).toEqual([first.proxies[0]]);
  expect(await fsp.readdir(proxyDir)).toHaveLength(3);
  expect(custody.list()).toEqual([]);
});

describe('refused at open', () => {
  const edit = async (n: number, change: (o: Record<string, unknown>) => void): Promise<void> => {
    const file = join(proxyDir, `proxy-${n}.json`);
    const o = JSON.parse(await fsp.readFile(file, 'utf8')) as Record<string, unknown>;
    change(o);
    await fsp.writeFile(file, JSON.stringify(o));
  };

  test('a file moved to another proxy, an edited key or date, an extra field', async () => {
    const store = await open();
    const [p1, p2] = store.proxies;
    const one = await fsp.readFile(join(proxyDir, 'proxy-1.json'), 'utf8');
    const two = await fsp.readFile(join(proxyDir, 'proxy-2.json'), 'utf8');

    await fsp.writeFile(join(proxyDir, 'proxy-2.json'), one);
    await rejects(open(), 'INTEGRITY', /proxy key file proxy-2.json belongs to proxy Hospital1MSP.proxy.1, not Hospital1MSP.proxy.2/);
    await edit(2, (o) => (o.id = p2!.id)); // relabelled: the sealed secret is bound to proxy 1
    await rejects(open(), 'INTEGRITY', /proxy-2.json: authentication failed/);
    await fsp.writeFile(join(proxyDir, 'proxy-2.json'), two);

    await edit(1, (o) => (o.encryptionKey = p2!.encryptionKey));
    await rejects(open(), 'INTEGRITY', /proxy-1.json: authentication failed/);
    await fsp.writeFile(join(proxyDir, 'proxy-1.json'), one);
    await edit(1, (o) => (o.createdAt = '2020-01-01T00:00:00.000Z'));
    await rejects(open(), 'INTEGRITY', /proxy-1.json: authentication failed/);
    await fsp.writeFile(join(proxyDir, 'proxy-1.json'), one);
    await edit(1, (o) => (o.extra = 1));
    await rejects(open(), 'INTEGRITY', /proxy key file proxy-1.json: "extra" is not a known field/);
    await fsp.writeFile(join(proxyDir, 'proxy-1.json'), 'not json');
    await rejects(open(), 'INTEGRITY', /proxy key file proxy-1.json: not valid JSON/);
    await fsp.writeFile(join(proxyDir, 'proxy-1.json'), one);
    expect((await open()).proxies).toEqual([p1, p2]);
  });

  test('another organisation, a readable file or directory, a count out of range', async () => {
    await open();
    await rejects(open({ organisation: 'Hospital2MSP' }), 'INTEGRITY', /belongs to proxy Hospital1MSP.proxy.1, not Hospital2MSP.proxy.1 \(was the organisation renamed\?\)/);
    await fsp.chmod(join(proxyDir, 'proxy-1.json'), 0o644);
    await rejects(open(), 'INSECURE_KEY_FILE', /proxy key file .*proxy-1.json has mode 644/);
    await fsp.chmod(join(proxyDir, 'proxy-1.json'), 0o600);
    await fsp.chmod(proxyDir, 0o750);
    await rejects(open(), 'INSECURE_KEY_FILE', /proxy key directory .* has mode 750/);
    await fsp.chmod(proxyDir, 0o700);
    await rejects(open({ count: 0 }), 'INVALID_ARGUMENT', /1..16/);
    await rejects(open({ count: 17 }), 'INVALID_ARGUMENT', /1..16/);
  });
});
