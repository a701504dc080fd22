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

/** Parses "3x3" / "all" into a predicate over 2-D weight shapes. */
export function kernelFilter(kernel: string | undefined): (shape: readonly number[]) => boolean {
  if (!kernel || kernel === 'all') return (shape) => shape.length === 4;
  const m = /^(\d+)x(\d+)$/.exec(kernel);
  if (!m) throw new RangeError(`--kernel takes "all" or a size such as 3x3, not ${JSON.stringify(kernel)}`);
  const label = `${Number(m[1])}x${Number(m[2])}`;
  return (shape) => shape.length === 4 && kernelLabel(shape) === label;
}

export async function qualityReport(
  model: Model,
  options: QualityReportOptions = {},
): Promise<QualityReport> {
  const accept = kernelFilter(options.kernel);
  const measured = model.layers.filter((l) => accept(l.shape));
  const skipped = model.layers
    .filter((l) => !accept(l.shape))
    .map((l) => ({
      name: l.name,
      shape: l.shape,
      reason:
        l.shape.length !== 4
          ? `${l.shape.length - 2}-D convolution (only 2-D kernels are measured)`
          : `kernel ${kernelLabel(l.shape)} not selected`,
    }));
  const layers: LayerQuality[] = [];
  for (const layer of measured) {
    const weight = await layer.loadWeight();
    const { metrics, nonFinite } = measureLayer(weight, layer.shape, options);
    layers.push({
      name: layer.name,
      op: layer.op,
      kind: layer.kind,
      shape: layer.shape,
      groups: layer.groups,
      dtype: layer.dtype,
      convDepth: layer.convDepth,
      convDepthNorm: layer.convDepthNorm,
      metrics,
      flags: flagLayer(metrics, nonFinite, layer.shape, options.sparsityEps),
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
