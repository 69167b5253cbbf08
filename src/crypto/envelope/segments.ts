/**
 * The segment layer: stream-key derivation and per-segment AES-256-GCM with positional nonces.
 *
 *   streamKey = HKDF-SHA256(ikm = DEK, salt = header.salt, info = "PIE-EMR-v1/stream" || SHA-256(header.bytes), 32)
 *   nonce(i, last) = 0x000000 || u64be(i) || u8(last ? 1 : 0)
 *
 * The header hash in `info` makes every header bit part of the key; the index in the nonce pins each segment to its
 * position; the last flag makes "this is the end" authenticated.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { SegmentCipher } from './backend.js';
import { EnvelopeError } from './errors.js';
import { DEK_LENGTH, type EnvelopeHeader } from './format.js';

const STREAM_INFO_PREFIX = new TextEncoder().encode('PIE-EMR-v1/stream');
export const NONCE_LENGTH = 12;

export function checkDek(dek: unknown): asserts dek is Uint8Array {
  if (!(dek instanceof Uint8Array) || dek.length !== DEK_LENGTH) {
    const got = dek instanceof Uint8Array ? `${dek.length} bytes` : typeof dek;
    throw new EnvelopeError('INVALID_ARGUMENT', `DEK must be a ${DEK_LENGTH}-byte Uint8Array, got ${got}`);
  }
}

export function deriveStreamKey(dek: Uint8Array, header: EnvelopeHeader): Uint8Array {
  checkDek(dek);
  const info = new Uint8Array(STREAM_INFO_PREFIX.length + 32);
  info.set(STREAM_INFO_PREFIX, 0);
  info.set(sha256(header.bytes), STREAM_INFO_PREFIX.length);
  return hkdf(sha256, dek, header.salt, info, 32);
}

export function segmentNonce(index: number, last: boolean, out: Uint8Array = new Uint8Array(NONCE_LENGTH)): Uint8Array {
  // Bytes 0..2 stay zero. Indices stay below 2^53 (32 EiB of 4 KiB segments), so a JS number is exact.
  const v = new DataView(out.buffer, out.byteOffset, NONCE_LENGTH);
  v.setUint32(3, Math.floor(index / 2 ** 32), false);
  v.setUint32(7, index >>> 0, false);
  out[11] = last ? 1 : 0;
  return out;
}

/** Seals segments 0, 1, 2, ... in order; exactly one of them (the final call) must be flagged last. */
export class SegmentSealer {
  private index = 0;
  private finished = false;
  private readonly nonce = new Uint8Array(NONCE_LENGTH); // reused: ciphers copy or consume it synchronously

  constructor(
    private readonly cipher: SegmentCipher,
    private readonly segmentSize: number,
  ) {}

  get segments(): number {
    return this.index;
  }

  seal(plaintext: Uint8Array, last: boolean): readonly Uint8Array[] {
    if (this.finished) throw new EnvelopeError('INVALID_ARGUMENT', 'the last segment has already been sealed');
    if (last ? plaintext.length > this.segmentSize : plaintext.length !== this.segmentSize) {
      throw new EnvelopeError('INVALID_ARGUMENT', `segment ${this.index}: ${plaintext.length} bytes, segment size ${this.segmentSize}`);
    }
    const out = this.cipher.seal(segmentNonce(this.index, last, this.nonce), plaintext);
    this.index++;
    this.finished = last;
    return out;
  }
}

/** Opens segments in order; the caller decides from the framing whether a segment is presented as the last. */
export class SegmentOpener {
  private readonly nonce = new Uint8Array(NONCE_LENGTH);

  constructor(private readonly cipher: SegmentCipher) {}

  /** Returns the plaintext chunks, or null if segment `index` does not authenticate with this `last` flag. */
  open(index: number, sealed: readonly Uint8Array[], last: boolean): Uint8Array[] | null {
    return this.cipher.open(segmentNonce(index, last, this.nonce), sealed);
  }
}
