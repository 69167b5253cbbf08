// `emrs` from the node's record index (the read model fed from the dev network's blocks) against the chaincode path,
// on the Synthea samples of three patients by two physicians: the same records in the same order for every filter
// kind and caller, cursors that either path continues, paging while records arrive, read-your-writes after an
// upload, the chaincode path whenever the index cannot answer (stream unavailable, closed, switched off), and the
// index rebuilt from the chain after a restart.
import type { EmrRecord } from '../../chaincode/src/domain/index.js';
import { LedgerClient } from '../../src/chain/client.js';
import { ReadModelFeed } from '../../src/chain/read-model-feed.js';
import type { PieClient } from '../../src/client/index.js';
import { createLogger } from '../../src/node/log.js';
import { startNode } from '../../src/node/node.js';
import type { PieNode } from '../../src/node/node.js';
import type { NodeConfig } from '../../src/node/config.js';
import { createLoaders } from '../../src/resolvers/index.js';
import type { Caller, NodeServices, RecordReadModel, RequestContext } from '../../src/resolvers/index.js';
import { searchRecords } from '../../src/resolvers/search.js';
import type { EmrFilter } from '../../src/schema/inputs.js';
import { PATIENT_FILES, readSample, sampleDirectory } from '../fhir/samples.js';
import { refused, registerCustodial, registerWithKeys, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';
import { smallBundle } from './small-bundle.js';

let t: TestNode;
let doctors: { id: string; client: PieClient }[];
let patients: KeyHolder[];
let readers: KeyHolder[];
let all: EmrRecord[];

const INGEST = 'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id } blockNumber } }';
const EMRS = 'query($f: EmrFilter, $n: Int, $a: String) { emrs(filter: $f, first: $n, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }';

interface Connection {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Which path made a cursor: the chaincode path's carry a ledger bookmark (`b`), the index's only the sort key. */
const cursorPath = (cursor: string): 'index' | 'chaincode' => ('b' in (JSON.parse(Buffer.from(cursor, 'base64url').toString()) as object) ? 'chaincode' : 'index');

async function live(services: NodeServices, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await services.recordIndex!.readyFor(0n))) {
    if (Date.now() > deadline) throw new Error('the record index did not catch up');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  // a generous read-your-writes bound: the tests below assert that the index (not the fallback) answered
  t = await startTestNode({ PIE_SEARCH_READ_MODEL_WAIT_MS: '30000' });
  // the second author's clearance is below some of its own records: it sees those as their author only
  doctors = [await registerCustodial(t, 'PHYSICIAN'), await registerCustodial(t, 'PHYSICIAN', { clearance: 'LOW' })];
  patients = [await registerWithKeys(t, 'PATIENT'), await registerWithKeys(t, 'PATIENT'), await registerWithKeys(t, 'PATIENT')];
  readers = [
    await registerWithKeys(t, 'RESEARCHER', { clearance: 'LOW' }),
    await registerWithKeys(t, 'INSURER', { clearance: 'LOW' }),
    await registerWithKeys(t, 'PHYSICIAN', { clearance: 'MODERATE' }),
    await registerWithKeys(t, 'PHYSICIAN', { clearance: 'PRIVATE' }),
  ];
  for (const [i, file] of PATIENT_FILES.slice(0, 3).entries()) {
    await doctors[i % 2]!.client.request(INGEST, { b: readSample(file), p: patients[i]!.id });
  }
  // a few more by the other doctor, so that patients have two authors
  await doctors[1]!.client.request(INGEST, { b: smallBundle(), p: patients[0]!.id });
  await live(t.node.services);
  all = (await t.node.services.ledger.searchRecords('securityLevel', [], { pageSize: 500 })).items;
}, 300_000);
afterAll(async () => {
  await t?.stop();
});

// ---- searching in-process, through the resolver, on either path

const withoutIndex = (s: NodeServices): NodeServices => ({ ...s, recordIndex: undefined });

async function callerOf(id: string): Promise<Caller> {
  return { participant: await t.node.services.ledger.participant(id), custodial: false };
}

const ctx = (services: NodeServices, caller: Caller): RequestContext => ({ services, caller, loaders: createLoaders(services.ledger) });

