/**
 * "Your image through the first layer": a 2-D convolution of an image with a model's first conv layer, and how
 * much each output channel amplifies a small input perturbation (the robustness finding of Gavrikov & Keuper:
 * robust models' first layers damp perturbations). Pure and isomorphic: the web worker and the tests run it.
 *
 * The convolution is a cross-correlation as in PyTorch and ONNX (no kernel flip), with strides, dilations,
 * explicit or SAME/VALID padding and groups; no bias (the readers do not keep it: it shifts each map by a
 * constant and cancels in every Δ). It runs as im2col over tiles of output positions and a dot-product kernel
 * of 4 output channels × 2 positions at once with float64 accumulators; the maps are stored as float32.
 */
import { FilterDbError } from '../errors.js';
import { mulberry32 } from '../metrics/random.js';
import type { ConvAttributes, ConvLayer } from '../model/types.js';

export type PadMode = 'explicit' | 'same-upper' | 'same-lower' | 'valid';

/** Everything the convolution needs besides the weights. */
export interface ConvSpec {
  /** `[out, inPerGroup, kh, kw]`. */
  shape: [number, number, number, number];
  groups: number;
  strides: [number, number];
  dilations: [number, number];
  padMode: PadMode;
  /** `[top, left, bottom, right]` (ONNX order); used when padMode is explicit. */
  pads: [number, number, number, number];
}

/** A layer as the readers describe it (model/types ConvLayer, or the server's first-layer answer). */
export interface ConvLayerLike {
  name?: string;
  op?: string;
  kind?: string | null;
  shape: readonly number[];
  groups: number | null;
  attributes?: ConvAttributes;
}

/** Formats whose files record strides and padding: a missing attribute there means the format's default. */
const GEOMETRY_FORMATS = new Set(['onnx', 'tflite', 'tfjs', 'keras']);

/** Most weights a probed layer may have, and most input elements (a 4096² RGB image). */
export const MAX_PROBE_WEIGHTS = 1 << 22;
export const MAX_PROBE_INPUT = 3 * 4096 * 4096;
/** Most output values (64 MiB of float32 maps, e.g. 64 × 512 × 512); the page holds a clean and a Δ copy. */
export const MAX_PROBE_OUTPUT = 1 << 24;

/**
 * The conv spec of `layer` from its recorded attributes. `known` is false when the file does not record the
 * geometry (a PyTorch or safetensors state dict): then stride 1 and padding 0 (PyTorch's defaults) are
 * assumed and `notes` says so, so the caller can let the user set them.
 */
export function convSpecOf(
  layer: ConvLayerLike,
  format: string,
): { spec: ConvSpec; known: boolean; notes: string[] } {
  const what = layer.name ?? 'the layer';
  if (layer.kind === 'transposed' || /transpose/i.test(layer.op ?? ''))
    throw new FilterDbError('unsupported', what, 'is a transposed convolution; the probe needs a plain conv');
  if (layer.shape.length !== 4)
    throw new FilterDbError('unsupported', what, `is not a 2-D convolution (weight shape [${layer.shape}])`);
  const [out, inPer, kh, kw] = layer.shape;
  const groups = layer.groups ?? 1;
  if (![out, inPer, kh, kw, groups].every((d) => Number.isSafeInteger(d) && d >= 1) || out % groups !== 0)
    throw new FilterDbError(
      'corrupt',
      what,
      `has an impossible shape [${layer.shape}] with ${groups} groups`,
    );
  const a = layer.attributes ?? {};
  const notes: string[] = [];
  const known = layer.attributes !== undefined || GEOMETRY_FORMATS.has(format);
  if (!known) notes.push(`${format} files do not record stride or padding: stride 1 and padding 0 assumed`);
  const pair = (v: number[] | undefined, name: string): [number, number] => {
    if (!v || v.length === 0) return [1, 1];
    const p: [number, number] = v.length === 1 ? [v[0], v[0]] : [v[0], v[1]];
    if (!p.every((x) => Number.isSafeInteger(x) && x >= 1 && x <= 64))
      throw new FilterDbError('corrupt', what, `has impossible ${name} [${v}]`);
    return p;
  };
  const strides = pair(a.strides, 'strides');
  const dilations = pair(a.dilations, 'dilations');
  const mode = (a.padding ?? '').toUpperCase();
  let padMode: PadMode = 'explicit';
  if (mode === 'SAME' || mode === 'SAME_UPPER') padMode = 'same-upper';
  else if (mode === 'SAME_LOWER') padMode = 'same-lower';
  else if (mode === 'VALID') padMode = 'valid';
  else if (mode !== '' && mode !== 'NOTSET' && mode !== 'EXPLICIT')
    throw new FilterDbError('unsupported', what, `has padding ${JSON.stringify(a.padding)}`);
  let pads: [number, number, number, number] = [0, 0, 0, 0];
  if (padMode === 'explicit' && a.pads && a.pads.length > 0) {
    if (a.pads.length !== 4 || !a.pads.every((x) => Number.isSafeInteger(x) && x >= 0 && x <= 4096))
      throw new FilterDbError('corrupt', what, `has impossible pads [${a.pads}]`);
    pads = [a.pads[0], a.pads[1], a.pads[2], a.pads[3]];
  }
  return {
    spec: { shape: [out, inPer, kh, kw], groups, strides, dilations, padMode, pads },
    known,
    notes,
  };
}

