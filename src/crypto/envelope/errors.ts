import { CodedError } from '../../errors.js';

/** Stable error codes of the EMR envelope; callers branch on `code`, never on the message. */
export type EnvelopeErrorCode =
  | 'MALFORMED_HEADER'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_SUITE'
  | 'AUTHENTICATION_FAILED'
  | 'TRUNCATED'
  | 'TRAILING_DATA'
  | 'INVALID_ARGUMENT';

/**
 * Every failure of the envelope module. Messages carry context (segment index, offsets, lengths) but never key
 * material or plaintext.
 */
export class EnvelopeError extends CodedError<EnvelopeErrorCode> {
  override readonly name = 'EnvelopeError';
}

