/** Suite 1 on @noble/ciphers (pure JS): the portable fallback, byte-identical to the node backend. */
import { gcm } from '@noble/ciphers/aes.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CryptoBackend, SegmentCipher, Sha256 } from './backend.js';

class NobleGcm implements SegmentCipher {
  private readonly key: Uint8Array;
  private scratch = new Uint8Array(0); // joins split segments; noble needs contiguous input

  constructor(key: Uint8Array) {
    this.key = key.slice();
  }

  seal(nonce: Uint8Array, plaintext: Uint8Array): readonly Uint8Array[] {
    return [gcm(this.key, nonce).encrypt(plaintext)]; // fresh ct || tag
  }

  open(nonce: Uint8Array, sealed: readonly Uint8Array[]): Uint8Array[] | null {
    let data: Uint8Array;
    if (sealed.length === 1) data = sealed[0]!;
    else {
      let total = 0;
      for (const p of sealed) total += p.length;
      if (this.scratch.length < total) this.scratch = new Uint8Array(total);
      data = this.scratch.subarray(0, total);
      let off = 0;
      for (const p of sealed) (data.set(p, off), (off += p.length));
    }
    try {
      const pt = gcm(this.key, nonce).decrypt(data); // verifies the tag first; returns a fresh array
      return pt.length > 0 ? [pt] : [];
    } catch {
      return null;
    }
  }
}

export const nobleBackend: CryptoBackend = {
  name: 'noble',
  segmentCipher: (key) => new NobleGcm(key),
  sha256(): Sha256 {
    const h = sha256.create();
    return {
      update: (data) => void h.update(data),
      digest: () => h.digest(),
    };
  },
};
