// Scenario 5 — hot chat. Many concurrent sends into one chat (one user, instant upstream): their
// latency, and whether every message and its reply were persisted.
import { call, makeChats } from '../lib/app.mjs';
import { agent, summarize } from '../lib/load.mjs';
import { request } from 'node:http';
import { fmt } from '../lib/report.mjs';
import { countBy } from './streaming.mjs';

export const name = 'hot-chat';
export const title = '5. Hot chat: concurrent sends into one chat';

function send(base, chat, content, httpAgent) {
  return new Promise((resolve) => {
    const started = performance.now();
    const body = JSON.stringify({ content });
    const target = new URL(`${base}/api/v1/chats/${chat.chatId}/messages`);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: httpAgent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          accept: 'application/json',
          authorization: `Bearer ${chat.token}`,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      },
    );
    req.on('error', (error) => resolve({ status: error.code ?? 'network', ms: performance.now() - started }));
    req.end(body);
  });
}

/** Every message of a chat, page by page (newest first, 100 at a time). */
async function allMessages(base, chat) {
  const items = [];
  let before;
  for (;;) {
    const query = before ? `limit=100&before=${before}` : 'limit=100';
    const { status, body } = await call(base, `/api/v1/chats/${chat.chatId}/messages?${query}`, { token: chat.token });
    if (status !== 200) throw new Error(`history answered ${status}`);
    items.unshift(...body.items);
    if (!body.hasMore) return items;
    before = body.nextBefore;
  }
}

export async function run(ctx, settings) {
  const rows = [];
  const latencies = [];
  let persistedAll = true;
  let allOk = true;
  await ctx.withApp({}, async (app) => {
    await ctx.upstream.configure({ pace: { firstByteDelayMs: 0, chunkDelayMs: 0 } });
    ctx.note(
      `load shape: ${settings.rounds} round(s); each round a new chat of a new user receives ${settings.sends} ` +
        'JSON sends at once (one connection each, distinct text), then its history is read back and checked',
    );
    for (let round = 1; round <= settings.rounds; round++) {
      ctx.progress(`round ${round}: ${settings.sends} sends into one chat`);
      const [chat] = await makeChats(app.base, 1, { chatsPerUser: 1 });
      const http = agent();
      const contents = Array.from({ length: settings.sends }, (_, i) => `Round ${round}, order ${i}: report.`);
      const started = performance.now();
      const answers = await Promise.all(contents.map((content) => send(app.base, chat, content, http)));
      const wall = performance.now() - started;
      http.destroy();
      const ok = answers.filter((a) => a.status === 201);
      latencies.push(...answers.map((a) => a.ms));
      const messages = await allMessages(app.base, chat);
      const users = new Map(messages.filter((m) => m.role === 'user').map((m) => [m.content, m]));
      const stored = contents.filter((content) => users.has(content)).length;
      const answered = contents.filter((content) => {
        const user = users.get(content);
        return messages.some((m) => m.role === 'assistant' && m.replyToId === user?.id && m.status === 'complete');
      }).length;
      const seqs = messages.map((m) => m.seq);
      const gapless = seqs.every((seq, i) => seq === i + 1);
      persistedAll &&= stored === settings.sends && answered === ok.length && gapless;
      allOk &&= ok.length === settings.sends;
      const s = summarize(answers.map((a) => a.ms));
      ctx.attempted(settings.sends, ok.length);
      rows.push([
        round,
        settings.sends,
        Object.entries(countBy(answers.map((a) => a.status)))
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
        `${stored} / ${answered}`,
        gapless ? 'yes' : 'no',
        fmt(s.p50, 1),
        fmt(s.p99, 1),
        fmt(s.max, 1),
        fmt(wall, 0),
      ]);
    }
  });
  const all = summarize(latencies);
  return {
    tables: [
      {
        caption:
          'Latency in ms of each send; persisted = user messages stored / replies stored complete; seq gapless = the chat’s messages numbered 1..n without holes.',
        columns: ['round', 'sends', 'statuses', 'persisted', 'seq gapless', 'p50', 'p99', 'max', 'round ms'],
        rows,
      },
    ],
    targets: [
      {
        what: `${settings.sends} concurrent sends into one chat: p99, all persisted`,
        target: '≤ 2 s, all persisted',
        measured: `p99 ${fmt(all.p99, 0)} ms (p50 ${fmt(all.p50, 0)}) over ${all.count} sends; ${persistedAll && allOk ? 'all answered 201 and persisted' : 'NOT all answered/persisted'}`,
        met: all.p99 <= 2000 && persistedAll && allOk,
      },
    ],
    raw: { latency: all, persistedAll, allOk },
  };
}
