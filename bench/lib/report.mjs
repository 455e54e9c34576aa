// Tables and the report: Markdown printed as the run goes, and gathered into a report file.

export function fmt(value, digits = 1) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return String(value);
  return value.toFixed(digits);
}

export function mb(bytes) {
  return bytes ? `${(bytes / 2 ** 20).toFixed(0)} MB` : '–';
}

/** The cells of an autocannon run that the tables share: ok, failed, req/s, latency p50, p95, p99 (ms). */
export function loadCells(r) {
  return [
    r.ok,
    r.non2xx + r.errors,
    fmt(r.rps, 0),
    fmt(r.latency.p50, 2),
    fmt(r.latency.p95, 2),
    fmt(r.latency.p99, 2),
  ];
}

/** What a path adds over the baseline: `over[p] − base[p]` (ms) for each percentile `p` named. */
export function addedCells(over, base, percentiles) {
  return percentiles.map((p) => fmt(over[p] - base[p], 2));
}

export function markdownTable({ caption, columns, rows }) {
  const escape = (cell) => String(cell ?? '').replaceAll('|', '\\|');
  const lines = [];
  if (caption) lines.push(caption, '');
  lines.push(`| ${columns.map(escape).join(' | ')} |`);
  lines.push(`|${columns.map(() => '---').join('|')}|`);
  for (const row of rows) lines.push(`| ${row.map(escape).join(' | ')} |`);
  return lines.join('\n');
}

export function targetsTable(targets) {
  return markdownTable({
    columns: ['figure', 'target', 'measured', 'verdict'],
    rows: targets.map((t) => [t.what, t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'met' : '**missed**']),
  });
}
