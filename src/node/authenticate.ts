/**
 * The one way the node turns a bearer token into a caller: HTTP requests (the Authorization header) and GraphQL over
 * WebSocket (`connection_init`'s `authorization`) both go through `bearerAuthenticator`.
 */
import type { Participant } from '../../chaincode/src/domain/index.js';
import { AuthError, parseBearer } from '../auth/index.js';
import type { AccessTokenVerifier } from '../auth/index.js';
import { ExchangeError, toExchangeError } from '../exchange/errors.js';
import type { Caller } from '../resolvers/index.js';

/** `Bearer <JWS>` → the caller; undefined without a value; UNAUTHENTICATED for a bad one, UNAVAILABLE when busy. */
export type Authenticate = (authorization: string | undefined) => Promise<Caller | undefined>;

export interface AuthenticatorDependencies {
  readonly verifier: AccessTokenVerifier;
  /** the callers' ledger entries, shared with the verifier */
  readonly callers: { get(id: string): Promise<Participant | undefined> };
  readonly custody: { isCustodial(id: string): boolean };
}

export function bearerAuthenticator({ verifier, callers, custody }: AuthenticatorDependencies): Authenticate {
  return async (authorization) => {
    let token: string | undefined;
    try {
      token = parseBearer(authorization);
    } catch (e) {
      throw new ExchangeError('UNAUTHENTICATED', (e as Error).message);
    }
    if (token === undefined) return undefined;
    try {
      const verified = await verifier.verify(token);
      const participant = await callers.get(verified.participantId);
      if (participant === undefined) throw new ExchangeError('UNAUTHENTICATED', `participant ${verified.participantId} is not registered`);
      if (participant.status !== 'active') throw new ExchangeError('UNAUTHENTICATED', `participant ${participant.id} is ${participant.status}`);
      return { participant, custodial: custody.isCustodial(participant.id) };
    } catch (e) {
      if (e instanceof AuthError) {
        if (e.reason === 'BUSY') throw new ExchangeError('UNAVAILABLE', e.message);
        throw new ExchangeError('UNAUTHENTICATED', e.message);
      }
      throw toExchangeError(e);
    }
  };
}
