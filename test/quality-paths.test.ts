/**
 * The paths of src/metrics/quality.ts that the fixture cases do not reach (issue 20 item 6: mutants that survived
 * or were not covered): the blocked orthogonality, the exported scan and variance entropy used by the benches and
 * cohorts, sparse rows in 1×1, 5×5, 2×2 and wide layers, more than 512 output filters, non-finite weights, the
 * power-of-two rescaling of huge and tiny weights, and the work limits.
 *
 * Expected values: test/data/mutation/quality-paths.json, computed by numpy in make_quality_paths.py from the
 * same generated weights (an integer generator, bit-identical on both sides). Hand-derived cases say why.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isFilterDbError } from '../src/errors.js';
import {
  blockedOrthogonality,
  checkOrthogonalityWork,
  checkSpectrumWork,
  MetricLimitError,
  measureLayer,
  scanWeights,
  varianceEntropy,
} from '../src/metrics/quality.js';
import type { LayerMetrics } from '../src/metrics/types.js';
import { close, closeMetrics } from './support/close-metrics.js';
import { killRows, minstdLayer, minstdWeights as weights } from './support/minstd.js';
import { dataPath } from './support/paths.js';

const special = (s: string): number =>
  s === 'NaN' ? Number.NaN : s === 'Infinity' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;

interface Data {
  blocked: { rows: number; d: number; seed: number; zeroRow: number; orthogonality: number }[];
  scans: {
    n: number;
    k: number;
    seed: number;
    deadEvery: number;
    eps: number;
    nonFinite?: [number, number, string][];
    scaleRow?: number;
    expected: {
      nonFinite: number;
      maxAbs: number;
      threshold: number;
      keep: number[];
      sparseCount: number;
      normL1: number;
      normL2: number;
      normL1Norm: number | null;
      normL2Norm: number | null;
      columnSums: number[] | null;
    };
  }[];
  entropies: {
    n: number;
    k: number;
    seed: number;
    select: number[];
    all: { entropy: number; norm: number };
    selected: { entropy: number; norm: number };
  }[];
  layers: { shape: number[]; seed: number; deadEvery: number; expected: LayerMetrics }[];
  nonFiniteLayer: {
    shape: number[];
    seed: number;
    nonFinite: [number, number, string][];
    scaleRow: number;
    count: number;
    expected: LayerMetrics;
  };
}
const data = JSON.parse(readFileSync(dataPath('mutation/quality-paths.json'), 'utf8')) as Data;

describe('blockedOrthogonality against numpy', () => {
  for (const c of data.blocked) {
    test(`${c.rows} rows of ${c.d} values (one zero row)`, () => {
      const g = weights(c.rows * c.d, c.seed);
      g.fill(0, c.zeroRow * c.d, (c.zeroRow + 1) * c.d);
      close(blockedOrthogonality(g, c.rows, c.d), c.orthogonality, 'orthogonality');
      close(blockedOrthogonality(Float32Array.from(g), c.rows, c.d), c.orthogonality, 'float32 input', 1e-6);
    });
  }
  test('fewer than two rows: null', () => {
    assert.equal(blockedOrthogonality(new Float64Array(5), 1, 5), null);
  });
});

describe('scanWeights against numpy', () => {
  for (const c of data.scans) {
    test(`${c.n} filters of ${c.k} values${c.nonFinite ? ' with NaN and ±Infinity' : ''}`, () => {
      const w = killRows(weights(c.n * c.k, c.seed), c.k, c.deadEvery);
      if (c.scaleRow !== undefined) for (let j = 0; j < c.k; j++) w[c.scaleRow * c.k + j] *= 1e-4;
      for (const [r, j, v] of c.nonFinite ?? []) w[r * c.k + j] = special(v);
      const s = scanWeights(w, c.n, c.k, c.eps);
      const e = c.expected;
      assert.equal(s.nonFinite, e.nonFinite);
      assert.equal(s.maxAbs, e.maxAbs);
      close(s.threshold, e.threshold, 'threshold');
      assert.deepEqual([...s.keep], e.keep);
      assert.equal(s.sparseCount, e.sparseCount);
      close(s.normL1, e.normL1, 'normL1');
      close(s.normL2, e.normL2, 'normL2');
      close(s.normL1Norm, e.normL1Norm, 'normL1Norm');
      close(s.normL2Norm, e.normL2Norm, 'normL2Norm');
      if (e.columnSums)
        for (const [j, x] of e.columnSums.entries()) close(s.columnSums[j], x, `columnSums[${j}]`);
      assert.equal(s.w, w);
    });
  }
  test('an all-zero layer: threshold 1 (eps·0 would make nothing sparse), every filter sparse, no standardised norms', () => {
    const s = scanWeights(new Float64Array(18), 6, 3, 0.01);
    assert.equal(s.threshold, 1);
    assert.equal(s.sparseCount, 6);
    assert.deepEqual([...s.keep], [0, 0, 0, 0, 0, 0]);
    assert.equal(s.normL1Norm, null);
    assert.equal(s.normL2Norm, null);
  });
  test('a single weight: no standard deviation (n − 1 = 0), so no standardised norms', () => {
    const s = scanWeights(Float64Array.of(2), 1, 1, 0.01);
    assert.equal(s.normL1Norm, null);
    assert.equal(s.normL1, 2);
    assert.equal(s.normL2, 2);
  });
});

describe('varianceEntropy against numpy (all rows and a selection)', () => {
  for (const c of data.entropies) {
    test(`${c.n} filters of ${c.k} values`, () => {
      const f = weights(c.n * c.k, c.seed);
      const all = varianceEntropy(f, c.n, c.k);
      const sel = varianceEntropy(f, c.n, c.k, Uint8Array.from(c.select));
      assert.ok(all && sel);
      close(all.entropy, c.all.entropy, 'entropy');
      close(all.norm, c.all.norm, 'norm');
      assert.equal(all.count, c.n);
      close(sel.entropy, c.selected.entropy, 'selected entropy');
      close(sel.norm, c.selected.norm, 'selected norm');
      assert.equal(
        sel.count,
        c.select.reduce((a, b) => a + b, 0),
      );
      // the variances are the covariance's eigenvalues: they sum to its trace (Σ column variances)
      if (c.k > 1) {
        let trace = 0;
        for (let j = 0; j < c.k; j++) {
          let m = 0;
          for (let r = 0; r < c.n; r++) m += f[r * c.k + j];
          m /= c.n;
          for (let r = 0; r < c.n; r++) trace += (f[r * c.k + j] - m) ** 2 / (c.n - 1);
        }
        close(
          all.variances.reduce((a, b) => a + b, 0),
          trace,
          'Σ variances = trace',
          1e-12,
        );
      }
    });
  }
  test('fewer than two rows or no values: null', () => {
    assert.equal(varianceEntropy(weights(9, 1), 1, 9), null);
    assert.equal(varianceEntropy(weights(18, 1), 2, 9, Uint8Array.of(0, 1)), null);
    assert.equal(varianceEntropy(new Float64Array(0), 4, 0), null);
  });
});

describe('measureLayer on shapes the fixtures lack, against numpy', () => {
  for (const c of data.layers) {
    test(`[${c.shape.join(', ')}]${c.deadEvery ? ' with dead filters' : ''}`, () => {
      const w = minstdLayer(c.shape, c.seed, c.deadEvery);
      const { metrics, nonFinite } = measureLayer(w, c.shape);
      assert.equal(nonFinite, 0);
      closeMetrics(metrics, c.expected, `[${c.shape}]`);
      // float32 weights take the same paths (read directly, widened per value)
      const f32 = Float32Array.from(w);
      const m32 = measureLayer(f32, c.shape).metrics;
      assert.equal(m32.sparsity, c.expected.sparsity);
      close(m32.orthogonality, c.expected.orthogonality, 'float32 orthogonality', 1e-5, 1e-6);
    });
  }

  test('non-finite weights: counted; sparsity from the finite max; norms over finite values; the rest null', () => {
    const c = data.nonFiniteLayer;
    const w = minstdLayer(c.shape, c.seed, 0);
    for (let j = 0; j < 9; j++) w[c.scaleRow * 9 + j] *= 1e-4;
    for (const [r, j, v] of c.nonFinite) w[r * 9 + j] = special(v);
    const { metrics, nonFinite } = measureLayer(w, c.shape);
    assert.equal(nonFinite, c.count);
    closeMetrics(metrics, c.expected, 'non-finite');
  });
});

describe('measureLayer: hand-derived cases', () => {
  // numpy's [24, 8, 3, 3] case (sparse rows): every metric but the two norms is scale-free, and multiplying by a
  // power of two is exact, so the layer times 2^e has the same metrics with normL1 and normL2 times 2^e.
  const ref = data.layers.find((l) => l.shape.join() === '24,8,3,3');
  assert.ok(ref);
  const base = minstdLayer(ref.shape, ref.seed, ref.deadEvery);
  for (const e of [400, -400, -700]) {
    test(`the layer times 2^${e} (squares would over/underflow): the same metrics, norms times 2^${e}`, () => {
      const s = 2 ** e;
      const w = base.map((x) => x * s);
      const { metrics } = measureLayer(w, ref.shape);
      const exp = ref.expected;
      closeMetrics(
        metrics,
        { ...exp, normL1: (exp.normL1 as number) * s, normL2: (exp.normL2 as number) * s },
        `2^${e}`,
      );
    });
  }
  test('the layer times 2^1020: L1 (≈ 371·2^1020 > 1.8e308) overflows to null, L2 (≈ 11.1·2^1020) does not', () => {
    const w = base.map((x) => x * 2 ** 1020);
    const { metrics } = measureLayer(w, ref.shape);
    assert.equal(metrics.normL1, null);
    close(metrics.normL2, (ref.expected.normL2 as number) * 2 ** 1020, 'normL2');
    close(metrics.orthogonality, ref.expected.orthogonality, 'orthogonality');
    close(metrics.varianceEntropy, ref.expected.varianceEntropy, 'entropy');
  });

  test('identical filters have zero variance: entropy exactly 0, also over the kept rows when some are sparse', () => {
    // 10 copies of one 3×3 filter with values that do not sum exactly (0.1·10 ≠ 1 in float64), then 2 zero rows
    const f = [0.1, -0.3, 0.7, 0.11, 0.2, -0.9, 0.33, 0.05, -0.6];
    const w = new Float64Array(12 * 9);
    for (let r = 0; r < 10; r++) w.set(f, r * 9);
    const full = measureLayer(w.subarray(0, 90), [10, 1, 3, 3]).metrics;
    assert.equal(full.varianceEntropy, 0);
    assert.equal(full.varianceEntropyNorm, 0);
    // zero rows first, so the kept rows start at row 2
    const withDead = new Float64Array(12 * 9);
    withDead.set(w.subarray(0, 90), 18);
    const m = measureLayer(withDead, [12, 1, 3, 3]).metrics;
    assert.equal(m.sparsity, 2 / 12);
    assert.equal(m.varianceEntropyClean, 0);
    assert.ok((m.varianceEntropy as number) > 0, 'the full set has the zero rows: non-zero variance');
    // the same for a 5×5 kernel (the general loops) and a 1×2 one
    const f25 = Float64Array.from({ length: 25 }, (_, j) => 0.1 * (j + 1));
    const w25 = new Float64Array(4 * 25);
    for (let r = 1; r < 4; r++) w25.set(f25, r * 25);
    assert.equal(measureLayer(w25, [4, 1, 5, 5]).metrics.varianceEntropyClean, 0);
  });

  test('an all-zero layer: sparsity 1, full entropy 0, no clean set, orthogonality 1 − out/(out(out−1))', () => {
    const { metrics } = measureLayer(new Float64Array(4 * 2 * 9), [4, 2, 3, 3]);
    assert.deepEqual(metrics, {
      n: 8,
      sparsity: 1,
      varianceEntropy: 0,
      varianceEntropyNorm: 0,
      varianceEntropyClean: null,
      varianceEntropyCleanNorm: null,
      // zero rows count 1 on the diagonal: |0 − 1| for each of the 4 → 1 − 4/12
      orthogonality: 1 - 4 / 12,
      normL1: 0,
      normL2: 0,
      normL1Norm: null,
      normL2Norm: null,
    });
  });

  test('bad shapes and options: RangeErrors that say what is wrong', () => {
    assert.throws(() => measureLayer(new Float64Array(9), [1, 3, 3]), {
      name: 'RangeError',
      message: 'measureLayer: need a rank-4 weight [out, inPerGroup, kh, kw], got shape [1, 3, 3]',
    });
    assert.throws(() => measureLayer(new Float64Array(9), [1, 1, 3, 3.5]), {
      message: 'measureLayer: bad shape [1, 1, 3, 3.5]',
    });
    assert.throws(() => measureLayer(new Float64Array(9), [1, 1, -3, -3]), {
      message: 'measureLayer: bad shape [1, 1, -3, -3]',
    });
    assert.throws(() => measureLayer(new Float64Array(8), [1, 1, 3, 3]), {
      message: 'measureLayer: shape [1, 1, 3, 3] needs 9 values, got 8',
    });
    for (const eps of [-0.01, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(() => measureLayer(new Float64Array(9), [1, 1, 3, 3], { sparsityEps: eps }), {
        message: `measureLayer: sparsityEps must be ≥ 0, got ${eps}`,
      });
    // eps 0 is allowed: nothing is below a threshold of 0 … except that 0·max = 0 falls back to 1
    assert.equal(
      measureLayer(Float64Array.of(0.5, 2), [2, 1, 1, 1], { sparsityEps: 0 }).metrics.sparsity,
      0.5,
    );
  });
});

describe('the work limits', () => {
  const tooLarge = (re: RegExp) => (e: unknown) =>
    e instanceof MetricLimitError && isFilterDbError(e) && e.code === 'too-large' && re.test(e.detail);

  test('orthogonality: out²/2·(d + 32) multiply-adds allowed up to 2^37 inclusive', () => {
    // 4096²/2 = 2^23 and 16352 + 32 = 2^14: exactly 2^37
    checkOrthogonalityWork(4096, 16352);
    assert.throws(
      () => checkOrthogonalityWork(4096, 16353),
      tooLarge(
        /^4096 output filters of 16353 values: orthogonality needs 1\.37e\+11 multiply-adds \(limit 1\.37e\+11\)$/,
      ),
    );
  });

  test('variance entropy: the spectrum order (k, or n for wide kernels with fewer filters) up to 2048', () => {
    checkSpectrumWork(2048, 4000); // order n = 2048
    assert.throws(
      () => checkSpectrumWork(2049, 4000),
      tooLarge(
        /^2049 filters of 4000 values: variance entropy needs the spectrum of a 2049×2049 matrix \(limit 2048\)$/,
      ),
    );
    checkSpectrumWork(5000, 2048); // order k = 2048
    assert.throws(() => checkSpectrumWork(5000, 2049), tooLarge(/2049×2049/));
    checkSpectrumWork(2, 100000); // order n = 2
    checkSpectrumWork(1, 3000); // a single filter has no spectrum to compute
    assert.throws(() => checkSpectrumWork(2049, 2049), tooLarge(/2049×2049/));
  });
});
