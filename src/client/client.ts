/**
 * The PIE client SDK's transport: GraphQL over HTTP (graphql-request) and the blob routes, with a fresh single-use
 * bearer token for every request. A participant with its own keys mints tokens locally (the signing key never
 * leaves the client); a custodial account exchanges its API secret at POST /auth/token.
 */
import { ClientError, GraphQLClient } from 'graphql-request';
import { canonicalJson, canonicalRecordBytes } from '../../chaincode/src/domain/canonical.js';
import type { RecordSigningContent } from '../../chaincode/src/domain/canonical.js';
import { mintAccessToken } from '../auth/mint.js';
import { Signer } from '../crypto/umbral/index.js';
import type { SecretKey } from '../crypto/umbral/index.js';
import type { RecordMetadataInfo, RecordSummaryInfo } from './types.js';

export type Credentials =
  | { readonly participantId: string; readonly signingKey: SecretKey }
  | { readonly participantId: string; readonly apiSecret: string };

/** An error the node answered with: `code` is the API's stable code (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, …). */
export class PieApiError extends Error {
  override readonly name = 'PieApiError';
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status of the answer */
    readonly status: number,
    /** the FHIR OperationOutcome, for invalid FHIR input */
    readonly operationOutcome?: unknown,
  ) {
    super(message);
  }
}

const STATUS_CODES: Readonly<Record<number, string>> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 503: 'UNAVAILABLE' };

export interface BlobMetadata {
  cid: string;
  size: number;
  contentHash: string;
  capsule: string;
  envelopeVersion: number;
  plaintextBytes: number;
  mediaType: string;
}

/** A record for uploaded content, as createEmr takes it (GraphQL enum names: MEDICAL_IMAGING, PRIVATE, FEMALE …). */
export interface CreateEmrRequest extends RecordMetadataInfo {
  patientId: string;
  summary: {
    category: string;
    securityLevel: string;
    year: number;
    codes?: string[];
    resourceTypes?: string[];
    labels?: string[];
    gender?: string;
    ageBand?: string;
  };
}

/** A recorded EMR as createEmr answers it. */
export interface CreatedEmr {
  id: string;
  version: number;
  patientId: string;
  authorId: string;
  hospital: string;
  timestamp: string;
  authorSignature: string;
  transactionId: string;
  blockNumber: number | null;
  summary: RecordSummaryInfo;
  metadata: RecordMetadataInfo;
}

const EMR_FIELDS =
  'id version patientId authorId hospital timestamp authorSignature transactionId blockNumber summary { category securityLevel year codes resourceTypes labels gender ageBand } metadata { cid size contentHash capsule envelopeVersion mediaType }';

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** What every client of one node learns once and shares (clients made with `as`). */
interface NodeFacts {
  channel?: Promise<string>;
}

export class PieClient {
  readonly #graphql: GraphQLClient;
  readonly #node: NodeFacts;

