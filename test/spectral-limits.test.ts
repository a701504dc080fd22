/**
 * The edges of src/metrics/spectral.ts that the WeightWatcher comparison (test/spectral.test.ts) does not pin
 * (issue 20 item 6): WeightWatcher's skip limits at their exact values, the reason texts users read, the training
 * flags at alpha = 2 and 6, the power-law fit on data small enough to do by hand, and the pooled spectrum of
 * layers whose eigenvalues are known in closed form. Every expected value is derived in the comments.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EMPTY_SPECTRAL,
  fitPowerLaw,
  pooledSpectrum,
  spectralMetrics,
  spectralSkipReason,
  trainingFlags,
} from '../src/metrics/spectral.js';

const close = (a: number | null, e: number, what: string, rel = 1e-12): void => {
  assert.ok(a !== null && Math.abs(a - e) <= rel * Math.abs(e), `${what}: ${a} vs ${e}`);
};

describe("WeightWatcher's skip limits", () => {
  test('fewer than 10 pooled eigenvalues (M·kh·kw): skipped, with the count in words', () => {
    // M = min(out, in) = 1, rf = 9 → 9
    assert.equal(
      spectralSkipReason([48, 1, 3, 3]),
      'only 9 eigenvalues (M·kh·kw = 1·9): WeightWatcher skips layers with fewer than 10 (min_evals)',
    );
    assert.equal(
      spectralSkipReason([4, 1, 1, 1]),
      'only 1 eigenvalue (M·kh·kw = 1·1): WeightWatcher skips layers with fewer than 10 (min_evals)',
    );
    assert.equal(spectralSkipReason([10, 10, 1, 1]), null); // exactly 10: analysed
    assert.equal(spectralSkipReason([5, 2, 1, 5]), null); // M = 2, rf = 5 → 10
  });

  test('more than 15000: skipped; exactly 15000 is analysed', () => {
    assert.equal(spectralSkipReason([3000, 3000, 1, 5]), null); // 3000·5 = 15000
    assert.equal(
      spectralSkipReason([3001, 3001, 1, 5]),
      '15005 eigenvalues (M·kh·kw = 3001·5): WeightWatcher skips layers with more than 15000 (max_evals)',
    );
  });

  test('N > 50000: skipped; N = 50000 is analysed (N = max(out, in))', () => {
    assert.equal(spectralSkipReason([50000, 10, 1, 1]), null);
    assert.equal(spectralSkipReason([10, 50000, 1, 1]), null);
    assert.equal(
      spectralSkipReason([10, 50001, 1, 1]),
      'N = 50001: WeightWatcher skips layers with N > 50000 (max_N)',
    );
    assert.equal(
      spectralSkipReason([50001, 10, 1, 1]),
      'N = 50001: WeightWatcher skips layers with N > 50000 (max_N)',
    );
  });

  test('a skipped layer: every metric null, the sizes reported', () => {
    const r = spectralMetrics(new Float64Array(48 * 9), [48, 1, 3, 3]);
    assert.deepEqual(r.metrics, EMPTY_SPECTRAL);
    assert.equal(r.numEvals, 9);
    assert.equal(r.N, 48);
    assert.equal(r.M, 1);
    // 12 × 4 with 3 positions: 4·3 = 12 eigenvalues, analysed but for the non-finite count
    const nf = spectralMetrics(new Float64Array(12 * 4 * 3), [12, 4, 1, 3], 2);
    assert.deepEqual(nf, {
      metrics: EMPTY_SPECTRAL,
      reason: 'weights hold NaN or infinite values: no spectrum',
      numEvals: 12,
      N: 12,
      M: 4,
    });
  });
});

describe('training flags at their thresholds', () => {
  test('alpha exactly 2 or 6 is not flagged; the reasons carry alpha to 2 decimals', () => {
    assert.deepEqual(trainingFlags({ ...EMPTY_SPECTRAL, alpha: 2 }), []);
    assert.deepEqual(trainingFlags({ ...EMPTY_SPECTRAL, alpha: 6 }), []);
    assert.deepEqual(trainingFlags({ ...EMPTY_SPECTRAL, alpha: 1.995 }), [
      {
        id: 'over-trained',
        reason:
          "alpha 2.00 < 2: over-trained (WeightWatcher: the layer's spectrum is very heavy-tailed, it may be over-fit)",
      },
    ]);
    assert.deepEqual(trainingFlags({ ...EMPTY_SPECTRAL, alpha: 6.5 }), [
      {
        id: 'under-trained',
        reason:
          'alpha 6.50 > 6: under-trained (WeightWatcher: the spectrum is close to random, the layer has learned little correlation)',
      },
    ]);
  });
});

describe('the power-law fit by hand', () => {
  test('fewer than 2 values: no fit', () => {
    assert.equal(fitPowerLaw(new Float64Array(0)), null);
    assert.equal(fitPowerLaw(Float64Array.of(3)), null);
  });

  test('two values [1, e]: xmin = 1, alpha = 1 + 2/(ln 1 + ln e − 2·ln 1) = 3, D = |1 − e^(−2) − 1/2|', () => {
    const fit = fitPowerLaw(Float64Array.of(1, Math.E));
    assert.ok(fit);
    close(fit.alpha, 3, 'alpha');
    assert.equal(fit.xmin, 1);
    // KS terms: k = 0 → |1 − 1 − 0| = 0; k = 1 → |1 − (e/1)^(1−3) − 1/2| = 1/2 − e^−2
    close(fit.D, 0.5 - Math.exp(-2), 'D');
    close(fit.sigma, 2 / Math.sqrt(2), 'sigma = (alpha − 1)/√(n − i)');
  });

  test('three values [1, e, e²]: the first candidate wins (D 0.2988 vs 0.3647 for xmin = e)', () => {
    // i = 0: m = 3, Σ ln = 0 + 1 + 2 = 3 → alpha = 1 + 3/3 = 2; terms |1 − x^(−1) − k/3|:
    //   k = 0: 0; k = 1: |1 − e^−1 − 1/3| = 0.29879…; k = 2: |1 − e^−2 − 2/3| = 0.19800… → D = 1 − e^−1 − 1/3
    // i = 1: m = 2, Σ ln = 1 + 2 = 3, m·ln xmin = 2 → alpha = 1 + 2/1 = 3; k = 1: |1 − e^(−2) − 1/2| = 0.36466…
    const fit = fitPowerLaw(Float64Array.of(1, Math.E, Math.E ** 2));
    assert.ok(fit);
    close(fit.alpha, 2, 'alpha');
    assert.equal(fit.xmin, 1);
    close(fit.D, 1 - Math.exp(-1) - 1 / 3, 'D');
    close(fit.sigma, 1 / Math.sqrt(3), 'sigma');
  });
});

describe('pooled spectra known in closed form', () => {
  test('W[:, :, s] = c_s·I (3×3, two kernel positions): eigenvalues c_s²/2 three times each, no rank loss', () => {
    // out = in = 3, kh = 1, kw = 2: weight[(o·3 + c)·2 + s] = c_s when o = c
    const w = new Float64Array(3 * 3 * 2);
    for (let o = 0; o < 3; o++) {
      w[(o * 3 + o) * 2] = 2;
      w[(o * 3 + o) * 2 + 1] = 3;
    }
    const { evals, rankLoss, N, M } = pooledSpectrum(w, [3, 3, 1, 2]);
    assert.deepEqual([...evals], [2, 2, 2, 4.5, 4.5, 4.5]); // 2²/2, 3²/2, ascending
    assert.equal(rankLoss, 0);
    assert.equal(N, 3);
    assert.equal(M, 3);
  });

  test('a wide layer (out < in): W is out × in, the Gram of its rows; a dead output channel is lost rank', () => {
    // out = 2, in = 5, 1×1: row 0 = (1, 1, 1, 1, 0), row 1 = 0 → WWᵀ/2 = diag(4/2, 0)
    const w = Float64Array.of(1, 1, 1, 1, 0, 0, 0, 0, 0, 0);
    const { evals, rankLoss, N, M } = pooledSpectrum(w, [2, 5, 1, 1]);
    assert.deepEqual([...evals], [0, 2]);
    assert.equal(rankLoss, 1);
    assert.equal(N, 5);
    assert.equal(M, 2);
    // the same matrix stored transposed (out = 5, in = 2): the same spectrum
    const t = Float64Array.of(1, 0, 1, 0, 1, 0, 1, 0, 0, 0);
    assert.deepEqual([...pooledSpectrum(t, [5, 2, 1, 1]).evals], [0, 2]);
  });

  test('spectralMetrics of 10 diagonal matrices: the norm metrics in closed form, one eigenvalue below 1e-5', () => {
    // out = in = 2, kh = 1, kw = 5 → 10 eigenvalues: position s holds diag(a_s, b_s)
    const diag = [
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
      [9, 0.001],
    ];
    const w = new Float64Array(2 * 2 * 5);
    diag.forEach(([a, b], s) => {
      w[(0 * 2 + 0) * 5 + s] = a;
      w[(1 * 2 + 1) * 5 + s] = b;
    });
    const r = spectralMetrics(w, [2, 2, 1, 5]);
    const evals = diag.flat().map((x) => (x * x) / 2);
    const sum = evals.reduce((s, v) => s + v, 0);
    const max = 81 / 2;
    assert.equal(r.reason, null);
    close(r.metrics.logNorm, Math.log10(sum), 'logNorm');
    close(r.metrics.logSpectralNorm, Math.log10(max), 'logSpectralNorm');
    close(r.metrics.stableRank, sum / max, 'stableRank');
    // rank 10 (0.001²/2 = 5e-7 > λmax·N·eps = 40.5·2·2.2e-16): −Σ p ln p / ln 10
    const h = -evals.reduce((s, v) => s + (v / sum) * Math.log(v / sum), 0);
    close(r.metrics.matrixEntropy, h / Math.log(10), 'matrixEntropy');
    assert.equal(r.metrics.rankLoss, 0);
    // the fit uses the 9 eigenvalues > 1e-5; alpha·log10 λmax
    const fit = fitPowerLaw(Float64Array.from(evals.filter((v) => v > 1e-5).sort((a, b) => a - b)));
    assert.ok(fit && r.metrics.alpha !== null);
    close(r.metrics.alpha, fit.alpha, 'alpha');
    close(r.metrics.alphaWeighted, fit.alpha * Math.log10(max), 'alphaWeighted');
    assert.equal(r.metrics.xmin, fit.xmin);
    assert.equal(r.metrics.numPlSpikes, evals.filter((v) => v >= fit.xmin).length);
  });

  test('one eigenvalue above 1e-5: the fit fails, said in words; an all-zero layer has no spectrum', () => {
    // out = in = 1, kh = kw... M·rf ≥ 10 needs 10 positions: 1×10, only position 0 non-zero
    const w = new Float64Array(10);
    w[0] = 2;
    const r = spectralMetrics(w, [1, 1, 1, 10]);
    assert.equal(r.reason, 'power-law fit failed: 1 eigenvalue above 0.00001 (need 2)');
    assert.equal(r.metrics.alpha, null);
    assert.equal(r.metrics.rankLoss, 9);
    close(r.metrics.logSpectralNorm, Math.log10(2), 'λmax = 2²/2');
    // rank 1 → ln 1.000001 in the denominator, p ln p = 0
    assert.equal(r.metrics.matrixEntropy, 0);
    // λ = 0.001²/2 = 5e-7: positive, but none above 1e-5
    w[0] = 0.001;
    assert.equal(
      spectralMetrics(w, [1, 1, 1, 10]).reason,
      'power-law fit failed: 0 eigenvalues above 0.00001 (need 2)',
    );
    const zero = spectralMetrics(new Float64Array(10), [1, 1, 1, 10]);
    assert.equal(zero.reason, 'all eigenvalues are zero (an all-zero layer): no spectrum to fit');
    assert.equal(zero.metrics.rankLoss, 10);
    assert.equal(zero.metrics.logNorm, null);
  });
});
