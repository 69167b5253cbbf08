/**
 * The dev network's built-in CA and MSP.
 *
 * Each organisation (MSP id such as `HospitalAMSP`) has an ECDSA P-256 CA key and a self-signed CA certificate.
 * The CA issues identity certificates the way Fabric CA does:
 *   subject  C=US, O=<org name>, OU=<client|peer|admin|orderer>, CN=<enrollment id>   (NodeOU classification)
 *   issuer   C=US, O=<org name>, CN=ca.<org name>
 *   extension 1.2.3.4.5.6.7.8.1 (non-critical) = raw JSON bytes {"attrs":{"hf.EnrollmentID":…,"hf.Type":…,"role":…}}
 * so fabric-shim's ClientIdentity reports `x509::/C=US/O=…/OU=client/CN=alice::/C=US/O=…/CN=ca.…` and
 * `getAttributeValue('role')`.
 *
 * Signatures follow Fabric's rules: ECDSA P-256 over SHA-256, DER, S normalised to the lower half of the order when
 * signing, and a high S rejected when verifying. Certificates are issued with low-S signatures too.
 *
 * Persistence (Msp.open(dataDir)):  <dataDir>/<mspId>/org.json, ca-cert.pem, ca-key.pem (0600),
 *                                   <dataDir>/<mspId>/users/<enrollmentId>/cert.pem, key.pem (0600)
 *
 * @peculiar/x509 needs a Reflect metadata polyfill, hence the first import.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { type KeyObject, type webcrypto as wc, X509Certificate, createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CodedError } from '../../errors.js';
import { derInteger, derSequence } from './blocks.js';

export type MspErrorCode =
  /** A caller-supplied argument is invalid (MSP id or enrollment id syntax, validity, attributes, …). */
  | 'INVALID_ARGUMENT'
  /** No organisation with that MSP id is known. */
  | 'UNKNOWN_MSP'
  /** The organisation or identity already exists. */
  | 'EXISTS'
  /** The bytes are not a PEM X.509 certificate. */
  | 'MALFORMED_CERTIFICATE'
  /** The certificate is not an identity of that MSP: not issued by its CA, a CA certificate, or not a P-256 key. */
  | 'NOT_A_MEMBER'
  /** The certificate is outside its validity period at the time of the check. */
  | 'EXPIRED'
  /** The signature is not a strict DER ECDSA signature with 0 < r, s < n. */
  | 'MALFORMED_SIGNATURE'
  /** The signature's S is in the upper half of the order (Fabric rejects these). */
  | 'HIGH_S'
  /** The signature does not verify under the certificate's key. */
  | 'BAD_SIGNATURE'
  /** Stored CA / identity files are missing or unreadable as expected. */
  | 'MALFORMED'
  /** Reading or writing files failed (`cause` holds the underlying error). */
  | 'IO';

export class MspError extends CodedError<MspErrorCode> {
  override readonly name = 'MspError';
}

const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// ---------------------------------------------------------------------------------------------------------------
// ECDSA P-256 with Fabric's low-S rule
// ---------------------------------------------------------------------------------------------------------------

/** The order of the P-256 group. */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const P256_HALF_N = P256_N >> 1n;

const bytesToBigint = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));
const bigintTo32 = (v: bigint): Uint8Array => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));

/**
 * Strictly parses a DER ECDSA signature SEQUENCE{INTEGER r, INTEGER s} (as Go's encoding/asn1 does: minimal
 * lengths and integers, no trailing bytes) and checks 0 < r, s < n.
 */
export function parseEcdsaSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const fail = (why: string): never => {
    throw new MspError('MALFORMED_SIGNATURE', `ECDSA signature is not strict DER: ${why}`);
  };
  if (der.length < 8 || der.length > 72) fail(`length ${der.length}`);
  if (der[0] !== 0x30) fail('not a SEQUENCE');
  if (der[1]! >= 0x80 || der[1] !== der.length - 2) fail('bad SEQUENCE length');
  let pos = 2;
  const int = (name: string): bigint => {
    if (der[pos] !== 0x02) fail(`${name} is not an INTEGER`);
    const len = der[pos + 1]!;
    if (len === 0 || len >= 0x80 || pos + 2 + len > der.length) fail(`bad ${name} length`);
    const body = der.subarray(pos + 2, pos + 2 + len);
    if (body[0]! & 0x80) fail(`${name} is negative`);
    if (len > 1 && body[0] === 0 && !(body[1]! & 0x80)) fail(`${name} is not minimally encoded`);
    pos += 2 + len;
    const v = bytesToBigint(body);
    if (v <= 0n || v >= P256_N) fail(`${name} is out of range`);
    return v;
  };
  const r = int('r');
  const s = int('s');
  if (pos !== der.length) fail('trailing bytes');
  return { r, s };
}

