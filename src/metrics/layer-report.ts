/** Builds the `quality` answer for a model: per-layer metrics and flags (the CLI's JSON contract). */
import { type ConvLayer, kernelLabel, type Model } from '../model/types.js';
import { flagLayer } from './flags.js';
import { measureLayer } from './quality.js';
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
  metrics: LayerMetrics;
  flags: LayerFlag[];
}

export interface QualityReport {
  file: string;
  format: string;
  producer: string | null;
  layers: LayerQuality[];
  /** Conv layers present but not measured (kernel filter, non-2-D) — counted so nothing is silently lost. */
  skipped: { name: string; shape: number[]; reason: string }[];
  warnings: string[];
}

export interface QualityReportOptions extends QualityOptions {
  /** "all" (default) or a kernel size such as "3x3". */
  kernel?: string;
  /** Called after each measured layer (index, total) — for progress bars. */
  onLayer?: (done: number, total: number) => void;
}

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
  const layers: LayerQuality[] = [];
  for (const { layer, planar } of measured) {
    const weight = await layer.loadWeight();
    const { metrics, nonFinite } = measureLayer(weight, planar, options);
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
      metrics,
      flags: flagLayer(metrics, nonFinite, planar, options.sparsityEps),
    });
    options.onLayer?.(layers.length, measured.length);
  }
  return {
    file: model.source,
    format: model.format,
    producer: model.producer ?? null,
    layers,
    skipped,
    warnings: model.warnings,
  };
}
