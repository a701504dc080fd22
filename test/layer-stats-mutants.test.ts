/**
 * src/analysis/layer-stats.ts against numpy/scipy (test/data/mutation/layer-stats.json from make_layer_stats.py;
 * issue 20 item 6) and hand-derived cases: the DCT directions, the moments of the peak-scaled filters over
 * full and odd blocks, the extreme filters per direction and by norm, the Chan merge, the raw sums turned into
 * centred moments, the stored upper triangle.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  blockMoments,
  EXTREME_BASES,
  emptySums,
  fromUpperTriangle,
  LayerStatsBuilder,
  layerStats,
  type MomentSums,
  mergeMomentSums,
  upperTriangle,
} from '../src/analysis/layer-stats.js';
import { minstdWeights } from './support/minstd.js';
import { dataPath } from './support/paths.js';

interface Case {
  name: string;
  n: number;
  seed: number;
  bases: ('dct' | 'unit')[];
  keep: number;
  mean: number[];
  scatter: number[];
  ends: number[];
  byNorm: number[];
  signs?: [number, number[]][];
}
const ref = JSON.parse(readFileSync(dataPath('mutation/layer-stats.json'), 'utf8')) as {
  dct: number[];
  unit: number[];
  cases: Case[];
};

/**
 * make_layer_stats.py's layer: generator values as float32, every 50th filter zero, filters 0 and 2048 ±1,
 * then the given rows.
 */
function layer(n: number, seed: number, signs: [number, number[]][] = []): Float32Array {
  const w = Float32Array.from(minstdWeights(n * 9, seed));
  for (let r = 0; r < n; r += 50) w.fill(0, r * 9, r * 9 + 9);
  w.fill(1, 0, 9);
  if (n > 2048) w.fill(-1, 2048 * 9, 2049 * 9);
  for (const [row, values] of signs) w.set(values, row * 9);
  return w;
}

/** Two-pass mean and centred scatter of rows of `dims` values. */
function moments(rows: number[][], dims: number): MomentSums {
  const n = rows.length;
  const mean = new Float64Array(dims);
  for (const r of rows) for (let j = 0; j < dims; j++) mean[j] += r[j] / n;
  const scatter = new Float64Array(dims * dims);
  for (const r of rows)
    for (let i = 0; i < dims; i++)
      for (let j = 0; j < dims; j++) scatter[i * dims + j] += (r[i] - mean[i]) * (r[j] - mean[j]);
  return { n, mean, scatter };
}

function assertMoments(actual: MomentSums, wanted: MomentSums, tol: number): void {
  assert.equal(actual.n, wanted.n);
  assert.equal(actual.mean.length, wanted.mean.length);
  assert.equal(actual.scatter.length, wanted.scatter.length);
  for (const [i, v] of wanted.mean.entries())
    assert.ok(Math.abs(actual.mean[i] - v) <= tol, `mean ${i}: ${actual.mean[i]} vs ${v}`);
  for (const [i, v] of wanted.scatter.entries())
    assert.ok(Math.abs(actual.scatter[i] - v) <= tol, `scatter ${i}: ${actual.scatter[i]} vs ${v}`);
}

const rowKey = (w: Float32Array, r: number) => w.subarray(r * 9, r * 9 + 9).join(',');

test('the extreme directions are the 3x3 orthonormal DCT-II (scipy.fft.dct, norm="ortho", kron)', () => {
  assert.equal(EXTREME_BASES.length, 1);
  const b = EXTREME_BASES[0];
  assert.equal(b.length, 81);
  for (const [i, v] of ref.dct.entries())
    assert.ok(Math.abs(b[i] - v) < 1e-15, `entry ${i}: ${b[i]} vs ${v}`);
});

