/**
 * The first-layer probe's pieces (src/analysis/first-layer-conv.ts) one by one, fast and without model files:
 * the conv spec read from layer attributes, SAME/VALID/explicit geometry against padding worked out by hand,
 * the convolution against a naive one over an explicitly zero-padded input (every stride, dilation, group and
 * tile edge the kernel has), the image to tensor steps, perturbations, amplification ratios, and the
 * synthetic image against numpy (test/data/first-layer/synthetic_image.py).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  amplification,
  type ConvLayerLike,
  type ConvSpec,
  conv2d,
  convGeometry,
  convSpecOf,
  firstLayerInfo,
  inputDelta,
  MAX_PROBE_INPUT,
  MAX_PROBE_OUTPUT,
  NORMALISATIONS,
  normalise,
  type PadMode,
  perturb,
  pixelsOf,
  syntheticImage,
  type Tensor3,
} from '../src/analysis/first-layer-conv.js';
import { FilterDbError } from '../src/errors.js';
import { mulberry32 } from '../src/metrics/random.js';
import type { ConvLayer } from '../src/model/types.js';
import { convSpec, cosineTensor, directConv } from './support/conv-reference.js';
import { dataPath } from './support/paths.js';

/** Asserts `f` throws a FilterDbError with this code and a message matching `text`. */
function throwsCode(f: () => unknown, code: string, text: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FilterDbError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, text);
    return true;
  });
}

const layer = (over: Partial<ConvLayerLike> = {}): ConvLayerLike => ({
  name: 'conv1',
  op: 'Conv',
  kind: 'conv',
  shape: [8, 3, 3, 3],
  groups: 1,
  ...over,
});

