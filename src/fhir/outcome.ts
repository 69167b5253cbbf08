/**
 * Errors of the FHIR adapter are FHIR OperationOutcomes: one issue per problem, each with a FHIRPath-style location
 * (`Bundle.entry[3].resource.status`), so an EHR vendor's client can show every problem at once.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type IssueCode = OperationOutcomeIssue['code'];

export interface FhirIssue {
  readonly severity: 'fatal' | 'error' | 'warning' | 'information';
  /** FHIR issue-type code: structure, required, value, invariant, code-invalid, not-found, too-costly, … */
  readonly code: IssueCode;
  readonly message: string;
  /** FHIRPath-style location, e.g. `Bundle.entry[3].resource.status` */
  readonly expression?: string;
}

export function issue(code: IssueCode, message: string, expression?: string, severity: FhirIssue['severity'] = 'error'): FhirIssue {
  return { severity, code, message, ...(expression !== undefined ? { expression } : {}) };
}

export function toOperationOutcome(issues: readonly FhirIssue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: i.severity,
      code: i.code,
      details: { text: i.message },
      diagnostics: i.message,
      ...(i.expression !== undefined ? { expression: [i.expression] } : {}),
    })),
  };
}

/** Thrown for input that cannot be accepted; `outcome` lists every problem found, not only the first. */
export class FhirInputError extends Error {
  readonly issues: readonly FhirIssue[];
  readonly outcome: OperationOutcome;

  constructor(issues: readonly FhirIssue[], summary?: string) {
    const first = issues[0];
    const where = first?.expression ? ` at ${first.expression}` : '';
    super(summary ?? `${issues.length} problem${issues.length === 1 ? '' : 's'} in the FHIR input; first: ${first?.message ?? 'unknown'}${where}`);
    this.name = 'FhirInputError';
    this.issues = issues;
    this.outcome = toOperationOutcome(issues);
  }
}
