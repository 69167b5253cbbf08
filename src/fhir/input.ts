/**
 * What callers use to accept FHIR: one resource or a Bundle in (parsed JSON, a JSON string or UTF-8 bytes), normalised
 * and validated deep copies out, or a FhirInputError that lists every problem (FHIRPath locations into the input).
 * Nothing partial is returned and the caller's object is never modified.
 *
 * Normalisation: every `reference` at any depth (contained resources and extensions too) that points to an entry's
 * fullUrl (`urn:uuid:…`, `urn:oid:…` or an absolute URL) becomes `Type/id`; conditional references
 * (`Type?identifier=…`) are resolved with the ReferenceDirectory. An entry without an id takes it from its PUT url,
 * else from its urn fullUrl. `Type/id` references to neither an entry nor the directory are kept and listed as
 * external.
 *
 * Decisions beyond FHIR:
 * - Ingest accepts Bundles of type transaction, batch, collection and document; entries of transaction/batch must be
 *   POST (url = the resource type) or PUT (url = Type/id of the resource); conditional updates are not supported and
 *   `ifNoneExist` is ignored (the caller stores what it receives).
 * - Conditional references resolve against the directory only, not against entries of the same Bundle.
 * - Inline attachment data is limited (default 8 MiB decoded); larger content (DICOM, …) comes as a separate stream
 *   linked by the attachment's url: `urn:pie:blob:<id>` or `ipfs://<cid>`. Attachment.size and Attachment.hash
 *   (SHA-1), when given with inline data, must match it.
 */
import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { CID } from 'multiformats/cid';
import type { ReferenceDirectory, Resolution } from './directory.js';
import { FhirInputError, issue, type FhirIssue } from './outcome.js';
import { isJsonObject, type JsonObject } from './json.js';
import { base64DecodedLength, checkResource, type OwnChecked, type Where } from './own-checks.js';
import { FHIR_ID_PATTERN, classifyReference } from './references.js';
import { isBlocking, validateChecked, validateCheckedOnPool } from './validate.js';
import type { FhirValidatorPool } from './validator-pool.js';

export interface FhirInputLimits {
  /** size of the JSON text in UTF-8 bytes (default 16 MiB) */
  readonly maxBytes?: number;
  /** Bundle entries (default 10 000) */
  readonly maxEntries?: number;
  /** nesting of JSON objects and arrays, the root being 1 (default 64) */
  readonly maxDepth?: number;
  /** decoded bytes of one inline attachment or Binary (default 8 MiB) */
  readonly maxInlineAttachmentBytes?: number;
}

export const DEFAULT_FHIR_INPUT_LIMITS: Required<FhirInputLimits> = {
  maxBytes: 16 * 1024 * 1024,
  maxEntries: 10_000,
  maxDepth: 64,
  maxInlineAttachmentBytes: 8 * 1024 * 1024,
};

export interface ParseFhirInputOptions {
  /** resolves conditional references; without it, any conditional reference is an error */
  readonly directory?: ReferenceDirectory;
  readonly limits?: FhirInputLimits;
  /** accept input whose validation gives warnings (returned in `warnings`); default false: warnings are errors */
  readonly allowWarnings?: boolean;
}

export const INGEST_BUNDLE_TYPES = ['transaction', 'batch', 'collection', 'document'] as const;
export type IngestBundleType = (typeof INGEST_BUNDLE_TYPES)[number];

/** Content sent separately from the JSON and linked by an attachment's url. */
export interface BlobLink {
  readonly kind: 'pie-blob' | 'ipfs';
  /** the blob id of `urn:pie:blob:<id>`, or the CID of `ipfs://<cid>` */
  readonly id: string;
}

export interface AttachmentInfo {
  /** `Type/id` of the (top-level) resource holding the attachment; absent if that resource has no id */
  readonly resourceRef?: string;
  /** FHIRPath of the Attachment (or of the Binary resource) in the input */
  readonly path: string;
  readonly contentType?: string;
  /** bytes: of the inline data when present, else as declared by Attachment.size */
  readonly size?: number;
  /** the content is in the JSON (`data`) */
  readonly inline: boolean;
  readonly url?: string;
  readonly blob?: BlobLink;
}

