/**
 * bench/cold-start: what a fresh `filterdb shift` process spends before and around its scan, part by part,
 * on the fixture dataset.h5 (8,672 filters: the scan itself is ~1 ms). Each step adds one part to the one
 * before; runs alternate between the steps, and the median of each is printed.
 *
 *   node dist/bench/cold-start.js [--runs 7]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { repoRoot } from '../test/support/paths.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 7);
const tmp = mkdtempSync(join(tmpdir(), 'filterdb-cold-'));
const db = join(tmp, 'fx.duckdb');
const cli = join(repoRoot, 'dist/src/cli/main.js');

const steps: [string, string[]][] = [
  ['node starts and exits', ['-e', '0']],
  ['+ the CLI (commander, command table)', [cli, '--help']],
  ['+ @duckdb/node-api, open the database, one query', [cli, 'sql', '--db', db, 'SELECT 1']],
  [
    '+ plan, layer statistics, histogram scan (this thread)',
    [cli, 'shift', '--db', db, '--by', 'Task', '--workers', '0'],
  ],
  ['+ one scan worker (2 threads)', [cli, 'shift', '--db', db, '--by', 'Task', '--workers', '2']],
];

function time(argv: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, argv, {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return (performance.now() - t) / 1000;
}

try {
  const d = await openDb(db);
  await importDatasetH5(d, join(repoRoot, 'test/data/dataset.h5'), { skipMetrics: true });
  d.close();
  const times = steps.map(() => [] as number[]);
  for (let i = 0; i < runs; i++)
    steps.forEach(([, argv], s) => {
      times[s].push(time(argv));
    });
  const med = times.map((t) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)]);
  console.log(`# bench/cold-start: median of ${runs} alternated runs, seconds`);
  steps.forEach(([name], s) => {
    console.log(`${name.padEnd(58)} ${med[s].toFixed(3)}  (+${(med[s] - (s ? med[s - 1] : 0)).toFixed(3)})`);
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
