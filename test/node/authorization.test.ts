// Every authorisation refusal the API makes, through HTTP: missing and bad tokens, who may register whom, who sees
// which record (and which of its fields), blob routes, signed policy actions, and the production limits on requests.
import { randomBytes } from 'node:crypto';
import { mintAccessToken } from '../../src/auth/index.js';
import { signAction } from '../../src/chain/pie-ledger.js';
import type { PieClient } from '../../src/client/index.js';
import { SecretKey } from '../../src/crypto/umbral/index.js';
import { PATIENT_FILES, readSample } from '../fhir/samples.js';
import { pubHex, registerCustodial, registerWithKeys, startTestNode, refused } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';

// Large enough for a Synthea sample bundle (≈ 1 MB) through ingestFhir, small enough to exceed cheaply.
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode({ PIE_MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES) });
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const REGISTER = `mutation($input: RegisterParticipantInput!) { registerParticipant(input: $input) { participant { id kind clearance } apiSecret } }`;
const RECORD_ID = `emr-${'0'.repeat(32)}`;


interface RawAnswer {
  status: number;
  contentType: string | null;
  text: string;
  json: unknown;
}

async function raw(path: string, init: RequestInit = {}): Promise<RawAnswer> {
  const res = await fetch(`${t.node.url}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, json };
}

/** POST /graphql with JSON and the given headers (default query: `{ me { id } }`). */
const graphqlPost = (headers: Record<string, string>, body: unknown = { query: '{ me { id } }' }): Promise<RawAnswer> =>
  raw('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
const randomId = (): string => randomBytes(16).toString('hex');

async function collect(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return Buffer.concat(parts);
}

async function pinCount(): Promise<number> {
  let n = 0;
  for await (const _ of t.node.storage.blobs.pins()) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------------------------

describe('without a token', () => {
  it.each([
    ['me', '{ me { id } }', {}],
    ['emrs', '{ emrs { edges { node { id } } } }', {}],
    ['emr', 'query($id: ID!) { emr(id: $id) { id } }', { id: RECORD_ID }],
    ['participant', 'query($id: ID!) { participant(id: $id) { id } }', { id: '0'.repeat(32) }],
    ['ledger', '{ ledger { height } }', {}],
    ['ingestFhir', 'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { transactionId } }', { b: { resourceType: 'Bundle' }, p: '0'.repeat(32) }],
    ['registerParticipant', REGISTER, { input: { kind: 'PHYSICIAN', custodial: true } }],
  ])('%s is refused UNAUTHENTICATED', async (_name, query, variables) => {
    await refused(t.anonymous.request(query, variables), 'UNAUTHENTICATED', /bearer token/);
  });

  it('the same query with a token is answered (the refusals above are about the token)', async () => {
    const { ledger } = await t.admin.request<{ ledger: { height: number } }>('{ ledger { height } }');
    expect(ledger.height).toBeGreaterThan(0);
  });

  it('registerFirstAdmin refuses a wrong code and the already used code (FORBIDDEN)', async () => {
    const keys = { s: pubHex(SecretKey.random()), e: pubHex(SecretKey.random()) };
    const q = 'mutation($c: String!, $s: String!, $e: String!) { registerFirstAdmin(code: $c, signingKey: $s, encryptionKey: $e) { id } }';
    await refused(t.anonymous.request(q, { c: 'pie-bootstrap-wrong', ...keys }), 'FORBIDDEN', /wrong or already used bootstrap code/);
    expect(t.node.bootstrapCode).toMatch(/^pie-bootstrap-/);
    await refused(t.anonymous.request(q, { c: t.node.bootstrapCode, ...keys }), 'FORBIDDEN', /wrong or already used bootstrap code/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('bad tokens are refused before GraphQL runs: HTTP 401 {error: {code: UNAUTHENTICATED}}', () => {
  let p: KeyHolder;
  beforeAll(async () => {
    p = await registerWithKeys(t, 'PATIENT');
  });

  const mint = (o: Partial<Parameters<typeof mintAccessToken>[0]> = {}): string =>
    mintAccessToken({ signingKey: p.signingKey, participantId: p.id, audience: t.node.config.audience, lifetimeSeconds: 60, ...o });

  async function expect401(authorization: string, fragment: string | RegExp): Promise<void> {
    const a = await graphqlPost({ authorization });
    expect(a.status).toBe(401);
    expect(a.contentType).toMatch(/^application\/json/);
    expect(a.json).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    expect((a.json as { error: { message: string } }).error.message).toMatch(fragment);
  }

  it('a good token is accepted (control)', async () => {
    const a = await graphqlPost({ authorization: `Bearer ${mint()}` });
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ data: { me: { id: p.id } } });
  });

  it('expired', async () => {
    await expect401(`Bearer ${mint({ now: new Date(Date.now() - 10 * 60_000) })}`, /EXPIRED/);
  });

  it('wrong audience', async () => {
    await expect401(`Bearer ${mint({ audience: `${t.node.config.audience}-elsewhere` })}`, /WRONG_AUDIENCE/);
  });

  it('signed by another key', async () => {
    await expect401(`Bearer ${mint({ signingKey: SecretKey.random() })}`, /BAD_SIGNATURE/);
  });

  it('an unknown participant id', async () => {
    const stranger = SecretKey.random();
    await expect401(`Bearer ${mint({ signingKey: stranger, participantId: randomId() })}`, /UNKNOWN_PARTICIPANT/);
  });

  it('replayed: the same token twice, the first accepted and the second refused', async () => {
    const token = mint();
    const first = await graphqlPost({ authorization: `Bearer ${token}` });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ data: { me: { id: p.id } } });
    await expect401(`Bearer ${token}`, /REPLAYED/);
  });

  it('alg: none (unsigned)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: p.id, aud: t.node.config.audience, iat: now, exp: now + 60, jti: randomId() })}.`;
    await expect401(`Bearer ${token}`, /BAD_HEADER/);
  });

  it('alg: none with a real token’s signature still attached', async () => {
    const [, claims, signature] = mint().split('.');
    await expect401(`Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${claims}.${signature}`, /BAD_HEADER/);
  });

  it('garbage', async () => {
    await expect401('Bearer this-is-not-a-token', /MALFORMED/);
  });

  it('the Basic scheme', async () => {
    await expect401('Basic xyz', /MALFORMED.*Bearer/);
  });

  it('an empty Bearer', async () => {
    await expect401('Bearer ', /MALFORMED/);
  });

  it('a suspended participant (suspended by the org admin through setParticipantStatus)', async () => {
    const s = await registerWithKeys(t, 'PATIENT');
    const before = await s.client.request<{ me: { id: string; status: string } }>('{ me { id status } }');
    expect(before.me).toEqual({ id: s.id, status: 'ACTIVE' });
    const { setParticipantStatus } = await t.admin.request<{ setParticipantStatus: { status: string } }>(
      'mutation($id: ID!) { setParticipantStatus(participantId: $id, status: SUSPENDED) { status } }',
      { id: s.id },
    );
    expect(setParticipantStatus.status).toBe('SUSPENDED');
    // no wait: the node drops its cached entry of the participant (other nodes reuse theirs for up to 1 s)
    const token = mintAccessToken({ signingKey: s.signingKey, participantId: s.id, audience: t.node.config.audience, lifetimeSeconds: 60 });
    await expect401(`Bearer ${token}`, /UNKNOWN_PARTICIPANT|suspended/);
    // and through the client, on the blob routes too
    await expect(s.client.request('{ me { id } }')).rejects.toMatchObject({ name: 'PieApiError', code: 'UNAUTHENTICATED', status: 401 });
    await expect(s.client.uploadBlob(s.id, new Uint8Array([1, 2, 3]), 'text/plain')).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });

  it('PieClient.request reports a refused token as UNAUTHENTICATED (not INTERNAL)', async () => {
    const stranger = t.anonymous.as({ participantId: randomId(), signingKey: SecretKey.random() });
    await refused(stranger.request('{ me { id } }'), 'UNAUTHENTICATED', /UNKNOWN_PARTICIPANT/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('registerParticipant', () => {
  const withKeys = (kind: string, extra: Record<string, unknown> = {}) => ({
    input: { kind, signingKey: pubHex(SecretKey.random()), encryptionKey: pubHex(SecretKey.random()), ...extra },
  });

  it('by a patient or a physician is FORBIDDEN', async () => {
    const patient = await registerWithKeys(t, 'PATIENT');
    const physician = await registerCustodial(t, 'PHYSICIAN');
    const physicianWithKeys = await registerWithKeys(t, 'PHYSICIAN');
    for (const c of [patient.client, physician.client, physicianWithKeys.client]) {
      await refused(c.request(REGISTER, withKeys('PATIENT')), 'FORBIDDEN', /registerParticipant: only a org-admin/);
      await refused(c.request(REGISTER, { input: { kind: 'PHYSICIAN', custodial: true } }), 'FORBIDDEN');
    }
  });

  it('a custodial patient is refused (BAD_USER_INPUT)', async () => {
    await refused(t.admin.request(REGISTER, { input: { kind: 'PATIENT', custodial: true } }), 'BAD_USER_INPUT', /patient always holds the patient’s own keys/);
  });

  it('a custodial account with keys given is refused (BAD_USER_INPUT)', async () => {
    await refused(t.admin.request(REGISTER, withKeys('PHYSICIAN', { custodial: true })), 'BAD_USER_INPUT', /leave the keys out/);
  });

  it('a non-custodial account without keys is refused (BAD_USER_INPUT)', async () => {
    await refused(t.admin.request(REGISTER, { input: { kind: 'PHYSICIAN' } }), 'BAD_USER_INPUT', /signingKey and encryptionKey are required/);
    await refused(
      t.admin.request(REGISTER, { input: { kind: 'PATIENT', signingKey: pubHex(SecretKey.random()) } }),
      'BAD_USER_INPUT',
      /signingKey and encryptionKey are required/,
    );
  });

  it('a researcher with clearance PRIVATE is refused by the ledger (BAD_USER_INPUT); LOW is accepted', async () => {
    await refused(t.admin.request(REGISTER, withKeys('RESEARCHER', { clearance: 'PRIVATE' })), 'BAD_USER_INPUT', /researcher may hold at most LOW/);
    const ok = await t.admin.request<{ registerParticipant: { participant: { kind: string; clearance: string } } }>(REGISTER, withKeys('RESEARCHER', { clearance: 'LOW' }));
    expect(ok.registerParticipant.participant).toMatchObject({ kind: 'RESEARCHER', clearance: 'LOW' });
  });
});

// ---------------------------------------------------------------------------------------------------------------

interface Rec {
  id: string;
  patientId: string;
  summary: { securityLevel: string; category: string };
  metadata: { cid: string; size: number } | null;
  policy: { minClearance: string } | null;
}

const RECORD_FIELDS = 'id patientId summary { securityLevel category } metadata { cid size } policy { minClearance }';

/** Every record `client` finds with `filter`, page by page. */
async function searchAll(client: PieClient, filter: Record<string, unknown>): Promise<Rec[]> {
  const out: Rec[] = [];
  let after: string | null = null;
  for (let i = 0; i < 50; i++) {
    const r: { emrs: { edges: { node: Rec }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await client.request(
      `query($f: EmrFilter, $a: String) { emrs(filter: $f, first: 100, after: $a) { edges { node { ${RECORD_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      { f: filter, a: after },
    );
    out.push(...r.emrs.edges.map((e) => e.node));
    if (!r.emrs.pageInfo.hasNextPage) return out;
    after = r.emrs.pageInfo.endCursor;
  }
  throw new Error('more than 50 pages');
}

describe('records, blobs and policies', () => {
  let a: KeyHolder;
  let b: KeyHolder;
  let doctor: { id: string; client: PieClient };
  let researcher: KeyHolder;
  let records: Rec[];
  let low: Rec[];
  let priv: Rec[];

  beforeAll(async () => {
    a = await registerWithKeys(t, 'PATIENT');
    b = await registerWithKeys(t, 'PATIENT');
    doctor = await registerCustodial(t, 'PHYSICIAN');
    researcher = await registerWithKeys(t, 'RESEARCHER', { clearance: 'LOW' });
    const { ingestFhir } = await doctor.client.request<{ ingestFhir: { records: Rec[] } }>(
      `mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { ${RECORD_FIELDS} } } }`,
      { b: readSample(PATIENT_FILES[0]!), p: a.id },
    );
    records = ingestFhir.records;
    low = records.filter((r) => r.summary.securityLevel === 'LOW');
    priv = records.filter((r) => r.summary.securityLevel === 'PRIVATE');
  }, 120_000);

  it('the sample bundle gave records of several levels (the premise of what follows)', () => {
    expect(low.length).toBeGreaterThan(0);
    expect(priv.length).toBeGreaterThan(0);
    expect(records.every((r) => r.patientId === a.id)).toBe(true);
  });

  it('patient B searching patient A’s records is FORBIDDEN', async () => {
    await refused(b.client.request('query($p: ID!) { emrs(filter: {patientId: $p}) { edges { node { id } } } }', { p: a.id }), 'FORBIDDEN', /only the patient’s own records/);
  });

  it('patient B reading one of A’s records gets NOT_FOUND; A gets it', async () => {
    const id = priv[0]!.id;
    await refused(b.client.request('query($id: ID!) { emr(id: $id) { id } }', { id }), 'NOT_FOUND', new RegExp(`record ${id} not found`));
    await refused(b.client.request('query($id: ID!) { emr(id: $id) { id } }', { id: low[0]!.id }), 'NOT_FOUND');
    const mine = await a.client.request<{ emr: { id: string } }>('query($id: ID!) { emr(id: $id) { id } }', { id });
    expect(mine.emr.id).toBe(id);
  });

  it('patient B’s own search returns none of A’s records; A’s returns all of them', async () => {
    const theirs = await searchAll(b.client, {});
    expect(theirs.filter((r) => r.patientId === a.id)).toEqual([]);
    const mine = await searchAll(a.client, {});
    expect(new Set(mine.map((r) => r.id))).toEqual(new Set(records.map((r) => r.id)));
  });

  it('a LOW researcher sees exactly A’s LOW records, without metadata or policy; PRIVATE ones are NOT_FOUND', async () => {
    const seen = await searchAll(researcher.client, { patientId: a.id });
    expect(seen.length).toBe(low.length);
    for (const r of seen) {
      expect(r.summary.securityLevel).toBe('LOW');
      expect(r.metadata).toBeNull();
      expect(r.policy).toBeNull();
    }
    expect(new Set(seen.map((r) => r.id))).toEqual(new Set(low.map((r) => r.id)));
    const one = await researcher.client.request<{ emr: Rec }>(`query($id: ID!) { emr(id: $id) { ${RECORD_FIELDS} } }`, { id: low[0]!.id });
    expect(one.emr).toMatchObject({ id: low[0]!.id, metadata: null, policy: null });
    for (const r of priv.slice(0, 3)) await refused(researcher.client.request('query($id: ID!) { emr(id: $id) { id } }', { id: r.id }), 'NOT_FOUND');
    // searching by level does not widen that
    expect(await searchAll(researcher.client, { securityLevel: 'PRIVATE' })).toEqual([]);
    expect(await searchAll(researcher.client, { securityLevel: 'MODERATE' })).toEqual([]);
    const byLow = await searchAll(researcher.client, { securityLevel: 'LOW' });
    expect(new Set(byLow.filter((r) => r.patientId === a.id).map((r) => r.id))).toEqual(new Set(low.map((r) => r.id)));
  });

  it('a LOW researcher’s unfiltered search returns only LOW summaries, A’s LOW records among them', async () => {
    const everything = await searchAll(researcher.client, {});
    expect(everything.every((r) => r.summary.securityLevel === 'LOW' && r.metadata === null && r.policy === null)).toBe(true);
    expect(new Set(everything.filter((r) => r.patientId === a.id).map((r) => r.id))).toEqual(new Set(low.map((r) => r.id)));
  });

  it('an organisation admin searching records is FORBIDDEN', async () => {
    await refused(t.admin.request('{ emrs { edges { node { id } } } }'), 'FORBIDDEN', /organisation admin/);
  });

  it('the physician author sees metadata and policy', async () => {
    const { emr } = await doctor.client.request<{ emr: Rec }>(`query($id: ID!) { emr(id: $id) { ${RECORD_FIELDS} } }`, { id: priv[0]!.id });
    expect(emr.metadata?.cid).toMatch(/^b/);
    expect(emr.policy).toEqual({ minClearance: 'LOW' });
    expect(records.every((r) => r.metadata !== null && r.policy !== null)).toBe(true);
  });

  it('auditTrail: refused to the researcher (FORBIDDEN for a record it sees, NOT_FOUND otherwise); the patient gets it', async () => {
    const q = 'query($id: ID!) { auditTrail(emrId: $id) { transactionId objectType objectId } }';
    await refused(researcher.client.request(q, { id: low[0]!.id }), 'FORBIDDEN', /only the patient and the author/);
    await refused(researcher.client.request(q, { id: priv[0]!.id }), 'NOT_FOUND');
    await refused(b.client.request(q, { id: priv[0]!.id }), 'NOT_FOUND');
    await refused(researcher.client.request('query($p: ID!) { auditTrail(patientId: $p) { transactionId } }', { p: a.id }), 'FORBIDDEN');
    const { auditTrail } = await a.client.request<{ auditTrail: { objectType: string; objectId: string }[] }>(q, { id: priv[0]!.id });
    expect(auditTrail.length).toBeGreaterThan(0);
    expect(auditTrail).toContainEqual(expect.objectContaining({ objectType: 'record', objectId: priv[0]!.id }));
  });

  it('accessPolicy: patient B reading A’s default is FORBIDDEN; a record’s policy is refused to a non-party', async () => {
    await refused(b.client.request('query($p: ID!) { accessPolicy(patientId: $p) { minClearance } }', { p: a.id }), 'FORBIDDEN', /default policy/);
    await refused(researcher.client.request('query($p: ID!) { accessPolicy(patientId: $p) { minClearance } }', { p: a.id }), 'FORBIDDEN');
    await refused(researcher.client.request('query($id: ID!) { accessPolicy(emrId: $id) { minClearance } }', { id: low[0]!.id }), 'FORBIDDEN');
    const own = await a.client.request<{ accessPolicy: { minClearance: string } }>('query($p: ID!) { accessPolicy(patientId: $p) { minClearance } }', { p: a.id });
    expect(own.accessPolicy.minClearance).toBe('LOW');
  });

  describe('blobs', () => {
    it('GET /blobs/<cid of A’s record>: 404 NOT_FOUND for patient B and the researcher, 200 for A', async () => {
      const target = low[0]!.metadata!;
      for (const c of [b.client, researcher.client]) {
        await expect(c.downloadBlob(target.cid)).rejects.toMatchObject({ name: 'PieApiError', code: 'NOT_FOUND', status: 404 });
      }
      await expect(t.anonymous.downloadBlob(target.cid)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
      // an unrecorded CID gets the same answer as a recorded one that is not yours
      await expect(b.client.downloadBlob('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
      const body = await collect(await a.client.downloadBlob(target.cid));
      expect(body.length).toBe(target.size);
    });

    it('POST /blobs: 403 for a researcher and for patient B uploading for A, 401 without a token, 400 without patientId; nothing stored', async () => {
      const pins = await pinCount();
      const bytes = new TextEncoder().encode('not for you');
      await expect(researcher.client.uploadBlob(a.id, bytes, 'text/plain')).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
      await expect(b.client.uploadBlob(a.id, bytes, 'text/plain')).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
      await expect(t.anonymous.uploadBlob(a.id, bytes, 'text/plain')).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
      await expect(t.admin.uploadBlob(a.id, bytes, 'text/plain')).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
      const missing = await raw('/blobs', { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${await b.client.token()}` }, body: bytes });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ error: { code: 'BAD_USER_INPUT', message: expect.stringMatching(/patientId/) } });
      const malformed = await raw('/blobs?patientId=xyz', { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${await b.client.token()}` }, body: bytes });
      expect(malformed.status).toBe(400);
      expect(await pinCount()).toBe(pins);
    });
  });

  describe('setAccessPolicy', () => {
    const MUTATION = 'mutation($a: SignedActionInput!) { setAccessPolicy(action: $a) { minClearance allowedKinds allow deny emergencyAllowed } }';
    const narrower = { minClearance: 'MODERATE', allowedKinds: ['physician'], allow: [], deny: [], emergencyAllowed: false };
    let p: KeyHolder;
    beforeAll(async () => {
      p = await registerWithKeys(t, 'PATIENT');
    });
    const action = (who: KeyHolder, payload: Record<string, unknown> = { policy: narrower }) => signAction(who.signingKey, who.id, 'set-patient-policy', payload, t.node.services.ledger.channel);
    const policyOf = async (who: KeyHolder) =>
      (await who.client.request<{ accessPolicy: Record<string, unknown> }>('query($p: ID!) { accessPolicy(patientId: $p) { minClearance allowedKinds emergencyAllowed } }', { p: who.id })).accessPolicy;

    it('by a physician is FORBIDDEN', async () => {
      await refused(doctor.client.request(MUTATION, { a: action(p) }), 'FORBIDDEN', /setAccessPolicy: only a patient/);
    });

    it('a patient relaying another patient’s action is FORBIDDEN', async () => {
      await refused(p.client.request(MUTATION, { a: action(b) }), 'FORBIDDEN', /actorId/);
      expect(await policyOf(b)).toMatchObject({ minClearance: 'LOW', emergencyAllowed: true });
    });

    it('a tampered payload (changed after signing) is refused by the ledger (BAD_USER_INPUT) and changes nothing', async () => {
      const signed = action(p);
      const tampered = { ...signed, payload: { policy: { ...narrower, minClearance: 'PRIVATE' } } };
      await refused(p.client.request(MUTATION, { a: tampered }), 'BAD_USER_INPUT', /signature/i);
      expect(await policyOf(p)).toMatchObject({ minClearance: 'LOW', emergencyAllowed: true });
    });

    it('an unknown action type is BAD_USER_INPUT', async () => {
      const signed = signAction(p.signingKey, p.id, 'revoke-grant', { grantId: 'grant-x' }, t.node.services.ledger.channel);
      await refused(p.client.request(MUTATION, { a: signed }), 'BAD_USER_INPUT', /action.type/);
    });

    it('a correctly signed action succeeds, and accessPolicy reflects it; its replay is refused', async () => {
      const signed = action(p);
      const { setAccessPolicy } = await p.client.request<{ setAccessPolicy: Record<string, unknown> }>(MUTATION, { a: signed });
      expect(setAccessPolicy).toEqual({ minClearance: 'MODERATE', allowedKinds: ['PHYSICIAN'], allow: [], deny: [], emergencyAllowed: false });
      expect(await policyOf(p)).toEqual({ minClearance: 'MODERATE', allowedKinds: ['PHYSICIAN'], emergencyAllowed: false });
      await refused(p.client.request(MUTATION, { a: signed }), 'CONFLICT', /already used/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('production hygiene', () => {
  const nested = (depth: number): string => {
    let q = 'id';
    for (let i = 0; i < depth; i++) q = `previous { ${q} }`;
    return `{ emr(id: "${RECORD_ID}") { ${q} } }`;
  };

  it('a query deeper than 12 is refused: 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const deep = await graphqlPost({}, { query: nested(14) });
    expect(deep.status).toBe(400);
    const errors = (deep.json as { errors: { message: string; extensions: { code: string } }[] }).errors;
    expect(errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(errors[0]!.message).toMatch(/depth/i);
    // the same shape within the limit reaches the resolver (which wants a token)
    const shallow = await graphqlPost({}, { query: nested(3) });
    expect(shallow.status).toBe(200);
    expect((shallow.json as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('more than 15 aliases are refused: 400 GRAPHQL_VALIDATION_FAILED', async () => {
    // (__typename is on graphql-armor's allow list, so the aliases are of a real field)
    const aliases = (n: number): string => `{ ${Array.from({ length: n }, (_, i) => `a${i}: organization { id }`).join(' ')} }`;
    const many = await graphqlPost({ authorization: `Bearer ${await t.admin.token()}` }, { query: aliases(16) });
    expect(many.status).toBe(400);
    const errors = (many.json as { errors: { message: string; extensions: { code: string } }[] }).errors;
    expect(errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(errors[0]!.message).toMatch(/alias/i);
    const ok = await graphqlPost({ authorization: `Bearer ${await t.admin.token()}` }, { query: aliases(15) });
    expect(ok.status).toBe(200);
    expect((ok.json as { errors?: unknown }).errors).toBeUndefined();
    expect(Object.keys((ok.json as { data: Record<string, unknown> }).data)).toHaveLength(15);
  });

  it('a text/plain POST is refused by CSRF prevention (400)', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const simple = await raw('/graphql', { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(simple.status).toBe(400);
    expect(simple.text).toMatch(/CSRF|Cross-Site Request Forgery/);
    expect(simple.text).not.toMatch(/"data"/);
    const json = await raw('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(json.status).toBe(200);
    expect(json.json).toEqual({ data: { __typename: 'Query' } });
  });

  it('a request body over the limit is refused: 413 PAYLOAD_TOO_LARGE (declared, or streamed without a length)', async () => {
    const pad = 'x'.repeat(MAX_REQUEST_BYTES + 1024);
    const declared = await raw('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }', variables: { pad } }) });
    expect(declared.status).toBe(413);
    expect(declared.json).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(String(MAX_REQUEST_BYTES)) } });

    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_REQUEST_BYTES + 2 * chunk.length) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const streamed = await raw('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(streamed.json).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/exceeds/) } });
    // the server still answers afterwards, on every connection the client pools (a socket left holding the unread
    // rest of a refused body would hang the next request on it, then reset)
    for (let i = 0; i < 4; i++) expect((await raw('/health')).status).toBe(200);
  });

  it('an unknown route is 404 NOT_FOUND', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['DELETE', '/graphql'],
      ['PUT', '/blobs'],
      ['GET', '/blobs/'],
    ] as const) {
      const a = await raw(path, { method });
      expect({ method, path, status: a.status }).toEqual({ method, path, status: 404 });
      expect(a.json).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/no route/) } });
    }
  });
});
