// Sharing through a real node (docs/sharing.md): a requester asks, the patient approves with real kfrags sealed to
// the node's registered proxies, the requester opens (the access is recorded on the ledger first), verifies the
// cfrags and decrypts locally. Refusals carry the contract's reasons; deny, revoke and expiry end access; nobody
// sees or decides what is not theirs.
import { randomBytes } from 'node:crypto';
import { CapsuleFrag, Capsule, SecretKey } from '../../src/crypto/umbral/index.js';
import { registerWithKeys, refused, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';
import {
  APPROVE,
  GRANT_FIELDS,
  OPEN,
  REQUEST_FIELDS,
  approve,
  custodialPhysician,
  grantAccess,
  openEmr,
  pk,
  proxiesOf,
  pubHex,
  readAsPatient,
  readWithCFrags,
  recordContent,
  requestAccess,
  sealedKFrags,
  setRecordPolicy,
  signFor,
  termsFor,
} from './sharing-helpers.js';
import type { ProxyKey } from './sharing-helpers.js';

let t: TestNode;
let patient: KeyHolder;
let author: Awaited<ReturnType<typeof custodialPhysician>>;
let doctor: KeyHolder; // a physician with its own keys
let proxies: ProxyKey[];
let threshold: number;
let record: { id: string; content: Uint8Array };

beforeAll(async () => {
  t = await startTestNode();
  patient = await registerWithKeys(t, 'PATIENT');
  author = await custodialPhysician(t);
  doctor = await registerWithKeys(t, 'PHYSICIAN');
  proxies = await proxiesOf(doctor.client);
  threshold = Math.min(2, proxies.length);
  record = await recordContent(author, patient.id, randomBytes(70_000));
}, 120_000);
afterAll(async () => {
  await t?.stop();
});

const REQUESTS = `query($s: AccessRequestStatus, $e: ID) { accessRequests(status: $s, emrId: $e) { ${REQUEST_FIELDS} } }`;
const GRANTS = `query($e: ID, $l: Boolean) { grants(emrId: $e, liveOnly: $l) { ${GRANT_FIELDS} } }`;
const ONE_REQUEST = `query($id: ID!) { accessRequest(id: $id) { ${REQUEST_FIELDS} } }`;
const ONE_GRANT = `query($id: ID!) { grant(id: $id) { ${GRANT_FIELDS} } }`;
const DENY = `mutation($r: ID!, $why: String, $s: ActionSignatureInput!) { denyAccessRequest(requestId: $r, reason: $why, signed: $s) { ${REQUEST_FIELDS} } }`;
const REVOKE = `mutation($g: ID!, $s: ActionSignatureInput!) { revokeGrant(grantId: $g, signed: $s) { ${GRANT_FIELDS} } }`;
const REQUEST = `mutation($e: ID!, $p: String!, $s: ActionSignatureInput) { requestAccess(emrId: $e, purpose: $p, signed: $s) { ${REQUEST_FIELDS} } }`;

const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id).sort();

describe('proxies', () => {
  it('lists the proxies registered on the ledger, with their organisation and encryption key', async () => {
    expect(proxies.length).toBeGreaterThanOrEqual(1);
    for (const p of proxies) {
      expect(p).toEqual({ id: expect.stringMatching(/^Hospital1MSP\.proxy\.\d+$/), organisation: 'Hospital1MSP', encryptionKey: expect.stringMatching(/^0[23][0-9a-f]{64}$/) });
      expect(() => pk(p.encryptionKey)).not.toThrow();
    }
    const ledger = await t.node.services.ledger.proxies();
    expect(ids(proxies)).toEqual(ids(ledger));
  });

  it('needs a token', async () => {
    await refused(t.anonymous.request('{ proxies { id } }'), 'UNAUTHENTICATED');
  });
});

