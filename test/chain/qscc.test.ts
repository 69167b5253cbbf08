// Fabric's query system chaincode (qscc) on the dev network, through src/chain/client.ts as a real Fabric client
// uses it: chain info, blocks by number and by transaction id, processed transactions (valid and invalid ones), and
// the refusals with their codes (unknown transaction, block past the height, malformed arguments, wrong channel,
// Endorse of qscc).
import { common } from '@hyperledger/fabric-protos';
import { LedgerClientError } from '../../src/chain/client.js';
import { blockEnvelopes, blockHeaderHash, TxValidationCode } from '../../src/chain/devnet/blocks.js';
import { useKvNetwork } from './fixtures/kv-network.js';

const kv = useKvNetwork('pie-qscc-', { batch: { batchTimeoutMs: 20 } });
const open = kv.open.bind(kv);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const txIdOf = (envelopeBytes: Uint8Array): string => {
  const payload = common.Payload.deserializeBinary(common.Envelope.deserializeBinary(envelopeBytes).getPayload_asU8());
  return common.ChannelHeader.deserializeBinary(payload.getHeader()!.getChannelHeader_asU8()).getTxId();
};

async function refusal(p: Promise<unknown>, code: string, message?: RegExp): Promise<LedgerClientError> {
  const e = await p.then(
    (v) => new Error(`expected a ${code} refusal, got ${String(v)}`),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LedgerClientError);
  expect((e as LedgerClientError).code).toBe(code);
  if (message) expect((e as LedgerClientError).message).toMatch(message);
  return e as LedgerClientError;
}

describe('chain info and blocks', () => {
  it('GetChainInfo: the height, the newest block’s header hash and its previous hash', async () => {
    const c = open();
    await c.submit('Put', 'a', '1');
    const info = await c.chainInfo();
    expect(info.height).toBe(BigInt(kv.net.ledger.height));
    expect(hex(info.currentBlockHash)).toBe(hex(kv.net.ledger.tipHash));
    const newest = await kv.net.ledger.block(kv.net.ledger.height - 1);
    expect(hex(info.previousBlockHash)).toBe(hex(newest.getHeader()!.getPreviousHash_asU8()));
    // it follows the chain
    const { blockNumber } = await c.submit('Put', 'b', '2');
    const after = await c.chainInfo();
    expect(after.height).toBe(blockNumber + 1n);
    expect(hex(after.previousBlockHash)).toBe(hex(info.currentBlockHash));
  });

  it('GetBlockByNumber: every block, linked by header hashes; 2^64-1 is the newest', async () => {
    const c = open();
    const { height } = await c.chainInfo();
    let previous: Uint8Array = new Uint8Array(0);
    for (let n = 0n; n < height; n++) {
      const block = await c.block(n);
      expect(BigInt(block.getHeader()!.getNumber())).toBe(n);
      expect(hex(block.getHeader()!.getPreviousHash_asU8())).toBe(hex(previous));
      previous = blockHeaderHash(block.getHeader()!);
    }
    expect(hex((await c.block((1n << 64n) - 1n)).getHeader()!.getDataHash_asU8())).toBe(hex((await c.block(height - 1n)).getHeader()!.getDataHash_asU8()));
  });

  it('a block at or past the height is NOT_FOUND; a negative or non-integer number is INVALID_ARGUMENT before any call', async () => {
    const c = open();
    const { height } = await c.chainInfo();
    await refusal(c.block(height), 'NOT_FOUND', new RegExp(`no such block number \\[${height}\\] in index`));
    await refusal(c.block(height + 1000n), 'NOT_FOUND');
    await refusal(c.block(-1), 'INVALID_ARGUMENT', /must be an integer/);
    await refusal(c.block(1.5), 'INVALID_ARGUMENT');
    await refusal(c.block(1n << 64n), 'INVALID_ARGUMENT');
  });
});

