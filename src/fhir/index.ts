/**
 * The FHIR R4 adapter's public surface (src/fhir/README.md). Callers normally need only:
 * - `prepareFhirInput` / `prepareFhirInputOnPool`: FHIR input → validated EMR groups with labelled content, the
 *   ledger's Table 4 summary and the de-identified analytics summary;
 * - `ReferenceDirectory`: the Organizations / Practitioners conditional references resolve against;
 * - `FhirValidatorPool`: structural validation on worker threads (what a node uses);
 * - the views: ledger objects → DocumentReference, Consent, AuditEvent, Provenance, and Consent → policy.
 * The stages are exported too, for callers that need one of them alone (the REST facade validates single resources).
 */
export { prepareFhirInput, prepareFhirInputOnPool, FHIR_CONTENT_MEDIA_TYPE } from './prepare.js';
export type { PrepareOptions, PreparedEmr, PreparedInput } from './prepare.js';
export { parseFhirInput, parseFhirInputOnPool, DEFAULT_FHIR_INPUT_LIMITS, INGEST_BUNDLE_TYPES } from './input.js';
export type { AttachmentInfo, BlobLink, FhirInputLimits, IngestBundleType, ParseFhirInputOptions, ParsedFhirInput } from './input.js';
export { ReferenceDirectory, DIRECTORY_TYPES } from './directory.js';
export type { DirectoryResource, Resolution } from './directory.js';
export { validateFhirResource, validateFhirResources, validateFhirResourcesOnPool } from './validate.js';
export { FhirValidatorPool } from './validator-pool.js';
export type { ValidatorPoolOptions } from './validator-pool.js';
export { loadDefinitions } from './definitions.js';
export { classifyResource } from './classify.js';
export type { Classification, ClassifyContext } from './classify.js';
export { withSecurityLabels } from './labels.js';
export { groupResources } from './group.js';
export type { EmrGroup, ExternalReference, Partition } from './group.js';
export { summariseGroup, toRecordSummary, ageBandAt } from './summary.js';
export type { EmrSummary, SummaryOptions } from './summary.js';
export { sensitivityOf, SENSITIVITY_CODES } from './sensitivity.js';
export { FhirInputError, toOperationOutcome } from './outcome.js';
export type { FhirIssue } from './outcome.js';
export * from './types.js';
export * from './views/index.js';
