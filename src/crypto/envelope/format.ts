/**
 * The envelope header: encode and strict parse.
 *
 *   offset  size  field
 *   0       4     magic "PIEE"
 *   4       1     version (1)
 *   5       1     suite (1 = AES-256-GCM)
 *   6       1     segment-size exponent e (segment size 2^e, e in [12, 24])
 *   7       1     flags (reserved, 0)
 *   8       32    salt (random per envelope)
 *   40      2     key block length L (u16 big-endian; 177 for suite 1)
 *   42      L     key block = Umbral capsule (105) || Umbral ciphertext of the DEK (72)
 *
 * This module treats the key block as opaque bytes of the right length; `dek.ts` parses it (capsule proof included).
 */
import { EnvelopeError } from './errors.js';

export const MAGIC = Uint8Array.of(0x50, 0x49, 0x45, 0x45); // "PIEE"
export const VERSION = 1;
export const SUITE_AES_256_GCM = 1;
export const MIN_SEGMENT_EXPONENT = 12; // 4 KiB
export const MAX_SEGMENT_EXPONENT = 24; // 16 MiB
export const SALT_LENGTH = 32;
export const DEK_LENGTH = 32;
export const TAG_LENGTH = 16;
/** Umbral `Capsule.toBytes()`. */
export const CAPSULE_LENGTH = 105;
/** Umbral ciphertext of a 32-byte DEK: 24-byte nonce + 32 + 16-byte tag. */
export const ENCRYPTED_DEK_LENGTH = 24 + DEK_LENGTH + 16;
export const KEY_BLOCK_LENGTH = CAPSULE_LENGTH + ENCRYPTED_DEK_LENGTH; // 177
/** Bytes before the key block. */
export const FIXED_HEADER_LENGTH = 4 + 1 + 1 + 1 + 1 + SALT_LENGTH + 2; // 42
export const HEADER_LENGTH = FIXED_HEADER_LENGTH + KEY_BLOCK_LENGTH; // 219

export interface EnvelopeHeader {
  readonly version: 1;
  readonly suite: 1;
  readonly segmentSizeExponent: number;
  /** 2^segmentSizeExponent plaintext bytes per segment (the last one holds 0..segmentSize). */
  readonly segmentSize: number;
  readonly flags: 0;
  readonly salt: Uint8Array;
  /** Raw key block: capsule (105 B) || encrypted DEK (72 B). Parse with `KeyBlock.fromBytes`. */
  readonly keyBlock: Uint8Array;
  /** The whole header exactly as on the wire (its SHA-256 goes into the stream key). */
  readonly bytes: Uint8Array;
}

/** Exponent of a power-of-two segment size in the allowed range, else INVALID_ARGUMENT. */
export function segmentExponent(segmentSize: number): number {
  const e = Math.log2(segmentSize);
  if (!Number.isInteger(e) || e < MIN_SEGMENT_EXPONENT || e > MAX_SEGMENT_EXPONENT) {
    throw new EnvelopeError(
      'INVALID_ARGUMENT',
      `segmentSize must be a power of two from 2^${MIN_SEGMENT_EXPONENT} to 2^${MAX_SEGMENT_EXPONENT} bytes, got ${segmentSize}`,
    );
  }
  return e;
}

export function encodeHeader(fields: { segmentSizeExponent: number; salt: Uint8Array; keyBlock: Uint8Array }): EnvelopeHeader {
  const { segmentSizeExponent: e, salt, keyBlock } = fields;
  if (!Number.isInteger(e) || e < MIN_SEGMENT_EXPONENT || e > MAX_SEGMENT_EXPONENT) {
    throw new EnvelopeError('INVALID_ARGUMENT', `segment-size exponent ${e} outside [${MIN_SEGMENT_EXPONENT}, ${MAX_SEGMENT_EXPONENT}]`);
  }
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_LENGTH) {
    throw new EnvelopeError('INVALID_ARGUMENT', `salt must be ${SALT_LENGTH} bytes`);
  }
  if (!(keyBlock instanceof Uint8Array) || keyBlock.length !== KEY_BLOCK_LENGTH) {
    throw new EnvelopeError('INVALID_ARGUMENT', `key block must be ${KEY_BLOCK_LENGTH} bytes, got ${keyBlock?.length}`);
  }
  const bytes = new Uint8Array(FIXED_HEADER_LENGTH + keyBlock.length);
  bytes.set(MAGIC, 0);
  bytes[4] = VERSION;
  bytes[5] = SUITE_AES_256_GCM;
  bytes[6] = e;
  bytes[7] = 0;
  bytes.set(salt, 8);
  new DataView(bytes.buffer).setUint16(40, keyBlock.length, false);
  bytes.set(keyBlock, FIXED_HEADER_LENGTH);
  return view(bytes);
}

