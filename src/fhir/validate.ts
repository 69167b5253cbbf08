/**
 * Validation of FHIR R4 resources: @medplum/core's validator (the StructureDefinitions: cardinality, data types,
 * formats, invariants) plus the checks it lacks, which matter for clinical records:
 * - resource ids (`[A-Za-z0-9\-.]{1,64}`) and resource types that do not exist in R4;
 * - empty or whitespace-only strings and empty arrays anywhere (FHIR JSON forbids both);
 * - the required value-set bindings of the status-like codes of clinical resources (tables below, from the R4 spec);
 * - the target types of the common reference elements (table below), unknown types in references, malformed
 *   references and `#id` references to contained resources that do not exist;
 * - base64 of inline data (Attachment.data, Binary.data), with a linear check: medplum's regex overflows the stack
 *   above ≈1–4 MB, so large values are replaced by a placeholder before medplum sees them.
 * Nothing here throws for bad input: every problem is returned as a FhirIssue with a FHIRPath location.
 */
import { OperationOutcomeError, getResourceTypes, validateResource } from '@medplum/core';
import type { FhirValidatorPool, MedplumIssues } from './validator-pool.js';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadDefinitions } from './definitions.js';
import { issue, type FhirIssue } from './outcome.js';
import { GENDERS } from './types.js';

export const FHIR_ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

// ---------------------------------------------------------------------------------------------------------------
// Value sets of required bindings (FHIR R4 4.0.1). Keys are element paths without indices, as JSON property names.
// test/fhir/validate.test.ts checks every table entry against the R4 StructureDefinitions and value sets.

