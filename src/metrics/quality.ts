/**
 * Per-layer filter-quality metrics (CNN Filter DB, Gavrikov & Keuper 2022; torchconvquality's
 * `measure_conv_weight_quality`). The exact definitions are in the fixtures README ("Quality metrics"); this
 * file follows them in float64 throughout.
 *
 * Layout: a rank-4 weight `[out, inPerGroup, kh, kw]`, row-major. `F` is the weight seen as `n = out·inPerGroup`
 * rows of `k = kh·kw` values (one row per 2-D filter); `G` is the same memory seen as `out` rows of
 * `inPerGroup·k` values (one row per output filter).
 *
 * Non-finite weights (NaN, ±Infinity) are counted and skipped where a number must still be produced:
 * - `sparsity`: the threshold uses the largest finite |w|; a filter containing a non-finite value is not sparse.
 * - `normL1` / `normL2`: sums over the finite weights only.
 * - everything else that the non-finite values would turn into NaN (both variance entropies, orthogonality,
 *   `normL1Norm` / `normL2Norm`) is `null`. The caller raises the `non-finite` flag (see flags.ts).
 */

import { FilterDbError } from '../errors.js';
import type { WeightArray } from '../model/types.js';
import { centredScatter, columnMeans, crossGram, gram, symmetricEigen } from './linalg.js';
import { symmetricEigenvaluesOrNull } from './sym-eigenvalues.js';
import type { LayerMetrics, QualityOptions } from './types.js';

export const DEFAULT_SPARSITY_EPS = 0.01;

/** Logistic fit of the variance entropy of randomly initialised layers against log2(n) (README constants). */
const T_L = 1.2618047;
const T_X0 = 2.30436435;
const T_K = 0.88767525;
const T_B = -0.31050834;

/** `T(n)`: the expected variance entropy of a random (untrained) 3×3 layer with n filters; the normaliser. */
export function randomEntropy(n: number): number {
  return T_L / (1 + Math.exp(-T_K * (Math.log2(n) - T_X0))) + T_B;
}

/** Result of the weight scan (max, norms, sparsity, column sums) — exposed for the benchmark and analysis. */
export interface WeightScan {
  /** The weights as given (float32 or float64: the scan widens each value as it reads it, no copy). */
  w: WeightArray;
  /** Number of non-finite weights. */
  nonFinite: number;
  /** Largest finite |w| (0 when there is none). */
  maxAbs: number;
  /** Sparsity threshold actually used: eps·maxAbs, or 1 when that is 0. */
  threshold: number;
  /** Per 2-D filter: 1 = kept (not sparse), 0 = sparse. Length n. */
  keep: Uint8Array;
  sparseCount: number;
  normL1: number;
  normL2: number;
  normL1Norm: number | null;
  normL2Norm: number | null;
  /**
   * Per kernel position (k values): the sum over all n filters, in row order (the numerator of the column
   * means variance entropy centres by). Meaningless when `nonFinite > 0`.
   */
  columnSums: Float64Array;
}

const BIG = Number.MAX_VALUE;

/** What the single pass over the weights gathers. */
interface FirstPass {
  /** Per filter: max |w| (NaN or ∞ when the filter holds a non-finite value; +∞ after the careful redo). */
  rowMax: Float64Array;
  columnSums: Float64Array;
  maxAbs: number;
  sum: number;
  sumAbs: number;
  sumSq: number;
  nonFinite: number;
}

/**
 * One pass over the `n × k` weights (float32 read directly, widened per value): per-filter max |w| (from which
 * the sparse filters follow without touching the weights again), the global max, Σw, Σ|w|, Σw² (summed per
 * filter row, then added: rounding error grows with the row count, not the weight count) and the column sums
 * for the variance-entropy means. Non-finite values show up as a non-finite sum or max; only then is the scan
 * redone carefully (counting and skipping them).
 */
