/**
 * One layer's measurements beyond the CNN Filter DB metrics, on the same weight read: the
 * WeightWatcher-style spectrum when asked for. This is what the worker pool and the single-thread path both
 * call, so a layer's numbers never depend on where it was measured.
 */
import type { WeightArray } from '../model/types.js';
import { measureLayer } from './quality.js';
import { type SpectralResult, spectralMetrics } from './spectral.js';
import type { LayerMetrics, QualityOptions } from './types.js';

export interface MeasureOptions extends QualityOptions {
  /** Also compute the spectral metrics (slower: an eigen-decomposition per kernel position). */
  spectral?: boolean;
}

export interface FullMeasurement {
  metrics: LayerMetrics;
  nonFinite: number;
  spectral?: SpectralResult;
}

/** Plain, structured-cloneable options for a worker. */
export function plainMeasureOptions(options: MeasureOptions): MeasureOptions {
  const plain: MeasureOptions = {};
  if (options.sparsityEps !== undefined) plain.sparsityEps = options.sparsityEps;
  if (options.spectral) plain.spectral = true;
  return plain;
}

export function measureLayerFull(
  weight: WeightArray,
  shape: readonly number[],
  options: MeasureOptions = {},
): FullMeasurement {
  const { metrics, nonFinite } = measureLayer(weight, shape, options);
  if (!options.spectral) return { metrics, nonFinite };
  return { metrics, nonFinite, spectral: spectralMetrics(weight, shape, nonFinite) };
}
