// What a person chatting waits for, measured in the browser (Debian's Chromium) against the
// production build: from pressing Enter to the chat moving to the top of the list and to the typing
// indicator, and from a reply ending (complete, or failed) to the indicator clearing. Timestamps are
// taken in the page (performance.now() in a MutationObserver), so they include rendering but not
// the test driver. Figures, not pass/fail. Usage: npm run bench:ui [-- --turns 10]
/* global document, MutationObserver */
import { chromium } from '@playwright/test';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mkdir } from 'node:fs/promises';
import { startApp } from './lib/app.mjs';
import { cleanupAll } from './lib/procs.mjs';
import { summarize } from './lib/load.mjs';
import { chromiumLaunchOptions } from '../e2e/chromium.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const turns = Number(arg('turns', '10'));
const { DemoGeminiServer } = await import(
  pathToFileURL(join(root, 'backend', 'dist', 'providers', 'demo', 'demo-gemini.server.js')).href
);

await mkdir(join(root, 'bench', 'results'), { recursive: true });
// The demo provider's default pace: first byte after 300 ms, chunks 40 ms apart.
const upstream = await DemoGeminiServer.start({ pace: { firstByteDelayMs: 300, chunkDelayMs: 40 } });
const app = await startApp({
  root,
  upstreamUrl: upstream.baseUrl,
  log: join(root, 'bench', 'results', 'ui-app.log'),
  // The forced failures must not open a breaker: every failure here is the same measured case.
  env: {
    SERVE_FRONTEND: 'true',
    NODE_ENV: 'development',
    DEBUG_FAULTS: 'true',
    CHAT_BREAKER_THRESHOLD: '1000',
    PROVIDER_BREAKER_MIN_CALLS: '100000',
  },
});
const browser = await chromium.launch(chromiumLaunchOptions);

/** Installs the observer; resolves with the page's timings of one send. */
function timeOneSend(page, text) {
  return page.evaluate(
    (text) =>
      new Promise((resolve) => {
        const input = document.querySelector('.composer textarea');
        const times = {};
        // The reply to this message is the first assistant message after those already shown; a
        // failure before any text shows as the banner first (the failed reply is read back after).
        const before = document.querySelectorAll('li.message[data-role="assistant"]').length;
        const now = () => performance.now();
        input.addEventListener('keydown', (event) => event.key === 'Enter' && (times.sent = now()), {
          capture: true,
          once: true,
        });
        const observer = new MutationObserver(() => {
          const first = document.querySelector('.chat-list-item .chat-preview');
          if (times.listed === undefined && first?.textContent === text) times.listed = now();
          const indicator = document.querySelector('[data-testid="typing-indicator"]');
          if (times.typing === undefined && indicator) times.typing = now();
          const reply = document.querySelectorAll('li.message[data-role="assistant"]')[before];
          const banner = document.querySelector('[data-testid="error-banner"]');
          const status = reply?.dataset.status === 'complete' ? 'complete' : banner ? 'failed' : undefined;
          if (times.ended === undefined && status && times.typing !== undefined) {
            times.ended = now();
            times.status = status;
          }
          if (times.ended !== undefined && times.cleared === undefined && !indicator) times.cleared = now();
          if (times.cleared !== undefined) {
            observer.disconnect();
            resolve({
              status: times.status,
              listMs: times.listed - times.sent,
              typingMs: times.typing - times.sent,
              clearMs: times.cleared - times.ended,
            });
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      }),
    text,
  );
}

try {
  const page = await browser.newPage({ baseURL: app.base });
  await page.goto('/');
  await page.getByRole('button', { name: 'New here? Create an account' }).click();
  await page.getByLabel('Email').fill(`ui-${Date.now()}@example.test`);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  // Two chats, sending into the older one, so each send moves it to the top.
  for (let i = 0; i < 2; i++) {
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByRole('button', { name: 'Start chat' }).first().click();
    await page.locator('section.chat-view').waitFor();
  }
  const results = { complete: [], failed: [] };
  for (let i = 0; i < turns; i++) {
    for (const outcome of ['complete', 'failed']) {
      await page.locator('.chat-list-item').nth(1).locator('.chat-title').click();
      if (outcome === 'failed') {
        await page.route(
          '**/api/v1/chats/*/messages/stream',
          (route) =>
            route.continue({ headers: { ...route.request().headers(), 'x-debug-force-error': 'provider_503' } }),
          { times: 1 },
        );
      }
      const text = `Measured message ${outcome} ${i}`;
      await page.getByLabel('Message', { exact: true }).fill(text);
      const timing = timeOneSend(page, text);
      await page.getByLabel('Message', { exact: true }).press('Enter');
      const measured = await timing;
      if (measured.status !== outcome) {
        const banner = await page
          .locator('[data-testid="error-banner"]')
          .getAttribute('data-code')
          .catch(() => null);
        throw new Error(`expected a ${outcome} reply, got ${measured.status} (${banner}) at turn ${i}`);
      }
      results[outcome].push(measured);
    }
  }
  const row = (label, values) => {
    const s = summarize(values);
    return `| ${label} | ${values.length} | ${s.p50.toFixed(1)} | ${s.p95.toFixed(1)} | ${s.max.toFixed(1)} |`;
  };
  const all = [...results.complete, ...results.failed];
  console.log(`\n# UI timings (${new Date().toISOString()}), ${turns} replies completed and ${turns} failed\n`);
  console.log('| from → to | n | p50 ms | p95 ms | max ms |');
  console.log('|---|---|---|---|---|');
  console.log(
    row(
      'Enter → chat first in the list with the message',
      all.map((r) => r.listMs),
    ),
  );
  console.log(
    row(
      'Enter → typing indicator shown',
      all.map((r) => r.typingMs),
    ),
  );
  console.log(
    row(
      'reply complete → indicator cleared',
      results.complete.map((r) => r.clearMs),
    ),
  );
  console.log(
    row(
      'reply failed → indicator cleared',
      results.failed.map((r) => r.clearMs),
    ),
  );
} finally {
  await browser.close();
  await app.stop();
  await upstream.close();
  await cleanupAll();
}
