// Time to first `delta` of streamed turns against the production build, with the demo provider
// answering instantly. Starts its own app (embedded PostgreSQL in a throwaway directory) on
// loopback, runs a bounded number of turns, prints p50/p95 and stops.
// Usage: node bench/ttft.mjs [--turns 200] [--concurrency 1,50]
import { spawn } from 'node:child_process';
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const turns = Number(arg('turns', '200'));
const levels = arg('concurrency', '1,50').split(',').map(Number);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-'));
await chmod(dataDir, 0o755);
const base = `http://127.0.0.1:${port}`;
const app = spawn(process.execPath, [join(root, 'backend', 'dist', 'main.js')], {
  env: {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-bench',
    LOG_LEVEL: 'warn',
    DEMO_FIRST_BYTE_DELAY_MS: '0',
    DEMO_CHUNK_DELAY_MS: '0',
    TURN_RATE_LIMIT_PER_MINUTE: '0',
    SIGNUP_TOKEN_GRANT: '1000000000',
    DATABASE_POOL_MAX: '20',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});

async function call(path, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });
  return response.json();
}

try {
  for (let ready = false; !ready;) {
    ready = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (!ready) await new Promise((r) => setTimeout(r, 200));
  }
  // One user per concurrent stream, as in real use (one user's sends queue on their balance).
  let userCount = 0;
  async function newUser() {
    const { accessToken } = await call('/api/auth/register', {
      method: 'POST',
      body: JSON.stringify({ email: `bench-${Date.now()}-${userCount++}@example.com`, password: 'benchmark password' }),
    });
    return { Authorization: `Bearer ${accessToken}` };
  }

  async function streamTurn({ id: chatId, auth }) {
    const started = performance.now();
    const response = await fetch(`${base}/api/chats/${chatId}/messages`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'How far to the next star?' }),
    });
    const decoder = new TextDecoder();
    let buffer = '';
    let first;
    let terminal;
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      if (first === undefined && buffer.includes('event: delta')) first = performance.now() - started;
      if (buffer.includes('event: done')) terminal = 'done';
      else if (buffer.includes('event: error')) terminal = 'error';
    }
    return { first, total: performance.now() - started, ok: terminal === 'done' };
  }

  const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  console.log(
    `# time to first delta — ${new Date().toISOString()}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  );
  console.log('# the load generator shares the machine with the app and PostgreSQL');
  console.log('| concurrent streams | turns | ok | TTFT p50 ms | TTFT p95 ms | total p50 ms | total p95 ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const concurrency of levels) {
    const chats = await Promise.all(
      Array.from({ length: concurrency }, async () => {
        const auth = await newUser();
        const chat = await call('/api/chats', {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ characterId: 'captain-mira' }),
        });
        return { id: chat.id, auth };
      }),
    );
    // Warm-up, then the measured turns spread over the chats.
    await Promise.all(chats.map((chat) => streamTurn(chat)));
    const results = [];
    let next = 0;
    await Promise.all(
      chats.map(async (chat) => {
        while (next < turns) {
          next++;
          results.push(await streamTurn(chat));
        }
      }),
    );
    const firsts = results
      .filter((r) => r.first !== undefined)
      .map((r) => r.first)
      .sort((a, b) => a - b);
    const totals = results.map((r) => r.total).sort((a, b) => a - b);
    const fmt = (v) => v.toFixed(1);
    console.log(
      `| ${concurrency} | ${results.length} | ${results.filter((r) => r.ok).length} | ${fmt(pct(firsts, 50))} | ${fmt(pct(firsts, 95))} | ${fmt(pct(totals, 50))} | ${fmt(pct(totals, 95))} |`,
    );
  }
} finally {
  app.kill('SIGTERM');
  await new Promise((r) => app.once('exit', r));
  await rm(dataDir, { recursive: true, force: true });
}
