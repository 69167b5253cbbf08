/**
 * Classification of one FHIR resource into the paper's Table 5 classes (DESIGN §5), with its security level, v3
 * confidentiality code and v3-ActCode sensitivity labels. Rules are tables keyed by resource type; what is not
 * known is classified medical-information PRIVATE (fail closed). Reasons name resource types, elements and codes
 * only — never ids, display strings or other free text — so they can be logged.
 */
import type { Resource } from '@medplum/fhirtypes';
import { DIRECTORY_TYPES } from './directory.js';
import { DICOM, KNOWN_SENSITIVITY_LABELS, LOINC, sensitivityOf } from './sensitivity.js';
import { ACT_CODE_SYSTEM, CATEGORY_LEVEL, CONFIDENTIALITY_SYSTEMS, LEVEL_CONFIDENTIALITY, levelRank } from './types.js';
import type { Category, Confidentiality, SecurityLevel } from './types.js';
import { isJsonObject, type JsonObject } from './validate.js';

export interface Classification {
  readonly category: Category;
  readonly level: SecurityLevel;
  readonly confidentiality: Confidentiality;
  /** v3-ActCode sensitivity codes (HIV, MH, SUD, …), sorted */
  readonly sensitivity: readonly string[];
  readonly reasons: readonly string[];
}

export interface ClassifyContext {
  /** Resolves a reference as written (`Type/id` or `urn:uuid:<id>`) to a resource of the same upload. */
  readonly resolve?: (reference: string) => Resource | undefined;
}

/** Resource types with a fixed class. */
export const IDENTITY_TYPES: ReadonlySet<string> = new Set(['Patient', 'RelatedPerson', 'Person', 'Coverage']);
/**
 * Shared data about who and where (directory data): never copied into EMR groups. The types the ReferenceDirectory
 * holds, and the services and endpoints they offer.
 */
export const SHARED_DATA_TYPES: ReadonlySet<string> = new Set([...DIRECTORY_TYPES, 'HealthcareService', 'Endpoint']);
/** Billing and insurance: they restate diagnoses, procedures and plan identifiers. */
export const FINANCIAL_TYPES: ReadonlySet<string> = new Set([
  'Claim', 'ClaimResponse', 'ExplanationOfBenefit', 'Invoice', 'Account', 'ChargeItem', 'CoverageEligibilityRequest',
  'CoverageEligibilityResponse', 'PaymentNotice', 'PaymentReconciliation',
]);
/** Record-keeping about other resources; the ledger transaction (author, signature, timestamp) replaces them. */
export const AUDIT_TYPES: ReadonlySet<string> = new Set(['Provenance', 'AuditEvent']);

const FIXED: Readonly<Record<string, Category>> = {
  ...Object.fromEntries([...IDENTITY_TYPES].map((t) => [t, 'identity'])),
  EpisodeOfCare: 'admission-record',
  MedicationRequest: 'prescription',
  MedicationDispense: 'prescription',
  MedicationStatement: 'prescription',
  MedicationAdministration: 'prescription',
  DeviceRequest: 'prescription',
  ImagingStudy: 'medical-imaging',
  Media: 'medical-imaging',
  Device: 'clinical-trial-device',
  DeviceMetric: 'clinical-trial-device',
  DeviceDefinition: 'clinical-trial-device',
  DeviceUseStatement: 'clinical-trial-device',
  Medication: 'clinical-trial-medicine',
  MedicationKnowledge: 'clinical-trial-medicine',
  Substance: 'clinical-trial-medicine',
  ResearchStudy: 'clinical-trial-medicine',
  ResearchSubject: 'clinical-trial-medicine',
  MolecularSequence: 'clinical-trial-omics',
  Immunization: 'clinical-trial-observation',
  ImmunizationEvaluation: 'clinical-trial-observation',
  ImmunizationRecommendation: 'clinical-trial-observation',
};

