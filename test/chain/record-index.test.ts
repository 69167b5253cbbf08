// The node's record index fed from the dev network's full blocks through the unmodified fabric-gateway client
// (LedgerClient.blocks): it agrees with the chaincode's SearchRecords on every index and value, follows new blocks,
// ignores transactions committed invalid, resumes after a broken stream without missing or repeating a block, stays
// out of service while the peer is unreachable, and stops for good on a block it cannot read.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect, signers } from '@hyperledger/fabric-gateway';
import type { Gateway } from '@hyperledger/fabric-gateway';
import { common } from '@hyperledger/fabric-protos';
import { contracts } from '../../chaincode/src/index.js';
import { RECORD_INDEXES, recordIndexEntries, SECURITY_LEVELS } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, RecordIndexName, RecordSummary, SecurityLevel } from '../../chaincode/src/domain/index.js';
import { LedgerClient } from '../../src/chain/client.js';
import { TxValidationCode } from '../../src/chain/devnet/blocks.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import type { SigningIdentity } from '../../src/chain/devnet/msp.js';
import { PieLedger } from '../../src/chain/pie-ledger.js';
import { ReadModelFeed } from '../../src/chain/read-model-feed.js';
import type { BlockSource } from '../../src/chain/read-model-feed.js';
import type { RecordIndex } from '../../src/chain/record-index.js';
import { BlockReadError, recordIdOfKey, recordWrites } from '../../src/chain/state-writes.js';
import { SortedIds } from '../../src/chain/sorted-ids.js';
import { register, signedRecord } from './fixtures/pie-records.js';
import type { Actor } from './fixtures/pie-records.js';

let dir: string;
let net: Devnet;
const clients: LedgerClient[] = [];
const feeds: ReadModelFeed[] = [];
let org1: PieLedger;
let org2: PieLedger;
let patients: Actor[];
let doctor1: Actor;
let doctor2: Actor;

function ledgerFor(id: SigningIdentity, endpoint = net.endpoint): PieLedger {
  const c = LedgerClient.connect({ endpoint, channel: net.channelId, chaincode: net.chaincodeName, identity: id });
  clients.push(c);
  return new PieLedger(c);
}

const sourceOf = (l: PieLedger): BlockSource => ({ height: async () => (await l.chainInfo()).height, blocks: (start) => l.client.blocks(start) });

function feed(source: BlockSource = sourceOf(org1)): ReadModelFeed {
  const f = new ReadModelFeed({ source, namespace: net.chaincodeName, retryMs: { min: 20, max: 200 } });
  feeds.push(f);
  return f.start();
}

// ---- a varied data set: 3 patients, 2 authors in 2 organisations, every level, several codes, years, genders, bands

const CODES = ['http://loinc.org|4548-4', 'http://loinc.org|2339-0', 'http://snomed.info/sct|44054006', 'http://snomed.info/sct|38341003'];
const CATEGORY: Record<SecurityLevel, RecordSummary['category']> = { LOW: 'clinical-trial-observation', MODERATE: 'lifelog-sensor', PRIVATE: 'medical-information' };
let seq = 0;
function summary(level?: SecurityLevel): RecordSummary {
  const n = seq++;
  const securityLevel = level ?? SECURITY_LEVELS[n % 3]!;
  return {
    category: CATEGORY[securityLevel],
    securityLevel,
    codes: [CODES[n % 4]!, ...(n % 3 === 0 ? [CODES[(n + 1) % 4]!] : [])],
    year: 2019 + (n % 5),
    resourceTypes: ['Observation'],
    labels: [],
    ...(n % 4 === 3 ? {} : { gender: n % 2 === 0 ? 'female' : 'male' }),
    ...(n % 5 === 4 ? {} : { ageBand: n % 3 === 0 ? '40-44' : '65-69' }),
  } as RecordSummary;
}

