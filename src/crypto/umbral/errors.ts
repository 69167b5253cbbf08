import { CodedError } from '../../errors.js';

/** Every Umbral failure is an UmbralError with a stable code (docs/umbral-api.md lists them). */
export type UmbralErrorCode =
  | 'MALFORMED_BYTES'
  | 'INVALID_CAPSULE'
  | 'KFRAG_VERIFICATION_FAILED'
  | 'CFRAG_VERIFICATION_FAILED'
  | 'DECRYPTION_FAILED'
  | 'NO_CFRAGS'
  | 'MISMATCHED_CFRAGS'
  | 'DUPLICATE_CFRAGS'
  | 'REENCRYPTION_CHECK_FAILED'
  | 'INVALID_ARGUMENT';

export class UmbralError extends CodedError<UmbralErrorCode> {
  override readonly name = 'UmbralError';
}

export function malformed(what: string, reason: string): UmbralError {
  return new UmbralError('MALFORMED_BYTES', `${what}: ${reason}`);
}

export function assertBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new UmbralError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
}
