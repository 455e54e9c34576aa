// The unit project and the database-bound tests (`*.db-spec.ts`), for mutation runs (StrykerJS):
// the e2e specs start the whole app, far too slow to run once per mutant. The db-specs need
// PARLEY_TEST_DATABASE_URL, which scripts/with-test-database.mjs sets for the whole run (a jest
// global setup would start a server per mutant).
import config from './jest.config.js';

const unit = config.projects.find((project) => project.displayName === 'unit');

export default {
  ...unit,
  displayName: undefined,
  testMatch: [...unit.testMatch, '<rootDir>/src/**/*.db-spec.ts'],
  // Jest crawls its roots on every start, once per mutant: the sources and tests only, not the
  // 3,500 files of dist/ and node_modules/ under the default root. No watchman to try either.
  roots: ['<rootDir>/src', '<rootDir>/test'],
  watchman: false,
  testTimeout: 30000,
  // Each mutant's jest start loads only the spec files that hold its covering tests.
  setupFilesAfterEnv: ['<rootDir>/test/support/mutation/record-test-files.mjs'],
  testSequencer: '<rootDir>/test/support/mutation/test-sequencer.mjs',
};
