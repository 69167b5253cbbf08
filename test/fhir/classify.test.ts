// Table 5 classification (one case per row and per resource type of DESIGN §5), the sensitivity rules (one case per
// table and boundary), security labels, and the Synthea HIV sample bundles.
import type { Coding, Resource } from '@medplum/fhirtypes';
import { SHARED_DATA_TYPES, classifyResource } from '../../src/fhir/classify.js';
import { DIRECTORY_TYPES } from '../../src/fhir/directory.js';
import type { ClassifyContext } from '../../src/fhir/classify.js';
import { withSecurityLabels } from '../../src/fhir/labels.js';
import { cielConceptId, sensitivityOf } from '../../src/fhir/sensitivity.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM } from '../../src/fhir/types.js';
import type { Category, SecurityLevel } from '../../src/fhir/types.js';
import { PATIENT_FILES, readSample } from './samples.js';

const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';

const cc = (system: string, code: string) => ({ coding: [{ system, code }] });
const res = (resourceType: string, fields: Record<string, unknown> = {}): Resource => ({ resourceType, id: 'x', ...fields }) as unknown as Resource;
const obs = (categories: string[], fields: Record<string, unknown> = {}): Resource =>
  res('Observation', { status: 'final', category: categories.map((c) => cc(OBS_CAT, c)), code: cc(LOINC, '1234-5'), ...fields });
const enc = (cls?: string, fields: Record<string, unknown> = {}): Resource =>
  res('Encounter', { status: 'finished', ...(cls ? { class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: cls } } : {}), ...fields });

