// Sharing notifications: the `sharingEvents` subscription over real WebSockets (graphql-transport-ws) on a real node.
// Events come from real ledger transactions: signed actions relayed with PieLedger.submitAction, FHIR uploads.
// A subscription without `after` starts at the height when the node handles it, which the client cannot observe; the
// tests therefore make the subscriber's stream live by probing (an event it sees) until one arrives.
import WebSocket from 'ws';
import type { ActionType } from '../../chaincode/src/domain/index.js';
import { mintAccessToken } from '../../src/auth/index.js';
import { signAction } from '../../src/chain/pie-ledger.js';
import type { SubmitResult } from '../../src/chain/client.js';
import { PieApiError, subscribeSharingEvents } from '../../src/client/index.js';
import type { PieClient, SharingEvent, SharingEventStream, SubscribeSharingEventsOptions } from '../../src/client/index.js';
import { encodeEventCursor } from '../../src/exchange/sharing-events.js';
import { ActionPayloads } from '../../src/exchange/action-payloads.js';
import { registerCustodial, registerWithKeys, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';
import { smallBundle } from './small-bundle.js';

let t: TestNode;
let patientA: KeyHolder;
let patientB: KeyHolder;
let requester: KeyHolder; // a physician with its own keys
let doctor: { id: string; client: PieClient }; // custodial: uploads the records
let recordA: string;
let recordB: string;

const streams: SharingEventStream[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  t = await startTestNode();
  patientA = await registerWithKeys(t, 'PATIENT');
  patientB = await registerWithKeys(t, 'PATIENT');
  requester = await registerWithKeys(t, 'PHYSICIAN');
  doctor = await registerCustodial(t, 'PHYSICIAN');
  recordA = (await ingest(patientA.id)).records[0]!.id;
  recordB = (await ingest(patientB.id)).records[0]!.id;
}, 120_000);

afterEach(async () => {
  for (const s of streams.splice(0)) await s.return!();
  for (const s of sockets.splice(0)) s.terminate();
});

afterAll(async () => {
  await t?.stop();
});

// ---- helpers ----

interface Ingested {
  transactionId: string;
  blockNumber: number;
  records: { id: string }[];
}

async function ingest(patientId: string): Promise<Ingested> {
  const r = await doctor.client.request<{ ingestFhir: Ingested }>('mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { transactionId blockNumber records { id } } }', {
    b: smallBundle(),
    p: patientId,
  });
  return r.ingestFhir;
}

/** Signs an action in the participant's "client" and relays it as the node does. */
function act<T = Record<string, unknown>>(who: KeyHolder, type: ActionType, payload: Record<string, unknown>): Promise<SubmitResult<T>> {
  const ledger = t.node.services.ledger;
  return ledger.submitAction<T>(signAction(who.signingKey, who.id, type, payload, ledger.channel));
}

/** A physician who has not asked for anything yet (a requester may have one pending request per record). */
const newRequester = () => registerWithKeys(t, 'PHYSICIAN');
const requestAccess = (who: KeyHolder, emrId: string) => act<{ id: string }>(who, 'request-access', ActionPayloads.requestAccess({ emrId, purpose: 'treatment' }));
const deny = (patient: KeyHolder, requestId: string, reason: string) => act(patient, 'deny-request', ActionPayloads.denyAccessRequest({ requestId, reason }));
/** An event the participant sees (AccessRecorded): a patient's download of an own record, anyone else's query of a record. */
const probe = (who: KeyHolder, emrId: string) => act(who, 'record-operation', who === patientA || who === patientB ? { kind: 'download', emrId } : { kind: 'query', emrId });
const cursorOf = (r: SubmitResult<unknown>) => encodeEventCursor({ blockNumber: r.blockNumber, transactionId: r.transactionId, index: 0 });

