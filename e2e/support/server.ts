import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const port = Number(process.env.PARLEY_BROWSER_PORT ?? 4310);
export const baseURL = `http://127.0.0.1:${port}`;
export const resultsDir = join(repoRoot, 'test-results');

const main = join(repoRoot, 'backend', 'dist', 'main.js');
const frontendIndex = join(repoRoot, 'frontend', 'dist', 'index.html');

// The app's pace and failure switches for the browser tests: demo replies slow enough (about 6 s)
// to stop or leave mid-reply even on a busy machine, X-Debug-Force-Error honoured, no per-minute
// turn limit, a 3 s chat breaker.
const appEnv: Record<string, string> = {
  HOST: '127.0.0.1',
  PORT: String(port),
  LOG_LEVEL: 'warn',
  DEBUG_FAULTS: 'true',
  TURN_RATE_LIMIT_PER_MINUTE: '0',
  DEMO_FIRST_BYTE_DELAY_MS: '300',
  DEMO_CHUNK_DELAY_MS: '400',
  CHAT_BREAKER_RESET_MS: '3000',
  RETRY_BASE_DELAY_MS: '50',
  RETRY_MAX_DELAY_MS: '200',
  // Forced provider failures from separate tests must not add up to an open provider breaker
  // (consecutive failures across chats); the per-chat breaker is the one the UI shows.
  PROVIDER_BREAKER_THRESHOLD: '1000',
};

function portIsFree(candidate: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const probe = createServer();
    probe.once('error', () => resolveFree(false));
    probe.listen(candidate, '127.0.0.1', () => probe.close(() => resolveFree(true)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((done) => child.once('exit', () => done()));
}

/**
 * Starts the production build (`node backend/dist/main.js`, frontend served on the same port) on
 * a fresh embedded PostgreSQL in a temporary DATA_DIR, and waits until it is ready. Returns the
 * teardown: SIGTERM (the app drains, stops its PostgreSQL and exits), then the directory goes.
 */
export async function startServer(): Promise<() => Promise<void>> {
  for (const built of [main, frontendIndex]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
  }
  if (!(await portIsFree(port))) {
    throw new Error(`port ${port} is in use (a server left running?); set PARLEY_BROWSER_PORT to use another`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-browser-'));
  await chmod(dataDir, 0o755); // embedded PostgreSQL runs as the postgres user when we are root
  await mkdir(resultsDir, { recursive: true });
  const logPath = join(resultsDir, 'browser-server.log');
  const log = createWriteStream(logPath);

  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing inherited decides the app's database, secret or mode.
  for (const key of ['DATABASE_URL', 'DATABASE_DIRECT_URL', 'JWT_SECRET', 'NODE_ENV', 'NODE_OPTIONS']) delete env[key];
  Object.assign(env, appEnv, { DATA_DIR: dataDir });
  const child = spawn(process.execPath, [main], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  // Last resort if the runner itself dies without tearing down.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const teardown = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited(child);
      clearTimeout(timer);
    }
    log.end();
    await rm(dataDir, { recursive: true, force: true });
  };

  const started = Date.now();
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}; see ${logPath}`);
      if (Date.now() - started > 120_000) throw new Error(`the app was not ready after 120 s; see ${logPath}`);
      const ready = await fetch(`${baseURL}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
