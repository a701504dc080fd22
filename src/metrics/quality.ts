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
import type { WeightArray } from '../model/types.js';
import { centredScatter, columnMeans, gram, symmetricEigen } from './linalg.js';
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

/** Result of the weight scan (widening, max, norms, sparsity) — exposed for the benchmark and analysis. */
export interface WeightScan {
  /** The weights as float64 (the input itself when it already is a Float64Array). */
  w: Float64Array;
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
}

const BIG = Number.MAX_VALUE;

/**
 * Scans the weights: one pass for max |w|, sums, non-finite count and per-filter max |w| (from which the
 * sparse filters follow without touching the weights again), and a second, centred pass for the
 * standardised norms (two-pass mean/variance for accuracy).
 */
export function scanWeights(weight: WeightArray, n: number, k: number, eps: number): WeightScan {
  const w = weight instanceof Float64Array ? weight : new Float64Array(weight);
  const total = n * k;
  const rowMax = new Float64Array(n);
  let maxAbs = 0;
  // Sums per filter row, added into the totals: rounding error grows with the row count, not the weight count.
  let sum = 0;
  let sumAbs = 0;
  let sumSq = 0;
  for (let r = 0; r < n; r++) {
    const o = r * k;
    let rm = 0;
    let bSum = 0;
    let bAbs = 0;
    let bSq = 0;
    for (let j = 0; j < k; j++) {
      const v = w[o + j];
      const a = Math.abs(v);
      rm = Math.max(rm, a); // NaN propagates: caught below
      bSum += v;
      bAbs += a;
      bSq += v * v;
    }
    rowMax[r] = rm;
    maxAbs = Math.max(maxAbs, rm);
    sum += bSum;
    sumAbs += bAbs;
    sumSq += bSq;
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

  let threshold = eps * maxAbs;
  if (threshold === 0) threshold = 1;
  const keep = new Uint8Array(n);
  let sparseCount = 0;
  for (let r = 0; r < n; r++) {
    // All |values| < t  ⇔  max |value| < t.
    if (rowMax[r] < threshold) sparseCount++;
    else keep[r] = 1;
  }

  let normL1Norm: number | null = null;
  let normL2Norm: number | null = null;
  if (nonFinite === 0 && total >= 2) {
    const mean = sum / total;
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
    const std = Math.sqrt(cSq / (total - 1));
    if (std > 0) {
      normL1Norm = cAbs / std;
      normL2Norm = Math.sqrt(cSq) / std;
    }
  }
  return {
    w,
    nonFinite,
    maxAbs,
    threshold,
    keep,
    sparseCount,
    normL1: sumAbs,
    normL2: Math.sqrt(sumSq),
    normL1Norm,
    normL2Norm,
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
 */
export function varianceEntropy(
  f: Float64Array,
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
  const scatter = centredScatter(f, n, k, mean, select);
  for (let i = 0; i < scatter.length; i++) scatter[i] /= count - 1;
  const { values } = symmetricEigen(scatter, k);
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
  const c = gram(g, out, d, scratch);
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
  const n = out * inpg;
  const k = kh * kw;
  const scan = scanWeights(weight, n, k, eps);
  const finite = scan.nonFinite === 0;

  const full = finite ? varianceEntropy(scan.w, n, k) : null;
  // With no sparse filter the clean set is the full set: reuse the result.
  const clean = !finite ? null : scan.sparseCount === 0 ? full : varianceEntropy(scan.w, n, k, scan.keep);
  const orth = finite ? orthogonality(scan.w, out, inpg * k) : null;

  return {
    metrics: {
      n,
      sparsity: n === 0 ? 0 : scan.sparseCount / n,
      varianceEntropy: full?.entropy ?? null,
      varianceEntropyNorm: full?.norm ?? null,
      varianceEntropyClean: clean?.entropy ?? null,
      varianceEntropyCleanNorm: clean?.norm ?? null,
      orthogonality: orth,
      normL1: scan.normL1,
      normL2: scan.normL2,
      normL1Norm: scan.normL1Norm,
      normL2Norm: scan.normL2Norm,
    },
    nonFinite: scan.nonFinite,
  };
}