export interface ParsedFhirInput {
  readonly kind: 'resource' | 'bundle';
  readonly bundleType?: IngestBundleType;
  /** deep copies with normalised references, in input order */
  readonly resources: Resource[];
  /** distinct `Patient/id` the resources are about (Patient resources and subject/patient/beneficiary) */
  readonly patientRefs: string[];
  readonly attachments: AttachmentInfo[];
  /** distinct references to resources neither in the input nor in the directory, as written */
  readonly externalReferences: string[];
  /** each entry's fullUrl → `Type/id` */
  readonly fullUrlMap: Record<string, string>;
  /** non-blocking issues (information, and warnings when allowWarnings) */
  readonly warnings: FhirIssue[];
}

type Limits = Required<FhirInputLimits>;

/** One resource of the input, being normalised (a copy: the caller's object is never touched). */
interface Entry {
  readonly resource: JsonObject;
  /** FHIRPath of the resource: `Bundle.entry[3].resource`, or its resourceType */
  readonly expr: string;
  /** `Bundle.entry[3]` */
  readonly entryExpr?: string;
  readonly fullUrl?: string;
  /** id given by a PUT request url */
  readonly putId?: string;
}

/** Parses, normalises and validates FHIR input; throws FhirInputError with every problem found. */
export function parseFhirInput(input: unknown, options: ParseFhirInputOptions = {}): ParsedFhirInput {
  const n = normalise(input, options);
  return finish(n, Array.from(walkEntries(n), validateChecked), options);
}

/**
 * parseFhirInput with the structural validation on a validator pool's worker threads: the same result and the same
 * errors, but a large Bundle is validated on every core and does not hold up the event loop.
 */
export async function parseFhirInputOnPool(input: unknown, pool: FhirValidatorPool, options: ParseFhirInputOptions = {}): Promise<ParsedFhirInput> {
  return startParseOnPool(input, pool, options).parsed;
}

/** An input normalised on this thread whose structural validation is under way on the pool. */
export interface PendingParse {
  /**
   * The normalised resources, before validation has decided on them: for work that can overlap the validation and
   * is thrown away if `parsed` rejects (prepare.ts groups and summarises meanwhile).
   */
  readonly resources: readonly Resource[];
  /** what parseFhirInputOnPool returns (rejects with FhirInputError for invalid input) */
  readonly parsed: Promise<ParsedFhirInput>;
}

/**
 * Normalises now and sends the resources to the pool. Throws FhirInputError at once for input that cannot be
 * decoded or exceeds a limit (parseFhirInputOnPool turns that into a rejection).
 */
export function startParseOnPool(input: unknown, pool: FhirValidatorPool, options: ParseFhirInputOptions = {}): PendingParse {
  const n = normalise(input, options);
  // validateCheckedOnPool walks every entry before it returns: the resources below are normalised
  const parsed = validateCheckedOnPool(pool, walkEntries(n)).then((perEntry) => finish(n, perEntry, options));
  return { resources: resourcesOf(n), parsed };
}

interface Normalised {
  readonly limits: Limits;
  readonly isBundle: boolean;
  readonly bundle: BundleContents | undefined;
  readonly entries: readonly Entry[];
  readonly identities: Identities;
  /** problems of the Bundle's rules and of identities */
  readonly issues: FhirIssue[];
  /** reference normalisation, done by walkEntries */
  readonly references: ReferenceContext;
  /** found by walkEntries */
  readonly attachments: AttachmentInfo[];
  readonly attachmentIssues: FhirIssue[];
}

/** What comes before the walk over the resources: decoding, limits, bundle rules, identities. */
function normalise(input: unknown, options: ParseFhirInputOptions): Normalised {
  const limits: Limits = { ...DEFAULT_FHIR_INPUT_LIMITS, ...options.limits };
  const root = decodeInput(input, limits);
  const issues: FhirIssue[] = [];
  const isBundle = root['resourceType'] === 'Bundle';
  const bundle = isBundle ? readBundle(root, limits, issues) : undefined;
  const entries = bundle?.entries ?? [{ resource: root, expr: typeof root['resourceType'] === 'string' ? root['resourceType'] : 'Resource' }];
  const identities = assignIdentities(entries, issues);
  const references: ReferenceContext = { identities, directory: options.directory, isBundle, external: new Set(), issues: [], resolutions: new Map() };
  return { limits, isBundle, bundle, entries, identities, issues, references, attachments: [], attachmentIssues: [] };
}

