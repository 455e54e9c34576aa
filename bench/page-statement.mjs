// The history page's statement alone (issues 11 and 16): PostgreSQL CPU per call of
// `message_page` (the index read where the path is a chain) and `message_page_walk` (the walk up
// the tree), on a linear chat of 51 messages beside 200 chats of 60, run round-robin so that the
// machine's load falls on both alike. CPU from /proc/<backend pid>/stat. Figures, never pass/fail.
//   npm run build -w backend && node bench/page-statement.mjs [--calls 1000] [--rounds 4]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createChat, register, startBenchDatabase, startInstance } from './lib/app.mjs';
import { numberFlag } from './lib/load.mjs';
import { cleanupAll } from './lib/procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pg = createRequire(join(root, 'backend', 'package.json'))('pg');
const CALLS = numberFlag('calls', 1000);
const ROUNDS = numberFlag('rounds', 4);
const FUNCTIONS = ['message_page_walk', 'message_page'];

const SEED = `
DO $$
DECLARE parent uuid; next uuid;
BEGIN
  SELECT id INTO parent FROM messages WHERE chat_id = '@CHAT' AND seq = 1;
  FOR n IN 1..50 LOOP
    next := gen_random_uuid();
    INSERT INTO messages (id, chat_id, seq, role, content, status, parent_id, reply_to_id)
    VALUES (next, '@CHAT', 1 + n, CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END,
            'message ' || n || ': ' || repeat('lorem ipsum ', 20), 'complete', parent,
            CASE WHEN n % 2 = 0 THEN parent END);
    parent := next;
  END LOOP;
  UPDATE chats SET last_seq = 51, active_leaf_id = parent WHERE id = '@CHAT';
  INSERT INTO chats (user_id, character_id, locale, last_seq)
    SELECT user_id, character_id, locale, 60 FROM chats, generate_series(1, 200) WHERE id = '@CHAT';
  INSERT INTO messages (chat_id, seq, role, content, status)
    SELECT c.id, g, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, repeat('dolor sit amet ', 15), 'complete'
      FROM chats c, generate_series(1, 60) g WHERE c.id <> '@CHAT' AND c.last_seq = 60;
  UPDATE messages m SET parent_id = p.id FROM messages p
   WHERE p.chat_id = m.chat_id AND p.seq = m.seq - 1 AND m.chat_id <> '@CHAT';
END $$`;

try {
  const url = await startBenchDatabase(root, 'parley-bench-page-');
  const app = await startInstance(root, { env: { DATABASE_URL: url } });
  const chatId = await createChat(app.base, await register(app.base));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(SEED.replaceAll('@CHAT', chatId));
  await client.query('VACUUM ANALYZE');
  const [user] = (
    await client.query('SELECT u.id, u.token_version FROM users u JOIN chats c ON c.user_id = u.id WHERE c.id = $1', [
      chatId,
    ])
  ).rows;
  const [{ pid }] = (await client.query('SELECT pg_backend_pid() AS pid')).rows;
  const cpuMs = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const args = [user.id, user.token_version, chatId, 2_147_483_647, 50];
  const perCall = Object.fromEntries(FUNCTIONS.map((fn) => [fn, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const fn of FUNCTIONS) {
      const sql = `SELECT * FROM ${fn}($1, $2, $3, $4, $5)`;
      for (let i = 0; i < 100; i++) await client.query(sql, args);
      const before = cpuMs();
      for (let i = 0; i < CALLS; i++) await client.query(sql, args);
      perCall[fn].push(((cpuMs() - before) * 1000) / CALLS);
    }
  }
  await client.end();
  for (const fn of FUNCTIONS)
    process.stdout.write(
      `${fn}: µs of PostgreSQL CPU per call, by round: ${perCall[fn].map((v) => v.toFixed(0)).join(' / ')}\n`,
    );
} finally {
  await cleanupAll();
}
