/**
 * A participant that holds its own keys (a patient, or a physician / researcher / insurer with its own client): the
 * sharing workflows of docs/sharing.md on top of PieClient. The secret keys stay in this object's memory; the node
 * gets only public keys, signatures, sealed kfrags and signed actions. Browser-safe (no Node built-ins).
 *
 * Errors: the node's refusals are PieApiError (its code: FORBIDDEN, NOT_FOUND, CONFLICT, …); what the client itself
 * checks fails with PieIntegrityError (a cfrag, capsule, hash or prepared draft that does not verify) or
 * PieInputError (an argument refused before asking the node).
 */
import { canonicalJson, RECORD_SIGNING_DOMAIN } from '../../chaincode/src/domain/canonical.js';
import { bytesEqual, fromBase64, toHex } from '../bytes.js';
import { Signer } from '../crypto/umbral/index.js';
import type { SecretKey } from '../crypto/umbral/index.js';
import { ACTION_OF, ActionPayloads } from '../exchange/action-payloads.js';
import type { GrantWindow } from '../exchange/action-payloads.js';
import { PieApiError } from './client.js';
import type { BlobMetadata, PieClient } from './client.js';
import { grantWindowOf, MAX_GRANT_MS, sealedKFrags } from './delegation.js';
import type { GrantOptions } from './delegation.js';
import { PieInputError, PieIntegrityError } from './errors.js';
import { subscribeSharingEvents } from './events.js';
import type { SharingEventStream, SubscribeSharingEventsOptions } from './events.js';
import { chunksOf, prepareDek, verifiedPlaintext } from './opening.js';
import { signActionWith, signatureOf } from './sign.js';
import type { SignedActionParts } from './sign.js';
import {
  AUDIT_FIELDS,
  GRANT_FIELDS,
  OPENING_FIELDS,
  PARTICIPANT_FIELDS,
  PROXY_FIELDS,
  RECORD_FIELDS,
  REQUEST_FIELDS,
} from './types.js';
import type {
  AccessRequestInfo,
  AccessRequestStatus,
  AuditEntryInfo,
  CreditBalanceInfo,
  EmrDraftInfo,
  EmrOpeningInfo,
  EmrRecordInfo,
  GrantInfo,
  ParticipantInfo,
  ProxyInfo,
} from './types.js';

export interface ParticipantKeys {
  readonly signing: SecretKey;
  readonly encryption: SecretKey;
}

/** Filters of `emrs` (GraphQL enum names for category, securityLevel, gender). */
export interface RecordFilter {
  patientId?: string;
  authorId?: string;
  hospital?: string;
  category?: string;
  securityLevel?: string;
  code?: string;
  gender?: string;
  ageBand?: string;
  year?: number;
}

export interface OpenOptions {
  /** the grant to read through; absent for the patient's own record */
  grantId?: string;
  /** envelope bytes downloaded so far, of `total` */
  onProgress?: (bytes: number, total: number) => void;
}

export interface OpenedEmr {
  record: EmrRecordInfo;
  /** the committed operation record that authorised this opening */
  operationId: string;
  grantId: string | null;
  mediaType: string;
  /** SHA-256 of the plaintext, hex, as the ledger records it */
  contentHash: string;
  /** capsule fragments that failed verification and were set aside (fragments past the threshold are not examined) */
  rejectedCfrags: number;
  /**
   * The plaintext, released segment by segment as each authenticates; iterate it once. The content is genuine only
   * once iteration finishes without an error: the SHA-256 check against the ledger runs after the last chunk and
   * throws PieIntegrityError if it fails (discard what was read).
   */
  plaintext: AsyncIterable<Uint8Array>;
}

export interface RotatedEmr {
  /** the new version */
  record: EmrRecordInfo;
  /** the treating grant re-issued for the new version (null when the old version had no live one) */
  treatingGrant: GrantInfo | null;
}

const MAX_PAGE = 100;

export class PieParticipant {
  readonly #keys: ParticipantKeys;

