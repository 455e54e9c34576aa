// Mutation testing of the modules that hold Parley's invariants, against the unit tests only.
// Run from the repository root with `npm run mutation` (backend and frontend), or here with
// `npx stryker run`. Reports: backend/reports/mutation/.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/idempotency/**/*.ts',
    'src/billing/**/*.ts',
    'src/generation/turn.store.ts',
    'src/generation/turn-pipeline.ts',
    'src/generation/stages/*.stage.ts',
    'src/resilience/**/*.ts',
    'src/moderation/**/*.ts',
    'src/errors/**/*.ts',
    'src/contract/**/*.ts',
    'src/http/json-body.middleware.ts',
    'src/auth/**/*.ts',
    '!src/**/*.spec.ts',
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
