// The unit project alone, for mutation runs (StrykerJS): the e2e specs start PostgreSQL and the
// whole app, far too slow to run once per mutant.
import config from './jest.config.js';

const unit = config.projects.find((project) => project.displayName === 'unit');

export default { ...unit, displayName: undefined, testTimeout: 30000 };
