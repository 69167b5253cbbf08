import { compactVerify, importJWK, jwtVerify, type KeyLike, SignJWT } from 'jose';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { SecretKey, Signer } from '../../src/crypto/umbral/index.js';
import {
  AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  AuthError,
  type AuthErrorReason,
  DEFAULT_CLOCK_SKEW_S,
  MAX_TOKEN_LIFETIME_S,
  ReplayCache,
  TOKEN_ALG,
  mintAccessToken,
  parseBearer,
} from '../../src/auth/index.js';

const AUDIENCE = 'pie-node-test';
const ALICE = 'a'.repeat(32);
const BOB = 'b'.repeat(32);
const NOW_MS = Date.UTC(2025, 0, 1, 12, 0, 0);
const NOW_S = NOW_MS / 1000;
const N = secp256k1.Point.Fn.ORDER;

const aliceKey = SecretKey.random();
const bobKey = SecretKey.random();
const pubHex = (sk: SecretKey): string => Buffer.from(sk.publicKey().toCompressedBytes()).toString('hex');
const REGISTRY = new Map([
  [ALICE, pubHex(aliceKey)],
  [BOB, pubHex(bobKey)],
]);

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const b64json = (value: unknown): string => b64(Buffer.from(JSON.stringify(value)));

let jtiCounter = 0;
const freshJti = (): string => `test-jti-${String(++jtiCounter).padStart(8, '0')}`;

function verifier(overrides: Partial<AccessTokenVerifierOptions> = {}): AccessTokenVerifier {
  return new AccessTokenVerifier({
    audience: AUDIENCE,
    resolveSigningKey: async (id) => REGISTRY.get(id),
    now: () => NOW_MS,
    ...overrides,
  });
}

function mint(overrides: Partial<Parameters<typeof mintAccessToken>[0]> = {}): string {
  return mintAccessToken({
    signingKey: aliceKey,
    participantId: ALICE,
    audience: AUDIENCE,
    now: new Date(NOW_MS),
    jti: freshJti(),
    ...overrides,
  });
}

const validHeader = { alg: 'ES256K', typ: 'JWT' };
const validClaims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub: ALICE,
  aud: AUDIENCE,
  iat: NOW_S,
  exp: NOW_S + 300,
  jti: freshJti(),
  ...overrides,
});

/** Signs arbitrary header and claims with `key` (the right key by default), to reach checks past the signature's. */
function craft(header: Record<string, unknown>, claims: Record<string, unknown>, key: SecretKey = aliceKey): string {
  const input = `${b64json(header)}.${b64json(claims)}`;
  const signature = new Signer(key).sign(new TextEncoder().encode(input)).toBEBytes();
  return `${input}.${b64(signature)}`;
}

async function refusal(promise: Promise<unknown>): Promise<AuthError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof AuthError) return e;
    throw e;
  }
  throw new Error('expected an AuthError, but verification succeeded');
}

async function expectRefused(token: string, reason: AuthErrorReason, v = verifier()): Promise<AuthError> {
  const error = await refusal(v.verify(token));
  expect(error.reason).toBe(reason);
  expect(error.code).toBe('UNAUTHENTICATED');
  // Never the token, nor any part of it that is not a short claim value.
  for (const part of token.split('.')) if (part.length > 16) expect(error.message).not.toContain(part);
  expect(error.message).not.toContain(REGISTRY.get(ALICE)!);
  return error;
}

async function alicePublicJwk(): Promise<KeyLike> {
  const point = secp256k1.Point.fromHex(REGISTRY.get(ALICE)!).toBytes(false);
  return (await importJWK({ kty: 'EC', crv: 'secp256k1', x: b64(point.subarray(1, 33)), y: b64(point.subarray(33)) }, 'ES256K')) as KeyLike;
}

