/**
 * The rules of src/metrics/prune.ts on layers small enough to plan by hand (issue 20 item 6): the dead-filter
 * threshold at its exact value, the pruning order, the global ranking by layer-normalised score, the per-layer
 * quota, which conv a depthwise layer is pruned with, the notes of layers left out and the totals. Every
 * expected value is derived in the comments; test/prune.test.ts checks the scores against numpy/scipy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  filterScores,
  type LayerPlan,
  PRUNE_CRITERIA,
  type PruneOptions,
  prunePlan,
  rankFilters,
} from '../src/metrics/prune.js';
import type { ConvLayer } from '../src/model/types.js';
import { convLayer } from './support/conv-layer.js';

const conv = (name: string, shape: number[], values: number[], extra: Partial<ConvLayer> = {}): ConvLayer =>
  convLayer(name, shape, Float64Array.from(values), extra);

/** A depthwise 3×3 layer of `channels` channels (multiplier 1) at conv depth `depth`. */
const depthwise = (name: string, channels: number, depth: number, extra: Partial<ConvLayer> = {}) =>
  conv(name, [channels, 1, 3, 3], new Array(channels * 9).fill(1), {
    kind: 'depthwise',
    groups: channels,
    convDepth: depth,
    ...extra,
  });

/** A 1×1 conv with one input channel: filter j is the single value values[j], so l1 = l2 = |values[j]|. */
const pointwise = (name: string, values: number[], depth = 0) =>
  conv(name, [values.length, 1, 1, 1], values, { convDepth: depth });

const opts = (o: Partial<PruneOptions>): PruneOptions => ({
  criterion: 'l1',
  ratio: 0,
  perLayer: true,
  ...o,
});

const prunes = (layers: LayerPlan[]) => Object.fromEntries(layers.map((l) => [l.name, l.prune]));

test('the criteria are l1, l2 and fpgm', () => {
  assert.deepEqual(PRUNE_CRITERIA, ['l1', 'l2', 'fpgm']);
});

describe('filterScores: dead filters', () => {
  test('dead = the whole filter below eps·max|W| of the layer, strictly; the row maximum of |w|', () => {
    // shape [4, 1, 1, 2], eps 0.5: max|W| = 2 (filter 0, its first value) → threshold 1
    //   f0 = (2, 0)      row max 2   live
    //   f1 = (1, 0)      row max 1   live (1 is not < 1)
    //   f2 = (0.5, 0.9)  row max 0.9 dead
    //   f3 = (−1.5, 0.1) row max 1.5 live (its last value is the smaller one)
    const s = filterScores(Float64Array.of(2, 0, 1, 0, 0.5, 0.9, -1.5, 0.1), [4, 1, 1, 2], 0.5);
    assert.deepEqual([...s.dead], [0, 0, 1, 0]);
    assert.deepEqual([...s.l1], [2, 1, 1.4, 1.6]);
    assert.deepEqual([...s.l2], [2, 1, Math.sqrt(0.25 + 0.81), Math.sqrt(2.25 + 0.01)]);
  });

  test('the default eps is 0.01; an all-zero layer is all dead', () => {
    // max 100 → threshold 1: 0.99 dead, 1 live
    assert.deepEqual([...filterScores(Float64Array.of(100, 0.99, 1), [3, 1, 1, 1]).dead], [0, 1, 0]);
    assert.deepEqual([...filterScores(new Float64Array(3), [3, 1, 1, 1]).dead], [1, 1, 1]);
  });

  test('only the out·d values the shape names are read', () => {
    // a longer array (a view of a pooled buffer, say): threshold 0.01·2, not 0.01·100 (which would kill 0.5)
    const s = filterScores(Float64Array.of(0.5, 2, 100), [2, 1, 1, 1]);
    assert.deepEqual([...s.dead], [0, 0]);
    assert.deepEqual([...s.l1], [0.5, 2]);
  });
});

test('rankFilters: dead first, then ascending score, index order on ties', () => {
  assert.deepEqual(
    rankFilters(Float64Array.of(3, 1, 2, 1, 5), Uint8Array.of(0, 0, 0, 0, 1)),
    [4, 1, 3, 2, 0],
  );
  assert.deepEqual(rankFilters(Float64Array.of(2, 0, 2, 1), Uint8Array.of(0, 1, 0, 0)), [1, 3, 0, 2]);
});

