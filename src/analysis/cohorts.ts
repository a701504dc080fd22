/**
 * Cohort studies (Gavrikov & Keuper, "Adversarial Robustness through the Lens of Convolutional Filters", CVPR-W
 * 2022; the definitions of issue #13, after the paper's notebooks): per model and depth bin, the sparsity,
 * variance entropy and orthogonality of its 3x3 layers; the distribution shift between cohorts bin by bin; and
 * Spearman correlations of the models' whole-model metrics with a numeric column. Pure: the store's scan
 * (scan/cohort-scan.ts) hands layers in one at a time, the browser can do the same.
 */
import { orthogonality, varianceEntropy } from '../metrics/quality.js';
import { driftMatrix, floorAndNormalise } from './drift.js';
import { binIndex } from './histogram.js';

/** The 11 depth bins: `first` (conv_depth 0), then pandas.cut's right-closed intervals of numpy.linspace(0, 1, 11). */
export const COHORT_BINS = [
  'first',
  '(0.0, 0.1]',
  '(0.1, 0.2]',
  '(0.2, 0.3]',
  '(0.3, 0.4]',
  '(0.4, 0.5]',
  '(0.5, 0.6]',
  '(0.6, 0.7]',
  '(0.7, 0.8]',
  '(0.8, 0.9]',
  '(0.9, 1.0]',
] as const;

/** The float64 values of numpy.linspace(0, 1, 11) (0.3 is 0.30000000000000004, so 0.3 falls in (0.2, 0.3]). */
export const COHORT_EDGES = [
  0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6000000000000001, 0.7000000000000001, 0.8, 0.9, 1,
] as const;

/** Metric names, in the order of the JSON and the plots. */
export const COHORT_METRICS = ['sparsity', 'varianceEntropy', 'orthogonality'] as const;
export type CohortMetric = (typeof COHORT_METRICS)[number];

/** Values per 3x3 filter (the default; `cohorts --kernel KxK` passes k·k). */
const K = 9;

/**
 * Bin index (0 = first, 1..10 = the intervals) of a layer, or -1 when it falls in none (depth unknown,
 * conv_depth_norm outside (0, 1]).
 */
export function cohortBin(convDepth: number | null, convDepthNorm: number | null): number {
  if (convDepth === 0) return 0;
  if (convDepthNorm === null || !(convDepthNorm > COHORT_EDGES[0] && convDepthNorm <= COHORT_EDGES[10]))
    return -1;
  for (let i = 1; i <= 10; i++) if (convDepthNorm <= COHORT_EDGES[i]) return i;
  return -1;
}

/** Per-layer quantities of a 3x3 layer (one term of each per-model weighted mean). */
export interface CohortLayerStats {
  filters: number;
  /** Filters with max|f| <= max|W| / 100. */
  sparse: number;
  /** mₗ: non-sparse filters. */
  kept: number;
  /** eₗ, or null when mₗ < 2 or every variance is 0 (left out of both sums). */
  entropy: number | null;
  /** nₗ: output channels (null when the layer's shape is unknown). */
  out: number | null;
  /** oₗ, or null when nₗ < 2 or unknown. */
  orthogonality: number | null;
}

/** The scaled non-sparse filters of a layer (input of the divergence). */
export interface KeptFilters {
  /** Row-major kept × dims, each scaled by its own max|f|. */
  scaled: Float64Array;
  kept: number;
  /** Values per filter (9 for 3x3). */
  dims: number;
}

/** Scratch buffers reused from layer to layer. */
export class LayerScratch {
  scaled = new Float64Array(0);
  wide = new Float64Array(0);
  grow(filters: number, dims = K): void {
    if (this.scaled.length < filters * dims) this.scaled = new Float64Array(filters * dims);
  }
  widen(w: Float32Array, count: number): Float64Array {
    if (this.wide.length < count) this.wide = new Float64Array(count);
    const g = this.wide.subarray(0, count);
    for (let i = 0; i < count; i++) g[i] = w[i];
    return g;
  }
}

