/**
 * src/metrics/init-distance.ts against independent answers (issue 20 item 6): the seeded draws, the bounds and
 * the null distributions' statistics from numpy (test/data/mutation/init-distance.json, make_init_distance.py),
 * the verdict rules (z-score, mid-rank percentile, max |z| score, the threshold, the reason) on small hand-built
 * null distributions whose answers are worked out in the comments. Small shapes and few draws: well under a
 * second.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  DEFAULT_INIT_DRAWS,
  DEFAULT_INIT_SEED,
  defaultInitRule,
  drawInitLayer,
  INIT_METRIC_KEYS,
  INIT_RULES,
  type InitRule,
  initBound,
  initDistance,
  initDraws,
  layerInitDistance,
  MIN_INIT_DRAWS,
  measureAgainstInit,
  type NullDistribution,
  nullDistribution,
  percentileOfSorted,
} from '../src/metrics/init-distance.js';
import { measureLayer } from '../src/metrics/quality.js';
import type { LayerMetrics } from '../src/metrics/types.js';
import { dataPath } from './support/paths.js';

interface Stat {
  mean: number;
  sd: number;
  p1: number;
  p99: number;
}
interface LayerCase {
  weights: number[];
  metrics: Record<string, { value: number; z: number | string; percentile: number }>;
  score: number | string;
  nearInit: boolean;
}
interface Case {
  name: string;
  rule: InitRule;
  shape: number[];
  groups: number | null;
  draws: number;
  seed: number;
  sparsityEps: number | null;
  bound: number;
  threshold: number;
  metrics: Record<string, Stat>;
  layers: Record<string, LayerCase>;
}
const data = JSON.parse(readFileSync(dataPath('mutation/init-distance.json'), 'utf8')) as {
  draws: {
    rule: InitRule;
    shape: number[];
    groups: number | null;
    seed: number;
    draw: number;
    values: number[];
  }[];
  bounds: { rule: InitRule; shape: number[]; groups: number | null; bound: number }[];
  cases: Case[];
};

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** A metric whose numpy spread is more than rounding noise (normL2Norm is √(N−1) for every layer). */
const spread = (s: Stat) => s.sd > 1e-9 * Math.abs(s.mean);

/** numpy.percentile (linear) written out: the value at rank q·(n−1) between its two neighbours. */
function npPercentile(ascending: number[], q: number): number {
  const rank = (q * (ascending.length - 1)) / 100;
  const below = ascending[Math.floor(rank)];
  const above = ascending[Math.ceil(rank)];
  return below + (rank - Math.floor(rank)) * (above - below);
}

function nullOf(c: Case): NullDistribution {
  return nullDistribution(c.shape, c.groups, {
    rule: c.rule,
    draws: c.draws,
    seed: c.seed,
    ...(c.sparsityEps === null ? {} : { sparsityEps: c.sparsityEps }),
  });
}

function measure(c: Case, w: Float32Array | number[]): LayerMetrics {
  const weight = w instanceof Float32Array ? w : Float32Array.from(w);
  return measureLayer(weight, c.shape, c.sparsityEps === null ? {} : { sparsityEps: c.sparsityEps }).metrics;
}

