// Request decisions, version chains, credits, composite-key indexes, transaction time and deterministic ids.
import {
  CREDIT_AMOUNTS,
  OBJECT_TYPES,
  RECORD_INDEXES,
  applyCredit,
  assertGrantAnswersRequest,
  assertValidSuccessor,
  creditsFor,
  creditsForOperation,
  decideRequest,
  deriveId,
  grantIndexEntries,
  indexQuery,
  isoFromTxTimestamp,
  parseAccessRequest,
  parseEmrRecord,
  parseGrant,
  parseOperationRecord,
  recordIndexEntries,
  requestIndexEntries,
} from '../../chaincode/src/domain/index.js';
import { AUTHOR, NOW, PATIENT, expectCode, pid, record, signedRecordInput } from './domain-fixtures.js';

const LATER = '2024-05-02T08:00:00.000Z';
const pending = parseAccessRequest({ id: 'req-1', emrId: 'emr-1', requesterId: pid(9), purpose: 'treatment', status: 'pending', createdAt: NOW });

describe('requests', () => {
  it('are decided once, at the deciding transaction’s time', () => {
    const ok = decideRequest(pending, 'approved', LATER);
    expect(ok).toMatchObject({ status: 'approved', decidedAt: LATER });
    expect(Object.isFrozen(ok)).toBe(true);
    expectCode(() => decideRequest(ok, 'denied', LATER), 'CONFLICT', /already approved/);
    expectCode(() => decideRequest(pending, 'denied', '2024-04-01T00:00:00.000Z'), 'INVALID_ARGUMENT', 'request.decidedAt');
  });

  it('an ordinary grant must answer an approved request', () => {
    const approved = decideRequest(pending, 'approved', LATER);
    const grant = (over: Record<string, unknown> = {}) =>
      parseGrant({ id: 'g1', emrId: 'emr-1', granteeId: pid(9), requestId: 'req-1', notBefore: LATER, notAfter: '2024-06-01T00:00:00.000Z', threshold: 1, shares: 1, kfrags: [{ proxyId: 'p1', ref: 'r' }], ...over });
    expect(() => assertGrantAnswersRequest(grant(), approved)).not.toThrow();
    expectCode(() => assertGrantAnswersRequest(grant(), pending), 'CONFLICT', /pending/);
    expectCode(() => assertGrantAnswersRequest(grant({ requestId: 'req-2' }), approved), 'INVALID_ARGUMENT', 'grant.requestId');
    expectCode(() => assertGrantAnswersRequest(grant({ emrId: 'emr-2' }), approved), 'INVALID_ARGUMENT', 'grant.emrId');
    expectCode(() => assertGrantAnswersRequest(grant({ granteeId: pid(10) }), approved), 'INVALID_ARGUMENT', 'grant.granteeId');
  });
});

describe('data version updates', () => {
  const v1 = record();
  const v2 = (over: (r: Record<string, unknown>) => void = () => {}) =>
    record((r) => {
      Object.assign(r, { id: 'emr-2', version: 2, previousId: 'emr-1' });
      (r.metadata as Record<string, unknown>).cid = 'bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';
      over(r);
    });
  it('link to the head with the next version, same patient, new ciphertext', () => {
    expect(() => assertValidSuccessor(v1, v2())).not.toThrow();
    expectCode(() => assertValidSuccessor(v1, v2((r) => (r.previousId = 'emr-x'))), 'INVALID_ARGUMENT', 'record.previousId');
    expectCode(() => assertValidSuccessor(v1, v2((r) => (r.version = 3))), 'CONFLICT', 'record.version');
    expectCode(() => assertValidSuccessor(v1, v2((r) => (r.patientId = pid(77)))), 'INVALID_ARGUMENT', 'record.patientId');
    expectCode(() => assertValidSuccessor(v1, v2((r) => ((r.metadata as Record<string, unknown>).cid = v1.metadata.cid))), 'INVALID_ARGUMENT', 'record.metadata.cid');
  });
});

describe('credits', () => {
  const rec = record();
  it('an approval credits the patient and the authoring hospital', () => {
    expect(creditsFor('approval', rec)).toEqual([
      { holderType: 'participant', holderId: PATIENT, amount: CREDIT_AMOUNTS.approval.patient },
      { holderType: 'org', holderId: 'Hospital1MSP', amount: CREDIT_AMOUNTS.approval.hospital },
    ]);
  });
  it('a served access is a reencrypt by someone else; other operations earn nothing', () => {
    const op = (kind: string, actorId = pid(9)) =>
      parseOperationRecord({ id: 'op', kind, actorId, emrId: rec.id, timestamp: NOW, ...(kind === 'reencrypt' ? { grantId: 'g1' } : {}), ...(kind === 'modify' ? { beforeCid: 'bafya', afterCid: 'bafyb' } : {}) });
    expect(creditsForOperation(op('reencrypt'), rec)).toEqual(creditsFor('served-access', rec));
    expect(creditsForOperation(op('reencrypt', PATIENT), rec)).toEqual([]);
    for (const k of ['query', 'download', 'modify']) expect(creditsForOperation(op(k), rec)).toEqual([]);
  });
  it('balances accumulate from zero and stay safe integers', () => {
    const [p, h] = creditsFor('served-access', rec) as [never, never];
    const b1 = applyCredit(undefined, p);
    const b2 = applyCredit(b1, p);
    expect(b2).toEqual({ holderType: 'participant', holderId: PATIENT, balance: 2 });
    expectCode(() => applyCredit(b2, h), 'INVALID_ARGUMENT', 'credit.holderId');
    expectCode(() => applyCredit({ ...b2, balance: Number.MAX_SAFE_INTEGER }, p), 'CONFLICT', 'credit.balance');
  });
});

