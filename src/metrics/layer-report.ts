/** Builds the `quality` answer for a model: per-layer metrics and flags (the CLI's JSON contract). */

import { FilterDbError } from '../errors.js';
import {
  type ConvLayer,
  elementCount,
  kernelLabel,
  MAX_CONV_WEIGHTS,
  type Model,
  type WeightArray,
} from '../model/types.js';
import { flagLayer } from './flags.js';
import { defaultInitRule, type InitDistance, type InitRule, layerInitDistance } from './init-distance.js';
import { type MeasureOptions, measureLayerFull, plainMeasureOptions } from './layer-measure.js';
import { checkOrthogonalityWork, checkSpectrumWork, MetricLimitError } from './quality.js';
import { type SpectralMetrics, type SpectralResult, type TrainingFlag, trainingFlags } from './spectral.js';
import type { LayerFlag, LayerMetrics, QualityOptions } from './types.js';

export interface LayerQuality {
  name: string;
  op: string;
  kind: ConvLayer['kind'];
  shape: number[];
  /** The 2-D shape the metrics were computed on, when it differs from `shape` (1-D and 3-D convs). */
  measuredAs?: number[];
  groups: number | null;
  dtype: string;
  convDepth: number;
  convDepthNorm: number;
  /** With `spectral`, also the WeightWatcher-style metrics (null where the layer is not analysed). */
  metrics: LayerMetrics & Partial<SpectralMetrics>;
  flags: LayerFlag[];
  /** With `spectral`: why the spectral metrics are null (skipped as WeightWatcher would, failed fit), else null. */
  spectralReason?: string | null;
  /** With `spectral`: WeightWatcher's over-trained / under-trained warnings, apart from the degeneration flags. */
  trainingFlags?: TrainingFlag[];
  /** With `init`: distance from random initialisation and the near-init verdict. */
  init?: InitDistance;
}

export interface QualityReport {
  file: string;
  format: string;
  producer: string | null;
  /** The initialisation rule the layers were compared with (with `init`). */
  initRule?: InitRule;
  layers: LayerQuality[];
  /** Conv layers present but not measured (kernel filter, non-2-D) — counted so nothing is silently lost. */
  skipped: { name: string; shape: number[]; reason: string }[];
  warnings: string[];
}

export interface QualityReportOptions extends MeasureOptions {
  /**
   * Distance from random initialisation: the rule (`auto`: by the file's format, see defaultInitRule), and
   * optionally the number of simulated draws per shape and the seed.
   */
  init?: { rule: InitRule | 'auto'; draws?: number; seed?: number };
  /** "all" (default) or a kernel size such as "3x3". */
  kernel?: string;
  /** Called after each measured layer (index, total) — for progress bars. */
  onLayer?: (done: number, total: number) => void;
  /**
   * Measures all selected layers in one batch instead of `measureLayer` one by one on this thread — the Node
   * CLI passes its worker-thread pool here (src/node/parallel-quality.ts). Must return exactly what
   * `measureLayer(await job.load(), job.shape, options)` returns for each job, in job order.
   */
  measureBatch?: LayerBatchMeasurer;
}

/** One layer for a {@link LayerBatchMeasurer}: the (planar) shape is known up front, the weight read on demand. */
export interface MeasureJob {
  shape: readonly number[];
  load: () => Promise<WeightArray>;
}

export interface LayerMeasurement {
  metrics: LayerMetrics;
  nonFinite: number;
  spectral?: SpectralResult;
}

/**
 * Measures `jobs` (any order, any concurrency), resolving to their results in job order; calls `onDone` once
 * per finished layer. `options` is plain data (structured-cloneable).
 */
export type LayerBatchMeasurer = (
  jobs: readonly MeasureJob[],
  options: QualityOptions,
  onDone: () => void,
) => Promise<LayerMeasurement[]>;

/**
 * The 2-D view a layer is measured on, over the same row-major data: 2-D convs as stored; 1-D convs
 * `[out, in, k]` as `[out, in, 1, k]` (each filter a 1×k row); 3-D convs `[out, in, kd, kh, kw]` as
 * `[out, in·kd, kh, kw]` (every depth slice is one 2-D filter; orthogonality still compares whole output
 * filters). Null for other ranks.
 */
export function planarShape(shape: readonly number[]): number[] | null {
  if (shape.length === 4) return [...shape];
  if (shape.length === 3) return [shape[0], shape[1], 1, shape[2]];
  if (shape.length === 5) return [shape[0], shape[1] * shape[2], shape[3], shape[4]];
  return null;
}

