import { CodedError } from '../../errors.js';

/**
 * Errors raised by the keystore. Messages name the offending field or operation but never contain a passphrase or
 * secret-key bytes, so they are safe to log.
 */
export type KeystoreErrorCode =
  /** The file is not valid keystore JSON: a field is missing, unknown, of the wrong type/length/encoding, or out of bounds. */
  | 'MALFORMED'
  /** `format` is not "pie-keystore" or `version` is not one this code reads. */
  | 'UNSUPPORTED_VERSION'
  /** AES-GCM authentication failed: wrong passphrase, or any authenticated byte of the file was changed. */
  | 'WRONG_PASSPHRASE'
  /** The decrypted secret keys do not derive the public keys stored in the file. */
  | 'KEY_MISMATCH'
  /** Reading or writing the file failed (the `cause` holds the underlying error). */
  | 'IO'
  /** A caller-supplied argument is invalid (empty passphrase, out-of-range KDF parameters, identical keys, ...). */
  | 'INVALID_ARGUMENT';

export class KeystoreError extends CodedError<KeystoreErrorCode> {
  override readonly name = 'KeystoreError';
}

/** Shorthand for a MALFORMED error about one field of the file. */
export function malformed(field: string, problem: string): KeystoreError {
  return new KeystoreError('MALFORMED', `keystore field "${field}": ${problem}`);
}
