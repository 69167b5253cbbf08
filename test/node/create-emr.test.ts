// Recording binary content (POST /blobs) for an author whose signing key stays in its own client, through HTTP:
// prepareCreateEmr checks the content and returns the record and the exact bytes to sign, the client signs locally,
// commitCreateEmr verifies the signature before anything reaches the ledger. PieClient.createEmr does it in one call
// (and uses createEmr for a custodial account). Refusals keep the ledger height and the pins unchanged.
import { createHash, randomBytes } from 'node:crypto';
import { canonicalRecordBytes } from '../../chaincode/src/domain/index.js';
import type { RecordSigningContent } from '../../chaincode/src/domain/index.js';
import type { BlobMetadata, PieClient } from '../../src/client/index.js';
import { decryptEmr, openDekWithSecretKey } from '../../src/crypto/envelope/index.js';
import { SecretKey, Signer } from '../../src/crypto/umbral/index.js';
import { bytesOf, hex, registerCustodial, registerWithKeys, refused, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';

let t: TestNode;
let author: KeyHolder; // a physician with its own keys
let patient: KeyHolder;
beforeAll(async () => {
  t = await startTestNode();
  author = await registerWithKeys(t, 'PHYSICIAN');
  patient = await registerWithKeys(t, 'PATIENT');
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const CREATE = 'mutation($i: CreateEmrInput!) { createEmr(input: $i) { id } }';
const PREPARE = 'mutation($i: CreateEmrInput!) { prepareCreateEmr(input: $i) { draftId expiresAt record signingPayload } }';
const COMMIT = 'mutation($d: ID!, $s: String!) { commitCreateEmr(draftId: $d, signature: $s) { id authorId patientId transactionId blockNumber metadata { cid } } }';

interface Draft {
  draftId: string;
  expiresAt: string;
  record: RecordSigningContent;
  signingPayload: string;
}

const SUMMARY = { category: 'MEDICAL_IMAGING', securityLevel: 'PRIVATE', year: 2024, resourceTypes: ['ImagingStudy'], codes: ['http://dicom.nema.org/resources/ontology/DCM|MR'] };

/** The createEmr input for uploaded content (the upload's answer, minus what the input does not take). */
const inputFor = (patientId: string, m: BlobMetadata, summary: Record<string, unknown> = SUMMARY) => ({
  patientId,
  cid: m.cid,
  size: m.size,
  contentHash: m.contentHash,
  capsule: m.capsule,
  envelopeVersion: m.envelopeVersion,
  mediaType: m.mediaType,
  summary,
});

const sign = (sk: SecretKey, payloadBase64: string): string => hex(new Signer(sk).sign(Buffer.from(payloadBase64, 'base64')).toBEBytes());

async function pins(): Promise<string[]> {
  const out: string[] = [];
  for await (const cid of t.node.storage.blobs.pins()) out.push(cid.toString());
  return out.sort();
}
const height = (): number => t.node.devnet!.ledger.height;

/** Runs `attempt` (which must be refused) and checks that nothing was recorded, stored or unpinned. */
async function nothingWritten<T>(attempt: () => Promise<T>): Promise<T> {
  const before = { height: height(), pins: await pins() };
  const result = await attempt();
  expect({ height: height(), pins: await pins() }).toEqual(before);
  return result;
}

async function prepare(client: PieClient, input: Record<string, unknown>): Promise<Draft> {
  return (await client.request<{ prepareCreateEmr: Draft }>(PREPARE, { i: input })).prepareCreateEmr;
}

describe('prepare, sign in the client, commit', () => {
  it('createEmr itself is refused to an author with its own key, pointing to prepareCreateEmr; nothing written', async () => {
    const blob = await author.client.uploadBlob(patient.id, randomBytes(500), 'application/pdf');
    await nothingWritten(() => refused(author.client.request(CREATE, { i: inputFor(patient.id, blob) }), 'BAD_USER_INPUT', /use prepareCreateEmr/));
  });

  it('the draft is the record asked for; wrong signatures are refused before the ledger and the draft stays; the right one records it once', async () => {
    const content = randomBytes(70_000);
    const blob = await author.client.uploadBlob(patient.id, content, 'application/dicom');
    const h0 = height();
    const draft = await prepare(author.client, inputFor(patient.id, blob));
    expect(draft.draftId).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(draft.expiresAt)).toBeGreaterThan(Date.now());
    expect(draft.record).toMatchObject({
      version: 1,
      patientId: patient.id,
      authorId: author.id,
      hospital: 'Hospital1MSP',
      metadata: { cid: blob.cid, size: blob.size, contentHash: blob.contentHash, capsule: blob.capsule, envelopeVersion: 1, mediaType: 'application/dicom' },
      summary: { category: 'medical-imaging', securityLevel: 'PRIVATE', year: 2024, resourceTypes: ['ImagingStudy'], labels: [] },
    });
    expect(draft.record).not.toHaveProperty('authorSignature');
    expect(draft.record).not.toHaveProperty('timestamp');
    // the payload is exactly the canonical bytes of the record shown
    expect(Buffer.from(draft.signingPayload, 'base64').equals(canonicalRecordBytes(draft.record))).toBe(true);
    expect(height()).toBe(h0);

    // signed by another key, a signature of other bytes, garbage: BAD_USER_INPUT, no transaction
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: sign(SecretKey.random(), draft.signingPayload) }), 'BAD_USER_INPUT', /does not verify under your registered signing key/));
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: sign(author.signingKey, Buffer.from('other bytes').toString('base64')) }), 'BAD_USER_INPUT', /does not verify/));
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: 'zz' }), 'BAD_USER_INPUT', /signature: must be 64 bytes/));
    // someone else cannot commit (nor learn of) the draft, even with the right signature
    const good = sign(author.signingKey, draft.signingPayload);
    const other = await registerWithKeys(t, 'PHYSICIAN');
    const custodial = await registerCustodial(t, 'PHYSICIAN');
    for (const c of [other.client, custodial.client, patient.client]) {
      await nothingWritten(() => refused(c.request(COMMIT, { d: draft.draftId, s: good }), 'NOT_FOUND', /no pending upload/));
    }

    const h1 = height(); // the two registrations above were transactions
    const { commitCreateEmr } = await author.client.request<{ commitCreateEmr: { id: string; authorId: string; patientId: string; transactionId: string; blockNumber: number; metadata: { cid: string } } }>(
      COMMIT,
      { d: draft.draftId, s: good.toUpperCase() },
    );
    expect(commitCreateEmr).toMatchObject({ id: draft.record.id, authorId: author.id, patientId: patient.id, metadata: { cid: blob.cid } });
    expect(height()).toBe(h1 + 1);
    expect(commitCreateEmr.blockNumber).toBe(h1);
    expect(t.node.devnet!.ledger.txStatus(commitCreateEmr.transactionId)).toEqual({ code: 0, blockNum: h1 });

    // on the ledger, signed by the author's own key; the patient decrypts the content
    const { emr } = await patient.client.request<{ emr: { authorId: string; signatureValid: boolean; authorSignature: string } }>(
      'query($id: ID!) { emr(id: $id) { authorId signatureValid authorSignature } }',
      { id: draft.record.id },
    );
    expect(emr).toEqual({ authorId: author.id, signatureValid: true, authorSignature: good });
    const envelope = await bytesOf(await patient.client.downloadBlob(blob.cid));
    const plain: Uint8Array[] = [];
    for await (const p of decryptEmr([envelope], (_h, kb) => openDekWithSecretKey(kb, patient.encryptionKey))) plain.push(p);
    expect(Buffer.concat(plain).equals(content)).toBe(true);

    // committed once: the draft is gone, and the content cannot be recorded again
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: good }), 'NOT_FOUND', /no pending upload/));
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: inputFor(patient.id, blob) }), 'CONFLICT', /already recorded/));
  });

  it('of two drafts of the same content, the second commit is a CONFLICT', async () => {
    const blob = await author.client.uploadBlob(patient.id, randomBytes(1000), 'text/csv');
    const summary = { category: 'CLINICAL_TRIAL_OBSERVATION', securityLevel: 'LOW', year: 2023 };
    const first = await prepare(author.client, inputFor(patient.id, blob, summary));
    const second = await prepare(author.client, inputFor(patient.id, blob, summary));
    await author.client.request(COMMIT, { d: first.draftId, s: sign(author.signingKey, first.signingPayload) });
    await nothingWritten(() => refused(author.client.request(COMMIT, { d: second.draftId, s: sign(author.signingKey, second.signingPayload) }), 'CONFLICT', /already recorded/));
  });

  it('a draft id that never existed is NOT_FOUND', async () => {
    await refused(author.client.request(COMMIT, { d: randomBytes(16).toString('hex'), s: '00'.repeat(64) }), 'NOT_FOUND', /no pending upload/);
  });
});

