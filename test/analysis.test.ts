import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driftSummary, FLOAT32_EPS, floorAndNormalise } from '../src/analysis/drift.js';
import { compareCodePoints, depthDecile } from '../src/analysis/groups.js';
import { binEdges, binIndex, GroupHistograms, RangeAccumulator } from '../src/analysis/histogram.js';
import { batchMoments, emptyMoments, mergeMoments, peakScale } from '../src/analysis/moments.js';
import { pcaFromMoments, signByLargest } from '../src/analysis/pca.js';
import { distributionShift, type FilterBatch } from '../src/analysis/shift.js';
import { mulberry32 as rng } from './support/random.js';

function randomFilters(n: number, seed: number, skew = 0): Float32Array {
  const r = rng(seed);
  const f = new Float32Array(n * 9);
  for (let i = 0; i < f.length; i++) f[i] = r() * 2 - 1 + (i % 9 === 4 ? skew : 0);
  return f;
}

function sourceOf(batches: FilterBatch[]) {
  return async function* () {
    yield* batches;
  };
}

describe('histogram bins follow numpy.histogram', () => {
  it('puts edge values where numpy does: [a, b) and a closed last bin', () => {
    const edges = binEdges(0, 1, 10);
    const scale = 10;
    assert.equal(binIndex(0, 0, 1, 10, scale, edges), 0);
    assert.equal(binIndex(0.1, 0, 1, 10, scale, edges), 1);
    // numpy's edge 3 is 0.30000000000000004 (linspace), so 0.3 falls in bin 2 — as numpy.histogram says
    assert.equal(binIndex(0.3, 0, 1, 10, scale, edges), 2);
  });
  it('closes the last bin and rejects values outside the range', () => {
    const edges = binEdges(-1, 1, 4);
    assert.equal(binIndex(1, -1, 1, 4, 2, edges), 3);
    assert.equal(binIndex(-1, -1, 1, 4, 2, edges), 0);
    assert.equal(binIndex(1.0000001, -1, 1, 4, 2, edges), -1);
    assert.equal(binIndex(Number.NaN, -1, 1, 4, 2, edges), -1);
  });
});

describe('depth deciles', () => {
  it('labels like pandas.cut(include_lowest=True, right-closed)', () => {
    assert.equal(depthDecile(0), '[0.0, 0.1]');
    assert.equal(depthDecile(0.1), '[0.0, 0.1]');
    assert.equal(depthDecile(0.1000001), '(0.1, 0.2]');
    assert.equal(depthDecile(0.3), '(0.2, 0.3]');
    assert.equal(depthDecile(1), '(0.9, 1.0]');
    assert.equal(depthDecile(1.5), null);
  });
  it('sorts labels in code-point order, so "[0.0, 0.1]" comes last', () => {
    const labels = [0, 0.5, 1].map((d) => depthDecile(d)!).sort(compareCodePoints);
    assert.deepEqual(labels, ['(0.4, 0.5]', '(0.9, 1.0]', '[0.0, 0.1]']);
  });
});

describe('streamed moments', () => {
  it('merging batches equals the moments of all filters at once', () => {
    const f = randomFilters(1000, 1, 0.3);
    const scaled = peakScale(f, 1000, 9, new Float64Array(9000));
    const whole = batchMoments(scaled, 1000, 9);
    const merged = emptyMoments(9);
    for (let s = 0; s < 1000; s += 137) {
      const n = Math.min(137, 1000 - s);
      mergeMoments(merged, batchMoments(scaled.subarray(s * 9, (s + n) * 9), n, 9));
    }
    assert.equal(merged.n, 1000);
    for (let i = 0; i < 81; i++)
      assert.ok(Math.abs(merged.scatter[i] - whole.scatter[i]) < 1e-10 * Math.abs(whole.scatter[i]) + 1e-12);
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(merged.mean[i] - whole.mean[i]) < 1e-14);
  });
  it('keeps an all-zero filter at zero when peak-scaling', () => {
    const out = peakScale(new Float32Array(9), 1, 9, new Float64Array(9));
    assert.deepEqual(Array.from(out), new Array(9).fill(0));
  });
  it('signs each component by its largest entry (first on ties)', () => {
    assert.deepEqual(signByLargest([0.5, -0.7, 0.1]), [-0.5, 0.7, -0.1]);
    assert.deepEqual(signByLargest([-0.5, 0.5]), [0.5, -0.5]);
  });
  it('gives explained-variance ratios that sum to 1, descending', () => {
    const f = randomFilters(500, 2);
    const pca = pcaFromMoments(batchMoments(peakScale(f, 500, 9, new Float64Array(4500)), 500, 9));
    assert.ok(Math.abs(pca.explainedVarianceRatio.reduce((s, v) => s + v, 0) - 1) < 1e-12);
    for (let i = 1; i < 9; i++) assert.ok(pca.explainedVarianceRatio[i] <= pca.explainedVarianceRatio[i - 1]);
  });
});

