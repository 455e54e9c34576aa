// The read path (issue 16): what one authenticated read costs, end to end over HTTP. A history
// page of 50 messages (`GET /api/v1/chats/{id}/messages?limit=50`) read by N concurrent readers,
// beside two cheaper requests that share its path: `GET /health/live` (public: Express, Nest and
// our middlewares only) and `GET /api/v1/me` (plus authentication and one read). Figures, never
// pass/fail; target: the page's p95 ≤ 20 ms with 50 readers. Reported with each figure: the app's
// and PostgreSQL's CPU per request (steadier than latency on a shared machine) and the load average (the machine is shared).
// With --profile the app runs under --cpu-prof during the history load, and the samples of that
// window are summed by layer of the request path (middleware, guard, interceptor, query, ...).
//   npm run bench:read-path -- [--readers 50] [--seconds 10] [--profile] [--pin]
//   [--only history] [--dist <another checkout>/backend/dist/main.js] (a build to compare, e.g. before a change)
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JWT_SECRET, createChat, register, startBenchDatabase, waitReady } from './lib/app.mjs';
import { cannon, numberFlag } from './lib/load.mjs';
import {
  canPin,
  cleanupAll,
  commandOf,
  cpuMs,
  descendants,
  freePort,
  onCleanup,
  pin,
  startNode,
  stopChild,
} from './lib/procs.mjs';
import { markdownTable } from './lib/report.mjs';
import { summarizeProfile } from './profile-summary.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pg = createRequire(join(root, 'backend', 'package.json'))('pg');
const READERS = numberFlag('readers', 50);
const SECONDS = numberFlag('seconds', 10);
const WARMUP = numberFlag('warmup', 3);
const PAGE = 50;
const profiling = process.argv.includes('--profile');
// App on CPU 0, this process (the load generator) on CPU 1; PostgreSQL on both.
const pinning = process.argv.includes('--pin') && canPin();
const flagValue = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const MAIN = flagValue('--dist') ?? join(root, 'backend', 'dist', 'main.js');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : undefined;

