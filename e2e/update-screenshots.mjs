// Copies the current screenshots of the main screens, kept by the last `npm run test:browser`
// in test-results/screenshots/, to docs/screenshots/ (committed, shown in the README).
// CI never runs this: docs/screenshots changes only when someone means it to.
//   npm run build && npm run test:browser && node e2e/update-screenshots.mjs
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'test-results', 'screenshots');
const to = join(root, 'docs', 'screenshots');
const chosen = [
  'sign-up',
  'chat-reply',
  'error-banner',
  'breaker-countdown',
  'chinese-error',
  'chat-phone-en',
  'list-phone-zh',
  'chat-tablet-zh',
  'settings-phone-zh',
];

const missing = chosen.filter((name) => !existsSync(join(from, `${name}.png`)));
if (missing.length > 0) {
  process.stderr.write(`missing in ${from}: ${missing.join(', ')} (run npm run test:browser first)\n`);
  process.exit(1);
}
mkdirSync(to, { recursive: true });
for (const name of chosen) copyFileSync(join(from, `${name}.png`), join(to, `${name}.png`));
process.stdout.write(`copied ${chosen.length} screenshots to ${to}\n`);
