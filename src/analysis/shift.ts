/**
 * Distribution shift between groups of filters, exactly as the paper (fixtures README, "Distribution
 * shift"): peak scaling, PCA basis, coefficient range, per-group 70-bin histograms, EVR-weighted
 * symmetric KL. Filters stream in batches; nothing holds them all. Three passes over the source
 * (moments, range, histograms), two when a basis is given.
 */
import { type DriftSummary, driftMatrix, driftSummary, floorAndNormalise } from './drift.js';
import { compareCodePoints } from './groups.js';
import { GroupHistograms, RangeAccumulator } from './histogram.js';
import { batchMoments, emptyMoments, mergeMoments, peakScale } from './moments.js';
import { flatComponents, type PcaBasis, pcaFromMoments, projectBatch } from './pca.js';

export interface FilterBatch {
  group: string;
  /** Row-major filters, `dims` values each. */
  filters: ArrayLike<number>;
  count: number;
}

/** Re-iterable source of filter batches (each pass calls it again). */
export type BatchSource = () => AsyncIterable<FilterBatch>;

export interface ShiftOptions {
  /** Values per filter (9 for 3x3). */
  dims?: number;
  bins?: number;
  /** Reuse a stored basis instead of fitting one on these filters. */
  basis?: PcaBasis;
  /** Called after each pass (pass name, filters seen). */
  onPass?: (pass: 'moments' | 'range' | 'histograms', filters: number) => void;
  /** Called with the number of filters processed so far in the current pass. */
  onProgress?: (filters: number) => void;
}

export interface ShiftResult {
  by: string;
  groups: string[];
  /** Filters per group, in `groups` order. */
  counts: number[];
  matrix: number[][];
  explainedVarianceRatio: number[];
  components: number[][];
  mean: number[];
  range: [number, number];
  bins: number;
  filterCount: number;
  summary: DriftSummary;
  /** Floored, normalised histograms per group (groups × dims × bins), for plots. */
  histograms?: number[][][];
}

/** Scales and projects one batch; scratch buffers are grown as needed. */
class Projector {
  private scaled = new Float64Array(0);
  private coefs = new Float64Array(0);
  private readonly mean: Float64Array;
  private readonly flat: Float64Array;
  constructor(
    basis: PcaBasis,
    private readonly dims: number,
  ) {
    this.mean = Float64Array.from(basis.mean);
    this.flat = flatComponents(basis);
  }
  project(batch: FilterBatch): Float64Array {
    const need = batch.count * this.dims;
    if (this.scaled.length < need) {
      this.scaled = new Float64Array(need);
      this.coefs = new Float64Array(need);
    }
    peakScale(batch.filters, batch.count, this.dims, this.scaled);
    return projectBatch(this.scaled, batch.count, this.dims, this.mean, this.flat, this.coefs);
  }
}

/** Fits the PCA basis of a filter source (one pass). */
export async function fitBasis(
  source: BatchSource,
  dims = 9,
  onProgress?: (n: number) => void,
): Promise<PcaBasis> {
  const total = emptyMoments(dims);
  let scaled = new Float64Array(0);
  for await (const batch of source()) {
    if (batch.count === 0) continue;
    if (scaled.length < batch.count * dims) scaled = new Float64Array(batch.count * dims);
    peakScale(batch.filters, batch.count, dims, scaled);
    mergeMoments(total, batchMoments(scaled, batch.count, dims));
    onProgress?.(total.n);
  }
  return pcaFromMoments(total);
}

export async function distributionShift(
  source: BatchSource,
  by: string,
  options: ShiftOptions = {},
): Promise<ShiftResult> {
  const dims = options.dims ?? 9;
  const bins = options.bins ?? 70;
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const basis = options.basis ?? (await fitBasis(source, dims, options.onProgress));
  options.onPass?.('moments', basis.count);

  const projector = new Projector(basis, dims);
  const range = new RangeAccumulator();
  let seen = 0;
  for await (const batch of source()) {
    if (batch.count === 0) continue;
    range.add(projector.project(batch), batch.count * dims);
    seen += batch.count;
    options.onProgress?.(seen);
  }
  options.onPass?.('range', seen);
  if (seen === 0) throw new RangeError('no filters selected');

  const hist = new GroupHistograms(dims, bins, range.lo, range.hi);
  seen = 0;
  for await (const batch of source()) {
    if (batch.count === 0) continue;
    hist.add(batch.group, projector.project(batch), batch.count);
    seen += batch.count;
    options.onProgress?.(seen);
  }
  options.onPass?.('histograms', seen);
  return shiftFromHistograms(by, hist, basis);
}

/** Builds the answer from accumulated histograms (also used when histograms are merged from workers). */
export function shiftFromHistograms(by: string, hist: GroupHistograms, basis: PcaBasis): ShiftResult {
  const groups = [...hist.counts.keys()]
    .filter((g) => (hist.filters.get(g) ?? 0) > 0)
    .sort(compareCodePoints);
  const probabilities = groups.map((g) => floorAndNormalise(hist.counts.get(g)!, hist.dims, hist.bins));
  const matrix = driftMatrix(probabilities, basis.explainedVarianceRatio, hist.bins);
  const counts = groups.map((g) => hist.filters.get(g)!);
  return {
    by,
    groups,
    counts,
    matrix,
    explainedVarianceRatio: basis.explainedVarianceRatio,
    components: basis.components,
    mean: basis.mean,
    range: [hist.lo, hist.hi],
    bins: hist.bins,
    filterCount: counts.reduce((s, c) => s + c, 0),
    summary: driftSummary(matrix),
    histograms: probabilities.map((p) =>
      Array.from({ length: hist.dims }, (_, c) => Array.from(p.subarray(c * hist.bins, (c + 1) * hist.bins))),
    ),
  };
}
