// Search latency (issue 15): searchMessages over one user's 100,000 messages (100 chats of
// 1,000), English and Chinese, common and rare words. Figures, never pass/fail; target p95
// ≤ 50 ms per request, measured end to end over HTTP, one request at a time.
//   npm run build -w backend && node bench/search.mjs [-- --messages 100000 --rounds 20]
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, createChat, register, startBenchDatabase, startInstance } from './lib/app.mjs';
import { numberFlag, summarize } from './lib/load.mjs';
import { cleanupAll } from './lib/procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pg = createRequire(join(root, 'backend', 'package.json'))('pg');
const MESSAGES = numberFlag('messages', 100_000);
const PER_CHAT = 1000;
const ROUNDS = numberFlag('rounds', 20);

const outDir = join(root, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-search`);
await mkdir(outDir, { recursive: true });
process.once('SIGINT', () => void cleanupAll().then(() => process.exit(130)));

// Deterministic text: English sentences from a small vocabulary, every third message Chinese.
const english = (
  'the captain signal station orbit engine crew shuttle planet moon ice storm star map course ' +
  'warp drive reactor hull sensor beacon anomaly distress frequency pilot navigator engineer ' +
  'cargo dock airlock corridor bridge console report log coffee rain detective case evidence'
).split(' ');
const chinese =
  '船长 信号 空间站 轨道 引擎 船员 飞船 行星 月球 冰层 风暴 星图 航线 反应堆 传感器 信标 异常 频率 驾驶员 货舱'.split(
    ' ',
  );
let seed = 20261128;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = (list) => list[Math.floor(random() * list.length)];
function text(i) {
  if (i % 3 === 0) return Array.from({ length: 12 }, () => pick(chinese)).join('') + '。';
  return Array.from({ length: 25 }, () => pick(english)).join(' ') + '.';
}

try {
  const databaseUrl = await startBenchDatabase(root, 'parley-bench-search-');
  const { base } = await startInstance(root, { log: join(outDir, 'app.log'), env: { DATABASE_URL: databaseUrl } });
  const token = await register(base);
  const chats = [];
  for (let i = 0; i < Math.ceil(MESSAGES / PER_CHAT); i++) chats.push(await createChat(base, token));

  // Seeded straight into the tables (the API would take hours of turns): each chat's messages
  // follow its greeting (seq 1).
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const seeding = Date.now();
  for (const [c, chatId] of chats.entries()) {
    const count = Math.min(PER_CHAT, MESSAGES - c * PER_CHAT);
    const contents = Array.from({ length: count }, (_, i) => text(c * PER_CHAT + i));
    await client.query(
      `INSERT INTO messages (chat_id, seq, role, content, status)
       SELECT $1, 1 + n, CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END, content, 'complete'
         FROM unnest($2::text[]) WITH ORDINALITY AS t(content, n)`,
      [chatId, contents],
    );
    await client.query('UPDATE chats SET last_seq = $2 WHERE id = $1', [chatId, count + 1]);
  }
  await client.query('ANALYZE messages');
  const seedMs = Date.now() - seeding;

  // Where the time goes: the database's own timing of the search query, and an API request that
  // does no search (authentication and HTTP alone).
  // The index pass's matching (SearchService ALL_MATCHES, the function search_matches): candidates
  // from the search index, checked.
  const plans = {};
  for (const q of ['signal', 'xylophone', '信号', 'distress frequency', '异常频率', '麒麟']) {
    const { rows } = await client.query(
      `EXPLAIN (ANALYZE, FORMAT JSON)
       SELECT id FROM search_matches($1::uuid[], $3, $2) ORDER BY created_at DESC, id DESC LIMIT 500`,
      [chats, `%${q}%`, `%${q}%`.replaceAll(' ', 'q').replace(/[\u0080-\u{10ffff}]/gu, '$&x')],
    );
    plans[q] = { executionMs: rows[0]['QUERY PLAN'][0]['Execution Time'], plan: rows[0]['QUERY PLAN'][0].Plan };
  }
  await client.end();
  const baseline = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    await call(base, '/api/v1/me', { token });
    baseline.push(performance.now() - started);
  }

  const queries = [
    'signal',
    'distress frequency',
    'coffee',
    'navigator',
    'xylophone',
    'Captain',
    '信号',
    '反应堆',
    '异常频率',
    '不存在的词',
    '麒麟',
  ];
  const perQuery = {};
  const all = [];
  for (const q of queries) {
    const times = [];
    let hits = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const started = performance.now();
      const { status, body } = await call(base, `/api/v1/search?q=${encodeURIComponent(q)}&limit=20`, { token });
      const ms = performance.now() - started;
      if (status !== 200) throw new Error(`search ${q} answered ${status}: ${JSON.stringify(body)}`);
      if (round > 0) times.push(ms); // the first is a warm-up
      hits = body.items.length;
    }
    perQuery[q] = { hitsOnFirstPage: hits, ...summarize(times) };
    all.push(...times);
  }
  const results = {
    messages: MESSAGES,
    chats: chats.length,
    seedMs,
    rounds: ROUNDS,
    overall: summarize(all),
    perQuery,
    getMe: summarize(baseline),
    matchingQueryMs: Object.fromEntries(Object.entries(plans).map(([q, p]) => [q, p.executionMs])),
    plans,
  };
  await writeFile(join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  const ms = (v) => v.toFixed(1);
  process.stdout.write(`search over ${MESSAGES} messages in ${chats.length} chats (seeded in ${seedMs} ms)\n`);
  for (const [q, r] of Object.entries(perQuery))
    process.stdout.write(
      `  ${q.padEnd(20)} hits ${String(r.hitsOnFirstPage).padStart(2)}  p50 ${ms(r.p50)} ms  p95 ${ms(r.p95)} ms\n`,
    );
  process.stdout.write(
    `overall p50 ${ms(results.overall.p50)} ms, p95 ${ms(results.overall.p95)} ms (target ≤ 50 ms)\n`,
  );
  process.stdout.write(`GET /api/v1/me (no search) p50 ${ms(results.getMe.p50)} ms, p95 ${ms(results.getMe.p95)} ms\n`);
  process.stdout.write(`matching alone (EXPLAIN ANALYZE, ms): ${JSON.stringify(results.matchingQueryMs)}\n`);
  process.stdout.write(`results: ${outDir}\n`);
} finally {
  await cleanupAll();
}
