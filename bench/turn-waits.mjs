// What a JSON turn waits on at a steady rate: PostgreSQL's wait events and lock waits (sampled
// from pg_stat_activity and pg_locks every few milliseconds), the app's pool waiters and its
// event-loop delay, under two load shapes at the same average rate — autocannon's `overallRate`
// (every connection sends its one request of the second when its own one-second timer fires, and
// the timers start together: a burst each second) and an evenly paced open loop (one request every
// 1/rate s). Prints figures, asserts nothing.
//
//   npm run build -w backend && node_modules/.bin/node bench/turn-waits.mjs [--rate 90] [--seconds 10]
//     [--shapes burst,paced] [--app-env KEY=VALUE]…
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { makeChats, roundRobin, jsonTurnLoad, scrape, metricSum, startApp, startBenchDatabase } from './lib/app.mjs';
import { cannon, paced, sleep } from './lib/load.mjs';
import { canPin, cleanupAll, cpuMs, onCleanup, pin, startNode } from './lib/procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const rate = Number(flag('rate', '90'));
const seconds = Number(flag('seconds', '10'));
const shapes = flag('shapes', 'burst,paced').split(',');
const appEnv = Object.fromEntries(
  args.flatMap((a, i) => (a === '--app-env' ? [args[i + 1].split(/=(.*)/s).slice(0, 2)] : [])),
);

process.on('SIGINT', () => cleanupAll().finally(() => process.exit(130)));
const pins = canPin() ? { sut: '0', load: '1', postgres: '0,1' } : null;
if (pins) pin(process.pid, pins.load);

const logs = await mkdtemp(join(tmpdir(), 'parley-waits-'));
onCleanup(() => rm(logs, { recursive: true, force: true }));
const upstreamChild = await startNode(join(root, 'bench', 'upstream.mjs'), {
  name: 'upstream',
  ipc: true,
  cpu: pins?.load,
  log: join(logs, 'upstream.log'),
});
const upstreamUrl = `http://127.0.0.1:${upstreamChild.message.port}`;
// The database started here (not by the app) so that this script can watch it.
const databaseUrl = await startBenchDatabase(root, 'parley-waits-db-');
const app = await startApp({
  root,
  upstreamUrl,
  log: join(logs, 'app.log'),
  cpu: pins?.sut,
  env: { DATABASE_URL: databaseUrl, ...appEnv },
});
onCleanup(() => app.stop());
const chats = await makeChats(app.base, 200, { chatsPerUser: 4 });
const watcher = new pg.Client({ connectionString: databaseUrl });
await watcher.connect();
onCleanup(() => watcher.end());

// Warm-up: JIT, the pool, caches.
await cannon(jsonTurnLoad(app.base, roundRobin(chats), 'warm up', { connections: 50, amount: 500 }));

/** Samples PostgreSQL and the app's pool every `everyMs` until stopped. */
function sampler(everyMs = 5) {
  const waits = new Map();
  // Statements waiting for a lock, by their start.
  const lockedBy = new Map();
  let samples = 0;
  let active = 0;
  let lockWaiters = 0;
  let poolWaiting = 0;
  let poolSamples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await watcher.query(
        `SELECT a.state, a.wait_event_type, a.wait_event, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 40) AS query,
           (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted)::int AS waiting_locks,
           (SELECT left(regexp_replace(b.query, '\\s+', ' ', 'g'), 40) FROM pg_stat_activity b
              WHERE b.pid = (pg_blocking_pids(a.pid))[1]) AS blocker
         FROM pg_stat_activity a
         WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.state <> 'idle'`,
      );
      samples++;
      for (const row of rows) {
        active++;
        if (row.waiting_locks > 0) {
          lockWaiters++;
          const key = `${row.query} ⟵ ${row.blocker ?? '?'}`;
          lockedBy.set(key, (lockedBy.get(key) ?? 0) + 1);
        }
        const key = row.wait_event_type ? `${row.wait_event_type}:${row.wait_event}` : `(on CPU, ${row.state})`;
        waits.set(key, (waits.get(key) ?? 0) + 1);
      }
      await sleep(everyMs);
    }
  })();
  const pool = setInterval(async () => {
    const metrics = await scrape(app.base).catch(() => undefined);
    if (!metrics) return;
    poolSamples++;
    poolWaiting += metricSum(metrics, 'parley_db_pool_connections', { state: 'waiting' });
  }, 500);
  return {
    async stop() {
      running = false;
      clearInterval(pool);
      await loop;
      return {
        samples,
        meanActive: +(active / samples).toFixed(2),
        meanLockWaiters: +(lockWaiters / samples).toFixed(2),
        lockWaitsByStatement: Object.fromEntries(
          [...lockedBy.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([k, v]) => [k, +(v / samples).toFixed(2)]),
        ),
        meanPoolWaiting: poolSamples ? +(poolWaiting / poolSamples).toFixed(1) : 0,
        waits: Object.fromEntries(
          [...waits.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 8)
            .map(([k, v]) => [k, +(v / samples).toFixed(2)]),
        ),
      };
    },
  };
}

for (const shape of shapes) {
  const total = rate * seconds;
  const before = { cpu: cpuMs(app.pid), metrics: await scrape(app.base) };
  const watch = sampler();
  let result;
  if (shape === 'burst') {
    const r = await cannon(
      jsonTurnLoad(app.base, roundRobin(chats), 'How far to the next star?', {
        connections: 100,
        amount: total,
        overallRate: rate,
        maxSeconds: seconds * 2,
      }),
    );
    result = { ok: r.ok, failed: r.non2xx + r.errors, p50: +r.latency.p50.toFixed(1), p99: +r.latency.p99.toFixed(1) };
  } else {
    const nextChat = roundRobin(chats);
    const r = await paced({
      rate,
      amount: total,
      maxSeconds: seconds * 2,
      next: () => {
        const chat = nextChat();
        return {
          url: `${app.base}/api/v1/chats/${chat.chatId}/messages`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${chat.token}` },
          body: JSON.stringify({ content: 'How far to the next star?' }),
        };
      },
    });
    result = { ok: r.ok, failed: r.non2xx + r.errors, p50: +r.latency.p50.toFixed(1), p99: +r.latency.p99.toFixed(1) };
  }
  const waits = await watch.stop();
  const after = { cpu: cpuMs(app.pid), metrics: await scrape(app.base) };
  const loopP99 = metricSum(after.metrics, 'parley_nodejs_eventloop_lag_p99_seconds') * 1000;
  const loopMax = metricSum(after.metrics, 'parley_nodejs_eventloop_lag_max_seconds') * 1000;
  console.log(
    JSON.stringify({
      shape,
      rate,
      ...result,
      appCpuMsPerTurn: +((after.cpu - before.cpu) / Math.max(1, result.ok)).toFixed(2),
      loopP99Ms: +loopP99.toFixed(1),
      loopMaxMs: +loopMax.toFixed(1),
      ...waits,
      loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
    }),
  );
}
await cleanupAll();
process.exit(0);