/** Parses "3x3" / "all" into a predicate over planar (2-D) weight shapes. */
export function kernelFilter(kernel: string | undefined): (planar: readonly number[]) => boolean {
  if (!kernel || kernel === 'all') return () => true;
  const m = /^(\d+)x(\d+)$/.exec(kernel);
  if (!m) throw new RangeError(`--kernel takes "all" or a size such as 3x3, not ${JSON.stringify(kernel)}`);
  const label = `${Number(m[1])}x${Number(m[2])}`;
  return (planar) => kernelLabel(planar) === label;
}

/**
 * Refuses, before any weight is loaded, a layer over {@link MAX_CONV_WEIGHTS} or a metric's work limit (typed
 * `too-large` naming the file and the layer). `planar` is the layer's 2-D view ({@link planarShape}).
 */
export function checkLayerWork(file: string, layer: { name: string }, planar: readonly number[]): void {
  const weights = elementCount(planar);
  if (weights > MAX_CONV_WEIGHTS)
    throw new FilterDbError(
      'too-large',
      file,
      `layer ${layer.name} has ${weights} weights (limit ${MAX_CONV_WEIGHTS} per conv layer)`,
    );
  try {
    checkOrthogonalityWork(planar[0], planar[1] * planar[2] * planar[3]);
    checkSpectrumWork(planar[0] * planar[1], planar[2] * planar[3]);
  } catch (e) {
    if (e instanceof MetricLimitError)
      throw new FilterDbError('too-large', file, `layer ${layer.name}: ${e.detail}`);
    throw e;
  }
}

export async function qualityReport(
  model: Model,
  options: QualityReportOptions = {},
): Promise<QualityReport> {
  const accept = kernelFilter(options.kernel);
  const measured: { layer: ConvLayer; planar: number[] }[] = [];
  const skipped: QualityReport['skipped'] = [];
  for (const layer of model.layers) {
    const planar = planarShape(layer.shape);
    if (!planar)
      skipped.push({ name: layer.name, shape: layer.shape, reason: `rank-${layer.shape.length} weight` });
    else if (!accept(planar))
      skipped.push({
        name: layer.name,
        shape: layer.shape,
        reason: `kernel ${kernelLabel(planar)} not selected`,
      });
    else measured.push({ layer, planar });
  }
  for (const { layer, planar } of measured) checkLayerWork(model.source, layer, planar);
  let batch: LayerMeasurement[] | null = null;
  if (options.measureBatch) {
    const plain = plainMeasureOptions(options);
    let done = 0;
    batch = await options.measureBatch(
      measured.map(({ layer, planar }) => ({ shape: planar, load: () => layer.loadWeight() })),
      plain,
      () => options.onLayer?.(++done, measured.length),
    );
  }
  const layers: LayerQuality[] = [];
  const initRule = options.init
    ? options.init.rule === 'auto'
      ? defaultInitRule(model.format)
      : options.init.rule
    : undefined;
  for (const [i, { layer, planar }] of measured.entries()) {
    const m = batch ? batch[i] : measureLayerFull(await layer.loadWeight(), planar, options);
    const { metrics, nonFinite } = m;
    const extra: Partial<LayerQuality> = {};
    if (m.spectral) {
      extra.spectralReason = m.spectral.reason;
      extra.trainingFlags = trainingFlags(m.spectral.metrics);
    }
    if (initRule && options.init && nonFinite === 0)
      extra.init = layerInitDistance(metrics, planar, layer.groups, {
        rule: initRule,
        draws: options.init.draws,
        seed: options.init.seed,
        sparsityEps: options.sparsityEps,
      });
    layers.push({
      name: layer.name,
      op: layer.op,
      kind: layer.kind,
      shape: layer.shape,
      ...(layer.shape.length !== 4 ? { measuredAs: planar } : {}),
      groups: layer.groups,
      dtype: layer.dtype,
      convDepth: layer.convDepth,
      convDepthNorm: layer.convDepthNorm,
      metrics: m.spectral ? { ...metrics, ...m.spectral.metrics } : metrics,
      flags: flagLayer(metrics, nonFinite, planar, options.sparsityEps),
      ...extra,
    });
    if (!batch) options.onLayer?.(layers.length, measured.length);
  }
  return {
    file: model.source,
    format: model.format,
    producer: model.producer ?? null,
    ...(initRule ? { initRule } : {}),
    layers,
    skipped,
    warnings: model.warnings,
  };
}
