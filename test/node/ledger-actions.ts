// Participants' signed actions submitted to a test node's real ledger, as a participant's client signs them (real
// Umbral kfrags sealed to the channel's registered proxies): grants and operation records for the tests of key
// rotation, the audit trail and credits, independent of the sharing mutations' own flows.
import type { ActionType, AccessRequest, Grant, OperationRecord } from '../../chaincode/src/domain/index.js';
import { signAction } from '../../src/chain/pie-ledger.js';
import { sealKFrag } from '../../src/crypto/kfrag-seal.js';
import { PublicKey, SecretKey, Signer, generateKFrags } from '../../src/crypto/umbral/index.js';
import { ActionPayloads } from '../../src/exchange/action-payloads.js';
import type { SealedKFragInput } from '../../src/exchange/action-payloads.js';
import type { KeyHolder, TestNode } from './harness.js';

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

/** Submits `who`'s signed action of `type` to the node's ledger; the contract's answer. */
export async function signed<T>(t: TestNode, who: KeyHolder, type: ActionType, payload: Record<string, unknown>): Promise<T> {
  const { ledger } = t.node.services;
  return (await ledger.submitAction<T>(signAction(who.signingKey, who.id, type, payload, ledger.channel))).result;
}

/** The patient's kfrags for `granteeKey` (hex), one sealed to each registered proxy (a made-up one when none is). */
async function sealedKFrags(t: TestNode, patient: KeyHolder, granteeKey: string): Promise<{ threshold: number; kfrags: SealedKFragInput[] }> {
  const registered = await t.node.services.ledger.proxies().catch(() => []);
  const proxies = registered.length > 0 ? registered.map((p) => ({ id: p.id, key: p.encryptionKey })) : [{ id: 'Hospital1MSP.proxy.0', key: Buffer.from(SecretKey.random().publicKey().toCompressedBytes()).toString('hex') }];
  const frags = generateKFrags(patient.encryptionKey, PublicKey.fromCompressedBytes(fromHex(granteeKey)), new Signer(patient.signingKey), 1, proxies.length, true, true);
  return { threshold: 1, kfrags: proxies.map((p, i) => ({ proxyId: p.id, ciphertext: sealKFrag(frags[i]!, PublicKey.fromCompressedBytes(fromHex(p.key))) })) };
}

const window = (): { validFrom: string; validUntil: string } => ({ validFrom: new Date(Date.now() - 1000).toISOString(), validUntil: new Date(Date.now() + 3_600_000).toISOString() });

const encryptionKeyOf = async (t: TestNode, id: string): Promise<string> => (await t.node.services.ledger.participant(id)).encryptionKey;

/** The patient grants `granteeId` access to `emrId` directly (grant-access, e.g. the treating physician). */
export async function grantAccess(t: TestNode, patient: KeyHolder, emrId: string, granteeId: string): Promise<Grant> {
  const terms = { ...window(), ...(await sealedKFrags(t, patient, await encryptionKeyOf(t, granteeId))) };
  return signed<Grant>(t, patient, 'grant-access', ActionPayloads.grantAccess({ emrId, granteeId, ...terms }));
}

/** `requester` asks for access to `emrId` and the patient approves it. */
export async function requestAndApprove(t: TestNode, patient: KeyHolder, requester: KeyHolder, emrId: string, purpose = 'second opinion'): Promise<{ request: AccessRequest; grant: Grant }> {
  const request = await signed<AccessRequest>(t, requester, 'request-access', ActionPayloads.requestAccess({ emrId, purpose }));
  const terms = { ...window(), ...(await sealedKFrags(t, patient, await encryptionKeyOf(t, requester.id))) };
  const grant = await signed<Grant>(t, patient, 'approve-request', ActionPayloads.approveAccessRequest({ requestId: request.id, ...terms }));
  return { request, grant };
}

/** The grantee's re-encryption operation record on `grantId` (what openEmr records before the proxies serve). */
export const reencrypt = (t: TestNode, grantee: KeyHolder, emrId: string, grantId: string): Promise<OperationRecord> =>
  signed<OperationRecord>(t, grantee, 'record-operation', ActionPayloads.openEmr({ emrId, grantId }));
