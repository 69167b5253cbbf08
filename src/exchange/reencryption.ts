/**
 * The node's side of the re-encryption path for accounts whose keys it holds (docs/sharing.md, "Custodial accounts"
 * and "Break-glass"): sign an action with a custodial account's key, record a `reencrypt` operation, have this node's
 * proxies release capsule fragments for it, verify them, and open the record's DEK with the account's encryption key.
 * Participants with their own keys never come here: their clients verify and open.
 */
import type { ActionType, EmrRecord, Grant, OperationRecord, Participant, SignedAction } from '../../chaincode/src/domain/index.js';
import { bytesEqual, fromBase64, fromHex } from '../bytes.js';
import { signAction } from '../chain/pie-ledger.js';
import type { PieLedger } from '../chain/pie-ledger.js';
import { openDekWithCFrags, readEnvelopeHeader } from '../crypto/envelope/index.js';
import type { KeyBlock } from '../crypto/envelope/index.js';
import { Capsule, CapsuleFrag, PublicKey } from '../crypto/umbral/index.js';
import type { VerifiedCapsuleFrag } from '../crypto/umbral/index.js';
import type { ReleasedCFrag } from '../proxy/index.js';
import type { NodeServices } from '../resolvers/context.js';
import { allPages } from '../resolvers/paging.js';
import { ExchangeError } from './errors.js';

/** What a cfrag is verified against: the record's capsule and the patient's two public keys. */
export interface Delegation {
  readonly patient: Participant;
  readonly capsule: Capsule;
  /** the patient's encryption key (the kfrags delegate from it) */
  readonly delegatingPk: PublicKey;
  /** the patient's signing key (the kfrags' signer) */
  readonly verifyingPk: PublicKey;
}

export const publicKeyOf = (hex: string, what: string): PublicKey => PublicKey.fromCompressedBytes(fromHex(hex, what));

/** The record's capsule and its patient's keys. */
export async function delegationOf(services: NodeServices, record: EmrRecord, patient?: Participant): Promise<Delegation> {
  const p = patient ?? (await services.ledger.participant(record.patientId));
  return {
    patient: p,
    capsule: Capsule.fromBytes(fromBase64(record.metadata.capsule, 'record capsule')),
    delegatingPk: publicKeyOf(p.encryptionKey, 'patient encryption key'),
    verifyingPk: publicKeyOf(p.signingKey, 'patient signing key'),
  };
}

/** An action signed with a custodial account's key, kept by this node (docs/sharing.md "Signed actions"). */
export function signAsCustodian(services: NodeServices, accountId: string, type: ActionType, payload: Record<string, unknown>): Promise<SignedAction> {
  if (!services.custody.isCustodial(accountId)) throw new ExchangeError('INTERNAL', `participant ${accountId} is not a custodial account of this node`);
  return services.custody.withKeys(accountId, (keys) => signAction(keys.signing, accountId, type, payload, services.ledger.channel));
}

/** The released cfrags that verify for this capsule, delegation and receiver; the others are reported, not used. */
export function verifyCFrags(
  released: readonly ReleasedCFrag[],
  d: Delegation,
  receivingPk: PublicKey,
): { verified: { proxyId: string; cfrag: string; frag: VerifiedCapsuleFrag }[]; rejected: { proxyId: string; reason: string }[] } {
  const verified: { proxyId: string; cfrag: string; frag: VerifiedCapsuleFrag }[] = [];
  const rejected: { proxyId: string; reason: string }[] = [];
  for (const r of released) {
    try {
      const frag = CapsuleFrag.fromBytes(fromBase64(r.cfrag, 'cfrag')).verify(d.capsule, d.verifyingPk, d.delegatingPk, receivingPk);
      verified.push({ proxyId: r.proxyId, cfrag: r.cfrag, frag });
    } catch (e) {
      rejected.push({ proxyId: r.proxyId, reason: (e as Error).message });
    }
  }
  return { verified, rejected };
}

/**
 * Records a `reencrypt` operation of a custodial account on `grant` (signed by the node with the account's key),
 * then has this node's proxies release cfrags for it and verifies them: at least the grant's threshold must verify.
 */