/** Clinical types of Table 5's medical-information row (and its close relatives). */
const MEDICAL_INFORMATION: ReadonlySet<string> = new Set([
  'Condition', 'Procedure', 'AllergyIntolerance', 'CarePlan', 'CareTeam', 'ClinicalImpression', 'FamilyMemberHistory',
  'Goal', 'DetectedIssue', 'RiskAssessment', 'ServiceRequest', 'NutritionOrder', 'Specimen', 'QuestionnaireResponse',
  'Flag', 'AdverseEvent', 'Communication', 'CommunicationRequest', 'Composition', 'DocumentManifest', 'List',
  'Appointment', 'Task', 'VisionPrescription',
]);

const OBSERVATION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';

/** Observation.category → class. Order breaks ties between categories of the same level. */
const OBSERVATION_CATEGORY: ReadonlyArray<readonly [string, Category]> = [
  ['imaging', 'medical-imaging'],
  ['procedure', 'medical-information'],
  ['therapy', 'medical-information'],
  // social history (housing, sexual orientation, incarceration, …) is often sensitive and few of its codes are in
  // the sensitivity tables: fail closed
  ['social-history', 'medical-information'],
  ['vital-signs', 'lifelog-sensor'],
  ['activity', 'lifelog-sensor'],
  ['laboratory', 'clinical-trial-observation'],
  ['survey', 'clinical-trial-observation'],
  ['exam', 'clinical-trial-observation'],
];

/** LOINC codes of the vital-signs profile, for observations that carry no category. */
const VITAL_SIGN_LOINC: ReadonlySet<string> = new Set([
  '85353-1', '9279-1', '8867-4', '2708-6', '59408-5', '8310-5', '8302-2', '9843-4', '29463-7', '39156-5', '85354-9',
  '8480-6', '8462-4', '93832-4',
]);

/** LOINC codes of the genomics reporting IG (variants, genes, reference sequences, genetic reports). */
const GENOMICS_LOINC: ReadonlySet<string> = new Set([
  '69548-6', '48018-6', '81247-9', '51958-7', '48004-6', '48005-3', '69547-8', '69551-0', '62374-4', '53037-8',
  '51969-4', '55233-1', '81290-9', '48013-7', '84413-4',
]);

/** v2-0074 diagnostic service sections that are imaging. */
const IMAGING_SECTIONS: ReadonlySet<string> = new Set(['RAD', 'RX', 'CT', 'NMR', 'NMS', 'RUS', 'VUS', 'OUS', 'CUS', 'XRC']);
/** LOINC: radiology (category part) and diagnostic imaging study (document/report code). */
const IMAGING_LOINC: ReadonlySet<string> = new Set(['LP29684-5', '18748-4', '18726-0']);

/** Encounter.class codes (v3-ActCode, and v2-0004 I/E) that make the encounter an admission record. */
const ADMISSION_CLASSES: ReadonlySet<string> = new Set(['IMP', 'ACUTE', 'NONAC', 'EMER', 'OBSENC', 'SS', 'PRENC', 'I', 'E']);

// ---------------------------------------------------------------------------------------------------------------------
// JSON helpers

/** A JSON value as a list: an array as it is, a single value as a list of one, absent as empty. */
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface FoundCoding {
  readonly system?: string;
  readonly code: string;
  /** top-level element it was found under, e.g. `valueCodeableConcept` */
  readonly element: string;
}

/** Elements that never hold clinical codes of the resource: identifiers (type codes), meta (labels), narrative. */
const NON_CLINICAL = new Set(['identifier', 'meta', 'text']);

/**
 * Every Coding (an object with a string `code` and no `value`, so Quantities are left out) anywhere in the
 * resource, contained resources included, except under identifier, meta and text.
 */
export function collectCodings(resource: Resource): FoundCoding[] {
  const out: FoundCoding[] = [];
  const walk = (v: unknown, element: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, element);
      return;
    }
    if (!isJsonObject(v)) return;
    const code = str(v.code);
    if (code !== undefined && !('value' in v)) {
      const system = str(v.system);
      out.push(system === undefined ? { code, element } : { system, code, element });
    }
    for (const [k, x] of Object.entries(v)) {
      if (!NON_CLINICAL.has(k) && typeof x === 'object') walk(x, element);
    }
  };
  for (const [k, v] of Object.entries(resource as unknown as JsonObject)) {
    if (!NON_CLINICAL.has(k)) walk(v, k);
  }
  return out;
}

