/**
 * PIE's own checks of a resource, the ones medplum's validator lacks (validate.ts lists them), in one walk over it.
 *
 * The same walk serves input.ts through hooks: it normalises each reference just before the reference is checked,
 * and finds attachments. So an upload's resources are walked once instead of three times; and the walk names
 * elements by interned paths (element-path.ts) and builds a FHIRPath location only when something is reported.
 */
import { REFERENCE_TARGETS, REQUIRED_CODES, REQUIRED_CONCEPTS, isAttachmentElement, type ConceptBinding } from './r4-rules.js';
import { isKnownResourceType, loadDefinitions } from './definitions.js';
import { ElementPaths, type ElementPath } from './element-path.js';
import { isJsonObject, type JsonObject } from './json.js';
import { issue, type FhirIssue } from './outcome.js';
import { FHIR_ID_PATTERN, classifyReference } from './references.js';
import { GENDERS } from './types.js';

/** The FHIRPath of the node being visited (with `suffix` appended); valid only during the call it is given to. */
export type Where = (suffix?: string) => string;

/** What input.ts does during the walk; each hook sees the nodes in document order (depth first). */
export interface WalkHooks {
  /** Each object with a string `reference`, before the reference is checked: it may rewrite `reference` in place. */
  readonly reference?: (holder: JsonObject, where: Where) => void;
  /**
   * Each Binary resource (at the top or nested) and each object at an Attachment element (r4-rules.ts), before what
   * is inside it. Objects in arrays nested in arrays, and whatever is below them, are left out (as they always were).
   */
  readonly attachment?: (node: JsonObject, where: Where) => void;
}

/** The own checks of one resource: final when medplum need not run (`done`), else waiting for medplum's issues. */
export type OwnChecked =
  | { readonly done: FhirIssue[] }
  | {
      readonly resource: JsonObject;
      readonly type: string;
      /** FHIRPath of the resource in the input, the prefix of every location */
      readonly base: string;
      readonly issues: FhirIssue[];
      /** a base64 value longer than MEDPLUM_BASE64_LIMIT was seen (medplum must get a copy without it) */
      readonly largeBase64: boolean;
    };

/**
 * Checks `resource` (at `path` in the input, default its resourceType) and runs `hooks` on it. The hooks see the
 * whole resource even when the checks stop early (no resourceType, a type that is not R4, nesting past the limit).
 */
export function checkResource(resource: unknown, path: string | undefined, hooks: WalkHooks = {}): OwnChecked {
  if (!isJsonObject(resource)) return { done: [issue('structure', 'A FHIR resource must be a JSON object', path ?? 'Resource')] };
  const type = resource['resourceType'];
  if (typeof type !== 'string' || type === '') {
    const walk = new Walk(path ?? 'Resource', hooks);
    if (typeof type === 'string') walk.resource(resource, undefined, 0, false, true);
    else walk.object(resource, PATHS.root('Resource'), NO_IDS, 0, false, false);
    return { done: [issue('required', 'The resource has no resourceType', `${path ?? 'Resource'}.resourceType`)] };
  }
  const base = path ?? type;
  loadDefinitions();
  const walk = new Walk(base, hooks);
  if (!isKnownResourceType(type)) {
    walk.resource(resource, undefined, 0, false, true);
    return { done: [issue('structure', `Unknown resource type "${type}": not a FHIR R4 resource`, `${base}.resourceType`)] };
  }
  walk.resource(resource, undefined, 0, true, true);
  return { resource, type, base, issues: walk.issues, largeBase64: walk.largeBase64 };
}

// ---------------------------------------------------------------------------------------------------------------
// Base64

/** Above this length, base64 is checked here only and hidden from medplum (its regex overflows the stack). */
export const MEDPLUM_BASE64_LIMIT = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*$/;

/** Decoded byte length of strict base64 (no whitespace, padded), or undefined if `text` is not valid base64. */
export function base64DecodedLength(text: string): number | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (!BASE64.test(text.slice(0, text.length - padding))) return undefined;
  return (text.length / 4) * 3 - padding;
}

/** Attachment, Binary and Signature carry base64 `data`; SampledData.data (a plain string) has no contentType. */
export function holdsBase64Data(node: JsonObject): boolean {
  return typeof node['data'] === 'string' && ('contentType' in node || 'sigFormat' in node || 'targetFormat' in node);
}

function base64Problem(text: string): string | undefined {
  if (base64DecodedLength(text) !== undefined) return undefined;
  if (/\s/.test(text)) return 'base64 data must not contain whitespace';
  if (text.length % 4 !== 0) return `base64 data length ${text.length} is not a multiple of 4`;
  return 'base64 data contains characters outside A–Z, a–z, 0–9, +, / or misplaced = padding';
}

