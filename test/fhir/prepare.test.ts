/**
 * The ingest pipeline end to end on the Synthea samples (prepareFhirInput), and the same on the validator pool's
 * worker threads, which must give exactly the synchronous results and errors.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { parseRecordSummary } from '../../chaincode/src/domain/record.js';
import { validateFhirResource } from '../../src/fhir/validate.js';
import { parseFhirInput, parseFhirInputOnPool } from '../../src/fhir/input.js';
import { FhirInputError } from '../../src/fhir/outcome.js';
import { FHIR_CONTENT_MEDIA_TYPE, prepareFhirInput, prepareFhirInputOnPool } from '../../src/fhir/prepare.js';
import { FhirValidatorPool } from '../../src/fhir/validator-pool.js';
import { PATIENT_FILES, readSample, readSampleText, sampleDirectory } from './samples.js';

const ORG = 'Hospital1MSP';
const NOW = (): Date => new Date('2026-01-01T00:00:00Z');

/** A deterministic surrogate-free view of a prepared input, for comparing two runs (summary ids are random). */
const comparable = (p: ReturnType<typeof prepareFhirInput>): unknown =>
  p.emrs.map((e) => ({ group: e.group.key, record: e.recordSummary, content: e.content, summary: { ...e.summary, id: undefined } }));

