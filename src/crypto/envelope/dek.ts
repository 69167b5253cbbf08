/**
 * DEK encapsulation: the header's key block is an Umbral encryption of the 32-byte DEK to the patient's public key.
 *
 *   key block = capsule.toBytes() (105 B) || Umbral ciphertext of the DEK (24 nonce + 32 + 16 tag = 72 B)
 *
 * Flows (docs/envelope.md): upload = encapsulate to the patient; grant = proxies re-encrypt the capsule into cfrags and
 * the grantee opens with `openDekWithCFrags`; emergency = the patient's side re-encapsulates the DEK to a responder key
 * (`encapsulateDek`) and hands that key block over out of band; key rotation = a new DEK and a new envelope.
 */
import { randomBytes } from '@noble/ciphers/utils.js';
import {
  Capsule,
  PublicKey,
  SecretKey,
  VerifiedCapsuleFrag,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
} from '../umbral/index.js';
import { EnvelopeError } from './errors.js';
import { CAPSULE_LENGTH, DEK_LENGTH, ENCRYPTED_DEK_LENGTH, KEY_BLOCK_LENGTH } from './format.js';
import { checkDek } from './segments.js';

export class KeyBlock {
  private constructor(
    readonly capsule: Capsule,
    /** Umbral ciphertext of the DEK (not the DEK). */
    readonly encryptedDek: Uint8Array,
  ) {}

  static create(capsule: Capsule, encryptedDek: Uint8Array): KeyBlock {
    if (!(encryptedDek instanceof Uint8Array) || encryptedDek.length !== ENCRYPTED_DEK_LENGTH) {
      throw new EnvelopeError('INVALID_ARGUMENT', `encrypted DEK must be ${ENCRYPTED_DEK_LENGTH} bytes`);
    }
    return new KeyBlock(capsule, encryptedDek.slice());
  }

  /** Strict parse: exact length, and a valid capsule (Umbral checks its proof). Failures are MALFORMED_HEADER. */
  static fromBytes(bytes: Uint8Array): KeyBlock {
    if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BLOCK_LENGTH) {
      const got = bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes;
      throw new EnvelopeError('MALFORMED_HEADER', `key block must be ${KEY_BLOCK_LENGTH} bytes (capsule ${CAPSULE_LENGTH} + encrypted DEK ${ENCRYPTED_DEK_LENGTH}), got ${got}`);
    }
    let capsule: Capsule;
    try {
      capsule = Capsule.fromBytes(bytes.subarray(0, CAPSULE_LENGTH));
    } catch (err) {
      throw new EnvelopeError('MALFORMED_HEADER', `key block: invalid capsule (${umbralCode(err)})`, { cause: err });
    }
    return new KeyBlock(capsule, bytes.slice(CAPSULE_LENGTH));
  }

  static from(keyBlock: KeyBlock | Uint8Array): KeyBlock {
    return keyBlock instanceof KeyBlock ? keyBlock : KeyBlock.fromBytes(keyBlock);
  }

  toBytes(): Uint8Array {
    const capsule = this.capsule.toBytes();
    if (capsule.length !== CAPSULE_LENGTH) throw new EnvelopeError('INVALID_ARGUMENT', `capsule serialises to ${capsule.length} bytes, expected ${CAPSULE_LENGTH}`);
    const out = new Uint8Array(KEY_BLOCK_LENGTH);
    out.set(capsule, 0);
    out.set(this.encryptedDek, CAPSULE_LENGTH);
    return out;
  }
}

/** A fresh random 32-byte DEK (one per EMR, and a new one on key rotation). */
export function generateDek(): Uint8Array {
  return randomBytes(DEK_LENGTH);
}

/** Encapsulates `dek` to `pk` (upload: the patient's key; emergency path: a responder's key). */
export function encapsulateDek(dek: Uint8Array, pk: PublicKey): KeyBlock {
  checkDek(dek);
  const [capsule, ciphertext] = encrypt(pk, dek);
  return KeyBlock.create(capsule, ciphertext);
}

/** Opens the DEK with the secret key it was encapsulated to (the patient, or the holder of a re-encapsulated block). */
export function openDekWithSecretKey(keyBlock: KeyBlock | Uint8Array, sk: SecretKey): Uint8Array {
  const kb = KeyBlock.from(keyBlock);
  return checkOpened(umbralCall('secret key', () => decryptOriginal(sk, kb.capsule, kb.encryptedDek)));
}

/**
 * Opens the DEK as a grantee: `verifiedCfrags` are threshold-many capsule fragments from the proxies, each already
 * verified (`CapsuleFrag.verify(capsule, verifyingPk, delegatingPk, receivingPk)`) against this key block's capsule.
 */
export function openDekWithCFrags(
  keyBlock: KeyBlock | Uint8Array,
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  verifiedCfrags: readonly VerifiedCapsuleFrag[],
): Uint8Array {
  const kb = KeyBlock.from(keyBlock);
  if (!Array.isArray(verifiedCfrags) || verifiedCfrags.length === 0) {
    throw new EnvelopeError('INVALID_ARGUMENT', 'openDekWithCFrags needs at least one verified capsule fragment');
  }
  return checkOpened(
    umbralCall('capsule fragments', () => decryptReencrypted(receivingSk, delegatingPk, kb.capsule, [...verifiedCfrags], kb.encryptedDek)),
  );
}

function checkOpened(dek: Uint8Array): Uint8Array {
  if (dek.length !== DEK_LENGTH) {
    throw new EnvelopeError('MALFORMED_HEADER', `key block decrypts to ${dek.length} bytes, a DEK is ${DEK_LENGTH}`);
  }
  return dek;
}

/** Umbral failures: authentication failures map to AUTHENTICATION_FAILED, misuse to INVALID_ARGUMENT. */
function umbralCall<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = umbralCode(err);
    const auth = code === 'DECRYPTION_FAILED' || code === 'REENCRYPTION_CHECK_FAILED';
    throw new EnvelopeError(
      auth ? 'AUTHENTICATION_FAILED' : 'INVALID_ARGUMENT',
      auth
        ? `key block does not open with these ${what} (${code}): wrong key, cfrags for another capsule or receiver, too few cfrags, or a modified key block`
        : `key block could not be opened with these ${what} (${code})`,
      { cause: err },
    );
  }
}

function umbralCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
}
