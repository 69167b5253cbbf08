// What a participant's client does around the sharing API, with the real crypto, for node tests (and the client's
// and the lead's): sign a mutation's action, make kfrags sealed to the registered proxies, approve / grant, and open a
// record from an EmrOpening (verify the cfrags, download the envelope, decrypt, check the hash).
import { createHash, randomBytes } from 'node:crypto';
import { signAction } from '../../src/chain/pie-ledger.js';
import type { PieClient } from '../../src/client/index.js';
import { decryptEmr, openDekWithCFrags, openDekWithSecretKey } from '../../src/crypto/envelope/index.js';
import { openSealed, sealKFrag } from '../../src/crypto/kfrag-seal.js';
import { Capsule, CapsuleFrag, PublicKey, Signer, generateKFrags } from '../../src/crypto/umbral/index.js';
import type { SecretKey } from '../../src/crypto/umbral/index.js';
import { ACTION_OF, ActionPayloads } from '../../src/exchange/action-payloads.js';
import type { ActionSignature, SealedKFragInput } from '../../src/exchange/action-payloads.js';
import { bytesOf, registerCustodial } from './harness.js';
import type { TestNode } from './harness.js';

export interface Signing {
  readonly id: string;
  readonly signingKey: SecretKey;
}
export interface Delegator extends Signing {
  readonly encryptionKey: SecretKey;
}

export interface ProxyKey {
  id: string;
  organisation: string;
  encryptionKey: string;
}

export interface EmrOpening {
  record: { id: string };
  operationId: string;
  grantId: string | null;
  cid: string;
  size: number;
  contentHash: string;
  mediaType: string;
  capsule: string;
  threshold: number;
  cfrags: string[];
  delegatingKey: string;
  verifyingKey: string;
  emergencyKey: string | null;
}

export const OPENING_FIELDS = 'record { id } operationId grantId cid size contentHash mediaType capsule threshold cfrags delegatingKey verifyingKey emergencyKey';
export const GRANT_FIELDS = 'id emrId granteeId requestId notBefore notAfter threshold shares kfrags { proxyId ciphertext } revokedAt kind live justification';
export const REQUEST_FIELDS = 'id emrId requesterId purpose status createdAt decidedAt';

export const pk = (hex: string): PublicKey => PublicKey.fromCompressedBytes(Buffer.from(hex, 'hex'));
export const pubHex = (sk: SecretKey): string => Buffer.from(sk.publicKey().toCompressedBytes()).toString('hex');
export const channelOf = (t: TestNode): string => t.node.services.ledger.channel;

type Mutation = keyof typeof ActionPayloads;
type Args<M extends Mutation> = Parameters<(typeof ActionPayloads)[M]>[0];

/** The `signed` argument of a sharing mutation: the caller's signature over the action its arguments make. */
export function signFor<M extends Mutation>(t: TestNode, who: Signing, mutation: M, args: Args<M>, issuedAt?: Date): ActionSignature {
  const payload = (ActionPayloads[mutation] as (a: Args<M>) => Record<string, unknown>)(args);
  const a = signAction(who.signingKey, who.id, ACTION_OF[mutation], payload, channelOf(t), issuedAt);
  return { issuedAt: a.issuedAt, nonce: a.nonce, signature: a.signature };
}

export async function proxiesOf(client: PieClient): Promise<ProxyKey[]> {
  return (await client.request<{ proxies: ProxyKey[] }>('{ proxies { id organisation encryptionKey } }')).proxies;
}

/** n = proxies.length kfrags from the patient to `granteeKey` (hex), threshold t, each sealed to one proxy. */
export function sealedKFrags(patient: Delegator, granteeKey: string, proxies: readonly ProxyKey[], threshold: number): SealedKFragInput[] {
  const kfrags = generateKFrags(patient.encryptionKey, pk(granteeKey), new Signer(patient.signingKey), threshold, proxies.length, true, true);
  return kfrags.map((k, i) => ({ proxyId: proxies[i]!.id, ciphertext: sealKFrag(k, pk(proxies[i]!.encryptionKey)) }));
}

/** A window from a minute ago to `ms` from now. */
export function window(ms = 3_600_000): { validFrom: string; validUntil: string } {
  const now = Date.now();
  return { validFrom: new Date(now - 60_000).toISOString(), validUntil: new Date(now + ms).toISOString() };
}

export interface GrantTerms {
  validFrom: string;
  validUntil: string;
  threshold: number;
  kfrags: SealedKFragInput[];
}

