// PieParticipant against a real node (dev network, Helia, three re-encryption proxies, HTTP): a patient with its own
// keys reads its records, approves a physician's request with 2-of-3 kfrags, denies, revokes, consents to the
// author's treating grant, sees a break-glass read, rotates a record's key; and what the client verifies itself
// (cfrags, capsule, content hash) fails closed.
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { PieIntegrityError, PieInputError, PieParticipant } from '../../src/client/index.js';
import type { EmrOpeningInfo, PieClient } from '../../src/client/index.js';
import { chunksOf, prepareDek, verifiedPlaintext } from '../../src/client/opening.js';
import { signatureOf } from '../../src/client/sign.js';
import { SecretKey } from '../../src/crypto/umbral/index.js';
import { ActionPayloads } from '../../src/exchange/action-payloads.js';
import { refused, registerCustodial, registerWithKeys, startTestNode } from '../node/harness.js';
import type { KeyHolder, TestNode } from '../node/harness.js';
import { smallBundle } from '../node/small-bundle.js';

let t: TestNode;
let patientHolder: KeyHolder;
let patient: PieParticipant;
let doctor: { id: string; client: PieClient };
let requester: PieParticipant;
let responder: PieParticipant;
let recordId: string;
const content = randomBytes(200_000);

const participantOf = async (kind: string, extra: { roles?: string[] } = {}): Promise<PieParticipant> => {
  const k = await registerWithKeys(t, kind, extra);
  return PieParticipant.fromKeys(t.anonymous, k.id, { signing: k.signingKey, encryption: k.encryptionKey });
};

const collect = async (it: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
};

beforeAll(async () => {
  t = await startTestNode({ PIE_PROXY_COUNT: '3' });
  patientHolder = await registerWithKeys(t, 'PATIENT');
  patient = PieParticipant.fromKeys(t.anonymous, patientHolder.id, { signing: patientHolder.signingKey, encryption: patientHolder.encryptionKey });
  requester = await participantOf('PHYSICIAN');
  responder = await participantOf('PHYSICIAN', { roles: ['emergency'] });
  doctor = await registerCustodial(t, 'PHYSICIAN');
  const blob = await doctor.client.uploadBlob(patient.id, content, 'application/pdf');
  recordId = (await doctor.client.createEmr({ patientId: patient.id, ...blob, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2024 } })).id;
}, 120_000);
afterAll(async () => {
  await t?.stop();
});

