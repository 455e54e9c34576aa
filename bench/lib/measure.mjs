// What a phase of load cost the system under test: CPU of the app and of its PostgreSQL, turns
// completed (from the app's own metrics), peak RSS and event-loop delay over the phase.
import { metricSum, scrape } from './app.mjs';
import { cpuMs, memory, postgresCpuMs, resetPeakRss } from './procs.mjs';

/** Starts watching a process (and, for the app, its database and metrics); `end()` returns the deltas. */
export async function watch({ pid, base, postgres = false, pollMs = 250 }) {
  const before = {
    cpu: cpuMs(pid),
    pg: postgres ? postgresCpuMs(pid) : 0,
    metrics: base ? await scrape(base) : undefined,
    at: performance.now(),
  };
  const hwmReset = resetPeakRss(pid);
  let peakRss = memory(pid).rss;
  const poll = setInterval(() => {
    peakRss = Math.max(peakRss, memory(pid).rss);
  }, pollMs);
  return {
    async end() {
      clearInterval(poll);
      const { rss, hwm } = memory(pid);
      const after = {
        cpu: cpuMs(pid),
        pg: postgres ? postgresCpuMs(pid) : 0,
        metrics: base ? await scrape(base) : undefined,
        at: performance.now(),
      };
      const delta = (name, labels) => metricSum(after.metrics, name, labels) - metricSum(before.metrics, name, labels);
      return {
        cpuMs: after.cpu - before.cpu,
        pgCpuMs: after.pg - before.pg,
        wallMs: after.at - before.at,
        peakRss: Math.max(peakRss, rss, hwmReset ? hwm : 0),
        turns: base ? delta('parley_turn_duration_seconds_count', { outcome: 'complete' }) : undefined,
        failedTurns: base ? delta('parley_turn_duration_seconds_count', { outcome: 'failed' }) : undefined,
        providerCalls: base ? delta('parley_provider_calls_total') : undefined,
        retries: base ? delta('parley_turn_retries_total') : undefined,
        // prom-client resets its event-loop histogram at every scrape: these cover the phase.
        loopP99Ms: base ? metricSum(after.metrics, 'parley_nodejs_eventloop_lag_p99_seconds') * 1000 : undefined,
        loopMaxMs: base ? metricSum(after.metrics, 'parley_nodejs_eventloop_lag_max_seconds') * 1000 : undefined,
      };
    },
  };
}

/** Scrapes the event-loop delay every `everyMs` while a long phase runs; `stop()` returns the worst seen. */
export function loopSampler(base, everyMs = 2000) {
  let worstP99 = 0;
  let worstMax = 0;
  let samples = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      if (stopped) break;
      try {
        const metrics = await scrape(base);
        worstP99 = Math.max(worstP99, metricSum(metrics, 'parley_nodejs_eventloop_lag_p99_seconds') * 1000);
        worstMax = Math.max(worstMax, metricSum(metrics, 'parley_nodejs_eventloop_lag_max_seconds') * 1000);
        samples++;
      } catch {
        // a scrape that fails under load is simply missing
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return { worstP99Ms: worstP99, worstMaxMs: worstMax, samples };
    },
  };
}