describe('transactions', () => {
  it('GetBlockByTxID and GetTransactionByID find a committed transaction; its block number is the commit’s', async () => {
    const c = open();
    const { transactionId, blockNumber } = await c.submit('Put', 'k', 'v');
    expect(await c.transactionBlockNumber(transactionId)).toBe(blockNumber);
    const block = await c.blockOfTransaction(transactionId);
    expect(BigInt(block.getHeader()!.getNumber())).toBe(blockNumber);
    expect(blockEnvelopes(block).map(txIdOf)).toContain(transactionId);
    const tx = await c.transaction(transactionId);
    expect(tx.validationCode).toBe(TxValidationCode.VALID);
    expect(txIdOf(tx.envelope.serializeBinary())).toBe(transactionId);
  });

  it('an invalid transaction is indexed too, with its validation code (MVCC_READ_CONFLICT)', async () => {
    const c = open({ conflictRetries: 0 });
    await c.submit('Put', 'counter', '0');
    const settled = await Promise.allSettled(Array.from({ length: 6 }, () => c.submit('Increment', 'counter')));
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as LedgerClientError);
    expect(failed.length).toBeGreaterThan(0);
    const txId = failed[0]!.details.transactionId!;
    expect((await c.transaction(txId)).validationCode).toBe(TxValidationCode.MVCC_READ_CONFLICT);
    const n = await c.transactionBlockNumber(txId);
    expect(n).toBeGreaterThan(0n);
    expect(n).toBeLessThan(BigInt(kv.net.ledger.height));
  });

  it('an unknown transaction id is NOT_FOUND (Fabric’s message); an empty one INVALID_ARGUMENT', async () => {
    const c = open();
    const unknown = 'f'.repeat(64);
    await refusal(c.transactionBlockNumber(unknown), 'NOT_FOUND', new RegExp(`no such transaction ID \\[${unknown}\\] in index`));
    await refusal(c.blockOfTransaction(unknown), 'NOT_FOUND');
    await refusal(c.transaction(unknown), 'NOT_FOUND', /Failed to get transaction with id f+, error no such transaction ID/);
    await refusal(c.transaction(''), 'INVALID_ARGUMENT');
    await refusal(c.transactionBlockNumber(''), 'INVALID_ARGUMENT');
  });
});

describe('qscc’s own argument checks, as a raw Evaluate of chaincode "qscc"', () => {
  it('a wrong channel id, a malformed block number, a missing argument and an unknown function are refused with Fabric’s messages', async () => {
    const raw = open({ chaincode: 'qscc' });
    await refusal(raw.evaluate('GetChainInfo', 'elsewhere'), 'INTERNAL', /^Invalid chain ID, elsewhere$/);
    await refusal(raw.evaluate('GetBlockByNumber', 'pie', 'abc'), 'INTERNAL', /Failed to parse block number with error strconv.ParseUint: parsing "abc": invalid syntax/);
    await refusal(raw.evaluate('GetBlockByNumber', 'pie', '-1'), 'INTERNAL', /invalid syntax/);
    await refusal(raw.evaluate('GetBlockByNumber', 'pie', '18446744073709551616'), 'INTERNAL', /value out of range/);
    await refusal(raw.evaluate('GetBlockByTxID', 'pie'), 'INTERNAL', /missing 3rd argument for GetBlockByTxID/);
    await refusal(raw.evaluate('GetChainInfo'), 'INTERNAL', /Incorrect number of arguments, 1/);
    await refusal(raw.evaluate('GetBlockByHash', 'pie', 'x'), 'INTERNAL', /not supported by the dev network/);
    await refusal(raw.evaluate('Nope', 'pie', 'x'), 'INTERNAL', /Requested function Nope not found/);
  });

  it('a client on another channel is refused by the gateway before qscc runs', async () => {
    await refusal(open({ channel: 'elsewhere' }).chainInfo(), 'INVALID_ARGUMENT', /channel "elsewhere" not found/);
  });

  it('Endorse (submit) of qscc is refused: it answers queries only', async () => {
    const height = kv.net.ledger.height;
    await refusal(open({ chaincode: 'qscc' }).submit('GetChainInfo', 'pie'), 'INVALID_ARGUMENT', /answers queries only: use Evaluate/);
    expect(kv.net.ledger.height).toBe(height);
  });

  it('an identity the network does not know is refused (PERMISSION_DENIED)', async () => {
    const other = await kv.net.issue('Hospital1MSP', 'mallory');
    await refusal(open({ identity: { ...kv.net.admin(), privateKeyPem: other.privateKeyPem } }).chainInfo(), 'PERMISSION_DENIED');
  });
});
