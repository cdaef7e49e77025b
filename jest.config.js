/** Jest 30 in native ESM mode (NODE_OPTIONS=--experimental-vm-modules, set by `npm test`). */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2023',
    keepClassNames: true,
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/policies/**/*.spec.ts', '<rootDir>/web/src/**/*.spec.ts'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
  // How long a worker has to end once its last suite is done before Jest kills it and warns
  // "a worker process has failed to exit gracefully" (default 500 ms). Ours end in under 5 ms
  // with nothing left open but their stdio pipes, but Node then tears down a heap of 450-550 MB
  // (every suite's modules), which took 370 to over 515 ms on the 2-core CI machine: a warning
  // in most runs, with no leak behind it. A handle left open still keeps a worker alive past 3 s.
  workerGracefulExitTimeout: 3_000,
};
