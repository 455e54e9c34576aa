// The conversation tree (issue 11): a chat of 1,000 messages with 50 branches off its active path,
// made after the path or, in a second chat, as the chat went (the branches' seqs between the path's).
// Figures, never pass/fail. Targets: the active path's history page p95 ≤ 20 ms with 50 concurrent
// readers (end to end over HTTP), and a turn's prompt assembly within 10 % of a linear chat of
// the same path length (the prompt's walk up the tree, timed in the database directly).
//   npm run bench:tree [-- --rounds 2000 --reads 5000 --port 44100]
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, createChat, register, startBenchDatabase, startInstance } from './lib/app.mjs';
import { closedLoop, numberFlag, paced, summarize } from './lib/load.mjs';
import { cleanupAll } from './lib/procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pg = createRequire(join(root, 'backend', 'package.json'))('pg');
const TOTAL = 1000;
const BRANCHES = 50;
const BRANCH_LENGTH = 10;
// The active path holds what the branches do not: 500 messages, greeting included.
const PATH_LENGTH = TOTAL - BRANCHES * BRANCH_LENGTH;
const READERS = numberFlag('readers', 50);
const READS = numberFlag('reads', 5000);
// Pages a second each reader asks for in the paced run (a person scrolling back reads a page every
// few seconds; 4 a second each is well above that): 50 readers × 4 = 200 pages a second offered.
const READER_RATE = numberFlag('reader-rate', 4);
const ROUNDS = numberFlag('rounds', 2000);
// 0: a free port.
const PORT = numberFlag('port', 0);
// The prompt's window (HISTORY_WINDOW_MESSAGES default); the walk reads twice that.
const WINDOW = 40;