describe('distribution shift', () => {
  const a = randomFilters(400, 3);
  const b = randomFilters(300, 4, 0.8);
  const c = randomFilters(200, 5, -0.5);

  it('is symmetric with a zero diagonal, groups sorted by code point', async () => {
    const res = await distributionShift(
      sourceOf([
        { group: 'b', filters: b, count: 300 },
        { group: 'a', filters: a, count: 400 },
        { group: 'C', filters: c, count: 200 },
      ]),
      'g',
    );
    assert.deepEqual(res.groups, ['C', 'a', 'b']);
    assert.deepEqual(res.counts, [200, 400, 300]);
    assert.equal(res.filterCount, 900);
    for (let i = 0; i < 3; i++) {
      assert.equal(res.matrix[i][i], 0);
      for (let j = 0; j < 3; j++) assert.equal(res.matrix[i][j], res.matrix[j][i]);
    }
    assert.ok(res.matrix[1][2] > 0);
    assert.equal(res.summary.pairs, 3);
  });

  it('does not change when filters are permuted or batched differently', async () => {
    const base = await distributionShift(
      sourceOf([
        { group: 'a', filters: a, count: 400 },
        { group: 'b', filters: b, count: 300 },
      ]),
      'g',
    );
    // reverse filter order and split into uneven batches
    const rev = (f: Float32Array, n: number) => {
      const out = new Float32Array(f.length);
      for (let i = 0; i < n; i++) out.set(f.subarray(i * 9, i * 9 + 9), (n - 1 - i) * 9);
      return out;
    };
    const ra = rev(a, 400);
    const rb = rev(b, 300);
    const shuffled = await distributionShift(
      sourceOf([
        { group: 'b', filters: rb.subarray(0, 100 * 9), count: 100 },
        { group: 'a', filters: ra.subarray(0, 250 * 9), count: 250 },
        { group: 'b', filters: rb.subarray(100 * 9), count: 200 },
        { group: 'a', filters: ra.subarray(250 * 9), count: 150 },
      ]),
      'g',
    );
    assert.deepEqual(shuffled.groups, base.groups);
    const rel = Math.abs(shuffled.matrix[0][1] - base.matrix[0][1]) / base.matrix[0][1];
    assert.ok(rel < 1e-9, `relative change ${rel}`);
  });

  it('gives 0 between two groups holding the same filters', async () => {
    const res = await distributionShift(
      sourceOf([
        { group: 'x', filters: a, count: 400 },
        { group: 'y', filters: a, count: 400 },
      ]),
      'g',
    );
    assert.equal(res.matrix[0][1], 0);
  });

  it('handles a group with one filter and all-zero filters', async () => {
    const zeros = new Float32Array(9 * 5);
    const res = await distributionShift(
      sourceOf([
        { group: 'many', filters: a, count: 400 },
        { group: 'one', filters: b.subarray(0, 9), count: 1 },
        { group: 'zero', filters: zeros, count: 5 },
      ]),
      'g',
    );
    assert.deepEqual(res.counts, [400, 1, 5]);
    for (const row of res.matrix) for (const v of row) assert.ok(Number.isFinite(v) && v >= 0);
  });

  it('floors empty bins at float32 eps and normalises each coefficient', () => {
    const p = floorAndNormalise(Float64Array.from([0, 2, 2, 0, 0, 4]), 2, 3);
    assert.ok(Math.abs(p[0] - FLOAT32_EPS / (4 + FLOAT32_EPS)) < 1e-20);
    assert.ok(Math.abs(p[3] + p[4] + p[5] - 1) < 1e-15);
  });

  it('normalises each coefficient over its own bins only (2 coefficients × 3 bins)', () => {
    const p = floorAndNormalise(Float64Array.from([1, 0, 3, 0, 0, 2]), 2, 3);
    const e = FLOAT32_EPS;
    assert.deepEqual(Array.from(p), [
      1 / (4 + e),
      e / (4 + e),
      3 / (4 + e),
      e / (2 + 2 * e),
      e / (2 + 2 * e),
      2 / (2 + 2 * e),
    ]);
  });

  it('summarises 6 pairs with linearly interpolated quartiles and their mean', () => {
    const s = driftSummary([
      [0, 6, 1, 5],
      [6, 0, 3, 2],
      [1, 3, 0, 4],
      [5, 2, 4, 0],
    ]);
    assert.deepEqual(s, { pairs: 6, min: 1, q1: 2.25, median: 3.5, mean: 3.5, q3: 4.75, max: 6 });
    assert.deepEqual(driftSummary([[0]]), {
      pairs: 0,
      min: null,
      median: null,
      mean: null,
      max: null,
      q1: null,
      q3: null,
    });
  });

  it('merged range accumulators and histograms equal one over all values', () => {
    const values = Float64Array.from({ length: 90 }, (_, i) => Math.sin(i * 1.3) * 2);
    const whole = new RangeAccumulator();
    whole.add(values);
    const [a, b] = [new RangeAccumulator(), new RangeAccumulator()];
    a.add(values.subarray(0, 40));
    b.add(values.subarray(40));
    a.merge(b);
    assert.deepEqual([a.lo, a.hi], [whole.lo, whole.hi]);
    const one = new GroupHistograms(9, 7, whole.lo, whole.hi);
    one.add('x', values.subarray(0, 45), 5);
    one.add('y', values.subarray(45), 5);
    const h1 = new GroupHistograms(9, 7, whole.lo, whole.hi);
    const h2 = new GroupHistograms(9, 7, whole.lo, whole.hi);
    h1.add('x', values.subarray(0, 18), 2);
    h2.add('x', values.subarray(18, 45), 3);
    h2.add('y', values.subarray(45), 5);
    h1.merge(h2);
    assert.deepEqual(h1.counts, one.counts);
    assert.deepEqual(h1.filters, one.filters);
  });

  it('makes bins + 1 edges, the last exactly hi', () => {
    const e = binEdges(-1.7, 2.3, 70);
    assert.equal(e.length, 71);
    assert.equal(e[70], 2.3);
    assert.equal(e[1], -1.7 + 4 / 70);
  });

  it('summarises the upper triangle', () => {
    const s = driftSummary([
      [0, 1, 2],
      [1, 0, 4],
      [2, 4, 0],
    ]);
    assert.deepEqual([s.min, s.median, s.max, s.pairs], [1, 2, 4, 3]);
    assert.ok(Math.abs(s.mean! - 7 / 3) < 1e-15);
  });
});