/**
 * Checks the fixed part (first 42 bytes) field by field, in wire order, so that the first wrong field decides the
 * error even when the input is short. Returns the total header length, or throws. `prefix` may be shorter than
 * FIXED_HEADER_LENGTH only when the source has ended, hence TRUNCATED for a prefix that is right so far.
 */
export function checkFixedHeader(prefix: Uint8Array): number {
  for (let i = 0; i < MAGIC.length && i < prefix.length; i++) {
    if (prefix[i] !== MAGIC[i]) throw new EnvelopeError('MALFORMED_HEADER', 'not a PIE envelope: bad magic (expected "PIEE")');
  }
  if (prefix.length > 4 && prefix[4] !== VERSION) {
    throw new EnvelopeError('UNSUPPORTED_VERSION', `unsupported envelope version ${prefix[4]} (this reader knows ${VERSION})`);
  }
  if (prefix.length > 5 && prefix[5] !== SUITE_AES_256_GCM) {
    throw new EnvelopeError('UNSUPPORTED_SUITE', `unsupported cipher suite ${prefix[5]} (this reader knows 1 = AES-256-GCM)`);
  }
  const e = prefix[6];
  if (e !== undefined && (e < MIN_SEGMENT_EXPONENT || e > MAX_SEGMENT_EXPONENT)) {
    throw new EnvelopeError('MALFORMED_HEADER', `segment-size exponent ${e} outside [${MIN_SEGMENT_EXPONENT}, ${MAX_SEGMENT_EXPONENT}]`);
  }
  if (prefix.length > 7 && prefix[7] !== 0) {
    throw new EnvelopeError('MALFORMED_HEADER', `reserved flags must be 0, got 0x${prefix[7]!.toString(16).padStart(2, '0')}`);
  }
  if (prefix.length < FIXED_HEADER_LENGTH) {
    throw new EnvelopeError('TRUNCATED', `envelope ends inside the header (${prefix.length} of at least ${FIXED_HEADER_LENGTH} bytes)`);
  }
  const keyBlockLength = (prefix[40]! << 8) | prefix[41]!;
  if (keyBlockLength !== KEY_BLOCK_LENGTH) {
    throw new EnvelopeError(
      'MALFORMED_HEADER',
      `key block length ${keyBlockLength}, suite 1 requires ${KEY_BLOCK_LENGTH} (capsule ${CAPSULE_LENGTH} + encrypted DEK ${ENCRYPTED_DEK_LENGTH})`,
    );
  }
  return FIXED_HEADER_LENGTH + keyBlockLength;
}

/** Parses a complete header; `bytes` must be exactly the header (no segment bytes). */
export function parseHeader(bytes: Uint8Array): EnvelopeHeader {
  const length = checkFixedHeader(bytes.subarray(0, FIXED_HEADER_LENGTH));
  if (bytes.length < length) {
    throw new EnvelopeError('TRUNCATED', `envelope ends inside the header (${bytes.length} of ${length} bytes)`);
  }
  if (bytes.length > length) {
    throw new EnvelopeError('INVALID_ARGUMENT', `parseHeader expects exactly ${length} header bytes, got ${bytes.length}`);
  }
  return view(bytes.slice()); // own copy: the caller's buffer may be reused
}

function view(bytes: Uint8Array): EnvelopeHeader {
  const e = bytes[6]!;
  return Object.freeze({
    version: VERSION,
    suite: SUITE_AES_256_GCM,
    segmentSizeExponent: e,
    segmentSize: 2 ** e,
    flags: 0,
    salt: bytes.subarray(8, 8 + SALT_LENGTH),
    keyBlock: bytes.subarray(FIXED_HEADER_LENGTH),
    bytes,
  });
}
