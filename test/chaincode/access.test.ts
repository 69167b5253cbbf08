// Access rules: the DESIGN §5 matrix of kinds × levels, policy narrowing, allow/deny, suspension, expiry,
// break-glass and grant liveness.
import {
  BREAK_GLASS_MAX_DURATION_MS,
  DEFAULT_POLICY,
  PARTICIPANT_KINDS,
  SECURITY_LEVELS,
  effectiveClearance,
  evaluateAccess,
  evaluateBreakGlass,
  isGrantLive,
  parseAccessPolicy,
  parseGrant,
  policyNarrowsDefaults,
  policyWidenings,
  revokeGrant,
} from '../../chaincode/src/domain/index.js';
import type { AccessPolicy, ParticipantKind, SecurityLevel } from '../../chaincode/src/domain/index.js';
import { NOW, PATIENT, expectCode, participant, pid, recordWith } from './domain-fixtures.js';

const reader = (kind: ParticipantKind, over: Record<string, unknown> = {}) => participant({ id: pid(50), kind, ...over });

describe('evaluateAccess: DESIGN §5 defaults', () => {
  // Expected under the default policy (no narrowing): physicians read every level; researchers and insurers LOW only;
  // patients and org admins never read someone else's record.
  const expected: Record<ParticipantKind, Record<SecurityLevel, boolean>> = {
    physician: { LOW: true, MODERATE: true, PRIVATE: true },
    researcher: { LOW: true, MODERATE: false, PRIVATE: false },
    insurer: { LOW: true, MODERATE: false, PRIVATE: false },
    patient: { LOW: false, MODERATE: false, PRIVATE: false },
    'org-admin': { LOW: false, MODERATE: false, PRIVATE: false },
  };
  const records = Object.fromEntries(SECURITY_LEVELS.map((l) => [l, recordWith(l)])) as Record<SecurityLevel, ReturnType<typeof recordWith>>;

  for (const kind of PARTICIPANT_KINDS) {
    for (const level of SECURITY_LEVELS) {
      it(`${kind} on a ${level} record → ${expected[kind][level] ? 'allowed' : 'refused'}`, () => {
        const d = evaluateAccess(reader(kind), records[level], NOW);
        expect(d.allowed).toBe(expected[kind][level]);
        if (!d.allowed) expect(['KIND_NOT_PERMITTED', 'CLEARANCE_BELOW_LEVEL']).toContain(d.reason);
      });
    }
  }

  it('the patient always reads the patient’s own records, whatever the policy', () => {
    const me = participant({ id: PATIENT, kind: 'patient' });
    const strict = recordWith('PRIVATE', { allowedKinds: [], minClearance: 'PRIVATE', allow: [pid(3)], deny: [PATIENT], expiresAt: '2000-01-01T00:00:00.000Z' });
    expect(evaluateAccess(me, strict, NOW)).toEqual({ allowed: true, basis: 'owner' });
  });

  it('a lower registered clearance lowers access (physician registered MODERATE)', () => {
    const p = reader('physician', { clearance: 'MODERATE' });
    expect(effectiveClearance(p)).toBe('MODERATE');
    expect(evaluateAccess(p, records.MODERATE, NOW).allowed).toBe(true);
    expect(evaluateAccess(p, records.PRIVATE, NOW)).toMatchObject({ allowed: false, reason: 'CLEARANCE_BELOW_LEVEL' });
  });
});

