/**
 * Splits an upload's resources into EMR groups: one per (patient, encounter — or the date of service when there is
 * no encounter —, Table 5 class, partition), each stored and shared as one EMR with one security level.
 *
 * - Patient, RelatedPerson, Person and Coverage form one identity group per patient (PRIVATE).
 * - Claim, ExplanationOfBenefit and the other billing types are medical-information, in a `financial` group of their
 *   encounter, apart from the clinical content, so a patient can share one without the other.
 * - Directory data (Practitioner, Organization, Location, …) and audit metadata (Provenance, AuditEvent) are not
 *   copied into groups; `onOmitted` is told about each. The ledger transaction (author, signature, timestamp,
 *   hospital) is each EMR's provenance.
 * - Reference data (Medication, Device, Substance, …) named by a group member is copied into that member's group,
 *   so the group can be read on its own; unreferenced reference data forms its own group.
 * - References between groups stay as written. Each group lists the references its members make to resources
 *   outside it, and where each one lives (another group of the same upload, directory data, or nowhere in the
 *   upload). An encounter's own Encounter resource is in the group of its class (admission-record for inpatient /
 *   emergency, medical-information for outpatient) and not copied into the others: copying it would raise a LOW
 *   group to PRIVATE.
 * - Documents and billing records summarise a whole encounter, so they (and the Encounter) inherit the sensitivity
 *   labels of everything else recorded in it. They are PRIVATE already; no other group's level changes.
 * - Every member is labelled with its group's classification (the most protective of its members').
 */
import type { Resource } from '@medplum/fhirtypes';
import { AUDIT_TYPES, FINANCIAL_TYPES, IDENTITY_TYPES, SHARED_DATA_TYPES, asArray, classifyResource, combine, raise, referenceOf } from './classify.js';
import type { Classification } from './classify.js';
import { withSecurityLabels } from './labels.js';
import { CATEGORIES } from './types.js';
import type { Category, Confidentiality, SecurityLevel } from './types.js';
import { isJsonObject, type JsonObject } from './validate.js';

export type Partition = 'identity' | 'clinical' | 'financial';

export interface ExternalReference {
  /** the reference as written in a member */
  readonly reference: string;
  /** `Type/id` of the target when it is in the upload */
  readonly target?: string;
  /** `group`: in another group of this upload; `directory` / `omitted`: not grouped; `unresolved`: not in the upload */
  readonly location: 'group' | 'directory' | 'omitted' | 'unresolved';
  /** key of the group holding the target, for `group` */
  readonly group?: string;
}

export interface EmrGroup {
  /** deterministic key; it contains FHIR ids, so it must never reach a summary or the ledger */
  readonly key: string;
  /** `Patient/<id>` (or the reference as written when the patient is not in the upload) */
  readonly patient?: string;
  /** `Encounter/<id>` */
  readonly encounter?: string;
  /** date of service, `YYYY-MM-DD` (or `YYYY-MM` / `YYYY` when the data says no more); absent for identity groups */
  readonly serviceDate?: string;
  readonly category: Category;
  readonly partition: Partition;
  readonly level: SecurityLevel;
  readonly confidentiality: Confidentiality;
  readonly sensitivity: readonly string[];
  readonly reasons: readonly string[];
  /** copies labelled with the group's classification (see withSecurityLabels: only `meta` is their own) */
  readonly resources: readonly Resource[];
  readonly references: readonly ExternalReference[];
}

export interface GroupOptions {
  /** called for each resource that is not put in any group (directory data, audit metadata) */
  readonly onOmitted?: (resource: Resource, reason: string) => void;
}

/** Types copied into the groups of the resources that name them. */
export const REFERENCE_DATA_TYPES: ReadonlySet<string> = new Set([
  'Medication', 'MedicationKnowledge', 'Substance', 'Device', 'DeviceMetric', 'DeviceDefinition', 'ResearchStudy',
]);

/** Types that summarise an encounter and so inherit its sensitivity. */
const SUMMARISING_TYPES: ReadonlySet<string> = new Set(['Encounter', 'DocumentReference', 'Composition', 'ClinicalImpression', ...FINANCIAL_TYPES]);

const json = (r: Resource): JsonObject => r as unknown as JsonObject;
/** Code-unit order: the same on every machine, unlike localeCompare. */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------------------------------------------------
// References