describe('request → approve → open', () => {
  it('the requester decrypts the record with the cfrags of the node’s proxies; the plaintext is the original', async () => {
    const request = await requestAccess(t, doctor, record.id, 'cardiology consult');
    expect(request).toMatchObject({ emrId: record.id, requesterId: doctor.id, purpose: 'cardiology consult', status: 'PENDING', decidedAt: null });

    // the patient sees it among the requests for the patient's records, the requester among its own
    const forPatient = (await patient.client.request<{ accessRequests: { id: string }[] }>(REQUESTS, { s: 'PENDING' })).accessRequests;
    expect(ids(forPatient)).toContain(request.id);
    expect(ids((await patient.client.request<{ accessRequests: { id: string }[] }>(REQUESTS, { e: record.id })).accessRequests)).toContain(request.id);
    expect(ids((await doctor.client.request<{ accessRequests: { id: string }[] }>(REQUESTS, {})).accessRequests)).toEqual([request.id]);

    const terms = await termsFor(patient, pubHex(doctor.encryptionKey), { threshold });
    const grant = await approve(t, patient, request.id, terms);
    expect(grant).toMatchObject({ emrId: record.id, granteeId: doctor.id, requestId: request.id, threshold, shares: proxies.length, kind: 'STANDARD', live: true, revokedAt: null });
    expect((await doctor.client.request<{ accessRequest: { status: string } }>(ONE_REQUEST, { id: request.id })).accessRequest.status).toBe('APPROVED');
    expect(ids((await doctor.client.request<{ grants: { id: string }[] }>(GRANTS, { l: true })).grants)).toEqual([grant.id]);

    const opening = await openEmr(t, doctor, record.id, grant.id);
    expect(opening).toMatchObject({ record: { id: record.id }, grantId: grant.id, threshold, mediaType: 'application/pdf', emergencyKey: null });
    expect(opening.cfrags).toHaveLength(proxies.length);
    // the access was recorded on the ledger before the cfrags were released
    const op = await t.node.services.ledger.operation(opening.operationId);
    expect(op).toMatchObject({ kind: 'reencrypt', actorId: doctor.id, emrId: record.id, grantId: grant.id });

    const plaintext = await readWithCFrags(doctor, opening);
    expect(plaintext.equals(Buffer.from(record.content))).toBe(true);
    // the cfrags are for the doctor's key only
    const capsule = Capsule.fromBytes(Buffer.from(opening.capsule, 'base64'));
    expect(() =>
      CapsuleFrag.fromBytes(Buffer.from(opening.cfrags[0]!, 'base64')).verify(capsule, pk(opening.verifyingKey), pk(opening.delegatingKey), SecretKey.random().publicKey()),
    ).toThrow(/verification failed/);
  }, 60_000);

  it('the patient opens the patient’s own record without a grant (a download operation, no cfrags)', async () => {
    const opening = await openEmr(t, patient, record.id);
    expect(opening).toMatchObject({ grantId: null, threshold: 0, cfrags: [], emergencyKey: null });
    expect(await t.node.services.ledger.operation(opening.operationId)).toMatchObject({ kind: 'download', actorId: patient.id, emrId: record.id });
    expect((await readAsPatient(patient, opening)).equals(Buffer.from(record.content))).toBe(true);
  });

  it('openEmr needs the caller’s signature over exactly these arguments; without a grant only the patient opens', async () => {
    await refused(doctor.client.request(OPEN, { e: record.id, g: null, s: signFor(t, doctor, 'openEmr', { emrId: record.id }) }), 'BAD_USER_INPUT', /grantId: is required/);
    // signed for another record, or by another key: refused before the ledger
    const mine = await grantAccess(t, patient, record.id, doctor.id, await termsFor(patient, pubHex(doctor.encryptionKey), { threshold }));
    await refused(
      doctor.client.request(OPEN, { e: record.id, g: mine.id, s: signFor(t, { id: doctor.id, signingKey: SecretKey.random() }, 'openEmr', { emrId: record.id, grantId: mine.id }) }),
      'BAD_USER_INPUT',
      /signed.signature: does not verify/,
    );
    await refused(doctor.client.request(OPEN, { e: record.id, g: mine.id, s: signFor(t, doctor, 'openEmr', { emrId: record.id }) }), 'BAD_USER_INPUT', /signed.signature: does not verify/);
    await refused(doctor.client.request(OPEN, { e: record.id, g: mine.id, s: { ...signFor(t, doctor, 'openEmr', { emrId: record.id, grantId: mine.id }), nonce: 'xyz' } }), 'BAD_USER_INPUT', /signed.nonce/);
  });
});