describe('init rules, bounds and draws (numpy)', () => {
  it('Keras, TF.js and TFLite files default to glorot-uniform, every other format to kaiming-uniform', () => {
    for (const f of ['keras', 'tfjs', 'tflite']) assert.equal(defaultInitRule(f), 'glorot-uniform', f);
    for (const f of ['pytorch', 'onnx', 'safetensors', 'hdf5', ''])
      assert.equal(defaultInitRule(f), 'kaiming-uniform', f);
    assert.deepEqual([...INIT_RULES], ['kaiming-uniform', 'glorot-uniform']);
  });

  it('bounds: kaiming 1/√fan_in whatever the groups; glorot with depthwise fans only for d1 = 1 and groups > 1', () => {
    for (const b of data.bounds)
      assert.equal(initBound(b.rule, b.shape, b.groups), b.bound, `${b.rule} ${b.shape} groups ${b.groups}`);
    // the default groups argument is null (a plain conv)
    assert.equal(initBound('glorot-uniform', [64, 1, 3, 3]), Math.sqrt(6 / (9 + 64 * 9)));
  });

  it('draws are numpy’s FNV-1a + mulberry32 stream of (rule, shape, groups, seed, draw), as float32', () => {
    for (const d of data.draws) {
      const w = drawInitLayer(d.rule, d.shape, d.groups, d.seed, d.draw);
      assert.ok(w instanceof Float32Array);
      assert.deepEqual(Array.from(w), d.values, `${d.rule} ${d.shape} ${d.groups} ${d.seed} ${d.draw}`);
    }
  });

  it('draw counts: 1000, fewer for big layers (50 M weights per shape), never fewer than 64', () => {
    assert.equal(DEFAULT_INIT_DRAWS, 1000);
    assert.equal(MIN_INIT_DRAWS, 64);
    assert.equal(initDraws([1, 1, 1, 1]), 1000);
    assert.equal(initDraws([]), 1000); // one weight
    assert.equal(initDraws([0, 3, 3, 3]), 1000); // no weight: counted as one
    assert.equal(initDraws([100, 100, 5, 1]), 1000); // exactly 50 000 weights
    assert.equal(initDraws([100, 100, 5, 2]), 500);
    assert.equal(initDraws([256, 256, 3, 3]), 84); // floor(5e7 / 589 824)
    assert.equal(initDraws([512, 512, 3, 3]), 64); // 21 → the floor
  });

  it('percentiles: numpy’s linear rule, NaN for no data, exact ends', () => {
    const s = Float64Array.from([1, 2, 3, 10]);
    assert.ok(Number.isNaN(percentileOfSorted(new Float64Array(0), 50)));
    assert.equal(percentileOfSorted(s, 0), 1);
    assert.equal(percentileOfSorted(s, 100), 10);
    assert.equal(percentileOfSorted(s, 50), 2.5); // rank 1.5
    assert.equal(percentileOfSorted(s, 75), 4.75); // rank 2.25: 3 + 0.25 · 7
    assert.equal(percentileOfSorted(Float64Array.of(4), 99), 4);
  });
});

