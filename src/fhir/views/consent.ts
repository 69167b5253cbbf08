/**
 * The patient's access policy (the paper's "contract code") as a FHIR R4 Consent and back, and a grant as a
 * Consent provision and back.
 *
 * A policy Consent has this shape. Nested provisions are exceptions to their parent, and the deepest provision that
 * matches a participant decides:
 *
 *   provision           deny                       nobody but the patient reads the data …
 *     data              instance: the record       (a record chain's policy; absent for the patient's default)
 *     provision         permit, action access      … except by ordinary access (request → approval → grant):
 *       actor           Group kind:<k>             one per allowed kind, in policy order (Group `none`: no kind)
 *       period.end      expiresAt                  ordinary access ends when the policy expires
 *       provision       deny  participants         · never the deny list
 *       provision       deny  Group clearance:<l>  · never participants cleared below minClearance
 *       provision       deny  Group any            · with an allow list: nobody else …
 *         provision     permit participants           … but those on it
 *           provision   deny  Group clearance:<l>       (the clearance rule moves here, so it binds them too)
 *     provision         permit, purpose BTG ETREAT … and by break-glass, when emergencyAllowed:
 *       actor           Group emergency-physician  physicians holding the emergency role
 *       provision       deny  participants         · never the deny list (break-glass ignores kinds, allow
 *                                                    list, minimum clearance and expiry, as the contract does)
 *
 * Every actor's role is v3-ParticipationType IRCP (information recipient). Participants are referenced by
 * pseudonymous identifier (`urn:pie:participant`); sets of participants by Group identifiers
 * (`urn:pie:participant-group`), because FHIR requires a reference for every actor and a kind or a clearance is a
 * property the participants share. `consentToPolicy` reads exactly this shape (in any provision order, with literal
 * `Practitioner/<id>` references and zoned date-times accepted) and refuses anything else with an OperationOutcome
 * issue per problem: what a policy cannot express, and what would widen DESIGN §5's defaults.
 */
import type { CodeableConcept, Coding, Consent, ConsentProvision, ConsentProvisionActor, Reference } from '@medplum/fhirtypes';
import {
  ContractError,
  DEFAULT_POLICY,
  DEFAULT_READER_KINDS,
  GRANT_MAX_DURATION_MS,
  ID_PATTERN,
  PARTICIPANT_ID,
  PARTICIPANT_KINDS,
  SECURITY_LEVELS,
  isoTime,
  levelRank,
  millis,
  parseAccessPolicy,
  policyWidenings,
} from '../../../chaincode/src/domain/index.js';
import type { AccessPolicy, Grant, ParticipantKind, SecurityLevel } from '../../../chaincode/src/domain/index.js';
import { FhirInputError, issue } from '../outcome.js';
import type { FhirIssue, IssueCode } from '../outcome.js';
import { LOINC } from '../sensitivity.js';
import { classifyReference } from '../validate.js';
import {
  GRANT_SYSTEM,
  PARTICIPANT_SYSTEM,
  PIE_EXTENSIONS,
  PIE_FHIR_BASE,
  RECORD_SYSTEM,
  fhirId,
  participantReference,
  patientReference,
  recordReference,
} from './document-reference.js';

// ---- vocabulary ---------------------------------------------------------------------------------------------------

export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
export const ACT_REASON_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const PARTICIPATION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
export const CONSENT_ACTION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentaction';
/** Sets of participants named in a policy Consent: `kind:<kind>`, `clearance:<level>`, `emergency-physician`, `any`, `none`. */
export const PARTICIPANT_GROUP_SYSTEM = 'urn:pie:participant-group';
/** Consent.policy of every PIE Consent: the contract's access rules (DESIGN §5), which a policy narrows. */
export const ACCESS_POLICY_URI = `${PIE_FHIR_BASE}/policy/access-rules`;

const PATIENT_PRIVACY: Coding = { system: CONSENT_SCOPE_SYSTEM, code: 'patient-privacy', display: 'Privacy Consent' };
const PATIENT_CONSENT: Coding = { system: LOINC, code: '59284-0', display: 'Patient Consent' };
export const BREAK_THE_GLASS: Coding = { system: ACT_REASON_SYSTEM, code: 'BTG', display: 'break the glass' };
export const EMERGENCY_TREATMENT: Coding = { system: ACT_REASON_SYSTEM, code: 'ETREAT', display: 'Emergency Treatment' };
export const TREATMENT: Coding = { system: ACT_REASON_SYSTEM, code: 'TREAT', display: 'treatment' };
const ACCESS: CodeableConcept = { coding: [{ system: CONSENT_ACTION_SYSTEM, code: 'access', display: 'Access' }] };
export const INFORMATION_RECIPIENT: Coding = { system: PARTICIPATION_TYPE_SYSTEM, code: 'IRCP', display: 'information recipient' };

