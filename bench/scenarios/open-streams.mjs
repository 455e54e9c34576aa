// Scenario 3 — many open conversations. Thousands of streamed turns held open at once against a
// slow upstream (replies paced over tens of seconds), opened at a steady rate and bounded in time:
// how many finish, the app's peak RSS, its event-loop delay and its open file descriptors.
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { makeChats, streamTurn } from '../lib/app.mjs';
import { agent, summarize } from '../lib/load.mjs';
import { loopSampler, watch } from '../lib/measure.mjs';
import { openFileLimit } from '../lib/procs.mjs';
import { fmt, mb } from '../lib/report.mjs';
import { countBy } from './streaming.mjs';

export const name = 'open-streams';
export const title = '3. Many open conversations: concurrent streams held open against a slow upstream';

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function fdLimit(pid) {
  try {
    return /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

export async function run(ctx, settings) {
  const { streams, rampSeconds, boundSeconds, pace } = settings;
  let summary;
  await ctx.withApp({ env: { TURN_TIMEOUT_MS: String(settings.turnTimeoutMs) } }, async (app) => {
    ctx.progress(`creating ${streams} chats`);
    const setupStarted = performance.now();
    const chats = await makeChats(app.base, streams, { chatsPerUser: settings.chatsPerUser, concurrency: 64 });
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    const replySeconds = (pace.firstByteDelayMs + 10 * pace.chunkDelayMs) / 1000;
    ctx.note(
      `load shape: ${streams} streamed turns, one per chat, over ${Math.ceil(streams / settings.chatsPerUser)} users ` +
        `(${settings.chatsPerUser} chats each), opened evenly over ${rampSeconds} s; upstream pace: first byte after ` +
        `${pace.firstByteDelayMs} ms, then a chunk every ${pace.chunkDelayMs} ms (about ${fmt(replySeconds, 0)} s a reply); ` +
        `whole phase bounded to ${boundSeconds} s; TURN_TIMEOUT_MS=${settings.turnTimeoutMs}; ` +
        `fixtures took ${fmt(setupSeconds, 1)} s (not counted)`,
    );
    await ctx.upstream.configure({ pace });
    const http = agent();
    const watcher = await watch({ pid: app.pid, base: app.base, postgres: true, pollMs: 500 });
    const sampler = loopSampler(app.base, 2000);
    // The harness's own event loop: a client that cannot write its request in time is cut off by
    // the app's header timeout, which would be the harness's failure, not the app's.
    const harnessLoop = monitorEventLoopDelay({ resolution: 10 });
    harnessLoop.enable();
    let open = 0;
    let peakOpen = 0;
    let peakFds = fdCount(app.pid);
    const fdPoll = setInterval(() => {
      peakFds = Math.max(peakFds, fdCount(app.pid));
    }, 2000);
    const started = performance.now();
    const deadline = started + boundSeconds * 1000;
    const results = [];
    const pending = [];
    ctx.progress(`opening ${streams} streams over ${rampSeconds} s`);
    for (let i = 0; i < streams; i++) {
      const due = started + (i * rampSeconds * 1000) / streams;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const chat = chats[i];
      let counted = false;
      pending.push(
        streamTurn(app.base, chat, 'Hold position and keep the channel open.', {
          agent: http,
          timeoutMs: Math.max(1, deadline - performance.now()),
          onOpen: () => {
            counted = true;
            open++;
            peakOpen = Math.max(peakOpen, open);
          },
        }).then((result) => {
          if (counted) open--;
          results.push(result);
        }),
      );
    }
    const openedAfter = (performance.now() - started) / 1000;
    ctx.progress(`all ${streams} requests sent after ${fmt(openedAfter, 1)} s; waiting for the replies`);
    await Promise.all(pending);
    const elapsed = (performance.now() - started) / 1000;
    clearInterval(fdPoll);
    const loop = await sampler.stop();
    harnessLoop.disable();
    const cost = await watcher.end();
    http.destroy();
    const done = results.filter((r) => r.outcome === 'done');
    // Streams that ended early (not done, not cut at the bound): when they failed and when their
    // request had been written, to tell a server cutting a slow client from one refusing work.
    const failed = results.filter((r) => r.outcome !== 'done' && r.outcome !== 'timeout');
    summary = {
      streams,
      done: done.length,
      outcomes: countBy(results.map((r) => (r.error ? `${r.outcome}:${r.error}` : r.outcome))),
      peakOpen,
      peakFds,
      appFdLimit: fdLimit(app.pid),
      harnessFdLimit: openFileLimit().soft,
      elapsed,
      openedAfter,
      first: summarize(done.map((r) => r.firstMs)),
      total: summarize(done.map((r) => r.totalMs)),
      cost,
      loop,
      harnessLoop: { p99Ms: harnessLoop.percentile(99) / 1e6, maxMs: harnessLoop.max / 1e6 },
      failed: {
        at: summarize(failed.map((r) => r.totalMs)),
        written: summarize(failed.filter((r) => r.sentMs !== undefined).map((r) => r.sentMs)),
        unwritten: failed.filter((r) => r.sentMs === undefined).length,
      },
    };
    ctx.attempted(streams, done.length);
  });

  const s = summary;
  const errors = s.streams - s.done;
  if (s.failed.at.count > 0) {
    ctx.note(
      `the ${s.failed.at.count} streams that ended early (not done, not cut at the bound) ended ` +
        `${fmt(s.failed.at.p50 / 1000, 1)} s (p50; max ${fmt(s.failed.at.max / 1000, 1)} s) after they were started; their ` +
        `request was written ${fmt(s.failed.written.p50 / 1000, 2)} s (p50; max ${fmt(s.failed.written.max / 1000, 2)} s) ` +
        `after it was started, ${s.failed.unwritten} never`,
    );
  }
  return {
    tables: [
      {
        caption: `Streams held open together (client side: response headers received, not yet ended), how they ended, and what the app needed. Outcomes: done = \`done\` event; error:<code> = \`error\` event; http_<status>; network:<errno>; timeout = still open at the ${settings.boundSeconds} s bound.`,
        columns: [
          'streams',
          'done',
          'not done',
          'peak open',
          'outcomes',
          'TTFD p50/p95 ms',
          'total p50/p95 s',
          'peak RSS',
          'loop p99 / max ms',
          'harness loop p99 / max ms',
          'app fds peak (limit)',
          'app CPU s',
          'PG CPU s',
          'phase s',
        ],
        rows: [
          [
            s.streams,
            s.done,
            errors,
            s.peakOpen,
            Object.entries(s.outcomes)
              .map(([k, v]) => `${k}: ${v}`)
              .join(', '),
            `${fmt(s.first.p50, 0)} / ${fmt(s.first.p95, 0)}`,
            `${fmt(s.total.p50 / 1000, 1)} / ${fmt(s.total.p95 / 1000, 1)}`,
            mb(s.cost.peakRss),
            `${fmt(s.loop.worstP99Ms, 0)} / ${fmt(s.loop.worstMaxMs, 0)}`,
            `${fmt(s.harnessLoop.p99Ms, 0)} / ${fmt(s.harnessLoop.maxMs, 0)}`,
            `${s.peakFds} (${s.appFdLimit})`,
            fmt(s.cost.cpuMs / 1000, 1),
            fmt(s.cost.pgCpuMs / 1000, 1),
            fmt(s.elapsed, 1),
          ],
        ],
      },
    ],
    targets: [
      {
        what: `${s.streams} concurrent open streams: errors`,
        target: '0',
        measured: `${errors} not done of ${s.streams}; ${s.peakOpen} open at once at the peak`,
        met: errors === 0,
      },
      {
        what: `${s.streams} concurrent open streams: app RSS`,
        target: '≤ 1.5 GiB',
        measured: mb(s.cost.peakRss),
        met: s.cost.peakRss <= 1.5 * 2 ** 30,
      },
    ],
    raw: s,
  };
}
