// The dev network through the unmodified @hyperledger/fabric-gateway client: evaluate, submit with commit status,
// chaincode errors with Fabric's error details, events, MVCC conflicts, signature and membership checks, restart
// persistence, tampering and the data-directory lock.
import { promises as fsp } from 'node:fs';
import { createPrivateKey, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { checkpointers, connect, signers } from '@hyperledger/fabric-gateway';
import type { Gateway, Identity, Signer } from '@hyperledger/fabric-gateway';
import { Devnet, DevnetError } from '../../src/chain/devnet/devnet.js';
import { P256_N, parseEcdsaSignature, encodeEcdsaSignature, type SigningIdentity } from '../../src/chain/devnet/msp.js';
import { TxValidationCode } from '../../src/chain/devnet/blocks.js';
import { KvContract } from './fixtures/kv-contract.js';

const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

let dir: string;
let net: Devnet;
let client: grpc.Client;
const gateways: Gateway[] = [];

const identityOf = (id: SigningIdentity): Identity => ({ mspId: id.mspId, credentials: Buffer.from(id.certificatePem) });
function open(identity: Identity, signer: Signer): Gateway {
  const g = connect({ client, identity, signer, evaluateOptions: () => ({ deadline: Date.now() + 10_000 }), endorseOptions: () => ({ deadline: Date.now() + 10_000 }), submitOptions: () => ({ deadline: Date.now() + 10_000 }), commitStatusOptions: () => ({ deadline: Date.now() + 20_000 }) });
  gateways.push(g);
  return g;
}
const gatewayFor = (id: SigningIdentity): Gateway => open(identityOf(id), signers.newPrivateKeySigner(id.privateKey));
const contractOf = (g: Gateway) => g.getNetwork('pie').getContract('kv');

async function startNet(): Promise<Devnet> {
  return Devnet.start({ dataDir: dir, contracts: [KvContract], chaincodeName: 'kv', organisations: ['Hospital1MSP', 'Hospital2MSP'], fsync: false });
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-devnet-'));
  net = await startNet();
  client = new grpc.Client(net.endpoint, grpc.credentials.createInsecure());
});