function firstPass(w: WeightArray, n: number, k: number): FirstPass {
  const rowMax = new Float64Array(n);
  const columnSums = new Float64Array(k);
  let maxAbs = 0;
  let sum = 0;
  let sumAbs = 0;
  let sumSq = 0;
  if (k === 9) {
    let t0 = 0;
    let t1 = 0;
    let t2 = 0;
    let t3 = 0;
    let t4 = 0;
    let t5 = 0;
    let t6 = 0;
    let t7 = 0;
    let t8 = 0;
    for (let r = 0, o = 0; r < n; r++, o += 9) {
      const v0 = w[o];
      const v1 = w[o + 1];
      const v2 = w[o + 2];
      const v3 = w[o + 3];
      const v4 = w[o + 4];
      const v5 = w[o + 5];
      const v6 = w[o + 6];
      const v7 = w[o + 7];
      const v8 = w[o + 8];
      const a0 = Math.abs(v0);
      const a1 = Math.abs(v1);
      const a2 = Math.abs(v2);
      const a3 = Math.abs(v3);
      const a4 = Math.abs(v4);
      const a5 = Math.abs(v5);
      const a6 = Math.abs(v6);
      const a7 = Math.abs(v7);
      const a8 = Math.abs(v8);
      const rm = Math.max(a0, a1, a2, a3, a4, a5, a6, a7, a8); // NaN propagates: caught below
      rowMax[r] = rm;
      maxAbs = Math.max(maxAbs, rm);
      sum += v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8;
      sumAbs += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8;
      sumSq += v0 * v0 + v1 * v1 + v2 * v2 + v3 * v3 + v4 * v4 + v5 * v5 + v6 * v6 + v7 * v7 + v8 * v8;
      t0 += v0;
      t1 += v1;
      t2 += v2;
      t3 += v3;
      t4 += v4;
      t5 += v5;
      t6 += v6;
      t7 += v7;
      t8 += v8;
    }
    columnSums[0] = t0;
    columnSums[1] = t1;
    columnSums[2] = t2;
    columnSums[3] = t3;
    columnSums[4] = t4;
    columnSums[5] = t5;
    columnSums[6] = t6;
    columnSums[7] = t7;
    columnSums[8] = t8;
  } else if (k === 1) {
    for (let r = 0; r < n; r++) {
      const v = w[r];
      const a = Math.abs(v);
      rowMax[r] = a;
      maxAbs = Math.max(maxAbs, a);
      sum += v;
      sumAbs += a;
      sumSq += v * v;
    }
    if (n > 0) columnSums[0] = sum;
  } else {
    for (let r = 0, o = 0; r < n; r++, o += k) {
      let rm = 0;
      let bSum = 0;
      let bAbs = 0;
      let bSq = 0;
      for (let j = 0; j < k; j++) {
        const v = w[o + j];
        const a = Math.abs(v);
        rm = Math.max(rm, a);
        bSum += v;
        bAbs += a;
        bSq += v * v;
        columnSums[j] += v;
      }
      rowMax[r] = rm;
      maxAbs = Math.max(maxAbs, rm);
      sum += bSum;
      sumAbs += bAbs;
      sumSq += bSq;
    }
  }
  let nonFinite = 0;
  // NaN and ±Infinity end up in the sums (and ∞ in the max): redo the scan carefully only then.
  if (!(Math.abs(sum) + sumAbs + sumSq <= BIG) || !(maxAbs <= BIG)) {
    maxAbs = 0;
    sum = 0;
    sumAbs = 0;
    sumSq = 0;
    for (let r = 0; r < n; r++) {
      const o = r * k;
      let rm = 0;
      for (let j = 0; j < k; j++) {
        const v = w[o + j];
        const a = Math.abs(v);
        if (!(a <= BIG)) {
          nonFinite++;
          rm = Number.POSITIVE_INFINITY; // a filter with a non-finite value is never sparse
          continue;
        }
        if (a > maxAbs) maxAbs = a;
        if (a > rm) rm = a;
        sum += v;
        sumAbs += a;
        sumSq += v * v;
      }
      rowMax[r] = rm;
    }
  }
  return { rowMax, columnSums, maxAbs, sum, sumAbs, sumSq, nonFinite };
}

/** The sparse filters: all |values| < t  ⇔  max |value| < t, with t = eps·maxAbs (1 when that is 0). */
function sparsity(
  rowMax: Float64Array,
  maxAbs: number,
  eps: number,
): { threshold: number; keep: Uint8Array; sparseCount: number } {
  const n = rowMax.length;
  let threshold = eps * maxAbs;
  if (threshold === 0) threshold = 1;
  const keep = new Uint8Array(n);
  let sparseCount = 0;
  for (let r = 0; r < n; r++) {
    if (rowMax[r] < threshold) sparseCount++;
    else keep[r] = 1;
  }
  return { threshold, keep, sparseCount };
}

/** Σ|w − mean| and Σ(w − mean)² over all weights (the second pass of the standardised norms). */
function centredNorms(w: WeightArray, total: number, mean: number): { cAbs: number; cSq: number } {
  let cAbs = 0;
  let cSq = 0;
  for (let b = 0; b < total; b += 4096) {
    const e = Math.min(total, b + 4096);
    let a0 = 0;
    let a1 = 0;
    let q0 = 0;
    let q1 = 0;
    let i = b;
    for (; i + 1 < e; i += 2) {
      const c0 = w[i] - mean;
      const c1 = w[i + 1] - mean;
      a0 += Math.abs(c0);
      q0 += c0 * c0;
      a1 += Math.abs(c1);
      q1 += c1 * c1;
    }
    if (i < e) {
      const c0 = w[i] - mean;
      a0 += Math.abs(c0);
      q0 += c0 * c0;
    }
    cAbs += a0 + a1;
    cSq += q0 + q1;
  }
  return { cAbs, cSq };
}

