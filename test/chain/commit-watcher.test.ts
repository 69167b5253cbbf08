// CommitWatcher against the dev network's Deliver service: statuses from filtered blocks match the peer's
// CommitStatus answers, a broken stream hands waiting transactions back (undefined: ask the peer) and the next
// transaction resumes from the block after the last one seen; and LedgerClient gives the same results with and
// without it.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect, signers } from '@hyperledger/fabric-gateway';
import type { Gateway, Network } from '@hyperledger/fabric-gateway';
import type { peer } from '@hyperledger/fabric-protos';
import { LedgerClient } from '../../src/chain/client.js';
import { CommitWatcher } from '../../src/chain/commit-watcher.js';
import type { CommitWatcherSource } from '../../src/chain/commit-watcher.js';
import { TxValidationCode } from '../../src/chain/devnet/blocks.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import { KvContract } from './fixtures/kv-contract.js';

let dir: string;
let net: Devnet;
let client: grpc.Client;
let gateway: Gateway;
let network: Network;

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-commit-watcher-'));
  net = await Devnet.start({ dataDir: dir, contracts: [KvContract], chaincodeName: 'kv', organisations: ['Hospital1MSP'], fsync: false });
  client = new grpc.Client(net.endpoint, grpc.credentials.createInsecure());
  const admin = net.admin();
  gateway = connect({ client, identity: { mspId: admin.mspId, credentials: Buffer.from(admin.certificatePem) }, signer: signers.newPrivateKeySigner(admin.privateKey) });
  network = gateway.getNetwork('pie');
});

afterAll(async () => {
  gateway.close();
  client.close();
  await net.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

/** The real stream, counting how often it is opened and from where; the first one breaks after `breakAfter` blocks. */
function source(breakAfter = Infinity): CommitWatcherSource & { opens: bigint[] } {
  const opens: bigint[] = [];
  return {
    opens,
    height: async () => BigInt(net.ledger.height),
    filteredBlocks: async (startBlock) => {
      opens.push(startBlock);
      const events = await network.getFilteredBlockEvents({ startBlock });
      const limit = opens.length === 1 ? breakAfter : Infinity;
      let seen = 0;
      return {
        close: () => events.close(),
        async *[Symbol.asyncIterator](): AsyncGenerator<peer.FilteredBlock> {
          for await (const b of events) {
            if (seen++ >= limit) {
              events.close();
              throw new Error('stream broke');
            }
            yield b;
          }
        },
      };
    },
  };
}

const kv = () => network.getContract('kv');

describe('CommitWatcher', () => {
  test('reports each transaction’s validation code and block as CommitStatus does, MVCC conflicts included', async () => {
    const w = new CommitWatcher(source(), { fallbackAfterMs: 10_000 });
    try {
      await kv().submitTransaction('Put', 'n', '0');
      const a = await kv().newProposal('Increment', { arguments: ['n'] }).endorse();
      const b = await kv().newProposal('Increment', { arguments: ['n'] }).endorse();
      const [wa, wb] = await Promise.all([w.watch(a.getTransactionId()), w.watch(b.getTransactionId())]);
      const [sa, sb] = await Promise.all([a.submit(), b.submit()]);
      const reported = await Promise.all([wa.status, wb.status]);
      const peers = await Promise.all([sa.getStatus(), sb.getStatus()]);
      expect(reported.map((r) => r && { code: r.code, block: r.blockNumber })).toEqual(peers.map((p) => ({ code: p.code, block: p.blockNumber })));
      expect(reported.map((r) => r!.code).sort()).toEqual([TxValidationCode.VALID, TxValidationCode.MVCC_READ_CONFLICT].sort());
      expect(w.pending).toBe(0);
    } finally {
      w.close();
    }
  });

  test('a broken stream hands its waiters back (undefined) and the next watch resumes after the last block seen', async () => {
    const src = source(1);
    const w = new CommitWatcher(src, { fallbackAfterMs: 10_000 });
    try {
      const first = await kv().newProposal('Put', { arguments: ['p', '1'] }).endorse();
      const w1 = await w.watch(first.getTransactionId());
      await first.submit();
      const r1 = await w1.status;
      expect(r1?.code).toBe(TxValidationCode.VALID);
      // the next block breaks the stream: its waiter gets undefined
      const second = await kv().newProposal('Put', { arguments: ['p', '2'] }).endorse();
      const w2 = await w.watch(second.getTransactionId());
      await second.submit();
      expect(await w2.status).toBeUndefined();
      // reopened from the block after the last one delivered
      const third = await kv().newProposal('Put', { arguments: ['p', '3'] }).endorse();
      const w3 = await w.watch(third.getTransactionId());
      await third.submit();
      expect((await w3.status)?.code).toBe(TxValidationCode.VALID);
      expect(src.opens).toEqual([src.opens[0], r1!.blockNumber + 1n]);
    } finally {
      w.close();
    }
  });

  test('a transaction the stream never reports falls back after fallbackAfterMs; cancel and close release waiters', async () => {
    const w = new CommitWatcher(source(), { fallbackAfterMs: 200 });
    try {
      const never = await w.watch('f'.repeat(64));
      const t0 = Date.now();
      expect(await never.status).toBeUndefined();
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
      const cancelled = await w.watch('e'.repeat(64));
      cancelled.cancel();
      expect(await cancelled.status).toBeUndefined();
      const open = await w.watch('d'.repeat(64));
      w.close();
      expect(await open.status).toBeUndefined();
      expect(w.pending).toBe(0);
      // closed: no stream, an immediate undefined
      expect(await (await w.watch('c'.repeat(64))).status).toBeUndefined();
    } finally {
      w.close();
    }
  });

  test('a source that cannot open makes watch answer undefined at once (the caller asks the peer)', async () => {
    const w = new CommitWatcher({ height: async () => Promise.reject(new Error('no qscc')), filteredBlocks: async () => Promise.reject(new Error('unused')) }, { fallbackAfterMs: 10_000 });
    expect(await (await w.watch('a'.repeat(64))).status).toBeUndefined();
    w.close();
  });
});

describe('LedgerClient with and without commit events', () => {
  test.each([true, false])('commitEvents %s: results, block numbers and conflict errors are the same', async (commitEvents) => {
    const admin = net.admin();
    const c = LedgerClient.connect({ endpoint: net.endpoint, channel: 'pie', chaincode: 'kv', identity: admin, commitEvents, conflictRetries: 0 });
    try {
      const key = `k-${commitEvents}`;
      const put = await c.submit<string>('Put', key, '0');
      expect(put.result).toBe(0); // decodeJson: "0" is JSON
      expect(put.blockNumber).toBe(BigInt(net.ledger.txStatus(put.transactionId)!.blockNum));
      const results = await Promise.allSettled([c.submit('Increment', key), c.submit('Increment', key)]);
      // Both endorsed on the same version and committed together, or one after the other: at most one conflict.
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      for (const f of failed) expect(f.reason).toMatchObject({ code: 'COMMIT_FAILED', details: { validationCode: TxValidationCode.MVCC_READ_CONFLICT } });
      expect(failed.length).toBeLessThanOrEqual(1);
    } finally {
      c.close();
    }
  });
});
