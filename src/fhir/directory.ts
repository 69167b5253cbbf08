/**
 * The directory of known Organizations, Practitioners, PractitionerRoles and Locations: shared by every patient's
 * records, so patient data never goes in (add() refuses other resource types). Patient bundles refer to these
 * resources by conditional reference (`Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999987569`), which
 * resolve() turns into `Practitioner/<id>`.
 *
 * Decisions:
 * - A directory entry without an id takes the uuid of its `urn:uuid:` fullUrl (the rule parseFhirInput applies to
 *   bundle entries too); without either it is refused: a made-up id would not be stable across loads.
 * - Adding a resource whose Type/id is known replaces the earlier version (its identifiers are re-indexed).
 * - Identifier matching is exact (case-sensitive system and value), like a token search on an identifier.
 * - Conditional references support exactly one `identifier` parameter: `system|value`, `|value` (no system) or
 *   `value` (any system). The query is percent-decoded (`+` stays a plus sign) and the FHIR search escapes `\|`,
 *   `\,`, `\$`, `\\` are honoured. OR lists, modifiers and other parameters are refused as not supported.
 */
import type { Location, Organization, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import { FhirInputError, issue, type FhirIssue } from './outcome.js';
import { FHIR_ID_PATTERN, UUID_URN, classifyReference, isJsonObject, type JsonObject } from './validate.js';

export const DIRECTORY_TYPES = ['Organization', 'Practitioner', 'PractitionerRole', 'Location'] as const;
export type DirectoryResourceType = (typeof DIRECTORY_TYPES)[number];
export type DirectoryResource = Organization | Practitioner | PractitionerRole | Location;

export type Resolution =
  | { readonly ok: true; /** `Type/id` */ readonly reference: string }
  | { readonly ok: false; readonly code: 'not-found' | 'multiple-matches' | 'not-supported' | 'value'; readonly message: string };

interface IndexedIdentifier {
  readonly system: string | undefined;
  /** `Type/id` of the resource */
  readonly key: string;
}

/** An identifier search: system undefined = any system, null = no system. */
interface IdentifierQuery {
  readonly system: string | null | undefined;
  readonly value: string;
}

export class ReferenceDirectory {
  private readonly byKey = new Map<string, DirectoryResource>();
  /** `Type|value` → the identifiers with that value (of any system) */
  private readonly byIdentifierValue = new Map<string, IndexedIdentifier[]>();

  /**
   * A directory of the resources in the given Bundles (any type: batch, transaction, collection, searchset).
   * Throws FhirInputError listing every problem; a bundle's position is in the message, its entry in the location.
   */
  static fromBundles(...bundles: readonly unknown[]): ReferenceDirectory {
    const directory = new ReferenceDirectory();
    const issues: FhirIssue[] = [];
    bundles.forEach((bundle, b) => issues.push(...directory.addBundle(bundle, bundles.length > 1 ? `bundle ${b + 1}: ` : '')));
    if (issues.length > 0) throw new FhirInputError(issues);
    return directory;
  }

  /** Adds (or replaces) one resource; throws FhirInputError if it has no valid id or is not a directory type. */
  add(resource: unknown): void {
    const type = isJsonObject(resource) ? resource['resourceType'] : undefined;
    const problem = this.tryAdd(resource, typeof type === 'string' && type !== '' ? type : 'Resource');
    if (problem) throw new FhirInputError([problem]);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Whether `Type/id` is in the directory. */
  has(reference: string): boolean {
    return this.byKey.has(reference);
  }

  /** The resource for `Type/id`, if known (the directory's own copy: do not modify). */
  get(reference: string): DirectoryResource | undefined {
    return this.byKey.get(reference);
  }

  resources(): IterableIterator<DirectoryResource> {
    return this.byKey.values();
  }

  /**
   * Resolves `Type/id` (known?) or `Type?identifier=…` to the `Type/id` of the one matching resource. No match is
   * `not-found`, several are `multiple-matches` (a conditional reference must match exactly one resource).
   */
  resolve(reference: string): Resolution {
    const form = classifyReference(reference);
    if (form.kind === 'literal' && form.base === undefined) {
      const key = `${form.type}/${form.id}`;
      return this.byKey.has(key) ? { ok: true, reference: key } : { ok: false, code: 'not-found', message: `${key} is not in the reference directory` };
    }
    if (form.kind !== 'conditional') {
      return { ok: false, code: 'value', message: `"${reference}" is neither Type/id nor a conditional reference Type?identifier=…` };
    }
    const query = parseIdentifierQuery(form.query);
    if ('code' in query) return query;
    return this.match(form.type, query, reference);
  }

  private match(type: string, query: IdentifierQuery, reference: string): Resolution {
    const candidates = this.byIdentifierValue.get(`${type}|${query.value}`) ?? [];
    const keys = new Set(
      candidates.filter((c) => query.system === undefined || (query.system === null ? c.system === undefined : c.system === query.system)).map((c) => c.key),
    );
    const [only] = keys;
    if (keys.size === 1 && only !== undefined) return { ok: true, reference: only };
    if (keys.size === 0) return { ok: false, code: 'not-found', message: `No ${type} in the reference directory matches "${reference}"` };
    const some = [...keys].slice(0, 3).join(', ');
    return {
      ok: false,
      code: 'multiple-matches',
      message: `"${reference}" matches ${keys.size} resources in the reference directory (${some}${keys.size > 3 ? ', …' : ''}); a conditional reference must match exactly one`,
    };
  }

  private addBundle(bundle: unknown, prefix: string): FhirIssue[] {
    if (!isJsonObject(bundle) || bundle['resourceType'] !== 'Bundle') return [issue('structure', `${prefix}expected a FHIR Bundle`, 'Bundle')];
    const entries = bundle['entry'] ?? [];
    if (!Array.isArray(entries)) return [issue('structure', `${prefix}Bundle.entry must be an array`, 'Bundle.entry')];
    const issues: FhirIssue[] = [];
    entries.forEach((entry: unknown, i) => {
      const at = `Bundle.entry[${i}]`;
      const resource = isJsonObject(entry) ? entry['resource'] : undefined;
      if (!isJsonObject(entry) || !isJsonObject(resource)) {
        issues.push(issue('required', `${prefix}entry has no resource`, at));
        return;
      }
      const problem = this.tryAdd(withIdFromFullUrl(resource, entry['fullUrl']), `${at}.resource`);
      if (problem) issues.push({ ...problem, message: prefix + problem.message });
    });
    return issues;
  }

  /** Adds the resource, or returns why not (located at `expr`). */
  private tryAdd(resource: unknown, expr: string): FhirIssue | undefined {
    if (!isJsonObject(resource)) return issue('structure', 'A directory resource must be a JSON object', expr);
    const type = resource['resourceType'];
    if (!(DIRECTORY_TYPES as readonly unknown[]).includes(type)) {
      return issue('not-supported', `The reference directory holds ${DIRECTORY_TYPES.join(', ')} only, not ${String(type)}`, `${expr}.resourceType`);
    }
    const id = resource['id'];
    if (id === undefined) return issue('required', `The ${String(type)} has no id (and no urn:uuid fullUrl to take it from)`, `${expr}.id`);
    if (typeof id !== 'string' || !FHIR_ID_PATTERN.test(id)) return issue('value', `"${String(id)}" is not a valid FHIR id`, `${expr}.id`);
    this.put(structuredClone(resource) as unknown as DirectoryResource, `${String(type)}/${id}`);
    return undefined;
  }

  private put(resource: DirectoryResource, key: string): void {
    const previous = this.byKey.get(key);
    if (previous) this.unindex(previous, key);
    this.byKey.set(key, resource);
    for (const { system, value } of identifiersOf(resource)) {
      const indexKey = `${resource.resourceType}|${value}`;
      const list = this.byIdentifierValue.get(indexKey) ?? [];
      list.push({ system, key });
      this.byIdentifierValue.set(indexKey, list);
    }
  }

  private unindex(resource: DirectoryResource, key: string): void {
    for (const { value } of identifiersOf(resource)) {
      const indexKey = `${resource.resourceType}|${value}`;
      const rest = (this.byIdentifierValue.get(indexKey) ?? []).filter((c) => c.key !== key);
      if (rest.length > 0) this.byIdentifierValue.set(indexKey, rest);
      else this.byIdentifierValue.delete(indexKey);
    }
  }
}

function identifiersOf(resource: DirectoryResource): { system: string | undefined; value: string }[] {
  const identifiers: unknown = resource.identifier;
  if (!Array.isArray(identifiers)) return [];
  return identifiers
    .filter(isJsonObject)
    .filter((i) => typeof i['value'] === 'string')
    .map((i) => ({ system: typeof i['system'] === 'string' ? i['system'] : undefined, value: i['value'] as string }));
}

function withIdFromFullUrl(resource: JsonObject, fullUrl: unknown): JsonObject {
  if (resource['id'] !== undefined || typeof fullUrl !== 'string') return resource;
  const uuid = UUID_URN.exec(fullUrl)?.[1];
  return uuid ? { ...resource, id: uuid.toLowerCase() } : resource;
}

type QueryProblem = Extract<Resolution, { ok: false }>;

/** Parses the query of `Type?identifier=…`. */
function parseIdentifierQuery(query: string): IdentifierQuery | QueryProblem {
  const params = query.split('&');
  if (params.length !== 1) {
    return { ok: false, code: 'not-supported', message: 'A conditional reference may have one search parameter only (identifier)' };
  }
  const [rawName = '', ...rest] = params[0]!.split('=');
  const name = decode(rawName);
  const rawValue = rest.join('=');
  if (name !== 'identifier' || rest.length === 0) {
    return { ok: false, code: 'not-supported', message: `Only the identifier search parameter is supported in conditional references, not "${name ?? rawName}"` };
  }
  const token = decode(rawValue);
  if (token === undefined) return { ok: false, code: 'value', message: `Malformed percent-encoding in "${rawValue}"` };
  return parseToken(token);
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** `system|value`, `|value` or `value`, with FHIR search escaping (`\|`, `\,`, `\$`, `\\`). */
function parseToken(token: string): IdentifierQuery | QueryProblem {
  const parts: string[] = [''];
  for (let i = 0; i < token.length; i++) {
    const c = token[i]!;
    if (c === '\\' && i + 1 < token.length) {
      parts[parts.length - 1] += token[++i]!;
    } else if (c === '|') {
      parts.push('');
    } else if (c === ',') {
      return { ok: false, code: 'not-supported', message: 'OR lists (a,b) are not supported in conditional references' };
    } else {
      parts[parts.length - 1] += c;
    }
  }
  if (parts.length > 2) return { ok: false, code: 'value', message: `"${token}" has more than one unescaped "|"` };
  const [first = '', second] = parts;
  const value = second ?? first;
  if (value === '') return { ok: false, code: 'not-supported', message: `An identifier search without a value ("${token}") cannot identify one resource` };
  if (second === undefined) return { system: undefined, value };
  return { system: first === '' ? null : first, value };
}
