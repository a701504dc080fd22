/**
 * Corners of src/analysis/histogram.ts that the bin-edge tests (test/bin-edges.test.ts) and the fixture
 * comparisons do not reach (issue 20 item 6): a degenerate range (every coefficient equal), the `length` argument
 * of RangeAccumulator.add, merges where either side holds the extreme, a group that only the merged-in side has.
 * Expected values are written out by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupHistograms, RangeAccumulator } from '../src/analysis/histogram.js';

describe('RangeAccumulator', () => {
  test('add reads only the first `length` values; an empty accumulator has lo = +∞, hi = −∞', () => {
    const r = new RangeAccumulator();
    assert.deepEqual([r.lo, r.hi], [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    r.add(Float64Array.of(5, -1, 100, -100), 2);
    assert.deepEqual([r.lo, r.hi], [-1, 5]);
    r.add([3, 4]);
    assert.deepEqual([r.lo, r.hi], [-1, 5]);
    r.add([7]);
    assert.deepEqual([r.lo, r.hi], [-1, 7]);
  });

  test('merge keeps the smaller lo and the larger hi, whichever side holds them', () => {
    const a = new RangeAccumulator();
    const b = new RangeAccumulator();
    a.add([-3, 1]);
    b.add([-1, 4]);
    a.merge(b);
    assert.deepEqual([a.lo, a.hi], [-3, 4]);
    const c = new RangeAccumulator();
    c.add([0, 9]);
    a.merge(c);
    assert.deepEqual([a.lo, a.hi], [-3, 9]);
    const d = new RangeAccumulator();
    d.add([-8, 2]);
    a.merge(d);
    assert.deepEqual([a.lo, a.hi], [-8, 9]);
    a.merge(new RangeAccumulator()); // empty: no change
    assert.deepEqual([a.lo, a.hi], [-8, 9]);
  });
});

describe('GroupHistograms', () => {
  test('a degenerate range (lo = hi, every coefficient equal): each value is counted once, nothing outside it', () => {
    const h = new GroupHistograms(2, 5, 0.25, 0.25);
    // 3 filters of 2 coefficients, all 0.25, then one filter off the range
    h.add('g', Float64Array.of(0.25, 0.25, 0.25, 0.25, 0.25, 0.25), 3);
    h.add('g', Float64Array.of(0.3, 0.2), 1);
    const counts = h.counts.get('g');
    assert.ok(counts);
    for (let c = 0; c < 2; c++) {
      const perCoefficient: number = counts.subarray(c * 5, c * 5 + 5).reduce((s, v) => s + v, 0);
      assert.equal(perCoefficient, 3, `coefficient ${c}`);
    }
    assert.equal(h.filters.get('g'), 4);
  });

  test('counts per group and coefficient; values outside [lo, hi] are not counted', () => {
    // 2 coefficients, 4 bins over [0, 4]: edges 0, 1, 2, 3, 4
    const h = new GroupHistograms(2, 4, 0, 4);
    h.add('a', Float64Array.of(0.5, 3.5, 1.5, 4, -0.1, 2), 3);
    assert.deepEqual([...(h.counts.get('a') ?? [])], [1, 1, 0, 0, 0, 0, 1, 2]);
    assert.equal(h.filters.get('a'), 3);
    h.add('b', Float64Array.of(9, 9), 0); // zero filters: the group exists with nothing counted
    assert.deepEqual([...(h.counts.get('b') ?? [])], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(h.filters.get('b'), 0);
  });

  test('merge adds counts and filter numbers; a group only the other side has is copied, not shared', () => {
    const a = new GroupHistograms(1, 2, 0, 2);
    const b = new GroupHistograms(1, 2, 0, 2);
    a.add('x', Float64Array.of(0.5), 1);
    b.add('x', Float64Array.of(1.5, 0.1), 2);
    b.add('y', Float64Array.of(1.9), 1);
    a.merge(b);
    assert.deepEqual([...(a.counts.get('x') ?? [])], [2, 1]);
    assert.deepEqual([...(a.counts.get('y') ?? [])], [0, 1]);
    assert.equal(a.filters.get('x'), 3);
    assert.equal(a.filters.get('y'), 1);
    b.add('y', Float64Array.of(0.2), 1); // later counts in b do not show up in a
    assert.deepEqual([...(a.counts.get('y') ?? [])], [0, 1]);
    assert.equal(a.filters.get('y'), 1);
  });
});