/**
 * One walk over each entry (own-checks.ts) normalises its references, finds its attachments and runs PIE's own
 * checks; medplum's validation comes after, on this thread or on the pool.
 */
function* walkEntries(n: Normalised): Generator<OwnChecked> {
  const reference = (holder: JsonObject, where: Where): void => {
    const normalised = normaliseReference(holder['reference'] as string, where, n.references);
    if (normalised !== undefined) holder['reference'] = normalised;
  };
  for (const entry of n.entries) {
    const type = entry.resource['resourceType'];
    const id = entry.resource['id'];
    const resourceRef = typeof type === 'string' && typeof id === 'string' ? `${type}/${id}` : undefined;
    const attachment = (node: JsonObject, where: Where): void => {
      n.attachments.push(describeAttachment(node, where(), resourceRef, n.limits, n.attachmentIssues));
    };
    yield checkResource(entry.resource, entry.expr, typeof type === 'string' ? { reference, attachment } : { reference });
  }
}

const resourcesOf = (n: Normalised): Resource[] => n.entries.map((e) => e.resource as unknown as Resource);

/** `validation`: each entry's issues, in entry order. Issues are listed in the order of the steps that found them. */
function finish(n: Normalised, validation: readonly FhirIssue[][], options: ParseFhirInputOptions): ParsedFhirInput {
  const issues = [...n.issues, ...n.references.issues, ...n.attachmentIssues, ...validation.flat()];
  if (issues.some((i) => isBlocking(i, options))) throw new FhirInputError(issues);
  return {
    kind: n.isBundle ? 'bundle' : 'resource',
    ...(n.bundle?.type !== undefined ? { bundleType: n.bundle.type } : {}),
    resources: resourcesOf(n),
    patientRefs: patientRefsOf(n.entries),
    attachments: n.attachments,
    externalReferences: [...n.references.external],
    fullUrlMap: Object.fromEntries([...n.identities.fullUrls].filter((kv): kv is [string, string] => kv[1] !== null)),
    warnings: issues,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding, size and depth limits: a problem here stops at once (nothing else can be checked)

function decodeInput(input: unknown, limits: Limits): JsonObject {
  let value: unknown;
  if (isByteArray(input)) {
    const text = utf8(input, limits);
    value = parseJson(text);
    checkDepth(value, limits.maxDepth);
  } else if (isJsonObject(input)) {
    checkDepth(input, limits.maxDepth);
    const text = serialise(input);
    checkBytes(Buffer.byteLength(text, 'utf8'), limits);
    value = JSON.parse(text);
  } else if (typeof input === 'string') {
    // every UTF-16 unit is at least one UTF-8 byte, so the cheap check first
    checkBytes(input.length > limits.maxBytes ? input.length : Buffer.byteLength(input, 'utf8'), limits);
    value = parseJson(input.charCodeAt(0) === 0xfeff ? input.slice(1) : input);
    checkDepth(value, limits.maxDepth);
  } else {
    throw new FhirInputError([issue('structure', 'Expected a FHIR resource or Bundle: a JSON object, a JSON string or UTF-8 bytes')]);
  }
  if (!isJsonObject(value)) throw new FhirInputError([issue('structure', 'The JSON is not an object: expected a FHIR resource or Bundle')]);
  return value;
}

function checkBytes(bytes: number, limits: Limits): void {
  if (bytes > limits.maxBytes) {
    throw new FhirInputError([issue('too-costly', `The input is ${bytes} bytes of JSON; the limit is ${limits.maxBytes}`)]);
  }
}

/** Uint8Array or Buffer, also from another realm (where `instanceof Uint8Array` is false) */
function isByteArray(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && (value as Partial<Uint8Array>).BYTES_PER_ELEMENT === 1;
}

/** Decodes UTF-8 (a BOM is dropped). */
function utf8(bytes: Uint8Array, limits: Limits): string {
  checkBytes(bytes.byteLength, limits);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FhirInputError([issue('structure', 'The input is not valid UTF-8')]);
  }
}

function serialise(input: JsonObject): string {
  try {
    return JSON.stringify(input);
  } catch (err) {
    throw new FhirInputError([issue('structure', `The input cannot be serialised as JSON: ${err instanceof Error ? err.message : String(err)}`)]);
  }
}

function checkDepth(value: unknown, maxDepth: number): void {
  const path = tooDeep(value, 1, maxDepth);
  if (path) {
    const rootName = isJsonObject(value) && typeof value['resourceType'] === 'string' ? value['resourceType'] : '$';
    const expr = path.reduce<string>((at, step) => (typeof step === 'number' ? `${at}[${step}]` : `${at}.${step}`), rootName);
    throw new FhirInputError([issue('too-costly', `JSON nested deeper than ${maxDepth} levels`, expr)]);
  }
}

/** The path to the first object or array deeper than `max`, or undefined. Recursion is bounded by `max`. */
function tooDeep(value: unknown, depth: number, max: number): (string | number)[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > max) return [];
  // no allocation on the way down: this visits every node of every input
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const below = tooDeep(value[i], depth + 1, max);
      if (below) return [i, ...below];
    }
  } else {
    for (const key of Object.keys(value)) {
      const below = tooDeep((value as JsonObject)[key], depth + 1, max);
      if (below) return [key, ...below];
    }
  }
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // V8's messages quote the input (possibly patient data) and do not always give a position: find it ourselves
    const offset = jsonErrorOffset(text);
    const before = text.slice(0, Math.max(offset, 0));
    const line = before.split('\n').length;
    const column = offset - (before.lastIndexOf('\n') + 1) + 1;
    const what = offset < 0 ? 'not valid JSON' : offset >= text.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(text[offset])}`;
    throw new FhirInputError([issue('structure', offset < 0 ? 'Invalid JSON' : `Invalid JSON at line ${line}, column ${column} (offset ${offset}): ${what}`)]);
  }
}

type Scan = { readonly end: number } | { readonly errorAt: number };

/** Offset of the first syntax error in `text` (text.length for a premature end), or -1 if it is valid JSON. */
export function jsonErrorOffset(text: string): number {
  const open: string[] = [];
  let expect: 'value' | 'first-value' | 'key' | 'first-key' | 'after' = 'value';
  let i = 0;
  for (;;) {
    i = skipWhitespace(text, i);
    if (i >= text.length) return expect === 'after' && open.length === 0 ? -1 : text.length;
    const c = text[i];
    if (expect === 'after') {
      const container = open[open.length - 1];
      if (container === undefined) return i;
      if (c === ',') expect = container === '{' ? 'key' : 'value';
      else if (c === (container === '{' ? '}' : ']')) open.pop();
      else return i;
      i++;
    } else if ((expect === 'first-key' && c === '}') || (expect === 'first-value' && c === ']')) {
      open.pop();
      i++;
      expect = 'after';
    } else if (expect === 'key' || expect === 'first-key') {
      if (c !== '"') return i;
      const key = scanString(text, i);
      if ('errorAt' in key) return key.errorAt;
      i = skipWhitespace(text, key.end);
      if (i >= text.length) return text.length;
      if (text[i] !== ':') return i;
      i++;
      expect = 'value';
    } else if (c === '{' || c === '[') {
      open.push(c);
      i++;
      expect = c === '{' ? 'first-key' : 'first-value';
    } else {
      const scalar = c === '"' ? scanString(text, i) : scanLiteral(text, i);
      if ('errorAt' in scalar) return scalar.errorAt;
      i = scalar.end;
      expect = 'after';
    }
  }
}

function skipWhitespace(text: string, from: number): number {
  let i = from;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  return i;
}

const ESCAPES = '"\\/bfnrt';
const HEX4 = /^[0-9a-fA-F]{4}$/;

function scanString(text: string, start: number): Scan {
  let i = start + 1;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return { end: i + 1 };
    if (code < 0x20) return { errorAt: i };
    if (code === 0x5c) {
      const next = text[i + 1];
      if (next === undefined) return { errorAt: text.length };
      if (ESCAPES.includes(next)) i += 2;
      else if (next === 'u' && HEX4.test(text.slice(i + 2, i + 6))) i += 6;
      else return { errorAt: i };
    } else {
      i++;
    }
  }
  return { errorAt: text.length };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function scanLiteral(text: string, start: number): Scan {
  for (const word of ['true', 'false', 'null']) if (text.startsWith(word, start)) return { end: start + word.length };
  NUMBER.lastIndex = start;
  const number = NUMBER.exec(text);
  return number ? { end: start + number[0].length } : { errorAt: start };
}

// ---------------------------------------------------------------------------------------------------------------
// Bundle shell and entries

const HTTP_VERBS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'];

interface BundleContents {
  readonly type?: IngestBundleType;
  readonly entries: Entry[];
}

function readBundle(bundle: JsonObject, limits: Limits, issues: FhirIssue[]): BundleContents {
  const type = bundleType(bundle['type'], issues);
  const list = bundle['entry'] ?? [];
  if (!Array.isArray(list)) {
    issues.push(issue('structure', 'Bundle.entry must be an array', 'Bundle.entry'));
    return { ...(type ? { type } : {}), entries: [] };
  }
  if (list.length > limits.maxEntries) {
    throw new FhirInputError([issue('too-costly', `The Bundle has ${list.length} entries; the limit is ${limits.maxEntries}`, 'Bundle.entry')]);
  }
  const entries = list.map((entry: unknown, i) => readEntry(entry, i, type, issues)).filter((e): e is Entry => e !== undefined);
  const first: unknown = list[0];
  if (type === 'document' && !(isJsonObject(first) && isJsonObject(first['resource']) && first['resource']['resourceType'] === 'Composition')) {
    issues.push(issue('invariant', 'The first entry of a document Bundle must be a Composition (bdl-11)', list.length > 0 ? 'Bundle.entry[0].resource' : 'Bundle.entry'));
  }
  return { ...(type ? { type } : {}), entries };
}

function bundleType(type: unknown, issues: FhirIssue[]): IngestBundleType | undefined {
  if (typeof type !== 'string') {
    issues.push(issue('required', 'Bundle.type is required', 'Bundle.type'));
    return undefined;
  }
  if ((INGEST_BUNDLE_TYPES as readonly string[]).includes(type)) return type as IngestBundleType;
  issues.push(issue('not-supported', `Bundles of type "${type}" are not accepted; expected one of ${INGEST_BUNDLE_TYPES.join(', ')}`, 'Bundle.type'));
  return undefined;
}

function readEntry(entry: unknown, i: number, type: IngestBundleType | undefined, issues: FhirIssue[]): Entry | undefined {
  const at = `Bundle.entry[${i}]`;
  if (!isJsonObject(entry)) {
    issues.push(issue('structure', 'A Bundle entry must be a JSON object', at));
    return undefined;
  }
  const resource = entry['resource'];
  const fullUrl = entry['fullUrl'];
  if (fullUrl !== undefined && (typeof fullUrl !== 'string' || fullUrl.trim() === '')) {
    issues.push(issue('value', 'fullUrl must be a non-empty string', `${at}.fullUrl`));
  }
  const putId = type ? checkEntryElements(entry, at, type, isJsonObject(resource) ? resource['resourceType'] : undefined, issues) : undefined;
  if (!isJsonObject(resource)) {
    issues.push(issue('required', 'The entry has no resource (only resources are accepted)', `${at}.resource`));
    return undefined;
  }
  return {
    resource,
    expr: `${at}.resource`,
    entryExpr: at,
    ...(typeof fullUrl === 'string' && fullUrl.trim() !== '' ? { fullUrl } : {}),
    ...(putId !== undefined ? { putId } : {}),
  };
}

/** request (required for transaction/batch, else prohibited), response and search (prohibited). Returns a PUT id. */
function checkEntryElements(entry: JsonObject, at: string, type: IngestBundleType, resourceType: unknown, issues: FhirIssue[]): string | undefined {
  for (const [element, rule] of [['search', 'bdl-2'], ['response', 'bdl-4']] as const) {
    if (entry[element] !== undefined) issues.push(issue('invariant', `entry.${element} is not allowed in a ${type} Bundle (${rule})`, `${at}.${element}`));
  }
  if (type === 'transaction' || type === 'batch') return checkRequest(entry['request'], `${at}.request`, type, resourceType, issues);
  if (entry['request'] !== undefined) issues.push(issue('invariant', `entry.request is only allowed in batch and transaction Bundles, not ${type} (bdl-3)`, `${at}.request`));
  return undefined;
}

function checkRequest(request: unknown, at: string, type: string, resourceType: unknown, issues: FhirIssue[]): string | undefined {
  if (request === undefined) {
    issues.push(issue('required', `Every entry of a ${type} Bundle needs a request (method POST or PUT)`, at));
    return undefined;
  }
  if (!isJsonObject(request)) {
    issues.push(issue('structure', 'entry.request must be an object', at));
    return undefined;
  }
  const method = request['method'];
  if (typeof method !== 'string' || !HTTP_VERBS.includes(method)) {
    issues.push(issue('code-invalid', `request.method must be one of ${HTTP_VERBS.join(', ')}`, `${at}.method`));
    return undefined;
  }
  if (method !== 'POST' && method !== 'PUT') {
    issues.push(issue('not-supported', `${method} entries are not accepted: only POST and PUT carry resources to store`, `${at}.method`));
    return undefined;
  }
  const url = request['url'];
  if (typeof url !== 'string' || url.trim() === '') {
    issues.push(issue('required', 'request.url is required', `${at}.url`));
    return undefined;
  }
  return method === 'POST' ? checkPostUrl(url, `${at}.url`, resourceType, issues) : checkPutUrl(url, `${at}.url`, resourceType, issues);
}

function checkPostUrl(url: string, at: string, resourceType: unknown, issues: FhirIssue[]): undefined {
  if (typeof resourceType === 'string' && url !== resourceType) {
    issues.push(issue('value', `A POST url must be the resource type "${resourceType}", not "${url}"`, at));
  }
  return undefined;
}

function checkPutUrl(url: string, at: string, resourceType: unknown, issues: FhirIssue[]): string | undefined {
  const form = classifyReference(url);
  if (form.kind === 'conditional') {
    issues.push(issue('not-supported', `Conditional updates (PUT ${url}) are not supported: PUT Type/id`, at));
    return undefined;
  }
  if (form.kind !== 'literal' || form.base !== undefined || form.version !== undefined) {
    issues.push(issue('value', `A PUT url must be Type/id, not "${url}"`, at));
    return undefined;
  }
  if (typeof resourceType === 'string' && form.type !== resourceType) {
    issues.push(issue('value', `PUT url "${url}" is not of the resource's type ${resourceType}`, at));
    return undefined;
  }
  return form.id;
}

