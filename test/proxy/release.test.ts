// The proxies of a real node (dev network, Helia, HTTP server) with PIE_PROXY_COUNT=3: registered on the ledger at
// start, they release capsule fragments only for a committed reencrypt operation of the caller on a live ordinary
// grant, once, from kfrags that open with their keys and verify against the patient's and the grantee's keys. The
// grantee opens the DEK (and the content) with any threshold of the cfrags. Keys and registrations survive a restart.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { canonicalRecordBytes } from '../../chaincode/src/domain/index.js';
import type { EmrRecord, Grant, OperationRecord, RegisteredProxy, SignedAction } from '../../chaincode/src/domain/index.js';
import { signAction } from '../../src/chain/pie-ledger.js';
import type { PieLedger } from '../../src/chain/pie-ledger.js';
import { decryptEmr, openDekWithCFrags, openDekWithSecretKey, readEnvelopeHeader } from '../../src/crypto/envelope/index.js';
import type { KeyBlock } from '../../src/crypto/envelope/index.js';
import { sealKFrag } from '../../src/crypto/kfrag-seal.js';
import { Capsule, CapsuleFrag, KeyFrag, PublicKey, SecretKey, Signer, generateKFrags } from '../../src/crypto/umbral/index.js';
import type { VerifiedCapsuleFrag, VerifiedKeyFrag } from '../../src/crypto/umbral/index.js';
import { ActionPayloads } from '../../src/exchange/action-payloads.js';
import { ExchangeError } from '../../src/exchange/errors.js';
import { createLogger } from '../../src/node/log.js';
import { startNode } from '../../src/node/node.js';
import { ProxyKeyStore, ProxyService } from '../../src/proxy/index.js';
import type { ProxyInfo, ReleasedCFrag } from '../../src/proxy/index.js';
import { bytesOf, hex, registerWithKeys, startTestNode } from '../node/harness.js';
import type { KeyHolder, TestNode } from '../node/harness.js';

let t: TestNode;
let ledger: PieLedger;
let patient: KeyHolder;
let doctor: KeyHolder; // the record's author
let reader: KeyHolder; // the usual grantee
let other: KeyHolder; // a physician without a grant
let er: KeyHolder; // a physician with the emergency role
let record: EmrRecord;
let content: Buffer;
let keyBlock: KeyBlock;

const HOUR = 3_600_000;
const pk = (hexKey: string): PublicKey => PublicKey.fromCompressedBytes(Buffer.from(hexKey, 'hex'));
const proxies = (): readonly ProxyInfo[] => t.node.services.proxy.local;

beforeAll(async () => {
  t = await startTestNode({ PIE_PROXY_COUNT: '3' });
  ledger = t.node.services.ledger;
  patient = await registerWithKeys(t, 'PATIENT');
  doctor = await registerWithKeys(t, 'PHYSICIAN');
  reader = await registerWithKeys(t, 'PHYSICIAN');
  other = await registerWithKeys(t, 'PHYSICIAN');
  er = await registerWithKeys(t, 'PHYSICIAN', { roles: ['emergency'] });
  content = randomBytes(200_000);
  record = await createRecord(content);
  keyBlock = (await readEnvelopeHeader(t.node.storage.blobs.get(record.metadata.cid))).keyBlock;
}, 120_000);
afterAll(async () => {
  await t?.stop();
});

async function createRecord(body: Buffer): Promise<EmrRecord> {
  const blob = await doctor.client.uploadBlob(patient.id, body, 'application/pdf');
  const { cid, size, contentHash, capsule, envelopeVersion, mediaType } = blob;
  const created = await doctor.client.createEmr({
    patientId: patient.id,
    cid,
    size,
    contentHash,
    capsule,
    envelopeVersion,
    mediaType,
    summary: { category: 'MEDICAL_IMAGING', securityLevel: 'PRIVATE', year: 2024, resourceTypes: ['DocumentReference'], codes: ['http://loinc.org|18748-4'] },
  });
  return ledger.record(created.id);
}

async function submit<T>(who: KeyHolder, type: SignedAction['type'], payload: Record<string, unknown>): Promise<T> {
  return (await ledger.submitAction<T>(signAction(who.signingKey, who.id, type, payload, ledger.channel))).result;
}

/** The patient's client: kfrags for `grantee` (threshold of shares), one sealed to each proxy. */
function kfragsFor(grantee: KeyHolder, threshold: number, shares = proxies().length): VerifiedKeyFrag[] {
  return generateKFrags(patient.encryptionKey, grantee.encryptionKey.publicKey(), new Signer(patient.signingKey), threshold, shares, true, true);
}