describe('mintAccessToken', () => {
  test('produces the fixed header and the expected claims', () => {
    const token = mint({ jti: '0123456789abcdef0123', lifetimeSeconds: 120 });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(Buffer.from(header, 'base64url').toString()).toBe('{"alg":"ES256K","typ":"JWT"}');
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toEqual({
      sub: ALICE,
      aud: AUDIENCE,
      iat: NOW_S,
      exp: NOW_S + 120,
      jti: '0123456789abcdef0123',
    });
    expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
    expect(token).not.toMatch(/[+/=]/);
  });

  test('defaults: 300 s lifetime, 16 random bytes of hex as jti', () => {
    const a = JSON.parse(Buffer.from(mint({ jti: undefined }).split('.')[1]!, 'base64url').toString());
    const b = JSON.parse(Buffer.from(mint({ jti: undefined }).split('.')[1]!, 'base64url').toString());
    expect(a.exp - a.iat).toBe(300);
    expect(a.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(a.jti).not.toBe(b.jti);
  });

  test('floors iat to whole seconds', () => {
    const claims = JSON.parse(Buffer.from(mint({ now: new Date(NOW_MS + 999) }).split('.')[1]!, 'base64url').toString());
    expect(claims.iat).toBe(NOW_S);
  });

  test('validates its inputs', () => {
    expect(() => mint({ lifetimeSeconds: 0 })).toThrow(/lifetimeSeconds/);
    expect(() => mint({ lifetimeSeconds: MAX_TOKEN_LIFETIME_S + 1 })).toThrow(/lifetimeSeconds/);
    expect(() => mint({ lifetimeSeconds: 1.5 })).toThrow(/lifetimeSeconds/);
    expect(() => mint({ participantId: 'A'.repeat(32) })).toThrow(/participantId/);
    expect(() => mint({ participantId: 'abc' })).toThrow(/participantId/);
    expect(() => mint({ audience: '' })).toThrow(/audience/);
    expect(() => mint({ jti: 'short' })).toThrow(/jti/);
    expect(() => mint({ jti: 'has spaces in it, sadly' })).toThrow(/jti/);
    expect(() => mint({ now: new Date(NaN) })).toThrow(/now/);
    expect(() => mint({ signingKey: {} as SecretKey })).toThrow();
    expect(mint({ lifetimeSeconds: 1 })).toBeTruthy();
    expect(mint({ lifetimeSeconds: MAX_TOKEN_LIFETIME_S })).toBeTruthy();
  });

  test('is verified by jose directly (cross-check of the ES256K encoding)', async () => {
    const token = mint();
    const { payload, protectedHeader } = await jwtVerify(token, await alicePublicJwk(), {
      algorithms: [TOKEN_ALG],
      audience: AUDIENCE,
      currentDate: new Date(NOW_MS),
    });
    expect(protectedHeader).toEqual({ alg: 'ES256K', typ: 'JWT' });
    expect(payload.sub).toBe(ALICE);
  });
});

describe('AccessTokenVerifier', () => {
  test('round trip', async () => {
    const token = mint({ jti: 'round-trip-jti-0001', lifetimeSeconds: 60 });
    await expect(verifier().verify(token)).resolves.toEqual({
      participantId: ALICE,
      jti: 'round-trip-jti-0001',
      issuedAt: new Date(NOW_MS),
      expiresAt: new Date(NOW_MS + 60_000),
    });
  });

  test('accepts aud as an array containing the audience, and a key registered in upper-case hex', async () => {
    const token = craft(validHeader, validClaims({ aud: ['other', AUDIENCE] }));
    const upper = verifier({ resolveSigningKey: async (id) => REGISTRY.get(id)?.toUpperCase() });
    await expect(upper.verify(token)).resolves.toMatchObject({ participantId: ALICE });
  });

  describe('MALFORMED', () => {
    test.each([
      ['empty', ''],
      ['two parts', 'abc.def'],
      ['four parts', 'a.b.c.d'],
      ['padding', `${b64json(validHeader)}=.${b64json(validClaims())}.AAAA`],
      ['standard base64 characters', `${b64json(validHeader)}.${b64json(validClaims())}.ab+/`],
      ['non-canonical base64url', `${b64json(validHeader)}.${b64json(validClaims())}.AB`],
      ['header not JSON', `${b64(Buffer.from('not json'))}.${b64json(validClaims())}.AAAA`],
      ['header not UTF-8', `${b64(Uint8Array.of(0xff, 0xfe))}.${b64json(validClaims())}.AAAA`],
      ['header a JSON array', `${b64json(['ES256K'])}.${b64json(validClaims())}.AAAA`],
      ['payload null', `${b64json(validHeader)}.${b64json(null)}.AAAA`],
      ['oversized', `${b64json(validHeader)}.${b64json(validClaims({ pad: 'x'.repeat(4000) }))}.AAAA`],
    ])('%s', async (_name, token) => {
      await expectRefused(token, 'MALFORMED');
    });

    test('an oversized but otherwise valid signed token', async () => {
      await expectRefused(craft(validHeader, validClaims({ pad: 'x'.repeat(3200) })), 'MALFORMED');
    });
  });

  describe('BAD_HEADER', () => {
    test('alg none (unsigned)', async () => {
      await expectRefused(`${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(validClaims())}.`, 'BAD_HEADER');
    });

    test('HS256 keyed with the public key (algorithm confusion)', async () => {
      const token = await new SignJWT(validClaims())
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(REGISTRY.get(ALICE)!));
      await expectRefused(token, 'BAD_HEADER');
    });

    test.each([
      ['ES256 alg', { alg: 'ES256', typ: 'JWT' }],
      ['missing typ', { alg: 'ES256K' }],
      ['other typ', { alg: 'ES256K', typ: 'at+jwt' }],
      ['crit', { ...validHeader, crit: ['exp'] }],
      ['embedded jwk', { ...validHeader, jwk: { kty: 'EC', crv: 'secp256k1', x: 'AA', y: 'AA' } }],
      ['jku', { ...validHeader, jku: 'https://attacker.example/keys' }],
      ['x5u', { ...validHeader, x5u: 'https://attacker.example/cert' }],
      ['x5c', { ...validHeader, x5c: ['AAAA'] }],
    ])('%s (signed with the right key)', async (_name, header) => {
      await expectRefused(craft(header, validClaims()), 'BAD_HEADER');
    });
  });

  describe('BAD_CLAIMS', () => {
    test.each([
      ['sub missing', { sub: undefined }],
      ['sub upper-case hex', { sub: ALICE.toUpperCase() }],
      ['sub too short', { sub: 'abc' }],
      ['aud missing', { aud: undefined }],
      ['aud a number', { aud: 7 }],
      ['aud an array with a non-string', { aud: [AUDIENCE, 7] }],
      ['aud an empty array', { aud: [] }],
      ['iat missing', { iat: undefined }],
      ['iat fractional', { iat: NOW_S + 0.5 }],
      ['iat a string', { iat: String(NOW_S) }],
      ['exp missing', { exp: undefined }],
      ['exp not after iat', { exp: NOW_S }],
      ['jti missing', { jti: undefined }],
      ['jti too short', { jti: 'abc' }],
      ['jti too long', { jti: 'x'.repeat(129) }],
      ['jti with a dot', { jti: 'abcdefgh.ijklmnop' }],
      ['nbf fractional', { nbf: NOW_S + 0.5 }],
    ])('%s', async (_name, overrides) => {
      await expectRefused(craft(validHeader, validClaims(overrides)), 'BAD_CLAIMS');
    });
  });

  test('WRONG_AUDIENCE', async () => {
    await expectRefused(mint({ audience: 'another-node' }), 'WRONG_AUDIENCE');
    await expectRefused(craft(validHeader, validClaims({ aud: ['another-node', 'third'] })), 'WRONG_AUDIENCE');
  });

  describe('time checks and clock skew edges', () => {
    const skewMs = DEFAULT_CLOCK_SKEW_S * 1000;
    const at = (ms: number): AccessTokenVerifier => verifier({ now: () => ms });
    const exp = NOW_S + 300;

    test('exp + skew is the last accepted instant', async () => {
      await expect(at(exp * 1000 + skewMs).verify(mint())).resolves.toBeDefined();
      await expectRefused(mint(), 'EXPIRED', at(exp * 1000 + skewMs + 1));
    });

    test('iat − skew is the first accepted instant', async () => {
      await expect(at(NOW_MS - skewMs).verify(mint())).resolves.toBeDefined();
      await expectRefused(mint(), 'NOT_YET_VALID', at(NOW_MS - skewMs - 1));
    });

    test('a future nbf is honoured', async () => {
      const token = craft(validHeader, validClaims({ nbf: NOW_S + 60 }));
      await expectRefused(token, 'NOT_YET_VALID');
      await expect(at(NOW_MS + 30_000).verify(token)).resolves.toBeDefined();
    });

    test('a zero skew is exact', async () => {
      const strict = (ms: number): AccessTokenVerifier => verifier({ now: () => ms, clockSkewSeconds: 0 });
      await expect(strict(exp * 1000).verify(mint())).resolves.toBeDefined();
      await expectRefused(mint(), 'EXPIRED', strict(exp * 1000 + 1));
      await expectRefused(mint(), 'NOT_YET_VALID', strict(NOW_MS - 1));
    });

    test('LIFETIME_TOO_LONG', async () => {
      await expectRefused(craft(validHeader, validClaims({ exp: NOW_S + MAX_TOKEN_LIFETIME_S + 1 })), 'LIFETIME_TOO_LONG');
      await expect(verifier().verify(craft(validHeader, validClaims({ exp: NOW_S + MAX_TOKEN_LIFETIME_S })))).resolves.toBeDefined();
      await expectRefused(mint({ lifetimeSeconds: 120 }), 'LIFETIME_TOO_LONG', verifier({ maxLifetimeSeconds: 60 }));
    });

    test('ISSUED_BEFORE_START (notIssuedBefore, with the skew)', async () => {
      const startedAt = NOW_MS + 10_000;
      const v = (now: number): AccessTokenVerifier => verifier({ now: () => now, notIssuedBefore: startedAt });
      const before = mint({ now: new Date(startedAt - skewMs - 1000) });
      await expectRefused(before, 'ISSUED_BEFORE_START', v(startedAt + 5000));
      const withinSkew = mint({ now: new Date(startedAt - skewMs) });
      await expect(v(startedAt + 5000).verify(withinSkew)).resolves.toBeDefined();
      const after = mint({ now: new Date(startedAt + 1000) });
      await expect(v(startedAt + 5000).verify(after)).resolves.toBeDefined();
    });
  });

  test('UNKNOWN_PARTICIPANT (even when correctly signed)', async () => {
    const stranger = 'c'.repeat(32);
    await expectRefused(mint({ participantId: stranger }), 'UNKNOWN_PARTICIPANT');
  });

  test('resolver failures and corrupt registered keys are server errors, not AuthErrors', async () => {
    const down = verifier({ resolveSigningKey: async () => Promise.reject(new Error('ledger unavailable')) });
    await expect(down.verify(mint())).rejects.toThrow('ledger unavailable');
    const corrupt = verifier({ resolveSigningKey: async () => '02' + 'ff'.repeat(32) });
    const error = await down.verify(mint()).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(AuthError);
    await expect(corrupt.verify(mint())).rejects.toThrow(/not on secp256k1/);
    const uncompressed = verifier({ resolveSigningKey: async () => '04' + 'ab'.repeat(64) });
    await expect(uncompressed.verify(mint())).rejects.toThrow(/not a compressed secp256k1 point/);
  });

  describe('BAD_SIGNATURE', () => {
    test('signed by another participant’s key', async () => {
      await expectRefused(mint({ signingKey: bobKey }), 'BAD_SIGNATURE');
    });

    test('payload tampered after signing', async () => {
      const [header, , signature] = mint().split('.') as [string, string, string];
      const tampered = `${header}.${b64json(validClaims({ sub: ALICE, jti: freshJti() }))}.${signature}`;
      await expectRefused(tampered, 'BAD_SIGNATURE');
    });

    test('signature of the wrong length, or zero', async () => {
      const [header, payload] = mint().split('.') as [string, string, string];
      await expectRefused(`${header}.${payload}.${b64(new Uint8Array(63))}`, 'BAD_SIGNATURE');
      await expectRefused(`${header}.${payload}.`, 'BAD_SIGNATURE');
      await expectRefused(`${header}.${payload}.${b64(new Uint8Array(64))}`, 'BAD_SIGNATURE');
    });

    test('the high-S twin of a valid signature (s′ = n − s), which jose alone accepts', async () => {
      const token = mint();
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const bytes = Buffer.from(signature, 'base64url');
      const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
      const highS = Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex');
      const twin = `${header}.${payload}.${b64(Buffer.concat([bytes.subarray(0, 32), highS]))}`;
      // Proof that the twin is a mathematically valid signature: jose (OpenSSL) verifies it.
      await expect(compactVerify(twin, await alicePublicJwk(), { algorithms: ['ES256K'] })).resolves.toBeDefined();
      await expectRefused(twin, 'BAD_SIGNATURE');
      await expect(verifier().verify(token)).resolves.toBeDefined();
    });
  });

  describe('REPLAYED', () => {
    test('the same token twice is refused; a fresh token is accepted', async () => {
      const v = verifier();
      const token = mint();
      await expect(v.verify(token)).resolves.toBeDefined();
      await expectRefused(token, 'REPLAYED', v);
      await expect(v.verify(mint())).resolves.toBeDefined();
    });

    test('a replay is caught until exp + skew, by a verifier sharing the cache', async () => {
      const cache = new ReplayCache();
      let now = NOW_MS;
      const v = verifier({ replayCache: cache, now: () => now });
      const token = mint({ lifetimeSeconds: 60 });
      await v.verify(token);
      now = NOW_MS + (60 + DEFAULT_CLOCK_SKEW_S) * 1000;
      await expectRefused(token, 'REPLAYED', v);
      await expectRefused(token, 'REPLAYED', verifier({ replayCache: cache, now: () => now }));
      now += 1;
      await expectRefused(token, 'EXPIRED', v);
    });

    test('forged tokens do not poison the cache', async () => {
      const v = verifier();
      const jti = freshJti();
      await expectRefused(mint({ jti, signingKey: bobKey }), 'BAD_SIGNATURE', v);
      await expect(v.verify(mint({ jti }))).resolves.toMatchObject({ jti });
    });

    test('jtis are scoped per participant', async () => {
      const v = verifier();
      const jti = freshJti();
      await expect(v.verify(mint({ jti }))).resolves.toBeDefined();
      await expect(v.verify(mint({ jti, participantId: BOB, signingKey: bobKey }))).resolves.toBeDefined();
    });
  });

  test('BUSY when the replay cache is full of unexpired tokens', async () => {
    const v = verifier({ replayCache: new ReplayCache({ maxEntries: 2 }) });
    await v.verify(mint());
    await v.verify(mint());
    await expectRefused(mint(), 'BUSY', v);
  });

  test('rejects invalid options', () => {
    const resolveSigningKey = async (): Promise<undefined> => undefined;
    expect(() => new AccessTokenVerifier({ audience: '', resolveSigningKey })).toThrow(/audience/);
    expect(() => new AccessTokenVerifier({ audience: AUDIENCE, resolveSigningKey, clockSkewSeconds: -1 })).toThrow(/clockSkewSeconds/);
    expect(() => new AccessTokenVerifier({ audience: AUDIENCE, resolveSigningKey, maxLifetimeSeconds: 0 })).toThrow(/maxLifetimeSeconds/);
    expect(() => new AccessTokenVerifier({ audience: AUDIENCE, resolveSigningKey, notIssuedBefore: NaN })).toThrow(/notIssuedBefore/);
  });
});