describe('convSpecOf: the spec from what the reader recorded', () => {
  it('defaults: stride 1, dilation 1, explicit zero padding; geometry known for formats that record it', () => {
    for (const format of ['onnx', 'tflite', 'tfjs', 'keras']) {
      const r = convSpecOf(layer(), format);
      assert.deepEqual(r, {
        spec: {
          shape: [8, 3, 3, 3],
          groups: 1,
          strides: [1, 1],
          dilations: [1, 1],
          padMode: 'explicit',
          pads: [0, 0, 0, 0],
        },
        known: true,
        notes: [],
      });
    }
  });

  it('a state dict does not record the geometry: assumed and said so, unless the layer has attributes', () => {
    const r = convSpecOf(layer({ groups: null }), 'pytorch');
    assert.equal(r.known, false);
    assert.deepEqual(r.notes, [
      'pytorch files do not record stride or padding: stride 1 and padding 0 assumed',
    ]);
    assert.equal(r.spec.groups, 1);
    const withAttributes = convSpecOf(layer({ attributes: {} }), 'safetensors');
    assert.equal(withAttributes.known, true);
    assert.deepEqual(withAttributes.notes, []);
  });

  it('strides and dilations: one value for both axes, two values per axis, empty means 1', () => {
    const r = convSpecOf(layer({ attributes: { strides: [2], dilations: [3, 4] } }), 'onnx').spec;
    assert.deepEqual(
      [r.strides, r.dilations],
      [
        [2, 2],
        [3, 4],
      ],
    );
    const e = convSpecOf(layer({ attributes: { strides: [], dilations: [64, 1, 9] } }), 'onnx').spec;
    assert.deepEqual(
      [e.strides, e.dilations],
      [
        [1, 1],
        [64, 1],
      ],
    );
  });

  it('impossible strides or dilations are refused by name', () => {
    for (const strides of [[0], [65], [1.5, 1], [1, -2], [Number.NaN]])
      throwsCode(
        () => convSpecOf(layer({ attributes: { strides } }), 'onnx'),
        'corrupt',
        new RegExp(`^conv1: has impossible strides \\[${strides.join(',')}\\]$`),
      );
    throwsCode(
      () => convSpecOf(layer({ attributes: { dilations: [2, 0] } }), 'onnx'),
      'corrupt',
      /^conv1: has impossible dilations \[2,0\]$/,
    );
  });

  it('padding modes, case-insensitive; unknown ones refused', () => {
    const mode = (padding: string): PadMode =>
      convSpecOf(layer({ attributes: { padding } }), 'tflite').spec.padMode;
    assert.equal(mode('SAME'), 'same-upper');
    assert.equal(mode('same'), 'same-upper');
    assert.equal(mode('SAME_UPPER'), 'same-upper');
    assert.equal(mode('same_lower'), 'same-lower');
    assert.equal(mode('valid'), 'valid');
    for (const p of ['', 'NOTSET', 'explicit']) assert.equal(mode(p), 'explicit');
    throwsCode(
      () => convSpecOf(layer({ attributes: { padding: 'causal' } }), 'keras'),
      'unsupported',
      /^conv1: has padding "causal"$/,
    );
  });

  it('explicit pads are kept in ONNX order; ignored under SAME; impossible ones refused', () => {
    const pads = (p: number[], padding?: string) =>
      convSpecOf(layer({ attributes: { pads: p, ...(padding ? { padding } : {}) } }), 'onnx').spec.pads;
    assert.deepEqual(pads([0, 2, 3, 4096]), [0, 2, 3, 4096]);
    assert.deepEqual(pads([]), [0, 0, 0, 0]);
    assert.deepEqual(pads([1, 2, 3, 4], 'SAME'), [0, 0, 0, 0]);
    assert.deepEqual(pads([9, 9], 'VALID'), [0, 0, 0, 0]);
    for (const p of [
      [1, 2, 3],
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4097],
      [-1, 0, 0, 0],
      [0, 0.5, 0, 0],
    ])
      throwsCode(() => pads(p), 'corrupt', new RegExp(`^conv1: has impossible pads \\[${p.join(',')}\\]$`));
  });

  it('transposed and non-2-D convolutions and impossible shapes are refused', () => {
    throwsCode(
      () => convSpecOf(layer({ kind: 'transposed' }), 'onnx'),
      'unsupported',
      /^conv1: is a transposed convolution; the probe needs a plain conv$/,
    );
    throwsCode(
      () => convSpecOf(layer({ name: undefined, op: 'Conv2DTranspose', kind: null }), 'keras'),
      'unsupported',
      /^the layer: is a transposed convolution/,
    );
    throwsCode(
      () => convSpecOf(layer({ shape: [8, 3, 3] }), 'onnx'),
      'unsupported',
      /^conv1: is not a 2-D convolution \(weight shape \[8,3,3\]\)$/,
    );
    throwsCode(
      () => convSpecOf(layer({ shape: [8, 3, 3, 3, 1] }), 'onnx'),
      'unsupported',
      /is not a 2-D convolution/,
    );
    for (const [shape, groups] of [
      [[8, 3, 0, 3], 1],
      [[8, 3, 3, 1.5], 1],
      [[8, 3, 3, 3], 3],
      [[8, 3, 3, 3], 0],
      [[-8, 3, 3, 3], 1],
      [[8, 3, 3, 3], 16],
    ] as [number[], number][])
      throwsCode(
        () => convSpecOf(layer({ shape, groups }), 'onnx'),
        'corrupt',
        new RegExp(`^conv1: has an impossible shape \\[${shape.join(',')}\\] with ${groups} groups$`),
      );
    // 4 groups of 2 output channels each
    assert.equal(convSpecOf(layer({ shape: [8, 1, 3, 3], groups: 4 }), 'onnx').spec.groups, 4);
  });
});

