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
  // One test file at a time: every file's stack uses the target `main` on the one shared Temporal dev server, and a
  // window's workflow id is maintenance/{target} (R-MW-2: one window per target), so two files starting a window at the
  // same moment collided (WorkflowExecutionAlreadyStartedError, seen in 2 of 3 clean-clone runs once the suites got faster).
  maxWorkers: 1,
  testTimeout: 120000,
  verbose: true,
};
