/** Two projects: fast unit tests (pure logic, fakes) and in-band integration tests against the real stack. */
const transform = { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.stack/', '\\.int\\.test\\.ts$', '\\.faults\\.test\\.ts$', '\\.contract\\.test\\.ts$', '\\.timeskip\\.test\\.ts$'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/**/*.int.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.stack/'],
      setupFiles: ['<rootDir>/test/helpers/setup-integration.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/helpers/jest-timeout.ts'],
    },
    {
      // Fault injection on the real stack (docs/reliability.md): kills and restarts its own redis-server.
      displayName: 'faults',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/faults/**/*.faults.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.stack/'],
      setupFiles: ['<rootDir>/test/helpers/setup-integration.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/helpers/jest-timeout.ts'],
    },
    {
      // The client contract (issue 10): malformed inputs per RPC and field against the real API; docs/api-errors.md.
      displayName: 'contract',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/**/*.contract.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.stack/'],
      setupFiles: ['<rootDir>/test/helpers/setup-integration.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/helpers/jest-timeout.ts'],
    },
    {
      // Time-skipping TestWorkflowEnvironment tests (docs/temporal.md): Temporal's Java test server from Maven Central
      // (stack/test-server/, installed by `./stack/stack install`), mocked activities, hours of workflow time in seconds.
      displayName: 'timeskip',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/**/*.timeskip.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.stack/'],
    },
  ],
};
