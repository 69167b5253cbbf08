// Signed actions (bytes, parsing, freshness, signatures), action payloads, new-grant windows, grant liveness and the
// emergency-grant index: the pure domain parts of the contract's participant authority.
import {
  ACTION_MAX_AGE_MS,
  ACTION_MAX_FUTURE_MS,
  ACTION_SIGNING_DOMAIN,
  EMERGENCY_GRANT_INDEX,
  OBJECT_TYPES,
  actionDigest,
  actionSigningBytes,
  assertActionFresh,
  assertActionSignature,
  assertNewGrantWindow,
  emergencyGrantIndexEntry,
  grantLiveness,
  parseApproveRequestPayload,
  parseBreakGlassPayload,
  parseDenyRequestPayload,
  parseGrant,
  parseGrantAccessPayload,
  parseOperationPayload,
  parsePatientPolicyPayload,
  parseRecordPolicyPayload,
  parseRequestAccessPayload,
  parseRevokeGrantPayload,
  parseSignedAction,
} from '../../chaincode/src/domain/index.js';
import type { SignedAction } from '../../chaincode/src/domain/index.js';
import { Signer } from '../../src/crypto/umbral/index.js';
import { NOW, PATIENT, authorSk, expectCode, expectCodeAsync, hex, otherSk, pid, pubHex } from './domain-fixtures.js';

const at = (ms: number): string => new Date(Date.parse(NOW) + ms).toISOString();
const POLICY = { minClearance: 'LOW', allowedKinds: ['physician'], allow: [], deny: [], emergencyAllowed: false };

function signed(over: Record<string, unknown> = {}, channel = 'pie'): Record<string, unknown> {
  const unsigned = { type: 'revoke-grant', actorId: PATIENT, issuedAt: NOW, nonce: '00112233445566778899aabbccddeeff', payload: { grantId: 'g1' }, ...over };
  const signature = hex(new Signer(authorSk).sign(actionSigningBytes(unsigned, channel)).toBEBytes());
  return { ...unsigned, signature };
}

describe('actionSigningBytes', () => {
  it('is the domain prefix and canonical JSON of the action with the channel, without the signature', () => {
    const a = signed();
    const text = actionSigningBytes(a as never, 'pie').toString('utf8');
    expect(text.startsWith(ACTION_SIGNING_DOMAIN)).toBe(true);
    expect(JSON.parse(text.slice(ACTION_SIGNING_DOMAIN.length))).toEqual({ ...a, signature: undefined, channel: 'pie' });
    expect(text).not.toContain('signature');
    // key order does not matter; the channel does
    const reordered = Object.fromEntries(Object.entries(a).reverse());
    expect(actionSigningBytes(reordered as never, 'pie').equals(actionSigningBytes(a as never, 'pie'))).toBe(true);
    expect(actionSigningBytes(a as never, 'other').equals(actionSigningBytes(a as never, 'pie'))).toBe(false);
    expect(actionDigest(actionSigningBytes(a as never, 'pie'))).toMatch(/^[0-9a-f]{64}$/);
  });
  it('refuses payloads without one canonical encoding', () => {
    expectCode(() => actionSigningBytes({ type: 'x', actorId: PATIENT, issuedAt: NOW, nonce: 'n', payload: { x: 0.5 } }, 'pie'), 'INVALID_ARGUMENT', 'action.payload.x');
  });
});

describe('parseSignedAction', () => {
  it('parses a well-formed action of the expected type', () => {
    const a = parseSignedAction(signed(), 'revoke-grant');
    expect(a).toMatchObject({ type: 'revoke-grant', actorId: PATIENT, payload: { grantId: 'g1' } });
  });
  it('refuses an action of another type: a signature is good for one transaction only', () => {
    expectCode(() => parseSignedAction(signed(), 'approve-request'), 'INVALID_ARGUMENT', 'action.type');
  });
  it('checks every field', () => {
    expectCode(() => parseSignedAction('x', 'revoke-grant'), 'INVALID_ARGUMENT', 'action');
    expectCode(() => parseSignedAction({ ...signed(), extra: 1 }, 'revoke-grant'), 'INVALID_ARGUMENT', 'action.extra');
    expectCode(() => parseSignedAction(signed({ actorId: 'bob' }), 'revoke-grant'), 'INVALID_ARGUMENT', 'action.actorId');
    expectCode(() => parseSignedAction(signed({ issuedAt: 'yesterday' }), 'revoke-grant'), 'INVALID_ARGUMENT', 'action.issuedAt');
    expectCode(() => parseSignedAction(signed({ nonce: 'abc' }), 'revoke-grant'), 'INVALID_ARGUMENT', 'action.nonce');
    expectCode(() => parseSignedAction(signed({ nonce: 'ABCDEF0123456789' }), 'revoke-grant'), 'INVALID_ARGUMENT', 'action.nonce');
    expectCode(() => parseSignedAction(signed({ nonce: 'a'.repeat(65) }), 'revoke-grant'), 'INVALID_ARGUMENT', 'action.nonce');
    expectCode(() => parseSignedAction(signed({ payload: [1] }), 'revoke-grant'), 'INVALID_ARGUMENT', 'action.payload');
    expectCode(() => parseSignedAction({ ...signed(), signature: 'ab' }, 'revoke-grant'), 'INVALID_ARGUMENT', 'action.signature');
  });
});

