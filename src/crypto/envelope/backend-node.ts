/** Suite 1 on node:crypto (OpenSSL). */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, type KeyObject } from 'node:crypto';
import type { CryptoBackend, SegmentCipher, Sha256 } from './backend.js';
import { TAG_LENGTH } from './format.js';

/**
 * Output granularity. OpenSSL allocates a fresh buffer per update(); at 1 MiB that is above glibc's mmap threshold,
 * so every segment's output would be new pages (measured: ~30 % of the throughput lost to page faults). 64 KiB
 * pieces come from the warm heap; GCM is incremental, so the pieces cost nothing else.
 */
const PIECE = 64 * 1024;

class NodeGcm implements SegmentCipher {
  // A KeyObject holds the key once in native memory instead of copying it into every cipher context.
  private readonly key: KeyObject;
  private readonly tag = new Uint8Array(TAG_LENGTH);

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key);
  }

  seal(nonce: Uint8Array, plaintext: Uint8Array): readonly Uint8Array[] {
    const c = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_LENGTH });
    const out: Uint8Array[] = [];
    for (let off = 0; off < plaintext.length; off += PIECE) out.push(c.update(plaintext.subarray(off, off + PIECE)));
    c.final(); // GCM is a stream mode: final() emits nothing and computes the tag
    out.push(c.getAuthTag());
    return out;
  }

  open(nonce: Uint8Array, sealed: readonly Uint8Array[]): Uint8Array[] | null {
    let total = 0;
    for (const p of sealed) total += p.length;
    let ctLeft = total - TAG_LENGTH;
    if (ctLeft < 0) return null;
    const d = createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_LENGTH });
    // GCM decrypts incrementally, so each part is fed as is: no joining copy. The tag (possibly split) is gathered.
    const out: Uint8Array[] = [];
    let tagFill = 0;
    for (const p of sealed) {
      const k = Math.min(ctLeft, p.length);
      for (let off = 0; off < k; off += PIECE) out.push(d.update(p.subarray(off, Math.min(k, off + PIECE))));
      ctLeft -= k;
      if (k < p.length) {
        this.tag.set(p.subarray(k), tagFill);
        tagFill += p.length - k;
      }
    }
    d.setAuthTag(this.tag);
    try {
      d.final(); // throws on a bad tag; the decrypted parts are then dropped unreleased
    } catch {
      return null;
    }
    return out;
  }
}

export const nodeBackend: CryptoBackend = {
  name: 'node',
  segmentCipher: (key) => new NodeGcm(key),
  sha256(): Sha256 {
    const h = createHash('sha256');
    return {
      update: (data) => void h.update(data),
      digest: () => new Uint8Array(h.digest()),
    };
  },
};
