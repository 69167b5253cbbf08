// Custodial accounts and break-glass through a real node (docs/sharing.md): the node signs for accounts whose keys it
// holds and reads for them (GET /emrs/:id/content), and serves an emergency grant through the treating physician's
// delegation, sealing the DEK to the emergency physician's key.
import { createHash, randomBytes } from 'node:crypto';
import { registerWithKeys, refused, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';
import {
  GRANT_FIELDS,
  approve,
  custodialPhysician,
  encryptionKeyOf,
  grantAccess,
  openEmr,
  pubHex,
  readContent,
  readWithEmergencyKey,
  recordContent,
  setRecordPolicy,
  signFor,
  termsFor,
} from './sharing-helpers.js';

let t: TestNode;
let patient: KeyHolder;
let author: Awaited<ReturnType<typeof custodialPhysician>>; // the treating physician, custodial
let record: { id: string; content: Uint8Array };
let threshold: number;

beforeAll(async () => {
  t = await startTestNode();
  patient = await registerWithKeys(t, 'PATIENT');
  author = await custodialPhysician(t);
  record = await recordContent(author, patient.id, randomBytes(200_000));
  threshold = Math.min(2, (await t.node.services.ledger.proxies()).length);
}, 120_000);
afterAll(async () => {
  await t?.stop();
});

const REQUEST = 'mutation($e: ID!, $p: String!) { requestAccess(emrId: $e, purpose: $p) { id status requesterId } }';
const BREAK = `mutation($e: ID!, $j: String!, $m: Int, $s: ActionSignatureInput) { breakGlass(emrId: $e, justification: $j, durationMinutes: $m, signed: $s) { ${GRANT_FIELDS} } }`;
const GRANTS = `query($e: ID) { grants(emrId: $e) { ${GRANT_FIELDS} } }`;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A treating grant (Algorithm 1) from the patient to the record's author. */
async function treat(r: { id: string }, authorId: string): Promise<{ id: string; kind: string }> {
  return grantAccess(t, patient, r.id, authorId, await termsFor(patient, await encryptionKeyOf(patient.client, authorId), { threshold }));
}

describe('custodial accounts', () => {
  it('a custodial physician requests without a signature (the node signs), and once approved reads the content through GET /emrs/:id/content', async () => {
    const reader = await custodialPhysician(t);
    const { requestAccess } = await reader.client.request<{ requestAccess: { id: string; status: string; requesterId: string } }>(REQUEST, { e: record.id, p: 'referral' });
    expect(requestAccess).toMatchObject({ status: 'PENDING', requesterId: reader.id });
    // nothing to read before the patient approves
    const early = await readContent(reader.client, record.id);
    expect({ status: early.status, code: early.error?.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(early.error?.message).toMatch(/no live grant/);

    const grant = await approve(t, patient, requestAccess.id, await termsFor(patient, await encryptionKeyOf(patient.client, reader.id), { threshold }));
    const read = await readContent(reader.client, record.id);
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toBe('application/pdf');
    expect(read.headers.get('x-pie-content-sha256')).toBe(sha256(record.content));
    expect(read.body.equals(Buffer.from(record.content))).toBe(true);
    const operationId = read.headers.get('x-pie-operation-id')!;
    expect(await t.node.services.ledger.operation(operationId)).toMatchObject({ kind: 'reencrypt', actorId: reader.id, emrId: record.id, grantId: grant.id });

    // naming the grant: another operation, the same content
    const again = await readContent(reader.client, record.id, grant.id);
    expect(again.status).toBe(200);
    expect(again.headers.get('x-pie-operation-id')).not.toBe(operationId);
    expect(again.body.equals(Buffer.from(record.content))).toBe(true);
  }, 60_000);

  it('the author reads back its upload through the patient’s treating grant', async () => {
    const r = await recordContent(author, patient.id, randomBytes(1_000), { category: 'CLINICAL_TRIAL_OBSERVATION', securityLevel: 'LOW', year: 2022 }, 'text/csv');
    const before = await readContent(author.client, r.id);
    expect(before.error?.code).toBe('FORBIDDEN');
    const grant = await treat(r, author.id);
    expect(grant.kind).toBe('TREATING');
    const read = await readContent(author.client, r.id);
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toBe('text/csv');
    expect(read.body.equals(Buffer.from(r.content))).toBe(true);
  });

  it('content that does not match the ledger’s hash is cut off mid-stream (the response is destroyed, never ended)', async () => {
    // the node cannot check a plaintext hash at upload (it never decrypts): an author may record a wrong one
    const content = randomBytes(100_000);
    const blob = await author.client.uploadBlob(patient.id, content, 'application/pdf');
    const created = (await author.client.createEmr({
      patientId: patient.id,
      ...blob,
      contentHash: sha256(Buffer.from('something else')),
      summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2024 },
    } as never)) as { id: string };
    await treat(created, author.id);
    const token = await author.client.token();
    const res = await fetch(`${t.node.url}/emrs/${created.id}/content`, { headers: { authorization: `Bearer ${token!}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pie-content-sha256')).toBe(sha256(Buffer.from('something else')));
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('refusals: participants with their own keys use openEmr; a record the caller may not see; someone else’s grant; no token', async () => {
    const own = await registerWithKeys(t, 'PHYSICIAN');
    const a = await readContent(own.client, record.id);
    expect({ status: a.status, code: a.error?.code }).toEqual({ status: 400, code: 'BAD_USER_INPUT' });
    expect(a.error?.message).toMatch(/use openEmr|call openEmr/);
    const p = await readContent(patient.client, record.id);
    expect(p.error?.code).toBe('BAD_USER_INPUT');

    const lowClearance = await custodialPhysician(t, { clearance: 'LOW' });
    const unseen = await readContent(lowClearance.client, record.id);
    const missing = await readContent(lowClearance.client, 'no-such-record');
    expect([unseen.status, missing.status]).toEqual([404, 404]);
    expect(unseen.error!.message.replace(record.id, 'X')).toBe(missing.error!.message.replace('no-such-record', 'X'));

    const other = await custodialPhysician(t);
    const grants = (await patient.client.request<{ grants: { id: string; granteeId: string }[] }>(GRANTS, { e: record.id })).grants;
    const someoneElses = grants.find((g) => g.granteeId !== other.id)!;
    const foreign = await readContent(other.client, record.id, someoneElses.id);
    expect({ status: foreign.status, code: foreign.error?.code }).toEqual({ status: 404, code: 'NOT_FOUND' });

    const res = await fetch(`${t.node.url}/emrs/${record.id}/content`);
    expect(res.status).toBe(401);
  });
});

describe('break-glass', () => {
  let er: KeyHolder; // an emergency physician with its own keys
  beforeAll(async () => {
    er = await registerWithKeys(t, 'PHYSICIAN', { roles: ['emergency'] });
  });

  async function breakGlass(who: { id: string; signingKey: KeyHolder['signingKey']; client: KeyHolder['client'] }, emrId: string, minutes?: number) {
    const justification = 'unconscious patient in the emergency room';
    const s = signFor(t, who, 'breakGlass', { emrId, justification, durationMinutes: minutes });
    return (await who.client.request<{ breakGlass: { id: string; kind: string; justification: string; notBefore: string; notAfter: string; shares: number } }>(BREAK, { e: emrId, j: justification, m: minutes ?? null, s }))
      .breakGlass;
  }

  it('opens through the treating physician’s delegation: the emergency key opens the record, and the patient sees the emergency grant', async () => {
    await treat(record, author.id);
    const grant = await breakGlass(er, record.id, 15);
    expect(grant).toMatchObject({ kind: 'EMERGENCY', justification: 'unconscious patient in the emergency room', shares: 0 });
    expect(Date.parse(grant.notAfter) - Date.parse(grant.notBefore)).toBe(15 * 60_000);

    const opening = await openEmr(t, er, record.id, grant.id);
    expect(opening).toMatchObject({ grantId: grant.id, threshold: 0, cfrags: [], emergencyKey: expect.any(String) });
    expect((await readWithEmergencyKey(er, opening)).equals(Buffer.from(record.content))).toBe(true);
    expect(await t.node.services.ledger.operation(opening.operationId)).toMatchObject({ kind: 'reencrypt', actorId: er.id, grantId: grant.id });
    // the key is sealed to the emergency physician: nobody else opens it
    const someone = await registerWithKeys(t, 'PHYSICIAN');
    await expect(readWithEmergencyKey(someone, opening)).rejects.toThrow(/cannot be opened with this key/);

    const forPatient = (await patient.client.request<{ grants: { id: string; kind: string }[] }>(GRANTS, {})).grants;
    expect(forPatient).toContainEqual(expect.objectContaining({ id: grant.id, kind: 'EMERGENCY' }));
  }, 60_000);

  it('a custodial emergency physician reads the content directly', async () => {
    const custodialEr = await custodialPhysician(t, { roles: ['emergency'] });
    const grant = (await custodialEr.client.request<{ breakGlass: { id: string } }>(BREAK, { e: record.id, j: 'cardiac arrest, no consent possible' })).breakGlass;
    const read = await readContent(custodialEr.client, record.id, grant.id);
    expect(read.status).toBe(200);
    expect(read.body.equals(Buffer.from(record.content))).toBe(true);
    expect(await t.node.services.ledger.operation(read.headers.get('x-pie-operation-id')!)).toMatchObject({ actorId: custodialEr.id, grantId: grant.id });
  });

  it('refused on a policy without emergencyAllowed, and for a physician without the emergency role', async () => {
    const r = await recordContent(author, patient.id, randomBytes(500));
    await setRecordPolicy(t, patient, r.id, { emergencyAllowed: false });
    await refused(breakGlass(er, r.id), 'FORBIDDEN', /^EMERGENCY_NOT_ALLOWED: /);
    const plain = await registerWithKeys(t, 'PHYSICIAN');
    await refused(breakGlass(plain, record.id), 'FORBIDDEN', /^NOT_EMERGENCY_PHYSICIAN: /);
    const patientTries = signFor(t, patient, 'breakGlass', { emrId: record.id, justification: 'x'.repeat(20) });
    await refused(patient.client.request(BREAK, { e: record.id, j: 'x'.repeat(20), s: patientTries }), 'FORBIDDEN', /breakGlass: only a physician/);
    await refused(breakGlass(er, record.id, 61), 'BAD_USER_INPUT', /durationMinutes: must be between 1 and 60/);
  });

  it('without a treating path the opening is a CONFLICT that says why', async () => {
    // no treating grant
    const untreated = await recordContent(author, patient.id, randomBytes(500));
    const g1 = await breakGlass(er, untreated.id);
    await refused(openEmr(t, er, untreated.id, g1.id), 'CONFLICT', /no live treating grant/);
    // the author's key is not held by this node
    const ownKeys = await registerWithKeys(t, 'PHYSICIAN');
    const blob = await ownKeys.client.uploadBlob(patient.id, randomBytes(500), 'application/pdf');
    const byOwn = await ownKeys.client.createEmr({ patientId: patient.id, ...blob, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2024 } } as never);
    const r2 = { id: (byOwn as { id: string }).id };
    await grantAccess(t, patient, r2.id, ownKeys.id, await termsFor(patient, pubHex(ownKeys.encryptionKey), { threshold }));
    const g2 = await breakGlass(er, r2.id);
    await refused(openEmr(t, er, r2.id, g2.id), 'CONFLICT', /treating physician’s key is not held by this node/);
  });
});
