// What a JSON turn sends to PostgreSQL: the production build against an embedded PostgreSQL with
// pg_stat_statements loaded (planning tracked), under a closed loop of JSON turns; prints, per
// statement, the calls per turn, mean planning and execution time and rows, and the CPU of the app
// and of PostgreSQL per turn.
//
// Usage: node bench/db-statements.mjs [--connections 50] [--turns 2000] [--idempotency]
//                                     [--via tcp|socket] [--json <file>]
// `--idempotency` sends an Idempotency-Key with every turn; `--via` picks how the app reaches the
// database (loopback TCP or the server's Unix domain socket), whatever the build's default.
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { jsonTurnLoad, makeChats, MODEL, roundRobin, startInstance } from './lib/app.mjs';
import { cannon } from './lib/load.mjs';
import { cleanupAll, cpuMs, descendants, onCleanup, startNode } from './lib/procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    turns: { type: 'string', default: '2000' },
    idempotency: { type: 'boolean', default: false },
    via: { type: 'string', default: 'tcp' },
    json: { type: 'string' },
  },
});
const connections = Number(flags.connections);
const turns = Number(flags.turns);

try {
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const upstream = await startNode(join(root, 'bench', 'upstream.mjs'), { name: 'upstream', ipc: true });
  const upstreamUrl = `http://127.0.0.1:${upstream.message.port}`;

  // The build's own launcher, then pg_stat_statements switched on and the server restarted on the
  // same port and directory (a preloaded library needs a restart).
  const dir = await mkdtemp(join(tmpdir(), 'parley-dbstat-'));
  await chmod(dir, 0o755);
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const { startEmbeddedPostgres } = await import(
    pathToFileURL(join(root, 'backend', 'dist', 'database', 'embedded-postgres.js')).href
  );
  let database = await startEmbeddedPostgres(dir, { persistent: true });
  const port = Number(new URL(database.url).port);
  const tcpUrl = `postgres://parley:parley@127.0.0.1:${port}/parley`;
  const socketDir = join(dir, 'pg');
  const admin = async (sql) => {
    const client = new pg.Client({ connectionString: tcpUrl });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };
  await admin(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
  await admin(`ALTER SYSTEM SET pg_stat_statements.track_planning = on`);
  await admin(`ALTER SYSTEM SET pg_stat_statements.max = 10000`);
  await admin(`ALTER SYSTEM SET unix_socket_directories = '${socketDir}'`);
  await database.stop();
  database = await startEmbeddedPostgres(dir, { persistent: true, port });
  onCleanup(() => database.stop());
  await admin('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const appUrl =
    flags.via === 'socket'
      ? `postgres://parley:parley@localhost:${port}/parley?host=${encodeURIComponent(socketDir)}`
      : tcpUrl;

  const app = await startInstance(root, {
    name: 'app',
    log: join(tmpdir(), 'parley-dbstat-app.log'),
    env: {
      DATABASE_URL: appUrl,
      GEMINI_API_KEY: 'bench-key',
      GEMINI_BASE_URL: upstreamUrl,
      GEMINI_MODEL: MODEL,
      SIGNUP_TOKEN_GRANT: '1000000000',
      DATABASE_POOL_MAX: '20',
    },
  });
  const chats = await makeChats(app.base, connections, { chatsPerUser: 4 });
  const turnLoad = (amount) => {
    const base = jsonTurnLoad(app.base, roundRobin(chats), 'How far to the next star?', { connections, amount });
    if (!flags.idempotency) return base;
    const setup = base.setupRequest;
    return {
      ...base,
      setupRequest(req, context) {
        const request = setup(req, context);
        return { ...request, headers: { ...request.headers, 'idempotency-key': `"${randomUUID()}"` } };
      },
    };
  };
  await cannon(turnLoad(connections * 3)); // JIT, pool, caches

  const postgresPids = () =>
    descendants(process.pid).filter((pid) => pid !== app.child.pid && pid !== upstream.child.pid);
  const pgCpu = () => postgresPids().reduce((sum, pid) => sum + cpuMs(pid), 0);
  await admin('SELECT pg_stat_statements_reset()');
  const before = { app: cpuMs(app.child.pid), pg: pgCpu(), at: performance.now() };
  const result = await cannon(turnLoad(turns));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const after = { app: cpuMs(app.child.pid), pg: pgCpu(), at: performance.now() };
  const done = result.ok;
  const rows = await admin(`
    SELECT query, calls, rows, total_plan_time, total_exec_time, plans,
           mean_plan_time, mean_exec_time
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'parley')
      AND query NOT LIKE '%pg_stat_statements%'
    ORDER BY calls DESC, total_exec_time DESC`);
  const perTurn = (n) => Number(n) / done;
  const statements = rows
    .filter((r) => perTurn(r.calls) >= 0.01)
    .map((r) => ({
      query: r.query.replace(/\s+/g, ' ').trim(),
      callsPerTurn: perTurn(r.calls),
      meanPlanMs: Number(r.mean_plan_time),
      meanExecMs: Number(r.mean_exec_time),
      rowsPerCall: Number(r.rows) / Number(r.calls),
      msPerTurn: (Number(r.total_plan_time) + Number(r.total_exec_time)) / done,
    }));
  const totals = {
    connections,
    turns: done,
    failed: result.non2xx + result.errors,
    turnsPerSecond: done / ((after.at - before.at) / 1000),
    appCpuMsPerTurn: (after.app - before.app) / done,
    pgCpuMsPerTurn: (after.pg - before.pg) / done,
    statementsPerTurn: statements.reduce((sum, s) => sum + s.callsPerTurn, 0),
    planMsPerTurn: rows.reduce((sum, r) => sum + Number(r.total_plan_time), 0) / done,
    execMsPerTurn: rows.reduce((sum, r) => sum + Number(r.total_exec_time), 0) / done,
    via: flags.via,
    idempotency: flags.idempotency,
    loadBefore: load,
    loadAfter: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
  console.log(JSON.stringify(totals, null, 2));
  console.log('| statement | calls/turn | plan ms (mean) | exec ms (mean) | rows/call | plan+exec ms/turn |');
  console.log('|---|---|---|---|---|---|');
  for (const s of statements) {
    const text = s.query.length > 110 ? `${s.query.slice(0, 107)}…` : s.query;
    console.log(
      `| \`${text.replace(/\|/g, '\\|')}\` | ${s.callsPerTurn.toFixed(2)} | ${s.meanPlanMs.toFixed(3)} | ${s.meanExecMs.toFixed(3)} | ${s.rowsPerCall.toFixed(1)} | ${s.msPerTurn.toFixed(3)} |`,
    );
  }
  if (flags.json) await writeFile(flags.json, JSON.stringify({ totals, statements }, null, 2));
} finally {
  await cleanupAll();
}