describe('parseBearer', () => {
  test('extracts the token', () => {
    expect(parseBearer(undefined)).toBeUndefined();
    expect(parseBearer('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseBearer('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseBearer('BEARER abc.def.ghi')).toBe('abc.def.ghi');
  });

  test.each(['', 'Bearer', 'Bearer ', 'Bearer  abc', ' Bearer abc', 'Bearer abc ', 'Bearer a b', 'Basic dXNlcjpwYXNz', 'Bearer\tabc'])(
    'refuses %j as MALFORMED',
    (header) => {
      let error: unknown;
      try {
        parseBearer(header);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).reason).toBe('MALFORMED');
      expect((error as AuthError).message).not.toContain('dXNlcjpwYXNz');
    },
  );
});

describe('ReplayCache', () => {
  test('remembers a jti through its expiry (inclusive), then forgets it', () => {
    const cache = new ReplayCache();
    expect(cache.checkAndRemember('j1', 10_000, 1_000)).toBe(true);
    expect(cache.checkAndRemember('j1', 10_000, 10_000)).toBe(false);
    expect(cache.checkAndRemember('j1', 20_000, 10_001)).toBe(true);
    expect(cache.checkAndRemember('j1', 20_000, 20_000)).toBe(false);
  });

  test('purges expired entries as time passes, bucket by bucket', () => {
    const cache = new ReplayCache();
    for (let i = 0; i < 100; i++) cache.checkAndRemember(`j${i}`, 1_000 * (i + 1) + 500, 0);
    expect(cache.size).toBe(100);
    cache.purge(50_000);
    // expiries 1.5 s … 49.5 s are gone, 50.5 s … 100.5 s remain
    expect(cache.size).toBe(51);
    cache.checkAndRemember('late', 200_000, 101_000);
    expect(cache.size).toBe(1);
  });

  test('never forgets early: an entry expiring mid-second outlives the purge of the second before', () => {
    const cache = new ReplayCache();
    cache.checkAndRemember('j', 2_500, 0);
    cache.purge(2_500);
    expect(cache.checkAndRemember('j', 2_500, 2_500)).toBe(false);
    expect(cache.checkAndRemember('j', 5_000, 2_501)).toBe(true);
  });

  test('a jti re-remembered after expiry is not dropped with its old bucket', () => {
    const cache = new ReplayCache();
    cache.checkAndRemember('j', 1_200, 0); // bucket [1 s, 2 s)
    expect(cache.checkAndRemember('j', 9_000, 1_500)).toBe(true); // old entry expired, its bucket not yet purged
    cache.purge(2_000);
    expect(cache.checkAndRemember('j', 9_000, 2_000)).toBe(false);
  });

  test('does not store already-expired entries', () => {
    const cache = new ReplayCache();
    expect(cache.checkAndRemember('j', 999, 1_000)).toBe(true);
    expect(cache.size).toBe(0);
  });

  test('is bounded: BUSY when full of unexpired entries, room again once they expire', () => {
    const cache = new ReplayCache({ maxEntries: 3 });
    for (const jti of ['a', 'b', 'c']) expect(cache.checkAndRemember(jti, 5_000, 0)).toBe(true);
    let error: unknown;
    try {
      cache.checkAndRemember('d', 5_000, 1_000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).reason).toBe('BUSY');
    expect(cache.checkAndRemember('a', 5_000, 1_000)).toBe(false); // replays still detected when full
    // purging is per second: the bucket [5 s, 6 s) goes once it has wholly passed
    expect(cache.checkAndRemember('d', 9_000, 6_000)).toBe(true);
    expect(cache.size).toBe(1);
  });

  test('handles many buckets in any order (heap ordering)', () => {
    const cache = new ReplayCache();
    const expiries = Array.from({ length: 500 }, (_, i) => ((i * 7919) % 500) * 1000 + 1000);
    expiries.forEach((expiry, i) => cache.checkAndRemember(`j${i}`, expiry, 0));
    for (let t = 0; t <= 501_000; t += 10_000) {
      cache.purge(t);
      expect(cache.size).toBe(expiries.filter((e) => e >= t).length);
    }
  });

  test('rejects a bad bound', () => {
    expect(() => new ReplayCache({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
