// Access policy ⇄ Consent (exact round trip over generated policies, refusals with FHIRPath locations) and
// grant ⇄ Consent provision.
import type { Consent, ConsentProvision } from '@medplum/fhirtypes';
import { DEFAULT_POLICY, DEFAULT_READER_KINDS, SECURITY_LEVELS, parseAccessPolicy } from '../../../chaincode/src/domain/index.js';
import type { AccessPolicy } from '../../../chaincode/src/domain/index.js';
import { FhirInputError } from '../../../src/fhir/outcome.js';
import {
  ACCESS_POLICY_URI,
  GRANT_SYSTEM,
  PARTICIPANT_GROUP_SYSTEM,
  PARTICIPANT_SYSTEM,
  PIE_EXTENSIONS,
  TREATMENT,
  consentSubject,
  consentToPolicy,
  grantToConsent,
  grantToProvision,
  policyToConsent,
  provisionToGrantWindow,
  recordReference,
} from '../../../src/fhir/views/index.js';
import { thrownFhirError } from '../samples.js';
import { EMERGENCY_DOCTOR, LATER, NOW, PATIENT, RESEARCHER, codes, emergencyGrant, expectValidR4, grant, pid, policy, prng } from './fixtures.js';

const clone = <T>(v: T): T => structuredClone(v);
const roundTrip = (p: AccessPolicy, recordId?: string): AccessPolicy => consentToPolicy(policyToConsent(p, { patientId: PATIENT, ...(recordId ? { recordId } : {}) }));

/** The issues a Consent is refused with, as [code, FHIRPath]. */
function refusal(consent: Consent): [string, string][] {
  const err = thrownFhirError(() => consentToPolicy(consent));
  expect(err.outcome.resourceType).toBe('OperationOutcome');
  return err.issues.map((i) => [i.code, i.expression ?? '']);
}

const group = (value: string) => ({ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { identifier: { system: PARTICIPANT_GROUP_SYSTEM, value } } });
const person = (id: string) => ({ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { identifier: { system: PARTICIPANT_SYSTEM, value: id } } });
const BTG = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG' };

