// What the app's memory is, at rest and under 200 concurrent JSON turns: RSS split into V8's heap
// (by space), memory outside the heap and mapped files, from /proc and the app's own /metrics; and
// a heap snapshot of each moment, summarised by bench/heap-summary.mjs (by kind of object, by
// package of loaded code, and the largest subtrees of the dominator tree).
//
// Usage (after `npm run build -w backend`, with the project's Node 24):
//   node_modules/.bin/node bench/memory.mjs [--turns 2400] [--connections 200] [--no-snapshot]
//                                         [--node-arg=--max-semi-space-size=4 ...] [--app-env KEY=VALUE ...]
//                                         [--root <another checkout>] [--out <dir>]
// `--root` runs another checkout's build (its backend/dist) with this harness, for a before/after.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jsonTurn, jsonTurnLoad, makeChats, metricSum, roundRobin, scrape, startApp } from './lib/app.mjs';
import { cannon, sleep } from './lib/load.mjs';
import { watch } from './lib/measure.mjs';
import { canPin, cleanupAll, pin, startNode } from './lib/procs.mjs';
import { markdownTable } from './lib/report.mjs';
import { summarizeHeap } from './heap-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    turns: { type: 'string', default: '2400' },
    connections: { type: 'string', default: '200' },
    snapshot: { type: 'boolean', default: true },
    'node-arg': { type: 'string', multiple: true },
    'app-env': { type: 'string', multiple: true },
    root: { type: 'string' },
    out: { type: 'string' },
  },
  allowNegative: true,
});
const root = resolve(flags.root ?? join(here, '..'));
const connections = Number(flags.connections);
const turns = Number(flags.turns);
const appEnv = Object.fromEntries(
  (flags['app-env'] ?? []).map((pair) => [pair.split('=')[0], pair.slice(pair.indexOf('=') + 1)]),
);
const dir = resolve(flags.out ?? join(here, 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-memory`));
await mkdir(dir, { recursive: true });
const MB = (bytes) => (bytes / 2 ** 20).toFixed(1);
const loadAverage = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

const pins = canPin() ? { sut: '0', load: '1', postgres: '0,1' } : null;
if (pins) pin(process.pid, pins.load);
const upstreamChild = await startNode(join(here, 'upstream.mjs'), {
  name: 'upstream',
  ipc: true,
  cpu: pins?.load,
  log: join(dir, 'upstream.log'),
});
const upstreamUrl = `http://127.0.0.1:${upstreamChild.message.port}`;
await fetch(`${upstreamUrl}/__demo/pace`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ firstByteDelayMs: 0, chunkDelayMs: 0 }),
});

const app = await startApp({
  root,
  upstreamUrl,
  log: join(dir, 'app.log'),
  cpu: pins?.sut,
  postgresCpu: pins?.postgres,
  env: appEnv,
  nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`, ...(flags['node-arg'] ?? [])],
});

/** RSS by kind of mapping (/proc/<pid>/smaps_rollup) and V8's view (the app's default metrics). */
async function breakdown() {
  const rollup = await readFile(`/proc/${app.pid}/smaps_rollup`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
  const metrics = await scrape(app.base);
  const space = (name) => metricSum(metrics, 'parley_nodejs_heap_space_size_total_bytes', { space: name });
  const heapTotal = metricSum(metrics, 'parley_nodejs_heap_size_total_bytes');
  return {
    rss: kb('Rss'),
    anonymous: kb('Anonymous'),
    fileBacked: kb('Rss') - kb('Anonymous'),
    heapTotal,
    heapUsed: metricSum(metrics, 'parley_nodejs_heap_size_used_bytes'),
    external: metricSum(metrics, 'parley_nodejs_external_memory_bytes'),
    newSpace: space('new'),
    oldSpace: space('old'),
    codeSpace: space('code'),
    largeObjects: space('large_object') + space('code_large_object') + space('new_large_object'),
    trustedSpace: space('trusted') + space('trusted_large_object'),
  };
}

/** Signals the app to write a heap snapshot and waits until the file stops growing. */
async function snapshot(label) {
  const before = new Set(await readdir(dir));
  process.kill(app.pid, 'SIGUSR2');
  for (;;) {
    await sleep(500);
    const file = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const first = (await stat(join(dir, file))).size;
    await sleep(1000);
    // The app writes the snapshot on its main thread; once it answers again the file is complete.
    const answers = await fetch(`${app.base}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (answers && (await stat(join(dir, file))).size === first) return { label, file: join(dir, file) };
  }
}

