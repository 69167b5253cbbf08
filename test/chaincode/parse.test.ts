// Every parser of the chaincode domain: valid input gives a frozen typed object; each invalid field gives a
// ContractError whose message starts with that field's path.
import {
  ContractError,
  parseAccessPolicy,
  parseAccessRequest,
  parseCreditBalance,
  parseEmrRecord,
  parseGrant,
  parseOperationRecord,
  parseParticipant,
} from '../../chaincode/src/domain/index.js';
import { AUTHOR, NOW, PATIENT, capsuleB64, expectCode, participant, pid, pubHex, authorSk, signedRecordInput } from './domain-fixtures.js';

type Json = Record<string, unknown>;
const set = (o: Json, path: string, v: unknown): Json => {
  const copy = structuredClone(o);
  const keys = path.split('.');
  let cur: Json = copy;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Json;
  const last = keys[keys.length - 1]!;
  if (v === undefined) delete cur[last];
  else cur[last] = v;
  return copy;
};

describe('Participant', () => {
  const base: Json = { ...participant({ roles: ['emergency'] }), roles: ['emergency'] };

  it('parses a valid participant into a deeply frozen object', () => {
    const p = parseParticipant(base);
    expect(p).toEqual(base);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.roles)).toBe(true);
    expect(p).toBeInstanceOf(Object);
  });

  it.each<[string, unknown, string]>([
    ['id', 'ABC', 'participant.id'],
    ['id', pid(1).toUpperCase().replace('0', 'G'), 'participant.id'],
    ['id', undefined, 'participant.id'],
    ['kind', 'nurse', 'participant.kind'],
    ['org', 'bad msp!', 'participant.org'],
    ['org', '', 'participant.org'],
    ['clearance', 'SECRET', 'participant.clearance'],
    ['signingKey', '04' + 'ab'.repeat(32), 'participant.signingKey'],
    ['signingKey', '02' + 'ff'.repeat(32), 'participant.signingKey'], // x ≥ p: not a point
    ['signingKey', 'zz', 'participant.signingKey'],
    ['encryptionKey', 42, 'participant.encryptionKey'],
    ['roles', 'emergency', 'participant.roles'],
    ['roles', ['Emergency'], 'participant.roles[0]'],
    ['roles', ['emergency', 'emergency'], 'participant.roles[1]'],
    ['status', 'deleted', 'participant.status'],
    ['name', 'Alice', 'participant.name'],
  ])('%s = %j is refused naming %s', (key, value, field) => {
    expectCode(() => parseParticipant(set(base, key, value)), 'INVALID_ARGUMENT', field);
  });

  it('refuses a clearance above the kind ceiling, the emergency role off physicians, and equal keys', () => {
    expectCode(() => parseParticipant({ ...participant({ kind: 'researcher' }), clearance: 'MODERATE' }), 'INVALID_ARGUMENT', 'participant.clearance');
    expectCode(() => parseParticipant({ ...participant({ kind: 'insurer' }), roles: ['emergency'] }), 'INVALID_ARGUMENT', 'participant.roles');
    expectCode(() => parseParticipant({ ...base, encryptionKey: pubHex(authorSk) }), 'INVALID_ARGUMENT', 'participant.encryptionKey');
    expect(() => parseParticipant(null)).toThrow(ContractError);
    expectCode(() => parseParticipant([]), 'INVALID_ARGUMENT', 'participant');
    expectCode(() => parseParticipant(new Date()), 'INVALID_ARGUMENT', 'participant');
  });

  it('allows an organisation to register a lower clearance', () => {
    expect(parseParticipant({ ...base, clearance: 'MODERATE' }).clearance).toBe('MODERATE');
  });
});

