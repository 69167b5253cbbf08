// A real PIE node for tests: dev network + offline Helia + FHIR validator + HTTP server on a free loopback port,
// in a temporary data directory; and participants with their own keys, as their clients hold them.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PieApiError, PieClient } from '../../src/client/index.js';
import { SecretKey } from '../../src/crypto/umbral/index.js';
import { loadNodeConfig } from '../../src/node/config.js';
import { createLogger } from '../../src/node/log.js';
import { startNode } from '../../src/node/node.js';
import type { PieNode } from '../../src/node/node.js';
import { sampleDirectory } from '../fhir/samples.js';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const pubHex = (sk: SecretKey): string => hex(sk.publicKey().toCompressedBytes());

export interface TestNode {
  node: PieNode;
  dir: string;
  logFile: string;
  /** an unauthenticated client */
  anonymous: PieClient;
  admin: PieClient;
  stop(): Promise<void>;
}

export interface KeyHolder {
  id: string;
  signingKey: SecretKey;
  encryptionKey: SecretKey;
  client: PieClient;
}

export async function startTestNode(env: Record<string, string> = {}): Promise<TestNode> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'pie-node-'));
  const logFile = join(dir, 'node.log');
  const config = await loadNodeConfig({ env: { PIE_DATA_DIR: join(dir, 'data'), PIE_PORT: '0', PIE_DEVNET_BATCH_TIMEOUT_MS: '5', ...env }, cwd: dir });
  const log = createLogger({ level: config.logLevel, destination: logFile }); // PIE_LOG_LEVEL in env, default info
  const node = await startNode(config, log, { directory: sampleDirectory() });
  const anonymous = new PieClient(node.url, config.audience);
  const admin = await anonymous.registerFirstAdmin(node.bootstrapCode!, { signing: SecretKey.random(), encryption: SecretKey.random() });
  return {
    node,
    dir,
    logFile,
    anonymous,
    admin,
    async stop() {
      await node.stop();
      // PIE_TEST_KEEP=1 keeps the data directory and log for a post-mortem
      if (process.env.PIE_TEST_KEEP === undefined) await fsp.rm(dir, { recursive: true, force: true });
      else console.log(`kept ${dir}`);
    },
  };
}

const REGISTER = `mutation($input: RegisterParticipantInput!) { registerParticipant(input: $input) { participant { id kind clearance org } apiSecret } }`;

/** Registers a participant whose keys stay in its own client. */
export async function registerWithKeys(t: TestNode, kind: string, extra: { clearance?: string; roles?: string[] } = {}): Promise<KeyHolder> {
  const signingKey = SecretKey.random();
  const encryptionKey = SecretKey.random();
  const r = await t.admin.request<{ registerParticipant: { participant: { id: string } } }>(REGISTER, {
    input: { kind, signingKey: pubHex(signingKey), encryptionKey: pubHex(encryptionKey), ...extra },
  });
  const id = r.registerParticipant.participant.id;
  return { id, signingKey, encryptionKey, client: t.anonymous.as({ participantId: id, signingKey }) };
}

/** Registers a custodial account (the node holds its keys); its client authenticates with the API secret. */
export async function registerCustodial(t: TestNode, kind: string, extra: { clearance?: string; roles?: string[] } = {}): Promise<{ id: string; client: PieClient; apiSecret: string }> {
  const r = await t.admin.request<{ registerParticipant: { participant: { id: string }; apiSecret: string } }>(REGISTER, { input: { kind, custodial: true, ...extra } });
  const { participant, apiSecret } = r.registerParticipant;
  return { id: participant.id, apiSecret, client: t.anonymous.as({ participantId: participant.id, apiSecret }) };
}

/** The PieApiError `p` rejects with, checked for its code (and message); resolving fails the test. */
export async function refused(p: Promise<unknown>, code: string, fragment?: string | RegExp): Promise<PieApiError> {
  const e = await p.then(
    (v) => new Error(`expected a ${code} refusal, got ${JSON.stringify(v)?.slice(0, 300)}`),
    (err: unknown) => err,
  );
  if (!(e instanceof PieApiError)) throw e;
  expect({ code: e.code, message: e.message }).toEqual({ code, message: expect.any(String) });
  if (fragment !== undefined) expect(e.message).toMatch(fragment);
  return e;
}

/** Every byte of a web stream (a downloaded blob). */
export async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return Buffer.concat(parts);
}
