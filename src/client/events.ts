/**
 * Sharing notifications for Node and browsers: the `sharingEvents` subscription over graphql-ws (docs/sharing.md,
 * "Notifications"). The stream remembers the cursor of the last event it delivered; when the connection drops it
 * reconnects, with a fresh token (tokens are single-use), and resumes right after that cursor, so no event is missed
 * or delivered twice.
 *
 * Node 20 has no global WebSocket: pass the `ws` package's class as `webSocketImpl`.
 */
import { createClient } from 'graphql-ws/client';
import type { Client, ExecutionResult } from 'graphql-ws/client';
import { PieApiError } from './client.js';

/** One notification (the schema's SharingEvent). */
export interface SharingEvent {
  /** opaque; resume right after this event with `after: cursor` */
  cursor: string;
  /** AccessRequested, AccessGranted, AccessDenied, GrantRevoked, BreakGlass, AccessRecorded, RecordCreated */
  type: string;
  transactionId: string;
  blockNumber: number;
  emrId: string | null;
  requestId: string | null;
  grantId: string | null;
  operationId: string | null;
  /** the requester, grantee or operation actor */
  actorId: string | null;
  emergency: boolean;
  /** the contract's event payload */
  payload: Record<string, unknown> | null;
}

/** A fresh bearer token for each connection, e.g. `() => client.token()` of a PieClient. */
export type TokenFactory = () => string | undefined | Promise<string | undefined>;

export interface SubscribeSharingEventsOptions {
  /** resume right after this cursor (an event's `cursor`); absent: from the next commit on */
  after?: string;
  /** a WebSocket class (Node: `import WebSocket from 'ws'`); default the global WebSocket */
  webSocketImpl?: unknown;
  /** reconnections in a row, without an event in between, before the stream fails (default 8) */
  retryAttempts?: number;
  /** ms to wait before reconnection `attempt` (1, 2, …); default 0.5 s doubling to 15 s, plus up to 50 % jitter */
  retryDelayMs?: (attempt: number) => number;
}

/** The events, in ledger order; `return()` closes the connection. */
export interface SharingEventStream extends AsyncIterableIterator<SharingEvent> {
  /** the cursor of the last event delivered, or the `after` it started from */
  readonly cursor: string | undefined;
}

export const SHARING_EVENTS_SUBSCRIPTION =
  'subscription SharingEvents($after: String) { sharingEvents(after: $after) { cursor type transactionId blockNumber emrId requestId grantId operationId actorId emergency payload } }';

/** Close codes after which a reconnection cannot help: refused credentials or a request the node will refuse again. */
const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010, 4400, 4401, 4403, 4406, 4409, 4429, 4500]);
const CLOSE_ERROR_CODES: Readonly<Record<number, string>> = { 1009: 'PAYLOAD_TOO_LARGE', 1013: 'UNAVAILABLE', 4400: 'BAD_REQUEST', 4401: 'UNAUTHENTICATED', 4403: 'FORBIDDEN', 4500: 'INTERNAL' };
const HTTP_STATUS: Readonly<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNAVAILABLE: 503,
  BAD_USER_INPUT: 400,
  BAD_REQUEST: 400,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
};

const defaultDelay = (attempt: number): number => {
  const base = Math.min(15_000, 500 * 2 ** (attempt - 1));
  return base + Math.random() * base * 0.5;
};

/** The node's /graphql WebSocket URL from its base URL (http → ws, https → wss); ws:// and wss:// URLs are kept. */
export function sharingEventsUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.toString();
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`url: expected http(s):// or ws(s)://, got ${u.protocol}`);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  if (!u.pathname.endsWith('/graphql')) u.pathname = `${u.pathname.replace(/\/$/, '')}/graphql`;
  return u.toString();
}

interface CloseLike {
  code: number;
  reason: string;
}
const isCloseLike = (e: unknown): e is CloseLike => typeof e === 'object' && e !== null && typeof (e as CloseLike).code === 'number' && 'reason' in e;
const isGraphQLErrors = (e: unknown): e is { message: string; extensions?: { code?: unknown } }[] =>
  Array.isArray(e) && e.length > 0 && e.every((x) => typeof x === 'object' && x !== null && typeof (x as { message?: unknown }).message === 'string');