describe('EmrRecord', () => {
  const base = signedRecordInput();

  it('parses every Table 4 field into a deeply frozen record', () => {
    const r = parseEmrRecord(base);
    expect(r).toEqual(base);
    expect(Object.isFrozen(r.summary.codes)).toBe(true);
    expect(Object.isFrozen(r.metadata)).toBe(true);
    expect(Object.isFrozen(r.policy.allowedKinds)).toBe(true);
  });

  const capsule = Buffer.from(capsuleB64, 'base64');
  const badCapsule = Buffer.from(capsule);
  badCapsule[0] = 0x92;
  it.each<[string, unknown, string]>([
    ['id', '', 'record.id'],
    ['id', 'has space', 'record.id'],
    ['id', 'a\u0000b', 'record.id'],
    ['id', 'x'.repeat(129), 'record.id'],
    ['version', 0, 'record.version'],
    ['version', 1.5, 'record.version'],
    ['version', '1', 'record.version'],
    ['previousId', 'emr-0', 'record.previousId'],
    ['patientId', 'p1', 'record.patientId'],
    ['authorId', undefined, 'record.authorId'],
    ['hospital', 'a b', 'record.hospital'],
    ['timestamp', '2024-05-01', 'record.timestamp'],
    ['timestamp', '2024-02-30T00:00:00Z', 'record.timestamp'],
    ['timestamp', '2024-05-01T12:00:00+02:00', 'record.timestamp'],
    ['summary', 'x', 'record.summary'],
    ['summary.category', 'dental', 'record.summary.category'],
    ['summary.securityLevel', 'LOW', 'record.summary.securityLevel'],
    ['summary.codes', ['44054006'], 'record.summary.codes[0]'],
    ['summary.codes', ['a|b|c'], 'record.summary.codes[0]'],
    ['summary.codes', ['s|1', 's|1'], 'record.summary.codes[1]'],
    ['summary.codes', Array.from({ length: 65 }, (_, i) => `s|${i}`), 'record.summary.codes'],
    ['summary.year', 1850, 'record.summary.year'],
    ['summary.resourceTypes', ['condition'], 'record.summary.resourceTypes[0]'],
    ['summary.labels', ['bad label'], 'record.summary.labels[0]'],
    ['summary.patientName', 'Alice', 'record.summary.patientName'],
    ['summary.gender', 'F', 'record.summary.gender'],
    ['summary.ageBand', '42', 'record.summary.ageBand'],
    ['summary.ageBand', '90-94', 'record.summary.ageBand'],
    ['metadata.cid', 'not-a-cid', 'record.metadata.cid'],
    ['metadata.size', -1, 'record.metadata.size'],
    ['metadata.mediaType', 'json', 'record.metadata.mediaType'],
    ['metadata.contentHash', 'AB'.repeat(32), 'record.metadata.contentHash'],
    ['metadata.contentHash', 'ab'.repeat(31), 'record.metadata.contentHash'],
    ['metadata.capsule', capsule.subarray(0, 98).toString('base64'), 'record.metadata.capsule'],
    ['metadata.capsule', badCapsule.toString('base64'), 'record.metadata.capsule'],
    ['metadata.capsule', `${capsuleB64.slice(0, -1)}*`, 'record.metadata.capsule'],
    ['metadata.capsule', `${capsuleB64}AA==`, 'record.metadata.capsule'],
    ['metadata.envelopeVersion', 0, 'record.metadata.envelopeVersion'],
    ['policy.minClearance', 'HIGH', 'record.policy.minClearance'],
    ['policy.allowedKinds', ['robot'], 'record.policy.allowedKinds[0]'],
    ['policy.allow', ['nobody'], 'record.policy.allow[0]'],
    ['policy.deny', [pid(5), pid(5)], 'record.policy.deny[1]'],
    ['policy.emergencyAllowed', 'yes', 'record.policy.emergencyAllowed'],
    ['policy.expiresAt', 'tomorrow', 'record.policy.expiresAt'],
    ['authorSignature', 'ab'.repeat(63), 'record.authorSignature'],
    ['authorSignature', undefined, 'record.authorSignature'],
  ])('%s = %j is refused naming %s', (path, value, field) => {
    expectCode(() => parseEmrRecord(set(base, path, value)), 'INVALID_ARGUMENT', field);
  });

  it('takes the optional de-identified demographics: gender and a 5-year age band', () => {
    const r = parseEmrRecord(set(set(base, 'summary.gender', 'female'), 'summary.ageBand', '85-89'));
    expect(r.summary).toMatchObject({ gender: 'female', ageBand: '85-89' });
    expect(parseEmrRecord(set(base, 'summary.ageBand', '90+')).summary.ageBand).toBe('90+');
    expect('gender' in parseEmrRecord(base).summary).toBe(false);
  });

  it('links versions: previousId exactly when version > 1, never to itself', () => {
    expectCode(() => parseEmrRecord(set(base, 'version', 2)), 'INVALID_ARGUMENT', 'record.previousId');
    expect(parseEmrRecord({ ...base, version: 2, previousId: 'emr-0' }).previousId).toBe('emr-0');
    expectCode(() => parseEmrRecord({ ...base, version: 2, previousId: base.id }), 'INVALID_ARGUMENT', 'record.previousId');
  });

  it('allows raising a category level (sensitive codes force PRIVATE) but not lowering it', () => {
    const lifelog = set(set(base, 'summary.category', 'lifelog-sensor'), 'summary.securityLevel', 'PRIVATE');
    expect(parseEmrRecord(lifelog).summary.securityLevel).toBe('PRIVATE');
    expectCode(() => parseEmrRecord(set(lifelog, 'summary.securityLevel', 'LOW')), 'INVALID_ARGUMENT', 'record.summary.securityLevel');
  });

  it('refuses a policy that widens the defaults with FORBIDDEN', () => {
    expectCode(() => parseEmrRecord(set(base, 'policy.allowedKinds', ['physician', 'patient'])), 'FORBIDDEN', 'record.policy.allowedKinds');
  });
});