/**
 * Scans the weights: one pass for max |w|, sums, column sums, non-finite count and per-filter max |w| (from
 * which the sparse filters follow without touching the weights again), and a second, centred pass for the
 * standardised norms (two-pass mean/variance for accuracy).
 */
export function scanWeights(weight: WeightArray, n: number, k: number, eps: number): WeightScan {
  const first = firstPass(weight, n, k);
  const { threshold, keep, sparseCount } = sparsity(first.rowMax, first.maxAbs, eps);
  const total = n * k;
  let normL1Norm: number | null = null;
  let normL2Norm: number | null = null;
  if (first.nonFinite === 0 && total >= 2) {
    const { cAbs, cSq } = centredNorms(weight, total, first.sum / total);
    const std = Math.sqrt(cSq / (total - 1));
    if (std > 0) {
      normL1Norm = cAbs / std;
      normL2Norm = Math.sqrt(cSq) / std;
    }
  }
  return {
    w: weight,
    nonFinite: first.nonFinite,
    maxAbs: first.maxAbs,
    threshold,
    keep,
    sparseCount,
    normL1: first.sumAbs,
    normL2: Math.sqrt(first.sumSq),
    normL1Norm,
    normL2Norm,
    columnSums: first.columnSums,
  };
}

export interface VarianceEntropy {
  /** Rows that entered (n, or the non-sparse count). */
  count: number;
  entropy: number;
  /** entropy / T(count). */
  norm: number;
  /** The variances v = s²/(count−1), descending (the eigenvalues of the covariance). */
  variances: Float64Array;
}

/**
 * Variance entropy of the rows of the `n × k` matrix `f` (only rows with `select[r] !== 0` when given):
 * eigenvalues of the covariance CᵀC/(count−1) (= s²/(count−1) for the singular values s of the centred rows),
 * normalised to a distribution, Shannon entropy in log10. `null` when fewer than 2 rows enter.
 * `f` may be float32 (read directly) or float64.
 */
export function varianceEntropy(
  f: WeightArray,
  n: number,
  k: number,
  select?: Uint8Array | null,
): VarianceEntropy | null {
  let count = n;
  if (select) {
    count = 0;
    for (let r = 0; r < n; r++) count += select[r] ? 1 : 0;
  }
  if (count < 2 || k === 0) return null;
  const mean = columnMeans(f, n, k, select);
  return entropyOfScatter(centredMoments(f, n, k, mean, select ?? null, count), count);
}

/**
 * Column means from column sums (over `count` selected rows), with columnMeans' rule for constant columns:
 * a column whose selected values are all equal gets exactly that value (so centring yields exact zeros).
 */
function meansFromSums(
  f: WeightArray,
  n: number,
  k: number,
  sums: Float64Array,
  count: number,
  select: Uint8Array | null,
): Float64Array {
  const mean = new Float64Array(k);
  let firstRow = 0;
  if (select) while (firstRow < n && !select[firstRow]) firstRow++;
  for (let j = 0; j < k; j++) {
    // Constant column? For real data the first differing row comes almost at once, so this costs ~nothing.
    const x0 = f[firstRow * k + j];
    let constant = true;
    for (let r = firstRow + 1; r < n; r++) {
      if (select && !select[r]) continue;
      if (f[r * k + j] !== x0) {
        constant = false;
        break;
      }
    }
    mean[j] = constant ? x0 : sums[j] / count;
  }
  return mean;
}

/** Column sums over the selected rows only, in row order (1×1 kernels never get here: see singleVarianceEntropy). */
function selectedColumnSums(f: WeightArray, n: number, k: number, select: Uint8Array): Float64Array {
  const sums = new Float64Array(k);
  if (k === 9) {
    let t0 = 0;
    let t1 = 0;
    let t2 = 0;
    let t3 = 0;
    let t4 = 0;
    let t5 = 0;
    let t6 = 0;
    let t7 = 0;
    let t8 = 0;
    for (let r = 0, o = 0; r < n; r++, o += 9) {
      if (select[r] === 0) continue;
      t0 += f[o];
      t1 += f[o + 1];
      t2 += f[o + 2];
      t3 += f[o + 3];
      t4 += f[o + 4];
      t5 += f[o + 5];
      t6 += f[o + 6];
      t7 += f[o + 7];
      t8 += f[o + 8];
    }
    sums.set([t0, t1, t2, t3, t4, t5, t6, t7, t8]);
    return sums;
  }
  for (let r = 0, o = 0; r < n; r++, o += k) {
    if (select[r] === 0) continue;
    for (let j = 0; j < k; j++) sums[j] += f[o + j];
  }
  return sums;
}

/**
 * 1×1 kernels: the covariance is 1×1, its one eigenvalue normalised is 1 (or the total is 0), so the entropy
 * is exactly 0 whatever the weights — {@link entropyOfScatter} would compute the same 0 after a pass over
 * them. measureLayer uses only `entropy` and `norm`; `variances` is left empty.
 */