function graphqlError(errors: readonly { message: string; extensions?: { code?: unknown } }[]): PieApiError {
  const first = errors[0]!;
  const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL';
  return new PieApiError(code, first.message, HTTP_STATUS[code] ?? 500);
}

/** What ended a connection, and whether reconnecting may help. */
function classify(e: unknown): { error: Error; retry: boolean } {
  if (e instanceof PieApiError) return { error: e, retry: e.code === 'UNAVAILABLE' };
  if (isGraphQLErrors(e)) {
    const error = graphqlError(e);
    return { error, retry: error.code === 'UNAVAILABLE' };
  }
  if (isCloseLike(e)) {
    const code = CLOSE_ERROR_CODES[e.code] ?? 'UNAVAILABLE';
    const reason = String(e.reason || `connection closed (${e.code})`);
    return { error: new PieApiError(code, reason, HTTP_STATUS[code] ?? 500), retry: !FATAL_CLOSE_CODES.has(e.code) };
  }
  // a network failure (an error event from the socket) or anything else the transport raised
  return { error: e instanceof Error ? e : new PieApiError('UNAVAILABLE', 'the WebSocket connection failed', 503), retry: true };
}

/**
 * The caller's sharing events from the node at `url` (its base URL, e.g. http://127.0.0.1:4000, or the ws:// URL of
 * its /graphql). Ends with a PieApiError: UNAUTHENTICATED (refused token, suspended participant), BAD_USER_INPUT (a
 * bad `after`), or the last failure once `retryAttempts` reconnections in a row have failed.
 */
export function subscribeSharingEvents(url: string, tokenFactory: TokenFactory, options: SubscribeSharingEventsOptions = {}): SharingEventStream {
  const endpoint = sharingEventsUrl(url);
  const retryAttempts = options.retryAttempts ?? 8;
  const delayOf = options.retryDelayMs ?? defaultDelay;
  let cursor = options.after;
  let client: Client | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;

  async function* run(): AsyncGenerator<SharingEvent> {
    let failures = 0;
    for (;;) {
      let tokenError: unknown;
      const c = createClient({
        url: endpoint,
        ...(options.webSocketImpl === undefined ? {} : { webSocketImpl: options.webSocketImpl }),
        lazy: true,
        retryAttempts: 0, // reconnections are ours: each resumes from the newest cursor
        connectionParams: async () => {
          try {
            const token = await tokenFactory();
            if (token === undefined) throw new PieApiError('UNAUTHENTICATED', 'no token: sharingEvents needs credentials', 401);
            return { authorization: `Bearer ${token}` };
          } catch (e) {
            tokenError = e;
            throw e;
          }
        },
      });
      client = c;
      const results = c.iterate<{ sharingEvents: SharingEvent }>({ query: SHARING_EVENTS_SUBSCRIPTION, variables: cursor === undefined ? {} : { after: cursor } });
      let ended: unknown;
      try {
        for await (const result of results as AsyncIterable<ExecutionResult<{ sharingEvents: SharingEvent }>>) {
          if (result.errors !== undefined && result.errors.length > 0) throw result.errors;
          const event = result.data?.sharingEvents;
          if (event == null) continue;
          failures = 0;
          cursor = event.cursor;
          yield event;
        }
        // the node does not complete this subscription on its own: treat it as a dropped connection
        ended = new PieApiError('UNAVAILABLE', 'the node ended the subscription', 503);
      } catch (e) {
        ended = tokenError ?? e;
      } finally {
        await results.return?.();
        await Promise.resolve(c.dispose()).catch(() => undefined);
        client = undefined;
      }
      if (stopped) return;
      const { error, retry } = classify(ended);
      failures++;
      if (!retry || failures > retryAttempts) throw error;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayOf(failures));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      if (stopped) return;
    }
  }

  const inner = run();
  return {
    get cursor() {
      return cursor;
    },
    next: () => inner.next(),
    async return(value?: unknown) {
      stopped = true;
      // end a pending next() now: closing the connection (or the wait before the next one) ends the loop
      wake?.();
      await Promise.resolve(client?.dispose()).catch(() => undefined);
      await inner.return(undefined);
      return { done: true, value };
    },
    async throw(e?: unknown) {
      await this.return!();
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
