/**
 * The payloads of participants' signed actions (chaincode/src/domain/action.ts), built from the arguments of the
 * GraphQL sharing mutations. The client SDK and the node build them with these same functions: the client signs
 * {type, actorId, issuedAt, nonce, payload, channel}; the node rebuilds the payload from the mutation's arguments
 * and the signature's issuedAt / nonce, so what is relayed is exactly what was signed, and a mutation's arguments
 * can never disagree with its signature. Pure (no Node built-ins): the client SDK runs in browsers too.
 */
import type { ActionType } from '../../chaincode/src/domain/action.js';

/** A kfrag sealed to one proxy (src/crypto/kfrag-seal.ts), as a grant carries it. */
export interface SealedKFragInput {
  readonly proxyId: string;
  /** base64, sealKFrag(...) */
  readonly ciphertext: string;
}

/** What a client sends beside the arguments: the signature over the action the arguments make. */
export interface ActionSignature {
  readonly issuedAt: string;
  readonly nonce: string;
  /** hex r ‖ s (64 bytes), low-S, ECDSA secp256k1 / SHA-256 over actionSigningBytes */
  readonly signature: string;
}

export interface GrantWindow {
  /** ISO 8601, exactly as signed */
  readonly validFrom: string;
  /** ISO 8601, exactly as signed */
  readonly validUntil: string;
  readonly threshold: number;
  readonly kfrags: readonly SealedKFragInput[];
}

type Payload = Record<string, unknown>;

const grantTerms = (w: GrantWindow): Payload => ({
  notBefore: w.validFrom,
  notAfter: w.validUntil,
  threshold: w.threshold,
  shares: w.kfrags.length,
  kfrags: w.kfrags.map((k) => ({ proxyId: k.proxyId, ciphertext: k.ciphertext })),
});

/** Leaves out undefined and null (GraphQL gives absent optional arguments as null; the ledger wants them absent). */
const defined = (o: Payload): Payload => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));

export const ActionPayloads = {
  requestAccess: (a: { emrId: string; purpose: string }): Payload => ({ emrId: a.emrId, purpose: a.purpose }),
  approveAccessRequest: (a: { requestId: string } & GrantWindow): Payload => ({ requestId: a.requestId, ...grantTerms(a) }),
  denyAccessRequest: (a: { requestId: string; reason?: string | null }): Payload => defined({ requestId: a.requestId, reason: a.reason }),
  grantAccess: (a: { emrId: string; granteeId: string } & GrantWindow): Payload => ({ emrId: a.emrId, granteeId: a.granteeId, ...grantTerms(a) }),
  revokeGrant: (a: { grantId: string }): Payload => ({ grantId: a.grantId }),
  breakGlass: (a: { emrId: string; justification: string; durationMinutes?: number | null }): Payload =>
    defined({ emrId: a.emrId, justification: a.justification, durationMs: a.durationMinutes == null ? undefined : a.durationMinutes * 60_000 }),
  /** openEmr: a grantee's re-encryption, or the patient's own download */
  openEmr: (a: { emrId: string; grantId?: string | null }): Payload =>
    a.grantId == null ? { kind: 'download', emrId: a.emrId } : { kind: 'reencrypt', emrId: a.emrId, grantId: a.grantId },
} as const;

/** The signed action type behind each sharing mutation. */
export const ACTION_OF: Readonly<Record<keyof typeof ActionPayloads, ActionType>> = {
  requestAccess: 'request-access',
  approveAccessRequest: 'approve-request',
  denyAccessRequest: 'deny-request',
  grantAccess: 'grant-access',
  revokeGrant: 'revoke-grant',
  breakGlass: 'break-glass',
  openEmr: 'record-operation',
};
