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
  maxWorkers: 2,
  testTimeout: 120000,
  verbose: true,
};