/** Codings of `resource.category` (a CodeableConcept or a list of them). */
export function categoryCodings(resource: Resource): { system?: string; code: string }[] {
  const out: { system?: string; code: string }[] = [];
  for (const cc of asArray((resource as unknown as JsonObject).category)) {
    if (!isJsonObject(cc)) continue;
    for (const c of asArray(cc.coding)) {
      if (isJsonObject(c) && typeof c.code === 'string') out.push(typeof c.system === 'string' ? { system: c.system, code: c.code } : { code: c.code });
    }
  }
  return out;
}

const codeOf = (cc: unknown): { system?: string; code: string }[] =>
  isJsonObject(cc) ? asArray(cc.coding).filter(isJsonObject).flatMap((c) => (typeof c.code === 'string' ? [{ system: str(c.system), code: c.code }] : [])) : [];

/** The `reference` string of a Reference, if it is one. */
export const referenceOf = (v: unknown): string | undefined => (isJsonObject(v) ? str(v['reference']) : undefined);

/** The resource type a reference points to, from its text or by resolving it. */
function targetType(reference: string | undefined, ctx: ClassifyContext): string | undefined {
  if (reference === undefined) return undefined;
  const resolved = ctx.resolve?.(reference);
  if (resolved) return resolved.resourceType;
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+$/.exec(reference.split('/_history/')[0] ?? '');
  return m?.[1];
}

// ---------------------------------------------------------------------------------------------------------------------
// Class rules

interface Decision {
  readonly category: Category;
  readonly reason: string;
}

const fixed = (category: Category, reason: string): Decision => ({ category, reason });

function encounter(r: JsonObject): Decision {
  const cls = isJsonObject(r.class) ? str(r.class.code) : undefined;
  if (cls !== undefined && ADMISSION_CLASSES.has(cls)) return fixed('admission-record', `Encounter.class ${cls} (inpatient/emergency) → admission-record`);
  if (r.hospitalization !== undefined) return fixed('admission-record', 'Encounter.hospitalization present → admission-record');
  if (cls === undefined) return fixed('medical-information', 'Encounter without class → medical-information');
  return fixed('medical-information', `Encounter.class ${cls} (outpatient) → medical-information`);
}

function isGenomic(resource: Resource, ctx: ClassifyContext): string | undefined {
  const r = resource as unknown as JsonObject;
  if (categoryCodings(resource).some((c) => c.system === V2_0074 && c.code === 'GE')) return 'category v2-0074 GE (genetics)';
  const codes = [...codeOf(r.code), ...asArray(r.component).flatMap((c) => (isJsonObject(c) ? codeOf(c.code) : []))];
  const hit = codes.find((c) => c.system === LOINC && GENOMICS_LOINC.has(c.code));
  if (hit) return `genomics LOINC ${hit.code}`;
  const refs = [...asArray(r.derivedFrom), ...asArray(r.focus), ...asArray(r.result)].map(referenceOf);
  if (refs.some((ref) => targetType(ref, ctx) === 'MolecularSequence')) return 'derived from a MolecularSequence';
  return undefined;
}

function observation(resource: Resource, ctx: ClassifyContext): Decision {
  const r = resource as unknown as JsonObject;
  const genomic = isGenomic(resource, ctx);
  if (genomic) return fixed('clinical-trial-omics', `Observation ${genomic} → clinical-trial-omics`);
  const cats = categoryCodings(resource)
    .filter((c) => c.system === undefined || c.system === OBSERVATION_CATEGORY_SYSTEM)
    .map((c) => c.code);
  // A measuring device makes it sensor data, except for analysers and scanners of lab and imaging results.
  if (r.device !== undefined && !cats.includes('laboratory') && !cats.includes('imaging')) {
    return fixed('lifelog-sensor', 'Observation.device present (device-generated) → lifelog-sensor');
  }
  let best: readonly [string, Category] | undefined;
  for (const entry of OBSERVATION_CATEGORY) {
    if (cats.includes(entry[0]) && (!best || levelRank(CATEGORY_LEVEL[entry[1]]) > levelRank(CATEGORY_LEVEL[best[1]]))) best = entry;
  }
  if (best) return fixed(best[1], `Observation.category ${best[0]} → ${best[1]}`);
  const vital = codeOf(r.code).find((c) => c.system === LOINC && VITAL_SIGN_LOINC.has(c.code));
  if (vital) return fixed('lifelog-sensor', `Observation.code LOINC ${vital.code} (vital sign) → lifelog-sensor`);
  return fixed('medical-information', 'Observation without a known category → medical-information (fail closed)');
}

