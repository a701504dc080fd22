/**
 * binIndex on values outside [lo, hi] (issue 20 item 6: a mutant that dropped the `x >= lo` test survived,
 * because a value just below lo falls to index −1 by the arithmetic anyway). A value one and a half or more bin
 * widths below lo, or above hi, must still give −1, and GroupHistograms must count none of them.
 * Expected values are written out by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binEdges, binIndex, GroupHistograms } from '../src/analysis/histogram.js';

test('binIndex is −1 for values several bin widths outside [lo, hi], in range values keep their bin', () => {
  // lo = 0, hi = 4, 4 bins of width 1
  const edges = binEdges(0, 4, 4);
  const scale = 4 / 4;
  for (const x of [-1.5, -2, -3.25, -100, 4.5, 5, 100]) {
    assert.equal(binIndex(x, 0, 4, 4, scale, edges), -1, `x = ${x}`);
  }
  assert.equal(binIndex(0, 0, 4, 4, scale, edges), 0);
  assert.equal(binIndex(2.5, 0, 4, 4, scale, edges), 2);
  assert.equal(binIndex(4, 0, 4, 4, scale, edges), 3);
});

test('GroupHistograms.add counts only the in-range coefficients', () => {
  const h = new GroupHistograms(2, 4, 0, 4);
  // two filters of two coefficients; -2.5 and 9 are outside [0, 4]
  h.add('g', Float64Array.of(-2.5, 1.5, 3, 9), 2);
  assert.deepEqual(Array.from(h.counts.get('g') ?? []), [0, 0, 0, 1, 0, 1, 0, 0]);
  assert.equal(h.filters.get('g'), 2);
});
