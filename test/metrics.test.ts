import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { flagLayer } from '../src/metrics/flags.js';
import { measureLayer, randomEntropy } from '../src/metrics/quality.js';
import type { LayerMetrics } from '../src/metrics/types.js';
import { dataPath } from './support/paths.js';
import { mulberry32 as rng } from './support/random.js';

const KEYS: (keyof LayerMetrics)[] = [
  'n',
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
];

/** |a − e| ≤ max(abs, rel·|e|); nulls must match. */
function assertClose(
  actual: number | null,
  expected: number | null,
  what: string,
  rel = 1e-9,
  abs = 1e-12,
): void {
  if (expected === null || actual === null) {
    assert.equal(actual, expected, `${what}: ${actual} vs ${expected}`);
    return;
  }
  assert.ok(Number.isFinite(actual), `${what}: ${actual} is not finite`);
  const err = Math.abs(actual - expected);
  assert.ok(err <= Math.max(abs, rel * Math.abs(expected)), `${what}: ${actual} vs ${expected} (err ${err})`);
}

function measure(w: number[] | Float32Array | Float64Array, shape: number[], eps?: number) {
  const weight = w instanceof Float32Array || w instanceof Float64Array ? w : Float64Array.from(w);
  return measureLayer(weight, shape, eps === undefined ? {} : { sparsityEps: eps });
}

function randomLayer(shape: number[], seed: number, f: (u: number) => number = (u) => u - 0.5): Float32Array {
  const rand = rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => f(rand()));
}