/** Kfrags for `granteeKey` sealed to every registered proxy, threshold `threshold` (default: all of them). */
export async function termsFor(patient: Delegator & { client: PieClient }, granteeKey: string, opts: { threshold?: number; ms?: number } = {}): Promise<GrantTerms> {
  const proxies = await proxiesOf(patient.client);
  const threshold = opts.threshold ?? proxies.length;
  return { ...window(opts.ms), threshold, kfrags: sealedKFrags(patient, granteeKey, proxies, threshold) };
}

export async function requestAccess(t: TestNode, who: Signing & { client: PieClient }, emrId: string, purpose = 'second opinion'): Promise<{ id: string; status: string }> {
  const args = { emrId, purpose };
  return (
    await who.client.request<{ requestAccess: { id: string; status: string } }>(
      `mutation($e: ID!, $p: String!, $s: ActionSignatureInput) { requestAccess(emrId: $e, purpose: $p, signed: $s) { ${REQUEST_FIELDS} } }`,
      { e: emrId, p: purpose, s: signFor(t, who, 'requestAccess', args) },
    )
  ).requestAccess;
}

export const APPROVE = `mutation($r: ID!, $f: String!, $u: String!, $t: Int!, $k: [SealedKFragInput!]!, $s: ActionSignatureInput!) {
  approveAccessRequest(requestId: $r, validFrom: $f, validUntil: $u, threshold: $t, kfrags: $k, signed: $s) { ${GRANT_FIELDS} } }`;

export async function approve(t: TestNode, patient: Delegator & { client: PieClient }, requestId: string, terms: GrantTerms): Promise<{ id: string; [k: string]: unknown }> {
  const args = { requestId, ...terms };
  return (
    await patient.client.request<{ approveAccessRequest: { id: string } }>(APPROVE, {
      r: requestId,
      f: terms.validFrom,
      u: terms.validUntil,
      t: terms.threshold,
      k: terms.kfrags,
      s: signFor(t, patient, 'approveAccessRequest', args),
    })
  ).approveAccessRequest;
}

export const GRANT = `mutation($e: ID!, $g: ID!, $f: String!, $u: String!, $t: Int!, $k: [SealedKFragInput!]!, $s: ActionSignatureInput!) {
  grantAccess(emrId: $e, granteeId: $g, validFrom: $f, validUntil: $u, threshold: $t, kfrags: $k, signed: $s) { ${GRANT_FIELDS} } }`;

export async function grantAccess(t: TestNode, patient: Delegator & { client: PieClient }, emrId: string, granteeId: string, terms: GrantTerms): Promise<{ id: string; kind: string }> {
  const args = { emrId, granteeId, ...terms };
  return (
    await patient.client.request<{ grantAccess: { id: string; kind: string } }>(GRANT, {
      e: emrId,
      g: granteeId,
      f: terms.validFrom,
      u: terms.validUntil,
      t: terms.threshold,
      k: terms.kfrags,
      s: signFor(t, patient, 'grantAccess', args),
    })
  ).grantAccess;
}

export const OPEN = `mutation($e: ID!, $g: ID, $s: ActionSignatureInput!) { openEmr(emrId: $e, grantId: $g, signed: $s) { ${OPENING_FIELDS} } }`;

export async function openEmr(t: TestNode, who: Signing & { client: PieClient }, emrId: string, grantId?: string): Promise<EmrOpening> {
  return (await who.client.request<{ openEmr: EmrOpening }>(OPEN, { e: emrId, g: grantId ?? null, s: signFor(t, who, 'openEmr', { emrId, grantId }) })).openEmr;
}

/** Plaintext of a stored envelope opened with `dek` (or a DEK source), checked against the opening's hash. */
async function decryptChecked(client: PieClient, opening: EmrOpening, dek: Parameters<typeof decryptEmr>[1]): Promise<Buffer> {
  const envelope = await bytesOf(await client.downloadBlob(opening.cid));
  expect(envelope.length).toBe(opening.size);
  const parts: Uint8Array[] = [];
  for await (const p of decryptEmr([envelope], dek)) parts.push(p);
  const plaintext = Buffer.concat(parts);
  expect(createHash('sha256').update(plaintext).digest('hex')).toBe(opening.contentHash);
  return plaintext;
}

/**
 * What a grantee's client does with an opening: verify every cfrag against the capsule and the patient's keys
 * (throws on a bad one), open the DEK with its own key once it has `threshold` of them, download and decrypt.
 */