export interface ResourceIndex {
  /** `Type/id`, `urn:uuid:<id>`, an absolute `…/Type/id[/_history/v]` URL → the resource; contained and conditional → undefined */
  resolve(reference: string): Resource | undefined;
}

export const keyOf = (r: Resource): string => `${r.resourceType}/${r.id ?? ''}`;

/** Indexes resources by `Type/id` and, for `urn:uuid:` references, by bare id (when that id is unique). */
export function indexResources(resources: readonly Resource[]): ResourceIndex {
  const byKey = new Map<string, Resource>();
  const byId = new Map<string, Resource | null>();
  for (const r of resources) {
    if (r.id === undefined) continue;
    if (!byKey.has(keyOf(r))) byKey.set(keyOf(r), r);
    byId.set(r.id, byId.has(r.id) ? null : r);
  }
  return {
    resolve(reference: string): Resource | undefined {
      if (reference.startsWith('#') || reference.includes('?')) return undefined;
      if (reference.startsWith('urn:uuid:')) return byId.get(reference.slice('urn:uuid:'.length)) ?? undefined;
      const m = /(?:^|\/)([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
      return m?.[1] !== undefined ? byKey.get(m[1]) : undefined;
    },
  };
}

/** Every `reference` string in a resource (contained resources included). */
export function referencesIn(resource: Resource): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isJsonObject(v)) {
      if (typeof v.reference === 'string') out.push(v.reference);
      for (const x of Object.values(v)) if (typeof x === 'object') walk(x);
    }
  };
  walk(resource);
  return out;
}