export type ParticipantGroup = `kind:${ParticipantKind}` | `clearance:${SecurityLevel}` | 'emergency-physician' | 'any' | 'none';

function groupDisplay(group: ParticipantGroup): string {
  if (group.startsWith('kind:')) return `every ${group.slice(5)}`;
  if (group.startsWith('clearance:')) return `participants whose clearance is ${group.slice(10)}`;
  return { 'emergency-physician': 'physicians with the emergency role', any: 'every participant', none: 'no participant' }[group as 'any'];
}

const groupActor = (group: ParticipantGroup): ConsentProvisionActor => ({
  role: { coding: [INFORMATION_RECIPIENT] },
  reference: { type: 'Group', identifier: { system: PARTICIPANT_GROUP_SYSTEM, value: group }, display: groupDisplay(group) },
});

const participantActor = (id: string): ConsentProvisionActor => ({ role: { coding: [INFORMATION_RECIPIENT] }, reference: participantReference(id) });

// ---- policy → Consent ---------------------------------------------------------------------------------------------

export interface PolicyConsentOptions {
  readonly patientId: string;
  /** a record of the chain this policy governs; absent for the patient's default policy for new records */
  readonly recordId?: string;
  /** Consent.id (a FHIR id) */
  readonly id?: string;
  /** when the policy was set: the transaction's timestamp */
  readonly dateTime?: string;
}

export function policyToConsent(policy: AccessPolicy, options: PolicyConsentOptions): Consent {
  const patient = patientReference(options.patientId);
  return {
    resourceType: 'Consent',
    ...(options.id !== undefined ? { id: options.id } : {}),
    status: 'active',
    scope: { coding: [PATIENT_PRIVACY] },
    category: [{ coding: [PATIENT_CONSENT] }],
    patient,
    ...(options.dateTime !== undefined ? { dateTime: options.dateTime } : {}),
    performer: [patient],
    policy: [{ uri: ACCESS_POLICY_URI }],
    provision: {
      type: 'deny',
      ...(options.recordId !== undefined ? { data: [{ meaning: 'instance', reference: recordReference(options.recordId) }] } : {}),
      provision: [ordinaryProvision(policy), ...(policy.emergencyAllowed ? [emergencyProvision(policy)] : [])],
    },
  };
}

function ordinaryProvision(policy: AccessPolicy): ConsentProvision {
  const kinds = policy.allowedKinds.length > 0 ? policy.allowedKinds.map((k) => groupActor(`kind:${k}`)) : [groupActor('none')];
  const clearance = clearanceProvision(policy.minClearance);
  const nested: ConsentProvision[] = [
    ...(policy.deny.length > 0 ? [denyListProvision(policy.deny)] : []),
    ...(clearance && policy.allow.length === 0 ? [clearance] : []),
    ...(policy.allow.length > 0 ? [allowListProvision(policy.allow, clearance)] : []),
  ];
  return {
    type: 'permit',
    ...(policy.expiresAt !== undefined ? { period: { end: policy.expiresAt } } : {}),
    actor: kinds,
    action: [ACCESS],
    ...(nested.length > 0 ? { provision: nested } : {}),
  };
}

function emergencyProvision(policy: AccessPolicy): ConsentProvision {
  return {
    type: 'permit',
    actor: [groupActor('emergency-physician')],
    action: [ACCESS],
    purpose: [BREAK_THE_GLASS, EMERGENCY_TREATMENT],
    ...(policy.deny.length > 0 ? { provision: [denyListProvision(policy.deny)] } : {}),
  };
}

const denyListProvision = (ids: readonly string[]): ConsentProvision => ({ type: 'deny', actor: ids.map(participantActor) });

/** Deny the clearances below the minimum; none for LOW. */
function clearanceProvision(minClearance: SecurityLevel): ConsentProvision | undefined {
  const below = SECURITY_LEVELS.slice(0, levelRank(minClearance));
  return below.length > 0 ? { type: 'deny', actor: below.map((l) => groupActor(`clearance:${l}`)) } : undefined;
}

function allowListProvision(ids: readonly string[], clearance: ConsentProvision | undefined): ConsentProvision {
  const permit: ConsentProvision = { type: 'permit', actor: ids.map(participantActor), ...(clearance ? { provision: [clearance] } : {}) };
  return { type: 'deny', actor: [groupActor('any')], provision: [permit] };
}

// ---- reading FHIR input: shared helpers ----------------------------------------------------------------------------

