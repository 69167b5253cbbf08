/**
 * Errors the client raises itself (the node's refusals are PieApiError, client.ts). Messages never carry key
 * material or content.
 */

/**
 * Something the client verifies did not verify: a capsule fragment, the envelope's capsule against the ledger's, the
 * envelope's authentication, the plaintext's SHA-256 / size against the record's, or a draft the node prepared for
 * signing that differs from what was asked (the client refuses to sign it). Content read so far must be discarded.
 */
export class PieIntegrityError extends Error {
  override readonly name = 'PieIntegrityError';
  readonly code = 'INTEGRITY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An argument the client refuses before asking the node (an out-of-range threshold, a bad date, …). */
export class PieInputError extends Error {
  override readonly name = 'PieInputError';
  readonly code = 'INVALID_ARGUMENT';
}

