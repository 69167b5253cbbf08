/**
 * The embedded Fabric-compatible dev network: one channel, one chaincode, a built-in CA per organisation, an
 * orderer that cuts blocks like Fabric's, a committing peer with world state and history, and the Gateway gRPC
 * service on loopback. It plays the role Hardhat Network and Anvil play for Ethereum.
 *
 * Everything lives under one data directory (locked while the network runs):
 *   msp/<MSP id>/…        CA and identities (admin, peer0 per organisation; orderer in OrdererMSP)
 *   ledger/blocks.*       the block store; state and history are rebuilt from it at start
 *   connection.json       endpoint, channel, chaincode and where each organisation's admin identity is
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { CodedError } from '../../errors.js';
import { LockFileError, takeLockFile } from '../../lock-file.js';
import { ChaincodeRunner } from './chaincode-runner.js';
import { DELIVER_SERVICE, deliverServiceImplementation } from './deliver-service.js';
import { gatewayServiceImplementation, startGatewayServer } from './gateway-service.js';
import { Ledger } from './ledger.js';
import { Msp } from './msp.js';
import type { SigningIdentity } from './msp.js';
import { checkBatchConfig, DEVNET_BATCH_DEFAULTS, Orderer } from './orderer.js';
import type { BatchConfig } from './orderer.js';

export type DevnetErrorCode = 'LOCKED' | 'INVALID_ARGUMENT' | 'IO';
export class DevnetError extends CodedError<DevnetErrorCode> {
  override readonly name = 'DevnetError';
}

type ContractClass = abstract new (...args: never[]) => unknown;

export const ORDERER_MSP = 'OrdererMSP';
export const ADMIN_ENROLLMENT = 'admin';
export const PEER_ENROLLMENT = 'peer0';

export interface DevnetOptions {
  dataDir: string;
  /** contract classes of the chaincode (one chaincode per network) */
  contracts: readonly ContractClass[];
  chaincodeName?: string;
  channelId?: string;
  /** application organisations created on first start (default ['Hospital1MSP']); later starts use what exists */
  organisations?: readonly string[];
  /** the organisation whose peer endorses and runs the gateway (default: the first) */
  gatewayOrg?: string;
  batch?: Partial<BatchConfig>;
  host?: string;
  /** 0 (default) = any free port */
  port?: number;
  /** fsync each block (default true) */
  fsync?: boolean;
}

export interface ConnectionDetails {
  endpoint: string;
  tls: false;
  channel: string;
  chaincode: string;
  gatewayOrg: string;
  organisations: { mspId: string; caCertPath: string; admin: { certPath: string; keyPath: string } }[];
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Takes the data directory's lock file (a crashed owner's lock is taken over). */
async function lock(dir: string): Promise<() => Promise<void>> {
  try {
    return await takeLockFile(join(dir, 'devnet.lock'));
  } catch (e) {
    if (e instanceof LockFileError && e.code === 'LOCKED') throw new DevnetError('LOCKED', `${dir} is in use by a running dev network (pid ${e.holderPid ?? '?'})`);
    throw new DevnetError('IO', `cannot lock ${dir}: ${(e as Error).message}`, { cause: e });
  }
}

export class Devnet {
  private constructor(
    readonly dataDir: string,
    readonly msp: Msp,
    readonly ledger: Ledger,
    readonly orderer: Orderer,
    readonly channelId: string,
    readonly chaincodeName: string,
    readonly gatewayOrg: string,
    readonly endpoint: string,
    private readonly server: grpc.Server,
    private readonly unlock: () => Promise<void>,
  ) {}

