// Splitting an upload into EMR groups: keys, levels, labels, reference bookkeeping, determinism; then the three
// Synthea sample bundles end to end.
import type { Resource } from '@medplum/fhirtypes';
import { classifyResource } from '../../src/fhir/classify.js';
import { groupResources, indexResources, keyOf, referencesIn, serviceDateOf } from '../../src/fhir/group.js';
import type { EmrGroup } from '../../src/fhir/group.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM, levelRank } from '../../src/fhir/types.js';
import { PATIENT_FILES, readSample } from './samples.js';

const LOINC = 'http://loinc.org';
const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';
const cc = (system: string, code: string) => ({ coding: [{ system, code }] });
const r = (resourceType: string, id: string, fields: Record<string, unknown> = {}): Resource => ({ resourceType, id, ...fields }) as unknown as Resource;

/** A small upload: one inpatient stay, one undated-by-encounter prescription, a device stream, directory data. */
function upload(): Resource[] {
  const pat = { reference: 'urn:uuid:p1' };
  const stay = { reference: 'urn:uuid:e1' };
  return [
    r('Patient', 'p1', { name: [{ family: 'Doe' }], birthDate: '1980-02-03', gender: 'female' }),
    r('Coverage', 'cov1', { status: 'active', beneficiary: { reference: 'Patient/p1' }, payor: [{ reference: 'Organization?identifier=urn:x|42' }] }),
    r('RelatedPerson', 'rp1', { patient: pat }),
    r('Encounter', 'e1', { status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: pat, period: { start: '2020-05-01T10:00:00Z', end: '2020-05-03T10:00:00Z' }, serviceProvider: { reference: 'Organization/o1' } }),
    r('Observation', 'lab1', { status: 'final', category: [cc(OBS_CAT, 'laboratory')], code: cc(LOINC, '2345-7'), subject: pat, encounter: stay, effectiveDateTime: '2020-05-02T08:00:00Z' }),
    r('Observation', 'hiv1', { status: 'final', category: [cc(OBS_CAT, 'laboratory')], code: cc(LOINC, '25836-8'), subject: pat, encounter: { reference: 'Encounter/e1' }, effectiveDateTime: '2020-05-02T08:00:00Z' }),
    r('Observation', 'hr1', { status: 'final', category: [cc(OBS_CAT, 'vital-signs')], code: cc(LOINC, '8867-4'), subject: pat, encounter: stay, effectiveDateTime: '2020-05-01T11:00:00Z' }),
    r('Condition', 'c1', { code: cc('http://snomed.info/sct', '44054006'), subject: pat, encounter: stay }),
    r('DocumentReference', 'doc1', { status: 'current', subject: pat, context: { encounter: [stay] }, author: [{ reference: 'Practitioner/dr1' }] }),
    r('Claim', 'cl1', { patient: pat, created: '2020-05-03', item: [{ sequence: 1, encounter: [stay] }], provider: { reference: 'Organization/o1' } }),
    r('ExplanationOfBenefit', 'eob1', { patient: pat, created: '2020-05-03', claim: { reference: 'urn:uuid:cl1' } }),
    r('MedicationRequest', 'mr1', { status: 'active', intent: 'order', subject: pat, authoredOn: '2020-06-10', medicationReference: { reference: 'urn:uuid:m1' } }),
    r('Medication', 'm1', { code: cc('http://www.nlm.nih.gov/research/umls/rxnorm', '195085') }),
    r('Observation', 'steps1', { status: 'final', code: cc(LOINC, '55423-8'), subject: pat, device: { reference: 'urn:uuid:d1' }, effectiveDateTime: '2020-07-01' }),
    r('Observation', 'steps2', { status: 'final', code: cc(LOINC, '55423-8'), subject: pat, device: { reference: 'Device/d1' }, effectiveDateTime: '2020-07-01' }),
    r('Device', 'd1', { patient: pat, serialNumber: 'SN-123' }),
    r('Device', 'd2', { serialNumber: 'SN-999' }),
    r('Condition', 'c2', { code: cc('http://snomed.info/sct', '195662009'), subject: pat, recordedDate: '2021-01-15' }),
    r('Condition', 'c3', { code: cc('http://snomed.info/sct', '10509002'), subject: pat, recordedDate: '2021-01-15' }),
    r('Condition', 'c4', { code: cc('http://snomed.info/sct', '10509002'), subject: pat, recordedDate: '2021-02-01' }),
    r('Provenance', 'prov1', { target: [pat, stay], recorded: '2020-05-03T00:00:00Z' }),
    r('Practitioner', 'dr1', { name: [{ family: 'House' }] }),
    r('Organization', 'o1', { name: 'General Hospital' }),
  ];
}

