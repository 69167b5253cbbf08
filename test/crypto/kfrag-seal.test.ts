// Sealed kfrags and secrets: only the recipient's key opens them, tampering is detected, and an opened kfrag still
// verifies only for the delegation it was made for.
import { fromBase64, toBase64 } from '../../src/bytes.js';
import { SealError, openSealed, openSealedKFrag, seal, sealKFrag } from '../../src/crypto/kfrag-seal.js';
import { SecretKey, Signer, generateKFrags } from '../../src/crypto/umbral/index.js';

const patient = { enc: SecretKey.random(), sig: SecretKey.random() };
const grantee = SecretKey.random();
const proxy = SecretKey.random();

describe('sealKFrag / openSealedKFrag', () => {
  const [kfrag] = generateKFrags(patient.enc, grantee.publicKey(), new Signer(patient.sig), 1, 1, true, true);

  it('opens with the proxy key to the same kfrag, which verifies for its delegation', () => {
    const sealed = sealKFrag(kfrag!, proxy.publicKey());
    const opened = openSealedKFrag(sealed, proxy);
    expect(Buffer.from(opened.toBytes()).equals(Buffer.from(kfrag!.toBytes()))).toBe(true);
    expect(() => opened.verify(patient.sig.publicKey(), patient.enc.publicKey(), grantee.publicKey())).not.toThrow();
    // the same kfrag presented for another grantee does not verify
    expect(() => opened.verify(patient.sig.publicKey(), patient.enc.publicKey(), SecretKey.random().publicKey())).toThrow();
  });

  it('refuses another key, tampering, truncation and garbage', () => {
    const sealed = sealKFrag(kfrag!, proxy.publicKey());
    expect(() => openSealedKFrag(sealed, SecretKey.random())).toThrow(SealError);
    const bytes = fromBase64(sealed);
    bytes[bytes.length - 5]! ^= 1;
    expect(() => openSealedKFrag(toBase64(bytes), proxy)).toThrow(/cannot be opened/);
    expect(() => openSealedKFrag(toBase64(fromBase64(sealed).subarray(0, 50)), proxy)).toThrow(SealError);
    expect(() => openSealedKFrag('not base64!', proxy)).toThrow(/base64/);
    const wrongVersion = fromBase64(sealed);
    wrongVersion[0] = 2;
    expect(() => openSealedKFrag(toBase64(wrongVersion), proxy)).toThrow(/unknown format/);
  });

  it('a sealed secret that is not a kfrag is refused as one', () => {
    expect(() => openSealedKFrag(seal(new Uint8Array(32).fill(7), proxy.publicKey()), proxy)).toThrow(/not a kfrag/);
  });
});

describe('seal / openSealed', () => {
  it('round-trips a DEK for its recipient only', () => {
    const dek = crypto.getRandomValues(new Uint8Array(32));
    const sealed = seal(dek, grantee.publicKey());
    expect(Buffer.from(openSealed(sealed, grantee)).equals(Buffer.from(dek))).toBe(true);
    expect(() => openSealed(sealed, proxy)).toThrow(SealError);
  });
});

describe('base64 helpers', () => {
  it('match Buffer on every length around the chunk size', () => {
    for (const n of [0, 1, 2, 3, 0x7fff, 0x8000, 0x8001, 70000]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 131 + 7) & 0xff);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(Buffer.from(fromBase64(toBase64(bytes))).equals(Buffer.from(bytes))).toBe(true);
    }
    expect(() => fromBase64('abc')).toThrow(TypeError);
  });
});
