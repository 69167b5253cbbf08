/**
 * The PIE contract: one method per transaction (the method names are the wire names), each delegating to the
 * module named after what it does. Arguments are strings (objects as JSON text) and results are canonical JSON
 * text, so fabric-contract-api's serializer never reshapes data.
 */
import fabricContractApi from 'fabric-contract-api';
import { PieContext } from './context.js';
import { ContractError, canonicalJson } from './domain/index.js';
import * as access from './tx/access.js';
import * as operations from './tx/operations.js';
import * as participants from './tx/participants.js';
import * as policies from './tx/policies.js';
import * as proxies from './tx/proxies.js';
import * as queries from './tx/queries.js';
import * as records from './tx/records.js';

// fabric-contract-api is CommonJS: a default import works both compiled to CommonJS and run as native ESM.
const { Contract, Info, Returns, Transaction } = fabricContractApi;

const json = async (result: Promise<unknown>): Promise<string> => canonicalJson(await result);

/**
 * The message of a failed transaction. fabric-shim answers a failed transaction with `error.message` alone, so the
 * code goes into the message: `[CODE] message`. Anything that is not a ContractError is an INTERNAL error; only
 * its first line is kept (no stack trace leaves the peer).
 */
export function failureMessage(err: unknown): string {
  if (err instanceof ContractError) return String(err);
  const text = err instanceof Error ? err.message : String(err);
  return `[INTERNAL] ${(text.split('\n')[0] ?? '').slice(0, 500)}`;
}

@Info({ title: 'PIE', description: 'Patient information exchange: participants, EMR records, policies, access, audit and credits' })
export class PieContract extends Contract {
  constructor() {
    super('pie');
  }

  override createContext(): PieContext {
    return new PieContext();
  }

  /** The one place transaction errors become `[CODE] message`. (`fn` is the method name; the typings say Function.) */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  override async aroundTransaction(ctx: PieContext, fn: Function, parameters: unknown): Promise<void> {
    try {
      return await super.aroundTransaction(ctx, fn, parameters);
    } catch (err) {
      throw new Error(failureMessage(err));
    }
  }

  override async unknownTransaction(ctx: PieContext): Promise<void> {
    throw new Error(failureMessage(new ContractError('NOT_FOUND', `transaction ${ctx.stub.getFunctionAndParameters().fcn}: no such transaction in contract pie`)));
  }

  // ---- participants -------------------------------------------------------------------------------------------------

  @Transaction()
  @Returns('string')
  async RegisterParticipant(ctx: PieContext, inputJson: string): Promise<string> {
    return json(participants.registerParticipant(ctx.ledger, inputJson));
  }

  @Transaction()
  @Returns('string')
  async SetParticipantStatus(ctx: PieContext, participantId: string, status: string): Promise<string> {
    return json(participants.setParticipantStatus(ctx.ledger, participantId, status));
  }

  @Transaction(false)
  @Returns('string')
  async GetParticipant(ctx: PieContext, participantId: string): Promise<string> {
    return json(participants.getParticipant(ctx.ledger, participantId));
  }

  @Transaction(false)
  @Returns('string')
  async GetParticipants(ctx: PieContext, participantIdsJson: string): Promise<string> {
    return json(participants.getParticipants(ctx.ledger, participantIdsJson));
  }

  // ---- re-encryption proxies ----------------------------------------------------------------------------------------

  @Transaction()
  @Returns('string')
  async RegisterProxy(ctx: PieContext, inputJson: string): Promise<string> {
    return json(proxies.registerProxy(ctx.ledger, inputJson));
  }

  @Transaction(false)
  @Returns('string')
  async GetProxies(ctx: PieContext): Promise<string> {
    return json(proxies.getProxies(ctx.ledger));
  }

  // ---- records ------------------------------------------------------------------------------------------------------

  @Transaction()
  @Returns('string')
  async CreateRecord(ctx: PieContext, recordJson: string): Promise<string> {
    return json(records.createRecord(ctx.ledger, recordJson));
  }

  @Transaction()
  @Returns('string')
  async CreateRecords(ctx: PieContext, recordsJson: string): Promise<string> {
    return json(records.createRecords(ctx.ledger, recordsJson));
  }

  @Transaction(false)
  @Returns('string')
  async GetRecord(ctx: PieContext, recordId: string): Promise<string> {
    return json(records.getRecord(ctx.ledger, recordId));
  }

  @Transaction(false)
  @Returns('string')
  async GetRecords(ctx: PieContext, recordIdsJson: string): Promise<string> {
    return json(records.getRecords(ctx.ledger, recordIdsJson));
  }

  @Transaction(false)
  @Returns('string')
  async GetRecordHead(ctx: PieContext, recordId: string): Promise<string> {
    return json(records.getRecordHead(ctx.ledger, recordId));
  }

  @Transaction(false)
  @Returns('string')
  async GetRecordVersions(ctx: PieContext, recordId: string): Promise<string> {
    return json(records.getRecordVersions(ctx.ledger, recordId));
  }

  @Transaction(false)
  @Returns('string')
  async SearchRecords(ctx: PieContext, index: string, valuesJson: string, pageSize: string, bookmark: string): Promise<string> {
    return json(queries.searchRecords(ctx.ledger, index, valuesJson, pageSize, bookmark));
  }

