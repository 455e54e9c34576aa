// Mutation testing of the modules that hold Parley's invariants, against the unit tests and the
// database-bound tests (`*.db-spec.ts`, on one PostgreSQL: jest.mutation.config.js). Run from the
// repository root with `npm run mutation` (backend and frontend), or here with
// `node scripts/with-test-database.mjs npx stryker run`. Reports: backend/reports/mutation/.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  // Each mutant's jest start loads only the spec files that hold its covering tests (see
  // jest.mutation.config.js). Scoped so that a run ends within the hour on a shared two-core machine (each mutant costs a
  // jest start): the turn pipeline's orchestration and its prepare/persist/publish stages (their
  // unit specs boot most of the pipeline), the provider loop, the moderation policy's matcher, the
  // problem filter's presentation and the stream watchdog are left out; their invariants are held
  // by the e2e suite and the every-split-position moderation test. See docs/mutation-report.md.
  mutate: [
    'src/idempotency/**/*.ts',
    'src/billing/**/*.ts',
    'src/generation/turn.store.ts',
    'src/resilience/retry-policy.ts',
    'src/resilience/chat-breakers.ts',
    'src/resilience/breaker-errors.ts',
    'src/moderation/moderation.service.ts',
    'src/errors/error-codes.ts',
    'src/errors/app-error.ts',
    'src/errors/database-errors.ts',
    'src/contract/**/*.ts',
    'src/http/json-body.middleware.ts',
    'src/auth/**/*.ts',
    '!src/**/*.spec.ts',
    '!src/**/*.db-spec.ts',
    '!src/**/*.entity.ts',
    '!src/**/*.module.ts',
  ],
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 10000,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 85, low: 70, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
