// Child processes of a benchmark run (app, demo upstream, bare proxy), CPU pinning and the /proc
// readings the report needs. Every child is registered so that it is stopped on any exit path.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';

const children = new Set();
const cleanups = [];
const CLOCK_TICKS = 100; // USER_HZ on Linux

export function onCleanup(fn) {
  cleanups.push(fn);
}

/** Stops every child still running, then runs the registered cleanups (temp directories). */
export async function cleanupAll() {
  await Promise.all([...children].map((child) => stopChild(child)));
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (error) {
      console.error(`cleanup: ${error.message}`);
    }
  }
}

let exiting = false;
function exitOnSignal(signal) {
  if (exiting) return;
  exiting = true;
  console.error(`\n${signal}: stopping the benchmark's processes`);
  cleanupAll().finally(() => process.exit(130));
}
process.once('SIGINT', () => exitOnSignal('SIGINT'));
process.once('SIGTERM', () => exitOnSignal('SIGTERM'));
// Last resort on an abrupt exit: no awaiting here, only signals.
process.once('exit', () => {
  for (const child of children) {
    for (const pid of child.descendants ?? []) killQuietly(pid, 'SIGKILL');
    killQuietly(child.pid, 'SIGKILL');
  }
});

function killQuietly(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether pinning is possible: taskset present and at least two CPUs. */
export function canPin() {
  if (cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins every thread of a process to a CPU list ("0", "1", "0,1"). */
export function pin(pid, cpuList) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a node child. `cpu` pins it (taskset) from its first instruction; `log` receives its
 * stdout and stderr. Resolves once the child sends its first IPC message (`{ ready, ... }`) when
 * `ipc` is set, otherwise at once.
 */
export async function startNode(script, { args = [], nodeArgs = [], env = {}, cpu, log, ipc = false, name }) {
  const nodeCommand = [process.execPath, ...nodeArgs, script, ...args];
  const [command, ...argv] = cpu === undefined ? nodeCommand : ['taskset', '-c', cpu, ...nodeCommand];
  const child = spawn(command, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
  });
  child.label = name ?? script;
  children.add(child);
  child.once('exit', () => children.delete(child));
  const out = log ? createWriteStream(log, { flags: 'a' }) : undefined;
  if (out) {
    child.stdout.pipe(out);
    child.stderr.pipe(out);
  } else {
    child.stdout.resume();
    child.stderr.resume();
  }
  if (!ipc) return { child, message: undefined };
  const message = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${child.label} exited with ${code} before it was ready`)));
  });
  return { child, message };
}

/** SIGTERM, then SIGKILL after `graceMs`; also kills descendants recorded on the child. */
export async function stopChild(child, graceMs = 15_000) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    killQuietly(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killQuietly(child.pid, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
  for (const pid of child.descendants ?? []) killQuietly(pid, 'SIGKILL');
  children.delete(child);
}

function stat(pid) {
  // Fields after the command (which may hold spaces and parentheses) start after the last ')'.
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Process CPU time (all threads, user + system) in milliseconds; 0 once the process is gone. */
export function cpuMs(pid) {
  try {
    const fields = stat(pid);
    // utime and stime are fields 14 and 15 of /proc/pid/stat, here at offsets 11 and 12.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** All descendants of a process (children, grandchildren, ...), read from /proc. */
export function descendants(rootPid) {
  const parents = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parents.set(Number(entry), Number(stat(entry)[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

export function commandOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** PostgreSQL processes started by the app (the embedded server and its backends). */
export function postgresPids(appPid) {
  return descendants(appPid).filter((pid) => /postgres/.test(commandOf(pid)));
}

/** CPU of the PostgreSQL processes under the app, including backends that have exited (cutime). */
export function postgresCpuMs(appPid) {
  let total = 0;
  for (const pid of postgresPids(appPid)) {
    try {
      const fields = stat(pid);
      total +=
        ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** VmRSS and VmHWM (peak) in bytes. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** Resets a process's peak RSS (VmHWM) so that a phase reads its own peak; false if not allowed. */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function openFileLimit() {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
    return { soft: match?.[1], hard: match?.[2] };
  } catch {
    return { soft: '?', hard: '?' };
  }
}

/** Tries to raise this process's open-file limit to its hard limit (prlimit); returns the result. */
export function raiseOpenFileLimit() {
  const { hard } = openFileLimit();
  if (hard && hard !== 'unlimited') {
    try {
      execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${hard}:${hard}`], { stdio: 'ignore' });
    } catch {
      // not allowed: keep the soft limit
    }
  }
  return openFileLimit();
}

const SOMAXCONN = '/proc/sys/net/core/somaxconn';

/** The kernel's cap on a listen backlog (net.core.somaxconn), or undefined where it cannot be read. */
export function listenBacklogCap() {
  try {
    return Number(readFileSync(SOMAXCONN, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * Raises net.core.somaxconn to at least `wanted` for this run where that is allowed (root in this
 * network namespace), as docs/operations.md tells an operator to for bursts of connections, and
 * puts the old value back when this process exits, however it exits (after the cleanups, which
 * end in process.exit). The app asks for a backlog of 65,535, which the kernel caps at this value
 * when the app listens. Returns the cap in force.
 */
export function raiseListenBacklogCap(wanted) {
  const before = listenBacklogCap();
  if (before === undefined || before >= wanted) return before;
  try {
    writeFileSync(SOMAXCONN, String(wanted));
    // Synchronous, as 'exit' handlers must be.
    process.once('exit', () => {
      try {
        writeFileSync(SOMAXCONN, String(before));
      } catch {
        // nothing more to do on the way out
      }
    });
  } catch {
    // not allowed: the host's cap stays
  }
  return listenBacklogCap();
}
