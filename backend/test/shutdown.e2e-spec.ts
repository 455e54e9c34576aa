import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShutdownService } from '../src/lifecycle/shutdown.service.js';
import { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { call, exited, printed, start, type Running } from './support/process-app.js';

describe(ShutdownService.name, () => {
  let dataDir: string;
  let running: Running | undefined;
  let upstream: DemoGeminiServer | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'parley-shutdown-'));
    await chmod(dataDir, 0o755);
  });
  afterAll(async () => {
    if (running?.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await exited(running.child);
    }
    await upstream?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('on SIGTERM stops taking turns, lets turns in flight finish within the grace, ends the rest, and exits 0', async () => {
    // The provider is a Gemini-protocol server of the test's own: ten replies are held back far
    // beyond the grace period, ten answer in about half a second. Which turn is which is decided
    // by the provider, not by timing.
    upstream = await DemoGeminiServer.start({ pace: { firstByteDelayMs: 0, chunkDelayMs: 50 } });
    upstream.enqueueFaults(
      ...Array.from({ length: 10 }, () => ({ kind: 'first_byte_delay' as const, delayMs: 60_000 })),
    );
    const env = {
      GEMINI_API_KEY: 'shutdown-test-key',
      GEMINI_BASE_URL: upstream.baseUrl,
      SHUTDOWN_GRACE_MS: '2000',
      FIRST_TOKEN_TIMEOUT_MS: '120000',
      TURN_TIMEOUT_MS: '120000',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
    };
    running = await start(dataDir, env);
    const registered = await call(running.base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `shutdown-${Date.now()}@example.com`, password: 'graceful exit' },
    });
    const token = registered.body.accessToken as string;
    const balance = (await call(running.base, '/api/v1/me', { token })).body.tokenBalance as number;
    const chats = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(running!.base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } }),
      ),
    );
    const base = running.base;
    const startTurn = (chat: (typeof chats)[number]) =>
      fetch(`${base}/api/v1/chats/${chat.body.id}/messages/stream`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': randomUUID(),
        },
        body: JSON.stringify({ content: 'Tell me a long story' }),
      }).then(
        (r) => r.text(),
        () => '',
      );
    const providerCalls = async (count: number) => {
      while (upstream!.requests().length < count) await new Promise((r) => setTimeout(r, 10));
    };
    const held = chats.slice(0, 10).map(startTurn);
    await providerCalls(10);
    const quick = chats.slice(10).map(startTurn);
    await providerCalls(20);
    const turns = [...held, ...quick];
    const signalled = Date.now();
    running.child.kill('SIGTERM');
    // The signal is handled on the app's event loop, not at the instant it is sent.
    await printed(running, 'SIGTERM received');
    // Draining: not ready, and new turns are refused with 503 and Retry-After.
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    const refused = await call(base, `/api/v1/chats/${chats[0]!.body.id}/messages`, {
      method: 'POST',
      token,
      body: { content: 'one more' },
    });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('shutting_down');
    expect(await exited(running.child)).toBe(0);
    const exitMs = Date.now() - signalled;
    const streams = await Promise.all(turns);
    expect(existsSync(join(dataDir, 'postgres', 'pg', 'postmaster.pid'))).toBe(false);
    process.stdout.write(`shutdown: SIGTERM to exit ${exitMs} ms with 20 turns in flight\n`);

    running = await start(dataDir, env);
    const states = await Promise.all(
      chats.map(async (chat) =>
        (await call(running!.base, `/api/v1/chats/${chat.body.id}/messages`, { token })).body.items.at(-1),
      ),
    );
    const complete = states.filter((m) => m.status === 'complete');
    const interrupted = states.filter((m) => m.status === 'failed' && m.errorCode === 'turn_interrupted');
    // The quick replies finished within the grace; the held ones were ended as interrupted.
    expect(states.slice(10).map((m) => m.status)).toEqual(Array(10).fill('complete'));
    expect(interrupted.map((m) => m.id)).toEqual(states.slice(0, 10).map((m) => m.id));
    // Every stream ended with exactly one terminal event.
    for (const text of streams) expect((text.match(/event: (done|error)/g) ?? []).length).toBe(1);
    // Only the completed replies were charged.
    const spent = complete.reduce((sum, m) => sum + m.usage.totalTokens, 0);
    expect((await call(running.base, '/api/v1/me', { token })).body.tokenBalance).toBe(balance - spent);
    process.stdout.write(`shutdown: ${complete.length} turns finished, ${interrupted.length} interrupted\n`);
  });
});
