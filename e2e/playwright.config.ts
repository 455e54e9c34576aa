import { defineConfig } from '@playwright/test';
import { join } from 'node:path';
import { chromiumLaunchOptions } from './chromium.mjs';
import { baseURL, resultsDir } from './support/server';

// Browser tests: Debian's Chromium (never a downloaded browser) against the production build on
// the real backend with the demo provider. The server is started by global-setup.ts.
export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: join(resultsDir, 'browser'),
  globalSetup: './global-setup.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { outputFolder: join(resultsDir, 'browser-report'), open: 'never' }]],
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    baseURL,
    locale: 'en-US',
    timezoneId: 'UTC',
    actionTimeout: 10_000,
    navigationTimeout: 20_000,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: chromiumLaunchOptions,
    headless: true,
  },
});