describe('refusals with the contract’s reasons', () => {
  let researcher: KeyHolder;
  beforeAll(async () => {
    researcher = await registerWithKeys(t, 'RESEARCHER', { clearance: 'LOW' });
  });
  const lowSummary = { category: 'CLINICAL_TRIAL_OBSERVATION', securityLevel: 'LOW', year: 2023 };

  it('clearance below the policy’s minimum', async () => {
    const r = await recordContent(author, patient.id, randomBytes(500), lowSummary, 'text/csv');
    await setRecordPolicy(t, patient, r.id, { minClearance: 'MODERATE' });
    await refused(requestAccess(t, researcher, r.id), 'FORBIDDEN', /^CLEARANCE_BELOW_POLICY_MINIMUM: /);
  });

  it('the deny list', async () => {
    const r = await recordContent(author, patient.id, randomBytes(500), lowSummary, 'text/csv');
    await setRecordPolicy(t, patient, r.id, { deny: [researcher.id] });
    await refused(requestAccess(t, researcher, r.id), 'FORBIDDEN', /^DENIED_BY_POLICY: /);
  });

  it('an expired policy', async () => {
    const r = await recordContent(author, patient.id, randomBytes(500), lowSummary, 'text/csv');
    await setRecordPolicy(t, patient, r.id, { expiresAt: new Date(Date.now() - 60_000).toISOString() });
    await refused(requestAccess(t, researcher, r.id), 'FORBIDDEN', /^POLICY_EXPIRED: /);
  });

  it('a second pending request for the same record', async () => {
    const r = await recordContent(author, patient.id, randomBytes(500), lowSummary, 'text/csv');
    await requestAccess(t, researcher, r.id);
    await refused(requestAccess(t, researcher, r.id), 'CONFLICT', /already pending/);
  });

  it('a record the requester may not see is NOT_FOUND, as one that does not exist (no oracle)', async () => {
    const a = await refused(requestAccess(t, researcher, record.id), 'NOT_FOUND');
    const b = await refused(requestAccess(t, researcher, 'no-such-record'), 'NOT_FOUND');
    expect(a.message.replace(record.id, 'X')).toBe(b.message.replace('no-such-record', 'X'));
  });

  it('a participant with its own keys must sign; a wrong signature or kind is refused before the ledger', async () => {
    const h = t.node.devnet!.ledger.height;
    await refused(doctor.client.request(REQUEST, { e: record.id, p: 'x' }), 'BAD_USER_INPUT', /sign the request-access action in your client/);
    await refused(doctor.client.request(REQUEST, { e: record.id, p: 'changed', s: signFor(t, doctor, 'requestAccess', { emrId: record.id, purpose: 'signed' }) }), 'BAD_USER_INPUT', /does not verify/);
    await refused(patient.client.request(REQUEST, { e: record.id, p: 'x', s: signFor(t, patient, 'requestAccess', { emrId: record.id, purpose: 'x' }) }), 'FORBIDDEN', /requestAccess: only a physician or researcher or insurer/);
    await refused(doctor.client.request(REQUEST, { e: record.id, p: '', s: signFor(t, doctor, 'requestAccess', { emrId: record.id, purpose: '' }) }), 'BAD_USER_INPUT', /purpose: must not be empty/);
    expect(t.node.devnet!.ledger.height).toBe(h);
  });

  it('approving with kfrags for an unregistered proxy or an impossible threshold is refused before the ledger', async () => {
    const someone = await registerWithKeys(t, 'PHYSICIAN');
    const request = await requestAccess(t, someone, record.id);
    const terms = await termsFor(patient, pubHex(someone.encryptionKey), { threshold });
    const h = t.node.devnet!.ledger.height;
    const send = (over: Partial<typeof terms>) => {
      const x = { ...terms, ...over };
      return patient.client.request(APPROVE, { r: request.id, f: x.validFrom, u: x.validUntil, t: x.threshold, k: x.kfrags, s: signFor(t, patient, 'approveAccessRequest', { requestId: request.id, ...x }) });
    };
    const stranger = [{ id: 'Hospital9MSP.proxy.1', organisation: 'Hospital9MSP', encryptionKey: pubHex(SecretKey.random()) }];
    await refused(send({ kfrags: sealedKFrags(patient, pubHex(someone.encryptionKey), stranger, 1), threshold: 1 }), 'BAD_USER_INPUT', /kfrags\[0\]\.proxyId: Hospital9MSP.proxy.1 is not a registered proxy/);
    await refused(send({ threshold: proxies.length + 1 }), 'BAD_USER_INPUT', /threshold: must be between 1 and/);
    await refused(send({ validUntil: terms.validFrom }), 'BAD_USER_INPUT', /validUntil: must be after validFrom/);
    await refused(send({ validFrom: 'yesterday' }), 'BAD_USER_INPUT', /validFrom: must be an ISO-8601/);
    expect(t.node.devnet!.ledger.height).toBe(h);
  });
});

