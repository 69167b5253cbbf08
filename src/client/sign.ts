/**
 * Signing a participant's actions in the participant's own client, browser-safe: canonical JSON, TextEncoder and
 * crypto.getRandomValues only (no node:crypto, no Buffer). The bytes are the contract's `actionSigningBytes`
 * (chaincode/src/domain/action.ts, which needs node:crypto and so is not imported here); test/client/sign.test.ts
 * proves they are equal and that the contract accepts the signature.
 */
import type { ActionType } from '../../chaincode/src/domain/action.js';
import { canonicalJson } from '../../chaincode/src/domain/canonical.js';
import { toHex } from '../bytes.js';
import type { ActionSignature } from '../exchange/action-payloads.js';
import { Signer } from '../crypto/umbral/index.js';
import type { SecretKey } from '../crypto/umbral/index.js';

/** = ACTION_SIGNING_DOMAIN of chaincode/src/domain/action.ts */
const ACTION_DOMAIN = 'PIE/action/v1\n';
const NONCE_BYTES = 16;

/** A signed action, whole: what the contract's SignedAction holds (the mutations take only the ActionSignature part). */
export interface SignedActionParts extends ActionSignature {
  readonly type: ActionType;
  readonly actorId: string;
  readonly payload: Record<string, unknown>;
}

/** UTF-8 of the action-signing domain ‖ canonical JSON of {type, actorId, issuedAt, nonce, payload, channel}. */
export function actionBytes(action: Omit<SignedActionParts, 'signature'>, channel: string): Uint8Array {
  const { type, actorId, issuedAt, nonce, payload } = action;
  return new TextEncoder().encode(ACTION_DOMAIN + canonicalJson({ type, actorId, issuedAt, nonce, payload, channel }, 'action'));
}

/**
 * Signs `type` with `payload` (built with ActionPayloads) for `channel` as participant `actorId`: a fresh 16-byte nonce,
 * issuedAt = now (or `issuedAt`), ECDSA secp256k1 / SHA-256, r ‖ s hex.
 */
export function signActionWith(
  signingKey: SecretKey,
  actorId: string,
  type: ActionType,
  payload: Record<string, unknown>,
  channel: string,
  issuedAt: Date = new Date(),
): SignedActionParts {
  const nonce = toHex(globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
  const unsigned = { type, actorId, issuedAt: issuedAt.toISOString(), nonce, payload };
  const signature = toHex(new Signer(signingKey).sign(actionBytes(unsigned, channel)).toBEBytes());
  return { ...unsigned, signature };
}

/** The part of a signed action a sharing mutation takes as its `signed` argument. */
export const signatureOf = (a: ActionSignature): ActionSignature => ({ issuedAt: a.issuedAt, nonce: a.nonce, signature: a.signature });
