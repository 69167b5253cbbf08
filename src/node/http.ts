/**
 * The node's HTTP surface on node:http (no framework: five routes, and the blob routes must stream):
 *
 *   POST|GET /graphql         Apollo Server (executeHTTPGraphQLRequest), CSRF prevention, depth/alias/cost limits
 *   GET      /health          liveness and the ledger height
 *   POST     /blobs           streams content into the encrypted pipeline for a patient → Table 4 metadata
 *   GET      /blobs/:cid      streams stored ciphertext back, to the record's patient, author or a grantee
 *   GET      /emrs/:id/content  custodial accounts: the node records the read, opens the record and streams the plaintext
 *   POST     /auth/token      custodial accounts: API secret → a short-lived token signed with the account's key
 *
 * Every route but /health and /auth/token needs `Authorization: Bearer <JWS>` (src/auth); /graphql without a token
 * serves only what needs none (registerFirstAdmin). Errors are JSON with a stable `code`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import type { GraphQLError, GraphQLFormattedError, ValidationContext } from 'graphql';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { unwrapResolverError } from '@apollo/server/errors';
import { PARTICIPANT_ID } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, Participant } from '../../chaincode/src/domain/index.js';
import { AuthError, mintAccessToken } from '../auth/index.js';
import type { AccessTokenVerifier } from '../auth/index.js';
import { ExchangeError, HTTP_STATUS, toExchangeError } from '../exchange/errors.js';
import { mayLocateContent } from '../resolvers/access.js';
import { serveCustodialContent } from '../exchange/custodial-reader.js';
import { buildPieSchema, createLoaders } from '../resolvers/index.js';
import type { Caller, NodeServices, RequestContext } from '../resolvers/index.js';
import { PublicKey } from '../crypto/umbral/index.js';
import { storeEmr } from '../storage/index.js';
import { bearerAuthenticator } from './authenticate.js';
import type { NodeConfig } from './config.js';
import { startSubscriptionServer } from './subscriptions.js';
import type { Logger } from './log.js';

export interface HttpDependencies {
  readonly services: NodeServices;
  readonly verifier: AccessTokenVerifier;
  /** the callers' ledger entries, shared with the verifier */
  readonly callers: { get(id: string): Promise<Participant | undefined> };
  readonly config: Pick<NodeConfig, 'limits' | 'production' | 'audience' | 'auth'>;
  readonly log: Logger;
}

export interface PieHttpServer {
  readonly server: Server;
  readonly apollo: ApolloServer<RequestContext>;
  close(): Promise<void>;
}

const REPORT = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

const JSON_TYPE = 'application/json; charset=utf-8';

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendError(res: ServerResponse, e: ExchangeError): void {
  const body: Record<string, unknown> = { error: { code: e.code, message: e.code === 'INTERNAL' ? 'internal error' : e.message } };
  sendJson(res, HTTP_STATUS[e.code], body);
}

/** Reads a request body up to `limit` bytes (PAYLOAD_TOO_LARGE past it, without buffering the rest). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new ExchangeError('PAYLOAD_TOO_LARGE', `the request body is ${declared} bytes; the limit is ${limit}`);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ExchangeError('PAYLOAD_TOO_LARGE', `the request body exceeds ${limit} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/**
 * GraphQL errors: Apollo's own request errors (parse, validation, variables) as they are; resolver errors mapped onto
 * the API's codes (toExchangeError: ledger, storage and FHIR errors included) with their message; anything else
 * masked, and logged with a reference.
 */
function formatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    const original = unwrapResolverError(error);
    const e = original instanceof AuthError ? new ExchangeError('UNAUTHENTICATED', original.message) : toExchangeError(original);
    if (e.code !== 'INTERNAL') {
      const extensions: Record<string, unknown> = { code: e.code };
      if (e.outcome !== undefined) extensions.operationOutcome = e.outcome;
      return { message: e.message, locations: formatted.locations, path: formatted.path, extensions };
    }
    const reference = randomUUID();
    log.error({ reference, err: original instanceof Error ? { name: original.name, message: original.message, stack: original.stack } : String(original) }, 'internal error');
    return { message: `internal error (reference ${reference})`, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR', reference } };
  };
}

/** The records whose content is `cid`: from the node's record index when it has this node's commits, else the chaincode. */
async function recordsStoredAt(services: NodeServices, cid: string): Promise<EmrRecord[]> {
  const model = services.recordIndex;
  if (model !== undefined && (await model.readyFor(services.ledger.committedHeight))) {
    const ids = model.index.list('cid', [cid]);
    const out: EmrRecord[] = [];
    for (let i = 0; ids !== undefined && i < ids.size && i < 10; i++) out.push(model.index.get(ids.at(i)!)!);
    return out;
  }
  return (await services.ledger.searchRecords('cid', [cid], { pageSize: 10 })).items;
}