export function encodeEcdsaSignature(r: bigint, s: bigint): Uint8Array {
  return derSequence(derInteger(r), derInteger(s));
}

export function isLowS(der: Uint8Array): boolean {
  return parseEcdsaSignature(der).s <= P256_HALF_N;
}

/** Rewrites S as n − S when S > n/2 (the signature stays valid); returns the input unchanged otherwise. */
export function toLowS(der: Uint8Array): Uint8Array {
  const { r, s } = parseEcdsaSignature(der);
  return s > P256_HALF_N ? encodeEcdsaSignature(r, P256_N - s) : der;
}

export type PrivateKeyInput = KeyObject | string;
export type PublicKeyInput = KeyObject | string;

/** ECDSA P-256 / SHA-256 signature of `data`, DER, low-S (what Fabric requires of every signer). */
export function signP256(privateKey: PrivateKeyInput, data: Uint8Array): Uint8Array {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new MspError('INVALID_ARGUMENT', 'signing key is not an ECDSA P-256 private key');
  }
  return toLowS(new Uint8Array(nodeSign('sha256', data, { key, dsaEncoding: 'der' })));
}

/**
 * Verifies a DER ECDSA P-256 / SHA-256 signature the way a Fabric peer does; rejects with MALFORMED_SIGNATURE, HIGH_S
 * or BAD_SIGNATURE. `publicKey` may be a KeyObject, a PEM public key or a PEM certificate.
 *
 * The curve arithmetic runs on libuv's thread pool (node:crypto's callback form), off the event loop: a peer verifies
 * several signatures per transaction, and the pool lets them use the other cores, as Fabric's parallel validation does.
 */
export async function checkP256Signature(publicKey: PublicKeyInput, data: Uint8Array, signature: Uint8Array): Promise<void> {
  const { s } = parseEcdsaSignature(signature);
  if (s > P256_HALF_N) throw new MspError('HIGH_S', 'ECDSA signature has a high S value; Fabric accepts only low-S signatures');
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const ok = await new Promise<boolean>((resolve, reject) =>
    nodeVerify('sha256', data, { key, dsaEncoding: 'der' }, signature, (e, valid) => (e ? reject(e) : resolve(valid))),
  );
  if (!ok) throw new MspError('BAD_SIGNATURE', 'ECDSA signature does not verify under the signer\'s public key');
}

