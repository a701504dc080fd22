/**
 * src/analysis/cohorts.ts piece by piece (issue 20 item 6), against numpy/scipy (test/data/mutation/cohorts.json
 * from make_cohorts.py) and hand-derived cases: depth bins at their edges, sparse filters at the threshold,
 * variance entropy and orthogonality of single layers, the weighted per-model means, the per-cohort histograms and
 * divergence matrices, ranks and Spearman's ρ, the JSON and CSV forms.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  averageRanks,
  COHORT_BINS,
  CohortHistograms,
  type CohortLayerStats,
  type CohortModel,
  type CohortsResult,
  cohortBin,
  cohortCorrelation,
  cohortDivergence,
  cohortModel,
  cohortsCsv,
  cohortsJson,
  type KeptFilters,
  keptFilters,
  keptRange,
  LayerScratch,
  layerOrthogonality,
  ModelAccumulator,
  maxAbsOf,
  measureCohortLayer,
  newProjectionBlock,
  projectInBlocks,
  projectKept,
  rowwiseOrthogonality,
  spearman,
} from '../src/analysis/cohorts.js';
import { minstdWeights } from './support/minstd.js';
import { dataPath } from './support/paths.js';

type Edit = [number, 'zero'] | [number, 'set', number[]] | [number, number];
interface LayerCase {
  name: string;
  filters: number;
  dims: number;
  out: number | null;
  seed: number;
  edits: Edit[];
  maxAbs: number;
  kept: number;
  scaled: number[];
  entropy: number | null;
  orthogonality: number | null;
}
interface HistogramCase {
  name: string;
  dims: number;
  bins: number;
  groups: number;
  layers: [number, number, number, number, number | null][];
  mean: number[];
  components: number[][];
  explainedVarianceRatio: number[];
  range: [number, number];
  counts: (number[] | null)[][];
  filters: number[][];
  byBin: (number[][] | null)[];
  whole: number[][] | null;
}
const ref = JSON.parse(readFileSync(dataPath('mutation/cohorts.json'), 'utf8')) as {
  layers: LayerCase[];
  rowwise: { out: number; d: number; seed: number; zero: number[]; orthogonality: number }[];
  histograms: HistogramCase[];
  ranks: { x: number[]; y: number[]; rankX: number[]; rankY: number[]; spearman: number }[];
};

/** make_cohorts.py's layer_weights: generator values as float32, then the edits. */
function layerWeights(filters: number, dims: number, seed: number, edits: Edit[]): Float32Array {
  const w = Float32Array.from(minstdWeights(filters * dims, seed));
  for (const e of edits) {
    const row = w.subarray(e[0] * dims, (e[0] + 1) * dims);
    if (e[1] === 'zero') row.fill(0);
    else if (e[1] === 'set') row.set(e[2] as number[]);
    else for (let j = 0; j < dims; j++) row[j] = row[j] * e[1];
  }
  return w;
}

function close(actual: number | null, wanted: number | null, tol: number, what: string): void {
  if (wanted === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: null instead of ${wanted}`);
  assert.ok(Math.abs(actual - wanted) <= tol, `${what}: ${actual} vs ${wanted}`);
}

function closeMatrix(actual: number[][] | null, wanted: number[][] | null, tol: number, what: string): void {
  if (wanted === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: null`);
  assert.equal(actual.length, wanted.length, what);
  wanted.forEach((row, a) => {
    assert.equal(actual[a].length, row.length);
    for (const [b, v] of row.entries()) close(actual[a][b], v, tol, `${what}[${a}][${b}]`);
  });
}

