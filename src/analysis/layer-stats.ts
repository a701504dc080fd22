/**
 * Sufficient statistics of one layer's 3x3 filters for the distribution-shift analysis, computed once when
 * the filters are stored (ingest, import-h5, upgrade) so that the PCA basis of any layer-level selection is
 * a merge of stored rows and `shift` reads the filters once:
 *
 * - the moments of the peak-scaled filters: count, mean and centred scatter (the same information as the 9
 *   sums and 45 sums of products, kept centred for float64 accuracy). They are computed exactly as the scan's
 *   moments pass does (scan-passes.ts): the kernels' raw sums of blocks of {@link SCAN_BLOCK} filters from
 *   the layer's first filter, each turned into centred moments and Chan-merged in order — so the statistics
 *   do not depend on how the data was split into reads;
 * - extreme filters: per direction of {@link EXTREME_BASES} the filters with the largest and the smallest
 *   peak-scaled projection, and the {@link KEEP_BY_NORM} filters of largest peak-scaled norm (all filters of
 *   a small layer). The coefficient range of a basis is the min/max
 *   over filters; these candidates give a guess of it that the histogram pass verifies (range-candidates.ts).
 *
 * Isomorphic (no `node:` imports): the WebAssembly kernels of analysis/wasm/scan.ts, an instance of its own
 * so a scan interleaved on the same thread never sees its block buffers overwritten; each builder stages its
 * block in buffers of its own and hands it to the kernels whole.
 */
import { SCAN_BLOCK, ScanKernels } from './wasm/scan.js';

const D = 9;

/**
 * Moments of peak-scaled filters: count, mean and the centred scatter Σ (x − mean)(x − mean)ᵀ (9 × 9 for
 * 3x3 filters; dims × dims for the other kernel sizes of scan/kxk-passes.ts).
 */
export interface MomentSums {
  n: number;
  mean: Float64Array;
  scatter: Float64Array;
}

export function emptySums(dims = D): MomentSums {
  return { n: 0, mean: new Float64Array(dims), scatter: new Float64Array(dims * dims) };
}

/** Chan et al. merge of moments (a ← a ∪ b), of any dimension (both the same). */
export function mergeMomentSums(a: MomentSums, b: MomentSums): void {
  if (b.n === 0) return;
  if (a.n === 0) {
    a.n = b.n;
    a.mean.set(b.mean);
    a.scatter.set(b.scatter);
    return;
  }
  const dims = a.mean.length;
  const n = a.n + b.n;
  const f = (a.n * b.n) / n;
  const d = new Float64Array(dims);
  for (let j = 0; j < dims; j++) d[j] = b.mean[j] - a.mean[j];
  for (let i = 0; i < dims; i++)
    for (let j = 0; j < dims; j++) a.scatter[i * dims + j] += b.scatter[i * dims + j] + d[i] * d[j] * f;
  for (let j = 0; j < dims; j++) a.mean[j] += (d[j] * b.n) / n;
  a.n = n;
}

/**
 * The kernels' raw sums of one block of `n` filters (9 value sums, then the 45 products i ≤ j) as centred
 * moments in `out` (keeps float64 accuracy at 1e9 rows).
 */
export function blockMoments(s: Float64Array, n: number, out: MomentSums): MomentSums {
  out.n = n;
  for (let i = 0; i < D; i++) out.mean[i] = s[i] / n;
  let q = D;
  for (let i = 0; i < D; i++)
    for (let j = i; j < D; j++, q++) {
      const v = s[q] - n * out.mean[i] * out.mean[j];
      out.scatter[i * D + j] = v;
      out.scatter[j * D + i] = v;
    }
  return out;
}

/** The 45 entries i ≤ j of a symmetric 9 × 9 matrix, row by row (the stored form of a scatter). */
export function upperTriangle(m: Float64Array): Float64Array {
  const out = new Float64Array((D * (D + 1)) / 2);
  let q = 0;
  for (let i = 0; i < D; i++) for (let j = i; j < D; j++) out[q++] = m[i * D + j];
  return out;
}