function singleVarianceEntropy(count: number): VarianceEntropy {
  return { count, entropy: 0, norm: 0 / randomEntropy(count), variances: new Float64Array(0) };
}

/**
 * Kernels of up to this many values (7×7 = 49) keep the Jacobi solver on the k×k scatter, as before; wider
 * ones (the 1×k rows of 1-D convs, k up to 512 and more) take the spectrum from the smaller of the k×k scatter
 * and the count×count Gram matrix of the centred rows (same non-zero eigenvalues), by Householder + QL.
 */
const JACOBI_MAX_VALUES = 64;

/**
 * The centred second-moment matrix whose eigenvalues are the filters' variances·(count−1): the k×k scatter
 * CᵀC, or for wide kernels with fewer rows than values the count×count Gram matrix CCᵀ (same non-zero
 * eigenvalues, a fraction of the work). Returns the matrix and its order.
 */
function centredMoments(
  f: WeightArray,
  n: number,
  k: number,
  mean: Float64Array,
  select: Uint8Array | null,
  count: number,
): { matrix: Float64Array; order: number } {
  if (k <= JACOBI_MAX_VALUES || count >= k)
    return { matrix: centredScatter(f, n, k, mean, select), order: k };
  const c = new Float64Array(count * k);
  for (let r = 0, i = 0; r < n; r++) {
    if (select && !select[r]) continue;
    const o = r * k;
    const oc = i * k;
    for (let j = 0; j < k; j++) c[oc + j] = f[o + j] - mean[j];
    i++;
  }
  return { matrix: gram(c, count, k), order: count };
}

/**
 * The `n × n` Gram matrix XXᵀ of the raw rows when one matrix can serve orthogonality and both entropies: a
 * layer with one input channel per group (its 2-D filters are its output filters, so both metrics see the
 * same rows) whose kernels are wide (k above {@link JACOBI_MAX_VALUES}) with fewer rows than values (so the
 * entropies use the Gram form, see centredMoments) and small enough for the full Gram matrix. `null` otherwise.
 */
function sharedRowGram(weight: WeightArray, out: number, inpg: number, k: number): Float64Array | null {
  if (inpg !== 1 || k <= JACOBI_MAX_VALUES || out >= k || out < 2) return null;
  if (out > FULL_GRAM_MAX_ROWS || out * k > WIDEN_SCRATCH_MAX) return null;
  return gram(widened(weight), out, k, reused(rowGramScratch, out * out));
}

/**
 * The wide-kernel path's n×n matrices (n ≤ {@link FULL_GRAM_MAX_ROWS}: at most 2 MiB each) live in buffers
 * reused from layer to layer: allocating a fresh zeroed 257×257 array took as long as centring it. A reused
 * buffer holds stale values; each user writes what it reads.
 */
interface Scratch {
  buffer: Float64Array | null;
}
const rowGramScratch: Scratch = { buffer: null };
const centredScratch: Scratch = { buffer: null };

function reused(scratch: Scratch, size: number): Float64Array {
  if (!scratch.buffer || scratch.buffer.length < size) scratch.buffer = new Float64Array(size);
  return scratch.buffer.subarray(0, size);
}

/**
 * The centred Gram matrix CCᵀ of the selected rows (C = rows − their column means) from the raw Gram matrix
 * G = XXᵀ by double centring, HGH with H = I − 11ᵀ/count: `G_ab − r_a − r_b + t` (r = row means of G over the
 * selection, t = their mean = ‖mean row‖²). Exact algebra, but centring now subtracts in the Gram domain, so
 * the rounding error scales with ‖x‖² instead of ‖x − mean‖²: when the mean row carries more energy than the
 * spread (count·‖m‖² > Σ‖x_i − m‖², e.g. near-identical filters) this returns `null` and the caller centres the
 * rows themselves (at most 2× the direct path's rounding otherwise). Only the lower triangle of the result is
 * written (what {@link eigenvalues} reads).
 */
function doubleCentred(
  g: Float64Array,
  n: number,
  select: Uint8Array | null,
  count: number,
): { matrix: Float64Array; order: number } | null {
  // the selected rows and columns of G, compact, or G itself (then count = n): no index lookups below
  const s = select ? selectedSubmatrix(g, n, select, count) : g;
  // Row sums as column sums, row after row: G is exactly symmetric (gram() mirrors its upper triangle), so
  // column a adds G_a0, G_a1, … in the order a row sum would, without one long chain of dependent additions.
  const rowMean = new Float64Array(count);
  let energy = 0;
  for (let a = 0; a < count; a++) {
    const o = a * count;
    for (let b = 0; b < count; b++) rowMean[b] += s[o + b];
    energy += s[o + a];
  }
  let total = 0;
  for (let a = 0; a < count; a++) {
    total += rowMean[a];
    rowMean[a] /= count;
  }
  const meanSq = total / (count * count);
  if (!(count * meanSq <= 0.5 * energy)) return null;
  const m = select ? s : reused(centredScratch, count * count);
  for (let a = 0; a < count; a++) {
    const oa = a * count;
    const ra = rowMean[a];
    for (let b = 0; b <= a; b++) m[oa + b] = s[oa + b] - ra - rowMean[b] + meanSq;
  }
  return { matrix: m, order: count };
}