describe('cohortBin: first, then (0, 1] in numpy.linspace(0, 1, 11) steps, right-closed', () => {
  test('the 11 labels, as pandas.cut prints them', () => {
    assert.deepEqual(COHORT_BINS, [
      'first',
      '(0.0, 0.1]',
      '(0.1, 0.2]',
      '(0.2, 0.3]',
      '(0.3, 0.4]',
      '(0.4, 0.5]',
      '(0.5, 0.6]',
      '(0.6, 0.7]',
      '(0.7, 0.8]',
      '(0.8, 0.9]',
      '(0.9, 1.0]',
    ]);
  });
  test('conv_depth 0 is `first` whatever the normalised depth', () => {
    assert.equal(cohortBin(0, null), 0);
    assert.equal(cohortBin(0, 0.55), 0);
    assert.equal(cohortBin(0, 7), 0);
  });
  test('edges go to the bin below; 0.3 is below numpy’s 0.30000000000000004', () => {
    assert.equal(cohortBin(1, Number.MIN_VALUE), 1);
    assert.equal(cohortBin(1, 0.05), 1);
    assert.equal(cohortBin(1, 0.1), 1);
    assert.equal(cohortBin(2, 0.10000000000000002), 2);
    assert.equal(cohortBin(2, 0.2), 2);
    assert.equal(cohortBin(3, 0.3), 3);
    assert.equal(cohortBin(3, 0.30000000000000004), 3);
    assert.equal(cohortBin(3, 0.3000000000000001), 4);
    assert.equal(cohortBin(5, 0.5), 5);
    assert.equal(cohortBin(7, 0.6000000000000001), 6);
    assert.equal(cohortBin(7, 0.6000000000000002), 7);
    assert.equal(cohortBin(9, 0.95), 10);
    assert.equal(cohortBin(9, 1), 10);
    assert.equal(cohortBin(null, 0.45), 5);
  });
  test('none (-1) for an unknown depth and outside (0, 1]', () => {
    assert.equal(cohortBin(3, null), -1);
    assert.equal(cohortBin(null, null), -1);
    assert.equal(cohortBin(3, 0), -1);
    assert.equal(cohortBin(3, -0.5), -1);
    assert.equal(cohortBin(3, 1.0000000000000002), -1);
    assert.equal(cohortBin(3, Number.NaN), -1);
  });
});

describe('one layer against numpy', () => {
  for (const c of ref.layers)
    test(`${c.name}: kept filters, sparse count, variance entropy, orthogonality`, () => {
      const w = layerWeights(c.filters, c.dims, c.seed, c.edits);
      assert.equal(maxAbsOf(w, w.length), c.maxAbs);
      const { stats, kept } = measureCohortLayer(w, c.filters, c.out, new LayerScratch(), undefined, c.dims);
      assert.deepEqual(
        { filters: stats.filters, sparse: stats.sparse, kept: stats.kept, out: stats.out },
        { filters: c.filters, sparse: c.filters - c.kept, kept: c.kept, out: c.out },
      );
      assert.equal(kept.kept, c.kept);
      assert.equal(kept.dims, c.dims);
      assert.deepEqual(Array.from(kept.scaled), c.scaled);
      close(stats.entropy, c.entropy, 1e-12, 'entropy');
      close(stats.orthogonality, c.orthogonality, 1e-12, 'orthogonality');
    });

  test('a reused scratch gives each layer its own answer (buffers grow, stale rows never leak)', () => {
    const scratch = new LayerScratch();
    for (const c of [...ref.layers].sort((a, b) => a.filters - b.filters)) {
      const w = layerWeights(c.filters, c.dims, c.seed, c.edits);
      const { stats, kept } = measureCohortLayer(w, c.filters, c.out, scratch, undefined, c.dims);
      assert.deepEqual(Array.from(kept.scaled), c.scaled, c.name);
      close(stats.orthogonality, c.orthogonality, 1e-12, c.name);
    }
  });

  test('the 3x3 default and a given max|W| (a cohort of a layer’s filters is judged against the whole layer)', () => {
    const c = ref.layers[0];
    const w = layerWeights(c.filters, c.dims, c.seed, c.edits);
    const whole = keptFilters(w, c.filters);
    assert.deepEqual(Array.from(whole.scaled), c.scaled);
    // the last 3 filters alone: their own max|W| keeps all 3; the layer's (0.78125) the same here, and a
    // 100 x larger one sparsifies every filter whose peak is at most max|W| / 100
    const tail = w.subarray(15 * 9);
    assert.equal(keptFilters(tail, 3).kept, 3);
    const peaks = [0, 1, 2].map((r) => Math.max(...Array.from(tail.subarray(r * 9, r * 9 + 9), Math.abs)));
    const big = 100 * Math.max(...peaks.slice(0, 2)); // keeps exactly the filters above the first two peaks
    const expected = peaks.filter((p) => p > big / 100).length;
    assert.equal(keptFilters(tail, 3, new LayerScratch(), big).kept, expected);
    assert.ok(expected < 3);
    assert.equal(keptFilters(tail, 3, new LayerScratch(), 1000).kept, 0);
    // max|W| over all the layer's values: a large weight in the last filter makes the others sparse
    const late = Float32Array.of(
      0.4,
      -0.3,
      0,
      0.2,
      0.1,
      0,
      0,
      0,
      0,
      -0.5,
      0.25,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      50,
      0,
      0,
      0,
      0,
      0,
      0,
    );
    const lk = keptFilters(late, 3);
    assert.equal(lk.kept, 1);
    assert.deepEqual(Array.from(lk.scaled), [0, 0, 1, 0, 0, 0, 0, 0, 0]);
    // only the first `filters` filters of `w` count
    const first2 = keptFilters(
      Float32Array.of(1, 0, 0, 0.5, 0.25, 0, 2, 9, 0),
      2,
      new LayerScratch(),
      undefined,
      3,
    );
    assert.equal(first2.kept, 2);
    assert.deepEqual(Array.from(first2.scaled), [1, 0, 0, 1, 0.5, 0]);
    // maxAbsOf reads only the first n values
    assert.equal(maxAbsOf(Float32Array.of(0.5, -2, 3), 2), 2);
    assert.equal(maxAbsOf(Float32Array.of(-0.25, 0.125), 2), 0.25);
    assert.equal(maxAbsOf(Float32Array.of(1), 0), 0);
  });

  test('layerOrthogonality: null when out is unknown, < 2 or does not divide the filters', () => {
    const w = layerWeights(12, 9, 5, []);
    assert.equal(layerOrthogonality(w, 12, null), null);
    assert.equal(layerOrthogonality(w, 12, 1), null);
    assert.equal(layerOrthogonality(w, 12, 0), null);
    assert.equal(layerOrthogonality(w, 12, 5), null);
    assert.notEqual(layerOrthogonality(w, 12, 2), null);
    assert.notEqual(layerOrthogonality(w, 12, 12), null);
  });
});

