/**
 * `npm run devnet`: runs the embedded Fabric-compatible dev network with the PIE chaincode until SIGINT/SIGTERM.
 * Writes <data dir>/connection.json (endpoint, channel, chaincode, each organisation's admin certificate and key)
 * for clients. Configuration by environment:
 *   PIE_DEVNET_DIR               data directory (default .pie/devnet)
 *   PIE_DEVNET_HOST / _PORT      listen address (default 127.0.0.1:7051; loopback only unless you change it)
 *   PIE_DEVNET_ORGS              comma-separated MSP ids created on first start (default Hospital1MSP)
 *   PIE_DEVNET_BATCH_TIMEOUT_MS  orderer batch timeout (default 0; Fabric's default is 2000)
 */
import './shim-logging.js';
import { resolve } from 'node:path';
import { contracts } from '../../../chaincode/src/index.js';
import { Devnet } from './devnet.js';

function env(name: string, fallback: string): string {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = env(name, String(fallback));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`devnet: ${name}=${raw} must be an integer in [${min}, ${max}]`);
    process.exit(2);
  }
  return n;
}

const dataDir = resolve(env('PIE_DEVNET_DIR', '.pie/devnet'));
const net = await Devnet.start({
  dataDir,
  contracts,
  organisations: env('PIE_DEVNET_ORGS', 'Hospital1MSP').split(',').map((s) => s.trim()).filter(Boolean),
  host: env('PIE_DEVNET_HOST', '127.0.0.1'),
  port: intEnv('PIE_DEVNET_PORT', 7051, 0, 65535),
  batch: { batchTimeoutMs: intEnv('PIE_DEVNET_BATCH_TIMEOUT_MS', 0, 0, 60_000) },
}).catch((e: unknown) => {
  console.error(`devnet: cannot start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

console.log(`PIE dev network: channel "${net.channelId}", chaincode "${net.chaincodeName}", gateway at ${net.endpoint} (plaintext, ${net.gatewayOrg})`);
console.log(`  data:        ${dataDir} (height ${net.ledger.height})`);
console.log(`  connection:  ${resolve(dataDir, 'connection.json')}`);
console.log('  stop with Ctrl-C');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    net.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`devnet: stop failed: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
  });
}
