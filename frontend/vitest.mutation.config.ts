// The component tests for mutation runs (StrykerJS): as vite.config.ts, with a longer test
// timeout, since a mutation run shares a loaded machine and a 5 s default fails the dry run.
import { mergeConfig } from 'vitest/config';
import base from './vite.config';

export default mergeConfig(base, { test: { testTimeout: 30_000 } });