interface GrantOptions {
  threshold?: number;
  /** the sealed kfrags; default: kfragsFor(grantee) sealed to each local proxy's registered key */
  kfrags?: { proxyId: string; ciphertext: string }[];
  on?: EmrRecord;
}

async function grantTo(grantee: KeyHolder, opts: GrantOptions = {}): Promise<Grant> {
  const threshold = opts.threshold ?? 2;
  const registered = new Map((await ledger.proxies()).map((p) => [p.id, p]));
  const kfrags =
    opts.kfrags ??
    kfragsFor(grantee, threshold).map((k, i) => {
      const proxy = registered.get(proxies()[i]!.id)!; // the key as the ledger has it, as a client takes it
      return { proxyId: proxy.id, ciphertext: sealKFrag(k, pk(proxy.encryptionKey)) };
    });
  const now = Date.now();
  return submit<Grant>(
    patient,
    'grant-access',
    ActionPayloads.grantAccess({
      emrId: (opts.on ?? record).id,
      granteeId: grantee.id,
      validFrom: new Date(now - 60_000).toISOString(),
      validUntil: new Date(now + 24 * HOUR).toISOString(),
      threshold,
      kfrags,
    }),
  );
}

/** The grantee's client records the reencrypt operation the proxies need. */
const reencryptOp = (grantee: KeyHolder, grant: Grant): Promise<OperationRecord> =>
  submit<OperationRecord>(grantee, 'record-operation', ActionPayloads.openEmr({ emrId: grant.emrId, grantId: grant.id }));

/** The ExchangeError `p` rejects with, checked for its code and message. */
async function refused(p: Promise<unknown>, code: string, message: RegExp): Promise<ExchangeError> {
  const e = await p.then(
    (v) => new Error(`expected a ${code} refusal, got ${JSON.stringify(v)?.slice(0, 200)}`),
    (err: unknown) => err,
  );
  if (!(e instanceof ExchangeError)) throw e;
  expect({ code: e.code, message: e.message }).toEqual({ code, message: expect.stringMatching(message) });
  return e;
}

/** The grantee's client: each cfrag verified against the capsule, the patient's keys and its own key. */
function verified(released: readonly ReleasedCFrag[], grantee: KeyHolder): VerifiedCapsuleFrag[] {
  const capsule = Capsule.fromBytes(Buffer.from(record.metadata.capsule, 'base64'));
  return released.map((r) =>
    CapsuleFrag.fromBytes(Buffer.from(r.cfrag, 'base64')).verify(capsule, patient.signingKey.publicKey(), patient.encryptionKey.publicKey(), grantee.encryptionKey.publicKey()),
  );
}

describe('registration at start', () => {
  it('every local proxy is on the ledger with its key, named after the organisation', async () => {
    const local = proxies();
    expect(local.map((p) => p.id)).toEqual(['Hospital1MSP.proxy.1', 'Hospital1MSP.proxy.2', 'Hospital1MSP.proxy.3']);
    const onLedger = await ledger.proxies();
    expect(onLedger.map((p: RegisteredProxy) => ({ id: p.id, organisation: p.org, encryptionKey: p.encryptionKey }))).toEqual(local);
    const dir = join(t.node.config.dataDir, 'proxy');
    expect((await fsp.stat(dir)).mode & 0o777).toBe(0o700);
    for (const name of await fsp.readdir(dir)) expect((await fsp.stat(join(dir, name))).mode & 0o777).toBe(0o600);
  });
});

