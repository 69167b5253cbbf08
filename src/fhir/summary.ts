/**
 * The de-identified "EMR information" of the paper's Table 4, built from one EMR group under HIPAA Safe Harbor
 * (45 CFR 164.514(b)(2)): no names, geography below the state, dates finer than the year, contact details,
 * identifiers of any kind (SSN, MRN, plan, account, licence, device, vehicle numbers), URLs, IPs, biometrics or
 * photos, and no free text (narrative, notes, display strings, CodeableConcept.text). What is kept:
 * the class and level, resource types and counts, codes from standard terminologies, category codes, gender, a
 * five-year age band (ages over 89 collapse to 90+), the year of service, the uploading organisation and the
 * security labels. The summary's id is a fresh random surrogate, not derived from any FHIR id.
 */
import { randomUUID } from 'node:crypto';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { categoryCodings, collectCodings } from './classify.js';
import type { EmrGroup } from './group.js';
import { FhirInputError, issue } from './outcome.js';
import { DICOM, ICD10, ICD10CM, KNOWN_SENSITIVITY_LABELS, LOINC, RXNORM, SNOMED } from './sensitivity.js';
import { ACT_CODE_SYSTEM, AGE_BANDS, CONFIDENTIALITY_SYSTEM, confidentialityRank } from './types.js';
import type { AgeBand, Category, Gender, RecordSummary, SecurityLevel } from './types.js';

export interface EmrSummary {
  /** random surrogate for this EMR */
  readonly id: string;
  readonly category: Category;
  readonly securityLevel: SecurityLevel;
  /** sorted */
  readonly resourceTypes: readonly string[];
  /** category codes of the members (observation-category `laboratory`, condition-category, …), sorted */
  readonly categories: readonly string[];
  /**
   * `system|code` from standard terminologies only, unique; ordered clinical terminologies first (SNOMED, LOINC,
   * ICD, RxNorm, CVX, NDC, CPT, DICOM), then HL7 code systems, each by how many members carry the code (most first),
   * then by text. Empty for identity groups.
   */
  readonly codes: readonly string[];
  readonly gender?: Gender;
  /** age at the date of service (at summarising time for identity groups) */
  readonly ageBand?: AgeBand;
  /** year of service only */
  readonly year: number;
  readonly organizationId: string;
  /** v3 confidentiality code first, then v3-ActCode sensitivity codes, sorted */
  readonly labels: readonly string[];
  /** members per resource type */
  readonly counts: Readonly<Record<string, number>>;
}

export interface SummaryOptions {
  /** the uploading organisation's ledger identity (MSP id) */
  readonly organizationId: string;
  /** the group's patient, read for gender and birth date only */
  readonly patient?: Patient;
  /** source of the summary id; default: a random UUID */
  readonly surrogate?: () => string;
  /** clock for groups without a date of service; default: the system clock */
  readonly now?: () => Date;
}

/** RecordSummary.codes holds at most this many (the chaincode's limit). */
export const MAX_RECORD_CODES = 64;
const MAX_RECORD_TYPES = 64;
const MAX_RECORD_LABELS = 32;

/** Clinical terminologies: their codes are concepts, never identifiers. */
const TERMINOLOGIES: ReadonlySet<string> = new Set([
  SNOMED,
  LOINC,
  ICD10,
  ICD10CM,
  'http://hl7.org/fhir/sid/icd-9-cm',
  'http://id.who.int/icd/release/11/mms',
  RXNORM,
  'http://hl7.org/fhir/sid/cvx',
  'http://hl7.org/fhir/sid/ndc',
  'http://www.ama-assn.org/go/cpt',
  DICOM,
]);

/**
 * HL7 code systems: terminology.hl7.org, US Core's, and FHIR core ones (`http://hl7.org/fhir/<name>`, one path
 * segment — which leaves out `http://hl7.org/fhir/sid/…`, home of us-ssn, us-npi and other identifier systems).
 */
const isHl7System = (system: string): boolean =>
  system.startsWith('http://terminology.hl7.org/CodeSystem/') ||
  system.startsWith('http://hl7.org/fhir/us/core/CodeSystem/') ||
  /^http:\/\/hl7\.org\/fhir\/[a-z][a-z0-9-]*$/.test(system);

/** A code that is a concept code, not a URL or a sentence: also what the ledger's label pattern accepts. */
const CODE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** 0 = clinical terminology, 1 = HL7 code system, undefined = not allowed in a summary. */
function tier(system: string | undefined, code: string): 0 | 1 | undefined {
  if (system === undefined || !CODE.test(code)) return undefined;
  if (TERMINOLOGIES.has(system)) return 0;
  return isHl7System(system) ? 1 : undefined;
}

