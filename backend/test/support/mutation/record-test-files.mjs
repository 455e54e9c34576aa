// Jest setup file of a mutation run: during StrykerJS's dry run, records each test's full name
// with its spec file (one JSON line per test), for test-sequencer.mjs.
import { appendFileSync } from 'node:fs';
import { beforeEach, expect } from '@jest/globals';
import { inMutantRun, inStrykerWorker, testFilesPath } from './test-files.mjs';

if (inStrykerWorker() && !inMutantRun()) {
  beforeEach(() => {
    const { currentTestName, testPath } = expect.getState();
    appendFileSync(testFilesPath(), `${JSON.stringify([currentTestName, testPath])}\n`);
  });
}
