// Scenario 2 — streaming. Time to first `delta` and total time of streamed turns (SSE) at several
// concurrencies, against a paced upstream (first byte after 100 ms, 20 chunks 10 ms apart), beside
// the same streams taken straight from the upstream. Replaces the former bench/ttft.mjs.
import {
  isUpstreamChunk,
  makeChats,
  MODEL,
  recordUpstreamBody,
  streamTurn,
  upstreamStreamOutcome,
} from '../lib/app.mjs';
import { agent, closedLoop, summarize, timedStream } from '../lib/load.mjs';
import { watch } from '../lib/measure.mjs';
import { addedCells, fmt, mb } from '../lib/report.mjs';

export const name = 'streaming';
export const title = '2. Streaming: time to first delta and total time, Parley beside the bare upstream';

// 80 words: the demo server sends four words a chunk, so every reply is 20 chunks.
const REPLY = Array.from({ length: 20 }, (_, i) => `Helm reports sector ${i + 1}`).join(' ');

/** Demo-server faults making each of the next `count` replies the 20-chunk REPLY. */
export const replyFaults = (count) => Array.from({ length: count }, () => ({ kind: 'reply', text: REPLY }));

export async function run(ctx, settings) {
  const rows = [];
  const added = [];
  const results = {};
  const pace = settings.pace;
  await ctx.withApp({}, async (app) => {
    const chats = await makeChats(app.base, Math.max(...settings.levels), { chatsPerUser: settings.chatsPerUser });
    ctx.note(
      `load shape: ${chats.length} chats over ${Math.ceil(chats.length / settings.chatsPerUser)} users; ` +
        `each of the concurrent clients keeps to one chat and streams turns back to back ` +
        `(the streaming form, POST /api/v1/chats/{id}/messages/stream); upstream pace: first byte after ${pace.firstByteDelayMs} ms, ` +
        `20 chunks ${pace.chunkDelayMs} ms apart`,
    );
    const http = agent();
    const appStream = (chat) => streamTurn(app.base, chat, 'Plot a course past the nebula.', { agent: http });

    for (const concurrency of settings.levels) {
      ctx.progress(`${concurrency} concurrent streams`);
      const total = concurrency * settings.turnsPerStream;
      const active = chats.slice(0, concurrency);
      await ctx.upstream.configure({ pace, faults: replyFaults(concurrency) });
      await Promise.all(active.map((chat) => appStream(chat))); // warm-up

      await ctx.upstream.configure({ pace, faults: replyFaults(total) });
      const watcher = await watch({ pid: app.pid, base: app.base, postgres: true });
      const viaApp = await closedLoop({ concurrency, total, task: (worker) => appStream(active[worker]) });
      const cost = await watcher.end();

      const body = await recordUpstreamBody(ctx.upstream, app.base, active[0], pace);
      await ctx.upstream.configure({ pace, faults: replyFaults(total) });
      const direct = await closedLoop({
        concurrency,
        total,
        task: () =>
          timedStream({
            url: `${ctx.upstream.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`,
            headers: { 'x-goog-api-key': 'bench-key' },
            body,
            agent: http,
            isFirst: isUpstreamChunk,
            outcomeOf: upstreamStreamOutcome,
          }),
      });

      const stats = (list) => {
        const ok = list.filter((r) => r.outcome === 'done');
        return {
          count: list.length,
          ok: ok.length,
          first: summarize(ok.map((r) => r.firstMs)),
          total: summarize(ok.map((r) => r.totalMs)),
          outcomes: countBy(list.map((r) => r.outcome)),
        };
      };
      const a = stats(direct);
      const b = stats(viaApp);
      results[concurrency] = { a, b, cost, appCpu: cost.cpuMs / Math.max(1, cost.turns) };
      ctx.attempted(b.count, b.ok);
      const row = (path, s, extra) =>
        rows.push([
          concurrency,
          path,
          s.count,
          s.ok,
          fmt(s.first.p50, 2),
          fmt(s.first.p95, 2),
          fmt(s.first.p99, 2),
          fmt(s.total.p50, 1),
          fmt(s.total.p95, 1),
          ...extra,
        ]);
      row('(a) upstream', a, ['', '', '', '']);
      row('(b) Parley', b, [
        fmt(cost.cpuMs / Math.max(1, cost.turns), 2),
        fmt(cost.pgCpuMs / Math.max(1, cost.turns), 2),
        mb(cost.peakRss),
        fmt(cost.loopP99Ms, 1),
      ]);
      added.push([
        concurrency,
        ...addedCells(b.first, a.first, ['p50', 'p95', 'p99']),
        ...addedCells(b.total, a.total, ['p50', 'p95']),
        Object.entries(b.outcomes)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
      ]);
    }
    http.destroy();
  });

  const targets = [];
  if (results[50]) {
    const { a, b, cost, appCpu } = results[50];
    targets.push({
      what: 'added time to first delta p50, 50 streams (paced upstream)',
      target: '≤ 5 ms',
      measured: `${fmt(b.first.p50 - a.first.p50, 2)} ms (Parley ${fmt(b.first.p50, 1)} − upstream ${fmt(a.first.p50, 1)})`,
      met: b.first.p50 - a.first.p50 <= 5,
    });
    targets.push({
      what: 'app CPU per streamed turn (20 chunks, 50 streams)',
      target: '≤ 1.5 ms',
      measured: `${fmt(appCpu, 2)} ms over ${cost.turns} turns (PostgreSQL ${fmt(cost.pgCpuMs / Math.max(1, cost.turns), 2)} ms more)`,
      met: appCpu <= 1.5,
    });
  }
  if (results[200]) {
    const { a, b, cost } = results[200];
    targets.push({
      what: 'added time to first delta p95, 200 streams (paced upstream)',
      target: '≤ 20 ms',
      measured: `${fmt(b.first.p95 - a.first.p95, 2)} ms (Parley ${fmt(b.first.p95, 1)} − upstream ${fmt(a.first.p95, 1)})`,
      met: b.first.p95 - a.first.p95 <= 20,
    });
    targets.push({
      what: 'app RSS at 200 concurrent streamed turns',
      target: '≤ 250 MB',
      measured: mb(cost.peakRss),
      met: cost.peakRss <= 250 * 1024 * 1024,
    });
  }
  return {
    tables: [
      {
        caption:
          'Streamed turns (ms): time to first delta (TTFD; for (a) the first chunk) and total time of the successful streams; app CPU and PostgreSQL CPU per turn, peak RSS and event-loop delay p99 over the Parley run.',
        columns: [
          'streams',
          'path',
          'turns',
          'ok',
          'TTFD p50',
          'TTFD p95',
          'TTFD p99',
          'total p50',
          'total p95',
          'CPU ms/turn',
          'PG CPU ms/turn',
          'peak RSS',
          'loop p99 ms',
        ],
        rows,
      },
      {
        caption: 'Added by Parley over the bare upstream (ms), and how its streams ended.',
        columns: ['streams', '+TTFD p50', '+TTFD p95', '+TTFD p99', '+total p50', '+total p95', 'outcomes'],
        rows: added,
      },
    ],
    targets,
    raw: results,
  };
}

export function countBy(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
