// The encrypted EMR pipeline on a real offline Helia node (plaintext → envelope → UnixFS → CID and back, checked
// against the ledger's size and hash), and orphan collection against a real dev network ledger.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contracts } from '../../chaincode/src/index.js';
import { canonicalRecordBytes, DEFAULT_POLICY } from '../../chaincode/src/domain/index.js';
import type { Participant } from '../../chaincode/src/domain/index.js';
import { LedgerClient } from '../../src/chain/client.js';
import { Devnet } from '../../src/chain/devnet/devnet.js';
import { PieLedger } from '../../src/chain/pie-ledger.js';
import type { SignedRecordInput } from '../../src/chain/pie-ledger.js';
import { EnvelopeError, openDekWithSecretKey, readEnvelopeHeader } from '../../src/crypto/envelope/index.js';
import type { EmrDekSource } from '../../src/crypto/envelope/index.js';
import { SecretKey, Signer } from '../../src/crypto/umbral/index.js';
import { openStorageNode, StorageError } from '../../src/storage/index.js';
import type { StorageNode } from '../../src/storage/index.js';
import { ledgerReferences, sweepOrphans } from '../../src/storage/orphans.js';
import type { LedgerReferences } from '../../src/storage/orphans.js';
import { openEmr, storeEmr, storeEmrs } from '../../src/storage/emr-blobs.js';
import type { StoredEmr } from '../../src/storage/emr-blobs.js';

const patientSk = SecretKey.random();
const withPatientKey: EmrDekSource = (_h, kb) => openDekWithSecretKey(kb, patientSk);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}
/** Content split into uneven chunks, as a network upload arrives. */
function* chunks(b: Uint8Array, size = 100_003): Generator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
async function pinned(node: StorageNode): Promise<string[]> {
  const out: string[] = [];
  for await (const c of node.blobs.pins()) out.push(c.toString());
  return out.sort();
}

let dir: string;
let node: StorageNode;