// ---------------------------------------------------------------------------------------------------------------
// Identities: ids, fullUrls, Type/id keys

interface Identities {
  /** fullUrl → `Type/id`; null when the entry has no usable identity (its own issue says why) */
  readonly fullUrls: Map<string, string | null>;
  /** `Type/id` of every entry */
  readonly keys: Set<string>;
}

function assignIdentities(entries: readonly Entry[], issues: FhirIssue[]): Identities {
  const fullUrls = new Map<string, string | null>();
  const fullUrlAt = new Map<string, string>();
  const keyAt = new Map<string, string>();
  for (const entry of entries) {
    const type = entry.resource['resourceType'];
    if (typeof type !== 'string') continue;
    const id = entryId(entry, type, issues);
    const key = id !== undefined ? `${type}/${id}` : undefined;
    if (key !== undefined && entry.resource['id'] === undefined) entry.resource['id'] = id;
    if (entry.fullUrl !== undefined) {
      const other = fullUrlAt.get(entry.fullUrl);
      if (other !== undefined) {
        issues.push(issue('duplicate', `fullUrl ${entry.fullUrl} is also the fullUrl of ${other}`, `${entry.entryExpr}.fullUrl`));
        continue;
      }
      fullUrlAt.set(entry.fullUrl, entry.entryExpr ?? entry.expr);
      fullUrls.set(entry.fullUrl, key ?? null);
    }
    if (key === undefined) continue;
    const other = keyAt.get(key);
    if (other !== undefined) issues.push(issue('duplicate', `${key} occurs twice in the input (also ${other})`, `${entry.expr}.id`));
    keyAt.set(key, entry.entryExpr ?? entry.expr);
  }
  return { fullUrls, keys: new Set(keyAt.keys()) };
}

