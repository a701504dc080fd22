/**
 * bench/shift: `filterdb shift --by Task` (8 groups), and `--by Task --by Training --by depth` (the notebook's
 * three drift matrices from one read), on a synthetic database of N 3x3 filters written through the store's
 * write path (reused from bench/out/ when present), against two Python anchors on the same filters exported as
 * .npy, each computing every grouping's matrix from one loaded array: the paper's notebook pipeline
 * (bench/shift_reference.py: float16 load, peak scaling, sklearn PCA, numpy.histogram, scipy entropy) and the
 * plain numpy port a competent user would write (bench/shift_numpy.py: covariance + numpy.linalg.eigh +
 * numpy.histogram). In each round every side runs every case in turn (ours, notebook, numpy; one grouping, then
 * three), so a slow phase of the shared host hits them alike; prints every run, the medians, filters/s, peak
 * RSS and both ratios for each case.
 *
 *   node dist/bench/shift.js                       # 10 M filters, with both Python anchors, 3 rounds
 *   node dist/bench/shift.js --filters 100000000   # 100 M (add --no-python to skip the anchors)
 *   node dist/bench/shift.js --db /path/x.duckdb --workers 2
 *   node dist/bench/shift.js --runs 5              # 5 rounds (default 3 up to 20 M, else 1)
 *   node dist/bench/shift.js --py-runs 2           # the Python sides in the first 2 rounds only (default: all)
 *   node dist/bench/shift.js --one                 # only the one-grouping case
 *
 * Needs Debian's python3-sklearn python3-scipy python3-h5py python3-numpy for /usr/bin/python3; installs them
 * with apt-get when missing and running as root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { flag, log, root, syntheticDbArgs, timed, value } from './bench-args.js';
import { machineLine } from './machine.js';
import { ensureSyntheticDb, exportNpy } from './shift-data.js';

const { N, outDir, tag, dbPath } = syntheticDbArgs('1e7');
const PY = '/usr/bin/python3';

function ensurePython(): boolean {
  const ok = () =>
    spawnSync(PY, ['-c', 'import numpy, scipy, sklearn, h5py'], { encoding: 'utf8' }).status === 0;
  if (ok()) return true;
  if (process.getuid?.() !== 0) {
    log('python3-sklearn etc. are missing and this is not root: skipping the Python reference');
    return false;
  }
  log('installing python3-sklearn python3-scipy python3-h5py python3-numpy (apt-get)…');
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  spawnSync(
    'apt-get',
    ['install', '-y', 'python3-sklearn', 'python3-scipy', 'python3-h5py', 'python3-numpy'],
    { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
  );
  return ok();
}

interface Grouping {
  by: string;
  groups: string[];
  matrix: number[][];
}

interface PyAnswer {
  seconds: number;
  steps: Record<string, number>;
  results: Grouping[];
}

type Run = ReturnType<typeof timed>;

/** The run with the median wall time (the lower middle one of an even count). */
function median(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Largest relative difference between the off-diagonal entries of two answers' matrices, grouping by grouping,
 * entries matched by group name (shift orders depth deciles by depth, the anchors by code point).
 */
function maxRelDiff(ours: Grouping[], ref: Grouping[]): number {
  let m = 0;
  ref.forEach((r, k) => {
    const o = ours[k];
    const at = r.groups.map((g) => o.groups.indexOf(g));
    if (at.includes(-1)) throw new Error(`${r.by}: groups differ (${o.groups} vs ${r.groups})`);
    for (let i = 0; i < r.groups.length; i++)
      for (let j = 0; j < r.groups.length; j++)
        if (i !== j && r.matrix[i][j] > 0)
          m = Math.max(m, Math.abs(o.matrix[at[i]][at[j]] - r.matrix[i][j]) / r.matrix[i][j]);
  });
  return m;
}

async function main() {
  log(machineLine());
  log(`database: ${dbPath} (${N.toLocaleString('en-US')} filters)`);
  const built = await ensureSyntheticDb(dbPath, N, log);
  if (built.built) log(`built in ${built.seconds.toFixed(1)} s`);
  const cli = join(root, 'dist/src/cli/main.js');
  const extra = flag('--workers') ? ['--workers', value('--workers', '2')] : [];
  // medians of several rounds (one at 100 M): single runs vary by ±15 % on this VM
  const rounds = Number(value('--runs', N <= 20_000_000 ? '3' : '1'));
  const pyRounds = Math.min(rounds, Number(value('--py-runs', String(rounds))));
  // one grouping (the contract's case) and the notebook's three drift matrices from one read
  const cases = flag('--one') ? [['Task']] : [['Task'], ['Task', 'Training', 'depth']];
  const sides: { name: string; rounds: number; run: (bys: string[]) => Run }[] = [
    {
      name: 'filterdb',
      rounds,
      run: (bys) =>
        timed(process.execPath, [
          cli,
          'shift',
          '--db',
          dbPath,
          ...bys.flatMap((b) => ['--by', b]),
          '--json',
          ...extra,
        ]),
    },
  ];
  if (!flag('--no-python') && ensurePython()) {
    const npy = await exportNpy(dbPath, join(outDir, `shift-${tag}`));
    if (![npy.filters, ...npy.groupings.map((g) => g.file)].every(existsSync))
      throw new Error('export failed');
    const specs = (bys: string[]) =>
      bys.map((b) => {
        const g = npy.groupings.find((x) => x.by === b)!;
        return `${b}=${g.file}=${JSON.stringify(g.labels)}`;
      });
    for (const [name, script] of [
      ['notebook', 'shift_reference.py'],
      ['numpy', 'shift_numpy.py'],
    ])
      sides.push({
        name,
        rounds: pyRounds,
        run: (bys) => timed(PY, [join(root, 'bench', script), npy.filters, ...specs(bys)]),
      });
  }
  const caseName = (bys: string[]) => bys.map((b) => `--by ${b}`).join(' ');
  const runs = new Map<string, Run[]>();
  for (const bys of cases) for (const s of sides) runs.set(`${caseName(bys)}|${s.name}`, []);
  for (let i = 0; i < rounds; i++)
    for (const bys of cases)
      for (const s of sides) if (i < s.rounds) runs.get(`${caseName(bys)}|${s.name}`)!.push(s.run(bys));

  const summary: Record<string, unknown> = {
    filters: N,
    machine: machineLine(),
    rounds,
    pyRounds,
    cases: [],
  };
  for (const bys of cases) {
    const name = caseName(bys);
    const mine = runs.get(`${name}|filterdb`)!;
    const ours = median(mine);
    const parsed = JSON.parse(ours.stdout) as
      | (Grouping & { filterCount: number })
      | (Grouping & { filterCount: number })[];
    const shifts = Array.isArray(parsed) ? parsed : [parsed];
    const oursRate = shifts[0].filterCount / ours.seconds;
    log(
      `filterdb shift ${name}: median ${ours.seconds.toFixed(2)} s (runs ${mine.map((r) => r.seconds.toFixed(2)).join(', ')}), ${(oursRate / 1e6).toFixed(2)} M filters/s, peak RSS ${ours.rssMB.toFixed(0)} MB (${shifts.map((x) => x.groups.length).join(' + ')} groups)`,
    );
    const entry: Record<string, unknown> = {
      by: bys,
      filterdb: {
        seconds: ours.seconds,
        runs: mine.map((r) => r.seconds),
        filtersPerSecond: oursRate,
        peakRssMB: ours.rssMB,
      },
      extrapolated1_4B: {
        seconds: (ours.seconds * 1.4e9) / N,
        note: 'linear in filters; RSS is independent of N (accumulators only)',
      },
    };
    for (const side of ['notebook', 'numpy']) {
      const rs = runs.get(`${name}|${side}`);
      if (!rs || rs.length === 0) continue;
      const py = median(rs);
      const ref = JSON.parse(py.stdout) as PyAnswer;
      const pyRate = N / py.seconds;
      const rel = maxRelDiff(shifts, ref.results);
      log(
        `${side} anchor ${name}: median ${py.seconds.toFixed(2)} s (runs ${rs.map((r) => r.seconds.toFixed(2)).join(', ')}; ${Object.entries(
          ref.steps,
        )
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join(', ')}), ${(pyRate / 1e6).toFixed(2)} M filters/s, peak RSS ${py.rssMB.toFixed(0)} MB`,
      );
      log(
        `  filterdb vs ${side} (${name}): ${(oursRate / pyRate).toFixed(2)}x the filters/s (target >= 10), ${(ours.rssMB / py.rssMB).toFixed(3)} of the memory (target <= 0.2); matrices agree to ${rel.toExponential(2)} relative`,
      );
      entry[side] = {
        seconds: py.seconds,
        runs: rs.map((r) => r.seconds),
        steps: ref.steps,
        filtersPerSecond: pyRate,
        peakRssMB: py.rssMB,
        ratios: { speed: oursRate / pyRate, memory: ours.rssMB / py.rssMB, matrixMaxRelDiff: rel },
      };
    }
    (summary.cases as unknown[]).push(entry);
  }
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

await main();
