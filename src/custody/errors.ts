/** The errors of the node's key storage at rest (custodial accounts, the master key file, proxy keys). */
import { CodedError } from '../errors.js';

export type CustodyErrorCode =
  /** No entry for that signing key / participant id. */
  | 'NOT_FOUND'
  /** An entry file or the key file is malformed, fails authentication, or does not match its name or public keys. */
  | 'INTEGRITY'
  /** A caller-supplied argument is malformed. */
  | 'INVALID_ARGUMENT'
  /** The key file or the entry directory is accessible to group/others (or owned by another user). */
  | 'INSECURE_KEY_FILE'
  /** Reading or writing a file failed (`cause` holds the underlying error). */
  | 'IO'
  /** The entry is bound to another participant, or the participant to another entry. */
  | 'CONFLICT';

/** Messages name files and fields, never secret material, so they are safe to log. */
export class CustodyError extends CodedError<CustodyErrorCode> {
  override readonly name = 'CustodyError';
}
