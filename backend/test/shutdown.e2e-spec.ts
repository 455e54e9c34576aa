import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShutdownService } from '../src/lifecycle/shutdown.service.js';
import { call, exited, printed, start, type Running } from './support/process-app.js';

describe(ShutdownService.name, () => {
  let dataDir: string;
  let running: Running | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'parley-shutdown-'));
    await chmod(dataDir, 0o755);
  });
  afterAll(async () => {
    if (running?.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await exited(running.child);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('on SIGTERM stops taking turns, lets turns in flight finish within the grace, ends the rest, and exits 0', async () => {
    // Replies of about 2 s against a 1 s grace: some turns finish, the rest are interrupted.
    const env = {
      DEMO_FIRST_BYTE_DELAY_MS: '0',
      DEMO_CHUNK_DELAY_MS: '100',
      SHUTDOWN_GRACE_MS: '1000',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
    };
    running = await start(dataDir, env);
    const registered = await call(running.base, '/api/auth/register', {
      method: 'POST',
      body: { email: `shutdown-${Date.now()}@example.com`, password: 'graceful exit' },
    });
    const token = registered.body.accessToken as string;
    const balance = (await call(running.base, '/api/me', { token })).body.tokenBalance as number;
    const chats = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(running!.base, '/api/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } }),
      ),
    );
    const base = running.base;
    const turns = chats.map((chat) =>
      fetch(`${base}/api/chats/${chat.body.id}/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify({ content: 'Tell me a long story' }),
      }).then(
        (r) => r.text(),
        () => '',
      ),
    );
    await new Promise((r) => setTimeout(r, 600));
    const signalled = Date.now();
    running.child.kill('SIGTERM');
    // The signal is handled on the app's event loop, not at the instant it is sent.
    await printed(running, 'SIGTERM received');
    // Draining: not ready, and new turns are refused with 503 and Retry-After.
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    const refused = await call(base, `/api/chats/${chats[0]!.body.id}/messages`, {
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
        (await call(running!.base, `/api/chats/${chat.body.id}/messages`, { token })).body.items.at(-1),
      ),
    );
    const complete = states.filter((m) => m.status === 'complete');
    const interrupted = states.filter((m) => m.status === 'failed' && m.errorCode === 'turn_interrupted');
    expect(complete.length + interrupted.length).toBe(20);
    expect(interrupted.length).toBeGreaterThan(0);
    // Every stream ended with exactly one terminal event.
    for (const text of streams) expect((text.match(/event: (done|error)/g) ?? []).length).toBe(1);
    // Only the completed replies were charged.
    const spent = complete.reduce((sum, m) => sum + m.usage.totalTokens, 0);
    expect((await call(running.base, '/api/me', { token })).body.tokenBalance).toBe(balance - spent);
    process.stdout.write(`shutdown: ${complete.length} turns finished, ${interrupted.length} interrupted\n`);
  });
});