  constructor(
    /** the node's base URL, e.g. http://127.0.0.1:4000 */
    readonly url: string,
    /** the node's token audience (PIE_AUDIENCE; default pie://<organisation>) */
    readonly audience: string,
    readonly credentials?: Credentials,
    node: NodeFacts = {},
  ) {
    this.#node = node;
    this.#graphql = new GraphQLClient(`${url}/graphql`, {
      requestMiddleware: async (request) => {
        const token = await this.token();
        if (token === undefined) return request;
        const headers = new Headers(request.headers as ConstructorParameters<typeof Headers>[0]);
        headers.set('authorization', `Bearer ${token}`);
        return { ...request, headers };
      },
    });
  }

  /** The same node as someone else. */
  as(credentials: Credentials | undefined): PieClient {
    return new PieClient(this.url, this.audience, credentials, this.#node);
  }

  /**
   * The channel of the node's ledger (signed into every action): asked once, with this client's credentials, and
   * shared with every client made from this one by `as`. A failed answer is not kept.
   */
  channel(): Promise<string> {
    const asked = (this.#node.channel ??= this.request<{ ledger: { channel: string } }>('{ ledger { channel } }').then((r) => r.ledger.channel));
    asked.catch(() => {
      if (this.#node.channel === asked) this.#node.channel = undefined;
    });
    return asked;
  }

  /**
   * Registers the organisation's first admin with the node's one-time bootstrap code (no token needed); the keys stay
   * here, only their public halves are sent. Returns this node's client acting as the new admin.
   */
  async registerFirstAdmin(code: string, keys: { signing: SecretKey; encryption: SecretKey }): Promise<PieClient> {
    const hex = (k: SecretKey): string => Array.from(k.publicKey().toCompressedBytes(), (b) => b.toString(16).padStart(2, '0')).join('');
    const { registerFirstAdmin } = await this.request<{ registerFirstAdmin: { id: string } }>(
      'mutation($c: String!, $s: String!, $e: String!) { registerFirstAdmin(code: $c, signingKey: $s, encryptionKey: $e) { id } }',
      { c: code, s: hex(keys.signing), e: hex(keys.encryption) },
    );
    return this.as({ participantId: registerFirstAdmin.id, signingKey: keys.signing });
  }

  /** A fresh token for one request (undefined without credentials). */
  async token(): Promise<string | undefined> {
    const c = this.credentials;
    if (c === undefined) return undefined;
    if ('signingKey' in c) return mintAccessToken({ signingKey: c.signingKey, participantId: c.participantId, audience: this.audience, lifetimeSeconds: 60 });
    const res = await fetch(`${this.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ participantId: c.participantId, apiSecret: c.apiSecret }),
    });
    const body = (await res.json()) as { access_token?: string; error?: { code: string; message: string } };
    if (!res.ok || body.access_token === undefined) throw new PieApiError(body.error?.code ?? 'UNAUTHENTICATED', body.error?.message ?? 'token exchange failed', res.status);
    return body.access_token;
  }

  /** One GraphQL operation; a node error becomes a PieApiError carrying the first error's code. */
  async request<T>(document: string, variables?: Record<string, unknown>): Promise<T> {
    try {
      return await this.#graphql.request<T>(document, variables);
    } catch (e) {
      if (e instanceof ClientError) {
        const first = e.response.errors?.[0];
        const ext = (first?.extensions ?? {}) as { code?: string; operationOutcome?: unknown };
        // refusals made before GraphQL runs (a bad token, a body too large) answer {error: {code, message}}
        const early = (e.response as { error?: { code?: string; message?: string } }).error;
        const code = ext.code ?? early?.code ?? STATUS_CODES[e.response.status] ?? 'INTERNAL';
        throw new PieApiError(code, first?.message ?? early?.message ?? e.message, e.response.status, ext.operationOutcome);
      }
      throw e;
    }
  }

  /** POST /blobs: streams content to the node, which encrypts it under the patient's public key and stores it. */
  async uploadBlob(patientId: string, body: Uint8Array | ReadableStream<Uint8Array>, mediaType: string): Promise<BlobMetadata> {
    const res = await fetch(`${this.url}/blobs?patientId=${encodeURIComponent(patientId)}`, {
      method: 'POST',
      headers: { 'content-type': mediaType, ...(await this.#auth()) },
      body,
      ...(body instanceof Uint8Array ? {} : { duplex: 'half' }),
    } as RequestInit);
    return this.#json<BlobMetadata>(res);
  }

  /**
   * Records content stored with `uploadBlob` (pass its answer with the patient id and a summary). A custodial account
   * has the node sign (createEmr). With a signing key here, the node checks the content and builds the record
   * (prepareCreateEmr); this client checks that the record is the one asked for, by itself and as the bytes to sign,
   * signs it locally (the key never leaves) and commits it (commitCreateEmr).
   */
  async createEmr(request: CreateEmrRequest): Promise<CreatedEmr> {
    const { patientId, cid, size, contentHash, capsule, envelopeVersion, mediaType, summary } = request;
    const input = { patientId, cid, size, contentHash, capsule, envelopeVersion, mediaType, summary };
    const c = this.credentials;
    if (c === undefined || !('signingKey' in c)) {
      return (await this.request<{ createEmr: CreatedEmr }>(`mutation($i: CreateEmrInput!) { createEmr(input: $i) { ${EMR_FIELDS} } }`, { i: input })).createEmr;
    }
    const { prepareCreateEmr: draft } = await this.request<{ prepareCreateEmr: { draftId: string; record: RecordSigningContent; signingPayload: string } }>(
      'mutation($i: CreateEmrInput!) { prepareCreateEmr(input: $i) { draftId record signingPayload } }',
      { i: input },
    );
    const bytes = canonicalRecordBytes(draft.record);
    checkDraft(draft.record, input, c.participantId);
    if (toHex(bytes) !== toHex(Uint8Array.from(atob(draft.signingPayload), (ch) => ch.charCodeAt(0)))) {
      throw new Error('refusing to sign: the node’s signingPayload is not the canonical bytes of its record');
    }
    const signature = toHex(new Signer(c.signingKey).sign(bytes).toBEBytes());
    return (
      await this.request<{ commitCreateEmr: CreatedEmr }>(`mutation($d: ID!, $s: String!) { commitCreateEmr(draftId: $d, signature: $s) { ${EMR_FIELDS} } }`, {
        d: draft.draftId,
        s: signature,
      })
    ).commitCreateEmr;
  }

  /** GET /blobs/:cid: the stored envelope (ciphertext), streamed. */
  async downloadBlob(cid: string): Promise<ReadableStream<Uint8Array>> {
    const res = await fetch(`${this.url}/blobs/${encodeURIComponent(cid)}`, { headers: await this.#auth() });
    if (!res.ok || res.body === null) await this.#json(res);
    return res.body!;
  }

  async #auth(): Promise<Record<string, string>> {
    const token = await this.token();
    return token === undefined ? {} : { authorization: `Bearer ${token}` };
  }

  async #json<T>(res: Response): Promise<T> {
    const body = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
    if (!res.ok) throw new PieApiError(body.error?.code ?? 'INTERNAL', body.error?.message ?? `HTTP ${res.status}`, res.status);
    return body;
  }
}

/** GraphQL enum name → the ledger's value (MEDICAL_IMAGING → medical-imaging, FEMALE → female). */
const ledgerValue = (name: string): string => name.toLowerCase().replace(/_/g, '-');

/** Throws unless the node's draft record is exactly the record asked for, authored by `authorId`. */
function checkDraft(record: RecordSigningContent, input: Omit<CreateEmrRequest, 'summary'> & { summary: CreateEmrRequest['summary'] }, authorId: string): void {
  const s = input.summary;
  const expected = {
    version: 1,
    previousId: undefined,
    patientId: input.patientId,
    authorId,
    metadata: { cid: input.cid, size: input.size, mediaType: input.mediaType, contentHash: input.contentHash, capsule: input.capsule, envelopeVersion: input.envelopeVersion },
    summary: {
      category: ledgerValue(s.category),
      securityLevel: s.securityLevel,
      codes: s.codes ?? [],
      year: s.year,
      resourceTypes: s.resourceTypes ?? [],
      labels: s.labels ?? [],
      gender: s.gender == null ? undefined : ledgerValue(s.gender),
      ageBand: s.ageBand ?? undefined,
    },
  };
  for (const [field, value] of Object.entries(expected)) {
    const got = (record as unknown as Record<string, unknown>)[field];
    if (canonicalJson(got ?? null) !== canonicalJson(value ?? null)) throw new Error(`refusing to sign: the node’s draft differs from the request in ${field}`);
  }
}