describe('prunePlan: options', () => {
  test('ratio must be in [0, 1)', async () => {
    const l = [pointwise('a', [1, 2])];
    for (const ratio of [1, -0.01, Number.NaN])
      await assert.rejects(prunePlan(l, opts({ ratio })), {
        name: 'RangeError',
        message: `ratio must be in [0, 1), got ${ratio}`,
      });
    assert.deepEqual((await prunePlan(l, opts({ ratio: 0 }))).layers[0].prune, []);
  });

  test('per layer: ⌊ratio·out⌋ each, or the dead ones if more, but never the whole layer', async () => {
    // an all-zero layer: every filter dead, 3 of 4 pruned; a, b: l1 = |w|, ⌊0.34·2⌋ = 0 and ⌊0.34·4⌋ = 1
    const plan = await prunePlan(
      [pointwise('a', [1, 3]), pointwise('b', [10, 20, 30, 100]), pointwise('zero', [0, 0, 0, 0])],
      opts({ ratio: 0.34 }),
    );
    assert.equal(plan.mode, 'per-layer');
    assert.deepEqual(prunes(plan.layers), { a: [], b: [0], zero: [0, 1, 2] });
    assert.deepEqual(plan.layers[2].dead, [0, 1, 2, 3]);
    // without the dead layer: per layer a keeps both (⌊0.68⌋ = 0) where the global ranking takes a0 (next test)
    const two = [pointwise('a', [1, 3]), pointwise('b', [10, 20, 30, 100])];
    assert.deepEqual(prunes((await prunePlan(two, opts({ ratio: 0.34 }))).layers), { a: [], b: [0] });
  });
});

describe('prunePlan: global ranking by score / layer mean', () => {
  test('the lowest normalised scores across layers, ties in layer order', async () => {
    // a = (1, 3): mean 2 → keys 0.5, 1.5; b = (10, 20, 30, 100): mean 40 → 0.25, 0.5, 0.75, 2.5.
    // ⌊0.34·6⌋ = 2: b0 (0.25), then a0 (0.5, tied with b1, but layer a comes first)
    const plan = await prunePlan(
      [pointwise('a', [1, 3]), pointwise('b', [10, 20, 30, 100])],
      opts({ ratio: 0.34, perLayer: false }),
    );
    assert.equal(plan.mode, 'global');
    assert.deepEqual(prunes(plan.layers), { a: [0], b: [0] });
  });

  test('keys are divided by the mean (not the sum, not multiplied)', async () => {
    // a = (5, 1): mean 3 → keys 5/3, 1/3; b as above: 0.25 is the lowest; ⌊0.2·6⌋ = 1
    const plan = await prunePlan(
      [pointwise('a', [5, 1]), pointwise('b', [10, 20, 30, 100])],
      opts({ ratio: 0.2, perLayer: false }),
    );
    assert.deepEqual(prunes(plan.layers), { a: [], b: [0] });
  });

  test('only the layers’ own filters are ranked', async () => {
    // a = (3, 3, 4, 5): mean 3.75 → keys 0.8, 0.8, 1.07, 1.33; b = (1, 8): mean 4.5 → 0.22, 1.78; ⌊0.3·6⌋ = 1
    const plan = await prunePlan(
      [pointwise('a', [3, 3, 4, 5]), pointwise('b', [1, 8])],
      opts({ ratio: 0.3, perLayer: false }),
    );
    assert.deepEqual(prunes(plan.layers), { a: [], b: [0] });
  });

  test('dead filters first, even where another layer has a lower key; at ratio 0 the dead ones alone', async () => {
    // eps 0.5. a = (1, 0.45): 0.45 < 0.5 dead; l1 keys 1/0.725, 0.45/0.725 = 0.62.
    // b = [(1, 0, 0, 0), (1, 1, 1, 1)]: row max 1 both, live; l1 1 and 4, mean 2.5 → keys 0.4, 1.6
    const layers = [conv('a', [2, 1, 1, 1], [1, 0.45]), conv('b', [2, 1, 1, 4], [1, 0, 0, 0, 1, 1, 1, 1])];
    for (const ratio of [0, 0.25]) {
      const plan = await prunePlan(layers, opts({ ratio, perLayer: false, eps: 0.5 }));
      assert.deepEqual(prunes(plan.layers), { a: [1], b: [] }, `ratio ${ratio}`);
      assert.deepEqual(
        plan.layers.map((l) => l.dead),
        [[1], []],
      );
    }
    // ratio 0.5: ⌊0.5·4⌋ = 2: the dead a1, then b0 (key 0.4)
    const half = await prunePlan(layers, opts({ ratio: 0.5, perLayer: false, eps: 0.5 }));
    assert.deepEqual(prunes(half.layers), { a: [1], b: [0] });
  });

  test('a layer of identical live filters (fpgm all 0, mean 0) ranks with keys 0', async () => {
    // b = (1, 2, 4): fpgm = (1+3, 1+2, 3+2) = (4, 3, 5), mean 4 → keys 1, 0.75, 1.25. a = (1, 1, 1): all
    // pairwise distances 0 → keys 0 (not 0/0). ⌊0.5·6⌋ = 3: a0, a1 (a keeps one), then b1
    const plan = await prunePlan(
      [pointwise('b', [1, 2, 4]), pointwise('a', [1, 1, 1])],
      opts({ criterion: 'fpgm', ratio: 0.5, perLayer: false }),
    );
    assert.deepEqual(prunes(plan.layers), { a: [0, 1], b: [1] });
    assert.deepEqual(plan.layers[0].scores, [4, 3, 5]);
  });

  test('the l2 criterion ranks by ‖W[j]‖₂', async () => {
    // filters (3, 4), (0, 6), (5, 0): l1 = 7, 6, 5; l2 = 5, 6, 5 → l2 prunes filter 0 (tie with 2, index order)
    const l = [conv('c', [3, 1, 1, 2], [3, 4, 0, 6, 5, 0])];
    assert.deepEqual((await prunePlan(l, opts({ criterion: 'l2', ratio: 0.34 }))).layers[0].prune, [0]);
    assert.deepEqual((await prunePlan(l, opts({ criterion: 'l1', ratio: 0.34 }))).layers[0].prune, [2]);
  });
});

