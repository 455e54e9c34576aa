import { readFileSync } from 'node:fs';

// Kept as JSON so the global teardown (loaded by Node directly, not through ts-jest) reads it too.
export const NOT_YET_SERVED: ReadonlySet<string> = new Set(
  (JSON.parse(readFileSync(new URL('./not-yet-served.json', import.meta.url), 'utf8')) as { operations: string[] })
    .operations,
);
