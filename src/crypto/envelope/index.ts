/**
 * PIE EMR envelope: a versioned, streaming, chunked-AEAD format for EMR content of any size. Format and flows:
 * docs/envelope.md.
 */
export { EnvelopeError, type EnvelopeErrorCode } from './errors.js';
export {
  CAPSULE_LENGTH,
  DEK_LENGTH,
  ENCRYPTED_DEK_LENGTH,
  HEADER_LENGTH,
  KEY_BLOCK_LENGTH,
  MAX_SEGMENT_EXPONENT,
  MIN_SEGMENT_EXPONENT,
  TAG_LENGTH,
  VERSION,
  parseHeader,
  type EnvelopeHeader,
} from './format.js';
export { defaultBackendName, loadBackend, type BackendName, type CryptoBackend, type SegmentCipher } from './backend.js';
export { deriveStreamKey, segmentNonce } from './segments.js';
export type { ByteSource } from './reader.js';
export {
  DEFAULT_SEGMENT_SIZE,
  decryptWithDek,
  encryptWithDek,
  type DecryptOptions,
  type DekSource,
  type EncryptOptions,
  type EncryptedEnvelope,
  type EnvelopeSummary,
  type KeyBlockInput,
} from './stream.js';
export { KeyBlock, encapsulateDek, generateDek, openDekWithCFrags, openDekWithSecretKey } from './dek.js';
export { decryptEmr, encryptEmr, readEnvelopeHeader, type EmrDekSource, type EnvelopeHeaderInfo } from './emr.js';