export async function startHttpServer(deps: HttpDependencies, listen: { host: string; port: number }): Promise<PieHttpServer> {
  const { services, verifier, callers, config, log } = deps;
  const schema = await buildPieSchema();
  const limits = config.limits;
  // Refusals are reported as validation errors (400 GRAPHQL_VALIDATION_FAILED), not thrown (which Apollo masks as 500).
  // The same rules check subscription documents (src/node/subscriptions.ts).
  const validationRules = [
    maxDepthRule({ n: limits.maxQueryDepth, ignoreIntrospection: true, ...REPORT }),
    maxAliasesRule({ n: limits.maxAliases, ...REPORT }),
    costLimitRule({ maxCost: limits.maxQueryCost, ignoreIntrospection: true, ...REPORT }),
  ];
  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: !config.production,
    csrfPrevention: true,
    stopOnTerminationSignals: false, // the node stops Apollo itself, in order (src/main.ts)
    includeStacktraceInErrorResponses: false,
    validationRules,
    formatError: formatError(log),
    plugins: [
      config.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ footer: false, embed: true }),
      // No cache hints are used (every answer depends on the caller): Apollo's cache-control plugin would only wrap
      // every field resolver to compute a policy that is always "no cache" (≈ 7 % of a search request's CPU).
      ApolloServerPluginCacheControlDisabled(),
    ],
  });
  await apollo.start();

  // one check for the Authorization header and for connection_init over WebSocket
  const authenticateBearer = bearerAuthenticator({ verifier, callers, custody: services.custody });

  /** The caller of a request: undefined without a token; UNAUTHENTICATED for a bad one. */
  function authenticate(req: IncomingMessage): Promise<Caller | undefined> {
    return authenticateBearer(req.headers.authorization);
  }

  async function graphql(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const caller = await authenticate(req);
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, limits.maxRequestBytes);
      const type = headers.get('content-type') ?? '';
      if (type.startsWith('application/json')) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new ExchangeError('BAD_USER_INPUT', 'the request body is not valid JSON');
        }
      } else {
        body = raw.toString('utf8'); // Apollo answers 400 (and CSRF prevention refuses simple requests)
      }
    }
    const context: RequestContext = { services, caller, loaders: createLoaders(services.ledger) };
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => context,
    });
    res.statusCode = result.status ?? 200;
    for (const [k, v] of result.headers) res.setHeader(k, v);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  /** POST /blobs?patientId=…: plaintext in, envelope under the patient's public key stored and pinned, metadata out. */
  async function putBlob(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const caller = await authenticate(req);
    if (caller === undefined) throw new ExchangeError('UNAUTHENTICATED', 'POST /blobs needs a bearer token');
    const me = caller.participant;
    if (me.kind !== 'physician' && me.kind !== 'patient') throw new ExchangeError('FORBIDDEN', 'only a physician, or a patient for the patient’s own data, uploads EMR content');
    const patientId = url.searchParams.get('patientId') ?? '';
    if (!PARTICIPANT_ID.test(patientId)) throw new ExchangeError('BAD_USER_INPUT', 'patientId: a participant id (32 hex characters) is required as a query parameter');
    if (me.kind === 'patient' && patientId !== me.id) throw new ExchangeError('FORBIDDEN', 'a patient uploads only the patient’s own data');
    const mediaType = (req.headers['content-type'] ?? 'application/octet-stream').trim();
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limits.maxBlobBytes) throw new ExchangeError('PAYLOAD_TOO_LARGE', `the content is ${declared} bytes; the limit is ${limits.maxBlobBytes}`);
    const patient = await services.ledger.participant(patientId);
    if (patient.kind !== 'patient' || patient.status !== 'active') throw new ExchangeError('BAD_USER_INPUT', `patientId: ${patientId} is not an active patient`);
    const pk = PublicKey.fromCompressedBytes(Buffer.from(patient.encryptionKey, 'hex'));
    // The envelope adds a little per segment; cap the plaintext, and the store caps the envelope.
    let plaintextBytes = 0;
    const source = (async function* () {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        plaintextBytes += chunk.length;
        if (plaintextBytes > limits.maxBlobBytes) throw new ExchangeError('PAYLOAD_TOO_LARGE', `the content exceeds ${limits.maxBlobBytes} bytes`);
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      }
    })();
    const stored = await storeEmr(services.blobs, source, pk);
    log.info({ cid: stored.cid, size: stored.size, participantId: me.id }, 'blob stored');
    sendJson(res, 201, { ...stored, mediaType });
  }

  /** GET /blobs/:cid: the stored ciphertext, for a party to a record holding it or a live grantee. */
  async function getBlob(req: IncomingMessage, res: ServerResponse, cid: string): Promise<void> {
    const caller = await authenticate(req);
    if (caller === undefined) throw new ExchangeError('UNAUTHENTICATED', 'GET /blobs needs a bearer token');
    const { ledger, blobs } = services;
    const records = await recordsStoredAt(services, cid);
    const context: RequestContext = { services, caller, loaders: createLoaders(ledger) };
    let allowed = false;
    for (const r of records) if (await mayLocateContent(context, r)) allowed = true;
    // Same answer for "not recorded" and "not yours": no oracle for which CIDs exist.
    if (!allowed) throw new ExchangeError('NOT_FOUND', `no content ${cid} you may read`);
    const stat = await blobs.stat(cid);
    res.writeHead(200, { 'content-type': 'application/vnd.pie.envelope', 'content-length': stat.size, 'cache-control': 'no-store' });
    try {
      for await (const chunk of blobs.get(cid)) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      res.end();
    } catch (e) {
      log.warn({ cid, err: (e as Error).message }, 'blob stream failed');
      res.destroy(e as Error);
    }
  }

  /** GET /emrs/:id/content[?grantId=…]: a custodial account's read, recorded on the ledger first (src/exchange/custodial-reader.ts). */
  async function emrContent(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    const caller = await authenticate(req);
    if (caller === undefined) throw new ExchangeError('UNAUTHENTICATED', 'GET /emrs/:id/content needs a bearer token');
    const context: RequestContext = { services, caller, loaders: createLoaders(services.ledger) };
    await serveCustodialContent(context, res, id, url.searchParams.get('grantId') ?? undefined, log);
  }

  /** POST /auth/token {participantId, apiSecret}: a custodial account's client credentials → a short-lived token. */
  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, 4096);
    let body: { participantId?: unknown; apiSecret?: unknown };
    try {
      body = JSON.parse(raw.toString('utf8')) as typeof body;
    } catch {
      throw new ExchangeError('BAD_USER_INPUT', 'the body must be JSON {participantId, apiSecret}');
    }
    const id = typeof body.participantId === 'string' ? body.participantId : '';
    const secret = typeof body.apiSecret === 'string' ? body.apiSecret : '';
    if (!PARTICIPANT_ID.test(id) || !services.custody.verifyApiSecret(id, secret)) throw new ExchangeError('UNAUTHENTICATED', 'unknown custodial account or wrong API secret');
    const lifetimeSeconds = Math.min(300, config.auth.maxTokenLifetimeSeconds);
    const accessToken = await services.custody.withKeys(id, (k) => mintAccessToken({ signingKey: k.signing, participantId: id, audience: config.audience, lifetimeSeconds }));
    sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: lifetimeSeconds, single_use: true });
  }

  async function health(res: ServerResponse): Promise<void> {
    const status = await services.ledgerStatus();
    sendJson(res, 200, { status: 'ok', organisation: services.organisation, ledgerHeight: status.height });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/graphql' && (req.method === 'POST' || req.method === 'GET')) return graphql(req, res, url);
    if (path === '/health' && req.method === 'GET') return health(res);
    if (path === '/blobs' && req.method === 'POST') return putBlob(req, res, url);
    const blob = /^\/blobs\/([A-Za-z0-9]{10,200})$/.exec(path);
    if (blob !== null && req.method === 'GET') return getBlob(req, res, blob[1]!);
    const content = /^\/emrs\/([^/]{1,128})\/content$/.exec(path);
    if (content !== null && req.method === 'GET') return emrContent(req, res, url, content[1]!);
    if (path === '/auth/token' && req.method === 'POST') return token(req, res);
    sendError(res, new ExchangeError('NOT_FOUND', `no route ${req.method ?? ''} ${path}`));
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    route(req, res)
      .catch((e: unknown) => {
        const err = toExchangeError(e);
        if (err.code === 'INTERNAL') log.error({ err: { name: (e as Error).name, message: (e as Error).message, stack: (e as Error).stack } }, 'request failed');
        // refused before the whole body arrived (a partly read body is not drained by resume()): do not reuse the socket
        if (!res.headersSent && !req.complete) res.setHeader('connection', 'close');
        if (!res.headersSent) sendError(res, err);
        else res.destroy();
        // drain what the client still sends, so it reads our answer instead of a reset
        req.resume();
      })
      .finally(() => {
        log.debug({ method: req.method, path: (req.url ?? '').split('?')[0], status: res.statusCode, ms: Math.round(performance.now() - started) }, 'request');
      });
  });
  server.requestTimeout = 0; // large blob uploads stream for as long as they take
  server.headersTimeout = 30_000;
  const subscriptions = startSubscriptionServer({
    server,
    schema,
    services,
    authenticate: authenticateBearer,
    validationRules,
    formatError: formatError(log),
    limits,
    production: config.production,
    log,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return {
    server,
    apollo,
    async close() {
      await subscriptions.close(); // open WebSocket connections would keep server.close waiting
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await apollo.stop();
    },
  };
}
