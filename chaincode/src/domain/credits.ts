/**
 * Credits (seed 004's incentive): an approval and a served access each add to the patient's balance and to the
 * authoring hospital's (organisation's) balance.
 */
import { ContractError, invalid } from './errors.js';
import type { OperationRecord } from './operation.js';
import { MSP_ID, PARTICIPANT_ID } from './participant.js';
import type { EmrRecord } from './record.js';
import { deepFreeze, integer, object, oneOf, string } from './validate.js';

export type CreditHolderType = 'participant' | 'org';
export interface CreditBalance {
  readonly holderType: CreditHolderType;
  /** a participant id, or an organisation's MSP id */
  readonly holderId: string;
  readonly balance: number;
}
export interface CreditEntry {
  readonly holderType: CreditHolderType;
  readonly holderId: string;
  readonly amount: number;
}

export type CreditEvent = 'approval' | 'served-access';
export const CREDIT_AMOUNTS: Readonly<Record<CreditEvent, { readonly patient: number; readonly hospital: number }>> = deepFreeze({
  approval: { patient: 1, hospital: 1 },
  'served-access': { patient: 1, hospital: 1 },
});

/** What `event` on `record` credits: the patient and the authoring hospital. */
export function creditsFor(event: CreditEvent, record: EmrRecord): CreditEntry[] {
  const a = CREDIT_AMOUNTS[event];
  return [
    { holderType: 'participant', holderId: record.patientId, amount: a.patient },
    { holderType: 'org', holderId: record.hospital, amount: a.hospital },
  ];
}

/**
 * Credits for an operation record: a served access is a `reencrypt` operation (one per access the proxies serve)
 * by someone other than the patient. Queries, downloads and modifications earn nothing (downloads of ciphertext
 * cannot be proven; counting them too would credit one access twice).
 */
export function creditsForOperation(op: OperationRecord, record: EmrRecord): CreditEntry[] {
  return op.kind === 'reencrypt' && op.actorId !== record.patientId ? creditsFor('served-access', record) : [];
}

export function parseCreditBalance(input: unknown, field = 'credit'): CreditBalance {
  const o = object(input, field, ['holderType', 'holderId', 'balance']);
  const holderType = oneOf(o.holderType, `${field}.holderType`, ['participant', 'org'] as const);
  const holderId =
    holderType === 'participant'
      ? string(o.holderId, `${field}.holderId`, { min: 32, max: 32, pattern: PARTICIPANT_ID, shape: 'a participant id' })
      : string(o.holderId, `${field}.holderId`, { max: 64, pattern: MSP_ID, shape: 'an MSP id' });
  return deepFreeze({ holderType, holderId, balance: integer(o.balance, `${field}.balance`, 0, Number.MAX_SAFE_INTEGER) });
}

/** The balance after `entry` (a missing balance starts at 0). */
export function applyCredit(balance: CreditBalance | undefined, entry: CreditEntry): CreditBalance {
  if (balance && (balance.holderType !== entry.holderType || balance.holderId !== entry.holderId)) {
    throw invalid('credit.holderId', `entry for ${entry.holderType} ${entry.holderId} applied to ${balance.holderType} ${balance.holderId}`);
  }
  const next = (balance?.balance ?? 0) + entry.amount;
  if (!Number.isSafeInteger(next) || next < 0) throw new ContractError('CONFLICT', `credit.balance: out of range for ${entry.holderType} ${entry.holderId}`);
  return parseCreditBalance({ holderType: entry.holderType, holderId: entry.holderId, balance: next });
}