const outDir = join(root, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-tree`);
await mkdir(outDir, { recursive: true });
process.once('SIGINT', () => void cleanupAll().then(() => process.exit(130)));

/**
 * Seeds a chat straight into the tables after its greeting (seq 1): the active path (alternating
 * user and assistant messages, each the child of the one before) and `branches` side branches of
 * `branchLength` messages, each starting beside a message of the path (a sibling: an edit or a
 * swipe) and chaining from there. The active leaf is the path's end. `interleaved`: each branch is
 * made right after the path message it stands beside, as a chat goes (an alternative tried, then
 * the conversation carried on from the first), so the branches' seqs sit between the path's;
 * otherwise the whole path comes first and the branches after it.
 */
async function seed(client, chatId, pathLength, branches, branchLength, interleaved = false) {
  const [{ id: greeting }] = (await client.query('SELECT id FROM messages WHERE chat_id = $1 AND seq = 1', [chatId]))
    .rows;
  const path = [greeting];
  const rows = [];
  let seq = 1;
  const add = (parent, role) => {
    seq += 1;
    const id = crypto.randomUUID();
    rows.push({ id, seq, role, parent, content: `${role} message ${seq}: ${'lorem ipsum '.repeat(20)}` });
    return id;
  };
  // Beside path message k (k ≥ 1): same parent, same role.
  const starts = Array.from({ length: branches }, (_, b) => 1 + Math.floor(((b + 0.5) * (pathLength - 1)) / branches));
  const branch = (k) => {
    let parent = path[k - 1];
    for (let j = 0; j < branchLength; j++) parent = add(parent, (k + j) % 2 === 1 ? 'user' : 'assistant');
  };
  for (let i = 1; i < pathLength; i++) {
    path.push(add(path[i - 1], i % 2 === 1 ? 'user' : 'assistant'));
    if (interleaved) for (const k of starts) if (k === i) branch(k);
  }
  if (!interleaved) for (const k of starts) branch(k);
  await client.query(
    `INSERT INTO messages (id, chat_id, seq, role, content, status, parent_id, reply_to_id)
     SELECT r.id, $1, r.seq, r.role, r.content, 'complete', r.parent,
            CASE WHEN r.role = 'assistant' THEN r.parent END
       FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::uuid[]) AS r(id, seq, role, content, parent)`,
    [
      chatId,
      rows.map((r) => r.id),
      rows.map((r) => r.seq),
      rows.map((r) => r.role),
      rows.map((r) => r.content),
      rows.map((r) => r.parent),
    ],
  );
  await client.query('UPDATE chats SET last_seq = $2, active_leaf_id = $3 WHERE id = $1', [chatId, seq, path.at(-1)]);
  return { leaf: path.at(-1), messages: seq };
}

// The prompt's path (TurnStore: turn_context and promptPlan read it by message_path, migration
// MessagePath): from the new reply's parent up the tree, twice the window.
const PROMPT_PATH = 'SELECT * FROM message_path($2, $1, $3)';

// A history page of 50: the newest, or the one before `before`.
const pagePath = (chatId, before) =>
  `/api/v1/chats/${chatId}/messages?limit=50${before === undefined ? '' : `&before=${before}`}`;

async function pages(base, token, chatId) {
  const befores = [undefined];
  for (;;) {
    const { status, body } = await call(base, pagePath(chatId, befores.at(-1)), { token });
    if (status !== 200) throw new Error(`history answered ${status}`);
    if (!body.hasMore) return { befores, lastPageLength: body.items.length };
    befores.push(body.nextBefore);
  }
}

async function readLoad(base, token, chatId, befores, readers = READERS, reads = READS) {
  return closedReads(base, token, (index) => pagePath(chatId, befores[index % befores.length]), readers, reads);
}

/** `reads` GETs of `pathOf(index)` by `readers` in a closed loop (each asks again when answered). */
async function closedReads(base, token, pathOf, readers, reads) {
  const started = performance.now();
  const results = await closedLoop({
    concurrency: readers,
    total: reads,
    task: async (_, index) => {
      const started = performance.now();
      const response = await fetch(`${base}${pathOf(index)}`, {
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), accept: 'application/json' },
      });
      await response.arrayBuffer();
      return { ms: performance.now() - started, ok: response.status === 200 };
    },
  });
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) throw new Error(`${failed} reads failed`);
  return { ...summarize(results.map((r) => r.ms)), elapsedS: (performance.now() - started) / 1000 };
}

/**
 * 50 readers each reading a page at `READER_RATE` a second, evenly spaced whatever the answers do
 * (an open loop: a page's time is counted from when it was due, so queueing counts). The closed
 * loop above measures the other thing: 50 readers that each ask again the moment an answer comes,
 * which is the machine's page throughput, with each page waiting behind the 49 others.
 */
async function pacedReads(base, token, chatId, befores) {
  const rate = READERS * READER_RATE;
  const result = await paced({
    rate,
    amount: READS,
    method: 'GET',
    maxSeconds: Math.ceil(READS / rate) + 60,
    next: (index) => {
      const before = befores[index % befores.length];
      return {
        url: `${base}${pagePath(chatId, before)}`,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      };
    },
  });
  if (result.ok !== READS) throw new Error(`paced history reads: ${result.ok} of ${READS} answered 200`);
  return { ...result.latency, offeredPerSecond: rate };
}

// What the prompt read before the tree (the chat's newest messages by seq), for reference.
const LINEAR_READ = `SELECT id, seq, role, content, status, reply_to_id, metadata FROM messages
  WHERE chat_id = $1 AND seq < 2147483647 ORDER BY seq DESC LIMIT $2`;

/**
 * The four reads round-robin, one of each per round, so the machine's load (shared cores) falls
 * on all alike: the path on the tree chat, on the linear chat and on the chat whose branches were
 * made as it went, and the old read on the linear chat. Each round's first 50 are a warm-up.
 */
async function promptReads(client, tree, linear, interleaved) {
  const series = { treeWalk: [], linearWalk: [], interleavedWalk: [], linearBeforeTree: [] };
  const timed = async (name, sql, params, expected) => {
    const started = performance.now();
    const { rows } = await client.query(sql, params);
    const ms = performance.now() - started;
    if (rows.length !== expected) throw new Error(`${name} read ${rows.length} messages`);
    return ms;
  };
  for (let round = 0; round < ROUNDS + 50; round++) {
    const t = await timed('tree path', PROMPT_PATH, [tree.leaf, tree.chatId, WINDOW * 2], WINDOW * 2);
    const l = await timed('linear path', PROMPT_PATH, [linear.leaf, linear.chatId, WINDOW * 2], WINDOW * 2);
    const i = await timed(
      'interleaved path',
      PROMPT_PATH,
      [interleaved.leaf, interleaved.chatId, WINDOW * 2],
      WINDOW * 2,
    );
    const o = await timed('linear read', LINEAR_READ, [linear.chatId, WINDOW * 2], WINDOW * 2);
    if (round < 50) continue;
    series.treeWalk.push(t);
    series.linearWalk.push(l);
    series.interleavedWalk.push(i);
    series.linearBeforeTree.push(o);
  }
  return Object.fromEntries(Object.entries(series).map(([name, times]) => [name, summarize(times)]));
}

try {
  const databaseUrl = await startBenchDatabase(root, 'parley-bench-tree-');
  const { base } = await startInstance(root, {
    log: join(outDir, 'app.log'),
    port: PORT,
    env: { DATABASE_URL: databaseUrl, DATABASE_POOL_MAX: '20' },
  });
  const token = await register(base);
  const treeChat = await createChat(base, token);
  const linearChat = await createChat(base, token);
  const interleavedChat = await createChat(base, token);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const tree = await seed(client, treeChat, PATH_LENGTH, BRANCHES, BRANCH_LENGTH);
  const linear = await seed(client, linearChat, PATH_LENGTH, 0, 0);
  const interleaved = await seed(client, interleavedChat, PATH_LENGTH, BRANCHES, BRANCH_LENGTH, true);
  await client.query('ANALYZE messages');

  // History: every page of the active path, read round-robin by 50 concurrent readers.
  const treePages = await pages(base, token, treeChat);
  const linearPages = await pages(base, token, linearChat);
  const interleavedPages = await pages(base, token, interleavedChat);
  const treeHistory = await readLoad(base, token, treeChat, treePages.befores);
  const linearHistory = await readLoad(base, token, linearChat, linearPages.befores);
  const interleavedHistory = await readLoad(base, token, interleavedChat, interleavedPages.befores);
  const treePaced = await pacedReads(base, token, treeChat, treePages.befores);
  const interleavedPaced = await pacedReads(base, token, interleavedChat, interleavedPages.befores);
  // The floor under a page read back to back: a request that reads nothing (public, no database)
  // through the same server, middlewares and framework, by as many readers.
  const floor = await closedReads(base, null, () => '/health/live', READERS, READS);
  const treeAlone = await readLoad(base, token, treeChat, treePages.befores, 1, 500);
  const linearAlone = await readLoad(base, token, linearChat, linearPages.befores, 1, 500);
  const interleavedAlone = await readLoad(base, token, interleavedChat, interleavedPages.befores, 1, 500);

  const prompt = await promptReads(
    client,
    { chatId: treeChat, leaf: tree.leaf },
    { chatId: linearChat, leaf: linear.leaf },
    { chatId: interleavedChat, leaf: interleaved.leaf },
  );
  const { rows: plan } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${PROMPT_PATH}`, [
    tree.leaf,
    treeChat,
    WINDOW * 2,
  ]);
  await client.end();

  const results = {
    tree: { messages: tree.messages, branches: BRANCHES, pathLength: PATH_LENGTH, pages: treePages.befores.length },
    linear: { messages: linear.messages, pathLength: PATH_LENGTH, pages: linearPages.befores.length },
    readers: READERS,
    reads: READS,
    readerRate: READER_RATE,
    interleaved: { messages: interleaved.messages, pages: interleavedPages.befores.length },
    history: {
      tree: treeHistory,
      linear: linearHistory,
      interleaved: interleavedHistory,
      treePaced,
      interleavedPaced,
      treeOneReader: treeAlone,
      linearOneReader: linearAlone,
      interleavedOneReader: interleavedAlone,
      emptyRequestBackToBack: floor,
    },
    promptRounds: ROUNDS,
    prompt,
    promptRatio: prompt.treeWalk.p50 / prompt.linearWalk.p50,
    promptRatioInterleaved: prompt.interleavedWalk.p50 / prompt.linearWalk.p50,
    promptRatioToBeforeTree: prompt.treeWalk.p50 / prompt.linearBeforeTree.p50,
    promptPlanExecutionMs: plan[0]['QUERY PLAN'][0]['Execution Time'],
  };
  await writeFile(join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  const ms = (v) => v.toFixed(2);
  process.stdout.write(
    `tree chat: ${tree.messages} messages, ${BRANCHES} branches, active path ${PATH_LENGTH} (${treePages.befores.length} pages of 50)\n`,
  );
  process.stdout.write(
    `history page, ${READERS} readers back to back (closed loop: throughput), ${READS} reads: tree p50 ${ms(treeHistory.p50)} ms, p95 ${ms(treeHistory.p95)} ms, ${(READS / treeHistory.elapsedS).toFixed(0)} pages/s; linear p50 ${ms(linearHistory.p50)} ms, p95 ${ms(linearHistory.p95)} ms\n`,
  );
  process.stdout.write(
    `the floor: GET /health/live (no database), ${READERS} readers back to back, ${READS} reads: p50 ${ms(floor.p50)} ms, p95 ${ms(floor.p95)} ms, ${(READS / floor.elapsedS).toFixed(0)} requests/s\n`,
  );
  process.stdout.write(
    `history page, ${READERS} readers at ${READER_RATE} pages/s each (${treePaced.offeredPerSecond}/s offered, open loop), ${READS} reads: tree p50 ${ms(treePaced.p50)} ms, p95 ${ms(treePaced.p95)} ms (target ≤ 20 ms); interleaved p50 ${ms(interleavedPaced.p50)} ms, p95 ${ms(interleavedPaced.p95)} ms\n`,
  );
  process.stdout.write(
    `history page, branches made as the chat went (interleaved seqs): ${READERS} readers p50 ${ms(interleavedHistory.p50)} ms, p95 ${ms(interleavedHistory.p95)} ms; 1 reader p50 ${ms(interleavedAlone.p50)} ms, p95 ${ms(interleavedAlone.p95)} ms\n`,
  );
  process.stdout.write(
    `history page, 1 reader, 500 reads: tree p50 ${ms(treeAlone.p50)} ms, p95 ${ms(treeAlone.p95)} ms; linear p50 ${ms(linearAlone.p50)} ms, p95 ${ms(linearAlone.p95)} ms\n`,
  );
  const line = (r) => `p50 ${ms(r.p50)} ms, mean ${ms(r.mean)}, p95 ${ms(r.p95)}`;
  process.stdout.write(
    `prompt read of ${WINDOW * 2} messages (message_path), ${ROUNDS} rounds each:\n  tree chat    ${line(prompt.treeWalk)}\n  linear chat  ${line(prompt.linearWalk)}\n  branches made as the chat went  ${line(prompt.interleavedWalk)}\n  before the tree (seq DESC LIMIT), linear chat  ${line(prompt.linearBeforeTree)}\n  tree/linear (p50) ${results.promptRatio.toFixed(3)} (target ≤ 1.10); interleaved/linear ${results.promptRatioInterleaved.toFixed(3)}; tree / before the tree ${results.promptRatioToBeforeTree.toFixed(3)}\n`,
  );
  process.stdout.write(`results: ${outDir}\n`);
} finally {
  await cleanupAll();
}