beforeAll(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-emr-blobs-'));
  node = await openStorageNode({ dataDir: join(dir, 'storage') });
});
afterAll(async () => {
  await node?.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('storeEmr / openEmr', () => {
  test.each([
    ['empty', 0],
    ['0.4 kB (the paper\'s smallest EMR)', 400],
    ['3 MiB (several envelope segments and UnixFS chunks)', 3 * 1024 * 1024 + 17],
  ])('round trip: %s', async (_name, n) => {
    const plaintext = randomBytes(n);
    const stored = await storeEmr(node.blobs, chunks(plaintext), patientSk.publicKey());
    expect(stored.contentHash).toBe(sha256(plaintext));
    expect(stored.plaintextBytes).toBe(n);
    expect(stored.size).toBeGreaterThan(n); // header, key block and tags
    expect(Buffer.from(stored.capsule, 'base64')).toHaveLength(105);
    expect(stored.cid).toMatch(/^bafy/);
    expect(await node.blobs.isPinned(stored.cid)).toBe(true);
    // the stored bytes are the envelope, not the plaintext
    const envelope = await collect(node.blobs.get(stored.cid));
    expect(envelope).toHaveLength(stored.size);
    if (n >= 64) expect(envelope.includes(plaintext.subarray(0, 64))).toBe(false);
    expect((await collect(openEmr(node.blobs, stored, withPatientKey))).equals(plaintext)).toBe(true);
  });

  test('a wrong key cannot open the envelope', async () => {
    const stored = await storeEmr(node.blobs, [randomBytes(1000)], patientSk.publicKey());
    const other = SecretKey.random();
    const e = await errorOf(collect(openEmr(node.blobs, stored, (_h, kb) => openDekWithSecretKey(kb, other))));
    expect(e).toBeInstanceOf(EnvelopeError);
  });

  test('content that does not match the ledger\'s hash or size is refused at the end', async () => {
    const stored = await storeEmr(node.blobs, [randomBytes(5000)], patientSk.publicKey());
    const badHash = await errorOf(collect(openEmr(node.blobs, { ...stored, contentHash: sha256(Buffer.from('other')) }, withPatientKey)));
    expect(badHash).toMatchObject({ code: 'INTEGRITY' });
    expect(badHash.message).toContain('the ledger recorded');
    expect(await errorOf(collect(openEmr(node.blobs, { ...stored, size: stored.size + 1 }, withPatientKey)))).toMatchObject({ code: 'INTEGRITY' });
    expect(() => openEmr(node.blobs, { ...stored, contentHash: 'XYZ' }, withPatientKey)).toThrow(StorageError);
    expect(() => openEmr(node.blobs, { ...stored, size: -1 }, withPatientKey)).toThrow(/size/);
  });

  test('a failing source or an oversized EMR leaves nothing pinned', async () => {
    const before = await pinned(node);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield randomBytes(300_000);
      throw new Error('upload connection reset');
    }
    await expect(storeEmr(node.blobs, failing(), patientSk.publicKey())).rejects.toThrow();
    const tooLarge = await errorOf(storeEmr(node.blobs, chunks(randomBytes(2_000_000)), patientSk.publicKey(), { maxBytes: 1_000_000 }));
    expect(tooLarge).toMatchObject({ code: 'TOO_LARGE' });
    expect(await pinned(node)).toEqual(before);
  });
});

describe('storeEmrs: one upload of several EMRs, pinned together or not at all', () => {
  test('every EMR stored under its own DEK, in order, each opening to its plaintext; all pinned', async () => {
    const plaintexts = [400, 0, 70_000, 1234, 2 * 1024 * 1024 + 5].map((n) => randomBytes(n));
    const stored = await storeEmrs(node.blobs, plaintexts.map((p) => chunks(p)), patientSk.publicKey(), { concurrency: 3 });
    expect(stored.map((s) => s.plaintextBytes)).toEqual(plaintexts.map((p) => p.length));
    expect(new Set(stored.map((s) => s.capsule)).size).toBe(plaintexts.length);
    for (const [i, s] of stored.entries()) {
      expect(s.contentHash).toBe(sha256(plaintexts[i]!));
      expect(await node.blobs.isPinned(s.cid)).toBe(true);
      expect((await collect(openEmr(node.blobs, s, withPatientKey))).equals(plaintexts[i]!)).toBe(true);
    }
  });

  test('the capsule on record is the one in the stored envelope’s key block', async () => {
    const [s] = await storeEmrs(node.blobs, [[randomBytes(3000)]], patientSk.publicKey());
    const { keyBlock } = await readEnvelopeHeader(node.blobs.get(s!.cid));
    expect(Buffer.from(keyBlock.capsule.toBytes()).toString('base64')).toBe(s!.capsule);
  });

  test('one EMR failing part-way: the upload is refused, none of its EMRs pinned, no blocks left for gc', async () => {
    await node.blobs.gc();
    const before = await pinned(node);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield randomBytes(300_000);
      throw new Error('upload connection reset');
    }
    const sources = Array.from({ length: 12 }, (_, i) => (i === 7 ? failing() : [randomBytes(5000 + i)]));
    await expect(storeEmrs(node.blobs, sources, patientSk.publicKey(), { concurrency: 4 })).rejects.toThrow(/upload connection reset|source failed/);
    expect(await pinned(node)).toEqual(before);
    expect((await node.blobs.gc()).removed).toBe(0);
  });

  test('an oversized EMR among others: TOO_LARGE, nothing pinned', async () => {
    const before = await pinned(node);
    const e = await errorOf(storeEmrs(node.blobs, [[randomBytes(100)], chunks(randomBytes(2_000_000)), [randomBytes(100)]], patientSk.publicKey(), { maxBytes: 1_000_000 }));
    expect(e).toMatchObject({ code: 'TOO_LARGE' });
    expect(await pinned(node)).toEqual(before);
  });

  test('concurrency must be a positive integer', async () => {
    for (const concurrency of [0, -1, 1.5]) {
      expect(await errorOf(storeEmrs(node.blobs, [[randomBytes(10)]], patientSk.publicKey(), { concurrency }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });
});

describe('orphaned uploads', () => {
  let net: Devnet;
  let client: LedgerClient;
  let adminClient: LedgerClient;
  let ledger: PieLedger;
  let author: Participant;
  let patient: Participant;
  const authorSk = SecretKey.random();

  beforeAll(async () => {
    net = await Devnet.start({ dataDir: join(dir, 'devnet'), contracts });
    adminClient = LedgerClient.connect({ endpoint: net.endpoint, channel: net.channelId, chaincode: net.chaincodeName, identity: net.admin() });
    const admin = new PieLedger(adminClient);
    const key = (sk: SecretKey) => Buffer.from(sk.publicKey().toCompressedBytes()).toString('hex');
    patient = (await admin.registerParticipant({ kind: 'patient', clearance: 'PRIVATE', signingKey: key(SecretKey.random()), encryptionKey: key(patientSk), roles: [] })).result;
    author = (await admin.registerParticipant({ kind: 'physician', clearance: 'PRIVATE', signingKey: key(authorSk), encryptionKey: key(SecretKey.random()), roles: [] })).result;
    client = LedgerClient.connect({ endpoint: net.endpoint, channel: net.channelId, chaincode: net.chaincodeName, identity: await net.issue(net.gatewayOrg, 'node1', { role: 'node' }) });
    ledger = new PieLedger(client);
  });
  afterAll(async () => {
    client?.close();
    adminClient?.close();
    await net?.stop();
  });

  async function record(stored: StoredEmr, patientId: string): Promise<void> {
    const unsigned = {
      id: `emr-${randomBytes(6).toString('hex')}`,
      version: 1,
      patientId,
      authorId: author.id,
      hospital: author.org,
      summary: { category: 'medical-information', securityLevel: 'PRIVATE', codes: ['http://loinc.org|4548-4'], year: 2024, resourceTypes: ['Observation'], labels: ['R'] },
      metadata: { cid: stored.cid, size: stored.size, mediaType: 'application/fhir+json', contentHash: stored.contentHash, capsule: stored.capsule, envelopeVersion: stored.envelopeVersion },
      policy: DEFAULT_POLICY,
    };
    const authorSignature = Buffer.from(new Signer(authorSk).sign(canonicalRecordBytes(unsigned as never)).toBEBytes()).toString('hex');
    await ledger.createRecord({ ...unsigned, authorSignature } as SignedRecordInput);
  }

  test('content never recorded on the ledger is collected; recorded content is kept and not asked about again', async () => {
    const kept = await storeEmr(node.blobs, [randomBytes(200_000)], patientSk.publicKey());
    await record(kept, patient.id);
    const orphan = await storeEmr(node.blobs, [randomBytes(1_500_000)], patientSk.publicKey()); // the crash: never recorded
    let asked = 0;
    const refs: LedgerReferences = { isRecorded: (cid) => (asked++, ledgerReferences(ledger).isRecorded(cid)) };

    // Inside the grace period nothing is judged.
    const early = await sweepOrphans(node.helia, node.blobs, refs);
    expect(early.young).toEqual(expect.arrayContaining([kept.cid, orphan.cid]));
    expect(early.collected).toEqual([]);
    expect(asked).toBe(0);

    const later = Date.now() + 2 * 60 * 60 * 1000;
    const sweep = await sweepOrphans(node.helia, node.blobs, refs, { now: () => later });
    expect(sweep.recorded).toContain(kept.cid);
    expect(sweep.collected).toContain(orphan.cid);
    expect(sweep.collected).not.toContain(kept.cid);
    expect(sweep.removedBlocks).toBeGreaterThan(0);
    expect(await node.blobs.isPinned(orphan.cid)).toBe(false);
    expect(await node.blobs.has(orphan.cid)).toBe(false);
    expect((await collect(openEmr(node.blobs, kept, withPatientKey))).length).toBe(200_000);

    // Recorded content is marked: the next sweep does not ask the ledger about it again.
    const askedBefore = asked;
    const again = await sweepOrphans(node.helia, node.blobs, refs, { now: () => later });
    expect(again.recorded).not.toContain(kept.cid);
    expect(again.collected).not.toContain(kept.cid);
    expect(asked - askedBefore).toBe(again.recorded.length + again.collected.length);
    expect(await node.blobs.isPinned(kept.cid)).toBe(true);
  });

  test('when the ledger cannot be asked, nothing is collected', async () => {
    const orphan = await storeEmr(node.blobs, [randomBytes(10_000)], patientSk.publicKey());
    const down: LedgerReferences = { isRecorded: async () => { throw new Error('gateway unavailable'); } };
    const e = await errorOf(sweepOrphans(node.helia, node.blobs, down, { now: () => Date.now() + 2 * 60 * 60 * 1000 }));
    expect(e).toMatchObject({ code: 'UNAVAILABLE' });
    expect(await node.blobs.isPinned(orphan.cid)).toBe(true);
  });
});
