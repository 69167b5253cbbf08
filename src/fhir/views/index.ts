/**
 * FHIR R4 views of ledger data: pure, deterministic mappings from the PIE contract's objects (records, policies,
 * grants, operation records, transactions) to FHIR resources, and from a patient's Consent back to a policy or a
 * grant window. No I/O: the GraphQL API and the FHIR REST facade fetch from the ledger and call these.
 */
export * from './document-reference.js';
export * from './consent.js';
export * from './audit-event.js';
export * from './audit-events.js';
export * from './provenance.js';
