// The EMR level: encryptEmr / decryptEmr with the DEK encapsulated by Umbral in the header's key block, and the DEK
// helpers in their intended flows (upload, grant via cfrags, emergency re-encapsulation, key rotation).
import { randomBytes } from 'node:crypto';
import {
  CAPSULE_LENGTH,
  HEADER_LENGTH,
  KEY_BLOCK_LENGTH,
  KeyBlock,
  decryptEmr,
  decryptWithDek,
  encapsulateDek,
  encryptEmr,
  encryptWithDek,
  generateDek,
  openDekWithCFrags,
  openDekWithSecretKey,
  readEnvelopeHeader,
} from '../../src/crypto/envelope/index.js';
import { CapsuleFrag, SecretKey, Signer, generateKFrags, reencrypt } from '../../src/crypto/umbral/index.js';
import { collect, expectCode } from './envelope-helpers.js';

const S = 4096;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('envelope: EMR flows', () => {
  const patientSk = SecretKey.random();
  const patientPk = patientSk.publicKey();
  const plain = new Uint8Array(randomBytes(3 * S + 321));
  let env: Uint8Array;

  beforeAll(async () => {
    const enc = encryptEmr([plain], patientPk, { segmentSize: S });
    env = await collect(enc.stream);
  });

  test('upload: the patient decrypts with the secret key (parsed key block or raw header bytes), both backends', async () => {
    for (const backend of ['node', 'noble'] as const) {
      expect(await collect(decryptEmr([env], (_h, kb) => openDekWithSecretKey(kb, patientSk), { backend }))).toEqual(plain);
      expect(await collect(decryptEmr([env], (h) => openDekWithSecretKey(h.keyBlock, patientSk), { backend }))).toEqual(plain);
    }
  });

  test('encryptEmr exposes header, stream and summary, but never the DEK', async () => {
    const enc = encryptEmr([plain], patientPk, { segmentSize: S, hashPlaintext: true });
    expect(Object.keys(enc).sort()).toEqual(['header', 'stream', 'summary']);
    const bytes = await collect(enc.stream);
    const summary = await enc.summary;
    expect(summary).toMatchObject({ plaintextBytes: plain.length, envelopeBytes: bytes.length, segments: 4 });
    const dek = openDekWithSecretKey(enc.header.keyBlock, patientSk);
    expect(dek.length).toBe(32);
    for (const text of [JSON.stringify(enc.header), JSON.stringify(summary), hex(bytes), String(enc.header)]) {
      expect(text).not.toContain(hex(dek));
    }
    expect(JSON.stringify(Object.values(enc.header).map((v) => (v instanceof Uint8Array ? hex(v) : v)))).not.toContain(hex(dek));
  });

  test('grant via cfrags: proxies re-encrypt the capsule, the grantee opens the DEK and streams the content', async () => {
    const bobSk = SecretKey.random();
    const bobPk = bobSk.publicKey();
    const signer = new Signer(SecretKey.random());
    const kfrags = generateKFrags(patientSk, bobPk, signer, 2, 3, true, true);

    // The server reads only the header and hands the capsule to the proxies.
    const { header, keyBlock } = await readEnvelopeHeader([env]);
    expect(header.keyBlock.length).toBe(KEY_BLOCK_LENGTH);
    const cfragBytes = kfrags.map((kf) => reencrypt(keyBlock.capsule, kf).toBytes());

    // Bob verifies the cfrags against the capsule in the header he is decrypting.
    const out = await collect(
      decryptEmr([env], async (_h, kb) => {
        const verified = cfragBytes.slice(1).map((b) => CapsuleFrag.fromBytes(b).verify(kb.capsule, signer.verifyingKey(), patientPk, bobPk));
        return openDekWithCFrags(kb, bobSk, patientPk, verified);
      }),
    );
    expect(out).toEqual(plain);

    // Too few cfrags, or none, or another receiver's key.
    const one = [CapsuleFrag.fromBytes(cfragBytes[0]!).verify(keyBlock.capsule, signer.verifyingKey(), patientPk, bobPk)];
    await expectCode(() => openDekWithCFrags(keyBlock, bobSk, patientPk, one), 'AUTHENTICATION_FAILED', /capsule fragments/);
    await expectCode(() => openDekWithCFrags(keyBlock, bobSk, patientPk, []), 'INVALID_ARGUMENT');
    const two = cfragBytes.slice(0, 2).map((b) => CapsuleFrag.fromBytes(b).verify(keyBlock.capsule, signer.verifyingKey(), patientPk, bobPk));
    await expectCode(() => openDekWithCFrags(keyBlock, SecretKey.random(), patientPk, two), 'AUTHENTICATION_FAILED');
  });

  test('emergency: the DEK re-encapsulated to a responder key opens the unchanged envelope', async () => {
    const responderSk = SecretKey.random();
    // On the patient's side (or their delegate): open, re-encapsulate, hand the key block over separately.
    const dek = openDekWithSecretKey(KeyBlock.fromBytes((await readEnvelopeHeader([env])).header.keyBlock), patientSk);
    const handed = encapsulateDek(dek, responderSk.publicKey()).toBytes();
    dek.fill(0);
    expect(handed.length).toBe(KEY_BLOCK_LENGTH);
    // The responder: the stream decrypts with the DEK alone plus the header.
    const responderDek = openDekWithSecretKey(handed, responderSk);
    expect(await collect(decryptEmr([env], responderDek))).toEqual(plain);
    // The handed-over block does not open with the patient's key, and the header's block not with the responder's.
    await expectCode(() => openDekWithSecretKey(handed, patientSk), 'AUTHENTICATION_FAILED', /secret key/);
    await expectCode(() => openDekWithSecretKey(KeyBlock.fromBytes(env.subarray(42, HEADER_LENGTH)), responderSk), 'AUTHENTICATION_FAILED');
  });

  test('key rotation: re-encrypt under a new DEK; the old DEK does not open the new envelope', async () => {
    const oldDek = openDekWithSecretKey(env.subarray(42, HEADER_LENGTH), patientSk);
    const newDek = generateDek();
    const rotated = encryptWithDek(decryptEmr([env], oldDek), newDek, encapsulateDek(newDek, patientPk), { segmentSize: S });
    const env2 = await collect(rotated.stream);
    expect(await collect(decryptEmr([env2], (_h, kb) => openDekWithSecretKey(kb, patientSk)))).toEqual(plain);
    expect(hex(openDekWithSecretKey(rotated.header.keyBlock, patientSk))).toBe(hex(newDek));
    await expectCode(collect(decryptEmr([env2], oldDek)), 'AUTHENTICATION_FAILED', /segment 0\b/);
  });

  test('readEnvelopeHeader reads only the header and closes the source', async () => {
    let closed = false;
    let pulled = 0;
    function* src() {
      try {
        for (let off = 0; off < env.length; off += 100) {
          pulled++;
          yield env.subarray(off, off + 100);
        }
      } finally {
        closed = true;
      }
    }
    const { header, keyBlock } = await readEnvelopeHeader(src());
    expect(closed).toBe(true);
    expect(pulled).toBe(Math.ceil(HEADER_LENGTH / 100));
    expect(header.segmentSize).toBe(S);
    expect(hex(keyBlock.toBytes())).toBe(hex(header.keyBlock));
    expect(keyBlock.capsule.toBytes().length).toBe(CAPSULE_LENGTH);
  });

  test('key block: strict parse (length, capsule proof), tampering, wrong keys', async () => {
    const kbBytes = env.slice(42, HEADER_LENGTH);
    const kb = KeyBlock.fromBytes(kbBytes);
    expect(hex(kb.toBytes())).toBe(hex(kbBytes));
    await expectCode(() => KeyBlock.fromBytes(kbBytes.subarray(1)), 'MALFORMED_HEADER', /177 bytes/);
    await expectCode(() => KeyBlock.fromBytes(new Uint8Array(KEY_BLOCK_LENGTH)), 'MALFORMED_HEADER', /invalid capsule/);
    // A flipped capsule byte: the capsule no longer parses or its proof fails; decryptEmr rejects the header.
    for (const at of [0, 1, 33, 66, 100, 104]) {
      const env2 = env.slice();
      env2[42 + at]! ^= 1;
      await expectCode(() => KeyBlock.fromBytes(env2.subarray(42, HEADER_LENGTH)), 'MALFORMED_HEADER');
      await expectCode(collect(decryptEmr([env2], (_h, k) => openDekWithSecretKey(k, patientSk))), 'MALFORMED_HEADER', /capsule/);
      await expectCode(readEnvelopeHeader([env2]), 'MALFORMED_HEADER');
    }
    // A flipped encrypted-DEK byte: Umbral's DEM rejects it.
    for (const at of [CAPSULE_LENGTH, CAPSULE_LENGTH + 30, KEY_BLOCK_LENGTH - 1]) {
      const env2 = env.slice();
      env2[42 + at]! ^= 1;
      await expectCode(collect(decryptEmr([env2], (_h, k) => openDekWithSecretKey(k, patientSk))), 'AUTHENTICATION_FAILED', /key block/);
    }
    await expectCode(() => openDekWithSecretKey(kb, SecretKey.random()), 'AUTHENTICATION_FAILED');
    // With the right DEK but a modified key block the stream itself fails (the header is bound into the key).
    const dek = openDekWithSecretKey(kb, patientSk);
    const env3 = env.slice();
    env3[HEADER_LENGTH - 1]! ^= 1;
    await expectCode(collect(decryptWithDek([env3], dek)), 'AUTHENTICATION_FAILED', /segment 0\b/);
  });

  test('errors from the DEK function propagate unchanged; bad results are INVALID_ARGUMENT', async () => {
    const mine = new Error('no cfrags available');
    await expect(
      collect(
        decryptEmr([env], () => {
          throw mine;
        }),
      ),
    ).rejects.toBe(mine);
    await expectCode(collect(decryptEmr([env], () => new Uint8Array(31))), 'INVALID_ARGUMENT');
    await expectCode(() => decryptEmr([env], 'dek' as unknown as Uint8Array), 'INVALID_ARGUMENT');
  });

  test('empty and small EMRs (a 0.4 kB note) round-trip with the default segment size', async () => {
    for (const size of [0, 400]) {
      const p = new Uint8Array(randomBytes(size));
      const enc = encryptEmr([p], patientPk);
      const bytes = await collect(enc.stream);
      expect(bytes.length).toBe(HEADER_LENGTH + size + 16);
      expect(await collect(decryptEmr([bytes], (_h, kb) => openDekWithSecretKey(kb, patientSk)))).toEqual(p);
    }
  });

  test('encryptWithDek accepts a KeyBlock object or its bytes', async () => {
    const dek = generateDek();
    const kb = encapsulateDek(dek, patientPk);
    for (const block of [kb, kb.toBytes()]) {
      const bytes = await collect(encryptWithDek([plain], dek, block, { segmentSize: S }).stream);
      expect(await collect(decryptEmr([bytes], (_h, k) => openDekWithSecretKey(k, patientSk)))).toEqual(plain);
    }
  });
});
