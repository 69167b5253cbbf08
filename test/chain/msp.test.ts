/**
 * The dev network's CA / MSP (src/chain/devnet/msp.ts): Fabric CA-style certificates read by fabric-shim's own
 * ClientIdentity, MSP membership, Fabric's low-S signature rule, and persistence.
 */
import 'reflect-metadata'; // before @peculiar/x509 (see msp.ts)
import * as x509 from '@peculiar/x509';
import { createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Msp,
  MspError,
  Organisation,
  P256_HALF_N,
  P256_N,
  checkP256Signature,
  encodeEcdsaSignature,
  isLowS,
  parseEcdsaSignature,
  signP256,
  toLowS,
  verifyP256,
} from '../../src/chain/devnet/msp.js';

process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';
const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ClientIdentity } = require('fabric-shim') as {
  ClientIdentity: new (stub: unknown) => { getID(): string; getMSPID(): string; getAttributeValue(n: string): string | null; assertAttributeValue(n: string, v: string): boolean };
};

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof MspError) return e.code;
    throw e;
  }
  return undefined;
};
/** The MspError code a rejected promise carries (undefined when it resolves). */
const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof MspError) return e.code;
    throw e;
  }
  return undefined;
};
const stubFor = (mspid: string, pem: string) => ({
  getChannelID: () => 'pie',
  getTxID: () => 'tx1',
  getCreator: () => ({ mspid, idBytes: enc(pem) }),
});

let msp: Msp;
let hospitalA: Organisation;
let hospitalB: Organisation;

beforeAll(async () => {
  msp = Msp.inMemory();
  hospitalA = await msp.createOrganisation('HospitalAMSP');
  hospitalB = await msp.createOrganisation('HospitalBMSP', { name: 'Hospital B' });
});

