/**
 * Records for content uploaded through POST /blobs (binary EMRs: DICOM, PDF, CSV …). POST /blobs has already
 * encrypted the content under the patient's public key and stored it; what remains is its Table 4 record:
 *
 * 1. the node checks the caller's metadata against the content it holds (the stored size, the envelope's own
 *    capsule, which the proxies will re-encrypt, and that the content is not recorded yet), the parties (as the
 *    contract will) and the summary (with the ledger's own parser), and builds the record with a fresh id, this
 *    node's organisation and the patient's current default policy;
 * 2. the author signs the record's canonical bytes (canonicalRecordBytes);
 * 3. the record goes to the ledger (CreateRecord), which verifies the signature again.
 *
 * The signature comes from one of two places, as for FHIR uploads (ingest.ts):
 * - a custodial author: `create` signs with the key the node holds and submits at once;
 * - an author whose key lives in its own client: `prepare` returns the unsigned record and the exact bytes to sign
 *   (a draft that expires), and `commit` verifies the author's signature under the author's registered key before
 *   submitting, so a wrong signature is refused without a ledger transaction and the draft stays committable.
 *
 * A draft holds no content of its own (the blob is POST /blobs's), so an expired draft is simply forgotten; the
 * author may prepare again.
 */
import { randomBytes } from 'node:crypto';
import { canonicalJson, canonicalRecordBytes, parseRecordMetadata, parseRecordSummary, verifyAuthorSignature } from '../../chaincode/src/domain/index.js';
import type { AccessPolicy, EmrRecord, Participant, RecordSigningContent } from '../../chaincode/src/domain/index.js';
import type { SubmitResult } from '../chain/client.js';
import type { PieLedger, SignedRecordInput } from '../chain/pie-ledger.js';
import { readEnvelopeHeader } from '../crypto/envelope/index.js';
import type { BlobStore } from '../storage/index.js';
import { Drafts } from './drafts.js';
import { ExchangeError, toExchangeError } from './errors.js';
import { checkParties } from './ingest.js';
import type { RecordSigner } from './ingest.js';

export interface BlobRecordInput {
  /** the patient the content is about (it was encrypted under this patient's key) */
  readonly patientId: string;
  /** what POST /blobs answered */
  readonly cid: string;
  readonly size: number;
  readonly contentHash: string;
  readonly capsule: string;
  readonly envelopeVersion: number;
  readonly mediaType: string;
  /** the de-identified summary (Table 4 "EMR information"); absent optional fields left out */
  readonly summary: unknown;
}

export interface BlobRecordDependencies {
  readonly ledger: PieLedger;
  readonly blobs: BlobStore;
  /** the node's organisation (MSP id): the records' hospital */
  readonly organisation: string;
  /** how long an unsigned draft waits for its signature (default 10 minutes) */
  readonly draftTtlMs?: number;
  readonly now?: () => number;
}

export interface RecordDraft {
  readonly draftId: string;
  readonly expiresAt: Date;
  /** the record as it will be submitted, minus the author's signature (the ledger adds the timestamp) */
  readonly record: RecordSigningContent;
  /** the bytes the author signs: canonicalRecordBytes(record), ECDSA-SHA256 */
  readonly signingPayload: Uint8Array;
}

const DEFAULT_DRAFT_TTL_MS = 10 * 60_000;
const MAX_PENDING_DRAFTS = 1_000;
const SIGNATURE_HEX = /^[0-9a-f]{128}$/;

const rethrow = (e: unknown): never => {
  throw toExchangeError(e);
};

export class BlobRecords {
  readonly #deps: BlobRecordDependencies;
  readonly #drafts: Drafts<RecordSigningContent>;

  constructor(deps: BlobRecordDependencies) {
    this.#deps = deps;
    this.#drafts = new Drafts({ ttlMs: deps.draftTtlMs ?? DEFAULT_DRAFT_TTL_MS, max: MAX_PENDING_DRAFTS, now: deps.now });
  }

  /** Everything at once, for an author whose signing key the node holds. */
  async create(input: BlobRecordInput, author: Participant, sign: RecordSigner): Promise<SubmitResult<EmrRecord>> {
    try {
      const record = await this.#build(input, author);
      const [signature] = await sign([canonicalRecordBytes(record)]);
      return await this.#submit(record, signature!);
    } catch (e) {
      throw toExchangeError(e);
    }
  }

