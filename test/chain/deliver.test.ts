// The dev network's peer Deliver service (protos.Deliver): block and filtered-block events through the unmodified
// @hyperledger/fabric-gateway client, and the protocol's refusals (signature, membership, timestamp window, header
// type, seek bounds, FAIL_IF_NOT_READY) through a raw gRPC stream.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect, signers } from '@hyperledger/fabric-gateway';
import type { Gateway } from '@hyperledger/fabric-gateway';
import { common, orderer, peer } from '@hyperledger/fabric-protos';
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js';
import { TxValidationCode } from '../../src/chain/devnet/blocks.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import { signP256, type SigningIdentity } from '../../src/chain/devnet/msp.js';
import { serializedIdentity } from '../../src/chain/devnet/transaction.js';
import { KvContract } from './fixtures/kv-contract.js';

const { Timestamp } = timestampPb;
const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

let dir: string;
let net: Devnet;
let client: grpc.Client;
let gateway: Gateway;

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-deliver-'));
  net = await Devnet.start({ dataDir: dir, contracts: [KvContract], chaincodeName: 'kv', organisations: ['Hospital1MSP'], fsync: false });
  client = new grpc.Client(net.endpoint, grpc.credentials.createInsecure());
  const admin = net.admin();
  gateway = connect({ client, identity: { mspId: admin.mspId, credentials: Buffer.from(admin.certificatePem) }, signer: signers.newPrivateKeySigner(admin.privateKey) });
});

