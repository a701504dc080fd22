/**
 * Corners of src/analysis/pca.ts that the numpy comparison (test/pca-moments.test.ts) does not reach (issue 20
 * item 6, mutants that survived it): the smallest fit (2 filters), the number of components, and projectBatch on
 * buffers longer than `count` rows (the batch readers reuse their buffers). Expected values are worked out by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchMoments } from '../src/analysis/moments.js';
import { flatComponents, pcaFromMoments, projectBatch } from '../src/analysis/pca.js';

const r = Math.SQRT1_2;

describe('pcaFromMoments', () => {
  test('fits 2 filters (the least it accepts) and returns dims components; 1 filter is refused', () => {
    // filters (1, 0) and (0, 1): mean (0.5, 0.5), covariance [[0.5, -0.5], [-0.5, 0.5]] (n − 1 = 1),
    // eigenvalues 1 and 0, first component ±(1, −1)/√2 signed by its first entry (a tie in |value|)
    const basis = pcaFromMoments(batchMoments(Float64Array.of(1, 0, 0, 1), 2, 2));
    assert.equal(basis.count, 2);
    assert.deepEqual(basis.mean, [0.5, 0.5]);
    assert.equal(basis.components.length, 2);
    for (const c of basis.components) assert.equal(c.length, 2);
    const [first] = basis.components;
    assert.ok(Math.abs(first[0] - r) < 1e-12 && Math.abs(first[1] + r) < 1e-12, `first component ${first}`);
    assert.ok(Math.abs(basis.explainedVariance[0] - 1) < 1e-12);
    assert.ok(Math.abs(basis.explainedVariance[1]) < 1e-12);
    assert.ok(Math.abs(basis.explainedVarianceRatio[0] - 1) < 1e-12);
    assert.throws(() => pcaFromMoments(batchMoments(Float64Array.of(1, 0), 1, 2)), RangeError);
  });
});

describe('projectBatch', () => {
  test('writes only the first `count` rows of `out` when the buffers hold more', () => {
    // components (1, 0) and (0, 1), mean (1, 2): the projection is the centred filter
    const basis = {
      dims: 2,
      count: 3,
      mean: [1, 2],
      components: [
        [1, 0],
        [0, 1],
      ],
      explainedVariance: [1, 1],
      explainedVarianceRatio: [0.5, 0.5],
    };
    const scaled = Float64Array.of(3, 5, -1, 2, 7, 7);
    const out = new Float64Array(6).fill(9);
    projectBatch(scaled, 2, 2, Float64Array.from(basis.mean), flatComponents(basis), out);
    assert.deepEqual(Array.from(out), [2, 3, -2, 0, 9, 9]);
  });
});
