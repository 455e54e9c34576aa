// The system under test: Parley's production build (backend/dist/main.js) in its own process with an
// embedded PostgreSQL in a throwaway directory, pointed at the benchmark's upstream; and the few API
// calls the scenarios build their fixtures with.
import { randomUUID } from 'node:crypto';
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, timedStream } from './load.mjs';
import { descendants, freePort, onCleanup, pin, postgresPids, startNode, stopChild } from './procs.mjs';

/**
 * An embedded PostgreSQL of its own in a throwaway directory (for benchmarks that start several
 * instances on one database); stopped and removed at cleanup. Answers its URL.
 */
export async function startBenchDatabase(root, prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  const { startEmbeddedPostgres } = await import(join(root, 'backend', 'dist', 'database', 'embedded-postgres.js'));
  const database = await startEmbeddedPostgres(dir, { persistent: false });
  onCleanup(async () => {
    await database.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return database.url;
}

export const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-bench';
/** The V8 flags the runtime starts the app with (Dockerfile, `npm start`): the app is measured as it runs. */
export const RUNTIME_NODE_ARGS = ['--max-semi-space-size=16', '--heap-growing-percent=50'];
export const MODEL = 'gemini-2.5-flash';

/**
 * The production build on a database given in `env` (several instances may share one), with
 * turns unlimited, ready to serve; stopped at cleanup. For the benchmarks that bring their own
 * database (realtime, search, tree); `startApp` starts one with its own.
 */
export async function startInstance(root, { name = 'app', log, port, env = {} }) {
  const listen = port || (await freePort());
  const { child } = await startNode(join(root, 'backend', 'dist', 'main.js'), {
    name,
    log,
    nodeArgs: RUNTIME_NODE_ARGS,
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(listen),
      JWT_SECRET,
      LOG_LEVEL: 'warn',
      SERVE_FRONTEND: 'false',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
  });
  onCleanup(() => stopChild(child));
  const base = `http://127.0.0.1:${listen}`;
  await waitReady(base, child, { log });
  return { base, child, port: listen };
}

/** Waits until the app at `base` answers /health/ready; throws when its process exits first or time is up. */
export async function waitReady(base, child, { timeoutMs = 120_000, log = 'its log' } = {}) {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited before it was ready (see ${log})`);
    if (Date.now() - started > timeoutMs) throw new Error(`the app was not ready after ${timeoutMs} ms (see ${log})`);
    const ready = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await sleep(200);
  }
}

/**
 * Starts the app and waits for /health/ready. `cpu` pins the app (taskset); its PostgreSQL is then
 * moved to `postgresCpu` so the database is not squeezed onto the app's core.
 */
export async function startApp({
  root,
  upstreamUrl,
  log,
  cpu,
  postgresCpu,
  env = {},
  nodeArgs = [],
  readyTimeoutMs = 120_000,
}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-'));
  await chmod(dataDir, 0o755);
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const { child } = await startNode(join(root, 'backend', 'dist', 'main.js'), {
    name: 'app',
    cpu,
    log,
    nodeArgs: [...RUNTIME_NODE_ARGS, ...nodeArgs],
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      JWT_SECRET,
      LOG_LEVEL: 'warn',
      SERVE_FRONTEND: 'false',
      GEMINI_API_KEY: 'bench-key',
      GEMINI_BASE_URL: upstreamUrl,
      GEMINI_MODEL: MODEL,
      TURN_RATE_LIMIT_PER_MINUTE: '0',
      SIGNUP_TOKEN_GRANT: '1000000000',
      DATABASE_POOL_MAX: '20',
      ...env,
    },
  });
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  await waitReady(base, child, { timeoutMs: readyTimeoutMs, log });
  const postgres = postgresPids(child.pid);
  if (postgresCpu !== undefined) for (const pid of postgres) pin(pid, postgresCpu);
  const app = {
    child,
    pid: child.pid,
    base,
    dataDir,
    startupMs: Date.now() - started,
    async stop() {
      // Remember PostgreSQL's processes so that they are killed if the app does not stop them.
      child.descendants = descendants(child.pid);
      await stopChild(child, 30_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return app;
}

/** JSON over fetch, for fixtures (never on a measured path). */
export async function call(base, path, { method = 'GET', token, body, headers = {} } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      accept: 'application/json',
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, body: json };
}

let userCounter = 0;
const runId = `${process.pid}-${Date.now().toString(36)}`;

export async function register(base) {
  const email = `bench-${runId}-${userCounter++}@example.com`;
  const { status, body } = await call(base, '/api/v1/auth/register', {
    method: 'POST',
    body: { email, password: 'benchmark password' },
  });
  if (status !== 201 && status !== 200) throw new Error(`register answered ${status}: ${JSON.stringify(body)}`);
  return body.accessToken;
}

export async function createChat(base, token) {
  const { status, body } = await call(base, '/api/v1/chats', {
    method: 'POST',
    token,
    body: { characterId: 'captain-mira' },
  });
  if (status !== 201 && status !== 200) throw new Error(`create chat answered ${status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

/**
 * `count` chats spread over users, `chatsPerUser` each (a user's sends queue on their balance row,
 * so one user per few concurrent chats keeps that lock from dominating).
 */
export async function makeChats(base, count, { chatsPerUser = 4, concurrency = 32 } = {}) {
  const users = Math.ceil(count / chatsPerUser);
  const tokens = await mapLimit(
    Array.from({ length: users }, (_, i) => i),
    Math.min(concurrency, 8),
    () => register(base),
  );
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const token = tokens[Math.floor(i / chatsPerUser)];
      return { chatId: await createChat(base, token), token };
    },
  );
}

export async function jsonTurn(base, chat, content = 'How far to the next star?') {
  return call(base, `/api/v1/chats/${chat.chatId}/messages`, { method: 'POST', token: chat.token, body: { content } });
}

/** A chat picker: each call returns the next of `chats`, round-robin. */
export function roundRobin(chats) {
  let next = 0;
  return () => chats[next++ % chats.length];
}

/**
 * An autocannon load of JSON turns (POST /api/v1/chats/{id}/messages): each connection keeps to one chat,
 * the one `nextChat()` gives when it first sends. `options` adds connections, bounds, rate.
 */
export function jsonTurnLoad(base, nextChat, content, options) {
  return {
    url: `${base}/api/v1/chats/x/messages`,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ content }),
    setupRequest(req, context) {
      context.chat ??= nextChat();
      return {
        ...req,
        path: `/api/v1/chats/${context.chat.chatId}/messages`,
        headers: { ...req.headers, authorization: `Bearer ${context.chat.token}` },
      };
    },
    ...options,
  };
}

