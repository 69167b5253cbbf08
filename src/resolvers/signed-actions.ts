/**
 * The one way a sharing mutation becomes the signed action the node relays (docs/sharing.md, "Signed actions in the
 * API"): the payload is built from the mutation's arguments by src/exchange/action-payloads.ts (as the client built
 * it to sign), the actor is always the caller, and the signature is either the caller's own (`signed`) or, for a
 * custodial account, the node's with the key it keeps.
 */
import { assertActionSignature, parseSignedAction } from '../../chaincode/src/domain/index.js';
import type { SignedAction } from '../../chaincode/src/domain/index.js';
import { ACTION_OF, ActionPayloads } from '../exchange/action-payloads.js';
import { ExchangeError } from '../exchange/errors.js';
import { signAsCustodian } from '../exchange/reencryption.js';
import type { ActionSignatureInput } from '../schema/inputs.js';
import type { Caller, NodeServices } from './context.js';

export type SharingMutation = keyof typeof ActionPayloads;
export type SharingArguments<M extends SharingMutation> = Parameters<(typeof ActionPayloads)[M]>[0];

/**
 * The SignedAction for `mutation` called with `args` by `caller`. With `signed`, the action is rebuilt and its
 * signature checked here under the caller's registered key (a wrong one costs no transaction; the contract checks
 * again, with freshness and replay). Without it, a custodial caller's action is signed by the node; anyone else must
 * sign in the client (BAD_USER_INPUT).
 */
export async function signedActionFor<M extends SharingMutation>(
  services: NodeServices,
  caller: Caller,
  mutation: M,
  args: SharingArguments<M>,
  signed: ActionSignatureInput | null | undefined,
): Promise<SignedAction> {
  const type = ACTION_OF[mutation];
  const payload = (ActionPayloads[mutation] as (a: SharingArguments<M>) => Record<string, unknown>)(args);
  const me = caller.participant;
  if (signed != null) {
    const action = parseSignedAction({ type, actorId: me.id, issuedAt: signed.issuedAt, nonce: signed.nonce, payload, signature: signed.signature }, type, 'signed');
    await assertActionSignature(action, services.ledger.channel, me.signingKey, 'signed');
    return action;
  }
  if (caller.custodial) return signAsCustodian(services, me.id, type, payload);
  throw new ExchangeError(
    'BAD_USER_INPUT',
    `${mutation}: signed is required: sign the ${type} action in your client (your signing key is not held by this node) and pass its issuedAt, nonce and signature`,
  );
}
