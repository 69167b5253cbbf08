// Table 4 "EMR information" under HIPAA Safe Harbor: age bands, codes, ledger record, and the end-to-end check that
// nothing identifying in the sample bundles reaches a summary.
import { sensitiveStrings } from './phi-strings.js';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { parseRecordSummary } from '../../chaincode/src/domain/record.js';
import { groupResources } from '../../src/fhir/group.js';
import type { EmrGroup } from '../../src/fhir/group.js';
import { FhirInputError } from '../../src/fhir/outcome.js';
import { MAX_RECORD_CODES, ageBandAt, summariseGroup, toRecordSummary } from '../../src/fhir/summary.js';
import type { EmrSummary } from '../../src/fhir/summary.js';
import { PATIENT_FILES, readSample } from './samples.js';

const NOW = () => new Date('2024-06-30T12:00:00Z');
const counter = () => {
  let n = 0;
  return () => `emr-${++n}`;
};
const r = (resourceType: string, id: string, fields: Record<string, unknown> = {}): Resource => ({ resourceType, id, ...fields }) as unknown as Resource;
const cc = (system: string, code: string, display?: string) => ({ coding: [{ system, code, ...(display ? { display } : {}) }] });

describe('ageBandAt', () => {
  it.each<[string | undefined, string, string | undefined]>([
    // hand-computed: born 1999-04-26 (Porsha375's birth date)
    ['1999-04-26', '1999-04-26', '0-4'],
    ['1999-04-26', '2015-03-23', '15-19'], // 15 years old at her first inpatient stay
    ['1999-04-26', '2019-04-25', '15-19'], // the day before her 20th birthday
    ['1999-04-26', '2019-04-26', '20-24'], // her 20th birthday
    ['1999-04-26', '2019-04-26T00:30:00+02:00', '20-24'],
    ['1930-01-01', '2019-12-31', '85-89'], // 89
    ['1930-01-01', '2020-01-01', '90+'], // 90
    ['1900-06-01', '2020-01-01', '90+'], // 119
    ['2000-02-29', '2020-02-28', '15-19'], // leap-day birthday: 20 only on 1 March in a common year…
    ['2000-02-29', '2021-03-01', '20-24'],
    ['2000', '2012-06-15', '10-14'], // born some time in 2000: 11 or 12
    ['2000', '2015-06-15', undefined], // 14 or 15: the band cannot be told
    ['2000-05', '2015-06-15', '15-19'],
    ['1999-04-26', '1998-01-01', undefined], // service before birth
    [undefined, '2019-01-01', undefined],
    ['garbage', '2019-01-01', undefined],
  ])('born %s, at %s → %s', (birth, at, band) => {
    expect(ageBandAt(birth, at)).toBe(band);
  });
});

/** One hand-made group to exercise the code filter. */
function codedGroup(): EmrGroup {
  const resources = [
    r('Encounter', 'enc-1', { status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: 'Patient/pat-1' }, period: { start: '2019-08-07T09:00:00Z' } }),
    r('Condition', 'cond-1', {
      identifier: [{ type: cc('http://terminology.hl7.org/CodeSystem/v2-0203', 'MR'), system: 'urn:oid:1.2.3', value: 'MRN-0042' }],
      category: [cc('http://terminology.hl7.org/CodeSystem/condition-category', 'encounter-diagnosis', 'Encounter Diagnosis')],
      code: {
        coding: [
          { system: 'http://snomed.info/sct', code: '44054006', display: 'Diabetes mellitus type 2' },
          { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9' },
          { system: 'http://hl7.org/fhir/sid/us-ssn', code: '999-12-3456' }, // an identifier system misused as a code
          { system: 'urn:oid:2.16.840.1.113883.4.1', code: '999123456' },
          { system: 'http://example.org/local-codes', code: 'LOCAL-17' },
          { system: 'http://snomed.info/sct', code: 'call me on 555-0100' }, // free text in a code
          { system: 'http://loinc.org', code: 'https://evil.example/patient/42' },
        ],
        text: 'Type 2 diabetes, diagnosed by Dr. Who',
      },
      subject: { reference: 'Patient/pat-1' },
      encounter: { reference: 'Encounter/enc-1' },
      note: [{ text: 'Lives at 1 Main St' }],
    }),
  ];
  const [group] = groupResources(resources).filter((g) => g.category === 'medical-information');
  return group!;
}

