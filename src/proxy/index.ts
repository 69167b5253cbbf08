/** This node's re-encryption proxies: their keys (sealed at rest), their ledger registration and the release rule. */
export { ProxyService, type KnownLedgerObjects, type ProxyServiceOptions, type ReleasedCFrag } from './proxy-service.js';
export { ProxyKeyStore, MAX_LOCAL_PROXIES, type ProxyInfo } from './proxy-keys.js';
export { registerProxies } from './registration.js';
