/**
 * Depthwise kernel atlas against an independent numpy implementation of its documented definition
 * (test/data/kernel-atlas/make_atlas_reference.py → atlas_reference.json): σ grid, prototype bank, prototypes,
 * and every field of the labels of random and synthetic kernels; plus the rules' boundaries
 * (flat, threshold, margin, blob DC fraction) and the layer / model summaries, by hand. No chance levels
 * here (they take 1000 draws per size): test/kernel-atlas-chance covers them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AtlasThresholds,
  classifyKernel,
  classifyLayer,
  effectiveThreshold,
  isAtlasShape,
  KERNEL_LABELS,
  labelShares,
  modelAtlas,
  prototypeBank,
  prototypeKernel,
  sigmaGrid,
  summariseAtlas,
} from '../src/analysis/kernel-atlas.js';
import { checkCase, close, ref } from './support/atlas-reference.js';

const FREE: AtlasThresholds = { threshold: 0, margin: 0, chance: 0 };

test('σ grid {0.5, 0.75, …, (k−1)/2} and the prototype bank per family equal numpy', () => {
  for (const [k, grid] of Object.entries(ref.sigmaGrid))
    assert.deepEqual(sigmaGrid(Number(k)), grid, `k=${k}`);
  for (const [k, want] of Object.entries(ref.bank)) {
    const bank = prototypeBank(Number(k));
    assert.equal(bank.k, Number(k));
    assert.equal(bank.singles.length, want.singles, `k=${k} singles`);
    assert.equal(bank.spans.length, want.spans, `k=${k} spans`);
    const byFamily: Record<string, number> = {};
    for (const p of [...bank.singles, ...bank.spans]) byFamily[p.family] = (byFamily[p.family] ?? 0) + 1;
    assert.deepEqual(byFamily, want.byFamily, `k=${k} families`);
  }
  assert.equal(prototypeBank(5), prototypeBank(5), 'cached per k');
  for (const k of [1, 2, 4, 3.5, -3, Number.NaN])
    assert.throws(() => prototypeBank(k), new RangeError(`kernel size ${k} is not odd ≥ 3`));
});

test('prototype kernels equal numpy (max |v| = 1, on polarity, θ and shift); none for flat and unclassified', () => {
  for (const p of ref.prototypes) {
    const got = prototypeKernel(p.label, p.k, p.sigma, p.theta, p.shift);
    const what = `${p.label} k=${p.k} σ=${p.sigma} θ=${p.theta} shift=${p.shift}`;
    if (p.kernel === null) {
      assert.equal(got, null, what);
      continue;
    }
    assert.ok(got, what);
    assert.equal(got.length, p.kernel.length, what);
    for (let i = 0; i < got.length; i++) close(got[i], p.kernel[i], 1e-12, `${what} [${i}]`);
  }
  // a σ so small that every sample underflows to 0: all zeros, not 0/0
  assert.deepEqual(prototypeKernel('blob', 3, 0.01, 0, [0.5, 0]), new Array(9).fill(0));
  // defaults: θ = 0, centred
  assert.deepEqual(prototypeKernel('edge', 5, 1), prototypeKernel('edge', 5, 1, 0, [0, 0]));
});

test('effective threshold without a chance level: the floor, whatever the size', () => {
  assert.equal(effectiveThreshold(3, { threshold: 0.6, margin: 0 }), 0.6, 'no chance level');
  assert.equal(effectiveThreshold(7, { threshold: 0.6, margin: 0, chance: 0 }), 0.6, 'chance 0');
  assert.equal(effectiveThreshold(5, { threshold: 0.6, margin: 0, chance: -1 }), 0.6, 'negative chance');
});

// numpy's limit for 5x5 and 7x7 under the default thresholds is the floor 0.75 (chance scores 0.64 and 0.47):
// the same labels without computing the chance level, which test/kernel-atlas-chance checks on 3x3
const FLOOR: AtlasThresholds = { threshold: 0.75, margin: 0.01, chance: 0 };

test('labels of random and synthetic kernels equal numpy field by field', () => {
  const cases = ref.cases.filter((c) => c.k > 3 || c.thresholds !== null);
  assert.ok(cases.length > 80);
  for (const c of cases) {
    if (c.thresholds === null && c.expected.label !== 'flat') assert.equal(c.expected.limit, 0.75, c.name);
    checkCase(c, c.thresholds ?? FLOOR);
  }
});
test('scores never exceed 1, also for a kernel that is exactly a prototype', () => {
  for (const p of ref.prototypes) {
    if (p.kernel === null) continue;
    const c = classifyKernel(p.kernel, p.k, 1, FREE);
    assert.ok(c.score <= 1 && c.score > 0.999, `${p.label} k=${p.k}: ${c.score}`);
    assert.ok(c.margin >= 0 && c.margin <= c.score, `${p.label} margin ${c.margin}`);
  }
  // a kernel orthogonal to a span (mirror-symmetric: no x or y derivative) still gets finite scores
  const blob = prototypeKernel('blob', 5, 1)!;
  const c = classifyKernel(blob, 5, 1, FREE);
  assert.equal(c.label, 'blob');
  assert.ok(Number.isFinite(c.margin), `${c.margin}`);
});

test('an exact tie between prototypes reports the first best: on 3x3 the saddle span is the same at every σ', () => {
  // gxx − gyy lives on the 4 edge pixels and gxy on the 4 corners, each scaled by σ: one span for all σ,
  // so a saddle prototype scores exactly 1 (clamped) at σ = 0.5, 0.75 and 1, and the smallest σ is reported
  for (const sigma of [0.5, 0.75, 1]) {
    const c = classifyKernel(prototypeKernel('saddle', 3, sigma, 20)!, 3, 1, FREE);
    assert.deepEqual([c.label, c.sigma, c.shift, c.score], ['saddle', 0.5, [0, 0], 1]);
  }
});

test('threshold and margin are inclusive: a score or lead equal to them labels, one ulp more does not', () => {
  const kernel = ref.cases.find((c) => c.name.startsWith('random 5x5'))!.kernel;
  const c = classifyKernel(kernel, 5, 10, FREE);
  assert.notEqual(c.label, 'unclassified');
  const up = (x: number) => x + Number.EPSILON * Math.max(1, x);
  assert.equal(classifyKernel(kernel, 5, 10, { threshold: c.score, margin: 0 }).label, c.label);
  assert.equal(classifyKernel(kernel, 5, 10, { threshold: up(c.score), margin: 0 }).label, 'unclassified');
  assert.equal(classifyKernel(kernel, 5, 10, { threshold: 0, margin: c.margin }).label, c.label);
  assert.equal(classifyKernel(kernel, 5, 10, { threshold: 0, margin: up(c.margin) }).label, 'unclassified');
  const un = classifyKernel(kernel, 5, 10, { threshold: 1.1, margin: 0 });
  // unclassified keeps the best family's fields
  assert.deepEqual({ ...un, label: c.label, polarity: c.polarity }, c);
  assert.equal(un.polarity, null);
});

test('flat: NaN, a constant kernel on an all-zero layer, and ‖K − mean‖ < 1 % of the layer max', () => {
  const flat = {
    label: 'flat',
    polarity: null,
    sigma: null,
    theta: null,
    shift: null,
    score: 0,
    margin: 0,
    family: null,
  };
  assert.deepEqual(classifyKernel(new Array(9).fill(0), 3, 0), flat);
  assert.deepEqual(classifyKernel(new Array(9).fill(-2), 3, 0), flat);
  assert.deepEqual(classifyKernel([Number.NaN, 0, 0, 0, 0, 0, 0, 0, 0], 3, 1), flat);
  const v = [1, -1, 1, -1, 0, 0, 0, 0, 0]; // ‖K − mean K‖ = 2 exactly
  assert.notEqual(classifyKernel(v, 3, 200, FREE).label, 'flat');
  assert.equal(classifyKernel(v, 3, 200.00000000000003, FREE).label, 'flat');
});

test('blob vs centre-surround at DC fraction 0.5 exactly (a spike on −1)', () => {
  const spike = (centre: number) => [-1, -1, -1, -1, centre, -1, -1, -1, -1];
  // 24 on −1: |Σ| / Σ|·| = 16 / 32; 23 on −1: 15 / 31
  assert.equal(classifyKernel(spike(24), 3, 24, FREE).label, 'blob');
  assert.equal(classifyKernel(spike(23), 3, 23, FREE).label, 'centre-surround');
  // the same shape upside down: |Σ| is what counts, the polarity flips
  const off = classifyKernel(
    spike(24).map((x) => -x),
    3,
    24,
    FREE,
  );
  assert.deepEqual([off.label, off.polarity], ['blob', 'off']);
});

test('atlas shapes: [C, 1, k, k] with k odd ≥ 3 only', () => {
  assert.equal(isAtlasShape([4, 1, 3, 3]), true);
  assert.equal(isAtlasShape([1, 1, 7, 7]), true);
  for (const s of [
    [4, 1, 3],
    [4, 1, 3, 3, 1],
    [4, 2, 3, 3],
    [4, 1, 3, 5],
    [4, 1, 1, 1],
    [4, 1, 4, 4],
    [4, 1, 2, 2],
  ])
    assert.equal(isAtlasShape(s), false, `${s}`);
  assert.throws(
    () => classifyLayer([], [4, 2, 3, 3]),
    new RangeError('shape [4, 2, 3, 3] is not [C, 1, k, k] with k odd ≥ 3'),
  );
});

test('a layer: each kernel labelled from its own slice with the layer-wide max |w|; shares by hand', () => {
  const cases = ref.cases.filter((c) => c.k === 3 && c.name.startsWith('edge')).slice(0, 2);
  const big = cases[0].kernel.map((x) => x * 200); // makes the other kernels flat (< 1 % of its max)
  const weight = [...cases[0].kernel, ...cases[1].kernel, ...big];
  const layer = classifyLayer(Float64Array.from(weight), [3, 1, 3, 3], FREE);
  const maxAbs = Math.max(...weight.map(Math.abs));
  assert.equal(layer.k, 3);
  assert.equal(layer.threshold, 0);
  assert.deepEqual(
    layer.kernels,
    [cases[0].kernel, cases[1].kernel, big].map((k) => classifyKernel(k, 3, maxAbs, FREE)),
  );
  assert.deepEqual(
    layer.kernels.map((k) => k.label),
    ['flat', 'flat', 'edge'],
  );
  assert.equal(layer.shares.flat, 2 / 3);
  assert.equal(layer.shares.edge, 1 / 3);
});

test('label shares: every label present, fractions of the count, all 0 for no kernels', () => {
  const s = labelShares(['edge', 'edge', 'blob', 'unclassified']);
  assert.deepEqual(Object.keys(s), [...KERNEL_LABELS]);
  assert.deepEqual(s, {
    blob: 0.25,
    'centre-surround': 0,
    edge: 0.5,
    line: 0,
    saddle: 0,
    flat: 0,
    unclassified: 0.25,
  });
  assert.deepEqual(Object.values(labelShares([])), new Array(KERNEL_LABELS.length).fill(0));
});

test('model atlas from weights and from stored labels; depth bins in depth order, none last', () => {
  const edgeCase = ref.cases.find((c) => c.k === 3 && c.expected.label === 'edge')!;
  const stored = classifyLayer(edgeCase.kernel, [1, 1, 3, 3], FREE).kernels;
  const blob5 = prototypeKernel('blob', 5, 1)!;
  const m = modelAtlas(
    [
      { layer: 'late', shape: [1, 1, 5, 5], convDepthNorm: 0.55, weight: blob5 },
      { layer: 'stored', shape: [1, 1, 3, 3], convDepthNorm: 0.05, kernels: stored },
      {
        layer: 'nowhere',
        shape: [2, 1, 3, 3],
        convDepthNorm: 1.5,
        weight: [...edgeCase.kernel, ...edgeCase.kernel],
      },
    ],
    FREE,
  );
  assert.equal(m.kernelCount, 4);
  assert.deepEqual(
    m.layers.map((l) => [l.layer, l.k, l.threshold, l.depthBin, l.kernels.length]),
    [
      ['late', 5, 0, '(0.5, 0.6]', 1],
      ['stored', 3, 0, '[0.0, 0.1]', 1],
      ['nowhere', 3, 0, null, 2],
    ],
  );
  assert.equal(m.layers[1].kernels, stored, 'stored labels are used as given');
  assert.deepEqual(m.layers[1].shape, [1, 1, 3, 3]);
  assert.equal(m.layers[1].convDepthNorm, 0.05);
  assert.equal(m.layers[1].shares.edge, 1);
  assert.equal(m.layers[0].kernels[0].label, 'blob');
  assert.deepEqual(
    m.byDepth.map((b) => [b.bin, b.kernels, b.shares.edge, b.shares.blob]),
    [
      ['[0.0, 0.1]', 1, 1, 0],
      ['(0.5, 0.6]', 1, 0, 1],
      ['(none)', 2, 1, 0],
    ],
  );
  assert.equal(m.shares.edge, 3 / 4);
  assert.equal(m.shares.blob, 1 / 4);
  // stored labels get the size's threshold under the thresholds given
  const d = modelAtlas([{ layer: 's', shape: [1, 1, 5, 5], convDepthNorm: 0, kernels: stored }], {
    threshold: 0.8,
    margin: 0,
    chance: 0,
  });
  assert.equal(d.layers[0].threshold, 0.8);
  assert.equal(d.layers[0].k, 5);
  // two layers in one depth bin: the bin holds both layers' kernels
  const same = modelAtlas(
    [
      { layer: 'a', shape: [1, 1, 5, 5], convDepthNorm: 0.51, weight: blob5 },
      {
        layer: 'b',
        shape: [2, 1, 3, 3],
        convDepthNorm: 0.59,
        weight: [...edgeCase.kernel, ...edgeCase.kernel],
      },
      { layer: 'c', shape: [1, 1, 5, 5], convDepthNorm: 0.6, weight: blob5 },
    ],
    FREE,
  );
  assert.deepEqual(
    same.byDepth.map((b) => [b.bin, b.kernels, b.shares.edge, b.shares.blob]),
    [['(0.5, 0.6]', 4, 0.5, 0.5]],
  );
  const e = summariseAtlas([]);
  assert.deepEqual([e.kernelCount, e.byDepth, e.layers], [0, [], []]);
});
