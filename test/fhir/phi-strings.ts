/**
 * The strings of a FHIR Bundle that identify a person or could help to, for tests that check they never reach a
 * place a non-authorised reader can see (summaries, the ledger, logs, API answers). Not a test file itself.
 *
 * Shared by the Safe Harbor end-to-end test (summary.test.ts) and the node's privacy test (test/node/privacy.test.ts).
 */
import type { Bundle } from '@medplum/fhirtypes';
import { CATEGORIES, SECURITY_LEVELS } from '../../src/fhir/types.js';

/**
 * Strings that must never appear in a summary, collected generically from the input: identifier values; every part
 * of names; address lines, cities, districts, postal codes and texts (state and country are allowed by Safe Harbor);
 * telecom values; birth dates as full date and year-month (the bare birth year cannot be told from a service year);
 * narrative, CodeableConcept and annotation text, notes and display strings; every id, fullUrl and reference, and the
 * identifier part of conditional references (an NPI, an organisation id); attachment data and URLs; free-text
 * extension values (mother's maiden name).
 *
 * Skipped, and why: strings of 1–2 characters (would match by chance: "MA", "F"), and strings that are a code of
 * the input, a FHIR resource type, a Table 5 category or a level (a display "survey" for the code `survey`, a text
 * "Encounter"): those are the vocabulary a summary is made of, not something about the person.
 */
export function sensitiveStrings(bundle: Bundle): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown): void => {
    if (typeof v === 'string') out.add(v);
    else if (Array.isArray(v)) v.forEach(add);
    else if (v && typeof v === 'object') Object.values(v).forEach(add);
  };
  const walk = (v: unknown, key: string, parent: Record<string, unknown> | undefined): void => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key, parent));
    if (typeof v === 'string') {
      if (['id', 'fullUrl', 'display', 'note', 'div', 'birthDate', 'valueString', 'data'].includes(key)) out.add(v);
      if (key === 'birthDate') out.add(v.slice(0, 7));
      if (key === 'text' || key === 'name') out.add(v);
      if (key === 'url' && parent && ('contentType' in parent || 'data' in parent)) out.add(v);
      if (key === 'reference') {
        out.add(v);
        if (v.includes('|')) out.add(v.slice(v.lastIndexOf('|') + 1));
        if (v.startsWith('urn:uuid:')) out.add(v.slice('urn:uuid:'.length));
      }
      return;
    }
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (key === 'identifier') add(o.value);
    if (key === 'name' || key === 'note') add(o);
    if (key === 'address' || key === 'valueAddress') ['line', 'city', 'district', 'postalCode', 'text'].forEach((k) => add(o[k]));
    if (key === 'telecom') add(o.value);
    for (const [k, x] of Object.entries(o)) walk(x, k, o);
  };
  walk(bundle, '', undefined);

  const vocabulary = new Set<string>([...CATEGORIES, ...SECURITY_LEVELS]);
  JSON.stringify(bundle, (k, v: unknown) => {
    if (k === 'code' && typeof v === 'string') vocabulary.add(v);
    if (k === 'resourceType' && typeof v === 'string') vocabulary.add(v);
    return v;
  });
  return new Set([...out].filter((s) => s.trim().length > 2 && !vocabulary.has(s)));
}
