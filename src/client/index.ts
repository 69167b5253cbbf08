/** The PIE client SDK (Node and browsers): the transport with per-request tokens and createEmr signed in the client; PieParticipant, the sharing workflows of docs/sharing.md for a participant holding its own keys; sharing events. */
export { PieClient, PieApiError } from './client.js';
export type { BlobMetadata, CreatedEmr, CreateEmrRequest, Credentials } from './client.js';
export { PieParticipant } from './participant.js';
export type { OpenedEmr, OpenOptions, ParticipantKeys, RecordFilter, RotatedEmr } from './participant.js';
export { PieInputError, PieIntegrityError } from './errors.js';
export { signActionWith } from './sign.js';
export type { SignedActionParts } from './sign.js';
export type { GrantOptions } from './delegation.js';
export type * from './types.js';
export { subscribeSharingEvents, sharingEventsUrl, SHARING_EVENTS_SUBSCRIPTION, type SharingEvent, type SharingEventStream, type SubscribeSharingEventsOptions, type TokenFactory } from './events.js';
