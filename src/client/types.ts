/**
 * What the sharing SDK reads from the node, typed, with the GraphQL selections that fetch it (docs/sharing.md,
 * docs/schema.graphql). Enum values are GraphQL names (PATIENT, PENDING, TREATING, …); times are ISO 8601 strings.
 */

export interface ParticipantInfo {
  id: string;
  kind: string;
  clearance: string;
  org: string;
  roles: string[];
  status: string;
  /** compressed secp256k1, hex */
  signingKey: string;
  /** compressed secp256k1, hex */
  encryptionKey: string;
}
export const PARTICIPANT_FIELDS = 'id kind clearance org roles status signingKey encryptionKey';

export interface RecordSummaryInfo {
  category: string;
  securityLevel: string;
  year: number;
  codes: string[];
  resourceTypes: string[];
  labels: string[];
  gender: string | null;
  ageBand: string | null;
}

export interface RecordMetadataInfo {
  cid: string;
  size: number;
  contentHash: string;
  capsule: string;
  envelopeVersion: number;
  mediaType: string;
}

export interface EmrRecordInfo {
  id: string;
  version: number;
  previousId: string | null;
  patientId: string;
  authorId: string;
  hospital: string;
  timestamp: string;
  summary: RecordSummaryInfo;
  /** null unless the caller is the patient, the author or holds a live grant */
  metadata: RecordMetadataInfo | null;
}
export const RECORD_FIELDS =
  'id version previousId patientId authorId hospital timestamp summary { category securityLevel year codes resourceTypes labels gender ageBand } metadata { cid size contentHash capsule envelopeVersion mediaType }';

export type AccessRequestStatus = 'PENDING' | 'APPROVED' | 'DENIED';

export interface AccessRequestInfo {
  id: string;
  emrId: string;
  requesterId: string;
  purpose: string;
  status: AccessRequestStatus;
  createdAt: string;
  decidedAt: string | null;
}
export const REQUEST_FIELDS = 'id emrId requesterId purpose status createdAt decidedAt';

export type GrantKind = 'STANDARD' | 'TREATING' | 'EMERGENCY';

export interface GrantInfo {
  id: string;
  emrId: string;
  granteeId: string;
  requestId: string | null;
  kind: GrantKind;
  /** whether the ledger honours the grant now */
  live: boolean;
  notBefore: string;
  notAfter: string;
  threshold: number;
  shares: number;
  revokedAt: string | null;
  /** break-glass only */
  justification: string | null;
}
export const GRANT_FIELDS = 'id emrId granteeId requestId kind live notBefore notAfter threshold shares revokedAt justification';

/** A re-encryption proxy registered on the ledger by its organisation. */
export interface ProxyInfo {
  id: string;
  organisation: string;
  /** compressed secp256k1, hex */
  encryptionKey: string;
}
export const PROXY_FIELDS = 'id organisation encryptionKey';

/** openEmr's answer (docs/sharing.md, EmrOpening). */
export interface EmrOpeningInfo {
  record: EmrRecordInfo;
  operationId: string;
  grantId: string | null;
  cid: string;
  size: number;
  contentHash: string;
  mediaType: string;
  /** base64 */
  capsule: string;
  threshold: number;
  /** base64 CapsuleFrag bytes */
  cfrags: string[];
  /** the patient's encryption public key, hex */
  delegatingKey: string;
  /** the patient's signing public key, hex */
  verifyingKey: string;
  /** the encrypted envelope, base64, inline when small (null: GET /blobs/:cid); asked for by open() only */
  envelope?: string | null;
  /** break-glass: the DEK sealed to the caller's encryption key */
  emergencyKey: string | null;
}
export const OPENING_FIELDS = `record { ${RECORD_FIELDS} } operationId grantId cid size contentHash mediaType capsule threshold cfrags delegatingKey verifyingKey emergencyKey`;

export interface AuditEntryInfo {
  objectType: string;
  objectId: string;
  transactionId: string;
  timestamp: string;
  deleted: boolean;
  /** the object after this change */
  value: Record<string, unknown> | null;
}
export const AUDIT_FIELDS = 'objectType objectId transactionId timestamp deleted value';

export interface CreditBalanceInfo {
  participant: number;
  organisation: number;
}

/** The draft prepareRotateEmrKey answers (the record without signature, and the exact bytes to sign). */
export interface EmrDraftInfo {
  draftId: string;
  expiresAt: string;
  record: Record<string, unknown>;
  signingPayload: string;
}
