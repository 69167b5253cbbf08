/**
 * `npm start`: a complete single-organisation PIE node on embedded defaults — the dev network with the chaincode,
 * an offline Helia store, the FHIR validator, and the GraphQL/HTTP API — under one data directory (.pie/node by
 * default). Configuration by environment and/or a JSON file (src/node/config.ts, README). Structured JSON logs go
 * to stdout; the start-up banner (where it listens, how to register the first admin) to stderr.
 */
import './chain/devnet/shim-logging.js'; // first: keeps the in-process chaincode's loggers quiet
import { readFile } from 'node:fs/promises';
import { ReferenceDirectory } from './fhir/index.js';
import { ConfigError, describeConfig, loadNodeConfig } from './node/config.js';
import { createLogger } from './node/log.js';
import { startNode } from './node/node.js';
import type { PieNode } from './node/node.js';

async function main(): Promise<void> {
  let config;
  try {
    config = await loadNodeConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger({ level: config.logLevel });
  const directory =
    config.fhirDirectory.length === 0 ? undefined : ReferenceDirectory.fromBundles(...(await Promise.all(config.fhirDirectory.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as unknown))));
  const node: PieNode = await startNode(config, log, { directory });
  log.info({ config: describeConfig(config) }, 'node started');
  banner(node);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    node.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (e: unknown) => {
        log.error({ err: (e as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

function banner(node: PieNode): void {
  const { config, url } = node;
  const lines = [
    `PIE node for ${config.organisation} (${config.ledger.mode === 'devnet' ? 'embedded dev network' : `Fabric gateway ${config.ledger.endpoint}`})`,
    `  GraphQL  ${url}/graphql${config.production ? '' : '  (open it in a browser for the sandbox)'}`,
    `  health   ${url}/health`,
    `  blobs    POST ${url}/blobs?patientId=<id>   GET ${url}/blobs/<cid>`,
    `  data     ${config.dataDir}`,
    `  tokens   audience ${config.audience}`,
  ];
  if (node.bootstrapCode !== undefined) {
    lines.push(
      '',
      'First admin: generate a signing and an encryption key pair (secp256k1) in your own client, then, once:',
      `  mutation { registerFirstAdmin(code: "${node.bootstrapCode}", signingKey: "<hex>", encryptionKey: "<hex>") { id } }`,
      'The code is shown only now (the node keeps its hash). The admin then registers participants with registerParticipant.',
    );
  } else if (!node.firstAdminRegistered()) {
    lines.push('', `First admin: not registered yet; the code was printed at the first start (delete ${config.dataDir}/bootstrap.json for a new one).`);
  }
  console.error(lines.join('\n'));
}

main().catch((e: unknown) => {
  console.error(`PIE node failed to start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
