/**
 * Sharing notifications (docs/sharing.md, "Notifications"): the contract's chaincode events as one participant may
 * see them, each with a cursor to resume after it.
 *
 * Who sees what: an event whose payload names the participant as the record's patient (`patientId`), or as the
 * requester / grantee / actor of the request, grant or operation. A RecordsCreated batch becomes one RecordCreated
 * per record, each seen only by that record's patient. Registrations, status changes and policy changes are not
 * sharing events.
 *
 * Cursors are base64url JSON `{b, t, i}`: the block, the transaction and the event's index within the transaction
 * (Fabric keeps one chaincode event per transaction, so the index is 0, except for the records of a batch, where it is
 * the record's position). Resuming streams the ledger's events again from the cursor's block and skips everything up
 * to and including the cursor, so a client receives exactly what came after it.
 */
import { MAX_BATCH_RECORDS } from '../../chaincode/src/domain/index.js';
import type { Participant } from '../../chaincode/src/domain/index.js';
import { LedgerClientError } from '../chain/client.js';
import type { LedgerEvent } from '../chain/client.js';
import type { PieLedger } from '../chain/pie-ledger.js';
import { ExchangeError } from './errors.js';

export const SHARING_EVENT_TYPES = ['AccessRequested', 'AccessGranted', 'AccessDenied', 'GrantRevoked', 'BreakGlass', 'AccessRecorded', 'RecordCreated'] as const;
export type SharingEventType = (typeof SHARING_EVENT_TYPES)[number];

/** One notification, as the API serves it. */
export interface SharingEventData {
  readonly cursor: string;
  readonly type: SharingEventType;
  readonly transactionId: string;
  readonly blockNumber: number;
  readonly emrId: string | null;
  readonly requestId: string | null;
  readonly grantId: string | null;
  readonly operationId: string | null;
  /** the requester, grantee or operation actor; null for RecordCreated */
  readonly actorId: string | null;
  /** break-glass, or an access or revocation on an emergency grant */
  readonly emergency: boolean;
  /** the chaincode event's payload (for a record of a batch: that record's entry only) */
  readonly payload: Record<string, unknown>;
}

/** Where an event is on the chain. */
export interface EventCursor {
  readonly blockNumber: bigint;
  readonly transactionId: string;
  /** the event's index within its transaction */
  readonly index: number;
}

/** What a notification stream needs of the node. */
export interface SharingEventSource {
  readonly ledger: PieLedger;
  /** the participant's current ledger entry (the node's caller cache) */
  currentParticipant(id: string): Promise<Participant | undefined>;
}

const TX_ID = /^[0-9a-f]{64}$/;
/** how many grants a stream remembers as emergency or not (a grant's emergency flag never changes) */
const GRANT_MEMO = 1_000;

export const encodeEventCursor = (c: EventCursor): string =>
  Buffer.from(JSON.stringify({ b: Number(c.blockNumber), t: c.transactionId, i: c.index }), 'utf8').toString('base64url');

const notACursor = (): ExchangeError => new ExchangeError('BAD_USER_INPUT', 'after: not a sharingEvents cursor (pass the cursor of an event exactly as received)');

/** The cursor in `after`, checked field by field; BAD_USER_INPUT for anything else. */
export function decodeEventCursor(text: unknown): EventCursor {
  if (typeof text !== 'string' || text.length === 0 || text.length > 256 || !/^[A-Za-z0-9_-]+$/.test(text)) throw notACursor();
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw notACursor();
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw notACursor();
  const o = c as Record<string, unknown>;
  if (Object.keys(o).length !== 3) throw notACursor();
  const { b, t, i } = o;
  if (typeof b !== 'number' || !Number.isSafeInteger(b) || b < 0) throw notACursor();
  if (typeof t !== 'string' || !TX_ID.test(t)) throw notACursor();
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= MAX_BATCH_RECORDS) throw notACursor();
  return { blockNumber: BigInt(b), transactionId: t, index: i };
}