/**
 * The entry's id: its own, else that of its PUT url, else taken from a urn fullUrl. Conflicts with the PUT url or a
 * RESTful fullUrl are issues; a resource id that differs from its urn:uuid is fine (the mapping keeps both).
 */
function entryId(entry: Entry, type: string, issues: FhirIssue[]): string | undefined {
  const own = entry.resource['id'];
  if (own !== undefined && (typeof own !== 'string' || !FHIR_ID_PATTERN.test(own))) return undefined; // validation reports it
  let id = own as string | undefined;
  if (entry.putId !== undefined) {
    if (id !== undefined && id !== entry.putId) {
      issues.push(issue('value', `The PUT url's id "${entry.putId}" differs from the resource id "${id}"`, `${entry.entryExpr}.request.url`));
    }
    id ??= entry.putId;
  }
  if (entry.fullUrl === undefined) return id;
  const at = `${entry.entryExpr}.fullUrl`;
  const form = classifyReference(entry.fullUrl);
  switch (form.kind) {
    case 'urn': {
      const tail = form.urn.replace(/^urn:(uuid|oid):/, '');
      if (id === undefined && !FHIR_ID_PATTERN.test(tail)) {
        issues.push(issue('value', `The resource has no id and none can be made from ${form.urn}`, `${entry.expr}.id`));
      }
      return id ?? (FHIR_ID_PATTERN.test(tail) ? tail : undefined);
    }
    case 'literal':
      if (form.base === undefined) break;
      if (form.type !== type || (id !== undefined && form.id !== id)) {
        issues.push(issue('value', `fullUrl ${entry.fullUrl} does not match the resource ${type}/${id ?? '(no id)'}`, at));
      }
      return id ?? (form.type === type ? form.id : undefined);
    case 'url':
      return id;
    default:
      break;
  }
  issues.push(issue('value', `fullUrl must be an absolute URI (urn:uuid:…, urn:oid:… or a URL), not "${entry.fullUrl}"`, at));
  return id;
}

