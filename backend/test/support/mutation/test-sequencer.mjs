// Jest test sequencer of a mutation run. StrykerJS runs a mutant with `findRelatedTests` on the
// mutated file and a name pattern of the tests that cover the mutant, so jest loads every spec
// file that imports the file, directly or not, even when none of its tests runs: a mutant in a
// module every spec imports cost 80-90 s. This keeps only the spec files that hold a covering
// test, as the dry run recorded them; a spec file it has no record of is kept.
import { existsSync, readFileSync } from 'node:fs';
import Sequencer from '@jest/test-sequencer';
import { inMutantRun, testFilesPath } from './test-files.mjs';

const BaseSequencer = Sequencer.default ?? Sequencer;

export default class MutationTestSequencer extends BaseSequencer {
  #pattern;

  constructor(options) {
    super(options);
    const { testNamePattern } = options.globalConfig;
    this.#pattern = testNamePattern ? new RegExp(testNamePattern, 'i') : undefined;
  }

  sort(tests) {
    const namesByFile = this.#pattern && inMutantRun() ? recordedNames() : undefined;
    const kept = namesByFile ? tests.filter((test) => holdsCoveringTest(test.path, namesByFile, this.#pattern)) : tests;
    return super.sort(kept);
  }
}

function holdsCoveringTest(file, namesByFile, pattern) {
  const names = namesByFile.get(file);
  return names === undefined || names.some((name) => pattern.test(name));
}

function recordedNames() {
  const path = testFilesPath();
  if (!existsSync(path)) return undefined;
  const namesByFile = new Map();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const [name, file] = JSON.parse(line);
    const names = namesByFile.get(file);
    if (names) names.push(name);
    else namesByFile.set(file, [name]);
  }
  return namesByFile;
}
