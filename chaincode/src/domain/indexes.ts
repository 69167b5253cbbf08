/**
 * Composite-key indexes for search without rich queries (works on LevelDB). Each index is an object type and an
 * attribute order; the last attribute is always the indexed object's id, so a partial key of the leading
 * attributes lists matches (ChaincodeStub.getStateByPartialCompositeKeyWithPagination, bookmark + page size) and
 * every key is unique. Index entries hold an empty value (a single 0x00 byte on Fabric, which rejects empty
 * values in some versions); the object itself is read from its primary key.
 */
import { invalid } from './errors.js';
import type { Grant } from './grant.js';
import type { OperationRecord } from './operation.js';
import type { AccessRequest } from './request.js';
import type { EmrRecord } from './record.js';

export interface IndexDefinition {
  readonly objectType: string;
  readonly attributes: readonly string[];
}

/** Primary-key object types: key = createCompositeKey(type, [id]). */
export const OBJECT_TYPES = Object.freeze({
  participant: 'pie.participant',
  record: 'pie.emr',
  request: 'pie.request',
  grant: 'pie.grant',
  operation: 'pie.operation',
  credit: 'pie.credit',
  /** the newest version of a record chain: [firstVersionId] → id of the head */
  recordHead: 'pie.emr.head',
  /** every record's chain: [recordId] → id of the chain's first version */
  recordRoot: 'pie.emr.root',
  /** a record chain's policy set by the patient: [firstVersionId] → AccessPolicy */
  recordPolicy: 'pie.policy',
  /** a patient's default policy for records created from then on: [patientId] → AccessPolicy */
  patientPolicy: 'pie.policy.patient',
  /** replay markers of signed actions: [sha256 hex of the signed bytes] */
  action: 'pie.action',
  /** registered public keys (signing and encryption alike): [keyHex] → participant id */
  participantKey: 'pie.participant~key',
  /** the one pending request per requester and record: [emrId, requesterId] → request id */
  pendingRequest: 'pie.request~pending',
  /** re-encryption proxies: [proxyId] → RegisteredProxy */
  proxy: 'pie.proxy',
  /** registered proxy keys: [keyHex] → proxy id */
  proxyKey: 'pie.proxy~key',
});

export const RECORD_INDEXES = Object.freeze({
  patient: { objectType: 'pie.emr~patient', attributes: ['patientId', 'recordId'] },
  author: { objectType: 'pie.emr~author', attributes: ['authorId', 'recordId'] },
  hospital: { objectType: 'pie.emr~hospital', attributes: ['hospital', 'recordId'] },
  category: { objectType: 'pie.emr~category', attributes: ['category', 'recordId'] },
  securityLevel: { objectType: 'pie.emr~level', attributes: ['securityLevel', 'recordId'] },
  code: { objectType: 'pie.emr~code', attributes: ['system', 'code', 'recordId'] },
  year: { objectType: 'pie.emr~year', attributes: ['year', 'recordId'] },
  gender: { objectType: 'pie.emr~gender', attributes: ['gender', 'recordId'] },
  ageBand: { objectType: 'pie.emr~ageband', attributes: ['ageBand', 'recordId'] },
  /** the envelope's IPFS CID: storage nodes ask whether content is recorded before collecting it as an orphan */
  cid: { objectType: 'pie.emr~cid', attributes: ['cid', 'recordId'] },
} satisfies Record<string, IndexDefinition>);
export type RecordIndexName = keyof typeof RECORD_INDEXES;

export const GRANT_INDEXES = Object.freeze({
  record: { objectType: 'pie.grant~emr', attributes: ['emrId', 'grantId'] },
  grantee: { objectType: 'pie.grant~grantee', attributes: ['granteeId', 'grantId'] },
  /** every grant on a patient's records (ordinary and emergency), so a patient lists them in one scan */
  patient: { objectType: 'pie.grant~patient', attributes: ['patientId', 'grantId'] },
  /** a grantee's grants on one record: what an access check needs, however many grants the grantee holds elsewhere */
  granteeRecord: { objectType: 'pie.grant~grantee~emr', attributes: ['granteeId', 'emrId', 'grantId'] },
} satisfies Record<string, IndexDefinition>);

export const REQUEST_INDEXES = Object.freeze({
  record: { objectType: 'pie.request~emr', attributes: ['emrId', 'requestId'] },
  requester: { objectType: 'pie.request~requester', attributes: ['requesterId', 'requestId'] },
  /** every request for a patient's records */
  patient: { objectType: 'pie.request~patient', attributes: ['patientId', 'requestId'] },
} satisfies Record<string, IndexDefinition>);

