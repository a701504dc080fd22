/**
 * One streaming pass that turns filters into the plot data of a zoo: fine per-group histograms of every PCA
 * coefficient (input of the ridge-plot KDEs, analysis/kde.ts) and the 2-D density of a coefficient pair
 * (analysis/density2d.ts). Filters are peak-scaled and projected exactly as in the shift analysis.
 */
import { Density2d, type Density2dOptions } from './density2d.js';
import { GroupHistograms, RangeAccumulator } from './histogram.js';
import { peakScale } from './moments.js';
import { flatComponents, type PcaBasis, projectBatch } from './pca.js';
import type { BatchSource } from './shift.js';

export interface CoefficientOptions {
  /** Bins of the fine histograms (default 2048). */
  bins?: number;
  /** Coefficient range of the histograms (default: ShiftResult.range if you have it, else one extra pass). */
  range?: [number, number];
  /** 2-D density options, or false for none (default: 512² over [-3.3, 3.3]², coefficients 0 and 1). */
  density?: Density2dOptions | false;
  onProgress?: (filters: number) => void;
}

export interface CoefficientDistributions {
  histograms: GroupHistograms;
  density: Density2d | null;
  filterCount: number;
}

async function* projected(
  source: BatchSource,
  basis: PcaBasis,
): AsyncGenerator<{ group: string; coefs: Float64Array; count: number }> {
  const dims = basis.dims;
  const mean = Float64Array.from(basis.mean);
  const flat = flatComponents(basis);
  let scaled = new Float64Array(0);
  let coefs = new Float64Array(0);
  for await (const batch of source()) {
    if (batch.count === 0) continue;
    const need = batch.count * dims;
    if (scaled.length < need) {
      scaled = new Float64Array(need);
      coefs = new Float64Array(need);
    }
    peakScale(batch.filters, batch.count, dims, scaled);
    projectBatch(scaled, batch.count, dims, mean, flat, coefs);
    yield { group: batch.group, coefs, count: batch.count };
  }
}

export async function coefficientDistributions(
  source: BatchSource,
  basis: PcaBasis,
  options: CoefficientOptions = {},
): Promise<CoefficientDistributions> {
  const dims = basis.dims;
  const bins = options.bins ?? 2048;
  let range = options.range;
  if (!range) {
    const acc = new RangeAccumulator();
    for await (const b of projected(source, basis)) acc.add(b.coefs, b.count * dims);
    range = acc.lo <= acc.hi ? [acc.lo, acc.hi] : [-1, 1];
  }
  const histograms = new GroupHistograms(dims, bins, range[0], range[1]);
  const density = options.density === false ? null : new Density2d(options.density ?? {});
  let seen = 0;
  for await (const b of projected(source, basis)) {
    histograms.add(b.group, b.coefs, b.count);
    density?.add(b.coefs, b.count, dims);
    seen += b.count;
    options.onProgress?.(seen);
  }
  return { histograms, density, filterCount: seen };
}
