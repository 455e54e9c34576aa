// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time by function and by package.
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [--top 25]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where a frame's code comes from: an npm package, a part of the app, Node itself or V8. */
export function packageOf(url, functionName) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const parts = path.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.startsWith('node:')) return 'node (core)';
  const dist = path.indexOf('/backend/dist/');
  if (dist !== -1) {
    const rest = path.slice(dist + '/backend/dist/'.length).split('/');
    return `parley: ${rest.length > 1 ? rest[0] : rest[0].replace(/\.js$/, '')}`;
  }
  return path;
}

/**
 * `window` keeps only the samples taken between `fromEndMs` and `toEndMs` before the profile's end
 * (the load phase, leaving out start-up and shutdown).
 */
/** A function's name fit for a Markdown table cell: V8 names a regular expression by its whole source. */
function shortName(name) {
  const short = name.length > 60 ? `${name.slice(0, 59)}…` : name;
  return short.replace(/\|/g, '\\|');
}

export function summarizeProfile(profile, top = 25, window = undefined) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  let at = profile.startTime;
  const from = window ? profile.endTime - window.fromEndMs * 1000 : -Infinity;
  const to = window ? profile.endTime - window.toEndMs * 1000 : Infinity;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
    const delta = (profile.timeDeltas[i] ?? 0) / 1000;
    total += delta;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + delta);
  }
  const byFunction = new Map();
  const byPackage = new Map();
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const isOwnCode = (url) => url.includes('/backend/dist/');
  const isLibrary = (url) => url.includes('/node_modules/') || isOwnCode(url);
  // Inclusive time of the app's own functions (each counted once per sample), and, for the
  // functions with the most self time, the nearest caller outside Node's core (who asked for it).
  const inclusive = new Map();
  const callers = new Map();
  for (const [id, ms] of self) {
    const seen = new Set();
    let caller;
    for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
      const frame = nodes.get(at).callFrame;
      if (caller === undefined && isLibrary(frame.url)) caller = frame;
      if (isOwnCode(frame.url)) {
        const key = `${frame.functionName || '(anonymous)'}\t${frame.url.replace(/^.*\/backend\/dist\//, '')}:${frame.lineNumber + 1}`;
        if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
        seen.add(key);
      }
    }
    const own = nodes.get(id).callFrame;
    if (isOwnCode(own.url)) {
      const key = `${own.functionName || '(anonymous)'}\t${own.url.replace(/^.*\/backend\/dist\//, '')}:${own.lineNumber + 1}`;
      if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
    const name = `${own.functionName}\t${own.url}:${own.lineNumber}`;
    const by = caller
      ? `${caller.functionName || '(anonymous)'} (${packageOf(caller.url, '')})`
      : '(no library caller)';
    const entry = callers.get(name) ?? new Map();
    entry.set(by, (entry.get(by) ?? 0) + ms);
    callers.set(name, entry);
  }
  for (const [id, ms] of self) {
    const { callFrame } = nodes.get(id);
    const fn = callFrame.functionName || '(anonymous)';
    const pkg = packageOf(callFrame.url, fn);
    const file = callFrame.url ? callFrame.url.replace(/^file:\/\/.*?\/(node_modules|backend\/dist)\//, '$1/') : '';
    const key = `${fn}\t${file}:${callFrame.lineNumber + 1}\t${pkg}\t${callFrame.functionName}\t${callFrame.url}:${callFrame.lineNumber}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
  }
  const idle = byPackage.get('(idle)') ?? 0;
  const busy = total - idle;
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total,
    idleMs: idle,
    busyMs: busy,
    functions: sorted(byFunction)
      .filter(([key]) => !key.startsWith('(idle)'))
      .slice(0, top)
      .map(([key, ms]) => {
        const [name, where, pkg, rawName, rawWhere] = key.split('\t');
        const fn = shortName(name);
        const from = [...(callers.get(`${rawName}\t${rawWhere}`) ?? [])].sort((a, b) => b[1] - a[1]);
        const mainCaller = from.length ? `${from[0][0]} ${((100 * from[0][1]) / ms).toFixed(0)}%` : '';
        return { fn, where, pkg, ms, share: ms / busy, caller: mainCaller };
      }),
    own: sorted(inclusive)
      .slice(0, top)
      .map(([key, ms]) => {
        const [fn, where] = key.split('\t');
        return { fn, where, ms, share: ms / busy };
      }),
    packages: sorted(byPackage)
      .filter(([pkg]) => pkg !== '(idle)')
      .slice(0, top)
      .map(([pkg, ms]) => ({ pkg, ms, share: ms / busy })),
  };
}

export function profileTables(summary) {
  const pct = (share) => `${(share * 100).toFixed(1)}%`;
  return [
    {
      caption: `Self time by package (share of the ${(summary.busyMs / 1000).toFixed(1)} s the main thread was busy; idle left out).`,
      columns: ['package / part', 'self ms', 'share'],
      rows: summary.packages.map((p) => [p.pkg, p.ms.toFixed(0), pct(p.share)]),
    },
    {
      caption: 'Top functions by self time, with the nearest caller outside Node core (share of that function’s time).',
      columns: ['function', 'where', 'package', 'self ms', 'share', 'mostly called from'],
      rows: summary.functions.map((f) => [f.fn, f.where, f.pkg, f.ms.toFixed(0), pct(f.share), f.caller]),
    },
    {
      caption: 'Parley’s own functions by inclusive time (everything they call, each counted once per sample).',
      columns: ['function', 'where', 'inclusive ms', 'share'],
      rows: summary.own.map((f) => [f.fn, f.where, f.ms.toFixed(0), pct(f.share)]),
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [--top 25]');
    process.exit(2);
  }
  const topIndex = process.argv.indexOf('--top');
  const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
  const { markdownTable } = await import('./lib/report.mjs');
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), top);
  for (const table of profileTables(summary)) console.log(`${markdownTable(table)}\n`);
}