export async function readWithCFrags(reader: Delegator & { client: PieClient }, opening: EmrOpening): Promise<Buffer> {
  const capsule = Capsule.fromBytes(Buffer.from(opening.capsule, 'base64'));
  const verified = opening.cfrags.map((c) => CapsuleFrag.fromBytes(Buffer.from(c, 'base64')).verify(capsule, pk(opening.verifyingKey), pk(opening.delegatingKey), reader.encryptionKey.publicKey()));
  expect(verified.length).toBeGreaterThanOrEqual(opening.threshold);
  return decryptChecked(reader.client, opening, (_h, kb) => {
    expect(Buffer.from(kb.capsule.toBytes()).toString('base64')).toBe(opening.capsule);
    return openDekWithCFrags(kb, reader.encryptionKey, pk(opening.delegatingKey), verified.slice(0, opening.threshold));
  });
}

/** The patient's own read: the patient's key opens the capsule. */
export const readAsPatient = (patient: Delegator & { client: PieClient }, opening: EmrOpening): Promise<Buffer> =>
  decryptChecked(patient.client, opening, (_h, kb) => openDekWithSecretKey(kb, patient.encryptionKey));

/** Break-glass: the DEK sealed to the reader's key. */
export async function readWithEmergencyKey(reader: Delegator & { client: PieClient }, opening: EmrOpening): Promise<Buffer> {
  const dek = openSealed(opening.emergencyKey!, reader.encryptionKey, 'emergency key');
  try {
    return await decryptChecked(reader.client, opening, dek);
  } finally {
    dek.fill(0);
  }
}

/** A custodial physician uploads `content` for the patient and records it (createEmr); returns the record id. */
export async function recordContent(
  author: { client: PieClient },
  patientId: string,
  content: Uint8Array = randomBytes(3_000),
  summary: Record<string, unknown> = { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2024 },
  mediaType = 'application/pdf',
): Promise<{ id: string; content: Uint8Array }> {
  const blob = await author.client.uploadBlob(patientId, content, mediaType);
  const created = await author.client.createEmr({ patientId, ...blob, summary } as never);
  return { id: (created as { id: string }).id, content };
}

/** A custodial physician of the node (the node holds its keys). */
export const custodialPhysician = (t: TestNode, extra: { clearance?: string; roles?: string[] } = {}): ReturnType<typeof registerCustodial> => registerCustodial(t, 'PHYSICIAN', extra);

/** GET /emrs/:id/content as `client`: status, headers and body. */
export async function readContent(client: PieClient, emrId: string, grantId?: string): Promise<{ status: number; headers: Headers; body: Buffer; error?: { code: string; message: string } }> {
  const token = await client.token();
  const res = await fetch(`${client.url}/emrs/${encodeURIComponent(emrId)}/content${grantId === undefined ? '' : `?grantId=${encodeURIComponent(grantId)}`}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.ok) return { status: res.status, headers: res.headers, body };
  return { status: res.status, headers: res.headers, body, error: (JSON.parse(body.toString('utf8')) as { error: { code: string; message: string } }).error };
}

/** A participant's encryption public key, hex, as the ledger has it (what kfrags are made for). */
export async function encryptionKeyOf(client: PieClient, id: string): Promise<string> {
  return (await client.request<{ participant: { encryptionKey: string } }>('query($id: ID!) { participant(id: $id) { encryptionKey } }', { id })).participant.encryptionKey;
}

export interface Policy {
  minClearance: string;
  allowedKinds: string[];
  allow: string[];
  deny: string[];
  emergencyAllowed: boolean;
  expiresAt?: string;
}
export const DEFAULT_POLICY: Policy = { minClearance: 'LOW', allowedKinds: ['physician', 'researcher', 'insurer'], allow: [], deny: [], emergencyAllowed: true };

/** The patient sets a record chain's policy (signed set-record-policy, relayed by setAccessPolicy). */
export async function setRecordPolicy(t: TestNode, patient: Signing & { client: PieClient }, emrId: string, policy: Partial<Policy>): Promise<void> {
  const action = signAction(patient.signingKey, patient.id, 'set-record-policy', { emrId, policy: { ...DEFAULT_POLICY, ...policy } }, channelOf(t));
  await patient.client.request('mutation($a: SignedActionInput!) { setAccessPolicy(action: $a) { minClearance } }', { a: action });
}
