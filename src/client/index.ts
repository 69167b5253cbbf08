/** The PIE client SDK (Node and browsers): the transport with per-request tokens; workflows arrive with issue 7. */
export { PieClient, PieApiError } from './client.js';
export type { BlobMetadata, Credentials } from './client.js';
