// Fixtures for the FHIR views: ledger objects built with the chaincode's own parsers (what the ledger really
// stores), a record signed with PIE's Umbral Signer over a real capsule (keys and signing shared with the chaincode
// tests' domain-fixtures), and a validator for every output.
import { validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import {
  parseAccessPolicy,
  parseAccessRequest,
  parseEmrRecord,
  parseGrant,
  parseOperationRecord,
} from '../../../chaincode/src/domain/index.js';
import type { AccessPolicy, AccessRequest, EmrRecord, Grant, OperationRecord } from '../../../chaincode/src/domain/index.js';
import { NOW, authorSk, capsuleB64, pid, pubHex, sign, unsignedRecord } from '../../chaincode/domain-fixtures.js';
import { loadDefinitions } from '../../../src/fhir/definitions.js';

export { AUTHOR, NOW, PATIENT, pid } from '../../chaincode/domain-fixtures.js';
export const RESEARCHER = pid(3);
export const EMERGENCY_DOCTOR = pid(4);
export const LATER = '2024-05-02T12:00:00.000Z';
export const TX = 'a'.repeat(63) + '1';

export const authorSigningKey = pubHex(authorSk);
export const CAPSULE = capsuleB64;
export const CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi';
export const CID2 = 'bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';

export const DEFAULT_POLICY_INPUT = { minClearance: 'LOW', allowedKinds: ['physician', 'researcher', 'insurer'], allow: [], deny: [], emergencyAllowed: true };

/**
 * A record as the contract stores it: the chaincode tests' record input (same CID, capsule, policy), with one coded
 * concept and an HIV label, signed by the author over canonicalRecordBytes.
 */
export function record(over: Record<string, unknown> = {}): EmrRecord {
  const base = unsignedRecord();
  const input: Record<string, unknown> = {
    ...base,
    summary: { ...(base['summary'] as object), codes: ['http://snomed.info/sct|44054006'], labels: ['R', 'HIV'] },
    ...over,
  };
  return parseEmrRecord({ ...input, authorSignature: sign(input) });
}

export const policy = (over: Record<string, unknown> = {}): AccessPolicy => parseAccessPolicy({ ...DEFAULT_POLICY_INPUT, ...over });

export function grant(over: Record<string, unknown> = {}): Grant {
  return parseGrant({
    id: 'g'.repeat(31) + '1',
    emrId: 'emr-1',
    granteeId: RESEARCHER,
    requestId: 'r'.repeat(31) + '1',
    notBefore: NOW,
    notAfter: LATER,
    threshold: 2,
    shares: 3,
    kfrags: [1, 2, 3].map((i) => ({ proxyId: `proxy-${i}`, ref: `kfrag-${i}` })),
    ...over,
  });
}

export function emergencyGrant(over: Record<string, unknown> = {}): Grant {
  return parseGrant({
    id: 'e'.repeat(31) + '1',
    emrId: 'emr-1',
    granteeId: EMERGENCY_DOCTOR,
    notBefore: NOW,
    notAfter: '2024-05-01T13:00:00.000Z',
    threshold: 0,
    shares: 0,
    kfrags: [],
    emergency: { justification: 'unconscious patient in the emergency department' },
    ...over,
  });
}

export function request(over: Record<string, unknown> = {}): AccessRequest {
  return parseAccessRequest({ id: 'r'.repeat(31) + '1', emrId: 'emr-1', requesterId: RESEARCHER, purpose: 'diabetes cohort study', status: 'pending', createdAt: NOW, ...over });
}

export function operation(over: Record<string, unknown> = {}): OperationRecord {
  return parseOperationRecord({ id: 'o'.repeat(31) + '1', kind: 'query', actorId: RESEARCHER, emrId: 'emr-1', timestamp: NOW, ...over });
}

/** Deterministic PRNG (mulberry32), so a failing generated case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const LITERAL_REFERENCE = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

/**
 * Valid R4: @medplum/core's validator (structure, cardinality, types, invariants), plus what it leaves out: no empty
 * arrays, strings or objects, no undefined, FHIR ids and literal references well-formed.
 */
export function expectValidR4(resource: Resource): void {
  loadDefinitions();
  let outcome: unknown;
  try {
    validateResource(resource);
  } catch (e) {
    outcome = (e as { outcome?: unknown }).outcome ?? e;
  }
  expect(outcome).toBeUndefined();
  if (resource.id !== undefined) expect(resource.id).toMatch(FHIR_ID);
  walk(resource, resource.resourceType);
}

function walk(v: unknown, path: string): void {
  if (v === undefined || v === null) throw new Error(`${path} is ${String(v)}`);
  if (typeof v === 'string' && v.length === 0) throw new Error(`${path} is an empty string`);
  if (Array.isArray(v)) {
    if (v.length === 0) throw new Error(`${path} is an empty array`);
    v.forEach((x, i) => walk(x, `${path}[${i}]`));
  } else if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) throw new Error(`${path} is an empty object`);
    for (const [k, x] of entries) {
      if (k === 'reference' && typeof x === 'string' && !LITERAL_REFERENCE.test(x)) throw new Error(`${path}.reference ${x} is not Type/id`);
      walk(x, `${path}.${k}`);
    }
  }
}

/** The codings of a CodeableConcept list (or a Coding list), as `system|code`. */
export const codes = (concepts: readonly { coding?: readonly { system?: string; code?: string }[]; system?: string; code?: string }[] | undefined): string[] =>
  (concepts ?? []).flatMap((c) => (c.coding ? c.coding.map((x) => `${x.system}|${x.code}`) : [`${c.system}|${c.code}`]));