describe('classifyResource: Table 5 rows', () => {
  it.each<[string, Resource, Category, SecurityLevel]>([
    // Medical information — PRIVATE
    ['Condition', res('Condition', { code: cc(SNOMED, '44054006') }), 'medical-information', 'PRIVATE'],
    ['Procedure', res('Procedure'), 'medical-information', 'PRIVATE'],
    ['AllergyIntolerance', res('AllergyIntolerance'), 'medical-information', 'PRIVATE'],
    ['CarePlan', res('CarePlan'), 'medical-information', 'PRIVATE'],
    ['ClinicalImpression', res('ClinicalImpression'), 'medical-information', 'PRIVATE'],
    ['DiagnosticReport (laboratory)', res('DiagnosticReport', { category: [cc(V2_0074, 'LAB')], code: cc(LOINC, '58410-2') }), 'medical-information', 'PRIVATE'],
    ['Encounter AMB (outpatient)', enc('AMB'), 'medical-information', 'PRIVATE'],
    // Admission record — PRIVATE
    ['Encounter IMP', enc('IMP'), 'admission-record', 'PRIVATE'],
    ['Encounter ACUTE', enc('ACUTE'), 'admission-record', 'PRIVATE'],
    ['Encounter NONAC', enc('NONAC'), 'admission-record', 'PRIVATE'],
    ['Encounter EMER', enc('EMER'), 'admission-record', 'PRIVATE'],
    ['EpisodeOfCare', res('EpisodeOfCare'), 'admission-record', 'PRIVATE'],
    // Prescription — PRIVATE
    ['MedicationRequest', res('MedicationRequest', { medicationCodeableConcept: cc(RXNORM, '197361') }), 'prescription', 'PRIVATE'],
    ['MedicationDispense', res('MedicationDispense'), 'prescription', 'PRIVATE'],
    ['MedicationStatement', res('MedicationStatement'), 'prescription', 'PRIVATE'],
    ['MedicationAdministration', res('MedicationAdministration'), 'prescription', 'PRIVATE'],
    // Medical imaging — PRIVATE
    ['ImagingStudy', res('ImagingStudy'), 'medical-imaging', 'PRIVATE'],
    ['Media', res('Media'), 'medical-imaging', 'PRIVATE'],
    ['DiagnosticReport with imagingStudy', res('DiagnosticReport', { imagingStudy: [{ reference: 'ImagingStudy/1' }] }), 'medical-imaging', 'PRIVATE'],
    ['DiagnosticReport category RAD', res('DiagnosticReport', { category: [cc(V2_0074, 'RAD')] }), 'medical-imaging', 'PRIVATE'],
    ['DiagnosticReport category LOINC radiology', res('DiagnosticReport', { category: [cc(LOINC, 'LP29684-5')] }), 'medical-imaging', 'PRIVATE'],
    ['DiagnosticReport code diagnostic imaging study', res('DiagnosticReport', { code: cc(LOINC, '18748-4') }), 'medical-imaging', 'PRIVATE'],
    ['Binary DICOM', res('Binary', { contentType: 'application/dicom' }), 'medical-imaging', 'PRIVATE'],
    // Clinical trial: medical device — LOW
    ['Device', res('Device'), 'clinical-trial-device', 'LOW'],
    ['DeviceMetric', res('DeviceMetric'), 'clinical-trial-device', 'LOW'],
    // Clinical trial: medicine — LOW
    ['Medication', res('Medication', { code: cc(RXNORM, '197361') }), 'clinical-trial-medicine', 'LOW'],
    ['ResearchStudy', res('ResearchStudy'), 'clinical-trial-medicine', 'LOW'],
    ['ResearchSubject', res('ResearchSubject'), 'clinical-trial-medicine', 'LOW'],
    // Clinical trial: clinical observation — LOW
    ['Observation laboratory', obs(['laboratory']), 'clinical-trial-observation', 'LOW'],
    ['Observation survey', obs(['survey']), 'clinical-trial-observation', 'LOW'],
    ['Observation exam', obs(['exam']), 'clinical-trial-observation', 'LOW'],
    ['Immunization', res('Immunization', { vaccineCode: cc('http://hl7.org/fhir/sid/cvx', '140') }), 'clinical-trial-observation', 'LOW'],
    // Clinical trial: omics — LOW
    ['MolecularSequence', res('MolecularSequence'), 'clinical-trial-omics', 'LOW'],
    ['Observation genomics LOINC', obs(['laboratory'], { code: cc(LOINC, '69548-6') }), 'clinical-trial-omics', 'LOW'],
    ['Observation category v2-0074 GE', res('Observation', { category: [cc(V2_0074, 'GE')], code: cc(LOINC, '1234-5') }), 'clinical-trial-omics', 'LOW'],
    ['Observation derived from MolecularSequence', obs(['laboratory'], { derivedFrom: [{ reference: 'MolecularSequence/7' }] }), 'clinical-trial-omics', 'LOW'],
    // Lifelog: sensor data — MODERATE
    ['Observation vital-signs', obs(['vital-signs'], { code: cc(LOINC, '8867-4') }), 'lifelog-sensor', 'MODERATE'],
    ['Observation activity', obs(['activity']), 'lifelog-sensor', 'MODERATE'],
    ['Observation with device', obs([], { device: { reference: 'Device/1' } }), 'lifelog-sensor', 'MODERATE'],
    ['Observation without category, vital-sign LOINC', res('Observation', { code: cc(LOINC, '29463-7') }), 'lifelog-sensor', 'MODERATE'],
    // Identity — PRIVATE
    ['Patient', res('Patient'), 'identity', 'PRIVATE'],
    ['RelatedPerson', res('RelatedPerson'), 'identity', 'PRIVATE'],
    ['Coverage', res('Coverage'), 'identity', 'PRIVATE'],
  ])('%s', (_name, resource, category, level) => {
    const c = classifyResource(resource);
    expect(c.category).toBe(category);
    expect(c.level).toBe(level);
    expect(c.confidentiality).toBe({ LOW: 'L', MODERATE: 'M', PRIVATE: 'R' }[level]);
    expect(c.sensitivity).toEqual([]);
    expect(c.reasons.length).toBeGreaterThan(0);
  });
});

