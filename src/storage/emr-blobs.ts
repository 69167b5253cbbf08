/**
 * The encrypted EMR pipeline between the envelope (src/crypto/envelope) and the blob store:
 *
 *   store: plaintext stream → EMR envelope (fresh DEK, chunked AEAD, DEK encapsulated to the patient's Umbral key)
 *          → UnixFS on Helia, pinned → the Table 4 metadata (CID, envelope size, plaintext SHA-256, capsule, version);
 *          several EMRs of one upload are stored as one batch, all pinned or none (storeEmrs)
 *   open:  CID → blocks, each checked against its CID → envelope → plaintext, with the envelope size and the
 *          plaintext SHA-256 checked against what the ledger recorded
 *
 * Both directions stream: memory stays bounded by the envelope's segment size and the store's chunk size, whatever
 * the EMR's size. Nothing here sees a patient's secret key: opening takes the DEK or a function that produces it
 * (from the patient's own key on the client, or from capsule fragments after a grant).
 */
import { createHash } from 'node:crypto';
import { CAPSULE_LENGTH, VERSION, decryptEmr, encryptEmr } from '../crypto/envelope/index.js';
import type { ByteSource, DecryptOptions, EmrDekSource, EncryptOptions } from '../crypto/envelope/index.js';
import type { PublicKey } from '../crypto/umbral/index.js';
import { StorageError } from './errors.js';
import { forEachLimited } from './limited.js';
import type { BatchPut, BlobStore, CidInput } from './types.js';

/** What a record on the ledger says about its content (the `metadata` of Table 4, minus the media type). */
export interface StoredEmr {
  /** CID of the encrypted envelope (CIDv1, base32) */
  readonly cid: string;
  /** bytes of the stored envelope */
  readonly size: number;
  /** SHA-256 of the plaintext, lower-case hex */
  readonly contentHash: string;
  /** Umbral capsule of the DEK (`Capsule.toBytes()`), base64: what the re-encryption proxies work on */
  readonly capsule: string;
  readonly envelopeVersion: number;
  /** bytes of plaintext */
  readonly plaintextBytes: number;
}

