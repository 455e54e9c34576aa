// The realtime channel's benchmark (issue 13): figures, never pass/fail.
//   1. idle sockets: N authenticated sockets held open on one instance; the RSS they add.
//   2. fan-out: T concurrent streamed turns sent to instance A (T clients, each sending its
//      turns back to back, their first sends spread over a second), each watched by a socket on
//      instance B subscribed to its chat; the delay from each delta reaching A's streaming client
//      to the same text (same reply, same offset) reaching B's socket.
// Both instances share one embedded PostgreSQL (the default bus, LISTEN/NOTIFY), or Redis with
// --redis (a redis-server started here). Usage:
//   npm run bench:realtime [-- --sockets 10000 --turns 100 --rounds 3 --redis]
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createChat, mapLimit, register, startBenchDatabase, startInstance } from './lib/app.mjs';
import { numberFlag, sleep, summarize } from './lib/load.mjs';
import { cleanupAll, freePort, memory, onCleanup } from './lib/procs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOCKETS = numberFlag('sockets', 10_000);
const SOCKETS_PER_USER = 100;
const TURNS = numberFlag('turns', 100);
const ROUNDS = numberFlag('rounds', 3);
const useRedis = process.argv.slice(2).includes('--redis');

const outDir = join(root, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-realtime`);
await mkdir(outDir, { recursive: true });
process.once('SIGINT', () => void cleanupAll().then(() => process.exit(130)));

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  onCleanup(() => child.kill('SIGTERM'));
  await sleep(500);
  return `redis://127.0.0.1:${port}`;
}

function openSocket(url, hello, onFrame = () => undefined) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('error', reject);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'hello', ...hello })));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'ready') resolve(socket);
      onFrame(frame);
    });
    socket.once('close', (code) => reject(new Error(`closed ${code} before ready`)));
  });
}

try {
  const databaseUrl = await startBenchDatabase(root, 'parley-bench-rt-');
  const env = { DATABASE_URL: databaseUrl, ...(useRedis ? { REDIS_URL: await startRedis() } : {}) };
  const instance = async (name) => {
    const started = await startInstance(root, {
      name,
      log: join(outDir, `${name}.log`),
      env: {
        SIGNUP_TOKEN_GRANT: '1000000000',
        DATABASE_POOL_MAX: '20',
        // The built-in demo provider, paced like a real model's stream.
        DEMO_FIRST_BYTE_DELAY_MS: '100',
        DEMO_CHUNK_DELAY_MS: '40',
        REALTIME_MAX_CONNECTIONS_PER_USER: String(SOCKETS_PER_USER),
        ...env,
      },
    });
    return { ...started, ws: `ws://127.0.0.1:${started.port}/api/v1/realtime` };
  };
  const a = await instance('app-a');
  const b = await instance('app-b');
  const results = { bus: useRedis ? 'redis' : 'postgres', sockets: SOCKETS, turns: TURNS, rounds: ROUNDS };

  // 1. Idle authenticated sockets on B.
  const users = await mapLimit(Array.from({ length: Math.ceil(SOCKETS / SOCKETS_PER_USER) }), 8, () =>
    register(b.base),
  );
  await openSocket(b.ws, { token: users[0] }).then((s) => s.close());
  await sleep(2000);
  const before = memory(b.child.pid).rss;
  const started = Date.now();
  const sockets = await mapLimit(
    Array.from({ length: SOCKETS }, (_, i) => i),
    200,
    (i) => openSocket(b.ws, { token: users[Math.floor(i / SOCKETS_PER_USER)] }),
  );
  const openMs = Date.now() - started;
  await sleep(5000);
  const after = memory(b.child.pid).rss;
  results.idle = {
    openMs,
    rssBeforeMb: before / 2 ** 20,
    rssAfterMb: after / 2 ** 20,
    addedMb: (after - before) / 2 ** 20,
    perSocketKb: (after - before) / 1024 / SOCKETS,
  };
  console.log('idle sockets', results.idle);
  for (const socket of sockets) socket.terminate();
  await sleep(2000);

  // 2. Fan-out latency: turns streamed from A, watched on B.
  const watchers = await mapLimit(Array.from({ length: TURNS }), 16, async () => {
    const token = await register(a.base);
    return { token, chatId: await createChat(a.base, token) };
  });
  // When each delta (reply, offset) reached A's streaming client, and when each stretch of a
  // reply's text (deltas queued together travel joined) reached B's socket.
  const onA = new Map();
  const onB = new Map();
  const reachedB = (key) => {
    const [messageId, offset] = key.split(':');
    return onB.get(messageId)?.find((d) => d.offset <= Number(offset) && Number(offset) < d.end)?.at;
  };
  for (const { token, chatId } of watchers) {
    await openSocket(b.ws, { token, subscribe: [chatId] }, (frame) => {
      if (frame.type !== 'reply.delta') return;
      const stretches = onB.get(frame.messageId) ?? [];
      stretches.push({ offset: frame.offset, end: frame.offset + frame.text.length, at: performance.now() });
      onB.set(frame.messageId, stretches);
    });
  }
  const streamTurn = async ({ token, chatId }) => {
    const response = await fetch(`${a.base}/api/v1/chats/${chatId}/messages/stream`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        Accept: 'text/event-stream',
        'Idempotency-Key': crypto.randomUUID(),
      },
      body: JSON.stringify({ content: 'Tell me about the ice moon.' }),
    });
    const decoder = new TextDecoder();
    let buffer = '';
    const offsets = new Map();
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!data) continue;
        const event = JSON.parse(data);
        if (event.type !== 'delta') continue;
        const offset = offsets.get(event.messageId) ?? 0;
        offsets.set(event.messageId, offset + event.text.length);
        onA.set(`${event.messageId}:${offset}`, performance.now());
      }
    }
  };
  const fanStarted = Date.now();
  // 100 concurrent streaming turns as a steady state: each watcher's client sends its turns back
  // to back, the first ones spread over a second (not 100 sends in the same millisecond).
  await Promise.all(
    watchers.map(async (watcher) => {
      await sleep(Math.random() * 1000);
      for (let round = 0; round < ROUNDS; round++) await streamTurn(watcher);
    }),
  );
  await sleep(2000);
  // Negative when B's socket read a delta before A's own client did.
  const latencies = [...onA].filter(([key]) => reachedB(key) !== undefined).map(([key, at]) => reachedB(key) - at);
  results.fanout = {
    durationMs: Date.now() - fanStarted,
    deltasOnA: onA.size,
    deltasOnB: [...onB.values()].reduce((n, stretches) => n + stretches.length, 0),
    missingOnB: [...onA.keys()].filter((key) => reachedB(key) === undefined).length,
    latencyMs: summarize(latencies),
  };
  console.log('fan-out', results.fanout);
  await writeFile(join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  console.log(`results in ${outDir}`);
} finally {
  await cleanupAll();
}