describe('classifyResource: decisions beyond Table 5', () => {
  it.each<[string, Resource, Category, SecurityLevel, RegExp]>([
    ['Claim', res('Claim'), 'medical-information', 'PRIVATE', /financial/],
    ['ExplanationOfBenefit', res('ExplanationOfBenefit'), 'medical-information', 'PRIVATE', /financial/],
    ['Provenance', res('Provenance'), 'medical-information', 'PRIVATE', /audit/],
    ['Practitioner', res('Practitioner'), 'medical-information', 'PRIVATE', /directory/],
    ['DocumentReference clinical note', res('DocumentReference', { category: [cc('http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', 'clinical-note')] }), 'medical-information', 'PRIVATE', /clinical document/],
    ['DocumentReference DICOM', res('DocumentReference', { content: [{ attachment: { contentType: 'application/dicom' } }] }), 'medical-imaging', 'PRIVATE', /DICOM/],
    ['Composition', res('Composition'), 'medical-information', 'PRIVATE', /Composition/],
    ['Binary (PDF)', res('Binary', { contentType: 'application/pdf' }), 'medical-information', 'PRIVATE', /not DICOM/],
    ['Encounter without class', enc(undefined), 'medical-information', 'PRIVATE', /without class/],
    ['Encounter with hospitalization', enc('AMB', { hospitalization: {} }), 'admission-record', 'PRIVATE', /hospitalization/],
    ['Observation imaging', obs(['imaging']), 'medical-imaging', 'PRIVATE', /imaging/],
    ['Observation social-history', obs(['social-history']), 'medical-information', 'PRIVATE', /social-history/],
    ['Observation without category', res('Observation', { code: cc(LOINC, '1234-5') }), 'medical-information', 'PRIVATE', /fail closed/],
    ['Observation laboratory with an analyser device', obs(['laboratory'], { device: { reference: 'Device/1' } }), 'clinical-trial-observation', 'LOW', /laboratory/],
    ['Observation vital-signs + laboratory: the stricter wins', obs(['laboratory', 'vital-signs']), 'lifelog-sensor', 'MODERATE', /vital-signs/],
    ['DiagnosticReport genetics', res('DiagnosticReport', { category: [cc(V2_0074, 'GE')] }), 'clinical-trial-omics', 'LOW', /genetics/],
    ['DeviceUseStatement', res('DeviceUseStatement'), 'clinical-trial-device', 'LOW', /DeviceUseStatement/],
    ['unknown resource type', res('Frobnication'), 'medical-information', 'PRIVATE', /unknown resource type Frobnication.*fail closed/],
  ])('%s', (_name, resource, category, level, reason) => {
    const c = classifyResource(resource);
    expect([c.category, c.level]).toEqual([category, level]);
    expect(c.reasons.join('\n')).toMatch(reason);
  });

  it('shared directory data is what the ReferenceDirectory holds, plus HealthcareService and Endpoint', () => {
    expect([...SHARED_DATA_TYPES].sort()).toEqual([...DIRECTORY_TYPES, 'HealthcareService', 'Endpoint'].sort());
  });

  it('a DocumentReference follows the resource it documents (context.related), resolved by urn:uuid', () => {
    const study = res('ImagingStudy', { id: 'a1b2' });
    const doc = res('DocumentReference', { context: { related: [{ reference: 'urn:uuid:a1b2' }] } });
    const ctx: ClassifyContext = { resolve: (ref) => (ref === 'urn:uuid:a1b2' ? study : undefined) };
    const c = classifyResource(doc, ctx);
    expect(c.category).toBe('medical-imaging');
    expect(c.reasons[0]).toMatch(/follows its related ImagingStudy/);
    expect(classifyResource(doc).category).toBe('medical-information');
  });

  it('an Observation derived from a urn:uuid MolecularSequence is omics when the reference resolves', () => {
    const seq = res('MolecularSequence', { id: 's1' });
    const o = obs(['laboratory'], { derivedFrom: [{ reference: 'urn:uuid:s1' }] });
    expect(classifyResource(o, { resolve: (r) => (r === 'urn:uuid:s1' ? seq : undefined) }).category).toBe('clinical-trial-omics');
    expect(classifyResource(o).category).toBe('clinical-trial-observation');
  });
});

