// Third-party clients against the production build: generates a client from the contract with
// @hey-api/openapi-ts and with orval, compiles each with its integrator script under
// `tsc --strict`, starts `node backend/dist/main.js` on a fresh embedded PostgreSQL (loopback, a
// free port, a temporary DATA_DIR) as the browser tests do (`../support/server.ts`), runs both
// integrators against it and stops it by its PID. Needs `npm run build -w backend` first. Exits
// non-zero when anything fails.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const bin = join(repoRoot, 'node_modules', '.bin');

// Bounds: the whole run (about 40 s when all is well) stays well under three minutes.
const RUN_DEADLINE_MS = 150_000;
const READY_WITHIN_MS = 90_000;
const INTEGRATOR_WITHIN_MS = 60_000;
const STEP_WITHIN_MS = 90_000;

// The app's switches for this run: fast demo replies, X-Debug-Force-Error honoured, no turn
// quota, and forced provider failures that never open the provider breaker.
const appEnv = {
  LOG_LEVEL: 'warn',
  SERVE_FRONTEND: 'false',
  DEBUG_FAULTS: 'true',
  TURN_RATE_LIMIT_PER_MINUTE: '0',
  RETRY_BASE_DELAY_MS: '50',
  RETRY_MAX_DELAY_MS: '200',
  DEMO_FIRST_BYTE_DELAY_MS: '0',
  DEMO_CHUNK_DELAY_MS: '5',
  PROVIDER_BREAKER_MIN_CALLS: '100000',
};

const clients = [
  {
    name: 'hey-api',
    generate: ['openapi-ts', '--file', 'openapi-ts.config.ts'],
    tsconfig: 'tsconfig.heyapi.json',
    script: join(here, 'dist', 'heyapi.js'),
  },
  {
    name: 'orval',
    generate: ['orval', '--config', 'orval.config.ts'],
    tsconfig: 'tsconfig.orval.json',
    script: join(here, 'dist', 'orval.js'),
  },
];

const say = (line) => process.stdout.write(`${line}\n`);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

// Every child runs on this project's Node (the `node` devDependency), found first on PATH.
const childEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };

// Children running now, stopped by PID if the run's deadline passes.
const running = new Set();
let server;

/** Runs a command to its end (killed by PID past `timeoutMs`); resolves with its exit and output. */
function run(command, args, { cwd = here, env = childEnv, timeoutMs = STEP_WITHIN_MS, onLine } = {}) {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    let pending = '';
    const take = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (!onLine) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (onLine && pending) onLine(pending);
      const ok = code === 0 && !timedOut;
      const why = timedOut ? `timed out after ${seconds(timeoutMs)}` : signal ? `killed by ${signal}` : `exit ${code}`;
      done({ ok, why, output, ms: Date.now() - started });
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      done({ ok: false, why: error.message, output, ms: Date.now() - started });
    });
  });
}

async function main() {
  const started = Date.now();
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) throw new Error(`Node ${process.versions.node}: run it through npm (the project's Node 24)`);
  // Imported after that check: an older Node would fail on the TypeScript without saying why.
  const { appMain, startApp } = await import('../support/server.ts');
  if (!existsSync(appMain)) throw new Error(`${appMain} is missing: run \`npm run build -w backend\` first`);

  const results = new Map(clients.map((c) => [c.name, { stage: 'generate', ok: false, why: '', steps: 0, ms: 0 }]));
  const record = (name, stage, outcome) => {
    Object.assign(results.get(name), { stage, ok: outcome.ok, why: outcome.why });
    if (!outcome.ok && outcome.output) say(`[${name}] ${stage} failed (${outcome.why}):\n${outcome.output.trimEnd()}`);
    return outcome.ok;
  };

  await rm(join(here, 'generated'), { recursive: true, force: true });
  await rm(join(here, 'dist'), { recursive: true, force: true });

  // The server starts (about 20 s, most of it PostgreSQL's first start) while each client is
  // generated and compiled on its own: one broken client does not hide the other.
  say('starting the production build; generating and compiling the clients…');
  const starting = startApp({ name: 'integrators', env: appEnv, readyWithinMs: READY_WITHIN_MS }).then(
    (started) => {
      server = started;
      say(
        `server ready at ${started.baseUrl} (pid ${started.pid}) in ${seconds(started.readyMs)}; log: ${started.logPath}`,
      );
      return started;
    },
    (error) => error,
  );
  const built = await Promise.all(
    clients.map(async (c) => {
      const [command, ...args] = c.generate;
      const generated = await run(join(bin, command), args);
      if (!record(c.name, 'generate', generated)) return false;
      const compiled = await run(join(bin, 'tsc'), ['-p', c.tsconfig]);
      if (!record(c.name, 'compile', compiled)) return false;
      say(`[${c.name}] generated in ${seconds(generated.ms)}, compiled under tsc --strict in ${seconds(compiled.ms)}`);
      return true;
    }),
  );

  const ready = await starting;
  try {
    for (const [index, c] of clients.entries()) {
      if (!built[index]) continue;
      if (ready instanceof Error) {
        record(c.name, 'server start', { ok: false, why: ready.message, output: '' });
        continue;
      }
      const outcome = await run(process.execPath, [c.script], {
        env: { ...childEnv, PARLEY_BASE_URL: ready.baseUrl },
        timeoutMs: INTEGRATOR_WITHIN_MS,
        onLine: (line) => say(`[${c.name}] ${line}`),
      });
      Object.assign(results.get(c.name), {
        steps: (outcome.output.match(/^ok {3}/gm) ?? []).length,
        ms: outcome.ms,
      });
      record(c.name, 'run', { ...outcome, output: '' }); // its output was shown as it came
    }
  } finally {
    if (server) {
      await server.stop();
      say(`server stopped (pid ${server.pid})`);
      server = undefined;
    }
  }

  say('');
  say('summary');
  for (const [name, r] of results) {
    const outcome = r.ok ? `passed: ${r.steps} steps in ${seconds(r.ms)}` : `FAILED at ${r.stage} (${r.why})`;
    say(`  ${name.padEnd(8)} ${outcome}`);
  }
  say(`  total    ${seconds(Date.now() - started)}`);
  return [...results.values()].every((r) => r.ok && r.stage === 'run');
}

const deadline = setTimeout(async () => {
  say(`the run did not finish within ${seconds(RUN_DEADLINE_MS)}`);
  for (const child of running) child.kill('SIGKILL');
  await server?.stop().catch(() => undefined);
  process.exit(1);
}, RUN_DEADLINE_MS);

main().then(
  (passed) => {
    clearTimeout(deadline);
    process.exitCode = passed ? 0 : 1;
  },
  (error) => {
    clearTimeout(deadline);
    say(`integrators: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
