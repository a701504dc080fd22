/**
 * Corners of src/analysis/moments.ts that the numpy comparison (test/pca-moments.test.ts) does not reach
 * (issue 20 item 6, mutants that survived it): peakScale on buffers longer than `count` rows (the batch readers
 * reuse their buffers), an empty batch, merging into an empty accumulator (an exact copy, not the pairwise update
 * rounded) and merging an empty one in. Expected values are written out by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchMoments, emptyMoments, mergeMoments, peakScale } from '../src/analysis/moments.js';

describe('peakScale', () => {
  test('writes only the first `count` rows of `out` when the buffers hold more (last counted row zero)', () => {
    // three rows of 3; only the first two are counted, the third is stale data in a reused buffer
    const filters = Float64Array.of(2, -4, 1, 0, 0, 0, 5, 6, 7);
    const out = new Float64Array(9).fill(9);
    peakScale(filters, 2, 3, out);
    assert.deepEqual(Array.from(out), [0.5, -1, 0.25, 0, 0, 0, 9, 9, 9]);
  });

  test('writes only the first `count` rows of `out` when the buffers hold more (last counted row non-zero)', () => {
    const filters = Float64Array.of(-8, 2, 4, 3, 6, 1);
    const out = new Float64Array(6).fill(9);
    peakScale(filters, 1, 3, out);
    assert.deepEqual(Array.from(out), [-1, 0.25, 0.5, 9, 9, 9]);
  });
});

describe('batchMoments and mergeMoments', () => {
  test('an empty batch has n = 0 and a zero mean and scatter (not 0/0)', () => {
    const m = batchMoments(new Float64Array(0), 0, 2);
    assert.equal(m.n, 0);
    assert.deepEqual(Array.from(m.mean), [0, 0]);
    assert.deepEqual(Array.from(m.scatter), [0, 0, 0, 0]);
  });

  test('merging into an empty accumulator copies the other side exactly', () => {
    // a side of 3 filters with mean (0.7, 0.2): the pairwise update would give (0.7·3)/3 = 0.6999999999999998
    // and (0.2·3)/3 = 0.20000000000000004
    const b = {
      n: 3,
      dims: 2,
      mean: Float64Array.of(0.7, 0.2),
      scatter: Float64Array.of(0.5, 0.1, 0.1, 0.3),
    };
    const a = mergeMoments(emptyMoments(2), b);
    assert.equal(a.n, 3);
    assert.deepEqual(Array.from(a.mean), [0.7, 0.2]);
    assert.deepEqual(Array.from(a.scatter), [0.5, 0.1, 0.1, 0.3]);
  });

  test('merging an empty accumulator in changes nothing, whatever its number of values', () => {
    const a = batchMoments(Float64Array.of(1, 2, 3, 5), 2, 2);
    // mean (2, 3.5), scatter [[2, 3], [3, 4.5]]
    mergeMoments(a, emptyMoments(9));
    assert.equal(a.n, 2);
    assert.deepEqual(Array.from(a.mean), [2, 3.5]);
    assert.deepEqual(Array.from(a.scatter), [2, 3, 3, 4.5]);
  });
});