describe('assertActionFresh', () => {
  it('accepts [now − 10 min, now + 2 min]', () => {
    expect(() => assertActionFresh({ issuedAt: at(-ACTION_MAX_AGE_MS) }, NOW)).not.toThrow();
    expect(() => assertActionFresh({ issuedAt: at(ACTION_MAX_FUTURE_MS) }, NOW)).not.toThrow();
    expectCode(() => assertActionFresh({ issuedAt: at(-ACTION_MAX_AGE_MS - 1) }, NOW), 'INVALID_ARGUMENT', 'action.issuedAt');
    expectCode(() => assertActionFresh({ issuedAt: at(ACTION_MAX_FUTURE_MS + 1) }, NOW), 'INVALID_ARGUMENT', 'action.issuedAt');
  });
});

describe('assertActionSignature', () => {
  const a = (over: Record<string, unknown> = {}, channel = 'pie'): SignedAction => parseSignedAction(signed(over, channel), 'revoke-grant');
  it('verifies under the actor key and returns the signed bytes', async () => {
    expect((await assertActionSignature(a(), 'pie', pubHex(authorSk))).equals(actionSigningBytes(a(), 'pie'))).toBe(true);
  });
  it('refuses another key, another channel, and any change to the signed content', async () => {
    await expectCodeAsync(() => assertActionSignature(a(), 'pie', pubHex(otherSk)), 'BAD_SIGNATURE', 'action.signature');
    await expectCodeAsync(() => assertActionSignature(a({}, 'other'), 'pie', pubHex(authorSk)), 'BAD_SIGNATURE', 'action.signature');
    const tampered = { ...a(), payload: { grantId: 'g2' } };
    await expectCodeAsync(() => assertActionSignature(tampered, 'pie', pubHex(authorSk)), 'BAD_SIGNATURE', 'action.signature');
  });
});

describe('action payloads', () => {
  it('parse each action type with field paths under action.payload', () => {
    expect(parsePatientPolicyPayload({ policy: POLICY }).policy.allowedKinds).toEqual(['physician']);
    expectCode(() => parsePatientPolicyPayload({ policy: { ...POLICY, allowedKinds: ['patient'] } }), 'FORBIDDEN', 'action.payload.policy.allowedKinds');
    expect(parseRecordPolicyPayload({ emrId: 'emr-1', policy: POLICY }).emrId).toBe('emr-1');
    expectCode(() => parseRecordPolicyPayload({ emrId: 'emr 1', policy: POLICY }), 'INVALID_ARGUMENT', 'action.payload.emrId');
    expect(parseRequestAccessPayload({ emrId: 'emr-1', purpose: 'treatment' })).toEqual({ emrId: 'emr-1', purpose: 'treatment' });
    expectCode(() => parseRequestAccessPayload({ emrId: 'emr-1', purpose: '' }), 'INVALID_ARGUMENT', 'action.payload.purpose');
    expectCode(() => parseRequestAccessPayload({ emrId: 'emr-1', purpose: 'x', more: 1 }), 'INVALID_ARGUMENT', 'action.payload.more');
    expect(parseApproveRequestPayload({ requestId: 'r1', notBefore: NOW, shares: 1 })).toEqual({ requestId: 'r1', terms: { notBefore: NOW, shares: 1 } });
    expect(parseDenyRequestPayload({ requestId: 'r1' })).toEqual({ requestId: 'r1' });
    expectCode(() => parseDenyRequestPayload({ requestId: 'r1', reason: 'a\nb' }), 'INVALID_ARGUMENT', 'action.payload.reason');
    expect(parseGrantAccessPayload({ emrId: 'e', granteeId: pid(3), threshold: 1 })).toEqual({ emrId: 'e', granteeId: pid(3), terms: { threshold: 1 } });
    expectCode(() => parseGrantAccessPayload({ emrId: 'e', granteeId: 'x' }), 'INVALID_ARGUMENT', 'action.payload.granteeId');
    expect(parseRevokeGrantPayload({ grantId: 'g1' })).toEqual({ grantId: 'g1' });
    expect(parseBreakGlassPayload({ emrId: 'e', justification: 'unconscious in ER' })).toEqual({ emrId: 'e', justification: 'unconscious in ER' });
    expectCode(() => parseBreakGlassPayload({ emrId: 'e', justification: 'x', durationMs: 0 }), 'INVALID_ARGUMENT', 'action.payload.durationMs');
    expect(parseOperationPayload({ kind: 'query', emrId: 'e' })).toEqual({ kind: 'query', emrId: 'e' });
    expectCode(() => parseOperationPayload({ kind: 'delete', emrId: 'e' }), 'INVALID_ARGUMENT', 'action.payload.kind');
    expectCode(() => parseOperationPayload({ kind: 'query', emrId: 'e', actorId: pid(1) }), 'INVALID_ARGUMENT', 'action.payload.actorId');
  });
});

