/**
 * GraphQL enums. Each TypeScript enum's values are the ledger's own strings (chaincode/src/domain), so ledger objects
 * pass through resolvers unchanged and GraphQL shows the conventional UPPER_CASE names.
 */
import { registerEnumType } from 'type-graphql';
import type { Category, Gender, OperationKind, ParticipantKind, ParticipantStatus, RequestStatus, SecurityLevel } from '../../chaincode/src/domain/index.js';

export enum SecurityLevelEnum {
  LOW = 'LOW',
  MODERATE = 'MODERATE',
  PRIVATE = 'PRIVATE',
}
export enum ParticipantKindEnum {
  PATIENT = 'patient',
  PHYSICIAN = 'physician',
  RESEARCHER = 'researcher',
  INSURER = 'insurer',
  ORG_ADMIN = 'org-admin',
}
export enum ParticipantStatusEnum {
  ACTIVE = 'active',
  SUSPENDED = 'suspended',
}
export enum EmrCategoryEnum {
  MEDICAL_INFORMATION = 'medical-information',
  ADMISSION_RECORD = 'admission-record',
  PRESCRIPTION = 'prescription',
  MEDICAL_IMAGING = 'medical-imaging',
  CLINICAL_TRIAL_DEVICE = 'clinical-trial-device',
  CLINICAL_TRIAL_MEDICINE = 'clinical-trial-medicine',
  CLINICAL_TRIAL_OBSERVATION = 'clinical-trial-observation',
  CLINICAL_TRIAL_OMICS = 'clinical-trial-omics',
  LIFELOG_SENSOR = 'lifelog-sensor',
  IDENTITY = 'identity',
}
export enum GenderEnum {
  MALE = 'male',
  FEMALE = 'female',
  OTHER = 'other',
  UNKNOWN = 'unknown',
}
export enum AccessRequestStatusEnum {
  PENDING = 'pending',
  APPROVED = 'approved',
  DENIED = 'denied',
}
/** treating: the record's author (Algorithm 1); standard: an approved request; emergency: break-glass */
export enum GrantKindEnum {
  TREATING = 'treating',
  STANDARD = 'standard',
  EMERGENCY = 'emergency',
}
export enum OperationKindEnum {
  QUERY = 'query',
  DOWNLOAD = 'download',
  REENCRYPT = 'reencrypt',
  MODIFY = 'modify',
}

// The enums must list exactly the ledger's values: a compile error here means the chaincode's vocabulary changed.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const vocabularyMatches: [
  Same<`${SecurityLevelEnum}`, SecurityLevel>,
  Same<`${ParticipantKindEnum}`, ParticipantKind>,
  Same<`${ParticipantStatusEnum}`, ParticipantStatus>,
  Same<`${EmrCategoryEnum}`, Category>,
  Same<`${GenderEnum}`, Gender>,
  Same<`${AccessRequestStatusEnum}`, RequestStatus>,
  Same<`${OperationKindEnum}`, OperationKind>,
] = [true, true, true, true, true, true, true];
void vocabularyMatches;

registerEnumType(SecurityLevelEnum, { name: 'SecurityLevel', description: 'the paper’s Table 5 levels, LOW < MODERATE < PRIVATE' });
registerEnumType(ParticipantKindEnum, { name: 'ParticipantKind' });
registerEnumType(ParticipantStatusEnum, { name: 'ParticipantStatus' });
registerEnumType(EmrCategoryEnum, { name: 'EmrCategory', description: 'the paper’s Table 5 classes of EMR information' });
registerEnumType(GenderEnum, { name: 'Gender', description: 'FHIR administrative gender' });
registerEnumType(AccessRequestStatusEnum, { name: 'AccessRequestStatus' });
registerEnumType(GrantKindEnum, { name: 'GrantKind' });
registerEnumType(OperationKindEnum, { name: 'OperationKind' });
