import type { ChatPage, MessagePage, TurnResult } from '@parley/api-types';
import type { Response } from 'supertest';
import { createTestDatabase, dropTestDatabase, useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { startPgBouncer, type PgBouncer } from './support/pgbouncer.js';

// The chat flows through a real PgBouncer in transaction pooling mode with 5 server connections,
// while the app's own pool may open 20 clients to it: the pooler queues, nothing breaks.
const POOLER_SERVER_CONNECTIONS = 5;
const APP_POOL_MAX = 20;
const TURNS = 50;

let pooler: PgBouncer;
let databaseUrl: string;

// Outside the describe: runs before the app boots and after it has closed.
beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  pooler = await startPgBouncer(databaseUrl, { poolSize: POOLER_SERVER_CONNECTIONS, maxClientConnections: 500 });
});

afterAll(async () => {
  await pooler?.stop();
  if (databaseUrl) await dropTestDatabase(databaseUrl);
});

describe('the app behind PgBouncer (transaction pooling)', () => {
  const t = useTestApp(() => ({
    DATABASE_URL: pooler.urlFor(databaseUrl),
    DATABASE_DIRECT_URL: databaseUrl,
    DATABASE_POOLER: 'transaction',
    DATABASE_POOL_MAX: String(APP_POOL_MAX),
    SIGNUP_TOKEN_GRANT: '100000000',
  }));

  it(`runs ${TURNS} concurrent turns through ${POOLER_SERVER_CONNECTIONS} server connections`, async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => registerUser(t())));
    const chats = (
      await Promise.all(
        users.map(async (user) => {
          const own = await Promise.all(Array.from({ length: 5 }, () => createChat(t(), user.accessToken)));
          return own.map((chat) => ({ chat, token: user.accessToken }));
        }),
      )
    ).flat();
    // Two turns into each chat at once: the seq row lock is taken through the pooler too.
    const started = Date.now();
    const sampling = samplePools(pooler, new URL(databaseUrl).pathname.slice(1));
    const responses = await Promise.all(
      Array.from({ length: TURNS }, (_, i) => {
        const { chat, token } = chats[i % chats.length]!;
        return t()
          .http.post(`/api/v1/chats/${chat.id}/messages`)
          .set('Authorization', `Bearer ${token}`)
          .send({ content: `pooled turn ${i}` });
      }),
    );
    const elapsed = Date.now() - started;
    const peak = await sampling.stop();
    const succeeded = responses.filter((r) => r.status === 201).length;
    process.stdout.write(
      `pooler: ${succeeded}/${TURNS} turns succeeded in ${elapsed} ms; peak ${peak.clients} client connections, ` +
        `${peak.waiting} waiting in the pooler's queue, ${peak.servers} server connections (limit ${POOLER_SERVER_CONNECTIONS})\n`,
    );
    expect(statuses(responses)).toEqual({ 201: TURNS });
    // The app really went through the pooler, with more clients than server connections.
    expect(peak.servers).toBeGreaterThan(0);
    expect(peak.servers).toBeLessThanOrEqual(POOLER_SERVER_CONNECTIONS);
    expect(peak.clients).toBeGreaterThan(POOLER_SERVER_CONNECTIONS);
    for (const response of responses) {
      const turn = response.body as TurnResult;
      expect(turn.assistantMessage.status).toBe('complete');
      // A database error (a pooler's prepared-statement error maps to 503) must not have been
      // hidden by a retry either.
      expect(turn.retries).toBe(0);
    }

    // Reads through the pooler: every chat lists both exchanges in order, gap-free.
    const reads = await Promise.all(
      chats.map(({ chat, token }) =>
        t().http.get(`/api/v1/chats/${chat.id}/messages`).set('Authorization', `Bearer ${token}`),
      ),
    );
    expect(statuses(reads)).toEqual({ 200: chats.length });
    for (const read of reads) {
      const items = (read.body as MessagePage).items;
      // The greeting, then two exchanges, numbered without gaps.
      expect(items.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(items.filter((m) => m.role === 'user')).toHaveLength(2);
      expect(items.filter((m) => m.role === 'assistant' && m.replyToId).map((m) => m.status)).toEqual([
        'complete',
        'complete',
      ]);
    }
    const lists = await Promise.all(
      users.map((user) => t().http.get('/api/v1/chats').set('Authorization', `Bearer ${user.accessToken}`)),
    );
    expect(statuses(lists)).toEqual({ 200: users.length });
    for (const list of lists) expect((list.body as ChatPage).items).toHaveLength(5);
  });

  it('keeps PostgreSQL within the pooler server connections', async () => {
    const name = new URL(databaseUrl).pathname.slice(1);
    // Besides the realtime fan-out's one LISTEN session, which goes over the direct connection.
    const [row] = (await t().dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name <> 'parley-realtime'`,
      [name],
    )) as { n: number }[];
    expect(row!.n).toBeLessThanOrEqual(POOLER_SERVER_CONNECTIONS);
    const stats = (await pooler.show('STATS')).find((r) => r.database === name);
    expect(Number(stats?.total_xact_count)).toBeGreaterThan(TURNS * 3);
  });

  it('logs no prepared-statement or connection-exhaustion errors in the pooler', async () => {
    const log = await pooler.log();
    expect(log).toMatch(/process up|listening on/i);
    expect(log).not.toMatch(/prepared statement/i);
    expect(log).not.toMatch(/no more connections allowed/i);
    expect(log).not.toMatch(/unsupported startup parameter/i);
  });

  it('answered nothing with a 5xx', () => {
    const failed = t().recorder.responses.filter((r) => r.status >= 500);
    expect(failed).toEqual([]);
    expect(t().recorder.responses.length).toBeGreaterThan(TURNS);
  });
});

function statuses(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

interface PoolPeak {
  clients: number;
  waiting: number;
  servers: number;
}

// Polls SHOW POOLS while the turns run and keeps the peaks for the database.
function samplePools(pooler: PgBouncer, database: string): { stop(): Promise<PoolPeak> } {
  const peak: PoolPeak = { clients: 0, waiting: 0, servers: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const row of await pooler.show('POOLS')) {
        if (row.database !== database) continue;
        const n = (key: string) => Number(row[key] ?? 0);
        peak.clients = Math.max(peak.clients, n('cl_active') + n('cl_waiting'));
        peak.waiting = Math.max(peak.waiting, n('cl_waiting'));
        peak.servers = Math.max(
          peak.servers,
          n('sv_active') + n('sv_idle') + n('sv_used') + n('sv_tested') + n('sv_login'),
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return peak;
    },
  };
}
