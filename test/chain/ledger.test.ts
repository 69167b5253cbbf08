// The committer's validation codes for envelopes that reach a block: what a peer's validator decides.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common } from '@hyperledger/fabric-protos';
import { TxValidationCode } from '../../src/chain/devnet/blocks.js';
import { ChaincodeRunner } from '../../src/chain/devnet/chaincode-runner.js';
import { Ledger } from '../../src/chain/devnet/ledger.js';
import { Msp } from '../../src/chain/devnet/msp.js';
import type { SigningIdentity } from '../../src/chain/devnet/msp.js';
import { buildSignedProposal, decodeProposal, endorse, preparedTransaction } from '../../src/chain/devnet/transaction.js';
import { KvContract } from './fixtures/kv-contract.js';

let dir: string;
let msp: Msp;
let ledger: Ledger;
let client: SigningIdentity;
let peer: SigningIdentity;
let orderer: SigningIdentity;
const runner = new ChaincodeRunner('kv', [KvContract]);

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-ledger-'));
  msp = Msp.inMemory();
  await msp.createOrganisation('Org1MSP');
  await msp.createOrganisation('OrdererMSP');
  client = await msp.issue('Org1MSP', { enrollmentId: 'client' });
  peer = await msp.issue('Org1MSP', { enrollmentId: 'peer0', ou: 'peer' });
  orderer = await msp.issue('OrdererMSP', { enrollmentId: 'orderer0', ou: 'orderer' });
  ledger = await Ledger.open(dir, { channelId: 'ch', msp, orderer, fsync: false });
});
afterAll(async () => {
  await ledger.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

/** An endorsed, client-signed envelope for kv:fn(args). */
async function envelope(fn: string, args: string[], o: { endorser?: SigningIdentity; signer?: SigningIdentity; channel?: string } = {}): Promise<{ bytes: Uint8Array; txId: string }> {
  const { signedProposal, txId } = buildSignedProposal({ identity: client, channelId: o.channel ?? 'ch', chaincodeName: 'kv', fn, args });
  const p = decodeProposal(signedProposal);
  const sim = await runner.simulate(ledger.state, { channelId: p.channelId, txId, input: p.input, signedProposal });
  const env = preparedTransaction(p, [endorse(p, sim, o.endorser ?? peer)]);
  env.setSignature((o.signer ?? client).sign(env.getPayload_asU8()));
  return { bytes: env.serializeBinary(), txId };
}

const codes = async (envs: Uint8Array[]): Promise<number[]> => (await ledger.commit(envs)).txs.map((t) => t.code);

test('a well-formed transaction is VALID and its writes are applied', async () => {
  const a = await envelope('Put', ['k', 'v']);
  expect(await codes([a.bytes])).toEqual([TxValidationCode.VALID]);
  expect(Buffer.from(ledger.state.get('kv', 'k')!.value).toString()).toBe('v');
  expect(ledger.txStatus(a.txId)).toEqual({ code: TxValidationCode.VALID, blockNum: ledger.height - 1 });
});

test('the same transaction again is DUPLICATE_TXID, in a later block or in the same one', async () => {
  const a = await envelope('Put', ['d', '1']);
  expect(await codes([a.bytes, a.bytes])).toEqual([TxValidationCode.VALID, TxValidationCode.DUPLICATE_TXID]);
  expect(await codes([a.bytes])).toEqual([TxValidationCode.DUPLICATE_TXID]);
});

test('an envelope not signed by its creator is BAD_CREATOR_SIGNATURE', async () => {
  const other = await msp.issue('Org1MSP', { enrollmentId: 'other' });
  const a = await envelope('Put', ['x', '1'], { signer: other });
  expect(await codes([a.bytes])).toEqual([TxValidationCode.BAD_CREATOR_SIGNATURE]);
  expect(ledger.state.get('kv', 'x')).toBeUndefined();
});

test('an endorsement by a non-peer identity fails the endorsement policy', async () => {
  const a = await envelope('Put', ['y', '1'], { endorser: client });
  expect(await codes([a.bytes])).toEqual([TxValidationCode.ENDORSEMENT_POLICY_FAILURE]);
});

test('an endorsement this peer noted is trusted only over the very bytes it signed', async () => {
  const proposal = (key: string) => {
    const { signedProposal, txId } = buildSignedProposal({ identity: client, channelId: 'ch', chaincodeName: 'kv', fn: 'Put', args: [key, '1'] });
    return { p: decodeProposal(signedProposal), signedProposal, txId };
  };
  const endorsed = async (key: string) => {
    const { p, signedProposal, txId } = proposal(key);
    const sim = await runner.simulate(ledger.state, { channelId: p.channelId, txId, input: p.input, signedProposal });
    return { p, txId, response: endorse(p, sim, peer) };
  };
  const signed = (env: common.Envelope): Uint8Array => {
    env.setSignature(client.sign(env.getPayload_asU8()));
    return env.serializeBinary();
  };
  // noted and unchanged: VALID (the committer skips re-verifying its own signature)
  const a = await endorsed('noted-a');
  ledger.noteEndorsed(a.response);
  expect(await codes([signed(preparedTransaction(a.p, [a.response]))])).toEqual([TxValidationCode.VALID]);
  // this peer's noted signature carried over another transaction's results: the full check refuses it
  const b = await endorsed('noted-b');
  const c = await endorsed('noted-c');
  ledger.noteEndorsed(b.response);
  const forged = c.response.cloneMessage();
  forged.setEndorsement(b.response.getEndorsement());
  expect(await codes([signed(preparedTransaction(c.p, [forged]))])).toEqual([TxValidationCode.ENDORSEMENT_POLICY_FAILURE]);
  expect(ledger.state.get('kv', 'noted-c')).toBeUndefined();
});

test('another channel is TARGET_CHAIN_NOT_FOUND; bytes that are no transaction are BAD_PAYLOAD', async () => {
  const a = await envelope('Put', ['z', '1'], { channel: 'elsewhere' });
  const junk = new common.Envelope();
  junk.setPayload(new Uint8Array([1, 2, 3]));
  expect(await codes([a.bytes])).toEqual([TxValidationCode.TARGET_CHAIN_NOT_FOUND]);
  const block = await ledger.commit([junk.serializeBinary()]);
  expect(block.txs).toEqual([]); // not attributable to any transaction id…
  const stored = await ledger.block(block.blockNum);
  expect(stored.getMetadata()!.getMetadataList_asU8()[2]).toEqual(Uint8Array.of(TxValidationCode.BAD_PAYLOAD)); // …but recorded invalid
});

test('a newly committed block is served from memory, byte for byte the block that was stored', async () => {
  const a = await envelope('Put', ['m', '1']);
  const { blockNum } = await ledger.commit([a.bytes]);
  const served = await ledger.block(blockNum);
  expect(served).toBe(await ledger.block(blockNum)); // the same kept object, no read
  expect(Buffer.from(served.serializeBinary()).equals(Buffer.from(await ledger.blockBytes(blockNum)))).toBe(true);
});

test('invalid transactions stay in the chain with their codes; reopening replays only the valid ones', async () => {
  const height = ledger.height;
  await ledger.close();
  ledger = await Ledger.open(dir, { channelId: 'ch', msp, orderer, fsync: false });
  expect(ledger.height).toBe(height);
  expect(Buffer.from(ledger.state.get('kv', 'k')!.value).toString()).toBe('v');
  expect(ledger.state.get('kv', 'x')).toBeUndefined();
  expect(await ledger.verify()).toEqual({ ok: true, height });
});

test('a chain opened with another orderer identity is refused as not signed by this network', async () => {
  await ledger.close();
  const impostor = await msp.issue('OrdererMSP', { enrollmentId: 'orderer1', ou: 'orderer' });
  await expect(Ledger.open(dir, { channelId: 'ch', msp, orderer: impostor, fsync: false })).rejects.toMatchObject({ code: 'TAMPERED' });
  ledger = await Ledger.open(dir, { channelId: 'ch', msp, orderer, fsync: false });
});