/** A hand-written Consent, as a patient's app would send it (minimal, no displays). */
function minimal(provisions: ConsentProvision[]): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${PATIENT}` },
    policy: [{ uri: ACCESS_POLICY_URI }],
    provision: { type: 'deny', provision: provisions },
  };
}

describe('policyToConsent', () => {
  it('the default policy: a privacy Consent, deny base, ordinary permit for the three reader kinds, break-glass permit', () => {
    const c = policyToConsent(DEFAULT_POLICY, { patientId: PATIENT, id: 'policy-1', dateTime: NOW });
    expectValidR4(c);
    expect(c.status).toBe('active');
    expect(codes([c.scope!])).toEqual(['http://terminology.hl7.org/CodeSystem/consentscope|patient-privacy']);
    expect(codes(c.category)).toEqual(['http://loinc.org|59284-0']);
    expect(c.patient).toEqual({ type: 'Patient', identifier: { system: PARTICIPANT_SYSTEM, value: PATIENT } });
    expect(c.policy).toEqual([{ uri: ACCESS_POLICY_URI }]);
    expect(c.provision!.type).toBe('deny');
    expect(c.provision!.data).toBeUndefined();
    const [ordinary, emergency] = c.provision!.provision!;
    expect(ordinary!.type).toBe('permit');
    expect(ordinary!.actor!.map((a) => a.reference.identifier!.value)).toEqual(['kind:physician', 'kind:researcher', 'kind:insurer']);
    expect(codes(ordinary!.actor!.map((a) => a.role))).toEqual(Array(3).fill('http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP'));
    expect(codes(ordinary!.action)).toEqual(['http://terminology.hl7.org/CodeSystem/consentaction|access']);
    expect(ordinary!.provision).toBeUndefined();
    expect(emergency!.type).toBe('permit');
    expect(codes(emergency!.purpose)).toEqual(['http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG', 'http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT']);
    expect(emergency!.actor!.map((a) => a.reference.identifier!.value)).toEqual(['emergency-physician']);
  });

  it('a narrowed record policy: expiry, clearance deny, deny list in both permits, allow list with the clearance under it', () => {
    const p = policy({ minClearance: 'PRIVATE', allowedKinds: ['physician'], allow: [pid(7), pid(8)], deny: [pid(9)], expiresAt: '2030-01-01T00:00:00.000Z' });
    const c = policyToConsent(p, { patientId: PATIENT, recordId: 'emr-1' });
    expectValidR4(c);
    expect(c.provision!.data).toEqual([{ meaning: 'instance', reference: recordReference('emr-1') }]);
    const [ordinary, emergency] = c.provision!.provision!;
    expect(ordinary!.period).toEqual({ end: '2030-01-01T00:00:00.000Z' });
    const [denyList, allowDeny] = ordinary!.provision!;
    expect(denyList!.type).toBe('deny');
    expect(denyList!.actor!.map((a) => a.reference.identifier)).toEqual([{ system: PARTICIPANT_SYSTEM, value: pid(9) }]);
    expect(allowDeny!.actor!.map((a) => a.reference.identifier!.value)).toEqual(['any']);
    const allowPermit = allowDeny!.provision![0]!;
    expect(allowPermit.type).toBe('permit');
    expect(allowPermit.actor!.map((a) => a.reference.identifier!.value)).toEqual([pid(7), pid(8)]);
    expect(allowPermit.provision![0]!.actor!.map((a) => a.reference.identifier!.value)).toEqual(['clearance:LOW', 'clearance:MODERATE']);
    expect(emergency!.provision).toEqual([denyList]);
    expect(roundTrip(p, 'emr-1')).toEqual(p);
  });

  it('no reader kind at all is Group none (an actor-less permit would admit everyone)', () => {
    const p = policy({ allowedKinds: [], emergencyAllowed: false });
    const c = policyToConsent(p, { patientId: PATIENT });
    expectValidR4(c);
    expect(c.provision!.provision).toHaveLength(1);
    expect(c.provision!.provision![0]!.actor!.map((a) => a.reference.identifier!.value)).toEqual(['none']);
    expect(roundTrip(p)).toEqual(p);
  });
});

describe('policy → Consent → policy is exact (generated policies)', () => {
  const random = prng(20240501);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const shuffled = <T>(xs: readonly T[]): T[] => [...xs].map((x) => [random(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
  const ids = (n: number, from: number): string[] => Array.from({ length: n }, (_, i) => pid(from + i * 7 + Math.floor(random() * 5)));
  const times = ['2030-01-01T00:00:00.000Z', '2031-06-30T23:59:59Z', '2029-02-28T12:00:00.5Z', '2032-12-31T23:59:59.123456789Z'];

  function generate(): AccessPolicy {
    const allow = random() < 0.4 ? ids(1 + Math.floor(random() * 4), 100) : [];
    const deny = random() < 0.4 ? ids(1 + Math.floor(random() * 4), 1000) : [];
    return parseAccessPolicy({
      minClearance: pick(SECURITY_LEVELS),
      allowedKinds: shuffled(DEFAULT_READER_KINDS).slice(0, Math.floor(random() * 4)),
      allow: [...new Set(allow)],
      deny: [...new Set(deny)],
      emergencyAllowed: random() < 0.5,
      ...(random() < 0.5 ? { expiresAt: pick(times) } : {}),
    });
  }

  const policies = Array.from({ length: 300 }, generate);

  it('covers every feature', () => {
    expect(new Set(policies.map((p) => p.minClearance)).size).toBe(3);
    expect(policies.some((p) => p.allowedKinds.length === 0)).toBe(true);
    expect(policies.some((p) => p.allow.length > 0 && p.deny.length > 0 && p.minClearance !== 'LOW' && p.emergencyAllowed)).toBe(true);
  });

  it('round-trips all 300, each Consent valid R4', () => {
    policies.forEach((p, i) => {
      const consent = policyToConsent(p, { patientId: PATIENT, ...(i % 2 ? { recordId: `emr-${i}` } : {}) });
      expectValidR4(consent);
      expect(consentToPolicy(consent)).toEqual(p);
      // what a client sends back after JSON serialisation reads the same
      expect(consentToPolicy(JSON.parse(JSON.stringify(consent)) as Consent)).toEqual(p);
    });
  });

  it('provision order does not matter', () => {
    const p = policy({ minClearance: 'MODERATE', deny: [pid(9)], expiresAt: times[0] });
    const c = policyToConsent(p, { patientId: PATIENT });
    c.provision!.provision!.reverse();
    c.provision!.provision![1]!.provision!.reverse();
    expect(consentToPolicy(c)).toEqual(p);
  });
});

describe('consentToPolicy: reading a client’s Consent', () => {
  it('accepts literal references and zoned date-times (normalised to UTC)', () => {
    const c = minimal([
      {
        type: 'permit',
        period: { end: '2030-01-01T09:00:00+09:00' },
        actor: [group('kind:physician')],
        provision: [{ type: 'deny', actor: [{ ...person(pid(9)), reference: { reference: `Practitioner/${pid(9)}` } }] }],
      },
    ]);
    expect(consentToPolicy(c)).toEqual(policy({ allowedKinds: ['physician'], deny: [pid(9)], emergencyAllowed: false, expiresAt: '2030-01-01T00:00:00.000Z' }));
  });

  it('an emergency-only Consent: no ordinary access at all', () => {
    const c = minimal([{ type: 'permit', purpose: [BTG], actor: [group('emergency-physician')] }]);
    expect(consentToPolicy(c)).toEqual(policy({ allowedKinds: [], emergencyAllowed: true }));
  });

  it.each([
    ['Patient', `Patient/${PATIENT}`, 'DocumentReference/emr-1', { patientId: PATIENT, recordId: 'emr-1' }],
    ['RelatedPerson', `RelatedPerson/${PATIENT}`, 'DocumentReference/e.m-r', { patientId: PATIENT, recordId: 'e.m-r' }],
  ])('consentSubject reads literal references: %s', (_what, patient, recordRef, subject) => {
    const c: Consent = { ...minimal([]), patient: { reference: patient }, provision: { type: 'deny', data: [{ meaning: 'instance', reference: { reference: recordRef } }] } };
    expect(consentSubject(c)).toEqual(subject);
  });

  it.each([
    ['an absolute participant URL', `https://example.org/fhir/Patient/${PATIENT}`, 'DocumentReference/emr-1', 'Consent.patient.reference'],
    ['a versioned participant', `Patient/${PATIENT}/_history/1`, 'DocumentReference/emr-1', 'Consent.patient.reference'],
    ['a participant of another type', `Group/${PATIENT}`, 'DocumentReference/emr-1', 'Consent.patient.reference'],
    ['a participant id that is not 32 lower-case hex', `Patient/${'F'.repeat(32)}`, 'DocumentReference/emr-1', 'Consent.patient.reference'],
    ['a record id that is not a FHIR id', `Patient/${PATIENT}`, 'DocumentReference/emr_1', 'Consent.provision.data[0].reference.reference'],
    ['an absolute record URL', `Patient/${PATIENT}`, 'https://example.org/fhir/DocumentReference/emr-1', 'Consent.provision.data[0].reference.reference'],
    ['a versioned record', `Patient/${PATIENT}`, 'DocumentReference/emr-1/_history/2', 'Consent.provision.data[0].reference.reference'],
    ['a record of another type', `Patient/${PATIENT}`, 'Binary/emr-1', 'Consent.provision.data[0].reference.reference'],
  ])('consentSubject refuses %s', (_what, patient, recordRef, expression) => {
    const c: Consent = { ...minimal([]), patient: { reference: patient }, provision: { type: 'deny', data: [{ meaning: 'instance', reference: { reference: recordRef } }] } };
    expect(thrownFhirError(() => consentSubject(c)).issues).toEqual([expect.objectContaining({ code: 'value', expression })]);
  });

  it('consentSubject names the patient and, for a record policy, the record', () => {
    expect(consentSubject(policyToConsent(DEFAULT_POLICY, { patientId: PATIENT }))).toEqual({ patientId: PATIENT });
    expect(consentSubject(policyToConsent(DEFAULT_POLICY, { patientId: PATIENT, recordId: 'emr-1' }))).toEqual({ patientId: PATIENT, recordId: 'emr-1' });
    expect(() => consentSubject({ ...minimal([]), patient: { reference: 'Patient/nobody' } })).toThrow(FhirInputError);
  });
});