const outDir = join(root, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-read-path`);
await mkdir(outDir, { recursive: true });
process.once('SIGINT', () => void cleanupAll().then(() => process.exit(130)));

const load = () =>
  loadavg()
    .map((v) => v.toFixed(1))
    .join(' ');

// The embedded PostgreSQL runs under this process (startBenchDatabase): its server and backends.
function postgresCpu() {
  let total = 0;
  for (const pid of descendants(process.pid)) {
    if (!/postgres/.test(commandOf(pid))) continue;
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      total += ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / 100;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/**
 * Layers of the request path, matched on the sampled stack from the leaf up: a sample belongs to
 * the innermost layer on its stack. What no layer claims is counted by package (the pg driver's
 * parsing runs in socket callbacks, outside any request's stack; so do HTTP parsing and writing).
 */
const LAYERS = [
  ['pino-http (request log)', /^(loggingMiddleware|onResFinished|onReqAborted)$/, /pino-http/],
  ['RequestLogMiddleware (request log)', /./, /telemetry\/logging\/request-log\.middleware/],
  ['helmet (security headers)', /./, /node_modules\/helmet\//],
  ['RequestIdMiddleware', /^use$/, /http\/request-id\.middleware/],
  ['DeclaredMethodMiddleware (route match)', /^use$/, /http\/declared-method\.middleware/],
  ['UnconditionalMiddleware', /^use$/, /http\/unconditional\.middleware/],
  ['HttpMetricsMiddleware (incl. on finish)', /./, /telemetry\/http-metrics\.middleware/],
  // The five above as one layer (request id, route match, conditional headers, metrics).
  ['EdgeMiddleware (incl. metrics on finish)', /./, /http\/edge\.middleware/],
  ['JsonBodyMiddleware', /./, /http\/json-body\.middleware/],
  ['AuthGuard: JWT verify', /^session$/, /auth\/token\.service/],
  ['AuthGuard: token version read', /^(check|current)$/, /auth\/token-versions/],
  ['AuthGuard (rest)', /^canActivate$/, /auth\/auth\.guard/],
  ['ContractInterceptor (request validation)', /^(intercept|validate)$/, /contract\/contract\.interceptor/],
  ['TraceRouteInterceptor', /^intercept$/, /trace-route\.interceptor/],
  ['ProblemFilter (errors)', /./, /errors\/problem/],
  ['history: ownership check (ORM)', /^assertOwned$/, /chats\/chats\.service/],
  ['history: page statement', /^(rowsOf|pageRows|query)$/, /(database\/sql|chats\/chats\.service|chats\/message-page)/],
  ['history: rows → DTOs', /^(toMessageDto|toMessageDtoFromRow|entityFromRow|finishReasonOf)$/, /./],
  ['history: service (rest)', /^messagePage$/, /chats\/(chats\.service|message-page)/],
  ['me: UsersService.me (ORM)', /^me$/, /users\/users\.service/],
  ['JSON.stringify (response body)', /^stringify$/, /^$/],
  ['express res.json/send', /^(json|send)$/, /node_modules\/express\//],
  ['Nest router (handler, params, rxjs)', /./, /node_modules\/(@nestjs\/core|rxjs)\//],
  ['Express router', /./, /node_modules\/(router|express|path-to-regexp)\//],
];

function layerOf(nodes, parent, id) {
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const frame = nodes.get(at).callFrame;
    for (const [name, fn, url] of LAYERS) if (fn.test(frame.functionName) && url.test(frame.url)) return name;
  }
  return undefined;
}

function layerTable(profile, fromEndMs, toEndMs, requests) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const from = profile.endTime - fromEndMs * 1000;
  const to = profile.endTime - toEndMs * 1000;
  const byLayer = new Map();
  let at = profile.startTime;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
    const id = profile.samples[i];
    const frame = nodes.get(id).callFrame;
    if (frame.functionName === '(idle)') continue;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    busy += ms;
    const layer = layerOf(nodes, parent, id) ?? `outside a layer: ${packageName(frame.url, frame.functionName)}`;
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + ms);
  }
  const rows = [...byLayer]
    .sort((a, b) => b[1] - a[1])
    .map(([layer, ms]) => [
      layer,
      ms.toFixed(0),
      ((ms * 1000) / requests).toFixed(1),
      `${((100 * ms) / busy).toFixed(1)}%`,
    ]);
  rows.push(['**all (main thread busy)**', busy.toFixed(0), ((busy * 1000) / requests).toFixed(1), '100%']);
  return rows;
}

function packageName(url, fn) {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + 13).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return 'node (core)';
  const dist = url.indexOf('/backend/dist/');
  return dist === -1 ? url : `parley: ${url.slice(dist + 14)}`;
}

/** Seeds a linear chat of `count` messages after its greeting (each the child of the one before). */
async function seed(client, chatId, count) {
  const { rows } = await client.query('SELECT id FROM messages WHERE chat_id = $1 AND seq = 1', [chatId]);
  let parent = rows[0].id;
  const ids = [];
  const parents = [];
  for (let i = 0; i < count; i++) {
    const id = crypto.randomUUID();
    ids.push(id);
    parents.push(parent);
    parent = id;
  }
  await client.query(
    `INSERT INTO messages (id, chat_id, seq, role, content, status, parent_id, reply_to_id)
     SELECT r.id, $1, 1 + r.n, CASE WHEN r.n % 2 = 1 THEN 'user' ELSE 'assistant' END,
            CASE WHEN r.n % 2 = 1 THEN 'user' ELSE 'assistant' END || ' message ' || r.n || ': ' || repeat('lorem ipsum ', 20),
            'complete', r.parent, CASE WHEN r.n % 2 = 0 THEN r.parent END
       FROM unnest($2::uuid[], $3::uuid[]) WITH ORDINALITY AS r(id, parent, n)`,
    [chatId, ids, parents],
  );
  await client.query('UPDATE chats SET last_seq = $2, active_leaf_id = $3 WHERE id = $1', [chatId, count + 1, parent]);
  // Other chats beside it (200 of 60 messages), so that the tables are not tiny: PostgreSQL reads
  // a table of a few pages whole instead of through its indexes.
  await client.query(
    `INSERT INTO chats (user_id, character_id, locale, last_seq)
     SELECT user_id, character_id, locale, 60 FROM chats, generate_series(1, 200) WHERE id = $1`,
    [chatId],
  );
  await client.query(
    `INSERT INTO messages (chat_id, seq, role, content, status)
     SELECT c.id, g, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, repeat('dolor sit amet ', 15), 'complete'
       FROM chats c, generate_series(1, 60) g WHERE c.id <> $1 AND c.last_seq = 60`,
    [chatId],
  );
  await client.query(
    `UPDATE messages m SET parent_id = p.id FROM messages p
      WHERE p.chat_id = m.chat_id AND p.seq = m.seq - 1 AND m.chat_id <> $1`,
    [chatId],
  );
}

async function measure(app, label, url, token) {
  const options = {
    url,
    method: 'GET',
    connections: READERS,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), accept: 'application/json' },
  };
  await cannon({ ...options, duration: WARMUP });
  const loadBefore = load();
  const cpu = cpuMs(app.pid);
  const pgCpu = postgresCpu();
  const started = performance.now();
  const r = await cannon({ ...options, duration: SECONDS });
  const ended = performance.now();
  const requests = r.ok + r.non2xx;
  if (r.ok === 0) throw new Error(`${label}: no request succeeded (${JSON.stringify(r.statuses)})`);
  return {
    label,
    requests,
    ok: r.ok,
    statuses: r.statuses,
    rps: r.rps,
    latency: r.latency,
    appCpuMsPerRequest: (cpuMs(app.pid) - cpu) / requests,
    pgCpuMsPerRequest: (postgresCpu() - pgCpu) / requests,
    loadBefore,
    loadAfter: load(),
    window: { started, ended },
  };
}

try {
  const databaseUrl = await startBenchDatabase(root, 'parley-bench-read-');
  const profileDir = join(outDir, 'profile');
  if (profiling) await mkdir(profileDir, { recursive: true });
  const port = await freePort();
  const { child } = await startNode(MAIN, {
    name: 'app',
    log: join(outDir, 'app.log'),
    cpu: pinning ? '0' : undefined,
    nodeArgs: profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET,
      LOG_LEVEL: 'warn',
      SERVE_FRONTEND: 'false',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '20',
    },
  });
  onCleanup(() => stopChild(child));
  if (pinning) pin(process.pid, '1');
  const app = { pid: child.pid, base: `http://127.0.0.1:${port}` };
  await waitReady(app.base, child);
  const token = await register(app.base);
  const chatId = await createChat(app.base, token);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await seed(client, chatId, PAGE);
  await client.query('VACUUM ANALYZE');
  await client.end();

  const targets = [
    ['GET /health/live (public)', `${app.base}/health/live`, undefined],
    ['GET /api/v1/me', `${app.base}/api/v1/me`, token],
    [`GET …/messages?limit=${PAGE} (history page)`, `${app.base}/api/v1/chats/${chatId}/messages?limit=${PAGE}`, token],
  ].filter(([label]) => !only || only.some((o) => label.includes(o)));
  const results = [];
  for (const [label, url, auth] of targets) results.push(await measure(app, label, url, auth));

  let layers;
  if (profiling) {
    const history = results.at(-1);
    await stopChild(child, 30_000);
    const exitAt = performance.now();
    const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the app wrote no .cpuprofile');
    const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8'));
    const window = { fromEndMs: exitAt - history.window.started, toEndMs: exitAt - history.window.ended };
    layers = layerTable(profile, window.fromEndMs, window.toEndMs, history.requests);
    const summary = summarizeProfile(profile, 25, window);
    await writeFile(join(outDir, 'profile-summary.json'), JSON.stringify(summary, null, 2));
    process.stdout.write(`profile: ${relative(root, join(profileDir, file))}\n`);
  }

  await writeFile(
    join(outDir, 'results.json'),
    JSON.stringify({ readers: READERS, seconds: SECONDS, results, layers }, null, 2),
  );
  const f = (v, d = 2) => v.toFixed(d);
  process.stdout.write(
    `${relative(root, MAIN) || MAIN}: ${READERS} concurrent readers, ${SECONDS} s each${pinning ? ', app pinned to CPU 0, load generator to CPU 1' : ''}${profiling ? ', app under --cpu-prof' : ''}\n`,
  );
  process.stdout.write(
    `${markdownTable({
      columns: [
        'request',
        'req/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'app CPU ms/req',
        'PostgreSQL CPU ms/req',
        'load avg before → after',
      ],
      rows: results.map((r) => [
        r.label,
        f(r.rps, 0),
        f(r.latency.p50),
        f(r.latency.p95),
        f(r.latency.p99),
        f(r.appCpuMsPerRequest, 3),
        f(r.pgCpuMsPerRequest, 3),
        `${r.loadBefore} → ${r.loadAfter}`,
      ]),
    })}\n`,
  );
  if (layers) {
    process.stdout.write(
      `\n${results.at(-1).label} under the profiler, main thread by layer (a sample counts for the innermost layer on its stack):\n${markdownTable(
        { columns: ['layer', 'ms', 'µs per request', 'share'], rows: layers },
      )}\n`,
    );
  }
  process.stdout.write(`results: ${relative(root, outDir)}\n`);
} finally {
  await cleanupAll();
}