/**
 * Measures one layer: `w` holds `filters` filters of `dims` values (3x3: 9) row-major, in the layer's stored
 * order (out × inPerGroup for a plain conv). `out` is the number of output channels when the shape is known (then `filters` must be a
 * multiple of it), else null (no orthogonality). Also returns the layer's non-sparse filters scaled by their own
 * max|f| (in `scratch`, valid until the next call); `layerMaxAbs` as for keptFilters.
 */
export function measureCohortLayer(
  w: Float32Array,
  filters: number,
  out: number | null,
  scratch = new LayerScratch(),
  layerMaxAbs?: number,
  dims = K,
): { stats: CohortLayerStats; kept: KeptFilters } {
  const kept = keptFilters(w, filters, scratch, layerMaxAbs, dims);
  let entropy: number | null = null;
  if (kept.kept >= 2) {
    const ve = varianceEntropy(kept.scaled, kept.kept, dims);
    if (ve?.variances.some((v) => v > 0)) entropy = ve.entropy;
  }
  return {
    stats: {
      filters,
      sparse: filters - kept.kept,
      kept: kept.kept,
      entropy,
      out,
      orthogonality: layerOrthogonality(w, filters, out, scratch, dims),
    },
    kept,
  };
}

/**
 * oₗ of a layer's `filters` filters of `dims` values (3x3: 9) with `out` output channels (null when out is
 * unknown or < 2).
 */
export function layerOrthogonality(
  w: Float32Array,
  filters: number,
  out: number | null,
  scratch = new LayerScratch(),
  dims = K,
): number | null {
  if (out === null || out < 2 || filters % out !== 0) return null;
  const d = (filters / out) * dims;
  const g = scratch.widen(w, filters * dims);
  return out <= ORTH_GRAM_MAX ? orthogonality(g, out, d) : rowwiseOrthogonality(g, out, d);
}

/**
 * The layer's non-sparse filters (max|f| > max|W| / 100), each scaled by its own max|f|, row-major (in
 * `scratch`, valid until the next call). An all-zero layer has none. `w` may be a subset of a layer's filters
 * (a cohort of its kernels), `layerMaxAbs` then the whole layer's max|W|.
 */
export function keptFilters(
  w: Float32Array,
  filters: number,
  scratch = new LayerScratch(),
  layerMaxAbs?: number,
  dims = K,
): KeptFilters {
  const n = filters * dims;
  const maxAbs = layerMaxAbs ?? maxAbsOf(w, n);
  const threshold = maxAbs / 100;
  scratch.grow(filters, dims);
  const scaled = scratch.scaled;
  let kept = 0;
  for (let r = 0; r < filters; r++) {
    const o = r * dims;
    let peak = 0;
    for (let j = 0; j < dims; j++) {
      const a = Math.abs(w[o + j]);
      if (a > peak) peak = a;
    }
    if (peak <= threshold) continue; // sparse (`<=`: an all-zero layer's filters all are)
    const d = kept * dims;
    for (let j = 0; j < dims; j++) scaled[d + j] = w[o + j] / peak;
    kept++;
  }
  return { scaled: scaled.subarray(0, kept * dims), kept, dims };
}

/** max |w| over the first `n` values. */
export function maxAbsOf(w: Float32Array, n: number): number {
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(w[i]);
    if (a > maxAbs) maxAbs = a;
  }
  return maxAbs;
}

/**
 * Layers with more output channels than this get their orthogonality row by row instead of from the Gram
 * matrix, which would take out² × 8 bytes (2048: 32 MB; a 100 k-channel layer: 80 GB).
 */
export const ORTH_GRAM_MAX = 2048;

/**
 * Orthogonality (metrics/quality.ts's definition: 1 − Σ|ĜĜᵀ − I| / (out(out−1)), zero rows stay zero, the
 * diagonal counts) without the Gram matrix: rows normalised in place in `g` (a scratch copy), then every pair's
 * dot product. O(out²·d) time, no memory beyond `g`.
 */
