/**
 * bench/quality: times `filterdb quality --kernel 3x3` as a whole process on a synthetic ONNX file with
 * ResNet-50's conv shapes (random weights, ~100 MB). Prints the median of 5 runs, MB/s and layers/s,
 * then an in-process breakdown of where the time goes. With `--spectral`, also times `quality --kernel 3x3
 * --spectral` (the WeightWatcher-style metrics) in the same run, alternating with the plain command.
 *
 *   npm run build && node dist/bench/quality.js [--runs 5] [--spectral]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/formats/detect.js';
import { measureLayer } from '../src/metrics/quality.js';
import { kernelLabel } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { resnet50Model, writeOnnx } from '../test/support/onnx-writer.js';
import { machineLine } from './machine.js';

console.log(machineLine());

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = `${root}bench/out`;
const file = `${outDir}/resnet50-synthetic.onnx`;
const cli = `${root}dist/src/cli/main.js`;
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

if (!existsSync(file)) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, writeOnnx(resnet50Model()).bytes);
}
const bytes = statSync(file).size;

const spectral = process.argv.includes('--spectral');

function runQuality(extra: string[]): { ms: number; layers: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'quality', '--kernel', '3x3', '--json', ...extra, file], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`quality failed: ${r.stderr}`);
  return { ms, layers: (JSON.parse(r.stdout) as { layers: unknown[] }).layers.length };
}

// Whole process, as a user runs it. One warm-up run fills the page cache.
const times: number[] = [];
const spectralTimes: number[] = [];
let layers = 0;
for (let i = 0; i <= runs; i++) {
  const r = runQuality([]);
  if (i > 0) times.push(r.ms);
  layers = r.layers;
  if (spectral) {
    const s = runQuality(['--spectral']);
    if (i > 0) spectralTimes.push(s.ms);
  }
}
const wall = median(times) / 1000;

// In-process breakdown (single thread, same code path minus the CLI and worker pool).
const t0 = performance.now();
const input = await openModelInput(file);
const model = await readModel(input);
const t1 = performance.now();
const selected = model.layers.filter((l) => l.shape.length === 4 && kernelLabel(l.shape) === '3x3');
let load = 0;
let measure = 0;
let filters = 0;
for (const layer of selected) {
  const a = performance.now();
  const w = await layer.loadWeight();
  const b = performance.now();
  measureLayer(w, layer.shape);
  measure += performance.now() - b;
  load += b - a;
  filters += layer.shape[0] * layer.shape[1];
}
await input.close?.();
let nodeStart = 0;
{
  const a = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  nodeStart = performance.now() - a;
}

console.log(`bench/quality: ${file}`);
console.log(
  `  file: ${(bytes / 1e6).toFixed(1)} MB, ${model.layers.length} conv layers, ${layers} 3x3 layers, ${filters} 3x3 filters`,
);
console.log(
  `  whole process (median of ${runs}): ${wall.toFixed(3)} s  [runs: ${times.map((t) => (t / 1000).toFixed(3)).join(' ')}]`,
);
console.log(
  `  throughput: ${(bytes / 1e6 / wall).toFixed(1)} MB/s of model file, ${(layers / wall).toFixed(1)} layers/s, ${(filters / wall / 1e6).toFixed(2)} M filters/s`,
);
if (spectral) {
  const sw = median(spectralTimes) / 1000;
  console.log(
    `  with --spectral (median of ${runs}, alternating with the plain runs): ${sw.toFixed(3)} s  [runs: ${spectralTimes.map((t) => (t / 1000).toFixed(3)).join(' ')}] = ${(sw / wall).toFixed(2)}× the plain run`,
  );
}
console.log('  breakdown (in-process, single thread):');
console.log(`    node start-up         ${nodeStart.toFixed(0)} ms`);
console.log(`    open + parse graph    ${(t1 - t0).toFixed(0)} ms`);
console.log(`    read + decode weights ${load.toFixed(0)} ms`);
console.log(`    metrics (serial)      ${measure.toFixed(0)} ms`);