/** The symmetric 9 × 9 matrix of {@link upperTriangle}'s 45 entries. */
export function fromUpperTriangle(t: ArrayLike<number>): Float64Array {
  const m = new Float64Array(D * D);
  let q = 0;
  for (let i = 0; i < D; i++)
    for (let j = i; j < D; j++, q++) {
      m[i * D + j] = t[q];
      m[j * D + i] = t[q];
    }
  return m;
}

/** An orthonormal 9 × 9 basis, row-major: the 2-D DCT-II of 3 × 3 (rows u ⊗ v of the 1-D DCT). */
function dctBasis(): Float64Array {
  const c = [0, 1, 2].map((k) =>
    [0, 1, 2].map((x) => Math.sqrt((k === 0 ? 1 : 2) / 3) * Math.cos((Math.PI * (2 * x + 1) * k) / 6)),
  );
  const b = new Float64Array(D * D);
  for (let ku = 0; ku < 3; ku++)
    for (let kv = 0; kv < 3; kv++)
      for (let y = 0; y < 3; y++)
        for (let x = 0; x < 3; x++) b[(ku * 3 + kv) * D + y * 3 + x] = c[ku][y] * c[kv][x];
  return b;
}

/**
 * Directions along which each layer keeps its extreme filters, each at both ends: the 3x3 DCT basis. More
 * fixed bases helped less than the filters of largest norm (bench/range-guess, see {@link KEEP_BY_NORM}).
 */
export const EXTREME_BASES: readonly Float64Array[] = [dctBasis()];

/**
 * Filters kept for the largest peak-scaled norm: a filter far out along any direction has a large norm, so
 * these catch the extremes along a basis the fixed directions miss. bench/range-guess on the fixture and the
 * real models in npm packages (77 layers): per-layer selections missed 38 of 77 times with the DCT basis
 * alone, 26 with 4 bases, 17 with 8, 1 with the DCT basis and these 128 (and 1 with 4 bases and these).
 */
const KEEP_BY_NORM = 128;

/** Layers of at most this many filters keep all of them as extremes (as many as could be kept). */
const KEEP_ALL = 2 * D * EXTREME_BASES.length + KEEP_BY_NORM;

export interface LayerStats extends MomentSums {
  /** Candidate extreme filters, raw values row-major × 9. */
  extremes: Float32Array;
}

let kernels: ScanKernels | null = null;

/**
 * Accumulates a layer's statistics from its filters in storage order (float32 values, as stored; any
 * number of rows per {@link add}).
 */
export class LayerStatsBuilder {
  private readonly k: ScanKernels;
  private readonly total = emptySums();
  private readonly part = emptySums();
  private fill = 0;
  /** Per basis × direction × end: best projection and the filter. */
  private readonly best: Float64Array;
  private readonly bestRows: Float32Array;
  private readonly all: number[] = [];
  private readonly zeros = new Float64Array(D);

  /** The `keepByNorm` filters with the largest peak-scaled norm, and their squared norms. */
  private readonly normRows: Float32Array;
  private readonly norms: Float64Array;
  private normCount = 0;
  private normMin = 0;

  constructor(
    private readonly bases: readonly Float64Array[] = EXTREME_BASES,
    private readonly keepByNorm = KEEP_BY_NORM,
  ) {
    this.normRows = new Float32Array(keepByNorm * D);
    this.norms = new Float64Array(keepByNorm);
    kernels ??= new ScanKernels();
    this.k = kernels;
    const ends = bases.length * D * 2;
    this.best = new Float64Array(ends);
    for (let e = 0; e < ends; e++)
      this.best[e] = e % 2 === 0 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    this.bestRows = new Float32Array(ends * D);
  }

  /** The builder's own block (several builders may be filled in turn; the kernels' block is shared). */
  private readonly cols = Array.from({ length: D }, () => new Float32Array(SCAN_BLOCK));