describe('measureLayer: hand-computable cases', () => {
  it('sparsity: strict threshold at eps·max|W|', () => {
    // rows of 2 values; max |w| = 10 → t = 0.1
    const w = [10, 0, 0.05, 0.09, 0.2, 0, -0.099, 0.01];
    const { metrics } = measure(w, [4, 1, 1, 2]);
    assert.equal(metrics.sparsity, 0.5);
    assert.equal(measure(w, [4, 1, 1, 2], 0.001).metrics.sparsity, 0);
    assert.equal(measure(w, [4, 1, 1, 2], 0.5).metrics.sparsity, 0.75);
    // exactly at the threshold is not sparse (strict <): max 1, eps 0.5 → t = 0.5
    assert.equal(measure([1, 0, 0.5, 0], [2, 1, 1, 2], 0.5).metrics.sparsity, 0);
  });

  it('norms and standardised norms', () => {
    const { metrics } = measure([1, 2, 3, 4], [2, 2, 1, 1]);
    assert.equal(metrics.normL1, 10);
    assertClose(metrics.normL2, Math.sqrt(30), 'normL2', 1e-15);
    const std = Math.sqrt(5 / 3);
    assertClose(metrics.normL1Norm, 4 / std, 'normL1Norm', 1e-15);
    assertClose(metrics.normL2Norm, Math.sqrt(3), 'normL2Norm', 1e-15);
  });

  it('all-zero layer: sparsity 1, entropy 0, clean null, zero rows count 1 on the diagonal', () => {
    const { metrics, nonFinite } = measure(new Float32Array(8 * 4 * 9), [8, 4, 3, 3]);
    assert.equal(nonFinite, 0);
    assert.equal(metrics.n, 32);
    assert.equal(metrics.sparsity, 1);
    assert.equal(metrics.varianceEntropy, 0);
    assert.equal(metrics.varianceEntropyNorm, 0);
    assert.equal(metrics.varianceEntropyClean, null);
    assert.equal(metrics.varianceEntropyCleanNorm, null);
    assertClose(metrics.orthogonality, 1 - 1 / 7, 'orthogonality', 1e-15);
    assert.equal(metrics.normL1, 0);
    assert.equal(metrics.normL2, 0);
    assert.equal(metrics.normL1Norm, null);
    assert.equal(metrics.normL2Norm, null);
  });

  it('all-equal filters: variance entropy exactly 0 and orthogonality 0', () => {
    const rand = rng(9);
    const filter = Array.from({ length: 9 }, () => rand() - 0.5);
    const w = new Float32Array(16 * 3 * 9);
    for (let r = 0; r < 48; r++) w.set(filter, r * 9);
    const { metrics } = measure(w, [16, 3, 3, 3]);
    assert.equal(metrics.varianceEntropy, 0);
    assert.equal(metrics.varianceEntropyNorm, 0);
    assert.equal(metrics.varianceEntropyClean, 0);
    assertClose(metrics.orthogonality, 0, 'orthogonality', 0, 1e-14);
  });

  it('identical output filters: orthogonality 0; orthonormal filters: orthogonality 1', () => {
    const rand = rng(10);
    const row = Array.from({ length: 2 * 9 }, () => rand() - 0.5);
    const same = new Float64Array(5 * 18);
    for (let i = 0; i < 5; i++) same.set(row, i * 18);
    assertClose(measure(same, [5, 2, 3, 3]).metrics.orthogonality, 0, 'identical', 0, 1e-14);
    // 9 unit filters e_i (3×3): orthonormal rows; centred covariance (I − 1/9)/8 → 8 equal variances
    const eye = new Float64Array(81);
    for (let i = 0; i < 9; i++) eye[i * 9 + i] = 1;
    const { metrics } = measure(eye, [9, 1, 3, 3]);
    assert.equal(metrics.orthogonality, 1);
    assertClose(metrics.varianceEntropy, Math.log10(8), 'entropy of 8 equal variances', 1e-14);
    assertClose(metrics.varianceEntropyNorm, Math.log10(8) / randomEntropy(9), 'norm', 1e-14);
    // scaling a filter does not change orthogonality
    eye[0] = 1e-20;
    eye[80] = 3e20;
    assert.equal(measure(eye, [9, 1, 3, 3]).metrics.orthogonality, 1);
  });

  it('uniform-random 128×128×3×3 layer looks random: normalised entropy > 1', () => {
    const { metrics } = measure(randomLayer([128, 128, 3, 3], 42), [128, 128, 3, 3]);
    assert.ok(metrics.varianceEntropyNorm! > 1, `${metrics.varianceEntropyNorm}`);
    assert.ok(metrics.varianceEntropyNorm! < 1.01);
    assert.ok(metrics.orthogonality! > 0.95);
    assert.equal(metrics.sparsity, 0);
  });

  it('n = 1 → entropies null; out = 1 → orthogonality null', () => {
    const one = measure([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]).metrics;
    assert.equal(one.n, 1);
    for (const key of [
      'varianceEntropy',
      'varianceEntropyNorm',
      'varianceEntropyClean',
      'orthogonality',
    ] as const) {
      assert.equal(one[key], null, key);
    }
    assert.equal(one.normL1, 45);
    assert.ok(one.normL1Norm !== null);
    const out1 = measure(randomLayer([1, 4, 3, 3], 1), [1, 4, 3, 3]).metrics;
    assert.equal(out1.orthogonality, null);
    assert.ok(out1.varianceEntropy !== null && out1.n === 4);
    // a single weight: std undefined
    const w1 = measure([2], [1, 1, 1, 1]).metrics;
    assert.equal(w1.normL1Norm, null);
    assert.equal(w1.normL2, 2);
  });

  it('1×1 kernels have entropy 0 (one variance); 1×3 and 5×5 work', () => {
    const m11 = measure(randomLayer([16, 8, 1, 1], 2), [16, 8, 1, 1]).metrics;
    assert.equal(m11.varianceEntropy, 0);
    const m13 = measure(randomLayer([8, 8, 1, 3], 3), [8, 8, 1, 3]).metrics;
    assert.ok(m13.varianceEntropy! > 0 && m13.varianceEntropy! <= Math.log10(3) + 1e-12);
    const m55 = measure(randomLayer([8, 8, 5, 5], 4), [8, 8, 5, 5]).metrics;
    assert.ok(m55.varianceEntropy! > 0 && m55.varianceEntropy! <= Math.log10(25) + 1e-12);
  });

  it('accepts float32 and float64 alike', () => {
    const w32 = randomLayer([12, 5, 3, 3], 5);
    const a = measure(w32, [12, 5, 3, 3]).metrics;
    const b = measure(new Float64Array(w32), [12, 5, 3, 3]).metrics;
    assert.deepEqual(a, b);
  });

  it('empty layers and bad shapes', () => {
    const m = measure([], [0, 3, 3, 3]).metrics;
    assert.equal(m.n, 0);
    assert.equal(m.sparsity, 0);
    assert.equal(m.orthogonality, null);
    assert.throws(() => measure([1, 2, 3], [1, 1, 3]), RangeError);
    assert.throws(() => measure([1, 2, 3], [1, 1, 1, 2]), RangeError);
    assert.throws(() => measure([1, 2], [1, 1, 1, 2], -1), RangeError);
  });
});

describe('measureLayer: non-finite weights', () => {
  it('counts NaN / Infinity, nulls what would be NaN, keeps finite-only norms and sparsity', () => {
    const w = randomLayer([8, 2, 3, 3], 6);
    w[5] = Number.NaN;
    w[20] = Number.POSITIVE_INFINITY;
    w[21] = Number.NEGATIVE_INFINITY;
    const { metrics, nonFinite } = measure(w, [8, 2, 3, 3]);
    assert.equal(nonFinite, 3);
    for (const key of KEYS) {
      const v = metrics[key];
      assert.ok(v === null || Number.isFinite(v), `${key} = ${v}`);
    }
    assert.equal(metrics.varianceEntropy, null);
    assert.equal(metrics.varianceEntropyClean, null);
    assert.equal(metrics.orthogonality, null);
    assert.equal(metrics.normL1Norm, null);
    let l1 = 0;
    for (const x of w) if (Number.isFinite(x)) l1 += Math.abs(x);
    assertClose(metrics.normL1, l1, 'finite L1', 1e-12);
    assert.equal(metrics.sparsity, 0);
    const flags = flagLayer(metrics, nonFinite, [8, 2, 3, 3]);
    const nf = flags.find((f) => f.id === 'non-finite');
    assert.ok(nf, JSON.stringify(flags));
    assert.match(nf.reason, /^3 weights are NaN or infinite/);
  });

  it('a layer of only NaN', () => {
    const { metrics, nonFinite } = measure(new Float32Array(18).fill(Number.NaN), [2, 1, 3, 3]);
    assert.equal(nonFinite, 18);
    assert.equal(metrics.sparsity, 0);
    assert.equal(metrics.normL1, 0);
  });
});

