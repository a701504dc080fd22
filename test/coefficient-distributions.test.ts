/**
 * src/analysis/coefficients.ts (coefficientDistributions), which no test called directly before (issue 20 item 6:
 * all 36 mutants of the file were uncovered; the zoo report reaches it but its tests compare paths, not values).
 * Filters are chosen so that peak scaling and an identity basis give round coefficients, and the expected
 * histograms, 2-D density, range and progress are worked out by hand in the comments.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { coefficientDistributions } from '../src/analysis/coefficients.js';
import type { PcaBasis } from '../src/analysis/pca.js';
import type { FilterBatch } from '../src/analysis/shift.js';

/** Identity basis with a zero mean: the coefficients are the peak-scaled filters themselves. */
const identity: PcaBasis = {
  dims: 2,
  count: 6,
  mean: [0, 0],
  components: [
    [1, 0],
    [0, 1],
  ],
  explainedVariance: [1, 1],
  explainedVarianceRatio: [0.5, 0.5],
};

const sourceOf = (batches: FilterBatch[]) =>
  async function* () {
    for (const b of batches) yield b;
  };

// scaled by each row's max |value|:
//   a: (2, 1) → (1, 0.5), (−4, 2) → (−1, 0.5)
//   c: no filters (skipped)
//   b: (0, 3) → (0, 1), (1, −1) → (1, −1), (2, 1) → (1, 0.5)   (a larger batch: the buffers grow)
//   a: (0, −2) → (0, −1)                                       (a smaller one: the buffers are reused)
const batches: FilterBatch[] = [
  { group: 'a', filters: [2, 1, -4, 2], count: 2 },
  { group: 'c', filters: [], count: 0 },
  { group: 'b', filters: Float64Array.of(0, 3, 1, -1, 2, 1), count: 3 },
  { group: 'a', filters: [0, -2, 9, 9], count: 1 },
];

describe('coefficientDistributions', () => {
  test('histograms over the data range, 2-D density, filter count and progress of a small source', async () => {
    const progress: number[] = [];
    const d = await coefficientDistributions(sourceOf(batches), identity, {
      bins: 4,
      density: { size: 2, lo: -1, hi: 1 },
      onProgress: (n) => progress.push(n),
    });
    // the range pass finds [−1, 1]; edges −1, −0.5, 0, 0.5, 1 (last bin closed)
    assert.deepEqual([d.histograms.lo, d.histograms.hi, d.histograms.bins], [-1, 1, 4]);
    assert.deepEqual([...d.histograms.counts.keys()].sort(), ['a', 'b']);
    // a: coefficient 0 takes 1, −1, 0 → bins 3, 0, 2; coefficient 1 takes 0.5, 0.5, −1 → bins 3, 3, 0
    assert.deepEqual(Array.from(d.histograms.counts.get('a') ?? []), [1, 0, 1, 1, 1, 0, 0, 2]);
    // b: coefficient 0 takes 0, 1, 1 → bins 2, 3, 3; coefficient 1 takes 1, −1, 0.5 → bins 3, 0, 3
    assert.deepEqual(Array.from(d.histograms.counts.get('b') ?? []), [0, 0, 1, 2, 1, 0, 0, 2]);
    assert.equal(d.histograms.filters.get('a'), 3);
    assert.equal(d.histograms.filters.get('b'), 3);
    assert.equal(d.filterCount, 6);
    assert.deepEqual(progress, [2, 5, 6]);
    // density of (coefficient 0, coefficient 1) on a 2 × 2 grid over [−1, 1]², cell = iy·2 + ix:
    // (1, .5) (0, 1) (1, .5) → cell 3; (−1, .5) → cell 2; (0, −1) (1, −1) → cell 1
    assert.ok(d.density);
    assert.equal(d.density.size, 2);
    assert.deepEqual(Array.from(d.density.counts), [0, 2, 1, 3]);
    assert.deepEqual([d.density.total, d.density.outside], [6, 0]);
  });

  test('a given range is used as is; default bins (2048) and density (512², [−3.3, 3.3]²)', async () => {
    const d = await coefficientDistributions(sourceOf(batches), identity, { range: [-2, 2] });
    assert.deepEqual([d.histograms.lo, d.histograms.hi, d.histograms.bins], [-2, 2, 2048]);
    assert.ok(d.density);
    assert.deepEqual([d.density.size, d.density.lo, d.density.hi], [512, -3.3, 3.3]);
    assert.deepEqual([d.density.total, d.filterCount], [6, 6]);
    // coefficient 0 of group a: 1, −1, 0 → bins (x + 2)·512: 1536, 512, 1024
    const a = d.histograms.counts.get('a') ?? new Float64Array(0);
    assert.deepEqual([a[512], a[1024], a[1536]], [1, 1, 1]);
    assert.equal(
      a.subarray(0, 2048).reduce((s, v) => s + v, 0),
      3,
    );
  });

  test('density: false gives no density; a source where every coefficient is equal keeps that one-point range', async () => {
    // (1, 1) and (2, 2) both scale to (1, 1)
    const d = await coefficientDistributions(
      sourceOf([{ group: 'g', filters: [1, 1, 2, 2], count: 2 }]),
      identity,
      { bins: 3, density: false },
    );
    assert.equal(d.density, null);
    assert.deepEqual([d.histograms.lo, d.histograms.hi], [1, 1]);
    assert.equal(d.filterCount, 2);
  });

  test('an empty source gives the range [−1, 1] and no groups', async () => {
    const d = await coefficientDistributions(sourceOf([]), identity, { bins: 2, density: false });
    assert.deepEqual([d.histograms.lo, d.histograms.hi], [-1, 1]);
    assert.equal(d.histograms.counts.size, 0);
    assert.equal(d.filterCount, 0);
  });
});
