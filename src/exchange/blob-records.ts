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
 *
 * Key rotation (data version update) builds the next version of a record chain the same way (`rotate` /
 * `prepareRotation`, committed by the same `commit`): content the patient re-uploaded through POST /blobs (a fresh DEK,
 * capsule and CID), checked as above, recorded as version n + 1 of the chain's head with the same patient, summary and
 * media type. As the contract requires, the author is the patient or the chain's first author, and the policy the
 * patient's current default. Recording it ends every grant on the older versions (SUPERSEDED).
 */
import { randomBytes } from 'node:crypto';
import { ID_PATTERN, canonicalJson, canonicalRecordBytes, parseRecordMetadata, parseRecordSummary, verifyAuthorSignature } from '../../chaincode/src/domain/index.js';
import type { AccessPolicy, EmrRecord, Participant, RecordMetadata, RecordSigningContent } from '../../chaincode/src/domain/index.js';
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

/** The re-uploaded content of a key rotation: what POST /blobs answered (the media type stays the record's). */
export interface RotatedContent {
  readonly cid: string;
  readonly size: number;
  readonly contentHash: string;
  readonly capsule: string;
  readonly envelopeVersion: number;
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

const newRecordId = (): string => `emr-${randomBytes(16).toString('hex')}`;

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
    return this.#draft(author, await this.#build(input, author).catch(rethrow));
  }

  /** Key rotation at once, for an author whose signing key the node holds: the next version of `emrId`, the chain's head. */
  async rotate(emrId: string, content: RotatedContent, author: Participant, sign: RecordSigner): Promise<SubmitResult<EmrRecord>> {
    try {
      const record = await this.#buildNextVersion(emrId, content, author);
      const [signature] = await sign([canonicalRecordBytes(record)]);
      return await this.#submit(record, signature!);
    } catch (e) {
      throw toExchangeError(e);
    }
  }

  /** Checks and builds the next version of `emrId` (key rotation); `commit` with the author's signature records it. */
  async prepareRotation(emrId: string, content: RotatedContent, author: Participant): Promise<RecordDraft> {
    this.#drafts.assertRoom();
    return this.#draft(author, await this.#buildNextVersion(emrId, content, author).catch(rethrow));
  }

  #draft(author: Participant, record: RecordSigningContent): RecordDraft {
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
        // another draft of the same content may have won meanwhile
        await this.#assertNotRecorded(record.metadata.cid, record.previousId === undefined ? 'input' : 'content');
        if (record.previousId !== undefined) await this.#assertHead(record.previousId); // so may another version
        return this.#submit(record, sig);
      })
      .catch(rethrow);
  }

  /** Forgets every pending draft (node shutdown). */
  close(): Promise<void> {
    return this.#drafts.close();
  }

  async #build(input: BlobRecordInput, author: Participant): Promise<RecordSigningContent> {
    const { ledger, organisation } = this.#deps;
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
    await this.#checkContent(metadata, 'input');
    return {
      id: newRecordId(),
      version: 1,
      patientId: patient.id,
      authorId: author.id,
      hospital: organisation,
      summary,
      metadata,
      policy: await this.#currentPolicy(patient.id),
    };
  }

  async #buildNextVersion(emrId: string, content: RotatedContent, author: Participant): Promise<RecordSigningContent> {
    const { ledger, organisation } = this.#deps;
    if (typeof emrId !== 'string' || emrId.length > 128 || !ID_PATTERN.test(emrId)) throw new ExchangeError('BAD_USER_INPUT', 'emrId: must be a record id');
    const c: Partial<RotatedContent> = content ?? {};
    const versions = await ledger.recordVersions(emrId);
    const previous = versions.find((v) => v.id === emrId)!;
    const head = versions.at(-1)!;
    if (head.id !== previous.id) {
      throw new ExchangeError('CONFLICT', `emrId: record ${previous.id} is superseded by ${head.id} (version ${head.version}); a new version must follow the head`);
    }
    // the contract's rule: a new version is authored by the patient or by the author of version 1
    const firstAuthor = versions[0]!.authorId;
    if (author.id !== previous.patientId && author.id !== firstAuthor) {
      throw new ExchangeError('FORBIDDEN', `only the patient or ${firstAuthor}, the author of version 1, may make a new version of ${previous.id}`);
    }
    const metadata = parseRecordMetadata(
      { cid: c.cid, size: c.size, mediaType: previous.metadata.mediaType, contentHash: c.contentHash, capsule: c.capsule, envelopeVersion: c.envelopeVersion },
      'content',
    );
    const patient = await ledger.participant(previous.patientId);
    checkParties(author, patient, organisation);
    await this.#checkContent(metadata, 'content');
    return {
      id: newRecordId(),
      version: previous.version + 1,
      previousId: previous.id,
      patientId: patient.id,
      authorId: author.id,
      hospital: organisation,
      summary: previous.summary,
      metadata,
      policy: await this.#currentPolicy(patient.id),
    };
  }

  /** The metadata against the stored content: its size, the envelope's own capsule, and not recorded yet. */
  async #checkContent(metadata: RecordMetadata, field: string): Promise<void> {
    const { blobs } = this.#deps;
    const stat = await blobs.stat(metadata.cid);
    if (stat.size !== metadata.size) throw new ExchangeError('BAD_USER_INPUT', `${field}.size: ${metadata.cid} holds ${stat.size} bytes, not ${metadata.size}`);
    // The capsule recorded must be the envelope's own (the proxies re-encrypt it), and content is recorded once.
    let capsule: string;
    try {
      capsule = Buffer.from((await readEnvelopeHeader(blobs.get(metadata.cid))).keyBlock.capsule.toBytes()).toString('base64');
    } catch (e) {
      throw new ExchangeError('BAD_USER_INPUT', `${field}.cid: ${metadata.cid} is not a PIE envelope (upload content through POST /blobs)`, { cause: e });
    }
    if (capsule !== metadata.capsule) throw new ExchangeError('BAD_USER_INPUT', `${field}.capsule: is not the capsule of the envelope ${metadata.cid}`);
    await this.#assertNotRecorded(metadata.cid, field);
  }

  /** The contract requires the patient's current default policy, compared canonically. */
  async #currentPolicy(patientId: string): Promise<AccessPolicy> {
    return JSON.parse(canonicalJson(await this.#deps.ledger.patientPolicy(patientId))) as AccessPolicy;
  }

  async #assertHead(recordId: string): Promise<void> {
    const head = await this.#deps.ledger.recordHead(recordId);
    if (head.id !== recordId) throw new ExchangeError('CONFLICT', `emrId: record ${recordId} is superseded by ${head.id} (version ${head.version}) since this draft was prepared`);
  }

  async #assertNotRecorded(cid: string, field = 'input'): Promise<void> {
    if ((await this.#deps.ledger.searchRecords('cid', [cid], { pageSize: 1 })).items.length > 0) {
      throw new ExchangeError('CONFLICT', `${field}.cid: ${cid} is already recorded`);
    }
  }

  #submit(record: RecordSigningContent, authorSignature: string): Promise<SubmitResult<EmrRecord>> {
    return this.#deps.ledger.createRecord({ ...record, authorSignature } as SignedRecordInput);
  }
}