/** The `count × count` submatrix of the `n × n` matrix `g` on the rows and columns `select` marks. */
function selectedSubmatrix(g: Float64Array, n: number, select: Uint8Array, count: number): Float64Array {
  const rows = new Int32Array(count);
  for (let r = 0, i = 0; r < n && i < count; r++) if (select[r]) rows[i++] = r;
  const s = reused(centredScratch, count * count);
  for (let a = 0; a < count; a++) {
    const o = rows[a] * n;
    const oa = a * count;
    for (let b = 0; b < count; b++) s[oa + b] = g[o + rows[b]];
  }
  return s;
}

/**
 * Eigenvalues (descending) of a symmetric matrix given by its lower triangle (the upper one is overwritten):
 * Jacobi for small ones, Householder + QL beyond {@link JACOBI_MAX_VALUES}.
 */
function eigenvalues(a: Float64Array, order: number): Float64Array {
  if (order > JACOBI_MAX_VALUES) {
    const values = symmetricEigenvaluesOrNull(a, order);
    if (values) return values.reverse();
  }
  for (let i = 0; i < order; i++) for (let j = 0; j < i; j++) a[j * order + i] = a[i * order + j];
  return symmetricEigen(a, order, { vectors: false }).values;
}

/**
 * {@link varianceEntropy} from the centred scatter (k × k, row-major; not modified) of `count` rows, for
 * callers that have moments instead of the rows (the SQL engines' sums).
 */
export function varianceEntropyOfScatter(
  scatter: Float64Array,
  k: number,
  count: number,
): VarianceEntropy | null {
  if (count < 2 || k === 0) return null;
  return entropyOfScatter({ matrix: Float64Array.from(scatter), order: k }, count);
}

/** Entropy of the eigenvalues of scatter/(count−1) (read from its lower triangle, scaled in place). */
function entropyOfScatter(moments: { matrix: Float64Array; order: number }, count: number): VarianceEntropy {
  const { matrix: scatter, order: k } = moments;
  for (let i = 0; i < k; i++) for (let j = 0, o = i * k; j <= i; j++) scatter[o + j] /= count - 1;
  const values = eigenvalues(scatter, k);
  let total = 0;
  for (let i = 0; i < k; i++) {
    if (values[i] < 0) values[i] = 0; // rounding in a rank-deficient scatter
    total += values[i];
  }
  let entropy = 0;
  if (total > 0) {
    for (let i = 0; i < k; i++) {
      const p = values[i] / total;
      if (p > 0) entropy -= p * Math.log10(p);
    }
    if (entropy === 0) entropy = 0; // no -0
  }
  return { count, entropy, norm: entropy / randomEntropy(count), variances: values };
}

/**
 * Orthogonality of the `out` filters (rows of `g`, `d` values each): 1 − mean |Ĝ Ĝᵀ − I| over the
 * out·(out−1) off-diagonal-count normaliser, Ĝ = rows scaled to unit L2 norm (zero rows stay zero and count 1
 * on the diagonal). Computed as the Gram matrix of the raw rows scaled afterwards by 1/(‖g_i‖‖g_j‖), which
 * saves normalising a copy of the weights. `null` when out < 2.
 */
export function orthogonality(
  g: Float64Array,
  out: number,
  d: number,
  scratch?: Float64Array,
): number | null {
  if (out < 2) return null;
  return orthogonalityOfGram(gram(g, out, d, scratch), out);
}

/** {@link orthogonality} from the `out × out` Gram matrix `c` of the raw rows (read only). */
function orthogonalityOfGram(c: Float64Array, out: number): number {
  const inv = new Float64Array(out);
  for (let i = 0; i < out; i++) {
    const sq = c[i * out + i];
    inv[i] = sq > 0 ? 1 / Math.sqrt(sq) : 1;
  }
  let diag = 0;
  let off = 0;
  for (let i = 0; i < out; i++) {
    const o = i * out;
    const si = inv[i];
    diag += Math.abs(c[o + i] * si * si - 1);
    let row = 0;
    for (let j = i + 1; j < out; j++) row += Math.abs(c[o + j] * inv[j]);
    off += row * si;
  }
  return 1 - (diag + 2 * off) / (out * (out - 1));
}

