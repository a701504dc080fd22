/**
 * Hand-derived exact cases for src/metrics/quality.ts that the fixtures and quality-paths.test.ts leave open
 * (issue 20 item 6: mutants that survived them): the per-row summation of the first pass, the largest finite
 * double, ±Infinity in the standardised norms, exactly two values / rows / kept filters, a column constant over
 * the kept rows only, a scatter with a negative rounding eigenvalue, no kernel values. Kept small and fast
 * (the mutation run starts it once per mutant); the wide-kernel cases are in quality-wide.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  blockedOrthogonality,
  measureLayer,
  orthogonality,
  scanWeights,
  varianceEntropy,
  varianceEntropyOfScatter,
} from '../src/metrics/quality.js';
import { close } from './support/close-metrics.js';

describe('the first pass sums each filter row before adding rows (hand-derived)', () => {
  // Row sums are exact here (2^53 and 1 + 1 = 2), and 2^53 + 2 is a double; a value-by-value sum would lose
  // both ones (2^53 + 1 rounds to 2^53, twice).
  const big = 2 ** 53;
  for (const k of [3, 9]) {
    test(`k = ${k}: L1 of rows [2^53, 0, …] and [1, 1, 0, …] is exactly 2^53 + 2`, () => {
      const w = new Float64Array(2 * k);
      w[0] = big;
      w[k] = 1;
      w[k + 1] = 1;
      assert.equal(measureLayer(w, [2, 1, 1, k]).metrics.normL1, big + 2);
      assert.equal(scanWeights(w, 2, k, 0.01).normL1, big + 2);
    });
  }
});

describe('non-finite and extreme weights (hand-derived)', () => {
  test('the largest finite double is finite: not counted, the layer is measured', () => {
    const w = Float64Array.of(Number.MAX_VALUE, 1, -0.5, 0.25);
    const { metrics, nonFinite } = measureLayer(w, [2, 1, 1, 2]);
    assert.equal(nonFinite, 0);
    assert.equal(metrics.sparsity, 0.5); // 1 < 0.01·MAX: the second filter is sparse
    assert.equal(metrics.normL2, Number.MAX_VALUE); // √(MAX² + 1.3125) rounds to MAX
    assert.notEqual(metrics.orthogonality, null);
    const s = scanWeights(w, 2, 2, 0.01);
    assert.equal(s.nonFinite, 0);
    assert.equal(s.maxAbs, Number.MAX_VALUE);
  });

  test('NaN beside a weight too large to square: counted (the layer is not rescaled), norms over the finite ones', () => {
    const w = Float64Array.of(Number.NaN, 2 ** 400, 1, 2);
    const { metrics, nonFinite } = measureLayer(w, [2, 1, 1, 2]);
    assert.equal(nonFinite, 1);
    assert.equal(metrics.normL1, 2 ** 400); // 2^400 + 3 rounds to 2^400
    assert.equal(metrics.normL2, 2 ** 400);
    assert.equal(metrics.normL1Norm, null);
    assert.equal(metrics.orthogonality, null);
  });

  test('+Infinity: no standardised norms (the finite mean would give ∞/∞)', () => {
    const w = Float64Array.of(Number.POSITIVE_INFINITY, 1, 2, 3);
    const s = scanWeights(w, 1, 4, 0.01);
    assert.equal(s.nonFinite, 1);
    assert.equal(s.normL1, 6);
    assert.equal(s.normL1Norm, null);
    assert.equal(s.normL2Norm, null);
    const { metrics } = measureLayer(w, [1, 1, 2, 2]);
    assert.equal(metrics.normL1Norm, null);
    assert.equal(metrics.normL2Norm, null);
    assert.equal(metrics.normL1, 6);
  });

  test('scanWeights on two values whose squares overflow: standardised norms √2 and 1 from the exact mean', () => {
    // a = 2^520 (a² > MAX), b = a + 2 ulps: Σ = 2a + 2 ulps exactly, mean = a + 1 ulp, deviations ±1 ulp
    // (ulp = 2^468, squares 2^936): std = √2 ulp, L1 = 2 ulp, L2 = √2 ulp.
    const a = 2 ** 520;
    const w = Float64Array.of(a, a + 2 * 2 ** 468);
    const s = scanWeights(w, 1, 2, 0.01);
    assert.equal(s.nonFinite, 0);
    assert.equal(s.normL2, Number.POSITIVE_INFINITY);
    close(s.normL1Norm, Math.SQRT2, 'normL1Norm', 1e-15);
    assert.equal(s.normL2Norm, 1);
  });
});

describe('exactly two (hand-derived)', () => {
  test('two weights: std = |a − b|/√2, so L1/std = √2 and L2/std = 1', () => {
    const w = Float64Array.of(1, 3);
    const { metrics } = measureLayer(w, [1, 1, 1, 2]);
    close(metrics.normL1Norm, Math.SQRT2, 'normL1Norm', 1e-15);
    close(metrics.normL2Norm, 1, 'normL2Norm', 1e-15);
    const s = scanWeights(w, 1, 2, 0.01);
    close(s.normL1Norm, Math.SQRT2, 'scan normL1Norm', 1e-15);
    close(s.normL2Norm, 1, 'scan normL2Norm', 1e-15);
  });

  test('varianceEntropy of two rows: one variance (rank 1), entropy 0, not null', () => {
    const e = varianceEntropy(Float64Array.of(0, 0, 1, 2), 2, 2);
    assert.equal(e?.count, 2);
    assert.equal(e?.entropy, 0);
    const s = varianceEntropy(Float64Array.of(0, 0, 5, 5, 1, 2), 3, 2, Uint8Array.of(1, 0, 1));
    assert.equal(s?.count, 2);
    assert.equal(s?.entropy, 0);
  });

  for (const k of [1, 2, 9, 80]) {
    test(`k = ${k}: two kept filters beside a sparse one still have a clean entropy (0: two rows, one variance)`, () => {
      const w = new Float64Array(3 * k);
      w[0] = 1; // filter 0: e_0
      w[k + (k > 1 ? 1 : 0)] = k > 1 ? 1 : -0.5; // filter 1: e_1 (k = 1: −0.5)
      w[2 * k] = 0.001; // filter 2: sparse (0.001 < 0.01·1)
      const { metrics } = measureLayer(w, [3, 1, 1, k]);
      assert.equal(metrics.sparsity, 1 / 3);
      assert.equal(metrics.varianceEntropyClean, 0);
    });
  }

  test('two output filters, e_0 and (e_0 + e_1)/√2 normalised: orthogonality 1 − 1/√2, also blocked', () => {
    for (const d of [2, 20]) {
      const g = new Float64Array(2 * d);
      g[0] = 1;
      g[d] = 1;
      g[d + 1] = 1;
      close(orthogonality(g, 2, d), 1 - Math.SQRT1_2, `orthogonality d = ${d}`, 1e-15);
      close(blockedOrthogonality(g, 2, d), 1 - Math.SQRT1_2, `blockedOrthogonality d = ${d}`, 1e-15);
    }
    assert.equal(orthogonality(new Float64Array(4), 1, 4), null);
  });
});

describe('variance entropy details (hand-derived)', () => {
  test('a column constant over the kept filters is centred exactly, even if a sparse filter differs there', () => {
    // kept rows: column 0 = 0.1 (0.1 + 0.1 + 0.1 = 0.30000000000000004, /3 ≠ 0.1: the mean must be the value
    // itself), column 1 varies: the scatter is diag(0, s), one variance, entropy exactly 0
    const w = Float64Array.of(0.1, 1, 0.1, -1, 0.1, 0.5, 0.001, 0.001);
    const { metrics } = measureLayer(w, [4, 1, 1, 2]);
    assert.equal(metrics.sparsity, 0.25);
    assert.equal(metrics.varianceEntropyClean, 0);
    assert.ok((metrics.varianceEntropy ?? 0) > 0); // over all rows column 0 varies
  });

  test('a scatter with a negative (rounding) eigenvalue counts it as 0', () => {
    const e = varianceEntropyOfScatter(Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, -0.5), 3, 5);
    close(e?.entropy ?? null, Math.log10(2), 'entropy', 1e-15);
    assert.equal(varianceEntropyOfScatter(Float64Array.of(1), 1, 1), null);
    // two rows are enough (one variance: entropy 0); no values give no entropy
    assert.equal(varianceEntropyOfScatter(Float64Array.of(2, 0, 0, 0), 2, 2)?.entropy, 0);
    assert.equal(varianceEntropyOfScatter(new Float64Array(0), 0, 5), null);
  });

  test('no kernel values ([2, 1, 0, 3]): no variance entropy, nothing kept', () => {
    const { metrics } = measureLayer(new Float64Array(0), [2, 1, 0, 3]);
    assert.equal(metrics.varianceEntropy, null);
    assert.equal(metrics.varianceEntropyClean, null);
    assert.equal(metrics.sparsity, 1);
  });
});
