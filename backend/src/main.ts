// The entry point. Tracing and error reporting start before the application's modules are
// loaded (the http and pg instrumentations patch those as they are first required), so the
// application is imported only afterwards. With neither configured nothing extra is loaded.
import { loadObservability } from './config/app-config.js';
import { startTracing } from './telemetry/tracing/tracing.js';
import { startErrorReporting } from './telemetry/error-reporting/error-reporting.js';

const FLUSH_LIMIT_MS = 2000;

const started = Date.now();
const observability = loadObservability();
const tracing = await startTracing(observability);
const reporting = await startErrorReporting(observability);
const { run } = await import('./server.js');
run({
  started,
  // Bounded: an unreachable collector or ingest must not hold up the exit (its exporter retries).
  flush: async () => {
    const flushed = Promise.all([tracing?.shutdown(), reporting?.flush()]);
    await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, FLUSH_LIMIT_MS).unref())]);
  },
});