/**
 * Orthogonality costs out²/2·(d + 4) multiply-adds (or the equivalent per pair) whatever the memory: layers
 * above this (2^36 ≈ 6.9e10, ~10–30 s
 * with the SIMD kernel) are refused with a typed `too-large` error ({@link MetricLimitError}). The largest
 * convs of real CNNs are far below it (ResNet-50's biggest: 512 × 4608, 6e8; a 2048 → 2048 3×3 conv: 3.9e10).
 */
export const MAX_ORTHOGONALITY_MACS = 2 ** 37;
/** What each pair of filters costs beyond its d multiply-adds, in multiply-adds (so d = 1 layers are bounded too). */
const PAIR_COST = 32;
/** Up to this many output filters (and {@link WIDEN_SCRATCH_MAX} weights) the whole out×out Gram is built (2 MiB). */
export const FULL_GRAM_MAX_ROWS = 512;
/** Row block of the blocked orthogonality: pairs of 256-row blocks, a 256×256 cross product at a time. */
const ORTH_BLOCK_ROWS = 256;
/** Columns widened at a time per row block (256 × 1024 float64 = 2 MiB per block). */
const ORTH_BLOCK_COLS = 1024;

/** A layer a metric refuses to measure (over a documented work limit); callers name the file and layer. */
export class MetricLimitError extends FilterDbError {
  readonly detail: string;
  constructor(detail: string) {
    super('too-large', 'conv layer', detail);
    this.detail = detail;
  }
}

/** Throws {@link MetricLimitError} when the orthogonality of `out` filters of `d` values is over the limit. */
export function checkOrthogonalityWork(out: number, d: number): void {
  const work = ((out * out) / 2) * (d + PAIR_COST);
  if (work > MAX_ORTHOGONALITY_MACS)
    throw new MetricLimitError(
      `${out} output filters of ${d} values: orthogonality needs ${work.toExponential(2)} multiply-adds (limit ${MAX_ORTHOGONALITY_MACS.toExponential(2)})`,
    );
}

/**
 * Largest matrix order whose spectrum the variance entropy computes (O(order³) work, order² memory): the
 * order is k, or n for wide kernels with fewer filters than values (see centredMoments). Real kernels have
 * k ≤ 121 (11×11) or 1×k rows up to ~512; a 2048 spectrum takes seconds.
 */
export const MAX_SPECTRUM_ORDER = 2048;

/** Throws {@link MetricLimitError} when the variance entropy of n filters of k values is over the limit. */
export function checkSpectrumWork(n: number, k: number): void {
  const order = k <= JACOBI_MAX_VALUES || n >= k ? k : n;
  if (n >= 2 && order > MAX_SPECTRUM_ORDER)
    throw new MetricLimitError(
      `${n} filters of ${k} values: variance entropy needs the spectrum of a ${order}×${order} matrix (limit ${MAX_SPECTRUM_ORDER})`,
    );
}

/** Rows [r0, r0 + rows) and columns [c0, c0 + cols) of the `? × d` weights `w`, widened into `into`. */
function widenBlock(
  w: WeightArray,
  d: number,
  r0: number,
  rows: number,
  c0: number,
  cols: number,
  into: Float64Array,
): Float64Array {
  for (let r = 0; r < rows; r++) {
    const src = (r0 + r) * d + c0;
    const dst = r * cols;
    for (let j = 0; j < cols; j++) into[dst + j] = w[src + j];
  }
  return into;
}

/**
 * {@link orthogonality} without the out×out matrix: the same sum of |Ĝ Ĝᵀ − I| accumulated over pairs of row
 * blocks (i-block ≤ j-block), each block's cross products summed over column chunks. Memory is a few MiB
 * whatever the layer's size; the weights are read (and widened) a block at a time.
 */
export function blockedOrthogonality(w: WeightArray, out: number, d: number): number | null {
  if (out < 2) return null;
  const inv = new Float64Array(out);
  let diag = 0;
  for (let i = 0; i < out; i++) {
    let sq = 0;
    for (let j = 0, o = i * d; j < d; j++) sq += w[o + j] * w[o + j];
    inv[i] = sq > 0 ? 1 / Math.sqrt(sq) : 1;
    diag += Math.abs(sq * inv[i] * inv[i] - 1);
  }
  const off = d < SHORT_ROWS ? shortRowsOffDiagonal(w, out, d, inv) : blockedOffDiagonal(w, out, d, inv);
  return 1 - (diag + 2 * off) / (out * (out - 1));
}

/** Rows shorter than this are paired directly (blocks and kernel calls would cost more than the dots). */
const SHORT_ROWS = 16;

/** Σ_{i<j} |g_i·g_j|·inv_i·inv_j for short rows, straight from the weights. */
function shortRowsOffDiagonal(w: WeightArray, out: number, d: number, inv: Float64Array): number {
  let off = 0;
  for (let i = 0; i < out; i++) {
    const o = i * d;
    let row = 0;
    if (d === 1) {
      const x = w[o];
      for (let j = i + 1; j < out; j++) row += Math.abs(x * w[j] * inv[j]);
    } else {
      for (let j = i + 1; j < out; j++) {
        let s = 0;
        for (let c = 0, p = j * d; c < d; c++) s += w[o + c] * w[p + c];
        row += Math.abs(s * inv[j]);
      }
    }
    off += row * inv[i];
  }
  return off;
}