const OBSERVATION_STATUS = ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown'];
const ENCOUNTER_STATUS = ['planned', 'arrived', 'triaged', 'in-progress', 'onleave', 'finished', 'cancelled', 'entered-in-error', 'unknown'];
const DIAGNOSTIC_REPORT_STATUS = ['registered', 'partial', 'preliminary', 'final', 'amended', 'corrected', 'appended', 'cancelled', 'entered-in-error', 'unknown'];
const IMMUNIZATION_STATUS = ['completed', 'entered-in-error', 'not-done'];
const MEDICATION_REQUEST_STATUS = ['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft', 'unknown'];
const MEDICATION_REQUEST_INTENT = ['proposal', 'plan', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option'];
const MEDICATION_STATEMENT_STATUS = ['active', 'completed', 'entered-in-error', 'intended', 'stopped', 'on-hold', 'unknown', 'not-taken'];
const MEDICATION_ADMINISTRATION_STATUS = ['in-progress', 'not-done', 'on-hold', 'completed', 'entered-in-error', 'stopped', 'unknown'];
const EVENT_STATUS = ['preparation', 'in-progress', 'not-done', 'on-hold', 'stopped', 'completed', 'entered-in-error', 'unknown'];
const REQUEST_STATUS = ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'];
const REQUEST_INTENT = ['proposal', 'plan', 'directive', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option'];
const REQUEST_PRIORITY = ['routine', 'urgent', 'asap', 'stat'];
const CARE_PLAN_INTENT = ['proposal', 'plan', 'order', 'option'];
const CARE_TEAM_STATUS = ['proposed', 'active', 'suspended', 'inactive', 'entered-in-error'];
const GOAL_LIFECYCLE_STATUS = ['proposed', 'planned', 'accepted', 'active', 'on-hold', 'completed', 'cancelled', 'entered-in-error', 'rejected'];
const DOCUMENT_REFERENCE_STATUS = ['current', 'superseded', 'entered-in-error'];
const COMPOSITION_STATUS = ['preliminary', 'final', 'amended', 'entered-in-error'];
const FINANCIAL_STATUS = ['active', 'cancelled', 'draft', 'entered-in-error'];
const CLAIM_USE = ['claim', 'preauthorization', 'predetermination'];
const REMITTANCE_OUTCOME = ['queued', 'complete', 'error', 'partial'];
const CONSENT_STATE = ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'];
const AUDIT_EVENT_ACTION = ['C', 'R', 'U', 'D', 'E'];
const AUDIT_EVENT_OUTCOME = ['0', '4', '8', '12'];
const PROVENANCE_ENTITY_ROLE = ['derivation', 'revision', 'quotation', 'source', 'removal'];
const ALLERGY_TYPE = ['allergy', 'intolerance'];
const ALLERGY_CATEGORY = ['food', 'medication', 'environment', 'biologic'];
const ALLERGY_CRITICALITY = ['low', 'high', 'unable-to-assess'];
const IMAGING_STUDY_STATUS = ['registered', 'available', 'cancelled', 'entered-in-error', 'unknown'];
const SPECIMEN_STATUS = ['available', 'unavailable', 'unsatisfactory', 'entered-in-error'];
const FLAG_STATUS = ['active', 'inactive', 'entered-in-error'];
const LOCATION_STATUS = ['active', 'suspended', 'inactive'];
const TASK_STATUS = ['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error'];
const TASK_INTENT = ['unknown', 'proposal', 'plan', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option'];

/** Elements of type `code` with a required binding. */
export const REQUIRED_CODES: Readonly<Record<string, readonly string[]>> = {
  'Observation.status': OBSERVATION_STATUS,
  'Encounter.status': ENCOUNTER_STATUS,
  'Encounter.statusHistory.status': ENCOUNTER_STATUS,
  'DiagnosticReport.status': DIAGNOSTIC_REPORT_STATUS,
  'Immunization.status': IMMUNIZATION_STATUS,
  'MedicationRequest.status': MEDICATION_REQUEST_STATUS,
  'MedicationRequest.intent': MEDICATION_REQUEST_INTENT,
  'MedicationRequest.priority': REQUEST_PRIORITY,
  'MedicationStatement.status': MEDICATION_STATEMENT_STATUS,
  'MedicationAdministration.status': MEDICATION_ADMINISTRATION_STATUS,
  'Procedure.status': EVENT_STATUS,
  'Communication.status': EVENT_STATUS,
  'Media.status': EVENT_STATUS,
  'DocumentReference.status': DOCUMENT_REFERENCE_STATUS,
  'DocumentReference.docStatus': COMPOSITION_STATUS,
  'Composition.status': COMPOSITION_STATUS,
  'AllergyIntolerance.type': ALLERGY_TYPE,
  'AllergyIntolerance.category': ALLERGY_CATEGORY,
  'AllergyIntolerance.criticality': ALLERGY_CRITICALITY,
  'Claim.status': FINANCIAL_STATUS,
  'Claim.use': CLAIM_USE,
  'ExplanationOfBenefit.status': FINANCIAL_STATUS,
  'ExplanationOfBenefit.use': CLAIM_USE,
  'ExplanationOfBenefit.outcome': REMITTANCE_OUTCOME,
  'Coverage.status': FINANCIAL_STATUS,
  'Consent.status': CONSENT_STATE,
  'AuditEvent.action': AUDIT_EVENT_ACTION,
  'AuditEvent.outcome': AUDIT_EVENT_OUTCOME,
  'Provenance.entity.role': PROVENANCE_ENTITY_ROLE,
  'ServiceRequest.status': REQUEST_STATUS,
  'ServiceRequest.intent': REQUEST_INTENT,
  'ServiceRequest.priority': REQUEST_PRIORITY,
  'CarePlan.status': REQUEST_STATUS,
  'CarePlan.intent': CARE_PLAN_INTENT,
  'CareTeam.status': CARE_TEAM_STATUS,
  'Goal.lifecycleStatus': GOAL_LIFECYCLE_STATUS,
  'ImagingStudy.status': IMAGING_STUDY_STATUS,
  'Specimen.status': SPECIMEN_STATUS,
  'Flag.status': FLAG_STATUS,
  'Location.status': LOCATION_STATUS,
  'Task.status': TASK_STATUS,
  'Task.intent': TASK_INTENT,
};

export interface ConceptBinding {
  /** the code system whose codings are checked; codings of other systems are translations and left alone */
  readonly system: string;
  readonly codes: readonly string[];
}

/** CodeableConcept elements with a required binding: a coding of `system` must be present, with a code of the set. */
export const REQUIRED_CONCEPTS: Readonly<Record<string, ConceptBinding>> = {
  'Condition.clinicalStatus': {
    system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
    codes: ['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved'],
  },
  'Condition.verificationStatus': {
    system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
    codes: ['unconfirmed', 'provisional', 'differential', 'confirmed', 'refuted', 'entered-in-error'],
  },
  'AllergyIntolerance.clinicalStatus': {
    system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
    codes: ['active', 'inactive', 'resolved'],
  },
  'AllergyIntolerance.verificationStatus': {
    system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
    codes: ['unconfirmed', 'confirmed', 'refuted', 'entered-in-error'],
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Reference targets (R4). Elements that may refer to any resource type are left out.

const PATIENT_OR_GROUP = ['Patient', 'Group'];
const ENCOUNTER = ['Encounter'];
const LOCATION = ['Location'];
const ORGANIZATION = ['Organization'];
const PRACTITIONERS = ['Practitioner', 'PractitionerRole'];
const PROVIDER = ['Practitioner', 'PractitionerRole', 'Organization'];
const CARE_PROVIDER = ['Practitioner', 'PractitionerRole', 'Organization', 'CareTeam'];
const PROVENANCE_AGENT = ['Practitioner', 'PractitionerRole', 'RelatedPerson', 'Patient', 'Device', 'Organization'];
const CONDITION_ASSERTER = ['Practitioner', 'PractitionerRole', 'Patient', 'RelatedPerson'];

export const REFERENCE_TARGETS: Readonly<Record<string, readonly string[]>> = {
  'Patient.generalPractitioner': ['Organization', 'Practitioner', 'PractitionerRole'],
  'Patient.managingOrganization': ORGANIZATION,
  'Patient.link.other': ['Patient', 'RelatedPerson'],
  'RelatedPerson.patient': ['Patient'],
  'PractitionerRole.practitioner': ['Practitioner'],
  'PractitionerRole.organization': ORGANIZATION,
  'PractitionerRole.location': LOCATION,
  'Location.managingOrganization': ORGANIZATION,
  'Location.partOf': LOCATION,
  'Organization.partOf': ORGANIZATION,

  'Observation.subject': ['Patient', 'Group', 'Device', 'Location'],
  'Observation.encounter': ENCOUNTER,
  'Observation.performer': ['Practitioner', 'PractitionerRole', 'Organization', 'CareTeam', 'Patient', 'RelatedPerson'],
  'Observation.specimen': ['Specimen'],
  'Observation.device': ['Device', 'DeviceMetric'],
  'Observation.hasMember': ['Observation', 'QuestionnaireResponse', 'MolecularSequence'],
  'Observation.derivedFrom': ['DocumentReference', 'ImagingStudy', 'Media', 'QuestionnaireResponse', 'Observation', 'MolecularSequence'],

  'Condition.subject': PATIENT_OR_GROUP,
  'Condition.encounter': ENCOUNTER,
  'Condition.recorder': CONDITION_ASSERTER,
  'Condition.asserter': CONDITION_ASSERTER,

  'Encounter.subject': PATIENT_OR_GROUP,
  'Encounter.episodeOfCare': ['EpisodeOfCare'],
  'Encounter.basedOn': ['ServiceRequest'],
  'Encounter.participant.individual': ['Practitioner', 'PractitionerRole', 'RelatedPerson'],
  'Encounter.appointment': ['Appointment'],
  'Encounter.reasonReference': ['Condition', 'Procedure', 'Observation', 'ImmunizationRecommendation'],
  'Encounter.diagnosis.condition': ['Condition', 'Procedure'],
  'Encounter.location.location': LOCATION,
  'Encounter.serviceProvider': ORGANIZATION,
  'Encounter.partOf': ENCOUNTER,

  'DiagnosticReport.subject': ['Patient', 'Group', 'Device', 'Location'],
  'DiagnosticReport.encounter': ENCOUNTER,
  'DiagnosticReport.performer': CARE_PROVIDER,
  'DiagnosticReport.resultsInterpreter': CARE_PROVIDER,
  'DiagnosticReport.specimen': ['Specimen'],
  'DiagnosticReport.result': ['Observation'],
  'DiagnosticReport.imagingStudy': ['ImagingStudy'],
  'DiagnosticReport.media.link': ['Media'],

  'Immunization.patient': ['Patient'],
  'Immunization.encounter': ENCOUNTER,
  'Immunization.location': LOCATION,
  'Immunization.manufacturer': ORGANIZATION,
  'Immunization.performer.actor': PROVIDER,
  'Immunization.reasonReference': ['Condition', 'Observation', 'DiagnosticReport'],
  'Immunization.reaction.detail': ['Observation'],

  'MedicationRequest.subject': PATIENT_OR_GROUP,
  'MedicationRequest.encounter': ENCOUNTER,
  'MedicationRequest.medicationReference': ['Medication'],
  'MedicationRequest.requester': ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device'],
  'MedicationRequest.performer': ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'Device', 'RelatedPerson', 'CareTeam'],
  'MedicationRequest.recorder': PRACTITIONERS,
  'MedicationRequest.reasonReference': ['Condition', 'Observation'],
  'MedicationRequest.insurance': ['Coverage', 'ClaimResponse'],
  'MedicationRequest.priorPrescription': ['MedicationRequest'],

  'Procedure.subject': PATIENT_OR_GROUP,
  'Procedure.encounter': ENCOUNTER,
  'Procedure.recorder': ['Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole'],
  'Procedure.asserter': ['Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole'],
  'Procedure.performer.actor': ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device'],
  'Procedure.performer.onBehalfOf': ORGANIZATION,
  'Procedure.location': LOCATION,
  'Procedure.reasonReference': ['Condition', 'Observation', 'Procedure', 'DiagnosticReport', 'DocumentReference'],
  'Procedure.report': ['DiagnosticReport', 'DocumentReference', 'Composition'],

  'DocumentReference.subject': ['Patient', 'Practitioner', 'Group', 'Device'],
  'DocumentReference.author': ['Practitioner', 'PractitionerRole', 'Organization', 'Device', 'Patient', 'RelatedPerson'],
  'DocumentReference.authenticator': PROVIDER,
  'DocumentReference.custodian': ORGANIZATION,
  'DocumentReference.relatesTo.target': ['DocumentReference'],
  'DocumentReference.context.encounter': ['Encounter', 'EpisodeOfCare'],

  'AllergyIntolerance.patient': ['Patient'],
  'AllergyIntolerance.encounter': ENCOUNTER,
  'AllergyIntolerance.recorder': CONDITION_ASSERTER,
  'AllergyIntolerance.asserter': ['Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole'],

  'Claim.patient': ['Patient'],
  'Claim.enterer': PRACTITIONERS,
  'Claim.insurer': ORGANIZATION,
  'Claim.provider': PROVIDER,
  'Claim.referral': ['ServiceRequest'],
  'Claim.facility': LOCATION,
  'Claim.careTeam.provider': PROVIDER,
  'Claim.diagnosis.diagnosisReference': ['Condition'],
  'Claim.procedure.procedureReference': ['Procedure'],
  'Claim.insurance.coverage': ['Coverage'],
  'Claim.item.encounter': ENCOUNTER,

  'ExplanationOfBenefit.patient': ['Patient'],
  'ExplanationOfBenefit.enterer': PRACTITIONERS,
  'ExplanationOfBenefit.insurer': ORGANIZATION,
  'ExplanationOfBenefit.provider': PROVIDER,
  'ExplanationOfBenefit.referral': ['ServiceRequest'],
  'ExplanationOfBenefit.facility': LOCATION,
  'ExplanationOfBenefit.claim': ['Claim'],
  'ExplanationOfBenefit.claimResponse': ['ClaimResponse'],
  'ExplanationOfBenefit.careTeam.provider': PROVIDER,
  'ExplanationOfBenefit.diagnosis.diagnosisReference': ['Condition'],
  'ExplanationOfBenefit.procedure.procedureReference': ['Procedure'],
  'ExplanationOfBenefit.insurance.coverage': ['Coverage'],
  'ExplanationOfBenefit.item.encounter': ENCOUNTER,

  'Coverage.policyHolder': ['Patient', 'RelatedPerson', 'Organization'],
  'Coverage.subscriber': ['Patient', 'RelatedPerson'],
  'Coverage.beneficiary': ['Patient'],
  'Coverage.payor': ['Organization', 'Patient', 'RelatedPerson'],

  'ServiceRequest.subject': ['Patient', 'Group', 'Location', 'Device'],
  'ServiceRequest.encounter': ENCOUNTER,
  'ServiceRequest.requester': ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device'],
  'ServiceRequest.performer': ['Practitioner', 'PractitionerRole', 'Organization', 'CareTeam', 'HealthcareService', 'Patient', 'Device', 'RelatedPerson'],
  'ServiceRequest.specimen': ['Specimen'],

  'CarePlan.subject': PATIENT_OR_GROUP,
  'CarePlan.encounter': ENCOUNTER,
  'CarePlan.careTeam': ['CareTeam'],
  'CarePlan.addresses': ['Condition'],
  'CarePlan.goal': ['Goal'],

  'CareTeam.subject': PATIENT_OR_GROUP,
  'CareTeam.encounter': ENCOUNTER,
  'CareTeam.managingOrganization': ORGANIZATION,

  'Consent.patient': ['Patient'],
  'Consent.organization': ORGANIZATION,

  'Provenance.location': LOCATION,
  'Provenance.agent.who': PROVENANCE_AGENT,
  'Provenance.agent.onBehalfOf': PROVENANCE_AGENT,

  'Composition.encounter': ENCOUNTER,
  'Composition.author': ['Practitioner', 'PractitionerRole', 'Device', 'Patient', 'RelatedPerson', 'Organization'],
  'Composition.custodian': ORGANIZATION,

  'Media.encounter': ENCOUNTER,
  'MedicationStatement.subject': PATIENT_OR_GROUP,
  'MedicationAdministration.subject': PATIENT_OR_GROUP,
  'Goal.subject': ['Patient', 'Group', 'Organization'],
  'ImagingStudy.subject': ['Patient', 'Device', 'Group'],
  'ImagingStudy.encounter': ENCOUNTER,
};

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
  const checked = ownChecks(resource, path);
  return 'done' in checked ? checked.done : withMedplum(checked, medplumRaw(checked.view));
}

/**
 * The same as validateFhirResources, with medplum's structural validation on the pool's worker threads (PIE's own
 * checks stay on this thread). Issues come back in input order, as from the synchronous version.
 */
export async function validateFhirResourcesOnPool(pool: FhirValidatorPool, items: readonly ResourceToValidate[]): Promise<FhirIssue[][]> {
  // Slices go to the workers as soon as PIE's checks of the slice are done, so those checks (on this thread) overlap
  // the workers' validation of the slices before.
  const checked: (OwnChecked | { readonly done: FhirIssue[] })[] = [];
  const raw: Promise<MedplumIssues[]>[] = [];
  for (let start = 0; start < items.length; start += POOL_SLICE) {
    const slice = items.slice(start, start + POOL_SLICE).map(({ resource, path }) => ownChecks(resource, path));
    checked.push(...slice);
    raw.push(pool.validate(slice.filter((c): c is OwnChecked => !('done' in c)).map((c) => c.view)));
  }
  const medplum = (await Promise.all(raw)).flat();
  let next = 0;
  return checked.map((c) => ('done' in c ? c.done : withMedplum(c, medplum[next++] ?? [])));
}

/** Resources per message to the validator pool: small enough to start the workers early, large enough to amortise. */
const POOL_SLICE = 32;

/** A resource after PIE's own checks, waiting for medplum's; or the final issues when medplum need not run. */
type OwnChecked = { readonly type: string; readonly base: string; readonly view: Resource; readonly own: OwnChecks };

function ownChecks(resource: unknown, path: string | undefined): OwnChecked | { readonly done: FhirIssue[] } {
  if (!isJsonObject(resource)) return { done: [issue('structure', 'A FHIR resource must be a JSON object', path ?? 'Resource')] };
  const type = resource['resourceType'];
  if (typeof type !== 'string' || type === '') {
    return { done: [issue('required', 'The resource has no resourceType', `${path ?? 'Resource'}.resourceType`)] };
  }
  const base = path ?? type;
  loadDefinitions();
  if (!isKnownResourceType(type)) return { done: [issue('structure', `Unknown resource type "${type}": not a FHIR R4 resource`, `${base}.resourceType`)] };
  const own: OwnChecks = { issues: [], largeBase64: false, depthExceeded: false };
  checkResourceNode(resource, base, undefined, own, 0);
  const view = own.largeBase64 ? withoutLargeBase64(resource as unknown as Resource) : (resource as unknown as Resource);
  return { type, base, view, own };
}

function withMedplum(c: OwnChecked, raw: readonly OperationOutcomeIssue[]): FhirIssue[] {
  const ownLocations = new Set(c.own.issues.map((i) => i.expression));
  const structural = raw.map((i) => fromMedplum(i, c.type, c.base)).filter((i) => keepMedplumIssue(i, ownLocations));
  return dedupe([...structural, ...c.own.issues]);
}

let resourceTypes: ReadonlySet<string> | undefined;

/** Whether `type` is an R4 resource type (the definitions are loaded on first use). */
export function isKnownResourceType(type: string): boolean {
  if (!resourceTypes) {
    loadDefinitions();
    resourceTypes = new Set(getResourceTypes());
  }
  return resourceTypes.has(type);
}

// ---------------------------------------------------------------------------------------------------------------
// References

export type ReferenceForm =
  /** `#id` (or `#`, the container itself) */
  | { readonly kind: 'contained'; readonly id: string }
  /** `urn:uuid:…` or `urn:oid:…`: meaningful only inside a Bundle */
  | { readonly kind: 'urn'; readonly urn: string }
  /** `Type/id[/_history/v]`, relative or absolute (`base` is the server URL then) */
  | { readonly kind: 'literal'; readonly type: string; readonly id: string; readonly version?: string; readonly base?: string }
  /** `Type?query` */
  | { readonly kind: 'conditional'; readonly type: string; readonly query: string }
  /** any other absolute URI */
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** `urn:uuid:<uuid>`; the uuid is the first group. */
export const UUID_URN = /^urn:uuid:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
const OID_URN = /^urn:oid:[0-2](\.(0|[1-9]\d*))+$/;
const LITERAL = /^(?:(https?:\/\/\S+)\/)?([A-Z][A-Za-z]*)\/([^/?#\s]+)(?:\/_history\/([^/?#\s]+))?$/;
const CONDITIONAL = /^([A-Z][A-Za-z]*)\?(\S.*)$/;
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

/** Classifies a Reference.reference string (syntax only; whether the type exists is checked separately). */
export function classifyReference(reference: string): ReferenceForm {
  if (reference.startsWith('#')) {
    const id = reference.slice(1);
    return id === '' || FHIR_ID_PATTERN.test(id) ? { kind: 'contained', id } : { kind: 'invalid', reason: `"#${id}" is not a valid contained id` };
  }
  if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
    return UUID_URN.test(reference) || OID_URN.test(reference) ? { kind: 'urn', urn: reference } : { kind: 'invalid', reason: 'malformed urn:uuid / urn:oid' };
  }
  const literal = LITERAL.exec(reference);
  if (literal) {
    const [, base, type, id, version] = literal as unknown as [string, string | undefined, string, string, string | undefined];
    if (!FHIR_ID_PATTERN.test(id)) return { kind: 'invalid', reason: `"${id}" is not a valid resource id` };
    if (version !== undefined && !FHIR_ID_PATTERN.test(version)) return { kind: 'invalid', reason: `"${version}" is not a valid version id` };
    return { kind: 'literal', type, id, ...(version !== undefined ? { version } : {}), ...(base !== undefined ? { base } : {}) };
  }
  const conditional = CONDITIONAL.exec(reference);
  if (conditional) return { kind: 'conditional', type: conditional[1]!, query: conditional[2]! };
  if (ABSOLUTE_URI.test(reference)) return { kind: 'url', url: reference };
  return { kind: 'invalid', reason: 'expected Type/id, Type?query, #id, urn:uuid:… or an absolute URL' };
}

// ---------------------------------------------------------------------------------------------------------------
// Base64

/** Above this length, base64 is checked here only and hidden from medplum (its regex overflows the stack). */
const MEDPLUM_BASE64_LIMIT = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*$/;

/** Decoded byte length of strict base64 (no whitespace, padded), or undefined if `text` is not valid base64. */
export function base64DecodedLength(text: string): number | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (!BASE64.test(text.slice(0, text.length - padding))) return undefined;
  return (text.length / 4) * 3 - padding;
}

/** Attachment, Binary and Signature carry base64 `data`; SampledData.data (a plain string) has no contentType. */
function holdsBase64Data(node: JsonObject): boolean {
  return typeof node['data'] === 'string' && ('contentType' in node || 'sigFormat' in node || 'targetFormat' in node);
}

function base64Problem(text: string): string | undefined {
  if (base64DecodedLength(text) !== undefined) return undefined;
  if (/\s/.test(text)) return 'base64 data must not contain whitespace';
  if (text.length % 4 !== 0) return `base64 data length ${text.length} is not a multiple of 4`;
  return 'base64 data contains characters outside A–Z, a–z, 0–9, +, / or misplaced = padding';
}

// ---------------------------------------------------------------------------------------------------------------
// Own checks: one walk over the resource, element paths without indices for the tables, FHIRPath for locations

interface OwnChecks {
  readonly issues: FhirIssue[];
  /** a base64 value longer than MEDPLUM_BASE64_LIMIT was seen */
  largeBase64: boolean;
  depthExceeded: boolean;
}

/** Far above any real resource; only guards the recursion against absurd (or cyclic) objects. */
const MAX_WALK_DEPTH = 200;

/** A parsed JSON object (a resource, a data type or a Bundle entry). */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * @param containedIds ids of the contained resources `#id` may point to: the container's for a contained resource,
 *   undefined for a resource that starts its own scope (top level, Bundle.entry.resource, …)
 */
function checkResourceNode(resource: JsonObject, expr: string, containedIds: ReadonlySet<string> | undefined, own: OwnChecks, depth: number): void {
  const type = resource['resourceType'] as string;
  if (!isKnownResourceType(type)) {
    own.issues.push(issue('structure', `Unknown resource type "${type}": not a FHIR R4 resource`, `${expr}.resourceType`));
    return;
  }
  const id = resource['id'];
  if (typeof id === 'string' && id.trim() !== '' && !FHIR_ID_PATTERN.test(id)) {
    own.issues.push(issue('value', `Resource id "${id}" is not a valid FHIR id ([A-Za-z0-9-.], 1–64 characters)`, `${expr}.id`));
  }
  walkObject(resource, type, expr, containedIds ?? containedIdsOf(resource), own, depth);
}

function containedIdsOf(resource: JsonObject): ReadonlySet<string> {
  const contained = resource['contained'];
  if (!Array.isArray(contained)) return new Set();
  return new Set(contained.filter(isJsonObject).map((c) => c['id']).filter((id): id is string => typeof id === 'string'));
}

function walkObject(node: JsonObject, element: string, expr: string, containedIds: ReadonlySet<string>, own: OwnChecks, depth: number): void {
  if (typeof node['reference'] === 'string') checkReference(node['reference'], element, `${expr}.reference`, containedIds, own);
  const concept = REQUIRED_CONCEPTS[element];
  if (concept) checkConcept(node, concept, element, expr, own);
  if (holdsBase64Data(node)) checkBase64(node['data'] as string, `${expr}.data`, own);
  for (const [key, child] of Object.entries(node)) {
    if (key === 'resourceType' && element === node['resourceType']) continue;
    walk(child, `${element}.${key}`, `${expr}.${key}`, containedIds, own, depth + 1);
  }
}

function walk(value: unknown, element: string, expr: string, containedIds: ReadonlySet<string>, own: OwnChecks, depth: number): void {
  if (depth > MAX_WALK_DEPTH) {
    if (!own.depthExceeded) own.issues.push(issue('too-costly', `Nesting deeper than ${MAX_WALK_DEPTH} levels`, expr));
    own.depthExceeded = true;
    return;
  }
  if (typeof value === 'string') {
    checkString(value, element, expr, own);
  } else if (Array.isArray(value)) {
    if (value.length === 0) own.issues.push(issue('value', 'Empty array: FHIR JSON leaves out an element rather than giving it no values', expr));
    value.forEach((item, i) => walk(item, element, `${expr}[${i}]`, containedIds, own, depth + 1));
  } else if (isJsonObject(value)) {
    if (typeof value['resourceType'] === 'string') {
      // a contained resource resolves `#id` in its container's scope; any other nested resource has its own
      checkResourceNode(value, expr, element.endsWith('.contained') ? containedIds : undefined, own, depth + 1);
    } else {
      walkObject(value, element, expr, containedIds, own, depth);
    }
  }
}

function checkString(value: string, element: string, expr: string, own: OwnChecks): void {
  if (value.trim() === '') {
    own.issues.push(issue('value', 'Empty or whitespace-only string: leave the element out instead', expr));
    return;
  }
  // administrative-gender (GENDERS): every R4 element named `gender` is bound to it (required), so it applies to all of them
  const codes: readonly string[] | undefined = REQUIRED_CODES[element] ?? (element.endsWith('.gender') ? GENDERS : undefined);
  if (codes && !codes.includes(value)) {
    own.issues.push(issue('code-invalid', `"${value}" is not a valid code for ${element} (allowed: ${codes.join(', ')})`, expr));
  }
}

function checkConcept(node: JsonObject, binding: ConceptBinding, element: string, expr: string, own: OwnChecks): void {
  const codings = Array.isArray(node['coding']) ? node['coding'] : [];
  let found = false;
  codings.forEach((coding, i) => {
    if (!isJsonObject(coding) || coding['system'] !== binding.system) return;
    found = true;
    const code = coding['code'];
    if (typeof code !== 'string' || !binding.codes.includes(code)) {
      own.issues.push(issue('code-invalid', `${String(code)} is not a valid code of ${binding.system} for ${element} (allowed: ${binding.codes.join(', ')})`, `${expr}.coding[${i}].code`));
    }
  });
  if (!found) own.issues.push(issue('code-invalid', `${element} must have a coding from ${binding.system}`, expr));
}

function checkBase64(data: string, expr: string, own: OwnChecks): void {
  if (data.length > MEDPLUM_BASE64_LIMIT) own.largeBase64 = true;
  if (data.trim() === '') return; // reported as an empty string
  const problem = base64Problem(data);
  if (problem) own.issues.push(issue('value', problem, expr));
}

function checkReference(reference: string, element: string, expr: string, containedIds: ReadonlySet<string>, own: OwnChecks): void {
  if (reference.trim() === '') return; // reported as an empty string
  const form = classifyReference(reference);
  switch (form.kind) {
    case 'invalid':
      own.issues.push(issue('value', `Invalid reference "${reference}": ${form.reason}`, expr));
      return;
    case 'contained':
      if (form.id !== '' && !containedIds.has(form.id)) {
        own.issues.push(issue('not-found', `Reference "${reference}": no contained resource has id "${form.id}"`, expr));
      }
      return;
    case 'literal':
    case 'conditional':
      checkTargetType(form.type, reference, element, expr, own);
      return;
    default:
      return; // urn:uuid / absolute URLs: resolved (or kept as external) by the caller that knows the Bundle
  }
}

function checkTargetType(type: string, reference: string, element: string, expr: string, own: OwnChecks): void {
  if (!isKnownResourceType(type)) {
    own.issues.push(issue('value', `Reference "${reference}": "${type}" is not a FHIR R4 resource type`, expr));
    return;
  }
  const targets = REFERENCE_TARGETS[element];
  if (targets && !targets.includes(type)) {
    own.issues.push(issue('structure', `${element} must refer to ${targets.join(' | ')}, not ${type}`, expr));
  }
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
function withoutLargeBase64(resource: Resource): Resource {
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