/** The canonical `Type/id` of a reference: from the resolved resource, else from its text when it names a type. */
function canonical(reference: string, index: ResourceIndex): string {
  const r = index.resolve(reference);
  if (r) return keyOf(r);
  const m = /(?:^|\/)([A-Z][A-Za-z]+\/[^/?#]+)$/.exec(reference);
  return m?.[1] ?? reference;
}

/** Whether a reference points to a resource of `type` (or, when it cannot be told, might). */
function pointsTo(reference: string, type: string, index: ResourceIndex): boolean {
  const r = index.resolve(reference);
  if (r) return r.resourceType === type;
  if (reference.startsWith('urn:uuid:')) return true;
  return canonical(reference, index).startsWith(`${type}/`);
}

function patientOf(resource: Resource, index: ResourceIndex): string | undefined {
  if (resource.resourceType === 'Patient') return keyOf(resource);
  const r = json(resource);
  for (const field of ['subject', 'patient', 'beneficiary', 'individual']) {
    const ref = referenceOf(r[field]);
    if (ref !== undefined && pointsTo(ref, 'Patient', index)) return canonical(ref, index);
  }
  return undefined;
}

function encounterOf(resource: Resource, index: ResourceIndex, depth = 0): string | undefined {
  if (resource.resourceType === 'Encounter') return keyOf(resource);
  const r = json(resource);
  const context = r.context;
  const candidates = [
    referenceOf(r.encounter),
    referenceOf(context),
    ...asArray(isJsonObject(context) ? context.encounter : undefined).map(referenceOf),
    ...asArray(r.item).flatMap((item) => (isJsonObject(item) ? asArray(item.encounter).map(referenceOf) : [])),
  ];
  for (const ref of candidates) {
    if (ref !== undefined && pointsTo(ref, 'Encounter', index)) return canonical(ref, index);
  }
  // an ExplanationOfBenefit without item encounters belongs with its Claim
  const claim = referenceOf(r.claim);
  const target = claim === undefined || depth > 0 ? undefined : index.resolve(claim);
  return target ? encounterOf(target, index, depth + 1) : undefined;
}

const DATE_PATHS = [
  'effectiveDateTime', 'effectiveInstant', 'effectivePeriod.start', 'occurrenceDateTime', 'occurrencePeriod.start',
  'performedDateTime', 'performedPeriod.start', 'onsetDateTime', 'onsetPeriod.start', 'recordedDate', 'authoredOn',
  'whenHandedOver', 'whenPrepared', 'dateAsserted', 'issued', 'period.start', 'billablePeriod.start', 'started',
  'context.period.start', 'date', 'created', 'recorded',
];

/** The date of service of a resource (date part only), from the first of DATE_PATHS it has. */
export function serviceDateOf(resource: Resource): string | undefined {
  for (const path of DATE_PATHS) {
    let v: unknown = resource;
    for (const k of path.split('.')) v = isJsonObject(v) ? v[k] : undefined;
    const m = typeof v === 'string' ? /^\d{4}(-\d{2}(-\d{2})?)?/.exec(v) : null;
    if (m) return m[0];
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------

interface Member {
  readonly resource: Resource;
  readonly index: number;
  /** referencesIn(resource), walked once: three steps below need it */
  readonly references: readonly string[];
  classification: Classification;
}

interface Draft {
  readonly key: string;
  readonly patient?: string;
  readonly encounter?: string;
  readonly date?: string;
  readonly category: Category;
  readonly partition: Partition;
  readonly members: Member[];
}

const PARTITIONS: readonly Partition[] = ['identity', 'clinical', 'financial'];

function memberOrder(a: Member, b: Member): number {
  const enc = Number(b.resource.resourceType === 'Encounter') - Number(a.resource.resourceType === 'Encounter');
  return enc || cmp(a.resource.resourceType, b.resource.resourceType) || cmp(a.resource.id ?? '', b.resource.id ?? '') || a.index - b.index;
}

function groupOrder(a: EmrGroup, b: EmrGroup): number {
  return (
    cmp(a.patient ?? '\uffff', b.patient ?? '\uffff') || // groups without a patient last
    PARTITIONS.indexOf(a.partition === 'identity' ? 'identity' : 'clinical') - PARTITIONS.indexOf(b.partition === 'identity' ? 'identity' : 'clinical') ||
    cmp(a.serviceDate ?? '', b.serviceDate ?? '') ||
    cmp(a.encounter ?? '', b.encounter ?? '') ||
    CATEGORIES.indexOf(a.category) - CATEGORIES.indexOf(b.category) ||
    PARTITIONS.indexOf(a.partition) - PARTITIONS.indexOf(b.partition) ||
    cmp(a.key, b.key)
  );
}

/** Documents and billing inherit the sensitivity of everything recorded in their encounter. */
function inheritEncounterSensitivity(drafts: Iterable<Draft>): void {
  const list = [...drafts];
  const byEncounter = new Map<string, Set<string>>();
  for (const d of list) {
    if (d.encounter === undefined) continue;
    const set = byEncounter.get(d.encounter) ?? new Set<string>();
    for (const m of d.members) m.classification.sensitivity.forEach((s) => set.add(s));
    byEncounter.set(d.encounter, set);
  }
  for (const d of list) {
    const inherited = d.encounter === undefined ? [] : [...(byEncounter.get(d.encounter) ?? [])].sort();
    for (const m of d.members) {
      const type = m.resource.resourceType;
      const summarises = SUMMARISING_TYPES.has(type) || (type === 'DiagnosticReport' && asArray(json(m.resource).presentedForm).length > 0);
      const missing = inherited.filter((s) => !m.classification.sensitivity.includes(s));
      if (summarises && missing.length > 0) {
        m.classification = raise(m.classification, { sensitivity: missing, reason: `${type} summarises its encounter → inherits ${missing.join('+')}, PRIVATE` });
      }
    }
  }
}

/** The references members make to resources outside their group, and where those live. */
function externalReferences(members: readonly Member[], index: ResourceIndex, home: ReadonlyMap<Resource, string>, omitted: ReadonlyMap<Resource, 'directory' | 'omitted'>): ExternalReference[] {
  const inGroup = new Set(members.map((m) => m.resource));
  const refs = new Map<string, ExternalReference>();
  for (const m of members) {
    for (const reference of m.references) {
      if (reference.startsWith('#') || refs.has(reference)) continue; // contained: inside the member itself
      const t = index.resolve(reference);
      if (t && inGroup.has(t)) continue;
      let ext: ExternalReference;
      if (t && home.has(t)) ext = { reference, target: keyOf(t), location: 'group', group: home.get(t)! };
      else if (t && omitted.has(t)) ext = { reference, target: keyOf(t), location: omitted.get(t)! };
      else if (SHARED_DATA_TYPES.has(/^([A-Z][A-Za-z]+)\?/.exec(reference)?.[1] ?? '')) ext = { reference, location: 'directory' };
      else ext = { reference, location: 'unresolved' };
      refs.set(reference, ext);
    }
  }
  return [...refs.values()].sort((a, b) => cmp(a.reference, b.reference));
}

/** The encounter's start; else the date the group is keyed by; else its members' earliest. None for identity. */
function groupServiceDate(d: Draft, members: readonly Member[], index: ResourceIndex): string | undefined {
  if (d.partition === 'identity') return undefined;
  const encounter = d.encounter === undefined ? undefined : index.resolve(d.encounter);
  const fromEncounter = encounter ? serviceDateOf(encounter) : undefined;
  return fromEncounter ?? d.date ?? members.map((m) => serviceDateOf(m.resource)).filter((x): x is string => x !== undefined).sort()[0];
}

export function groupResources(resources: readonly Resource[], options: GroupOptions = {}): EmrGroup[] {
  const index = indexResources(resources);
  const ctx = { resolve: (ref: string) => index.resolve(ref) };

  const kept: Member[] = [];
  const omitted = new Map<Resource, 'directory' | 'omitted'>();
  resources.forEach((resource, i) => {
    if (SHARED_DATA_TYPES.has(resource.resourceType)) {
      omitted.set(resource, 'directory');
      options.onOmitted?.(resource, `${resource.resourceType} is directory data: referenced, not copied into EMR groups`);
    } else if (AUDIT_TYPES.has(resource.resourceType)) {
      omitted.set(resource, 'omitted');
      options.onOmitted?.(resource, `${resource.resourceType} is audit metadata: the ledger transaction records each EMR's provenance`);
    } else {
      kept.push({ resource, index: i, references: referencesIn(resource), classification: classifyResource(resource, ctx) });
    }
  });

  // Reference data named by another member travels with that member instead of forming a group.
  const memberOf = new Map<Resource, Member>(kept.map((m) => [m.resource, m]));
  const referenced = new Set<Resource>();
  for (const m of kept) {
    if (REFERENCE_DATA_TYPES.has(m.resource.resourceType)) continue;
    for (const ref of m.references) {
      const t = index.resolve(ref);
      if (t && REFERENCE_DATA_TYPES.has(t.resourceType) && memberOf.has(t)) referenced.add(t);
    }
  }

  const drafts = new Map<string, Draft>();
  for (const m of kept) {
    if (referenced.has(m.resource)) continue;
    const patient = patientOf(m.resource, index);
    const category = m.classification.category;
    const identity = IDENTITY_TYPES.has(m.resource.resourceType);
    const partition: Partition = identity ? 'identity' : FINANCIAL_TYPES.has(m.resource.resourceType) ? 'financial' : 'clinical';
    const encounter = identity ? undefined : encounterOf(m.resource, index);
    const date = identity || encounter !== undefined ? undefined : serviceDateOf(m.resource);
    const anchor = identity ? '' : encounter ?? date ?? 'undated';
    const key = [patient ?? '-', anchor, category, partition].join('|');
    let d = drafts.get(key);
    if (!d) {
      d = { key, ...(patient ? { patient } : {}), ...(encounter ? { encounter } : {}), ...(date ? { date } : {}), category, partition, members: [] };
      drafts.set(key, d);
    }
    d.members.push(m);
  }

  inheritEncounterSensitivity(drafts.values());

  // Copy named reference data into each group that names it.
  for (const d of drafts.values()) {
    const present = new Set(d.members.map((m) => m.resource));
    for (const m of [...d.members]) {
      for (const ref of m.references) {
        const t = index.resolve(ref);
        if (t && referenced.has(t) && !present.has(t)) {
          present.add(t);
          d.members.push(memberOf.get(t)!);
        }
      }
    }
  }

  // Where each resource of the upload lives, for the groups' reference lists (copies: the first group by key).
  const home = new Map<Resource, string>();
  const byKey = [...drafts.values()].sort((a, b) => cmp(a.key, b.key));
  for (const d of byKey) for (const m of d.members) if (!home.has(m.resource)) home.set(m.resource, d.key);

  const groups: EmrGroup[] = [];
  for (const d of drafts.values()) {
    const members = [...d.members].sort(memberOrder);
    const c = combine(d.category, members.map((m) => m.classification));
    const serviceDate = groupServiceDate(d, members, index);
    groups.push({
      key: d.key,
      ...(d.patient ? { patient: d.patient } : {}),
      ...(d.encounter ? { encounter: d.encounter } : {}),
      ...(serviceDate ? { serviceDate } : {}),
      category: d.category,
      partition: d.partition,
      level: c.level,
      confidentiality: c.confidentiality,
      sensitivity: c.sensitivity,
      reasons: c.reasons,
      resources: members.map((m) => withSecurityLabels(m.resource, c)),
      references: externalReferences(members, index, home, omitted),
    });
  }
  return groups.sort(groupOrder);
}
