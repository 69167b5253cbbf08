/**
 * FHIR security labels (meta.security) from a classification: exactly one v3-Confidentiality code and the
 * v3-ActCode sensitivity codes. Labels only ever go up: an existing stricter confidentiality code is kept.
 */
import type { Coding, Resource } from '@medplum/fhirtypes';
import type { Classification } from './classify.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_DISPLAY, CONFIDENTIALITY_SYSTEM, CONFIDENTIALITY_SYSTEMS, confidentialityRank } from './types.js';
import type { ConfidentialityCode } from './types.js';

/** The labels a resource ends up with; exported for callers that label something other than a Resource. */
export function securityLabels(existing: readonly Coding[], classification: Pick<Classification, 'confidentiality' | 'sensitivity'>): Coding[] {
  let confidentiality: ConfidentialityCode = classification.confidentiality;
  const kept: Coding[] = [];
  const seen = new Set<string>();
  for (const label of existing) {
    if (label.system !== undefined && CONFIDENTIALITY_SYSTEMS.has(label.system)) {
      if (label.code !== undefined && confidentialityRank(label.code) > confidentialityRank(confidentiality)) confidentiality = label.code as ConfidentialityCode;
      continue;
    }
    const key = `${label.system ?? ''}|${label.code ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push(structuredClone(label));
  }
  const added = [...new Set(classification.sensitivity)]
    .filter((code) => !seen.has(`${ACT_CODE_SYSTEM}|${code}`))
    .sort()
    .map((code): Coding => ({ system: ACT_CODE_SYSTEM, code }));
  return [{ system: CONFIDENTIALITY_SYSTEM, code: confidentiality, display: CONFIDENTIALITY_DISPLAY[confidentiality] }, ...kept, ...added];
}

/**
 * A copy of `resource` with meta.security set from `classification` (see securityLabels). Only what changes is
 * copied: the resource object and its `meta`; every other element is shared with `resource`. A deep copy per
 * resource was ≈10 % of an upload's event-loop time, and nothing downstream modifies either (the node serialises the
 * labelled copies), so treat both as read-only.
 */
export function withSecurityLabels<T extends Resource>(resource: T, classification: Pick<Classification, 'confidentiality' | 'sensitivity'>): T {
  const security = securityLabels(resource.meta?.security ?? [], classification);
  return { ...resource, meta: { ...resource.meta, security } };
}
