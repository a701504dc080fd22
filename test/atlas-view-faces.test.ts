/**
 * What the atlas faces draw (src/analysis/atlas-view.ts), on hand-made labels so every count, share, median σ,
 * example order and example kernel is known in advance: sizes in order, the size's threshold, ties by layer
 * then channel, stored-label layers without examples, the example limit, and which layers `atlasInputs` keeps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atlasInputs, atlasView, PATTERN_LABELS } from '../src/analysis/atlas-view.js';
import {
  type AtlasLayerInput,
  type AtlasLayerResult,
  type KernelClass,
  type KernelLabel,
  labelShares,
  prototypeKernel,
  summariseAtlas,
} from '../src/analysis/kernel-atlas.js';
import type { ConvLayer } from '../src/model/types.js';

function kc(label: KernelLabel, score: number, sigma: number | null): KernelClass {
  return { label, score, sigma, polarity: null, theta: null, shift: null, margin: 0.1, family: null };
}

/** A weight of `n` values start, start + 1, …: every example kernel says where it was read from. */
const ramp = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);

function layer(
  name: string,
  k: number,
  threshold: number,
  depthBin: string | null,
  kernels: KernelClass[],
): AtlasLayerResult {
  return {
    layer: name,
    shape: [kernels.length, 1, k, k],
    convDepthNorm: 0,
    depthBin,
    k,
    threshold,
    kernels,
    shares: labelShares(kernels.map((x) => x.label)),
  };
}

test('atlas view by hand: sizes ascending, counts, shares, median σ, prototypes, examples best first', () => {
  const layers = [
    layer('A', 5, 0.75, '(0.9, 1.0]', [
      kc('edge', 0.8, 1),
      kc('edge', 0.99, 2),
      kc('unclassified', 0.3, 1.25),
    ]),
    layer('B', 3, 0.91, '[0.0, 0.1]', [kc('edge', 0.9, 0.75), kc('blob', 0.95, 0.5), kc('edge', 0.9, 1)]),
    layer('C', 3, 0.5, '[0.0, 0.1]', [kc('edge', 0.97, 1), kc('flat', 0, null)]),
    layer('D', 3, 0.6, null, [kc('edge', 0.9, 0.5)]),
  ];
  const atlas = summariseAtlas(layers);
  const inputs: AtlasLayerInput[] = [
    { layer: 'A', shape: [3, 1, 5, 5], convDepthNorm: 1, weight: ramp(0, 75) },
    { layer: 'B', shape: [3, 1, 3, 3], convDepthNorm: 0, weight: Float32Array.from(ramp(100, 27)) },
    { layer: 'C', shape: [2, 1, 3, 3], convDepthNorm: 0, kernels: layers[2].kernels },
    { layer: 'D', shape: [1, 1, 3, 3], convDepthNorm: 0.5, weight: ramp(200, 9) },
  ];
  const view = atlasView(inputs, atlas, { examples: 2 });
  assert.equal(view.kernelCount, 9);
  assert.equal(view.shares, atlas.shares);
  assert.equal(view.byDepth, atlas.byDepth);
  assert.deepEqual(view.layers, [
    { layer: 'A', k: 5, kernels: 3, depthBin: '(0.9, 1.0]', shares: layers[0].shares },
    { layer: 'B', k: 3, kernels: 3, depthBin: '[0.0, 0.1]', shares: layers[1].shares },
    { layer: 'C', k: 3, kernels: 2, depthBin: '[0.0, 0.1]', shares: layers[2].shares },
    { layer: 'D', k: 3, kernels: 1, depthBin: null, shares: layers[3].shares },
  ]);
  assert.deepEqual(
    view.sizes.map((s) => [s.k, s.threshold, s.kernels]),
    [
      [3, 0.91, 6],
      [5, 0.75, 3],
    ],
  );
  const [s3, s5] = view.sizes;
  // every label but flat, in KERNEL_LABELS order
  assert.deepEqual(
    s3.patterns.map((p) => p.label),
    ['blob', 'centre-surround', 'edge', 'line', 'saddle', 'unclassified'],
  );
  const p3 = Object.fromEntries(s3.patterns.map((p) => [p.label, p]));
  // blob: one hit (B channel 1, σ 0.5)
  assert.deepEqual(p3.blob, {
    label: 'blob',
    count: 1,
    share: 1 / 6,
    prototype: prototypeKernel('blob', 3, 0.5),
    sigma: 0.5,
    examples: [{ layer: 'B', channel: 1, score: 0.95, kernel: ramp(109, 9) }],
  });
  // no hits: the σ grid's middle (0.5, 0.75, 1 → 0.75)
  for (const label of ['centre-surround', 'line', 'saddle'] as const)
    assert.deepEqual(p3[label], {
      label,
      count: 0,
      share: 0,
      prototype: prototypeKernel(label, 3, 0.75),
      sigma: 0.75,
      examples: [],
    });
  // edge: C0 0.97 first; the 0.9 ties by layer, then channel (B0, B2, D0); C has no weights, so no example;
  // median of σ (0.5, 0.75, 1, 1) is the lower middle, 0.75
  assert.deepEqual(p3.edge, {
    label: 'edge',
    count: 4,
    share: 4 / 6,
    prototype: prototypeKernel('edge', 3, 0.75),
    sigma: 0.75,
    examples: [
      { layer: 'B', channel: 0, score: 0.9, kernel: ramp(100, 9) },
      { layer: 'B', channel: 2, score: 0.9, kernel: ramp(118, 9) },
    ],
  });
  assert.deepEqual(p3.unclassified, {
    label: 'unclassified',
    count: 0,
    share: 0,
    prototype: null,
    sigma: null,
    examples: [],
  });
  const p5 = Object.fromEntries(s5.patterns.map((p) => [p.label, p]));
  // two σ (2, 1) → sorted (1, 2), lower middle 1; 5x5 grid 0.5 … 2 → middle 1.25
  assert.deepEqual([p5.edge.count, p5.edge.share, p5.edge.sigma, p5.blob.sigma], [2, 2 / 3, 1, 1.25]);
  assert.deepEqual(p5.edge.prototype, prototypeKernel('edge', 5, 1));
  assert.deepEqual(p5.edge.examples, [
    { layer: 'A', channel: 1, score: 0.99, kernel: ramp(25, 25) },
    { layer: 'A', channel: 0, score: 0.8, kernel: ramp(0, 25) },
  ]);
  assert.deepEqual(p5.unclassified.examples, [{ layer: 'A', channel: 2, score: 0.3, kernel: ramp(50, 25) }]);
  assert.deepEqual([p5.unclassified.count, p5.unclassified.share], [1, 1 / 3]);
  // all of D's edge and B's 0.9s with a larger limit: order B0, B2, D0
  const all = atlasView(inputs, atlas, { examples: 10 }).sizes[0].patterns.find((p) => p.label === 'edge')!;
  assert.deepEqual(
    all.examples.map((e) => [e.layer, e.channel]),
    [
      ['B', 0],
      ['B', 2],
      ['D', 0],
    ],
  );
});

