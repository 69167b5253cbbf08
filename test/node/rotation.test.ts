// Key rotation (data version update) on a real node: content re-uploaded through POST /blobs becomes version n + 1 of
// the record chain (prepareRotateEmrKey → sign in the client → commitCreateEmr; rotateEmrKey for custodial authors),
// with the same patient, summary and media type and a new CID and capsule; every grant on older versions ends.
// Refusals (a superseded version, a stranger, content already recorded, metadata that does not match the stored
// content, a wrong signature) write nothing.
import { randomBytes } from 'node:crypto';
import { canonicalRecordBytes } from '../../chaincode/src/domain/index.js';
import type { RecordSigningContent } from '../../chaincode/src/domain/index.js';
import type { BlobMetadata, PieClient } from '../../src/client/index.js';
import { decryptEmr, openDekWithSecretKey } from '../../src/crypto/envelope/index.js';
import { SecretKey, Signer } from '../../src/crypto/umbral/index.js';
import { bytesOf, hex, registerCustodial, registerWithKeys, refused, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';
import { grantAccess } from './ledger-actions.js';

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

const PREPARE = 'mutation($e: ID!, $c: RotatedContentInput!) { prepareRotateEmrKey(emrId: $e, content: $c) { draftId expiresAt record signingPayload } }';
const ROTATE = 'mutation($e: ID!, $c: RotatedContentInput!) { rotateEmrKey(emrId: $e, content: $c) { id version previousId authorId } }';
const COMMIT = 'mutation($d: ID!, $s: String!) { commitCreateEmr(draftId: $d, signature: $s) { id version previousId authorId patientId } }';
const EMR = 'query($id: ID!) { emr(id: $id) { id version previousId patientId authorId summary { category securityLevel year codes resourceTypes labels } metadata { cid size contentHash capsule envelopeVersion mediaType } versions { id } } }';

interface Draft {
  draftId: string;
  expiresAt: string;
  record: RecordSigningContent;
  signingPayload: string;
}
interface Emr {
  id: string;
  version: number;
  previousId: string | null;
  patientId: string;
  authorId: string;
  summary: Record<string, unknown>;
  metadata: { cid: string; size: number; contentHash: string; capsule: string; envelopeVersion: number; mediaType: string };
  versions: { id: string }[];
}

const SUMMARY = { category: 'MEDICAL_IMAGING', securityLevel: 'PRIVATE', year: 2024, resourceTypes: ['ImagingStudy'], codes: ['http://dicom.nema.org/resources/ontology/DCM|MR'] };

const sign = (sk: SecretKey, payloadBase64: string): string => hex(new Signer(sk).sign(Buffer.from(payloadBase64, 'base64')).toBEBytes());
const contentOf = (m: BlobMetadata) => ({ cid: m.cid, size: m.size, contentHash: m.contentHash, capsule: m.capsule, envelopeVersion: m.envelopeVersion });
const height = (): number => t.node.devnet!.ledger.height;

/** Version 1 of a record for the patient, authored by `by` (prepare / sign / commit, or createEmr for a custodial author). */
async function firstVersion(by: PieClient, mediaType = 'application/dicom'): Promise<{ id: string; blob: BlobMetadata }> {
  const blob = await by.uploadBlob(patient.id, randomBytes(3000), mediaType);
  const created = await by.createEmr({ patientId: patient.id, ...contentOf(blob), mediaType, summary: SUMMARY });
  return { id: created.id, blob };
}

const prepare = async (client: PieClient, emrId: string, content: Record<string, unknown>): Promise<Draft> =>
  (await client.request<{ prepareRotateEmrKey: Draft }>(PREPARE, { e: emrId, c: content })).prepareRotateEmrKey;

const emr = async (client: PieClient, id: string): Promise<Emr> => (await client.request<{ emr: Emr }>(EMR, { id })).emr;

/** Runs `attempt` (which must be refused) and checks that no transaction was made. */
async function nothingRecorded<T>(attempt: () => Promise<T>): Promise<T> {
  const before = height();
  const result = await attempt();
  expect(height()).toBe(before);
  return result;
}

describe('key rotation by the patient', () => {
  it('makes version 2 of the chain with the same summary and a new CID and capsule; the grant on version 1 is SUPERSEDED', async () => {
    const v1 = await firstVersion(author.client);
    const treating = await grantAccess(t, patient, v1.id, author.id);
    expect(await t.node.services.ledger.isGrantLive(treating.id)).toEqual({ live: true });
    const old = await emr(patient.client, v1.id);

    // the patient's client re-uploads the plaintext: a fresh DEK, capsule and CID
    const plaintext = randomBytes(3000);
    const blob = await patient.client.uploadBlob(patient.id, plaintext, 'application/dicom');
    const h0 = height();
    const draft = await prepare(patient.client, v1.id, contentOf(blob));
    expect(height()).toBe(h0);
    expect(draft.record).toMatchObject({
      version: 2,
      previousId: v1.id,
      patientId: patient.id,
      authorId: patient.id,
      hospital: 'Hospital1MSP',
      metadata: { ...contentOf(blob), mediaType: 'application/dicom' },
      summary: { category: 'medical-imaging', securityLevel: 'PRIVATE', year: 2024, resourceTypes: ['ImagingStudy'], codes: SUMMARY.codes, labels: [] },
    });
    expect(draft.record.id).not.toBe(v1.id);
    expect(Buffer.from(draft.signingPayload, 'base64').equals(canonicalRecordBytes(draft.record))).toBe(true);

    const { commitCreateEmr } = await patient.client.request<{ commitCreateEmr: { id: string; version: number; previousId: string; authorId: string } }>(COMMIT, {
      d: draft.draftId,
      s: sign(patient.signingKey, draft.signingPayload),
    });
    expect(commitCreateEmr).toMatchObject({ id: draft.record.id, version: 2, previousId: v1.id, authorId: patient.id });

    const v2 = await emr(patient.client, commitCreateEmr.id);
    expect(v2.summary).toEqual(old.summary);
    expect(v2.metadata.mediaType).toBe(old.metadata.mediaType);
    expect(v2.metadata.cid).not.toBe(old.metadata.cid);
    expect(v2.metadata.capsule).not.toBe(old.metadata.capsule);
    expect(v2.versions.map((v) => v.id)).toEqual([v1.id, v2.id]);
    expect(await t.node.services.ledger.isGrantLive(treating.id)).toMatchObject({ live: false, reason: 'SUPERSEDED' });

    // the new version's content opens with the patient's own key
    const envelope = await bytesOf(await patient.client.downloadBlob(v2.metadata.cid));
    const plain: Uint8Array[] = [];
    for await (const p of decryptEmr([envelope], (_h, kb) => openDekWithSecretKey(kb, patient.encryptionKey))) plain.push(p);
    expect(Buffer.concat(plain).equals(plaintext)).toBe(true);

    // only the head may be rotated: version 1 now is a CONFLICT naming the head
    const again = await patient.client.uploadBlob(patient.id, randomBytes(100), 'application/dicom');
    await nothingRecorded(() => refused(prepare(patient.client, v1.id, contentOf(again)), 'CONFLICT', new RegExp(`superseded by ${v2.id}`)));
    // content already recorded (either version's) is refused
    await nothingRecorded(() => refused(prepare(patient.client, v2.id, contentOf(v1.blob)), 'CONFLICT', /content\.cid: .* is already recorded/));
    await nothingRecorded(() => refused(prepare(patient.client, v2.id, contentOf(blob)), 'CONFLICT', /already recorded/));
  });

  it('a wrong signature is refused before the ledger and the draft stays committable', async () => {
    const v1 = await firstVersion(author.client, 'application/pdf');
    const blob = await patient.client.uploadBlob(patient.id, randomBytes(500), 'application/pdf');
    const draft = await prepare(patient.client, v1.id, contentOf(blob));
    await nothingRecorded(() => refused(patient.client.request(COMMIT, { d: draft.draftId, s: sign(SecretKey.random(), draft.signingPayload) }), 'BAD_USER_INPUT', /does not verify/));
    await nothingRecorded(() => refused(patient.client.request(COMMIT, { d: draft.draftId, s: sign(author.signingKey, draft.signingPayload) }), 'BAD_USER_INPUT', /does not verify/));
    // nobody else can commit it
    await nothingRecorded(() => refused(author.client.request(COMMIT, { d: draft.draftId, s: sign(author.signingKey, draft.signingPayload) }), 'NOT_FOUND'));
    const { commitCreateEmr } = await patient.client.request<{ commitCreateEmr: { version: number; previousId: string } }>(COMMIT, {
      d: draft.draftId,
      s: sign(patient.signingKey, draft.signingPayload),
    });
    expect(commitCreateEmr).toMatchObject({ version: 2, previousId: v1.id });
  });

  it('a draft whose version was superseded meanwhile is a CONFLICT at commit, with no transaction', async () => {
    const v1 = await firstVersion(author.client);
    const [a, b] = [await patient.client.uploadBlob(patient.id, randomBytes(200), 'application/dicom'), await patient.client.uploadBlob(patient.id, randomBytes(200), 'application/dicom')];
    const first = await prepare(patient.client, v1.id, contentOf(a));
    const second = await prepare(patient.client, v1.id, contentOf(b));
    await patient.client.request(COMMIT, { d: first.draftId, s: sign(patient.signingKey, first.signingPayload) });
    await nothingRecorded(() => refused(patient.client.request(COMMIT, { d: second.draftId, s: sign(patient.signingKey, second.signingPayload) }), 'CONFLICT', /superseded/));
  });

  it('metadata must match the stored content: size, the envelope’s own capsule; the input is checked', async () => {
    const v1 = await firstVersion(author.client);
    const blob = await patient.client.uploadBlob(patient.id, randomBytes(400), 'application/dicom');
    const other = await patient.client.uploadBlob(patient.id, randomBytes(400), 'application/dicom');
    await nothingRecorded(() => refused(prepare(patient.client, v1.id, { ...contentOf(blob), size: blob.size + 1 }), 'BAD_USER_INPUT', /^content\.size: /));
    await nothingRecorded(() => refused(prepare(patient.client, v1.id, { ...contentOf(blob), capsule: other.capsule }), 'BAD_USER_INPUT', /^content\.capsule: is not the capsule/));
    await nothingRecorded(() => refused(prepare(patient.client, v1.id, { ...contentOf(blob), contentHash: 'xyz' }), 'BAD_USER_INPUT', /^content\.contentHash/));
    await nothingRecorded(() => refused(prepare(patient.client, 'no such record!', contentOf(blob)), 'BAD_USER_INPUT', /id: must be a record id/));
    await nothingRecorded(() => refused(prepare(patient.client, 'emr-unknown', contentOf(blob)), 'NOT_FOUND'));
  });
});

describe('who may rotate', () => {
  it('a stranger cannot: another patient does not see the record, another physician is FORBIDDEN', async () => {
    const v1 = await firstVersion(author.client);
    const blob = await patient.client.uploadBlob(patient.id, randomBytes(300), 'application/dicom');
    const otherPatient = await registerWithKeys(t, 'PATIENT');
    const otherDoctor = await registerWithKeys(t, 'PHYSICIAN');
    await nothingRecorded(() => refused(prepare(otherPatient.client, v1.id, contentOf(blob)), 'NOT_FOUND'));
    await nothingRecorded(() => refused(prepare(otherDoctor.client, v1.id, contentOf(blob)), 'FORBIDDEN', /only the patient or .*the author of version 1/));
    const custodial = await registerCustodial(t, 'PHYSICIAN');
    await nothingRecorded(() => refused(custodial.client.request(ROTATE, { e: v1.id, c: contentOf(blob) }), 'FORBIDDEN', /only the patient or/));
    const researcher = await registerWithKeys(t, 'RESEARCHER');
    await nothingRecorded(() => refused(prepare(researcher.client, v1.id, contentOf(blob)), 'FORBIDDEN'));
  });

  it('the author of version 1 can; a custodial author with rotateEmrKey (the node signs), others are sent to prepareRotateEmrKey', async () => {
    const doctor = await registerCustodial(t, 'PHYSICIAN');
    const v1 = await firstVersion(doctor.client);
    const blob = await doctor.client.uploadBlob(patient.id, randomBytes(300), 'application/dicom');
    // the physician who did not author version 1 may not
    await nothingRecorded(() => refused(prepare(author.client, v1.id, contentOf(blob)), 'FORBIDDEN', /only the patient or/));
    const { rotateEmrKey } = await doctor.client.request<{ rotateEmrKey: { id: string; version: number; previousId: string; authorId: string } }>(ROTATE, { e: v1.id, c: contentOf(blob) });
    expect(rotateEmrKey).toMatchObject({ version: 2, previousId: v1.id, authorId: doctor.id });
    const v2 = await emr(patient.client, rotateEmrKey.id);
    expect(v2.metadata.cid).toBe(blob.cid);

    // the self-custodied author of version 1 rotates through prepare / commit
    const mine = await firstVersion(author.client);
    const next = await author.client.uploadBlob(patient.id, randomBytes(300), 'application/dicom');
    await nothingRecorded(() => refused(author.client.request(ROTATE, { e: mine.id, c: contentOf(next) }), 'BAD_USER_INPUT', /use prepareRotateEmrKey/));
    const draft = await prepare(author.client, mine.id, contentOf(next));
    const { commitCreateEmr } = await author.client.request<{ commitCreateEmr: { version: number; authorId: string } }>(COMMIT, {
      d: draft.draftId,
      s: sign(author.signingKey, draft.signingPayload),
    });
    expect(commitCreateEmr).toEqual({ version: 2, authorId: author.id, id: draft.record.id, previousId: mine.id, patientId: patient.id });
  });
});
