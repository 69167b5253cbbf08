/** The PIE contract's domain: types, validation and rules as pure functions (no Fabric runtime here). */
export * from './errors.js';
export { canonicalJson, canonicalRecordBytes, RECORD_SIGNING_DOMAIN, type RecordSigningContent } from './canonical.js';
export * from './levels.js';
export * from './participant.js';
export * from './policy.js';
export * from './record.js';
export * from './access.js';
export * from './request.js';
export * from './grant.js';
export * from './operation.js';
export * from './proxy.js';
export * from './credits.js';
export * from './indexes.js';
export * from './signature.js';
export * from './time.js';
export * from './action.js';
export * from './payloads.js';
export { isoTime, millis, ID_PATTERN } from './validate.js';
