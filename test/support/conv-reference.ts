/**
 * Reference pieces for the first-layer convolution tests: the spec builder, a deterministic input and a direct
 * convolution written from the textbook definition (independent of src/analysis/first-layer-conv.ts's tiling).
 */
import type { ConvSpec, PadMode, Tensor3 } from '../../src/analysis/first-layer-conv.js';

/** A ConvSpec from its parts (pads only matter for 'explicit'). */
export function convSpec(
  shape: [number, number, number, number],
  groups: number,
  strides: [number, number],
  dilations: [number, number],
  padMode: PadMode,
  pads: [number, number, number, number] = [0, 0, 0, 0],
): ConvSpec {
  return { shape, groups, strides, dilations, padMode, pads };
}

/** x[i] = cos(0.37 i + phase), float32. */
export function cosineTensor(c: number, h: number, w: number, phase = 0): Tensor3 {
  const data = new Float32Array(c * h * w);
  for (let i = 0; i < data.length; i++) data[i] = Math.cos(0.37 * i + phase);
  return { channels: c, height: h, width: w, data };
}

/** Direct 7-loop cross-correlation in float64; padding from the textbook formulas, not from the module. */
export function directConv(
  x: Tensor3,
  w: ArrayLike<number>,
  shape: readonly number[],
  groups: number,
  strides: readonly number[],
  dilations: readonly number[],
  mode: PadMode,
  pads: readonly number[],
): { outH: number; outW: number; data: Float64Array } {
  const [O, I, KH, KW] = shape;
  const [sh, sw] = strides;
  const [dh, dw] = dilations;
  const same = (n: number, k: number, s: number, d: number): [number, number] => {
    const outN = Math.ceil(n / s);
    const total = Math.max(0, (outN - 1) * s + (k - 1) * d + 1 - n);
    return mode === 'same-lower'
      ? [Math.ceil(total / 2), Math.floor(total / 2)]
      : [Math.floor(total / 2), Math.ceil(total / 2)];
  };
  let [t, l, b, r] = pads;
  if (mode === 'valid') [t, l, b, r] = [0, 0, 0, 0];
  if (mode === 'same-upper' || mode === 'same-lower') {
    [t, b] = same(x.height, KH, sh, dh);
    [l, r] = same(x.width, KW, sw, dw);
  }
  const outH = Math.floor((x.height + t + b - (KH - 1) * dh - 1) / sh) + 1;
  const outW = Math.floor((x.width + l + r - (KW - 1) * dw - 1) / sw) + 1;
  const data = new Float64Array(O * outH * outW);
  const opg = O / groups;
  for (let o = 0; o < O; o++) {
    const g = Math.floor(o / opg);
    for (let oy = 0; oy < outH; oy++)
      for (let ox = 0; ox < outW; ox++) {
        let s = 0;
        for (let i = 0; i < I; i++)
          for (let ky = 0; ky < KH; ky++)
            for (let kx = 0; kx < KW; kx++) {
              const iy = oy * sh - t + ky * dh;
              const ix = ox * sw - l + kx * dw;
              if (iy < 0 || ix < 0 || iy >= x.height || ix >= x.width) continue;
              s +=
                w[((o * I + i) * KH + ky) * KW + kx] * x.data[((g * I + i) * x.height + iy) * x.width + ix];
            }
        data[(o * outH + oy) * outW + ox] = s;
      }
  }
  return { outH, outW, data };
}