// ---------------------------------------------------------------------------------------------------------------
// References

interface ReferenceContext {
  readonly identities: Identities;
  readonly directory: ReferenceDirectory | undefined;
  readonly isBundle: boolean;
  readonly external: Set<string>;
  readonly issues: FhirIssue[];
  /** the directory's answers in this input: a Bundle names the same few practitioners and organisations many times */
  readonly resolutions: Map<string, Resolution>;
}

/** The `Type/id` to write instead of `reference` (in the object `where` locates), or undefined to keep it. */
function normaliseReference(reference: string, where: Where, context: ReferenceContext): string | undefined {
  const { identities, directory } = context;
  const form = classifyReference(reference);
  switch (form.kind) {
    case 'urn':
      if (!identities.fullUrls.has(reference)) {
        const why = context.isBundle ? 'is not the fullUrl of any entry in this Bundle' : 'can only refer to an entry of the same Bundle';
        context.issues.push(issue('not-found', `Reference ${reference} ${why}`, where('.reference')));
      }
      return identities.fullUrls.get(reference) ?? undefined;
    case 'conditional': {
      if (!directory) {
        context.issues.push(issue('not-found', `Conditional reference ${reference} cannot be resolved: no reference directory is configured`, where('.reference')));
        return undefined;
      }
      let resolved = context.resolutions.get(reference);
      if (resolved === undefined) context.resolutions.set(reference, (resolved = directory.resolve(reference)));
      if (!resolved.ok) context.issues.push(issue(resolved.code, resolved.message, where('.reference')));
      return resolved.ok ? resolved.reference : undefined;
    }
    case 'literal':
      if (form.base === undefined) {
        const key = `${form.type}/${form.id}`;
        if (!identities.keys.has(key) && !directory?.has(key)) context.external.add(reference);
        return undefined;
      }
      return localOrExternal(reference, context);
    case 'url':
      return localOrExternal(reference, context);
    default:
      return undefined; // #contained and malformed references: validation reports them
  }
}

