/** The node's custodial key store for institutional accounts (see custody-store.ts). */
export { CustodyStore, CustodyError, type CustodyErrorCode, type CustodialKeys, type CustodialAccount } from './custody-store.js';