/** `count` records in batches of up to 7 (one transaction each), alternating the authors. */
async function createRecords(count: number): Promise<bigint> {
  let last = 0n;
  for (let made = 0; made < count; ) {
    const batch = Math.min(7, count - made);
    const author = (made / 7) % 2 < 1 ? doctor1 : doctor2;
    const via = author === doctor1 ? org1 : org2;
    const records = Array.from({ length: batch }, (_, i) => signedRecord(patients[(made + i) % 3]!, author, summary()));
    last = batch === 1 ? (await via.createRecord(records[0]!)).blockNumber : (await via.createRecords(records)).blockNumber;
    made += batch;
  }
  return last;
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-record-index-'));
  net = await Devnet.start({ dataDir: dir, contracts, organisations: ['Hospital1MSP', 'Hospital2MSP'], fsync: false });
  org1 = ledgerFor(net.admin('Hospital1MSP'));
  org2 = ledgerFor(net.admin('Hospital2MSP'));
  patients = [await register(org1, 'patient', 'PRIVATE'), await register(org1, 'patient', 'PRIVATE'), await register(org2, 'patient', 'PRIVATE')];
  doctor1 = await register(org1, 'physician', 'PRIVATE');
  doctor2 = await register(org2, 'physician', 'PRIVATE');
  await createRecords(64);
}, 120_000);

