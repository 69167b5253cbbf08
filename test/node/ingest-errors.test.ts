// Uploads that go wrong, through HTTP: invalid FHIR, the wrong patient, refused parties — each refused with its code
// and nothing written (ledger height and pin list unchanged); the prepare/sign/commit flow of an author who keeps its
// own key; and paging and filtering a patient's records.
import { randomBytes } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { EmrRecord as LedgerRecord } from '../../chaincode/src/domain/index.js';
import { PieApiError } from '../../src/client/index.js';
import type { PieClient } from '../../src/client/index.js';
import { SecretKey, Signer } from '../../src/crypto/umbral/index.js';
import { StorageError } from '../../src/storage/index.js';
import { PATIENT_FILES, readSample } from '../fhir/samples.js';
import { hex, registerCustodial, registerWithKeys, startTestNode, refused } from './harness.js';
import { observation, smallBundle } from './small-bundle.js';
import type { KeyHolder, TestNode } from './harness.js';

let t: TestNode;
let doctor: { id: string; client: PieClient };
let patient: KeyHolder;
beforeAll(async () => {
  t = await startTestNode();
  doctor = await registerCustodial(t, 'PHYSICIAN');
  patient = await registerWithKeys(t, 'PATIENT');
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const INGEST = 'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id patientId authorId } transactionId blockNumber } }';
const PREPARE = 'mutation($b: JSONObject!, $p: ID!) { prepareFhirIngest(bundle: $b, patientId: $p) { draftId expiresAt records signingPayloads omitted { resource reason } } }';
const COMMIT = 'mutation($d: ID!, $s: [String!]!) { commitFhirIngest(draftId: $d, signatures: $s) { records { id patientId authorId } transactionId blockNumber } }';


async function pins(): Promise<string[]> {
  const out: string[] = [];
  for await (const cid of t.node.storage.blobs.pins()) out.push(cid.toString());
  return out.sort();
}

const height = (): number => t.node.devnet!.ledger.height;

/** Runs `attempt` (which must be refused) and checks that nothing was recorded or left pinned. */
async function nothingWritten<T>(attempt: () => Promise<T>): Promise<T> {
  const before = { height: height(), pins: await pins() };
  const result = await attempt();
  expect({ height: height(), pins: await pins() }).toEqual(before);
  return result;
}

interface Issue {
  severity: string;
  code: string;
  diagnostics?: string;
  expression?: string[];
}
const issuesOf = (e: PieApiError): Issue[] => (e.operationOutcome as { resourceType: string; issue: Issue[] }).issue;

// ---------------------------------------------------------------------------------------------------------------

describe('invalid FHIR is refused with an OperationOutcome, and nothing is written', () => {
  it('the small bundle is valid (control): it is recorded', async () => {
    const p = await registerWithKeys(t, 'PATIENT');
    const before = { height: height(), pins: (await pins()).length };
    const { ingestFhir } = await doctor.client.request<{ ingestFhir: { records: { id: string; patientId: string }[] } }>(INGEST, { b: smallBundle(), p: p.id });
    expect(ingestFhir.records.length).toBeGreaterThanOrEqual(2); // identity + laboratory
    expect(ingestFhir.records.every((r) => r.patientId === p.id)).toBe(true);
    expect(height()).toBe(before.height + 1);
    expect((await pins()).length).toBe(before.pins + ingestFhir.records.length);
  });

  it('an Observation with status "bogus"', async () => {
    const e = await nothingWritten(() => refused(doctor.client.request(INGEST, { b: smallBundle(observation({ status: 'bogus' })), p: patient.id }), 'BAD_USER_INPUT'));
    const issues = issuesOf(e);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues).toContainEqual(expect.objectContaining({ code: 'code-invalid', expression: ['Bundle.entry[1].resource.status'] }));
    expect(e.message).toMatch(/bogus/);
  });

  it('a Bundle with a broken reference', async () => {
    const broken = observation({ subject: { reference: `urn:uuid:${'1'.repeat(8)}-1111-1111-1111-${'1'.repeat(12)}` } });
    const e = await nothingWritten(() => refused(doctor.client.request(INGEST, { b: smallBundle(broken), p: patient.id }), 'BAD_USER_INPUT'));
    const issues = issuesOf(e);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues).toContainEqual(expect.objectContaining({ code: 'not-found', expression: [expect.stringMatching(/^Bundle\.entry\[1\]\.resource\.subject/)] }));
  });

  it('JSON that is not FHIR', async () => {
    const e = await nothingWritten(() => refused(doctor.client.request(INGEST, { b: { hello: 'world', items: [1, 2, 3] }, p: patient.id }), 'BAD_USER_INPUT'));
    const issues = issuesOf(e);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues).toContainEqual(expect.objectContaining({ code: 'required', expression: ['Resource.resourceType'] }));
  });

  it('every problem is listed, each with its location', async () => {
    const bad = { ...smallBundle(observation({ status: 'bogus', subject: { reference: 'urn:uuid:22222222-2222-2222-2222-222222222222' } })) };
    const e = await nothingWritten(() => refused(doctor.client.request(INGEST, { b: bad, p: patient.id }), 'BAD_USER_INPUT'));
    const where = issuesOf(e).flatMap((i) => i.expression ?? []);
    expect(where.some((x) => x.includes('.status'))).toBe(true);
    expect(where.some((x) => x.includes('.subject'))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('the wrong patient or a refused party: nothing pinned, height unchanged', () => {
  it('a patient id that is a physician’s is BAD_USER_INPUT', async () => {
    await nothingWritten(() => refused(doctor.client.request(INGEST, { b: smallBundle(), p: doctor.id }), 'BAD_USER_INPUT', /is a physician, not a patient/));
  });

  it('an unknown patient id is NOT_FOUND', async () => {
    await nothingWritten(() => refused(doctor.client.request(INGEST, { b: smallBundle(), p: randomBytes(16).toString('hex') }), 'NOT_FOUND'));
  });

  it('a malformed patient id is BAD_USER_INPUT', async () => {
    for (const p of ['not-an-id', 'A'.repeat(32), '0'.repeat(31)]) {
      await nothingWritten(() => refused(doctor.client.request(INGEST, { b: smallBundle(), p }), 'BAD_USER_INPUT', /patientId: must be a participant id/));
    }
  });

  it('a suspended patient is FORBIDDEN', async () => {
    const s = await registerWithKeys(t, 'PATIENT');
    await t.node.services.ledger.setParticipantStatus(s.id, 'suspended');
    await nothingWritten(() => refused(doctor.client.request(INGEST, { b: smallBundle(), p: s.id }), 'FORBIDDEN', /is suspended/));
    await nothingWritten(() => refused(doctor.client.request(PREPARE, { b: smallBundle(), p: s.id }), 'FORBIDDEN', /is suspended/));
  });

  it('a researcher, and a patient uploading for another patient, are FORBIDDEN', async () => {
    const r = await registerCustodial(t, 'RESEARCHER');
    await nothingWritten(() => refused(r.client.request(INGEST, { b: smallBundle(), p: patient.id }), 'FORBIDDEN', /ingestFhir: only a physician or patient/));
    const other = await registerWithKeys(t, 'PATIENT');
    await nothingWritten(() => refused(other.client.request(PREPARE, { b: smallBundle(), p: patient.id }), 'FORBIDDEN', /may not author records/));
  });

  it('input with nothing to store (directory data only) is BAD_USER_INPUT', async () => {
    const org: Resource = { resourceType: 'Organization', id: 'b0e04623-b02c-3f8b-92ea-943fc4db60da', name: 'Clinic' } as Resource;
    await nothingWritten(() => refused(doctor.client.request(INGEST, { b: org, p: patient.id }), 'BAD_USER_INPUT', /no clinical or identity data/));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('storage failing part-way through an upload: nothing pinned, nothing recorded, no blocks left', () => {
  it('the 20th of the sample’s EMRs cannot be stored (disk full): UNAVAILABLE; the 19 before it are not kept', async () => {
    const p = await registerWithKeys(t, 'PATIENT');
    const blobs = t.node.storage.blobs;
    await blobs.gc();
    const realBatch = blobs.putBatch.bind(blobs);
    let puts = 0;
    // the store takes the 20th file's blocks, then reports the disk full
    blobs.putBatch = (fn, options) =>
      realBatch(
        (put) =>
          fn(async (source, o) => {
            const stored = await put(source, o);
            if (++puts === 20) throw new StorageError('NO_SPACE', 'no space left on the storage device (test)');
            return stored;
          }),
        options,
      );
    try {
      await nothingWritten(() => refused(doctor.client.request(INGEST, { b: readSample(PATIENT_FILES[0]!), p: p.id }), 'UNAVAILABLE', /no space left/));
    } finally {
      delete (blobs as { putBatch?: unknown }).putBatch; // the store's own method again
    }
    expect(puts).toBeGreaterThanOrEqual(20);
    expect((await blobs.gc()).removed).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------

interface Draft {
  draftId: string;
  expiresAt: string;
  records: { id: string; patientId: string; authorId: string; metadata: { cid: string } }[];
  signingPayloads: string[];
}

const signAll = (sk: SecretKey, d: Draft): string[] => d.signingPayloads.map((p) => hex(new Signer(sk).sign(Buffer.from(p, 'base64')).toBEBytes()));

describe('an author with its own key: prepare, sign in the client, commit', () => {
  let author: KeyHolder;
  let otherWithKeys: KeyHolder;
  let p: KeyHolder;
  beforeAll(async () => {
    author = await registerWithKeys(t, 'PHYSICIAN');
    otherWithKeys = await registerWithKeys(t, 'PHYSICIAN');
    p = await registerWithKeys(t, 'PATIENT');
  });

  it('ingestFhir is refused (BAD_USER_INPUT), pointing to prepareFhirIngest; nothing written', async () => {
    await nothingWritten(() => refused(author.client.request(INGEST, { b: smallBundle(), p: p.id }), 'BAD_USER_INPUT', /use prepareFhirIngest/));
  });

  it('a wrong signature is refused and the draft stays committable; the right ones commit; a second commit is NOT_FOUND', async () => {
    const h0 = height();
    const { prepareFhirIngest: draft } = await author.client.request<{ prepareFhirIngest: Draft }>(PREPARE, { b: smallBundle(), p: p.id });
    expect(draft.draftId).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(draft.expiresAt)).toBeGreaterThan(Date.now());
    expect(draft.records.length).toBeGreaterThanOrEqual(2);
    expect(draft.signingPayloads).toHaveLength(draft.records.length);
    for (const r of draft.records) expect(r).toMatchObject({ patientId: p.id, authorId: author.id });
    // the content is stored and pinned already, nothing recorded yet
    const pinned = await pins();
    for (const r of draft.records) expect(pinned).toContain(r.metadata.cid);
    expect(height()).toBe(h0);

    const good = signAll(author.signingKey, draft);
    // signed by another key
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: signAll(SecretKey.random(), draft) }), 'BAD_USER_INPUT', /signature/i));
    // right signatures in the wrong order
    if (good.length > 1) await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: [...good].reverse() }), 'BAD_USER_INPUT'));
    // too few
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: good.slice(1) }), 'BAD_USER_INPUT', /signatures: the upload has/));
    // garbage
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: good.map(() => 'zz') }), 'BAD_USER_INPUT'));
    // another physician cannot commit (nor learn of) someone else's draft
    await nothingWritten(() => refused(doctor.client.request(COMMIT, { d: draft.draftId, s: good }), 'NOT_FOUND', /no pending upload/));
    await nothingWritten(() => refused(otherWithKeys.client.request(COMMIT, { d: draft.draftId, s: good }), 'NOT_FOUND'));

    const { commitFhirIngest } = await author.client.request<{ commitFhirIngest: { records: { id: string; patientId: string; authorId: string }[]; blockNumber: number } }>(
      COMMIT,
      { d: draft.draftId, s: good },
    );
    expect(commitFhirIngest.records.map((r) => r.id)).toEqual(draft.records.map((r) => r.id));
    expect(height()).toBe(h0 + 1);

    const { emrs } = await p.client.request<{ emrs: { edges: { node: { id: string; authorId: string; signatureValid: boolean; metadata: { cid: string } } }[] } }>(
      '{ emrs(first: 100) { edges { node { id authorId signatureValid metadata { cid } } } } }',
    );
    expect(new Set(emrs.edges.map((e) => e.node.id))).toEqual(new Set(draft.records.map((r) => r.id)));
    for (const { node } of emrs.edges) expect(node).toMatchObject({ authorId: author.id, signatureValid: true });

    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: good }), 'NOT_FOUND', /no pending upload/));
  });

  it('a draft id that never existed is NOT_FOUND', async () => {
    await refused(author.client.request(COMMIT, { d: randomBytes(16).toString('hex'), s: ['00'] }), 'NOT_FOUND');
  });
});

