/** ReferenceDirectory: the Synthea organisation/practitioner bundles, and the resolution rules on hand-made entries. */
import type { Bundle, Organization } from '@medplum/fhirtypes';
import { ReferenceDirectory } from '../../src/fhir/directory.js';
import { PATIENT_FILES, readSample, sampleDirectory, thrownFhirError } from './samples.js';

const SYNTHEA = 'https://github.com/synthetichealth/synthea';
const NPI = 'http://hl7.org/fhir/sid/us-npi';

describe('the Synthea directory bundles', () => {
  const directory = sampleDirectory();

  it('holds every Organization, Location, Practitioner and PractitionerRole', () => {
    expect(directory.size).toBe(2382 + 2382);
    expect((directory.get('Organization/ef58ea08-d883-3957-8300-150554edc8fb') as Organization | undefined)?.name).toBe('HEALTHALLIANCE HOSPITALS, INC');
  });

  it('resolves every conditional reference of the patient bundles', () => {
    const references = new Set<string>();
    for (const file of PATIENT_FILES) {
      JSON.stringify(readSample(file), (key, value: unknown) => {
        if (key === 'reference' && typeof value === 'string' && value.includes('?')) references.add(value);
        return value;
      });
    }
    expect(references.size).toBeGreaterThan(10);
    for (const reference of references) {
      const resolved = directory.resolve(reference);
      expect({ reference, resolved }).toEqual({ reference, resolved: { ok: true, reference: expect.stringMatching(/^(Organization|Location|Practitioner)\/[0-9a-f-]{36}$/) } });
    }
  });

  it('resolves by system|value, by value alone, percent-encoded, and Type/id', () => {
    const org = 'Organization/74036847-72aa-3eef-81ad-d672e3ff5cba';
    expect(directory.resolve(`Organization?identifier=${SYNTHEA}|74036847-72aa-3eef-81ad-d672e3ff5cba`)).toEqual({ ok: true, reference: org });
    expect(directory.resolve('Organization?identifier=74036847-72aa-3eef-81ad-d672e3ff5cba')).toEqual({ ok: true, reference: org });
    expect(directory.resolve(`Organization?identifier=${encodeURIComponent(`${SYNTHEA}|74036847-72aa-3eef-81ad-d672e3ff5cba`)}`)).toEqual({ ok: true, reference: org });
    expect(directory.resolve(org)).toEqual({ ok: true, reference: org });
    expect(directory.resolve(`Practitioner?identifier=${NPI}|9999987569`)).toEqual({ ok: true, reference: expect.stringMatching(/^Practitioner\//) });
  });

  it('matches the type: an Organization identifier does not find a Location', () => {
    expect(directory.resolve(`Location?identifier=${SYNTHEA}|74036847-72aa-3eef-81ad-d672e3ff5cba`)).toMatchObject({ ok: false, code: 'not-found' });
  });

  it.each([
    ['an unknown identifier', `Practitioner?identifier=${NPI}|0000000000`, 'not-found'],
    ['the right value in another system', 'Practitioner?identifier=http://example.org/npi|9999987569', 'not-found'],
    ['a value that has a system, asked without one', 'Practitioner?identifier=|9999987569', 'not-found'],
    ['an unknown Type/id', 'Organization/nope', 'not-found'],
    ['another search parameter', 'Practitioner?name=Herzog843', 'not-supported'],
    ['a modifier', `Practitioner?identifier:of-type=${NPI}|9999987569`, 'not-supported'],
    ['two parameters', `Practitioner?identifier=${NPI}|9999987569&active=true`, 'not-supported'],
    ['an OR list', `Practitioner?identifier=${NPI}|9999987569,${NPI}|9999999999`, 'not-supported'],
    ['a system without a value', `Practitioner?identifier=${NPI}|`, 'not-supported'],
    ['broken percent-encoding', 'Practitioner?identifier=%E0%A4%A', 'value'],
    ['an absolute URL', 'https://example.org/fhir/Practitioner/1', 'value'],
    ['a urn:uuid', 'urn:uuid:0b8d98a0-4c98-8bca-e4f7-32511daa3283', 'value'],
  ])('refuses %s', (_what, reference, code) => {
    expect(directory.resolve(reference)).toMatchObject({ ok: false, code, message: expect.any(String) });
  });
});

describe('hand-made entries', () => {
  const org = (id: string, ...identifier: { system?: string; value: string }[]): Record<string, unknown> => ({ resourceType: 'Organization', id, identifier });

  it('reports a conditional reference that matches several resources as ambiguous', () => {
    const directory = new ReferenceDirectory();
    directory.add(org('a', { system: 'urn:sys:1', value: '42' }));
    directory.add(org('b', { system: 'urn:sys:1', value: '42' }));
    directory.add(org('c', { system: 'urn:sys:2', value: '7' }));
    directory.add(org('d', { system: 'urn:sys:3', value: '7' }));
    expect(directory.resolve('Organization?identifier=urn:sys:1|42')).toMatchObject({ ok: false, code: 'multiple-matches', message: expect.stringContaining('Organization/a, Organization/b') });
    expect(directory.resolve('Organization?identifier=7')).toMatchObject({ ok: false, code: 'multiple-matches' });
    expect(directory.resolve('Organization?identifier=urn:sys:2|7')).toEqual({ ok: true, reference: 'Organization/c' });
  });

  it('counts a resource listing the same identifier twice once', () => {
    const directory = new ReferenceDirectory();
    directory.add(org('a', { system: 'urn:sys:1', value: '42' }, { system: 'urn:sys:1', value: '42' }));
    expect(directory.resolve('Organization?identifier=urn:sys:1|42')).toEqual({ ok: true, reference: 'Organization/a' });
  });

  it('finds identifiers without a system by |value, and honours search escapes', () => {
    const directory = new ReferenceDirectory();
    directory.add(org('a', { value: 'no-system' }));
    directory.add(org('b', { system: 'urn:sys', value: 'x|y,z' }));
    expect(directory.resolve('Organization?identifier=|no-system')).toEqual({ ok: true, reference: 'Organization/a' });
    expect(directory.resolve('Organization?identifier=urn:sys|x\\|y\\,z')).toEqual({ ok: true, reference: 'Organization/b' });
    expect(directory.resolve('Organization?identifier=urn:sys|x%5C%7Cy%5C%2Cz')).toEqual({ ok: true, reference: 'Organization/b' });
  });

  it('replaces a resource added again and re-indexes its identifiers', () => {
    const directory = new ReferenceDirectory();
    directory.add(org('a', { system: 'urn:sys', value: 'old' }));
    directory.add(org('a', { system: 'urn:sys', value: 'new' }));
    expect(directory.size).toBe(1);
    expect(directory.resolve('Organization?identifier=urn:sys|old')).toMatchObject({ ok: false, code: 'not-found' });
    expect(directory.resolve('Organization?identifier=urn:sys|new')).toEqual({ ok: true, reference: 'Organization/a' });
  });

  it('keeps its own copy', () => {
    const directory = new ReferenceDirectory();
    const resource = org('a', { system: 'urn:sys', value: '1' });
    directory.add(resource);
    (resource['identifier'] as { value: string }[])[0]!.value = '2';
    expect(directory.resolve('Organization?identifier=urn:sys|1')).toEqual({ ok: true, reference: 'Organization/a' });
  });

  it.each([
    ['a Patient (patient data never goes in)', { resourceType: 'Patient', id: 'p' }, 'not-supported', 'Patient.resourceType'],
    ['no id', { resourceType: 'Organization' }, 'required', 'Organization.id'],
    ['a bad id', { resourceType: 'Location', id: 'a b' }, 'value', 'Location.id'],
    ['not an object', 'Organization/1', 'structure', 'Resource'],
  ])('add refuses %s', (_what, resource, code, expression) => {
    expect(thrownFhirError(() => new ReferenceDirectory().add(resource)).issues).toEqual([expect.objectContaining({ code, expression })]);
  });

  it('takes the id of an entry without one from its urn:uuid fullUrl, and refuses one without either', () => {
    const uuid = '52835c00-5134-31b5-b848-2532582d887b';
    const good: Bundle = { resourceType: 'Bundle', type: 'batch', entry: [{ fullUrl: `urn:uuid:${uuid}`, resource: { resourceType: 'Practitioner', identifier: [{ system: NPI, value: '1' }] } }] };
    expect(ReferenceDirectory.fromBundles(good).resolve(`Practitioner?identifier=${NPI}|1`)).toEqual({ ok: true, reference: `Practitioner/${uuid}` });

    const bad: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Location', id: 'l1' } }, { fullUrl: 'http://example.org/x', resource: { resourceType: 'Organization' } }, { resource: { resourceType: 'Patient', id: 'p' } }, {}],
    };
    const error = thrownFhirError(() => ReferenceDirectory.fromBundles(good, bad));
    expect(error.issues).toEqual([
      expect.objectContaining({ code: 'required', expression: 'Bundle.entry[1].resource.id', message: expect.stringMatching(/^bundle 2: /) }),
      expect.objectContaining({ code: 'not-supported', expression: 'Bundle.entry[2].resource.resourceType' }),
      expect.objectContaining({ code: 'required', expression: 'Bundle.entry[3]' }),
    ]);
    expect(error.outcome.resourceType).toBe('OperationOutcome');
  });

  it('refuses something that is not a Bundle', () => {
    expect(thrownFhirError(() => ReferenceDirectory.fromBundles({ resourceType: 'Organization', id: 'o' })).issues).toEqual([expect.objectContaining({ code: 'structure', expression: 'Bundle' })]);
  });
});
