/**
 * The R4 rules PIE checks itself because medplum's validator does not (see validate.ts): the required value-set
 * bindings of status-like codes, and the target types of the common reference elements. own-checks.ts applies them,
 * and finds the Attachment elements (input.ts checks and lists attachments).
 */

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
// Attachments

/**
 * The R4 resource elements of type Attachment that are not choice types (choice types all end in `Attachment`:
 * valueAttachment, contentAttachment, …). Attachments inside the data types RelatedArtifact.document and
 * ProdCharacteristic.image (knowledge and product definitions) are not tracked.
 */
export const ATTACHMENT_ELEMENTS: ReadonlySet<string> = new Set([
  'BodyStructure.image',
  'ClaimResponse.form',
  'DiagnosticReport.presentedForm',
  'DocumentReference.content.attachment',
  'ExplanationOfBenefit.form',
  'HealthcareService.photo',
  'Library.content',
  'Media.content',
  'Patient.photo',
  'Person.photo',
  'Practitioner.photo',
  'RelatedPerson.photo',
  'SubstanceNucleicAcid.subunit.sequenceAttachment',
  'SubstancePolymer.repeat.repeatUnit.structuralRepresentation.attachment',
  'SubstanceProtein.subunit.sequenceAttachment',
  'SubstanceSpecification.structure.representation.attachment',
]);

/** Whether the element path (not of a resource) is an Attachment: listed above, or a choice type `…[a-z]Attachment`. */
export function isAttachmentElement(element: string): boolean {
  return ATTACHMENT_ELEMENTS.has(element) || (element.endsWith('Attachment') && /[a-z]Attachment$/.test(element));
}
