/**
 * The errors of PIE's workflows, with the stable codes the API exposes (GraphQL `extensions.code`, HTTP status).
 * Ledger (client and domain parsers), storage and FHIR errors are mapped onto these by `toExchangeError`, so resolvers and HTTP handlers deal
 * with one vocabulary.
 */
import { ContractError } from '../../chaincode/src/domain/index.js';
import { LedgerClientError } from '../chain/client.js';
import { CodedError } from '../errors.js';
import { FhirInputError } from '../fhir/index.js';
import { StorageError } from '../storage/index.js';
import type { OperationOutcome } from '@medplum/fhirtypes';

export type ExchangeErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'PAYLOAD_TOO_LARGE' | 'UNAVAILABLE' | 'INTERNAL';

export class ExchangeError extends CodedError<ExchangeErrorCode> {
  override readonly name = 'ExchangeError';
  constructor(
    code: ExchangeErrorCode,
    message: string,
    options?: { cause?: unknown; outcome?: OperationOutcome },
  ) {
    super(code, message, options);
    this.outcome = options?.outcome;
  }
  /** for invalid FHIR input: one issue per problem, with FHIRPath locations */
  readonly outcome?: OperationOutcome;
}

export const HTTP_STATUS: Readonly<Record<ExchangeErrorCode, number>> = Object.freeze({
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNAVAILABLE: 503,
  INTERNAL: 500,
});

const LEDGER_CODES: Readonly<Record<string, ExchangeErrorCode>> = {
  INVALID_ARGUMENT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  FORBIDDEN: 'FORBIDDEN',
  CONFLICT: 'CONFLICT',
  BAD_SIGNATURE: 'BAD_USER_INPUT',
  PERMISSION_DENIED: 'FORBIDDEN',
  COMMIT_FAILED: 'CONFLICT',
  UNAVAILABLE: 'UNAVAILABLE',
};

const STORAGE_CODES: Readonly<Record<string, ExchangeErrorCode>> = {
  INVALID_ARGUMENT: 'BAD_USER_INPUT',
  INVALID_CID: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  NO_SPACE: 'UNAVAILABLE',
  CLOSED: 'UNAVAILABLE',
  TIMEOUT: 'UNAVAILABLE',
  UNAVAILABLE: 'UNAVAILABLE',
  UNREACHABLE: 'UNAVAILABLE',
  ABORTED: 'BAD_USER_INPUT',
  SOURCE: 'BAD_USER_INPUT',
  FORBIDDEN: 'FORBIDDEN',
};

/** Maps any error of the layers below onto an ExchangeError (unknown errors become INTERNAL, message kept for logs). */
export function toExchangeError(e: unknown): ExchangeError {
  if (e instanceof ExchangeError) return e;
  if (e instanceof FhirInputError) return new ExchangeError('BAD_USER_INPUT', e.message, { cause: e, outcome: e.outcome });
  if (e instanceof LedgerClientError) return new ExchangeError(LEDGER_CODES[e.code] ?? 'INTERNAL', e.message, { cause: e });
  // the ledger's own parsers, run by the node on input before it reaches the ledger
  if (e instanceof ContractError) return new ExchangeError(LEDGER_CODES[e.code] ?? 'INTERNAL', e.message, { cause: e });
  if (e instanceof StorageError) return new ExchangeError(STORAGE_CODES[e.code] ?? 'INTERNAL', e.message, { cause: e });
  return new ExchangeError('INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
}