/** Collects every problem of an input, so that a client sees them all at once. */
class Problems {
  readonly issues: FhirIssue[] = [];
  add(code: IssueCode, message: string, expression: string): undefined {
    this.issues.push(issue(code, message, expression));
    return undefined;
  }
  throwIfAny(what: string): void {
    if (this.issues.length > 0) throw new FhirInputError(this.issues, `${what}: ${this.issues.length} problem${this.issues.length === 1 ? '' : 's'}; first: ${this.issues[0]!.message} at ${this.issues[0]!.expression}`);
  }
}

type Criterion = Exclude<keyof ConsentProvision, 'id' | 'extension' | 'modifierExtension' | 'type'>;
const CRITERION_WORDS: Readonly<Record<Criterion, string>> = {
  period: 'a time window',
  actor: 'actors',
  action: 'actions',
  securityLabel: 'security labels (a record’s level is the ledger’s; a minimum clearance is a deny of Group clearance:<level>)',
  purpose: 'purposes',
  class: 'resource classes',
  code: 'codes',
  dataPeriod: 'data periods',
  data: 'data',
  provision: 'nested provisions',
};
const CRITERIA = Object.keys(CRITERION_WORDS) as Criterion[];

const present = (v: unknown): boolean => v !== undefined && !(Array.isArray(v) && v.length === 0);

/** Refuses criteria and modifier extensions this kind of provision cannot carry. */
function onlyCriteria(p: ConsentProvision, allowed: readonly Criterion[], path: string, what: string, problems: Problems): void {
  if (present(p.modifierExtension)) problems.add('not-supported', `${what}: PIE does not understand modifier extensions`, `${path}.modifierExtension`);
  for (const c of CRITERIA) {
    if (!allowed.includes(c) && present(p[c])) problems.add('not-supported', `${what}: a PIE policy cannot restrict this by ${CRITERION_WORDS[c]}`, `${path}.${c}`);
  }
}

const hasCoding = (codings: readonly Coding[] | undefined, want: Coding): boolean => (codings ?? []).some((c) => c.system === want.system && c.code === want.code);

/** Every action must be consentaction `access` (what a grant gives); absent actions mean access. */
function readActions(p: ConsentProvision, path: string, problems: Problems): void {
  (p.action ?? []).forEach((a, i) => {
    if (!hasCoding(a.coding, ACCESS.coding![0]!)) problems.add('not-supported', 'only the consentaction `access` can be permitted: PIE grants read access', `${path}.action[${i}]`);
  });
}

