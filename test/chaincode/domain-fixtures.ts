// Shared fixtures for the chaincode domain tests: real PIE Umbral keys, a real capsule, a signed record.
import { createHash } from 'node:crypto';
import { canonicalRecordBytes, parseEmrRecord, parseParticipant } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, Participant, ParticipantKind, SecurityLevel } from '../../chaincode/src/domain/index.js';
import { SecretKey, Signer, encrypt } from '../../src/crypto/umbral/index.js';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const pid = (n: number): string => n.toString(16).padStart(32, '0');

export const patientSk = SecretKey.random();
export const authorSk = SecretKey.random();
export const otherSk = SecretKey.random();
export const pubHex = (sk: SecretKey): string => hex(sk.publicKey().toCompressedBytes());
export const [capsule] = encrypt(patientSk.publicKey(), new TextEncoder().encode('emr'));
export const capsuleB64 = Buffer.from(capsule.toBytes()).toString('base64');

export const PATIENT = pid(1);
export const AUTHOR = pid(2);
export const NOW = '2024-05-01T12:00:00.000Z';

const spareKey = pubHex(SecretKey.random());

export function participant(over: Partial<Record<keyof Participant, unknown>> = {}): Participant {
  const kind = (over.kind ?? 'physician') as ParticipantKind;
  const clearance: SecurityLevel = kind === 'researcher' || kind === 'insurer' || kind === 'org-admin' ? 'LOW' : 'PRIVATE';
  return parseParticipant({
    id: pid(99),
    kind,
    org: 'Hospital1MSP',
    clearance,
    signingKey: pubHex(authorSk),
    encryptionKey: spareKey,
    roles: [],
    status: 'active',
    ...over,
  });
}

/** A valid record input without signature (plain, mutable JSON). */
export function unsignedRecord(): Record<string, unknown> {
  return {
    id: 'emr-1',
    version: 1,
    patientId: PATIENT,
    authorId: AUTHOR,
    hospital: 'Hospital1MSP',
    timestamp: NOW,
    summary: {
      category: 'medical-information',
      securityLevel: 'PRIVATE',
      codes: ['http://snomed.info/sct|44054006', 'http://loinc.org|4548-4'],
      year: 2024,
      resourceTypes: ['Condition', 'Observation'],
      labels: ['R'],
    },
    metadata: {
      cid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
      size: 1234,
      mediaType: 'application/fhir+json',
      contentHash: createHash('sha256').update('emr').digest('hex'),
      capsule: capsuleB64,
      envelopeVersion: 1,
    },
    policy: { minClearance: 'LOW', allowedKinds: ['physician', 'researcher', 'insurer'], allow: [], deny: [], emergencyAllowed: true },
  };
}

/** Signs `input` (minus timestamp and signature) with PIE's Umbral Signer, as an author's client does. */
export function sign(input: Record<string, unknown>, sk: SecretKey = authorSk): string {
  return hex(new Signer(sk).sign(canonicalRecordBytes(input as never)).toBEBytes());
}

export function signedRecordInput(mutate: (r: Record<string, unknown>) => void = () => {}): Record<string, unknown> {
  const r = unsignedRecord();
  mutate(r);
  return { ...r, authorSignature: sign(r) };
}

export const record = (mutate?: (r: Record<string, unknown>) => void): EmrRecord => parseEmrRecord(signedRecordInput(mutate));

/** Record with a given level/category and policy overrides. */
export function recordWith(level: SecurityLevel, policy: Record<string, unknown> = {}): EmrRecord {
  const category = level === 'PRIVATE' ? 'medical-information' : level === 'MODERATE' ? 'lifelog-sensor' : 'clinical-trial-observation';
  return record((r) => {
    r.summary = { ...(r.summary as object), category, securityLevel: level };
    r.policy = { ...(r.policy as object), ...policy };
  });
}

export function expectCode(fn: () => unknown, code: string, field: string | RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expectCodedError(err, code, field);
}

/** expectCode for a check that rejects instead of throwing. */
export async function expectCodeAsync(fn: () => Promise<unknown>, code: string, field: string | RegExp): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expectCodedError(err, code, field);
}

function expectCodedError(err: unknown, code: string, field: string | RegExp): void {
  expect(err).toBeDefined();
  const e = err as { code: string; message: string };
  expect(e.code).toBe(code);
  if (typeof field === 'string') expect(e.message).toContain(`${field}:`);
  if (typeof field === 'string') expect(e.message.startsWith(`${field}:`)).toBe(true);
  else expect(e.message).toMatch(field);
}