function subscribe(who: KeyHolder, options: SubscribeSharingEventsOptions = {}): SharingEventStream {
  const s = subscribeSharingEvents(t.node.url, () => who.client.token(), { webSocketImpl: WebSocket, retryDelayMs: () => 50, ...options });
  streams.push(s);
  return s;
}

const delay = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms));

/** Probes until the stream delivers, then reads up to the last probe's event: what follows is what happens next. */
async function makeLive(stream: SharingEventStream, who: KeyHolder, emrId: string): Promise<void> {
  const first = stream.next();
  let lastProbe = '';
  for (let i = 0; i < 100; i++) {
    lastProbe = (await probe(who, emrId)).transactionId;
    if ((await Promise.race([first, delay(200)])) !== 'timeout') break;
  }
  let e = (await first).value as SharingEvent;
  while (e.transactionId !== lastProbe) e = await nextEvent(stream);
}

async function nextEvent(stream: SharingEventStream): Promise<SharingEvent> {
  const r = await stream.next();
  if (r.done) throw new Error('the stream ended');
  return r.value;
}

async function failure(stream: SharingEventStream): Promise<PieApiError> {
  const e = await stream.next().then(
    (r) => new Error(`expected the stream to fail, got ${JSON.stringify(r)}`),
    (err: unknown) => err,
  );
  if (!(e instanceof PieApiError)) throw e;
  return e;
}

type Message = { type: string; id?: string; payload?: unknown };

/** A bare graphql-transport-ws connection, to see the protocol's messages and close codes as they are. */
function raw(init: Record<string, unknown> | undefined, protocol = 'graphql-transport-ws') {
  const socket = new WebSocket(`${t.node.url.replace(/^http/, 'ws')}/graphql`, protocol);
  sockets.push(socket);
  const messages: Message[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Message);
    wake?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    closed,
    async init() {
      await opened;
      socket.send(JSON.stringify(init === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload: init }));
    },
    send(m: Message) {
      socket.send(JSON.stringify(m));
    },
    /** the next message matching `pred` */
    async receive(pred: (m: Message) => boolean = () => true): Promise<Message> {
      for (;;) {
        const i = messages.findIndex(pred);
        if (i >= 0) return messages.splice(i, 1)[0]!;
        await new Promise<void>((resolve) => {
          wake = resolve;
          void closed.then(() => resolve());
        });
        if (socket.readyState === WebSocket.CLOSED && messages.findIndex(pred) < 0) throw new Error(`closed while waiting: ${JSON.stringify(await closed)}`);
      }
    },
  };
}

const bearer = (who: KeyHolder) => `Bearer ${mintAccessToken({ signingKey: who.signingKey, participantId: who.id, audience: t.node.config.audience, lifetimeSeconds: 60 })}`;

/** An authenticated bare connection, acknowledged. */
async function rawAs(who: KeyHolder) {
  const c = raw({ authorization: bearer(who) });
  await c.init();
  expect(await c.receive()).toEqual({ type: 'connection_ack' });
  return c;
}

const SUBSCRIBE = 'subscription($after: String) { sharingEvents(after: $after) { cursor type emrId } }';

// ---- tests ----

