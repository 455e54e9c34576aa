import { startServer } from './support/server';

// Playwright runs the function returned by global setup as the global teardown.
export default async function globalSetup(): Promise<() => Promise<void>> {
  return startServer();
}
