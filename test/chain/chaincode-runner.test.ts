import { ChaincodeRunner } from '../../src/chain/devnet/chaincode-runner.js';
import { Msp } from '../../src/chain/devnet/msp.js';
import type { SigningIdentity } from '../../src/chain/devnet/msp.js';
import { decodeRwSets, encodeRwSets } from '../../src/chain/devnet/rwset.js';
import { buildSignedProposal, decodeProposal } from '../../src/chain/devnet/transaction.js';
import { compareKeys, WorldState } from '../../src/chain/devnet/world-state.js';
import { TxValidationCode } from '../../src/chain/devnet/blocks.js';
import { ContractHarness, HarnessTxError } from '../chaincode/harness.js';
import { KvContract } from './fixtures/kv-contract.js';

let h: ContractHarness;
let alice: SigningIdentity;

beforeAll(async () => {
  h = await ContractHarness.create([KvContract], 'kv');
  alice = await h.identity('Hospital1MSP', 'alice', { role: 'physician' });
});

const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

describe('chaincode runner (real fabric-shim stub and ChaincodeFromContract)', () => {
  test('put, get, delete and the caller identity with Fabric CA attributes', async () => {
    expect(await h.submit(alice, 'Put', 'a', '1')).toBe(1);
    expect(await h.evaluate(alice, 'Get', 'a')).toBe(1);
    await h.submit(alice, 'Del', 'a');
    expect(await h.evaluate(alice, 'Get', 'a')).toBeUndefined();
    const who = json(await h.evaluate(alice, 'Whoami')) as Record<string, unknown>;
    expect(who).toMatchObject({ mspId: 'Hospital1MSP', role: 'physician', channel: 'pie', seconds: String(h.time.getTime() / 1000) });
    expect(String(who.id)).toMatch(/^x509::\/.*CN=alice.*::\//);
  });

  test('a failed transaction returns status 500 with the error message and writes nothing', async () => {
    const err = await h.evaluate(alice, 'Fail', '[FORBIDDEN] nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarnessTxError);
    expect(err).toMatchObject({ code: 'FORBIDDEN', message: 'nope', status: 500 });
  });

  test('events: the one event of a transaction is recorded with its payload', async () => {
    const txId = await h.submit(alice, 'Emit', 'Ping', '{"n":1}');
    expect(h.events.at(-1)).toEqual({ name: 'Ping', payload: { n: 1 }, txId });
  });

  test('ranges are in UTF-8 byte order, composite-key pages carry bookmarks', async () => {
    for (const k of ['k\u{E000}', 'k\u{10000}', 'kz', 'k0']) await h.submit(alice, 'Put', k, k);
    expect(json(await h.evaluate(alice, 'Range', 'k', 'l'))).toEqual(['k0', 'kz', 'k\u{E000}', 'k\u{10000}']);
    for (let i = 0; i < 7; i++) await h.submit(alice, 'PutComposite', 'item', JSON.stringify(['p', `i${i}`]), `v${i}`);
    await h.submit(alice, 'PutComposite', 'item', JSON.stringify(['q', 'i0']), 'other');
    const seen: string[] = [];
    let bookmark = '';
    for (;;) {
      const page = json(await h.evaluate(alice, 'Page', 'item', '["p"]', '3', bookmark)) as { values: string[]; bookmark: string; fetched: number };
      expect(page.fetched).toBe(page.values.length);
      seen.push(...page.values);
      if (page.bookmark === '') break;
      bookmark = page.bookmark;
    }
    expect(seen).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    await expect(h.evaluate(alice, 'Page', 'item', '["p"]', '3', 'zzz')).rejects.toThrow(/bookmark does not belong/);
  });

  test('paginated queries are refused in a transaction that writes (as Fabric)', async () => {
    await expect(h.submit(alice, 'PageThenWrite', 'item')).rejects.toThrow(/read-only transactions/);
  });

  test('history is newest first, with deletions and transaction timestamps', async () => {
    await h.submit(alice, 'Put', 'hist', 'one');
    const first = h.lastTxId;
    h.advance(5000);
    await h.submit(alice, 'Put', 'hist', 'two');
    await h.submit(alice, 'Del', 'hist');
    const hist = json(await h.evaluate(alice, 'History', 'hist')) as { txId: string; value: string; isDelete: boolean; seconds: string }[];
    expect(hist.map((e) => [e.value, e.isDelete])).toEqual([['', true], ['two', false], ['one', false]]);
    expect(hist[2]!.txId).toBe(first);
    expect(Number(hist[0]!.seconds) - Number(hist[2]!.seconds)).toBe(5);
  });
});

describe('MVCC and phantom-read validation', () => {
  let msp: Msp;
  let id: SigningIdentity;
  let runner: ChaincodeRunner;
  let state: WorldState;
  let block = 0;

  beforeAll(async () => {
    msp = Msp.inMemory();
    await msp.createOrganisation('Org1MSP');
    id = await msp.issue('Org1MSP', { enrollmentId: 'u' });
    runner = new ChaincodeRunner('kv', [KvContract]);
  });
  beforeEach(() => {
    state = new WorldState();
  });

  const simulate = async (fn: string, ...args: string[]) => {
    const { signedProposal, txId } = buildSignedProposal({ identity: id, channelId: 'ch', chaincodeName: 'kv', fn, args });
    const p = decodeProposal(signedProposal);
    const sim = await runner.simulate(state, { channelId: 'ch', txId, input: p.input, signedProposal });
    expect(sim.status).toBe(200);
    return { sim, txId };
  };
  const commit = (s: Awaited<ReturnType<typeof simulate>>): number => {
    const code = state.validate([s.sim.rwset]);
    if (code === TxValidationCode.VALID) state.apply([s.sim.rwset], { txId: s.txId, blockNum: ++block, txNum: 0, timestamp: { seconds: 0, nanos: 0 } });
    return code;
  };

  test('two read-modify-writes of one key: the second is MVCC_READ_CONFLICT', async () => {
    commit(await simulate('Put', 'n', '0'));
    const a = await simulate('Increment', 'n');
    const b = await simulate('Increment', 'n');
    expect(commit(a)).toBe(TxValidationCode.VALID);
    expect(commit(b)).toBe(TxValidationCode.MVCC_READ_CONFLICT);
    expect(Buffer.from(state.get('kv', 'n')!.value).toString()).toBe('1');
  });

  test('reading a key that did not exist conflicts once it is created', async () => {
    const a = await simulate('Increment', 'fresh');
    commit(await simulate('Put', 'fresh', '5'));
    expect(commit(a)).toBe(TxValidationCode.MVCC_READ_CONFLICT);
  });

  test('a transaction does not see its own writes; blind writes never conflict', async () => {
    const a = await simulate('Put', 'w', '1');
    const b = await simulate('Put', 'w', '2');
    expect(a.sim.rwset.reads).toEqual([]);
    expect([commit(a), commit(b)]).toEqual([0, 0]);
  });

  test('a key inserted into a scanned range is PHANTOM_READ_CONFLICT', async () => {
    commit(await simulate('Put', 'r1', 'x'));
    const count = await simulate('CountRange', 'r', 's', 'count');
    expect(count.sim.rwset.rangeQueries).toEqual([{ startKey: 'r', endKey: 's', itrExhausted: true, reads: [{ key: 'r1', version: { blockNum: block, txNum: 0 } }] }]);
    commit(await simulate('Put', 'r2', 'y'));
    expect(commit(count)).toBe(TxValidationCode.PHANTOM_READ_CONFLICT);
    const again = await simulate('CountRange', 'r', 's', 'count');
    expect(commit(again)).toBe(TxValidationCode.VALID);
  });

  test('large ranges are delivered in batches and recorded completely', async () => {
    for (let i = 0; i < 250; i++) commit(await simulate('Put', `b${String(i).padStart(3, '0')}`, 'v'));
    const count = await simulate('CountRange', 'b', 'c', 'bcount');
    expect(Buffer.from(count.sim.payload).toString()).toBe('250');
    expect(count.sim.rwset.rangeQueries[0]!.reads).toHaveLength(250);
    expect(count.sim.rwset.rangeQueries[0]!.itrExhausted).toBe(true);
  });

  test('read/write sets survive the Fabric wire format', async () => {
    commit(await simulate('Put', 'r1', 'x'));
    const { sim } = await simulate('CountRange', 'r', 's', 'count');
    expect(decodeRwSets(encodeRwSets([sim.rwset]))).toEqual([sim.rwset]);
  });
});

describe('compareKeys', () => {
  test('orders by code point (= UTF-8 bytes), not UTF-16 units', () => {
    const keys = ['\u{10000}', '\u{E000}', 'a', '', '\u0000', '\u{FFFF}', '\u{10FFFF}'];
    const byUtf8 = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareKeys)).toEqual(byUtf8);
  });
});
