/**
 * EMR records (Table 4) and their version chains. A record is authorised by its author's signature over its
 * content; the transaction only adds the timestamp. Every chain has a root (its first version's id), under which the
 * head (newest version) and the patient's chain policy are kept; every record points to its root.
 */
import {
  ContractError,
  OBJECT_TYPES,
  assertAuthorSignature,
  assertValidSuccessor,
  canonicalJson,
  invalid,
  MAX_BATCH_RECORDS,
  parseEmrRecord,
  recordIndexEntries,
} from '../domain/index.js';
import type { EmrRecord } from '../domain/index.js';
import { isPlainObject } from '../domain/validate.js';
import type { Ledger } from '../ledger.js';
import { idArgument, idListArgument, jsonArgument } from './args.js';

/**
 * CreateRecord: a first version, or the next version of a chain (data version update / key rotation). The
 * submitting organisation must be the author's, the author an active physician (or the patient uploading the
 * patient's own data), the policy the patient's current default, and a new version must follow the chain's head.
 * Record ids are chosen by the client and signed, so a replayed submission is a CONFLICT.
 */
export async function createRecord(l: Ledger, recordJson: string): Promise<EmrRecord> {
  const record = await storeRecord(l, jsonArgument(recordJson, 'record'));
  l.emit('RecordCreated', recordEvent(record));
  return record;
}

/**
 * CreateRecords: the first versions of several records in one transaction, so an upload that yields several EMRs
 * (a FHIR Bundle split into groups) is on the ledger entirely or not at all. Each record passes CreateRecord's
 * checks. Data version updates are refused here: a transaction does not read its own writes, so a batch could not
 * see the chain head an earlier item moved.
 */
export async function createRecords(l: Ledger, recordsJson: string): Promise<EmrRecord[]> {
  const input = jsonArgument(recordsJson, 'records');
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_BATCH_RECORDS) {
    throw invalid('records', `must be an array of 1 to ${MAX_BATCH_RECORDS} records`);
  }
  const ids = new Set<string>();
  const records: EmrRecord[] = [];
  for (const [i, item] of input.entries()) {
    const field = `records[${i}]`;
    if (!isPlainObject(item)) throw invalid(field, 'must be an object');
    if ('previousId' in item) throw invalid(`${field}.previousId`, 'a data version update goes alone through CreateRecord');
    if (typeof item.id === 'string' && ids.has(item.id)) throw new ContractError('CONFLICT', `${field}.id: ${item.id} appears twice in the batch`);
    try {
      records.push(await storeRecord(l, item));
    } catch (e) {
      if (e instanceof ContractError) throw new ContractError(e.code, `${field}: ${e.message}`);
      throw e;
    }
    ids.add(records[records.length - 1]!.id);
  }
  l.emit('RecordsCreated', { records: records.map(recordEvent) });
  return records;
}

const recordEvent = (r: EmrRecord) => ({ recordId: r.id, patientId: r.patientId, hospital: r.hospital, version: r.version, previousId: r.previousId });

/** Checks a record against the contract's rules and writes it with its chain pointers and indexes. */
async function storeRecord(l: Ledger, input: unknown): Promise<EmrRecord> {
  if (!isPlainObject(input)) throw invalid('record', 'must be an object');
  if ('timestamp' in input) throw invalid('record.timestamp', 'is set by the contract (the transaction time); leave it out');
  const record = parseEmrRecord({ ...input, timestamp: l.now });
  if (await l.exists('record', record.id)) throw new ContractError('CONFLICT', `record ${record.id} already exists`);

  const author = await l.get('participant', record.authorId);
  if (!author) throw new ContractError('NOT_FOUND', `record.authorId: participant ${record.authorId} not found`);
  await assertAuthorSignature(record, author.signingKey);
  if (l.callerMsp !== author.org) {
    throw new ContractError('FORBIDDEN', `caller: ${l.callerMsp} may not submit records authored by a participant of ${author.org}`);
  }
  if (record.hospital !== author.org) throw new ContractError('FORBIDDEN', `record.hospital: must be the author's organisation ${author.org}`);
  if (author.status !== 'active') throw new ContractError('FORBIDDEN', `record.authorId: participant ${author.id} is ${author.status}`);
  const selfUpload = record.authorId === record.patientId;
  if (author.kind !== 'physician' && !(selfUpload && author.kind === 'patient')) {
    throw new ContractError('FORBIDDEN', `record.authorId: a ${author.kind} may not author records (only a physician, or the patient for the patient's own data)`);
  }
  const patient = selfUpload ? author : await l.get('participant', record.patientId);
  if (!patient) throw new ContractError('NOT_FOUND', `record.patientId: participant ${record.patientId} not found`);
  if (patient.kind !== 'patient') throw invalid('record.patientId', `participant ${patient.id} is a ${patient.kind}, not a patient`);
  if (patient.status !== 'active') throw new ContractError('FORBIDDEN', `record.patientId: patient ${patient.id} is ${patient.status}`);

  let rootId = record.id;
  if (record.previousId !== undefined) {
    const previous = await l.get('record', record.previousId);
    if (!previous) throw new ContractError('NOT_FOUND', `record.previousId: record ${record.previousId} not found`);
    rootId = await l.rootOf(previous.id);
    const head = await l.headOf(rootId);
    if (head !== previous.id) {
      throw new ContractError('CONFLICT', `record.previousId: record ${previous.id} is superseded by ${head}; a new version must follow the head`);
    }
    assertValidSuccessor(previous, record);
    const root = rootId === previous.id ? previous : await l.require('record', rootId);
    if (!selfUpload && record.authorId !== root.authorId) {
      throw new ContractError('FORBIDDEN', `record.authorId: a new version may be authored only by the patient or by ${root.authorId}, the author of version 1`);
    }
  }
  // The author cannot choose the patient's policy: it must be the one the patient set for new records.
  const policy = await l.patientPolicy(patient.id);
  if (canonicalJson(record.policy) !== canonicalJson(policy)) {
    throw invalid('record.policy', `must be the patient's current policy (GetPatientPolicy ${patient.id})`);
  }

  await l.put('record', record);
  await l.writeText(l.key(OBJECT_TYPES.recordRoot, record.id), rootId);
  await l.writeText(l.key(OBJECT_TYPES.recordHead, rootId), record.id);
  await l.writeIndex(recordIndexEntries(record));
  return record;
}

export async function getRecord(l: Ledger, id: string): Promise<EmrRecord> {
  return l.require('record', idArgument(id, 'recordId'));
}

/** GetRecords: several records in one evaluation (null where an id is unknown), for a client's batch loads. */
export async function getRecords(l: Ledger, idsJson: string): Promise<(EmrRecord | null)[]> {
  const ids = idListArgument(idsJson, 'recordIds', (v, f) => idArgument(v as string, f));
  return Promise.all(ids.map(async (id) => (await l.get('record', id)) ?? null));
}

/** The newest version of the chain that contains `id`. */
export async function getRecordHead(l: Ledger, id: string): Promise<EmrRecord> {
  return l.require('record', await l.headOfChainContaining(idArgument(id, 'recordId')));
}

/** Every version of the chain that contains `id`, oldest first. */
export async function getRecordVersions(l: Ledger, id: string): Promise<EmrRecord[]> {
  const versions: EmrRecord[] = [];
  let next: string | undefined = await l.headOfChainContaining(idArgument(id, 'recordId'));
  while (next !== undefined) {
    const record: EmrRecord = await l.require('record', next);
    versions.push(record);
    next = record.previousId;
  }
  return versions.reverse();
}