test('LayerScratch reuses its buffers from layer to layer while they fit', () => {
  const s = new LayerScratch();
  s.grow(4, 9);
  const scaled = s.scaled;
  assert.equal(scaled.length, 36);
  s.grow(4, 9);
  assert.equal(s.scaled, scaled);
  s.grow(2, 9);
  assert.equal(s.scaled, scaled);
  s.grow(5, 9);
  assert.notEqual(s.scaled, scaled);
  assert.equal(s.scaled.length, 45);
  const w = Float32Array.of(1, -2, 0.5);
  const g = s.widen(w, 3);
  assert.deepEqual(Array.from(g), [1, -2, 0.5]);
  assert.equal(s.widen(w, 3).buffer, g.buffer);
  assert.equal(s.widen(w, 2).buffer, g.buffer);
  assert.deepEqual(Array.from(s.widen(Float32Array.of(1, 2, 3, 4), 4)), [1, 2, 3, 4]);
});

describe('rowwiseOrthogonality (the Gram-free path) against numpy', () => {
  for (const c of ref.rowwise)
    test(`${c.out} rows of ${c.d}, zero rows ${JSON.stringify(c.zero)}`, () => {
      const g = minstdWeights(c.out * c.d, c.seed);
      for (const r of c.zero) g.fill(0, r * c.d, (r + 1) * c.d);
      close(rowwiseOrthogonality(g, c.out, c.d), c.orthogonality, 1e-12, 'orthogonality');
    });

  test('a layer of more than 2048 output channels (1 value each, one zero): 1 − (1 + 2048·2047) / (2049·2048)', () => {
    const out = 2049;
    const w = new Float32Array(out).fill(0.5);
    for (let i = 0; i < out; i += 2) w[i] = -0.25;
    w[7] = 0;
    const want = 1 - (1 + 2048 * 2047) / (2049 * 2048);
    close(layerOrthogonality(w, out, out, new LayerScratch(), 1), want, 1e-12, 'orthogonality');
  });
});

function stats(p: Partial<CohortLayerStats>): CohortLayerStats {
  return { filters: 10, sparse: 0, kept: 10, entropy: null, out: null, orthogonality: null, ...p };
}