interface ExpectedCase {
  name: string;
  file: string;
  shape: number[];
  options: { sparsityEps?: number };
  expected: LayerMetrics;
}

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

describe('measureLayer vs numpy (test/data/metrics/make_expected.py)', () => {
  const data = JSON.parse(readFileSync(dataPath('metrics/expected.json'), 'utf8')) as {
    cases: ExpectedCase[];
  };
  for (const c of data.cases) {
    it(c.name, () => {
      const weight = readF32(dataPath(`metrics/${c.file}`));
      const { metrics, nonFinite } = measureLayer(weight, c.shape, c.options);
      assert.equal(nonFinite, 0);
      for (const key of KEYS) {
        // orthogonality near 0 (nearly identical filters) is a difference of values near 1: absolute floor
        assertClose(
          metrics[key],
          c.expected[key],
          `${c.name} ${key}`,
          1e-9,
          key === 'orthogonality' ? 1e-13 : 1e-12,
        );
      }
    });
  }
});

describe('flagLayer', () => {
  const base: LayerMetrics = {
    n: 512,
    sparsity: 0,
    varianceEntropy: 0.7,
    varianceEntropyNorm: 0.8,
    varianceEntropyClean: 0.7,
    varianceEntropyCleanNorm: 0.8,
    orthogonality: 0.9,
    normL1: 1,
    normL2: 1,
    normL1Norm: 1,
    normL2Norm: 1,
  };
  const shape = [32, 16, 3, 3];

  it('a healthy layer has no flags', () => {
    assert.deepEqual(flagLayer(base, 0, shape), []);
  });

  it('sparse above 10%, with the numbers in the reason', () => {
    assert.deepEqual(flagLayer({ ...base, sparsity: 0.1 }, 0, shape), []);
    const flags = flagLayer({ ...base, sparsity: 0.62 }, 0, shape);
    assert.deepEqual(flags, [
      { id: 'sparse', reason: "62% of filters are near zero (< 1% of the layer's max |w|)" },
    ]);
    assert.match(flagLayer({ ...base, sparsity: 0.5 }, 0, shape, 0.05)[0].reason, /< 5% of/);
  });

  it('low-diversity below 0.5, random-like at 1 and above (3×3 only)', () => {
    assert.deepEqual(
      flagLayer({ ...base, varianceEntropyNorm: 0.49 }, 0, shape).map((f) => f.id),
      ['low-diversity'],
    );
    assert.deepEqual(flagLayer({ ...base, varianceEntropyNorm: 0.5 }, 0, shape), []);
    assert.deepEqual(flagLayer({ ...base, varianceEntropyNorm: 0.9999 }, 0, shape), []);
    const rnd = flagLayer({ ...base, varianceEntropyNorm: 1 }, 0, shape);
    assert.deepEqual(
      rnd.map((f) => f.id),
      ['random-like'],
    );
    assert.match(rnd[0].reason, /1\.00× a random layer/);
    assert.deepEqual(flagLayer({ ...base, varianceEntropyNorm: 0 }, 0, [32, 16, 1, 1]), []);
    assert.deepEqual(flagLayer({ ...base, varianceEntropyNorm: 1.4 }, 0, [32, 16, 5, 5]), []);
  });

  it('tiny: n ≤ kh·kw, or a single output filter; entropy flags suppressed', () => {
    const t = flagLayer({ ...base, n: 9, varianceEntropyNorm: 0.1 }, 0, [9, 1, 3, 3]);
    assert.deepEqual(
      t.map((f) => f.id),
      ['tiny'],
    );
    assert.match(t[0].reason, /only 9 filters of 9 values/);
    const o = flagLayer({ ...base, n: 16, orthogonality: null }, 0, [1, 16, 3, 3]);
    assert.deepEqual(
      o.map((f) => f.id),
      ['tiny'],
    );
    assert.match(o[0].reason, /single output filter/);
    assert.deepEqual(flagLayer({ ...base, n: 10 }, 0, [10, 1, 3, 3]), []);
  });

  it('flags real measurements end to end', () => {
    const zero = measure(new Float32Array(16 * 16 * 9), [16, 16, 3, 3]);
    const ids = flagLayer(zero.metrics, zero.nonFinite, [16, 16, 3, 3]).map((f) => f.id);
    assert.deepEqual(ids, ['sparse', 'low-diversity']);
    const rand = measure(randomLayer([64, 64, 3, 3], 8), [64, 64, 3, 3]);
    assert.deepEqual(
      flagLayer(rand.metrics, rand.nonFinite, [64, 64, 3, 3]).map((f) => f.id),
      ['random-like'],
    );
  });
});