export function rowwiseOrthogonality(g: Float64Array, out: number, d: number): number {
  let diag = 0;
  for (let i = 0; i < out; i++) {
    const o = i * d;
    let sq = 0;
    for (let j = 0; j < d; j++) sq += g[o + j] * g[o + j];
    if (sq > 0) {
      const inv = 1 / Math.sqrt(sq);
      let self = 0;
      for (let j = 0; j < d; j++) {
        g[o + j] *= inv;
        self += g[o + j] * g[o + j];
      }
      diag += Math.abs(self - 1);
    } else diag += 1;
  }
  let off = 0;
  for (let a = 0; a < out; a++) {
    const oa = a * d;
    let row = 0;
    for (let b = a + 1; b < out; b++) {
      const ob = b * d;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += g[oa + j] * g[ob + j];
      row += Math.abs(dot);
    }
    off += row;
  }
  return 1 - (diag + 2 * off) / (out * (out - 1));
}

/** Weighted sums of one model, per bin (0..10) and over the whole model (slot 11). */
export class ModelAccumulator {
  readonly sparse = new Float64Array(12);
  readonly filters = new Float64Array(12);
  readonly entropySum = new Float64Array(12);
  readonly entropyWeight = new Float64Array(12);
  readonly orthSum = new Float64Array(12);
  readonly orthWeight = new Float64Array(12);

  add(bin: number, s: CohortLayerStats): void {
    for (const slot of bin >= 0 ? [bin, 11] : [11]) {
      this.sparse[slot] += s.sparse;
      this.filters[slot] += s.filters;
      if (s.entropy !== null) {
        this.entropySum[slot] += s.entropy * s.kept;
        this.entropyWeight[slot] += s.kept;
      }
      if (s.orthogonality !== null && s.out !== null) {
        this.orthSum[slot] += s.orthogonality * s.out;
        this.orthWeight[slot] += s.out;
      }
    }
  }

  /** The metric in every slot (null where no layer is left). */
  values(metric: CohortMetric): (number | null)[] {
    const [num, den] =
      metric === 'sparsity'
        ? [this.sparse, this.filters]
        : metric === 'varianceEntropy'
          ? [this.entropySum, this.entropyWeight]
          : [this.orthSum, this.orthWeight];
    return Array.from(den, (d, i) => (d > 0 ? num[i] / d : null));
  }
}

export interface CohortModel {
  model: string;
  group: string;
  sparsity: (number | null)[];
  varianceEntropy: (number | null)[];
  orthogonality: (number | null)[];
  whole: Record<CohortMetric, number | null>;
}

/** A model's row of the JSON contract. */
export function cohortModel(model: string, group: string, acc: ModelAccumulator): CohortModel {
  const row = { model, group } as CohortModel;
  const whole = {} as Record<CohortMetric, number | null>;
  for (const m of COHORT_METRICS) {
    const v = acc.values(m);
    row[m] = v.slice(0, 11);
    whole[m] = v[11];
  }
  row.whole = whole;
  return row;
}

/**
 * Per cohort × bin, 70-bin count histograms of each PCA coefficient of the non-sparse scaled filters over a
 * fixed coefficient range (numpy.histogram's binning, analysis/histogram.ts).
 */
export class CohortHistograms {
  /** [cohort][bin] → dims × bins counts (allocated on first use). */
  readonly counts: (Float64Array | null)[][];
  readonly filters: Float64Array[];
  private readonly edges: Float64Array;
  private readonly scale: number;
  private readonly block: { coefs: Float64Array; centred: Float64Array };
  /** Values per filter (the basis' dimension). */
  readonly dims: number;
  constructor(
    readonly groups: number,
    readonly mean: Float64Array,
    /** Row-major dims × dims components. */
    readonly components: Float64Array,
    readonly lo: number,
    readonly hi: number,
    readonly bins = 70,
  ) {
    this.counts = Array.from({ length: groups }, () => new Array<Float64Array | null>(11).fill(null));
    this.filters = Array.from({ length: groups }, () => new Float64Array(11));
    const step = (hi - lo) / bins;
    this.edges = new Float64Array(bins + 1);
    for (let j = 0; j < bins; j++) this.edges[j] = lo + j * step;
    this.edges[bins] = hi;
    this.scale = hi === lo ? 0 : bins / (hi - lo);
    this.dims = mean.length;
    this.block = newProjectionBlock(this.dims);
  }

