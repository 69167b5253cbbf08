// The PIE contract through fabric-shim: operation records indexed by record version (pie.operation~emr), listed by
// ListOperations page by page, so a record's audit trail holds every access to every version.
import type { EmrRecord, Grant, OperationRecord } from '../../chaincode/src/domain/index.js';
import { act, cast, createRecord, expectTxError, requestAndApprove } from './contract-helpers.js';
import type { Actor, Cast } from './contract-helpers.js';

const operation = (c: Cast, who: Actor, payload: Record<string, unknown>) => act(c, who, 'RecordOperation', 'record-operation', payload) as Promise<OperationRecord>;

interface OperationPage {
  operations: OperationRecord[];
  bookmark: string;
  fetched: number;
}

const list = (c: Cast, id: string, pageSize = '', bookmark = '') => c.h.evaluate(c.node2, 'ListOperations', 'record', id, pageSize, bookmark) as Promise<OperationPage>;

async function withGrant(): Promise<Cast & { record: EmrRecord; grant: Grant }> {
  const c = await cast();
  const record = await createRecord(c, c.patient, c.doctor, { level: 'LOW' });
  return { ...c, record, grant: await requestAndApprove(c, c.patient, c.researcher, record.id) };
}

describe('ListOperations', () => {
  it('lists every operation of a record (each kind), none of another record; an empty list for a record without any', async () => {
    const c = await withGrant();
    const other = await createRecord(c, c.patient, c.doctor, { level: 'LOW' });
    expect(await list(c, c.record.id)).toEqual({ operations: [], bookmark: '', fetched: 0 });

    const ops = [
      await operation(c, c.insurer, { kind: 'query', emrId: c.record.id }),
      await operation(c, c.patient, { kind: 'download', emrId: c.record.id }),
      await operation(c, c.researcher, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id }),
    ];
    const elsewhere = await operation(c, c.patient, { kind: 'download', emrId: other.id });

    const page = await list(c, c.record.id);
    expect(page.fetched).toBe(3);
    expect(page.bookmark).toBe('');
    // the objects themselves, as GetOperation has them (index order: by operation id)
    expect([...page.operations].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...ops].sort((a, b) => a.id.localeCompare(b.id)));
    expect((await list(c, other.id)).operations).toEqual([elsewhere]);
  });

  it('pages with bookmarks; each version of a chain has its own operations', async () => {
    const c = await withGrant();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await operation(c, c.insurer, { kind: 'query', emrId: c.record.id })).id);

    const seen: string[] = [];
    let bookmark = '';
    let pages = 0;
    do {
      const page = await list(c, c.record.id, '2', bookmark);
      expect(page.operations.length).toBeLessThanOrEqual(2);
      expect(page.fetched).toBe(page.operations.length);
      seen.push(...page.operations.map((o) => o.id));
      bookmark = page.bookmark;
      if (++pages > 10) throw new Error('runaway paging');
    } while (bookmark !== '');
    expect(pages).toBe(3);
    expect(new Set(seen)).toEqual(ids);

    const v2 = await createRecord(c, c.patient, c.doctor, { id: `${c.record.id}-v2`, version: 2, previousId: c.record.id, level: 'LOW' });
    const onV2 = await operation(c, c.patient, { kind: 'download', emrId: v2.id });
    expect((await list(c, v2.id)).operations).toEqual([onV2]);
    expect((await list(c, c.record.id)).operations).toHaveLength(5);
  });

  it('a refused operation is not indexed', async () => {
    const c = await withGrant();
    await expectTxError(operation(c, c.insurer, { kind: 'reencrypt', emrId: c.record.id, grantId: c.grant.id }), 'FORBIDDEN');
    expect((await list(c, c.record.id)).operations).toEqual([]);
  });

  it('refuses other listings and malformed arguments', async () => {
    const c = await cast();
    await expectTxError(c.h.evaluate(c.node1, 'ListOperations', 'actor', c.patient.id, '', ''), 'INVALID_ARGUMENT', /^by: must be one of record/);
    await expectTxError(c.h.evaluate(c.node1, 'ListOperations', 'record', 'bad id!', '', ''), 'INVALID_ARGUMENT', /^id: /);
    await expectTxError(c.h.evaluate(c.node1, 'ListOperations', 'record', 'emr-1', '0', ''), 'INVALID_ARGUMENT', /^pageSize: /);
  });
});
