/**
 * `npm run demo:crypto`: demonstrates PIE's patient-controlled sharing
 * with the real cryptography (seed 000, Algorithms 1–2), end to end and in memory:
 *
 *   upload   an EMR is encrypted as a streaming envelope under a fresh DEK, the DEK encapsulated to the
 *            patient's PUBLIC key (the patient need not be online);
 *   grant    the patient unlocks the keystore on the client and issues 2-of-3 re-encryption key fragments
 *            for a physician, signed with the patient's signing key;
 *   proxies  three proxies verify their kfrag and re-encrypt the capsule (no proxy learns anything);
 *   read     the physician verifies the cfrags, opens the DEK with its OWN secret key, decrypts and checks
 *            the content hash; a researcher without a grant cannot.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptEmr, encryptEmr, openDekWithCFrags, readEnvelopeHeader } from '../crypto/envelope/index.js';
import { createKeystore, loadKeystore, publicKeysOf, saveKeystore, unlockKeystore } from '../crypto/keystore.js';
import { CapsuleFrag, KeyFrag, SecretKey, Signer, generateKFrags, reencrypt } from '../crypto/umbral/index.js';

const log = (step: string, detail: string) => console.log(`${step.padEnd(9)} ${detail}`);
const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`;

/** A synthetic EMR: a FHIR Observation bundle plus an imaging-sized binary, streamed in 64 KiB chunks. */
async function* syntheticEmr(imagingBytes: number): AsyncGenerator<Uint8Array> {
  const bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
          valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
        },
      },
    ],
  };
  yield new TextEncoder().encode(JSON.stringify(bundle));
  const chunk = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff);
  for (let sent = 0; sent < imagingBytes; sent += chunk.length) yield chunk.subarray(0, Math.min(chunk.length, imagingBytes - sent));
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pie-demo-'));
  try {
    console.log('PIE: patient-controlled EMR sharing with Umbral proxy re-encryption (demonstration)\n');

    let t0 = performance.now();
    const passphrase = 'correct horse battery staple';
    const keystorePath = join(dir, 'patient.keystore.json');
    await saveKeystore(keystorePath, await createKeystore({ passphrase, label: 'patient' }));
    const physician = { encryption: SecretKey.random(), signing: SecretKey.random() };
    const researcher = SecretKey.random();
    const patientKeys = await loadKeystore(keystorePath);
    const patientPk = publicKeysOf(patientKeys).encryption; // public: no passphrase needed to encrypt for the patient
    log('keys', `patient keystore written (scrypt + AES-256-GCM), physician and researcher keys made: ${ms(t0)}`);

    t0 = performance.now();
    const imagingBytes = 8 * 1024 * 1024;
    const envelope = encryptEmr(syntheticEmr(imagingBytes), patientPk, { hashPlaintext: true });
    const ciphertext = await collect(envelope.stream);
    const summary = await envelope.summary;
    log('upload', `${summary.plaintextBytes} B EMR → ${ciphertext.length} B envelope, DEK encapsulated to the patient's public key: ${ms(t0)}`);

    t0 = performance.now();
    const unlocked = await unlockKeystore(patientKeys, passphrase);
    const kfrags = generateKFrags(unlocked.encryptionKey, physician.encryption.publicKey(), new Signer(unlocked.signingKey), 2, 3, true, true);
    log('grant', `patient unlocked the keystore on the client and issued ${kfrags.length} kfrags (threshold 2) for the physician: ${ms(t0)}`);

    t0 = performance.now();
    const { keyBlock } = await readEnvelopeHeader([ciphertext]);
    const patientVerifyingPk = unlocked.signingKey.publicKey();
    const cfragBytes = kfrags.map((k) => {
      const verified = KeyFrag.fromBytes(k.toBytes()).verify(patientVerifyingPk, patientPk, physician.encryption.publicKey());
      return reencrypt(keyBlock.capsule, verified).toBytes();
    });
    log('proxies', `3 proxies verified their kfrag and re-encrypted the capsule (${cfragBytes[0]!.length} B cfrags): ${ms(t0)}`);

    t0 = performance.now();
    const plaintext = await collect(
      decryptEmr([ciphertext], (_header, kb) => {
        const cfrags = cfragBytes
          .slice(1) // any 2 of the 3
          .map((b) => CapsuleFrag.fromBytes(b).verify(kb.capsule, patientVerifyingPk, patientPk, physician.encryption.publicKey()));
        return openDekWithCFrags(kb, physician.encryption, patientPk, cfrags);
      }),
    );
    const hashOk = createHash('sha256').update(plaintext).digest().equals(summary.plaintextSha256 ?? new Uint8Array());
    log('read', `physician verified 2 cfrags, opened the DEK with its own key and decrypted ${plaintext.length} B; hash ${hashOk ? 'matches' : 'MISMATCH'}: ${ms(t0)}`);

    try {
      // The researcher intercepts the physician's cfrags: they are bound to the physician's key.
      await collect(
        decryptEmr([ciphertext], (_h, kb) => {
          const stolen = cfragBytes.map((b) => CapsuleFrag.fromBytes(b).verify(kb.capsule, patientVerifyingPk, patientPk, researcher.publicKey()));
          return openDekWithCFrags(kb, researcher, patientPk, stolen);
        }),
      );
      throw new Error('the researcher could read without a grant');
    } catch (e) {
      log('refused', `researcher using the physician's cfrags: ${(e as Error).message}`);
    }
    if (!hashOk) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error('pie:', e instanceof Error ? e.message : e);
  process.exit(1);
});