describe('deny, revoke, expiry', () => {
  it('deny: the request is DENIED with its time, and cannot be approved afterwards', async () => {
    const requester = await registerWithKeys(t, 'PHYSICIAN');
    const request = await requestAccess(t, requester, record.id);
    const args = { requestId: request.id, reason: 'not now' };
    const denied = (await patient.client.request<{ denyAccessRequest: { status: string; decidedAt: string } }>(DENY, { r: request.id, why: 'not now', s: signFor(t, patient, 'denyAccessRequest', args) }))
      .denyAccessRequest;
    expect(denied).toMatchObject({ status: 'DENIED', decidedAt: expect.any(String) });
    expect((await requester.client.request<{ accessRequest: { status: string } }>(ONE_REQUEST, { id: request.id })).accessRequest.status).toBe('DENIED');
    await refused(approve(t, patient, request.id, await termsFor(patient, pubHex(requester.encryptionKey))), 'CONFLICT', /already denied/);
    // the requester cannot decide its own request
    await refused(requester.client.request(DENY, { r: request.id, s: signFor(t, requester, 'denyAccessRequest', { requestId: request.id }) }), 'FORBIDDEN', /only a patient/);
  });

  it('revoke: the grant shows revokedAt, the next openEmr is FORBIDDEN REVOKED, and it cannot be revoked twice', async () => {
    const reader = await registerWithKeys(t, 'PHYSICIAN');
    const grant = await grantAccess(t, patient, record.id, reader.id, await termsFor(patient, pubHex(reader.encryptionKey), { threshold }));
    expect((await readWithCFrags(reader, await openEmr(t, reader, record.id, grant.id))).equals(Buffer.from(record.content))).toBe(true);

    const revoked = (await patient.client.request<{ revokeGrant: { revokedAt: string | null; live: boolean } }>(REVOKE, { g: grant.id, s: signFor(t, patient, 'revokeGrant', { grantId: grant.id }) }))
      .revokeGrant;
    expect(revoked).toMatchObject({ revokedAt: expect.any(String), live: false });
    await refused(openEmr(t, reader, record.id, grant.id), 'FORBIDDEN', /^REVOKED: /);
    expect((await reader.client.request<{ grants: unknown[] }>(GRANTS, { l: true })).grants).toEqual([]);
    await refused(patient.client.request(REVOKE, { g: grant.id, s: signFor(t, patient, 'revokeGrant', { grantId: grant.id }) }), 'CONFLICT', /already revoked/);
  }, 60_000);

  it('an expired grant cannot be opened', async () => {
    const reader = await registerWithKeys(t, 'PHYSICIAN');
    const terms = await termsFor(patient, pubHex(reader.encryptionKey), { threshold, ms: 3_000 });
    const grant = await grantAccess(t, patient, record.id, reader.id, terms);
    const wait = Date.parse(terms.validUntil) - Date.now() + 300;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await refused(openEmr(t, reader, record.id, grant.id), 'FORBIDDEN', /^EXPIRED: /);
    expect((await reader.client.request<{ grants: { id: string; live: boolean }[] }>(GRANTS, {})).grants).toEqual([expect.objectContaining({ id: grant.id, live: false })]);
  });
});

