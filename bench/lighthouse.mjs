// Lighthouse (the npm package, pinned) on the production build, in Debian's Chromium
// (/usr/bin/chromium, headless; never a downloaded browser): the sign-in page and a chat with a
// reply, each as a phone (Lighthouse's default mobile emulation and throttling) and as a desktop.
// Prints the four category scores; writes each HTML report and a summary.json under
// bench/results/<time>-lighthouse/. Each is the median of --runs runs (3). Figures, not pass/fail.
//   npm run bench:lighthouse [-- --runs 5]            (builds first)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from '@playwright/test';
import lighthouse from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';
import { call, createChat, register, startApp } from './lib/app.mjs';
import { numberFlag } from './lib/load.mjs';
import { cleanupAll, onCleanup } from './lib/procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
const RUNS = numberFlag('runs', 3);
const LIGHTHOUSE_VERSION = createRequire(import.meta.url)('lighthouse/package.json').version;

const outDir = join(root, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-lighthouse`);
await mkdir(outDir, { recursive: true });
process.once('SIGINT', () => void cleanupAll().then(() => process.exit(130)));

/** Debian's Chromium with a DevTools port of its own choosing; resolves with that port. */
async function startChromium() {
  const profile = join(tmpdir(), `parley-lighthouse-${process.pid}`);
  const child = spawn(
    CHROMIUM,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  onCleanup(
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk) => {
      seen += chunk.toString();
      const match = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(seen);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`chromium exited (${code}): ${seen.slice(-500)}`)));
  });
}

try {
  const { DemoGeminiServer } = await import(
    pathToFileURL(join(root, 'backend', 'dist', 'providers', 'demo', 'demo-gemini.server.js')).href
  );
  const upstream = await DemoGeminiServer.start({ pace: { firstByteDelayMs: 50, chunkDelayMs: 5 } });
  onCleanup(() => upstream.close());
  const app = await startApp({
    root,
    upstreamUrl: upstream.baseUrl,
    log: join(outDir, 'app.log'),
    env: { SERVE_FRONTEND: 'true' },
  });
  onCleanup(() => app.stop());

  // A signed-in person with a chat that has a reply with Markdown in it.
  const token = await register(app.base);
  const chatId = await createChat(app.base, token);
  const sent = await call(app.base, `/api/v1/chats/${chatId}/messages`, {
    method: 'POST',
    token,
    headers: { 'Idempotency-Key': randomUUID() },
    body: { content: 'Give me a **short** list and a table, please.' },
  });
  if (sent.status !== 201 && sent.status !== 200) throw new Error(`sendMessage answered ${sent.status}`);

  const port = await startChromium();
  // The token goes where the app keeps it; Lighthouse is told not to clear storage.
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
  const page = await browser.contexts()[0].newPage();
  await page.goto(`${app.base}/`);

  const screens = [
    { name: 'sign-in', path: '/', signedIn: false },
    { name: 'chat', path: `/chats/${chatId}`, signedIn: true },
  ];
  const summary = {};
  for (const screen of screens) {
    await page.evaluate(
      (value) => {
        if (value) localStorage.setItem('parley.token', value);
        else localStorage.removeItem('parley.token');
      },
      screen.signedIn ? token : null,
    );
    for (const [form, config] of [
      ['mobile', undefined],
      ['desktop', desktopConfig],
    ]) {
      // Several runs, the one with the median performance score kept: on a busy machine one run's
      // blocking time (and so its performance score) swings widely.
      const runs = [];
      for (let run = 0; run < RUNS; run++) {
        const result = await lighthouse(
          `${app.base}${screen.path}`,
          { port, output: 'html', logLevel: 'error', onlyCategories: CATEGORIES, disableStorageReset: true },
          config,
        );
        if (result.lhr.runtimeError) {
          process.stdout.write(`  ${screen.name} ${form}: run failed (${result.lhr.runtimeError.code})\n`);
          continue;
        }
        runs.push(result);
      }
      if (runs.length === 0) throw new Error(`every run of ${screen.name} ${form} failed`);
      const performance = (result) => result.lhr.categories.performance?.score ?? 0;
      runs.sort((a, b) => performance(a) - performance(b));
      const result = runs[Math.floor(runs.length / 2)];
      const scores = Object.fromEntries(
        CATEGORIES.map((id) => [id, Math.round((result.lhr.categories[id]?.score ?? 0) * 100)]),
      );
      const allPerformance = runs.map((run) => Math.round(performance(run) * 100));
      const metrics = Object.fromEntries(
        ['first-contentful-paint', 'largest-contentful-paint', 'total-blocking-time', 'cumulative-layout-shift'].map(
          (id) => [id, result.lhr.audits[id]?.displayValue ?? null],
        ),
      );
      // What kept a category below 100: its audits that did not pass, with their score.
      const failing = Object.fromEntries(
        CATEGORIES.map((id) => [
          id,
          (result.lhr.categories[id]?.auditRefs ?? [])
            .filter((ref) => ref.weight > 0 && (result.lhr.audits[ref.id]?.score ?? 1) < 1)
            .map((ref) => `${ref.id} (${result.lhr.audits[ref.id].score})`),
        ]),
      );
      const file = join(outDir, `${screen.name}-${form}.html`);
      await writeFile(file, result.report);
      summary[`${screen.name} ${form}`] = { scores, performanceRuns: allPerformance, metrics, failing, report: file };
      const line = CATEGORIES.map((id) => `${id} ${scores[id]}`).join(', ');
      process.stdout.write(
        `${`${screen.name} ${form}`.padEnd(16)} ${line}  (performance runs ${allPerformance.join('/')}; ` +
          `LCP ${metrics['largest-contentful-paint']}, TBT ${metrics['total-blocking-time']}, CLS ${metrics['cumulative-layout-shift']})\n`,
      );
      for (const id of CATEGORIES) {
        if (failing[id].length > 0) process.stdout.write(`${''.padEnd(18)}${id} below 1: ${failing[id].join(', ')}\n`);
      }
    }
  }
  await page.close();
  await browser.close();
  await writeFile(
    join(outDir, 'summary.json'),
    JSON.stringify({ lighthouse: LIGHTHOUSE_VERSION, chromium: CHROMIUM, screens: summary }, null, 2),
  );
  process.stdout.write(`reports: ${outDir}\n`);
} finally {
  await cleanupAll();
}
