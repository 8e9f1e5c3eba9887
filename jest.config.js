// One jest run covers unit tests (libs/**) and end-to-end tests (apps/*-e2e). SWC transpiles with
// decorator metadata so Nest's DI works exactly as in the tsc build.
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];
const moduleNameMapper = {
  '^@wharf/storage/testing$': '<rootDir>/libs/storage/src/testing/index.ts',
  '^@wharf/observability/testing$': '<rootDir>/libs/observability/src/testing/prometheus-text.ts',
  '^@wharf/registry-app$': '<rootDir>/apps/registry/src/registry.ts',
  '^@wharf/([a-z0-9-]+)$': '<rootDir>/libs/$1/src/index.ts',
};
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': swc },
      moduleNameMapper,
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/tools/**/*.spec.ts'],
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': swc },
      moduleNameMapper,
      testMatch: ['<rootDir>/apps/*-e2e/**/*.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/apps/registry-e2e/src/support/jest-setup.ts'],
    },
    {
      // The API suite again, unchanged, against the distributed shape (separate processes over
      // NATS; needs `npm run build`). See apps/registry-e2e/src/support/distributed.ts.
      displayName: 'e2e-distributed',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': swc },
      moduleNameMapper,
      testMatch: ['<rootDir>/apps/registry-e2e/src/api/**/*.spec.ts'],
      setupFiles: ['<rootDir>/apps/registry-e2e/src/support/jest-distributed.ts'],
      setupFilesAfterEnv: ['<rootDir>/apps/registry-e2e/src/support/jest-setup.ts'],
    },
  ],
};