describe('prepareCreateEmr refuses what the ledger would, before any draft', () => {
  let blob: BlobMetadata;
  beforeAll(async () => {
    blob = await author.client.uploadBlob(patient.id, randomBytes(3000), 'application/pdf');
  });

  it('metadata that is not the stored content’s: size, capsule, an unknown CID, a malformed one', async () => {
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: { ...inputFor(patient.id, blob), size: blob.size + 1 } }), 'BAD_USER_INPUT', /input.size/));
    const other = await author.client.uploadBlob(patient.id, randomBytes(100), 'application/pdf');
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: { ...inputFor(patient.id, blob), capsule: other.capsule } }), 'BAD_USER_INPUT', /input.capsule: is not the capsule/));
    const unknown = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: { ...inputFor(patient.id, blob), cid: unknown } }), 'NOT_FOUND'));
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: { ...inputFor(patient.id, blob), cid: 'not a cid' } }), 'BAD_USER_INPUT', /input.cid/));
  });

  it('a summary the ledger refuses (a medical image below PRIVATE, a bad code), with the field named', async () => {
    await nothingWritten(() =>
      refused(author.client.request(PREPARE, { i: inputFor(patient.id, blob, { ...SUMMARY, securityLevel: 'LOW' }) }), 'BAD_USER_INPUT', /input.summary.securityLevel: a medical-imaging record is at least PRIVATE/),
    );
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: inputFor(patient.id, blob, { ...SUMMARY, codes: ['no-bar'] }) }), 'BAD_USER_INPUT', /input.summary.codes\[0\]/));
  });

  it('parties: a researcher, a patient for another patient, a patient id that is not a patient’s', async () => {
    const researcher = await registerWithKeys(t, 'RESEARCHER', { clearance: 'LOW' });
    await nothingWritten(() => refused(researcher.client.request(PREPARE, { i: inputFor(patient.id, blob) }), 'FORBIDDEN', /prepareCreateEmr: only a physician or patient/));
    const otherPatient = await registerWithKeys(t, 'PATIENT');
    await nothingWritten(() => refused(otherPatient.client.request(PREPARE, { i: inputFor(patient.id, blob) }), 'FORBIDDEN', /may not author records/));
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: inputFor(author.id, blob) }), 'BAD_USER_INPUT', /is a physician, not a patient/));
    await nothingWritten(() => refused(author.client.request(PREPARE, { i: inputFor('nope', blob) }), 'BAD_USER_INPUT', /patientId: must be a participant id/));
  });
});