  static async start(o: DevnetOptions): Promise<Devnet> {
    const channelId = o.channelId ?? 'pie';
    const chaincodeName = o.chaincodeName ?? 'pie';
    for (const [what, v] of [['channelId', channelId], ['chaincodeName', chaincodeName]] as const) {
      if (!ID_RE.test(v)) throw new DevnetError('INVALID_ARGUMENT', `${what} "${v}" must be 1–64 letters, digits, '.', '_' or '-'`);
    }
    const batch = checkBatchConfig({ ...DEVNET_BATCH_DEFAULTS, ...o.batch });
    await fsp.mkdir(o.dataDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
      throw new DevnetError('IO', `cannot create ${o.dataDir}: ${(e as Error).message}`, { cause: e });
    });
    const unlock = await lock(o.dataDir);
    let ledger: Ledger | undefined;
    try {
      const msp = await Msp.open(join(o.dataDir, 'msp'));
      const apps = msp.organisations().filter((org) => org.mspId !== ORDERER_MSP);
      if (apps.length === 0) {
        for (const mspId of o.organisations ?? ['Hospital1MSP']) {
          await msp.createOrganisation(mspId);
          await msp.issue(mspId, { enrollmentId: ADMIN_ENROLLMENT, ou: 'admin', attrs: { role: 'admin' } });
          await msp.issue(mspId, { enrollmentId: PEER_ENROLLMENT, ou: 'peer' });
        }
      }
      if (!msp.has(ORDERER_MSP)) {
        await msp.createOrganisation(ORDERER_MSP);
        await msp.issue(ORDERER_MSP, { enrollmentId: 'orderer0', ou: 'orderer' });
      }
      const gatewayOrg = o.gatewayOrg ?? msp.organisations().find((org) => org.mspId !== ORDERER_MSP)!.mspId;
      const peer = msp.organisation(gatewayOrg).identity(PEER_ENROLLMENT);
      if (!peer) throw new DevnetError('INVALID_ARGUMENT', `organisation ${gatewayOrg} has no peer identity`);
      const ordererId = msp.organisation(ORDERER_MSP).identity('orderer0')!;

      ledger = await Ledger.open(join(o.dataDir, 'ledger'), { channelId, msp, orderer: ordererId, fsync: o.fsync ?? true });
      const l = ledger;
      const orderer = new Orderer(batch, (envelopes) => l.commit(envelopes), (e) => console.error(`devnet: block commit failed: ${(e as Error).message}`));
      const runner = new ChaincodeRunner(chaincodeName, o.contracts);
      const host = o.host ?? '127.0.0.1';
      let address = '';
      const impl = gatewayServiceImplementation({ ledger, msp, runner, orderer, peer, address: () => address });
      const { server, port } = await startGatewayServer(impl, host, o.port ?? 0, [{ definition: DELIVER_SERVICE, implementation: deliverServiceImplementation({ ledger, msp }) }]);
      address = `${host}:${port}`;
      const net = new Devnet(o.dataDir, msp, ledger, orderer, channelId, chaincodeName, gatewayOrg, address, server, unlock);
      await net.writeConnectionDetails();
      return net;
    } catch (e) {
      await ledger?.close().catch(() => undefined);
      await unlock();
      throw e;
    }
  }

  /** The admin identity (role attribute "admin") of an application organisation. */
  admin(mspId: string = this.gatewayOrg): SigningIdentity {
    const id = this.msp.organisation(mspId).identity(ADMIN_ENROLLMENT);
    if (!id) throw new DevnetError('INVALID_ARGUMENT', `organisation ${mspId} has no admin identity`);
    return id;
  }

  /** Issues a client identity (persisted under the data directory) with Fabric CA attributes. */
  issue(mspId: string, enrollmentId: string, attrs: Record<string, string> = {}): Promise<SigningIdentity> {
    return this.msp.issue(mspId, { enrollmentId, attrs });
  }

  connectionDetails(): ConnectionDetails {
    const orgs = this.msp.organisations().filter((org) => org.mspId !== ORDERER_MSP);
    return {
      endpoint: this.endpoint,
      tls: false,
      channel: this.channelId,
      chaincode: this.chaincodeName,
      gatewayOrg: this.gatewayOrg,
      organisations: orgs.map((org) => {
        const dir = join(this.dataDir, 'msp', org.mspId);
        return {
          mspId: org.mspId,
          caCertPath: join(dir, 'ca-cert.pem'),
          admin: { certPath: join(dir, 'users', ADMIN_ENROLLMENT, 'cert.pem'), keyPath: join(dir, 'users', ADMIN_ENROLLMENT, 'key.pem') },
        };
      }),
    };
  }

  private async writeConnectionDetails(): Promise<void> {
    const path = join(this.dataDir, 'connection.json');
    await fsp.writeFile(`${path}.tmp`, JSON.stringify(this.connectionDetails(), null, 2) + '\n', { mode: 0o644 });
    await fsp.rename(`${path}.tmp`, path);
  }

  /** Stops accepting requests, commits what the orderer holds, closes the ledger and releases the data directory. */
  async stop(): Promise<void> {
    // Commit what is ordered first, so waiting commit-status calls are answered; then cut the open streams.
    await this.orderer.stop();
    this.server.forceShutdown();
    await this.ledger.close();
    await this.unlock();
  }
}