export interface StoreEmrOptions extends Pick<EncryptOptions, 'segmentSize' | 'backend'> {
  /** refuse envelopes larger than this (TOO_LARGE; nothing stays pinned) */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

export interface StoreEmrsOptions extends StoreEmrOptions {
  /** EMRs encrypted and imported at a time (default 8) */
  readonly concurrency?: number;
}

/**
 * EMRs in flight at once in storeEmrs: one's encapsulation (≈1 ms of CPU) overlaps the others' block writes and
 * fsyncs (≈5 thread-pool round trips per block). 8 and 16 stored the 119 EMRs of the 1 MB Synthea sample equally fast
 * on the 2-core dev VM, 4 ≈20 % slower; each EMR in flight may hold up to ≈10 MiB in the importer.
 */
export const DEFAULT_STORE_CONCURRENCY = 8;

/** Encrypts `plaintext` for `patientPk` and stores the envelope, pinned. */
export async function storeEmr(blobs: BlobStore, plaintext: ByteSource, patientPk: PublicKey, options: StoreEmrOptions = {}): Promise<StoredEmr> {
  const [stored] = await storeEmrs(blobs, [plaintext], patientPk, options);
  return stored!;
}

/**
 * Encrypts several EMRs for `patientPk`, each under its own DEK, and stores them as one unit (BlobStore.putBatch):
 * when this resolves every envelope is durable and pinned, when it rejects none is (and their new blocks are gone).
 * Results are in the order of `plaintexts`.
 */
export async function storeEmrs(blobs: BlobStore, plaintexts: readonly ByteSource[], patientPk: PublicKey, options: StoreEmrsOptions = {}): Promise<StoredEmr[]> {
  const concurrency = options.concurrency ?? DEFAULT_STORE_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new StorageError('INVALID_ARGUMENT', `concurrency must be a positive integer, got ${String(concurrency)}`);
  const stored: StoredEmr[] = new Array<StoredEmr>(plaintexts.length);
  await blobs.putBatch(
    (put) =>
      forEachLimited(plaintexts, concurrency, async (plaintext, i) => {
        stored[i] = await encryptAndPut(put, plaintext, patientPk, options);
      }),
    { signal: options.signal },
  );
  return stored;
}

/** One EMR of a batch: envelope → put; the envelope's own count of its bytes must match what the store took. */
async function encryptAndPut(put: BatchPut, plaintext: ByteSource, patientPk: PublicKey, options: StoreEmrOptions): Promise<StoredEmr> {
  const envelope = encryptEmr(plaintext, patientPk, { hashPlaintext: true, segmentSize: options.segmentSize, backend: options.backend });
  // The key block starts with the capsule as it serialises (KeyBlock.toBytes): no need to parse it back (≈1.5 ms).
  const capsule = Buffer.from(envelope.header.keyBlock.subarray(0, CAPSULE_LENGTH)).toString('base64');
  const { cid, size } = await put(envelope.stream, { maxBytes: options.maxBytes });
  // The store took the bytes but the envelope must also have finished cleanly; otherwise the batch pins nothing.
  const summary = await envelope.summary;
  if (summary.envelopeBytes !== size) {
    throw new StorageError('CORRUPT', `stored ${size} bytes for an envelope of ${summary.envelopeBytes} bytes (${cid})`);
  }
  return {
    cid: cid.toString(),
    size,
    contentHash: Buffer.from(summary.plaintextSha256!).toString('hex'),
    capsule,
    envelopeVersion: VERSION,
    plaintextBytes: summary.plaintextBytes,
  };
}

/** The ledger's description of the content to open. */
export interface EmrContentRef {
  readonly cid: CidInput;
  /** SHA-256 of the plaintext, hex (Table 4 metadata.contentHash) */
  readonly contentHash: string;
  /** envelope bytes (Table 4 metadata.size); checked when given */
  readonly size?: number;
}

export interface OpenEmrOptions extends DecryptOptions {
  readonly signal?: AbortSignal;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Streams the plaintext of a stored EMR. Each yielded chunk is authenticated by the envelope; the whole is checked
 * against `ref.contentHash` (and `ref.size`) when the stream ends, so treat the content as genuine only once iteration
 * finishes without an error (INTEGRITY otherwise).
 */
export function openEmr(blobs: BlobStore, ref: EmrContentRef, dek: EmrDekSource, options: OpenEmrOptions = {}): AsyncIterable<Uint8Array> {
  if (typeof ref.contentHash !== 'string' || !HEX_SHA256.test(ref.contentHash)) {
    throw new StorageError('INVALID_ARGUMENT', 'contentHash must be a SHA-256 in lower-case hex');
  }
  if (ref.size !== undefined && (!Number.isSafeInteger(ref.size) || ref.size < 0)) throw new StorageError('INVALID_ARGUMENT', 'size must be a non-negative integer');
  return (async function* () {
    let envelopeBytes = 0;
    const envelope = (async function* () {
      for await (const chunk of blobs.get(ref.cid, { signal: options.signal })) {
        envelopeBytes += chunk.length;
        yield chunk;
      }
    })();
    const hash = createHash('sha256');
    for await (const chunk of decryptEmr(envelope, dek, { backend: options.backend })) {
      hash.update(chunk);
      yield chunk;
    }
    if (ref.size !== undefined && envelopeBytes !== ref.size) {
      throw new StorageError('INTEGRITY', `envelope ${String(ref.cid)} is ${envelopeBytes} bytes; the ledger recorded ${ref.size}`);
    }
    const digest = hash.digest('hex');
    if (digest !== ref.contentHash) {
      throw new StorageError('INTEGRITY', `plaintext of ${String(ref.cid)} hashes to ${digest}; the ledger recorded ${ref.contentHash}`);
    }
  })();
}
