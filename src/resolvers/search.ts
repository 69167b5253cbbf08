/**
 * `emrs(filter, first, after)`: Relay pagination over the ledger's EMR records by summary fields. Who may search
 * what is decided here (patients their own records only, organisation admins not at all); the answer comes from the
 * node's record index (search-index.ts) when it is live and has applied this node's own last commit (read-your-writes,
 * waited for within a bound), else from the chaincode's SearchRecords (search-ledger.ts). Both list the same records
 * in the same order, and each continues the other's cursors.
 */
import { ExchangeError } from '../exchange/errors.js';
import type { EmrFilter } from '../schema/inputs.js';
import { requireCaller } from './access.js';
import type { RequestContext } from './context.js';
import { decodeCursor } from './search-cursor.js';
import { checkFilter, filterIndexes } from './search-filter.js';
import type { RecordPage, SearchQuery } from './search-filter.js';
import { searchIndex } from './search-index.js';
import { searchLedger } from './search-ledger.js';

export type { RecordPage } from './search-filter.js';

export async function searchRecords(ctx: RequestContext, filter: EmrFilter, first: number, after: string | undefined): Promise<RecordPage> {
  const caller = requireCaller(ctx);
  const max = ctx.services.maxPageSize;
  if (!Number.isInteger(first) || first < 1 || first > max) throw new ExchangeError('BAD_USER_INPUT', `first: must be between 1 and ${max}`);
  checkFilter(filter);
  const me = caller.participant;
  if (me.kind === 'org-admin') throw new ExchangeError('FORBIDDEN', 'an organisation admin administers participants and does not read EMRs');
  if (me.kind === 'patient' && filter.patientId != null && filter.patientId !== me.id) {
    throw new ExchangeError('FORBIDDEN', 'filter.patientId: a patient may search only the patient’s own records');
  }
  // A patient searches only the patient's own records.
  const effective: EmrFilter = me.kind === 'patient' ? { ...filter, patientId: me.id } : filter;
  const q: SearchQuery = { caller, filter: effective, first, byLevel: filterIndexes(effective).length === 0 };
  const cursor = after === undefined ? undefined : decodeCursor(after, q.byLevel);

  const model = ctx.services.recordIndex;
  // a cursor without a sort key (made before cursors had one) can only continue on the chaincode
  if (model !== undefined && (cursor === undefined || cursor.k !== undefined) && (await model.readyFor(ctx.services.ledger.committedHeight))) {
    return searchIndex(ctx, model.index, q, cursor?.k);
  }
  return searchLedger(ctx, q, cursor);
}
