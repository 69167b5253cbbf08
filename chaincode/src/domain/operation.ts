/**
 * Operation records (Chen et al.): every query, download, re-encryption and modification is a transaction. A proxy
 * releases a capsule fragment only after a `reencrypt` record for a live grant has committed.
 */
import { invalid } from './errors.js';
import { participantId } from './participant.js';
import { deepFreeze, id, isoTime, object, oneOf, optional, string } from './validate.js';

export const OPERATION_KINDS = ['query', 'download', 'reencrypt', 'modify'] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export interface OperationRecord {
  readonly id: string;
  readonly kind: OperationKind;
  readonly actorId: string;
  readonly emrId: string;
  /** required for reencrypt (the grant it serves); optional for download (absent when the patient reads) */
  readonly grantId?: string;
  /** modify only: the CID before and after */
  readonly beforeCid?: string;
  readonly afterCid?: string;
  readonly timestamp: string;
}

const FIELDS = ['id', 'kind', 'actorId', 'emrId', 'grantId', 'beforeCid', 'afterCid', 'timestamp'];
const cid = (v: unknown, field: string): string => string(v, field, { max: 256, pattern: /^[A-Za-z0-9]+$/, shape: 'an IPFS CID' });

export function parseOperationRecord(input: unknown, field = 'operation'): OperationRecord {
  const o = object(input, field, FIELDS);
  const kind = oneOf(o.kind, `${field}.kind`, OPERATION_KINDS);
  const grantId = optional(o.grantId, (v) => id(v, `${field}.grantId`));
  const beforeCid = optional(o.beforeCid, (v) => cid(v, `${field}.beforeCid`));
  const afterCid = optional(o.afterCid, (v) => cid(v, `${field}.afterCid`));
  if (kind === 'reencrypt' && grantId === undefined) throw invalid(`${field}.grantId`, 'is required for a reencrypt operation');
  if (kind === 'query' && grantId !== undefined) throw invalid(`${field}.grantId`, 'must be absent for a query');
  if (kind === 'modify') {
    if (beforeCid === undefined) throw invalid(`${field}.beforeCid`, 'is required for a modify operation');
    if (afterCid === undefined) throw invalid(`${field}.afterCid`, 'is required for a modify operation');
    if (beforeCid === afterCid) throw invalid(`${field}.afterCid`, 'must differ from beforeCid');
  } else {
    if (beforeCid !== undefined) throw invalid(`${field}.beforeCid`, `must be absent for a ${kind} operation`);
    if (afterCid !== undefined) throw invalid(`${field}.afterCid`, `must be absent for a ${kind} operation`);
  }
  return deepFreeze({
    id: id(o.id, `${field}.id`),
    kind,
    actorId: participantId(o.actorId, `${field}.actorId`),
    emrId: id(o.emrId, `${field}.emrId`),
    ...(grantId === undefined ? {} : { grantId }),
    ...(beforeCid === undefined ? {} : { beforeCid }),
    ...(afterCid === undefined ? {} : { afterCid }),
    timestamp: isoTime(o.timestamp, `${field}.timestamp`),
  });
}