describe('AccessPolicy', () => {
  const base = { minClearance: 'LOW', allowedKinds: ['physician'], allow: [pid(7)], deny: [pid(8)], emergencyAllowed: false, expiresAt: NOW };
  it('parses', () => expect(parseAccessPolicy(base)).toEqual(base));
  it.each<[string, unknown, string]>([
    ['allowedKinds', 'physician', 'policy.allowedKinds'],
    ['allowedKinds', ['physician', 'physician'], 'policy.allowedKinds[1]'],
    ['allow', [pid(8)], 'policy.deny[0]'],
    ['deny', Array.from({ length: 257 }, (_, i) => pid(i + 100)), 'policy.deny'],
    ['expiresAt', 12, 'policy.expiresAt'],
    ['emergencyAllowed', undefined, 'policy.emergencyAllowed'],
    ['extra', 1, 'policy.extra'],
  ])('%s = %j is refused naming %s', (key, value, field) => {
    expectCode(() => parseAccessPolicy(set(base, key, value)), 'INVALID_ARGUMENT', field);
  });
});

describe('AccessRequest', () => {
  const base = { id: 'req-1', emrId: 'emr-1', requesterId: pid(9), purpose: 'second opinion', status: 'pending', createdAt: NOW };
  it('parses pending and decided requests', () => {
    expect(parseAccessRequest(base)).toEqual(base);
    expect(parseAccessRequest({ ...base, status: 'denied', decidedAt: NOW }).status).toBe('denied');
  });
  it.each<[string, unknown, string]>([
    ['id', '', 'request.id'],
    ['emrId', 5, 'request.emrId'],
    ['requesterId', 'x', 'request.requesterId'],
    ['purpose', '', 'request.purpose'],
    ['purpose', 'a\nb', 'request.purpose'],
    ['purpose', 'x'.repeat(513), 'request.purpose'],
    ['status', 'maybe', 'request.status'],
    ['createdAt', 'now', 'request.createdAt'],
    ['decidedAt', NOW, 'request.decidedAt'],
  ])('%s = %j is refused naming %s', (key, value, field) => {
    expectCode(() => parseAccessRequest(set(base, key, value)), 'INVALID_ARGUMENT', field);
  });
  it('needs decidedAt once decided, not before createdAt', () => {
    expectCode(() => parseAccessRequest({ ...base, status: 'approved' }), 'INVALID_ARGUMENT', 'request.decidedAt');
    expectCode(() => parseAccessRequest({ ...base, status: 'approved', decidedAt: '2024-05-01T11:59:59.999Z' }), 'INVALID_ARGUMENT', 'request.decidedAt');
  });
});

describe('Grant', () => {
  const kf = (i: number): Json => ({ proxyId: `proxy-${i}`, ciphertext: Buffer.from(`kfrag ${i}`).toString('base64') });
  const base: Json = {
    id: 'grant-1',
    emrId: 'emr-1',
    granteeId: pid(9),
    requestId: 'req-1',
    notBefore: NOW,
    notAfter: '2024-06-01T12:00:00.000Z',
    threshold: 2,
    shares: 3,
    kfrags: [kf(1), kf(2), { proxyId: 'proxy-3', ref: 'bafyref' }],
  };
  it('parses ordinary and emergency grants', () => {
    expect(parseGrant(base)).toEqual(base);
    const e = { ...base, requestId: undefined, notAfter: '2024-05-01T13:00:00.000Z', threshold: 0, shares: 0, kfrags: [], emergency: { justification: 'unconscious in ER, allergy check' } };
    delete e.requestId;
    expect(parseGrant(e).emergency?.justification).toMatch(/allergy/);
  });
  it.each<[string, unknown, string]>([
    ['id', undefined, 'grant.id'],
    ['granteeId', 'g', 'grant.granteeId'],
    ['requestId', '', 'grant.requestId'],
    ['notBefore', 'x', 'grant.notBefore'],
    ['notAfter', NOW, 'grant.notAfter'],
    ['notAfter', '2025-06-01T12:00:00.000Z', 'grant.notAfter'],
    ['threshold', 4, 'grant.threshold'],
    ['threshold', 0, 'grant.threshold'],
    ['shares', 0, 'grant.shares'],
    ['shares', 33, 'grant.shares'],
    ['kfrags', [kf(1), kf(2)], 'grant.kfrags'],
    ['kfrags', [kf(1), kf(2), kf(1)], 'grant.kfrags[2].proxyId'],
    ['kfrags', [kf(1), kf(2), { proxyId: 'p3' }], 'grant.kfrags[2]'],
    ['kfrags', [kf(1), kf(2), { proxyId: 'p3', ref: 'r', ciphertext: 'AA==' }], 'grant.kfrags[2]'],
    ['kfrags', [kf(1), kf(2), { proxyId: 'p3', ciphertext: 'not base64!' }], 'grant.kfrags[2].ciphertext'],
    ['kfrags', [kf(1), kf(2), { proxyId: '', ref: 'r' }], 'grant.kfrags[2].proxyId'],
    ['revokedAt', 'never', 'grant.revokedAt'],
    ['emergency', { justification: 'short' }, 'grant.emergency.justification'],
    ['emergency', { reason: 'x' }, 'grant.emergency.reason'],
  ])('%s = %j is refused naming %s', (key, value, field) => {
    expectCode(() => parseGrant(set(base, key, value)), 'INVALID_ARGUMENT', field);
  });
  it('limits an emergency grant to the break-glass maximum (1 h)', () => {
    const e = { ...base, emergency: { justification: 'cardiac arrest on ward 3' } };
    expectCode(() => parseGrant({ ...e, notAfter: '2024-05-01T13:00:00.001Z' }), 'INVALID_ARGUMENT', 'grant.notAfter');
    expect(parseGrant({ ...e, notAfter: '2024-05-01T13:00:00.000Z' }).emergency).toBeDefined();
  });
});

