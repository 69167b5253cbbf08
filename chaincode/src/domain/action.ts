/**
 * Signed actions: how a participant (not an organisation) authorises a transaction. The participant's client signs
 * the action with the participant's registered signing key; the PIE node only relays it. The signed bytes name the
 * action type and the channel, so a signature is good for exactly one kind of transaction on one channel, and the
 * contract stores SHA-256 of the signed bytes so that each signed action is used at most once.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { ContractError, invalid } from './errors.js';
import { participantId } from './participant.js';
import { verifySignature } from './signature.js';
import { hex, isPlainObject, isoTime, millis, object, string } from './validate.js';
import type { Obj } from './validate.js';

export const ACTION_TYPES = [
  'set-patient-policy',
  'set-record-policy',
  'request-access',
  'approve-request',
  'deny-request',
  'grant-access',
  'revoke-grant',
  'break-glass',
  'record-operation',
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export interface SignedAction {
  readonly type: ActionType;
  readonly actorId: string;
  /** when the client signed it (ISO); must be close to the transaction time */
  readonly issuedAt: string;
  /** 16–64 lower-case hex characters of client randomness: two equal actions still sign different bytes */
  readonly nonce: string;
  /** the transaction's arguments; parsed by the transaction with the domain validators */
  readonly payload: Obj;
  /** ECDSA secp256k1 / SHA-256 over actionSigningBytes(...), r ‖ s, low-S, 64 bytes hex */
  readonly signature: string;
}

export type UnsignedAction = Omit<SignedAction, 'signature' | 'type'> & { readonly type: string };

/** Domain separation from record signatures (PIE/emr-record/v1) and anything else a participant key signs. */
export const ACTION_SIGNING_DOMAIN = 'PIE/action/v1\n';
/** An action may be at most this old at the transaction time… */
export const ACTION_MAX_AGE_MS = 10 * 60 * 1000;
/** …and at most this far in the future (client clock ahead of the submitting peer's). */
export const ACTION_MAX_FUTURE_MS = 2 * 60 * 1000;

const NONCE = /^[0-9a-f]{16,64}$/;
const FIELDS = ['type', 'actorId', 'issuedAt', 'nonce', 'payload', 'signature'];

/**
 * The bytes a participant signs: UTF-8 of ACTION_SIGNING_DOMAIN ‖ canonical JSON of
 * {type, actorId, issuedAt, nonce, payload, channel}. The client (src/) uses the same function.
 */
export function actionSigningBytes(action: UnsignedAction, channel: string): Buffer {
  const { type, actorId, issuedAt, nonce, payload } = action;
  return Buffer.from(ACTION_SIGNING_DOMAIN + canonicalJson({ type, actorId, issuedAt, nonce, payload, channel }, 'action'), 'utf8');
}

/** SHA-256 hex of the signed bytes: the replay marker's key. */
export const actionDigest = (signingBytes: Uint8Array): string => createHash('sha256').update(signingBytes).digest('hex');

/**
 * Parses an action for a transaction that expects `expectedType`. An action of another type is refused
 * (INVALID_ARGUMENT), so a signature made for one transaction never authorises another.
 */
export function parseSignedAction(input: unknown, expectedType: ActionType, field = 'action'): SignedAction {
  const o = object(input, field, FIELDS);
  const type = string(o.type, `${field}.type`, { max: 64 });
  if (type !== expectedType) throw invalid(`${field}.type`, `must be ${expectedType} for this transaction, got ${type}`);
  if (!isPlainObject(o.payload)) throw invalid(`${field}.payload`, 'must be an object');
  return {
    type: expectedType,
    actorId: participantId(o.actorId, `${field}.actorId`),
    issuedAt: isoTime(o.issuedAt, `${field}.issuedAt`),
    nonce: string(o.nonce, `${field}.nonce`, { min: 16, max: 64, pattern: NONCE, shape: '16 to 64 lower-case hex characters' }),
    payload: o.payload,
    signature: hex(o.signature, `${field}.signature`, 64),
  };
}

/** issuedAt ∈ [now − ACTION_MAX_AGE_MS, now + ACTION_MAX_FUTURE_MS] (now = the transaction's time). */
export function assertActionFresh(action: Pick<SignedAction, 'issuedAt'>, now: string, field = 'action'): void {
  const t = millis(action.issuedAt, `${field}.issuedAt`);
  const n = millis(now, 'now');
  if (t < n - ACTION_MAX_AGE_MS) throw invalid(`${field}.issuedAt`, `is more than ${ACTION_MAX_AGE_MS / 60000} minutes before the transaction time ${now}; sign it again`);
  if (t > n + ACTION_MAX_FUTURE_MS) throw invalid(`${field}.issuedAt`, `is more than ${ACTION_MAX_FUTURE_MS / 60000} minutes after the transaction time ${now}`);
}

/** BAD_SIGNATURE unless the signature verifies under the actor's registered signing key. */
export async function assertActionSignature(action: SignedAction, channel: string, signingKeyHex: string, field = 'action'): Promise<Buffer> {
  const bytes = actionSigningBytes(action, channel);
  if (!(await verifySignature(bytes, action.signature, signingKeyHex))) {
    throw new ContractError('BAD_SIGNATURE', `${field}.signature: does not verify under the signing key of participant ${action.actorId} (for channel ${channel})`);
  }
  return bytes;
}