describe('prunePlan: depthwise layers and their producer', () => {
  const plan = async (layers: ConvLayer[], ratio = 0) =>
    Object.fromEntries((await prunePlan(layers, opts({ ratio }))).layers.map((l) => [l.name, l]));

  test('the deepest earlier conv with as many filters, not the last one in file order', async () => {
    const p = await plan([
      pointwise('d1', [1, 2, 3, 4, 5, 6], 1),
      pointwise('d0', [1, 2, 3, 4, 5, 6], 0),
      depthwise('dw', 6, 2),
    ]);
    assert.equal(p.dw.producer, 'd1');
    const q = await plan([
      pointwise('d0', [1, 2, 3, 4, 5, 6], 0),
      pointwise('d1', [1, 2, 3, 4, 5, 6], 1),
      depthwise('dw', 6, 2),
    ]);
    assert.equal(q.dw.producer, 'd1');
  });

  test('on equal depth the later conv in file order; a conv at the same depth counts only if earlier', async () => {
    const p = await plan([
      pointwise('x', [1, 2, 3, 4], 1),
      pointwise('y', [1, 2, 3, 4], 1),
      depthwise('dw', 4, 2),
    ]);
    assert.equal(p.dw.producer, 'y');
    const same = await plan([pointwise('p', [1, 2, 3, 4], 1), depthwise('dw', 4, 1)]);
    assert.equal(same.dw.producer, 'p');
    const later = await plan([depthwise('dw', 4, 1), pointwise('p', [1, 2, 3, 4], 1)]);
    assert.equal(later.dw.producer, undefined);
    assert.equal(later.dw.note, 'depthwise: no producer with a matching filter count found; not pruned');
    const deeper = await plan([pointwise('p', [1, 2, 3, 4], 2), depthwise('dw', 4, 1)]);
    assert.equal(deeper.dw.producer, undefined);
  });

  test('skips convs with another filter count, transposed, depthwise and non-rank-4 layers', async () => {
    const p = await plan([
      pointwise('m', [1, 2, 3, 4, 5, 6], 0),
      pointwise('five', [1, 2, 3, 4, 5], 1),
      conv('tr', [6, 2, 3, 3], new Array(108).fill(1), { kind: 'transposed', convDepth: 1 }),
      conv('fc', [6, 10], new Array(60).fill(1), { convDepth: 1 }),
      depthwise('dw0', 6, 1),
      depthwise('dw', 6, 2, { groups: null }), // no groups recorded: the channels are shape[0]
    ]);
    assert.equal(p.dw0.producer, 'm');
    assert.equal(p.dw.producer, 'm');
  });

  test('the plan of a depthwise layer: its producer’s channels, the params they hold, the note', async () => {
    // m = (1..6): ⌊0.34·6⌋ = 2 → filters 0, 1 (l1 1 and 2); dw: 9 params a filter
    const p = await plan([pointwise('m', [1, 2, 3, 4, 5, 6], 0), depthwise('dw', 6, 1)], 0.34);
    assert.deepEqual(p.dw, {
      name: 'dw',
      op: 'Conv',
      kind: 'depthwise',
      shape: [6, 1, 3, 3],
      filters: 6,
      prune: [0, 1],
      dead: [],
      scores: null,
      paramsBefore: 54,
      paramsRemoved: 18,
      producer: 'm',
      note: 'depthwise: pruned with its producer m (nearest earlier conv with 6 filters)',
    });
  });
});

