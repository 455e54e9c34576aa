import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoPaths } from '../../src/config/repo-paths.js';
import { freePort } from '../../src/database/embedded-postgres.js';

// The production build run as a separate process, the way `npm start` runs it (by default no
// DATABASE_URL, no secret). For what only real processes show: signals, kill -9, restarts,
// several instances on one database.
export const MAIN = join(repoPaths.root, 'backend', 'dist', 'main.js');

export interface Running {
  child: ChildProcess;
  base: string;
  output: () => string;
  startupMs: number;
}

export async function start(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Running> {
  const running = await spawnApp(dataDir, extraEnv);
  for (;;) {
    if (running.child.exitCode !== null)
      throw new Error(`app exited with ${running.child.exitCode}:\n${running.output()}`);
    if (Date.now() - running.started > 90_000) throw new Error(`app did not become ready:\n${running.output()}`);
    const ready = await fetch(`${running.base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...running, startupMs: Date.now() - running.started };
}

/** Starts the app without waiting for it to be ready (for what happens before it is). */
export async function spawnApp(
  dataDir: string,
  extraEnv: Record<string, string> = {},
): Promise<Omit<Running, 'startupMs'> & { started: number }> {
  // A given PORT keeps an instance's address across restarts (behind a balancer).
  const port = extraEnv.PORT ? Number(extraEnv.PORT) : await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing inherited from the test run's environment decides the app's database or secret.
  for (const key of ['DATABASE_URL', 'DATABASE_DIRECT_URL', 'JWT_SECRET', 'NODE_ENV', 'NODE_OPTIONS']) delete env[key];
  Object.assign(env, { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...extraEnv });
  const started = Date.now();
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, base: `http://127.0.0.1:${port}`, output: () => output, started };
}

/** Resolves once the app's output contains `text` (signals are handled asynchronously). */
export async function printed(running: Running, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!running.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`app did not print ${JSON.stringify(text)}:\n${running.output()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (code) => r(code)));
}

/** Stops the instances still running (SIGTERM, then waits for each to exit). */
export async function stopRunning(...instances: Array<Running | undefined>): Promise<void> {
  for (const running of instances) {
    if (running?.child.exitCode === null) {
      running.child.kill('SIGTERM');
      await exited(running.child);
    }
  }
}

export async function call(base: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}),
      ...(init.body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  // Loosely typed on purpose: these checks read a few fields of arbitrary JSON answers.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: response.status, body: (await response.json().catch(() => null)) as Record<string, any> };
}
