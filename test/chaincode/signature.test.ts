// Canonical record bytes and author signatures: node:crypto verification of PIE Umbral Signer signatures.
import {
  RECORD_SIGNING_DOMAIN,
  assertAuthorSignature,
  canonicalJson,
  canonicalRecordBytes,
  parseEmrRecord,
  verifyAuthorSignature,
  verifySignature,
} from '../../chaincode/src/domain/index.js';
import { SecretKey, Signer } from '../../src/crypto/umbral/index.js';
import { authorSk, expectCode, expectCodeAsync, hex, otherSk, pubHex, record, sign, signedRecordInput, unsignedRecord } from './domain-fixtures.js';

const N = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');

/** The same object with every object's keys in reverse insertion order. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
  return v;
}

describe('canonicalJson', () => {
  it('sorts keys, drops undefined, no whitespace', async () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, d: { z: 0, y: -0 } })).toBe('{"a":[true,null,"x"],"b":1,"d":{"y":0,"z":0}}');
    expect(canonicalJson({ é: 'ü\n"', e: '' })).toBe('{"e":"","é":"ü\\n\\""}');
  });
  it('refuses what has no single encoding', async () => {
    expectCode(() => canonicalJson({ a: 1.5 }), 'INVALID_ARGUMENT', '$.a');
    expectCode(() => canonicalJson({ a: [Number.NaN] }), 'INVALID_ARGUMENT', '$.a[0]');
    expectCode(() => canonicalJson({ a: new Date(0) }), 'INVALID_ARGUMENT', '$.a');
    expectCode(() => canonicalJson({ a: 1n }), 'INVALID_ARGUMENT', '$.a');
  });
  it('record bytes do not depend on key order, and exclude signature and timestamp', async () => {
    const r = unsignedRecord();
    const bytes = canonicalRecordBytes(r as never);
    expect(canonicalRecordBytes(reverseKeys(r) as never).equals(bytes)).toBe(true);
    expect(canonicalRecordBytes({ ...r, timestamp: '2030-01-01T00:00:00.000Z', authorSignature: 'ff' } as never).equals(bytes)).toBe(true);
    const text = bytes.toString('utf8');
    expect(text.startsWith(RECORD_SIGNING_DOMAIN)).toBe(true);
    expect(text).not.toMatch(/timestamp|authorSignature|\s"|": /);
    expect(JSON.parse(text.slice(RECORD_SIGNING_DOMAIN.length))).toEqual(Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'timestamp')));
  });
});

describe('verifyAuthorSignature', () => {
  const key = pubHex(authorSk);

  it('accepts a signature made by PIE’s Umbral Signer over the canonical bytes', async () => {
    const rec = record();
    expect(await verifyAuthorSignature(rec, key)).toBe(true);
    await expect(assertAuthorSignature(rec, key)).resolves.toBeUndefined();
    // the same check Umbral itself does
    const sig = new Signer(authorSk).sign(canonicalRecordBytes(rec));
    expect(hex(sig.toBEBytes())).toBe(rec.authorSignature);
    expect(sig.verify(authorSk.publicKey(), canonicalRecordBytes(rec))).toBe(true);
  });

  it('accepts many keys and messages (both point parities)', async () => {
    const parities = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const sk = SecretKey.random();
      const msg = new TextEncoder().encode(`message ${i}`);
      const sigHex = hex(new Signer(sk).sign(msg).toBEBytes());
      parities.add(pubHex(sk).slice(0, 2));
      expect(await verifySignature(msg, sigHex, pubHex(sk))).toBe(true);
    }
    expect(parities.size).toBe(2);
  });

  it('still verifies after a timestamp set by the contract and a key-order shuffle', async () => {
    const rec = parseEmrRecord(reverseKeys({ ...signedRecordInput(), timestamp: '2031-02-03T04:05:06.789Z' }));
    expect(await verifyAuthorSignature(rec, key)).toBe(true);
  });

  it.each<[string, (r: Record<string, unknown>) => void]>([
    ['patientId', (r) => (r.patientId = '0'.repeat(31) + 'f')],
    ['summary.year', (r) => ((r.summary as Record<string, unknown>).year = 2023)],
    ['summary.codes order', (r) => (r.summary as { codes: string[] }).codes.reverse()],
    ['metadata.cid', (r) => ((r.metadata as Record<string, unknown>).cid = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzda')],
    ['policy.emergencyAllowed', (r) => ((r.policy as Record<string, unknown>).emergencyAllowed = false)],
    ['version', (r) => Object.assign(r, { version: 2, previousId: 'emr-0' })],
  ])('rejects a record tampered in %s', async (_f, tamper) => {
    const input = structuredClone(signedRecordInput());
    tamper(input);
    const rec = parseEmrRecord(input);
    expect(await verifyAuthorSignature(rec, key)).toBe(false);
    await expectCodeAsync(() => assertAuthorSignature(rec, key), 'BAD_SIGNATURE', 'record.authorSignature');
  });

  it('rejects the wrong key', async () => {
    expect(await verifyAuthorSignature(record(), pubHex(otherSk))).toBe(false);
    const byOther = signedRecordInput();
    byOther.authorSignature = sign(unsignedRecord(), otherSk);
    expect(await verifyAuthorSignature(parseEmrRecord(byOther), key)).toBe(false);
  });

  it('rejects bad signature lengths, encodings and values (false, never a throw)', async () => {
    const rec = record();
    const msg = canonicalRecordBytes(rec);
    const s = rec.authorSignature;
    for (const bad of ['', s.slice(2), `${s}00`, s.toUpperCase(), `${s.slice(0, -1)}g`, '00'.repeat(64), 'ff'.repeat(64)]) {
      expect(await verifySignature(msg, bad, key)).toBe(false);
    }
    expect(await verifySignature(msg, 42 as never, key)).toBe(false);
  });

  it('rejects the high-S twin of a valid signature', async () => {
    const rec = record();
    const msg = canonicalRecordBytes(rec);
    const r = rec.authorSignature.slice(0, 64);
    const sHigh = N - BigInt(`0x${rec.authorSignature.slice(64)}`);
    expect(await verifySignature(msg, r + sHigh.toString(16).padStart(64, '0'), key)).toBe(false);
  });

  it('rejects with INVALID_ARGUMENT for a malformed or off-curve key', async () => {
    const rec = record();
    for (const bad of ['', key.slice(2), `04${key.slice(2)}`, `${key}00`, key.toUpperCase(), `02${'ff'.repeat(32)}`]) {
      await expectCodeAsync(() => verifyAuthorSignature(rec, bad), 'INVALID_ARGUMENT', 'signingKey');
    }
  });
});
