// fabric-shim and fabric-contract-api create their loggers when first loaded, at the level in
// CORE_CHAINCODE_LOGGING_LEVEL (default info: one line per decorator, one error per failed transaction, which the
// client receives anyway). Import this module before either package to make the dev network quiet by default.
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'CRITICAL';
export {};
