/**
 * GraphQL subscriptions over WebSocket on the node's HTTP server: the graphql-transport-ws protocol (graphql-ws's
 * `useServer` on a `ws` server) at /graphql, with the HTTP API's schema, context shape and validation rules.
 *
 * - Authentication at `connection_init`: `{ authorization: "Bearer <token>" }`, checked like the Authorization header
 *   (src/node/authenticate.ts). A missing or bad token closes the socket with 4401 and the reason; a busy node with
 *   1013 (try again later). The connection keeps the caller it authenticated as; each subscription checks on every
 *   event that the caller is still active.
 * - Only subscriptions: queries and mutations go to POST /graphql, where Apollo's CSRF prevention, size limits and
 *   error handling apply.
 * - Limits: the largest message a client may send (`ws` closes with 1009 past it), subscriptions per connection, a
 *   ping every keep-alive interval (a socket without a pong in time is dropped), and graphql-ws's 3 s to send
 *   `connection_init`.
 * - `close()` closes every socket (1001), waits briefly for the close handshakes, then cuts what is left, so that the
 *   HTTP server's close does not wait for WebSocket clients.
 *
 * No Origin check: browsers send no credentials here on their own (the token travels in `connection_init`), so a
 * page from another origin cannot ride on a user's session.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { getOperationAST, GraphQLError, parse, specifiedRules, validate } from 'graphql';
import type { DocumentNode, ExecutionResult, FormattedExecutionResult, GraphQLFormattedError, GraphQLSchema, ValidationRule } from 'graphql';
import type { Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Extra } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { toExchangeError } from '../exchange/errors.js';
import { createLoaders } from '../resolvers/index.js';
import type { Caller, NodeServices, RequestContext } from '../resolvers/index.js';
import type { Authenticate } from './authenticate.js';
import type { NodeConfig } from './config.js';
import type { Logger } from './log.js';

export const GRAPHQL_PATH = '/graphql';
/** How long close() waits for clients to answer the close handshake before it cuts their sockets. */
const CLOSE_GRACE_MS = 1_000;
/** WebSocket close codes (RFC 6455 and graphql-ws) */
const GOING_AWAY = 1001;
const TRY_AGAIN_LATER = 1013;
const UNAUTHORIZED = 4401;
const INTERNAL = 4500;

export interface SubscriptionServerOptions {
  readonly server: Server;
  readonly schema: GraphQLSchema;
  readonly services: NodeServices;
  readonly authenticate: Authenticate;
  /** the HTTP API's extra validation rules (depth, aliases, cost) */
  readonly validationRules: readonly ValidationRule[];
  /** the HTTP API's error formatting (codes, masking of internal errors) */
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  readonly limits: Pick<NodeConfig['limits'], 'wsMaxSubscriptions' | 'wsMaxMessageBytes' | 'wsKeepAliveMs'>;
  readonly production: boolean;
  readonly log: Logger;
}

export interface SubscriptionServer {
  /** open WebSocket connections */
  readonly connections: number;
  close(): Promise<void>;
}

type ConnectionParams = { authorization?: unknown };
type WsContext = Context<ConnectionParams, Extra & Partial<Record<PropertyKey, never>>>;

/** A close reason fits in a control frame: at most 123 bytes of UTF-8. */
function closeReason(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= 123) return text;
  return bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '') + '...';
}

const requestError = (message: string, code: string): GraphQLError => new GraphQLError(message, { extensions: { code } });