describe('ModelAccumulator: weighted means per bin and over the model', () => {
  test('sparsity by filters, entropy by kept filters, orthogonality by output channels; bin -1 only in the whole', () => {
    const acc = new ModelAccumulator();
    acc.add(0, stats({ filters: 10, sparse: 2, kept: 8, entropy: 0.5, out: 4, orthogonality: 0.9 }));
    acc.add(0, stats({ filters: 30, sparse: 3, kept: 27, entropy: 0.7, out: 2, orthogonality: 0.3 }));
    // one kept filter: no entropy, and its weight not counted
    acc.add(4, stats({ filters: 20, sparse: 19, kept: 1, entropy: null, out: 5, orthogonality: 0.6 }));
    // one output channel: no orthogonality, and its weight not counted
    acc.add(10, stats({ filters: 5, sparse: 1, kept: 4, entropy: 0.2, out: 1, orthogonality: null }));
    acc.add(-1, stats({ filters: 15, sparse: 6, kept: 9, entropy: 0.4, out: 3, orthogonality: 0.8 }));
    // orthogonality without out (cannot come from measureCohortLayer) is left out of the weighted mean
    acc.add(10, stats({ filters: 0, sparse: 0, kept: 0, entropy: null, out: null, orthogonality: 0.1 }));
    const none = [null, null, null, null, null, null, null, null, null];
    const sparsity = acc.values('sparsity');
    assert.deepEqual(sparsity, [5 / 40, ...none.slice(0, 3), 19 / 20, ...none.slice(0, 5), 1 / 5, 31 / 80]);
    const entropy = acc.values('varianceEntropy');
    assert.equal(entropy.length, 12);
    close(entropy[0], (0.5 * 8 + 0.7 * 27) / 35, 1e-15, 'entropy first');
    assert.equal(entropy[4], null);
    close(entropy[10], 0.2, 1e-15, 'entropy (0.9, 1.0]');
    close(entropy[11], (0.5 * 8 + 0.7 * 27 + 0.2 * 4 + 0.4 * 9) / 48, 1e-15, 'entropy whole');
    const orth = acc.values('orthogonality');
    close(orth[0], (0.9 * 4 + 0.3 * 2) / 6, 1e-15, 'orthogonality first');
    close(orth[4], 0.6, 1e-15, 'orthogonality (0.3, 0.4]');
    assert.equal(orth[10], null);
    close(orth[11], (0.9 * 4 + 0.3 * 2 + 0.6 * 5 + 0.8 * 3) / 14, 1e-15, 'orthogonality whole');
    for (const i of [1, 2, 3, 5, 6, 7, 8, 9]) assert.equal(orth[i], null);

    const row = cohortModel('m1', 'robust', acc);
    assert.deepEqual(Object.keys(row), [
      'model',
      'group',
      'sparsity',
      'varianceEntropy',
      'orthogonality',
      'whole',
    ]);
    assert.deepEqual(row.sparsity, sparsity.slice(0, 11));
    assert.deepEqual(row.varianceEntropy, entropy.slice(0, 11));
    assert.deepEqual(row.orthogonality, orth.slice(0, 11));
    assert.deepEqual(row.whole, { sparsity: 31 / 80, varianceEntropy: entropy[11], orthogonality: orth[11] });
    assert.equal(row.model, 'm1');
    assert.equal(row.group, 'robust');
  });

  test('an empty model is null everywhere', () => {
    const row = cohortModel('m', 'g', new ModelAccumulator());
    assert.deepEqual(row.sparsity, new Array(11).fill(null));
    assert.deepEqual(row.whole, { sparsity: null, varianceEntropy: null, orthogonality: null });
  });
});