describe('composite-key indexes', () => {
  it('give one entry per index and per coded concept, id last', () => {
    const rec = record();
    const entries = recordIndexEntries(rec);
    expect(entries).toEqual([
      { objectType: 'pie.emr~patient', attributes: [PATIENT, 'emr-1'] },
      { objectType: 'pie.emr~author', attributes: [AUTHOR, 'emr-1'] },
      { objectType: 'pie.emr~hospital', attributes: ['Hospital1MSP', 'emr-1'] },
      { objectType: 'pie.emr~category', attributes: ['medical-information', 'emr-1'] },
      { objectType: 'pie.emr~level', attributes: ['PRIVATE', 'emr-1'] },
      { objectType: 'pie.emr~code', attributes: ['http://snomed.info/sct', '44054006', 'emr-1'] },
      { objectType: 'pie.emr~code', attributes: ['http://loinc.org', '4548-4', 'emr-1'] },
      { objectType: 'pie.emr~year', attributes: ['2024', 'emr-1'] },
      { objectType: 'pie.emr~cid', attributes: [rec.metadata.cid, 'emr-1'] },
    ]);
    for (const e of entries) {
      const def = Object.values(RECORD_INDEXES).find((d) => d.objectType === e.objectType)!;
      expect(e.attributes).toHaveLength(def.attributes.length);
    }
    expect(new Set(Object.values(RECORD_INDEXES).map((d) => d.objectType)).size).toBe(10);
    // the optional demographics are indexed only when present
    const withDemographics = recordIndexEntries({ ...rec, summary: { ...rec.summary, gender: 'female', ageBand: '40-44' } });
    expect(withDemographics).toEqual(
      expect.arrayContaining([
        { objectType: 'pie.emr~gender', attributes: ['female', 'emr-1'] },
        { objectType: 'pie.emr~ageband', attributes: ['40-44', 'emr-1'] },
      ]),
    );
    expect(withDemographics).toHaveLength(entries.length + 2);
    expect(Object.values(OBJECT_TYPES)).toContain('pie.emr');
  });
  it('cover grants and requests', () => {
    const g = parseGrant({ id: 'g1', emrId: 'emr-1', granteeId: pid(9), notBefore: NOW, notAfter: LATER, threshold: 1, shares: 1, kfrags: [{ proxyId: 'p1', ref: 'r' }] });
    expect(grantIndexEntries(g, pid(7)).map((e) => [e.objectType, e.attributes])).toEqual([
      ['pie.grant~emr', ['emr-1', 'g1']],
      ['pie.grant~grantee', [pid(9), 'g1']],
      ['pie.grant~patient', [pid(7), 'g1']],
      ['pie.grant~grantee~emr', [pid(9), 'emr-1', 'g1']],
    ]);
    expect(requestIndexEntries(pending, pid(7)).map((e) => [e.objectType, e.attributes])).toEqual([
      ['pie.request~emr', ['emr-1', 'req-1']],
      ['pie.request~requester', [pid(9), 'req-1']],
      ['pie.request~patient', [pid(7), 'req-1']],
    ]);
  });
  it('queries take 1..n-1 leading values without key delimiters', () => {
    expect(indexQuery(RECORD_INDEXES.code, ['http://loinc.org'])).toEqual(['http://loinc.org']);
    expect(indexQuery(RECORD_INDEXES.code, ['http://loinc.org', '4548-4'])).toEqual(['http://loinc.org', '4548-4']);
    expectCode(() => indexQuery(RECORD_INDEXES.code, []), 'INVALID_ARGUMENT', 'query');
    expect(indexQuery(RECORD_INDEXES.code, [], 0)).toEqual([]);
    expectCode(() => indexQuery(RECORD_INDEXES.patient, [PATIENT, 'emr-1']), 'INVALID_ARGUMENT', 'query');
    expectCode(() => indexQuery(RECORD_INDEXES.code, ['a\u0000b']), 'INVALID_ARGUMENT', 'query.system');
  });
  it('every record field that becomes an attribute is free of U+0000 (parsers refuse control characters)', () => {
    const input = signedRecordInput();
    (input.summary as Record<string, unknown>).codes = ['s\u0000|c'];
    expectCode(() => parseEmrRecord(input), 'INVALID_ARGUMENT', 'record.summary.codes[0]');
  });
});

describe('transaction time and ids', () => {
  it('isoFromTxTimestamp is millisecond ISO of {seconds, nanos}', () => {
    expect(isoFromTxTimestamp({ seconds: 1714564800, nanos: 123_456_789 })).toBe('2024-05-01T12:00:00.123Z');
    expect(isoFromTxTimestamp({ seconds: { toString: () => '1714564800' }, nanos: 0 })).toBe(NOW);
    expect(isoFromTxTimestamp({ seconds: '0', nanos: 999_999_999 })).toBe('1970-01-01T00:00:00.999Z');
    expectCode(() => isoFromTxTimestamp({ seconds: 1, nanos: 1e9 }), 'INVALID_ARGUMENT', 'txTimestamp.nanos');
    expectCode(() => isoFromTxTimestamp({ seconds: -1, nanos: 0 }), 'INVALID_ARGUMENT', 'txTimestamp.seconds');
  });
  it('deriveId is deterministic, 32 hex, and separates parts', () => {
    expect(deriveId('grant', 'tx1')).toMatch(/^[0-9a-f]{32}$/);
    expect(deriveId('grant', 'tx1')).toBe(deriveId('grant', 'tx1'));
    expect(deriveId('grant', 'tx1')).not.toBe(deriveId('grantt', 'x1'));
    expect(deriveId('ab', 'c')).not.toBe(deriveId('a', 'bc'));
  });
});
