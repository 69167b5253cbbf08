/**
 * openStorageNode: a Helia node whose blocks (blocks/) and pins, peer key and other metadata (datastore/, LevelDB)
 * live under one data directory, locked while open.
 * Offline (default): createHeliaLight with no libp2p, no block brokers, no routers: it never listens, dials or asks
 * an HTTP gateway; an absent block is NOT_FOUND at once.
 * Networked: libp2p on loopback only: TCP on 127.0.0.1 (or ::1), noise, yamux, identify, bitswap; no bootstrap,
 * mDNS, UPnP, DHT, autoNAT, autoTLS, relay, WebRTC, WebSockets or HTTP gateways; a connection gater refuses any
 * non-loopback address both ways. Peers are connected only by explicit dial(). The peer key persists in datastore/.
 */
import './polyfill.js';
import { promises as fsp } from 'node:fs';
import { BlockList } from 'node:net';
import { join, resolve } from 'node:path';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight, type HeliaWithLibp2p } from '@helia/libp2p';
import { identify, type Identify } from '@libp2p/identify';
import type { MultiaddrConnection, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { LevelDatastore } from 'datastore-level';
import { createHeliaLight, type Helia } from 'helia';
import { LockFileError, takeLockFile } from '../lock-file.js';
import { DEFAULT_FETCH_TIMEOUT_MS, HeliaBlobStore } from './blob-store.js';
import { StorageError, toStorageError } from './errors.js';
import { PinStore } from './pin-store.js';
import type { BlobStore } from './types.js';
import { VerifiedBlockstore } from './verified-blockstore.js';

export const LOCK_FILE = 'storage.lock';
const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

export interface NetworkOptions {
  /** loopback address to listen on: 127.0.0.0/8 or ::1 (default 127.0.0.1); anything else is INVALID_ARGUMENT */
  readonly host?: string;
  /** TCP port (default 0: any free port) */
  readonly port?: number;
  /** per-block deadline for fetching from peers (default 30 s); past it the block is NOT_FOUND */
  readonly fetchTimeoutMs?: number;
  /**
   * The consortium: peer ids allowed to connect (either way) once the noise handshake has proved who they are.
   * Anyone else is refused at the connection, so only members can fetch blocks over bitswap. Absent: any loopback
   * peer may connect (tests, single-organisation development).
   */
  readonly allowPeers?: readonly string[];
}

export interface StorageNodeOptions {
  readonly dataDir: string;
  /** absent: offline node (no libp2p at all) */
  readonly network?: NetworkOptions;
  /** fsync every block file, its directory and every pin batch before resolving (default true) */
  readonly fsync?: boolean;
}

export interface StorageNode {
  readonly dataDir: string;
  readonly helia: Helia;
  readonly blobs: BlobStore;
  /** the libp2p peer id (networked nodes only) */
  readonly peerId?: string;
  /** listening addresses with /p2p/<peerId> (empty when offline) */
  multiaddrs(): string[];
  /** connects to a peer at a loopback multiaddr (UNAVAILABLE when offline, UNREACHABLE on failure) */
  dial(address: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** stops Helia, closes the stores and releases the lock; in-flight operations end with CLOSED. Idempotent. */
  stop(): Promise<void>;
}

export type StorageServices = { identify: Identify };

export interface NetworkedStorageNode extends StorageNode {
  readonly helia: HeliaWithLibp2p<StorageServices>;
  readonly peerId: string;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function isLoopbackIp(ip: string, family: 'ipv4' | 'ipv6'): boolean {
  try {
    return LOOPBACK.check(ip, family);
  } catch {
    return false;
  }
}

/** true when the address's first component is a loopback IP (dns names, /p2p-only addresses… are not). */
export function isLoopbackMultiaddr(ma: Multiaddr): boolean {
  const ip = ma.getComponents()[0];
  if (ip?.value === undefined) return false;
  if (ip.name === 'ip4') return isLoopbackIp(ip.value, 'ipv4');
  if (ip.name === 'ip6') return isLoopbackIp(ip.value, 'ipv6');
  return false;
}

function invalid(message: string): StorageError {
  return new StorageError('INVALID_ARGUMENT', message);
}

/** Takes the data directory's lock file (a crashed owner's lock is taken over). */
async function lock(dir: string): Promise<() => Promise<void>> {
  try {
    return await takeLockFile(join(dir, LOCK_FILE));
  } catch (e) {
    if (!(e instanceof LockFileError)) throw toStorageError(e, { op: `lock ${dir}` });
    if (e.code !== 'LOCKED') throw toStorageError(e.cause ?? e, { op: `lock ${dir}` });
    const who = e.holderPid === process.pid ? 'another storage node in this process' : `process ${e.holderPid ?? '?'}`;
    throw new StorageError('LOCKED', `${dir} is in use by ${who}`);
  }
}

function checkOptions(o: StorageNodeOptions): void {
  if (o === null || typeof o !== 'object') throw invalid('openStorageNode needs an options object');
  if (typeof o.dataDir !== 'string' || o.dataDir.trim() === '') throw invalid('dataDir must be a non-empty path');
  if (o.fsync !== undefined && typeof o.fsync !== 'boolean') throw invalid('fsync must be a boolean');
  const n = o.network;
  if (n === undefined) return;
  if (n === null || typeof n !== 'object') throw invalid('network must be an object');
  if (n.host !== undefined) {
    const ok = typeof n.host === 'string' && (isLoopbackIp(n.host, 'ipv4') || isLoopbackIp(n.host, 'ipv6'));
    if (!ok) throw invalid(`network.host must be a loopback address (127.0.0.0/8 or ::1), got ${JSON.stringify(n.host)}`);
  }
  if (n.port !== undefined && (!Number.isInteger(n.port) || n.port < 0 || n.port > 65535)) {
    throw invalid(`network.port must be an integer in 0..65535, got ${String(n.port)}`);
  }
  if (n.fetchTimeoutMs !== undefined && (!Number.isSafeInteger(n.fetchTimeoutMs) || n.fetchTimeoutMs <= 0)) {
    throw invalid(`network.fetchTimeoutMs must be a positive integer, got ${String(n.fetchTimeoutMs)}`);
  }
  if (n.allowPeers !== undefined) {
    if (!Array.isArray(n.allowPeers)) throw invalid('network.allowPeers must be an array of peer ids');
    for (const id of n.allowPeers) {
      try {
        peerIdFromString(id);
      } catch {
        throw invalid(`network.allowPeers: ${JSON.stringify(id)} is not a libp2p peer id`);
      }
    }
  }
}

export function openStorageNode(options: StorageNodeOptions & { network: NetworkOptions }): Promise<NetworkedStorageNode>;
export function openStorageNode(options: StorageNodeOptions): Promise<StorageNode>;
export async function openStorageNode(options: StorageNodeOptions): Promise<StorageNode> {
  checkOptions(options);
  const dataDir = resolve(options.dataDir);
  const fsync = options.fsync ?? true;
  try {
    await fsp.mkdir(dataDir, { recursive: true });
  } catch (e) {
    throw toStorageError(e, { op: `create ${dataDir}` });
  }
  const unlock = await lock(dataDir);
  const blockstore = new VerifiedBlockstore(join(dataDir, 'blocks'), { fsync });
  const datastore = new LevelDatastore(join(dataDir, 'datastore'));
  let helia: Helia | undefined;
  try {
    // Helia's start() does not open the stores.
    await blockstore.open();
    await datastore.open();
    const net = options.network;
    if (net === undefined) {
      helia = createHeliaLight({ blockstore, datastore });
    } else {
      const host = net.host ?? '127.0.0.1';
      const ipProto = host.includes(':') ? 'ip6' : 'ip4';
      const allowed = net.allowPeers === undefined ? undefined : new Set(net.allowPeers);
      const stranger = (peer: PeerId): boolean => allowed !== undefined && !allowed.has(peer.toString());
      const gater = {
        denyDialMultiaddr: (ma: Multiaddr) => !isLoopbackMultiaddr(ma),
        denyInboundConnection: (conn: MultiaddrConnection) => !isLoopbackMultiaddr(conn.remoteAddr),
        denyOutboundConnection: (_peer: unknown, conn: MultiaddrConnection) => !isLoopbackMultiaddr(conn.remoteAddr),
        denyInboundEncryptedConnection: stranger,
        denyOutboundEncryptedConnection: stranger,
      };
      helia = withBitswap(
        withLibp2pLight(createHeliaLight({ blockstore, datastore }), {
          addresses: { listen: [`/${ipProto}/${host}/tcp/${net.port ?? 0}`] },
          transports: [tcp()],
          connectionEncrypters: [noise()],
          // @helia/bitswap reads a stream only after closing its own side: a reply of several messages can pass yamux's
          // default 4 MiB read buffer first, which aborts the stream and loses its blocks (a 30 s stall, then NOT_FOUND).
          streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: 32 * 1024 * 1024 } })],
          peerDiscovery: [],
          connectionGater: gater,
          // bitswap's topology needs identify to learn which protocols a peer speaks
          services: { identify: identify() },
        }),
      );
    }
    await helia.start();
  } catch (e) {
    await helia?.stop().catch(() => undefined);
    await datastore.close().catch(() => undefined);
    await blockstore.close().catch(() => undefined);
    await unlock();
    throw toStorageError(e, { op: `open storage node at ${dataDir}` });
  }
  const networked = options.network === undefined ? undefined : (helia as HeliaWithLibp2p<StorageServices>);
  const blobs = new HeliaBlobStore({
    helia,
    blockstore,
    pins: new PinStore(datastore.db, fsync),
    offline: networked === undefined,
    fetchTimeoutMs: options.network?.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    connectedPeers: () => networked?.libp2p.getConnections().length ?? 0,
  });
  let stopping: Promise<void> | undefined;
  const node: StorageNode = {
    dataDir,
    helia,
    blobs,
    peerId: networked?.libp2p.peerId.toString(),
    multiaddrs: () => networked?.libp2p.getMultiaddrs().map(String) ?? [],
    async dial(address: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
      if (stopping !== undefined) throw new StorageError('CLOSED', 'the storage node is stopped');
      if (networked === undefined) throw new StorageError('UNAVAILABLE', 'this storage node is offline (no network configured)');
      let ma: Multiaddr;
      try {
        if (typeof address !== 'string') throw new Error('not a string');
        ma = multiaddr(address);
      } catch (e) {
        throw new StorageError('INVALID_ARGUMENT', `not a multiaddr: ${JSON.stringify(String(address).slice(0, 120))}`, { cause: e });
      }
      if (!isLoopbackMultiaddr(ma)) throw invalid(`only loopback peers may be dialled, got ${address}`);
      const signals = [AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT_MS)];
      if (opts.signal) signals.push(opts.signal);
      try {
        await networked.libp2p.dial(ma, { signal: AbortSignal.any(signals) });
      } catch (e) {
        if (opts.signal?.aborted) throw new StorageError('ABORTED', `dial ${address}: aborted`, { cause: e });
        throw new StorageError('UNREACHABLE', `dial ${address} failed: ${(e as Error).message}`, { cause: e });
      }
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        await blobs.close();
        try {
          await helia!.stop();
        } finally {
          await datastore.close().catch(() => undefined);
          await blockstore.close().catch(() => undefined);
          await unlock();
        }
      })();
      return stopping;
    },
  };
  return node;
}