  /** Adds a layer's kept filters to cohort `group`'s histograms of depth bin `bin` (-1: none). */
  add(group: number, bin: number, kept: KeptFilters): void {
    if (bin < 0 || kept.kept === 0) return;
    let h = this.counts[group][bin];
    const dims = this.dims;
    if (!h) {
      h = new Float64Array(dims * this.bins);
      this.counts[group][bin] = h;
    }
    this.filters[group][bin] += kept.kept;
    const { bins, lo, hi, scale, edges } = this;
    const counts = h;
    projectInBlocks(kept, this.mean, this.components, this.block, (coefs, n) => {
      for (let r = 0; r < n; r++)
        for (let c = 0; c < dims; c++) {
          const i = binIndex(coefs[r * dims + c], lo, hi, bins, scale, edges);
          if (i >= 0) counts[c * bins + i]++;
        }
    });
  }
}

/**
 * (x − mean)·componentᵢ of every kept filter into `out` (the shift's projection: the sum over j in order).
 */
export function projectKept(
  kept: KeptFilters,
  mean: Float64Array,
  components: Float64Array,
  out: Float64Array,
  centred: Float64Array = new Float64Array(kept.dims),
): Float64Array {
  const x = kept.scaled;
  const d = kept.dims;
  for (let r = 0; r < kept.kept; r++) {
    const o = r * d;
    for (let j = 0; j < d; j++) centred[j] = x[o + j] - mean[j];
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += centred[j] * components[i * d + j];
      out[o + i] = s;
    }
  }
  return out;
}

/** Filters projected at a time: the coefficients of a block, not of a whole layer, are held. */
const PROJECTION_BLOCK = 4096;

/** Scratch of {@link projectInBlocks}. */
export function newProjectionBlock(dims = K): { coefs: Float64Array; centred: Float64Array } {
  return { coefs: new Float64Array(PROJECTION_BLOCK * dims), centred: new Float64Array(dims) };
}

/** Projects the kept filters block by block, calling `fn(coefficients, filters in the block)`. */
export function projectInBlocks(
  kept: KeptFilters,
  mean: Float64Array,
  components: Float64Array,
  block: { coefs: Float64Array; centred: Float64Array },
  fn: (coefs: Float64Array, n: number) => void,
): void {
  for (let o = 0; o < kept.kept; o += PROJECTION_BLOCK) {
    const n = Math.min(PROJECTION_BLOCK, kept.kept - o);
    const d = kept.dims;
    const part = { scaled: kept.scaled.subarray(o * d, (o + n) * d), kept: n, dims: d };
    fn(projectKept(part, mean, components, block.coefs, block.centred), n);
  }
}

/** Widens `range` to the min and max coefficient of a layer's kept filters. */
export function keptRange(
  kept: KeptFilters,
  mean: Float64Array,
  components: Float64Array,
  block: { coefs: Float64Array; centred: Float64Array },
  range: [number, number],
): void {
  projectInBlocks(kept, mean, components, block, (c, n) => {
    for (let i = 0; i < n * kept.dims; i++) {
      if (c[i] < range[0]) range[0] = c[i];
      if (c[i] > range[1]) range[1] = c[i];
    }
  });
}

export interface CohortDivergence {
  explainedVarianceRatio: number[];
  range: [number, number];
  filterCount: number;
  /** Per bin: the G×G matrix, or null when a cohort has no (non-sparse) filter in the bin. */
  byBin: (number[][] | null)[];
  /** All bins pooled (null when a cohort has no filter in any bin). */
  whole: number[][] | null;
}

