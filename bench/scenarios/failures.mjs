// Scenario 6 — failure mode. JSON turns while the upstream fails a share of its calls with
// transient errors (HTTP 500 and 503, seeded), beside the same load with no failures: success
// rate, upstream calls per turn and the latency the retries add. The app's retry settings are
// its defaults.
import { jsonTurnLoad, makeChats, roundRobin } from '../lib/app.mjs';
import { cannon } from '../lib/load.mjs';
import { watch } from '../lib/measure.mjs';
import { fmt } from '../lib/report.mjs';

export const name = 'failures';
export const title = '6. Failure mode: transient upstream failures';

const KINDS = ['http_500', 'http_503'];

export async function run(ctx, settings) {
  const rows = [];
  const results = {};
  await ctx.withApp({}, async (app) => {
    const chats = await makeChats(app.base, settings.concurrency, { chatsPerUser: settings.chatsPerUser });
    ctx.note(
      `load shape: ${settings.turns} JSON turns per run from ${settings.concurrency} connections, one chat each ` +
        `(${settings.chatsPerUser} chats per user); failures: ${KINDS.join(' and ')} at the given rate ` +
        '(seeded), instant upstream otherwise; retry settings are the defaults (RETRY_MAX_ATTEMPTS=3, ' +
        'RETRY_BASE_DELAY_MS=1000, RETRY_MAX_DELAY_MS=4000)',
    );
    for (const rate of [0, settings.rate]) {
      ctx.progress(`failure rate ${rate}`);
      await ctx.upstream.configure({
        pace: { firstByteDelayMs: 0, chunkDelayMs: 0 },
        failureRate: rate > 0 ? { rate, kinds: KINDS, seed: 7 } : undefined,
      });
      const watcher = await watch({ pid: app.pid, base: app.base, postgres: true });
      const r = await cannon(
        jsonTurnLoad(app.base, roundRobin(chats), 'Status report, please.', {
          connections: settings.concurrency,
          amount: settings.turns,
          maxSeconds: settings.maxSeconds,
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const cost = await watcher.end();
      const answered = r.ok + r.non2xx;
      const sent = answered + r.errors + r.timeouts;
      const callsPerTurn = cost.providerCalls / Math.max(1, cost.turns + cost.failedTurns);
      results[rate] = { r, cost, sent, success: r.ok / Math.max(1, sent), callsPerTurn };
      ctx.attempted(sent, r.ok);
      rows.push([
        `${rate * 100}%`,
        sent,
        r.ok,
        Object.entries(r.statuses)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') + (r.errors ? `, errors: ${r.errors}` : ''),
        `${fmt((100 * r.ok) / Math.max(1, sent), 2)}%`,
        fmt(callsPerTurn, 3),
        cost.retries,
        fmt(r.latencyAll.p50, 1),
        fmt(r.latencyAll.p95, 1),
        fmt(r.latencyAll.p99, 1),
        fmt(r.latencyAll.max, 1),
        fmt(r.rps, 0),
      ]);
    }
  });
  const base = results[0];
  const failing = results[settings.rate];
  const targets = [];
  if (failing) {
    targets.push(
      {
        what: `${settings.rate * 100}% transient failures: success rate`,
        target: '≥ 99.9%',
        measured: `${fmt(failing.success * 100, 2)}% (${failing.r.ok} of ${failing.sent})`,
        met: failing.success >= 0.999,
      },
      {
        what: `${settings.rate * 100}% transient failures: upstream calls per turn`,
        target: '≤ 1.26',
        measured: fmt(failing.callsPerTurn, 3),
        met: failing.callsPerTurn <= 1.26,
      },
      {
        what: `${settings.rate * 100}% transient failures: p99 latency`,
        target: '≤ 2.5 s',
        measured: `${fmt(failing.r.latencyAll.p99, 0)} ms (without failures ${fmt(base?.r.latencyAll.p99, 1)} ms)`,
        met: failing.r.latencyAll.p99 <= 2500,
      },
    );
  }
  return {
    tables: [
      {
        caption:
          'Latency (ms) of every answered turn, failures included; calls/turn = upstream calls (app metric parley_provider_calls_total) per turn ended.',
        columns: [
          'failure rate',
          'turns',
          'ok',
          'statuses',
          'success',
          'calls/turn',
          'retries',
          'p50',
          'p95',
          'p99',
          'max',
          'turns/s',
        ],
        rows,
      },
    ],
    targets,
    raw: results,
  };
}