describe('firstLayerInfo', () => {
  const base: ConvLayer = {
    name: 'stem',
    op: 'Conv',
    kind: 'conv',
    shape: [4, 3, 7, 7],
    groups: 1,
  } as unknown as ConvLayer;

  it('the layer as the app shows it, attributes only when recorded', () => {
    const info = firstLayerInfo(base, 'pytorch');
    assert.deepEqual(info, {
      format: 'pytorch',
      name: 'stem',
      op: 'Conv',
      kind: 'conv',
      shape: [4, 3, 7, 7],
      groups: 1,
      geometryKnown: false,
      notes: ['pytorch files do not record stride or padding: stride 1 and padding 0 assumed'],
    });
    assert.ok(!('attributes' in info));
    const attributes = { strides: [2, 2], padding: 'SAME' };
    const withAttributes = firstLayerInfo({ ...base, attributes } as ConvLayer, 'tflite');
    assert.deepEqual(withAttributes.attributes, attributes);
    assert.equal(withAttributes.geometryKnown, true);
    assert.notEqual(withAttributes.shape, base.shape, 'a copy of the shape');
  });
});

describe('convGeometry: output size and padding worked out by hand', () => {
  it('SAME keeps ceil(in / stride) outputs; UPPER puts the odd pixel at the end, LOWER at the start', () => {
    // H 7, k 4, s 2: 4 outputs need 3·2 + 4 = 10 rows, 3 of padding; W 10, k 2 dilated 3 (span 4), s 3:
    // 4 outputs need 3·3 + 4 = 13 columns, 3 of padding
    const up = convGeometry(convSpec([1, 1, 4, 2], 1, [2, 3], [1, 3], 'same-upper'), 7, 10);
    assert.deepEqual(up, { outH: 4, outW: 4, pads: [1, 1, 2, 2] });
    const low = convGeometry(convSpec([1, 1, 4, 2], 1, [2, 3], [1, 3], 'same-lower'), 7, 10);
    assert.deepEqual(low, { outH: 4, outW: 4, pads: [2, 2, 1, 1] });
    // even totals split equally: H 9, k 3 dilated 2 (span 5), s 1 → 4 = 2 + 2
    assert.deepEqual(convGeometry(convSpec([1, 1, 3, 1], 1, [1, 1], [2, 1], 'same-lower'), 9, 5), {
      outH: 9,
      outW: 5,
      pads: [2, 0, 2, 0],
    });
  });

  it('SAME never pads negatively (a stride larger than the kernel)', () => {
    // H 8, k 1, s 3: 3 outputs need 2·3 + 1 = 7 rows < 8
    assert.deepEqual(convGeometry(convSpec([1, 1, 1, 1], 1, [3, 3], [1, 1], 'same-upper'), 8, 8), {
      outH: 3,
      outW: 3,
      pads: [0, 0, 0, 0],
    });
  });

  it('VALID pads nothing; explicit uses [top, left, bottom, right]', () => {
    const s = convSpec([1, 1, 3, 2], 1, [2, 1], [1, 2], 'valid', [5, 5, 5, 5]);
    // H 9: (9 − 3) / 2 + 1 = 4; W 6, span 3: 6 − 3 + 1 = 4
    assert.deepEqual(convGeometry(s, 9, 6), { outH: 4, outW: 4, pads: [0, 0, 0, 0] });
    const e = convSpec([1, 1, 3, 2], 1, [2, 1], [1, 2], 'explicit', [1, 2, 0, 3]);
    // H 9 + 1 + 0 = 10: (10 − 3) / 2 + 1 = 4 (floor); W 6 + 2 + 3 = 11, span 3: 9
    assert.deepEqual(convGeometry(e, 9, 6), { outH: 4, outW: 9, pads: [1, 2, 0, 3] });
  });
});

function weights(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + 0.3));
}

interface ConvCase {
  name: string;
  input: [number, number, number];
  spec: ConvSpec;
  /** The padding worked out by hand (what convGeometry must give). */
  pads: [number, number, number, number];
  out: [number, number];
}