describe('OperationRecord', () => {
  const base = { id: 'op-1', kind: 'reencrypt', actorId: pid(9), emrId: 'emr-1', grantId: 'grant-1', timestamp: NOW };
  it('parses each kind', () => {
    expect(parseOperationRecord(base)).toEqual(base);
    expect(parseOperationRecord({ ...base, kind: 'query', grantId: undefined }).kind).toBe('query');
    expect(parseOperationRecord({ ...base, kind: 'download' }).kind).toBe('download');
    expect(parseOperationRecord({ ...base, kind: 'modify', beforeCid: 'bafyaaa', afterCid: 'bafybbb' }).afterCid).toBe('bafybbb');
  });
  it.each<[Json, string]>([
    [{ kind: 'delete' }, 'operation.kind'],
    [{ actorId: 'me' }, 'operation.actorId'],
    [{ emrId: '' }, 'operation.emrId'],
    [{ grantId: undefined }, 'operation.grantId'],
    [{ kind: 'query' }, 'operation.grantId'],
    [{ kind: 'modify', afterCid: 'bafyb' }, 'operation.beforeCid'],
    [{ kind: 'modify', beforeCid: 'bafya' }, 'operation.afterCid'],
    [{ kind: 'modify', beforeCid: 'bafya', afterCid: 'bafya' }, 'operation.afterCid'],
    [{ beforeCid: 'bafya' }, 'operation.beforeCid'],
    [{ afterCid: 'bafya' }, 'operation.afterCid'],
    [{ beforeCid: 'ba fy' , kind: 'modify', afterCid: 'x'}, 'operation.beforeCid'],
    [{ timestamp: 0 }, 'operation.timestamp'],
  ])('%j is refused naming %s', (over, field) => {
    const input: Json = { ...base, ...over };
    for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
    expectCode(() => parseOperationRecord(input), 'INVALID_ARGUMENT', field);
  });
});

describe('CreditBalance', () => {
  it('parses participant and organisation balances', () => {
    expect(parseCreditBalance({ holderType: 'participant', holderId: PATIENT, balance: 3 }).balance).toBe(3);
    expect(parseCreditBalance({ holderType: 'org', holderId: 'Hospital1MSP', balance: 0 }).holderId).toBe('Hospital1MSP');
  });
  it.each<[Json, string]>([
    [{ holderType: 'bank', holderId: PATIENT, balance: 1 }, 'credit.holderType'],
    [{ holderType: 'participant', holderId: 'Hospital1MSP', balance: 1 }, 'credit.holderId'],
    [{ holderType: 'org', holderId: 'a b', balance: 1 }, 'credit.holderId'],
    [{ holderType: 'org', holderId: 'Org1MSP', balance: -1 }, 'credit.balance'],
    [{ holderType: 'org', holderId: 'Org1MSP', balance: 0.5 }, 'credit.balance'],
  ])('%j is refused naming %s', (input, field) => {
    expectCode(() => parseCreditBalance(input), 'INVALID_ARGUMENT', field);
  });
});

it('errors carry a stable code and print as [CODE] message', () => {
  try {
    parseParticipant({});
    throw new Error('unreachable');
  } catch (e) {
    expect(e).toBeInstanceOf(ContractError);
    expect(String(e)).toMatch(/^\[INVALID_ARGUMENT\] participant\./);
  }
  expect(AUTHOR).not.toBe(PATIENT);
});
