/** Messages between the first-layer probe (probe.ts) and its worker (probe-worker.ts). */
import type { ConvSpec, FirstLayerInfo, Perturbation } from '../../src/analysis/first-layer-conv.js';

/** A model's first conv layer, from the server (database model) or read from dropped files. */
export interface FirstLayer extends FirstLayerInfo {
  /** Display name of the model. */
  model: string;
  weights: Float32Array;
}

export interface ProbeImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export type ToProbe =
  | { type: 'read'; request: number; files: File[]; main: string }
  | { type: 'layer'; request: number; slot: number; weights: Float32Array; spec: ConvSpec }
  | { type: 'image'; request: number; image: ProbeImage }
  | {
      type: 'run';
      request: number;
      slot: number;
      norm: { mean: number[]; std: number[] };
      bgr: boolean;
      perturbation: Perturbation;
    };

export interface ProbeRun {
  channels: number;
  height: number;
  width: number;
  /** Clean output maps [channels, height, width]. */
  clean: Float32Array;
  /** conv(Δ input): perturbed maps are clean + delta. */
  delta: Float32Array;
  ratios: Float64Array;
  mean: number;
  inputNorm: number;
  /** Milliseconds in the worker: the clean convolution (0 when cached) and the perturbation's. */
  ms: { clean: number; delta: number };
}

export type FromProbe =
  | { type: 'read'; request: number; layer: FirstLayer }
  | { type: 'ok'; request: number }
  | { type: 'run'; request: number; run: ProbeRun }
  | { type: 'error'; request: number; message: string };