/** An absolute URL: an entry's fullUrl becomes its `Type/id`, anything else is external. */
function localOrExternal(reference: string, context: ReferenceContext): string | undefined {
  const local = context.identities.fullUrls.get(reference);
  if (local) return local;
  if (!context.identities.fullUrls.has(reference)) context.external.add(reference);
  return undefined;
}

function patientRefsOf(entries: readonly Entry[]): string[] {
  const refs = new Set<string>();
  for (const { resource } of entries) {
    if (resource['resourceType'] === 'Patient' && typeof resource['id'] === 'string') refs.add(`Patient/${resource['id']}`);
    for (const element of ['subject', 'patient', 'beneficiary']) {
      const value = resource[element];
      const form = isJsonObject(value) && typeof value['reference'] === 'string' ? classifyReference(value['reference']) : undefined;
      if (form?.kind === 'literal' && form.type === 'Patient' && form.base === undefined) refs.add(`Patient/${form.id}`);
    }
  }
  return [...refs];
}

// ---------------------------------------------------------------------------------------------------------------
// Attachments (own-checks.ts finds them: the Attachment elements of r4-rules.ts, and Binary resources)

export { ATTACHMENT_ELEMENTS } from './r4-rules.js';

function describeAttachment(node: JsonObject, expr: string, resourceRef: string | undefined, limits: Limits, issues: FhirIssue[]): AttachmentInfo {
  const data = typeof node['data'] === 'string' ? node['data'] : undefined;
  const url = typeof node['url'] === 'string' ? node['url'] : undefined;
  const contentType = typeof node['contentType'] === 'string' ? node['contentType'] : undefined;
  const declared = typeof node['size'] === 'number' ? node['size'] : undefined;
  // invalid base64 has no size: validation reports it
  const size = data !== undefined ? base64DecodedLength(data) : undefined;
  if (data !== undefined && size !== undefined) checkInlineData(node, data, size, expr, limits, issues);
  const blob = url !== undefined ? blobLink(url, `${expr}.url`, issues) : undefined;
  return {
    ...(resourceRef !== undefined ? { resourceRef } : {}),
    path: expr,
    ...(contentType !== undefined ? { contentType } : {}),
    ...((size ?? declared) !== undefined ? { size: size ?? declared } : {}),
    inline: data !== undefined,
    ...(url !== undefined ? { url } : {}),
    ...(blob !== undefined ? { blob } : {}),
  };
}

