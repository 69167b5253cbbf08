// fabric-shim and fabric-contract-api create winston loggers when first loaded, at the level in
// CORE_CHAINCODE_LOGGING_LEVEL (default info: one line per decorator, one error per failed transaction, which the
// client receives anyway). Winston formats every message, debug ones included, before a transport filters it by
// level (≈ 5 % of the dev network's CPU per transaction), so only `silent` loggers cost nothing.
//
// Import this module before either package: the dev network runs the chaincode in-process and keeps it quiet unless
// PIE_CHAINCODE_LOG is set (to a Fabric level: DEBUG, INFO, WARNING, ERROR, CRITICAL). A real Fabric peer runs the
// chaincode in its own process, where none of this applies.
import { createRequire } from 'node:module';

const level = process.env.PIE_CHAINCODE_LOG;
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= level ?? 'CRITICAL';

if (level === undefined) {
  // winston is fabric-shim's dependency: resolve it from there, so it is the instance the shim's loggers use.
  const winston = createRequire(createRequire(import.meta.url).resolve('fabric-shim'))('winston') as {
    createLogger: (options: object) => unknown;
  };
  const create = winston.createLogger;
  // The packages call `new winston.createLogger(...)`, so this must stay a constructible function.
  winston.createLogger = function createSilentLogger(options: object): unknown {
    return create({ ...options, silent: true });
  };
}
export {};
