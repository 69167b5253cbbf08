// src/chain/client.ts against the dev network: JSON results, contract error codes, MVCC retries with fresh
// proposals, commit failures, transport and configuration errors.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerClient, LedgerClientError } from '../../src/chain/client.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import { KvContract } from './fixtures/kv-contract.js';

let dir: string;
let net: Devnet;
const clients: LedgerClient[] = [];
const open = (over: Partial<Parameters<typeof LedgerClient.connect>[0]> = {}): LedgerClient => {
  const c = LedgerClient.connect({ endpoint: net.endpoint, channel: 'pie', chaincode: 'kv', identity: net.admin(), ...over });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-client-'));
  // A 20 ms batch timeout puts concurrent submissions into shared blocks, where read conflicts happen.
  net = await Devnet.start({ dataDir: dir, contracts: [KvContract], chaincodeName: 'kv', fsync: false, batch: { batchTimeoutMs: 20 } });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await net.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

test('submit returns the parsed result, transaction id and block; evaluate reads it back', async () => {
  const c = open();
  const r = await c.submit('Put', 'k', '{"a":1}');
  expect(r.result).toEqual({ a: 1 });
  expect(r.transactionId).toMatch(/^[0-9a-f]{64}$/);
  expect(r.blockNumber).toBe(BigInt(net.ledger.height - 1));
  expect(await c.evaluate('Get', 'k')).toEqual({ a: 1 });
});

test('contract errors keep their code; other failures become INTERNAL', async () => {
  const c = open();
  await expect(c.evaluate('Fail', '[NOT_FOUND] record x does not exist')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'record x does not exist' });
  await expect(c.submit('Fail', '[CONFLICT] already revoked')).rejects.toMatchObject({ code: 'CONFLICT', message: 'already revoked' });
  await expect(c.evaluate('Fail', 'plain failure')).rejects.toMatchObject({ code: 'INTERNAL', message: 'plain failure' });
});

test('concurrent read-modify-writes all land: MVCC conflicts are retried with fresh proposals', async () => {
  const c = open({ conflictRetries: 20 });
  await c.submit('Put', 'counter', '0');
  const n = 12;
  const results = await Promise.all(Array.from({ length: n }, () => c.submit<number>('Increment', 'counter')));
  expect(results.map((r) => r.result).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  expect(await c.evaluate('Get', 'counter')).toBe(n);
});

test('without retries a conflict is COMMIT_FAILED with the validation code', async () => {
  const c = open({ conflictRetries: 0 });
  await c.submit('Put', 'c2', '0');
  const settled = await Promise.allSettled(Array.from({ length: 6 }, () => c.submit('Increment', 'c2')));
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as LedgerClientError);
  expect(failed.length).toBeGreaterThan(0);
  for (const e of failed) expect(e).toMatchObject({ code: 'COMMIT_FAILED', details: { validationCode: 11 } });
  expect(await c.evaluate('Get', 'c2')).toBe(6 - failed.length);
});

test('a wrong identity is PERMISSION_DENIED, an unreachable gateway UNAVAILABLE, a bad config CONFIG', async () => {
  const other = await net.issue('Hospital1MSP', 'mallory');
  await expect(open({ identity: { ...net.admin(), privateKeyPem: other.privateKeyPem } }).evaluate('Get', 'k')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  await expect(open({ endpoint: '127.0.0.1:1', timeouts: { evaluate: 1500 } }).evaluate('Get', 'k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(() => LedgerClient.connect({ endpoint: 'no-port', channel: 'pie', chaincode: 'kv', identity: net.admin() })).toThrow(LedgerClientError);
  expect(() => LedgerClient.connect({ endpoint: net.endpoint, channel: 'pie', chaincode: 'kv', identity: { ...net.admin(), privateKeyPem: 'nope' } })).toThrow(/not a PEM private key/);
});
