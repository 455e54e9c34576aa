import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/database/embedded-postgres.js';
import { createTestDatabase, dropTestDatabase } from '../support/test-app.js';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { call, exited, start, type Running } from '../support/process-app.js';

// The run's shape (issue 17): three instances behind HAProxy (round robin, no stickiness) on one
// PostgreSQL through PgBouncer; steady turns from clients that retry with their keys; kill -9 of
// one instance mid-stream; then a rolling SIGTERM restart of all three. Checked from the database.
const LOAD_MS = Number(process.env.CHAOS_LOAD_MS ?? 45_000);
const CLIENTS = Number(process.env.CHAOS_CLIENTS ?? 40);
const TURN_TIMEOUT_MS = 8000;
// A client gives up on a key after this long (the sweep ends a dead reply within deadline + 20 s).
const CLIENT_PATIENCE_MS = 60_000;

interface Outcome {
  key: string;
  content: string;
  stream: boolean;
  /** The server accepted the turn (a 2xx, a turn_started, or a replay of one). */
  accepted: boolean;
  final: { status: number; code?: string } | undefined;
  /** The committed reply's text as the client received it (a done event or a 201). */
  doneText?: string;
  attempts: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('three instances as one (chaos)', () => {
  let databaseUrl: string;
  let pooler: PgBouncer;
  let dir: string;
  let haproxy: ChildProcess | undefined;
  const instances: Running[] = [];
  const ports: number[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    pooler = await startPgBouncer(databaseUrl, { poolSize: 20 });
    dir = await mkdtemp(join(tmpdir(), 'parley-chaos-'));
    await chmod(dir, 0o755);
    env = {
      DATABASE_URL: pooler.urlFor(databaseUrl),
      DATABASE_DIRECT_URL: databaseUrl,
      DATABASE_POOLER: 'transaction',
      JWT_SECRET: 'the-secret-all-three-instances-share-for-hs256',
      DEMO_FIRST_BYTE_DELAY_MS: '100',
      DEMO_CHUNK_DELAY_MS: '60',
      TURN_TIMEOUT_MS: String(TURN_TIMEOUT_MS),
      SHUTDOWN_GRACE_MS: '4000',
      SIGNUP_TOKEN_GRANT: '100000000',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
      SERVE_FRONTEND: 'false',
      LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < 3; i++) ports.push(await freePort());
    instances.push(...(await Promise.all(ports.map((port) => start(dir, { ...env, PORT: String(port) })))));
  });

  afterAll(async () => {
    if (haproxy && haproxy.exitCode === null) {
      haproxy.kill('SIGTERM');
      await exited(haproxy);
    }
    for (const running of instances) {
      if (running.child.exitCode === null) {
        running.child.kill('SIGKILL');
        await exited(running.child);
      }
    }
    await pooler?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function startHaproxy(): Promise<string> {
    const port = await freePort();
    const config = join(dir, 'haproxy.cfg');
    await writeFile(
      config,
      [
        'global',
        '  maxconn 2000',
        'defaults',
        '  mode http',
        '  timeout connect 1s',
        '  timeout client 60s',
        '  timeout server 60s',
        '  option redispatch',
        '  retries 3',
        // A refused or reset connection (an instance gone) is retried on another server.
        '  retry-on conn-failure empty-response',
        `frontend parley`,
        `  bind 127.0.0.1:${port}`,
        '  default_backend app',
        'backend app',
        '  balance roundrobin',
        '  option httpchk GET /health/ready',
        '  default-server inter 300ms fall 1 rise 1',
        ...ports.map((p, i) => `  server app${i} 127.0.0.1:${p} check`),
        '',
      ].join('\n'),
    );
    haproxy = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    const base = `http://127.0.0.1:${port}`;
    for (const deadline = Date.now() + 10_000; ;) {
      if ((await fetch(`${base}/health/ready`).catch(() => undefined))?.ok) return base;
      if (Date.now() > deadline) throw new Error('haproxy did not come up');
      await sleep(100);
    }
  }

  /** One turn as a browser sends it: with a key, retried with the same key until it has an outcome. */
  async function turn(base: string, token: string, chatId: string, stream: boolean): Promise<Outcome> {
    const outcome: Outcome = {
      key: randomUUID(),
      content: `chaos ${randomUUID()}`,
      stream,
      accepted: false,
      final: undefined,
      attempts: 0,
    };
    const giveUpAt = Date.now() + CLIENT_PATIENCE_MS;
    while (Date.now() < giveUpAt) {
      outcome.attempts++;
      let retryAfterMs = 1000;
      try {
        const response = await fetch(`${base}/api/v1/chats/${chatId}/messages${stream ? '/stream' : ''}`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/json',
            'Idempotency-Key': outcome.key,
          },
          body: JSON.stringify({ content: outcome.content }),
          signal: AbortSignal.timeout(30_000),
        });
        retryAfterMs = Number(response.headers.get('retry-after') ?? 1) * 1000;
        if (stream && response.status === 200) {
          outcome.accepted = true;
          const text = await response.text().catch(() => '');
          const done = /event: done\ndata: (.*)\n/.exec(text);
          const error = /event: error\ndata: (.*)\n/.exec(text);
          if (done) {
            const data = JSON.parse(done[1]!) as { result: { assistantMessage: { content: string } } };
            outcome.final = { status: 201 };
            outcome.doneText = data.result.assistantMessage.content;
            return outcome;
          }
          if (error) {
            // The turn ended (or its key's first outcome was replayed): that is its outcome.
            const problem = (JSON.parse(error[1]!) as { problem: { status: number; code: string } }).problem;
            outcome.final = { status: problem.status, code: problem.code };
            return outcome;
          }
          // Cut without an end (the instance died): the same key again follows the reply.
        } else {
          const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
          if (response.status === 201) {
            outcome.accepted = true;
            outcome.final = { status: 201 };
            outcome.doneText = (body.assistantMessage as { content: string }).content;
            return outcome;
          }
          outcome.final = { status: response.status, code: body.code as string };
          if (body.code === 'turn_interrupted' || body.code === 'idempotency_key_in_flight') outcome.accepted = true;
          if (!retryable(body.code as string | undefined)) return outcome;
        }
      } catch {
        // The connection broke (an instance killed under it): try again.
      }
      await sleep(Math.min(Math.max(retryAfterMs, 200), 5000));
    }
    return outcome;
  }

  it('loses nothing, generates once per key, charges once, and marks nothing partial complete', async () => {
    const base = await startHaproxy();
    const users = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const registered = await call(base, '/api/v1/auth/register', {
          method: 'POST',
          body: { email: `chaos-${i}-${randomUUID()}@example.com`, password: 'three as one' },
        });
        return registered.body.accessToken as string;
      }),
    );
    const chats = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const token = users[i % users.length]!;
        const chat = await call(base, '/api/v1/chats', {
          method: 'POST',
          token,
          body: { characterId: 'captain-mira' },
        });
        return { token, chatId: chat.body.id as string };
      }),
    );

    const outcomes: Outcome[] = [];
    const loadEndsAt = Date.now() + LOAD_MS;
    const started = Date.now();
    // Each client: one turn after another in its own chat (a chat takes one turn at a time).
    const clients = chats.map(async ({ token, chatId }, i) => {
      for (let n = 0; Date.now() < loadEndsAt; n++) outcomes.push(await turn(base, token, chatId, (i + n) % 2 === 0));
    });

    // The faults: kill -9 of one instance while streams run through it, back after 3 s; then a
    // rolling restart of all three with SIGTERM, one at a time.
    const faults = (async () => {
      await sleep(LOAD_MS * 0.2);
      instances[0]!.child.kill('SIGKILL');
      await exited(instances[0]!.child);
      const killedAt = Date.now() - started;
      await sleep(3000);
      instances[0] = await start(dir, { ...env, PORT: String(ports[0]) });
      for (let i = 0; i < 3; i++) {
        await sleep(LOAD_MS * 0.1);
        instances[i]!.child.kill('SIGTERM');
        await exited(instances[i]!.child);
        instances[i] = await start(dir, { ...env, PORT: String(ports[i]) });
      }
      return killedAt;
    })();
    const [killedAt] = await Promise.all([faults, ...clients]);
    const loadMs = Date.now() - started;
    process.stdout.write(`chaos: load and faults done after ${loadMs} ms\n`);

    // The sweep ends replies the killed instance left (deadline + 10 s, every 10 s).
    await sleep(TURN_TIMEOUT_MS + 21_000);
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const accepted = outcomes.filter((o) => o.accepted);
      const contents = outcomes.map((o) => o.content);
      const { rows: users_ } = await db.query<{ content: string; n: number; replies: number; id: string }>(
        `SELECT u.content, count(DISTINCT u.id)::int AS n, count(a.id)::int AS replies
         FROM messages u LEFT JOIN messages a ON a.reply_to_id = u.id AND a.role = 'assistant'
         WHERE u.role = 'user' AND u.content = ANY($1) GROUP BY u.content`,
        [contents],
      );
      const byContent = new Map(users_.map((r) => [r.content, r]));
      const lost = accepted.filter((o) => !byContent.has(o.content));
      const duplicated = users_.filter((r) => r.n > 1);
      const doubleGenerations = users_.filter((r) => r.replies > 1);
      const { rows: doubleCharges } = await db.query(
        `SELECT message_id FROM token_ledger WHERE message_id IS NOT NULL
         GROUP BY message_id HAVING count(*) FILTER (WHERE kind = 'settlement') > 0
                              AND count(*) FILTER (WHERE kind = 'release') > 0`,
      );
      const { rows: unbalanced } = await db.query(
        `SELECT u.id FROM users u LEFT JOIN token_ledger l ON l.user_id = u.id
         GROUP BY u.id, u.token_balance HAVING u.token_balance <> COALESCE(sum(l.amount), 0)`,
      );
      const { rows: statuses } = await db.query<{ status: string; error_code: string | null; n: number }>(
        `SELECT status, error_code, count(*)::int AS n FROM messages
         WHERE role = 'assistant' AND reply_to_id IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC`,
      );
      const { rows: complete } = await db.query<{ content: string; user_content: string; finish: string | null }>(
        `SELECT a.content, u.content AS user_content, a.metadata->>'finishReason' AS finish
         FROM messages a JOIN messages u ON u.id = a.reply_to_id WHERE a.status = 'complete'`,
      );
      const doneText = new Map(outcomes.filter((o) => o.doneText !== undefined).map((o) => [o.content, o.doneText]));
      const partial = complete.filter(
        (c) =>
          c.finish !== 'stop' ||
          c.content.length === 0 ||
          (doneText.has(c.user_content) && doneText.get(c.user_content) !== c.content),
      );
      const unfinished = statuses.filter((s) => s.status === 'pending' || s.status === 'streaming');
      const unanswered = outcomes.filter((o) => o.final === undefined);
      const figures = {
        turns: outcomes.length,
        turnsPerSecond: Number((outcomes.length / (loadMs / 1000)).toFixed(1)),
        accepted: accepted.length,
        completed: outcomes.filter((o) => o.final?.status === 201).length,
        retriedKeys: outcomes.filter((o) => o.attempts > 1).length,
        killedAtMs: killedAt,
        replies: Object.fromEntries(statuses.map((s) => [`${s.status}${s.error_code ? `:${s.error_code}` : ''}`, s.n])),
        lostUserMessages: lost.length,
        duplicateUserMessages: duplicated.length,
        duplicateGenerations: doubleGenerations.length,
        doubleCharges: doubleCharges.length,
        unbalancedUsers: unbalanced.length,
        partialComplete: partial.length,
        unfinishedReplies: unfinished.reduce((sum, s) => sum + s.n, 0),
        unanswered: unanswered.length,
      };
      process.stdout.write(`chaos: ${JSON.stringify(figures)}\n`);
      expect(figures.turns).toBeGreaterThan(0);
      expect(figures).toMatchObject({
        lostUserMessages: 0,
        duplicateUserMessages: 0,
        duplicateGenerations: 0,
        doubleCharges: 0,
        unbalancedUsers: 0,
        partialComplete: 0,
        unfinishedReplies: 0,
        unanswered: 0,
      });
    } finally {
      await db.end();
    }
  }, 360_000);
});

// What a browser retries with the same key: the first request still running (409), an instance
// draining or gone before the turn was stored (503 shutting_down, or the balancer's own 502/503
// without a problem body). Any other answer is the key's outcome.
function retryable(code: string | undefined): boolean {
  return code === undefined || code === 'idempotency_key_in_flight' || code === 'shutting_down';
}
