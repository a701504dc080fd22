/**
 * src/analysis/moments.ts and pca.ts against numpy (test/data/mutation/pca.json from make_pca.py; issue 20
 * item 6): peak scaling, the streaming mean/scatter merged from uneven batches, the PCA basis with its sign rule
 * and clamped eigenvalues, the explained-variance ratios and the projections.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { batchMoments, emptyMoments, mergeMoments, peakScale } from '../src/analysis/moments.js';
import { flatComponents, pcaFromMoments, projectBatch, signByLargest } from '../src/analysis/pca.js';
import { minstdWeights as weights } from './support/minstd.js';
import { dataPath } from './support/paths.js';

interface Case {
  kind: 'random' | 'rank2';
  n: number;
  dims: number;
  seed: number;
  scaled: number[];
  mean: number[];
  scatter: number[];
  explainedVariance: number[];
  explainedVarianceRatio: number[];
  components: number[][];
  projections: number[];
}
/** make_pca.py's filters: generator values (or a rank-2 product), every 5th row zero. */
function filters(c: Case): Float64Array {
  let f: Float64Array;
  if (c.kind === 'random') f = weights(c.n * c.dims, c.seed);
  else {
    const a = weights(c.n * 2, c.seed);
    const b = weights(2 * c.dims, c.seed + 1);
    f = new Float64Array(c.n * c.dims);
    for (let r = 0; r < c.n; r++)
      for (let j = 0; j < c.dims; j++) f[r * c.dims + j] = a[r * 2] * b[j] + a[r * 2 + 1] * b[c.dims + j];
  }
  for (let r = 0; r < c.n; r += 5) f.fill(0, r * c.dims, (r + 1) * c.dims);
  return f;
}
function near(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

const data = JSON.parse(readFileSync(dataPath('mutation/pca.json'), 'utf8')) as { cases: Case[] };

for (const c of data.cases) {
  describe(`${c.kind}: ${c.n} filters of ${c.dims} values against numpy`, () => {
    const scaled = peakScale(filters(c), c.n, c.dims, new Float64Array(c.n * c.dims));

    test('peak scaling: each filter divided by its max |value|, zero filters stay zero', () => {
      // random filters are bit-identical inputs, so the divisions agree exactly; numpy's matrix product for the
      // rank-2 filters may round (fused multiply-add) differently from the loop here: a few ulp
      near(scaled, c.scaled, c.kind === 'random' ? 0 : 1e-15, 'scaled');
    });

    test('moments of uneven batches merged (Chan) equal numpy’s mean and scatter of all filters', () => {
      const whole = batchMoments(scaled, c.n, c.dims);
      assert.equal(whole.n, c.n);
      near(whole.mean, c.mean, 1e-15, 'mean');
      near(whole.scatter, c.scatter, 1e-13, 'scatter');
      // batches of 0, 1, 7, 13, … rows merged into an empty accumulator
      const merged = emptyMoments(c.dims);
      let r = 0;
      for (const size of [0, 1, 7, 13, 2, 100]) {
        const count = Math.min(size, c.n - r);
        mergeMoments(merged, batchMoments(scaled.subarray(r * c.dims, (r + count) * c.dims), count, c.dims));
        r += count;
      }
      assert.equal(r, c.n);
      assert.equal(merged.n, c.n);
      near(merged.mean, c.mean, 1e-15, 'merged mean');
      near(merged.scatter, c.scatter, 1e-13, 'merged scatter');
    });

    test('PCA: eigenvalues (clamped at 0), ratios, signed components; projections of the filters', () => {
      const basis = pcaFromMoments(batchMoments(scaled, c.n, c.dims));
      assert.equal(basis.dims, c.dims);
      assert.equal(basis.count, c.n);
      near(basis.mean, c.mean, 1e-15, 'mean');
      near(basis.explainedVariance, c.explainedVariance, 1e-14, 'explained variance');
      for (const v of basis.explainedVariance) assert.ok(v >= 0, 'clamped');
      near(basis.explainedVarianceRatio, c.explainedVarianceRatio, 1e-13, 'ratio');
      // components of (near-)zero eigenvalues are not unique (any basis of the null space): compare the others
      c.components.forEach((comp, i) => {
        if (c.explainedVariance[i] > 1e-10) near(basis.components[i], comp, 1e-11, `component ${i}`);
      });
      const flat = flatComponents(basis);
      assert.deepEqual([...flat], basis.components.flat());
      const proj = projectBatch(
        scaled,
        c.n,
        c.dims,
        Float64Array.from(basis.mean),
        flat,
        new Float64Array(c.n * c.dims),
      );
      for (let r = 0; r < c.n; r++)
        for (let i = 0; i < c.dims; i++)
          if (c.explainedVariance[i] > 1e-10)
            assert.ok(
              Math.abs(proj[r * c.dims + i] - c.projections[r * c.dims + i]) <= 1e-12,
              `projection ${r},${i}`,
            );
    });
  });
}

describe('moments and PCA: hand-derived edge cases', () => {
  test('merging an empty batch changes nothing; merging into an empty one copies it; dims must agree', () => {
    const a = batchMoments(Float64Array.of(1, 2, 3, 6), 2, 2); // mean (2, 4), scatter [[2, 4], [4, 8]]
    assert.deepEqual([...a.mean], [2, 4]);
    assert.deepEqual([...a.scatter], [2, 4, 4, 8]);
    assert.equal(mergeMoments(a, emptyMoments(2)), a);
    assert.deepEqual([...a.scatter], [2, 4, 4, 8]);
    const e = mergeMoments(emptyMoments(2), a);
    assert.equal(e.n, 2);
    assert.deepEqual([...e.mean], [2, 4]);
    assert.deepEqual([...e.scatter], [2, 4, 4, 8]);
    assert.throws(() => mergeMoments(a, batchMoments(Float64Array.of(1, 2, 3), 1, 3)), {
      name: 'RangeError',
      message: 'cannot merge moments of 2 and 3 values',
    });
    assert.equal(batchMoments(new Float64Array(0), 0, 4).n, 0);
  });

  test('PCA of fewer than 2 filters: RangeError; of identical filters: zero variance, ratios 0 (not NaN)', () => {
    assert.throws(() => pcaFromMoments(batchMoments(Float64Array.of(1, 2), 1, 2)), {
      name: 'RangeError',
      message: 'PCA needs at least 2 filters, got 1',
    });
    const b = pcaFromMoments(batchMoments(Float64Array.of(1, 2, 1, 2, 1, 2), 3, 2));
    assert.deepEqual(b.explainedVariance, [0, 0]);
    assert.deepEqual(b.explainedVarianceRatio, [0, 0]);
  });

  test('signByLargest: flips when the largest |entry| is negative, the first one on ties', () => {
    assert.deepEqual(signByLargest([0.1, -0.5, 0.3]), [-0.1, 0.5, -0.3]);
    assert.deepEqual(signByLargest([0.5, -0.5]), [0.5, -0.5]);
    assert.deepEqual(signByLargest([-0.5, 0.5]), [0.5, -0.5]);
    assert.deepEqual(signByLargest([0.2, 0.1]), [0.2, 0.1]);
  });
});