/** What the probe shows of a model's first layer besides its weights (the server's answer and the app's read). */
export interface FirstLayerInfo {
  format: string;
  name: string;
  op: string;
  kind: string | null;
  shape: number[];
  groups: number | null;
  /** Strides, dilations, pads / padding as the reader recorded them. */
  attributes?: ConvAttributes;
  /** False when the file does not record stride and padding (the app lets the user set them). */
  geometryKnown: boolean;
  notes: string[];
}

export function firstLayerInfo(layer: ConvLayer, format: string): FirstLayerInfo {
  const { known, notes } = convSpecOf(layer, format);
  return {
    format,
    name: layer.name,
    op: layer.op,
    kind: layer.kind,
    shape: [...layer.shape],
    groups: layer.groups,
    ...(layer.attributes ? { attributes: layer.attributes } : {}),
    geometryKnown: known,
    notes,
  };
}

/** Padding along one axis: [begin, end]. SAME keeps ceil(in / stride) outputs; UPPER puts the odd pixel at the end. */
function axisPads(mode: PadMode, size: number, k: number, s: number, d: number, explicit: [number, number]) {
  if (mode === 'explicit') return explicit;
  if (mode === 'valid') return [0, 0] as [number, number];
  const span = (k - 1) * d + 1;
  const total = Math.max(0, (Math.ceil(size / s) - 1) * s + span - size);
  const small = Math.floor(total / 2);
  return (mode === 'same-upper' ? [small, total - small] : [total - small, small]) as [number, number];
}