const rows = [];
const row = (label, b, peak) =>
  rows.push([
    label,
    MB(b.rss),
    peak ? MB(peak) : '',
    MB(b.heapTotal),
    MB(b.heapUsed),
    MB(b.newSpace),
    MB(b.oldSpace),
    MB(b.codeSpace),
    MB(b.largeObjects),
    MB(b.external),
    MB(b.rss - b.heapTotal),
    MB(b.fileBacked),
  ]);

const loadBefore = await loadAverage();
const chats = await makeChats(app.base, connections, { chatsPerUser: 4 });
for (const chat of chats.slice(0, 5)) await jsonTurn(app.base, chat);
await sleep(1000);
row('at rest (after start and 5 turns)', await breakdown());
const snapshots = [];
if (flags.snapshot) snapshots.push(await snapshot('at rest'));

const watcher = await watch({ pid: app.pid, base: app.base, postgres: true });
// Garbage collection's pauses on the main thread over the load, by kind: what a smaller young
// generation costs (more minor collections, and more objects promoted for the major ones).
const GC = ['minor', 'major', 'incremental'];
const gcSeconds = (metrics) => GC.map((kind) => metricSum(metrics, 'parley_nodejs_gc_duration_seconds_sum', { kind }));
const gcCounts = (metrics) => GC.map((kind) => metricSum(metrics, 'parley_nodejs_gc_duration_seconds_count', { kind }));
const metricsBefore = await scrape(app.base);
let during;
const load = cannon(
  jsonTurnLoad(app.base, roundRobin(chats), 'How far to the next star?', { connections, amount: turns }),
);
// Halfway through, with every connection busy: V8's view, and the snapshot of that moment.
await sleep(Math.max(1000, (turns / 200) * 500));
during = await breakdown();
if (flags.snapshot) snapshots.push(await snapshot(`under ${connections} concurrent turns`));
const result = await load;
const cost = await watcher.end();
const metricsAfter = await scrape(app.base);
const gcMs = gcSeconds(metricsAfter).map(
  (v, i) => ((v - gcSeconds(metricsBefore)[i]) * 1000) / Math.max(1, cost.turns),
);
const gcRuns = gcCounts(metricsAfter).map((v, i) => v - gcCounts(metricsBefore)[i]);
row(`under ${connections} concurrent JSON turns (mid-run)`, during, cost.peakRss);
await sleep(2000);
row('after the load', await breakdown());
const loadAfter = await loadAverage();

const lines = [
  `# Memory of the app (${root === resolve(here, '..') ? 'this checkout' : root}), ${new Date().toISOString()}`,
  '',
  `- ${connections} connections, ${turns} JSON turns (${result.ok} ok, ${result.rps.toFixed(0)}/s, app CPU ${(cost.cpuMs / Math.max(1, cost.turns)).toFixed(2)} ms/turn); node args: ${(flags['node-arg'] ?? []).join(' ') || '(none)'}; app env: ${JSON.stringify(appEnv)}`,
  `- load average before ${loadBefore}, after ${loadAfter}`,
  `- garbage collection over the load, ms of pause per turn (collections): ${GC.map((kind, i) => `${kind} ${gcMs[i].toFixed(3)} (${gcRuns[i]})`).join(', ')}`,
  '',
  markdownTable({
    caption:
      'MB. RSS = resident set (smaps_rollup); heap = V8 heap committed (total) and live (used), by space; outside the heap = RSS − heap committed (Node and V8 native memory, buffers, the binary); file-backed = mapped files in RSS (the node binary, shared libraries).',
    columns: [
      'moment',
      'RSS',
      'peak RSS',
      'heap total',
      'heap used',
      'new space',
      'old space',
      'code space',
      'large objects',
      'external',
      'outside the heap',
      'file-backed',
    ],
    rows,
  }),
  '',
];
for (const shot of snapshots) {
  const summary = summarizeHeap(JSON.parse(await readFile(shot.file, 'utf8')));
  lines.push(`## Heap snapshot ${shot.label}: ${shot.file}`, '');
  for (const table of summary.tables) lines.push(markdownTable(table), '');
}
const text = lines.join('\n');
console.log(text);
await writeFile(join(dir, 'memory.md'), `${text}\n`);
await app.stop();
await cleanupAll();
process.exit(0);
