/**
 * Bearer tokens for the PIE node. Clients import `mint.js` alone (browser-safe: no jose, no node:crypto); the node
 * verifies with `verify.js`.
 */
export { AuthError, type AuthErrorReason } from './errors.js';
export { DEFAULT_CLOCK_SKEW_S, DEFAULT_TOKEN_LIFETIME_S, MAX_TOKEN_LENGTH, MAX_TOKEN_LIFETIME_S, TOKEN_ALG } from './jws.js';
export { mintAccessToken, type MintAccessTokenOptions } from './mint.js';
export { AccessTokenVerifier, parseBearer, type AccessTokenVerifierOptions, type VerifiedToken } from './verify.js';
export { DEFAULT_REPLAY_CACHE_MAX_ENTRIES, ReplayCache, type ReplayCacheOptions } from './replay-cache.js';
