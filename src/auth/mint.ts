/**
 * Minting a bearer token (client side): only the Umbral Signer and plain code, no jose or node:crypto, so it runs in
 * browsers as well as Node.
 */
import { type SecretKey, Signer } from '../crypto/umbral/index.js';
import { DEFAULT_TOKEN_LIFETIME_S, JTI, MAX_TOKEN_LIFETIME_S, PARTICIPANT_ID, TOKEN_ALG, base64urlEncode, encodeJson, utf8 } from './jws.js';

export interface MintAccessTokenOptions {
  /** the participant's signing key (the private half of its ledger `signingKey`) */
  signingKey: SecretKey;
  /** 32 lower-case hex characters */
  participantId: string;
  /** the node's audience string (must equal the verifier's `audience`) */
  audience: string;
  /** 1..MAX_TOKEN_LIFETIME_S, default DEFAULT_TOKEN_LIFETIME_S */
  lifetimeSeconds?: number;
  now?: Date;
  /** default: 16 random bytes, hex */
  jti?: string;
}

/** A compact JWS `header.payload.signature` with claims sub, aud, iat, exp, jti. */
export function mintAccessToken(opts: MintAccessTokenOptions): string {
  const lifetime = opts.lifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_S;
  if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > MAX_TOKEN_LIFETIME_S) {
    throw new RangeError(`mintAccessToken: lifetimeSeconds must be an integer in 1..${MAX_TOKEN_LIFETIME_S}, got ${lifetime}`);
  }
  if (typeof opts.participantId !== 'string' || !PARTICIPANT_ID.test(opts.participantId)) {
    throw new TypeError('mintAccessToken: participantId must be 32 lower-case hex characters');
  }
  if (typeof opts.audience !== 'string' || opts.audience.length === 0) {
    throw new TypeError('mintAccessToken: audience must be a non-empty string');
  }
  const nowMs = (opts.now ?? new Date()).getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError('mintAccessToken: now is an invalid Date');
  const jti = opts.jti ?? randomJti();
  if (typeof jti !== 'string' || !JTI.test(jti)) {
    throw new TypeError('mintAccessToken: jti must be 16..128 characters of [A-Za-z0-9_-]');
  }

  const iat = Math.floor(nowMs / 1000);
  const header = { alg: TOKEN_ALG, typ: 'JWT' };
  const claims = { sub: opts.participantId, aud: opts.audience, iat, exp: iat + lifetime, jti };
  const signingInput = `${encodeJson(header)}.${encodeJson(claims)}`;
  // Umbral's Signer: ECDSA over SHA-256, RFC 6979, low-S; r ‖ s is exactly the JWS ES256K signature encoding.
  const signature = new Signer(opts.signingKey).sign(utf8.encode(signingInput)).toBEBytes();
  return `${signingInput}.${base64urlEncode(signature)}`;
}

function randomJti(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
