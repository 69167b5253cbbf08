/**
 * Verifying bearer tokens (server side): compact JWS (RFC 7515) signed ES256K (RFC 8812) with the participant's own
 * secp256k1 signing key, checked against the signing key registered for the participant on the ledger. Everything
 * is parsed and checked here; jose checks the signature.
 */
import { compactVerify, errors as joseErrors, importJWK, type KeyLike } from 'jose';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { AuthError } from './errors.js';
import { DEFAULT_CLOCK_SKEW_S, JTI, MAX_TOKEN_LENGTH, MAX_TOKEN_LIFETIME_S, PARTICIPANT_ID, TOKEN_ALG, base64urlDecode, base64urlEncode } from './jws.js';
import { ReplayCache } from './replay-cache.js';

const COMPRESSED_KEY_HEX = /^0[23][0-9a-fA-F]{64}$/;
/** Header parameters that would let the token choose its own key or change how it must be processed. */
const FORBIDDEN_HEADER_PARAMS = ['crit', 'jwk', 'jku', 'x5u', 'x5c', 'b64'] as const;

// ---------------------------------------------------------------------------------------------------------------
// Parsing an Authorization header

/**
 * The token of `Authorization: Bearer <token>`; undefined when there is no header. A header that is present but not
 * exactly "Bearer" (any case), one space and a non-empty token is refused (MALFORMED).
 */
export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([^\s]+)$/i.exec(header);
  if (!match) throw new AuthError('MALFORMED', 'Authorization header must be "Bearer <token>"');
  return match[1];
}

// ---------------------------------------------------------------------------------------------------------------
// Verification (server side)

export interface VerifiedToken {
  participantId: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface AccessTokenVerifierOptions {
  /** this node's audience: tokens must name it in `aud` */
  audience: string;
  /**
   * The participant's registered signing key: 33-byte compressed secp256k1, hex. Undefined for an unknown participant
   * (return undefined for a suspended one too). Rejections propagate unchanged (e.g. ledger unavailable).
   */
  resolveSigningKey: (participantId: string) => Promise<string | undefined>;
  /** default: a new in-memory ReplayCache */
  replayCache?: ReplayCache;
  /** ms since the epoch; default Date.now */
  now?: () => number;
  /** default DEFAULT_CLOCK_SKEW_S */
  clockSkewSeconds?: number;
  /** default MAX_TOKEN_LIFETIME_S */
  maxLifetimeSeconds?: number;
  /**
   * ms since the epoch. Tokens issued before it (minus the skew) are refused: pass the node's start time so that a
   * restart, which empties the in-memory replay cache, cannot be used to replay a token.
   */
  notIssuedBefore?: number;
}

interface Claims {
  sub: string;
  aud: string | string[];
  iat: number;
  exp: number;
  nbf: number | undefined;
  jti: string;
}

interface ParsedToken {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signature: Uint8Array;
}

const KEY_CACHE_SIZE = 1024;
const HALF_ORDER = secp256k1.Point.Fn.ORDER >> 1n;

export class AccessTokenVerifier {
  readonly #audience: string;
  readonly #resolveSigningKey: (participantId: string) => Promise<string | undefined>;
  readonly #replayCache: ReplayCache;
  readonly #now: () => number;
  readonly #skewS: number;
  readonly #maxLifetimeS: number;
  readonly #notIssuedBeforeMs: number | undefined;
  /** compressed key hex (lower case) → imported key; insertion order is recency (LRU) */
  readonly #keys = new Map<string, KeyLike>();