afterAll(async () => {
  gateways.forEach((g) => g.close());
  client.close();
  await net.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('dev network via the fabric-gateway client', () => {
  test('connection details name the endpoint and each organisation’s admin identity', async () => {
    const details = JSON.parse(await fsp.readFile(join(dir, 'connection.json'), 'utf8'));
    expect(details).toMatchObject({ endpoint: net.endpoint, channel: 'pie', chaincode: 'kv', gatewayOrg: 'Hospital1MSP', tls: false });
    expect(details.organisations.map((o: { mspId: string }) => o.mspId)).toEqual(['Hospital1MSP', 'Hospital2MSP']);
    const cert = await fsp.readFile(details.organisations[1].admin.certPath, 'utf8');
    expect(cert).toBe(net.admin('Hospital2MSP').certificatePem);
  });

  test('submit commits in a block; evaluate reads it; commit status carries the block number', async () => {
    const c = contractOf(gatewayFor(net.admin()));
    const before = net.ledger.height;
    const submitted = await c.submitAsync('Put', { arguments: ['greeting', 'hello'] });
    expect(utf8(submitted.getResult())).toBe('hello');
    const status = await submitted.getStatus();
    expect(status).toMatchObject({ successful: true, code: TxValidationCode.VALID, transactionId: submitted.getTransactionId() });
    expect(Number(status.blockNumber)).toBeGreaterThanOrEqual(before);
    expect(utf8(await c.evaluateTransaction('Get', 'greeting'))).toBe('hello');
  });

  test('the chaincode sees the caller’s MSP, certificate attributes and transient data', async () => {
    const alice = await net.issue('Hospital2MSP', 'alice', { role: 'physician' });
    const c = contractOf(gatewayFor(alice));
    const who = JSON.parse(utf8(await c.evaluate('Whoami', { transientData: { secret: 'x' } })));
    expect(who).toMatchObject({ mspId: 'Hospital2MSP', role: 'physician', channel: 'pie', transient: ['secret'] });
  });

  test('chaincode errors arrive as Fabric reports them (ErrorDetail with the chaincode response)', async () => {
    const c = contractOf(gatewayFor(net.admin()));
    const ev = await c.evaluateTransaction('Fail', '[FORBIDDEN] not yours').catch((e: unknown) => e);
    expect(ev).toMatchObject({ name: 'GatewayError', code: grpc.status.UNKNOWN });
    expect((ev as { details: { message: string; mspId: string }[] }).details[0]).toMatchObject({ mspId: 'Hospital1MSP', message: 'chaincode response 500, [FORBIDDEN] not yours' });
    const en = await c.submitTransaction('Fail', '[CONFLICT] again').catch((e: unknown) => e);
    expect(en).toMatchObject({ name: 'EndorseError', code: grpc.status.ABORTED });
    expect((en as { details: { message: string }[] }).details[0]!.message).toBe('chaincode response 500, [CONFLICT] again');
  });

  test('unknown channel and chaincode are NOT_FOUND', async () => {
    const g = gatewayFor(net.admin());
    await expect(g.getNetwork('nope').getContract('kv').evaluateTransaction('Get', 'x')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(g.getNetwork('pie').getContract('other').evaluateTransaction('Get', 'x')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  test('chaincode events stream from a block, resume from a checkpoint, and follow new commits', async () => {
    const g = gatewayFor(net.admin());
    const c = contractOf(g);
    const start = net.ledger.height;
    const tx1 = utf8(await c.submitTransaction('Emit', 'Created', '{"n":1}'));
    const tx2 = utf8(await c.submitTransaction('Emit', 'Created', '{"n":2}'));
    const events = await g.getNetwork('pie').getChaincodeEvents('kv', { startBlock: BigInt(start) });
    const got: { txId: string; name: string; payload: string; block: bigint }[] = [];
    const checkpoint = checkpointers.inMemory();
    try {
      for await (const e of events) {
        got.push({ txId: e.transactionId, name: e.eventName, payload: utf8(e.payload), block: e.blockNumber });
        if (got.length === 1) await checkpoint.checkpointChaincodeEvent(e);
        if (got.length === 2) break;
      }
    } finally {
      events.close();
    }
    expect(got.map((e) => [e.txId, e.name, e.payload])).toEqual([[tx1, 'Created', '{"n":1}'], [tx2, 'Created', '{"n":2}']]);
    // Resume from a checkpoint taken after the first event (block number + transaction id).
    const resumed = await g.getNetwork('pie').getChaincodeEvents('kv', { checkpoint });
    try {
      const first = await resumed[Symbol.asyncIterator]().next();
      expect(first.value.transactionId).toBe(tx2);
    } finally {
      resumed.close();
    }
    // A listener from the next commit sees only new events.
    const live = await g.getNetwork('pie').getChaincodeEvents('kv');
    try {
      const next = live[Symbol.asyncIterator]().next();
      const tx3 = utf8(await c.submitTransaction('Emit', 'Later', '3'));
      expect((await next).value).toMatchObject({ transactionId: tx3, eventName: 'Later' });
    } finally {
      live.close();
    }
  });

  test('two transactions endorsed on the same version: the second commits as MVCC_READ_CONFLICT', async () => {
    const c = contractOf(gatewayFor(net.admin()));
    await c.submitTransaction('Put', 'counter', '0');
    const a = await c.newProposal('Increment', { arguments: ['counter'] }).endorse();
    const b = await c.newProposal('Increment', { arguments: ['counter'] }).endorse();
    // Submitted together, they are ordered in whichever order the peer finishes checking them (as with Fabric's
    // orderer): exactly one commits, the other is invalidated.
    const statuses = await Promise.all([a.submit(), b.submit()].map(async (s) => (await s).getStatus()));
    expect(statuses.map((st) => st.code).sort((x, y) => x - y)).toEqual([TxValidationCode.VALID, TxValidationCode.MVCC_READ_CONFLICT].sort((x, y) => x - y));
    expect(statuses.find((st) => st.code === TxValidationCode.MVCC_READ_CONFLICT)).toMatchObject({ successful: false });
    // submitTransaction surfaces the same as a CommitError
    const x = await c.newProposal('Increment', { arguments: ['counter'] }).endorse();
    await c.submitTransaction('Increment', 'counter');
    await expect((async () => (await x.submit()).getStatus())()).resolves.toMatchObject({ code: TxValidationCode.MVCC_READ_CONFLICT });
    expect(utf8(await c.evaluateTransaction('Get', 'counter'))).toBe('2');
  });

  test('a transaction signed by a key that is not the certificate’s is refused', async () => {
    const admin = net.admin();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const c = contractOf(open(identityOf(admin), signers.newPrivateKeySigner(privateKey)));
    await expect(c.evaluateTransaction('Get', 'greeting')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await expect(c.submitTransaction('Put', 'forged', 'x')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  test('an identity of an unknown MSP, or a certificate claimed by another MSP, is refused', async () => {
    const admin = net.admin('Hospital2MSP');
    const signer = signers.newPrivateKeySigner(admin.privateKey);
    await expect(contractOf(open({ mspId: 'EvilMSP', credentials: Buffer.from(admin.certificatePem) }, signer)).evaluateTransaction('Get', 'x')).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    await expect(contractOf(open({ mspId: 'Hospital1MSP', credentials: Buffer.from(admin.certificatePem) }, signer)).evaluateTransaction('Get', 'x')).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
  });

  test('a high-S signature is refused (Fabric accepts low-S only)', async () => {
    const admin = net.admin();
    const key = createPrivateKey(admin.privateKeyPem);
    const highS: Signer = async (digest) => {
      const der = nodeSign(null, digest, { key, dsaEncoding: 'der' });
      const { r, s } = parseEcdsaSignature(der);
      return encodeEcdsaSignature(r, s > P256_N / 2n ? s : P256_N - s);
    };
    await expect(contractOf(open(identityOf(admin), highS)).evaluateTransaction('Get', 'x')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  test('a second network on the same data directory is refused while the first runs', async () => {
    await expect(startNet()).rejects.toBeInstanceOf(DevnetError);
    await expect(startNet()).rejects.toMatchObject({ code: 'LOCKED' });
  });

  test('restart resumes at the same height with the same state; the chain verifies', async () => {
    const c = contractOf(gatewayFor(net.admin()));
    await c.submitTransaction('Put', 'durable', 'yes');
    const height = net.ledger.height;
    const tip = Buffer.from(net.ledger.tipHash).toString('hex');
    gateways.splice(0).forEach((g) => g.close());
    client.close();
    await net.stop();
    net = await startNet();
    client = new grpc.Client(net.endpoint, grpc.credentials.createInsecure());
    expect(net.ledger.height).toBe(height);
    expect(Buffer.from(net.ledger.tipHash).toString('hex')).toBe(tip);
    expect(await net.ledger.verify()).toEqual({ ok: true, height });
    const c2 = contractOf(gatewayFor(net.admin()));
    expect(utf8(await c2.evaluateTransaction('Get', 'durable'))).toBe('yes');
    expect(utf8(await c2.evaluateTransaction('Get', 'counter'))).toBe('2');
    await c2.submitTransaction('Put', 'after-restart', '1');
    expect(net.ledger.height).toBe(height + 1);
  });
});

describe('tampering', () => {
  test('an altered block is detected at start', async () => {
    const d = await fsp.mkdtemp(join(tmpdir(), 'pie-devnet-tamper-'));
    try {
      const n = await Devnet.start({ dataDir: d, contracts: [KvContract], chaincodeName: 'kv', fsync: false });
      const cl = new grpc.Client(n.endpoint, grpc.credentials.createInsecure());
      const admin = n.admin();
      const g = connect({ client: cl, identity: identityOf(admin), signer: signers.newPrivateKeySigner(admin.privateKey) });
      await g.getNetwork('pie').getContract('kv').submitTransaction('Put', 'balance', 'ONE-HUNDRED');
      g.close();
      cl.close();
      await n.stop();
      const file = join(d, 'ledger', 'blocks.dat');
      const bytes = await fsp.readFile(file);
      const at = bytes.lastIndexOf(Buffer.from('ONE-HUNDRED'));
      expect(at).toBeGreaterThan(0);
      bytes.write('ONE-MILLION', at);
      await fsp.writeFile(file, bytes);
      await expect(Devnet.start({ dataDir: d, contracts: [KvContract], chaincodeName: 'kv', fsync: false })).rejects.toThrow(/block 1/);
    } finally {
      await fsp.rm(d, { recursive: true, force: true });
    }
  });
});