const ids = (g: EmrGroup) => g.resources.map((x) => x.id);
const find = (groups: EmrGroup[], pred: (g: EmrGroup) => boolean): EmrGroup => {
  const hits = groups.filter(pred);
  expect(hits).toHaveLength(1);
  return hits[0]!;
};

describe('groupResources on a hand-made upload', () => {
  const omitted: string[] = [];
  const input = upload();
  const before = structuredClone(input);
  const groups = groupResources(input, { onOmitted: (res, why) => omitted.push(`${res.resourceType}: ${why}`) });
  const byId = (id: string) => find(groups, (g) => ids(g).includes(id));

  it('does not modify its input', () => {
    expect(input).toEqual(before);
  });

  it('puts Patient, Coverage and RelatedPerson in one PRIVATE identity group of that patient', () => {
    const g = find(groups, (x) => x.partition === 'identity');
    expect(ids(g)).toEqual(['cov1', 'p1', 'rp1']);
    expect(g).toMatchObject({ category: 'identity', level: 'PRIVATE', patient: 'Patient/p1' });
    expect(g.serviceDate).toBeUndefined();
    expect(g.encounter).toBeUndefined();
    expect(groups[0]).toBe(g);
  });

  it('leaves out directory data and provenance, and says so', () => {
    expect(omitted).toEqual([
      expect.stringMatching(/^Provenance: .*audit metadata/),
      expect.stringMatching(/^Practitioner: .*directory data/),
      expect.stringMatching(/^Organization: .*directory data/),
    ]);
    for (const g of groups) for (const x of g.resources) expect(['Provenance', 'Practitioner', 'Organization']).not.toContain(x.resourceType);
  });

  it('splits one encounter by Table 5 class, keyed by the encounter, dated by its start', () => {
    const stay = groups.filter((g) => g.encounter === 'Encounter/e1');
    expect(stay.map((g) => [g.category, g.partition, g.level, ids(g)])).toEqual([
      ['medical-information', 'clinical', 'PRIVATE', ['c1', 'doc1']],
      ['medical-information', 'financial', 'PRIVATE', ['cl1', 'eob1']],
      ['admission-record', 'clinical', 'PRIVATE', ['e1']],
      ['clinical-trial-observation', 'clinical', 'PRIVATE', ['hiv1', 'lab1']],
      ['lifelog-sensor', 'clinical', 'MODERATE', ['hr1']],
    ]);
    for (const g of stay) expect(g.serviceDate).toBe('2020-05-01');
  });

  it('an HIV test makes its group PRIVATE; documents, billing and the Encounter inherit the label, other groups keep their level', () => {
    expect(byId('lab1').sensitivity).toEqual(['HIV']);
    expect(byId('doc1').sensitivity).toEqual(['HIV']);
    expect(byId('doc1').reasons.join('\n')).toMatch(/DocumentReference summarises its encounter → inherits HIV/);
    expect(byId('cl1').sensitivity).toEqual(['HIV']);
    expect(byId('e1').sensitivity).toEqual(['HIV']);
    expect(byId('hr1')).toMatchObject({ level: 'MODERATE', sensitivity: [] });
  });

  it('labels every member with its group classification (one confidentiality code)', () => {
    for (const g of groups) {
      for (const x of g.resources) {
        const security = x.meta?.security ?? [];
        expect(security.filter((l) => l.system === CONFIDENTIALITY_SYSTEM).map((l) => l.code)).toEqual([g.confidentiality]);
        expect(security.filter((l) => l.system === ACT_CODE_SYSTEM).map((l) => l.code)).toEqual(g.sensitivity);
      }
    }
    const lab = byId('lab1').resources.find((x) => x.id === 'lab1')!;
    expect(lab.meta?.security?.map((l) => l.code)).toEqual(['R', 'HIV']);
  });

  it('finds the encounter of an ExplanationOfBenefit through its Claim', () => {
    expect(byId('eob1').encounter).toBe('Encounter/e1');
  });

  it('copies referenced reference data into the groups that name it, and raises them by its codes', () => {
    const rx = byId('mr1');
    expect(ids(rx)).toEqual(['m1', 'mr1']);
    expect(rx).toMatchObject({ category: 'prescription', serviceDate: '2020-06-10', sensitivity: ['HIV'] });
    const sensor = byId('steps1');
    expect(ids(sensor)).toEqual(['d1', 'steps1', 'steps2']);
    expect(sensor).toMatchObject({ category: 'lifelog-sensor', level: 'MODERATE', serviceDate: '2020-07-01' });
    expect(groups.filter((g) => ids(g).includes('m1'))).toHaveLength(1);
    // an unreferenced Device forms its own clinical-trial-device group
    const lone = find(groups, (g) => ids(g).includes('d2'));
    expect(lone).toMatchObject({ category: 'clinical-trial-device', level: 'LOW' });
    expect(lone.serviceDate).toBeUndefined();
    expect(lone.patient).toBeUndefined();
  });

  it('without an encounter, groups by date of service', () => {
    expect(ids(byId('c2'))).toEqual(['c2', 'c3']);
    expect(byId('c2').serviceDate).toBe('2021-01-15');
    expect(ids(byId('c4'))).toEqual(['c4']);
  });

  it('lists every reference that leaves a group and where it lives', () => {
    const keys = new Set(groups.map((g) => g.key));
    const all = upload();
    const index = indexResources(all);
    for (const g of groups) {
      const inside = new Set(g.resources.map(keyOf));
      const listed = new Map(g.references.map((x) => [x.reference, x]));
      for (const ref of g.resources.flatMap(referencesIn)) {
        const t = index.resolve(ref);
        if (t && inside.has(keyOf(t))) continue;
        const ext = listed.get(ref);
        expect(ext).toBeDefined();
        if (ext!.location === 'group') {
          expect(keys.has(ext!.group!)).toBe(true);
          expect(groups.find((x) => x.key === ext!.group)!.resources.map(keyOf)).toContain(ext!.target);
        }
      }
    }
    const lab = byId('lab1');
    expect(lab.references).toEqual([
      { reference: 'Encounter/e1', target: 'Encounter/e1', location: 'group', group: byId('e1').key },
      { reference: 'urn:uuid:e1', target: 'Encounter/e1', location: 'group', group: byId('e1').key },
      { reference: 'urn:uuid:p1', target: 'Patient/p1', location: 'group', group: groups[0]!.key },
    ]);
    expect(byId('doc1').references).toContainEqual({ reference: 'Practitioner/dr1', target: 'Practitioner/dr1', location: 'directory' });
    expect(groups[0]!.references).toContainEqual({ reference: 'Organization?identifier=urn:x|42', location: 'directory' });
  });

  it('is deterministic: the input order does not change groups, their order, or member order', () => {
    const shuffled = [...upload()].reverse();
    const again = groupResources(shuffled);
    expect(again.map((g) => [g.key, ids(g)])).toEqual(groups.map((g) => [g.key, ids(g)]));
    expect(again).toEqual(groups);
  });

  it('keeps one level per group: the most protective of its members', () => {
    const index = indexResources(upload());
    for (const g of groups) {
      const levels = g.resources.map((x) => classifyResource(upload().find((y) => y.id === x.id)!, { resolve: (ref) => index.resolve(ref) }).level);
      expect(levelRank(g.level)).toBeGreaterThanOrEqual(Math.max(...levels.map(levelRank)));
    }
  });

  it('separates patients', () => {
    const idPattern = new RegExp(`\\b(${upload().map((x) => x.id).join('|')})\\b`, 'g');
    const other = upload().map((x) => JSON.parse(JSON.stringify(x).replace(idPattern, '$1-b')) as Resource);
    const both = groupResources([...upload(), ...other]);
    expect(new Set(both.map((g) => g.patient))).toEqual(new Set(['Patient/p1', 'Patient/p1-b', undefined]));
    // the two unreferenced, patient-less Devices share the one undated clinical-trial-device group
    expect(both.length).toBe(2 * groups.length - 1);
    expect(both.filter((g) => g.partition === 'identity')).toHaveLength(2);
  });
});