describe('classifyResource: sensitive codes force PRIVATE and add v3-ActCode labels', () => {
  const condition = (system: string, code: string): Resource => res('Condition', { code: cc(system, code) });
  it.each<[string, Resource, string[]]>([
    ['SNOMED HIV infection', condition(SNOMED, '86406008'), ['HIV']],
    ['SNOMED AIDS', condition(SNOMED, '62479008'), ['HIV']],
    ['SNOMED major depressive disorder', condition(SNOMED, '370143000'), ['MH']],
    ['SNOMED alcoholism', condition(SNOMED, '7200002'), ['ETHUD', 'SUD']],
    ['SNOMED opioid abuse', condition(SNOMED, '5602001'), ['OPIOIDUD', 'SUD']],
    ['SNOMED syphilis', condition(SNOMED, '76272004'), ['STD']],
    ['SNOMED pregnancy', condition(SNOMED, '77386006'), ['SEX']],
    ['SNOMED victim of intimate partner abuse', condition(SNOMED, '706893006'), ['SDV']],
    ['ICD-10-CM B20 (range start)', condition(ICD10CM, 'B20'), ['HIV']],
    ['ICD-10 B24 (range end)', condition('http://hl7.org/fhir/sid/icd-10', 'B24'), ['HIV']],
    ['ICD-10-CM Z21', condition(ICD10CM, 'Z21'), ['HIV']],
    ['ICD-10-CM F03.90 (F01–F09)', condition(ICD10CM, 'F03.90'), ['MH']],
    ['ICD-10-CM F32.9 (F20–F99)', condition(ICD10CM, 'F32.9'), ['MH']],
    ['ICD-10-CM F99', condition(ICD10CM, 'F99'), ['MH']],
    ['ICD-10-CM R45.851 suicidal ideation', condition(ICD10CM, 'R45.851'), ['MH']],
    ['ICD-10-CM F10.20 alcohol dependence', condition(ICD10CM, 'F10.20'), ['ETHUD', 'SUD']],
    ['ICD-10-CM F11.20 opioid dependence', condition(ICD10CM, 'F11.20'), ['OPIOIDUD', 'SUD']],
    ['ICD-10-CM F14.10 cocaine abuse', condition(ICD10CM, 'F14.10'), ['SUD']],
    ['ICD-10-CM F19.20', condition(ICD10CM, 'F19.20'), ['SUD']],
    ['ICD-10-CM A54.9 gonococcal infection', condition(ICD10CM, 'A54.9'), ['STD']],
    ['ICD-10-CM O99.31 alcohol use in pregnancy: both ranges', condition(ICD10CM, 'O99.31'), ['SEX', 'SUD']],
    ['ICD-10-CM Z3A.20 weeks of gestation', condition(ICD10CM, 'Z3A.20'), ['SEX']],
    ['ICD-10-CM O9A.1 (range end O9A)', condition(ICD10CM, 'O9A.1'), ['SEX']],
    ['ICD-10-CM T74.21 adult sexual abuse', condition(ICD10CM, 'T74.21XA'), ['SDV']],
    ['LOINC HIV viral load on a LOW lab observation', obs(['laboratory'], { code: cc(LOINC, '25836-8') }), ['HIV']],
    ['LOINC HIV 1+2 Ag+Ab', obs(['laboratory'], { code: cc(LOINC, '75622-1') }), ['HIV']],
    ['LOINC RPR', obs(['laboratory'], { code: cc(LOINC, '20507-0') }), ['STD']],
    ['LOINC urine hCG', obs(['laboratory'], { code: cc(LOINC, '2106-3') }), ['SEX']],
    ['RxNorm zidovudine', res('MedicationRequest', { medicationCodeableConcept: cc(RXNORM, '11413') }), ['HIV']],
    ['CIEL concept UUID under the LOINC URI (Synthea sample)', obs(['exam'], { code: cc(LOINC, '856AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') }), ['HIV']],
    ['CIEL concept UUID in valueCodeableConcept', obs(['survey'], { valueCodeableConcept: cc(SNOMED, '84795AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') }), ['HIV']],
    ['CIEL system URI with a plain id', obs(['survey'], { valueCodeableConcept: cc('https://cielterminology.org', '1040') }), ['HIV']],
    ['Encounter.reasonCode', enc('AMB', { reasonCode: [cc(ICD10CM, 'F41.1')] }), ['MH']],
    ['DiagnosticReport.conclusionCode', res('DiagnosticReport', { conclusionCode: [cc(SNOMED, '15628003')] }), ['STD']],
    ['Claim item diagnosis', res('Claim', { diagnosis: [{ sequence: 1, diagnosisCodeableConcept: cc(ICD10CM, 'B20') }] }), ['HIV']],
    ['Immunization (LOW) with an HIV reason', res('Immunization', { reasonCode: [cc(SNOMED, '86406008')] }), ['HIV']],
    ['any coding of a CodeableConcept, not only the first', res('Condition', { code: { coding: [{ system: SNOMED, code: '44054006' }, { system: ICD10CM, code: 'F20.9' }] } }), ['MH']],
  ])('%s', (_name, resource, labels) => {
    const c = classifyResource(resource);
    expect(c.sensitivity).toEqual(labels);
    expect(c.level).toBe('PRIVATE');
    expect(c.confidentiality).toBe('R');
    expect(c.reasons.join('\n')).toMatch(/sensitive code/);
  });

  it.each<[string, Resource]>([
    ['ICD-10-CM F17.210 nicotine dependence (not SUD)', condition(ICD10CM, 'F17.210')],
    ['ICD-10-CM B25 (just past B24)', condition(ICD10CM, 'B25.9')],
    ['ICD-10-CM "F0" (too short to fall in F01–F09)', condition(ICD10CM, 'F0')],
    ['SNOMED code in a LOINC coding', condition(LOINC, '86406008')],
    ['HIV in text only (no NLP: codes decide)', res('Condition', { code: { text: 'HIV infection' } })],
    ['HIV code inside an identifier type', res('Condition', { identifier: [{ type: cc(SNOMED, '86406008'), value: 'a' }] })],
    ['Quantity whose unit code looks like an HIV code', obs(['laboratory'], { valueQuantity: { value: 1, system: SNOMED, code: '86406008' } })],
    ['tuberculosis (CIEL, not a sensitivity class)', condition(SNOMED, '112141AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')],
  ])('%s → no label', (_name, resource) => {
    expect(classifyResource(resource).sensitivity).toEqual([]);
  });

  it('a MedicationRequest takes the sensitivity of the Medication it references', () => {
    const med = res('Medication', { id: 'm1', code: cc(RXNORM, '195085') });
    const rx = res('MedicationRequest', { medicationReference: { reference: 'Medication/m1' } });
    expect(classifyResource(rx, { resolve: (r) => (r === 'Medication/m1' ? med : undefined) }).sensitivity).toEqual(['HIV']);
    expect(classifyResource(rx).sensitivity).toEqual([]);
  });

  it('reasons name codes and elements, never display text', () => {
    const c = classifyResource(obs(['exam'], { code: { coding: [{ system: LOINC, code: '856AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', display: 'HIV viral load' }], text: 'HIV viral load' } }));
    expect(c.reasons.join('\n')).toContain('CIEL 856 at Observation.code');
    expect(c.reasons.join('\n')).not.toMatch(/viral load/);
  });

  it('cielConceptId only accepts the 36-character concept UUID form', () => {
    expect(cielConceptId('856AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe('856');
    expect(cielConceptId('856AAA')).toBeUndefined();
    expect(cielConceptId('86406008')).toBeUndefined();
    expect(sensitivityOf(undefined, undefined)).toBeUndefined();
  });
});

describe('classifyResource: existing labels can raise, never lower', () => {
  const labelled = (r: Resource, ...security: Coding[]): Resource => ({ ...r, meta: { security } }) as Resource;
  it.each<[string, Resource, SecurityLevel, string[]]>([
    ['R on a LOW lab observation', labelled(obs(['laboratory']), { system: CONFIDENTIALITY_SYSTEM, code: 'R' }), 'PRIVATE', []],
    ['V on a LOW immunization', labelled(res('Immunization'), { system: CONFIDENTIALITY_SYSTEM, code: 'V' }), 'PRIVATE', []],
    ['M on a LOW immunization', labelled(res('Immunization'), { system: CONFIDENTIALITY_SYSTEM, code: 'M' }), 'MODERATE', []],
    ['L on a PRIVATE condition', labelled(res('Condition'), { system: CONFIDENTIALITY_SYSTEM, code: 'L' }), 'PRIVATE', []],
    ['ActCode PSY on a LOW survey', labelled(obs(['survey']), { system: ACT_CODE_SYSTEM, code: 'PSY' }), 'PRIVATE', ['PSY']],
    ['an unrelated ActCode is not a sensitivity', labelled(obs(['survey']), { system: ACT_CODE_SYSTEM, code: 'AMB' }), 'LOW', []],
  ])('%s', (_name, resource, level, sensitivity) => {
    const c = classifyResource(resource);
    expect(c.level).toBe(level);
    expect(c.sensitivity).toEqual(sensitivity);
  });
});

describe('withSecurityLabels', () => {
  const conf = (code: string): Coding => ({ system: CONFIDENTIALITY_SYSTEM, code });
  const act = (code: string): Coding => ({ system: ACT_CODE_SYSTEM, code });
  const labels = (r: Resource) => (r.meta?.security ?? []).map((l) => `${l.system === CONFIDENTIALITY_SYSTEM ? 'C' : l.system === ACT_CODE_SYSTEM ? 'A' : l.system}:${l.code}`);

  it('returns a copy with its own meta, one confidentiality code and the sensitivity codes', () => {
    const input = obs(['laboratory'], { meta: { profile: ['p'] } });
    const before = structuredClone(input);
    const out = withSecurityLabels(input, { confidentiality: 'R', sensitivity: ['STD', 'HIV'] });
    expect(input).toEqual(before);
    expect(out).not.toBe(input);
    expect(out.meta).not.toBe(input.meta);
    expect((out as { code?: unknown }).code).toBe((input as { code?: unknown }).code); // only what changes is copied
    expect(labels(out)).toEqual(['C:R', 'A:HIV', 'A:STD']);
    expect(out.meta?.profile).toEqual(['p']);
    expect(out.meta?.security?.[0]).toEqual({ system: CONFIDENTIALITY_SYSTEM, code: 'R', display: 'restricted' });
  });

  it.each<[string, Coding[], 'L' | 'M' | 'R', string[], string[]]>([
    ['a lower existing code is raised', [conf('L')], 'R', [], ['C:R']],
    ['a higher existing code is kept', [conf('V')], 'R', [], ['C:V']],
    ['N outranks M', [conf('N')], 'M', [], ['C:N']],
    ['several confidentiality codes collapse to the highest', [conf('M'), conf('R'), conf('L')], 'L', [], ['C:R']],
    ['the STU3 system is replaced by the R4 one', [{ system: 'http://hl7.org/fhir/v3/Confidentiality', code: 'R' }], 'L', [], ['C:R']],
    ['unrelated labels are kept, duplicates dropped', [act('CEL'), act('CEL'), { system: 'urn:x', code: 'y' }], 'L', ['HIV'], ['C:L', 'A:CEL', 'urn:x:y', 'A:HIV']],
    ['an existing sensitivity code is not repeated', [act('HIV')], 'R', ['HIV', 'MH'], ['C:R', 'A:HIV', 'A:MH']],
  ])('%s', (_name, existing, confidentiality, sensitivity, expected) => {
    const out = withSecurityLabels(obs([], { meta: { security: existing } }), { confidentiality, sensitivity });
    expect(labels(out)).toEqual(expected);
  });
});

describe('Synthea HIV sample bundles', () => {
  const texts = (v: unknown): string[] => JSON.stringify(v).match(/"(display|text)":"[^"]*"/g) ?? [];

  it.each(PATIENT_FILES)('%s: every HIV/antiretroviral observation is labelled HIV; weights and the TB condition are not', (file) => {
    const bundle = readSample(file);
    const resources = bundle.entry!.map((e) => e.resource!);
    // The display strings are the oracle here, independent of the code tables.
    const hiv = resources.filter((r) => r.resourceType === 'Observation' && texts(r).some((t) => /HIV|antiretrovir|lamivudine|zidovudine|tenofovir|efavirenz|nevirapine|abacavir|lopinavir|nelfinavir|stavudine|didanosine/i.test(t)));
    expect(hiv.length).toBeGreaterThan(20);
    for (const o of hiv) expect(classifyResource(o).sensitivity).toContain('HIV');
    const weights = resources.filter((r) => r.resourceType === 'Observation' && texts((r as { code?: unknown }).code).some((t) => /"Weight"/.test(t)));
    expect(weights.length).toBeGreaterThan(0);
    for (const o of weights) expect(classifyResource(o)).toMatchObject({ category: 'clinical-trial-observation', level: 'LOW', sensitivity: [] });
    const tb = resources.find((r) => r.resourceType === 'Condition')!;
    expect(classifyResource(tb)).toMatchObject({ category: 'medical-information', sensitivity: [] });
    // every resource gets a class; only Provenance falls to the audit rule
    for (const r of resources) expect(classifyResource(r).reasons.join()).not.toMatch(/unknown resource type/);
  });
});
