/**
 * The Synthea sample bundles in ../shared/fhir-samples (three patients, and the hospital and practitioner bundles
 * their conditional references point into), and helpers the FHIR tests share. Not a test file itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { ReferenceDirectory } from '../../src/fhir/directory.js';
import { FhirInputError } from '../../src/fhir/outcome.js';

/**
 * Where the samples are: $PIE_FHIR_SAMPLES, else `../shared/fhir-samples` next to the project (where they live on a
 * workstation), else the workspace's `/work/shared/fhir-samples` (a clone elsewhere, e.g. CI's temporary directory).
 * Missing samples fail the FHIR tests loudly rather than skipping them.
 */
function samplesDir(): string {
  const candidates = [process.env['PIE_FHIR_SAMPLES'], path.resolve(process.cwd(), '../shared/fhir-samples'), '/work/shared/fhir-samples'].filter(
    (d): d is string => d !== undefined && d !== '',
  );
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'README.md')));
  if (found === undefined) throw new Error(`FHIR sample bundles not found (looked in ${candidates.join(', ')}); set PIE_FHIR_SAMPLES`);
  return found;
}

export const SAMPLES = samplesDir();

export const readSampleText = (file: string): string => fs.readFileSync(path.join(SAMPLES, file), 'utf8');
export const readSample = (file: string): Bundle => JSON.parse(readSampleText(file)) as Bundle;

/** The patient bundles (`Given123_Family456_<uuid>.json`), sorted. */
export const PATIENT_FILES: readonly string[] = fs
  .readdirSync(SAMPLES)
  .filter((f) => /^[A-Z][a-z]+\d+_[A-Z][a-z]+\d+_.*\.json$/.test(f))
  .sort();
/** Organizations and Locations of the sample patients' care. */
export const HOSPITAL_FILE = 'hospitalInformation1633536936158.json';
/** Practitioners and PractitionerRoles of the sample patients' care. */
export const PRACTITIONER_FILE = 'practitionerInformation1633536936158.json';

let directory: ReferenceDirectory | undefined;

/** The directory of the hospital and practitioner bundles, built once per test file: do not modify it. */
export function sampleDirectory(): ReferenceDirectory {
  directory ??= ReferenceDirectory.fromBundles(readSample(HOSPITAL_FILE), readSample(PRACTITIONER_FILE));
  return directory;
}

/** The FhirInputError `fn` throws; any other error is rethrown, and returning normally fails the test. */
export function thrownFhirError(fn: () => unknown): FhirInputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FhirInputError) return err;
    throw err;
  }
  throw new Error('expected a FhirInputError');
}
