// Scenario 4 — history. `GET /api/v1/chats/{id}/messages` on chats of about 50, 100 and 1,000
// messages (built through real turns), one reader and many at once.
import { jsonTurn, makeChats, mapLimit } from '../lib/app.mjs';
import { cannon } from '../lib/load.mjs';
import { fmt, loadCells } from '../lib/report.mjs';

export const name = 'history';
export const title = '4. History: reading a chat’s messages';

export async function run(ctx, settings) {
  const rows = [];
  const results = {};
  // A load warmed up, then measured; its requests counted as attempted.
  const measure = async (load) => {
    await cannon({ ...load, duration: settings.warmupSeconds });
    const r = await cannon({ ...load, duration: settings.seconds });
    ctx.attempted(r.ok + r.non2xx + r.errors, r.ok);
    return r;
  };
  await ctx.withApp({}, async (app) => {
    await ctx.upstream.configure({ pace: { firstByteDelayMs: 0, chunkDelayMs: 0 } });
    ctx.progress(`building chats of ${settings.sizes.join(', ')} messages`);
    const chats = await makeChats(app.base, settings.sizes.length, { chatsPerUser: 1 });
    // The greeting is message 1 and every turn adds two: the user's message and the reply. A few
    // sends at a time into each chat (they queue on the chat's row lock; order does not matter here).
    await Promise.all(
      settings.sizes.map(async (size, i) => {
        const turns = Array.from({ length: Math.ceil((size - 1) / 2) }, (_, turn) => turn);
        await mapLimit(turns, 8, async (turn) => {
          const { status } = await jsonTurn(app.base, chats[i], `Log entry ${turn}: all quiet on deck ${turn % 12}.`);
          if (status !== 201) throw new Error(`building history: a turn answered ${status}`);
        });
      }),
    );
    ctx.note(
      'load shape: one chat per size (greeting + two messages per JSON turn), read by autocannon with ' +
        'keep-alive connections all reading the same chat; limit is the page size (the API allows at most 100)',
    );
    const reads = [];
    settings.sizes.forEach((size, i) => {
      const messages = 1 + 2 * Math.ceil((size - 1) / 2);
      const limit = Math.min(size, 100);
      reads.push({ size, messages, chat: chats[i], query: `limit=${limit}`, label: `newest ${limit}` });
      if (messages > 200) {
        const before = Math.floor(messages / 2);
        reads.push({
          size,
          messages,
          chat: chats[i],
          query: `limit=100&before=${before}`,
          label: `100 before seq ${before}`,
        });
      }
    });
    for (const read of reads) {
      for (const concurrency of settings.levels) {
        ctx.progress(`${read.messages} messages, ${read.label}, concurrency ${concurrency}`);
        const load = {
          url: `${app.base}/api/v1/chats/${read.chat.chatId}/messages?${read.query}`,
          method: 'GET',
          connections: concurrency,
          headers: { authorization: `Bearer ${read.chat.token}`, accept: 'application/json' },
        };
        const r = await measure(load);
        results[`${read.size}/${read.label}/${concurrency}`] = r;
        rows.push([read.messages, read.label, concurrency, ...loadCells(r)]);
      }
    }
    // The floor under a page at each concurrency: a request that reads nothing and writes a few
    // bytes (public, no database) through the same server, middlewares and framework.
    for (const concurrency of settings.levels) {
      ctx.progress(`GET /health/live, concurrency ${concurrency}`);
      const r = await measure({ url: `${app.base}/health/live`, method: 'GET', connections: concurrency });
      results[`floor/${concurrency}`] = r;
      rows.push(['—', 'GET /health/live (the floor)', concurrency, ...loadCells(r)]);
    }
  });
  const targets = [];
  for (const concurrency of settings.levels) {
    const r = results[`50/newest 50/${concurrency}`];
    if (r) {
      targets.push({
        what: `history of 50 messages, p95 (${concurrency} concurrent reader${concurrency > 1 ? 's' : ''})`,
        target: '≤ 20 ms',
        measured:
          `${fmt(r.latency.p95, 2)} ms (p50 ${fmt(r.latency.p50, 2)}, ${fmt(r.rps, 0)} req/s)` +
          (results[`floor/${concurrency}`]
            ? `; an empty request (\`GET /health/live\`) at the same concurrency: p95 ${fmt(results[`floor/${concurrency}`].latency.p95, 2)} ms`
            : ''),
        met: r.latency.p95 <= 20,
      });
    }
  }
  return {
    tables: [
      {
        caption: 'GET …/messages, latency in ms.',
        columns: ['messages in chat', 'page', 'concurrency', 'ok', 'failed', 'req/s', 'p50', 'p95', 'p99'],
        rows,
      },
    ],
    targets,
    raw: results,
  };
}