/** One streamed turn into `chat` (the streaming form), timed; `options` as timedStream takes them. */
export function streamTurn(base, chat, content, options) {
  return timedStream({
    url: `${base}/api/v1/chats/${chat.chatId}/messages/stream`,
    headers: { authorization: `Bearer ${chat.token}`, 'idempotency-key': randomUUID() },
    body: JSON.stringify({ content }),
    isFirst: isAppDelta,
    outcomeOf: appStreamOutcome,
    ...options,
  });
}

/** Prometheus text → Map of `name{labels}` → value. */
export function parseMetrics(text) {
  const values = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

export async function scrape(base) {
  const response = await fetch(`${base}/metrics`);
  return parseMetrics(await response.text());
}

/** Sum of a metric's series whose labels contain every `key="value"` given. */
export function metricSum(metrics, name, labels = {}) {
  let total = 0;
  for (const [key, value] of metrics) {
    const brace = key.indexOf('{');
    const metric = brace === -1 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

/** A Gemini generateContent body as the app sent it (recorded by the demo server). */
export function geminiBody(recorded) {
  return JSON.stringify({
    contents: recorded.contents.map((c) => ({ role: c.role, parts: [{ text: c.text }] })),
    systemInstruction: { role: 'user', parts: [{ text: recorded.systemInstruction }] },
    generationConfig: { maxOutputTokens: 1024 },
  });
}

/**
 * What the app sends upstream for `chat` now (its history grows with a run): one JSON turn,
 * recorded by the upstream, whose queue and pace are then set back to `pace`.
 */
export async function recordUpstreamBody(upstream, base, chat, pace) {
  await upstream.configure({ pace });
  const response = await jsonTurn(base, chat);
  if (response.status !== 201) throw new Error(`sample turn answered ${response.status}`);
  const { requests } = await upstream.get('/__demo/requests');
  await upstream.configure({ pace });
  return geminiBody(requests.at(-1));
}

/** Classifies one server-sent event of the app's turn stream. */
export function appStreamOutcome(event) {
  if (event.includes('event: done')) return 'done';
  if (event.includes('event: error')) {
    const data = /^data: (.*)$/m.exec(event)?.[1];
    try {
      return `error:${JSON.parse(data).problem.code}`;
    } catch {
      return 'error';
    }
  }
  return undefined;
}

export const isAppDelta = (event) => event.includes('event: delta');

/** Classifies one server-sent event of Gemini's stream (the last chunk carries the finish reason). */
export function upstreamStreamOutcome(event) {
  if (event.includes('"finishReason"')) return 'done';
  if (event.includes('"error"')) return 'error';
  return undefined;
}

export const isUpstreamChunk = (event) => event.startsWith('data:');