// ---------------------------------------------------------------------------------------------------------------
// The walk

/** What the rule tables say about an element path. */
interface ElementFacts {
  /** the codes a string here must be one of (a required binding) */
  readonly codes: readonly string[] | undefined;
  readonly concept: ConceptBinding | undefined;
  /** the resource types a reference here may point to */
  readonly targets: readonly string[] | undefined;
  /** `….contained`: a resource here resolves `#id` in its container's scope */
  readonly contained: boolean;
  /** an Attachment element (meaningful for objects that are not resources) */
  readonly attachment: boolean;
}

const ruleFor = <T>(table: Readonly<Record<string, T>>, path: string): T | undefined => (Object.hasOwn(table, path) ? table[path] : undefined);

const PATHS = new ElementPaths<ElementFacts>((path) => ({
  // administrative-gender (GENDERS): every R4 element named `gender` is bound to it (required), so it applies to all of them
  codes: ruleFor(REQUIRED_CODES, path) ?? (path.endsWith('.gender') ? GENDERS : undefined),
  concept: ruleFor(REQUIRED_CONCEPTS, path),
  targets: ruleFor(REFERENCE_TARGETS, path),
  contained: path.endsWith('.contained'),
  attachment: isAttachmentElement(path),
}));

type Path = ElementPath<ElementFacts>;

/** Far above any real resource; only guards the recursion against absurd (or cyclic) objects. */
const MAX_WALK_DEPTH = 200;

const NO_IDS: ReadonlySet<string> = new Set();

/**
 * One depth-first walk. `checking` is false inside what the checks skip (a nested resource of an unknown type,
 * nesting past MAX_WALK_DEPTH), where only the hooks run; `visible` is false where attachments are not looked for.
 */
class Walk {
  readonly issues: FhirIssue[] = [];
  largeBase64 = false;
  #depthExceeded = false;
  /** property names and array indices from the resource down to the current node */
  readonly #steps: (string | number)[] = [];
  readonly #hooked: boolean;

  constructor(
    readonly base: string,
    readonly hooks: WalkHooks,
  ) {
    this.#hooked = hooks.reference !== undefined || hooks.attachment !== undefined;
  }