describe('least privilege', () => {
  let stranger: KeyHolder;
  let otherPatient: KeyHolder;
  let request: { id: string };
  let grant: { id: string };
  let grantee: KeyHolder;
  beforeAll(async () => {
    stranger = await registerWithKeys(t, 'PHYSICIAN');
    otherPatient = await registerWithKeys(t, 'PATIENT');
    grantee = await registerWithKeys(t, 'PHYSICIAN');
    request = await requestAccess(t, grantee, record.id);
    grant = await approve(t, patient, request.id, await termsFor(patient, pubHex(grantee.encryptionKey), { threshold }));
    // a second grantee on the same record
    const second = await registerWithKeys(t, 'PHYSICIAN');
    await grantAccess(t, patient, record.id, second.id, await termsFor(patient, pubHex(second.encryptionKey), { threshold }));
  }, 60_000);

  it('a stranger cannot read another’s request or grant: NOT_FOUND, as for ids that do not exist', async () => {
    for (const c of [stranger.client, otherPatient.client]) {
      await refused(c.request(ONE_REQUEST, { id: request.id }), 'NOT_FOUND', /access request .* not found/);
      await refused(c.request(ONE_GRANT, { id: grant.id }), 'NOT_FOUND', /grant .* not found/);
    }
    await refused(stranger.client.request(ONE_GRANT, { id: 'grant-that-does-not-exist' }), 'NOT_FOUND', /grant .* not found/);
    // the parties can
    expect((await grantee.client.request<{ grant: { id: string } }>(ONE_GRANT, { id: grant.id })).grant.id).toBe(grant.id);
    expect((await patient.client.request<{ grant: { id: string } }>(ONE_GRANT, { id: grant.id })).grant.id).toBe(grant.id);
    expect((await patient.client.request<{ accessRequest: { id: string } }>(ONE_REQUEST, { id: request.id })).accessRequest.id).toBe(request.id);
  });

  it('a grantee’s listings hold only its own grants and requests; the patient’s hold every one on the patient’s records', async () => {
    const mine = (await grantee.client.request<{ grants: { id: string; granteeId: string }[] }>(GRANTS, { e: record.id })).grants;
    expect(mine.map((g) => g.granteeId)).toEqual([grantee.id]);
    expect((await stranger.client.request<{ grants: unknown[] }>(GRANTS, { e: record.id })).grants).toEqual([]);
    expect((await stranger.client.request<{ accessRequests: unknown[] }>(REQUESTS, { e: record.id })).accessRequests).toEqual([]);
    const all = (await patient.client.request<{ grants: { id: string; granteeId: string }[] }>(GRANTS, { e: record.id })).grants;
    expect(all.length).toBeGreaterThan(1);
    expect(all.map((g) => g.id)).toContain(grant.id);
    expect(new Set(all.map((g) => g.granteeId)).size).toBeGreaterThan(1);
    expect(ids((await patient.client.request<{ grants: { id: string }[] }>(GRANTS, {})).grants)).toEqual(expect.arrayContaining(ids(all)));
    // another patient sees nothing of this patient's, and cannot name the record
    expect((await otherPatient.client.request<{ grants: unknown[] }>(GRANTS, {})).grants).toEqual([]);
    await refused(otherPatient.client.request(GRANTS, { e: record.id }), 'NOT_FOUND');
  });

  it('nobody but the patient approves, denies, grants or revokes', async () => {
    const pending = await requestAccess(t, stranger, record.id);
    const terms = await termsFor(patient, pubHex(stranger.encryptionKey), { threshold });
    // another patient, signing correctly for itself: the request is not found for it
    await refused(approve(t, otherPatient, pending.id, terms), 'NOT_FOUND', /access request .* not found/);
    await refused(otherPatient.client.request(DENY, { r: pending.id, s: signFor(t, otherPatient, 'denyAccessRequest', { requestId: pending.id }) }), 'NOT_FOUND');
    await refused(otherPatient.client.request(REVOKE, { g: grant.id, s: signFor(t, otherPatient, 'revokeGrant', { grantId: grant.id }) }), 'NOT_FOUND');
    await refused(grantAccess(t, otherPatient, record.id, stranger.id, terms), 'NOT_FOUND');
    // physicians (the requester, the grantee, the author) are not patients
    await refused(approve(t, stranger, pending.id, terms), 'FORBIDDEN', /approveAccessRequest: only a patient/);
    await refused(grantee.client.request(REVOKE, { g: grant.id, s: signFor(t, grantee, 'revokeGrant', { grantId: grant.id }) }), 'FORBIDDEN', /revokeGrant: only a patient/);
    // the grant is untouched and the request still pending
    expect((await patient.client.request<{ grant: { live: boolean } }>(ONE_GRANT, { id: grant.id })).grant.live).toBe(true);
    expect((await patient.client.request<{ accessRequest: { status: string } }>(ONE_REQUEST, { id: pending.id })).accessRequest.status).toBe('PENDING');
  });

  it('a grant opens only for its grantee', async () => {
    await refused(openEmr(t, stranger, record.id, grant.id), 'NOT_FOUND', /grant .* not found/);
    await refused(openEmr(t, patient, record.id, grant.id), 'BAD_USER_INPUT', /you open your own records without a grant/);
    const opening = await openEmr(t, grantee, record.id, grant.id);
    expect((await readWithCFrags(grantee, opening)).equals(Buffer.from(record.content))).toBe(true);
  });
});