/** Every page of a search: the ids in order, and the pages' sizes, hasNextPage and the path that answered. */
async function pages(services: NodeServices, caller: Caller, filter: EmrFilter, first: number, after?: string) {
  const ids: string[] = [];
  const shape: { n: number; next: boolean }[] = [];
  const paths = new Set<string>();
  let cursor = after;
  for (let i = 0; i < 1000; i++) {
    const page = await searchRecords(ctx(services, caller), filter, first, cursor);
    ids.push(...page.edges.map((e) => e.node.id));
    shape.push({ n: page.edges.length, next: page.pageInfo.hasNextPage });
    page.edges.forEach((e) => paths.add(cursorPath(e.cursor)));
    if (page.edges.length > 0) expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
    if (!page.pageInfo.hasNextPage) return { ids, shape, paths };
    cursor = page.pageInfo.endCursor!;
  }
  throw new Error('paging did not end');
}

/** Filters of every kind, with values the data set has (each singling out some, not all, records), and combinations. */
function filters(): EmrFilter[] {
  const common = <T>(values: T[]): T => {
    const counts = new Map<T, number>();
    values.forEach((v) => counts.set(v, (counts.get(v) ?? 0) + 1));
    return [...counts].filter(([, n]) => n < all.length).sort((a, b) => b[1] - a[1])[0]![0];
  };
  const s = all.map((r) => r.summary);
  const category = common(s.map((x) => x.category));
  const year = common(s.map((x) => x.year));
  const code = common(s.flatMap((x) => x.codes));
  const rareCode = s.flatMap((x) => x.codes).find((c) => s.filter((x) => x.codes.includes(c)).length === 1)!;
  const level = common(s.map((x) => x.securityLevel));
  const gender = common(s.flatMap((x) => (x.gender ? [x.gender] : [])));
  const ageBand = common(s.flatMap((x) => (x.ageBand ? [x.ageBand] : [])));
  return [
    {},
    ...patients.map((p) => ({ patientId: p.id })),
    ...doctors.map((d) => ({ authorId: d.id })),
    { hospital: t.node.config.organisation },
    { hospital: 'Hospital9MSP' },
    { category },
    { securityLevel: 'LOW' },
    { securityLevel: 'MODERATE' },
    { securityLevel: 'PRIVATE' },
    { code },
    { code: rareCode },
    { code: 'http://example.org|none' },
    { gender },
    { ageBand },
    { year },
    { category, year },
    { securityLevel: level, code },
    { authorId: doctors[1]!.id, patientId: patients[0]!.id },
    { patientId: patients[1]!.id, year, gender },
  ] as EmrFilter[];
}