/** Σ_{i<j} |g_i·g_j|·inv_i·inv_j over pairs of row blocks, each block's cross products summed over column chunks. */
function blockedOffDiagonal(w: WeightArray, out: number, d: number, inv: Float64Array): number {
  const B = ORTH_BLOCK_ROWS;
  const chunk = Math.min(d, ORTH_BLOCK_COLS);
  const x = new Float64Array(B * chunk);
  const y = new Float64Array(B * chunk);
  const part = new Float64Array(B * B);
  const acc = new Float64Array(B * B);
  let off = 0;
  for (let i0 = 0; i0 < out; i0 += B) {
    const ni = Math.min(B, out - i0);
    for (let j0 = i0; j0 < out; j0 += B) {
      const nj = Math.min(B, out - j0);
      for (let c0 = 0; c0 < d; c0 += chunk) {
        const nc = Math.min(chunk, d - c0);
        widenBlock(w, d, i0, ni, c0, nc, x);
        widenBlock(w, d, j0, nj, c0, nc, y);
        if (c0 === 0) crossGram(x, ni, y, nj, nc, acc);
        else {
          crossGram(x, ni, y, nj, nc, part);
          for (let q = 0; q < ni * nj; q++) acc[q] += part[q];
        }
      }
      for (let i = 0; i < ni; i++) {
        let row = 0;
        // within a diagonal block only j > i (the upper triangle)
        for (let j = j0 === i0 ? i + 1 : 0; j < nj; j++) row += Math.abs(acc[i * nj + j] * inv[j0 + j]);
        off += row * inv[i0 + i];
      }
    }
  }
  return off;
}

/** Layers up to this many weights are widened into one reused buffer (32 MiB) instead of a fresh array. */
const WIDEN_SCRATCH_MAX = 1 << 22;
let widenScratch: Float64Array | null = null;

/** `w` as float64: itself, or a copy (in a buffer reused from layer to layer when it is not huge). */
function widened(w: WeightArray): Float64Array {
  if (w instanceof Float64Array) return w;
  if (w.length > WIDEN_SCRATCH_MAX) return new Float64Array(w);
  if (!widenScratch || widenScratch.length < w.length)
    widenScratch = new Float64Array(
      Math.max(w.length, Math.min(WIDEN_SCRATCH_MAX, 2 * (widenScratch?.length ?? 0))),
    );
  const g = widenScratch.subarray(0, w.length);
  g.set(w);
  return g;
}

function checkShape(weight: WeightArray, shape: readonly number[]): void {
  if (shape.length !== 4) {
    throw new RangeError(
      `measureLayer: need a rank-4 weight [out, inPerGroup, kh, kw], got shape [${shape.join(', ')}]`,
    );
  }
  let size = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0)
      throw new RangeError(`measureLayer: bad shape [${shape.join(', ')}]`);
    size *= dim;
  }
  if (weight.length !== size) {
    throw new RangeError(
      `measureLayer: shape [${shape.join(', ')}] needs ${size} values, got ${weight.length}`,
    );
  }
}

/**
 * Finite weights this large (or this small) would overflow (underflow) when squared in the Gram, scatter and
 * L2 sums: 2^300 squared times any realistic row length stays far inside float64, and so does 2^-300.
 */
const SQUARING_MAX = 2 ** 300;
const SQUARING_MIN = 2 ** -300;

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function outsideSquaringRange(maxAbs: number): boolean {
  return maxAbs > SQUARING_MAX || (maxAbs > 0 && maxAbs < SQUARING_MIN);
}

/** `x·2^e` in two steps, so neither factor over- or underflows for any e in float64's exponent range. */
function timesPowerOfTwo(x: number, e: number): number {
  const half = Math.trunc(e / 2);
  return x * 2 ** half * 2 ** (e - half);
}

/**
 * Measures a finite layer outside {@link outsideSquaringRange} on a copy scaled by a power of two (exact, so
 * every scale-free metric — sparsity, both entropies, orthogonality, the standardised norms — is what the
 * unscaled weights define), then scales L1 and L2 back. A norm beyond float64's range is null, and the caller
 * flags the layer `overflow` (see flags.ts).
 */
