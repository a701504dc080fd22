/**
 * bench/cohorts: `filterdb cohorts --by Task --json` as a whole process on a synthetic database of N 3x3 filters
 * (bench/shift-data.ts: models of 1.25 M filters in layers of up to 512 × 512, reused from bench/out/), beside
 * `filterdb shift --by Task` on the same database (both `--where "shape[2] > 1"`, see below). Prints seconds,
 * filters/s and peak RSS of both.
 *
 *   node dist/bench/cohorts.js                      # 2 M filters
 *   node dist/bench/cohorts.js --filters 10000000
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDb } from './shift-data.js';

const args = process.argv.slice(2);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const root = fileURLToPath(new URL('../../', import.meta.url));
const N = Math.round(Number(value('--filters', '2e6')));
const outDir = join(root, 'bench/out');
mkdirSync(outDir, { recursive: true });
const tag = N % 1e6 === 0 ? `${N / 1e6}M` : String(N);
const dbPath = value('--db', join(outDir, `shift-${tag}.duckdb`));
const cli = join(root, 'dist/src/cli/main.js');
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Runs the CLI under /usr/bin/time -v: wall seconds and peak RSS (MB). */
function timed(argv: string[]): { seconds: number; rssMB: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, cli, ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  if (r.status !== 0) throw new Error(`filterdb ${argv.join(' ')} failed:\n${r.stderr}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr)!;
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  const rssMB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)![1]) / 1024;
  return { seconds, rssMB, stdout: r.stdout };
}

const built = await ensureSyntheticDb(dbPath, N, log);
if (built.built) log(`built ${dbPath} in ${built.seconds.toFixed(1)} s`);
// the synthetic models end in a [filters, 1, 3, 3] remainder layer (~100 k output channels, which no real 3x3
// conv has: its orthogonality alone is ~10^11 multiply-adds); both commands leave those layers out
const where = 'shape[2] > 1'; // DuckDB lists count from 1: shape[2] is the input channels
const cohorts = timed(['cohorts', '--db', dbPath, '--by', 'Task', '--where', where, '--json']);
const answer = JSON.parse(cohorts.stdout);
const shift = timed(['shift', '--db', dbPath, '--by', 'Task', '--where', where, '--json']);
const selected = JSON.parse(shift.stdout).filterCount as number;
const line = (name: string, t: { seconds: number; rssMB: number }) =>
  `${name}: ${t.seconds.toFixed(2)} s, ${(selected / t.seconds / 1e6).toFixed(2)} M filters/s, peak RSS ${t.rssMB.toFixed(0)} MB`;
console.log(
  `${selected.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} filters selected (--where "${where}"), ${answer.models.length} models, ${answer.groups.length} cohorts`,
);
console.log(line('filterdb cohorts --by Task', cohorts));
console.log(line('filterdb shift --by Task  ', shift));