describe('the index answers exactly as the chaincode does', () => {
  test('the data set: several patients, authors, levels, codes and years, more records than a page', () => {
    expect(all.length).toBeGreaterThan(150);
    expect(new Set(all.map((r) => r.summary.securityLevel)).size).toBeGreaterThan(1);
    expect(new Set(all.map((r) => r.authorId)).size).toBe(2);
    expect(new Set(all.map((r) => r.summary.year)).size).toBeGreaterThan(3);
    expect(t.node.services.recordIndex!.index.size).toBe(all.length);
  });

  test('every filter kind, for readers of each clearance, physicians and patients: same records, same order', async () => {
    const index = t.node.services;
    const chaincode = withoutIndex(index);
    const callers = await Promise.all([...readers, ...doctors, ...patients].map((p) => callerOf(p.id)));
    let compared = 0;
    for (const caller of callers) {
      for (const filter of filters()) {
        const patient = caller.participant.kind === 'patient';
        if (patient && filter.patientId != null && filter.patientId !== caller.participant.id) continue;
        const fromChaincode = await pages(chaincode, caller, filter, 100);
        const fromIndex = await pages(index, caller, filter, 13);
        expect({ filter, who: caller.participant.kind, ids: fromIndex.ids }).toEqual({ filter, who: caller.participant.kind, ids: fromChaincode.ids });
        if (fromIndex.ids.length > 0) expect([...fromIndex.paths]).toEqual(['index']);
        if (fromChaincode.ids.length > 0) expect([...fromChaincode.paths]).toEqual(['chaincode']);
        // full pages until the last, and hasNextPage only before it
        expect(fromIndex.shape.slice(0, -1).every((p) => p.n === 13 && p.next)).toBe(true);
        expect(fromIndex.shape.at(-1)).toEqual({ n: fromIndex.ids.length - 13 * (fromIndex.shape.length - 1), next: false });
        compared += fromIndex.ids.length;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  }, 300_000);

  test('page by page with the same page size, the two paths give the same pages', async () => {
    const caller = await callerOf(readers[3]!.id);
    for (const filter of [{}, { patientId: patients[2]!.id }] as EmrFilter[]) {
      const a = await pages(t.node.services, caller, filter, 7);
      const b = await pages(withoutIndex(t.node.services), caller, filter, 7);
      expect(a.ids).toEqual(b.ids);
      expect(a.shape).toEqual(b.shape);
    }
  });

  test('each path continues the other’s cursors', async () => {
    const caller = await callerOf(readers[2]!.id);
    const chaincode = withoutIndex(t.node.services);
    for (const filter of [{}, { authorId: doctors[0]!.id }] as EmrFilter[]) {
      const expected = (await pages(chaincode, caller, filter, 100)).ids;
      const fromChaincode = await searchRecords(ctx(chaincode, caller), filter, 9, undefined);
      const onIndex = await pages(t.node.services, caller, filter, 20, fromChaincode.pageInfo.endCursor!);
      expect([...fromChaincode.edges.map((e) => e.node.id), ...onIndex.ids]).toEqual(expected);
      const fromIndex = await searchRecords(ctx(t.node.services, caller), filter, 11, undefined);
      const onChaincode = await pages(chaincode, caller, filter, 20, fromIndex.pageInfo.endCursor!);
      expect([...fromIndex.edges.map((e) => e.node.id), ...onChaincode.ids]).toEqual(expected);
      expect(onChaincode.paths).toEqual(new Set(['chaincode']));
    }
  });

  test('paging over HTTP while records arrive: nothing twice, nothing that existed missed, the order kept', async () => {
    const reader = readers[3]!;
    const page = async (after: string | null): Promise<Connection> => (await reader.client.request<{ emrs: Connection }>(EMRS, { f: {}, n: 25, a: after })).emrs;
    const before = new Set(all.map((r) => r.id));
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; ; i++) {
      const c: Connection = await page(after);
      seen.push(...c.edges.map((e) => e.node.id));
      c.edges.forEach((e) => expect(cursorPath(e.cursor)).toBe('index'));
      if (i < 4) await doctors[0]!.client.request(INGEST, { b: smallBundle(), p: patients[i % 3]!.id });
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
    // the answer is in the chaincode's order: a subsequence of what the chaincode lists now
    const now = (await pages(withoutIndex(t.node.services), await callerOf(reader.id), {}, 100)).ids;
    expect(now.filter((id) => seen.includes(id))).toEqual(seen);
    expect(now.length).toBeGreaterThan(all.length);
  }, 120_000);

  test('read-your-writes: right after an upload returns, a search on this node lists its records, from the index', async () => {
    for (let i = 0; i < 3; i++) {
      const patient = await registerWithKeys(t, 'PATIENT');
      const r = await doctors[i % 2]!.client.request<{ ingestFhir: { records: { id: string }[]; blockNumber: number } }>(INGEST, { b: smallBundle(), p: patient.id });
      const { emrs } = await patient.client.request<{ emrs: Connection }>(EMRS, { f: {}, n: 100, a: null });
      expect(emrs.edges.map((e) => e.node.id).sort()).toEqual(r.ingestFhir.records.map((x) => x.id).sort());
      emrs.edges.forEach((e) => expect(cursorPath(e.cursor)).toBe('index'));
      expect(t.node.services.recordIndex!.index.height).toBeGreaterThan(r.ingestFhir.blockNumber);
    }
  });

  test('cursors are checked: garbage, forged and a cursor of another kind of search are BAD_USER_INPUT', async () => {
    const reader = readers[1]!.client;
    const ask = (f: EmrFilter, a: string) => reader.request(EMRS, { f, n: 5, a });
    const encode = (c: unknown): string => Buffer.from(JSON.stringify(c)).toString('base64url');
    await refused(ask({}, 'garbage!'), 'BAD_USER_INPUT', /after: not a cursor/);
    await refused(ask({}, encode({ k: ['LOW', 'bad id!'] })), 'BAD_USER_INPUT', /after: not a cursor/);
    await refused(ask({}, encode({ k: ['SECRET', 'emr-1'] })), 'BAD_USER_INPUT', /after: not a cursor/);
    await refused(ask({}, encode({ k: ['emr-1'], x: 1 })), 'BAD_USER_INPUT', /after: not a cursor/);
    await refused(ask({}, encode({ o: 3 })), 'BAD_USER_INPUT', /after: not a cursor/);
    await refused(ask({}, encode(['emr-1'])), 'BAD_USER_INPUT', /after: not a cursor/);
    const unfiltered = (await reader.request<{ emrs: Connection }>(EMRS, { f: {}, n: 2, a: null })).emrs.pageInfo.endCursor!;
    await refused(ask({ year: 2020 } as EmrFilter, unfiltered), 'BAD_USER_INPUT', /after: this cursor is from a search without a filter/);
    // a cursor from before sort keys (bookmark and offset only) still works, on the chaincode
    const old = await reader.request<{ emrs: Connection }>(EMRS, { f: {}, n: 3, a: encode({ b: '', o: 2 }) });
    expect(old.emrs.edges.map((e) => e.node.id)).toEqual((await pages(withoutIndex(t.node.services), await callerOf(readers[1]!.id), {}, 5)).ids.slice(2, 5));
  });
});

describe('when the index cannot answer, the chaincode does', () => {
  async function expectChaincodeAnswers(model: RecordReadModel): Promise<void> {
    const services: NodeServices = { ...t.node.services, recordIndex: model };
    for (const who of [readers[0]!, patients[1]!]) {
      const caller = await callerOf(who.id);
      const got = await pages(services, caller, {}, 40);
      expect(got.ids).toEqual((await pages(withoutIndex(t.node.services), caller, {}, 40)).ids);
      expect(got.paths).toEqual(new Set(['chaincode']));
    }
  }

  test('the block stream is unavailable (unreachable peer): never caught up, every search on the chaincode', async () => {
    const devnet = t.node.devnet!;
    const dead = LedgerClient.connect({ endpoint: '127.0.0.1:1', channel: devnet.channelId, chaincode: devnet.chaincodeName, identity: devnet.admin() });
    const feed = new ReadModelFeed({ source: { height: async () => (await dead.chainInfo()).height, blocks: (s) => dead.blocks(s) }, namespace: devnet.chaincodeName, retryMs: { min: 20, max: 100 } }).start();
    try {
      await expectChaincodeAnswers({ index: feed.index, readyFor: (h) => feed.caughtUp(h, 1_000) });
      expect(feed.state).toBe('catching-up');
    } finally {
      feed.close();
      dead.close();
    }
  });

  test('the stream stops (feed closed after catching up): the chaincode answers from then on', async () => {
    const client = t.node.services.ledger.client;
    const feed = new ReadModelFeed({ source: { height: async () => (await client.chainInfo()).height, blocks: (s) => client.blocks(s) }, namespace: client.config.chaincode }).start();
    expect(await feed.whenLive(30_000)).toBe(true);
    const model: RecordReadModel = { index: feed.index, readyFor: (h) => feed.caughtUp(h, 1_000) };
    const caller = await callerOf(readers[0]!.id);
    expect((await pages({ ...t.node.services, recordIndex: model }, caller, {}, 40)).paths).toEqual(new Set(['index']));
    feed.close();
    await expectChaincodeAnswers(model);
  });
});

describe('restart', () => {
  let again: PieNode | undefined;
  afterEach(async () => {
    await again?.stop();
    again = undefined;
  });

  test('switched off: no index, every search on the chaincode; switched on again: rebuilt from the chain, same answers', async () => {
    const caller = await callerOf(readers[3]!.id); // sees every record
    const expected = (await pages(withoutIndex(t.node.services), caller, {}, 100)).ids;
    const config = t.node.config;
    await t.node.stop();
    const log = createLogger({ level: 'silent' });
    const off: NodeConfig = { ...config, search: { ...config.search, readModel: false } };
    again = await startNode(off, log, { directory: sampleDirectory() });
    expect(again.services.recordIndex).toBeUndefined();
    const onChaincode = await pages(again.services, caller, {}, 100);
    expect(onChaincode.ids).toEqual(expected);
    expect(onChaincode.paths).toEqual(new Set(['chaincode']));
    await again.stop();

    again = await startNode(config, log, { directory: sampleDirectory() });
    await live(again.services);
    expect(again.services.recordIndex!.index.size).toBe(expected.length);
    for (const filter of filters()) {
      const fromIndex = await pages(again.services, caller, filter, 17);
      expect(fromIndex.ids).toEqual((await pages(withoutIndex(again.services), caller, filter, 100)).ids);
    }
    expect((await pages(again.services, caller, {}, 17)).paths).toEqual(new Set(['index']));
  }, 120_000);
});