describe('evaluateAccess: policy narrowing', () => {
  const cases: [string, Record<string, unknown>, ParticipantKind, SecurityLevel, string | true][] = [
    ['kinds narrowed to physicians refuses a researcher', { allowedKinds: ['physician'] }, 'researcher', 'LOW', 'KIND_NOT_ALLOWED_BY_POLICY'],
    ['kinds narrowed to physicians admits a physician', { allowedKinds: ['physician'] }, 'physician', 'LOW', true],
    ['no kinds at all refuses a physician', { allowedKinds: [] }, 'physician', 'LOW', 'KIND_NOT_ALLOWED_BY_POLICY'],
    ['minimum MODERATE refuses a LOW researcher on a LOW record', { minClearance: 'MODERATE' }, 'researcher', 'LOW', 'CLEARANCE_BELOW_POLICY_MINIMUM'],
    ['minimum PRIVATE admits a physician on a LOW record', { minClearance: 'PRIVATE' }, 'physician', 'LOW', true],
    ['allow list without the requester refuses', { allow: [pid(7)] }, 'physician', 'PRIVATE', 'NOT_IN_ALLOW_LIST'],
    ['allow list with the requester admits', { allow: [pid(50)] }, 'physician', 'PRIVATE', true],
    ['allow list cannot lift clearance (researcher on PRIVATE)', { allow: [pid(50)] }, 'researcher', 'PRIVATE', 'CLEARANCE_BELOW_LEVEL'],
    ['deny list refuses', { deny: [pid(50)] }, 'physician', 'LOW', 'DENIED_BY_POLICY'],
    ['expired policy refuses', { expiresAt: NOW }, 'physician', 'LOW', 'POLICY_EXPIRED'],
    ['policy expiring later admits', { expiresAt: '2024-05-01T12:00:00.001Z' }, 'physician', 'LOW', true],
  ];
  it.each(cases)('%s', (_name, policy, kind, level, want) => {
    const d = evaluateAccess(reader(kind), recordWith(level, policy), NOW);
    if (want === true) expect(d.allowed).toBe(true);
    else expect(d).toMatchObject({ allowed: false, reason: want });
    if (!d.allowed) expect(d.message.length).toBeGreaterThan(10);
  });

  it('a suspended participant is refused first', () => {
    expect(evaluateAccess(reader('physician', { status: 'suspended' }), recordWith('LOW'), NOW)).toMatchObject({ reason: 'REQUESTER_SUSPENDED' });
    expect(evaluateAccess(participant({ id: PATIENT, kind: 'patient', status: 'suspended' }), recordWith('LOW'), NOW)).toMatchObject({ reason: 'REQUESTER_SUSPENDED' });
  });
});

describe('policyNarrowsDefaults', () => {
  it('accepts the defaults and every narrowing', () => {
    expect(policyNarrowsDefaults(DEFAULT_POLICY)).toBe(true);
    for (const allowedKinds of [[], ['physician'], ['researcher', 'insurer']] as ParticipantKind[][]) {
      expect(policyNarrowsDefaults({ ...DEFAULT_POLICY, allowedKinds })).toBe(true);
    }
    for (const minClearance of SECURITY_LEVELS) expect(policyNarrowsDefaults({ ...DEFAULT_POLICY, minClearance })).toBe(true);
  });
  it('rejects widening to kinds that may not read by default', () => {
    for (const kind of ['patient', 'org-admin'] as ParticipantKind[]) {
      const wide: AccessPolicy = { ...DEFAULT_POLICY, allowedKinds: ['physician', kind] };
      expect(policyNarrowsDefaults(wide)).toBe(false);
      expect(policyWidenings(wide)[0]).toMatch(kind);
      expectCode(() => parseAccessPolicy(wide), 'FORBIDDEN', 'policy.allowedKinds');
    }
  });
});

