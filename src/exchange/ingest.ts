/**
 * Upload (the paper's Algorithm 1) for FHIR input: validate and split into EMR groups (src/fhir) → per group, encrypt
 * under the patient's PUBLIC key and store on Helia, all groups as one batch that is pinned entirely or not at all
 * (src/storage storeEmrs) → one Table 4 record per group, signed by the author → all records in one ledger
 * transaction (CreateRecords), so an upload is recorded entirely or not at all. When anything fails after content
 * was stored, the content is unpinned again.
 *
 * The author's signature comes from one of two places:
 * - a custodial (institutional) author: the node signs with the key it holds (`ingest` does everything at once);
 * - an author whose key lives in its own client: `prepare` stores the content and returns the unsigned records and
 *   the exact bytes to sign; the client signs them and `commit` submits. A draft that is never committed expires and
 *   its content is unpinned (and would be collected as an orphan after a crash).
 */
import { randomBytes } from 'node:crypto';
import { canonicalJson, canonicalRecordBytes, MAX_BATCH_RECORDS } from '../../chaincode/src/domain/index.js';
import type { AccessPolicy, EmrRecord, Participant, RecordSigningContent } from '../../chaincode/src/domain/index.js';
import type { PieLedger, SignedRecordInput } from '../chain/pie-ledger.js';
import { PublicKey } from '../crypto/umbral/index.js';
import { prepareFhirInputOnPool } from '../fhir/index.js';
import type { EmrSummary, FhirValidatorPool, PreparedEmr, ReferenceDirectory } from '../fhir/index.js';
import { storeEmrs } from '../storage/index.js';
import type { BlobStore, StoredEmr } from '../storage/index.js';
import { Drafts } from './drafts.js';
import { ExchangeError, toExchangeError } from './errors.js';

/** Signs each record's canonical bytes with the author's signing key; returns r ‖ s hex signatures in order. */
export type RecordSigner = (messages: readonly Uint8Array[]) => Promise<string[]>;

export interface IngestDependencies {
  readonly ledger: PieLedger;
  readonly blobs: BlobStore;
  readonly validator: FhirValidatorPool;
  /** the node's organisation (MSP id): the records' hospital */
  readonly organisation: string;
  readonly directory?: ReferenceDirectory;
  /** how long an unsigned draft waits for its signatures (default 10 minutes) */
  readonly draftTtlMs?: number;
  readonly now?: () => number;
}

export interface IngestRequest {
  /** a FHIR resource or Bundle (parsed JSON) */
  readonly input: unknown;
  /** the PIE participant id of the patient the input is about */
  readonly patientId: string;
  /** the uploading participant (a physician, or the patient uploading the patient's own data) */
  readonly author: Participant;
}

export interface IngestDraft {
  readonly draftId: string;
  readonly expiresAt: Date;
  /** the records as they will be submitted, minus the author's signatures */
  readonly records: readonly RecordSigningContent[];
  /** per record, the bytes the author signs (ECDSA-SHA256 over canonicalRecordBytes) */
  readonly signingPayloads: readonly Uint8Array[];
  /** per record, the de-identified analytics summary */
  readonly summaries: readonly EmrSummary[];
  /** resources not stored in any EMR (directory data, provenance), with the reason */
  readonly omitted: readonly { readonly resource: string; readonly reason: string }[];
}

export interface IngestResult {
  readonly records: readonly EmrRecord[];
  readonly summaries: readonly EmrSummary[];
  readonly omitted: IngestDraft['omitted'];
  readonly transactionId: string;
  readonly blockNumber: bigint;
}

/** The workflow's errors all reach callers as ExchangeErrors (mapped once, at the public methods). */
const rethrow = (e: unknown): never => {
  throw toExchangeError(e);
};

const DEFAULT_DRAFT_TTL_MS = 10 * 60_000;
const MAX_PENDING_DRAFTS = 1_000;

type PreparedUpload = Omit<IngestDraft, 'draftId' | 'expiresAt'>;

export class FhirIngest {
  readonly #deps: IngestDependencies;
  readonly #drafts: Drafts<PreparedUpload>;