describe('prunePlan: layers left out, totals', () => {
  test('transposed, rank-2 and rank-3 layers: no scores, no pruning, a note; totals add every layer', async () => {
    const plan = await prunePlan(
      [
        conv('tr', [3, 2, 1, 1], [1, 2, 3, 4, 5, 6], { kind: 'transposed', op: 'ConvTranspose' }),
        conv('fc', [4, 3], new Array(12).fill(1)),
        conv('dw1d', [2, 1, 3], [1, 2, 3, 4, 5, 6], { kind: 'depthwise', groups: 2 }),
        // a: l1 = (0.001, 2, 3): threshold 0.03 → filter 0 dead, ⌊0.5·3⌋ = 1 → [0]
        conv('a', [3, 1, 1, 2], [0.001, 0, 1, 1, 3, 0]),
      ],
      opts({ ratio: 0.5 }),
    );
    const out = plan.layers.map(
      ({ name, kind, filters, prune, dead, scores, paramsBefore, paramsRemoved, note }) => ({
        name,
        kind,
        filters,
        prune,
        dead,
        scores,
        paramsBefore,
        paramsRemoved,
        note,
      }),
    );
    assert.deepEqual(out, [
      {
        name: 'tr',
        kind: 'transposed',
        filters: 3,
        prune: [],
        dead: [],
        scores: null,
        paramsBefore: 6,
        paramsRemoved: 0,
        note: 'transposed convolution: output channels are dim 1 per group; not planned',
      },
      {
        name: 'fc',
        kind: 'plain',
        filters: 4,
        prune: [],
        dead: [],
        scores: null,
        paramsBefore: 12,
        paramsRemoved: 0,
        note: 'rank-2 weight: not planned',
      },
      {
        name: 'dw1d',
        kind: 'depthwise',
        filters: 2,
        prune: [],
        dead: [],
        scores: null,
        paramsBefore: 6,
        paramsRemoved: 0,
        note: 'rank-3 weight: not planned',
      },
      {
        name: 'a',
        kind: 'plain',
        filters: 3,
        prune: [0],
        dead: [0],
        scores: [0.001, 2, 3],
        paramsBefore: 6,
        paramsRemoved: 2,
        note: undefined,
      },
    ]);
    assert.deepEqual(plan.totals, {
      filters: 3 + 4 + 2 + 3,
      pruned: 1,
      dead: 1,
      params: 6 + 12 + 6 + 6,
      paramsRemoved: 2,
      macsRemoved: null,
      macsNote: "MACs need each conv's output size; the readers do not infer tensor shapes",
    });
    assert.equal(plan.criterion, 'l1');
    assert.equal(plan.ratio, 0.5);
  });
});