function summaryCodes(resources: readonly Resource[]): string[] {
  const stats = new Map<string, { tier: 0 | 1; members: number }>();
  for (const r of resources) {
    const seen = new Set<string>();
    for (const c of collectCodings(r)) {
      const t = tier(c.system, c.code);
      if (t === undefined) continue;
      const key = `${c.system}|${c.code}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const s = stats.get(key) ?? { tier: t, members: 0 };
      s.members += 1;
      stats.set(key, s);
    }
  }
  return [...stats.entries()]
    .sort(([ka, a], [kb, b]) => a.tier - b.tier || b.members - a.members || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .map(([k]) => k);
}

function summaryCategories(resources: readonly Resource[]): string[] {
  const out = new Set<string>();
  for (const r of resources) {
    for (const c of categoryCodings(r)) {
      if ((c.system === undefined || tier(c.system, c.code) === 1) && CODE.test(c.code)) out.add(c.code);
    }
  }
  return [...out].sort();
}

/** The labels actually on the members: the strictest confidentiality code, then the sensitivity codes. */
function summaryLabels(group: EmrGroup): string[] {
  let confidentiality: string = group.confidentiality;
  const sensitivity = new Set(group.sensitivity);
  for (const r of group.resources) {
    for (const l of r.meta?.security ?? []) {
      if (l.code === undefined) continue;
      if (l.system === CONFIDENTIALITY_SYSTEM && confidentialityRank(l.code) > confidentialityRank(confidentiality)) confidentiality = l.code;
      if (l.system === ACT_CODE_SYSTEM && KNOWN_SENSITIVITY_LABELS.has(l.code)) sensitivity.add(l.code);
    }
  }
  return [confidentiality, ...[...sensitivity].sort()];
}

// ---------------------------------------------------------------------------------------------------------------------
// Age

interface Ymd {
  readonly y: number;
  readonly m: number;
  readonly d: number;
}

/** The earliest and latest day a FHIR date (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or a dateTime) can stand for. */
function bounds(date: string): [Ymd, Ymd] | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(date);
  if (!m) return undefined;
  const y = Number(m[1]);
  if (m[3] !== undefined) {
    const day = { y, m: Number(m[2]), d: Number(m[3]) };
    return [day, day];
  }
  if (m[2] !== undefined) {
    const month = Number(m[2]);
    return [{ y, m: month, d: 1 }, { y, m: month, d: new Date(Date.UTC(y, month, 0)).getUTCDate() }];
  }
  return [{ y, m: 1, d: 1 }, { y, m: 12, d: 31 }];
}

const yearsBetween = (birth: Ymd, at: Ymd): number => at.y - birth.y - (at.m < birth.m || (at.m === birth.m && at.d < birth.d) ? 1 : 0);

const band = (age: number): AgeBand | undefined => (age < 0 ? undefined : age >= 90 ? '90+' : AGE_BANDS[Math.floor(age / 5)]);

/**
 * The five-year age band at `date`, or undefined when the dates are missing, inconsistent, or too coarse to tell
 * the band (a birth year alone that straddles a band boundary).
 */
export function ageBandAt(birthDate: string | undefined, date: string): AgeBand | undefined {
  const b = birthDate === undefined ? undefined : bounds(birthDate);
  const at = bounds(date);
  if (!b || !at) return undefined;
  const youngest = band(yearsBetween(b[1], at[0]));
  const oldest = band(yearsBetween(b[0], at[1]));
  return youngest === oldest ? youngest : undefined;
}

// ---------------------------------------------------------------------------------------------------------------------

export function summariseGroup(group: EmrGroup, options: SummaryOptions): EmrSummary {
  const { patient } = options;
  if (patient?.id !== undefined && group.patient?.startsWith('Patient/') && group.patient !== `Patient/${patient.id}`) {
    throw new FhirInputError([issue('invalid', 'the patient given is not the patient of this EMR group', 'Patient.id')]);
  }
  const referenceDate = group.serviceDate ?? (options.now?.() ?? new Date()).toISOString().slice(0, 10);
  const year = Number(referenceDate.slice(0, 4));
  if (!Number.isInteger(year) || year < 1900 || year > 9999) {
    throw new FhirInputError([issue('value', `year of service ${year} is outside 1900–9999`)]);
  }
  const identity = group.partition === 'identity';
  const counts: Record<string, number> = {};
  for (const r of group.resources) counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
  const resourceTypes = Object.keys(counts).sort();
  const ageBand = ageBandAt(patient?.birthDate, referenceDate);
  return {
    id: (options.surrogate ?? randomUUID)(),
    category: group.category,
    securityLevel: group.level,
    resourceTypes,
    // Identity groups hold only demographics and identifiers: none of their codes go in a summary.
    categories: identity ? [] : summaryCategories(group.resources),
    codes: identity ? [] : summaryCodes(group.resources),
    ...(patient?.gender ? { gender: patient.gender } : {}),
    ...(ageBand ? { ageBand } : {}),
    year,
    organizationId: options.organizationId,
    labels: summaryLabels(group),
    counts: Object.fromEntries(resourceTypes.map((t) => [t, counts[t]!])),
  };
}

/**
 * The ledger's RecordSummary. Codes beyond MAX_RECORD_CODES are dropped, keeping the first ones in the summary's
 * order (clinical terminologies first, most frequent first), so the same group always gives the same record; the
 * full list stays in the EmrSummary. Resource types (64) and labels (32) are cut the same way, which real groups
 * never reach.
 */
export function toRecordSummary(summary: EmrSummary): RecordSummary {
  return {
    category: summary.category,
    securityLevel: summary.securityLevel,
    codes: summary.codes.slice(0, MAX_RECORD_CODES),
    year: summary.year,
    resourceTypes: summary.resourceTypes.slice(0, MAX_RECORD_TYPES),
    labels: summary.labels.slice(0, MAX_RECORD_LABELS),
    ...(summary.gender !== undefined ? { gender: summary.gender } : {}),
    ...(summary.ageBand !== undefined ? { ageBand: summary.ageBand } : {}),
  };
}
