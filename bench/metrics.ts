/**
 * Benchmark: the metrics on ResNet-50's 3×3 conv shapes (16 layers, 1.26 M filters, 11.3 M weights) with
 * seeded random weights. Prints the time per metric, the whole `measureLayer` pass and filters/s, then the
 * Gram-kernel variants (column block sizes, and a plain dot-product kernel for reference).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/metrics.js [--repeat 3]
 */
import { flagLayer } from '../src/metrics/flags.js';
import { gram } from '../src/metrics/linalg.js';
import { measureLayer, orthogonality, scanWeights, varianceEntropy } from '../src/metrics/quality.js';

/** torchvision resnet50: conv2 of each bottleneck (layer1..layer4 have 3, 4, 6, 3 blocks). */
const SHAPES: number[][] = [
  ...Array.from({ length: 3 }, () => [64, 64, 3, 3]),
  ...Array.from({ length: 4 }, () => [128, 128, 3, 3]),
  ...Array.from({ length: 6 }, () => [256, 256, 3, 3]),
  ...Array.from({ length: 3 }, () => [512, 512, 3, 3]),
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

function main(): void {
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

  const total = time(() => {
    for (const l of layers) {
      const r = measureLayer(l.w, l.shape);
      flagLayer(r.metrics, r.nonFinite, l.shape);
    }
  }, repeat);

  // Per-metric breakdown (same work measureLayer does, timed step by step).
  const scans = layers.map((l) => scanWeights(l.w, l.shape[0] * l.shape[1], 9, 0.01));
  const tScan = time(() => {
    for (const l of layers) scanWeights(l.w, l.shape[0] * l.shape[1], 9, 0.01);
  }, repeat);
  const tWiden = time(() => {
    for (const l of layers) new Float64Array(l.w);
  }, repeat);
  const tEntropy = time(() => {
    for (let i = 0; i < layers.length; i++)
      varianceEntropy(scans[i].w, layers[i].shape[0] * layers[i].shape[1], 9);
  }, repeat);
  const tOrth = time(() => {
    for (let i = 0; i < layers.length; i++)
      orthogonality(scans[i].w, layers[i].shape[0], layers[i].shape[1] * 9);
  }, repeat);

  const row = (label: string, ms: number) =>
    console.log(
      `  ${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / total).toFixed(0).padStart(3)}%`,
    );
  console.log('measureLayer + flagLayer, all 16 layers:');
  row('total', total);
  row('scan (widen f32→f64, max, norms, sparsity)', tScan);
  row('  of which widening alone', tWiden);
  row('variance entropy (scatter + 9×9 Jacobi)', tEntropy);
  row('orthogonality (Gram)', tOrth);
  console.log(
    `  ${(((filters / total) * 1000) / 1e6).toFixed(2)} M filters/s, ${(((weights / total) * 1000) / 1e6).toFixed(1)} M weights/s`,
  );

  // Gram kernel variants on the biggest layer shape and on the whole set.
  console.log('Gram kernel variants (all 16 layers; 512×4608 alone):');
  const big = scans[scans.length - 1].w;
  const scratch = new Float64Array(512 * 512);
  const variants: [string, (a: Float64Array, rows: number, cols: number, c: Float64Array) => void][] = [
    ['4×2 blocked, 256 cols', (a, r, c, o) => gram(a, r, c, o, { blockCols: 256 })],
    ['4×2 blocked, 512 cols (default)', (a, r, c, o) => gram(a, r, c, o, { blockCols: 512 })],
    ['4×2 blocked, 1024 cols', (a, r, c, o) => gram(a, r, c, o, { blockCols: 1024 })],
    ['4×2 blocked, 2048 cols', (a, r, c, o) => gram(a, r, c, o, { blockCols: 2048 })],
    ['4×2 unblocked', (a, r, c, o) => gram(a, r, c, o, { blockCols: Number.POSITIVE_INFINITY })],
    ['plain dot products (unrolled by 4)', gramDots],
  ];
  for (const [label, fn] of variants) {
    const all = time(() => {
      for (let i = 0; i < layers.length; i++)
        fn(scans[i].w, layers[i].shape[0], layers[i].shape[1] * 9, scratch);
    }, repeat);
    const one = time(() => fn(big, 512, 4608, scratch), repeat);
    const gmac = (((512 * 513) / 2) * 4608) / (one * 1e6);
    console.log(
      `  ${label.padEnd(36)} ${all.toFixed(1).padStart(8)} ms   512×4608: ${one.toFixed(1).padStart(7)} ms (${gmac.toFixed(2)} GMAC/s)`,
    );
  }
}

main();