describe('break-glass', () => {
  const er = participant({ id: pid(60), kind: 'physician', roles: ['emergency'] });
  const why = 'patient unconscious in ER, need allergy list';
  const rec = recordWith('PRIVATE');

  it('allows an emergency physician with a justification for at most 1 h from now', () => {
    const d = evaluateBreakGlass(er, rec, `  ${why}  `, NOW);
    expect(d).toEqual({ allowed: true, notBefore: NOW, notAfter: '2024-05-01T13:00:00.000Z', justification: why });
    const shorter = evaluateBreakGlass(er, rec, why, NOW, 15 * 60 * 1000);
    expect(shorter.allowed && shorter.notAfter).toBe('2024-05-01T12:15:00.000Z');
    const longer = evaluateBreakGlass(er, rec, why, NOW, 5 * BREAK_GLASS_MAX_DURATION_MS);
    expect(longer.allowed && longer.notAfter).toBe('2024-05-01T13:00:00.000Z');
  });

  it('its window parses as a flagged emergency grant', () => {
    const d = evaluateBreakGlass(er, rec, why, NOW);
    if (!d.allowed) throw new Error(d.message);
    const g = parseGrant({ id: 'g-e', emrId: rec.id, granteeId: er.id, notBefore: d.notBefore, notAfter: d.notAfter, threshold: 0, shares: 0, kfrags: [], emergency: { justification: d.justification } });
    expect(g.emergency).toEqual({ justification: why });
    expect(isGrantLive(g, NOW)).toBe(true);
    expect(isGrantLive(g, d.notAfter)).toBe(false);
  });

  it('bypasses the allow list and expiry, but not the deny list or the policy switch', () => {
    expect(evaluateBreakGlass(er, recordWith('PRIVATE', { allow: [pid(3)], expiresAt: '2000-01-01T00:00:00.000Z' }), why, NOW).allowed).toBe(true);
    expect(evaluateBreakGlass(er, recordWith('PRIVATE', { deny: [er.id] }), why, NOW)).toMatchObject({ reason: 'DENIED_BY_POLICY' });
    expect(evaluateBreakGlass(er, recordWith('PRIVATE', { emergencyAllowed: false }), why, NOW)).toMatchObject({ reason: 'EMERGENCY_NOT_ALLOWED' });
  });

  it.each<[string, unknown]>([
    ['missing', undefined],
    ['not a string', 42],
    ['too short', 'help!'],
    ['only spaces', ' '.repeat(20)],
    ['9 characters padded', '  123456789  '],
    ['control characters', 'line one\nline two'],
    ['too long', 'x'.repeat(1001)],
  ])('needs a justification (%s)', (_n, j) => {
    expect(evaluateBreakGlass(er, rec, j, NOW)).toMatchObject({ allowed: false, reason: 'JUSTIFICATION_REQUIRED' });
  });
  it('accepts exactly 10 characters', () => expect(evaluateBreakGlass(er, rec, '1234567890', NOW).allowed).toBe(true));

  it('needs a physician with the emergency role, active, with clearance', () => {
    expect(evaluateBreakGlass(participant({ id: pid(61), kind: 'physician' }), rec, why, NOW)).toMatchObject({ reason: 'NOT_EMERGENCY_PHYSICIAN' });
    expect(evaluateBreakGlass(participant({ id: pid(62), kind: 'researcher' }), recordWith('LOW'), why, NOW)).toMatchObject({ reason: 'NOT_EMERGENCY_PHYSICIAN' });
    expect(evaluateBreakGlass(participant({ id: pid(63), kind: 'physician', roles: ['emergency'], status: 'suspended' }), rec, why, NOW)).toMatchObject({
      reason: 'REQUESTER_SUSPENDED',
    });
    expect(evaluateBreakGlass(participant({ id: pid(64), kind: 'physician', roles: ['emergency'], clearance: 'MODERATE' }), rec, why, NOW)).toMatchObject({
      reason: 'CLEARANCE_BELOW_LEVEL',
    });
  });
});

describe('isGrantLive', () => {
  const g = parseGrant({
    id: 'g1', emrId: 'emr-1', granteeId: pid(9), notBefore: '2024-05-01T00:00:00.000Z', notAfter: '2024-05-02T00:00:00.000Z',
    threshold: 1, shares: 1, kfrags: [{ proxyId: 'proxy-1', ref: 'bafyx' }],
  });
  it.each<[string, boolean]>([
    ['2024-04-30T23:59:59.999Z', false],
    ['2024-05-01T00:00:00.000Z', true],
    ['2024-05-01T12:00:00.000Z', true],
    ['2024-05-01T23:59:59.999Z', true],
    ['2024-05-02T00:00:00.000Z', false],
  ])('at %s → %s', (now, live) => expect(isGrantLive(g, now)).toBe(live));

  it('ends at the revoking transaction’s time; a second revocation conflicts', () => {
    const r = revokeGrant(g, NOW);
    expect(r.revokedAt).toBe(NOW);
    expect(Object.isFrozen(r)).toBe(true);
    expect(isGrantLive(r, '2024-05-01T11:59:59.999Z')).toBe(true);
    expect(isGrantLive(r, NOW)).toBe(false);
    expect(isGrantLive(r, '2024-05-01T18:00:00.000Z')).toBe(false);
    expectCode(() => revokeGrant(r, '2024-05-01T13:00:00.000Z'), 'CONFLICT', /already revoked/);
  });

  it('refuses a malformed now', () => expectCode(() => isGrantLive(g, 'now'), 'INVALID_ARGUMENT', 'now'));
});
