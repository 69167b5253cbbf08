/**
 * The syntax of FHIR ids and of Reference.reference strings, shared by the checks (own-checks.ts), reference
 * normalisation (input.ts) and the directory (directory.ts).
 */

export const FHIR_ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export type ReferenceForm =
  /** `#id` (or `#`, the container itself) */
  | { readonly kind: 'contained'; readonly id: string }
  /** `urn:uuid:…` or `urn:oid:…`: meaningful only inside a Bundle */
  | { readonly kind: 'urn'; readonly urn: string }
  /** `Type/id[/_history/v]`, relative or absolute (`base` is the server URL then) */
  | { readonly kind: 'literal'; readonly type: string; readonly id: string; readonly version?: string; readonly base?: string }
  /** `Type?query` */
  | { readonly kind: 'conditional'; readonly type: string; readonly query: string }
  /** any other absolute URI */
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** `urn:uuid:<uuid>`; the uuid is the first group. */
export const UUID_URN = /^urn:uuid:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
const OID_URN = /^urn:oid:[0-2](\.(0|[1-9]\d*))+$/;
const LITERAL = /^(?:(https?:\/\/\S+)\/)?([A-Z][A-Za-z]*)\/([^/?#\s]+)(?:\/_history\/([^/?#\s]+))?$/;
const CONDITIONAL = /^([A-Z][A-Za-z]*)\?(\S.*)$/;
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

/** Classifies a Reference.reference string (syntax only; whether the type exists is checked separately). */
export function classifyReference(reference: string): ReferenceForm {
  if (reference.startsWith('#')) {
    const id = reference.slice(1);
    return id === '' || FHIR_ID_PATTERN.test(id) ? { kind: 'contained', id } : { kind: 'invalid', reason: `"#${id}" is not a valid contained id` };
  }
  if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
    return UUID_URN.test(reference) || OID_URN.test(reference) ? { kind: 'urn', urn: reference } : { kind: 'invalid', reason: 'malformed urn:uuid / urn:oid' };
  }
  const literal = LITERAL.exec(reference);
  if (literal) {
    const [, base, type, id, version] = literal as unknown as [string, string | undefined, string, string, string | undefined];
    if (!FHIR_ID_PATTERN.test(id)) return { kind: 'invalid', reason: `"${id}" is not a valid resource id` };
    if (version !== undefined && !FHIR_ID_PATTERN.test(version)) return { kind: 'invalid', reason: `"${version}" is not a valid version id` };
    return { kind: 'literal', type, id, ...(version !== undefined ? { version } : {}), ...(base !== undefined ? { base } : {}) };
  }
  const conditional = CONDITIONAL.exec(reference);
  if (conditional) return { kind: 'conditional', type: conditional[1]!, query: conditional[2]! };
  if (ABSOLUTE_URI.test(reference)) return { kind: 'url', url: reference };
  return { kind: 'invalid', reason: 'expected Type/id, Type?query, #id, urn:uuid:… or an absolute URL' };
}