describe('summariseGroup', () => {
  const patient = r('Patient', 'pat-1', { gender: 'female', birthDate: '1950-09-10', name: [{ family: 'Who' }] }) as Patient;

  it('keeps only codes of standard terminologies and HL7 code systems, clinical ones first', () => {
    const s = summariseGroup(codedGroup(), { organizationId: 'Org1MSP', patient, surrogate: () => 's-1' });
    expect(s).toEqual({
      id: 's-1',
      category: 'medical-information',
      securityLevel: 'PRIVATE',
      resourceTypes: ['Condition', 'Encounter'],
      categories: ['encounter-diagnosis'],
      codes: [
        'http://hl7.org/fhir/sid/icd-10-cm|E11.9',
        'http://snomed.info/sct|44054006',
        'http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis',
        'http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB',
      ],
      gender: 'female',
      ageBand: '65-69',
      year: 2019,
      organizationId: 'Org1MSP',
      labels: ['R'],
      counts: { Condition: 1, Encounter: 1 },
    } satisfies EmrSummary);
  });

  it('draws a fresh random surrogate id by default', () => {
    const g = codedGroup();
    const a = summariseGroup(g, { organizationId: 'Org1MSP' });
    const b = summariseGroup(g, { organizationId: 'Org1MSP' });
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.id).not.toBe(b.id);
    expect({ ...a, id: '' }).toEqual({ ...b, id: '' });
    expect(a.gender).toBeUndefined();
    expect(a.ageBand).toBeUndefined();
  });

  it('collapses ages over 89 to 90+ and leaves no birth-related year', () => {
    const old = r('Patient', 'pat-1', { gender: 'male', birthDate: '1921-03-04' }) as Patient;
    // a fixed surrogate: a random UUID can hold "98" by chance
    const s = summariseGroup(codedGroup(), { organizationId: 'Org1MSP', patient: old, surrogate: counter() });
    expect(s.ageBand).toBe('90+');
    expect(s.year).toBe(2019);
    expect(JSON.stringify(s)).not.toMatch(/1921|03-04|98/);
  });

  it('gives the identity group no codes or categories, and dates it by the clock', () => {
    const groups = groupResources([patient, r('Coverage', 'cov-1', { beneficiary: { reference: 'Patient/pat-1' }, type: cc('http://terminology.hl7.org/CodeSystem/v3-ActCode', 'PUBLICPOL') })]);
    expect(groups).toHaveLength(1);
    const s = summariseGroup(groups[0]!, { organizationId: 'Org1MSP', patient, now: NOW });
    expect(s).toMatchObject({ category: 'identity', securityLevel: 'PRIVATE', codes: [], categories: [], year: 2024, ageBand: '70-74', counts: { Coverage: 1, Patient: 1 } });
  });

  it('refuses a patient that is not the group’s, and years the ledger cannot hold', () => {
    const g = codedGroup();
    expect(() => summariseGroup(g, { organizationId: 'Org1MSP', patient: { ...patient, id: 'someone-else' } })).toThrow(FhirInputError);
    expect(() => summariseGroup({ ...g, serviceDate: '1890-01-01' }, { organizationId: 'Org1MSP' })).toThrow(/outside 1900/);
  });

  it('reports the strictest confidentiality label found on the members', () => {
    const g = codedGroup();
    const v = { ...g, resources: g.resources.map((x, i) => (i === 0 ? { ...x, meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'V' }] } } : x)) as Resource[] };
    expect(summariseGroup(v, { organizationId: 'Org1MSP' }).labels).toEqual(['V']);
  });
});

