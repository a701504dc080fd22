/**
 * `shift`/`pca --kernel KxK` at scale: time and peak RSS of the generic k×k passes (scan/kxk-passes.ts) on
 * synthetic filters, at two database sizes, so that memory can be seen not to grow with the filters.
 *
 *   node dist/bench/kxk.js [--kernel 5x5] [--filters 1000000] [--workers 2]
 *
 * Writes four safetensors models of filters/4 random k×k filters each (layers of 256 × 256 inputs: the
 * values are i.i.d. normal — what is timed is reading and arithmetic, not what the numbers mean) and a
 * quarter-size set beside them into bench/out/kxk-<k>-<N>/, ingests each once with `--kernel all`
 * (reused on later runs), then runs `shift --kernel KxK --by model --json` and `pca --kernel KxK --json`
 * as whole processes under /usr/bin/time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../src/metrics/random.js';
import { parseKernelSize } from '../src/scan/kernel-size.js';
import { writeSafetensors } from '../test/support/safetensors-writer.js';
import { log, root, timed, value } from './bench-args.js';

const kernel = parseKernelSize(value('--kernel', '5x5'));
const N = Math.round(Number(value('--filters', '1000000')));
const workers = value('--workers', '');
const CLI = join(root, 'dist/src/cli/main.js');
const label = `${kernel.kh}x${kernel.kw}`;

/** Standard normal draws (Box–Muller on a seeded generator). */
function normals(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** A database of `filters` k×k filters in four models (built once). */
function database(filters: number): string {
  const dir = join(root, 'bench/out', `kxk-${label}-${filters}`);
  const db = join(dir, 'kxk.duckdb');
  if (existsSync(db)) return db;
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const d = kernel.kh * kernel.kw;
  for (let m = 0; m < 4; m++) {
    const perModel = Math.floor(filters / 4);
    const layers = [];
    for (let at = 0, l = 0; at < perModel; l++) {
      const out = Math.max(1, Math.min(256, Math.floor((perModel - at) / 256)));
      const inp = Math.min(256, perModel - at);
      layers.push({
        name: `conv${l}.weight`,
        shape: [out, inp, kernel.kh, kernel.kw],
        data: normals(out * inp * d, 1000 * m + l + 1),
      });
      at += out * inp;
    }
    const file = join(dir, `model${m}.safetensors`);
    writeSafetensors(file, layers);
    files.push(file);
  }
  log(`ingesting ${filters.toLocaleString('en-US')} ${label} filters into ${db}`);
  const r = spawnSync(
    process.execPath,
    [CLI, 'ingest', ...files, '--db', db, '--kernel', 'all', '--no-spectral'],
    {
      encoding: 'utf8',
      env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
    },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return db;
}

const extra = workers ? ['--workers', workers] : [];
for (const n of [Math.round(N / 4), N]) {
  const db = database(n);
  const shift = timed(process.execPath, [
    CLI,
    'shift',
    '--db',
    db,
    '--kernel',
    label,
    '--by',
    'model',
    '--json',
    ...extra,
  ]);
  const filterCount = JSON.parse(shift.stdout).filterCount as number;
  const pca = timed(process.execPath, [CLI, 'pca', '--db', db, '--kernel', label, '--json']);
  process.stdout.write(
    `${label}: ${filterCount.toLocaleString('en-US')} filters — shift --by model ${shift.seconds.toFixed(2)} s (CPU ${shift.cpuSeconds.toFixed(2)} s), peak RSS ${shift.rssMB.toFixed(0)} MB; pca ${pca.seconds.toFixed(2)} s (CPU ${pca.cpuSeconds.toFixed(2)} s), ${pca.rssMB.toFixed(0)} MB\n`,
  );
}
