/**
 * Sealed secrets for one recipient key, with Umbral's own encrypt (a capsule to the recipient's public key +
 * ChaCha20-Poly1305 DEM):
 *
 *   base64( 0x01 ‖ u16be(capsule length) ‖ Capsule.toBytes() ‖ DEM ciphertext )
 *
 * Two uses:
 * - a patient's client seals each kfrag to one re-encryption proxy, so the kfrag can sit on the ledger (in the
 *   grant) and only that proxy can use it. Opening gives an unverified KeyFrag: the proxy must still verify it
 *   against the patient's signing and encryption keys and the grantee's encryption key (KeyFrag.verify);
 * - break-glass: the treating physician's node hands a DEK to the emergency physician's key.
 *
 * Browser-safe (no Node built-ins): the client SDK uses it.
 */
import { fromBase64, toBase64 } from '../bytes.js';
import { Capsule, KeyFrag, decryptOriginal, encrypt } from './umbral/index.js';
import type { PublicKey, SecretKey, VerifiedKeyFrag } from './umbral/index.js';

const SEAL_VERSION = 1;
/** A sealed kfrag is ≈ 400 bytes; anything much larger is not ours. */
const MAX_SEALED_BYTES = 4096;

export class SealError extends Error {
  override readonly name = 'SealError';
}

export function seal(secret: Uint8Array, recipient: PublicKey): string {
  const [capsule, ciphertext] = encrypt(recipient, secret);
  const c = capsule.toBytes();
  const out = new Uint8Array(3 + c.length + ciphertext.length);
  out[0] = SEAL_VERSION;
  out[1] = c.length >> 8;
  out[2] = c.length & 0xff;
  out.set(c, 3);
  out.set(ciphertext, 3 + c.length);
  return toBase64(out);
}

export function openSealed(sealed: string, recipient: SecretKey, what = 'sealed secret'): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(sealed, what);
  } catch (e) {
    throw new SealError((e as Error).message);
  }
  if (bytes.length > MAX_SEALED_BYTES) throw new SealError(`${what}: ${bytes.length} bytes is too large`);
  if (bytes.length < 3 || bytes[0] !== SEAL_VERSION) throw new SealError(`${what}: unknown format (version ${bytes[0] ?? 'none'})`);
  const capsuleLength = (bytes[1]! << 8) | bytes[2]!;
  if (3 + capsuleLength >= bytes.length) throw new SealError(`${what}: truncated`);
  try {
    return decryptOriginal(recipient, Capsule.fromBytes(bytes.subarray(3, 3 + capsuleLength)), bytes.subarray(3 + capsuleLength));
  } catch (e) {
    throw new SealError(`${what}: cannot be opened with this key (${(e as Error).message})`);
  }
}

/** Seals a kfrag (as generateKFrags made it) to one proxy's encryption public key. */
export const sealKFrag = (kfrag: VerifiedKeyFrag | KeyFrag, proxyKey: PublicKey): string => seal(kfrag.toBytes(), proxyKey);

/** Opens a sealed kfrag with the proxy's secret key. Unverified: call KeyFrag.verify before use. */
export function openSealedKFrag(sealed: string, proxySecret: SecretKey): KeyFrag {
  const bytes = openSealed(sealed, proxySecret, 'sealed kfrag');
  try {
    return KeyFrag.fromBytes(bytes);
  } catch (e) {
    throw new SealError(`sealed kfrag: not a kfrag (${(e as Error).message})`);
  }
}
