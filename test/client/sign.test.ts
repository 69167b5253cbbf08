// The client's browser-safe action signing: its bytes are the contract's actionSigningBytes, the contract (through
// real fabric-shim) accepts what it signs and refuses it once changed, and the SDK's module graph has no static
// Node built-in import.
import { promises as fsp } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { actionSigningBytes } from '../../chaincode/src/domain/action.js';
import { verifySignature } from '../../chaincode/src/domain/signature.js';
import { actionBytes, signActionWith } from '../../src/client/sign.js';
import { SecretKey } from '../../src/crypto/umbral/index.js';
import { ActionPayloads } from '../../src/exchange/action-payloads.js';
import { createRecord, DEFAULT_POLICY_JSON, expectTxError, pubHex, register, world } from '../chaincode/contract-helpers.js';
import { HARNESS_CHANNEL } from '../chaincode/harness.js';

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('signActionWith', () => {
  const key = SecretKey.random();
  const actor = '0123456789abcdef0123456789abcdef';
  const payloads: Record<string, unknown>[] = [
    ActionPayloads.requestAccess({ emrId: 'emr-1', purpose: 'second opinion — “cardiology” ✓ \u2028' }),
    ActionPayloads.approveAccessRequest({
      requestId: 'req-1',
      validFrom: '2025-01-01T00:00:00.000Z',
      validUntil: '2025-01-31T00:00:00.000Z',
      threshold: 2,
      kfrags: [
        { proxyId: 'Hospital1MSP.proxy.1', ciphertext: 'AAAA' },
        { proxyId: 'Hospital1MSP.proxy.0', ciphertext: 'BBBB' },
      ],
    }),
    ActionPayloads.breakGlass({ emrId: 'emr-2', justification: 'unconscious in the ER', durationMinutes: 30 }),
    { z: 1, a: { y: [true, null, 'x'], b: -0 }, m: undefined },
  ];

  it.each(payloads.map((p, i) => [i, p]))('signs exactly actionSigningBytes (payload %i)', async (_i, payload) => {
    const issuedAt = new Date('2025-03-04T05:06:07.089Z');
    const signed = signActionWith(key, actor, 'request-access', payload as Record<string, unknown>, 'pie', issuedAt);
    expect(signed).toMatchObject({ type: 'request-access', actorId: actor, issuedAt: '2025-03-04T05:06:07.089Z', payload });
    expect(signed.nonce).toMatch(/^[0-9a-f]{32}$/);
    const contractBytes = actionSigningBytes(signed, 'pie');
    expect(hexOf(actionBytes(signed, 'pie'))).toBe(contractBytes.toString('hex'));
    expect(await verifySignature(contractBytes, signed.signature, pubHex(key))).toBe(true);
    // the channel is signed: the same action on another channel does not verify
    expect(await verifySignature(actionSigningBytes(signed, 'other'), signed.signature, pubHex(key))).toBe(false);
  });

  it('draws a fresh nonce for every action', () => {
    const nonces = new Set(Array.from({ length: 20 }, () => signActionWith(key, actor, 'revoke-grant', { grantId: 'g' }, 'pie').nonce));
    expect(nonces.size).toBe(20);
  });
});

describe('the contract accepts what the client signs', () => {
  it('set-patient-policy and request-access are committed; a changed payload is BAD_SIGNATURE', async () => {
    const w = await world();
    const patient = await register(w, 'patient');
    const doctor = await register(w, 'physician');
    const policy = { ...DEFAULT_POLICY_JSON, emergencyAllowed: false };
    const policyAction = signActionWith(patient.signingSk, patient.id, 'set-patient-policy', { policy }, HARNESS_CHANNEL, w.h.time);
    expect(await w.h.submit(w.node1, 'SetPatientPolicy', JSON.stringify(policyAction))).toEqual(policy);

    const record = await createRecord(w, patient, doctor, { level: 'LOW', policy });
    const request = signActionWith(doctor.signingSk, doctor.id, 'request-access', ActionPayloads.requestAccess({ emrId: record.id, purpose: 'treatment' }), HARNESS_CHANNEL, w.h.time);
    const tampered = { ...request, payload: { ...request.payload, purpose: 'marketing' } };
    await expectTxError(w.h.submit(w.node1, 'RequestAccess', JSON.stringify(tampered)), 'BAD_SIGNATURE');
    expect(await w.h.submit(w.node1, 'RequestAccess', JSON.stringify(request))).toMatchObject({ emrId: record.id, requesterId: doctor.id, status: 'pending', purpose: 'treatment' });
  });
});

describe('the SDK runs in browsers', () => {
  // every module src/client/index.ts reaches through static relative value imports (type imports are erased)
  async function moduleGraph(entry: string): Promise<Map<string, string>> {
    const seen = new Map<string, string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      const text = await fsp.readFile(file, 'utf8');
      seen.set(file, text);
      for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm)) {
        await visit(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
      }
    };
    await visit(entry);
    return seen;
  }

  it('no module the SDK imports statically imports a Node built-in, and src/client uses no Buffer', async () => {
    const graph = await moduleGraph(join(process.cwd(), 'src/client/index.ts'));
    expect([...graph.keys()].some((f) => f.endsWith('src/client/participant.ts'))).toBe(true);
    const nodeImports = [...graph].filter(([, text]) => /^\s*(?:import|export)\s[^;]*?from\s+'(node:|fs|path|crypto|os|util|stream)[^']*'/m.test(text)).map(([f]) => f);
    expect(nodeImports).toEqual([]);
    const clientBuffer = [...graph].filter(([f, text]) => f.includes('/src/client/') && /\bBuffer\s*[.(]/.test(text)).map(([f]) => f);
    expect(clientBuffer).toEqual([]);
  });
});
