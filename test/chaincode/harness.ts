// Runs a contract in-process through fabric-shim's real ChaincodeStub and ChaincodeFromContract (the dev network's
// chaincode runner) against an in-memory world state with Fabric's semantics: a transaction reads committed state
// only (it does NOT see its own writes), MVCC is validated at commit, one event per transaction. Each submit commits
// as its own block. The clock is explicit so time-dependent rules (expiry, windows) can be tested exactly; the
// protocol-level suites in test/chain run the same contract through the devnet with the real gateway client.
import { decodeJson } from '../../src/chain/client.js';
import { ChaincodeRunner } from '../../src/chain/devnet/chaincode-runner.js';
import { Msp } from '../../src/chain/devnet/msp.js';
import type { SigningIdentity } from '../../src/chain/devnet/msp.js';
import { buildSignedProposal, decodeProposal } from '../../src/chain/devnet/transaction.js';
import { WorldState } from '../../src/chain/devnet/world-state.js';

type ContractClass = abstract new (...args: never[]) => unknown;

export const HARNESS_ORGS = ['Hospital1MSP', 'Hospital2MSP'] as const;
export const HARNESS_CHANNEL = 'pie';
export const HARNESS_START = new Date('2025-01-01T00:00:00.000Z');

/** A failed transaction: `code` is parsed from the chaincode's "[CODE] message" response. */
export class HarnessTxError extends Error {
  override readonly name = 'HarnessTxError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface HarnessEvent {
  readonly name: string;
  readonly payload: unknown;
  readonly txId: string;
}

export class ContractHarness {
  readonly events: HarnessEvent[] = [];
  lastTxId = '';
  private now: Date = HARNESS_START;
  private block = 0;

  private constructor(
    readonly msp: Msp,
    readonly state: WorldState,
    private readonly runner: ChaincodeRunner,
    readonly chaincodeName: string,
  ) {}

  /** A harness over `contracts` (default: the PIE contract) with organisations Hospital1MSP and Hospital2MSP. */
  static async create(contracts?: readonly ContractClass[], chaincodeName = 'pie'): Promise<ContractHarness> {
    const list = contracts ?? (await import('../../chaincode/src/index.js')).contracts;
    const msp = Msp.inMemory();
    for (const org of HARNESS_ORGS) await msp.createOrganisation(org);
    return new ContractHarness(msp, new WorldState(), new ChaincodeRunner(chaincodeName, list), chaincodeName);
  }

  /** A Fabric identity of `mspId` with Fabric CA attributes, e.g. { role: 'admin' }. */
  identity(mspId: string, enrollmentId: string, attrs: Record<string, string> = {}): Promise<SigningIdentity> {
    return this.msp.issue(mspId, { enrollmentId, attrs });
  }

  get time(): Date {
    return this.now;
  }
  setTime(t: Date): void {
    this.now = t;
  }
  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }

  private async run(identity: SigningIdentity, fn: string, args: readonly string[]) {
    const { signedProposal, txId } = buildSignedProposal({
      identity,
      channelId: HARNESS_CHANNEL,
      chaincodeName: this.chaincodeName,
      fn,
      args,
      timestamp: this.now,
    });
    const p = decodeProposal(signedProposal);
    // As a peer does, membership is checked at the real time; only the transaction's timestamp is simulated.
    await this.msp.verifySignature(p.creator.mspId, p.creator.certificatePem, p.proposalBytes, p.signature);
    const sim = await this.runner.simulate(this.state, { channelId: p.channelId, txId, input: p.input, signedProposal });
    if (sim.status >= 400) {
      const m = /^\[([A-Z_]+)\] ([\s\S]*)$/.exec(sim.message);
      throw new HarnessTxError(m?.[1] ?? 'UNKNOWN', m?.[2] ?? sim.message, sim.status);
    }
    return { sim, txId };
  }

  /** Endorses and commits one transaction; returns the parsed result. Throws HarnessTxError (or on MVCC conflict). */
  async submit(identity: SigningIdentity, fn: string, ...args: string[]): Promise<unknown> {
    const { sim, txId } = await this.run(identity, fn, args);
    const code = this.state.validate([sim.rwset]);
    if (code !== 0) throw new HarnessTxError('MVCC', `transaction ${txId} invalidated with code ${code}`, 0);
    const seconds = Math.floor(this.now.getTime() / 1000);
    this.state.apply([sim.rwset], { txId, blockNum: ++this.block, txNum: 0, timestamp: { seconds, nanos: (this.now.getTime() % 1000) * 1e6 } });
    this.lastTxId = txId;
    if (sim.event) this.events.push({ name: sim.event.name, payload: decodeJson(sim.event.payload), txId });
    return decodeJson(sim.payload);
  }

  /** Runs a query; nothing is committed. */
  async evaluate(identity: SigningIdentity, fn: string, ...args: string[]): Promise<unknown> {
    return decodeJson((await this.run(identity, fn, args)).sim.payload);
  }
}