describe('who receives what', () => {
  it('a patient receives AccessRequested for the patient’s record, and nothing about another patient’s record', async () => {
    const stream = subscribe(patientA);
    await makeLive(stream, patientA, recordA);
    const other = await requestAccess(requester, recordB); // B's record: not for A
    const mine = await requestAccess(requester, recordA);
    const e = await nextEvent(stream);
    expect(e).toEqual({
      cursor: expect.any(String),
      type: 'AccessRequested',
      transactionId: mine.transactionId,
      blockNumber: Number(mine.blockNumber),
      emrId: recordA,
      requestId: mine.result.id,
      grantId: null,
      operationId: null,
      actorId: requester.id,
      emergency: false,
      payload: { requestId: mine.result.id, emrId: recordA, patientId: patientA.id, requesterId: requester.id },
    });
    expect(other.blockNumber).toBeLessThanOrEqual(mine.blockNumber); // B's came first, and A did not receive it
    expect(stream.cursor).toBe(e.cursor);
  });

  it('a requester receives AccessDenied for its request, with the patient’s reason; the patient sees it too', async () => {
    const asker = await newRequester();
    const { result: request } = await requestAccess(asker, recordA);
    const asRequester = subscribe(asker);
    const asPatient = subscribe(patientA);
    await makeLive(asRequester, asker, recordB);
    await makeLive(asPatient, patientA, recordA);
    const denied = await deny(patientA, request.id, 'not now');
    for (const stream of [asRequester, asPatient]) {
      expect(await nextEvent(stream)).toMatchObject({
        type: 'AccessDenied',
        transactionId: denied.transactionId,
        requestId: request.id,
        emrId: recordA,
        actorId: asker.id,
        emergency: false,
        payload: { requestId: request.id, emrId: recordA, patientId: patientA.id, requesterId: asker.id, reason: 'not now' },
      });
    }
  });

  it('a patient receives one RecordCreated per own record of an upload, and accesses to them (AccessRecorded)', async () => {
    const stream = subscribe(patientB);
    await makeLive(stream, patientB, recordB);
    const upload = await ingest(patientB.id);
    expect(upload.records.length).toBeGreaterThan(1);
    const created = [];
    for (const _ of upload.records) created.push(await nextEvent(stream));
    expect(created.map((e) => [e.type, e.emrId, e.transactionId, e.actorId])).toEqual(upload.records.map((r) => ['RecordCreated', r.id, upload.transactionId, null]));
    expect(new Set(created.map((e) => e.cursor)).size).toBe(created.length);
    const query = await probe(requester, recordB);
    expect(await nextEvent(stream)).toMatchObject({ type: 'AccessRecorded', transactionId: query.transactionId, emrId: recordB, actorId: requester.id, operationId: expect.any(String), payload: { kind: 'query', patientId: patientB.id } });
  });
  it('break-glass and the accesses under it are flagged emergency, for the patient and the emergency physician', async () => {
    const er = await registerWithKeys(t, 'PHYSICIAN', { roles: ['emergency'] });
    const asPatient = subscribe(patientA);
    const asPhysician = subscribe(er);
    await makeLive(asPatient, patientA, recordA);
    await makeLive(asPhysician, er, recordB);
    const glass = await act<{ id: string }>(er, 'break-glass', ActionPayloads.breakGlass({ emrId: recordA, justification: 'unconscious patient in the emergency room' }));
    const access = await act<{ id: string }>(er, 'record-operation', ActionPayloads.openEmr({ emrId: recordA, grantId: glass.result.id }));
    for (const stream of [asPatient, asPhysician]) {
      expect(await nextEvent(stream)).toMatchObject({ type: 'BreakGlass', transactionId: glass.transactionId, grantId: glass.result.id, emrId: recordA, actorId: er.id, emergency: true });
      expect(await nextEvent(stream)).toMatchObject({
        type: 'AccessRecorded',
        transactionId: access.transactionId,
        operationId: access.result.id,
        grantId: glass.result.id,
        actorId: er.id,
        emergency: true,
        payload: { kind: 'reencrypt', patientId: patientA.id },
      });
    }
    // an access without an emergency grant is not flagged
    const query = await probe(er, recordA);
    expect(await nextEvent(asPatient)).toMatchObject({ type: 'AccessRecorded', transactionId: query.transactionId, grantId: null, emergency: false });
  });
});

