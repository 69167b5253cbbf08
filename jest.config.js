// Jest runs the TypeScript sources through @swc/jest as native ESM (several dependencies are
// ESM-only), so `npm test` sets NODE_OPTIONS=--experimental-vm-modules. swc does not type-check:
// `npm test` runs `tsc --noEmit` first.
// fabric-shim / fabric-contract-api log every decorator (info) and every failed transaction (error). Jest loads
// CommonJS dependencies while linking, before any test module runs, so their level must be set here.
process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'CRITICAL';

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  testTimeout: 120000,
};
