/**
 * bench/shift: `filterdb shift --by Task` (8 groups) on a synthetic database of N 3x3 filters written through
 * the store's write path (reused from bench/out/ when present), against two Python anchors on the same
 * filters exported as .npy: the paper's notebook pipeline (bench/shift_reference.py: float16 load, peak
 * scaling, sklearn PCA, numpy.histogram, scipy entropy) and the plain numpy port a competent user would write
 * (bench/shift_numpy.py: covariance + numpy.linalg.eigh + numpy.histogram). The three sides run in turn
 * (ours, notebook, numpy, ours, …) so a slow phase of the shared host hits them alike; prints every run, the
 * medians, filters/s, peak RSS and both ratios.
 *
 *   node dist/bench/shift.js                       # 10 M filters, with both Python anchors, 3 rounds
 *   node dist/bench/shift.js --filters 100000000   # 100 M (add --no-python to skip the anchors)
 *   node dist/bench/shift.js --db /path/x.duckdb --workers 2
 *   node dist/bench/shift.js --runs 5              # 5 rounds (default 3 up to 20 M, else 1)
 *
 * Needs Debian's python3-sklearn python3-scipy python3-h5py python3-numpy for /usr/bin/python3; installs them
 * with apt-get when missing and running as root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine } from './machine.js';
import { ensureSyntheticDb, exportNpy } from './shift-data.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const root = fileURLToPath(new URL('../../', import.meta.url));
const N = Math.round(Number(value('--filters', '1e7')));
const outDir = join(root, 'bench/out');
mkdirSync(outDir, { recursive: true });
const tag = N % 1e6 === 0 ? `${N / 1e6}M` : String(N);
const dbPath = value('--db', join(outDir, `shift-${tag}.duckdb`));
const PY = '/usr/bin/python3';
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Runs a command under /usr/bin/time -v: wall seconds and peak RSS (MB). */
function timed(cmd: string, argv: string[]): { seconds: number; rssMB: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed:\n${r.stderr}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr)!;
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  const rssMB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)![1]) / 1024;
  return { seconds, rssMB, stdout: r.stdout };
}

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

interface PyAnswer {
  seconds: number;
  steps: Record<string, number>;
  groups: string[];
  matrix: number[][];
}

type Run = ReturnType<typeof timed>;

/** The run with the median wall time (the lower middle one of an even count). */
function median(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Largest relative difference between the off-diagonal entries of two matrices. */
function maxRelDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a.length; j++) if (i !== j) m = Math.max(m, Math.abs(a[i][j] - b[i][j]) / b[i][j]);
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
  const sides: { name: string; run: () => Run }[] = [
    {
      name: 'filterdb',
      run: () => timed(process.execPath, [cli, 'shift', '--db', dbPath, '--by', 'Task', '--json', ...extra]),
    },
  ];
  if (!flag('--no-python') && ensurePython()) {
    const { files, groups } = await exportNpy(dbPath, join(outDir, `shift-${tag}`));
    if (!files.every(existsSync)) throw new Error('export failed');
    for (const [name, script] of [
      ['notebook', 'shift_reference.py'],
      ['numpy', 'shift_numpy.py'],
    ])
      sides.push({
        name,
        run: () => timed(PY, [join(root, 'bench', script), files[0], files[1], JSON.stringify(groups)]),
      });
  }
  const runs = new Map<string, Run[]>(sides.map((s) => [s.name, []]));
  for (let i = 0; i < rounds; i++) for (const s of sides) runs.get(s.name)!.push(s.run());
  for (const [name, rs] of runs) log(`${name} runs: ${rs.map((r) => r.seconds.toFixed(2)).join(', ')} s`);

  const ours = median(runs.get('filterdb')!);
  const shift = JSON.parse(ours.stdout) as { groups: string[]; matrix: number[][]; filterCount: number };
  const oursRate = shift.filterCount / ours.seconds;
  log(
    `filterdb shift --by Task: median ${ours.seconds.toFixed(2)} s, ${(oursRate / 1e6).toFixed(2)} M filters/s, peak RSS ${ours.rssMB.toFixed(0)} MB (${shift.groups.length} groups)`,
  );
  const summary: Record<string, unknown> = {
    machine: machineLine(),
    filters: N,
    rounds,
    filterdb: {
      seconds: ours.seconds,
      runs: runs.get('filterdb')!.map((r) => r.seconds),
      filtersPerSecond: oursRate,
      peakRssMB: ours.rssMB,
    },
    extrapolated1_4B: {
      seconds: (ours.seconds * 1.4e9) / N,
      note: 'linear in filters; RSS is independent of N (accumulators only)',
    },
  };
  for (const name of ['notebook', 'numpy']) {
    const rs = runs.get(name);
    if (!rs) continue;
    const py = median(rs);
    const ref = JSON.parse(py.stdout) as PyAnswer;
    const pyRate = N / py.seconds;
    const rel = maxRelDiff(shift.matrix, ref.matrix);
    log(
      `${name} anchor: median ${py.seconds.toFixed(2)} s (${Object.entries(ref.steps)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}), ${(pyRate / 1e6).toFixed(2)} M filters/s, peak RSS ${py.rssMB.toFixed(0)} MB`,
    );
    log(
      `  filterdb vs ${name}: ${(oursRate / pyRate).toFixed(2)}x the filters/s, ${(ours.rssMB / py.rssMB).toFixed(3)} of the memory; matrices agree to ${rel.toExponential(2)} relative`,
    );
    summary[name] = {
      seconds: py.seconds,
      runs: rs.map((r) => r.seconds),
      steps: ref.steps,
      filtersPerSecond: pyRate,
      peakRssMB: py.rssMB,
      ratios: { speed: oursRate / pyRate, memory: ours.rssMB / py.rssMB, matrixMaxRelDiff: rel },
    };
  }
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

await main();