describe('resuming from a cursor', () => {
  it('after a disconnect: exactly the missed events, in order, without duplicates, also from the middle of an upload', async () => {
    const askers = [await newRequester(), await newRequester(), await newRequester()];
    let stream = subscribe(patientA);
    await makeLive(stream, patientA, recordA);
    const first = await requestAccess(askers[0]!, recordA);
    const seen = await nextEvent(stream);
    expect(seen.transactionId).toBe(first.transactionId);
    await stream.return!();

    // while nobody listens: a request, an upload of two records, a request on B's record, a download
    const missed = [(await requestAccess(askers[1]!, recordA)).transactionId];
    const upload = await ingest(patientA.id);
    await requestAccess(askers[2]!, recordB);
    missed.push(...upload.records.map(() => upload.transactionId), (await probe(patientA, recordA)).transactionId);

    stream = subscribe(patientA, { after: seen.cursor });
    const got: SharingEvent[] = [];
    for (const _ of missed) got.push(await nextEvent(stream));
    expect(got.map((e) => e.transactionId)).toEqual(missed);
    expect(got.map((e) => e.type)).toEqual(['AccessRequested', ...upload.records.map(() => 'RecordCreated'), 'AccessRecorded']);
    expect(got.filter((e) => e.type === 'RecordCreated').map((e) => e.emrId)).toEqual(upload.records.map((r) => r.id));
    // nothing else came in between: the next event is the next thing that happens
    const marker = await probe(patientA, recordA);
    expect((await nextEvent(stream)).transactionId).toBe(marker.transactionId);
    await stream.return!();

    // from the first record of the upload: the other records of the same transaction, then what followed
    const middle = subscribe(patientA, { after: got[1]!.cursor });
    const rest = [];
    for (let i = 2; i < got.length; i++) rest.push(await nextEvent(middle));
    expect(rest.map((e) => e.cursor)).toEqual(got.slice(2).map((e) => e.cursor));
    expect((await nextEvent(middle)).transactionId).toBe(marker.transactionId);
  });

  it('the client reconnects by itself with a fresh token and resumes after the last event it delivered', async () => {
    const opened: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        opened.push(this);
      }
    }
    // the second connection waits (in its token) until the test lets it go, so events happen while disconnected
    let tokens = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stream = subscribeSharingEvents(
      t.node.url,
      async () => {
        if (++tokens === 2) await gate;
        return patientA.client.token();
      },
      { webSocketImpl: TrackedWebSocket, retryDelayMs: () => 10 },
    );
    streams.push(stream);
    const askers = [await newRequester(), await newRequester(), await newRequester()];
    await makeLive(stream, patientA, recordA);
    const before = await requestAccess(askers[0]!, recordA);
    expect((await nextEvent(stream)).transactionId).toBe(before.transactionId);

    const pending = stream.next(); // in flight while the connection drops
    opened[0]!.terminate(); // an abnormal close (1006): worth a reconnection
    const during = [(await requestAccess(askers[1]!, recordA)).transactionId, (await probe(patientA, recordA)).transactionId];
    release();
    const got = [(await pending).value as SharingEvent, await nextEvent(stream)];
    expect(got.map((e) => e.transactionId)).toEqual(during);
    const after = await requestAccess(askers[2]!, recordA);
    expect((await nextEvent(stream)).transactionId).toBe(after.transactionId);
    // one connection per token (more than two only if the held connection_init outlived the node's 3 s wait)
    expect(opened.length).toBeGreaterThanOrEqual(2);
    expect(tokens).toBe(opened.length);
  });

  it('a malformed cursor, or one of a transaction not in its block, is BAD_USER_INPUT', async () => {
    for (const after of ['nonsense', Buffer.from('{"b":1}').toString('base64url'), encodeEventCursor({ blockNumber: 1n, transactionId: 'f'.repeat(64), index: 0 })]) {
      const e = await failure(subscribe(patientA, { after }));
      expect({ code: e.code, status: e.status }).toEqual({ code: 'BAD_USER_INPUT', status: 400 });
      expect(e.message).toMatch(/^after: /);
    }
    // a real transaction, but in another block than the cursor says
    const { transactionId, blockNumber } = await probe(patientA, recordA);
    const e = await failure(subscribe(patientA, { after: encodeEventCursor({ blockNumber: blockNumber + 1n, transactionId, index: 0 }) }));
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', message: `after: transaction ${transactionId} is in block ${blockNumber}, not ${blockNumber + 1n}` });
  });
});

