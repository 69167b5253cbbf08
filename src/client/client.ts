/**
 * The PIE client SDK's transport: GraphQL over HTTP (graphql-request) and the blob routes, with a fresh single-use
 * bearer token for every request. A participant with its own keys mints tokens locally (the signing key never
 * leaves the client); a custodial account exchanges its API secret at POST /auth/token.
 */
import { ClientError, GraphQLClient } from 'graphql-request';
import { mintAccessToken } from '../auth/mint.js';
import type { SecretKey } from '../crypto/umbral/index.js';

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

export class PieClient {
  readonly #graphql: GraphQLClient;

  constructor(
    /** the node's base URL, e.g. http://127.0.0.1:4000 */
    readonly url: string,
    /** the node's token audience (PIE_AUDIENCE; default pie://<organisation>) */
    readonly audience: string,
    readonly credentials?: Credentials,
  ) {
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
    return new PieClient(this.url, this.audience, credentials);
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
