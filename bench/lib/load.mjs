// Load generation: autocannon for request/response load (sub-millisecond latencies taken from its
// `response` events rather than its integer-millisecond histogram), a closed-loop runner of our own
// for SSE, and the statistics both report.
import autocannon from 'autocannon';
import { Agent, request } from 'node:http';

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN,
  };
}

/**
 * One autocannon run. `setupRequest(req, context)` may vary each request (context is per
 * connection). Bounded by `amount` (requests) or `duration` (s), and in any case by `maxSeconds`.
 */
export async function cannon({
  url,
  connections,
  amount,
  duration,
  overallRate,
  method = 'POST',
  headers = {},
  body,
  setupRequest,
  maxSeconds = 120,
  timeout = 30,
}) {
  const latencies = [];
  const all = [];
  let ok = 0;
  let non2xx = 0;
  const statuses = {};
  const started = performance.now();
  let last = started;
  const instance = autocannon({
    url,
    connections,
    pipelining: 1,
    sampleInt: 100,
    ...(amount ? { amount } : { duration }),
    ...(overallRate ? { overallRate } : {}),
    timeout,
    requests: [{ method, headers, body, ...(setupRequest ? { setupRequest } : {}) }],
    initialContext: {},
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    last = performance.now();
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    all.push(responseTime);
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      latencies.push(responseTime);
    } else {
      non2xx++;
    }
  });
  const guard = setTimeout(() => instance.stop(), maxSeconds * 1000);
  const result = await instance;
  clearTimeout(guard);
  // The measured window ends with the last response (autocannon's own duration includes its tail).
  const elapsedMs = Math.max(1, last - started);
  return {
    ok,
    non2xx,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedMs,
    rps: (ok * 1000) / elapsedMs,
    latency: summarize(latencies),
    // Every answered request, failures included (a failed turn's wait counts too).
    latencyAll: summarize(all),
  };
}

/**
 * An open loop at a steady rate: request i is sent at start + i/rate s, whatever the answers do,
 * so arrivals are evenly spaced. (autocannon's `overallRate` gives each connection its share of
 * the rate per second on a one-second timer of its own, and the timers start together: every
 * second, all connections send at once — a burst of `rate` requests, not a steady rate.)
 * `next(i)` gives the i-th request's `{ url, headers, body }`. Latency is counted from the time
 * the request was due. Results shaped like `cannon`'s; bounded by `maxSeconds`.
 */
export async function paced({ rate, amount, next, method = 'POST', maxSeconds = 120, timeoutMs = 30_000 }) {
  const httpAgent = new Agent({ keepAlive: true, keepAliveMsecs: 10_000 });
  const latencies = [];
  const all = [];
  const statuses = {};
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  let last = started;
  const inFlight = new Set();
  for (let i = 0; i < amount; i++) {
    const due = started + (i * 1000) / rate;
    if (due > deadline) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const { url, headers, body } = next(i);
    const done = new Promise((resolve) => {
      const req = request(url, { method, agent: httpAgent, headers, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => {
          last = performance.now();
          const ms = last - due;
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          all.push(ms);
          if (res.statusCode >= 200 && res.statusCode < 300) {
            ok++;
            latencies.push(ms);
          } else non2xx++;
          resolve();
        });
      });
      req.on('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  }
  await Promise.race([Promise.all(inFlight), sleep(Math.max(0, deadline - performance.now()))]);
  httpAgent.destroy();
  const elapsedMs = Math.max(1, last - started);
  return {
    ok,
    non2xx,
    statuses,
    errors,
    timeouts,
    elapsedMs,
    rps: (ok * 1000) / elapsedMs,
    latency: summarize(latencies),
    latencyAll: summarize(all),
  };
}

/**
 * A closed loop: `concurrency` workers call `task(worker, index)` until `total` tasks have
 * started or `deadline` (ms since epoch of performance.now()) has passed. Returns every result.
 */
export async function closedLoop({ concurrency, total, deadline = Infinity, task }) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < total && performance.now() < deadline) {
        const index = next++;
        results.push(await task(worker, index));
      }
    }),
  );
  return results;
}

export function agent(maxSockets = Infinity) {
  return new Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 10_000 });
}

/**
 * One streamed exchange over node:http, timed: `sentMs` when the request was written, `firstMs`
 * when `isFirst(event)` first holds for a server-sent event, `outcome` from `outcomeOf(event)` (e.g. 'done', 'error'). Events are split on
 * blank lines (\n\n or \r\n\r\n). Never rejects: network failures become outcome 'network'.
 */
export function timedStream({ url, headers, body, agent: httpAgent, isFirst, outcomeOf, onOpen, timeoutMs = 120_000 }) {
  return new Promise((resolve) => {
    const started = performance.now();
    let firstMs;
    let sentMs;
    let outcome;
    let status = 0;
    let buffer = '';
    let settled = false;
    const finish = (extra = {}) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        status,
        firstMs,
        sentMs,
        totalMs: performance.now() - started,
        outcome: outcome ?? 'incomplete',
        ...extra,
      });
    };
    const target = new URL(url);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
        agent: httpAgent,
      },
      (res) => {
        status = res.statusCode ?? 0;
        onOpen?.(res);
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          buffer += chunk;
          if (status >= 300) return; // a problem+json body: read whole at the end
          for (;;) {
            const lf = buffer.indexOf('\n\n');
            const crlf = buffer.indexOf('\r\n\r\n');
            const end = lf === -1 ? crlf : crlf === -1 ? lf : Math.min(lf, crlf);
            if (end === -1) break;
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + (end === crlf ? 4 : 2));
            if (firstMs === undefined && isFirst(event)) firstMs = performance.now() - started;
            outcome ??= outcomeOf(event);
          }
        });
        res.on('end', () => {
          if (status >= 300) {
            let code;
            try {
              code = JSON.parse(buffer).code;
            } catch {
              // not JSON
            }
            outcome ??= code ? `http_${status}:${code}` : `http_${status}`;
          }
          finish();
        });
        res.on('error', () => finish({ outcome: outcome ?? 'network' }));
        res.on('close', () => finish());
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ outcome: outcome ?? 'timeout' });
    }, timeoutMs);
    req.on('error', (error) => finish({ outcome: outcome ?? 'network', error: error.code ?? error.message }));
    // When the whole request was handed to the kernel: a client too slow to send it (its own event
    // loop busy) is cut off by the server's header and request timeouts.
    req.on('finish', () => {
      sentMs = performance.now() - started;
    });
    req.end(body);
  });
}

/** Sleeps `ms`, or resolves early when `signal` aborts. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A numeric command-line flag (`--name 42`) of a benchmark script, or `fallback` when absent. */
export function numberFlag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`, 2);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
