/**
 * The mutation score of src/metrics and src/analysis, from the per-file Stryker JSON reports in
 * bench/mutation/reports/ (one `MUTATE=src/<folder>/<file>.ts npm run mutate` each; see bench/mutation/README.md).
 *
 * Prints, per folder: killed (incl. timed out), survived, not covered, the score = detected / (detected +
 * survived + not covered) as Stryker defines it, the files measured and the files not measured. Then every
 * survivor and not-covered mutant with its place, checked against bench/mutation/SURVIVORS.md: each must have a
 * line there starting with `- <file>:<line>:<column> <mutator>` that says why it is equivalent. Exit status 1 if one
 * has no explanation, so the list cannot silently go stale.
 *
 *   node dist/bench/mutation-score.js            # table + unexplained survivors
 *   node dist/bench/mutation-score.js --all      # also list the explained ones
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const reportsDir = join(root, 'bench/mutation/reports');
const survivorsFile = join(root, 'bench/mutation/SURVIVORS.md');
const folders = ['src/metrics', 'src/analysis'];
const listAll = process.argv.includes('--all');

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
  /** The test files the run used (dist/test/<name>.test.js). */
  testFiles?: Record<string, unknown>;
}
interface Tally {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  errors: number;
}

/** Files Stryker may mutate in a folder: the .ts sources minus the generated base64 WebAssembly modules. */
function mutableFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...mutableFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('-wasm.ts')) out.push(p);
  }
  return out.sort();
}

// Per source file its mutants: from the whole-file report (`<name>.json`), then the re-runs of line ranges
// (`<name>@<range>.json`, sorted after it) replace the status of the mutants they re-tested.
const byFile = new Map<string, Mutant[]>();
const testsOf = new Map<string, string>();
/** Whole-file reports without files: Stryker found no mutant in the file (types, re-exports); name → test files. */
const mutantFree = new Map<string, string>();
const reportNames = existsSync(reportsDir) ? readdirSync(reportsDir).filter((n) => n.endsWith('.json')) : [];
// code-point order: `x.json` before `x@….json`
for (const name of reportNames.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
  const report = JSON.parse(readFileSync(join(reportsDir, name), 'utf8')) as Report;
  const tests = Object.keys(report.testFiles ?? {})
    .map((t) => t.replace(/^.*\//, '').replace(/\.test\.js$/, ''))
    .join(',');
  if (Object.keys(report.files).length === 0 && !name.includes('@')) mutantFree.set(name.slice(0, -5), tests);
  for (const [path, file] of Object.entries(report.files)) {
    const rel = relative(root, join(root, path)).replaceAll('\\', '/');
    const previous = byFile.get(rel);
    if (name.includes('@') && previous) {
      const key = (m: Mutant) =>
        `${m.location.start.line}:${m.location.start.column} ${m.mutatorName} ${m.replacement}`;
      const rerun = new Map(file.mutants.map((m) => [key(m), m]));
      byFile.set(
        rel,
        previous.map((m) => rerun.get(key(m)) ?? m),
      );
      testsOf.set(rel, `${testsOf.get(rel)}; re-run ${name.slice(name.indexOf('@') + 1, -5)}: ${tests}`);
      continue;
    }
    byFile.set(rel, file.mutants);
    testsOf.set(rel, tests);
  }
}

const explained = new Map<string, string>();
if (existsSync(survivorsFile)) {
  for (const line of readFileSync(survivorsFile, 'utf8').split('\n')) {
    const m = /^- (\S+:\d+:\d+ \w+)\s+(.*)$/.exec(line);
    if (m) explained.set(m[1], m[2]);
  }
}

const tally = (mutants: Mutant[]): Tally => {
  const t: Tally = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
  for (const m of mutants) {
    if (m.status === 'Killed') t.killed++;
    else if (m.status === 'Timeout') t.timeout++;
    else if (m.status === 'Survived') t.survived++;
    else if (m.status === 'NoCoverage') t.noCoverage++;
    else if (m.status === 'CompileError' || m.status === 'RuntimeError') t.errors++;
  }
  return t;
};
const score = (t: Tally): string => {
  const valid = t.killed + t.timeout + t.survived + t.noCoverage;
  return valid === 0 ? '—' : `${((100 * (t.killed + t.timeout)) / valid).toFixed(1)} %`;
};
const row = (name: string, t: Tally): string =>
  `${name.padEnd(34)} ${String(t.killed).padStart(6)} ${String(t.timeout).padStart(7)} ${String(t.survived).padStart(8)} ${String(t.noCoverage).padStart(7)} ${score(t).padStart(8)}`;

const header = `${'file'.padEnd(34)} ${'killed'.padStart(6)} ${'timeout'.padStart(7)} ${'survived'.padStart(8)} ${'no cov'.padStart(7)} ${'score'.padStart(8)}  test files`;
const unexplained: string[] = [];
const explainedLines: string[] = [];
for (const folder of folders) {
  const files = mutableFiles(folder);
  // a file whose own report (stryker.config.mjs names it: src/metrics/wasm/gram.ts → metrics-wasm-gram) has no
  // mutants is measured, with nothing to kill
  for (const f of files) {
    const tests = mutantFree.get(
      f
        .replace(/^src\//, '')
        .replace(/\.ts$/, '')
        .replace(/[^\w]+/g, '-'),
    );
    if (!byFile.has(f) && tests !== undefined) {
      byFile.set(f, []);
      testsOf.set(f, `${tests} (no mutants)`);
    }
  }
  const measured = files.filter((f) => byFile.has(f));
  const missing = files.filter((f) => !byFile.has(f));
  const total: Tally = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
  console.log(`\n${folder}\n${header}`);
  for (const f of measured) {
    const mutants = byFile.get(f) ?? [];
    const t = tally(mutants);
    for (const k of Object.keys(total) as (keyof Tally)[]) total[k] += t[k];
    console.log(`${row(f.slice(folder.length + 1), t)}  ${testsOf.get(f)}`);
    for (const m of mutants) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      const key = `${f}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}`;
      const what = `${key} (${m.status}) → ${JSON.stringify(m.replacement ?? '').slice(0, 60)}`;
      const why = explained.get(key);
      if (why === undefined) unexplained.push(what);
      else explainedLines.push(`${what}\n    ${why}`);
    }
  }
  console.log(row(`${folder} (measured files)`, total));
  console.log(
    `measured: ${measured.length} of ${files.length} files; not measured: ${missing.join(', ') || 'none'}`,
  );
}

if (listAll && explainedLines.length > 0)
  console.log(`\nexplained survivors (SURVIVORS.md):\n${explainedLines.join('\n')}`);
console.log(
  `\n${explainedLines.length} survivors explained in bench/mutation/SURVIVORS.md; ${unexplained.length} not explained`,
);
if (unexplained.length > 0) {
  console.log(unexplained.join('\n'));
  process.exitCode = 1;
}