const cases: ConvCase[] = [
  {
    name: '6 channels (one block of 4 and 2 single), asymmetric explicit pads',
    input: [3, 9, 11],
    spec: convSpec([6, 3, 3, 3], 1, [1, 1], [1, 1], 'explicit', [1, 2, 0, 1]),
    pads: [1, 2, 0, 1],
    out: [8, 12],
  },
  {
    name: '2 groups of 5 channels, strides 2×3, dilation 2 in y, SAME_UPPER',
    input: [4, 13, 10],
    spec: convSpec([10, 2, 3, 2], 2, [2, 3], [2, 1], 'same-upper'),
    pads: [2, 0, 2, 1],
    out: [7, 4],
  },
  {
    name: 'depthwise 4×4 stride 2, SAME_LOWER (odd padding first)',
    input: [3, 7, 7],
    spec: convSpec([3, 1, 4, 4], 3, [2, 2], [1, 1], 'same-lower'),
    pads: [2, 2, 1, 1],
    out: [4, 4],
  },
  {
    name: 'two tiles, the second with an odd number of positions, VALID',
    input: [1, 14, 12],
    spec: convSpec([5, 1, 2, 2], 1, [1, 1], [1, 1], 'valid', [3, 3, 3, 3]),
    pads: [0, 0, 0, 0],
    out: [13, 11],
  },
  {
    name: '2 groups of 4 (channel blocks of both groups), dilation 3 in x, stride 2 in y, pads on every side',
    input: [2, 12, 13],
    spec: convSpec([8, 1, 2, 3], 2, [2, 1], [1, 3], 'explicit', [2, 1, 3, 4]),
    pads: [2, 1, 3, 4],
    out: [8, 12],
  },
  {
    name: 'an odd number of positions in one tile, 4 channels',
    input: [2, 5, 5],
    spec: convSpec([4, 2, 3, 3], 1, [1, 1], [1, 1], 'valid'),
    pads: [0, 0, 0, 0],
    out: [3, 3],
  },
];

describe('conv2d equals a direct convolution with the hand-worked padding', () => {
  for (const c of cases) {
    it(c.name, () => {
      const [C, H, W] = c.input;
      const x = cosineTensor(C, H, W);
      const [O, I, KH, KW] = c.spec.shape;
      const w = weights(O * I * KH * KW);
      const g = convGeometry(c.spec, H, W);
      assert.deepEqual(g, { outH: c.out[0], outW: c.out[1], pads: c.pads });
      const want = directConv(
        x,
        w,
        c.spec.shape,
        c.spec.groups,
        c.spec.strides,
        c.spec.dilations,
        'explicit',
        c.pads,
      );
      assert.deepEqual([want.outH, want.outW], c.out, 'the naive output size');
      const got = conv2d(x, w, c.spec);
      assert.deepEqual([got.channels, got.height, got.width], [O, ...c.out]);
      assert.ok(got.data instanceof Float32Array);
      assert.equal(got.data.length, want.data.length);
      for (let i = 0; i < want.data.length; i++)
        assert.ok(
          Math.abs(got.data[i] - want.data[i]) <= 1e-6 * Math.max(1, Math.abs(want.data[i])),
          `output ${i}: ${got.data[i]} vs ${want.data[i]}`,
        );
    });
  }

  it('takes weights as any array of numbers (a float32 weight gives the same maps)', () => {
    const s = convSpec([4, 1, 2, 2], 1, [1, 1], [1, 1], 'valid');
    const x = cosineTensor(1, 4, 4, 1);
    const w = [1, -2, 0.5, 3, 0, 0, 0, 1, 2, 2, 2, 2, -1, 0, 0, 0];
    const a = conv2d(x, w, s);
    const b = conv2d(x, Float32Array.from(w), s);
    assert.deepEqual(a, b);
    // channel 1 = the bottom-right tap; channel 3 = −(top-left tap)
    for (let y = 0; y < 3; y++)
      for (let xx = 0; xx < 3; xx++) {
        assert.equal(a.data[9 + y * 3 + xx], x.data[(y + 1) * 4 + xx + 1]);
        assert.equal(a.data[27 + y * 3 + xx], -x.data[y * 4 + xx]);
      }
  });

  it('the output limit: 2^24 values are computed, one row more is refused', () => {
    const s = convSpec([64, 1, 1, 1], 1, [1, 1], [1, 1], 'valid');
    const w = Float64Array.from({ length: 64 }, (_, i) => i - 10);
    const ok = conv2d(cosineTensor(1, 512, 512), w, s);
    assert.equal(ok.data.length, MAX_PROBE_OUTPUT);
    const plane = 512 * 512;
    for (const i of [0, 1, 12345, plane - 1])
      for (const o of [0, 13, 63])
        assert.equal(ok.data[o * plane + i], Math.fround((o - 10) * Math.fround(Math.cos(0.37 * i))));
    throwsCode(
      () => conv2d(cosineTensor(1, 513, 512), w, s),
      'too-large',
      /^probe: 64×513×512 output values are more than the probe holds \(16777216\); use a smaller image$/,
    );
  });

  it('refuses inputs that do not fit the layer', () => {
    const s = convSpec([4, 2, 3, 3], 2, [1, 1], [1, 1], 'valid');
    const w = weights(4 * 2 * 3 * 3);
    throwsCode(
      () => conv2d(cosineTensor(3, 5, 5), w, s),
      'unsupported',
      /^probe: the layer takes 4 input channels, the image has 3$/,
    );
    throwsCode(
      () => conv2d(cosineTensor(4, 5, 5), w.subarray(1), s),
      'corrupt',
      /^probe: weight has 71 values, shape \[4,2,3,3\]$/,
    );
    throwsCode(
      () => conv2d({ ...cosineTensor(4, 5, 5), height: 6 }, w, s),
      'corrupt',
      /^probe: input has 100 values, not 4×6×5$/,
    );
    for (const [h, wd] of [
      [2, 5],
      [5, 2],
    ])
      throwsCode(
        () => conv2d(cosineTensor(4, h, wd), w, s),
        'unsupported',
        new RegExp(`^probe: a ${h}×${wd} input is smaller than the 3×3 kernel$`),
      );
    // the smallest input that fits
    assert.equal(conv2d(cosineTensor(4, 3, 3), w, s).data.length, 4);
  });
});

