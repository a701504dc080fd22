/**
 * Distance from random initialisation: how far a layer's CNN Filter DB metrics are from what the framework's
 * default initialisation gives for the same shape.
 *
 * Rules (the frameworks' defaults for conv weights):
 * - `kaiming-uniform` — PyTorch `nn.Conv*d.reset_parameters`: `kaiming_uniform_(w, a=√5)`, i.e. U(−b, b) with
 *   b = gain·√(3/fan_in), gain = √(2/(1+a²)) = √(1/3), so b = 1/√fan_in; fan_in = dim1·kh·kw of the stored
 *   weight (in/groups for convs, out/groups for transposed ones — torch computes it from dim 1).
 * - `glorot-uniform` — Keras' default `kernel_initializer`: U(−b, b), b = √(6/(fan_in + fan_out)), fans from the
 *   Keras kernel: fan_in = dim1·kh·kw, fan_out = dim0·kh·kw; for a depthwise kernel `[kh, kw, in, mult]`
 *   fan_in = in·kh·kw and fan_out = mult·kh·kw (in = groups, mult = out/groups).
 *
 * The null distribution of every metric for a shape is simulated: `draws` layers of that shape are drawn with
 * the rule (float32 weights, seeded mulberry32: the same numbers on every machine) and measured by the same
 * `measureLayer`. Per metric it keeps the draws (sorted), their mean, sample standard deviation and the
 * 1st/99th percentiles (numpy's linear interpolation) — the band drawn in the plots. A layer's value gets a
 * z-score and a percentile (mid-rank) against it.
 *
 * The verdict `near-init` combines the metrics: the layer's score is max |z| over its metrics, and it is
 * near-init when that score is at most the 99th percentile of the same score over the simulated draws — so a
 * layer drawn with the rule is called near-init 99 % of the time, whatever the number of metrics. A metric
 * whose null distribution has no spread (sparsity of random layers is always 0) gives z = 0 for the same value
 * and ±∞ for any other. The old `random-like` flag (variance entropy ≥ T(n)) is unchanged.
 *
 * Results are cached per (rule, shape, groups, draws, seed, sparsity eps) for the life of the process.
 */
import type { WeightArray } from '../model/types.js';
import { measureLayer } from './quality.js';
import { mulberry32 } from './random.js';
import type { LayerMetrics } from './types.js';

export type InitRule = 'kaiming-uniform' | 'glorot-uniform';
export const INIT_RULES: readonly InitRule[] = ['kaiming-uniform', 'glorot-uniform'];

/** The metrics compared (every CNN Filter DB metric but n). */
export const INIT_METRIC_KEYS = [
  'sparsity',
  'varianceEntropy',
  'varianceEntropyNorm',
  'varianceEntropyClean',
  'varianceEntropyCleanNorm',
  'orthogonality',
  'normL1',
  'normL2',
  'normL1Norm',
  'normL2Norm',
] as const satisfies readonly (keyof LayerMetrics)[];
export type InitMetricKey = (typeof INIT_METRIC_KEYS)[number];

export const DEFAULT_INIT_DRAWS = 1000;
/** Fewer draws for big layers (each draw measures a whole layer); never fewer than this. */
export const MIN_INIT_DRAWS = 64;
/** Weights simulated per shape at most (draws × weights), before the MIN_INIT_DRAWS floor. */
const DRAW_BUDGET = 50_000_000;
export const DEFAULT_INIT_SEED = 20260415;

/** The rule a format's files were most likely initialised with (PyTorch-exported formats vs Keras/TF ones). */
export function defaultInitRule(format: string): InitRule {
  return format === 'keras' || format === 'tfjs' || format === 'tflite'
    ? 'glorot-uniform'
    : 'kaiming-uniform';
}

/** Half-width b of the rule's U(−b, b) for a planar weight shape `[d0, d1, kh, kw]` (see the file comment). */
export function initBound(rule: InitRule, shape: readonly number[], groups: number | null = null): number {
  const [d0, d1, kh, kw] = shape;
  const rf = kh * kw;
  if (rule === 'kaiming-uniform') return 1 / Math.sqrt(d1 * rf);
  const depthwise = groups !== null && groups > 1 && d1 === 1;
  const fanIn = depthwise ? groups * rf : d1 * rf;
  const fanOut = depthwise ? (d0 / groups) * rf : d0 * rf;
  return Math.sqrt(6 / (fanIn + fanOut));
}

