/**
 * PIE's Umbral proxy re-encryption: pure TypeScript on @noble/curves, byte-compatible with
 * umbral-pre 0.10 and mirroring @nucypher/umbral-pre's JavaScript API (docs/umbral-api.md).
 */
export { UmbralError, type UmbralErrorCode } from './errors.js';
export { SecretKey, PublicKey, SecretKeyFactory, Signer, Signature } from './keys.js';
export { Capsule } from './capsule.js';
export { KeyFrag, VerifiedKeyFrag, generateKFrags } from './kfrag.js';
export { CapsuleFrag, VerifiedCapsuleFrag, reencrypt } from './cfrag.js';
export { encrypt, decryptOriginal, decryptReencrypted } from './pre.js';