describe('helpers', () => {
  it('indexResources resolves Type/id, urn:uuid, absolute and versioned references; not contained or conditional ones', () => {
    const p = r('Patient', 'abc-1');
    const index = indexResources([p, r('Observation', 'abc-2')]);
    for (const ref of ['Patient/abc-1', 'urn:uuid:abc-1', 'https://ehr.example/fhir/Patient/abc-1', 'Patient/abc-1/_history/3']) expect(index.resolve(ref)).toBe(p);
    for (const ref of ['#abc-1', 'Patient?identifier=x|abc-1', 'Encounter/abc-1', 'urn:uuid:nope']) expect(index.resolve(ref)).toBeUndefined();
  });

  it.each<[Record<string, unknown>, string | undefined]>([
    [{ effectiveDateTime: '2019-03-04T05:06:07+02:00' }, '2019-03-04'],
    [{ effectivePeriod: { start: '2019-03' } }, '2019-03'],
    [{ onsetDateTime: '2019' }, '2019'],
    [{ issued: '2019-01-01T00:00:00Z', effectiveDateTime: '2018-12-31' }, '2018-12-31'],
    [{ billablePeriod: { start: '2017-02-02' } }, '2017-02-02'],
    [{}, undefined],
  ])('serviceDateOf(%j) = %s', (fields, date) => {
    expect(serviceDateOf(r('Observation', 'o', fields))).toBe(date);
  });
});