describe('null distributions (numpy statistics of the seeded draws)', () => {
  for (const c of data.cases) {
    it(`${c.name}: ${c.draws} draws, the metrics defined for the shape, mean, sd, 1st/99th percentile`, () => {
      const nul = nullOf(c);
      assert.equal(nul.rule, c.rule);
      assert.deepEqual(nul.shape, c.shape);
      assert.equal(nul.groups, c.groups);
      assert.equal(nul.bound, c.bound);
      assert.equal(nul.draws, c.draws);
      assert.equal(nul.seed, c.seed);
      assert.deepEqual(Object.keys(nul.metrics).sort(), Object.keys(c.metrics).sort());
      for (const [k, s] of Object.entries(c.metrics)) {
        const m = nul.metrics[k as keyof typeof nul.metrics];
        assert.ok(m, k);
        assert.equal(m.sorted.length, c.draws);
        for (let i = 1; i < m.sorted.length; i++) assert.ok(m.sorted[i - 1] <= m.sorted[i], `${k} ascending`);
        if (!spread(s) && k !== 'sparsity') continue;
        close(m.mean, s.mean, 1e-9, `${k} mean`);
        close(m.sd, s.sd, 1e-7, `${k} sd`);
        close(m.p1, s.p1, 1e-9, `${k} p1`);
        close(m.p99, s.p99, 1e-9, `${k} p99`);
      }
    });

    it(`${c.name}: the sorted draws are the measured draws, the threshold the 99th percentile of their max |z|`, () => {
      const nul = nullOf(c);
      const eps = c.sparsityEps === null ? {} : { sparsityEps: c.sparsityEps };
      const samples = Array.from(
        { length: c.draws },
        (_, d) => measureLayer(drawInitLayer(c.rule, c.shape, c.groups, c.seed, d), c.shape, eps).metrics,
      );
      const keys = Object.keys(c.metrics) as (keyof LayerMetrics)[];
      const stats = new Map<string, { mean: number; sd: number }>();
      for (const k of keys) {
        const values = samples.map((s) => s[k] as number).sort((x, y) => x - y);
        assert.deepEqual(Array.from(nul.metrics[k as 'sparsity']!.sorted), values, k);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
        close(nul.metrics[k as 'sparsity']!.mean, mean, 1e-12, `${k} mean`);
        close(nul.metrics[k as 'sparsity']!.sd, sd, 1e-9, `${k} sd`);
        stats.set(k, { mean, sd });
      }
      const z = (v: number, { mean, sd }: { mean: number; sd: number }) =>
        sd > 0 ? (v - mean) / sd : v === mean ? 0 : Number.POSITIVE_INFINITY;
      const scores = samples
        .map((s) => Math.max(...keys.map((k) => Math.abs(z(s[k] as number, stats.get(k)!)))))
        .sort((x, y) => x - y);
      close(nul.threshold, npPercentile(scores, 99), 1e-6, 'threshold');
    });

    it(`${c.name}: fresh, trained and dead layers get numpy's z-scores and mid-rank percentiles`, () => {
      const nul = nullOf(c);
      for (const [name, l] of Object.entries(c.layers)) {
        const metrics = measure(c, l.weights);
        const d = initDistance(metrics, nul);
        assert.equal(d.rule, c.rule);
        assert.equal(d.draws, c.draws);
        assert.equal(d.threshold, nul.threshold);
        assert.deepEqual(Object.keys(d.metrics).sort(), Object.keys(c.metrics).sort(), name);
        let score = 0;
        for (const [k, want] of Object.entries(l.metrics)) {
          const got = d.metrics[k as 'sparsity']!;
          const m = nul.metrics[k as 'sparsity']!;
          assert.equal(got.value, metrics[k as 'sparsity'], `${name} ${k} value`);
          assert.equal(got.p1, m.p1);
          assert.equal(got.p99, m.p99);
          score = Math.max(score, Math.abs(got.z));
          if (!spread(c.metrics[k]) && k !== 'sparsity') continue;
          if (typeof want.z === 'string') assert.equal(got.z, want.z === '+inf' ? Infinity : -Infinity, k);
          else close(got.z, want.z, 1e-7, `${name} ${k} z`);
          assert.equal(got.percentile, want.percentile, `${name} ${k} percentile`);
        }
        assert.equal(d.score, score, `${name} score`);
        assert.equal(d.nearInit, score <= nul.threshold, `${name} near-init`);
        // the verdicts numpy gives, where rounding noise cannot decide them
        if (name !== 'fresh') assert.equal(d.nearInit, false, `${name}: ${d.reason}`);
        if (name === 'fresh' && c.groups === 6) assert.equal(d.nearInit, true, d.reason);
      }
    });
  }

  it('caches per rule, shape, groups, draws, seed and sparsity eps', () => {
    const [c, ceps] = data.cases;
    const base = nullOf(c);
    assert.equal(nullOf(c), base, 'the same object for the same key');
    const opts = { rule: c.rule, draws: c.draws, seed: c.seed };
    const others = [
      nullDistribution(c.shape, c.groups, { ...opts, seed: c.seed + 1 }),
      nullDistribution(c.shape, c.groups, { ...opts, draws: c.draws - 1 }),
      nullDistribution(c.shape, c.groups, { ...opts, rule: 'glorot-uniform' }),
      nullDistribution([4, 2, 1, 9], c.groups, opts),
      nullDistribution(c.shape, null, opts),
    ];
    for (const o of others) assert.notEqual(o, base);
    assert.notDeepEqual(others[0].metrics.normL1?.sorted, base.metrics.normL1?.sorted);
    assert.equal(others[1].metrics.normL1?.sorted.length, c.draws - 1);
    assert.notEqual(others[2].bound, base.bound);
    assert.deepEqual(others[3].shape, [4, 2, 1, 9]);
    assert.equal(others[4].groups, null);
    // groups in the key: the glorot depthwise bound depends on them
    const dw = data.cases.find((x) => x.groups === 6)!;
    const dwOpts = { rule: dw.rule, draws: dw.draws, seed: dw.seed };
    const g3 = nullDistribution(dw.shape, 3, dwOpts);
    assert.notEqual(g3.bound, nullDistribution(dw.shape, 6, dwOpts).bound);
    assert.equal(g3.bound, initBound(dw.rule, dw.shape, 3));
    // sparsity eps in the key, for two different eps values too
    const eps = nullOf(ceps);
    assert.notEqual(eps, base);
    assert.ok(eps.metrics.sparsity!.sd > 0 && base.metrics.sparsity!.sd === 0);
    const eps2 = nullDistribution(c.shape, c.groups, { ...opts, sparsityEps: 0.05 });
    assert.notEqual(eps2, eps);
    assert.notDeepEqual(eps2.metrics.sparsity!.sorted, eps.metrics.sparsity!.sorted);
  });

  it('one draw: a sample sd of 0, not 0/0', () => {
    const one = nullDistribution([3, 2, 1, 2], null, { rule: 'kaiming-uniform', draws: 1, seed: 4 });
    for (const m of Object.values(one.metrics)) {
      assert.equal(m.sd, 0);
      assert.equal(m.mean, m.sorted[0]);
    }
    assert.equal(one.threshold, 0); // its own values: every z is 0
  });

  it('shapes whose digits run together are different keys', () => {
    const opts = { rule: 'kaiming-uniform' as const, draws: 3, seed: 1 };
    const a = nullDistribution([1, 11, 1, 1], null, opts);
    const b = nullDistribution([11, 1, 1, 1], null, opts);
    assert.deepEqual(a.shape, [1, 11, 1, 1]);
    assert.deepEqual(b.shape, [11, 1, 1, 1]);
    assert.notEqual(a.bound, b.bound);
  });

  it('defaults: the draws for the shape and the default seed', () => {
    const shape = [2, 1, 1, 2];
    const nul = nullDistribution(shape, null, { rule: 'kaiming-uniform' });
    assert.equal(nul.draws, initDraws(shape));
    assert.equal(nul.seed, DEFAULT_INIT_SEED);
    assert.equal(DEFAULT_INIT_SEED, 20260415);
    const first = measureLayer(drawInitLayer('kaiming-uniform', shape, null, DEFAULT_INIT_SEED, 0), shape);
    assert.ok(nul.metrics.normL1!.sorted.includes(first.metrics.normL1!));
  });

  it('layerInitDistance and measureAgainstInit measure with the given sparsity eps', () => {
    const c = data.cases.find((x) => x.sparsityEps !== null)!;
    const w = Float32Array.from(c.layers.trained.weights);
    const opts = { rule: c.rule, draws: c.draws, seed: c.seed, sparsityEps: c.sparsityEps! };
    const want = initDistance(measure(c, w), nullOf(c));
    assert.deepEqual(measureAgainstInit(w, c.shape, c.groups, opts), want);
    assert.deepEqual(layerInitDistance(measure(c, w), c.shape, c.groups, opts), want);
    // numpy: eps 0.6 makes some of this layer's filters sparse; the default eps 0.01 none
    const numpySparsity = c.layers.trained.metrics.sparsity.value;
    assert.ok(numpySparsity > 0);
    assert.equal(want.metrics.sparsity!.value, numpySparsity);
    const { sparsityEps: _, ...noEps } = opts;
    assert.equal(measureAgainstInit(w, c.shape, c.groups, noEps).metrics.sparsity!.value, 0);
    const plain = data.cases[0];
    const p = measureAgainstInit(Float32Array.from(plain.layers.dead.weights), plain.shape, plain.groups, {
      rule: plain.rule,
      draws: plain.draws,
      seed: plain.seed,
    });
    assert.equal(p.metrics.sparsity!.value, 3 / 8); // the default eps 0.01: exactly the zeroed filters
    assert.equal(p.metrics.sparsity!.z, Infinity);
  });
});