export function startSubscriptionServer(o: SubscriptionServerOptions): SubscriptionServer {
  const { server, schema, services, limits, log } = o;
  const rules = [...specifiedRules, ...o.validationRules];
  const callers = new WeakMap<WsContext, Caller>();
  const sockets = new Map<WebSocket, Promise<void>>();
  let closing = false;

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.wsMaxMessageBytes, clientTracking: true });
  wss.on('connection', (socket: WebSocket) => {
    sockets.set(socket, new Promise((resolve) => socket.once('close', () => resolve())));
    socket.once('close', () => sockets.delete(socket));
  });

  const format = (e: GraphQLError): GraphQLFormattedError => o.formatError(e.toJSON(), e.originalError ?? e);

  const refuse = (ctx: WsContext, code: number, reason: string): false => {
    log.info({ code, reason }, 'subscription connection refused');
    ctx.extra.socket.close(code, closeReason(reason));
    return false; // graphql-ws would close with 4403; the socket is already closing with the code above
  };

  const graphqlWs = useServer<ConnectionParams>(
    {
      schema,
      isProd: o.production,
      async onConnect(ctx) {
        const authorization = ctx.connectionParams?.authorization;
        if (typeof authorization !== 'string') return refuse(ctx, UNAUTHORIZED, 'UNAUTHENTICATED: connection_init needs {"authorization": "Bearer <token>"}');
        let caller: Caller | undefined;
        try {
          caller = await o.authenticate(authorization);
        } catch (e) {
          const err = toExchangeError(e);
          if (err.code === 'UNAUTHENTICATED') return refuse(ctx, UNAUTHORIZED, `UNAUTHENTICATED: ${err.message}`);
          if (err.code === 'UNAVAILABLE') return refuse(ctx, TRY_AGAIN_LATER, `UNAVAILABLE: ${err.message}`);
          log.error({ err: { name: err.name, message: err.message } }, 'subscription authentication failed');
          return refuse(ctx, INTERNAL, 'internal error');
        }
        if (caller === undefined) return refuse(ctx, UNAUTHORIZED, 'UNAUTHENTICATED: connection_init needs {"authorization": "Bearer <token>"}');
        callers.set(ctx, caller);
        log.debug({ participantId: caller.participant.id }, 'subscription connection');
        return true;
      },
      onSubscribe(ctx, id, payload) {
        const caller = callers.get(ctx);
        if (caller === undefined) return [requestError('the connection is not authenticated', 'UNAUTHENTICATED')];
        // graphql-ws has already counted this one
        if (Object.keys(ctx.subscriptions).length > limits.wsMaxSubscriptions) {
          return [requestError(`at most ${limits.wsMaxSubscriptions} subscriptions per connection (PIE_WS_MAX_SUBSCRIPTIONS)`, 'BAD_REQUEST')];
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: 10_000 });
        } catch (e) {
          return [requestError((e as Error).message, 'GRAPHQL_PARSE_FAILED')];
        }
        const invalid = validate(schema, document, rules);
        if (invalid.length > 0) return invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } }));
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [requestError('the document has no operation of that name, or several without operationName', 'BAD_REQUEST')];
        if (operation.operation !== 'subscription') {
          return [requestError(`a ${operation.operation} over WebSocket: only subscriptions are served here; send queries and mutations to POST ${GRAPHQL_PATH}`, 'BAD_REQUEST')];
        }
        const contextValue: RequestContext = { services, caller, loaders: createLoaders(services.ledger) };
        log.debug({ participantId: caller.participant.id, subscription: id }, 'subscribe');
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      onNext(_ctx, _id, _payload, _args, result: ExecutionResult): FormattedExecutionResult | void {
        if (result.errors === undefined) return;
        return { ...(result.data === undefined ? {} : { data: result.data }), errors: result.errors.map(format) };
      },
      onError(_ctx, _id, _payload, errors) {
        return errors.map(format);
      },
    },
    wss,
    limits.wsKeepAliveMs,
  );

  // After graphql-ws's handler: its socket 'error' listener writes to the console and closes the socket, which `ws`
  // has already done with the right code (1009 for a message over the limit, 1002 for a protocol error).
  wss.on('connection', (socket: WebSocket) => {
    socket.removeAllListeners('error');
    socket.on('error', (e: Error) => log.info({ err: e.message }, 'subscription socket error'));
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const refuseUpgrade = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (path !== GRAPHQL_PATH) return refuseUpgrade('404 Not Found');
    if (closing) return refuseUpgrade('503 Service Unavailable');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);

  return {
    get connections() {
      return sockets.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      server.off('upgrade', onUpgrade);
      for (const socket of sockets.keys()) socket.close(GOING_AWAY, 'the node is stopping');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(sockets.values()), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
      for (const socket of sockets.keys()) socket.terminate();
      await Promise.all(sockets.values());
      await graphqlWs.dispose();
    },
  };
}
