/** Why a bearer token was refused. */
import { CodedError } from '../errors.js';

export type AuthErrorReason =
  | 'MALFORMED'
  | 'BAD_HEADER'
  | 'BAD_CLAIMS'
  | 'WRONG_AUDIENCE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'LIFETIME_TOO_LONG'
  | 'ISSUED_BEFORE_START'
  | 'UNKNOWN_PARTICIPANT'
  | 'BAD_SIGNATURE'
  | 'REPLAYED'
  /** the replay cache is full of unexpired tokens: transient, the client may retry */
  | 'BUSY';

/** A refused request. Messages never contain the token or key material. */
export class AuthError extends CodedError<'UNAUTHENTICATED'> {
  constructor(
    readonly reason: AuthErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('UNAUTHENTICATED', `${reason}: ${message}`, options);
    this.name = 'AuthError';
  }
}
