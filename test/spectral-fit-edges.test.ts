/**
 * Edges of src/metrics/spectral.ts that neither the WeightWatcher comparison (spectral.test.ts) nor the
 * hand-derived limits (spectral-limits.test.ts) reach (issue 20 item 6): tied top eigenvalues (alpha = ∞, fixed
 * to WeightWatcher's D), exact ties of D between xmin candidates (repeated eigenvalues, as quantised weights
 * give), values WeightWatcher's `alpha > 1` test skips, the 1e-5 threshold and the rank tolerance at their exact
 * values, and the rounding clamp of the eigenvalues. Expected fits come from the WWFit transcription of
 * test/data/spectral/make_expected.py (`ww_fit`, run on these data with numpy) and from the plain in-order
 * search below; the rest is derived in the comments.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fitPowerLaw, pooledSpectrum, spectralMetrics } from '../src/metrics/spectral.js';

const close = (a: number | null | undefined, e: number, what: string, rel = 1e-12): void => {
  assert.ok(a != null && Math.abs(a - e) <= rel * Math.abs(e), `${what}: ${a} vs ${e}`);
};

/** WWFit as WeightWatcher writes it: every candidate in index order, numpy's powers, the first smallest D. */
function plainFit(data: number[]): { i: number; alpha: number; D: number } {
  let best = { i: -1, alpha: 0, D: Number.POSITIVE_INFINITY };
  for (let i = 0; i < data.length - 1; i++) {
    const m = data.length - i;
    let s = 0;
    for (let k = i; k < data.length; k++) s += Math.log(data[k] / data[i]);
    const alpha = 1 + m / s;
    let D = 1;
    if (alpha > 1) {
      D = 0;
      for (let k = 0; k < m; k++) {
        // numpy: 1 ** −inf = 1 (JavaScript's 1 ** −Infinity is NaN)
        const p = data[i + k] === data[i] ? 1 : (data[i + k] / data[i]) ** (1 - alpha);
        D = Math.max(D, Math.abs(1 - p - k / m));
      }
    }
    if (D < best.D) best = { i, alpha, D };
  }
  return best;
}

/** Sorted data from run lengths: counts[v − 1] copies of v. */
const runs = (counts: number[]): number[] => counts.flatMap((c, v) => new Array<number>(c).fill(v + 1));

describe('fitPowerLaw: tied top values (alpha = ∞)', () => {
  test('[1, 2, 2]: xmin = 2 has alpha = ∞ and D = 1/2 (not 0), so xmin = 1 wins', () => {
    // regression: exp(−∞·0) = NaN made the KS terms of xmin = 2 vanish (D = 0, alpha = ∞ chosen).
    // xmin = 1: alpha = 1 + 3/(2 ln 2); terms 0, |1 − 2^(1−α) − 1/3|, |1 − 2^(1−α) − 2/3| → the first
    // xmin = 2: Σ ln(x/2) = 0 → alpha = ∞; terms |1 − 1 − 0|, |1 − 1 − 1/2| → D = 1/2 (numpy: 0.5)
    const alpha = 1 + 3 / (2 * Math.LN2);
    const fit = fitPowerLaw(Float64Array.of(1, 2, 2));
    assert.ok(fit);
    assert.equal(fit.xmin, 1);
    close(fit.alpha, alpha, 'alpha'); // numpy: 3.1640425613334453
    close(fit.D, 1 - 2 ** (1 - alpha) - 1 / 3, 'D'); // numpy: 0.4435365065182369
  });

  test('[2, 2]: the only candidate, alpha = ∞, D = 1/2 as WeightWatcher gives', () => {
    assert.deepEqual(fitPowerLaw(Float64Array.of(2, 2)), {
      alpha: Number.POSITIVE_INFINITY,
      D: 0.5,
      xmin: 2,
      sigma: Number.POSITIVE_INFINITY,
    });
  });

  test('[1, 3, 3, 3]: D = 2/3 and 1/2 for the two tied candidates, 0.4864 for xmin = 1', () => {
    // numpy's WWFit: Ds = [0.4864028618842733, 0.6666666666666666, 0.5]
    const fit = fitPowerLaw(Float64Array.of(1, 3, 3, 3));
    assert.ok(fit);
    assert.equal(fit.xmin, 1);
    const alpha = 1 + 4 / (3 * Math.log(3)); // numpy: 2.2136523021691166
    close(fit.alpha, alpha, 'alpha');
    // terms at x = 3: |1 − 3^(1−α) − k/4| for k = 1, 2, 3 → the largest at k = 1
    close(fit.D, 1 - 3 ** (1 - alpha) - 1 / 4, 'D');
  });

  test('spectralMetrics: a layer whose top eigenvalues are equal gets a finite alpha', () => {
    // 1×1 conv, 1 → 1 channels, 10 kernel positions: the eigenvalues are w²/2 = 0.5 (eight times), 2, 2
    const w = new Float64Array(10).fill(1);
    w[8] = 2;
    w[9] = 2;
    const r = spectralMetrics(w, [1, 1, 1, 10]);
    const evals = [...new Array<number>(8).fill(0.5), 2, 2];
    // numpy's WWFit: Ds = [0.7, 2/3, 0.625, 4/7, 0.5, 0.4, 0.3647, 0.4435, 0.5 (alpha = ∞)] → i = 6, the tail
    // [0.5, 0.5, 2, 2]: alpha = 1 + 4/(2 ln 4), terms 1/4, |1 − 4^(1−α) − 2/4| = 1/2 − e^−2, … (before the fix:
    // i = 8, alpha = ∞, D = 0)
    const want = plainFit(evals);
    assert.equal(want.i, 6);
    close(r.metrics.alpha, want.alpha, 'alpha');
    close(r.metrics.alpha, 1 + 2 / Math.log(4), 'alpha by hand');
    close(r.metrics.D, 0.5 - Math.exp(-2), 'D');
    assert.equal(r.metrics.xmin, 0.5);
    close(r.metrics.alphaWeighted, (1 + 2 / Math.log(4)) * Math.log10(2), 'alphaWeighted');
    assert.equal(r.metrics.numPlSpikes, 10);
  });
});