  // ---- policies -----------------------------------------------------------------------------------------------------

  @Transaction()
  @Returns('string')
  async SetPatientPolicy(ctx: PieContext, actionJson: string): Promise<string> {
    return json(policies.setPatientPolicy(ctx.ledger, actionJson));
  }

  @Transaction()
  @Returns('string')
  async SetRecordPolicy(ctx: PieContext, actionJson: string): Promise<string> {
    return json(policies.setRecordPolicy(ctx.ledger, actionJson));
  }

  @Transaction(false)
  @Returns('string')
  async GetEffectivePolicy(ctx: PieContext, emrId: string): Promise<string> {
    return json(policies.getEffectivePolicy(ctx.ledger, emrId));
  }

  @Transaction(false)
  @Returns('string')
  async GetPatientPolicy(ctx: PieContext, patientId: string): Promise<string> {
    return json(policies.getPatientPolicy(ctx.ledger, patientId));
  }

  // ---- access -------------------------------------------------------------------------------------------------------

  @Transaction()
  @Returns('string')
  async RequestAccess(ctx: PieContext, actionJson: string): Promise<string> {
    return json(access.requestAccess(ctx.ledger, actionJson));
  }

  @Transaction()
  @Returns('string')
  async ApproveRequest(ctx: PieContext, actionJson: string): Promise<string> {
    return json(access.approveRequest(ctx.ledger, actionJson));
  }

  @Transaction()
  @Returns('string')
  async DenyRequest(ctx: PieContext, actionJson: string): Promise<string> {
    return json(access.denyRequest(ctx.ledger, actionJson));
  }

  @Transaction()
  @Returns('string')
  async GrantAccess(ctx: PieContext, actionJson: string): Promise<string> {
    return json(access.grantAccess(ctx.ledger, actionJson));
  }

  @Transaction()
  @Returns('string')
  async RevokeGrant(ctx: PieContext, actionJson: string): Promise<string> {
    return json(access.revoke(ctx.ledger, actionJson));
  }

  @Transaction()
  @Returns('string')
  async BreakGlass(ctx: PieContext, actionJson: string): Promise<string> {
    return json(access.breakGlass(ctx.ledger, actionJson));
  }

  @Transaction(false)
  @Returns('string')
  async GetRequest(ctx: PieContext, requestId: string): Promise<string> {
    return json(access.getRequest(ctx.ledger, requestId));
  }

  @Transaction(false)
  @Returns('string')
  async GetGrant(ctx: PieContext, grantId: string): Promise<string> {
    return json(access.getGrant(ctx.ledger, grantId));
  }

  @Transaction(false)
  @Returns('string')
  async IsGrantLive(ctx: PieContext, grantId: string): Promise<string> {
    return json(access.isGrantLive(ctx.ledger, grantId));
  }

  @Transaction(false)
  @Returns('string')
  async ListRequests(ctx: PieContext, by: string, id: string, pageSize: string, bookmark: string): Promise<string> {
    return json(queries.listRequests(ctx.ledger, by, id, pageSize, bookmark));
  }

  @Transaction(false)
  @Returns('string')
  async ListGrants(ctx: PieContext, by: string, id: string, pageSize: string, bookmark: string): Promise<string> {
    return json(queries.listGrants(ctx.ledger, by, id, pageSize, bookmark));
  }

  @Transaction(false)
  @Returns('string')
  async ListGranteeGrants(ctx: PieContext, granteeId: string, emrId: string, pageSize: string, bookmark: string): Promise<string> {
    return json(queries.listGranteeGrants(ctx.ledger, granteeId, emrId, pageSize, bookmark));
  }

  @Transaction(false)
  @Returns('string')
  async ListEmergencyGrants(ctx: PieContext, patientId: string, pageSize: string, bookmark: string): Promise<string> {
    return json(queries.listEmergencyGrants(ctx.ledger, patientId, pageSize, bookmark));
  }

  // ---- operations, audit, credits -----------------------------------------------------------------------------------

  @Transaction()
  @Returns('string')
  async RecordOperation(ctx: PieContext, actionJson: string): Promise<string> {
    return json(operations.recordOperation(ctx.ledger, actionJson));
  }

  @Transaction(false)
  @Returns('string')
  async GetOperation(ctx: PieContext, operationId: string): Promise<string> {
    return json(operations.getOperation(ctx.ledger, operationId));
  }

  @Transaction(false)
  @Returns('string')
  async ListOperations(ctx: PieContext, by: string, id: string, pageSize: string, bookmark: string): Promise<string> {
    return json(queries.listOperations(ctx.ledger, by, id, pageSize, bookmark));
  }

  @Transaction(false)
  @Returns('string')
  async GetHistory(ctx: PieContext, objectType: string, id: string): Promise<string> {
    return json(queries.getHistory(ctx.ledger, objectType, id));
  }

  @Transaction(false)
  @Returns('string')
  async GetCredits(ctx: PieContext, holderType: string, holderId: string): Promise<string> {
    return json(queries.getCredits(ctx.ledger, holderType, holderId));
  }
}
