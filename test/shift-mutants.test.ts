/**
 * src/analysis/shift.ts's passes on a source small enough to follow by hand (issue 20 item 6): peak scaling,
 * the coefficient range, 2-bin histograms and the EVR-weighted symmetric KL written out here from their
 * definitions; the progress callbacks, empty batches and groups, and the errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FLOAT32_EPS } from '../src/analysis/drift.js';
import { GroupHistograms } from '../src/analysis/histogram.js';
import type { PcaBasis } from '../src/analysis/pca.js';
import {
  type BatchSource,
  distributionShift,
  type FilterBatch,
  shiftFromHistograms,
} from '../src/analysis/shift.js';

/** 2-value filters; peak-scaled: b (1, 0.5), (−1, 0.25), (1, 0.5), (1, −1); a (0.5, 1), (0.5, −1). */
const BATCHES: FilterBatch[] = [
  { group: 'b', filters: [2, 1, -4, 1, 1, 0.5], count: 3 },
  { group: 'a', filters: [], count: 0 },
  { group: 'a', filters: [1, 2, 0.5, -1], count: 2 },
  { group: 'c', filters: [], count: 0 },
  { group: 'b', filters: [3, -3], count: 1 },
];
const source: BatchSource = async function* () {
  yield* BATCHES;
};
/** Identity components around 0: each coefficient is the scaled value itself. */
const BASIS: PcaBasis = {
  dims: 2,
  count: 1234,
  mean: [0, 0],
  components: [
    [1, 0],
    [0, 1],
  ],
  explainedVariance: [3, 1],
  explainedVarianceRatio: [0.75, 0.25],
};

function kl(p: number[], q: number[]): number {
  return p.reduce((s, pi, i) => s + pi * Math.log(pi / q[i]), 0);
}

describe('distributionShift by hand', () => {
  test('range [−1, 1], bins [−1, 0) and [0, 1], floored histograms and the weighted symmetric KL', async () => {
    const r = await distributionShift(source, 'Training', { dims: 2, bins: 2, basis: BASIS });
    // a: coefficient 0 → (0, 2), coefficient 1 → (1, 1); b: coefficient 0 → (1, 3), coefficient 1 → (1, 3)
    const e = FLOAT32_EPS;
    const a = [
      [e / (2 + e), 2 / (2 + e)],
      [0.5, 0.5],
    ];
    const b = [
      [0.25, 0.75],
      [0.25, 0.75],
    ];
    const d = 0.75 * (kl(a[0], b[0]) + kl(b[0], a[0])) + 0.25 * (kl(a[1], b[1]) + kl(b[1], a[1]));
    assert.deepEqual(r.groups, ['a', 'b']);
    assert.deepEqual(r.counts, [2, 4]);
    assert.equal(r.filterCount, 6);
    assert.equal(r.by, 'Training');
    assert.deepEqual(r.range, [-1, 1]);
    assert.equal(r.bins, 2);
    assert.deepEqual(r.mean, [0, 0]);
    assert.deepEqual(r.components, BASIS.components);
    assert.deepEqual(r.explainedVarianceRatio, [0.75, 0.25]);
    assert.ok(r.histograms);
    const want = [a, b].flat(2);
    for (const [i, v] of r.histograms.flat(2).entries())
      assert.ok(Math.abs(v - want[i]) < 1e-15, `histogram ${i}`);
    assert.equal(r.matrix[0][0], 0);
    assert.equal(r.matrix[1][1], 0);
    assert.ok(Math.abs(r.matrix[0][1] - d) < 1e-14 * d, `${r.matrix[0][1]} vs ${d}`);
    assert.equal(r.matrix[1][0], r.matrix[0][1]);
    assert.equal(r.summary.pairs, 1);
    assert.equal(r.summary.max, r.matrix[0][1]);
  });

  test('70 bins and 3x3 filters by default', async () => {
    const filters = Array.from({ length: 4 * 9 }, (_, i) => ((i * 7) % 11) - 5);
    const src: BatchSource = async function* () {
      yield { group: 'x', filters: filters.slice(0, 18), count: 2 };
      yield { group: 'y', filters: filters.slice(18), count: 2 };
    };
    const r = await distributionShift(src, 'g');
    assert.equal(r.bins, 70);
    assert.equal(r.mean.length, 9);
    assert.ok(r.histograms?.every((g) => g.length === 9 && g.every((c) => c.length === 70)));
  });

  test('reports each pass and the running filter count; empty batches report nothing', async () => {
    const calls: string[] = [];
    await distributionShift(source, 'g', {
      dims: 2,
      bins: 2,
      onPass: (pass, n) => calls.push(`${pass} ${n}`),
      onProgress: (n) => calls.push(`${n}`),
    });
    assert.deepEqual(calls, [
      '3',
      '5',
      '6',
      'moments 6',
      '3',
      '5',
      '6',
      'range 6',
      '3',
      '5',
      '6',
      'histograms 6',
    ]);
    calls.length = 0;
    await distributionShift(source, 'g', {
      dims: 2,
      bins: 2,
      basis: BASIS,
      onPass: (pass, n) => calls.push(`${pass} ${n}`),
      onProgress: (n) => calls.push(`${n}`),
    });
    // a given basis: its own filter count, and no moments pass
    assert.deepEqual(calls, ['moments 1234', '3', '5', '6', 'range 6', '3', '5', '6', 'histograms 6']);
  });

  test('bins must be a positive integer', async () => {
    for (const bins of [0, -1, 1.5, Number.NaN])
      await assert.rejects(distributionShift(source, 'g', { dims: 2, bins, basis: BASIS }), {
        name: 'RangeError',
        message: `bins must be a positive integer, got ${bins}`,
      });
    const one = await distributionShift(source, 'g', { dims: 2, bins: 1, basis: BASIS });
    assert.equal(one.bins, 1);
    assert.deepEqual(one.matrix, [
      [0, 0],
      [0, 0],
    ]);
  });

  test('no filters: a clear error', async () => {
    const empty: BatchSource = async function* () {
      yield { group: 'a', filters: [], count: 0 };
    };
    await assert.rejects(distributionShift(empty, 'g', { dims: 2, basis: BASIS }), {
      name: 'RangeError',
      message: 'no filters selected',
    });
  });
});

test('shiftFromHistograms leaves out groups without filters and sorts by code point', () => {
  const h = new GroupHistograms(1, 2, 0, 1);
  h.add('b', Float64Array.of(0.25, 0.75), 2);
  h.add('a', new Float64Array(0), 0);
  h.add('B', Float64Array.of(1), 1);
  const basis: PcaBasis = { ...BASIS, dims: 1, mean: [0], components: [[1]], explainedVarianceRatio: [1] };
  const r = shiftFromHistograms('g', h, basis);
  assert.deepEqual(r.groups, ['B', 'b']);
  assert.deepEqual(r.counts, [1, 2]);
  assert.equal(r.filterCount, 3);
  assert.deepEqual(r.range, [0, 1]);
  const e = FLOAT32_EPS;
  const B = [e / (1 + e), 1 / (1 + e)];
  const b = [0.5, 0.5];
  assert.deepEqual(r.histograms, [[B], [b]]);
  const d = kl(B, b) + kl(b, B);
  assert.ok(Math.abs(r.matrix[0][1] - d) < 1e-14 * d);
});