// ---------------------------------------------------------------------------------------------------------------

interface Node {
  id: string;
  patientId: string;
  summary: { category: string; year: number; codes: string[] };
}
interface Connection {
  edges: { cursor: string; node: Node }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
const EMRS = 'query($f: EmrFilter, $n: Int, $a: String) { emrs(filter: $f, first: $n, after: $a) { edges { cursor node { id patientId summary { category year codes } } } pageInfo { hasNextPage endCursor } } }';
const asEnum = (v: string): string => v.replace(/-/g, '_').toUpperCase();

describe('paging and filters over a patient’s records', () => {
  let q: KeyHolder;
  let all: LedgerRecord[];

  async function page(client: PieClient, filter: Record<string, unknown>, first: number, after: string | null): Promise<Connection> {
    return (await client.request<{ emrs: Connection }>(EMRS, { f: filter, n: first, a: after })).emrs;
  }

  async function everything(client: PieClient, filter: Record<string, unknown>, first = 100): Promise<Node[]> {
    const out: Node[] = [];
    let after: string | null = null;
    for (let i = 0; i < 200; i++) {
      const c = await page(client, filter, first, after);
      expect(c.edges.length).toBeLessThanOrEqual(first);
      out.push(...c.edges.map((e) => e.node));
      if (!c.pageInfo.hasNextPage) return out;
      expect(c.pageInfo.endCursor).toBe(c.edges.at(-1)?.cursor ?? c.pageInfo.endCursor);
      after = c.pageInfo.endCursor;
    }
    throw new Error('paging did not end');
  }

  beforeAll(async () => {
    q = await registerWithKeys(t, 'PATIENT');
    await doctor.client.request(INGEST, { b: readSample(PATIENT_FILES[1]!), p: q.id });
    all = (await t.node.services.ledger.searchRecords('patient', [q.id], { pageSize: 500 })).items;
  }, 120_000);

  it('pages of 7 with cursors cover every record once', async () => {
    expect(all.length).toBeGreaterThan(7 * 3);
    for (const client of [q.client, doctor.client]) {
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const c = await page(client, { patientId: q.id }, 7, after);
        pages++;
        expect(c.edges.length).toBeLessThanOrEqual(7);
        seen.push(...c.edges.map((e) => e.node.id));
        if (!c.pageInfo.hasNextPage) break;
        expect(c.edges).toHaveLength(7);
        expect(c.pageInfo.endCursor).toBe(c.edges.at(-1)!.cursor);
        after = c.pageInfo.endCursor;
        if (pages > 100) throw new Error('paging did not end');
      }
      expect(pages).toBe(Math.ceil(all.length / 7));
      expect(new Set(seen).size).toBe(seen.length);
      expect(new Set(seen)).toEqual(new Set(all.map((r) => r.id)));
    }
  });

  it('an edge’s cursor resumes right after that edge', async () => {
    const first = await page(q.client, { patientId: q.id }, 10, null);
    const resumed = await page(q.client, { patientId: q.id }, 5, first.edges[4]!.cursor);
    expect(resumed.edges.map((e) => e.node.id)).toEqual(first.edges.slice(5, 10).map((e) => e.node.id));
  });

  it('first: 0 and first: 101 are BAD_USER_INPUT; so is a garbage cursor', async () => {
    await refused(page(q.client, { patientId: q.id }, 0, null), 'BAD_USER_INPUT', /first: must be between 1 and 100/);
    await refused(page(q.client, { patientId: q.id }, 101, null), 'BAD_USER_INPUT', /first: must be between 1 and 100/);
    await refused(page(q.client, { patientId: q.id }, -1, null), 'BAD_USER_INPUT', /first/);
    await refused(page(q.client, { patientId: q.id }, 5, 'garbage!'), 'BAD_USER_INPUT', /after: not a cursor/);
    const forged = Buffer.from(JSON.stringify({ b: '', o: 1000 })).toString('base64url');
    await refused(page(q.client, { patientId: q.id }, 5, forged), 'BAD_USER_INPUT', /after: not a cursor/);
  });

  it('filters by category, year and code return exactly the matching records', async () => {
    const count = <T>(xs: T[]): Map<T, number> => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<T, number>());
    // values that single out some, not all, of the records
    const pick = <T>(m: Map<T, number>): T => [...m].filter(([, n]) => n < all.length).sort((a, b) => b[1] - a[1])[0]![0];
    const category = pick(count(all.map((r) => r.summary.category)));
    const year = pick(count(all.map((r) => r.summary.year)));
    const code = pick(count(all.flatMap((r) => r.summary.codes)));

    const cases: [Record<string, unknown>, (r: LedgerRecord) => boolean][] = [
      [{ category: asEnum(category) }, (r) => r.summary.category === category],
      [{ year }, (r) => r.summary.year === year],
      [{ code }, (r) => r.summary.codes.includes(code)],
      [{ category: asEnum(category), year }, (r) => r.summary.category === category && r.summary.year === year],
    ];
    for (const [filter, match] of cases) {
      const expected = all.filter(match).map((r) => r.id);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(all.length);
      const got = await everything(q.client, { patientId: q.id, ...filter });
      expect({ filter, ids: new Set(got.map((n) => n.id)) }).toEqual({ filter, ids: new Set(expected) });
      expect(got.length).toBe(expected.length);
      // the physician author, searching by the filter's own index, finds the same records of this patient
      const byIndex = await everything(doctor.client, filter);
      expect(new Set(byIndex.filter((n) => n.patientId === q.id).map((n) => n.id))).toEqual(new Set(expected));
    }
    // GraphQL shows the category as its enum name
    const one = (await page(q.client, { patientId: q.id, category: asEnum(category) }, 1, null)).edges[0]!.node;
    expect(one.summary.category).toBe(asEnum(category));
  });

  it('malformed filters are BAD_USER_INPUT', async () => {
    await refused(page(q.client, { code: 'no-bar' }, 5, null), 'BAD_USER_INPUT', /filter.code/);
    await refused(page(q.client, { year: 12 }, 5, null), 'BAD_USER_INPUT', /filter.year/);
    await refused(page(doctor.client, { patientId: 'nope' }, 5, null), 'BAD_USER_INPUT', /filter.patientId/);
  });
});