describe('consentToPolicy: refusals (each problem with its FHIRPath)', () => {
  const base = (): Consent => policyToConsent(policy({ deny: [pid(9)] }), { patientId: PATIENT });

  it('an inactive Consent, another scope', () => {
    const c = { ...base(), status: 'draft' as const, scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] } };
    expect(refusal(c)).toEqual([
      ['value', 'Consent.status'],
      ['value', 'Consent.scope'],
    ]);
  });

  it('a permit base rule widens the defaults', () => {
    const c = base();
    c.provision!.type = 'permit';
    expect(refusal(c)).toEqual([['forbidden', 'Consent.provision.type']]);
  });

  it('admitting patients or org admins widens the defaults (policyWidenings); unknown kinds are invalid', () => {
    const c = base();
    c.provision!.provision![0]!.actor!.push(group('kind:patient') as never, group('kind:org-admin') as never, group('kind:nurse') as never);
    const issues = refusal(c);
    expect(issues).toEqual([
      ['forbidden', 'Consent.provision.provision[0].actor[3].reference'],
      ['forbidden', 'Consent.provision.provision[0].actor[4].reference'],
      ['code-invalid', 'Consent.provision.provision[0].actor[5].reference'],
    ]);
  });

  it('an ordinary permit without actors would admit everyone; a break-glass permit for every physician is wider than the role', () => {
    const c = base();
    delete c.provision!.provision![0]!.actor;
    c.provision!.provision![1]!.actor = [group('kind:physician') as never];
    expect(refusal(c)).toEqual([
      ['forbidden', 'Consent.provision.provision[0].actor'],
      ['forbidden', 'Consent.provision.provision[1].actor[0].reference'],
    ]);
  });

  it('what a policy cannot express: a start, a purpose on ordinary access, security labels, a period on break-glass', () => {
    const c = base();
    const [ordinary, emergency] = c.provision!.provision!;
    ordinary!.period = { start: NOW };
    ordinary!.securityLabel = [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }];
    emergency!.period = { end: LATER };
    expect(refusal(c)).toEqual([
      ['not-supported', 'Consent.provision.provision[0].securityLabel'],
      ['not-supported', 'Consent.provision.provision[0].period.start'],
      ['not-supported', 'Consent.provision.provision[1].period'],
    ]);
    const d = base();
    d.provision!.provision![0]!.purpose = [TREATMENT];
    expect(refusal(d)).toEqual([['not-supported', 'Consent.provision.provision[0].purpose']]);
  });

  it('clearance denies that are not "everything below a minimum"', () => {
    const c = base();
    c.provision!.provision![0]!.provision!.push({ type: 'deny', actor: [group('clearance:MODERATE') as never] });
    expect(refusal(c)).toEqual([['not-supported', 'Consent.provision.provision[0].provision[1].actor']]);
  });

  it('with an allow list, the clearance deny must sit under the allow-list permit', () => {
    const c = policyToConsent(policy({ minClearance: 'MODERATE', allow: [pid(7)] }), { patientId: PATIENT });
    const ordinary = c.provision!.provision![0]!;
    const allow = ordinary.provision![0]!;
    ordinary.provision!.push(allow.provision![0]!.provision!.pop()!);
    delete allow.provision![0]!.provision;
    expect(refusal(c)).toEqual([['not-supported', 'Consent.provision.provision[0].provision[1]']]);
  });

  it('break-glass must deny the same participants as ordinary access; nobody is both allowed and denied', () => {
    const c = policyToConsent(policy({ allow: [pid(7)], deny: [pid(9)] }), { patientId: PATIENT });
    const [ordinary, emergency] = c.provision!.provision!;
    emergency!.provision![0]!.actor!.push(person(pid(10)) as never);
    ordinary!.provision![0]!.actor!.push(person(pid(7)) as never);
    expect(refusal(c)).toEqual([
      ['invariant', 'Consent.provision.provision[1].provision[0]'],
      ['invariant', 'Consent.provision.provision[0].provision[1].provision[0].actor[0].reference'],
    ]);
  });

  it('bad participants, roles, dates and duplicates, all reported at once', () => {
    const c = base();
    const ordinary = c.provision!.provision![0]!;
    ordinary.period = { end: '2030-01-01' };
    ordinary.actor![0]!.role = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT' }] };
    ordinary.actor!.push(group('kind:physician') as never);
    const denyList = ordinary.provision![0]!;
    denyList.actor!.push({ ...person('not-a-participant') } as never, person(pid(9)) as never);
    c.provision!.provision![1]!.provision![0]!.actor!.push(person('not-a-participant') as never, person(pid(9)) as never);
    expect(refusal(c)).toEqual([
      ['value', 'Consent.provision.provision[0].period.end'],
      ['not-supported', 'Consent.provision.provision[0].actor[0].role'],
      ['value', 'Consent.provision.provision[0].actor[3].reference'],
      ['value', 'Consent.provision.provision[0].provision[0].actor[1].reference.identifier.value'],
      ['value', 'Consent.provision.provision[0].provision[0].actor[2].reference'],
      ['value', 'Consent.provision.provision[1].provision[0].actor[1].reference.identifier.value'],
      ['value', 'Consent.provision.provision[1].provision[0].actor[2].reference'],
    ]);
  });

  it('modifier extensions and unknown nested rules', () => {
    const c = base();
    c.modifierExtension = [{ url: 'https://example.org/x', valueBoolean: true }];
    c.provision!.provision!.push({ type: 'deny', actor: [person(pid(11)) as never] });
    c.provision!.provision![0]!.provision!.push({ type: 'permit', actor: [person(pid(12)) as never] });
    expect(refusal(c)).toEqual([
      ['not-supported', 'Consent.modifierExtension'],
      ['not-supported', 'Consent.provision.provision[0].provision[1]'],
      ['not-supported', 'Consent.provision.provision[2].type'],
    ]);
  });

  it('a Consent without provision or patient', () => {
    const c = base();
    delete c.provision;
    delete c.patient;
    expect(refusal(c)).toEqual([
      ['required', 'Consent.patient'],
      ['required', 'Consent.provision'],
    ]);
  });
});