/** An instant: kept as written when it is the ledger's UTC form, else normalised to it (FHIR allows offsets). */
function readInstant(value: string | undefined, path: string, problems: Problems): string | undefined {
  if (value === undefined) return problems.add('required', 'a date and time is required', path);
  try {
    return isoTime(value, path);
  } catch {
    // not the ledger's UTC form; an offset form is converted below
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  const ms = Date.parse(value);
  const realDay = m !== null && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDate() === Number(m[3]);
  if (!m || Number.isNaN(ms) || !realDay) return problems.add('value', 'must be a date and time with a time zone, e.g. 2025-01-31T23:59:59Z', path);
  return new Date(ms).toISOString();
}

/** The id of a relative literal reference `Type/id` (no base URL, no version) to one of `types`. */
function literalId(reference: string | undefined, types: readonly string[]): string | undefined {
  const form = reference === undefined ? undefined : classifyReference(reference);
  return form?.kind === 'literal' && form.base === undefined && form.version === undefined && types.includes(form.type) ? form.id : undefined;
}

const PARTICIPANT_TYPES = ['Patient', 'Practitioner', 'PractitionerRole', 'RelatedPerson'];

/** A participant: identifier `urn:pie:participant|<id>`, or a literal `Practitioner/<id>` (or Patient, …). */
function readParticipantReference(ref: Reference | undefined, path: string, problems: Problems): string | undefined {
  if (ref?.identifier !== undefined) {
    const { system, value } = ref.identifier;
    if (system !== PARTICIPANT_SYSTEM) return problems.add('value', `a participant is identified in the system ${PARTICIPANT_SYSTEM}`, `${path}.identifier.system`);
    if (value === undefined || !PARTICIPANT_ID.test(value)) return problems.add('value', 'a participant id is 32 lower-case hex characters', `${path}.identifier.value`);
    return value;
  }
  const literal = literalId(ref?.reference, PARTICIPANT_TYPES);
  if (literal !== undefined && PARTICIPANT_ID.test(literal)) return literal;
  if (ref?.reference !== undefined) return problems.add('value', 'a participant reference is Practitioner/<id> (or Patient/…) with a 32-hex participant id', `${path}.reference`);
  return problems.add('required', `a participant reference needs identifier ${PARTICIPANT_SYSTEM}|<id>`, path);
}

/** A record: identifier `urn:pie:record|<id>`, or a literal `DocumentReference/<id>`. */
function readRecordReference(ref: Reference | undefined, path: string, problems: Problems): string | undefined {
  if (ref?.identifier !== undefined) {
    const { system, value } = ref.identifier;
    if (system !== RECORD_SYSTEM) return problems.add('value', `a record is identified in the system ${RECORD_SYSTEM}`, `${path}.identifier.system`);
    if (value === undefined || value.length > 128 || !ID_PATTERN.test(value)) return problems.add('value', 'not a record id', `${path}.identifier.value`);
    return value;
  }
  const literal = literalId(ref?.reference, ['DocumentReference']);
  if (literal !== undefined) return literal;
  if (ref?.reference !== undefined) return problems.add('value', 'a record reference is DocumentReference/<record id>', `${path}.reference`);
  return problems.add('required', `a record reference needs identifier ${RECORD_SYSTEM}|<id>`, path);
}

/** The one record a provision's `data` names (meaning `instance`). */
function readRecordData(p: ConsentProvision, path: string, problems: Problems): string | undefined {
  const data = p.data ?? [];
  if (data.length !== 1) return problems.add(data.length === 0 ? 'required' : 'not-supported', 'exactly one record (DocumentReference) is expected', `${path}.data`);
  const d = data[0]!;
  if (d.meaning !== 'instance') problems.add('not-supported', 'PIE reads data as the record itself (meaning `instance`)', `${path}.data[0].meaning`);
  return readRecordReference(d.reference, `${path}.data[0].reference`, problems);
}

type Actor = { readonly path: string } & ({ readonly participant: string } | { readonly group: string });

function readActors(p: ConsentProvision, path: string, problems: Problems): Actor[] {
  return (p.actor ?? []).flatMap((a, i): Actor[] => {
    const at = `${path}.actor[${i}]`;
    if (!hasCoding(a.role?.coding, INFORMATION_RECIPIENT)) {
      problems.add('not-supported', 'PIE reads every actor as an information recipient (v3-ParticipationType IRCP)', `${at}.role`);
    }
    const ref = a.reference;
    if (ref?.identifier?.system === PARTICIPANT_GROUP_SYSTEM) {
      const value = ref.identifier.value;
      if (value !== undefined) return [{ group: value, path: `${at}.reference` }];
      problems.add('required', 'the group needs a value', `${at}.reference.identifier.value`);
      return [];
    }
    const id = readParticipantReference(ref, `${at}.reference`, problems);
    return id === undefined ? [] : [{ participant: id, path: `${at}.reference` }];
  });
}

const isParticipant = (a: Actor): a is Actor & { participant: string } => 'participant' in a;
const isGroup = (a: Actor): a is Actor & { group: string } => 'group' in a;

/** A participant of a deny or allow list, with where it was read. */
interface Listed {
  readonly id: string;
  readonly path: string;
}

/** Participant ids of a deny-list or allow-list provision, refusing duplicates. */
function participantList(actors: readonly Actor[], problems: Problems): Listed[] {
  const out: Listed[] = [];
  for (const a of actors.filter(isParticipant)) {
    if (out.some((o) => o.id === a.participant)) problems.add('value', `participant ${a.participant} is listed twice`, a.path);
    else out.push({ id: a.participant, path: a.path });
  }
  return out;
}

// ---- Consent → policy -----------------------------------------------------------------------------------------------

interface Ordinary {
  readonly kinds: ParticipantKind[];
  readonly minClearance: SecurityLevel;
  readonly allow: Listed[];
  readonly deny?: { readonly list: Listed[]; readonly path: string };
  readonly expiresAt?: string;
}
interface Emergency {
  readonly deny?: { readonly list: Listed[]; readonly path: string };
  readonly path: string;
}

/** The patient (and, for a record chain's policy, the record) a policy Consent is about. */
export interface ConsentSubject {
  readonly patientId: string;
  readonly recordId?: string;
}

export function consentSubject(consent: Consent): ConsentSubject {
  const problems = new Problems();
  const subject = readSubject(consent, problems);
  problems.throwIfAny('Consent');
  return subject!;
}

function readSubject(consent: Consent, problems: Problems): ConsentSubject | undefined {
  const patientId = consent.patient === undefined
    ? problems.add('required', 'the patient whose policy this is is required', 'Consent.patient')
    : readParticipantReference(consent.patient, 'Consent.patient', problems);
  const root = consent.provision;
  const recordId = root && present(root.data) ? readRecordData(root, 'Consent.provision', problems) : undefined;
  return patientId === undefined ? undefined : { patientId, ...(recordId !== undefined ? { recordId } : {}) };
}

/**
 * The access policy a Consent expresses. Throws FhirInputError (every problem, each with its FHIRPath) for a
 * Consent that is not an active privacy Consent of the shape above, that a policy cannot express, or that would
 * widen the defaults.
 */
export function consentToPolicy(consent: Consent): AccessPolicy {
  const problems = new Problems();
  readHeader(consent, problems);
  readSubject(consent, problems);
  const root = consent.provision;
  if (root === undefined) {
    problems.add('required', 'the policy is the Consent’s provision', 'Consent.provision');
    problems.throwIfAny('Consent');
  }
  const draft = readRoot(root!, 'Consent.provision', problems);
  problems.throwIfAny('Consent');
  try {
    return parseAccessPolicy(draft);
  } catch (e) {
    // the readers above check what the contract checks; this is the backstop (e.g. lists longer than the contract takes)
    if (e instanceof ContractError) throw new FhirInputError([issue(e.code === 'FORBIDDEN' ? 'forbidden' : 'value', e.message, 'Consent.provision')]);
    throw e;
  }
}

function readHeader(consent: Consent, problems: Problems): void {
  if ((consent as { resourceType?: string }).resourceType !== 'Consent') problems.add('structure', 'a Consent is expected', 'Consent.resourceType');
  if (consent.status !== 'active') problems.add('value', `only an active Consent sets a policy (status is ${consent.status ?? 'missing'})`, 'Consent.status');
  if (!hasCoding(consent.scope?.coding, PATIENT_PRIVACY)) problems.add('value', `a policy is a privacy Consent: scope ${CONSENT_SCOPE_SYSTEM}|patient-privacy`, 'Consent.scope');
  if (present(consent.modifierExtension)) problems.add('not-supported', 'PIE does not understand modifier extensions', 'Consent.modifierExtension');
}

function readRoot(root: ConsentProvision, path: string, problems: Problems): Record<string, unknown> {
  if (root.type === 'permit') {
    problems.add('forbidden', 'a permit base rule would let every participant read, which is wider than the defaults; the base rule is deny, with nested permits', `${path}.type`);
  } else if (root.type !== 'deny') {
    problems.add('required', 'the base rule must be `deny`', `${path}.type`);
  }
  onlyCriteria(root, ['data', 'provision'], path, 'the base rule', problems);

  let ordinary: Ordinary | undefined;
  let emergency: Emergency | undefined;
  for (const [i, child] of (root.provision ?? []).entries()) {
    const at = `${path}.provision[${i}]`;
    if (child.type !== 'permit') {
      problems.add('not-supported', 'the base rule already denies: only the ordinary-access permit and the break-glass permit may be nested in it', `${at}.type`);
    } else if (hasCoding(child.purpose, BREAK_THE_GLASS)) {
      if (emergency) problems.add('not-supported', 'only one break-glass permit is expected', at);
      else emergency = readEmergency(child, at, problems);
    } else if (present(child.purpose)) {
      problems.add('not-supported', 'ordinary access is not restricted by purpose (the requester states one in each request); break-glass is the permit with purpose BTG', `${at}.purpose`);
    } else if (ordinary) {
      problems.add('not-supported', 'only one ordinary-access permit is expected', at);
    } else {
      ordinary = readOrdinary(child, at, problems);
    }
  }
  return policyDraft(ordinary, emergency, problems);
}

function policyDraft(ordinary: Ordinary | undefined, emergency: Emergency | undefined, problems: Problems): Record<string, unknown> {
  const deny = ordinary?.deny ?? emergency?.deny;
  // The policy's deny list binds ordinary and break-glass access alike, so both permits must carry the same one.
  if (ordinary && emergency && !sameIds(ordinary.deny?.list ?? [], emergency.deny?.list ?? [])) {
    problems.add('invariant', 'the break-glass permit must deny exactly the participants the ordinary-access permit denies: a policy has one deny list', emergency.deny?.path ?? emergency.path);
  }
  for (const a of ordinary?.allow ?? []) {
    if (deny?.list.some((d) => d.id === a.id)) problems.add('invariant', `participant ${a.id} is both allowed and denied`, a.path);
  }
  return {
    minClearance: ordinary?.minClearance ?? DEFAULT_POLICY.minClearance,
    allowedKinds: ordinary?.kinds ?? [],
    allow: (ordinary?.allow ?? []).map((a) => a.id),
    deny: (deny?.list ?? []).map((d) => d.id),
    emergencyAllowed: emergency !== undefined,
    ...(ordinary?.expiresAt !== undefined ? { expiresAt: ordinary.expiresAt } : {}),
  };
}

const sameIds = (a: readonly Listed[], b: readonly Listed[]): boolean => a.length === b.length && a.every((x) => b.some((y) => y.id === x.id));

function readOrdinary(p: ConsentProvision, path: string, problems: Problems): Ordinary {
  const what = 'the ordinary-access permit';
  onlyCriteria(p, ['actor', 'action', 'period', 'provision'], path, what, problems);
  readActions(p, path, problems);
  if (p.period?.start !== undefined) problems.add('not-supported', 'a policy cannot start later (only expire); a grant has its own window', `${path}.period.start`);
  const expiresAt = p.period?.end !== undefined ? readInstant(p.period.end, `${path}.period.end`, problems) : undefined;
  const kinds = readKinds(p, path, problems);

  let deny: Ordinary['deny'];
  let clearance: { level: SecurityLevel; path: string } | undefined;
  let allow: { list: Listed[]; clearance?: SecurityLevel } | undefined;
  for (const [i, child] of (p.provision ?? []).entries()) {
    const at = `${path}.provision[${i}]`;
    const shape = exceptionShape(child, at, problems);
    if (shape === 'deny-list') {
      if (deny) problems.add('not-supported', 'only one deny-list provision is expected', at);
      else deny = { list: readDenyList(child, at, problems), path: at };
    } else if (shape === 'clearance') {
      if (clearance) problems.add('not-supported', 'only one clearance provision is expected', at);
      else clearance = { level: readClearance(child, at, problems), path: at };
    } else if (shape === 'allow-list') {
      if (allow) problems.add('not-supported', 'only one allow-list provision is expected', at);
      else allow = readAllowList(child, at, problems);
    }
  }
  if (clearance && allow) {
    problems.add('not-supported', 'with an allow list, the clearance deny belongs under the allow-list permit, so that it binds the allowed participants too', clearance.path);
  }
  return {
    kinds,
    minClearance: allow?.clearance ?? clearance?.level ?? 'LOW',
    allow: allow?.list ?? [],
    ...(deny ? { deny } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

/** The allowed kinds: Group kind:<k> actors, or the single Group `none`. */
function readKinds(p: ConsentProvision, path: string, problems: Problems): ParticipantKind[] {
  const actors = readActors(p, path, problems);
  if (actors.length === 0 && !present(p.actor)) {
    problems.add('forbidden', 'an ordinary-access permit without actors would admit every participant; list the kinds (Group kind:<kind>) or Group none', `${path}.actor`);
  }
  if (actors.some((a) => isGroup(a) && a.group === 'none')) {
    if (actors.length > 1) problems.add('value', 'Group none (no kind may read) must be the only actor', `${path}.actor`);
    return [];
  }
  const kinds: ParticipantKind[] = [];
  for (const a of actors) {
    const kind = isGroup(a) && a.group.startsWith('kind:') ? a.group.slice(5) : undefined;
    if (kind === undefined) {
      problems.add('not-supported', 'ordinary access is given to kinds of participants (Group kind:<kind>); individuals are admitted by grants or singled out with an allow list', a.path);
    } else if (!(PARTICIPANT_KINDS as readonly string[]).includes(kind)) {
      problems.add('code-invalid', `unknown participant kind ${kind}; kinds are ${DEFAULT_READER_KINDS.join(', ')}`, a.path);
    } else if (!DEFAULT_READER_KINDS.includes(kind as ParticipantKind)) {
      problems.add('forbidden', policyWidenings({ ...DEFAULT_POLICY, allowedKinds: [kind as ParticipantKind] })[0]!, a.path);
    } else if (kinds.includes(kind as ParticipantKind)) {
      problems.add('value', `kind ${kind} is listed twice`, a.path);
    } else {
      kinds.push(kind as ParticipantKind);
    }
  }
  return kinds;
}

type ExceptionShape = 'deny-list' | 'clearance' | 'allow-list' | undefined;

/** Which exception of the ordinary-access permit a nested provision is, by its type and actors. */
function exceptionShape(p: ConsentProvision, path: string, problems: Problems): ExceptionShape {
  const groups = (p.actor ?? []).map((a) => (a.reference?.identifier?.system === PARTICIPANT_GROUP_SYSTEM ? a.reference.identifier.value : undefined));
  const understood = 'within ordinary access PIE understands three deny exceptions: a deny list (participants), a minimum clearance (Group clearance:<level>) and an allow list (Group any, with a nested permit)';
  if (p.type !== 'deny' || groups.length === 0) return problems.add('not-supported', understood, path);
  if (groups.every((g) => g === undefined)) return 'deny-list';
  if (groups.every((g) => g?.startsWith('clearance:'))) return 'clearance';
  if (groups.length === 1 && groups[0] === 'any') return 'allow-list';
  return problems.add('not-supported', understood, `${path}.actor`);
}

function readDenyList(p: ConsentProvision, path: string, problems: Problems): Listed[] {
  onlyCriteria(p, ['actor'], path, 'a deny-list provision', problems);
  return participantList(readActors(p, path, problems), problems);
}

/** Denied clearances must be exactly those below a minimum: {LOW} → MODERATE, {LOW, MODERATE} → PRIVATE. */
function readClearance(p: ConsentProvision, path: string, problems: Problems): SecurityLevel {
  onlyCriteria(p, ['actor'], path, 'a clearance provision', problems);
  const levels = new Set(readActors(p, path, problems).filter(isGroup).map((a) => a.group.slice('clearance:'.length)));
  const min = SECURITY_LEVELS.find((l) => !levels.has(l));
  const expected = min === undefined ? [] : SECURITY_LEVELS.slice(0, levelRank(min));
  if (min === undefined || min === 'LOW' || levels.size !== expected.length) {
    problems.add('not-supported', 'a policy sets a minimum clearance: deny Group clearance:LOW (minimum MODERATE), or clearance:LOW and clearance:MODERATE (minimum PRIVATE)', `${path}.actor`);
    return 'LOW';
  }
  return min;
}

function readAllowList(p: ConsentProvision, path: string, problems: Problems): { list: Listed[]; clearance?: SecurityLevel } {
  onlyCriteria(p, ['actor', 'provision'], path, 'the allow-list provision', problems);
  readActors(p, path, problems); // roles
  const permits = p.provision ?? [];
  const permit = permits[0];
  const at = `${path}.provision[0]`;
  if (permits.length !== 1 || permit?.type !== 'permit') {
    problems.add('not-supported', 'the allow-list deny (Group any) holds exactly one permit of the allowed participants', `${path}.provision`);
    return { list: [] };
  }
  onlyCriteria(permit, ['actor', 'provision'], at, 'the allow-list permit', problems);
  const actors = readActors(permit, at, problems);
  if (actors.length === 0) problems.add('required', 'the allow list needs at least one participant', `${at}.actor`);
  actors.filter(isGroup).forEach((a) => problems.add('not-supported', 'the allow list names participants, not groups', a.path));
  const list = participantList(actors, problems);
  const nested = permit.provision ?? [];
  let clearance: SecurityLevel | undefined;
  for (const [i, child] of nested.entries()) {
    const cat = `${at}.provision[${i}]`;
    if (i > 0 || exceptionShape(child, cat, problems) !== 'clearance') problems.add('not-supported', 'only the clearance deny may be nested in the allow-list permit', cat);
    else clearance = readClearance(child, cat, problems);
  }
  return { list, ...(clearance ? { clearance } : {}) };
}

function readEmergency(p: ConsentProvision, path: string, problems: Problems): Emergency {
  onlyCriteria(p, ['actor', 'action', 'purpose', 'provision'], path, 'the break-glass permit', problems);
  readActions(p, path, problems);
  (p.purpose ?? []).forEach((c, i) => {
    if (!hasCoding([c], BREAK_THE_GLASS) && !hasCoding([c], EMERGENCY_TREATMENT)) {
      problems.add('not-supported', 'the break-glass permit’s purposes are v3-ActReason BTG and ETREAT', `${path}.purpose[${i}]`);
    }
  });
  const actors = readActors(p, path, problems);
  if (actors.length === 0 && !present(p.actor)) {
    problems.add('forbidden', 'a break-glass permit without actors would let anybody break the glass; its actor is Group emergency-physician', `${path}.actor`);
  }
  for (const a of actors) {
    if (isGroup(a) && a.group === 'emergency-physician') continue;
    const wider = isGroup(a) && (a.group === 'any' || a.group.startsWith('kind:'));
    problems.add(wider ? 'forbidden' : 'not-supported', 'only physicians holding the emergency role may break the glass (Group emergency-physician)', a.path);
  }
  let deny: Emergency['deny'];
  for (const [i, child] of (p.provision ?? []).entries()) {
    const at = `${path}.provision[${i}]`;
    if (i > 0 || exceptionShape(child, at, problems) !== 'deny-list') problems.add('not-supported', 'only the deny list may be nested in the break-glass permit', at);
    else deny = { list: readDenyList(child, at, problems), path: at };
  }
  return { path, ...(deny ? { deny } : {}) };
}

// ---- grants ---------------------------------------------------------------------------------------------------------

export interface GrantProvisionOptions {
  /**
   * Why the grantee reads (v3-PurposeOfUse), when the caller knows it (the ledger keeps the request's purpose as
   * text, not on the grant). An emergency grant's purpose is always BTG + ETREAT.
   */
  readonly purpose?: readonly Coding[];
}

/**
 * A grant as a permit provision: the grantee may access the record from notBefore. A revoked grant's period ends at
 * the revocation (when that is before notAfter) and carries the revoked-at extension; the scheduled notAfter stays on
 * the ledger grant and in its AuditEvent.
 */
export function grantToProvision(grant: Grant, options: GrantProvisionOptions = {}): ConsentProvision {
  const purpose = grant.emergency ? [BREAK_THE_GLASS, EMERGENCY_TREATMENT] : [...(options.purpose ?? [])];
  return {
    extension: [
      { url: PIE_EXTENSIONS.ledgerGrant, valueIdentifier: { system: GRANT_SYSTEM, value: grant.id } },
      ...(grant.revokedAt !== undefined ? [{ url: PIE_EXTENSIONS.revokedAt, valueDateTime: grant.revokedAt }] : []),
    ],
    type: 'permit',
    period: { start: grant.notBefore, end: effectiveEnd(grant) },
    actor: [participantActor(grant.granteeId)],
    action: [ACCESS],
    ...(purpose.length > 0 ? { purpose } : {}),
    data: [{ meaning: 'instance', reference: recordReference(grant.emrId) }],
  };
}

/** notAfter, or the revocation when earlier (never before notBefore: a grant revoked before it starts has an empty window). */
function effectiveEnd(grant: Grant): string {
  if (grant.revokedAt === undefined || millis(grant.revokedAt) >= millis(grant.notAfter)) return grant.notAfter;
  return millis(grant.revokedAt) <= millis(grant.notBefore) ? grant.notBefore : grant.revokedAt;
}

export interface GrantConsentOptions extends GrantProvisionOptions {
  /** the record's patient (the ledger grant does not name it) */
  readonly patientId: string;
}

/** One grant as a Consent of its own (inactive once revoked): root deny, the grant's permit nested. */
export function grantToConsent(grant: Grant, options: GrantConsentOptions): Consent {
  const id = fhirId(grant.id);
  const patient = patientReference(options.patientId);
  return {
    resourceType: 'Consent',
    ...(id ? { id } : {}),
    identifier: [{ system: GRANT_SYSTEM, value: grant.id }],
    status: grant.revokedAt !== undefined ? 'inactive' : 'active',
    scope: { coding: [PATIENT_PRIVACY] },
    category: [{ coding: [PATIENT_CONSENT] }],
    patient,
    // the patient consented to an ordinary grant; a break-glass grant was taken without the patient
    ...(grant.emergency ? {} : { performer: [patient] }),
    policy: [{ uri: ACCESS_POLICY_URI }],
    provision: { type: 'deny', provision: [grantToProvision(grant, options)] },
  };
}

/** What a patient's permit provision asks the ledger to grant (the kfrags and threshold come from the client). */
export interface GrantWindow {
  readonly granteeId: string;
  readonly emrId: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

/**
 * The grant a patient's permit provision describes: one grantee, one record, a window of at most a year. Purposes
 * other than emergency ones are accepted and not kept (the ledger does not store a grant's purpose). Break-glass
 * and revocation are actions of their own and are refused here.
 */
export function provisionToGrantWindow(provision: ConsentProvision, path = 'Consent.provision'): GrantWindow {
  const problems = new Problems();
  if (provision.type !== 'permit') problems.add('value', 'a grant is a permit', `${path}.type`);
  onlyCriteria(provision, ['actor', 'action', 'period', 'purpose', 'data'], path, 'a grant', problems);
  readActions(provision, path, problems);
  (provision.extension ?? []).forEach((e, i) => {
    if (e.url === PIE_EXTENSIONS.revokedAt) problems.add('not-supported', 'a new grant cannot be revoked; revocation is its own action (RevokeGrant)', `${path}.extension[${i}]`);
  });
  (provision.purpose ?? []).forEach((c, i) => {
    if (hasCoding([c], BREAK_THE_GLASS) || hasCoding([c], EMERGENCY_TREATMENT)) {
      problems.add('forbidden', 'emergency access is taken by an emergency physician breaking the glass, not granted by the patient', `${path}.purpose[${i}]`);
    }
  });
  const actors = readActors(provision, path, problems);
  if (actors.length !== 1 || !isParticipant(actors[0]!)) problems.add('value', 'a grant has exactly one grantee, a participant', `${path}.actor`);
  const emrId = readRecordData(provision, path, problems);
  const window = readWindow(provision, path, problems);
  problems.throwIfAny('Consent provision');
  return { granteeId: (actors[0] as { participant: string }).participant, emrId: emrId!, ...window! };
}

function readWindow(p: ConsentProvision, path: string, problems: Problems): { notBefore: string; notAfter: string } | undefined {
  const notBefore = readInstant(p.period?.start, `${path}.period.start`, problems);
  const notAfter = readInstant(p.period?.end, `${path}.period.end`, problems);
  if (notBefore === undefined || notAfter === undefined) return undefined;
  const span = millis(notAfter) - millis(notBefore);
  if (span <= 0) return problems.add('invariant', 'the grant must end after it starts', `${path}.period.end`);
  if (span > GRANT_MAX_DURATION_MS) return problems.add('value', `a grant lasts at most ${GRANT_MAX_DURATION_MS / 86_400_000} days`, `${path}.period.end`);
  return { notBefore, notAfter };
}