describe('per-cohort histograms and divergence against numpy.histogram and a numpy KL', () => {
  for (const c of ref.histograms)
    test(c.name, () => {
      const mean = Float64Array.from(c.mean);
      const comps = Float64Array.from(c.components.flat());
      const block = newProjectionBlock(c.dims);
      const kept: KeptFilters[] = c.layers.map(([, , filters, seed, layerMax]) => {
        const k = keptFilters(
          layerWeights(filters, c.dims, seed, [[1, 1e-3]]),
          filters,
          new LayerScratch(),
          layerMax ?? undefined,
          c.dims,
        );
        return { ...k, scaled: k.scaled.slice() };
      });
      const range: [number, number] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
      for (const k of kept) keptRange(k, mean, comps, block, range);
      assert.deepEqual(range, c.range);
      const h = new CohortHistograms(c.groups, mean, comps, range[0], range[1], c.bins);
      assert.equal(h.dims, c.dims);
      for (const [i, [g, b]] of c.layers.entries()) h.add(g, b, kept[i]);
      assert.deepEqual(
        h.counts.map((row) => row.map((x) => (x === null ? null : Array.from(x)))),
        c.counts,
      );
      assert.deepEqual(
        h.filters.map((f) => Array.from(f)),
        c.filters,
      );
      const total = c.filters.flat().reduce((s, v) => s + v, 0);
      const d = cohortDivergence(h, c.explainedVarianceRatio, total);
      assert.deepEqual(Object.keys(d), ['explainedVarianceRatio', 'range', 'filterCount', 'byBin', 'whole']);
      assert.deepEqual(d.explainedVarianceRatio, c.explainedVarianceRatio);
      assert.deepEqual(d.range, c.range);
      assert.equal(d.filterCount, total);
      assert.equal(d.byBin.length, 11);
      for (const [b, m] of d.byBin.entries()) closeMatrix(m, c.byBin[b], 1e-12, `bin ${COHORT_BINS[b]}`);
      closeMatrix(d.whole, c.whole, 1e-12, 'whole');
    });

  test('the 70-bin default; a layer without kept filters or depth bin adds nothing; a cohort without filters has no matrix', () => {
    const c = ref.histograms[0];
    const h = new CohortHistograms(
      3,
      Float64Array.from(c.mean),
      Float64Array.from(c.components.flat()),
      -1,
      3,
    );
    assert.equal(h.bins, 70);
    const none: KeptFilters = { scaled: new Float64Array(0), kept: 0, dims: 9 };
    h.add(0, 2, none);
    assert.equal(h.counts[0][2], null);
    const one: KeptFilters = { scaled: Float64Array.from(c.mean), kept: 1, dims: 9 };
    h.add(1, -1, one);
    // strict: not even a property outside the 11 bins
    assert.deepStrictEqual(
      h.counts,
      Array.from({ length: 3 }, () => new Array(11).fill(null)),
    );
    // the filter at the mean projects to 0 in every coefficient: bin 17, [−1 + 17·4/70, −1 + 18·4/70)
    h.add(1, 3, one);
    h.add(1, 3, one);
    const counts = h.counts[1][3];
    assert.ok(counts);
    for (let k = 0; k < 9; k++)
      for (let b = 0; b < 70; b++)
        assert.equal(counts[k * 70 + b], b === 17 ? 2 : 0, `coefficient ${k} bin ${b}`);
    assert.equal(h.filters[1][3], 2);
    const d = cohortDivergence(h, new Array(9).fill(1 / 9), 2);
    assert.ok(d.byBin.every((m) => m === null));
    assert.equal(d.whole, null);
  });

  test('a coefficient range of one value still counts every coefficient in it, and none outside', () => {
    const h = new CohortHistograms(1, new Float64Array(2), Float64Array.of(1, 0, 0, 1), 0.5, 0.5, 4);
    h.add(0, 1, { scaled: Float64Array.of(0.5, 0.5, 0.5, 0.5), kept: 2, dims: 2 });
    h.add(0, 1, { scaled: Float64Array.of(0.5, 0.75), kept: 1, dims: 2 });
    const counts = Array.from(h.counts[0][1] ?? []);
    assert.equal(counts.length, 8);
    const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
    assert.equal(sum(counts.slice(0, 4)), 3);
    assert.equal(sum(counts.slice(4)), 2);
  });

  test('keptRange widens the range to the coefficients only (a fresh block’s zeros are not coefficients)', () => {
    const kept: KeptFilters = { scaled: Float64Array.of(0.5, 1, 0.75, 0.25), kept: 2, dims: 2 };
    const range: [number, number] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    keptRange(kept, new Float64Array(2), Float64Array.of(1, 0, 0, 1), newProjectionBlock(2), range);
    assert.deepEqual(range, [0.25, 1]);
    const neg: KeptFilters = { scaled: Float64Array.of(-0.5, -1), kept: 1, dims: 2 };
    keptRange(neg, new Float64Array(2), Float64Array.of(1, 0, 0, 1), newProjectionBlock(2), range);
    assert.deepEqual(range, [-1, 1]);
    const inside: [number, number] = [-0.75, -0.25];
    keptRange(neg, new Float64Array(2), Float64Array.of(1, 0, 0, 1), newProjectionBlock(2), inside);
    assert.deepEqual(inside, [-1, -0.25]);
  });

  test('projectKept: (x − mean) · component, row by row, nothing written past the kept filters', () => {
    const kept: KeptFilters = { scaled: Float64Array.of(1, 2, 3, 4), kept: 2, dims: 2 };
    const out = projectKept(kept, Float64Array.of(1, 1), Float64Array.of(1, 2, 3, 4), new Float64Array(6));
    // rows (0, 1) and (2, 3): (0·1 + 1·2, 0·3 + 1·4) and (2·1 + 3·2, 2·3 + 3·4)
    assert.deepEqual(Array.from(out), [2, 4, 8, 18, 0, 0]);
  });

  test('projectInBlocks hands over 4096 filters at a time, then the rest', () => {
    const kept: KeptFilters = {
      scaled: Float64Array.from({ length: 4200 }, (_, i) => i),
      kept: 4200,
      dims: 1,
    };
    const seen: number[] = [];
    let last = -1;
    projectInBlocks(kept, new Float64Array(1), Float64Array.of(1), newProjectionBlock(1), (c, n) => {
      seen.push(n);
      last = c[n - 1];
    });
    assert.deepEqual(seen, [4096, 104]);
    assert.equal(last, 4199);
    // exactly one block, and none: no empty call
    for (const k of [4096, 0]) {
      const calls: number[] = [];
      const part: KeptFilters = { scaled: new Float64Array(k), kept: k, dims: 1 };
      projectInBlocks(part, new Float64Array(1), Float64Array.of(1), newProjectionBlock(1), (_, n) =>
        calls.push(n),
      );
      assert.deepEqual(calls, k === 0 ? [] : [4096]);
    }
  });

  test('a value exactly on the second-to-last edge goes to the last bin (numpy: x ≥ lo + 13·(hi − lo)/14)', () => {
    // floor((x − lo) · bins / (hi − lo)) gives 12 here; the edge comparison corrects it to 13
    const h = new CohortHistograms(1, new Float64Array(1), Float64Array.of(1), 0, 1, 14);
    const x = 0 + 13 * (1 / 14);
    assert.equal(Math.floor(x * 14), 12);
    h.add(0, 1, { scaled: Float64Array.of(x), kept: 1, dims: 1 });
    const counts = Array.from(h.counts[0][1] ?? []);
    assert.equal(counts[13], 1);
    assert.equal(counts[12], 0);
  });
});

