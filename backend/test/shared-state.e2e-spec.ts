import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresSharedState } from '../src/shared-state/postgres-shared-state.js';
import { RedisSharedState } from '../src/shared-state/redis-shared-state.js';
import type { BreakerPolicy, SharedState } from '../src/shared-state/shared-state.js';
import { useTestApp, createTestDatabase, dropTestDatabase } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { call, start, stopRunning, type Running } from './support/process-app.js';
import { startRedis } from './support/redis.js';

const policy: BreakerPolicy = { threshold: 3, resetMs: 1500, probeTtlMs: 1500 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Issue 17, item 7: quotas and chat breakers live in a store every instance shares — PostgreSQL
 * by default, Redis with REDIS_URL — and both stores behave alike.
 */
describe.each([['PostgreSQL'], ['Redis']])('SharedState (%s)', (kind) => {
  const t = useTestApp();
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let stores: SharedState[];
  let chatId: () => Promise<string>;

  beforeAll(async () => {
    if (kind === 'Redis') redis = await startRedis();
    // Two stores on one backend: as two instances see it.
    stores =
      kind === 'Redis'
        ? [new RedisSharedState(redis!.url), new RedisSharedState(redis!.url)]
        : [new PostgresSharedState(t().dataSource), new PostgresSharedState(t().dataSource)];
    const { accessToken } = await registerUser(t());
    chatId = async () => (await createChat(t(), accessToken)).id;
  });
  afterAll(async () => {
    for (const store of stores ?? []) await store.close();
    await redis?.stop();
  });

  it('counts one quota across instances, refuses past the limit without counting, and resets after the window', async () => {
    const [a, b] = stores;
    const key = `turns:${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a! : b!).takeQuota(key, 7, 1000)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(7);
    expect(results.filter((r) => !r.allowed).every((r) => r.count === 7 && r.resetMs > 0 && r.resetMs <= 1000)).toBe(
      true,
    );
    await sleep(1100);
    expect(await b!.takeQuota(key, 7, 1000)).toMatchObject({ allowed: true, count: 1 });
  });

  it('holds at most the limit of slots across instances, frees released and expired ones, and renews held ones', async () => {
    const [a, b] = stores;
    const key = `realtime:${randomUUID()}`;
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a! : b!).claimSlot(key, `h${i}`, 3, 1000)),
    );
    const held = claims.flatMap((ok, i) => (ok ? [`h${i}`] : []));
    expect(held).toHaveLength(3);
    // A holder that holds one keeps it; another is refused until one is released.
    expect(await b!.claimSlot(key, held[0]!, 3, 1000)).toBe(true);
    expect(await b!.claimSlot(key, 'late', 3, 1000)).toBe(false);
    await a!.releaseSlot(key, held[0]!);
    expect(await b!.claimSlot(key, 'late', 3, 1000)).toBe(true);
    // Renewed slots outlive their first time; the one not renewed expires and frees its place.
    await sleep(600);
    await a!.renewSlots(
      [
        { key, holder: held[1]! },
        { key, holder: 'late' },
      ],
      1000,
    );
    await sleep(600);
    expect(await a!.claimSlot(key, 'after', 3, 1000)).toBe(true);
    expect(await a!.claimSlot(key, 'one more', 3, 1000)).toBe(false);
  });

  it('opens a chat’s breaker after the threshold of failures recorded on any instance, for every instance', async () => {
    const [a, b] = stores;
    const chat = await chatId();
    expect(await a!.admit(chat, policy)).toEqual({ kind: 'closed', failures: 0 });
    await a!.failed(chat, policy, false);
    await b!.failed(chat, policy, false);
    expect(await a!.admit(chat, policy)).toEqual({ kind: 'closed', failures: 2 });
    await a!.failed(chat, policy, false);
    const open = await b!.admit(chat, policy);
    expect(open).toMatchObject({ kind: 'open' });
    expect(open.kind === 'open' && open.retryAfterMs).toBeGreaterThan(1000);
    expect(await a!.openCount()).toBeGreaterThanOrEqual(1);

    // Half-open: exactly one instance gets the probe, the other fails fast.
    await sleep(1600);
    const admissions = await Promise.all([a!.admit(chat, policy), b!.admit(chat, policy)]);
    expect(admissions.map((x) => x.kind).sort()).toEqual(['probe', 'probing']);
    // A failed probe opens it again at once; a successful one closes it.
    await a!.failed(chat, policy, true);
    expect(await b!.admit(chat, policy)).toMatchObject({ kind: 'open' });
    await sleep(1600);
    expect(await b!.admit(chat, policy)).toEqual({ kind: 'probe' });
    await b!.succeeded(chat);
    expect(await a!.admit(chat, policy)).toEqual({ kind: 'closed', failures: 0 });
  });

  it('lets another instance probe when the probing one died (its probe outlived the probe time)', async () => {
    const [a, b] = stores;
    const chat = await chatId();
    await a!.trip(chat, policy);
    await sleep(1600);
    expect(await a!.admit(chat, policy)).toEqual({ kind: 'probe' });
    expect(await b!.admit(chat, policy)).toMatchObject({ kind: 'probing' });
    await sleep(1600);
    expect(await b!.admit(chat, policy)).toEqual({ kind: 'probe' });
  });

  it('counts consecutive failures only: a success in between forgets them', async () => {
    const [a, b] = stores;
    const chat = await chatId();
    await a!.failed(chat, policy, false);
    await a!.failed(chat, policy, false);
    await b!.succeeded(chat);
    await a!.failed(chat, policy, false);
    expect(await b!.admit(chat, policy)).toEqual({ kind: 'closed', failures: 1 });
  });
});

/** Two real instances behind no balancer at all: the limit and the breaker are global, not per instance. */
describe.each([['PostgreSQL'], ['Redis']])('Two instances share limits and breakers (%s)', (kind) => {
  let databaseUrl: string;
  let dir: string;
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let instances: Running[] = [];

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'parley-shared-'));
    await chmod(dir, 0o755);
    if (kind === 'Redis') redis = await startRedis();
    const env = {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'shared-secret-of-both-instances-shared-secret',
      DEMO_FIRST_BYTE_DELAY_MS: '0',
      DEMO_CHUNK_DELAY_MS: '0',
      SIGNUP_TOKEN_GRANT: '10000000',
      SERVE_FRONTEND: 'false',
      TURN_RATE_LIMIT_PER_MINUTE: '6',
      CHAT_BREAKER_THRESHOLD: '2',
      RETRY_MAX_ATTEMPTS: '1',
      DEBUG_FAULTS: 'true',
      LOG_LEVEL: 'warn',
      ...(redis ? { REDIS_URL: redis.url } : {}),
    };
    instances = await Promise.all([start(dir, env), start(dir, env)]);
  });
  afterAll(async () => {
    await stopRunning(...instances);
    await redis?.stop();
    await dropTestDatabase(databaseUrl);
    await rm(dir, { recursive: true, force: true });
  });

  it('allows a user the limit across both instances, not twice the limit', async () => {
    const [a, b] = instances;
    const registered = await call(a!.base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `limit-${randomUUID()}@example.com`, password: 'one limit for all' },
    });
    const token = registered.body.accessToken as string;
    const chat = (
      await call(a!.base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } })
    ).body.id as string;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const instance = i % 2 === 0 ? a! : b!;
      statuses.push(
        (
          await call(instance.base, `/api/v1/chats/${chat}/messages`, {
            method: 'POST',
            token,
            body: { content: `turn ${i}` },
          })
        ).status,
      );
    }
    expect(statuses.filter((s) => s === 201)).toHaveLength(6);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
    process.stdout.write(`shared-state (${kind}): 12 turns over 2 instances at 6/min: ${statuses.join(',')}\n`);
  });

  it('refuses turns on one instance while the chat’s breaker opened through the other is open', async () => {
    const [a, b] = instances;
    const registered = await call(a!.base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `breaker-${randomUUID()}@example.com`, password: 'one breaker for all' },
    });
    const token = registered.body.accessToken as string;
    const chat = (
      await call(a!.base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } })
    ).body.id as string;
    // The breaker debug fault opens the chat's breaker through A; B refuses at once.
    const tripped = await fetch(`${a!.base}/api/v1/chats/${chat}/messages`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        'X-Debug-Force-Error': 'breaker',
      },
      body: JSON.stringify({ content: 'trip' }),
    });
    expect(tripped.status).toBe(503);
    const onB = await call(b!.base, `/api/v1/chats/${chat}/messages`, {
      method: 'POST',
      token,
      body: { content: 'on b' },
    });
    expect(onB.status).toBe(503);
    expect(onB.body).toMatchObject({ code: 'breaker_open', breakerState: 'open' });
  });
});