describe('PieParticipant', () => {
  it('me, records and proxies', async () => {
    expect(await patient.me()).toMatchObject({ id: patient.id, kind: 'PATIENT', status: 'ACTIVE' });
    const records = await patient.records();
    expect(records.map((r) => r.id)).toContain(recordId);
    expect(records.find((r) => r.id === recordId)).toMatchObject({ patientId: patient.id, authorId: doctor.id, version: 1, metadata: { mediaType: 'application/pdf' } });
    const proxies = await patient.proxies();
    expect(proxies).toHaveLength(3);
    expect(proxies[0]).toEqual({ id: expect.any(String), organisation: expect.any(String), encryptionKey: expect.stringMatching(/^0[23][0-9a-f]{64}$/) });
  });

  it('the patient reads the patient’s own record, with progress up to the envelope’s size', async () => {
    const progress: [number, number][] = [];
    const opened = await patient.open(recordId, { onProgress: (b, total) => progress.push([b, total]) });
    expect(opened).toMatchObject({ grantId: null, mediaType: 'application/pdf', rejectedCfrags: 0, record: { id: recordId } });
    expect((await collect(opened.plaintext)).equals(content)).toBe(true);
    const last = progress.at(-1)!;
    expect(last[0]).toBe(last[1]);
    expect(last[1]).toBe(opened.record.metadata!.size);
  });

  it('request → 2-of-3 approval → the requester reads and verifies locally; the access is on the audit trail', async () => {
    const request = await requester.requestAccess(recordId, 'second opinion');
    expect(request).toMatchObject({ emrId: recordId, requesterId: requester.id, status: 'PENDING' });
    expect((await patient.accessRequests({ status: 'PENDING' })).map((r) => r.id)).toContain(request.id);

    const grant = await patient.approve(request.id, { validFor: 3_600_000, threshold: 2 });
    expect(grant).toMatchObject({ emrId: recordId, granteeId: requester.id, requestId: request.id, kind: 'STANDARD', live: true, threshold: 2, shares: 3 });
    expect(Date.parse(grant.notAfter) - Date.parse(grant.notBefore)).toBe(3_600_000);
    expect((await patient.accessRequest(request.id)).status).toBe('APPROVED');
    expect((await requester.grants({ liveOnly: true })).map((g) => g.id)).toContain(grant.id);

    const opened = await requester.open(recordId, { grantId: grant.id });
    expect(opened.rejectedCfrags).toBe(0);
    expect((await collect(opened.plaintext)).equals(content)).toBe(true);
    expect(Buffer.from(await requester.read(recordId, { grantId: grant.id })).equals(content)).toBe(true);

    const trail = await patient.auditTrail({ emrId: recordId });
    expect(trail.some((e) => e.objectType === 'operation' && e.objectId === opened.operationId)).toBe(true);
    expect(trail.some((e) => e.objectType === 'grant' && e.objectId === grant.id)).toBe(true);
    const bundle = await patient.auditEvents({ emrId: recordId });
    expect(bundle).toMatchObject({ resourceType: 'Bundle' });

    // revoked: the next opening is refused by the ledger
    const revoked = await patient.revoke(grant.id);
    expect(revoked.revokedAt).not.toBeNull();
    await refused(requester.open(recordId, { grantId: grant.id }), 'FORBIDDEN', /REVOKED/);
  });

  it('deny records the decision; approve checks its arguments before asking the node', async () => {
    const request = await requester.requestAccess(recordId, 'curiosity');
    await expect(patient.approve(request.id, { threshold: 4 })).rejects.toThrow(PieInputError);
    await expect(patient.approve(request.id, { validFor: 400 * 24 * 3_600_000 })).rejects.toThrow(/at most 366 days/);
    const denied = await patient.deny(request.id, 'not needed');
    expect(denied).toMatchObject({ id: request.id, status: 'DENIED' });
    await refused(patient.approve(request.id), 'CONFLICT');
  });

  it('the node’s refusals carry its codes', async () => {
    await refused(requester.open('emr-does-not-exist', { grantId: 'grant-nope' }), 'NOT_FOUND');
    await refused(patient.requestAccess(recordId, 'my own'), 'FORBIDDEN');
    const stranger = await participantOf('PATIENT');
    await refused(stranger.open(recordId), 'NOT_FOUND');
  });

  it('what the client verifies fails closed: foreign cfrags, another capsule, a wrong content hash', async () => {
    const request = await requester.requestAccess(recordId, 'tests');
    const grant = await patient.approve(request.id, { validFor: 600_000 });
    // the node's answer, as open() gets it
    const raw = async (who: PieParticipant, grantId: string | null): Promise<EmrOpeningInfo> => {
      const signed = await who.sign('record-operation', ActionPayloads.openEmr({ emrId: recordId, grantId }));
      const { OPENING_FIELDS } = await import('../../src/client/types.js');
      return (
        await who.client.request<{ openEmr: EmrOpeningInfo }>(`mutation($e: ID!, $g: ID, $s: ActionSignatureInput!) { openEmr(emrId: $e, grantId: $g, signed: $s) { ${OPENING_FIELDS} } }`, {
          e: recordId,
          g: grantId,
          s: signatureOf(signed),
        })
      ).openEmr;
    };
    const o = await raw(requester, grant.id);
    const patientKeys = { signingKey: o.verifyingKey, encryptionKey: o.delegatingKey };
    expect(o.cfrags).toHaveLength(3);
    // cfrags made for the requester do not verify for another receiver
    expect(() => prepareDek(o, SecretKey.random(), patientKeys)).toThrow(PieIntegrityError);
    expect(() => prepareDek(o, SecretKey.random(), patientKeys)).toThrow(/0 of 3 capsule fragments verify; 3 are needed \(3 failed verification\)/);
    // a delegating key that is not the patient's registered one
    expect(() => prepareDek(o, SecretKey.random(), { ...patientKeys, encryptionKey: patientKeys.signingKey })).toThrow(/not the registered key/);
    // the opening disagrees with the ledger's record
    expect(() => prepareDek({ ...o, contentHash: '0'.repeat(64) }, SecretKey.random(), patientKeys)).toThrow(/does not match the ledger’s record/);

    // the patient's own opening, then a content hash that is not the plaintext's: every chunk comes, then the error
    const own = await raw(patient, null);
    const dek = prepareDek(own, patientHolder.encryptionKey, patientKeys);
    let seen = 0;
    const wrong = verifiedPlaintext(chunksOf(await patient.client.downloadBlob(own.cid)), dek, { size: own.size, contentHash: 'f'.repeat(64), emrId: recordId });
    await expect(
      (async () => {
        for await (const c of wrong) seen += c.length;
      })(),
    ).rejects.toThrow(/does not match the ledger’s SHA-256/);
    expect(seen).toBe(content.length);
    // an envelope one byte short is refused too
    const short = verifiedPlaintext(
      (async function* () {
        const all = await collect(chunksOf(await patient.client.downloadBlob(own.cid)));
        yield all.subarray(0, all.length - 1);
      })(),
      prepareDek(await raw(patient, null), patientHolder.encryptionKey, patientKeys),
      { size: own.size, contentHash: own.contentHash, emrId: recordId },
    );
    await expect(collect(short)).rejects.toThrow(PieIntegrityError);
    // another record's envelope: its key block holds another capsule than the ledger's for this record
    const otherBlob = await doctor.client.uploadBlob(patient.id, randomBytes(500), 'application/pdf');
    await doctor.client.createEmr({ patientId: patient.id, ...otherBlob, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2024 } });
    const swapped = verifiedPlaintext(chunksOf(await patient.client.downloadBlob(otherBlob.cid)), prepareDek(await raw(patient, null), patientHolder.encryptionKey, patientKeys), {
      size: own.size,
      contentHash: own.contentHash,
      emrId: recordId,
    });
    await expect(collect(swapped)).rejects.toThrow(/the envelope’s capsule is not the one the ledger records/);
  });

  it('consent (treating grant) for the author, and a break-glass read through it', async () => {
    const treating = await patient.grantTreating(recordId);
    expect(treating).toMatchObject({ emrId: recordId, granteeId: doctor.id, kind: 'TREATING', live: true, shares: 3, threshold: 3 });
    expect(Date.parse(treating.notAfter) - Date.parse(treating.notBefore)).toBe(366 * 24 * 3_600_000);

    const emergency = await responder.breakGlass(recordId, 'unconscious patient in the emergency department', 15);
    expect(emergency).toMatchObject({ emrId: recordId, granteeId: responder.id, kind: 'EMERGENCY', justification: 'unconscious patient in the emergency department' });
    const opened = await responder.open(recordId, { grantId: emergency.id });
    expect((await collect(opened.plaintext)).equals(content)).toBe(true);
    expect((await patient.grants({ emrId: recordId })).map((g) => g.kind)).toContain('EMERGENCY');
  });

  it('rotateKey: a new version with new ciphertext, old grants end, the treating grant is re-issued', async () => {
    const before = await patient.record(recordId);
    const request = await requester.requestAccess(recordId, 'follow-up');
    const standing = await patient.approve(request.id);
    const { record, treatingGrant } = await patient.rotateKey(recordId);
    expect(record).toMatchObject({ version: before.version + 1, previousId: recordId, patientId: patient.id, authorId: patient.id, summary: before.summary });
    expect(record.metadata!.cid).not.toBe(before.metadata!.cid);
    expect(record.metadata!.capsule).not.toBe(before.metadata!.capsule);
    expect(record.metadata!.contentHash).toBe(before.metadata!.contentHash);
    // re-issued to the treating physician (the grant's kind is the node's to name: the new version's author is the patient)
    expect(treatingGrant).toMatchObject({ emrId: record.id, granteeId: doctor.id, live: true, threshold: 3, shares: 3 });
    expect((await patient.grant(standing.id)).live).toBe(false);
    expect(Buffer.from(await patient.read(record.id)).equals(content)).toBe(true);
    await refused(requester.open(recordId, { grantId: standing.id }), 'FORBIDDEN', /SUPERSEDED|superseded/);
    // consent on the patient-recorded version goes to the chain's first author, the treating physician
    expect(await patient.grantTreating(record.id, { validFor: 3_600_000 })).toMatchObject({ emrId: record.id, granteeId: doctor.id, live: true });
  });

  it('readFhir: a FHIR upload read back as JSON; credits', async () => {
    const { ingestFhir } = await doctor.client.request<{ ingestFhir: { records: { id: string }[] } }>(
      'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id } } }',
      { b: smallBundle(), p: patient.id },
    );
    const fhir = await patient.readFhir(ingestFhir.records[0]!.id);
    expect(fhir).toMatchObject({ resourceType: expect.stringMatching(/^(Bundle|Patient|Observation)$/) });
    const credits = await patient.credits();
    expect(credits).toEqual({ participant: expect.any(Number), organisation: expect.any(Number) });
  });

  it('a small envelope comes inline in the openEmr answer (no GET /blobs); a large one streams from GET /blobs; both decrypt', async () => {
    const small = randomBytes(3_000);
    const blob = await doctor.client.uploadBlob(patient.id, small, 'text/csv');
    const smallId = (await doctor.client.createEmr({ patientId: patient.id, ...blob, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2024 } })).id;
    const downloads = jest.spyOn(patient.client, 'downloadBlob');
    try {
      expect(Buffer.from(await patient.read(smallId)).equals(small)).toBe(true);
      expect(downloads).not.toHaveBeenCalled();
      expect(Buffer.from(await patient.read(recordId)).equals(content)).toBe(true);
      expect(downloads).toHaveBeenCalledTimes(1);
    } finally {
      downloads.mockRestore();
    }
    // the inline envelope is exactly what GET /blobs streams; a record over 64 KiB has none
    const openRaw = async (emrId: string): Promise<EmrOpeningInfo> => {
      const signed = await patient.sign('record-operation', ActionPayloads.openEmr({ emrId, grantId: null }));
      return (
        await patient.client.request<{ openEmr: EmrOpeningInfo }>('mutation($e: ID!, $s: ActionSignatureInput!) { openEmr(emrId: $e, signed: $s) { cid size envelope } }', {
          e: emrId,
          s: signatureOf(signed),
        })
      ).openEmr;
    };
    const inline = await openRaw(smallId);
    expect(inline.envelope).toEqual(expect.any(String));
    const streamed = await collect(chunksOf(await patient.client.downloadBlob(inline.cid)));
    expect(Buffer.from(inline.envelope!, 'base64').equals(streamed)).toBe(true);
    expect(streamed.length).toBe(inline.size);
    const large = await openRaw(recordId);
    expect(large.size).toBeGreaterThan(64 * 1024);
    expect(large.envelope).toBeNull();
  });

  it('keeps its secret keys out of JSON', () => {
    expect(JSON.stringify(patient)).toBe(JSON.stringify({ id: patient.id }));
    expect(JSON.stringify(Object.entries(patient))).not.toContain(Buffer.from(patientHolder.signingKey.toBEBytes()).toString('hex'));
  });
});