test('atlas view: 12 examples by default, none for a limit ≤ 0, share 0 for an empty size; inputs must match', () => {
  const layers = [
    layer(
      'E',
      3,
      0.9,
      null,
      Array.from({ length: 13 }, (_, i) => kc('line', 1 - i / 100, 1)),
    ),
  ];
  const atlas = summariseAtlas(layers);
  const inputs: AtlasLayerInput[] = [
    { layer: 'E', shape: [13, 1, 3, 3], convDepthNorm: 0, weight: ramp(0, 117) },
  ];
  const line = (v: ReturnType<typeof atlasView>) => v.sizes[0].patterns.find((p) => p.label === 'line')!;
  const byDefault = line(atlasView(inputs, atlas));
  assert.deepEqual(
    byDefault.examples.map((e) => e.channel),
    ramp(0, 12),
  );
  assert.deepEqual(byDefault.examples[11].kernel, ramp(99, 9));
  assert.deepEqual(line(atlasView(inputs, atlas, { examples: 0 })).examples, []);
  assert.deepEqual(line(atlasView(inputs, atlas, { examples: -1 })).examples, []);
  assert.deepEqual(line(atlasView(inputs, atlas, {})).examples.length, 12);
  assert.throws(() => atlasView([], atlas), new RangeError('0 layers for an atlas of 1'));
  const empty = summariseAtlas([layer('Z', 3, 0.9, null, [])]);
  const view = atlasView([{ layer: 'Z', shape: [0, 1, 3, 3], convDepthNorm: 0, weight: [] }], empty);
  assert.equal(view.sizes[0].kernels, 0);
  assert.ok(view.sizes[0].patterns.every((p) => p.share === 0 && p.count === 0));
  assert.deepEqual(atlasView([], summariseAtlas([])).sizes, []);
});

test('pattern labels: every label but flat and unclassified', () => {
  assert.deepEqual(PATTERN_LABELS, ['blob', 'centre-surround', 'edge', 'line', 'saddle']);
});

test('atlas inputs: only depthwise [C, 1, k, k] layers with k odd ≥ 3, weights loaded, in file order', async () => {
  let loads = 0;
  const conv = (name: string, kind: ConvLayer['kind'], shape: number[], value: number): ConvLayer => ({
    name,
    op: 'DepthwiseConv2D',
    kind,
    shape,
    groups: null,
    dtype: 'float32',
    graphDepth: null,
    convDepth: value,
    convDepthNorm: value / 10,
    loadWeight: async () => {
      loads++;
      return new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value);
    },
  });
  const inputs = await atlasInputs([
    conv('dw3', 'depthwise', [2, 1, 3, 3], 1),
    conv('plain3', 'plain', [2, 1, 3, 3], 2),
    conv('dw2', 'depthwise', [2, 1, 2, 2], 3),
    conv('grouped', 'grouped', [4, 2, 3, 3], 4),
    conv('dw5', 'depthwise', [1, 1, 5, 5], 5),
  ]);
  assert.equal(loads, 2, 'only the kept layers are loaded');
  assert.deepEqual(
    inputs.map((i) => [i.layer, i.shape, i.convDepthNorm, i.weight?.length, i.weight?.[0]]),
    [
      ['dw3', [2, 1, 3, 3], 0.1, 18, 1],
      ['dw5', [1, 1, 5, 5], 0.5, 25, 5],
    ],
  );
});