const grant = (over: Record<string, unknown> = {}) =>
  parseGrant({ id: 'g1', emrId: 'emr-1', granteeId: pid(9), notBefore: NOW, notAfter: at(3_600_000), threshold: 1, shares: 1, kfrags: [{ proxyId: 'p1', ref: 'r' }], ...over });

describe('assertNewGrantWindow', () => {
  it('allows a start up to 5 minutes back and needs an end after now', () => {
    expect(() => assertNewGrantWindow(grant({ notBefore: at(-300_000) }), NOW)).not.toThrow();
    expectCode(() => assertNewGrantWindow(grant({ notBefore: at(-300_001) }), NOW), 'INVALID_ARGUMENT', 'action.payload.notBefore');
    expectCode(() => assertNewGrantWindow(grant({ notBefore: at(-7_200_000), notAfter: NOW }), NOW), 'INVALID_ARGUMENT', 'action.payload.notBefore');
    expectCode(() => assertNewGrantWindow(grant({ notBefore: at(-60_000), notAfter: NOW }), NOW), 'INVALID_ARGUMENT', 'action.payload.notAfter');
  });
});

describe('grantLiveness', () => {
  const facts = { headId: 'emr-1', granteeStatus: 'active' };
  it('is live inside the window on the head, for an active grantee', () => {
    expect(grantLiveness(grant(), NOW, facts)).toEqual({ live: true });
  });
  it('names why a grant is not live', () => {
    expect(grantLiveness(grant({ revokedAt: NOW }), NOW, facts)).toMatchObject({ live: false, reason: 'REVOKED' });
    expect(grantLiveness(grant({ revokedAt: at(1) }), NOW, facts)).toEqual({ live: true });
    expect(grantLiveness(grant(), at(-1), facts)).toMatchObject({ live: false, reason: 'NOT_YET_VALID' });
    expect(grantLiveness(grant(), at(3_600_000), facts)).toMatchObject({ live: false, reason: 'EXPIRED' });
    expect(grantLiveness(grant(), NOW, { ...facts, headId: 'emr-2' })).toMatchObject({ live: false, reason: 'SUPERSEDED', message: expect.stringContaining('emr-2') });
    expect(grantLiveness(grant(), NOW, { ...facts, granteeStatus: 'suspended' })).toMatchObject({ live: false, reason: 'GRANTEE_SUSPENDED' });
  });
});

describe('state layout additions', () => {
  it('emergency grants are indexed by patient; new object types are distinct', () => {
    expect(emergencyGrantIndexEntry(grant(), PATIENT)).toEqual({ objectType: EMERGENCY_GRANT_INDEX.objectType, attributes: [PATIENT, 'g1'] });
    const types = Object.values(OBJECT_TYPES);
    expect(new Set(types).size).toBe(types.length);
    expect(types).toEqual(expect.arrayContaining(['pie.action', 'pie.policy', 'pie.policy.patient', 'pie.emr.root']));
  });
});
