/**
 * The requester's side of opening a record (docs/sharing.md, Open; Algorithm 2 steps 4–5), browser-safe: verify
 * the node's answer against the ledger's record, verify each capsule fragment, open the DEK with this client's own
 * secret key, decrypt the downloaded envelope as a stream, and check the plaintext against the ledger's SHA-256.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, fromBase64, toHex } from '../bytes.js';
import { EnvelopeError, decryptEmr, openDekWithCFrags, openDekWithSecretKey } from '../crypto/envelope/index.js';
import type { EmrDekSource, KeyBlock } from '../crypto/envelope/index.js';
import { openSealed } from '../crypto/kfrag-seal.js';
import { Capsule, CapsuleFrag } from '../crypto/umbral/index.js';
import type { SecretKey, VerifiedCapsuleFrag } from '../crypto/umbral/index.js';
import { publicKeyOf } from './delegation.js';
import { PieIntegrityError } from './errors.js';
import type { EmrOpeningInfo } from './types.js';

const DEK_BYTES = 32;

/** The DEK for one opening, made ready before the download starts (so bad cfrags fail `open`, not the stream). */
export interface PreparedDek {
  readonly source: EmrDekSource;
  /** capsule fragments that failed verification and were set aside (0 for the patient and break-glass) */
  readonly rejectedCfrags: number;
  /** zeroes the DEK once the stream is done with it */
  wipe(): void;
}

/**
 * Checks the opening against its record and prepares the DEK: the patient's own key (no grant), the sealed emergency
 * key (break-glass), or `threshold` verified cfrags. `patientKeys` are the record patient's registered public keys
 * (hex); the node's delegating and verifying keys must be them.
 */
export function prepareDek(o: EmrOpeningInfo, receiving: SecretKey, patientKeys: { signingKey: string; encryptionKey: string }): PreparedDek {
  const m = o.record.metadata;
  if (m !== null && (m.cid !== o.cid || m.contentHash !== o.contentHash || m.capsule !== o.capsule || m.size !== o.size)) {
    throw new PieIntegrityError(`the opening of ${o.record.id} does not match the ledger’s record (cid, size, content hash or capsule)`);
  }
  const ledgerCapsule = decode(o.capsule, 'capsule');
  // the envelope's own key block must carry the capsule the ledger recorded (and the cfrags were made for)
  const checkCapsule = (kb: KeyBlock): void => {
    if (!bytesEqual(kb.capsule.toBytes(), ledgerCapsule)) throw new PieIntegrityError(`the envelope’s capsule is not the one the ledger records for ${o.record.id}`);
  };
  let dek: Uint8Array | undefined;
  const keep = (d: Uint8Array): Uint8Array => {
    if (d.length !== DEK_BYTES) throw new PieIntegrityError(`the key opens to ${d.length} bytes, a DEK is ${DEK_BYTES}`);
    dek = d;
    return d;
  };
  const wipe = (): void => {
    dek?.fill(0);
  };

  if (o.emergencyKey !== null) {
    const sealedDek = o.emergencyKey;
    return {
      rejectedCfrags: 0,
      wipe,
      source: (_h, kb) => {
        checkCapsule(kb);
        try {
          return keep(openSealed(sealedDek, receiving, 'emergency key'));
        } catch (e) {
          if (e instanceof PieIntegrityError) throw e;
          throw new PieIntegrityError(`the emergency key does not open with this participant’s key: ${(e as Error).message}`, { cause: e });
        }
      },
    };
  }
  if (o.grantId === null) {
    return { rejectedCfrags: 0, wipe, source: (_h, kb) => (checkCapsule(kb), keep(openDekWithSecretKey(kb, receiving))) };
  }

  if (o.delegatingKey !== patientKeys.encryptionKey || o.verifyingKey !== patientKeys.signingKey) {
    throw new PieIntegrityError(`the opening’s delegating or verifying key is not the registered key of patient ${o.record.patientId}`);
  }
  const delegating = publicKeyOf(o.delegatingKey, 'delegatingKey');
  const verifying = publicKeyOf(o.verifyingKey, 'verifyingKey');
  let capsule: Capsule;
  try {
    capsule = Capsule.fromBytes(ledgerCapsule);
  } catch (e) {
    throw new PieIntegrityError(`the ledger’s capsule of ${o.record.id} is not a valid capsule`, { cause: e });
  }
  if (!Number.isInteger(o.threshold) || o.threshold < 1) throw new PieIntegrityError(`the opening asks for ${o.threshold} capsule fragments; a grant needs at least 1`);
  const mine = receiving.publicKey();
  const verified: VerifiedCapsuleFrag[] = [];
  let rejected = 0;
  // verified one by one until `threshold` of them do (each check is ≈ 4 ms of curve arithmetic); the rest are not needed
  for (const [i, c] of o.cfrags.entries()) {
    if (verified.length === o.threshold) break;
    try {
      verified.push(CapsuleFrag.fromBytes(fromBase64(c, `cfrags[${i}]`)).verify(capsule, verifying, delegating, mine));
    } catch {
      rejected++; // set aside: another proxy's fragment may still make up the threshold
    }
  }
  if (verified.length < o.threshold) {
    const why = `${verified.length} of ${o.cfrags.length} capsule fragments verify; ${o.threshold} are needed`;
    if (rejected > 0) throw new PieIntegrityError(`${why} (${rejected} failed verification)`);
    throw new Error(`${why}: too few proxies released one`);
  }
  const use = verified.slice(0, o.threshold);
  return { rejectedCfrags: rejected, wipe, source: (_h, kb) => (checkCapsule(kb), keep(openDekWithCFrags(kb, receiving, delegating, use))) };
}

/**
 * Decrypts `envelope` with `dek` and yields the plaintext; after the last chunk it checks the envelope's length
 * against `size` and the plaintext's SHA-256 against `contentHash`, and throws PieIntegrityError if either differs.
 * Chunks are released as each segment authenticates: the content is genuine only once iteration finishes.
 */
export async function* verifiedPlaintext(
  envelope: AsyncIterable<Uint8Array>,
  dek: PreparedDek,
  expected: { size: number; contentHash: string; emrId: string },
  onProgress?: (bytes: number, total: number) => void,
): AsyncGenerator<Uint8Array, void, undefined> {
  let received = 0;
  const counted = (async function* () {
    for await (const chunk of envelope) {
      received += chunk.length;
      onProgress?.(received, expected.size);
      yield chunk;
    }
  })();
  const hash = sha256.create();
  try {
    for await (const chunk of decryptEmr(counted, dek.source)) {
      hash.update(chunk);
      yield chunk;
    }
  } catch (e) {
    if (e instanceof EnvelopeError) throw new PieIntegrityError(`the content of ${expected.emrId} does not decrypt: ${e.message}`, { cause: e });
    throw e;
  } finally {
    dek.wipe();
  }
  if (received !== expected.size) throw new PieIntegrityError(`the envelope of ${expected.emrId} is ${received} bytes; the ledger records ${expected.size}`);
  const got = toHex(hash.digest());
  if (got !== expected.contentHash) throw new PieIntegrityError(`the content of ${expected.emrId} does not match the ledger’s SHA-256 (${got} ≠ ${expected.contentHash})`);
}

/** The chunks of a web stream (browsers do not all iterate ReadableStream); cancels it if the consumer stops early. */
export async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function decode(b64: string, what: string): Uint8Array {
  try {
    return fromBase64(b64, what);
  } catch (e) {
    throw new PieIntegrityError(`${what}: the node sent invalid base64`, { cause: e });
  }
}
