// Helpers for the contract tests: participants with real Umbral keys, signed actions and records as a client makes
// them, and assertions on failed transactions. Everything goes through the harness (real fabric-shim).
import { createHash, randomBytes } from 'node:crypto';
import { actionSigningBytes, canonicalRecordBytes } from '../../chaincode/src/domain/index.js';
import type { AccessPolicy, ActionType, EmrRecord, Grant, Participant, ParticipantKind, SecurityLevel } from '../../chaincode/src/domain/index.js';
import type { SigningIdentity } from '../../src/chain/devnet/msp.js';
import { SecretKey, Signer, encrypt } from '../../src/crypto/umbral/index.js';
import { ContractHarness, HARNESS_CHANNEL, HarnessTxError } from './harness.js';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const pubHex = (sk: SecretKey): string => hex(sk.publicKey().toCompressedBytes());
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A registered participant with the secret keys its client holds. */
export interface Actor {
  readonly id: string;
  readonly kind: ParticipantKind;
  readonly org: string;
  readonly signingSk: SecretKey;
  readonly encryptionSk: SecretKey;
  readonly participant: Participant;
}

/** A harness with an administrator and a plain (relaying node) identity per organisation. */
export interface World {
  readonly h: ContractHarness;
  readonly admin1: SigningIdentity;
  readonly admin2: SigningIdentity;
  /** Hospital1MSP's PIE node: submits relayed actions and records, no admin role */
  readonly node1: SigningIdentity;
  readonly node2: SigningIdentity;
}

export async function world(): Promise<World> {
  const h = await ContractHarness.create();
  return {
    h,
    admin1: await h.identity('Hospital1MSP', 'admin1', { role: 'admin' }),
    admin2: await h.identity('Hospital2MSP', 'admin2', { role: 'admin' }),
    node1: await h.identity('Hospital1MSP', 'node1', { role: 'node' }),
    node2: await h.identity('Hospital2MSP', 'node2'),
  };
}

const defaultClearance = (kind: ParticipantKind): SecurityLevel => (kind === 'patient' || kind === 'physician' ? 'PRIVATE' : 'LOW');

export async function register(
  w: World,
  kind: ParticipantKind,
  opts: { admin?: SigningIdentity; clearance?: SecurityLevel; roles?: string[] } = {},
): Promise<Actor> {
  const signingSk = SecretKey.random();
  const encryptionSk = SecretKey.random();
  const admin = opts.admin ?? w.admin1;
  const participant = (await w.h.submit(
    admin,
    'RegisterParticipant',
    JSON.stringify({
      kind,
      clearance: opts.clearance ?? defaultClearance(kind),
      signingKey: pubHex(signingSk),
      encryptionKey: pubHex(encryptionSk),
      roles: opts.roles ?? [],
    }),
  )) as Participant;
  return { id: participant.id, kind, org: participant.org, signingSk, encryptionSk, participant };
}

export interface ActionOptions {
  /** default: the harness clock */
  issuedAt?: string;
  nonce?: string;
  /** sign with another key (a forgery) */
  signWith?: SecretKey;
  channel?: string;
  /** change the action after signing */
  tamper?: (a: Record<string, unknown>) => void;
}

/** A signed action as the participant's client builds it (JSON text for the contract). */
export function action(h: ContractHarness, actor: Actor, type: ActionType | string, payload: Record<string, unknown>, opts: ActionOptions = {}): string {
  const unsigned = {
    type,
    actorId: actor.id,
    issuedAt: opts.issuedAt ?? h.time.toISOString(),
    nonce: opts.nonce ?? randomBytes(16).toString('hex'),
    payload,
  };
  const bytes = actionSigningBytes(unsigned, opts.channel ?? HARNESS_CHANNEL);
  const signature = hex(new Signer(opts.signWith ?? actor.signingSk).sign(bytes).toBEBytes());
  const signed: Record<string, unknown> = { ...unsigned, signature };
  opts.tamper?.(signed);
  return JSON.stringify(signed);
}

/** Signs and submits an action through `node` (the relaying PIE node). */
export async function act(w: World, actor: Actor, fn: string, type: ActionType, payload: Record<string, unknown>, opts: ActionOptions = {}): Promise<unknown> {
  return w.h.submit(actor.org === 'Hospital2MSP' ? w.node2 : w.node1, fn, action(w.h, actor, type, payload, opts));
}

let cidCounter = 0;
/** A distinct CIDv1 (base32) per call. */
export function freshCid(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let n = ++cidCounter;
  let tail = '';
  for (let i = 0; i < 12; i++) {
    tail = alphabet[n % 32]! + tail;
    n = Math.floor(n / 32);
  }
  return `bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oc${tail}`;
}

export const DEFAULT_POLICY_JSON: AccessPolicy = {
  minClearance: 'LOW',
  allowedKinds: ['physician', 'researcher', 'insurer'],
  allow: [],
  deny: [],
  emergencyAllowed: true,
};

