/** The `pie` command groups, one module each. */
export * as account from './account.js';
export * as audit from './audit.js';
export * as keys from './keys.js';
export * as records from './records.js';
export * as sharing from './sharing.js';
