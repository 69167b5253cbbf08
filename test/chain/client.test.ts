// src/chain/client.ts against the dev network: JSON results, contract error codes, MVCC retries with fresh
// proposals, commit failures, transport and configuration errors.
import { LedgerClient, LedgerClientError } from '../../src/chain/client.js';
import { useKvNetwork } from './fixtures/kv-network.js';

// A 20 ms batch timeout puts concurrent submissions into shared blocks, where read conflicts happen.
const kv = useKvNetwork('pie-client-', { batch: { batchTimeoutMs: 20 } });
const open = kv.open.bind(kv);

test('submit returns the parsed result, transaction id and block; evaluate reads it back', async () => {
  const c = open();
  const r = await c.submit('Put', 'k', '{"a":1}');
  expect(r.result).toEqual({ a: 1 });
  expect(r.transactionId).toMatch(/^[0-9a-f]{64}$/);
  expect(r.blockNumber).toBe(BigInt(kv.net.ledger.height - 1));
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
  const other = await kv.net.issue('Hospital1MSP', 'mallory');
  await expect(open({ identity: { ...kv.net.admin(), privateKeyPem: other.privateKeyPem } }).evaluate('Get', 'k')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  await expect(open({ endpoint: '127.0.0.1:1', timeouts: { evaluate: 1500 } }).evaluate('Get', 'k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(() => LedgerClient.connect({ endpoint: 'no-port', channel: 'pie', chaincode: 'kv', identity: kv.net.admin() })).toThrow(LedgerClientError);
  expect(() => LedgerClient.connect({ endpoint: kv.net.endpoint, channel: 'pie', chaincode: 'kv', identity: { ...kv.net.admin(), privateKeyPem: 'nope' } })).toThrow(/not a PEM private key/);
});