  constructor(options: AccessTokenVerifierOptions) {
    if (typeof options.audience !== 'string' || options.audience.length === 0) {
      throw new TypeError('AccessTokenVerifier: audience must be a non-empty string');
    }
    if (typeof options.resolveSigningKey !== 'function') throw new TypeError('AccessTokenVerifier: resolveSigningKey is required');
    this.#audience = options.audience;
    this.#resolveSigningKey = options.resolveSigningKey;
    this.#replayCache = options.replayCache ?? new ReplayCache();
    this.#now = options.now ?? Date.now;
    this.#skewS = nonNegativeInteger(options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_S, 'clockSkewSeconds');
    this.#maxLifetimeS = nonNegativeInteger(options.maxLifetimeSeconds ?? MAX_TOKEN_LIFETIME_S, 'maxLifetimeSeconds');
    if (this.#maxLifetimeS === 0) throw new RangeError('AccessTokenVerifier: maxLifetimeSeconds must be at least 1');
    if (options.notIssuedBefore !== undefined && !Number.isFinite(options.notIssuedBefore)) {
      throw new RangeError('AccessTokenVerifier: notIssuedBefore must be a finite number of ms');
    }
    this.#notIssuedBeforeMs = options.notIssuedBefore;
  }

  /** The verified token; throws AuthError (with its reason) for any refusal. */
  async verify(token: string): Promise<VerifiedToken> {
    const nowMs = this.#now();
    const parsed = parseCompact(token);
    checkHeader(parsed.header);
    const claims = readClaims(parsed.claims);
    this.#checkAudience(claims);
    this.#checkTimes(claims, nowMs);
    const key = await this.#signingKey(claims.sub);
    await checkSignature(token, parsed.signature, key, claims.sub);
    // Only now, with the signature verified: a forged token must not be able to claim a jti in the cache.
    const expiresAtMs = (claims.exp + this.#skewS) * 1000;
    if (!this.#replayCache.checkAndRemember(`${claims.sub}:${claims.jti}`, expiresAtMs, nowMs)) {
      throw new AuthError('REPLAYED', `token ${claims.jti} of participant ${claims.sub} was already used`);
    }
    return {
      participantId: claims.sub,
      jti: claims.jti,
      issuedAt: new Date(claims.iat * 1000),
      expiresAt: new Date(claims.exp * 1000),
    };
  }

  #checkAudience(claims: Claims): void {
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
    if (!audiences.includes(this.#audience)) {
      throw new AuthError('WRONG_AUDIENCE', `token is not addressed to this node (expected audience ${JSON.stringify(this.#audience)})`);
    }
  }

  #checkTimes(claims: Claims, nowMs: number): void {
    const skewMs = this.#skewS * 1000;
    const at = (seconds: number): string => new Date(seconds * 1000).toISOString();
    const now = new Date(nowMs).toISOString();
    if (claims.exp * 1000 + skewMs < nowMs) {
      throw new AuthError('EXPIRED', `token expired at ${at(claims.exp)} (now ${now}, clock skew ${this.#skewS} s)`);
    }
    if (claims.iat * 1000 - skewMs > nowMs) {
      throw new AuthError('NOT_YET_VALID', `token issued in the future at ${at(claims.iat)} (now ${now}, clock skew ${this.#skewS} s)`);
    }
    if (claims.nbf !== undefined && claims.nbf * 1000 - skewMs > nowMs) {
      throw new AuthError('NOT_YET_VALID', `token not valid before ${at(claims.nbf)} (now ${now}, clock skew ${this.#skewS} s)`);
    }
    if (claims.exp - claims.iat > this.#maxLifetimeS) {
      throw new AuthError('LIFETIME_TOO_LONG', `token lifetime ${claims.exp - claims.iat} s exceeds ${this.#maxLifetimeS} s`);
    }
    if (this.#notIssuedBeforeMs !== undefined && claims.iat * 1000 < this.#notIssuedBeforeMs - skewMs) {
      throw new AuthError(
        'ISSUED_BEFORE_START',
        `token issued at ${at(claims.iat)}, before ${new Date(this.#notIssuedBeforeMs).toISOString()} (node start); mint a new one`,
      );
    }
  }

  async #signingKey(participantId: string): Promise<KeyLike> {
    const hex = await this.#resolveSigningKey(participantId);
    if (hex === undefined) throw new AuthError('UNKNOWN_PARTICIPANT', `participant ${participantId} is not registered`);
    if (typeof hex !== 'string' || !COMPRESSED_KEY_HEX.test(hex)) {
      // A server-side fault (the ledger validates keys), not the client's: a plain Error.
      throw new Error(`AccessTokenVerifier: the registered signing key of participant ${participantId} is not a compressed secp256k1 point`);
    }
    const cacheKey = hex.toLowerCase();
    const cached = this.#keys.get(cacheKey);
    if (cached) {
      this.#keys.delete(cacheKey);
      this.#keys.set(cacheKey, cached);
      return cached;
    }
    const key = await importCompressedKey(cacheKey, participantId);
    if (this.#keys.size >= KEY_CACHE_SIZE) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(cacheKey, key);
    return key;
  }
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`AccessTokenVerifier: ${name} must be a non-negative integer, got ${value}`);
  return value;
}

/** Three base64url segments; header and payload JSON objects. */
function parseCompact(token: string): ParsedToken {
  if (typeof token !== 'string') throw new AuthError('MALFORMED', 'token must be a string');
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('MALFORMED', `token is longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('MALFORMED', `token must have 3 dot-separated parts, got ${parts.length}`);
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const signature = base64urlDecode(signaturePart);
  if (!signature) throw new AuthError('MALFORMED', 'token signature is not base64url');
  return { header: decodeJsonObject(headerPart, 'header'), claims: decodeJsonObject(payloadPart, 'payload'), signature };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJsonObject(part: string, what: string): Record<string, unknown> {
  const bytes = base64urlDecode(part);
  if (!bytes) throw new AuthError('MALFORMED', `token ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    // No cause: V8's JSON.parse messages quote the input.
    throw new AuthError('MALFORMED', `token ${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('MALFORMED', `token ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function checkHeader(header: Record<string, unknown>): void {
  if (header.alg !== TOKEN_ALG) throw new AuthError('BAD_HEADER', `alg must be ${TOKEN_ALG}, got ${describe(header.alg)}`);
  if (header.typ !== 'JWT') throw new AuthError('BAD_HEADER', `typ must be JWT, got ${describe(header.typ)}`);
  for (const param of FORBIDDEN_HEADER_PARAMS) {
    if (Object.hasOwn(header, param)) throw new AuthError('BAD_HEADER', `header parameter "${param}" is not allowed`);
  }
}

function readClaims(payload: Record<string, unknown>): Claims {
  const { sub, aud, iat, exp, nbf, jti } = payload;
  const bad = (message: string): AuthError => new AuthError('BAD_CLAIMS', message);
  if (typeof sub !== 'string' || !PARTICIPANT_ID.test(sub)) throw bad('sub must be a participant id (32 lower-case hex characters)');
  const audOk = typeof aud === 'string' || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string'));
  if (!audOk) throw bad('aud must be a string or a non-empty array of strings');
  if (!isTimestamp(iat)) throw bad('iat must be a non-negative integer (seconds)');
  if (!isTimestamp(exp)) throw bad('exp must be a non-negative integer (seconds)');
  if (exp <= iat) throw bad('exp must be after iat');
  if (nbf !== undefined && !isTimestamp(nbf)) throw bad('nbf, when present, must be a non-negative integer (seconds)');
  if (typeof jti !== 'string' || !JTI.test(jti)) throw bad('jti must be 16..128 characters of [A-Za-z0-9_-]');
  return { sub, aud: aud as string | string[], iat, exp, nbf, jti };
}

const isTimestamp = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A short description of an untrusted header value for an error message. */
function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v);
  return v === undefined ? 'none' : typeof v;
}

async function importCompressedKey(hex: string, participantId: string): Promise<KeyLike> {
  let uncompressed: Uint8Array;
  try {
    uncompressed = secp256k1.Point.fromHex(hex).toBytes(false);
  } catch (e) {
    throw new Error(`AccessTokenVerifier: the registered signing key of participant ${participantId} is not on secp256k1`, { cause: e });
  }
  const jwk = {
    kty: 'EC',
    crv: 'secp256k1',
    x: base64urlEncode(uncompressed.subarray(1, 33)),
    y: base64urlEncode(uncompressed.subarray(33, 65)),
  };
  return (await importJWK(jwk, TOKEN_ALG)) as KeyLike;
}

/**
 * ECDSA verification by jose, plus what jose (OpenSSL) does not check: the signature must be low-S. Our signer
 * always produces low-S, and refusing (r, n − s) means a token has exactly one valid string form.
 */
async function checkSignature(token: string, signature: Uint8Array, key: KeyLike, participantId: string): Promise<void> {
  if (signature.length !== 64) throw new AuthError('BAD_SIGNATURE', `signature must be 64 bytes (r ‖ s), got ${signature.length}`);
  const s = bytesToBigint(signature.subarray(32));
  if (s > HALF_ORDER) throw new AuthError('BAD_SIGNATURE', 'signature is not in low-S form');
  try {
    await compactVerify(token, key, { algorithms: [TOKEN_ALG] });
  } catch (e) {
    if (e instanceof joseErrors.JOSEError) {
      throw new AuthError('BAD_SIGNATURE', `signature does not verify with the signing key of participant ${participantId}`, { cause: e });
    }
    throw e;
  }
}

function bytesToBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}