describe('toRecordSummary', () => {
  it('gives exactly the ledger fields and passes the chaincode parser', () => {
    const s = summariseGroup(codedGroup(), { organizationId: 'Org1MSP' });
    const record = toRecordSummary(s);
    expect(Object.keys(record).sort()).toEqual(['category', 'codes', 'labels', 'resourceTypes', 'securityLevel', 'year']);
    expect(parseRecordSummary(record)).toEqual(record);
  });

  it('truncates codes to 64, deterministically, keeping the summary order', () => {
    const obs = Array.from({ length: 80 }, (_, i) =>
      r('Observation', `o${i}`, { status: 'final', category: [cc('http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory')], code: cc('http://loinc.org', `${1000 + i}-${i % 10}`), effectiveDateTime: '2020-01-01' }),
    );
    const run = () => groupResources([...obs].sort(() => Math.random() - 0.5)).map((g) => summariseGroup(g, { organizationId: 'Org1MSP', surrogate: () => 'x' }));
    const [s] = run();
    expect(s!.codes).toHaveLength(81);
    // the category code is on all 80 members but is an HL7 code, so clinical terminology codes come first
    expect(s!.codes[80]).toBe('http://terminology.hl7.org/CodeSystem/observation-category|laboratory');
    const record = toRecordSummary(s!);
    expect(record.codes).toHaveLength(MAX_RECORD_CODES);
    expect(record.codes).toEqual(s!.codes.slice(0, MAX_RECORD_CODES));
    expect(toRecordSummary(run()[0]!)).toEqual(record);
    expect(parseRecordSummary(record)).toEqual(record);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// The key test: nothing identifying from the input reaches a summary.


describe.each(PATIENT_FILES)('Safe Harbor, end to end: %s', (file) => {
  const bundle = readSample(file);
  const resources = bundle.entry!.map((e) => e.resource!);
  const patient = resources.find((x): x is Patient => x.resourceType === 'Patient')!;
  const groups = groupResources(resources);
  const surrogate = counter();
  const summaries = groups.map((g) => summariseGroup(g, { organizationId: 'Org1MSP', patient, surrogate, now: NOW }));
  const records = summaries.map(toRecordSummary);
  const output = JSON.stringify({ summaries, records });
  const secrets = sensitiveStrings(bundle);

  it('collects what must not leak (sanity check of the collector)', () => {
    expect(secrets.size).toBeGreaterThan(500);
    const expected = [patient.id, patient.birthDate, patient.birthDate?.slice(0, 7), patient.name?.[0]?.family, patient.address?.[0]?.city, patient.address?.[0]?.postalCode, patient.telecom?.[0]?.value];
    for (const s of expected.filter((x): x is string => x !== undefined)) expect(secrets).toContain(s);
    expect(expected.filter((x) => x !== undefined).length).toBeGreaterThanOrEqual(6);
    expect([...secrets].some((s) => /^999-\d\d-\d{4}$/.test(s))).toBe(true); // the SSN
    expect([...secrets].some((s) => /^\d{10}$/.test(s))).toBe(true); // an NPI from a conditional reference
  });

  it('no identifier, name, address, telecom, birth date, text, display, id, fullUrl or attachment appears in any summary or record', () => {
    const leaked = [...secrets].filter((s) => output.includes(JSON.stringify(s).slice(1, -1)));
    expect(leaked).toEqual([]);
  });

  it('group reasons, which may be logged, carry none of it either', () => {
    const reasons = JSON.stringify(groups.map((g) => g.reasons));
    expect([...secrets].filter((s) => reasons.includes(JSON.stringify(s).slice(1, -1)))).toEqual([]);
  });

  it('holds no date finer than a year, and each year is the year of service', () => {
    expect(output).not.toMatch(/\d{4}-\d{2}/);
    groups.forEach((g, i) => {
      expect(summaries[i]!.year).toBe(g.partition === 'identity' ? 2024 : Number(g.serviceDate!.slice(0, 4)));
    });
    // numbers that look like years appear only as the year field
    const yearish = [...output.matchAll(/[^\d|](19\d\d|20\d\d)[^\d]/g)].map((m) => m[0]);
    expect(yearish.every((y) => /^:\d{4},$/.test(y))).toBe(true);
  });

  it('every record passes the chaincode parser; the age band matches the one worked out by hand', () => {
    for (const rec of records) expect(parseRecordSummary(rec)).toEqual(rec);
    expect(new Set(summaries.map((s) => s.id)).size).toBe(summaries.length);
    // hand check for Porsha375 (born 1999-04-26): 15 at the 2015-03-23 stay, 22 at the 2021-06-28 visit
    if (patient.birthDate === '1999-04-26') {
      expect(new Set(summaries.filter((_, i) => groups[i]!.serviceDate === '2015-03-23').map((s) => s.ageBand))).toEqual(new Set(['15-19']));
      expect(new Set(summaries.filter((_, i) => groups[i]!.serviceDate === '2021-06-28').map((s) => s.ageBand))).toEqual(new Set(['20-24']));
    }
    for (const s of summaries) expect(s.gender).toBe(patient.gender);
  });

  it('labels HIV records and truncates the largest ones', () => {
    expect(records.some((x) => x.labels.includes('HIV'))).toBe(true);
    const big = summaries.findIndex((s) => s.codes.length > MAX_RECORD_CODES);
    expect(big).toBeGreaterThanOrEqual(0);
    expect(records[big]!.codes).toEqual(summaries[big]!.codes.slice(0, MAX_RECORD_CODES));
  });

  it('the check would catch a leak (a planted city, SSN and display string are found)', () => {
    const ssn = [...secrets].find((x) => /^999-\d\d-\d{4}$/.test(x))!;
    const planted = JSON.stringify({ summaries, note: `${patient.address![0]!.city} ${ssn} HIV viral load` });
    const found = [...secrets].filter((x) => planted.includes(JSON.stringify(x).slice(1, -1)));
    expect(found).toEqual(expect.arrayContaining([patient.address![0]!.city, ssn, 'HIV viral load']));
  });
});