afterAll(async () => {
  gateway.close();
  client.close();
  await net.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

const contract = () => gateway.getNetwork('pie').getContract('kv');

describe('Deliver through the fabric-gateway client', () => {
  test('filtered blocks: every transaction with its validation code and its event name, without the payload', async () => {
    const c = contract();
    const start = net.ledger.height;
    const emitted = utf8(await c.submitTransaction('Emit', 'Created', '{"secret":1}'));
    await c.submitTransaction('Put', 'k', '0');
    // two increments endorsed on the same version: one commits, the other is an MVCC conflict
    const a = await c.newProposal('Increment', { arguments: ['k'] }).endorse();
    const b = await c.newProposal('Increment', { arguments: ['k'] }).endorse();
    const statuses = await Promise.all([a.submit(), b.submit()].map(async (s) => (await s).getStatus()));
    const end = Math.max(...statuses.map((s) => Number(s.blockNumber)));

    const blocks = await gateway.getNetwork('pie').getFilteredBlockEvents({ startBlock: BigInt(start) });
    const seen = new Map<string, { code: number; event?: string; payload: number; block: number }>();
    try {
      for await (const fb of blocks) {
        expect(fb.getChannelId()).toBe('pie');
        for (const t of fb.getFilteredTransactionsList()) {
          const ev = t.getTransactionActions()?.getChaincodeActionsList()[0]?.getChaincodeEvent();
          seen.set(t.getTxid(), { code: t.getTxValidationCode(), ...(ev ? { event: ev.getEventName() } : {}), payload: ev?.getPayload_asU8().length ?? 0, block: fb.getNumber() });
          expect(t.getType()).toBe(common.HeaderType.ENDORSER_TRANSACTION);
        }
        if (fb.getNumber() >= end) break;
      }
    } finally {
      blocks.close();
    }
    expect(seen.get(emitted)).toMatchObject({ code: TxValidationCode.VALID, event: 'Created', payload: 0 });
    const codes = [a, b].map((t) => seen.get(t.getTransactionId())?.code).sort((x, y) => (x ?? -1) - (y ?? -1));
    expect(codes).toEqual([TxValidationCode.VALID, TxValidationCode.MVCC_READ_CONFLICT].sort((x, y) => x - y));
    for (const [i, t] of [a, b].entries()) expect(seen.get(t.getTransactionId())?.block).toBe(Number(statuses[i]!.blockNumber));
  });

  test('full blocks are the stored blocks, byte for byte; a listener waits for blocks not yet committed', async () => {
    const c = contract();
    const first = net.ledger.height - 1;
    const full = await gateway.getNetwork('pie').getBlockEvents({ startBlock: BigInt(first) });
    try {
      const it = full[Symbol.asyncIterator]();
      const b0 = (await it.next()).value as common.Block;
      expect(b0.getHeader()!.getNumber()).toBe(first);
      expect(Buffer.from(b0.serializeBinary()).equals(Buffer.from((await net.ledger.block(first)).serializeBinary()))).toBe(true);
      const next = it.next();
      await c.submitTransaction('Put', 'later', '1');
      const b1 = (await next).value as common.Block;
      expect(b1.getHeader()!.getNumber()).toBe(first + 1);
    } finally {
      full.close();
    }
    // no start block: the client asks for the next commit
    const fresh = await gateway.getNetwork('pie').getFilteredBlockEvents();
    try {
      const next = fresh[Symbol.asyncIterator]().next();
      const h = net.ledger.height;
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the request reach the peer before the commit
      await c.submitTransaction('Put', 'later', '2');
      expect(((await next).value as peer.FilteredBlock).getNumber()).toBe(h);
    } finally {
      fresh.close();
    }
  });

  test('an identity the network does not know is refused', async () => {
    const stranger = await Devnet.start({ dataDir: join(dir, 'other'), contracts: [KvContract], chaincodeName: 'kv', organisations: ['Hospital1MSP'], fsync: false });
    const id = stranger.admin();
    await stranger.stop();
    const g = connect({ client, identity: { mspId: id.mspId, credentials: Buffer.from(id.certificatePem) }, signer: signers.newPrivateKeySigner(id.privateKey) });
    try {
      const events = await g.getNetwork('pie').getFilteredBlockEvents({ startBlock: 0n });
      await expect(events[Symbol.asyncIterator]().next()).rejects.toThrow(/403|FORBIDDEN/i);
      events.close();
    } finally {
      g.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------ the raw protocol
interface SeekOptions {
  start?: number | 'oldest' | 'newest';
  stop?: number;
  failIfNotReady?: boolean;
  type?: number;
  timestampMs?: number;
  channel?: string;
  badSignature?: boolean;
}

function seekEnvelope(id: SigningIdentity, o: SeekOptions = {}): common.Envelope {
  const position = (p: number | 'oldest' | 'newest'): orderer.SeekPosition => {
    const pos = new orderer.SeekPosition();
    if (p === 'oldest') pos.setOldest(new orderer.SeekOldest());
    else if (p === 'newest') pos.setNewest(new orderer.SeekNewest());
    else {
      const s = new orderer.SeekSpecified();
      s.setNumber(p);
      pos.setSpecified(s);
    }
    return pos;
  };
  const seek = new orderer.SeekInfo();
  seek.setStart(position(o.start ?? 'oldest'));
  seek.setStop(position(o.stop ?? Number.MAX_SAFE_INTEGER));
  if (o.failIfNotReady) seek.setBehavior(orderer.SeekInfo.SeekBehavior.FAIL_IF_NOT_READY);
  const ch = new common.ChannelHeader();
  ch.setType(o.type ?? common.HeaderType.DELIVER_SEEK_INFO);
  ch.setChannelId(o.channel ?? 'pie');
  ch.setTimestamp(Timestamp.fromDate(new Date(o.timestampMs ?? Date.now())));
  const sh = new common.SignatureHeader();
  sh.setCreator(serializedIdentity(id.mspId, id.certificatePem));
  const header = new common.Header();
  header.setChannelHeader(ch.serializeBinary());
  header.setSignatureHeader(sh.serializeBinary());
  const payload = new common.Payload();
  payload.setHeader(header);
  payload.setData(seek.serializeBinary());
  const env = new common.Envelope();
  const bytes = payload.serializeBinary();
  env.setPayload(bytes);
  env.setSignature(signP256(id.privateKey, o.badSignature ? new Uint8Array([...bytes, 0]) : bytes));
  return env;
}

/** Sends one request on a DeliverFiltered stream; collects responses until a status arrives (or `max` blocks). */
async function ask(env: common.Envelope, max = 100): Promise<{ blocks: number[]; status?: number }> {
  const call = client.makeBidiStreamRequest(
    '/protos.Deliver/DeliverFiltered',
    (e: common.Envelope) => Buffer.from(e.serializeBinary()),
    (b: Buffer) => peer.DeliverResponse.deserializeBinary(b),
  );
  const blocks: number[] = [];
  try {
    call.write(env);
    for await (const r of call as AsyncIterable<peer.DeliverResponse>) {
      if (r.getTypeCase() === peer.DeliverResponse.TypeCase.STATUS) return { blocks, status: r.getStatus() };
      blocks.push(r.getFilteredBlock()!.getNumber());
      if (blocks.length >= max) return { blocks };
    }
    return { blocks };
  } finally {
    call.cancel();
  }
}

describe('Deliver protocol', () => {
  test('a bounded seek delivers exactly its blocks, then SUCCESS', async () => {
    await contract().submitTransaction('Put', 'x', '1');
    const h = net.ledger.height;
    expect(await ask(seekEnvelope(net.admin(), { start: 0, stop: 2 }))).toEqual({ blocks: [0, 1, 2], status: common.Status.SUCCESS });
    expect(await ask(seekEnvelope(net.admin(), { start: 'newest', stop: h - 1 }))).toEqual({ blocks: [h - 1], status: common.Status.SUCCESS });
  });

  test('FAIL_IF_NOT_READY answers NOT_FOUND for blocks not yet committed', async () => {
    const h = net.ledger.height;
    expect(await ask(seekEnvelope(net.admin(), { start: h + 5, failIfNotReady: true }))).toEqual({ blocks: [], status: common.Status.NOT_FOUND });
    expect(await ask(seekEnvelope(net.admin(), { start: h - 1, failIfNotReady: true }))).toEqual({ blocks: [h - 1], status: common.Status.NOT_FOUND });
  });

  test('refusals: bad signature (FORBIDDEN), wrong header type, stale timestamp, start after stop (BAD_REQUEST), unknown channel (NOT_FOUND)', async () => {
    const admin = net.admin();
    expect((await ask(seekEnvelope(admin, { badSignature: true }))).status).toBe(common.Status.FORBIDDEN);
    expect((await ask(seekEnvelope(admin, { type: common.HeaderType.ENDORSER_TRANSACTION }))).status).toBe(common.Status.BAD_REQUEST);
    expect((await ask(seekEnvelope(admin, { timestampMs: Date.now() - 16 * 60_000 }))).status).toBe(common.Status.BAD_REQUEST);
    expect((await ask(seekEnvelope(admin, { start: 3, stop: 1 }))).status).toBe(common.Status.BAD_REQUEST);
    expect((await ask(seekEnvelope(admin, { channel: 'other' }))).status).toBe(common.Status.NOT_FOUND);
    const garbage = new common.Envelope();
    garbage.setPayload(new Uint8Array([1, 2, 3]));
    expect((await ask(garbage)).status).toBe(common.Status.BAD_REQUEST);
  });
});