export interface RecordOptions {
  id?: string;
  version?: number;
  previousId?: string;
  level?: SecurityLevel;
  policy?: AccessPolicy;
  hospital?: string;
  codes?: string[];
  year?: number;
  gender?: string;
  ageBand?: string;
  cid?: string;
  /** sign with another key (a forgery) */
  signWith?: SecretKey;
  mutate?: (r: Record<string, unknown>) => void;
}

let recordCounter = 0;
/** A record input (no timestamp) signed by `author`, as the author's client submits it. */
export function recordInput(patient: Actor, author: Actor, opts: RecordOptions = {}): Record<string, unknown> {
  const level = opts.level ?? 'PRIVATE';
  const category = level === 'PRIVATE' ? 'medical-information' : level === 'MODERATE' ? 'lifelog-sensor' : 'clinical-trial-observation';
  const [capsule] = encrypt(patient.encryptionSk.publicKey(), new TextEncoder().encode('dek'));
  const r: Record<string, unknown> = {
    id: opts.id ?? `emr-${++recordCounter}`,
    version: opts.version ?? 1,
    ...(opts.previousId === undefined ? {} : { previousId: opts.previousId }),
    patientId: patient.id,
    authorId: author.id,
    hospital: opts.hospital ?? author.org,
    summary: {
      category,
      securityLevel: level,
      codes: opts.codes ?? ['http://snomed.info/sct|44054006'],
      year: opts.year ?? 2024,
      resourceTypes: ['Condition'],
      labels: [level === 'PRIVATE' ? 'R' : level === 'MODERATE' ? 'M' : 'L'],
      ...(opts.gender === undefined ? {} : { gender: opts.gender }),
      ...(opts.ageBand === undefined ? {} : { ageBand: opts.ageBand }),
    },
    metadata: {
      cid: opts.cid ?? freshCid(),
      size: 1234,
      mediaType: 'application/fhir+json',
      contentHash: createHash('sha256').update(String(recordCounter)).digest('hex'),
      capsule: Buffer.from(capsule.toBytes()).toString('base64'),
      envelopeVersion: 1,
    },
    policy: opts.policy ?? DEFAULT_POLICY_JSON,
  };
  opts.mutate?.(r);
  r.authorSignature = hex(new Signer(opts.signWith ?? author.signingSk).sign(canonicalRecordBytes(r as never)).toBEBytes());
  return r;
}

export async function createRecord(w: World, patient: Actor, author: Actor, opts: RecordOptions = {}, via?: SigningIdentity): Promise<EmrRecord> {
  const node = via ?? (author.org === 'Hospital2MSP' ? w.node2 : w.node1);
  return (await w.h.submit(node, 'CreateRecord', JSON.stringify(recordInput(patient, author, opts)))) as EmrRecord;
}

/** Grant terms a patient's client sends: a window from now, 2-of-3 kfrags encrypted to three proxies. */
export function terms(h: ContractHarness, over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = h.time.getTime();
  return {
    notBefore: new Date(now).toISOString(),
    notAfter: new Date(now + 30 * DAY).toISOString(),
    threshold: 2,
    shares: 3,
    kfrags: ['proxy-1', 'proxy-2', 'proxy-3'].map((proxyId) => ({ proxyId, ciphertext: randomBytes(48).toString('base64') })),
    ...over,
  };
}

/** Requests access as `requester` and approves it as `patient`; returns the grant. */
export async function requestAndApprove(w: World, patient: Actor, requester: Actor, emrId: string, over: Record<string, unknown> = {}): Promise<Grant> {
  const request = (await act(w, requester, 'RequestAccess', 'request-access', { emrId, purpose: 'treatment' })) as { id: string };
  return (await act(w, patient, 'ApproveRequest', 'approve-request', { requestId: request.id, ...terms(w.h, over) })) as Grant;
}

/** Expects a failed transaction with `code` and a message matching `message`. */
export async function expectTxError(p: Promise<unknown>, code: string, message?: RegExp | string): Promise<HarnessTxError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HarnessTxError);
  const e = err as HarnessTxError;
  if (e.code !== code) throw new Error(`expected [${code}], got [${e.code}] ${e.message}`);
  if (message !== undefined) expect(e.message).toMatch(message);
  return e;
}

/** A world with the usual participants: a patient and a treating physician at Hospital1, others at Hospital2. */
export interface Cast extends World {
  readonly patient: Actor;
  readonly doctor: Actor;
  /** Hospital2 physician with the emergency role */
  readonly er: Actor;
  /** Hospital2 physician without the emergency role */
  readonly doctor2: Actor;
  readonly researcher: Actor;
  readonly insurer: Actor;
}

export async function cast(): Promise<Cast> {
  const w = await world();
  return {
    ...w,
    patient: await register(w, 'patient'),
    doctor: await register(w, 'physician'),
    er: await register(w, 'physician', { admin: w.admin2, roles: ['emergency'] }),
    doctor2: await register(w, 'physician', { admin: w.admin2 }),
    researcher: await register(w, 'researcher', { admin: w.admin2 }),
    insurer: await register(w, 'insurer', { admin: w.admin2 }),
  };
}

/** The signed policy a patient sets on a record chain. */
export function policy(over: Partial<AccessPolicy> = {}): AccessPolicy {
  return { ...DEFAULT_POLICY_JSON, ...over };
}
