/**
 * The base of PIE's errors: a stable machine-readable `code` (callers branch on it, never on the message) and a
 * message with context. Messages never carry secrets: every subclass's call sites keep key material out of them.
 */
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