function measureScaled(
  weight: WeightArray,
  shape: readonly number[],
  options: QualityOptions,
  maxAbs: number,
): { metrics: LayerMetrics; nonFinite: number } {
  const e = Math.floor(Math.log2(maxAbs));
  const scaled = new Float64Array(weight.length);
  for (let i = 0; i < weight.length; i++) scaled[i] = timesPowerOfTwo(weight[i], -e);
  const { metrics } = measureLayer(scaled, shape, options);
  const back = (x: number | null): number | null => {
    if (x === null) return null;
    return finiteOrNull(timesPowerOfTwo(x, e));
  };
  return {
    metrics: { ...metrics, normL1: back(metrics.normL1), normL2: back(metrics.normL2) },
    nonFinite: 0,
  };
}

/**
 * Measures one conv layer. `weight` is row-major `[out, inPerGroup, kh, kw]` (any kh×kw; transposed convs in
 * their stored `[in, outPerGroup, kh, kw]` layout, as torchconvquality does). Returns the metrics and the number
 * of non-finite weights (see the file comment for how those are treated).
 */
export function measureLayer(
  weight: WeightArray,
  shape: readonly number[],
  options: QualityOptions = {},
): { metrics: LayerMetrics; nonFinite: number } {
  checkShape(weight, shape);
  const eps = options.sparsityEps ?? DEFAULT_SPARSITY_EPS;
  if (!(eps >= 0 && Number.isFinite(eps)))
    throw new RangeError(`measureLayer: sparsityEps must be ≥ 0, got ${eps}`);
  const [out, inpg, kh, kw] = shape;
  checkOrthogonalityWork(out, inpg * kh * kw);
  checkSpectrumWork(out * inpg, kh * kw);
  const n = out * inpg;
  const k = kh * kw;
  const first = firstPass(weight, n, k);
  if (first.nonFinite === 0 && outsideSquaringRange(first.maxAbs))
    return measureScaled(weight, shape, options, first.maxAbs);
  const finite = first.nonFinite === 0;
  const total = n * k;

  let normL1Norm: number | null = null;
  let normL2Norm: number | null = null;
  if (finite && total >= 2) {
    const { cAbs, cSq } = centredNorms(weight, total, first.sum / total);
    const std = Math.sqrt(cSq / (total - 1));
    if (std > 0) {
      normL1Norm = cAbs / std;
      normL2Norm = Math.sqrt(cSq) / std;
    }
  }

  // Wide single-channel kernels (1-D convs' 1×k rows): one Gram matrix of the rows serves orthogonality and
  // both entropies (see sharedRowGram), instead of three passes of n²/2·k multiply-adds.
  const shared = finite ? sharedRowGram(weight, out, inpg, k) : null;
  const { keep, sparseCount } = sparsity(first.rowMax, first.maxAbs, eps);
  const kept = n - sparseCount;

  // Variance entropy: the column sums come from the first pass; one centred pass per set of rows.
  let full: VarianceEntropy | null = null;
  let clean: VarianceEntropy | null = null;
  const centredFromShared = (select: Uint8Array | null, count: number): VarianceEntropy | null => {
    const moments = shared && doubleCentred(shared, n, select, count);
    return moments ? entropyOfScatter(moments, count) : null;
  };
  if (finite && n >= 2 && k > 0) {
    if (k === 1) full = singleVarianceEntropy(n);
    else {
      full = centredFromShared(null, n);
      if (!full) {
        const mean = meansFromSums(weight, n, k, first.columnSums, n, null);
        full = entropyOfScatter(centredMoments(weight, n, k, mean, null, n), n);
      }
    }
  }
  if (sparseCount === 0) {
    clean = full; // no sparse filter: the clean set is the full set
  } else if (finite && kept >= 2 && k > 0) {
    if (k === 1) clean = singleVarianceEntropy(kept);
    else {
      clean = centredFromShared(keep, kept);
      if (!clean) {
        const sums = selectedColumnSums(weight, n, k, keep);
        const mean = meansFromSums(weight, n, k, sums, kept, keep);
        clean = entropyOfScatter(centredMoments(weight, n, k, mean, keep, kept), kept);
      }
    }
  }

  // Orthogonality needs the float64 Gram kernel: widen float32 weights only here (into a reused buffer).
  let orth: number | null = null;
  if (finite && out >= 2) {
    const d = inpg * k;
    orth = shared
      ? orthogonalityOfGram(shared, out)
      : out <= FULL_GRAM_MAX_ROWS && out * d <= WIDEN_SCRATCH_MAX
        ? orthogonality(widened(weight), out, d)
        : blockedOrthogonality(weight, out, d);
  }

  return {
    metrics: {
      n,
      sparsity: n === 0 ? 0 : sparseCount / n,
      varianceEntropy: full?.entropy ?? null,
      varianceEntropyNorm: full?.norm ?? null,
      varianceEntropyClean: clean?.entropy ?? null,
      varianceEntropyCleanNorm: clean?.norm ?? null,
      orthogonality: orth,
      normL1: finiteOrNull(first.sumAbs),
      normL2: finiteOrNull(Math.sqrt(first.sumSq)),
      normL1Norm,
      normL2Norm,
    },
    nonFinite: first.nonFinite,
  };
}
