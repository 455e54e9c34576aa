// Mutation testing of the conversation hook and its store (the app's turn invariants) against
// the component tests. Run from the repository root with `npm run mutation`, or here with
// `npx stryker run`. Reports: frontend/reports/mutation/.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: ['src/turns/**/*.ts', 'src/state/**/*.ts', '!src/**/*.test.ts', '!src/turns/test-streams.ts'],
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