/** Operation records by record version, so that a record's audit trail lists every access to it. */
export const OPERATION_INDEXES = Object.freeze({
  record: { objectType: 'pie.operation~emr', attributes: ['emrId', 'operationId'] },
} satisfies Record<string, IndexDefinition>);

/** Break-glass grants by patient, so that a patient can list every emergency access to the patient's records. */
export const EMERGENCY_GRANT_INDEX: IndexDefinition = Object.freeze({ objectType: 'pie.grant~emergency', attributes: ['patientId', 'grantId'] });

export interface IndexEntry {
  readonly objectType: string;
  readonly attributes: readonly string[];
}

/** Years as 4 digits, so keys sort numerically. */
export const yearAttribute = (year: number): string => String(year).padStart(4, '0');

/** `system|code` → [system, code] (the summary parser guarantees exactly one `|`). */
export function splitCode(coded: string): [string, string] {
  const i = coded.indexOf('|');
  return [coded.slice(0, i), coded.slice(i + 1)];
}

/** Every index entry for a record: one per index, one per coded concept. */
export function recordIndexEntries(record: EmrRecord): IndexEntry[] {
  const r = record;
  const I = RECORD_INDEXES;
  return [
    { objectType: I.patient.objectType, attributes: [r.patientId, r.id] },
    { objectType: I.author.objectType, attributes: [r.authorId, r.id] },
    { objectType: I.hospital.objectType, attributes: [r.hospital, r.id] },
    { objectType: I.category.objectType, attributes: [r.summary.category, r.id] },
    { objectType: I.securityLevel.objectType, attributes: [r.summary.securityLevel, r.id] },
    ...r.summary.codes.map((c) => ({ objectType: I.code.objectType, attributes: [...splitCode(c), r.id] })),
    { objectType: I.year.objectType, attributes: [yearAttribute(r.summary.year), r.id] },
    ...(r.summary.gender !== undefined ? [{ objectType: I.gender.objectType, attributes: [r.summary.gender, r.id] }] : []),
    ...(r.summary.ageBand !== undefined ? [{ objectType: I.ageBand.objectType, attributes: [r.summary.ageBand, r.id] }] : []),
    { objectType: I.cid.objectType, attributes: [r.metadata.cid, r.id] },
  ];
}

/** A grant's index entries; `patientId` is its record's patient (a grant does not carry it). */
export const grantIndexEntries = (g: Grant, patientId: string): IndexEntry[] => [
  { objectType: GRANT_INDEXES.record.objectType, attributes: [g.emrId, g.id] },
  { objectType: GRANT_INDEXES.grantee.objectType, attributes: [g.granteeId, g.id] },
  { objectType: GRANT_INDEXES.patient.objectType, attributes: [patientId, g.id] },
  { objectType: GRANT_INDEXES.granteeRecord.objectType, attributes: [g.granteeId, g.emrId, g.id] },
];

/** A request's index entries; `patientId` is its record's patient. */
export const requestIndexEntries = (q: AccessRequest, patientId: string): IndexEntry[] => [
  { objectType: REQUEST_INDEXES.record.objectType, attributes: [q.emrId, q.id] },
  { objectType: REQUEST_INDEXES.requester.objectType, attributes: [q.requesterId, q.id] },
  { objectType: REQUEST_INDEXES.patient.objectType, attributes: [patientId, q.id] },
];

export const operationIndexEntries = (op: OperationRecord): IndexEntry[] => [{ objectType: OPERATION_INDEXES.record.objectType, attributes: [op.emrId, op.id] }];

export const emergencyGrantIndexEntry = (g: Grant, patientId: string): IndexEntry => ({
  objectType: EMERGENCY_GRANT_INDEX.objectType,
  attributes: [patientId, g.id],
});

/**
 * The partial-key attributes for a search on `index` by its leading values (at least `minValues`, never the id).
 * No values lists the whole index (every record, in the index's order).
 */
export function indexQuery(index: IndexDefinition, values: readonly string[], minValues = 1): string[] {
  const max = index.attributes.length - 1;
  if (values.length < minValues || values.length > max) {
    throw invalid('query', `${index.objectType} is searched by ${minValues} to ${max} of ${index.attributes.slice(0, max).join(', ')}`);
  }
  values.forEach((v, i) => {
    // eslint-disable-next-line no-control-regex
    if (typeof v !== 'string' || v.length === 0 || v.length > 512 || /[\u0000\u{10ffff}]/u.test(v)) {
      throw invalid(`query.${index.attributes[i]}`, 'must be a non-empty string without U+0000 or U+10FFFF');
    }
  });
  return [...values];
}

/** Page sizes for paginated searches. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