export async function reencryptAsCustodian(
  services: NodeServices,
  account: Participant,
  record: EmrRecord,
  grant: Grant,
  d: Delegation,
): Promise<{ operation: OperationRecord; cfrags: VerifiedCapsuleFrag[] }> {
  const action = await signAsCustodian(services, account.id, 'record-operation', { kind: 'reencrypt', emrId: record.id, grantId: grant.id });
  const { result: operation } = await services.ledger.submitAction<OperationRecord>(action);
  const released = await services.proxy.release(operation.id, account.id);
  const { verified } = verifyCFrags(released, d, publicKeyOf(account.encryptionKey, 'grantee encryption key'));
  if (verified.length < grant.threshold) {
    throw new ExchangeError(
      'UNAVAILABLE',
      `this node’s proxies released ${verified.length} verified capsule fragment(s) for operation ${operation.id}; grant ${grant.id} needs ${grant.threshold}`,
    );
  }
  return { operation, cfrags: verified.slice(0, grant.threshold).map((v) => v.frag) };
}

/** The record's key block, read from the stored envelope's header and checked against the capsule on the ledger. */
export async function keyBlockOf(services: NodeServices, record: EmrRecord, d: Delegation): Promise<KeyBlock> {
  const { keyBlock } = await readEnvelopeHeader(services.blobs.get(record.metadata.cid));
  assertSameCapsule(keyBlock, d, record);
  return keyBlock;
}

/** The envelope must carry the capsule the ledger recorded (and the cfrags were made for). */
export function assertSameCapsule(keyBlock: KeyBlock, d: Delegation, record: EmrRecord): void {
  if (!bytesEqual(keyBlock.capsule.toBytes(), d.capsule.toBytes())) {
    throw new ExchangeError('INTERNAL', `the stored envelope ${record.metadata.cid} does not carry the capsule recorded for record ${record.id}`);
  }
}

/** Opens the DEK with a custodial account's encryption key (decrypted for this call only). The caller zeroes it. */
export function openDekAsCustodian(services: NodeServices, accountId: string, keyBlock: KeyBlock, d: Delegation, cfrags: readonly VerifiedCapsuleFrag[]): Promise<Uint8Array> {
  return services.custody.withKeys(accountId, (keys) => openDekWithCFrags(keyBlock, keys.encryption, d.delegatingPk, cfrags));
}

/**
 * The treating physician of a record: the author of its chain's first version. A later version may be authored by
 * the patient (a key rotation), but the physician who made the record stays its treating physician.
 */
export async function treatingPhysicianOf(ledger: PieLedger, record: EmrRecord): Promise<string> {
  let r = record;
  while (r.previousId !== undefined) r = await ledger.record(r.previousId); // records are cached: no evaluation per step
  return r.authorId;
}

/**
 * The record's live treating grant (Algorithm 1: the patient's delegation to its treating physician), newest first;
 * CONFLICT, saying why, when there is none.
 */
export async function liveTreatingGrant(services: NodeServices, record: EmrRecord, treatingId: string): Promise<Grant> {
  const grants = await allPages((b) => services.ledger.listGranteeGrants(treatingId, record.id, { pageSize: 500, bookmark: b }));
  const candidates = grants.filter((g) => g.emergency === undefined && g.shares > 0).sort((a, b) => b.notBefore.localeCompare(a.notBefore));
  for (const g of candidates) if ((await services.ledger.isGrantLive(g.id)).live) return g;
  throw new ExchangeError(
    'CONFLICT',
    `break-glass cannot be served: record ${record.id} has no live treating grant (the patient has not delegated it to its treating physician ${treatingId}, or that grant ended)`,
  );
}

/**
 * Break-glass (docs/sharing.md): the DEK of a record through its treating physician's delegation. The author must be
 * a custodial account of this node with a live treating grant; the node records a `reencrypt` operation of the
 * author's on that grant, gets cfrags for the author, and opens the DEK with the author's key. The caller zeroes the
 * DEK as soon as it has used it.
 */
export async function emergencyDek(services: NodeServices, record: EmrRecord, d: Delegation): Promise<{ dek: Uint8Array; authorOperationId: string }> {
  const treatingId = await treatingPhysicianOf(services.ledger, record);
  if (!services.custody.isCustodial(treatingId)) {
    throw new ExchangeError(
      'CONFLICT',
      `break-glass cannot be served by this node: the treating physician’s key is not held by this node (${treatingId}, who authored record ${record.id}, is not one of its custodial accounts)`,
    );
  }
  const treating = await liveTreatingGrant(services, record, treatingId);
  const author = await services.ledger.participant(treatingId);
  const { operation, cfrags } = await reencryptAsCustodian(services, author, record, treating, d);
  const keyBlock = await keyBlockOf(services, record, d);
  return { dek: await openDekAsCustodian(services, author.id, keyBlock, d, cfrags), authorOperationId: operation.id };
}