  /** Checks and builds the record; `commit` with the author's signature records it. */
  async prepare(input: BlobRecordInput, author: Participant): Promise<RecordDraft> {
    this.#drafts.assertRoom();
    const record = await this.#build(input, author).catch(rethrow);
    return { record, signingPayload: new Uint8Array(canonicalRecordBytes(record)), ...this.#drafts.add(author.id, record) };
  }

  /**
   * Submits the author's draft with the author's signature (hex r ‖ s over the draft's signingPayload), verified
   * first under the author's registered signing key.
   */
  commit(draftId: string, author: Participant, signature: string): Promise<SubmitResult<EmrRecord>> {
    return this.#drafts
      .commit(draftId, author.id, async (record) => {
        const sig = typeof signature === 'string' ? signature.toLowerCase() : '';
        if (!SIGNATURE_HEX.test(sig)) throw new ExchangeError('BAD_USER_INPUT', 'signature: must be 64 bytes r ‖ s in hex (128 characters)');
        if (!(await verifyAuthorSignature({ ...record, authorSignature: sig }, author.signingKey))) {
          throw new ExchangeError('BAD_USER_INPUT', 'signature: does not verify under your registered signing key (sign the draft’s signingPayload with ECDSA-SHA256)');
        }
        await this.#assertNotRecorded(record.metadata.cid); // another draft of the same content may have won meanwhile
        return this.#submit(record, sig);
      })
      .catch(rethrow);
  }

  /** Forgets every pending draft (node shutdown). */
  close(): Promise<void> {
    return this.#drafts.close();
  }

  async #build(input: BlobRecordInput, author: Participant): Promise<RecordSigningContent> {
    const { ledger, blobs, organisation } = this.#deps;
    // The ledger's own parsers first: a malformed input costs nothing.
    const summary = parseRecordSummary(input.summary, 'input.summary');
    const metadata = parseRecordMetadata(
      {
        cid: input.cid,
        size: input.size,
        mediaType: input.mediaType,
        contentHash: input.contentHash,
        capsule: input.capsule,
        envelopeVersion: input.envelopeVersion,
      },
      'input',
    );
    const patient = await ledger.participant(input.patientId);
    checkParties(author, patient, organisation);

    const stat = await blobs.stat(metadata.cid);
    if (stat.size !== metadata.size) throw new ExchangeError('BAD_USER_INPUT', `input.size: ${metadata.cid} holds ${stat.size} bytes, not ${metadata.size}`);
    // The capsule recorded must be the envelope's own (the proxies re-encrypt it), and content is recorded once.
    let capsule: string;
    try {
      capsule = Buffer.from((await readEnvelopeHeader(blobs.get(metadata.cid))).keyBlock.capsule.toBytes()).toString('base64');
    } catch (e) {
      throw new ExchangeError('BAD_USER_INPUT', `input.cid: ${metadata.cid} is not a PIE envelope (upload content through POST /blobs)`, { cause: e });
    }
    if (capsule !== metadata.capsule) throw new ExchangeError('BAD_USER_INPUT', `input.capsule: is not the capsule of the envelope ${metadata.cid}`);
    await this.#assertNotRecorded(metadata.cid);

    // the contract requires the patient's current default policy, compared canonically
    const policy = JSON.parse(canonicalJson(await ledger.patientPolicy(patient.id))) as AccessPolicy;
    return {
      id: `emr-${randomBytes(16).toString('hex')}`,
      version: 1,
      patientId: patient.id,
      authorId: author.id,
      hospital: organisation,
      summary,
      metadata,
      policy,
    };
  }

  async #assertNotRecorded(cid: string): Promise<void> {
    if ((await this.#deps.ledger.searchRecords('cid', [cid], { pageSize: 1 })).items.length > 0) {
      throw new ExchangeError('CONFLICT', `input.cid: ${cid} is already recorded`);
    }
  }

  #submit(record: RecordSigningContent, authorSignature: string): Promise<SubmitResult<EmrRecord>> {
    return this.#deps.ledger.createRecord({ ...record, authorSignature } as SignedRecordInput);
  }
}