  /** Adds `count` filters of `values` (row-major × 9) from filter `from`. */
  add(values: ArrayLike<number>, count: number, from = 0): void {
    const cols = this.cols;
    for (let r = 0; r < count; r++) {
      const o = (from + r) * D;
      for (let j = 0; j < D; j++) cols[j][this.fill] = values[o + j];
      if (this.all.length < KEEP_ALL * D) for (let j = 0; j < D; j++) this.all.push(cols[j][this.fill]);
      if (++this.fill === SCAN_BLOCK) this.flush();
    }
  }

  private flush(): void {
    const n = this.fill;
    if (n === 0) return;
    const k = this.k;
    for (let j = 0; j < D; j++) k.cols[j].set(this.cols[j].subarray(0, n));
    if (n % 2 === 1) k.zeroRow(n);
    mergeMomentSums(this.total, blockMoments(k.moments(n + (n % 2)), n, this.part));
    this.bases.forEach((basis, b) => {
      k.setBasis(this.zeros, basis);
      k.project(n, true);
      for (let i = 0; i < D; i++) {
        const c = k.coef[i];
        const e = (b * D + i) * 2;
        let hi = this.best[e];
        let lo = this.best[e + 1];
        let hiRow = -1;
        let loRow = -1;
        for (let r = 0; r < n; r++) {
          const v = c[r];
          if (v > hi) {
            hi = v;
            hiRow = r;
          }
          if (v < lo) {
            lo = v;
            loRow = r;
          }
        }
        if (hiRow >= 0) this.keep(e, hi, hiRow);
        if (loRow >= 0) this.keep(e + 1, lo, loRow);
      }
    });
    if (this.keepByNorm > 0) this.trackNorms(n);
    this.fill = 0;
  }

  /** Keeps the filters of the block with the largest peak-scaled norms (the candidates along any direction). */
  private trackNorms(n: number): void {
    const cols = this.k.cols;
    const cap = this.keepByNorm;
    for (let r = 0; r < n; r++) {
      let peak = 0;
      for (let j = 0; j < D; j++) {
        const a = Math.abs(cols[j][r]);
        if (a > peak) peak = a;
      }
      if (peak === 0) continue;
      let q = 0;
      for (let j = 0; j < D; j++) {
        const v = cols[j][r] / peak;
        q += v * v;
      }
      if (this.normCount === cap && !(q > this.norms[this.normMin])) continue;
      const at = this.normCount < cap ? this.normCount++ : this.normMin;
      this.norms[at] = q;
      for (let j = 0; j < D; j++) this.normRows[at * D + j] = cols[j][r];
      if (this.normCount === cap) {
        let m = 0;
        for (let i = 1; i < cap; i++) if (this.norms[i] < this.norms[m]) m = i;
        this.normMin = m;
      }
    }
  }

  private keep(end: number, value: number, row: number): void {
    this.best[end] = value;
    for (let j = 0; j < D; j++) this.bestRows[end * D + j] = this.k.cols[j][row];
  }

  /** The statistics (the builder is spent). */
  finish(): LayerStats {
    this.flush();
    const { n, mean, scatter } = this.total;
    if (n <= KEEP_ALL) return { n, mean, scatter, extremes: Float32Array.from(this.all) };
    // distinct filters only (a filter often is the extreme along several directions)
    const seen = new Set<string>();
    const out: number[] = [];
    const rows: Float32Array[] = [];
    for (let e = 0; e < this.best.length; e++)
      if (Number.isFinite(this.best[e])) rows.push(this.bestRows.subarray(e * D, e * D + D));
    for (let i = 0; i < this.normCount; i++) rows.push(this.normRows.subarray(i * D, i * D + D));
    for (const row of rows) {
      const key = row.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(...row);
    }
    return { n, mean, scatter, extremes: Float32Array.from(out) };
  }
}

/** The statistics of `count` filters of `values` (row-major × 9). */
export function layerStats(values: ArrayLike<number>, count: number): LayerStats {
  const b = new LayerStatsBuilder();
  b.add(values, count);
  return b.finish();
}