describe('release', () => {
  it('threshold 2 of 3: cfrags from all three proxies, each verifies, any two open the DEK and the content', async () => {
    const grant = await grantTo(reader, { threshold: 2 });
    const op = await reencryptOp(reader, grant);
    const released = await t.node.services.proxy.release(op.id, reader.id);
    expect(released.map((r) => r.proxyId)).toEqual(proxies().map((p) => p.id));
    const frags = verified(released, reader);
    const dek = openDekWithSecretKey(keyBlock, patient.encryptionKey);
    for (const pair of [[0, 1], [0, 2], [1, 2]] as const) {
      expect(Buffer.from(openDekWithCFrags(keyBlock, reader.encryptionKey, patient.encryptionKey.publicKey(), pair.map((i) => frags[i]!))).equals(Buffer.from(dek))).toBe(true);
    }
    // the whole content, decrypted with two of them
    const plain: Uint8Array[] = [];
    const envelope = await bytesOf(await reader.client.downloadBlob(record.metadata.cid)); // GET /blobs serves a live grantee
    for await (const p of decryptEmr([envelope], (_h, kb) => openDekWithCFrags(kb, reader.encryptionKey, patient.encryptionKey.publicKey(), frags.slice(1)))) plain.push(p);
    expect(Buffer.concat(plain).equals(content)).toBe(true);
    // one is not enough, and cfrags are bound to the grantee: another participant's key opens nothing
    expect(() => openDekWithCFrags(keyBlock, reader.encryptionKey, patient.encryptionKey.publicKey(), frags.slice(0, 1))).toThrow();
    expect(() => openDekWithCFrags(keyBlock, other.encryptionKey, patient.encryptionKey.publicKey(), frags)).toThrow();
  });

  it('a grant with kfrags for some of the proxies: only those release', async () => {
    const [k1, k2] = kfragsFor(reader, 1, 2);
    const grant = await grantTo(reader, {
      threshold: 1,
      kfrags: [
        { proxyId: proxies()[2]!.id, ciphertext: sealKFrag(k1!, pk(proxies()[2]!.encryptionKey)) },
        { proxyId: 'Hospital2MSP.proxy.1', ciphertext: sealKFrag(k2!, SecretKey.random().publicKey()) },
      ],
    });
    const released = await t.node.services.proxy.release((await reencryptOp(reader, grant)).id, reader.id);
    expect(released.map((r) => r.proxyId)).toEqual([proxies()[2]!.id]);
    expect(Buffer.from(openDekWithCFrags(keyBlock, reader.encryptionKey, patient.encryptionKey.publicKey(), verified(released, reader))).length).toBe(32);
  });
});

