/** Access requests (Algorithm 2): pending until the patient approves or denies, exactly once. */
import { ContractError, invalid } from './errors.js';
import { participantId } from './participant.js';
import { deepFreeze, id, isoTime, millis, object, oneOf, optional, string } from './validate.js';

export const REQUEST_STATUSES = ['pending', 'approved', 'denied'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export interface AccessRequest {
  readonly id: string;
  readonly emrId: string;
  readonly requesterId: string;
  readonly purpose: string;
  readonly status: RequestStatus;
  readonly createdAt: string;
  /** present exactly when status is not pending */
  readonly decidedAt?: string;
}

const FIELDS = ['id', 'emrId', 'requesterId', 'purpose', 'status', 'createdAt', 'decidedAt'];

export function parseAccessRequest(input: unknown, field = 'request'): AccessRequest {
  const o = object(input, field, FIELDS);
  const status = oneOf(o.status, `${field}.status`, REQUEST_STATUSES);
  const createdAt = isoTime(o.createdAt, `${field}.createdAt`);
  const decidedAt = optional(o.decidedAt, (v) => isoTime(v, `${field}.decidedAt`));
  if (status === 'pending' && decidedAt !== undefined) throw invalid(`${field}.decidedAt`, 'must be absent while pending');
  if (status !== 'pending' && decidedAt === undefined) throw invalid(`${field}.decidedAt`, `is required when ${status}`);
  if (decidedAt !== undefined && millis(decidedAt) < millis(createdAt)) throw invalid(`${field}.decidedAt`, 'must not precede createdAt');
  return deepFreeze({
    id: id(o.id, `${field}.id`),
    emrId: id(o.emrId, `${field}.emrId`),
    requesterId: participantId(o.requesterId, `${field}.requesterId`),
    purpose: string(o.purpose, `${field}.purpose`, { max: 512 }),
    status,
    createdAt,
    ...(decidedAt === undefined ? {} : { decidedAt }),
  });
}

/** The request after the patient's decision at `now`; CONFLICT unless it is still pending. */
export function decideRequest(request: AccessRequest, decision: 'approved' | 'denied', now: string): AccessRequest {
  if (request.status !== 'pending') throw new ContractError('CONFLICT', `request ${request.id} is already ${request.status}`);
  return parseAccessRequest({ ...request, status: decision, decidedAt: isoTime(now, 'now') });
}