describe('pixels, normalisation, perturbation and amplification', () => {
  // a 2×2 RGBA image: (10, 20, 30, 40), (255, 0, 128, 7), (0, 0, 0, 0), (1, 2, 3, 4)
  const rgba = { width: 2, height: 2, data: [10, 20, 30, 40, 255, 0, 128, 7, 0, 0, 0, 0, 1, 2, 3, 4] };
  const f32 = (v: number[]) => Array.from(Float32Array.from(v));

  it('RGB, BGR, RGBA and luminance planes in [0, 1]', () => {
    const rgb = pixelsOf(rgba, 3);
    assert.deepEqual([rgb.channels, rgb.height, rgb.width], [3, 2, 2]);
    assert.deepEqual(
      Array.from(rgb.data),
      f32([10, 255, 0, 1, 20, 0, 0, 2, 30, 128, 0, 3].map((v) => v / 255)),
    );
    assert.deepEqual(
      Array.from(pixelsOf(rgba, 3, true).data),
      f32([30, 128, 0, 3, 20, 0, 0, 2, 10, 255, 0, 1].map((v) => v / 255)),
    );
    assert.deepEqual(
      Array.from(pixelsOf(rgba, 4, true).data),
      f32([30, 128, 0, 3, 20, 0, 0, 2, 10, 255, 0, 1, 40, 7, 0, 4].map((v) => v / 255)),
    );
    const grey = pixelsOf(rgba, 1);
    assert.equal(grey.channels, 1);
    assert.deepEqual(
      Array.from(grey.data),
      f32([
        (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255,
        (0.299 * 255 + 0.114 * 128) / 255,
        0,
        (0.299 * 1 + 0.587 * 2 + 0.114 * 3) / 255,
      ]),
    );
  });

  it('refuses other channel counts, malformed images and images past the limit', () => {
    throwsCode(
      () => pixelsOf(rgba, 2),
      'unsupported',
      /^image: the layer takes 2 input channels; an image gives 1 \(grey\), 3 \(RGB\) or 4 \(RGBA\)$/,
    );
    for (const bad of [
      { width: 2, height: 2, data: rgba.data.slice(1) },
      { width: 0, height: 2, data: [] },
      { width: 2, height: 0, data: [] },
      { width: 1.5, height: 2, data: new Array(12).fill(0) },
      { width: 2, height: Number.NaN, data: [] },
    ])
      throwsCode(
        () => pixelsOf(bad, 3),
        'corrupt',
        new RegExp(`^image: is not a ${bad.width}×${bad.height} RGBA image \\(${bad.data.length} bytes\\)$`),
      );
    // the size check comes before any allocation: a claimed length is enough
    const huge = { width: 4096, height: 4097, data: { length: 4096 * 4097 * 4 } as ArrayLike<number> };
    throwsCode(
      () => pixelsOf(huge, 3),
      'too-large',
      /^image: 4096×4097 is larger than the probe takes \(4096×4096\)$/,
    );
    assert.equal(MAX_PROBE_INPUT, 3 * 4096 * 4096);
  });

  it('normalises per channel; a grey input uses the mean of the means and of the stds', () => {
    const x: Tensor3 = { channels: 3, height: 1, width: 2, data: Float32Array.from([0, 1, 0.5, 0.25, 1, 0]) };
    const imagenet = NORMALISATIONS.find((n) => n.id === 'imagenet');
    assert.ok(imagenet);
    const y = normalise(x, imagenet);
    assert.deepEqual(
      Array.from(y.data),
      f32([
        (0 - 0.485) / 0.229,
        (1 - 0.485) / 0.229,
        (0.5 - 0.456) / 0.224,
        (0.25 - 0.456) / 0.224,
        (1 - 0.406) / 0.225,
        (0 - 0.406) / 0.225,
      ]),
    );
    assert.deepEqual([y.channels, y.height, y.width], [3, 1, 2]);
    assert.deepEqual(Array.from(x.data), f32([0, 1, 0.5, 0.25, 1, 0]), 'the input is unchanged');
    const grey = normalise({ channels: 1, height: 1, width: 2, data: Float32Array.from([0.5, 1]) }, imagenet);
    const m = (0.485 + 0.456 + 0.406) / 3;
    const s = (0.229 + 0.224 + 0.225) / 3;
    assert.deepEqual(Array.from(grey.data), f32([(0.5 - m) / s, (1 - m) / s]));
    // a 4th channel uses the last mean and std
    const four = normalise(
      { channels: 4, height: 1, width: 1, data: Float32Array.from([1, 1, 1, 1]) },
      imagenet,
    );
    assert.equal(four.data[3], Math.fround((1 - 0.406) / 0.225));
  });

  it('the normalisations offered', () => {
    assert.deepEqual(
      NORMALISATIONS.map((n) => [n.id, n.label, n.mean, n.std]),
      [
        ['unit', '[0, 1]', [0, 0, 0], [1, 1, 1]],
        ['imagenet', 'ImageNet mean/std', [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]],
        ['signed', '[−1, 1]', [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]],
        ['bytes', '[0, 255]', [0, 0, 0], [1 / 255, 1 / 255, 1 / 255]],
      ],
    );
  });

  const pixels: Tensor3 = {
    channels: 1,
    height: 2,
    width: 4,
    data: Float32Array.from([0, 1, 0.5, 0.002, 0.998, 0.3, 0.7, 1]),
  };

  it('uniform noise of ±steps/255 from the seeded generator, clipped to [0, 1]', () => {
    const p = perturb(pixels, { kind: 'uniform', steps: 4, seed: 17 });
    const r = mulberry32(17);
    const eps = 4 / 255;
    const want = Array.from(pixels.data, (v) => Math.min(1, Math.max(0, v + (2 * r() - 1) * eps)));
    assert.deepEqual(Array.from(p.data), f32(want));
    assert.deepEqual([p.channels, p.height, p.width], [1, 2, 4]);
    assert.notDeepEqual(
      Array.from(perturb(pixels, { kind: 'uniform', steps: 4, seed: 18 }).data),
      Array.from(p.data),
    );
  });

  it('sign noise: exactly ±steps/255 by the generator (below ½ is −), clipped to [0, 1]', () => {
    const p = perturb(pixels, { kind: 'sign', steps: 2, seed: 8 });
    const r = mulberry32(8);
    const eps = 2 / 255;
    const draws = Array.from(pixels.data, () => r());
    assert.ok(draws.some((d) => d < 0.5) && draws.some((d) => d >= 0.5), 'both signs drawn');
    const want = Array.from(pixels.data, (v, i) =>
      Math.min(1, Math.max(0, v + (draws[i] < 0.5 ? -eps : eps))),
    );
    assert.deepEqual(Array.from(p.data), f32(want));
    assert.ok(
      Array.from(p.data).some(
        (v, i) => v === 0 && want[i] === 0 && pixels.data[i] + (draws[i] < 0.5 ? -eps : eps) < 0,
      ),
    );
    assert.ok(
      Array.from(p.data).some((v, i) => v === 1 && pixels.data[i] + (draws[i] < 0.5 ? -eps : eps) > 1),
    );
  });

  it('the input change divided by the std, in float32', () => {
    const clean: Tensor3 = {
      channels: 2,
      height: 1,
      width: 2,
      data: Float32Array.from([0.1, 0.2, 0.3, 0.4]),
    };
    const pert: Tensor3 = { ...clean, data: Float32Array.from([0.15, 0.2, 0.2, 1]) };
    const d = inputDelta(clean, pert, { std: [0.5, 0.25] });
    const f = Math.fround;
    assert.deepEqual(Array.from(d.data), [
      f(f(f(0.15) - f(0.1)) / 0.5),
      0,
      f(f(f(0.2) - f(0.3)) / 0.25),
      f(f(f(1) - f(0.4)) / 0.25),
    ]);
    assert.deepEqual([d.channels, d.height, d.width], [2, 1, 2]);
  });

  it('amplification: per-channel output norm over the input norm, and their mean', () => {
    const din: Tensor3 = { channels: 1, height: 1, width: 2, data: Float32Array.from([3, 4]) };
    const dout: Tensor3 = { channels: 3, height: 1, width: 2, data: Float32Array.from([6, 8, 0, 0, 1, 0]) };
    const a = amplification(din, dout);
    assert.equal(a.inputNorm, 5);
    assert.deepEqual(Array.from(a.ratios), [2, 0, 0.2]);
    assert.equal(a.mean, 2.2 / 3);
    const zero = amplification({ ...din, data: new Float32Array(2) }, dout);
    assert.deepEqual([Array.from(zero.ratios), zero.mean, zero.inputNorm], [[0, 0, 0], 0, 0]);
    const none = amplification(din, { channels: 0, height: 1, width: 2, data: new Float32Array(0) });
    assert.deepEqual([none.ratios.length, none.mean], [0, 0]);
  });
});

describe('the synthetic image equals numpy (test/data/first-layer/synthetic_image.py)', () => {
  const ref = JSON.parse(readFileSync(dataPath('first-layer/synthetic_image.json'), 'utf8')) as {
    small: { width: number; height: number; rgba: string };
    edge: { width: number; height: number; rgba: string };
    default: { width: number; height: number; sha256: string };
  };
  it('37×29, every byte', () => {
    const img = syntheticImage(37, 29);
    assert.deepEqual([img.width, img.height], [37, 29]);
    assert.deepEqual(Array.from(img.data), Array.from(Buffer.from(ref.small.rgba, 'base64')));
  });
  it("6×26, every byte: pixel (4, 4) lies exactly on the disc's edge and stays outside (an open disc)", () => {
    const img = syntheticImage(6, 26);
    assert.deepEqual(Array.from(img.data), Array.from(Buffer.from(ref.edge.rgba, 'base64')));
    const i = 4 * (4 * 6 + 4);
    assert.deepEqual(Array.from(img.data).slice(i, i + 3), [204, 41, 43]);
  });
  it('224×224 by default', () => {
    const img = syntheticImage();
    assert.deepEqual([img.width, img.height], [224, 224]);
    const bytes = Uint8Array.from(img.data);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), ref.default.sha256);
  });
});
