/**
 * Fabric's endorser-transaction messages, both directions:
 *
 * - `buildSignedProposal`: a proposal exactly as @hyperledger/fabric-gateway builds one (24-byte nonce,
 *   txId = hex(SHA-256(nonce ‖ creator)), NODE chaincode spec) — used by tests and the harness, which need to forge
 *   or time-shift proposals the real client will not produce.
 * - `decodeProposal`: what a peer checks and extracts from an incoming SignedProposal.
 * - `endorse` / `preparedTransaction`: the peer's ProposalResponse (signed by the peer identity, low-S) and the
 *   unsigned transaction envelope the Gateway returns from Endorse (transient data removed).
 * - `parseTransaction`: what the committer reads back out of an envelope in a block.
 */
import { createHash, randomBytes } from 'node:crypto';
import { common, msp, peer } from '@hyperledger/fabric-protos';
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { CodedError } from '../../errors.js';
import type { ChaincodeEventData, SimulationResult } from './chaincode-runner.js';
import type { SigningIdentity } from './msp.js';
import { encodeRwSets, decodeRwSets } from './rwset.js';
import type { NamespaceRwSet } from './world-state.js';

const { Timestamp } = timestampPb; // a CommonJS module without named ESM exports

export type TransactionErrorCode = 'MALFORMED' | 'BAD_TXID' | 'UNSUPPORTED';
export class TransactionError extends CodedError<TransactionErrorCode> {
  override readonly name = 'TransactionError';
}

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** msp.SerializedIdentity bytes of a member (the proposal's creator, an endorser). */
export function serializedIdentity(mspId: string, certificatePem: string): Uint8Array {
  const id = new msp.SerializedIdentity();
  id.setMspid(mspId);
  id.setIdBytes(utf8(certificatePem));
  return id.serializeBinary();
}

/** The transaction id Fabric derives from the signature header: hex(SHA-256(nonce ‖ creator)). */
export const computeTxId = (nonce: Uint8Array, creator: Uint8Array): string => hex(sha256(nonce, creator));

const toTimestamp = (d: Date): InstanceType<typeof Timestamp> => Timestamp.fromDate(d);

function decode<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new TransactionError('MALFORMED', `${what} cannot be decoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Client side: proposals
// ---------------------------------------------------------------------------------------------------------------

export interface ProposalOptions {
  identity: Pick<SigningIdentity, 'mspId' | 'certificatePem' | 'sign'>;
  channelId: string;
  chaincodeName: string;
  /** transaction name as the client sends it: "Fn" or "Contract:Fn" */
  fn: string;
  args?: readonly (string | Uint8Array)[];
  transient?: Readonly<Record<string, Uint8Array>>;
  /** the channel header timestamp (default now): what the chaincode sees as getTxTimestamp() */
  timestamp?: Date;
  nonce?: Uint8Array;
}

/** A signed proposal as the fabric-gateway client builds it (signature = creator's ECDSA over the proposal bytes). */
export function buildSignedProposal(o: ProposalOptions): { signedProposal: peer.SignedProposal; txId: string } {
  const nonce = o.nonce ?? randomBytes(24);
  const creator = serializedIdentity(o.identity.mspId, o.identity.certificatePem);
  const txId = computeTxId(nonce, creator);

  const ccId = new peer.ChaincodeID();
  ccId.setName(o.chaincodeName);
  const ext = new peer.ChaincodeHeaderExtension();
  ext.setChaincodeId(ccId);
  const ch = new common.ChannelHeader();
  ch.setType(common.HeaderType.ENDORSER_TRANSACTION);
  ch.setTxId(txId);
  ch.setTimestamp(toTimestamp(o.timestamp ?? new Date()));
  ch.setChannelId(o.channelId);
  ch.setExtension$(ext.serializeBinary());
  ch.setEpoch(0);
  const sh = new common.SignatureHeader();
  sh.setCreator(creator);
  sh.setNonce(nonce);
  const header = new common.Header();
  header.setChannelHeader(ch.serializeBinary());
  header.setSignatureHeader(sh.serializeBinary());

  const input = new peer.ChaincodeInput();
  input.setArgsList([o.fn, ...(o.args ?? [])].map((a) => (typeof a === 'string' ? utf8(a) : a)));
  const spec = new peer.ChaincodeSpec();
  spec.setType(peer.ChaincodeSpec.Type.NODE);
  spec.setChaincodeId(ccId);
  spec.setInput(input);
  const cis = new peer.ChaincodeInvocationSpec();
  cis.setChaincodeSpec(spec);
  const payload = new peer.ChaincodeProposalPayload();
  payload.setInput(cis.serializeBinary());
  for (const [k, v] of Object.entries(o.transient ?? {})) payload.getTransientmapMap().set(k, v);

  const proposal = new peer.Proposal();
  proposal.setHeader(header.serializeBinary());
  proposal.setPayload(payload.serializeBinary());
  const signedProposal = new peer.SignedProposal();
  const proposalBytes = proposal.serializeBinary();
  signedProposal.setProposalBytes(proposalBytes);
  signedProposal.setSignature(o.identity.sign(proposalBytes));
  return { signedProposal, txId };
}

// ---------------------------------------------------------------------------------------------------------------
// Peer side: reading a proposal
// ---------------------------------------------------------------------------------------------------------------

export interface Creator {
  readonly mspId: string;
  readonly certificatePem: string;
  /** the serialized msp.SerializedIdentity */
  readonly bytes: Uint8Array;
}

export interface DecodedProposal {
  readonly signedProposal: peer.SignedProposal;
  readonly proposalBytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly headerBytes: Uint8Array;
  readonly channelHeaderBytes: Uint8Array;
  readonly signatureHeaderBytes: Uint8Array;
  readonly payload: peer.ChaincodeProposalPayload;
  readonly creator: Creator;
  readonly txId: string;
  readonly channelId: string;
  readonly chaincodeName: string;
  readonly input: peer.ChaincodeInput;
  readonly timestamp: Date;
  /** the first argument: "Fn" or "Contract:Fn" */
  readonly transactionName: string;
}

/** Reads a serialized msp.SerializedIdentity; TransactionError MALFORMED when it is not one. */
export function decodeCreator(bytes: Uint8Array): Creator {
  const id = decode('creator (msp.SerializedIdentity)', () => msp.SerializedIdentity.deserializeBinary(bytes));
  return { mspId: id.getMspid(), certificatePem: new TextDecoder().decode(id.getIdBytes_asU8()), bytes };
}

/** Header checks shared by proposals and transactions: endorser type, txId binding, non-empty fields. */
function readHeader(headerBytes: Uint8Array, what: string) {
  const header = decode(`${what} header`, () => common.Header.deserializeBinary(headerBytes));
  const channelHeaderBytes = header.getChannelHeader_asU8();
  const signatureHeaderBytes = header.getSignatureHeader_asU8();
  const ch = decode(`${what} channel header`, () => common.ChannelHeader.deserializeBinary(channelHeaderBytes));
  const sh = decode(`${what} signature header`, () => common.SignatureHeader.deserializeBinary(signatureHeaderBytes));
  if (ch.getType() !== common.HeaderType.ENDORSER_TRANSACTION) {
    throw new TransactionError('UNSUPPORTED', `${what}: header type ${ch.getType()} is not ENDORSER_TRANSACTION`);
  }
  const nonce = sh.getNonce_asU8();
  if (nonce.length === 0) throw new TransactionError('MALFORMED', `${what}: empty nonce`);
  const creator = decodeCreator(sh.getCreator_asU8());
  if (creator.mspId === '' || creator.certificatePem === '') throw new TransactionError('MALFORMED', `${what}: empty creator`);
  const txId = ch.getTxId();
  if (txId !== computeTxId(nonce, creator.bytes)) {
    throw new TransactionError('BAD_TXID', `${what}: transaction id ${txId} is not SHA-256(nonce ‖ creator)`);
  }
  const ts = ch.getTimestamp();
  if (!ts) throw new TransactionError('MALFORMED', `${what}: channel header has no timestamp`);
  const ext = decode(`${what} chaincode header extension`, () => peer.ChaincodeHeaderExtension.deserializeBinary(ch.getExtension_asU8()));
  return {
    channelHeaderBytes,
    signatureHeaderBytes,
    creator,
    txId,
    channelId: ch.getChannelId(),
    chaincodeName: ext.getChaincodeId()?.getName() ?? '',
    timestamp: ts.toDate(),
    timestampPb: ts,
  };
}

/** Decodes and checks the structure of a SignedProposal (signature and membership are checked by the caller). */
export function decodeProposal(signedProposal: peer.SignedProposal): DecodedProposal {
  const proposalBytes = signedProposal.getProposalBytes_asU8();
  const signature = signedProposal.getSignature_asU8();
  if (proposalBytes.length === 0) throw new TransactionError('MALFORMED', 'proposal: empty proposal bytes');
  if (signature.length === 0) throw new TransactionError('MALFORMED', 'proposal: not signed');
  const proposal = decode('proposal', () => peer.Proposal.deserializeBinary(proposalBytes));
  const headerBytes = proposal.getHeader_asU8();
  const h = readHeader(headerBytes, 'proposal');
  const payload = decode('proposal payload', () => peer.ChaincodeProposalPayload.deserializeBinary(proposal.getPayload_asU8()));
  const cis = decode('chaincode invocation spec', () => peer.ChaincodeInvocationSpec.deserializeBinary(payload.getInput_asU8()));
  const spec = cis.getChaincodeSpec();
  const input = spec?.getInput();
  if (!spec || !input) throw new TransactionError('MALFORMED', 'proposal: no chaincode input');
  const specName = spec.getChaincodeId()?.getName() ?? '';
  if (h.chaincodeName === '' || specName !== h.chaincodeName) {
    throw new TransactionError('MALFORMED', `proposal: chaincode "${specName}" in the spec differs from "${h.chaincodeName}" in the header`);
  }
  const args = input.getArgsList_asU8();
  if (args.length === 0) throw new TransactionError('MALFORMED', 'proposal: no transaction name');
  return {
    signedProposal,
    proposalBytes,
    signature,
    headerBytes,
    channelHeaderBytes: h.channelHeaderBytes,
    signatureHeaderBytes: h.signatureHeaderBytes,
    payload,
    creator: h.creator,
    txId: h.txId,
    channelId: h.channelId,
    chaincodeName: h.chaincodeName,
    input,
    timestamp: h.timestamp,
    transactionName: new TextDecoder().decode(args[0]),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Peer side: endorsement and the prepared transaction
// ---------------------------------------------------------------------------------------------------------------

/** The proposal payload as it goes into the transaction: input only, transient data removed (never on the ledger). */
function payloadWithoutTransient(p: DecodedProposal): Uint8Array {
  const copy = new peer.ChaincodeProposalPayload();
  copy.setInput(p.payload.getInput_asU8());
  return copy.serializeBinary();
}

/** Fabric's proposal hash (protoutil.GetProposalHash1): over channel header, signature header and visible payload. */
const proposalHash = (p: DecodedProposal): Uint8Array => sha256(p.channelHeaderBytes, p.signatureHeaderBytes, payloadWithoutTransient(p));

function chaincodeEvent(p: DecodedProposal, e: ChaincodeEventData): peer.ChaincodeEvent {
  const ev = new peer.ChaincodeEvent();
  ev.setChaincodeId(p.chaincodeName);
  ev.setTxId(p.txId);
  ev.setEventName(e.name);
  ev.setPayload(e.payload);
  return ev;
}

/** The endorser's ProposalResponse for a successful simulation, signed by `endorser` over payload ‖ endorser id. */
export function endorse(p: DecodedProposal, sim: SimulationResult, endorser: Pick<SigningIdentity, 'mspId' | 'certificatePem' | 'sign'>): peer.ProposalResponse {
  const response = new peer.Response();
  response.setStatus(sim.status);
  response.setMessage(sim.message);
  response.setPayload(sim.payload);

  const ccId = new peer.ChaincodeID();
  ccId.setName(p.chaincodeName);
  const action = new peer.ChaincodeAction();
  action.setResults(encodeRwSets([sim.rwset]));
  if (sim.event) action.setEvents(chaincodeEvent(p, sim.event).serializeBinary());
  action.setResponse(response);
  action.setChaincodeId(ccId);

  const prp = new peer.ProposalResponsePayload();
  prp.setProposalHash(proposalHash(p));
  prp.setExtension$(action.serializeBinary());
  const prpBytes = prp.serializeBinary();

  const endorserBytes = serializedIdentity(endorser.mspId, endorser.certificatePem);
  const endorsement = new peer.Endorsement();
  endorsement.setEndorser(endorserBytes);
  endorsement.setSignature(endorser.sign(concatBytes(prpBytes, endorserBytes)));

  const pr = new peer.ProposalResponse();
  pr.setVersion(1);
  pr.setTimestamp(Timestamp.fromDate(new Date()));
  pr.setResponse(response);
  pr.setPayload(prpBytes);
  pr.setEndorsement(endorsement);
  return pr;
}

/** The unsigned transaction envelope built from a proposal and its endorsements (what Endorse returns). */
export function preparedTransaction(p: DecodedProposal, responses: readonly peer.ProposalResponse[]): common.Envelope {
  const first = responses[0];
  if (!first) throw new TransactionError('MALFORMED', 'no endorsements');
  const endorsed = new peer.ChaincodeEndorsedAction();
  endorsed.setProposalResponsePayload(first.getPayload_asU8());
  endorsed.setEndorsementsList(responses.map((r) => r.getEndorsement()!));
  const cap = new peer.ChaincodeActionPayload();
  cap.setChaincodeProposalPayload(payloadWithoutTransient(p));
  cap.setAction(endorsed);
  const ta = new peer.TransactionAction();
  ta.setHeader(p.signatureHeaderBytes);
  ta.setPayload(cap.serializeBinary());
  const tx = new peer.Transaction();
  tx.setActionsList([ta]);
  const payload = new common.Payload();
  payload.setHeader(common.Header.deserializeBinary(p.headerBytes));
  payload.setData(tx.serializeBinary());
  const env = new common.Envelope();
  env.setPayload(payload.serializeBinary());
  return env;
}

// ---------------------------------------------------------------------------------------------------------------
// Committer side: reading a transaction envelope
// ---------------------------------------------------------------------------------------------------------------

export interface ParsedEndorsement {
  readonly endorser: Creator;
  readonly signature: Uint8Array;
}

export interface ParsedTransaction {
  readonly txId: string;
  readonly channelId: string;
  readonly chaincodeName: string;
  readonly creator: Creator;
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
  readonly payloadBytes: Uint8Array;
  readonly signature: Uint8Array;
  /** ProposalResponsePayload bytes: what every endorsement signs (followed by the endorser's identity) */
  readonly proposalResponsePayload: Uint8Array;
  readonly endorsements: readonly ParsedEndorsement[];
  readonly responseStatus: number;
  readonly rwsets: readonly NamespaceRwSet[];
  readonly event?: peer.ChaincodeEvent;
}

/** Reads an endorser-transaction envelope; throws TransactionError when its structure is not Fabric's. */
export function parseTransaction(envelope: common.Envelope): ParsedTransaction {
  const payloadBytes = envelope.getPayload_asU8();
  const payload = decode('envelope payload', () => common.Payload.deserializeBinary(payloadBytes));
  const header = payload.getHeader();
  if (!header) throw new TransactionError('MALFORMED', 'transaction: no header');
  const h = readHeader(header.serializeBinary(), 'transaction');
  const tx = decode('transaction', () => peer.Transaction.deserializeBinary(payload.getData_asU8()));
  const actions = tx.getActionsList();
  if (actions.length !== 1) throw new TransactionError('MALFORMED', `transaction: ${actions.length} actions (expected 1)`);
  const cap = decode('chaincode action payload', () => peer.ChaincodeActionPayload.deserializeBinary(actions[0]!.getPayload_asU8()));
  const endorsed = cap.getAction();
  if (!endorsed) throw new TransactionError('MALFORMED', 'transaction: no endorsed action');
  const prpBytes = endorsed.getProposalResponsePayload_asU8();
  const prp = decode('proposal response payload', () => peer.ProposalResponsePayload.deserializeBinary(prpBytes));
  const action = decode('chaincode action', () => peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8()));
  const eventBytes = action.getEvents_asU8();
  const event = eventBytes.length > 0 ? decode('chaincode event', () => peer.ChaincodeEvent.deserializeBinary(eventBytes)) : undefined;
  return {
    txId: h.txId,
    channelId: h.channelId,
    chaincodeName: h.chaincodeName,
    creator: h.creator,
    timestamp: { seconds: h.timestampPb.getSeconds(), nanos: h.timestampPb.getNanos() },
    payloadBytes,
    signature: envelope.getSignature_asU8(),
    proposalResponsePayload: prpBytes,
    endorsements: endorsed.getEndorsementsList().map((e) => ({ endorser: decodeCreator(e.getEndorser_asU8()), signature: e.getSignature_asU8() })),
    responseStatus: action.getResponse()?.getStatus() ?? 0,
    rwsets: decodeRwSets(action.getResults_asU8()),
    ...(event ? { event } : {}),
  };
}
