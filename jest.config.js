/** Jest runs TypeScript through SWC (already a dependency of the Temporal worker). */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(ts|js)$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  // node-pg-migrate ships only as an ES module, which Jest's module system cannot require: compile it too.
  transformIgnorePatterns: ['/node_modules/(?!node-pg-migrate/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  setupFiles: ['<rootDir>/test/setup/worker-env.ts'],
  // Two files at a time on the 2-core machine: each Jest worker has its own Temporal dev server
  // (test/setup/worker-env.ts), since every file's stack uses the target `main` and a window's workflow id is
  // maintenance/{target} (R-MW-2); one shared server made two files collide (WorkflowExecutionAlreadyStartedError).
  maxWorkers: 2,
  testTimeout: 120000,
  verbose: true,
};