describe('Synthea sample bundles', () => {
  it.each(PATIENT_FILES)('%s', (file) => {
    const resources = readSample(file).entry!.map((e) => e.resource!);
    const omitted: Resource[] = [];
    const groups = groupResources(resources, { onOmitted: (x) => omitted.push(x) });

    // every resource but the Provenance is in exactly one group (no reference data in these bundles)
    expect(omitted.map((x) => x.resourceType)).toEqual(['Provenance']);
    const placed = groups.flatMap((g) => g.resources.map(keyOf));
    expect(new Set(placed).size).toBe(placed.length);
    expect(placed.length).toBe(resources.length - 1);

    // one identity group; every other group belongs to an encounter of the bundle
    expect(groups.filter((g) => g.partition === 'identity').map((g) => g.category)).toEqual(['identity']);
    const encounters = resources.filter((x) => x.resourceType === 'Encounter').map(keyOf);
    for (const g of groups.filter((x) => x.partition !== 'identity')) {
      expect(encounters).toContain(g.encounter);
      expect(g.serviceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    // inpatient encounters hold the HIV work-up: their observation groups are PRIVATE and labelled
    const inpatient = groups.filter((g) => g.category === 'admission-record');
    expect(inpatient.length).toBeGreaterThan(0);
    for (const adm of inpatient) {
      const obs = groups.find((g) => g.encounter === adm.encounter && g.category === 'clinical-trial-observation');
      if (obs) expect(obs).toMatchObject({ level: 'PRIVATE', sensitivity: expect.arrayContaining(['HIV']) });
    }
    // well-child immunisation groups stay LOW
    expect(groups.some((g) => g.category === 'clinical-trial-observation' && g.level === 'LOW')).toBe(true);
    // references leave a group only to another group of this upload or to directory data
    for (const g of groups) for (const ext of g.references) expect(['group', 'directory']).toContain(ext.location);
    // sorted by date of service after the identity group
    const dates = groups.slice(1).map((g) => g.serviceDate!);
    expect(dates).toEqual([...dates].sort());
  });
});