/** Draws for a shape: DEFAULT_INIT_DRAWS, fewer for big layers (at least MIN_INIT_DRAWS). */
export function initDraws(shape: readonly number[]): number {
  const size = shape.reduce((a, b) => a * b, 1);
  return Math.max(MIN_INIT_DRAWS, Math.min(DEFAULT_INIT_DRAWS, Math.floor(DRAW_BUDGET / Math.max(1, size))));
}

export interface MetricNull {
  mean: number;
  sd: number;
  p1: number;
  p99: number;
  /** The simulated values, ascending. */
  sorted: Float64Array;
}

export interface NullDistribution {
  rule: InitRule;
  shape: number[];
  groups: number | null;
  bound: number;
  draws: number;
  seed: number;
  metrics: Partial<Record<InitMetricKey, MetricNull>>;
  /** 99th percentile of the max-|z| score over the draws: the near-init threshold. */
  threshold: number;
}

export interface MetricDistance {
  value: number;
  z: number;
  percentile: number;
  p1: number;
  p99: number;
}

export interface InitDistance {
  rule: InitRule;
  draws: number;
  /** Per metric (null where the layer's metric or the null distribution is undefined). */
  metrics: Partial<Record<InitMetricKey, MetricDistance>>;
  /** max |z| over the metrics. */
  score: number | null;
  threshold: number;
  nearInit: boolean;
  /** The verdict in words. */
  reason: string;
}

/** An init distance as the database stores it (and the API serves it): per metric z, percentile and band. */
export interface StoredInitDistance {
  rule: string;
  draws: number | null;
  score: number | null;
  threshold: number | null;
  nearInit: boolean;
  reason: string | null;
  metrics: Record<
    string,
    { z: number | null; percentile: number | null; p1: number | null; p99: number | null }
  >;
}

export interface InitOptions {
  rule: InitRule;
  draws?: number;
  seed?: number;
  sparsityEps?: number;
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** One layer drawn with `rule` (float32, like stored weights); `draw` picks the seeded stream. */
export function drawInitLayer(
  rule: InitRule,
  shape: readonly number[],
  groups: number | null,
  seed: number,
  draw: number,
): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const b = initBound(rule, shape, groups);
  const rnd = mulberry32(hashString(`${rule}|${shape.join('x')}|${groups ?? ''}|${seed}|${draw}`));
  const w = new Float32Array(size);
  for (let i = 0; i < size; i++) w[i] = (2 * rnd() - 1) * b;
  return w;
}

