// Summarises StrykerJS's JSON reports per module (the folders and files holding Parley's
// invariants): `node scripts/mutation-summary.mjs` after `npm run mutation`. Prints Markdown;
// `--files` adds a row per file, `--survivors` lists the surviving mutants.
//
// A run over one file (`npx stryker run --mutate src/x.ts`) writes a report of that file alone;
// copied into `<workspace>/reports/mutation/files/`, it replaces that file's part of the full
// report, so files re-run one at a time add up to one table.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

// The full report of a finished run, or else the incremental file an interrupted run leaves
// (the mutants it tested; the rest are counted as not yet tested).
const reports = [
  ['backend', 'backend/reports/mutation/mutation.json', 'backend/reports/mutation/stryker-incremental.json'],
  ['frontend', 'frontend/reports/mutation/mutation.json', 'frontend/reports/mutation/stryker-incremental.json'],
];

// A file's module: its feature folder, with the turn pipeline split into its parts.
function moduleOf(workspace, file) {
  if (workspace === 'frontend') return `frontend ${file.split('/').slice(0, 2).join('/')}`;
  if (file.startsWith('src/generation/stages/')) return 'turn pipeline stages';
  if (file === 'src/generation/turn.store.ts') return 'turn store';
  if (file === 'src/generation/turn-pipeline.ts') return 'turn pipeline';
  if (file === 'src/http/json-body.middleware.ts') return 'body reader (http)';
  return file.split('/')[1];
}

const rows = new Map();
const fileRows = new Map();
const survivors = [];
for (const [workspace, full, partial] of reports) {
  const path = existsSync(full) ? full : existsSync(partial) ? partial : undefined;
  const files = new Map();
  if (path) {
    if (path === partial) console.log(`${workspace}: partial (interrupted run), from ${partial}\n`);
    for (const [file, entry] of Object.entries(JSON.parse(readFileSync(path, 'utf8')).files)) files.set(file, entry);
  }
  const perFile = `${workspace}/reports/mutation/files`;
  if (existsSync(perFile)) {
    for (const name of readdirSync(perFile)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      const report = JSON.parse(readFileSync(`${perFile}/${name}`, 'utf8'));
      for (const [file, entry] of Object.entries(report.files)) files.set(file, entry);
    }
  }
  for (const [file, { mutants, source }] of files) {
    const name = moduleOf(workspace, file);
    const row = rows.get(name) ?? { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 };
    const fileRow = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 };
    for (const mutant of mutants) {
      const key =
        mutant.status === 'Killed'
          ? 'killed'
          : mutant.status === 'Timeout'
            ? 'timeout'
            : mutant.status === 'Survived'
              ? 'survived'
              : mutant.status === 'NoCoverage'
                ? 'noCoverage'
                : 'other';
      row[key]++;
      fileRow[key]++;
      if (mutant.status === 'Survived') {
        const line = source.split('\n')[mutant.location.start.line - 1]?.trim() ?? '';
        survivors.push({
          file: `${workspace}/${file}`,
          line: mutant.location.start.line,
          mutator: mutant.mutatorName,
          replacement: mutant.replacement,
          code: line,
        });
      }
    }
    rows.set(name, row);
    fileRows.set(`${workspace}/${file}`, fileRow);
  }
}

const pct = (n, d) => (d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(1)} %`);
console.log('| module | killed | timeout | survived | no coverage | score | covered score |');
console.log('|---|---|---|---|---|---|---|');
const total = { killed: 0, timeout: 0, survived: 0, noCoverage: 0 };
for (const [name, r] of [...rows].sort()) {
  const detected = r.killed + r.timeout;
  for (const k of Object.keys(total)) total[k] += r[k];
  console.log(
    `| ${name} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${pct(detected, detected + r.survived + r.noCoverage)} | ${pct(detected, detected + r.survived)} |`,
  );
}
const detected = total.killed + total.timeout;
console.log(
  `| **all** | ${total.killed} | ${total.timeout} | ${total.survived} | ${total.noCoverage} | ${pct(detected, detected + total.survived + total.noCoverage)} | ${pct(detected, detected + total.survived)} |`,
);
if (process.argv.includes('--files')) {
  console.log('\n| file | killed | timeout | survived | no coverage | score | covered score |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, r] of [...fileRows].sort()) {
    const found = r.killed + r.timeout;
    console.log(
      `| ${name} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${pct(found, found + r.survived + r.noCoverage)} | ${pct(found, found + r.survived)} |`,
    );
  }
}
if (process.argv.includes('--survivors')) {
  console.log('\nSurviving mutants:\n');
  for (const s of survivors)
    console.log(
      `- ${s.file}:${s.line} ${s.mutator} → \`${String(s.replacement).replace(/\s+/g, ' ').slice(0, 80)}\` in \`${s.code.slice(0, 100)}\``,
    );
}
