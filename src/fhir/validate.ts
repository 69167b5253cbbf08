/**
 * Validation of FHIR R4 resources: @medplum/core's validator (the StructureDefinitions: cardinality, data types,
 * formats, invariants) plus the checks it lacks, which matter for clinical records (own-checks.ts, with the tables
 * of r4-rules.ts):
 * - resource ids (`[A-Za-z0-9\-.]{1,64}`) and resource types that do not exist in R4;
 * - empty or whitespace-only strings and empty arrays anywhere (FHIR JSON forbids both);
 * - the required value-set bindings of the status-like codes of clinical resources (from the R4 spec);
 * - the target types of the common reference elements, unknown types in references, malformed references and
 *   `#id` references to contained resources that do not exist;
 * - base64 of inline data (Attachment.data, Binary.data), with a linear check: medplum's regex overflows the stack
 *   above ≈1–4 MB, so large values are replaced by a placeholder before medplum sees them.
 * Nothing here throws for bad input: every problem is returned as a FhirIssue with a FHIRPath location.
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isKnownResourceType } from './definitions.js';
import type { JsonObject } from './json.js';
import { issue, type FhirIssue } from './outcome.js';
import { MEDPLUM_BASE64_LIMIT, checkResource, holdsBase64Data, type OwnChecked } from './own-checks.js';
import type { FhirValidatorPool, MedplumIssues } from './validator-pool.js';

// What other modules have always imported from here.
export { isKnownResourceType } from './definitions.js';
export { isJsonObject, type JsonObject } from './json.js';
export { base64DecodedLength } from './own-checks.js';
export { REFERENCE_TARGETS, REQUIRED_CODES, REQUIRED_CONCEPTS, type ConceptBinding } from './r4-rules.js';
export { FHIR_ID_PATTERN, UUID_URN, classifyReference, type ReferenceForm } from './references.js';

// ---------------------------------------------------------------------------------------------------------------
// Public API

export interface ValidateOptions {
  /** Warnings do not fail validation. Default false: a warning blocks like an error. */
  readonly allowWarnings?: boolean;
}

export interface ResourceToValidate {
  readonly resource: unknown;
  /** FHIRPath of the resource in the caller's input, e.g. `Bundle.entry[3].resource`; default: its resourceType */
  readonly path?: string;
}

export interface ValidationResult {
  /** no blocking issue (see isBlocking) */
  readonly valid: boolean;
  readonly issues: FhirIssue[];
}

/** Whether an issue makes the input unacceptable: errors always, warnings unless `allowWarnings`. */
export function isBlocking(item: FhirIssue, options: ValidateOptions = {}): boolean {
  if (item.severity === 'fatal' || item.severity === 'error') return true;
  return item.severity === 'warning' && !options.allowWarnings;
}

/** Validates many resources; returns every issue of every resource. */
export function validateFhirResources(items: Iterable<ResourceToValidate>, options: ValidateOptions = {}): ValidationResult {
  const issues: FhirIssue[] = [];
  for (const { resource, path } of items) issues.push(...validateFhirResource(resource, path));
  return { valid: !issues.some((i) => isBlocking(i, options)), issues };
}

/**
 * Every problem of one resource. `path` is the FHIRPath of the resource in the caller's input (default: its
 * resourceType), and prefixes every location, e.g. `Bundle.entry[3].resource.status`.
 */
export function validateFhirResource(resource: unknown, path?: string): FhirIssue[] {
  return validateChecked(checkResource(resource, path));
}

/**
 * The same as validateFhirResources, with medplum's structural validation on the pool's worker threads (PIE's own
 * checks stay on this thread). Issues come back in input order, as from the synchronous version.
 */
export async function validateFhirResourcesOnPool(pool: FhirValidatorPool, items: readonly ResourceToValidate[]): Promise<FhirIssue[][]> {
  return validateCheckedOnPool(pool, (function* () {
    for (const { resource, path } of items) yield checkResource(resource, path);
  })());
}

/** Every problem of a resource PIE has checked (own-checks.ts), with medplum run on this thread. */
export function validateChecked(checked: OwnChecked): FhirIssue[] {
  return 'done' in checked ? checked.done : withMedplum(checked, medplumRaw(medplumView(checked)));
}