describe('authentication', () => {
  it('no token, a bad token or a replayed token: the connection is closed with 4401 and the reason', async () => {
    const none = raw(undefined);
    await none.init();
    expect(await none.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: connection_init needs \{"authorization": "Bearer <token>"\}/) });

    const garbage = raw({ authorization: 'Bearer abc.def.ghi' });
    await garbage.init();
    expect(await garbage.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: MALFORMED/) });

    const basic = raw({ authorization: 'Basic xyz' });
    await basic.init();
    expect(await basic.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: MALFORMED.*Bearer/) });

    const token = bearer(patientA);
    const once = raw({ authorization: token });
    await once.init();
    expect(await once.receive()).toEqual({ type: 'connection_ack' });
    const again = raw({ authorization: token });
    await again.init();
    expect(await again.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: REPLAYED/) });
  });

  it('the client helper reports a refused token as UNAUTHENTICATED and does not retry', async () => {
    let calls = 0;
    const stream = subscribeSharingEvents(t.node.url, () => (calls++, 'not-a-token'), { webSocketImpl: WebSocket, retryDelayMs: () => 10 });
    streams.push(stream);
    const e = await failure(stream);
    expect({ code: e.code, status: e.status }).toEqual({ code: 'UNAUTHENTICATED', status: 401 });
    expect(calls).toBe(1);
  });

  it('a participant suspended while subscribed: the subscription ends with UNAUTHENTICATED; a new connection is refused', async () => {
    const doomed = await registerWithKeys(t, 'PHYSICIAN');
    const { result: request } = await requestAccess(doomed, recordA);
    const stream = subscribe(doomed);
    await makeLive(stream, doomed, recordA);
    await t.admin.request('mutation($id: ID!) { setParticipantStatus(participantId: $id, status: SUSPENDED) { status } }', { id: doomed.id });
    await deny(patientA, request.id, 'suspended'); // an event about the suspended physician
    const e = await failure(stream);
    expect(e).toMatchObject({ code: 'UNAUTHENTICATED', message: `participant ${doomed.id} is suspended: the subscription ends` });
    const c = raw({ authorization: bearer(doomed) });
    await c.init();
    expect(await c.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: UNKNOWN_PARTICIPANT/) });
  });
});

