// Scenario 1 — overhead of a turn. The same generateContent load sent (a) straight to the demo
// upstream, (b) through Parley's JSON turn route (persistence included) and (c) through a bare Node
// reverse proxy; at several concurrencies, with an instant upstream and a 200 ms one, then at a
// steady 300 requests per second.
import { jsonTurnLoad, makeChats, MODEL, recordUpstreamBody, roundRobin } from '../lib/app.mjs';
import { cannon, paced } from '../lib/load.mjs';
import { watch } from '../lib/measure.mjs';
import { addedCells, fmt, loadCells, mb } from '../lib/report.mjs';

export const name = 'overhead';
export const title = '1. Overhead of a turn (JSON): bare upstream (a), Parley (b), bare Node proxy (c)';

const CONTENT = 'How far to the next star?';

export async function run(ctx, settings) {
  const rows = [];
  const added = [];
  const results = {};
  const targets = [];
  await ctx.withApp({}, async (app) => {
    const maxConnections = Math.max(...settings.levels, settings.steadySeconds > 0 ? settings.steadyConnections : 0);
    const chats = await makeChats(app.base, maxConnections, { chatsPerUser: settings.chatsPerUser });
    ctx.note(
      `load shape: ${chats.length} chats over ${Math.ceil(chats.length / settings.chatsPerUser)} users ` +
        `(${settings.chatsPerUser} chats per user); each autocannon connection keeps to one chat, so no two ` +
        `turns ever wait on the same chat; a turn is POST /api/v1/chats/{id}/messages (JSON)`,
    );
    const appLoad = (connections, extra) =>
      jsonTurnLoad(app.base, roundRobin(chats), CONTENT, { connections, ...extra });

    // What the app sends upstream now (its history grows with the run).
    const sampleBody = (pace) => recordUpstreamBody(ctx.upstream, app.base, chats[0], pace);
    const upstreamPath = `/v1beta/models/${MODEL}:generateContent`;
    const bareLoad = (baseUrl, body, connections, extra) => ({
      url: `${baseUrl}${upstreamPath}`,
      connections,
      headers: { 'content-type': 'application/json', 'x-goog-api-key': 'bench-key' },
      body,
      ...extra,
    });

    const measureApp = async (load) => {
      const watcher = await watch({ pid: app.pid, base: app.base, postgres: true });
      const result = await cannon(load);
      await new Promise((resolve) => setTimeout(resolve, 300)); // turns cut off at the end still finish
      return { ...result, cost: await watcher.end() };
    };
    const measureBare = async (pid, load) => {
      const watcher = await watch({ pid });
      const result = await cannon(load);
      const { peakRss: _rss, loopP99Ms: _loop, ...cost } = await watcher.end();
      return { ...result, cost };
    };

    const addedRow = (paceLabel, level, a, b, c) =>
      added.push([
        paceLabel,
        level,
        ...addedCells(b.latency, a.latency, ['p50', 'p95', 'p99']),
        ...addedCells(c.latency, a.latency, ['p50', 'p99']),
      ]);
    const row = (pace, concurrency, path, r, cpuPerRequest, pgPerTurn) => {
      rows.push([
        `${pace} ms`,
        concurrency,
        path,
        ...loadCells(r),
        fmt(cpuPerRequest, 3),
        pgPerTurn === undefined ? '' : fmt(pgPerTurn, 3),
        r.cost?.peakRss ? mb(r.cost.peakRss) : '',
        r.cost?.loopP99Ms === undefined ? '' : fmt(r.cost.loopP99Ms, 1),
      ]);
    };

    for (const pace of settings.paces) {
      for (const concurrency of settings.levels) {
        const key = `${pace}/${concurrency}`;
        ctx.progress(`pace ${pace} ms, concurrency ${concurrency}`);
        const turns = (pace === 0 ? settings.turns : settings.pacedTurns)[concurrency];
        await ctx.upstream.configure({ pace: { firstByteDelayMs: pace, chunkDelayMs: 0 } });
        await cannon(appLoad(concurrency, { amount: concurrency * settings.warmupRounds })); // JIT, pool, caches
        // A fixed number of turns, all awaited: nothing cut off at the end, CPU per turn exact.
        const b = await measureApp(appLoad(concurrency, { amount: turns, maxSeconds: settings.maxSeconds }));
        const body = await sampleBody({ firstByteDelayMs: pace, chunkDelayMs: 0 });
        const bare = { duration: settings.bareSeconds };
        const a = await measureBare(ctx.upstream.pid, bareLoad(ctx.upstream.url, body, concurrency, bare));
        await cannon(bareLoad(ctx.proxy.url, body, concurrency, { duration: 0.3 }));
        const c = await measureBare(ctx.proxy.pid, bareLoad(ctx.proxy.url, body, concurrency, bare));
        const appCpu = b.cost.cpuMs / (b.cost.turns || b.ok);
        const pgCpu = b.cost.pgCpuMs / (b.cost.turns || b.ok);
        const proxyCpu = c.cost.cpuMs / Math.max(1, c.ok);
        results[key] = { a, b, c, appCpu, pgCpu, proxyCpu };
        row(pace, concurrency, '(a) upstream', a, a.cost.cpuMs / Math.max(1, a.ok));
        row(pace, concurrency, '(b) Parley', b, appCpu, pgCpu);
        row(pace, concurrency, '(c) proxy', c, proxyCpu);
        addedRow(`${pace} ms`, concurrency, a, b, c);
        ctx.attempted(b.ok + b.non2xx + b.errors, b.ok);
      }
    }

    // An open loop at a steady rate (evenly spaced arrivals; see `paced`): the 300/s, and
    // a rate the app sustains here (half its throughput at 50 concurrent).
    const sustainable = Math.max(10, Math.floor((results['0/50']?.b.rps ?? 20) / 2 / 10) * 10);
    const rates =
      settings.steadySeconds > 0
        ? [...new Set([settings.steadyRate, ...(settings.sustainedRate ? [sustainable] : [])])]
        : [];
    const turnRequests = () => {
      const nextChat = roundRobin(chats);
      return () => {
        const chat = nextChat();
        return {
          url: `${app.base}/api/v1/chats/${chat.chatId}/messages`,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            authorization: `Bearer ${chat.token}`,
          },
          body: JSON.stringify({ content: CONTENT }),
        };
      };
    };
    const sameRequest = (baseUrl, body) => () => ({
      url: `${baseUrl}${upstreamPath}`,
      headers: { 'content-type': 'application/json', 'x-goog-api-key': 'bench-key' },
      body,
    });
    for (const rate of rates) {
      ctx.progress(`steady ${rate}/s`);
      const pace = { firstByteDelayMs: 0, chunkDelayMs: 0 };
      await ctx.upstream.configure({ pace });
      const amount = rate * settings.steadySeconds;
      const maxSeconds = settings.steadySeconds * 1.5;
      const steady = { amount, rate, maxSeconds };
      const timedApp = async (load) => {
        const watcher = await watch({ pid: app.pid, base: app.base, postgres: true });
        const result = await paced(load);
        await new Promise((resolve) => setTimeout(resolve, 300));
        return { ...result, cost: await watcher.end() };
      };
      const timedBare = async (pid, load) => {
        const watcher = await watch({ pid });
        const result = await paced(load);
        const { peakRss: _rss, loopP99Ms: _loop, ...cost } = await watcher.end();
        return { ...result, cost };
      };
      const b = await timedApp({ ...steady, next: turnRequests() });
      const body = await sampleBody(pace);
      const a = await timedBare(ctx.upstream.pid, { ...steady, next: sameRequest(ctx.upstream.url, body) });
      const c = await timedBare(ctx.proxy.pid, { ...steady, next: sameRequest(ctx.proxy.url, body) });
      const appCpu = b.cost.cpuMs / (b.cost.turns || b.ok);
      results[`steady/${rate}`] = { a, b, c, appCpu, rate, cut: b.ok + b.non2xx < amount };
      const label = `${rate}/s offered`;
      row(0, label, '(a) upstream', a, a.cost.cpuMs / Math.max(1, a.ok));
      row(0, label, '(b) Parley', b, appCpu, b.cost.pgCpuMs / (b.cost.turns || b.ok));
      row(0, label, '(c) proxy', c, c.cost.cpuMs / Math.max(1, c.ok));
      addedRow('0 ms', label, a, b, c);
      if (b.ok + b.non2xx < amount) {
        ctx.note(
          `at ${rate}/s offered the app answered ${b.ok} of ${amount} turns within ${maxSeconds} s ` +
            `(${fmt(b.rps, 0)}/s): it cannot sustain the rate, and the turns still queued when the run was ` +
            'bounded are not in the percentiles (which are therefore flattering)',
        );
      }
    }
  });

  const at50 = results['0/50'];
  if (at50) {
    targets.push({
      what: 'app CPU per JSON turn (instant upstream, 50 concurrent)',
      target: '≤ 1.0 ms',
      measured: `${fmt(at50.appCpu, 2)} ms (PostgreSQL ${fmt(at50.pgCpu, 2)} ms more; bare proxy ${fmt(at50.proxyCpu, 2)} ms)`,
      met: at50.appCpu <= 1.0,
    });
    targets.push({
      what: 'PostgreSQL CPU per JSON turn (instant upstream, 50 concurrent)',
      target: '≤ 1.0 ms',
      measured: `${fmt(at50.pgCpu, 2)} ms (all of the app's PostgreSQL processes)`,
      met: at50.pgCpu <= 1.0,
    });
    targets.push({
      what: 'turns per second at 50 concurrent, durable persistence',
      target: '≥ 800/s',
      measured: `${fmt(at50.b.rps, 0)}/s (bare upstream ${fmt(at50.a.rps, 0)}/s)`,
      met: at50.b.rps >= 800,
    });
  }
  const at1 = results['0/1'];
  if (at1) {
    const addedP50 = at1.b.latency.p50 - at1.a.latency.p50;
    targets.push({
      what: 'added latency p50, one request at a time',
      target: '≤ 2 ms',
      measured: `${fmt(addedP50, 2)} ms (Parley ${fmt(at1.b.latency.p50, 2)} − upstream ${fmt(at1.a.latency.p50, 2)})`,
      met: addedP50 <= 2,
    });
  }
  for (const [key, steady] of Object.entries(results)) {
    if (!key.startsWith('steady/')) continue;
    const { a, b, rate, cut } = steady;
    const addedP99 = b.latency.p99 - a.latency.p99;
    targets.push({
      what: `added latency p99 at a steady ${rate} turns/s${rate === settings.steadyRate ? '' : ' (a rate this machine sustains; not the target rate)'}`,
      target: rate === settings.steadyRate ? '≤ 15 ms' : '(≤ 15 ms at 300/s)',
      measured: `${fmt(addedP99, 2)} ms (Parley p99 ${fmt(b.latency.p99, 2)} at ${fmt(b.rps, 0)}/s answered − upstream ${fmt(a.latency.p99, 2)})${cut ? '; rate not sustained' : ''}`,
      met: rate === settings.steadyRate ? addedP99 <= 15 && !cut : null,
    });
  }
  const at200 = results['0/200'];
  if (at200) {
    targets.push({
      what: 'app RSS at 200 concurrent JSON turns',
      target: '≤ 250 MB',
      measured: mb(at200.b.cost.peakRss),
      met: at200.b.cost.peakRss <= 250 * 1024 * 1024,
    });
  }

  return {
    tables: [
      {
        caption:
          'Requests per second and latency (ms) of each path; CPU per request of the process under test (the demo upstream for (a), the app for (b), the proxy for (c)); PostgreSQL CPU per turn; peak RSS and event-loop delay p99 of the app over the run.',
        columns: [
          'upstream pace',
          'concurrency',
          'path',
          'ok',
          'failed',
          'req/s',
          'p50',
          'p95',
          'p99',
          'CPU ms/req',
          'PG CPU ms/turn',
          'peak RSS',
          'loop p99 ms',
        ],
        rows,
      },
      {
        caption: 'Added latency over the bare upstream (ms): difference of the percentiles, (b) − (a) and (c) − (a).',
        columns: [
          'upstream pace',
          'concurrency',
          'Parley +p50',
          'Parley +p95',
          'Parley +p99',
          'proxy +p50',
          'proxy +p99',
        ],
        rows: added,
      },
    ],
    targets,
    raw: results,
  };
}