  constructor(
    /** a client authenticated as this participant */
    readonly client: PieClient,
    readonly id: string,
    keys: ParticipantKeys,
  ) {
    this.#keys = { signing: keys.signing, encryption: keys.encryption };
  }

  /** `client`'s node as participant `id`, with its secret keys (tokens are minted locally with the signing key). */
  static fromKeys(client: PieClient, id: string, keys: ParticipantKeys): PieParticipant {
    return new PieParticipant(client.as({ participantId: id, signingKey: keys.signing }), id, keys);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reading

  async me(): Promise<ParticipantInfo> {
    return (await this.client.request<{ me: ParticipantInfo }>(`{ me { ${PARTICIPANT_FIELDS} } }`)).me;
  }

  /** A participant's public, pseudonymous data. */
  async participant(id: string): Promise<ParticipantInfo> {
    return (await this.client.request<{ participant: ParticipantInfo }>(`query($id: ID!) { participant(id: $id) { ${PARTICIPANT_FIELDS} } }`, { id })).participant;
  }

  /** The channel the node's ledger runs on (signed into every action). */
  channel(): Promise<string> {
    return this.client.channel();
  }

  /** Every record matching `filter` the node lets this participant see (a patient: the patient's own), up to `limit`. */
  async records(filter: RecordFilter = {}, opts: { limit?: number } = {}): Promise<EmrRecordInfo[]> {
    const limit = opts.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new PieInputError('limit: must be a positive whole number');
    const out: EmrRecordInfo[] = [];
    let after: string | null = null;
    do {
      type Page = { emrs: { edges: { node: EmrRecordInfo }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
      const page: Page = await this.client.request<Page>(
        `query($f: EmrFilter!, $n: Int!, $a: String) { emrs(filter: $f, first: $n, after: $a) { edges { node { ${RECORD_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
        { f: filter, n: Math.min(MAX_PAGE, limit - out.length), a: after },
      );
      out.push(...page.emrs.edges.map((e) => e.node));
      after = page.emrs.pageInfo.hasNextPage ? page.emrs.pageInfo.endCursor : null;
    } while (after !== null && out.length < limit);
    return out;
  }

  /** One record this participant may see. */
  async record(id: string): Promise<EmrRecordInfo> {
    return (await this.client.request<{ emr: EmrRecordInfo }>(`query($id: ID!) { emr(id: $id) { ${RECORD_FIELDS} } }`, { id })).emr;
  }

  /** The re-encryption proxies registered on the ledger. */
  async proxies(): Promise<ProxyInfo[]> {
    return (await this.client.request<{ proxies: ProxyInfo[] }>(`{ proxies { ${PROXY_FIELDS} } }`)).proxies;
  }

  /** A patient: requests for the patient's records; anyone else: its own requests. */
  async accessRequests(opts: { status?: AccessRequestStatus; emrId?: string; first?: number } = {}): Promise<AccessRequestInfo[]> {
    return (
      await this.client.request<{ accessRequests: AccessRequestInfo[] }>(
        `query($s: AccessRequestStatus, $e: ID, $n: Int) { accessRequests(status: $s, emrId: $e, first: $n) { ${REQUEST_FIELDS} } }`,
        { s: opts.status ?? null, e: opts.emrId ?? null, n: opts.first ?? 100 },
      )
    ).accessRequests;
  }

  async accessRequest(id: string): Promise<AccessRequestInfo> {
    return (await this.client.request<{ accessRequest: AccessRequestInfo }>(`query($id: ID!) { accessRequest(id: $id) { ${REQUEST_FIELDS} } }`, { id })).accessRequest;
  }

  /** A patient: grants on the patient's records; anyone else: grants given to it. */
  async grants(opts: { emrId?: string; liveOnly?: boolean; first?: number } = {}): Promise<GrantInfo[]> {
    return (
      await this.client.request<{ grants: GrantInfo[] }>(`query($e: ID, $l: Boolean, $n: Int) { grants(emrId: $e, liveOnly: $l, first: $n) { ${GRANT_FIELDS} } }`, {
        e: opts.emrId ?? null,
        l: opts.liveOnly ?? false,
        n: opts.first ?? 100,
      })
    ).grants;
  }

  async grant(id: string): Promise<GrantInfo> {
    return (await this.client.request<{ grant: GrantInfo }>(`query($id: ID!) { grant(id: $id) { ${GRANT_FIELDS} } }`, { id })).grant;
  }

  /** Every request, decision, grant, revocation, emergency, access and version around a record or a patient. */
  async auditTrail(opts: { emrId?: string; patientId?: string }): Promise<AuditEntryInfo[]> {
    return (
      await this.client.request<{ auditTrail: AuditEntryInfo[] }>(`query($e: ID, $p: ID) { auditTrail(emrId: $e, patientId: $p) { ${AUDIT_FIELDS} } }`, {
        e: opts.emrId ?? null,
        p: opts.patientId ?? null,
      })
    ).auditTrail;
  }

  /** The same trail as a FHIR R4 Bundle of AuditEvents. */
  async auditEvents(opts: { emrId?: string; patientId?: string }): Promise<Record<string, unknown>> {
    return (
      await this.client.request<{ auditEvents: Record<string, unknown> }>('query($e: ID, $p: ID) { auditEvents(emrId: $e, patientId: $p) }', {
        e: opts.emrId ?? null,
        p: opts.patientId ?? null,
      })
    ).auditEvents;
  }

  /** Credit balance of this participant (or `participantId`) and of its organisation. */
  async credits(participantId?: string): Promise<CreditBalanceInfo> {
    return (await this.client.request<{ credits: CreditBalanceInfo }>('query($p: ID) { credits(participantId: $p) { participant organisation } }', { p: participantId ?? null })).credits;
  }

  /**
   * This participant's sharing events (sharingEvents over graphql-ws, src/client/events.ts), resuming after
   * `opts.after`; a fresh token per connection. Node 20: pass `webSocketImpl` (the `ws` package's class).
   */
  events(opts: SubscribeSharingEventsOptions = {}): SharingEventStream {
    return subscribeSharingEvents(this.client.url, () => this.client.token(), opts);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Signed actions

  /** Signs an action of this participant for the node's channel. */
  async sign(type: SignedActionParts['type'], payload: Record<string, unknown>): Promise<SignedActionParts> {
    return signActionWith(this.#keys.signing, this.id, type, payload, await this.channel());
  }

  /** Asks the record's patient for access (the contract checks clearance, kind and the patient's policy first). */
  async requestAccess(emrId: string, purpose: string): Promise<AccessRequestInfo> {
    const signed = await this.sign(ACTION_OF.requestAccess, ActionPayloads.requestAccess({ emrId, purpose }));
    return (
      await this.client.request<{ requestAccess: AccessRequestInfo }>(
        `mutation($e: ID!, $p: String!, $s: ActionSignatureInput!) { requestAccess(emrId: $e, purpose: $p, signed: $s) { ${REQUEST_FIELDS} } }`,
        { e: emrId, p: purpose, s: signatureOf(signed) },
      )
    ).requestAccess;
  }

  /**
   * The patient approves a request: kfrags from the patient's key to the requester's, one sealed to each
   * ledger-registered proxy (threshold t of n; default n of n), valid for `validFor` ms (default 30 days) or until
   * `validUntil`.
   */
  async approve(requestId: string, opts: GrantOptions = {}): Promise<GrantInfo> {
    const window = grantWindowOf(opts);
    // the requester's key and the proxies in the same round trip as the request
    const { accessRequest: request, proxies } = await this.client.request<{ accessRequest: AccessRequestInfo & { requester: { encryptionKey: string } | null }; proxies: ProxyInfo[] }>(
      `query($id: ID!) { accessRequest(id: $id) { ${REQUEST_FIELDS} requester { encryptionKey } } proxies { ${PROXY_FIELDS} } }`,
      { id: requestId },
    );
    if (request.requester === null) throw new PieApiError('NOT_FOUND', `requester ${request.requesterId} of ${requestId} is not registered`, 404);
    const terms: GrantWindow = { ...window, ...sealedKFrags(this.#keys, request.requester.encryptionKey, proxies, opts.threshold) };
    const signed = await this.sign(ACTION_OF.approveAccessRequest, ActionPayloads.approveAccessRequest({ requestId, ...terms }));
    return (
      await this.client.request<{ approveAccessRequest: GrantInfo }>(
        `mutation($r: ID!, $f: String!, $u: String!, $t: Int!, $k: [SealedKFragInput!]!, $s: ActionSignatureInput!) {
          approveAccessRequest(requestId: $r, validFrom: $f, validUntil: $u, threshold: $t, kfrags: $k, signed: $s) { ${GRANT_FIELDS} } }`,
        { r: requestId, f: terms.validFrom, u: terms.validUntil, t: terms.threshold, k: terms.kfrags, s: signatureOf(signed) },
      )
    ).approveAccessRequest;
  }

  async deny(requestId: string, reason?: string): Promise<AccessRequestInfo> {
    const signed = await this.sign(ACTION_OF.denyAccessRequest, ActionPayloads.denyAccessRequest({ requestId, reason: reason ?? null }));
    return (
      await this.client.request<{ denyAccessRequest: AccessRequestInfo }>(
        `mutation($r: ID!, $why: String, $s: ActionSignatureInput!) { denyAccessRequest(requestId: $r, reason: $why, signed: $s) { ${REQUEST_FIELDS} } }`,
        { r: requestId, why: reason ?? null, s: signatureOf(signed) },
      )
    ).denyAccessRequest;
  }

  /** Ends a grant at the transaction time; the next openEmr with it is refused (REVOKED). */
  async revoke(grantId: string): Promise<GrantInfo> {
    const signed = await this.sign(ACTION_OF.revokeGrant, ActionPayloads.revokeGrant({ grantId }));
    return (
      await this.client.request<{ revokeGrant: GrantInfo }>(`mutation($g: ID!, $s: ActionSignatureInput!) { revokeGrant(grantId: $g, signed: $s) { ${GRANT_FIELDS} } }`, {
        g: grantId,
        s: signatureOf(signed),
      })
    ).revokeGrant;
  }

  /**
   * Algorithm 1: the patient's consent that the record's author (the treating physician) may read it back, by the
   * same kfrag procedure as approve. For a version the patient recorded (a key rotation), the treating physician is
   * the author of the chain's first version. Default validity: the contract's longest, 366 days.
   */
  async grantTreating(emrId: string, opts: GrantOptions = {}): Promise<GrantInfo> {
    const { emr } = await this.client.request<{ emr: { authorId: string; versions: { authorId: string }[] } }>('query($id: ID!) { emr(id: $id) { authorId versions { authorId } } }', { id: emrId });
    const author = emr.authorId !== this.id ? emr.authorId : emr.versions[0]?.authorId;
    if (author === undefined || author === this.id) throw new PieInputError(`${emrId} has no author but you: a treating grant goes to the physician who recorded it`);
    return this.grantTo(emrId, author, { ...opts, ...(opts.validFor === undefined && opts.validUntil === undefined ? { validFor: MAX_GRANT_MS } : {}) });
  }

  /** The patient grants `granteeId` access to a record without a request (grantAccess), by the approve procedure. */
  async grantTo(emrId: string, granteeId: string, opts: GrantOptions = {}): Promise<GrantInfo> {
    const window = grantWindowOf(opts);
    const grantee = await this.participant(granteeId);
    const terms: GrantWindow = { ...window, ...sealedKFrags(this.#keys, grantee.encryptionKey, await this.proxies(), opts.threshold) };
    const signed = await this.sign(ACTION_OF.grantAccess, ActionPayloads.grantAccess({ emrId, granteeId, ...terms }));
    return (
      await this.client.request<{ grantAccess: GrantInfo }>(
        `mutation($e: ID!, $g: ID!, $f: String!, $u: String!, $t: Int!, $k: [SealedKFragInput!]!, $s: ActionSignatureInput!) {
          grantAccess(emrId: $e, granteeId: $g, validFrom: $f, validUntil: $u, threshold: $t, kfrags: $k, signed: $s) { ${GRANT_FIELDS} } }`,
        { e: emrId, g: granteeId, f: terms.validFrom, u: terms.validUntil, t: terms.threshold, k: terms.kfrags, s: signatureOf(signed) },
      )
    ).grantAccess;
  }

  /** A physician with the emergency role breaks the glass: a short emergency grant, audited as a security alert. */
  async breakGlass(emrId: string, justification: string, durationMinutes?: number): Promise<GrantInfo> {
    if (durationMinutes !== undefined && (!Number.isSafeInteger(durationMinutes) || durationMinutes < 1)) throw new PieInputError('durationMinutes: must be a positive whole number');
    const signed = await this.sign(ACTION_OF.breakGlass, ActionPayloads.breakGlass({ emrId, justification, durationMinutes: durationMinutes ?? null }));
    return (
      await this.client.request<{ breakGlass: GrantInfo }>(
        `mutation($e: ID!, $j: String!, $d: Int, $s: ActionSignatureInput!) { breakGlass(emrId: $e, justification: $j, durationMinutes: $d, signed: $s) { ${GRANT_FIELDS} } }`,
        { e: emrId, j: justification, d: durationMinutes ?? null, s: signatureOf(signed) },
      )
    ).breakGlass;
  }

  /** The patient sets the default policy for new records, or (with emrId) one record chain's policy. */
  async setPolicy(policy: Record<string, unknown>, emrId?: string): Promise<Record<string, unknown>> {
    const action = emrId === undefined ? await this.sign('set-patient-policy', { policy }) : await this.sign('set-record-policy', { emrId, policy });
    return (
      await this.client.request<{ setAccessPolicy: Record<string, unknown> }>(
        'mutation($a: SignedActionInput!) { setAccessPolicy(action: $a) { minClearance allowedKinds allow deny emergencyAllowed expiresAt } }',
        { a: action },
      )
    ).setAccessPolicy;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Opening records

  /**
   * Opens a record: signs the record-operation (download for the patient's own record, reencrypt with a grant),
   * has the node commit it and release the proxies' cfrags, verifies them, opens the DEK with this participant's key,
   * and streams the decrypted content from GET /blobs/:cid. See OpenedEmr.plaintext for when content is genuine.
   */
  async open(emrId: string, opts: OpenOptions = {}): Promise<OpenedEmr> {
    const grantId = opts.grantId ?? null;
    const signed = await this.sign(ACTION_OF.openEmr, ActionPayloads.openEmr({ emrId, grantId }));
    const { openEmr: o } = await this.client.request<{ openEmr: EmrOpeningInfo }>(
      `mutation($e: ID!, $g: ID, $s: ActionSignatureInput!) { openEmr(emrId: $e, grantId: $g, signed: $s) { ${OPENING_FIELDS} envelope record { patient { signingKey encryptionKey } } } }`,
      { e: emrId, g: grantId, s: signatureOf(signed) },
    );
    if (o.record.id !== emrId) throw new PieIntegrityError(`asked to open ${emrId}, the node opened ${o.record.id}`);
    if ((o.grantId ?? null) !== grantId) throw new PieIntegrityError(`asked to open ${emrId} with grant ${grantId}, the node used ${o.grantId}`);
    // the patient's registered keys (read in the same answer) must be the ones the cfrags are checked against
    const registered = (o.record as EmrRecordInfo & { patient?: { signingKey: string; encryptionKey: string } | null }).patient;
    if (o.grantId !== null && o.emergencyKey === null && (registered === undefined || registered === null)) throw new PieIntegrityError(`the patient of ${emrId} is not registered`);
    const patient = o.grantId === null || o.emergencyKey !== null ? { signingKey: o.verifyingKey, encryptionKey: o.delegatingKey } : registered!;
    // a small envelope comes inline; otherwise the download starts while the cfrags are checked and the DEK is
    // opened, and is cancelled if that fails
    const download = o.envelope != null ? Promise.resolve(streamOf(decodeEnvelope(o.envelope, emrId))) : this.client.downloadBlob(o.cid);
    let dek: ReturnType<typeof prepareDek>;
    try {
      dek = prepareDek(o, this.#keys.encryption, patient);
    } catch (e) {
      void download.then((body) => body.cancel(), () => undefined);
      throw e;
    }
    let envelope: ReadableStream<Uint8Array>;
    try {
      envelope = await download;
    } catch (e) {
      dek.wipe();
      throw e;
    }
    return {
      record: o.record,
      operationId: o.operationId,
      grantId: o.grantId,
      mediaType: o.mediaType,
      contentHash: o.contentHash,
      rejectedCfrags: dek.rejectedCfrags,
      plaintext: verifiedPlaintext(chunksOf(envelope), dek, { size: o.size, contentHash: o.contentHash, emrId }, opts.onProgress),
    };
  }

  /** open(), collected: the whole verified content. */
  async read(emrId: string, opts: OpenOptions = {}): Promise<Uint8Array> {
    const { plaintext } = await this.open(emrId, opts);
    return concat(await collect(plaintext));
  }

  /** read(), parsed as JSON (a FHIR resource or Bundle). */
  async readFhir(emrId: string, opts: OpenOptions = {}): Promise<Record<string, unknown>> {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await this.read(emrId, opts));
    return JSON.parse(text) as Record<string, unknown>;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Key rotation

  /**
   * Data version update by the patient: opens the record, re-uploads the plaintext (a fresh DEK, capsule and CID),
   * checks the node's draft of version n + 1 (previous version, same patient and summary, the uploaded metadata, this
   * patient as author) and the exact bytes to sign, signs and commits it. Every grant on the old version ends; a live
   * treating grant is re-issued for the new version with the same end and threshold.
   */
  async rotateKey(emrId: string): Promise<RotatedEmr> {
    const old = await this.record(emrId);
    if (old.patientId !== this.id) throw new PieInputError(`only the patient of ${emrId} rotates its key`);
    // looked up first: once the new version is recorded, the old version's grants are no longer live
    // the treating physician: the author of the chain's first version (a rotated version's author is the patient)
    const { emr } = await this.client.request<{ emr: { versions: { authorId: string }[] } }>('query($id: ID!) { emr(id: $id) { versions { authorId } } }', { id: emrId });
    const firstAuthor = emr.versions[0]?.authorId ?? old.authorId;
    const treating = (await this.grants({ emrId, liveOnly: true })).find((g) => g.kind === 'TREATING' || (g.kind !== 'EMERGENCY' && g.granteeId === firstAuthor && firstAuthor !== this.id)) ?? null;

    const opened = await this.open(emrId);
    const stored = await uploadVerified(this.client, this.id, opened);
    if (stored.contentHash !== opened.contentHash) throw new PieIntegrityError(`the node stored content whose SHA-256 is ${stored.contentHash}, not ${opened.contentHash}`);

    const content = { cid: stored.cid, size: stored.size, contentHash: stored.contentHash, capsule: stored.capsule, envelopeVersion: stored.envelopeVersion };
    const { prepareRotateEmrKey: draft } = await this.client.request<{ prepareRotateEmrKey: EmrDraftInfo }>(
      'mutation($e: ID!, $c: RotatedContentInput!) { prepareRotateEmrKey(emrId: $e, content: $c) { draftId expiresAt record signingPayload } }',
      { e: emrId, c: content },
    );
    checkRotationDraft(draft.record, old, { ...content, mediaType: opened.mediaType }, this.id);
    const bytes = recordSigningBytes(draft.record);
    if (!bytesEqual(bytes, fromBase64(draft.signingPayload, 'signingPayload'))) {
      throw new PieIntegrityError('refusing to sign: the node’s signingPayload is not the canonical bytes of its draft record');
    }
    const signature = toHex(new Signer(this.#keys.signing).sign(bytes).toBEBytes());
    const { commitCreateEmr: record } = await this.client.request<{ commitCreateEmr: EmrRecordInfo }>(
      `mutation($d: ID!, $s: String!) { commitCreateEmr(draftId: $d, signature: $s) { ${RECORD_FIELDS} } }`,
      { d: draft.draftId, s: signature },
    );

    let treatingGrant: GrantInfo | null = null;
    if (treating !== null && Date.parse(treating.notAfter) > Date.now()) {
      const proxies = (await this.proxies()).length;
      treatingGrant = await this.grantTo(record.id, treating.granteeId, { validUntil: new Date(treating.notAfter), ...(treating.threshold <= proxies ? { threshold: treating.threshold } : {}) });
    }
    return { record, treatingGrant };
  }

  /** Keeps the secret keys out of logs and JSON. */
  toJSON(): { id: string } {
    return { id: this.id };
  }
}

// -----------------------------------------------------------------------------------------------------------------

function decodeEnvelope(b64: string, emrId: string): Uint8Array {
  try {
    return fromBase64(b64, 'envelope');
  } catch (e) {
    throw new PieIntegrityError(`the envelope of ${emrId}: the node sent invalid base64`, { cause: e });
  }
}

/** One buffer as a web stream (what downloadBlob answers). */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p.slice()); // copies: decrypted chunks may be views into reused buffers
  return parts;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * POST /blobs with the opened plaintext streamed through. If the plaintext fails its check (it throws at the end),
 * the upload is aborted and that error, not the transport's, is raised.
 */
async function uploadVerified(client: PieClient, patientId: string, opened: OpenedEmr): Promise<BlobMetadata> {
  let failure: unknown;
  const it = opened.plaintext[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value.slice());
      } catch (e) {
        failure = e;
        controller.error(e);
      }
    },
    async cancel() {
      await it.return?.();
    },
  });
  try {
    const stored = await client.uploadBlob(patientId, body, opened.mediaType);
    if (failure !== undefined) throw failure;
    return stored;
  } catch (e) {
    throw failure ?? e;
  }
}

/** GraphQL enum name → the ledger's value (MEDICAL_IMAGING → medical-imaging, FEMALE → female). */
const ledgerValue = (name: string): string => name.toLowerCase().replace(/_/g, '-');

/** The bytes an author signs (canonicalRecordBytes of the chaincode, without Buffer). */
export function recordSigningBytes(record: Record<string, unknown>): Uint8Array {
  const { authorSignature: _s, timestamp: _t, ...content } = record;
  return new TextEncoder().encode(RECORD_SIGNING_DOMAIN + canonicalJson(content, 'record'));
}

/** Throws unless the draft is version n + 1 of `old` with the same patient and summary, `metadata`, by `authorId`. */
function checkRotationDraft(record: Record<string, unknown>, old: EmrRecordInfo, metadata: Record<string, unknown>, authorId: string): void {
  const s = old.summary;
  const expected: Record<string, unknown> = {
    version: old.version + 1,
    previousId: old.id,
    patientId: old.patientId,
    authorId,
    metadata,
    summary: {
      category: ledgerValue(s.category),
      securityLevel: s.securityLevel,
      codes: s.codes,
      year: s.year,
      resourceTypes: s.resourceTypes,
      labels: s.labels,
      gender: s.gender == null ? undefined : ledgerValue(s.gender),
      ageBand: s.ageBand ?? undefined,
    },
  };
  for (const [field, value] of Object.entries(expected)) {
    if (canonicalJson(record[field] ?? null) !== canonicalJson(value ?? null)) throw new PieIntegrityError(`refusing to sign: the node’s draft differs from the rotation asked for in ${field}`);
  }
}