  readonly where: Where = (suffix = '') => {
    let expr = this.base;
    for (const step of this.#steps) expr += typeof step === 'number' ? `[${step}]` : `.${step}`;
    return expr + suffix;
  };

  /**
   * @param containedIds ids of the contained resources `#id` may point to: the container's for a contained resource,
   *   undefined for a resource that starts its own scope (top level, Bundle.entry.resource, …)
   */
  resource(node: JsonObject, containedIds: ReadonlySet<string> | undefined, depth: number, checking: boolean, visible: boolean): void {
    const type = node['resourceType'] as string;
    if (checking && !isKnownResourceType(type)) {
      this.issues.push(issue('structure', `Unknown resource type "${type}": not a FHIR R4 resource`, this.where('.resourceType')));
      checking = false; // the hooks, if any, still walk it
    }
    if (checking) {
      const id = node['id'];
      if (typeof id === 'string' && id.trim() !== '' && !FHIR_ID_PATTERN.test(id)) {
        this.issues.push(issue('value', `Resource id "${id}" is not a valid FHIR id ([A-Za-z0-9-.], 1–64 characters)`, this.where('.id')));
      }
    }
    this.object(node, PATHS.root(type), containedIds ?? (checking ? containedIdsOf(node) : NO_IDS), depth, checking, visible);
  }

  object(node: JsonObject, element: Path, containedIds: ReadonlySet<string>, depth: number, checking: boolean, visible: boolean): void {
    if (!checking && !this.#hooked) return;
    if (typeof node['reference'] === 'string') {
      this.hooks.reference?.(node, this.where);
      const reference = node['reference'];
      if (checking && typeof reference === 'string') this.checkReference(reference, element, containedIds);
    }
    const isResource = element.path === node['resourceType'];
    if (visible && (isResource ? node['resourceType'] === 'Binary' : element.facts.attachment)) this.hooks.attachment?.(node, this.where);
    if (checking) {
      const { concept } = element.facts;
      if (concept) this.checkConcept(node, concept, element.path);
      if (holdsBase64Data(node)) this.checkBase64(node['data'] as string);
    }
    for (const key of Object.keys(node)) {
      if (isResource && key === 'resourceType') continue;
      this.#steps.push(key);
      this.value(node[key], element.child(key), containedIds, depth + 1, checking, visible);
      this.#steps.pop();
    }
  }

  value(value: unknown, element: Path, containedIds: ReadonlySet<string>, depth: number, checking: boolean, visible: boolean): void {
    if (depth > MAX_WALK_DEPTH) {
      if (checking && !this.#depthExceeded) this.issues.push(issue('too-costly', `Nesting deeper than ${MAX_WALK_DEPTH} levels`, this.where()));
      if (checking) this.#depthExceeded = true;
      // the hooks still need the rest; they only run on JSON parsed under the input's own depth limit (input.ts)
      if (!this.#hooked) return;
      checking = false;
    }
    if (typeof value === 'string') {
      if (checking) this.checkString(value, element);
    } else if (Array.isArray(value)) {
      if (checking && value.length === 0) this.issues.push(issue('value', 'Empty array: FHIR JSON leaves out an element rather than giving it no values', this.where()));
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        this.#steps.push(i);
        this.value(item, element, containedIds, depth + 1, checking, visible && !Array.isArray(item));
        this.#steps.pop();
      }
    } else if (isJsonObject(value)) {
      if (typeof value['resourceType'] === 'string') {
        // a contained resource resolves `#id` in its container's scope; any other nested resource has its own
        this.resource(value, element.facts.contained ? containedIds : undefined, depth + 1, checking, visible);
      } else {
        this.object(value, element, containedIds, depth, checking, visible);
      }
    }
  }

  checkString(value: string, element: Path): void {
    if (value.trim() === '') {
      this.issues.push(issue('value', 'Empty or whitespace-only string: leave the element out instead', this.where()));
      return;
    }
    const { codes } = element.facts;
    if (codes && !codes.includes(value)) {
      this.issues.push(issue('code-invalid', `"${value}" is not a valid code for ${element.path} (allowed: ${codes.join(', ')})`, this.where()));
    }
  }

  checkConcept(node: JsonObject, binding: ConceptBinding, element: string): void {
    const codings = Array.isArray(node['coding']) ? node['coding'] : [];
    let found = false;
    codings.forEach((coding, i) => {
      if (!isJsonObject(coding) || coding['system'] !== binding.system) return;
      found = true;
      const code = coding['code'];
      if (typeof code !== 'string' || !binding.codes.includes(code)) {
        this.issues.push(issue('code-invalid', `${String(code)} is not a valid code of ${binding.system} for ${element} (allowed: ${binding.codes.join(', ')})`, this.where(`.coding[${i}].code`)));
      }
    });
    if (!found) this.issues.push(issue('code-invalid', `${element} must have a coding from ${binding.system}`, this.where()));
  }

  checkBase64(data: string): void {
    if (data.length > MEDPLUM_BASE64_LIMIT) this.largeBase64 = true;
    if (data.trim() === '') return; // reported as an empty string
    const problem = base64Problem(data);
    if (problem) this.issues.push(issue('value', problem, this.where('.data')));
  }

  checkReference(reference: string, element: Path, containedIds: ReadonlySet<string>): void {
    if (reference.trim() === '') return; // reported as an empty string
    const form = classifyReference(reference);
    switch (form.kind) {
      case 'invalid':
        this.issues.push(issue('value', `Invalid reference "${reference}": ${form.reason}`, this.where('.reference')));
        return;
      case 'contained':
        if (form.id !== '' && !containedIds.has(form.id)) {
          this.issues.push(issue('not-found', `Reference "${reference}": no contained resource has id "${form.id}"`, this.where('.reference')));
        }
        return;
      case 'literal':
      case 'conditional':
        this.checkTargetType(form.type, reference, element);
        return;
      default:
        return; // urn:uuid / absolute URLs: resolved (or kept as external) by the caller that knows the Bundle
    }
  }

  checkTargetType(type: string, reference: string, element: Path): void {
    if (!isKnownResourceType(type)) {
      this.issues.push(issue('value', `Reference "${reference}": "${type}" is not a FHIR R4 resource type`, this.where('.reference')));
      return;
    }
    const { targets } = element.facts;
    if (targets && !targets.includes(type)) {
      this.issues.push(issue('structure', `${element.path} must refer to ${targets.join(' | ')}, not ${type}`, this.where('.reference')));
    }
  }
}

function containedIdsOf(resource: JsonObject): ReadonlySet<string> {
  const contained = resource['contained'];
  if (!Array.isArray(contained)) return NO_IDS;
  return new Set(contained.filter(isJsonObject).map((c) => c['id']).filter((id): id is string => typeof id === 'string'));
}
