/** Bearer tokens for the PIE node: minting (client side, browser-safe) and verification (server side). */
export {
  AccessTokenVerifier,
  AuthError,
  DEFAULT_CLOCK_SKEW_S,
  DEFAULT_TOKEN_LIFETIME_S,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_LIFETIME_S,
  TOKEN_ALG,
  mintAccessToken,
  parseBearer,
  type AccessTokenVerifierOptions,
  type AuthErrorReason,
  type MintAccessTokenOptions,
  type VerifiedToken,
} from './tokens.js';
export { DEFAULT_REPLAY_CACHE_MAX_ENTRIES, ReplayCache, type ReplayCacheOptions } from './replay-cache.js';