/**
 * validateChecked for many resources, with medplum on the pool. `checked` is consumed a slice at a time, and each
 * slice goes to the workers as soon as it is complete, so the work that produces the next slices on this thread
 * (PIE's checks, input.ts's normalisation) overlaps the workers' validation of the slices before.
 */
export async function validateCheckedOnPool(pool: FhirValidatorPool, checked: Iterable<OwnChecked>): Promise<FhirIssue[][]> {
  const all: OwnChecked[] = [];
  const raw: Promise<MedplumIssues[]>[] = [];
  let slice: Resource[] = [];
  for (const c of checked) {
    all.push(c);
    if ('done' in c) continue;
    slice.push(medplumView(c));
    if (slice.length === POOL_SLICE) {
      raw.push(pool.validate(slice));
      slice = [];
    }
  }
  if (slice.length > 0) raw.push(pool.validate(slice));
  const medplum = (await Promise.all(raw)).flat();
  let next = 0;
  return all.map((c) => ('done' in c ? c.done : withMedplum(c, medplum[next++] ?? [])));
}

/** Resources per message to the validator pool: small enough to start the workers early, large enough to amortise. */
const POOL_SLICE = 32;

type Checked = Exclude<OwnChecked, { readonly done: FhirIssue[] }>;

const medplumView = (c: Checked): Resource => (c.largeBase64 ? withoutLargeBase64(c.resource) : (c.resource as unknown as Resource));

function withMedplum(c: Checked, raw: readonly OperationOutcomeIssue[]): FhirIssue[] {
  const ownLocations = new Set(c.issues.map((i) => i.expression));
  const structural = raw.map((i) => fromMedplum(i, c.type, c.base)).filter((i) => keepMedplumIssue(i, ownLocations));
  return dedupe([...structural, ...c.issues]);
}

// ---------------------------------------------------------------------------------------------------------------
// medplum

/** medplum's issues for one resource (empty when valid); a crash of the validator is an `exception` issue. */
function medplumRaw(view: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(view);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue ?? [];
    return [{ severity: 'error', code: 'exception', details: { text: `The validator failed on this resource: ${err instanceof Error ? err.message : String(err)}` } }];
  }
}

/** A copy for medplum in which large base64 values (checked here already) are replaced by a short valid one. */
function withoutLargeBase64(resource: JsonObject): Resource {
  return JSON.parse(
    JSON.stringify(resource, function (this: JsonObject, key: string, value: unknown) {
      return key === 'data' && typeof value === 'string' && value.length > MEDPLUM_BASE64_LIMIT && holdsBase64Data(this) ? 'AAAA' : value;
    }),
  ) as Resource;
}

function fromMedplum(raw: OperationOutcomeIssue, type: string, base: string): FhirIssue {
  const text = raw.details?.text ?? raw.diagnostics ?? 'Invalid resource';
  const where = raw.expression?.[0];
  const severity = raw.severity ?? 'error';
  if (where === undefined) return issue(raw.code ?? 'invalid', text, base, severity);
  if (where === type || where.startsWith(`${type}.`) || where.startsWith(`${type}[`)) {
    return issue(raw.code ?? 'invalid', text, base + where.slice(type.length), severity);
  }
  // medplum reports some issues (e.g. conflicting choice types in an extension) without the path to them
  return issue(raw.code ?? 'invalid', `${text} (at ${where})`, base, severity);
}

const MEDPLUM_REFERENCE_WARNING = /^Invalid reference: got "([^"]*)"/;

/**
 * medplum's own issue at a location where our checks reported already is dropped (ours is more specific: empty
 * strings, base64). Its reference-type warnings are kept only for `Type/…` references on elements our table does
 * not cover: for urn:uuid, absolute URLs and the like they are false alarms.
 */
function keepMedplumIssue(item: FhirIssue, ownLocations: ReadonlySet<string | undefined>): boolean {
  if (ownLocations.has(item.expression)) return false;
  const reference = MEDPLUM_REFERENCE_WARNING.exec(item.message);
  if (!reference) return true;
  return isKnownResourceType(reference[1]!) && !ownLocations.has(`${item.expression}.reference`);
}

function dedupe(issues: FhirIssue[]): FhirIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.code}|${i.expression ?? ''}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