function isImagingCoding(c: { system?: string; code: string }): boolean {
  return (c.system === V2_0074 && IMAGING_SECTIONS.has(c.code)) || (c.system === LOINC && IMAGING_LOINC.has(c.code)) || c.system === DICOM;
}

function diagnosticReport(resource: Resource, ctx: ClassifyContext): Decision {
  const r = resource as unknown as JsonObject;
  if (asArray(r.imagingStudy).length > 0) return fixed('medical-imaging', 'DiagnosticReport.imagingStudy present → medical-imaging');
  const imaging = [...categoryCodings(resource), ...codeOf(r.code)].find(isImagingCoding);
  if (imaging) return fixed('medical-imaging', `DiagnosticReport ${imaging.system === V2_0074 ? 'v2-0074' : imaging.system === LOINC ? 'LOINC' : 'DICOM'} ${imaging.code} (imaging) → medical-imaging`);
  const genomic = isGenomic(resource, ctx);
  if (genomic) return fixed('clinical-trial-omics', `DiagnosticReport ${genomic} → clinical-trial-omics`);
  return fixed('medical-information', 'DiagnosticReport (non-imaging) → medical-information');
}

const isDicom = (contentType: unknown): boolean => typeof contentType === 'string' && contentType.toLowerCase().startsWith('application/dicom');

function documentReference(resource: Resource, ctx: ClassifyContext, depth: number): Decision {
  const r = resource as unknown as JsonObject;
  const attachments = asArray(r.content).map((c) => (isJsonObject(c) ? c.attachment : undefined));
  if (attachments.some((a) => isJsonObject(a) && isDicom(a.contentType))) return fixed('medical-imaging', 'DocumentReference DICOM attachment → medical-imaging');
  const imaging = [...codeOf(r.type), ...categoryCodings(resource)].find(isImagingCoding);
  if (imaging) return fixed('medical-imaging', `DocumentReference type ${imaging.code} (imaging) → medical-imaging`);
  // A document follows what it documents (context.related), when that is in the same upload.
  const related = asArray(isJsonObject(r.context) ? r.context.related : undefined).map(referenceOf);
  for (const ref of related) {
    const target = ref === undefined ? undefined : ctx.resolve?.(ref);
    if (target && target.resourceType !== 'DocumentReference' && depth === 0) {
      const d = decide(target, ctx, depth + 1);
      return fixed(d.category, `DocumentReference follows its related ${target.resourceType} → ${d.category}`);
    }
  }
  return fixed('medical-information', 'DocumentReference (clinical document) → medical-information');
}

function decide(resource: Resource, ctx: ClassifyContext, depth = 0): Decision {
  const type = resource.resourceType;
  const r = resource as unknown as JsonObject;
  const fixedCategory = FIXED[type];
  if (fixedCategory) return fixed(fixedCategory, `${type} → ${fixedCategory}`);
  switch (type) {
    case 'Encounter':
      return encounter(r);
    case 'Observation':
      return observation(resource, ctx);
    case 'DiagnosticReport':
      return diagnosticReport(resource, ctx);
    case 'DocumentReference':
      return documentReference(resource, ctx, depth);
    case 'Binary':
      return isDicom(r.contentType) ? fixed('medical-imaging', 'Binary application/dicom → medical-imaging') : fixed('medical-information', 'Binary (not DICOM) → medical-information');
  }
  if (MEDICAL_INFORMATION.has(type)) return fixed('medical-information', `${type} → medical-information`);
  if (FINANCIAL_TYPES.has(type)) return fixed('medical-information', `${type} (financial: diagnoses, services, plan data) → medical-information`);
  if (AUDIT_TYPES.has(type)) return fixed('medical-information', `${type} (audit metadata) → medical-information`);
  if (SHARED_DATA_TYPES.has(type)) return fixed('medical-information', `${type} (directory data, not patient data) → medical-information`);
  return fixed('medical-information', `unknown resource type ${type} → medical-information (fail closed)`);
}