/** The divergence matrices of accumulated histograms. */
export function cohortDivergence(
  h: CohortHistograms,
  explainedVarianceRatio: readonly number[],
  filterCount: number,
): CohortDivergence {
  const size = h.dims * h.bins;
  const matrixOf = (counts: (Float64Array | null)[]): number[][] | null => {
    if (counts.some((c) => c === null)) return null;
    const p = counts.map((c) => floorAndNormalise(c!, h.dims, h.bins));
    return driftMatrix(p, explainedVarianceRatio, h.bins);
  };
  const byBin = COHORT_BINS.map((_, b) => matrixOf(h.counts.map((row) => row[b])));
  const pooled = h.counts.map((row) => {
    const sum = new Float64Array(size);
    let any = false;
    for (const c of row)
      if (c) {
        any = true;
        for (let i = 0; i < size; i++) sum[i] += c[i];
      }
    return any ? sum : null;
  });
  return {
    explainedVarianceRatio: [...explainedVarianceRatio],
    range: [h.lo, h.hi],
    filterCount,
    byBin,
    whole: matrixOf(pooled),
  };
}

/** Average ranks (1-based; ties share the mean of their positions), as scipy.stats.rankdata. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b] || a - b);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i + 1;
    while (j < order.length && values[order[j]] === values[order[i]]) j++;
    const r = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k]] = r;
    i = j;
  }
  return ranks;
}

/** Spearman's ρ (Pearson's r of average ranks, as scipy.stats.spearmanr); null when an input is constant or n < 2. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) throw new RangeError('spearman: inputs of different lengths');
  const n = x.length;
  if (n < 2) return null;
  const rx = averageRanks(x);
  const ry = averageRanks(y);
  const mx = rx.reduce((s, v) => s + v, 0) / n;
  const my = ry.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a = rx[i] - mx;
    const b = ry[i] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  if (sxx === 0 || syy === 0) return null;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

export interface CohortCorrelation {
  column: string;
  n: number;
  sparsity: number | null;
  varianceEntropy: number | null;
  orthogonality: number | null;
}

/**
 * Spearman's ρ between each model's whole metric and its value of the column, over the models where both
 * are defined (`n` is the count of models with a column value; each metric may use fewer).
 */
export function cohortCorrelation(
  column: string,
  models: readonly CohortModel[],
  values: readonly (number | null)[],
): CohortCorrelation {
  const out = {
    column,
    n: values.filter((v) => v !== null && Number.isFinite(v)).length,
  } as CohortCorrelation;
  for (const m of COHORT_METRICS) {
    const xs: number[] = [];
    const ys: number[] = [];
    models.forEach((row, i) => {
      const v = values[i];
      const w = row.whole[m];
      if (v !== null && Number.isFinite(v) && w !== null) {
        xs.push(w);
        ys.push(v);
      }
    });
    out[m] = spearman(xs, ys);
  }
  return out;
}

export interface CohortsResult {
  by: string;
  bins: string[];
  groups: string[];
  models: CohortModel[];
  divergence: CohortDivergence | null;
  correlation?: CohortCorrelation;
}

/** The `cohorts --json` object (the contract of issue #13, keys in its order; also the API's answer). */
export function cohortsJson(r: CohortsResult): CohortsResult {
  const out: CohortsResult = {
    by: r.by,
    bins: r.bins,
    groups: r.groups,
    models: r.models.map((m) => ({
      model: m.model,
      group: m.group,
      sparsity: m.sparsity,
      varianceEntropy: m.varianceEntropy,
      orthogonality: m.orthogonality,
      whole: m.whole,
    })),
    divergence: r.divergence,
  };
  if (r.correlation) out.correlation = r.correlation;
  return out;
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The per-model table as CSV: model, cohort, then per metric its whole-model value and one column per bin
 * (`sparsity`, `sparsity first`, `sparsity (0.0, 0.1]`, …); empty cells for null.
 */
export function cohortsCsv(r: CohortsResult): string {
  const header = ['model', r.by];
  for (const m of COHORT_METRICS) header.push(m, ...r.bins.map((b) => `${m} ${b}`));
  const rows = r.models.map((row) => {
    const cells: (string | number | null)[] = [row.model, row.group];
    for (const m of COHORT_METRICS) cells.push(row.whole[m], ...row[m]);
    return cells;
  });
  return [header, ...rows].map((cells) => cells.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