describe('prepareFhirInput on the sample bundles', () => {
  it.each(PATIENT_FILES)('%s: every resource is in exactly one EMR or omitted, every ledger summary is valid, every content bundle is valid R4', (file) => {
    const prepared = prepareFhirInput(readSampleText(file), { organizationId: ORG, directory: sampleDirectory(), now: NOW });
    const ids = prepared.parsed.resources.map((r) => `${r.resourceType}/${r.id}`);
    const placed = prepared.emrs.flatMap((e) => e.group.resources.map((r) => `${r.resourceType}/${r.id}`));
    const omitted = prepared.omitted.map((o) => o.resource);
    // reference data may be copied into several groups; everything else is in one group or omitted
    for (const id of ids) expect(placed.includes(id) || omitted.includes(id)).toBe(true);
    expect(prepared.emrs.length).toBeGreaterThan(10);
    for (const emr of prepared.emrs) {
      expect(parseRecordSummary(emr.recordSummary)).toEqual(emr.recordSummary);
      expect(emr.mediaType).toBe(FHIR_CONTENT_MEDIA_TYPE);
      expect(validateFhirResource(emr.content)).toEqual([]);
      // every stored resource carries exactly one confidentiality label matching the group's level
      for (const r of emr.group.resources) {
        const conf = (r.meta?.security ?? []).filter((c) => c.system === 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality');
        expect(conf.map((c) => c.code)).toEqual([{ LOW: 'L', MODERATE: 'M', PRIVATE: 'R' }[emr.recordSummary.securityLevel]]);
      }
    }
    // the patient is in the bundle: every clinical EMR of this patient carries gender and an age band
    const patient = prepared.parsed.resources.find((r): r is Patient => r.resourceType === 'Patient')!;
    const clinical = prepared.emrs.filter((e) => e.group.partition !== 'identity' && e.group.patient === `Patient/${patient.id}`);
    expect(clinical.length).toBeGreaterThan(0);
    for (const e of clinical) expect(e.recordSummary.gender).toBe(patient.gender);
    expect(clinical.every((e) => typeof e.recordSummary.ageBand === 'string')).toBe(true);
  });

  it('the HIV sample patients have PRIVATE EMRs labelled HIV', () => {
    const labelled = PATIENT_FILES.flatMap((f) => prepareFhirInput(readSampleText(f), { organizationId: ORG, directory: sampleDirectory(), now: NOW }).emrs).filter((e) =>
      e.recordSummary.labels.includes('HIV'),
    );
    expect(labelled.length).toBeGreaterThan(0);
    for (const e of labelled) expect(e.recordSummary.securityLevel).toBe('PRIVATE');
  });

  it('a single resource without its Patient takes demographics from the options', () => {
    const obs: Observation = {
      resourceType: 'Observation',
      id: 'hr-1',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/p-1' },
      effectiveDateTime: '2025-03-04T10:00:00Z',
      valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const p = prepareFhirInput(obs, { organizationId: ORG, patient: { resourceType: 'Patient', gender: 'female', birthDate: '1980-06-01' }, now: NOW });
    expect(p.emrs).toHaveLength(1);
    expect(p.emrs[0]!.recordSummary).toMatchObject({ category: 'lifelog-sensor', securityLevel: 'MODERATE', year: 2025, gender: 'female', ageBand: '40-44' });
    expect(p.parsed.externalReferences).toEqual(['Patient/p-1']);
  });

  it('refuses bad input as a whole, before producing anything', () => {
    const bundle = readSample(PATIENT_FILES[0]!);
    const broken = structuredClone(bundle) as Bundle;
    (broken.entry![5]!.resource as { status?: string }).status = 'bogus';
    expect(() => prepareFhirInput(broken, { organizationId: ORG, directory: sampleDirectory() })).toThrow(FhirInputError);
    expect(() => prepareFhirInput('{"resourceType": "Bundle", ', { organizationId: ORG })).toThrow(FhirInputError);
  });
});

describe('the validator pool', () => {
  let pool: FhirValidatorPool;
  beforeAll(async () => {
    pool = await FhirValidatorPool.start({ threads: 2 });
  }, 60_000);
  afterAll(async () => {
    await pool.close();
  });

  it.each(PATIENT_FILES)('%s: the same parsed input and EMRs as on one thread', async (file) => {
    const text = readSampleText(file);
    const options = { organizationId: ORG, directory: sampleDirectory(), now: NOW };
    expect(await parseFhirInputOnPool(text, pool, { directory: sampleDirectory() })).toEqual(parseFhirInput(text, { directory: sampleDirectory() }));
    expect(comparable(await prepareFhirInputOnPool(text, pool, options))).toEqual(comparable(prepareFhirInput(text, options)));
  });

  it('reports exactly the synchronous issues, in the same order, for a bundle with many problems', async () => {
    const broken = structuredClone(readSample(PATIENT_FILES[1]!)) as Bundle;
    const entries = broken.entry!;
    for (const i of [3, 40, 41, 100, entries.length - 1]) {
      const r = entries[i]!.resource as unknown as Record<string, unknown>;
      r['status'] = '';
      r['unknownElement'] = 1;
    }
    (entries[7]!.resource as unknown as Record<string, unknown>)['resourceType'] = 'NoSuchType';
    let sync: FhirInputError | undefined;
    try {
      parseFhirInput(broken, { directory: sampleDirectory() });
    } catch (e) {
      sync = e as FhirInputError;
    }
    expect(sync).toBeInstanceOf(FhirInputError);
    expect(sync!.issues.length).toBeGreaterThanOrEqual(11);
    const onPool = await parseFhirInputOnPool(broken, pool, { directory: sampleDirectory() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(onPool).toBeInstanceOf(FhirInputError);
    expect((onPool as FhirInputError).issues).toEqual(sync!.issues);
    // prepareFhirInputOnPool groups while the workers validate, but refuses the input all the same
    const prepared = await prepareFhirInputOnPool(broken, pool, { organizationId: ORG, directory: sampleDirectory() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((prepared as FhirInputError).issues).toEqual(sync!.issues);
  });

  it('validates an empty list without a round trip, and refuses work once closed', async () => {
    const small = await FhirValidatorPool.start({ threads: 1 });
    expect(small.threads).toBe(1);
    expect(await small.validate([])).toEqual([]);
    expect(await small.validate([{ resourceType: 'Observation', status: 'final' } as Observation])).toEqual([
      [expect.objectContaining({ severity: 'error', expression: ['Observation.code'] })],
    ]);
    await small.close();
    await expect(small.validate([{ resourceType: 'Patient' }])).rejects.toThrow(/closed/);
    await expect(FhirValidatorPool.start({ threads: 0 })).rejects.toThrow(RangeError);
  }, 60_000);
});
