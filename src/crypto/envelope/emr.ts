/** The EMR-level API: envelopes whose DEK is encapsulated to the patient with Umbral. */
import type { PublicKey } from '../umbral/index.js';
import { checkBackendName } from './backend.js';
import { generateDek, encapsulateDek, KeyBlock } from './dek.js';
import { EnvelopeError } from './errors.js';
import type { EnvelopeHeader } from './format.js';
import { ChunkReader, type ByteSource } from './reader.js';
import { checkDek } from './segments.js';
import { encryptWithDek, openStream, readHeader, singleUse, type DecryptOptions, type EncryptOptions, type EncryptedEnvelope } from './stream.js';

/**
 * Encrypts an EMR of any size for `patientPk`: a fresh DEK is encapsulated into the header's key block and used for
 * the stream key, then wiped. The DEK is never returned; re-sharing goes through the capsule (cfrags) or the
 * lower-level `encryptWithDek`.
 */
export function encryptEmr(source: ByteSource, patientPk: PublicKey, opts: EncryptOptions = {}): EncryptedEnvelope {
  const dek = generateDek();
  try {
    return encryptWithDek(source, dek, encapsulateDek(dek, patientPk), opts);
  } finally {
    dek.fill(0);
  }
}

/**
 * The DEK, or a function that produces it from the header, e.g.
 * `(h, kb) => openDekWithSecretKey(kb, patientSk)` or `async (h, kb) => openDekWithCFrags(kb, sk, patientPk, await fetchCfrags(kb.capsule))`.
 * `keyBlock` is the header's key block, already parsed and its capsule checked.
 */
export type EmrDekSource = Uint8Array | ((header: EnvelopeHeader, keyBlock: KeyBlock) => Uint8Array | Promise<Uint8Array>);

/**
 * Decrypts an EMR envelope. The key block is parsed strictly (capsule proof) before `dekSource` runs. Plaintext is
 * released per authenticated segment; treat it as complete only once iteration finishes without an error.
 */
export function decryptEmr(source: ByteSource, dekSource: EmrDekSource, opts: DecryptOptions = {}): AsyncIterable<Uint8Array> {
  if (dekSource instanceof Uint8Array) checkDek(dekSource);
  else if (typeof dekSource !== 'function') {
    throw new EnvelopeError('INVALID_ARGUMENT', 'dekSource must be a 32-byte DEK or a function (header, keyBlock) => DEK');
  }
  checkBackendName(opts.backend);
  const gen = openStream(
    new ChunkReader(source),
    async (header) => {
      const keyBlock = KeyBlock.fromBytes(header.keyBlock);
      return typeof dekSource === 'function' ? dekSource(header, keyBlock) : dekSource;
    },
    opts,
  );
  return singleUse(gen, 'decryption stream');
}

export interface EnvelopeHeaderInfo {
  readonly header: EnvelopeHeader;
  /** Parsed key block: `capsule` for the proxies, `encryptedDek`. */
  readonly keyBlock: KeyBlock;
}

/**
 * Reads only the header (e.g. to hand the capsule to the re-encryption proxies), then closes the source. To decrypt
 * the same stream after fetching cfrags, pass an async `dekSource` to `decryptEmr` instead.
 */
export async function readEnvelopeHeader(source: ByteSource): Promise<EnvelopeHeaderInfo> {
  const reader = new ChunkReader(source);
  try {
    const header = await readHeader(reader);
    return { header, keyBlock: KeyBlock.fromBytes(header.keyBlock) };
  } finally {
    await reader.close();
  }
}
