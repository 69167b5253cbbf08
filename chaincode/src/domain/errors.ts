/**
 * The contract's one error type. `code` is stable (clients branch on it, never on the message); the message names
 * the offending field or object. The contract class turns a ContractError into a failed transaction whose message
 * starts with `[code]`, so the gateway client can recover the code.
 */
export type ContractErrorCode = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'FORBIDDEN' | 'CONFLICT' | 'BAD_SIGNATURE';

export class ContractError extends Error {
  constructor(
    readonly code: ContractErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ContractError';
  }
  /** `[CODE] message`: the form a failed transaction carries to the client. */
  override toString(): string {
    return `[${this.code}] ${this.message}`;
  }
}

export const invalid = (field: string, problem: string): ContractError =>
  new ContractError('INVALID_ARGUMENT', `${field}: ${problem}`);