/** The output size and the explicit `[top, left, bottom, right]` padding of `spec` on an H×W input. */
export function convGeometry(
  spec: ConvSpec,
  height: number,
  width: number,
): { outH: number; outW: number; pads: [number, number, number, number] } {
  const [, , kh, kw] = spec.shape;
  const [sh, sw] = spec.strides;
  const [dh, dw] = spec.dilations;
  const [pt, pb] = axisPads(spec.padMode, height, kh, sh, dh, [spec.pads[0], spec.pads[2]]);
  const [pl, pr] = axisPads(spec.padMode, width, kw, sw, dw, [spec.pads[1], spec.pads[3]]);
  const outH = Math.floor((height + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
  const outW = Math.floor((width + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
  return { outH, outW, pads: [pt, pl, pb, pr] };
}

/** A C×H×W (channels-first) float tensor. */
export interface Tensor3 {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}

/** Output positions per im2col tile: 147×512 patch values (7×7×3) stay in the L2 cache. */
const TILE = 128;

/**
 * Cross-correlates `input` (C×H×W, C = inPerGroup × groups) with `weight` (`spec.shape`, row-major) — the
 * output is `[out, outH, outW]`.
 */
export function conv2d(input: Tensor3, weight: ArrayLike<number>, spec: ConvSpec): Tensor3 {
  const [out, inPer, kh, kw] = spec.shape;
  const groups = spec.groups;
  const { channels: C, height: H, width: W } = input;
  if (inPer * groups !== C)
    throw new FilterDbError(
      'unsupported',
      'probe',
      `the layer takes ${inPer * groups} input channels, the image has ${C}`,
    );
  if (weight.length !== out * inPer * kh * kw)
    throw new FilterDbError('corrupt', 'probe', `weight has ${weight.length} values, shape [${spec.shape}]`);
  if (input.data.length !== C * H * W)
    throw new FilterDbError('corrupt', 'probe', `input has ${input.data.length} values, not ${C}×${H}×${W}`);
  const { outH, outW, pads } = convGeometry(spec, H, W);
  if (outH < 1 || outW < 1)
    throw new FilterDbError(
      'unsupported',
      'probe',
      `a ${H}×${W} input is smaller than the ${kh}×${kw} kernel`,
    );
  if (out * outH * outW > MAX_PROBE_OUTPUT)
    throw new FilterDbError(
      'too-large',
      'probe',
      `${out}×${outH}×${outW} output values are more than the probe holds (${MAX_PROBE_OUTPUT}); use a smaller image`,
    );
  const [sh, sw] = spec.strides;
  const [dh, dw] = spec.dilations;
  const [pt, pl] = pads;
  const N = outH * outW;
  const K = inPer * kh * kw;
  const outPer = out / groups;
  const result = new Float32Array(out * N);
  const w64 = Float64Array.from(weight);
  const x = input.data;
  const patches = new Float64Array(TILE * K);
  // precomputed per-tap offsets: channel, row offset and column offset of each of the K patch entries
  const tapC = new Int32Array(K);
  const tapY = new Int32Array(K);
  const tapX = new Int32Array(K);
  for (let c = 0, k = 0; c < inPer; c++)
    for (let ky = 0; ky < kh; ky++)
      for (let kx = 0; kx < kw; kx++, k++) {
        tapC[k] = c;
        tapY[k] = ky * dh - pt;
        tapX[k] = kx * dw - pl;
      }
  for (let g = 0; g < groups; g++) {
    const cBase = g * inPer;
    for (let n0 = 0; n0 < N; n0 += TILE) {
      const T = Math.min(TILE, N - n0);
      // im2col: patches[t * K + k], zero outside the image
      for (let t = 0; t < T; t++) {
        const n = n0 + t;
        const oy = (n / outW) | 0;
        const ox = n - oy * outW;
        const y0 = oy * sh;
        const x0 = ox * sw;
        const row = t * K;
        for (let k = 0; k < K; k++) {
          const iy = y0 + tapY[k];
          const ix = x0 + tapX[k];
          patches[row + k] =
            iy >= 0 && iy < H && ix >= 0 && ix < W ? x[((cBase + tapC[k]) * H + iy) * W + ix] : 0;
        }
      }
      const oEnd = (g + 1) * outPer;
      let o = g * outPer;
      for (; o + 4 <= oEnd; o += 4) dot4(w64, o, K, patches, T, result, n0, N);
      for (; o < oEnd; o++) dot1(w64, o, K, patches, T, result, n0, N);
    }
  }
  return { channels: out, height: outH, width: outW, data: result };
}

/** Output channels o..o+3 at the T positions of a tile: 2 positions × 4 channels of float64 sums per pass. */
function dot4(
  w: Float64Array,
  o: number,
  K: number,
  p: Float64Array,
  T: number,
  out: Float32Array,
  n0: number,
  N: number,
): void {
  const w0 = o * K;
  const w1 = w0 + K;
  const w2 = w1 + K;
  const w3 = w2 + K;
  let t = 0;
  for (; t + 2 <= T; t += 2) {
    const a = t * K;
    const b = a + K;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let r0 = 0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    for (let k = 0; k < K; k++) {
      const xa = p[a + k];
      const xb = p[b + k];
      const v0 = w[w0 + k];
      const v1 = w[w1 + k];
      const v2 = w[w2 + k];
      const v3 = w[w3 + k];
      s0 += v0 * xa;
      s1 += v1 * xa;
      s2 += v2 * xa;
      s3 += v3 * xa;
      r0 += v0 * xb;
      r1 += v1 * xb;
      r2 += v2 * xb;
      r3 += v3 * xb;
    }
    const n = n0 + t;
    out[o * N + n] = s0;
    out[(o + 1) * N + n] = s1;
    out[(o + 2) * N + n] = s2;
    out[(o + 3) * N + n] = s3;
    out[o * N + n + 1] = r0;
    out[(o + 1) * N + n + 1] = r1;
    out[(o + 2) * N + n + 1] = r2;
    out[(o + 3) * N + n + 1] = r3;
  }
  for (; t < T; t++) {
    const a = t * K;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let k = 0; k < K; k++) {
      const xa = p[a + k];
      s0 += w[w0 + k] * xa;
      s1 += w[w1 + k] * xa;
      s2 += w[w2 + k] * xa;
      s3 += w[w3 + k] * xa;
    }
    const n = n0 + t;
    out[o * N + n] = s0;
    out[(o + 1) * N + n] = s1;
    out[(o + 2) * N + n] = s2;
    out[(o + 3) * N + n] = s3;
  }
}

function dot1(
  w: Float64Array,
  o: number,
  K: number,
  p: Float64Array,
  T: number,
  out: Float32Array,
  n0: number,
  N: number,
): void {
  const w0 = o * K;
  for (let t = 0; t < T; t++) {
    const a = t * K;
    let s = 0;
    for (let k = 0; k < K; k++) s += w[w0 + k] * p[a + k];
    out[o * N + n0 + t] = s;
  }
}

/** How pixel values in [0, 1] become the layer's input: x = (v − mean) / std per channel. */
export interface Normalisation {
  id: string;
  label: string;
  mean: number[];
  std: number[];
}

export const NORMALISATIONS: readonly Normalisation[] = [
  { id: 'unit', label: '[0, 1]', mean: [0, 0, 0], std: [1, 1, 1] },
  {
    id: 'imagenet',
    label: 'ImageNet mean/std',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  },
  { id: 'signed', label: '[−1, 1]', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  { id: 'bytes', label: '[0, 255]', mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] },
];

/** An RGBA image as a canvas gives it (ImageData), or any w×h×4 byte array. */
export interface RgbaImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/**
 * The image as pixel values in [0, 1], channels-first, with `channels` planes: 3 = RGB (BGR with `bgr`),
 * 1 = luminance (ITU-R BT.601 weights), 4 = RGBA; other counts are refused.
 */
export function pixelsOf(image: RgbaImage, channels: number, bgr = false): Tensor3 {
  const { width: W, height: H, data } = image;
  if (!Number.isSafeInteger(W) || !Number.isSafeInteger(H) || W < 1 || H < 1 || data.length !== W * H * 4)
    throw new FilterDbError('corrupt', 'image', `is not a ${W}×${H} RGBA image (${data.length} bytes)`);
  if (channels * W * H > MAX_PROBE_INPUT)
    throw new FilterDbError('too-large', 'image', `${W}×${H} is larger than the probe takes (4096×4096)`);
  const plane = W * H;
  const out = new Float32Array(channels * plane);
  if (channels === 1) {
    for (let i = 0; i < plane; i++)
      out[i] = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
  } else if (channels === 3 || channels === 4) {
    for (let c = 0; c < channels; c++) {
      const src = bgr && c < 3 ? 2 - c : c;
      for (let i = 0; i < plane; i++) out[c * plane + i] = data[4 * i + src] / 255;
    }
  } else {
    throw new FilterDbError(
      'unsupported',
      'image',
      `the layer takes ${channels} input channels; an image gives 1 (grey), 3 (RGB) or 4 (RGBA)`,
    );
  }
  return { channels, height: H, width: W, data: out };
}

/** (pixels − mean) / std per channel; a 1-channel input uses the mean of the means and of the stds. */
export function normalise(pixels: Tensor3, norm: Pick<Normalisation, 'mean' | 'std'>): Tensor3 {
  const plane = pixels.height * pixels.width;
  const avg = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const out = new Float32Array(pixels.data.length);
  for (let c = 0; c < pixels.channels; c++) {
    const m = pixels.channels === 1 ? avg(norm.mean) : (norm.mean[c] ?? norm.mean[norm.mean.length - 1]);
    const s = pixels.channels === 1 ? avg(norm.std) : (norm.std[c] ?? norm.std[norm.std.length - 1]);
    for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = (pixels.data[i] - m) / s;
  }
  return { ...pixels, data: out };
}

export type PerturbationKind = 'uniform' | 'sign';

export interface Perturbation {
  kind: PerturbationKind;
  /** Size in pixel steps: ε = steps / 255. */
  steps: number;
  seed: number;
}

/**
 * The perturbed pixels: uniform noise in [−ε, ε] or ε times a random ±1 pattern, seeded, added to every pixel
 * value and clipped to [0, 1] (a perturbed image is still an image).
 */
export function perturb(pixels: Tensor3, p: Perturbation): Tensor3 {
  const eps = p.steps / 255;
  const rand = mulberry32(p.seed);
  const out = new Float32Array(pixels.data.length);
  for (let i = 0; i < out.length; i++) {
    const r = rand();
    const d = p.kind === 'sign' ? (r < 0.5 ? -eps : eps) : (2 * r - 1) * eps;
    const v = pixels.data[i] + d;
    out[i] = Math.min(Math.max(v, 0), 1);
  }
  return { ...pixels, data: out };
}

/**
 * The perturbation as the layer sees it: (perturbed − clean) pixels divided by the normalisation's std. The
 * convolution is linear, so conv(Δ) is exactly the change of the output maps (perturbed = clean + conv(Δ)),
 * computed without the cancellation of subtracting two float32 maps.
 */
export function inputDelta(clean: Tensor3, perturbed: Tensor3, norm: Pick<Normalisation, 'std'>): Tensor3 {
  const zero = { mean: norm.std.map(() => 0), std: norm.std };
  const d = new Float32Array(clean.data.length);
  for (let i = 0; i < d.length; i++) d[i] = perturbed.data[i] - clean.data[i];
  return normalise({ ...clean, data: d }, zero);
}

export interface Amplification {
  /** ‖Δ output_c‖₂ / ‖Δ input‖₂ per output channel c (Δ input in the layer's normalised input space). */
  ratios: Float64Array;
  /** Mean of `ratios` over the channels. */
  mean: number;
  /** ‖Δ input‖₂ (0: the perturbation vanished, e.g. clipped away; then every ratio is 0). */
  inputNorm: number;
}

/** Per-channel amplification: `deltaIn` is the layer's input change, `deltaOut` = conv(deltaIn). */
export function amplification(deltaIn: Tensor3, deltaOut: Tensor3): Amplification {
  let din = 0;
  for (let i = 0; i < deltaIn.data.length; i++) din += deltaIn.data[i] * deltaIn.data[i];
  const inputNorm = Math.sqrt(din);
  const plane = deltaOut.height * deltaOut.width;
  const ratios = new Float64Array(deltaOut.channels);
  for (let c = 0; c < deltaOut.channels; c++) {
    let s = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) s += deltaOut.data[i] * deltaOut.data[i];
    ratios[c] = inputNorm > 0 ? Math.sqrt(s) / inputNorm : 0;
  }
  let mean = 0;
  for (const r of ratios) mean += r;
  mean = ratios.length ? mean / ratios.length : 0;
  return { ratios, mean, inputNorm };
}

/** A synthetic test image (so the probe works without a file): edges, a ramp, stripes and a disc. */
export function syntheticImage(width = 224, height = 224): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      const u = x / (width - 1);
      const v = y / (height - 1);
      const disc = (u - 0.68) ** 2 + (v - 0.32) ** 2 < 0.04;
      const stripes = u < 0.5 && v > 0.5 ? ((x >> 3) + (y >> 3)) % 2 : 0;
      const diag = Math.sin((x + y) * 0.35) > 0 ? 1 : 0;
      data[i] = disc ? 230 : stripes ? 240 : Math.round(255 * u);
      data[i + 1] = disc ? 60 : stripes ? 240 : Math.round(255 * v * (u > 0.5 && v > 0.5 ? diag : 1));
      data[i + 2] = disc ? 40 : stripes ? 30 : Math.round(255 * (1 - u) * (1 - v));
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}