describe('grants as Consent provisions', () => {
  it('an ordinary grant: permit the grantee access to the record for its window', () => {
    const g = grant();
    const p = grantToProvision(g, { purpose: [TREATMENT] });
    expect(p).toMatchObject({
      type: 'permit',
      period: { start: NOW, end: LATER },
      actor: [{ reference: { identifier: { system: PARTICIPANT_SYSTEM, value: RESEARCHER } } }],
      data: [{ meaning: 'instance', reference: recordReference('emr-1') }],
    });
    expect(codes(p.purpose)).toEqual(['http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT']);
    expect(p.extension).toEqual([{ url: PIE_EXTENSIONS.ledgerGrant, valueIdentifier: { system: GRANT_SYSTEM, value: g.id } }]);
    expect(grantToProvision(g).purpose).toBeUndefined();
    const c = grantToConsent(g, { patientId: PATIENT });
    expectValidR4(c);
    expect(c).toMatchObject({ id: g.id, status: 'active', identifier: [{ system: GRANT_SYSTEM, value: g.id }], performer: [{ type: 'Patient' }] });
  });

  it('an emergency grant is a BTG + ETREAT permit, not performed by the patient', () => {
    const g = emergencyGrant();
    const c = grantToConsent(g, { patientId: PATIENT });
    expectValidR4(c);
    expect(codes(c.provision!.provision![0]!.purpose)).toEqual(['http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG', 'http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT']);
    expect(c.performer).toBeUndefined();
    expect(c.provision!.provision![0]!.actor![0]!.reference.identifier!.value).toBe(EMERGENCY_DOCTOR);
  });

  it('a revoked grant ends at its revocation and its Consent is inactive', () => {
    const revokedAt = '2024-05-01T18:00:00.000Z';
    const c = grantToConsent(grant({ revokedAt }), { patientId: PATIENT });
    expectValidR4(c);
    const p = c.provision!.provision![0]!;
    expect(c.status).toBe('inactive');
    expect(p.period).toEqual({ start: NOW, end: revokedAt });
    expect(p.extension).toContainEqual({ url: PIE_EXTENSIONS.revokedAt, valueDateTime: revokedAt });
    // revoked after it had expired: the window stays; revoked before it started: an empty window (start = end)
    expect(grantToProvision(grant({ revokedAt: '2024-06-01T00:00:00.000Z' })).period).toEqual({ start: NOW, end: LATER });
    const early = grant({ notBefore: '2024-05-01T14:00:00.000Z', revokedAt: '2024-05-01T13:00:00.000Z' });
    expect(grantToProvision(early).period).toEqual({ start: '2024-05-01T14:00:00.000Z', end: '2024-05-01T14:00:00.000Z' });
    expectValidR4(grantToConsent(early, { patientId: PATIENT }));
  });

  it('provision → grant window round-trips a live grant', () => {
    const g = grant();
    expect(provisionToGrantWindow(grantToProvision(g, { purpose: [TREATMENT] }))).toEqual({ granteeId: g.granteeId, emrId: g.emrId, notBefore: g.notBefore, notAfter: g.notAfter });
  });

  it('refuses what a patient cannot grant', () => {
    const issuesOf = (p: ConsentProvision): [string, string][] =>
      thrownFhirError(() => provisionToGrantWindow(p, 'Consent.provision.provision[0]')).issues.map((i) => [i.code, i.expression ?? '']);
    const base = grantToProvision(grant());
    expect(issuesOf({ ...clone(base), purpose: [BTG] })).toEqual([['forbidden', 'Consent.provision.provision[0].purpose[0]']]);
    expect(issuesOf({ ...clone(base), period: { start: LATER, end: NOW } })).toEqual([['invariant', 'Consent.provision.provision[0].period.end']]);
    expect(issuesOf({ ...clone(base), period: { start: NOW, end: '2026-05-01T12:00:00.000Z' } })).toEqual([['value', 'Consent.provision.provision[0].period.end']]);
    expect(issuesOf({ ...clone(base), period: { end: LATER } })).toEqual([['required', 'Consent.provision.provision[0].period.start']]);
    expect(issuesOf({ ...clone(base), actor: [...base.actor!, ...base.actor!] })).toEqual([['value', 'Consent.provision.provision[0].actor']]);
    expect(issuesOf({ ...clone(base), data: undefined, type: 'deny' } as ConsentProvision)).toEqual([
      ['value', 'Consent.provision.provision[0].type'],
      ['required', 'Consent.provision.provision[0].data'],
    ]);
    expect(issuesOf({ ...clone(base), extension: [{ url: PIE_EXTENSIONS.revokedAt, valueDateTime: NOW }] })).toEqual([['not-supported', 'Consent.provision.provision[0].extension[0]']]);
    expect(issuesOf({ ...clone(base), provision: [{ type: 'deny' }] })).toEqual([['not-supported', 'Consent.provision.provision[0].provision']]);
  });
});
