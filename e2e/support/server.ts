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
export const appMain = join(repoRoot, 'backend', 'dist', 'main.js');

const frontendIndex = join(repoRoot, 'frontend', 'dist', 'index.html');

// The app's pace and failure switches for the browser tests: demo replies slow enough (about 6 s)
// to stop or leave mid-reply even on a busy machine, X-Debug-Force-Error honoured, no per-minute
// turn limit, a 3 s chat breaker.
const appEnv: Record<string, string> = {
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
  PROVIDER_BREAKER_MIN_CALLS: '100000',
};

// Listens on 127.0.0.1:`candidate` and closes again: the port it got (any free one for 0), or
// undefined when that port is taken.
function probePort(candidate: number): Promise<number | undefined> {
  return new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => resolvePort(undefined));
    probe.listen(candidate, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolvePort(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((done) => child.once('exit', () => done()));
}

export interface AppOptions {
  /** Names the log (`test-results/<name>-server.log`) and the temporary data directory. */
  name: string;
  /** The app's switches for this run. */
  env: Record<string, string>;
  /** A free loopback port when not given. */
  port?: number;
  readyWithinMs: number;
}

export interface RunningApp {
  baseUrl: string;
  pid: number | undefined;
  logPath: string;
  /** Its DATA_DIR (where its embedded PostgreSQL lives, for the command-line tools). */
  dataDir: string;
  readyMs: number;
  /** SIGTERM (the app drains, stops its PostgreSQL and exits), then the data directory goes. */
  stop(): Promise<void>;
}

/**
 * Starts the production build (`node backend/dist/main.js`) on a fresh embedded PostgreSQL in a
 * temporary DATA_DIR, on 127.0.0.1, and waits until it is ready. Shared by the browser tests'
 * global setup and the integrators' runner (`integrators/run.mjs`, which Node runs with this
 * file's types stripped: keep to erasable syntax here).
 */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  if (!existsSync(appMain)) throw new Error(`${appMain} is missing: run \`npm run build -w backend\` first`);
  const port = options.port ?? (await probePort(0));
  if (port === undefined) throw new Error('found no free port on 127.0.0.1');
  const baseUrl = `http://127.0.0.1:${port}`;
  const dataDir = await mkdtemp(join(tmpdir(), `parley-${options.name}-`));
  await chmod(dataDir, 0o755); // embedded PostgreSQL runs as the postgres user when we are root
  await mkdir(resultsDir, { recursive: true });
  const logPath = join(resultsDir, `${options.name}-server.log`);
  const log = createWriteStream(logPath);

  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing inherited decides the app's database, secret or mode.
  for (const key of ['DATABASE_URL', 'DATABASE_DIRECT_URL', 'JWT_SECRET', 'NODE_ENV', 'NODE_OPTIONS']) delete env[key];
  Object.assign(env, options.env, { HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir });
  const child = spawn(process.execPath, [appMain], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  // Last resort if the runner itself dies without tearing down.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
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
      if (Date.now() - started > options.readyWithinMs) {
        throw new Error(`the app was not ready after ${options.readyWithinMs / 1000} s; see ${logPath}`);
      }
      const ready = await fetch(`${baseUrl}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, pid: child.pid, logPath, dataDir, readyMs: Date.now() - started, stop };
}

/** The browser tests' server: the app serving the built frontend on `port`. Returns the teardown. */
export async function startServer(): Promise<() => Promise<void>> {
  for (const built of [appMain, frontendIndex]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
  }
  if ((await probePort(port)) === undefined) {
    throw new Error(`port ${port} is in use (a server left running?); set PARLEY_BROWSER_PORT to use another`);
  }
  const app = await startApp({ name: 'browser', env: appEnv, port, readyWithinMs: 120_000 });
  // For tests that run an operator's command against this app (Playwright passes what global
  // setup puts in the environment on to the test workers).
  process.env.PARLEY_BROWSER_DATA_DIR = app.dataDir;
  return app.stop;
}