describe('PieClient.createEmr', () => {
  it('an author with its own key: one call (prepare, check, sign locally, commit)', async () => {
    const content = randomBytes(5000);
    const blob = await author.client.uploadBlob(patient.id, content, 'application/pdf');
    const h0 = height();
    const created = await author.client.createEmr({ patientId: patient.id, ...blob, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2022, gender: 'FEMALE', labels: ['R'] } });
    expect(created).toMatchObject({
      version: 1,
      patientId: patient.id,
      authorId: author.id,
      blockNumber: h0,
      summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2022, gender: 'FEMALE', labels: ['R'], codes: [], ageBand: null },
      metadata: { cid: blob.cid, size: blob.size, contentHash: createHash('sha256').update(content).digest('hex') },
    });
    expect(created.transactionId).toMatch(/^[0-9a-f]{64}$/);
    expect(height()).toBe(h0 + 1);
  });

  it('a custodial account: the node signs (createEmr)', async () => {
    const doctor = await registerCustodial(t, 'PHYSICIAN');
    const blob = await doctor.client.uploadBlob(patient.id, randomBytes(800), 'text/csv');
    const created = await doctor.client.createEmr({ patientId: patient.id, ...blob, summary: { category: 'CLINICAL_TRIAL_OBSERVATION', securityLevel: 'LOW', year: 2024 } });
    expect(created).toMatchObject({ authorId: doctor.id, patientId: patient.id, metadata: { cid: blob.cid } });
    expect(created.blockNumber).toBe(height() - 1);
  });

  it('refusals reach the caller with their code; a record the ledger refuses is not signed', async () => {
    const blob = await author.client.uploadBlob(patient.id, randomBytes(100), 'text/csv');
    await nothingWritten(() =>
      refused(author.client.createEmr({ patientId: patient.id, ...blob, size: blob.size + 1, summary: { category: 'CLINICAL_TRIAL_OBSERVATION', securityLevel: 'LOW', year: 2024 } }), 'BAD_USER_INPUT', /input.size/),
    );
  });
});

describe('an expired draft', () => {
  let short: TestNode;
  beforeAll(async () => {
    short = await startTestNode({ PIE_DRAFT_TTL_SECONDS: '1' });
  }, 60_000);
  afterAll(async () => {
    await short?.stop();
  });

  it('is NOT_FOUND after its time to live, and nothing is written; a new draft of the same content commits', async () => {
    const physician = await registerWithKeys(short, 'PHYSICIAN');
    const p = await registerWithKeys(short, 'PATIENT');
    const blob = await physician.client.uploadBlob(p.id, randomBytes(400), 'application/pdf');
    const input = inputFor(p.id, blob, { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2020 });
    const draft = (await physician.client.request<{ prepareCreateEmr: Draft }>(PREPARE, { i: input })).prepareCreateEmr;
    expect(Date.parse(draft.expiresAt) - Date.now()).toBeLessThanOrEqual(1_000);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const h = short.node.devnet!.ledger.height;
    await refused(physician.client.request(COMMIT, { d: draft.draftId, s: sign(physician.signingKey, draft.signingPayload) }), 'NOT_FOUND', /it may have expired/);
    expect(short.node.devnet!.ledger.height).toBe(h);
    // the content is still there (a draft holds none of its own): prepare again and commit at once
    const created = await physician.client.createEmr({ ...input, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2020 } });
    expect(created.metadata.cid).toBe(blob.cid);
  });
});
