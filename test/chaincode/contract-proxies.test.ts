// The PIE contract through fabric-shim: re-encryption proxies (RegisterProxy, GetProxies, their history) and the
// patient indexes of requests and grants (ListRequests / ListGrants by patient).
import type { AccessRequest, Grant, RegisteredProxy } from '../../chaincode/src/domain/index.js';
import { SecretKey } from '../../src/crypto/umbral/index.js';
import { HOUR, act, cast, createRecord, expectTxError, pubHex, register, requestAndApprove, terms, world } from './contract-helpers.js';
import type { Cast } from './contract-helpers.js';

const registration = (id: string, key: SecretKey | string): string =>
  JSON.stringify({ id, encryptionKey: typeof key === 'string' ? key : pubHex(key) });

describe('RegisterProxy', () => {
  it('registers a proxy of the caller organisation with the transaction time, once; ProxyRegistered', async () => {
    const w = await world();
    const key = SecretKey.random();
    const proxy = (await w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', key))) as RegisteredProxy;
    expect(proxy).toEqual({ id: 'Hospital1MSP.proxy.1', org: 'Hospital1MSP', encryptionKey: pubHex(key), registeredAt: w.h.time.toISOString() });
    expect(w.h.events.at(-1)).toEqual({ name: 'ProxyRegistered', payload: { proxyId: proxy.id, org: 'Hospital1MSP' }, txId: w.h.lastTxId });
    const eventsBefore = w.h.events.length;

    // the same id and key again: the registered proxy, unchanged, nothing written
    w.h.advance(HOUR);
    expect(await w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', key))).toEqual(proxy);
    expect(w.h.events).toHaveLength(eventsBefore);
    const history = (await w.h.evaluate(w.node1, 'GetHistory', 'proxy', proxy.id)) as { value: RegisteredProxy }[];
    expect(history.map((h) => h.value)).toEqual([proxy]);

    // another key for the same id
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', SecretKey.random())), 'CONFLICT', /^proxy Hospital1MSP.proxy.1 is registered with another encryption key/);
  });

  it('only an administrator, only for its own organisation, only well-formed ids and keys', async () => {
    const w = await world();
    const key = SecretKey.random();
    await expectTxError(w.h.submit(w.node1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', key)), 'FORBIDDEN', /^caller: only an administrator/);
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital2MSP.proxy.1', key)), 'FORBIDDEN', /^proxy.id: Hospital1MSP may register only its own proxies/);
    for (const id of ['Hospital1MSP.proxy.0', 'Hospital1MSP.proxy.65', 'Hospital1MSP.proxy.01', 'Hospital1MSP.proxy.', 'Hospital1MSP.proxy1', 'proxy.1', '.proxy.1']) {
      await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration(id, key)), 'INVALID_ARGUMENT', /^proxy.id: must be <organisation MSP id>.proxy.<n> with n in 1..64/);
    }
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', 'ab'.repeat(33))), 'INVALID_ARGUMENT', /^proxy.encryptionKey/);
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', `02${'ff'.repeat(32)}`)), 'INVALID_ARGUMENT', /^proxy.encryptionKey: is not a point/);
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', JSON.stringify({ id: 'Hospital1MSP.proxy.1', encryptionKey: pubHex(key), org: 'Hospital2MSP' })), 'INVALID_ARGUMENT', /^proxy.org: unknown field/);
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', 'nope'), 'INVALID_ARGUMENT', /^proxy: is not valid JSON/);
    // the highest n is accepted
    await w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.64', key));
  });

  it('a key belongs to one proxy, and never to a participant (either way round)', async () => {
    const w = await world();
    const patient = await register(w, 'patient');
    // a participant's encryption or signing key
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', patient.encryptionSk)), 'CONFLICT', new RegExp(`^proxy.encryptionKey: this key is registered to participant ${patient.id}`));
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', patient.signingSk)), 'CONFLICT', /registered to participant/);
    // another proxy's key, in the same or another organisation
    const key = SecretKey.random();
    await w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.1', key));
    await expectTxError(w.h.submit(w.admin1, 'RegisterProxy', registration('Hospital1MSP.proxy.2', key)), 'CONFLICT', /^proxy.encryptionKey: this key is registered to proxy Hospital1MSP.proxy.1/);
    await expectTxError(w.h.submit(w.admin2, 'RegisterProxy', registration('Hospital2MSP.proxy.1', key)), 'CONFLICT', /registered to proxy Hospital1MSP.proxy.1/);
    // a participant may not take a proxy's key
    const participant = (signingKey: string, encryptionKey: string) =>
      w.h.submit(w.admin2, 'RegisterParticipant', JSON.stringify({ kind: 'researcher', clearance: 'LOW', signingKey, encryptionKey, roles: [] }));
    await expectTxError(participant(pubHex(SecretKey.random()), pubHex(key)), 'CONFLICT', /^participant.encryptionKey: this key is registered to proxy Hospital1MSP.proxy.1/);
    await expectTxError(participant(pubHex(key), pubHex(SecretKey.random())), 'CONFLICT', /^participant.signingKey: this key is registered to proxy Hospital1MSP.proxy.1/);
  });
});

describe('GetProxies', () => {
  it('lists every organisation’s proxies in id order (more than one page of the scan), and no other objects', async () => {
    const w = await world();
    expect(await w.h.evaluate(w.node2, 'GetProxies')).toEqual([]);
    const registered: RegisteredProxy[] = [];
    for (let n = 1; n <= 64; n++) registered.push((await w.h.submit(w.admin1, 'RegisterProxy', registration(`Hospital1MSP.proxy.${n}`, SecretKey.random()))) as RegisteredProxy);
    for (let n = 1; n <= 3; n++) registered.push((await w.h.submit(w.admin2, 'RegisterProxy', registration(`Hospital2MSP.proxy.${n}`, SecretKey.random()))) as RegisteredProxy);
    await register(w, 'patient'); // participants (and their key index) are not proxies
    const listed = (await w.h.evaluate(w.node2, 'GetProxies')) as RegisteredProxy[];
    expect(listed).toHaveLength(67);
    expect(listed).toEqual(expect.arrayContaining(registered));
    const ids = listed.map((p) => p.id);
    expect(ids).toEqual([...ids].sort());
  });
});

describe('requests and grants by patient', () => {
  it('RequestAccess, ApproveRequest, GrantAccess and BreakGlass index the record’s patient; other patients see none', async () => {
    const c: Cast = await cast();
    const other = await register(c, 'patient');
    const [r1, r2] = [await createRecord(c, c.patient, c.doctor, { level: 'LOW' }), await createRecord(c, c.patient, c.doctor, { level: 'LOW' })];
    const elsewhere = await createRecord(c, other, c.doctor, { level: 'LOW' });

    const approved = await requestAndApprove(c, c.patient, c.researcher, r1.id);
    const pending = (await act(c, c.insurer, 'RequestAccess', 'request-access', { emrId: r2.id, purpose: 'claim' })) as AccessRequest;
    const direct = (await act(c, c.patient, 'GrantAccess', 'grant-access', { emrId: r2.id, granteeId: c.doctor2.id, ...terms(c.h) })) as Grant;
    const emergency = (await act(c, c.er, 'BreakGlass', 'break-glass', { emrId: r1.id, justification: 'multiple trauma, unconscious' })) as Grant;
    const otherGrant = await requestAndApprove(c, other, c.researcher, elsewhere.id);

    const requests = (await c.h.evaluate(c.node1, 'ListRequests', 'patient', c.patient.id, '', '')) as { requests: AccessRequest[] };
    expect(requests.requests.map((q) => q.id).sort()).toEqual([approved.requestId, pending.id].sort());
    expect(requests.requests.find((q) => q.id === approved.requestId)?.status).toBe('approved');
    const grants = (await c.h.evaluate(c.node1, 'ListGrants', 'patient', c.patient.id, '', '')) as { grants: Grant[] };
    expect(grants.grants.map((g) => g.id).sort()).toEqual([approved.id, direct.id, emergency.id].sort());
    expect(grants.grants).toEqual(expect.arrayContaining([approved, direct, emergency]));

    expect(((await c.h.evaluate(c.node1, 'ListGrants', 'patient', other.id, '', '')) as { grants: Grant[] }).grants).toEqual([otherGrant]);
    expect(((await c.h.evaluate(c.node1, 'ListRequests', 'patient', other.id, '', '')) as { requests: AccessRequest[] }).requests.map((q) => q.id)).toEqual([otherGrant.requestId]);
    // paged like the other indexes
    const first = (await c.h.evaluate(c.node1, 'ListGrants', 'patient', c.patient.id, '2', '')) as { grants: Grant[]; bookmark: string };
    expect(first.grants).toHaveLength(2);
    const second = (await c.h.evaluate(c.node1, 'ListGrants', 'patient', c.patient.id, '2', first.bookmark)) as { grants: Grant[]; bookmark: string };
    expect([...first.grants, ...second.grants].map((g) => g.id).sort()).toEqual([approved.id, direct.id, emergency.id].sort());
    expect(second.bookmark).toBe('');
    // the id must be a participant id
    await expectTxError(c.h.evaluate(c.node1, 'ListGrants', 'patient', r1.id, '', ''), 'INVALID_ARGUMENT', /^id: /);
    await expectTxError(c.h.evaluate(c.node1, 'ListRequests', 'patient', 'bob', '', ''), 'INVALID_ARGUMENT', /^id: /);
  });
});
