// A small valid FHIR transaction Bundle for node tests: a Patient and a laboratory Observation about it (two EMRs,
// one ledger transaction). `observation(over)` changes the Observation, e.g. to make it invalid.
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

export const PATIENT_UUID = '0b8d98a0-4c98-8bca-e4f7-32511daa3283';
export const OBS_UUID = '65093861-3b83-a368-9e9b-3b336f0ce05a';

export const patientResource = (): Resource => ({ resourceType: 'Patient', id: PATIENT_UUID, gender: 'female', birthDate: '1999-04-26' });

export const observation = (over: Record<string, unknown> = {}): Resource =>
  ({
    resourceType: 'Observation',
    id: OBS_UUID,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] },
    subject: { reference: `urn:uuid:${PATIENT_UUID}` },
    effectiveDateTime: '2021-03-04T10:00:00Z',
    ...over,
  }) as Resource;

export const entry = (resource: Resource, fullUrl: string): BundleEntry => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });

export const smallBundle = (obs: Resource = observation()): Bundle => ({
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [entry(patientResource(), `urn:uuid:${PATIENT_UUID}`), entry(obs, `urn:uuid:${OBS_UUID}`)],
});