// ---------------------------------------------------------------------------------------------------------------------
// Sensitivity

const ACT_CODE_SYSTEMS = new Set([ACT_CODE_SYSTEM, 'http://hl7.org/fhir/v3/ActCode']);

/** Codings whose sensitivity counts for a resource: its own, and those of a Medication it names by reference. */
function sensitivityCodings(resource: Resource, ctx: ClassifyContext): FoundCoding[] {
  const own = collectCodings(resource);
  const medication = referenceOf((resource as unknown as JsonObject).medicationReference);
  const target = medication === undefined ? undefined : ctx.resolve?.(medication);
  if (target?.resourceType !== 'Medication') return own;
  return [...own, ...collectCodings(target).map((c) => ({ ...c, element: `medicationReference.${c.element}` }))];
}

// ---------------------------------------------------------------------------------------------------------------------

const maxLevel = (a: SecurityLevel, b: SecurityLevel): SecurityLevel => (levelRank(a) >= levelRank(b) ? a : b);

/** Raises a classification (level up, sensitivity added); never lowers it. */
export function raise(c: Classification, by: { level?: SecurityLevel; sensitivity?: readonly string[]; reason?: string }): Classification {
  const sensitivity = [...new Set([...c.sensitivity, ...(by.sensitivity ?? [])])].sort();
  let level = maxLevel(c.level, by.level ?? 'LOW');
  if (sensitivity.length > 0) level = 'PRIVATE';
  const reasons = by.reason !== undefined && !c.reasons.includes(by.reason) ? [...c.reasons, by.reason] : c.reasons;
  return { category: c.category, level, confidentiality: LEVEL_CONFIDENTIALITY[level], sensitivity, reasons };
}

export function classifyResource(resource: Resource, context: ClassifyContext = {}): Classification {
  const d = decide(resource, context);
  let c: Classification = raise(
    { category: d.category, level: CATEGORY_LEVEL[d.category], confidentiality: LEVEL_CONFIDENTIALITY[CATEGORY_LEVEL[d.category]], sensitivity: [], reasons: [] },
    { reason: `${d.reason} (${CATEGORY_LEVEL[d.category]})` },
  );

  const type = resource.resourceType;
  for (const coding of sensitivityCodings(resource, context)) {
    const match = sensitivityOf(coding.system, coding.code);
    if (match) c = raise(c, { sensitivity: match.labels, reason: `sensitive code ${match.rule} at ${type}.${coding.element} → ${match.labels.join('+')}, PRIVATE` });
  }

  // Labels set by the source system are honoured: they can raise the level, never lower it.
  for (const label of asArray(resource.meta?.security)) {
    if (!isJsonObject(label) || typeof label.code !== 'string' || typeof label.system !== 'string') continue;
    if (CONFIDENTIALITY_SYSTEMS.has(label.system)) {
      const level: SecurityLevel | undefined = label.code === 'R' || label.code === 'V' ? 'PRIVATE' : label.code === 'M' || label.code === 'N' ? 'MODERATE' : undefined;
      if (level && levelRank(level) > levelRank(c.level)) c = raise(c, { level, reason: `existing confidentiality label ${label.code} → ${level}` });
    } else if (ACT_CODE_SYSTEMS.has(label.system) && KNOWN_SENSITIVITY_LABELS.has(label.code)) {
      c = raise(c, { sensitivity: [label.code], reason: `existing sensitivity label ${label.code} → PRIVATE` });
    }
  }
  return c;
}

/** The most protective of several classifications, under the given category (a group's). */
export function combine(category: Category, classifications: readonly Classification[]): Classification {
  let c: Classification = { category, level: CATEGORY_LEVEL[category], confidentiality: LEVEL_CONFIDENTIALITY[CATEGORY_LEVEL[category]], sensitivity: [], reasons: [] };
  for (const x of classifications) {
    c = raise(c, { level: x.level, sensitivity: x.sensitivity });
    for (const reason of x.reasons) c = raise(c, { reason });
  }
  return c;
}