describe('certificates as Fabric CA issues them', () => {
  test('fabric-shim ClientIdentity reads the MSP, the x509 id and the role attribute', async () => {
    const alice = await msp.issue('HospitalAMSP', { enrollmentId: 'alice', attrs: { role: 'physician' } });
    const cid = new ClientIdentity(stubFor('HospitalAMSP', alice.certificatePem));
    expect(cid.getMSPID()).toBe('HospitalAMSP');
    expect(cid.getID()).toBe('x509::/C=US/O=HospitalA/OU=client/CN=alice::/C=US/O=HospitalA/CN=ca.HospitalA');
    expect(cid.getAttributeValue('role')).toBe('physician');
    expect(cid.assertAttributeValue('role', 'physician')).toBe(true);
    expect(cid.getAttributeValue('hf.EnrollmentID')).toBe('alice');
    expect(cid.getAttributeValue('hf.Type')).toBe('client');
    expect(cid.getAttributeValue('clearance')).toBeNull();
  });

  test('the attribute extension holds raw JSON under OID 1.2.3.4.5.6.7.8.1; OU follows the node type', async () => {
    const admin = await hospitalB.issue({ enrollmentId: 'admin@b', ou: 'admin', attrs: { role: 'orgadmin' } });
    const cert = new x509.X509Certificate(admin.certificatePem);
    const ext = cert.getExtension('1.2.3.4.5.6.7.8.1')!;
    expect(ext.critical).toBe(false);
    expect(JSON.parse(new TextDecoder().decode(ext.value))).toEqual({
      attrs: { 'hf.EnrollmentID': 'admin@b', 'hf.Type': 'admin', 'hf.Affiliation': '', role: 'orgadmin' },
    });
    expect(cert.subject).toBe('C=US, O=Hospital B, OU=admin, CN=admin@b');
    expect(cert.issuer).toBe('C=US, O=Hospital B, CN=ca.Hospital B');
    expect(new ClientIdentity(stubFor('HospitalBMSP', admin.certificatePem)).getID()).toBe(
      'x509::/C=US/O=Hospital B/OU=admin/CN=admin@b::/C=US/O=Hospital B/CN=ca.Hospital B',
    );
    expect(cert.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
    expect(new x509.X509Certificate(hospitalB.caCertificatePem).getExtension(x509.BasicConstraintsExtension)!.ca).toBe(true);
  });

  test('certificates are signed by the CA with low-S signatures', async () => {
    for (let i = 0; i < 8; i++) {
      const id = await hospitalA.issue({ enrollmentId: `lows${i}` });
      const cert = new x509.X509Certificate(id.certificatePem);
      expect(isLowS(new Uint8Array(cert.signature))).toBe(true);
      expect(await cert.verify({ publicKey: new x509.X509Certificate(hospitalA.caCertificatePem).publicKey, signatureOnly: true })).toBe(true);
    }
  });

  test('invalid names and reserved attributes are refused', async () => {
    await expect(Organisation.create('bad msp!')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(hospitalA.issue({ enrollmentId: '../etc' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(hospitalA.issue({ enrollmentId: 'x', attrs: { 'hf.Type': 'admin' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(hospitalA.issue({ enrollmentId: 'alice' })).rejects.toMatchObject({ code: 'EXISTS' });
    await expect(msp.createOrganisation('HospitalAMSP')).rejects.toMatchObject({ code: 'EXISTS' });
  });
});

describe('MSP membership', () => {
  test('an identity is a member of its own MSP only', async () => {
    const bob = await msp.issue('HospitalBMSP', { enrollmentId: 'bob', ou: 'peer', attrs: { role: 'researcher' } });
    const m = msp.verifyMember('HospitalBMSP', bob.certificatePem);
    expect(m).toMatchObject({ mspId: 'HospitalBMSP', enrollmentId: 'bob', ou: 'peer', attrs: { role: 'researcher' } });
    expect(m.publicKey.equals(createPublicKey(bob.privateKey))).toBe(true);
    expect(code(() => msp.verifyMember('HospitalAMSP', bob.certificatePem))).toBe('NOT_A_MEMBER');
    expect(code(() => msp.verifyMember('InsurerMSP', bob.certificatePem))).toBe('UNKNOWN_MSP');
  });

  test('a look-alike CA with the same names is not the organisation\'s CA', async () => {
    const impostor = await Organisation.create('HospitalAMSP');
    const mallory = await impostor.issue({ enrollmentId: 'alice', attrs: { role: 'physician' } });
    expect(code(() => msp.verifyMember('HospitalAMSP', mallory.certificatePem))).toBe('NOT_A_MEMBER');
  });

  test('validity is enforced; the CA certificate is not an identity; garbage is malformed', async () => {
    const carol = await hospitalA.issue({ enrollmentId: 'carol', validityDays: 1, notBefore: new Date('2030-01-01T00:00:00Z') });
    expect(code(() => hospitalA.verifyMember(carol.certificatePem, new Date('2030-01-01T12:00:00Z')))).toBeUndefined();
    expect(code(() => hospitalA.verifyMember(carol.certificatePem, new Date('2029-12-31T23:00:00Z')))).toBe('EXPIRED');
    expect(code(() => hospitalA.verifyMember(carol.certificatePem, new Date('2030-01-03T00:00:00Z')))).toBe('EXPIRED');
    expect(code(() => hospitalA.verifyMember(hospitalA.caCertificatePem))).toBe('NOT_A_MEMBER');
    expect(code(() => hospitalA.verifyMember('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'))).toBe('MALFORMED_CERTIFICATE');
  });

  test('verifySignature: member and signature checked together', async () => {
    const dan = await msp.issue('HospitalAMSP', { enrollmentId: 'dan' });
    const other = hospitalA.identity('alice')!;
    const data = enc('proposal bytes');
    expect((await msp.verifySignature('HospitalAMSP', dan.certificatePem, data, dan.sign(data))).enrollmentId).toBe('dan');
    expect(await codeOf(msp.verifySignature('HospitalAMSP', dan.certificatePem, data, other.sign(data)))).toBe('BAD_SIGNATURE');
    expect(await codeOf(msp.verifySignature('HospitalAMSP', dan.certificatePem, enc('other bytes'), dan.sign(data)))).toBe('BAD_SIGNATURE');
    expect(await codeOf(msp.verifySignature('HospitalBMSP', dan.certificatePem, data, dan.sign(data)))).toBe('NOT_A_MEMBER');
  });
});

describe('ECDSA P-256 signatures with Fabric\'s low-S rule', () => {
  test('Node signs high-S about half the time; signP256 always low-S and verifiable', async () => {
    const id = await hospitalA.issue({ enrollmentId: 'signer' });
    const pub = createPublicKey(id.privateKey);
    let rawHigh = 0;
    for (let i = 0; i < 64; i++) {
      const data = enc(`message ${i}`);
      if (!isLowS(new Uint8Array(nodeSign('sha256', data, { key: id.privateKey, dsaEncoding: 'der' })))) rawHigh++;
      const sig = signP256(id.privateKey, data);
      expect(parseEcdsaSignature(sig).s <= P256_HALF_N).toBe(true);
      expect(await verifyP256(pub, data, sig)).toBe(true);
      expect(await verifyP256(id.certificatePem, data, sig)).toBe(true);
    }
    expect(rawHigh).toBeGreaterThan(0);
  });

  test('the high-S twin of a valid signature is mathematically valid but rejected', async () => {
    const id = hospitalA.identity('alice')!;
    const data = enc('envelope payload');
    const low = id.sign(data);
    const { r, s } = parseEcdsaSignature(low);
    const high = encodeEcdsaSignature(r, P256_N - s);
    expect(nodeVerify('sha256', data, { key: createPublicKey(id.privateKey), dsaEncoding: 'der' }, high)).toBe(true);
    expect(await verifyP256(id.certificatePem, data, high)).toBe(false);
    expect(await codeOf(checkP256Signature(id.certificatePem, data, high))).toBe('HIGH_S');
    expect(Buffer.from(toLowS(high)).equals(Buffer.from(low))).toBe(true);
  });

  test('non-strict DER is rejected as malformed', async () => {
    const id = hospitalA.identity('alice')!;
    const data = enc('x');
    const sig = id.sign(data);
    const { r, s } = parseEcdsaSignature(sig);
    const hexOf = (v: bigint) => v.toString(16).padStart(64, '0');
    const cases = [
      Uint8Array.from([...sig, 0x00]), // trailing byte
      sig.subarray(0, sig.length - 1), // cut short
      Buffer.from(`3046022100${hexOf(r).slice(0, 64)}0221${'00'}${hexOf(s)}`, 'hex'), // bogus lengths
      encodeEcdsaSignature(0n, s),
      encodeEcdsaSignature(r, P256_N),
      new Uint8Array(0),
    ];
    // Non-minimal INTEGER: r with a redundant leading zero.
    const rBytes = Buffer.from(hexOf(r), 'hex');
    if (!(rBytes[0]! & 0x80)) {
      const sEnc = Buffer.from(encodeEcdsaSignature(1n, s)).subarray(5); // 02 len s…
      const body = Buffer.concat([Buffer.from([0x02, 33, 0x00]), rBytes, sEnc]);
      cases.push(Buffer.concat([Buffer.from([0x30, body.length]), body]));
    }
    for (const bad of cases) {
      expect(await codeOf(checkP256Signature(id.certificatePem, data, new Uint8Array(bad)))).toBe('MALFORMED_SIGNATURE');
      expect(await verifyP256(id.certificatePem, data, new Uint8Array(bad))).toBe(false);
    }
  });
});

describe('persistence', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pie-msp-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('CA material and identities reload identically; private keys are 0600', async () => {
    const first = await Msp.open(dir);
    await first.createOrganisation('HospitalAMSP');
    await first.createOrganisation('InsurerMSP');
    const alice = await first.issue('HospitalAMSP', { enrollmentId: 'alice', attrs: { role: 'physician' } });
    const peer = await first.issue('HospitalAMSP', { enrollmentId: 'peer0', ou: 'peer' });

    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    expect(await mode(join(dir, 'HospitalAMSP', 'ca-key.pem'))).toBe(0o600);
    expect(await mode(join(dir, 'HospitalAMSP', 'users', 'alice', 'key.pem'))).toBe(0o600);
    expect(await readFile(join(dir, 'HospitalAMSP', 'users', 'alice', 'cert.pem'), 'utf8')).toBe(alice.certificatePem);

    const again = await Msp.open(dir);
    expect(again.organisations().map((o) => o.mspId)).toEqual(['HospitalAMSP', 'InsurerMSP']);
    const org = again.organisation('HospitalAMSP');
    expect(org.caCertificatePem).toBe(first.organisation('HospitalAMSP').caCertificatePem);
    const alice2 = org.identity('alice')!;
    expect(alice2.certificatePem).toBe(alice.certificatePem);
    expect(alice2.privateKeyPem).toBe(alice.privateKeyPem);
    expect(org.identity('peer0')!.ou).toBe(peer.ou);
    // The reloaded CA keeps issuing members, and reloaded keys still sign for their certificates.
    const eve = await again.issue('HospitalAMSP', { enrollmentId: 'eve' });
    expect(first.verifyMember('HospitalAMSP', eve.certificatePem).enrollmentId).toBe('eve');
    const data = enc('after restart');
    expect((await again.verifySignature('HospitalAMSP', alice2.certificatePem, data, alice2.sign(data))).attrs.role).toBe('physician');
    expect((await Msp.open(dir)).organisation('HospitalAMSP').identities().map((i) => i.enrollmentId).sort()).toEqual(['alice', 'eve', 'peer0']);
  });

  test('a CA key that does not match its certificate is refused on load', async () => {
    const m = await Msp.open(dir);
    await m.createOrganisation('HospitalAMSP');
    const other = await Organisation.create('OtherMSP');
    await other.save(join(dir, 'scratch'));
    const { copyFile } = await import('node:fs/promises');
    await copyFile(join(dir, 'scratch', 'ca-key.pem'), join(dir, 'HospitalAMSP', 'ca-key.pem'));
    await rm(join(dir, 'scratch'), { recursive: true });
    await expect(Msp.open(dir)).rejects.toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(/ca-key\.pem is not the key/) });
  });
});