describe('fitPowerLaw: exact ties of D and the search order', () => {
  // Repeated values make many KS terms rational (k/m where x = xmin), so different xmin candidates can have
  // exactly the same D; WeightWatcher (numpy argmin) takes the first. The fit evaluates a sparse set of
  // candidates first and exits a candidate early once a term exceeds the best D: neither may change the answer.
  const cases: { counts: number[]; i: number; D: number; ties: string }[] = [
    // numpy: Ds tie at 1/3 for candidates 1 (xmin 1) and 4 (xmin 2)
    { counts: [4, 2, 1], i: 1, D: 1 / 3, ties: 'i = 1 and 4' },
    // 73 values: the best at 58 (xmin 3, D = 4/15); a sampled term of candidate 13 equals 4/15 exactly
    { counts: [41, 14, 8, 3, 4, 3], i: 58, D: 4 / 15, ties: 'none, a term of i = 13 equals D' },
    // 84 values: the best at 40 (xmin 1, D = 3/11); a sampled term of candidate 29 equals 3/11
    { counts: [53, 9, 9, 4, 7, 2], i: 40, D: 3 / 11, ties: 'none, a term of i = 29 equals D' },
    // 94 values: Ds tie at 2/7 for 31 and 52; 52 is in the sparse first pass (stride ⌊93/32⌋ = 2), 31 is not
    { counts: [50, 15, 11, 9, 8, 1], i: 31, D: 2 / 7, ties: 'i = 31 and 52' },
  ];
  for (const c of cases)
    test(`${c.counts.reduce((a, b) => a + b)} values ${JSON.stringify(c.counts)}: xmin index ${c.i} (${c.ties})`, () => {
      const data = runs(c.counts);
      const want = plainFit(data);
      assert.equal(want.i, c.i);
      assert.equal(want.D, c.D);
      const fit = fitPowerLaw(Float64Array.from(data));
      assert.ok(fit);
      assert.equal(fit.xmin, data[c.i]);
      assert.equal(fit.D, c.D);
      close(fit.alpha, want.alpha, 'alpha');
      close(fit.sigma, (want.alpha - 1) / Math.sqrt(data.length - c.i), 'sigma = (alpha − 1)/√(n − i)');
    });

  test('[1, 1, 1, 4]: the second candidate wins; sigma uses its tail length 3', () => {
    // i = 0: alpha 1 + 4/ln 4, terms 1/4, 2/4, … → D 1/2. i = 1: alpha 1 + 3/ln 4, terms 0, 1/3,
    // |1 − 4^(1−α) − 2/3| = 0.2835 → D = 1/3. i = 2: alpha 1 + 2/ln 4, D = 1/2 − 4^(1−α) = 0.3647.
    const fit = fitPowerLaw(Float64Array.of(1, 1, 1, 4));
    const alpha = 1 + 3 / Math.log(4);
    assert.ok(fit);
    assert.equal(fit.xmin, 1);
    assert.equal(fit.D, 1 / 3);
    close(fit.alpha, alpha, 'alpha');
    close(fit.sigma, (alpha - 1) / Math.sqrt(3), 'sigma');
  });
});