  constructor(deps: IngestDependencies) {
    this.#deps = deps;
    this.#drafts = new Drafts({
      ttlMs: deps.draftTtlMs ?? DEFAULT_DRAFT_TTL_MS,
      max: MAX_PENDING_DRAFTS,
      onExpire: (draft) => this.#unpin(draft.records),
      now: deps.now,
    });
  }

  /** Everything at once, for an author whose signing key the node holds. */
  async ingest(request: IngestRequest, sign: RecordSigner): Promise<IngestResult> {
    const draft = await this.#prepare(request).catch(rethrow);
    try {
      const signatures = await sign(draft.signingPayloads);
      return await this.#submit(draft, signatures);
    } catch (e) {
      await this.#unpin(draft.records);
      throw toExchangeError(e);
    }
  }

  /** Stores the content and returns the unsigned records; `commit` with the author's signatures records them. */
  async prepare(request: IngestRequest): Promise<IngestDraft> {
    this.#drafts.assertRoom();
    const draft = await this.#prepare(request).catch(rethrow);
    try {
      return { ...draft, ...this.#drafts.add(request.author.id, draft) };
    } catch (e) {
      await this.#unpin(draft.records); // no room any more (concurrent prepares)
      throw e;
    }
  }

  /** Submits a prepared draft with the author's signatures (in the order of `draft.records`). */
  commit(draftId: string, authorId: string, signatures: readonly string[]): Promise<IngestResult> {
    // A refused commit (a bad signature) keeps the draft so the client can retry; a success removes it.
    return this.#drafts.commit(draftId, authorId, async (draft) => {
      if (signatures.length !== draft.records.length) {
        throw new ExchangeError('BAD_USER_INPUT', `signatures: the upload has ${draft.records.length} records, got ${signatures.length} signatures`);
      }
      return this.#submit(draft, signatures).catch(rethrow);
    });
  }

  /** Unpins every pending draft's content (node shutdown). */
  close(): Promise<void> {
    return this.#drafts.close();
  }

  async #prepare(request: IngestRequest): Promise<PreparedUpload> {
    const { ledger, blobs, validator, organisation, directory } = this.#deps;
    const { author, patientId } = request;
    const patient = await ledger.participant(patientId);
    checkParties(author, patient, organisation);

    // The patient's policy is read while the input is validated (it is needed only for the records).
    const policyRead = ledger.patientPolicy(patientId);
    policyRead.catch(() => undefined); // awaited below, unless preparing fails first
    const prepared = await prepareFhirInputOnPool(request.input, validator, { organizationId: organisation, directory });
    if (prepared.emrs.length === 0) throw new ExchangeError('BAD_USER_INPUT', 'the input holds no clinical or identity data to store (only directory or audit resources)');
    if (prepared.emrs.length > MAX_BATCH_RECORDS) {
      throw new ExchangeError('BAD_USER_INPUT', `the input splits into ${prepared.emrs.length} EMRs; one upload may hold at most ${MAX_BATCH_RECORDS}: send it in parts`);
    }
    assertOnePatient(prepared.emrs);
    const policy = await policyRead;

    const patientPk = PublicKey.fromCompressedBytes(Buffer.from(patient.encryptionKey, 'hex'));
    // One batch: every envelope durable and pinned, or none (the EMRs are encrypted and written a few at a time).
    const stored = await storeEmrs(
      blobs,
      prepared.emrs.map((emr) => [Buffer.from(JSON.stringify(emr.content), 'utf8')]),
      patientPk,
    );
    const records = prepared.emrs.map((emr, i) => unsignedRecord(emr, stored[i]!, { patientId, author, organisation, policy }));
    return {
      records,
      signingPayloads: records.map((r) => new Uint8Array(canonicalRecordBytes(r))),
      summaries: prepared.emrs.map((e) => e.summary),
      omitted: prepared.omitted,
    };
  }

  async #submit(draft: Pick<IngestDraft, 'records' | 'summaries' | 'omitted'>, signatures: readonly string[]): Promise<IngestResult> {
    const signed: SignedRecordInput[] = draft.records.map((r, i) => ({ ...r, authorSignature: signatures[i]! }));
    const { result, transactionId, blockNumber } = await this.#deps.ledger.createRecords(signed);
    return { records: result, summaries: draft.summaries, omitted: draft.omitted, transactionId, blockNumber };
  }

  async #unpin(records: readonly RecordSigningContent[]): Promise<void> {
    await Promise.all(records.map((r) => this.#deps.blobs.unpin(r.metadata.cid).catch(() => undefined)));
  }
}

/** The checks the contract will make anyway, made before anything is stored so a refusal costs nothing. */
export function checkParties(author: Participant, patient: Participant, organisation: string): void {
  if (patient.kind !== 'patient') throw new ExchangeError('BAD_USER_INPUT', `patientId: participant ${patient.id} is a ${patient.kind}, not a patient`);
  if (patient.status !== 'active') throw new ExchangeError('FORBIDDEN', `patientId: patient ${patient.id} is ${patient.status}`);
  if (author.status !== 'active') throw new ExchangeError('FORBIDDEN', `you are ${author.status}`);
  if (author.org !== organisation) throw new ExchangeError('FORBIDDEN', `this node uploads for ${organisation}; you belong to ${author.org}`);
  const selfUpload = author.id === patient.id;
  if (author.kind !== 'physician' && !selfUpload) {
    throw new ExchangeError('FORBIDDEN', `a ${author.kind} may not author records (only a physician, or a patient for the patient's own data)`);
  }
}

/** Every group must be about one and the same patient: the one the caller named. */
function assertOnePatient(emrs: readonly PreparedEmr[]): void {
  const patients = new Set(emrs.map((e) => e.group.patient).filter((p): p is string => p !== undefined));
  if (patients.size > 1) throw new ExchangeError('BAD_USER_INPUT', `the input is about ${patients.size} patients; upload one patient's data at a time`);
}

function unsignedRecord(
  emr: PreparedEmr,
  stored: StoredEmr,
  ctx: { patientId: string; author: Participant; organisation: string; policy: AccessPolicy },
): RecordSigningContent {
  return {
    id: `emr-${randomBytes(16).toString('hex')}`,
    version: 1,
    patientId: ctx.patientId,
    authorId: ctx.author.id,
    hospital: ctx.organisation,
    summary: emr.recordSummary,
    metadata: {
      cid: stored.cid,
      size: stored.size,
      mediaType: emr.mediaType,
      contentHash: stored.contentHash,
      capsule: stored.capsule,
      envelopeVersion: stored.envelopeVersion,
    },
    // the contract requires the patient's current default policy, compared canonically
    policy: JSON.parse(canonicalJson(ctx.policy)) as AccessPolicy,
  };
}