describe('a layer’s statistics against numpy', () => {
  for (const c of ref.cases)
    test(c.name, () => {
      const w = layer(c.n, c.seed, c.signs);
      const bases = c.bases.map((name) => Float64Array.from(ref[name]));
      const builder = new LayerStatsBuilder(bases, c.keep);
      // uneven reads, the last ones through `from`
      const first = Math.floor(c.n / 3);
      builder.add(w, first);
      builder.add(w.subarray(first * 9), 37);
      builder.add(w, c.n - first - 37, first + 37);
      const st = builder.finish();
      assertMoments(
        st,
        { n: c.n, mean: Float64Array.from(c.mean), scatter: Float64Array.from(c.scatter) },
        1e-11,
      );
      // the extremes: first the distinct filters of each direction's ends in order, then those kept by norm
      const seen = new Set<string>();
      const ends: string[] = [];
      for (const r of c.ends) {
        const k = rowKey(w, r);
        if (!seen.has(k)) ends.push(k);
        seen.add(k);
      }
      const rows = Array.from({ length: st.extremes.length / 9 }, (_, r) => rowKey(st.extremes, r));
      assert.equal(st.extremes.length % 9, 0);
      assert.deepEqual(rows.slice(0, ends.length), ends);
      const norms = new Set(c.byNorm.map((r) => rowKey(w, r)).filter((k) => !seen.has(k)));
      assert.deepEqual(new Set(rows.slice(ends.length)), norms);
      assert.equal(rows.length, ends.length + norms.size);
    });

  test('the default builder: the DCT directions and 128 filters by norm', () => {
    const c = ref.cases[0];
    const w = layer(c.n, c.seed);
    const st = layerStats(w, c.n);
    const custom = new LayerStatsBuilder(EXTREME_BASES, 128);
    custom.add(w, c.n);
    assert.deepEqual(st, custom.finish());
    assert.ok(st.extremes.length / 9 > 128);
  });

  test('at most 146 filters (2 ends × 9 directions + 128): all of them, in order, zero filters included', () => {
    const w = layer(146, 9);
    assert.deepEqual(layerStats(w, 146).extremes, w);
    assert.deepEqual(layerStats(w, 3).extremes, w.slice(0, 27));
    const more = layer(147, 9);
    const st = layerStats(more, 147);
    assert.ok(st.extremes.length < 147 * 9);
    // the zero filters (every 50th) are never kept by norm, and no direction's end here
    assert.ok(
      !Array.from({ length: st.extremes.length / 9 }, (_, r) => rowKey(st.extremes, r)).includes(
        rowKey(more, 50),
      ),
    );
  });

  test('a layer of NaN weights (more than 146 filters) has no extreme filters', () => {
    const st = layerStats(new Float32Array(200 * 9).fill(Number.NaN), 200);
    assert.equal(st.n, 200);
    assert.equal(st.extremes.length, 0);
  });

  test('no filters: count 0, zero moments, no extremes', () => {
    const st = new LayerStatsBuilder().finish();
    assert.equal(st.n, 0);
    assert.deepEqual(Array.from(st.mean), new Array(9).fill(0));
    assert.equal(st.extremes.length, 0);
  });
});

describe('moment helpers', () => {
  const rows = [
    [1, 2, 0, -1],
    [3, -2, 1, 0],
    [0.5, 0, 2, 4],
    [-1, 1, 1, 1],
    [2, 2, -3, 0.25],
  ];

  test('mergeMomentSums is the moments of the union (4 values per row), whichever side is empty', () => {
    const all = moments(rows, 4);
    const a = moments(rows.slice(0, 2), 4);
    mergeMomentSums(a, moments(rows.slice(2), 4));
    assertMoments(a, all, 1e-14);
    const b = moments(rows.slice(0, 4), 4);
    mergeMomentSums(b, moments(rows.slice(4), 4));
    assertMoments(b, all, 1e-14);
    const empty = emptySums(4);
    const src = moments(rows, 4);
    mergeMomentSums(empty, src);
    assertMoments(empty, all, 0);
    // a copy, not the same arrays
    src.mean[0] = 99;
    src.scatter[0] = 99;
    assert.equal(empty.mean[0], all.mean[0]);
    assert.equal(empty.scatter[0], all.scatter[0]);
    const same = moments(rows, 4);
    mergeMomentSums(same, emptySums(4));
    assertMoments(same, all, 0);
  });

  test('blockMoments turns 9 sums and 45 sums of products into the centred moments', () => {
    const r9 = [
      [1, 0, 2, -1, 0.5, 3, 0, 1, 2],
      [0, 1, -2, 1, 0.5, -1, 2, 2, 0],
      [4, -1, 0, 0, 1.5, 1, 1, -3, 1],
    ];
    const s = new Float64Array(54);
    for (const r of r9) {
      for (let i = 0; i < 9; i++) s[i] += r[i];
      let q = 9;
      for (let i = 0; i < 9; i++) for (let j = i; j < 9; j++) s[q++] += r[i] * r[j];
    }
    const out = emptySums();
    assert.equal(blockMoments(s, 3, out), out);
    assertMoments(out, moments(r9, 9), 1e-13);
  });

  test('upperTriangle keeps the 45 entries i ≤ j row by row; fromUpperTriangle mirrors them', () => {
    const m = Float64Array.from({ length: 81 }, (_, k) => 10 * Math.floor(k / 9) + (k % 9));
    const t = upperTriangle(m);
    assert.equal(t.length, 45);
    assert.deepEqual(Array.from(t.subarray(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 11]);
    assert.deepEqual(Array.from(t.subarray(42)), [77, 78, 88]);
    const back = fromUpperTriangle(t);
    for (let i = 0; i < 9; i++)
      for (let j = 0; j < 9; j++)
        assert.equal(back[i * 9 + j], 10 * Math.min(i, j) + Math.max(i, j), `${i},${j}`);
  });
});