describe("fitPowerLaw: candidates WeightWatcher's `alpha > 1` skips", () => {
  test('a zero value: its candidate has alpha NaN (ln 0 = −∞) and D = 1, the next one is fitted', () => {
    // numpy: alpha[0] = 1 + 3/(−∞ + ∞) = NaN, not > 1 → D 1; [1, e] → alpha 3, D = 1/2 − e^−2
    const fit = fitPowerLaw(Float64Array.of(0, 1, Math.E));
    assert.ok(fit);
    assert.equal(fit.xmin, 1);
    close(fit.alpha, 3, 'alpha');
    close(fit.D, 0.5 - Math.exp(-2), 'D');
  });

  test('an infinite value: every alpha is exactly 1, not > 1: D = 1 everywhere, the first wins', () => {
    // numpy: alpha = 1 + m/∞ = 1 for both candidates → Ds = [1, 1] → argmin 0
    assert.deepEqual(fitPowerLaw(Float64Array.of(1, 2, Number.POSITIVE_INFINITY)), {
      alpha: 1,
      D: 1,
      xmin: 1,
      sigma: 0,
    });
  });

  test('NaN data: no fit', () => {
    assert.equal(fitPowerLaw(Float64Array.of(Number.NaN, Number.NaN)), null);
  });
});

describe('spectralMetrics at exact thresholds', () => {
  test('an eigenvalue of exactly 1e-5 is not fitted (WeightWatcher keeps evals > EVALS_THRESH)', () => {
    const w = new Float64Array(10);
    w[0] = 2;
    w[1] = Math.sqrt(2e-5);
    assert.equal(w[1] * w[1] * 0.5, 1e-5); // λ = w²/2 is 1e-5 exactly
    const r = spectralMetrics(w, [1, 1, 1, 10]);
    assert.equal(r.reason, 'power-law fit failed: 1 eigenvalue above 0.00001 (need 2)');
    assert.equal(r.metrics.rankLoss, 8);
  });

  test('all eigenvalues above 1e-5 and xmin the smallest: every one is a power-law spike', () => {
    // λ_k ≈ (1 − k/10)^(−1/2), the quantiles of a Pareto law with alpha 3: the fit starts at the smallest
    const w = Float64Array.from({ length: 10 }, (_, k) => Math.sqrt(2 * (1 - k / 10) ** -0.5));
    const r = spectralMetrics(w, [1, 1, 1, 10]);
    const evals = [...w].map((v) => v * v * 0.5);
    const want = plainFit(evals);
    assert.equal(want.i, 0);
    assert.equal(r.metrics.xmin, evals[0]);
    close(r.metrics.alpha, want.alpha, 'alpha');
    assert.equal(r.metrics.numPlSpikes, 10);
  });

  test('the entropy rank: an eigenvalue equal to λmax·N·eps is not counted', () => {
    // 4 × 4, 1×3: position 0 = diag(2, 2^−24, 1, 1), positions 1, 2 = I → λ = w²/2: 2, 2^−49, 0.5 × 10.
    // tol = λmax·N·eps = 2·4·2^−52 = 2^−49: rank 11 of 12 (and 1 lost in matrix 0, whose own max is 2 too)
    const w = new Float64Array(4 * 4 * 3);
    const diag = [
      [2, 2 ** -24, 1, 1],
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ];
    diag.forEach((d, s) => {
      d.forEach((v, o) => {
        w[(o * 4 + o) * 3 + s] = v;
      });
    });
    const r = spectralMetrics(w, [4, 4, 1, 3]);
    const evals = [2, 2 ** -49, ...new Array<number>(10).fill(0.5)];
    const sum = evals.reduce((a, b) => a + b, 0);
    const h = -evals.reduce((a, v) => a + (v / sum) * Math.log(v / sum), 0);
    assert.equal(r.metrics.rankLoss, 1);
    close(r.metrics.matrixEntropy, h / Math.log(11), 'matrixEntropy');
  });
});

test('pooledSpectrum: rounding negatives of a rank-1 Gram matrix are clamped to exactly 0', () => {
  // W = u vᵀ (3 × 3): WᵀW/2 = |u|²/2 · v vᵀ, eigenvalues 0, 0, |u|²|v|²/2; the solver's rounding gives
  // −5.6e-15 for one of the zeros (checked before the clamp), which must not reach the spectrum
  const u = [1, Math.SQRT2, Math.PI];
  const v = [Math.sin(1), Math.cos(3), Math.sin(7) + 0.1];
  const w = new Float64Array(9);
  for (let o = 0; o < 3; o++) for (let c = 0; c < 3; c++) w[o * 3 + c] = u[o] * v[c];
  const { evals, rankLoss } = pooledSpectrum(w, [3, 3, 1, 1]);
  const norm2 = (x: number[]) => x.reduce((a, b) => a + b * b, 0);
  assert.equal(evals[0], 0);
  assert.ok(evals[1] >= 0 && evals[1] < 1e-14, `${evals[1]}`);
  close(evals[2], (norm2(u) * norm2(v)) / 2, 'λmax', 1e-14);
  assert.equal(rankLoss, 2);
});
