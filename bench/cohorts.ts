/**
 * bench/cohorts: `filterdb cohorts --by Task --json` as a whole process on a synthetic database of N 3x3 filters
 * (bench/shift-data.ts: models of 1.25 M filters in layers of up to 512 × 512, reused from bench/out/), beside
 * `filterdb shift --by Task` on the same database (both `--where "shape[2] > 1"`, see below). Prints seconds,
 * filters/s and peak RSS of both.
 *
 *   node dist/bench/cohorts.js                      # 2 M filters
 *   node dist/bench/cohorts.js --filters 10000000
 */
import { join } from 'node:path';
import { log, root, syntheticDbArgs, timed } from './bench-args.js';
import { ensureSyntheticDb } from './shift-data.js';

const { N, dbPath } = syntheticDbArgs('2e6');
const cli = join(root, 'dist/src/cli/main.js');
const timedCli = (argv: string[]) => timed(process.execPath, [cli, ...argv]);

const built = await ensureSyntheticDb(dbPath, N, log);
if (built.built) log(`built ${dbPath} in ${built.seconds.toFixed(1)} s`);
// the synthetic models end in a [filters, 1, 3, 3] remainder layer (~100 k output channels, which no real 3x3
// conv has: its orthogonality alone is ~10^11 multiply-adds); both commands leave those layers out
const where = 'shape[2] > 1'; // DuckDB lists count from 1: shape[2] is the input channels
const cohorts = timedCli(['cohorts', '--db', dbPath, '--by', 'Task', '--where', where, '--json']);
const answer = JSON.parse(cohorts.stdout);
const shift = timedCli(['shift', '--db', dbPath, '--by', 'Task', '--where', where, '--json']);
const selected = JSON.parse(shift.stdout).filterCount as number;
const line = (name: string, t: { seconds: number; rssMB: number }) =>
  `${name}: ${t.seconds.toFixed(2)} s, ${(selected / t.seconds / 1e6).toFixed(2)} M filters/s, peak RSS ${t.rssMB.toFixed(0)} MB`;
console.log(
  `${selected.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} filters selected (--where "${where}"), ${answer.models.length} models, ${answer.groups.length} cohorts`,
);
console.log(line('filterdb cohorts --by Task', cohorts));
console.log(line('filterdb shift --by Task  ', shift));