describe('limits and protocol', () => {
  it('the HTTP API’s validation rules apply: too many aliases is GRAPHQL_VALIDATION_FAILED', async () => {
    const c = await rawAs(patientA);
    const fields = Array.from({ length: t.node.config.limits.maxAliases + 1 }, (_, i) => `a${i}: cursor`).join(' ');
    c.send({ type: 'subscribe', id: '1', payload: { query: `subscription { sharingEvents { ${fields} } }` } });
    const m = await c.receive((x) => x.id === '1');
    expect(m).toMatchObject({ type: 'error', payload: [{ message: expect.stringMatching(/aliases/i), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
  });

  it('queries and mutations are refused over WebSocket; syntax errors are GRAPHQL_PARSE_FAILED', async () => {
    const c = await rawAs(patientA);
    c.send({ type: 'subscribe', id: 'q', payload: { query: '{ me { id } }' } });
    expect(await c.receive((x) => x.id === 'q')).toMatchObject({ type: 'error', payload: [{ message: expect.stringMatching(/only subscriptions.*POST \/graphql/), extensions: { code: 'BAD_REQUEST' } }] });
    c.send({ type: 'subscribe', id: 'p', payload: { query: 'subscription {' } });
    expect(await c.receive((x) => x.id === 'p')).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    // the connection is still usable
    c.send({ type: 'subscribe', id: 's', payload: { query: SUBSCRIBE, variables: { after: 'nonsense' } } });
    expect(await c.receive((x) => x.id === 's')).toMatchObject({ type: 'next', payload: { errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] } });
  });

  it('at most PIE_WS_MAX_SUBSCRIPTIONS subscriptions per connection', async () => {
    const max = t.node.config.limits.wsMaxSubscriptions;
    const c = await rawAs(patientA);
    for (let i = 0; i < max; i++) c.send({ type: 'subscribe', id: `s${i}`, payload: { query: SUBSCRIBE } });
    c.send({ type: 'subscribe', id: 'over', payload: { query: SUBSCRIBE } });
    expect(await c.receive((x) => x.id === 'over')).toMatchObject({ type: 'error', payload: [{ message: `at most ${max} subscriptions per connection (PIE_WS_MAX_SUBSCRIPTIONS)`, extensions: { code: 'BAD_REQUEST' } }] });
    // one completed makes room for another (started after a known event, so it surely sees the next one)
    c.send({ type: 'complete', id: 's0' });
    const known = await probe(patientA, recordA);
    c.send({ type: 'subscribe', id: 'room', payload: { query: SUBSCRIBE, variables: { after: cursorOf(known) } } });
    const next = await probe(patientA, recordA);
    expect(await c.receive((x) => x.id === 'room')).toEqual({ type: 'next', id: 'room', payload: { data: { sharingEvents: { cursor: cursorOf(next), type: 'AccessRecorded', emrId: recordA } } } });
  });

  it('a message over PIE_WS_MAX_MESSAGE_BYTES closes the connection (1009)', async () => {
    const c = await rawAs(patientA);
    c.send({ type: 'subscribe', id: 'big', payload: { query: `subscription { sharingEvents { cursor } } # ${'x'.repeat(t.node.config.limits.wsMaxMessageBytes)}` } });
    expect((await c.closed).code).toBe(1009);
  });

  it('only the graphql-transport-ws subprotocol is spoken; another path has no WebSocket', async () => {
    const legacy = new WebSocket(`${t.node.url.replace(/^http/, 'ws')}/graphql`, 'graphql-ws'); // subscriptions-transport-ws
    sockets.push(legacy);
    const refusedLegacy = await new Promise<Error>((resolve) => legacy.once('error', resolve));
    expect(refusedLegacy.message).toMatch(/no subprotocol/);
    const elsewhere = new WebSocket(`${t.node.url.replace(/^http/, 'ws')}/health`, 'graphql-transport-ws');
    sockets.push(elsewhere);
    const status = await new Promise<number | undefined>((resolve) => {
      elsewhere.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      elsewhere.once('error', () => resolve(undefined));
    });
    expect(status).toBe(404);
  });

  it('sharingEvents over HTTP answers BAD_USER_INPUT pointing to WebSocket', async () => {
    await expect(patientA.client.request('subscription { sharingEvents { cursor } }')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/WebSocket/) });
  });
});

describe('node stop', () => {
  it('closes open subscription sockets (1001) and does not wait for their clients', async () => {
    const other = await startTestNode();
    try {
      const p = await registerWithKeys(other, 'PATIENT');
      const url = `${other.node.url.replace(/^http/, 'ws')}/graphql`;
      const socket = new WebSocket(url, 'graphql-transport-ws');
      sockets.push(socket);
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${mintAccessToken({ signingKey: p.signingKey, participantId: p.id, audience: other.node.config.audience, lifetimeSeconds: 60 })}` } }));
      await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
      socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: SUBSCRIBE } }));
      // a second socket that never answers the close handshake
      const silent = new WebSocket(url, 'graphql-transport-ws');
      sockets.push(silent);
      await new Promise((resolve) => silent.once('open', resolve));
      (silent as unknown as { _socket: { pause(): void } })._socket.pause();
      await other.node.stop();
      expect(await closed).toBe(1001);
    } finally {
      await other.stop();
    }
  }, 120_000);
});