/** Boolean form of checkP256Signature: false for malformed, high-S or wrong signatures. */
export async function verifyP256(publicKey: PublicKeyInput, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    await checkP256Signature(publicKey, data, signature);
    return true;
  } catch (e) {
    if (e instanceof MspError) return false;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------------------------

/** Fabric CA's attribute extension. */
export const FABRIC_ATTRS_OID = '1.2.3.4.5.6.7.8.1';
export type NodeOU = 'client' | 'peer' | 'admin' | 'orderer';
const NODE_OUS: readonly NodeOU[] = ['client', 'peer', 'admin', 'orderer'];

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
const MSP_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENROLLMENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const DN_VALUE_RE = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;
const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 5 * 60_000;

const webcrypto = globalThis.crypto;
x509.cryptoProvider.set(webcrypto);

/** WebCrypto whose ECDSA signatures (raw r‖s) have S normalised, so issued certificates are low-S like Fabric CA's. */
const lowSCrypto = {
  getRandomValues: <T extends ArrayBufferView | null>(a: T): T => webcrypto.getRandomValues(a as never) as T,
  randomUUID: () => webcrypto.randomUUID(),
  subtle: new Proxy(webcrypto.subtle, {
    get(target, prop) {
      if (prop === 'sign') {
        return async (alg: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> => {
          const raw = new Uint8Array(await target.sign(alg as never, key as never, data as never));
          if (raw.length !== 64) return raw.buffer;
          const s = bytesToBigint(raw.subarray(32));
          if (s > P256_HALF_N) raw.set(bigintTo32(P256_N - s), 32);
          return raw.buffer;
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }),
};

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive and exactly 16 bytes
  return b.toString('hex');
}

function pkcs8Pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`;
}

async function importSigningKey(pem: string): Promise<wc.CryptoKey> {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign']);
}

function parseCert(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new MspError('MALFORMED_CERTIFICATE', `${what} is not a PEM X.509 certificate: ${errMessage(e)}`, { cause: e });
  }
}

/** Subject fields of a node X509Certificate ("C=US\nO=…\nOU=client\nCN=alice"). */
function subjectField(cert: X509Certificate, key: string): string | undefined {
  for (const line of cert.subject.split('\n')) {
    const i = line.indexOf('=');
    if (line.slice(0, i) === key) return line.slice(i + 1);
  }
  return undefined;
}

/** The Fabric CA attributes of a certificate (empty when it has no 1.2.3.4.5.6.7.8.1 extension). */
export function certificateAttributes(certPem: string): Record<string, string> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (e) {
    throw new MspError('MALFORMED_CERTIFICATE', `not a PEM X.509 certificate: ${errMessage(e)}`, { cause: e });
  }
  const ext = cert.getExtension(FABRIC_ATTRS_OID);
  if (!ext) return {};
  try {
    const parsed = JSON.parse(new TextDecoder().decode(ext.value)) as { attrs?: Record<string, string> };
    return { ...(parsed.attrs ?? {}) };
  } catch (e) {
    throw new MspError('MALFORMED_CERTIFICATE', `attribute extension ${FABRIC_ATTRS_OID} is not JSON`, { cause: e });
  }
}

/** What a successful membership check tells about the certificate's holder. */
export interface Member {
  mspId: string;
  enrollmentId: string;
  ou: NodeOU | undefined;
  attrs: Record<string, string>;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
}

export interface IssueOptions {
  enrollmentId: string;
  /** NodeOU: client (default), peer, admin or orderer. */
  ou?: NodeOU;
  /** Extra Fabric CA attributes, e.g. { role: 'physician' }. Names starting with "hf." are reserved. */
  attrs?: Record<string, string>;
  /** Validity in days from `notBefore` (default 365, as Fabric CA). */
  validityDays?: number;
  /** Start of validity (default now − 5 min for clock skew). */
  notBefore?: Date;
}

/** An issued identity with its key: signs with low-S. */
export class SigningIdentity {
  readonly privateKey: KeyObject;
  constructor(
    readonly mspId: string,
    readonly enrollmentId: string,
    readonly ou: NodeOU,
    readonly certificatePem: string,
    readonly privateKeyPem: string,
  ) {
    this.privateKey = createPrivateKey(privateKeyPem);
  }
  /** The certificate bytes as carried in msp.SerializedIdentity.id_bytes. */
  get idBytes(): Uint8Array {
    return new TextEncoder().encode(this.certificatePem);
  }
  sign(data: Uint8Array): Uint8Array {
    return signP256(this.privateKey, data);
  }
}

export interface OrganisationOptions {
  /** Organisation name used in the DNs (default: the MSP id without a trailing "MSP"). */
  name?: string;
  /** CA validity in days (default 15 years, as Fabric CA). */
  validityDays?: number;
  notBefore?: Date;
}

/** One organisation: its CA and the identities it has issued. */
export class Organisation {
  private readonly issued = new Map<string, SigningIdentity>();
  private readonly caCert: X509Certificate;
  private readonly memberCache = new Map<string, Omit<Member, 'mspId'>>();

  private constructor(
    readonly mspId: string,
    readonly name: string,
    readonly caCertificatePem: string,
    private readonly caKeyPem: string,
    private readonly caSigningKey: wc.CryptoKey,
  ) {
    this.caCert = parseCert(caCertificatePem, `CA certificate of ${mspId}`);
  }

  static async create(mspId: string, opts: OrganisationOptions = {}): Promise<Organisation> {
    if (!MSP_ID_RE.test(mspId)) throw new MspError('INVALID_ARGUMENT', `MSP id "${mspId}" must match ${MSP_ID_RE}`);
    const name = opts.name ?? (mspId.replace(/MSP$/, '') || mspId);
    if (!DN_VALUE_RE.test(name)) throw new MspError('INVALID_ARGUMENT', `organisation name "${name}" must match ${DN_VALUE_RE}`);
    const days = opts.validityDays ?? 15 * 365;
    if (!(days > 0)) throw new MspError('INVALID_ARGUMENT', `CA validity of ${days} days is not positive`);
    const notBefore = opts.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
    const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as wc.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: randomSerial(),
        name: `C=US, O=${name}, CN=ca.${name}`,
        notBefore,
        notAfter: new Date(notBefore.getTime() + days * DAY_MS),
        keys,
        signingAlgorithm: SIGN_ALG,
        extensions: [
          new x509.BasicConstraintsExtension(true, 1, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
        ],
      },
      lowSCrypto as never,
    );
    const keyPem = pkcs8Pem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    return new Organisation(mspId, name, cert.toString('pem') + '\n', keyPem, await importSigningKey(keyPem));
  }

  /** Issues (and remembers) an identity certificate and key. */
  async issue(opts: IssueOptions): Promise<SigningIdentity> {
    const { enrollmentId } = opts;
    const ou = opts.ou ?? 'client';
    if (!ENROLLMENT_ID_RE.test(enrollmentId)) throw new MspError('INVALID_ARGUMENT', `enrollment id "${enrollmentId}" must match ${ENROLLMENT_ID_RE}`);
    if (!NODE_OUS.includes(ou)) throw new MspError('INVALID_ARGUMENT', `OU "${ou}" is not one of ${NODE_OUS.join(', ')}`);
    if (this.issued.has(enrollmentId)) throw new MspError('EXISTS', `${this.mspId} has already issued an identity for "${enrollmentId}"`);
    const extra = opts.attrs ?? {};
    for (const [k, v] of Object.entries(extra)) {
      if (k.startsWith('hf.')) throw new MspError('INVALID_ARGUMENT', `attribute "${k}" is reserved for the CA`);
      if (typeof v !== 'string') throw new MspError('INVALID_ARGUMENT', `attribute "${k}" must be a string`);
    }
    const days = opts.validityDays ?? 365;
    if (!(days > 0)) throw new MspError('INVALID_ARGUMENT', `validity of ${days} days is not positive`);
    const notBefore = opts.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
    const attrs = { 'hf.EnrollmentID': enrollmentId, 'hf.Type': ou, 'hf.Affiliation': '', ...extra };

    const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as wc.CryptoKeyPair;
    const caX509 = new x509.X509Certificate(this.caCertificatePem);
    const caPublic = await caX509.publicKey.export(webcrypto);
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: `C=US, O=${this.name}, OU=${ou}, CN=${enrollmentId}`,
        issuer: caX509.subject,
        notBefore,
        notAfter: new Date(notBefore.getTime() + days * DAY_MS),
        publicKey: keys.publicKey,
        signingKey: this.caSigningKey,
        signingAlgorithm: SIGN_ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
          await x509.AuthorityKeyIdentifierExtension.create(caPublic, false, webcrypto),
          new x509.Extension(FABRIC_ATTRS_OID, false, new TextEncoder().encode(JSON.stringify({ attrs }))),
        ],
      },
      lowSCrypto as never,
    );
    const identity = new SigningIdentity(
      this.mspId,
      enrollmentId,
      ou,
      cert.toString('pem') + '\n',
      pkcs8Pem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    );
    this.issued.set(enrollmentId, identity);
    return identity;
  }

  identity(enrollmentId: string): SigningIdentity | undefined {
    return this.issued.get(enrollmentId);
  }

  identities(): SigningIdentity[] {
    return [...this.issued.values()];
  }

  /**
   * Checks that `certPem` is an identity of this organisation at time `at`: signed by its CA, not a CA itself, a
   * P-256 key, within validity. Returns what the certificate says about its holder.
   */
  verifyMember(certPem: string, at: Date = new Date()): Member {
    let info = this.memberCache.get(certPem);
    if (!info) {
      const cert = parseCert(certPem, 'identity certificate');
      if (!cert.checkIssued(this.caCert) || !cert.verify(this.caCert.publicKey)) {
        throw new MspError('NOT_A_MEMBER', `certificate "${cert.subject.replace(/\n/g, ', ')}" was not issued by the CA of ${this.mspId}`);
      }
      if (cert.ca) throw new MspError('NOT_A_MEMBER', `a CA certificate cannot act as an identity of ${this.mspId}`);
      const pk = cert.publicKey;
      if (pk.asymmetricKeyType !== 'ec' || pk.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new MspError('NOT_A_MEMBER', `identity certificates of ${this.mspId} must carry an ECDSA P-256 key`);
      }
      const ouField = subjectField(cert, 'OU');
      info = {
        enrollmentId: subjectField(cert, 'CN') ?? '',
        ou: NODE_OUS.find((o) => o === ouField),
        attrs: certificateAttributes(certPem),
        publicKey: pk,
        notBefore: new Date(cert.validFrom),
        notAfter: new Date(cert.validTo),
      };
      if (this.memberCache.size >= 4096) this.memberCache.clear();
      this.memberCache.set(certPem, info);
    }
    if (at < info.notBefore || at > info.notAfter) {
      throw new MspError(
        'EXPIRED',
        `certificate of "${info.enrollmentId}" (${this.mspId}) is valid ${info.notBefore.toISOString()} – ${info.notAfter.toISOString()}, not at ${at.toISOString()}`,
      );
    }
    return { mspId: this.mspId, ...info, attrs: { ...info.attrs } };
  }

  /** Writes the CA material and every issued identity under `dir` (the organisation's own directory). */
  async save(dir: string): Promise<void> {
    await writeFileDurable(join(dir, 'org.json'), JSON.stringify({ mspId: this.mspId, name: this.name }, null, 2) + '\n', 0o644);
    await writeFileDurable(join(dir, 'ca-cert.pem'), this.caCertificatePem, 0o644);
    await writeFileDurable(join(dir, 'ca-key.pem'), this.caKeyPem, 0o600);
    for (const id of this.issued.values()) await saveIdentity(dir, id);
  }

  /** Reads an organisation written by save(). */
  static async load(dir: string): Promise<Organisation> {
    const meta = JSON.parse(await readText(join(dir, 'org.json'))) as { mspId?: unknown; name?: unknown };
    if (typeof meta.mspId !== 'string' || !MSP_ID_RE.test(meta.mspId) || typeof meta.name !== 'string') {
      throw new MspError('MALFORMED', `${join(dir, 'org.json')} does not name a valid MSP id and organisation`);
    }
    const caCertPem = await readText(join(dir, 'ca-cert.pem'));
    const caKeyPem = await readText(join(dir, 'ca-key.pem'));
    const caCert = parseCert(caCertPem, `${join(dir, 'ca-cert.pem')}`);
    if (!createPublicKey(caKeyPem).equals(caCert.publicKey)) {
      throw new MspError('MALFORMED', `${join(dir, 'ca-key.pem')} is not the key of ${join(dir, 'ca-cert.pem')}`);
    }
    const org = new Organisation(meta.mspId, meta.name, caCertPem, caKeyPem, await importSigningKey(caKeyPem));
    let users: string[] = [];
    try {
      users = (await fsp.readdir(join(dir, 'users'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new MspError('IO', `cannot list ${join(dir, 'users')}: ${errMessage(e)}`, { cause: e });
    }
    for (const enrollmentId of users.sort()) {
      const udir = join(dir, 'users', enrollmentId);
      const certPem = await readText(join(udir, 'cert.pem'));
      const keyPem = await readText(join(udir, 'key.pem'));
      // Expiry is checked when the identity is used, not when it is loaded.
      const member = org.verifyMember(certPem, new Date(parseCert(certPem, `${udir}/cert.pem`).validFrom));
      if (member.enrollmentId !== enrollmentId || !member.ou) throw new MspError('MALFORMED', `${udir}/cert.pem is not the certificate of "${enrollmentId}"`);
      if (!createPublicKey(keyPem).equals(member.publicKey)) throw new MspError('MALFORMED', `${udir}/key.pem is not the key of ${udir}/cert.pem`);
      org.issued.set(enrollmentId, new SigningIdentity(org.mspId, enrollmentId, member.ou, certPem, keyPem));
    }
    return org;
  }
}

async function saveIdentity(orgDir: string, id: SigningIdentity): Promise<void> {
  const udir = join(orgDir, 'users', id.enrollmentId);
  await writeFileDurable(join(udir, 'cert.pem'), id.certificatePem, 0o644);
  await writeFileDurable(join(udir, 'key.pem'), id.privateKeyPem, 0o600);
}

async function readText(path: string): Promise<string> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'MALFORMED' : 'IO';
    throw new MspError(code, `cannot read ${path}: ${errMessage(e)}`, { cause: e });
  }
}

/** Writes a file via a temp file + fsync + rename, created with `mode` so a key is never readable by others. */
async function writeFileDurable(path: string, text: string, mode: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let h: fsp.FileHandle | undefined;
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    h = await fsp.open(tmp, 'wx', mode);
    await h.writeFile(text);
    await h.sync();
    await h.close();
    h = undefined;
    await fsp.rename(tmp, path);
  } catch (e) {
    await h?.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw new MspError('IO', `cannot write ${path}: ${errMessage(e)}`, { cause: e });
  }
}

/** The organisations of the dev network; optionally persisted under a data directory. */
export class Msp {
  private readonly orgs = new Map<string, Organisation>();

  private constructor(readonly dataDir: string | undefined) {}

  /** An in-memory MSP (nothing written to disk). */
  static inMemory(): Msp {
    return new Msp(undefined);
  }

  /** Opens the MSP persisted under `dataDir` (created when missing), loading every organisation found there. */
  static async open(dataDir: string): Promise<Msp> {
    const msp = new Msp(dataDir);
    let entries: string[] = [];
    try {
      await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
      entries = (await fsp.readdir(dataDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      throw new MspError('IO', `cannot open MSP directory ${dataDir}: ${errMessage(e)}`, { cause: e });
    }
    for (const name of entries.sort()) {
      const org = await Organisation.load(join(dataDir, name));
      if (org.mspId !== name) throw new MspError('MALFORMED', `${join(dataDir, name)} holds MSP ${org.mspId}`);
      msp.orgs.set(org.mspId, org);
    }
    return msp;
  }

  /** Creates an organisation and its CA (persisted when the MSP has a data directory). */
  async createOrganisation(mspId: string, opts: OrganisationOptions = {}): Promise<Organisation> {
    if (this.orgs.has(mspId)) throw new MspError('EXISTS', `organisation ${mspId} already exists`);
    const org = await Organisation.create(mspId, opts);
    if (this.dataDir !== undefined) await org.save(join(this.dataDir, mspId));
    this.orgs.set(mspId, org);
    return org;
  }

  /** Issues an identity from `mspId`'s CA (persisted when the MSP has a data directory). */
  async issue(mspId: string, opts: IssueOptions): Promise<SigningIdentity> {
    const org = this.organisation(mspId);
    const id = await org.issue(opts);
    if (this.dataDir !== undefined) await saveIdentity(join(this.dataDir, mspId), id);
    return id;
  }

  has(mspId: string): boolean {
    return this.orgs.has(mspId);
  }

  organisation(mspId: string): Organisation {
    const org = this.orgs.get(mspId);
    if (!org) throw new MspError('UNKNOWN_MSP', `unknown MSP "${mspId}"; known: ${[...this.orgs.keys()].join(', ') || 'none'}`);
    return org;
  }

  organisations(): Organisation[] {
    return [...this.orgs.values()];
  }

  /** MSP membership: the certificate is an identity issued by `mspId`'s CA and valid at `at`. */
  verifyMember(mspId: string, certPem: string, at?: Date): Member {
    return this.organisation(mspId).verifyMember(certPem, at);
  }

  /**
   * What a peer checks on every proposal / submit / commit-status request: the creator is a member of its MSP and
   * signed `data` (low-S). Rejects with UNKNOWN_MSP, MALFORMED_CERTIFICATE, NOT_A_MEMBER, EXPIRED, MALFORMED_SIGNATURE,
   * HIGH_S or BAD_SIGNATURE.
   */
  async verifySignature(mspId: string, certPem: string, data: Uint8Array, signature: Uint8Array, at?: Date): Promise<Member> {
    const member = this.verifyMember(mspId, certPem, at);
    await checkP256Signature(member.publicKey, data, signature);
    return member;
  }
}