describe('ranks and Spearman’s ρ against scipy', () => {
  for (const c of ref.ranks)
    test(`rankdata and spearmanr of ${c.x.length} values with ties`, () => {
      assert.deepEqual(averageRanks(c.x), c.rankX);
      assert.deepEqual(averageRanks(c.y), c.rankY);
      close(spearman(c.x, c.y), c.spearman, 1e-14, 'spearman');
      close(spearman(c.y, c.x), c.spearman, 1e-14, 'spearman reversed');
    });

  test('±1 for monotone data (clamped), null when constant or fewer than 2, an error for different lengths', () => {
    assert.equal(spearman([1, 2, 3, 4, 5, 6, 7], [0.1, 0.4, 0.5, 2, 3, 9, 10]), 1);
    assert.equal(spearman([1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1]), -1);
    assert.equal(spearman([1, 2], [2, 1]), -1);
    assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
    assert.equal(spearman([1, 2, 3], [4, 4, 4]), null);
    assert.equal(spearman([1], [2]), null);
    assert.equal(spearman([], []), null);
    assert.throws(() => spearman([1, 2], [1]), {
      name: 'RangeError',
      message: 'spearman: inputs of different lengths',
    });
    assert.deepEqual(averageRanks([]), []);
    assert.deepEqual(averageRanks([5]), [1]);
    assert.deepEqual(averageRanks([2, 1]), [2, 1]);
  });
});

function model(name: string, group: string, whole: CohortModel['whole']): CohortModel {
  const bins = new Array(11).fill(null);
  return { model: name, group, sparsity: bins, varianceEntropy: bins, orthogonality: bins, whole };
}

