// Where a mutation run (StrykerJS) keeps, for each test's full name, the spec file that holds it.
// The dry run writes it (record-test-files.mjs); each mutant's jest start reads it
// (test-sequencer.mjs) to load only the spec files that hold the mutant's covering tests.
import { join } from 'node:path';

export const testFilesPath = () => join(process.cwd(), '.stryker-test-files.jsonl');

// Set by StrykerJS in its workers, and in a mutant's run only.
export const inStrykerWorker = () => process.env.STRYKER_MUTATOR_WORKER !== undefined;
export const inMutantRun = () => process.env.__STRYKER_ACTIVE_MUTANT__ !== undefined;