afterAll(async () => {
  feeds.forEach((f) => f.close());
  clients.forEach((c) => c.close());
  await net?.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

// ---- comparing the index with the chaincode

const INDEX_OF_TYPE = new Map(Object.entries(RECORD_INDEXES).map(([name, def]) => [def.objectType, name as RecordIndexName]));

async function chaincodeIds(index: RecordIndexName, values: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  let bookmark = '';
  do {
    const page = await org1.searchRecords(index, values, { pageSize: 37, bookmark });
    ids.push(...page.items.map((r) => r.id));
    bookmark = page.items.length === 0 ? '' : page.bookmark;
  } while (bookmark !== '');
  return ids;
}

function indexIds(index: RecordIndex, name: RecordIndexName, values: readonly string[]): string[] {
  const list = index.list(name, values);
  const ids: string[] = [];
  for (let i = list?.positionAfter(undefined) ?? 0; list?.at(i) !== undefined; i++) ids.push(list.at(i)!);
  return ids;
}

/** Every index and value the chaincode's records use, and the records themselves, match the index exactly. */
async function expectAgreement(index: RecordIndex): Promise<number> {
  const all = await chaincodeIds('securityLevel', []);
  expect(index.size).toBe(all.length);
  // the level index without values: every record by (level, id)
  expect([...SECURITY_LEVELS].sort().flatMap((level) => indexIds(index, 'securityLevel', [level]))).toEqual(all);
  const records = (await org1.records(all)) as EmrRecord[];
  for (const r of records) expect(index.get(r.id)).toEqual(r);
  const queries = new Map<string, [RecordIndexName, string[]]>();
  for (const r of records) {
    for (const e of recordIndexEntries(r)) {
      const values = e.attributes.slice(0, -1);
      queries.set(`${e.objectType}\0${values.join('\0')}`, [INDEX_OF_TYPE.get(e.objectType)!, values]);
    }
  }
  for (const [name, values] of queries.values()) expect({ name, values, ids: indexIds(index, name, values) }).toEqual({ name, values, ids: await chaincodeIds(name, values) });
  return queries.size;
}

// ---------------------------------------------------------------------------------------------------------------

describe('pieces', () => {
  test('recordIdOfKey: only primary keys of records', () => {
    expect(recordIdOfKey('\u0000pie.emr\u0000emr-1\u0000')).toBe('emr-1');
    expect(recordIdOfKey('\u0000pie.emr~patient\u0000abc\u0000emr-1\u0000')).toBeUndefined();
    expect(recordIdOfKey('\u0000pie.emr.head\u0000emr-1\u0000')).toBeUndefined();
    expect(recordIdOfKey('\u0000pie.emr\u0000\u0000')).toBeUndefined();
    expect(recordIdOfKey('\u0000pie.emr\u0000a\u0000b\u0000')).toBeUndefined();
    expect(recordIdOfKey('pie.emr')).toBeUndefined();
  });

  test('SortedIds: a set in order, bulk and single additions, deletions, positions after an id', () => {
    const s = new SortedIds();
    const ids = Array.from({ length: 40 }, (_, i) => `id-${((i * 7919) % 97).toString().padStart(2, '0')}`);
    ids.forEach((id) => s.add(id));
    const sorted = [...ids].sort();
    const list = (): string[] => Array.from({ length: s.size }, (_, i) => s.at(i)!);
    expect(list()).toEqual(sorted);
    s.add('id-50a'); // a few additions between reads are inserted
    s.add('id-00a');
    expect(list()).toEqual([...sorted, 'id-50a', 'id-00a'].sort());
    expect(s.delete('id-00a')).toBe(true);
    expect(s.delete('id-00a')).toBe(false);
    expect(s.positionAfter(undefined)).toBe(0);
    expect(s.at(s.positionAfter(sorted[3]!))).toBe(sorted[4]);
    expect(s.at(s.positionAfter('id-50'))).toBe('id-50a'); // an id not in the list: the first one after it
    expect(s.at(s.positionAfter('zzz'))).toBeUndefined();
  });

  test('recordWrites: only VALID endorser transactions of the namespace; a block that is not well-formed is refused', async () => {
    const committed = await org1.createRecord(signedRecord(patients[0]!, doctor1, summary('LOW')));
    const block = await org1.client.block(committed.blockNumber);
    expect(recordWrites(block, net.chaincodeName)).toEqual([{ id: committed.result.id, record: committed.result, txId: committed.transactionId }]);
    expect(recordWrites(block, 'another-chaincode')).toEqual([]);
    expect(recordWrites(await org1.client.block(0), net.chaincodeName)).toEqual([]); // the genesis configuration block

    const withCodes = (codes: number[]): common.Block => {
      const copy = common.Block.deserializeBinary(block.serializeBinary());
      const metadata = copy.getMetadata()!.getMetadataList_asU8();
      metadata[common.BlockMetadataIndex.TRANSACTIONS_FILTER] = Uint8Array.from(codes);
      copy.getMetadata()!.setMetadataList(metadata);
      return copy;
    };
    const n = block.getData()!.getDataList().length;
    expect(recordWrites(withCodes(Array(n).fill(TxValidationCode.MVCC_READ_CONFLICT)), net.chaincodeName)).toEqual([]);
    expect(() => recordWrites(withCodes([]), net.chaincodeName)).toThrow(BlockReadError);
  });
});

describe('ReadModelFeed over the dev network', () => {
  test('replays the chain from block 0 and then agrees with the chaincode on every index and value', async () => {
    const f = feed();
    expect(f.live).toBe(false);
    expect(await f.whenLive(30_000)).toBe(true);
    expect(f.index.height).toBeGreaterThanOrEqual(BigInt(net.ledger.height) - 1n);
    expect(await expectAgreement(f.index)).toBeGreaterThan(30); // distinct (index, value) pairs compared
  });

  test('follows new blocks: caughtUp(height) waits for the block of a commit, is false past a bound', async () => {
    const f = feed();
    expect(await f.whenLive(30_000)).toBe(true);
    const before = f.index.size;
    const last = await createRecords(20);
    expect(await f.caughtUp(last + 1n, 10_000)).toBe(true);
    expect(f.index.size).toBe(before + 20);
    await expectAgreement(f.index);
    // a block that will not come in time
    expect(await f.caughtUp(f.index.height + 1_000n, 30)).toBe(false);
  });

  test('a transaction committed invalid (MVCC conflict) is ignored, its records too', async () => {
    const f = feed();
    expect(await f.whenLive(30_000)).toBe(true);
    // Two proposals endorsed against the same state: both create record X, the second one with other content and a
    // second record Y. Whichever is ordered second is committed invalid, and the index must show the first's X only.
    const admin = net.admin('Hospital1MSP');
    const client = new grpc.Client(net.endpoint, grpc.credentials.createInsecure());
    const gateway: Gateway = connect({ client, identity: { mspId: admin.mspId, credentials: Buffer.from(admin.certificatePem) }, signer: signers.newPrivateKeySigner(admin.privateKey) });
    try {
      const contract = gateway.getNetwork(net.channelId).getContract(net.chaincodeName);
      const x = signedRecord(patients[0]!, doctor1, summary('LOW'), `emr-x-${seq}`);
      const xOther = signedRecord(patients[1]!, doctor1, summary('PRIVATE'), x.id);
      const y = signedRecord(patients[1]!, doctor1, summary('MODERATE'));
      const first = await contract.newProposal('CreateRecord', { arguments: [JSON.stringify(x)] }).endorse();
      const second = await contract.newProposal('CreateRecords', { arguments: [JSON.stringify([xOther, y])] }).endorse();
      const statuses = await Promise.all([(await first.submit()).getStatus(), (await second.submit()).getStatus()]);
      expect(statuses.map((s) => s.code)).toEqual([TxValidationCode.VALID, TxValidationCode.MVCC_READ_CONFLICT]);
      // the invalid transaction is in the chain, and the index has applied its block
      expect(await f.caughtUp(statuses[1]!.blockNumber + 1n, 10_000)).toBe(true);
      expect(f.index.get(x.id)).toEqual(await org1.record(x.id));
      expect(f.index.get(x.id)?.patientId).toBe(patients[0]!.participant.id);
      expect(f.index.get(y.id)).toBeUndefined();
      expect(indexIds(f.index, 'patient', [patients[1]!.participant.id])).not.toContain(x.id);
      await expectAgreement(f.index);
    } finally {
      gateway.close();
      client.close();
    }
  });

  test('a broken stream: out of service until it resumes at the last applied block; nothing missed, nothing applied twice', async () => {
    const opens: bigint[] = [];
    let breakNext = false;
    const real = sourceOf(org1);
    const source: BlockSource = {
      height: real.height,
      blocks: async (start) => {
        opens.push(start);
        const blocks = await real.blocks(start);
        return {
          close: () => blocks.close(),
          async *[Symbol.asyncIterator](): AsyncGenerator<common.Block> {
            for await (const b of blocks) {
              if (breakNext) {
                breakNext = false;
                throw new Error('stream broke');
              }
              yield b;
            }
          },
        };
      },
    };
    const f = feed(source);
    expect(await f.whenLive(30_000)).toBe(true);
    const height = f.index.height;
    breakNext = true;
    await createRecords(3); // its block breaks the stream before it is applied
    // the feed goes out of service, then resumes from its last block (delivered again, skipped) and catches up
    for (let i = 0; i < 500 && (opens.length < 2 || !f.live); i++) await new Promise((r) => setTimeout(r, 10));
    expect(opens).toEqual([0n, height - 1n]);
    expect(await f.whenLive(10_000)).toBe(true);
    const last = await createRecords(5);
    expect(await f.caughtUp(last + 1n, 10_000)).toBe(true);
    await expectAgreement(f.index);
  });

  test('an unreachable peer: never live, so searches never wait for it; close ends it', async () => {
    const dead = ledgerFor(net.admin('Hospital1MSP'), '127.0.0.1:1');
    const f = feed(sourceOf(dead));
    await new Promise((r) => setTimeout(r, 300));
    expect(f.state).toBe('catching-up');
    expect(await f.caughtUp(0n, 5_000)).toBe(false);
    expect(await f.whenLive(100)).toBe(false);
    f.close();
    expect(f.state).toBe('closed');
  });

  test('a block it cannot read stops it for good (failed), never a silently incomplete index', async () => {
    const real = sourceOf(org1);
    const source: BlockSource = {
      height: real.height,
      blocks: async (start) => {
        const blocks = await real.blocks(start);
        return {
          close: () => blocks.close(),
          async *[Symbol.asyncIterator](): AsyncGenerator<common.Block> {
            for await (const b of blocks) {
              const n = b.getHeader()!.getNumber();
              if (n === 3) b.getMetadata()!.setMetadataList([]); // no TRANSACTIONS_FILTER
              yield b;
            }
          },
        };
      },
    };
    const f = feed(source);
    for (let i = 0; i < 500 && f.state !== 'failed'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(f.state).toBe('failed');
    expect(f.index.height).toBe(3n);
    expect(await f.caughtUp(0n, 100)).toBe(false);
  });
});