/** A sharing event before the stream adds its position and emergency flag. */
export interface VisibleEvent {
  readonly index: number;
  readonly type: SharingEventType;
  readonly emrId: string | null;
  readonly requestId: string | null;
  readonly grantId: string | null;
  readonly operationId: string | null;
  readonly actorId: string | null;
  readonly payload: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const TYPES: ReadonlySet<string> = new Set(SHARING_EVENT_TYPES);

function view(type: SharingEventType, index: number, p: Record<string, unknown>): VisibleEvent {
  return {
    index,
    type,
    emrId: text(p.emrId) ?? text(p.recordId),
    requestId: text(p.requestId),
    grantId: text(p.grantId),
    operationId: text(p.operationId),
    actorId: text(p.requesterId) ?? text(p.granteeId) ?? text(p.actorId),
    payload: p,
  };
}

/** The sharing events a chaincode event makes for `participantId`: none when it is not about the participant. */
export function eventsFor(participantId: string, event: Pick<LedgerEvent<unknown>, 'name' | 'payload'>): VisibleEvent[] {
  const p = event.payload;
  if (!isObject(p)) return [];
  if (event.name === 'RecordsCreated') {
    const records = Array.isArray(p.records) ? p.records : [];
    return records.flatMap((r: unknown, i) => (isObject(r) && r.patientId === participantId ? [view('RecordCreated', i, r)] : []));
  }
  if (!TYPES.has(event.name)) return [];
  const v = view(event.name as SharingEventType, 0, p);
  return p.patientId === participantId || v.actorId === participantId ? [v] : [];
}

/** BAD_USER_INPUT unless the cursor's transaction is on this ledger, in the cursor's block. */
async function checkOnLedger(ledger: PieLedger, c: EventCursor): Promise<void> {
  let block: bigint;
  try {
    block = await ledger.transactionBlockNumber(c.transactionId);
  } catch (e) {
    if (e instanceof LedgerClientError && e.code === 'NOT_FOUND') throw new ExchangeError('BAD_USER_INPUT', `after: transaction ${c.transactionId} is not on this ledger`);
    throw e;
  }
  if (block !== c.blockNumber) throw new ExchangeError('BAD_USER_INPUT', `after: transaction ${c.transactionId} is in block ${block}, not ${c.blockNumber}`);
}

/**
 * The participant's notifications: after `after` (a cursor), or from the next commit on. Checks the cursor before it
 * returns (BAD_USER_INPUT); later failures end the iteration with an error: UNAUTHENTICATED once the participant is
 * no longer active (checked before every event it would receive), UNAVAILABLE when the ledger's event stream ends.
 * `return()` closes the ledger stream at once, even while it waits for the next block.
 */
export async function openSharingEvents(source: SharingEventSource, participantId: string, after?: string | null): Promise<AsyncIterableIterator<SharingEventData>> {
  const cursor = after == null ? undefined : decodeEventCursor(after);
  let startBlock: bigint;
  if (cursor !== undefined) {
    await checkOnLedger(source.ledger, cursor);
    startBlock = cursor.blockNumber;
  } else {
    // the height now, rather than the peer's "next commit" when the stream reaches it: nothing committed after this
    // call is missed
    startBlock = (await source.ledger.chainInfo()).height;
  }
  return closable((signal) => stream(source, participantId, startBlock, cursor, signal));
}

async function* stream(source: SharingEventSource, me: string, startBlock: bigint, cursor: EventCursor | undefined, signal: AbortSignal): AsyncGenerator<SharingEventData> {
  let skipping = cursor !== undefined;
  const emergencyGrants = new Map<string, boolean>();
  const isEmergencyGrant = async (grantId: string): Promise<boolean> => {
    const known = emergencyGrants.get(grantId);
    if (known !== undefined) return known;
    const emergency = (await source.ledger.grant(grantId)).emergency !== undefined;
    if (emergencyGrants.size >= GRANT_MEMO) emergencyGrants.delete(emergencyGrants.keys().next().value!);
    emergencyGrants.set(grantId, emergency);
    return emergency;
  };

  for await (const e of source.ledger.events({ startBlock, signal })) {
    let visible = eventsFor(me, e);
    if (skipping && cursor !== undefined) {
      // the cursor's block again: skip its transactions up to the cursor's, and that one's events up to the cursor
      if (e.blockNumber > cursor.blockNumber) skipping = false;
      else if (e.transactionId === cursor.transactionId) {
        skipping = false;
        visible = visible.filter((v) => v.index > cursor.index);
      } else continue;
    }
    for (const v of visible) {
      const p = await source.currentParticipant(me);
      if (p?.status !== 'active') throw new ExchangeError('UNAUTHENTICATED', `participant ${me} is ${p?.status ?? 'not registered'}: the subscription ends`);
      const emergency = v.type === 'BreakGlass' || ((v.type === 'AccessRecorded' || v.type === 'GrantRevoked') && v.grantId !== null && (await isEmergencyGrant(v.grantId)));
      yield {
        ...v,
        cursor: encodeEventCursor({ blockNumber: e.blockNumber, transactionId: e.transactionId, index: v.index }),
        transactionId: e.transactionId,
        blockNumber: Number(e.blockNumber),
        emergency,
      };
    }
  }
  if (!signal.aborted) throw new ExchangeError('UNAVAILABLE', 'the ledger’s event stream ended; subscribe again with the last cursor as `after`');
}

/**
 * An async generator whose `return()` takes effect at once: a generator's own return() waits until its pending
 * next() settles (for a quiet ledger: the next block), so this one aborts `signal` first, which ends the ledger stream.
 */
function closable<T>(run: (signal: AbortSignal) => AsyncGenerator<T>): AsyncIterableIterator<T> {
  const abort = new AbortController();
  const inner = run(abort.signal);
  const finish = (): void => {
    abort.abort();
    inner.return(undefined).catch(() => undefined);
  };
  return {
    next: () => inner.next(),
    return: async (value?: unknown) => {
      finish();
      return { done: true, value: value as T };
    },
    throw: async (error?: unknown) => {
      finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