describe('the verdict (hand-built null distributions)', () => {
  const metric = (sorted: number[], mean: number, sd: number) => ({
    mean,
    sd,
    p1: sorted[0],
    p99: sorted[sorted.length - 1],
    sorted: Float64Array.from(sorted),
  });
  const nul: NullDistribution = {
    rule: 'kaiming-uniform',
    shape: [4, 2, 3, 3],
    groups: null,
    bound: 1,
    draws: 4,
    seed: 0,
    threshold: 2,
    metrics: {
      sparsity: metric([0, 0, 0, 0], 0, 0),
      orthogonality: metric([0.5, 0.5, 0.5, 0.5], 0.5, 0),
      normL1: metric([7, 9, 11, 13], 10, 2),
      normL2: metric([1, 2, 3, 4], 3, 1),
    },
  };
  const layer = (m: Partial<LayerMetrics>): LayerMetrics => ({
    n: 8,
    sparsity: 0,
    varianceEntropy: null,
    varianceEntropyNorm: null,
    varianceEntropyClean: null,
    varianceEntropyCleanNorm: null,
    orthogonality: 0.5,
    normL1: 11,
    normL2: 3,
    normL1Norm: null,
    normL2Norm: null,
    ...m,
  });

  it('near-init: z = (v − mean)/sd, 0 for a no-spread metric at its value, mid-rank percentiles, the reason', () => {
    const d = initDistance(layer({}), nul);
    // normL1 11: z 0.5, 2 draws below and 1 equal → (2 + 0.5)/4 = 62.5 %; sparsity: 4 equal → 50 %
    assert.deepEqual(d.metrics, {
      sparsity: { value: 0, z: 0, percentile: 50, p1: 0, p99: 0 },
      orthogonality: { value: 0.5, z: 0, percentile: 50, p1: 0.5, p99: 0.5 },
      normL1: { value: 11, z: 0.5, percentile: 62.5, p1: 7, p99: 13 },
      normL2: { value: 3, z: 0, percentile: 62.5, p1: 1, p99: 4 },
    });
    assert.equal(d.score, 0.5);
    assert.equal(d.nearInit, true);
    assert.equal(
      d.reason,
      'every metric is within what kaiming-uniform gives for this shape (max |z| 0.50 ≤ 2.00, the 99th percentile of 4 random layers): filters look like their random initialisation',
    );
  });

  it('every metric at its null mean: score 0, near-init (not "no metric")', () => {
    const d = initDistance(layer({ normL1: 10 }), nul);
    assert.equal(d.score, 0);
    assert.equal(d.nearInit, true);
  });

  it('names the worst metric also when its |z| is at most 1 (a threshold below 1)', () => {
    const d = initDistance(layer({}), { ...nul, threshold: 0.25 });
    assert.equal(d.nearInit, false);
    assert.equal(
      d.reason,
      'normL1 is at z 0.5 (percentile 62.5) against 4 kaiming-uniform random layers (near-init needs max |z| ≤ 0.25)',
    );
  });

  it('the score is the largest |z| (negative ones too); a score equal to the threshold is still near-init', () => {
    const d = initDistance(layer({ normL1: 5, normL2: 4 }), nul); // z −2.5 and 1
    assert.equal(d.score, 2.5);
    assert.equal(d.nearInit, false);
    assert.equal(d.metrics.normL1!.percentile, 0);
    assert.equal(d.metrics.normL2!.percentile, 87.5); // 3 below, 1 equal
    assert.equal(
      d.reason,
      'normL1 is at z -2.5 (percentile 0.0) against 4 kaiming-uniform random layers (near-init needs max |z| ≤ 2.00)',
    );
    const edge = initDistance(layer({ normL1: 14 }), nul); // z exactly 2
    assert.equal(edge.score, 2);
    assert.equal(edge.nearInit, true);
    const after = initDistance(layer({ normL1: 6, normL2: 1 }), nul); // z −2 then −2: the first metric is named
    assert.equal(after.score, 2);
    const worse = initDistance(layer({ normL1: 16, normL2: 6 }), { ...nul, threshold: 1 }); // z 3 and 3
    assert.match(worse.reason, /^normL1 is at z 3\.0 \(percentile 100\.0\)/);
  });

  it('a no-spread metric away from its value is at ±∞, and names itself', () => {
    const up = initDistance(layer({ sparsity: 0.25 }), nul);
    assert.equal(up.metrics.sparsity!.z, Infinity);
    assert.equal(up.score, Infinity);
    assert.equal(up.nearInit, false);
    assert.equal(
      up.reason,
      'sparsity is at z +∞ (percentile 100.0) against 4 kaiming-uniform random layers (near-init needs max |z| ≤ 2.00)',
    );
    const down = initDistance(layer({ orthogonality: 0.4 }), nul);
    assert.equal(down.metrics.orthogonality!.z, -Infinity);
    assert.equal(down.metrics.orthogonality!.percentile, 0);
    assert.match(down.reason, /^orthogonality is at z −∞ \(percentile 0\.0\)/);
  });

  it('metrics missing from the layer or from the null are skipped; none left → no verdict', () => {
    const d = initDistance(layer({ orthogonality: null }), {
      ...nul,
      metrics: { normL1: nul.metrics.normL1, orthogonality: nul.metrics.orthogonality },
    });
    assert.deepEqual(Object.keys(d.metrics), ['normL1']);
    const none = initDistance(layer({ orthogonality: null }), {
      ...nul,
      metrics: { orthogonality: nul.metrics.orthogonality },
    });
    assert.deepEqual(none.metrics, {});
    assert.equal(none.score, null);
    assert.equal(none.nearInit, false);
    assert.equal(none.reason, 'no metric to compare');
    assert.equal(INIT_METRIC_KEYS.length, 10);
  });
});