describe('refusals', () => {
  let grant: Grant;
  beforeAll(async () => {
    grant = await grantTo(reader);
  });

  it('malformed arguments, an unknown operation', async () => {
    await refused(t.node.services.proxy.release('no such op!', reader.id), 'BAD_USER_INPUT', /^operationId: /);
    await refused(t.node.services.proxy.release('op-1', 'bob'), 'BAD_USER_INPUT', /^callerId: /);
    await refused(t.node.services.proxy.release('a'.repeat(32), reader.id), 'NOT_FOUND', /operation a+ not found/);
  });

  it('an operation recorded by another participant: FORBIDDEN, and the actor can still use it', async () => {
    const op = await reencryptOp(reader, grant);
    await refused(t.node.services.proxy.release(op.id, other.id), 'FORBIDDEN', new RegExp(`^operation ${op.id} was recorded by another participant`));
    await refused(t.node.services.proxy.release(op.id, patient.id), 'FORBIDDEN', /recorded by another participant/);
    expect(await t.node.services.proxy.release(op.id, reader.id)).toHaveLength(3);
  });

  it('an operation of another kind: BAD_USER_INPUT', async () => {
    const download = await submit<OperationRecord>(patient, 'record-operation', ActionPayloads.openEmr({ emrId: record.id }));
    expect(download.kind).toBe('download');
    await refused(t.node.services.proxy.release(download.id, patient.id), 'BAD_USER_INPUT', /is a download operation; the proxies release capsule fragments only for a reencrypt operation/);
    const query = await submit<OperationRecord>(reader, 'record-operation', { kind: 'query', emrId: record.id });
    await refused(t.node.services.proxy.release(query.id, reader.id), 'BAD_USER_INPUT', /is a query operation/);
  });

  it('a replayed operation: served once per proxy, also when two releases race', async () => {
    const op = await reencryptOp(reader, grant);
    const [a, b] = await Promise.allSettled([t.node.services.proxy.release(op.id, reader.id), t.node.services.proxy.release(op.id, reader.id)]);
    expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected']);
    const loser = (a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason) as ExchangeError;
    expect({ code: loser.code, message: loser.message }).toEqual({ code: 'CONFLICT', message: expect.stringMatching(new RegExp(`^operation ${op.id} was already served by proxy Hospital1MSP.proxy.1`)) });
    await refused(t.node.services.proxy.release(op.id, reader.id), 'CONFLICT', /already served/);
    // a new operation is served
    expect(await t.node.services.proxy.release((await reencryptOp(reader, grant)).id, reader.id)).toHaveLength(3);
  });

  it('an operation older than PIE_PROXY_OPERATION_TTL_SECONDS, or dated in the future', async () => {
    const op = await reencryptOp(reader, grant);
    const recordedAt = Date.parse(op.timestamp);
    const keys = await ProxyKeyStore.open({ dir: join(t.node.config.dataDir, 'proxy'), keyFile: t.node.config.custodyKeyFile, organisation: 'Hospital1MSP', count: 3 });
    const at = (ms: number) => new ProxyService({ ledger, keys, operationTtlSeconds: 300, log: createLogger({ level: 'silent' }), clock: () => ms });
    await refused(at(recordedAt + 300_001).release(op.id, reader.id), 'FORBIDDEN', new RegExp(`^operation ${op.id} was recorded at ${op.timestamp}, more than 300 s ago; record a new reencrypt operation`));
    await refused(at(recordedAt - 61_000).release(op.id, reader.id), 'FORBIDDEN', /in the future/);
    expect(await at(recordedAt + 300_000).release(op.id, reader.id)).toHaveLength(3);
  });

  it('a grant revoked after the operation was recorded: FORBIDDEN REVOKED', async () => {
    const g = await grantTo(reader);
    const op = await reencryptOp(reader, g);
    await submit(patient, 'revoke-grant', ActionPayloads.revokeGrant({ grantId: g.id }));
    await refused(t.node.services.proxy.release(op.id, reader.id), 'FORBIDDEN', new RegExp(`^REVOKED: grant ${g.id} was revoked at`));
  });

  it('a grantee suspended after the operation: FORBIDDEN GRANTEE_SUSPENDED', async () => {
    const grantee = await registerWithKeys(t, 'PHYSICIAN');
    const g = await grantTo(grantee);
    const op = await reencryptOp(grantee, g);
    await ledger.setParticipantStatus(grantee.id, 'suspended');
    await refused(t.node.services.proxy.release(op.id, grantee.id), 'FORBIDDEN', new RegExp(`^GRANTEE_SUSPENDED: grantee ${grantee.id} is suspended`));
  });

  it('a grant on a record superseded by a new version after the operation: FORBIDDEN SUPERSEDED', async () => {
    const v1 = await createRecord(randomBytes(5_000));
    const g = await grantTo(reader, { on: v1 });
    const op = await reencryptOp(reader, g);
    // the author records version 2 (new content, new DEK, new capsule)
    const blob = await doctor.client.uploadBlob(patient.id, randomBytes(5_000), 'application/pdf');
    const { timestamp: _t, authorSignature: _s, ...previous } = v1;
    const v2 = {
      ...previous,
      id: `${v1.id}-v2`,
      version: 2,
      previousId: v1.id,
      metadata: { cid: blob.cid, size: blob.size, mediaType: blob.mediaType, contentHash: blob.contentHash, capsule: blob.capsule, envelopeVersion: blob.envelopeVersion },
    };
    await ledger.createRecord({ ...v2, authorSignature: hex(new Signer(doctor.signingKey).sign(canonicalRecordBytes(v2)).toBEBytes()) });
    await refused(t.node.services.proxy.release(op.id, reader.id), 'FORBIDDEN', new RegExp(`^SUPERSEDED: grant ${g.id} ended: record ${v1.id} is superseded by ${v2.id}`));
  });

  it('an emergency (break-glass) grant: refused here, it is served by the treating physician’s delegation', async () => {
    const g = await submit<Grant>(er, 'break-glass', ActionPayloads.breakGlass({ emrId: record.id, justification: 'unconscious patient, suspected stroke' }));
    const op = await reencryptOp(er, g);
    await refused(t.node.services.proxy.release(op.id, er.id), 'BAD_USER_INPUT', new RegExp(`^grant ${g.id} is an emergency \\(break-glass\\) grant: it holds no kfrags`));
  });

  it('a grant with no kfrag for this node’s proxies: CONFLICT naming the proxies it has', async () => {
    const [k] = kfragsFor(reader, 1, 1);
    const g = await grantTo(reader, { threshold: 1, kfrags: [{ proxyId: 'Hospital2MSP.proxy.7', ciphertext: sealKFrag(k!, SecretKey.random().publicKey()) }] });
    await refused(
      t.node.services.proxy.release((await reencryptOp(reader, g)).id, reader.id),
      'CONFLICT',
      new RegExp(`^grant ${g.id} holds no sealed kfrag for this node's proxies \\(Hospital1MSP.proxy.1, Hospital1MSP.proxy.2, Hospital1MSP.proxy.3\\); it names Hospital2MSP.proxy.7`),
    );
  });

  it('a kfrag sealed to a wrong key: FORBIDDEN naming the proxy, a warning logged without secrets; nothing released', async () => {
    const ks = kfragsFor(reader, 2);
    const kfrags = ks.map((k, i) => ({ proxyId: proxies()[i]!.id, ciphertext: sealKFrag(k, i === 1 ? SecretKey.random().publicKey() : pk(proxies()[i]!.encryptionKey)) }));
    const g = await grantTo(reader, { kfrags });
    const op = await reencryptOp(reader, g);
    await refused(t.node.services.proxy.release(op.id, reader.id), 'FORBIDDEN', new RegExp(`^grant ${g.id}: the kfrag for proxy Hospital1MSP.proxy.2 does not open with that proxy's key`));
    // the refusal did not spend the operation: nothing was served (a fixed grant would need a new operation anyway)
    await refused(t.node.services.proxy.release(op.id, reader.id), 'FORBIDDEN', /does not open/);

    const lines = (await fsp.readFile(t.logFile, 'utf8')).split('\n').filter((l) => l.includes(op.id) && l.includes('"level":"warn"'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ proxyId: 'Hospital1MSP.proxy.2', grantId: g.id, operationId: op.id, stage: 'open', msg: 'a kfrag of the grant was refused' });
    const keys = await ProxyKeyStore.open({ dir: join(t.node.config.dataDir, 'proxy'), keyFile: t.node.config.custodyKeyFile, organisation: 'Hospital1MSP', count: 3 });
    const log = await fsp.readFile(t.logFile, 'utf8');
    for (const p of keys.proxies) expect(log).not.toContain(keys.withSecret(p.id, (sk) => hex(sk.toBEBytes())));
    for (const k of kfrags) expect(log).not.toContain(k.ciphertext.slice(0, 40));
  });

  it('tampered kfrags: altered bytes, made for another grantee, signed by someone else — FORBIDDEN naming the proxy', async () => {
    const seal = (i: number, bytes: Uint8Array) => ({ proxyId: proxies()[i]!.id, ciphertext: sealKFrag(KeyFrag.fromBytes(bytes), pk(proxies()[i]!.encryptionKey)) });
    const honest = kfragsFor(reader, 2);

    // a flipped bit in the re-encryption key (byte 104: the key's last byte; the kfrag still parses)
    const altered = honest[0]!.toBytes().slice();
    altered[104]! ^= 0x01;
    expect(KeyFrag.fromBytes(altered).equals(honest[0]!.unverify())).toBe(false);
    // kfrags the patient made for another participant, relabelled for the reader
    const forOther = kfragsFor(other, 2);
    // kfrags signed with a key that is not the patient's signing key
    const forged = generateKFrags(patient.encryptionKey, reader.encryptionKey.publicKey(), new Signer(SecretKey.random()), 2, 3, true, true);

    const cases: [string, { proxyId: string; ciphertext: string }[]][] = [
      ['altered', [seal(0, altered), seal(1, honest[1]!.toBytes()), seal(2, honest[2]!.toBytes())]],
      ['another grantee', [seal(0, honest[0]!.toBytes()), seal(1, honest[1]!.toBytes()), seal(2, forOther[2]!.toBytes())]],
      ['another signer', forged.map((k, i) => seal(i, k.toBytes()))],
    ];
    for (const [name, kfrags] of cases) {
      const g = await grantTo(reader, { kfrags });
      const bad = name === 'altered' ? 1 : name === 'another grantee' ? 3 : 1;
      await refused(
        t.node.services.proxy.release((await reencryptOp(reader, g)).id, reader.id),
        'FORBIDDEN',
        new RegExp(`^grant ${g.id}: the kfrag for proxy Hospital1MSP.proxy.${bad} does not (verify against the patient's keys and the grantee's key|open with that proxy's key)`),
      );
    }
  });
});

describe('restart', () => {
  it('the same keys and registrations after a restart (registered once), and they still serve', async () => {
    const before = proxies();
    const grant = await grantTo(reader);
    const config = t.node.config;
    await t.node.stop();
    const again = await startNode(config, createLogger({ level: 'silent' }));
    try {
      expect(again.services.proxy.local).toEqual(before);
      const onLedger = await again.services.ledger.proxies();
      expect(onLedger.map((p) => p.encryptionKey)).toEqual(before.map((p) => p.encryptionKey));
      for (const p of before) expect(await again.services.ledger.history('proxy', p.id)).toHaveLength(1);
      const op = (await again.services.ledger.submitAction<OperationRecord>(signAction(reader.signingKey, reader.id, 'record-operation', ActionPayloads.openEmr({ emrId: record.id, grantId: grant.id }), ledger.channel))).result;
      const released = await again.services.proxy.release(op.id, reader.id);
      expect(Buffer.from(openDekWithCFrags(keyBlock, reader.encryptionKey, patient.encryptionKey.publicKey(), verified(released, reader))).equals(Buffer.from(openDekWithSecretKey(keyBlock, patient.encryptionKey)))).toBe(true);
    } finally {
      await again.stop();
    }
  });
});
