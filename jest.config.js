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
  // Promise.withResolvers for helia/libp2p on Node 20: each test file runs in its own vm context with its own Promise.
  setupFiles: ['<rootDir>/test/setup-polyfill.js'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // @peculiar/webcrypto (helia -> @helia/libp2p -> @libp2p/tls, @libp2p/webrtc) ships ESM as a .js file in a package
    // without "type": "module". Node 20.19+ detects the syntax; jest's vm loader does not.
    '^@peculiar/webcrypto$': '<rootDir>/node_modules/@peculiar/webcrypto/build/webcrypto.js',
  },
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