function checkInlineData(node: JsonObject, data: string, size: number, expr: string, limits: Limits, issues: FhirIssue[]): void {
  if (size > limits.maxInlineAttachmentBytes) {
    issues.push(
      issue(
        'too-long',
        `Inline data of ${size} bytes exceeds the limit of ${limits.maxInlineAttachmentBytes}: send the content as a separate stream and link it by url (urn:pie:blob:<id>)`,
        `${expr}.data`,
      ),
    );
    return;
  }
  const declared = node['size'];
  if (typeof declared === 'number' && declared !== size) {
    issues.push(issue('value', `Attachment.size ${declared} does not match the ${size} bytes of data`, `${expr}.size`));
  }
  const hash = node['hash'];
  if (typeof hash === 'string' && hash !== createHash('sha1').update(Buffer.from(data, 'base64')).digest('base64')) {
    issues.push(issue('value', 'Attachment.hash is not the SHA-1 of the data', `${expr}.hash`));
  }
}

const PIE_BLOB = 'urn:pie:blob:';
const IPFS = 'ipfs://';
const BLOB_ID = /^[A-Za-z0-9._~-]{1,256}$/;

function blobLink(url: string, expr: string, issues: FhirIssue[]): BlobLink | undefined {
  if (url.startsWith(PIE_BLOB)) {
    const id = url.slice(PIE_BLOB.length);
    if (BLOB_ID.test(id)) return { kind: 'pie-blob', id };
    issues.push(issue('value', `"${url}" is not a valid blob link: urn:pie:blob:<id> with 1–256 characters of A–Z a–z 0–9 . _ ~ -`, expr));
    return undefined;
  }
  if (url.startsWith(IPFS)) {
    const cid = url.slice(IPFS.length);
    try {
      return { kind: 'ipfs', id: CID.parse(cid).toString() };
    } catch {
      issues.push(issue('value', `"${url}" does not hold a valid CID`, expr));
      return undefined;
    }
  }
  return undefined;
}
