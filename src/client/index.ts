/** The PIE client SDK (Node and browsers): the transport with per-request tokens, and createEmr signed in the client; the sharing workflows arrive with issue 7. */
export { PieClient, PieApiError } from './client.js';
export type { BlobMetadata, CreatedEmr, CreateEmrRequest, Credentials } from './client.js';
