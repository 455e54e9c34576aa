// Plain JavaScript: loaded by Node itself (not through ts-jest); see global-setup.mjs.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HTTP_METHODS, loadContractDocument } from '../../dist/contract/contract-document.js';

// After all files ran: every operation the app serves must have been exercised by some test,
// so the per-response contract checks cover the whole implemented API.
export default async function globalTeardown() {
  await globalThis.parleyTestDatabase?.stop();
  const dir = process.env.PARLEY_CONTRACT_RECORD_DIR;
  if (!dir) return;
  const seen = new Set();
  for (const file of readdirSync(dir)) {
    for (const id of JSON.parse(readFileSync(join(dir, file), 'utf8'))) seen.add(id);
  }
  rmSync(dir, { recursive: true, force: true });
  // A run of selected files (jest -t, a path filter) cannot be expected to cover everything.
  if (process.env.PARLEY_PARTIAL_RUN) return;
  const notYet = new Set(
    JSON.parse(readFileSync(new URL('./not-yet-served.json', import.meta.url), 'utf8')).operations,
  );
  const expected = Object.values(loadContractDocument().paths).flatMap((item) =>
    HTTP_METHODS.map((m) => item[m]?.operationId).filter((id) => id !== undefined && !notYet.has(id)),
  );
  const untested = expected.filter((id) => !seen.has(id));
  if (untested.length > 0) throw new Error(`operations no test exercised: ${untested.join(', ')}`);
}