/** numpy.percentile's default (linear) interpolation on sorted data. */
export function percentileOfSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (q / 100) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function zScore(value: number, m: MetricNull): number {
  if (m.sd > 0) return (value - m.mean) / m.sd;
  return value === m.mean ? 0 : value > m.mean ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

function score(metrics: LayerMetrics, nul: Partial<Record<InitMetricKey, MetricNull>>): number | null {
  let best: number | null = null;
  for (const key of INIT_METRIC_KEYS) {
    const v = metrics[key];
    const m = nul[key];
    if (v === null || !m) continue;
    const z = Math.abs(zScore(v, m));
    if (best === null || z > best) best = z;
  }
  return best;
}

const cache = new Map<string, NullDistribution>();

/** The simulated null distribution of every metric for this shape under `rule` (cached per shape). */
export function nullDistribution(
  shape: readonly number[],
  groups: number | null,
  options: InitOptions,
): NullDistribution {
  const draws = options.draws ?? initDraws(shape);
  const seed = options.seed ?? DEFAULT_INIT_SEED;
  const eps = options.sparsityEps;
  const key = `${options.rule}|${shape.join('x')}|${groups ?? ''}|${draws}|${seed}|${eps ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const samples: LayerMetrics[] = [];
  for (let d = 0; d < draws; d++) {
    const w = drawInitLayer(options.rule, shape, groups, seed, d);
    samples.push(measureLayer(w, shape, eps === undefined ? {} : { sparsityEps: eps }).metrics);
  }
  const metrics: Partial<Record<InitMetricKey, MetricNull>> = {};
  for (const k of INIT_METRIC_KEYS) {
    const values = samples.map((s) => s[k]).filter((v): v is number => v !== null);
    if (values.length < draws) continue; // undefined for this shape (e.g. orthogonality of one filter)
    const sorted = Float64Array.from(values).sort();
    let mean = 0;
    for (const v of sorted) mean += v;
    mean /= sorted.length;
    let ss = 0;
    for (const v of sorted) ss += (v - mean) ** 2;
    const sd = sorted.length > 1 ? Math.sqrt(ss / (sorted.length - 1)) : 0;
    metrics[k] = {
      mean,
      sd,
      p1: percentileOfSorted(sorted, 1),
      p99: percentileOfSorted(sorted, 99),
      sorted,
    };
  }
  const scores = Float64Array.from(samples.map((s) => score(s, metrics) ?? 0)).sort();
  const result: NullDistribution = {
    rule: options.rule,
    shape: [...shape],
    groups,
    bound: initBound(options.rule, shape, groups),
    draws,
    seed,
    metrics,
    threshold: percentileOfSorted(scores, 99),
  };
  cache.set(key, result);
  return result;
}

/** The layer's metrics against a null distribution: z-scores, percentiles and the near-init verdict. */
export function initDistance(metrics: LayerMetrics, nul: NullDistribution): InitDistance {
  const out: Partial<Record<InitMetricKey, MetricDistance>> = {};
  let worst: InitMetricKey | null = null;
  let worstZ = -1;
  for (const key of INIT_METRIC_KEYS) {
    const v = metrics[key];
    const m = nul.metrics[key];
    if (v === null || !m) continue;
    let below = 0;
    let equal = 0;
    for (const x of m.sorted) {
      if (x < v) below++;
      else if (x === v) equal++;
    }
    const z = zScore(v, m);
    out[key] = {
      value: v,
      z,
      percentile: (100 * (below + equal / 2)) / m.sorted.length,
      p1: m.p1,
      p99: m.p99,
    };
    if (Math.abs(z) > worstZ) {
      worstZ = Math.abs(z);
      worst = key;
    }
  }
  const s = score(metrics, nul.metrics);
  const nearInit = s !== null && s <= nul.threshold;
  const fmtZ = (z: number) => (Number.isFinite(z) ? z.toFixed(1) : z > 0 ? '+∞' : '−∞');
  let reason: string;
  if (s === null) reason = 'no metric to compare';
  else if (nearInit)
    reason = `every metric is within what ${nul.rule} gives for this shape (max |z| ${s.toFixed(2)} ≤ ${nul.threshold.toFixed(2)}, the 99th percentile of ${nul.draws} random layers): filters look like their random initialisation`;
  else {
    const d = worst ? out[worst] : undefined;
    reason = `${worst} is ${d ? `at z ${fmtZ(d.z)} (percentile ${d.percentile.toFixed(1)})` : 'outside'} against ${nul.draws} ${nul.rule} random layers (near-init needs max |z| ≤ ${nul.threshold.toFixed(2)})`;
  }
  return {
    rule: nul.rule,
    draws: nul.draws,
    metrics: out,
    score: s,
    threshold: nul.threshold,
    nearInit,
    reason,
  };
}

/** Null distribution and distance in one call, for a measured layer. */
export function layerInitDistance(
  metrics: LayerMetrics,
  shape: readonly number[],
  groups: number | null,
  options: InitOptions,
): InitDistance {
  return initDistance(metrics, nullDistribution(shape, groups, options));
}

/** For tests and tools: measure an arbitrary weight against the rule (no caching of the weight). */
export function measureAgainstInit(
  weight: WeightArray,
  shape: readonly number[],
  groups: number | null,
  options: InitOptions,
): InitDistance {
  const { metrics } = measureLayer(
    weight,
    shape,
    options.sparsityEps === undefined ? {} : { sparsityEps: options.sparsityEps },
  );
  return layerInitDistance(metrics, shape, groups, options);
}
