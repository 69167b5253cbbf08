/**
 * The ingest pipeline in one call: FHIR input → validated, normalised resources → the paper's EMR groups (one
 * security level each, labelled) → per group the content to encrypt and store, and the de-identified summaries for
 * the ledger (Table 4 "EMR information") and for analytics.
 *
 * Nothing here encrypts, stores or signs: the node does that with each `PreparedEmr` (src/storage, src/chain). Any
 * problem with the input throws one FhirInputError listing every issue, before anything is produced, so a caller
 * that stores nothing until this returns never stores a part of an upload.
 */
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import type { ReferenceDirectory } from './directory.js';
import { groupResources, type EmrGroup } from './group.js';
import { parseFhirInput, startParseOnPool, type FhirInputLimits, type ParseFhirInputOptions, type ParsedFhirInput } from './input.js';
import { summariseGroup, toRecordSummary, type EmrSummary } from './summary.js';
import type { RecordSummary } from './types.js';
import type { FhirValidatorPool } from './validator-pool.js';

/** What the encrypted content of every FHIR EMR is: a JSON `collection` Bundle of the group's labelled resources. */
export const FHIR_CONTENT_MEDIA_TYPE = 'application/fhir+json; fhirVersion=4.0';

export interface PrepareOptions {
  /** the uploading organisation's ledger identity (MSP id) */
  readonly organizationId: string;
  /** known Organizations / Practitioners for conditional references */
  readonly directory?: ReferenceDirectory;
  readonly limits?: FhirInputLimits;
  /** accept input whose only problems are warnings */
  readonly allowWarnings?: boolean;
  /**
   * The patient's demographics when the input does not carry the Patient resource (gender and birth date are read
   * for the summary's gender and age band, nothing else).
   */
  readonly patient?: Patient;
  /** clock for groups without a date of service (identity groups); default: the system clock */
  readonly now?: () => Date;
}

export interface PreparedEmr {
  readonly group: EmrGroup;
  /** the de-identified summary, with the analytics-only fields (categories, counts, organisation) */
  readonly summary: EmrSummary;
  /** the ledger's Table 4 summary (what the chaincode validates and indexes) */
  readonly recordSummary: RecordSummary;
  /** the plaintext to encrypt under the patient's key: a `collection` Bundle of the group's resources */
  readonly content: Bundle;
  readonly mediaType: string;
}

export interface PreparedInput {
  readonly parsed: ParsedFhirInput;
  readonly emrs: readonly PreparedEmr[];
  /** resources not stored in any EMR (directory data, Provenance/AuditEvent), as `Type/id` with the reason */
  readonly omitted: readonly { readonly resource: string; readonly reason: string }[];
}

export function prepareFhirInput(input: unknown, options: PrepareOptions): PreparedInput {
  const parsed = parseFhirInput(input, parseOptions(options));
  return { parsed, ...prepareResources(parsed.resources, options) };
}

/**
 * prepareFhirInput with the structural validation on a validator pool's worker threads (see validator-pool.ts).
 * While the workers validate, this thread already groups, labels and summarises the normalised resources; that
 * result is used only once validation has accepted the input, so the outcome (result or error) is exactly
 * prepareFhirInput's.
 */
export async function prepareFhirInputOnPool(input: unknown, pool: FhirValidatorPool, options: PrepareOptions): Promise<PreparedInput> {
  const pending = startParseOnPool(input, pool, parseOptions(options));
  const prepared = attempt(() => prepareResources(pending.resources, options));
  const parsed = await pending.parsed;
  if (!prepared.ok) throw prepared.error; // what prepareFhirInput would throw after validating
  return { parsed, ...prepared.value };
}

const parseOptions = (o: PrepareOptions): ParseFhirInputOptions => ({ directory: o.directory, limits: o.limits, allowWarnings: o.allowWarnings });

type Attempt<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

function attempt<T>(f: () => T): Attempt<T> {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

function prepareResources(resources: readonly Resource[], options: PrepareOptions): Omit<PreparedInput, 'parsed'> {
  const omitted: { resource: string; reason: string }[] = [];
  const groups = groupResources(resources, {
    onOmitted: (r: Resource, reason: string) => omitted.push({ resource: `${r.resourceType}/${r.id ?? ''}`, reason }),
  });
  const patients = new Map<string, Patient>();
  for (const r of resources) if (r.resourceType === 'Patient' && r.id) patients.set(`Patient/${r.id}`, r);
  const emrs = groups.map((group): PreparedEmr => {
    const patient = (group.patient !== undefined ? patients.get(group.patient) : undefined) ?? options.patient;
    const summary = summariseGroup(group, { organizationId: options.organizationId, patient, now: options.now });
    return {
      group,
      summary,
      recordSummary: toRecordSummary(summary),
      content: { resourceType: 'Bundle', type: 'collection', entry: group.resources.map((resource) => ({ resource })) },
      mediaType: FHIR_CONTENT_MEDIA_TYPE,
    };
  });
  return { emrs, omitted };
}