describe('cohortCorrelation', () => {
  test('pairs only models where both values are defined; n counts the finite column values', () => {
    const models = [
      model('a', 'x', { sparsity: 0.1, varianceEntropy: 0.5, orthogonality: null }),
      model('b', 'x', { sparsity: 0.2, varianceEntropy: null, orthogonality: 0.3 }),
      model('c', 'y', { sparsity: 0.3, varianceEntropy: 0.7, orthogonality: 0.2 }),
      model('d', 'y', { sparsity: 0.4, varianceEntropy: 0.6, orthogonality: 0.1 }),
      model('e', 'y', { sparsity: 0.5, varianceEntropy: 0.9, orthogonality: 0.4 }),
      model('f', 'y', { sparsity: 0.6, varianceEntropy: 0.8, orthogonality: 0.5 }),
    ];
    const values = [10, 20, 30, null, 50, Number.NaN];
    const r = cohortCorrelation('acc', models, values);
    assert.deepEqual(Object.keys(r), ['column', 'n', 'sparsity', 'varianceEntropy', 'orthogonality']);
    assert.equal(r.column, 'acc');
    assert.equal(r.n, 4);
    // sparsity: a, b, c, e (0.1..0.5 vs 10..50): monotone
    assert.equal(r.sparsity, 1);
    // varianceEntropy: a, c, e → (0.5, 0.7, 0.9) vs (10, 30, 50)
    assert.equal(r.varianceEntropy, 1);
    // orthogonality: b, c, e → (0.3, 0.2, 0.4) vs (20, 30, 50): ranks (2, 1, 3) vs (1, 2, 3): ρ = 0.5
    close(r.orthogonality, 0.5, 1e-15, 'orthogonality');
    const inf = cohortCorrelation('acc', models.slice(0, 3), [Number.POSITIVE_INFINITY, 1, 2]);
    assert.equal(inf.n, 2);
    assert.equal(inf.sparsity, 1);
    assert.equal(inf.varianceEntropy, null);
  });
});

describe('JSON and CSV forms', () => {
  const models = [
    model('net "a", v2', 'robust', { sparsity: 0.25, varianceEntropy: null, orthogonality: 0.5 }),
    model('b', 'normal', { sparsity: 0, varianceEntropy: 1.5, orthogonality: null }),
  ];
  models[0] = { ...models[0], sparsity: [0.125, ...new Array(10).fill(null)] };
  const base: CohortsResult = {
    by: 'Training',
    bins: [...COHORT_BINS],
    groups: ['normal', 'robust'],
    models,
    divergence: null,
  };

  test('cohortsJson keeps the contract’s keys in order and adds the correlation only when there is one', () => {
    const extra = { ...base, models: models.map((m) => ({ ...m, extra: 1 }) as CohortModel) };
    const j = cohortsJson(extra);
    assert.deepEqual(Object.keys(j), ['by', 'bins', 'groups', 'models', 'divergence']);
    assert.deepEqual(Object.keys(j.models[0]), [
      'model',
      'group',
      'sparsity',
      'varianceEntropy',
      'orthogonality',
      'whole',
    ]);
    assert.deepEqual(j.models, models);
    assert.equal(j.by, 'Training');
    assert.deepEqual(j.groups, ['normal', 'robust']);
    assert.equal(j.divergence, null);
    const correlation = { column: 'acc', n: 2, sparsity: 1, varianceEntropy: null, orthogonality: null };
    const jc = cohortsJson({ ...base, correlation });
    assert.deepEqual(Object.keys(jc), ['by', 'bins', 'groups', 'models', 'divergence', 'correlation']);
    assert.deepEqual(jc.correlation, correlation);
  });

  test('cohortsCsv: a header per metric and bin, CRLF rows, empty cells for null, quoted where needed', () => {
    const csv = cohortsCsv({
      ...base,
      bins: ['first', '(0.0, 0.1]'],
      models: models.map((m) => ({
        ...m,
        sparsity: m.sparsity.slice(0, 2),
        varianceEntropy: m.varianceEntropy.slice(0, 2),
        orthogonality: m.orthogonality.slice(0, 2),
      })),
    });
    assert.equal(
      csv,
      'model,Training,sparsity,sparsity first,"sparsity (0.0, 0.1]",varianceEntropy,varianceEntropy first,' +
        '"varianceEntropy (0.0, 0.1]",orthogonality,orthogonality first,"orthogonality (0.0, 0.1]"\r\n' +
        '"net ""a"", v2",robust,0.25,0.125,,,,,0.5,,\r\n' +
        'b,normal,0,,,1.5,,,,,\r\n',
    );
    const odd = cohortsCsv({
      ...base,
      by: 'line\nbreak',
      bins: [],
      models: [
        {
          ...model('cr\rx', 'q"', { sparsity: null, varianceEntropy: null, orthogonality: null }),
          sparsity: [],
          varianceEntropy: [],
          orthogonality: [],
        },
      ],
    });
    assert.equal(odd, 'model,"line\nbreak",sparsity,varianceEntropy,orthogonality\r\n"cr\rx","q""",,,\r\n');
  });
});
