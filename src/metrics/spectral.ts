/**
 * WeightWatcher-compatible spectral metrics of one conv layer (heavy-tailed self-regularisation, Martin &
 * Mahoney). Follows CalculatedContent/WeightWatcher at commit a596ca09 (weightwatcher.py, constants.py;
 * RMT_Util.py 4754964, WW_powerlaw.py 15b20ba) with its `analyze()` defaults (pool=True, conv2d_norm=True,
 * pl_package='ww', no xmax, no fix_fingers):
 *
 * - the weight `[out, inPerGroup, kh, kw]` is split into its kh·kw matrices `W[:, :, i, j]` (out × in,
 *   transposed so that N ≥ M); conv2d_norm multiplies every W by √(1/2) (conv2d_count is 1 when pooling),
 *   so every eigenvalue of WᵀW is halved;
 * - the eigenvalues of all kh·kw matrices are pooled into one spectrum of M·kh·kw values;
 * - layers with fewer than 10 (min_evals) or more than 15000 (max_evals) pooled eigenvalues, or N > 50000
 *   (max_N), are not analysed (WeightWatcher skips them): their metrics are null with the reason;
 * - the power law is WeightWatcher's own fit (WWFit): over the eigenvalues > 1e-5 (EVALS_THRESH), sorted, each
 *   value but the last is tried as xmin, alpha = 1 + n / Σ ln(x/xmin) over the n values ≥ xmin, D = the KS
 *   distance max |1 − (x/xmin)^(1−α) − i/n|; the xmin with the smallest D wins (first on ties);
 * - norm metrics (apply_norm_metrics): log_norm = log10 Σλ, log_spectral_norm = log10 λmax, alpha_weighted =
 *   α·log10 λmax, stable_rank = Σλ / λmax, matrix entropy = −Σ p ln p / ln rank with p = λ/Σλ, num_pl_spikes =
 *   #{λ ≥ xmin}, rank_loss = Σ over the matrices of (M − numerical rank).
 *
 * Numerics: WeightWatcher takes singular values by SVD; here the eigenvalues of the M×M Gram matrix WᵀW are
 * computed (float64 Gram kernel, then Householder + QL). They agree to ~1e-15·λmax. The one place where that
 * matters is the numerical rank: WeightWatcher counts singular values above σmax·N·eps, a level the Gram
 * matrix cannot resolve (its rounding noise is ~eps·λmax); here an eigenvalue counts as lost rank when
 * λ ≤ λmax·N·eps, i.e. σ ≤ σmax·√(N·eps) — the same answer for matrices that are exactly rank-deficient
 * (dead channels) and for full-rank ones, different only for singular values in between.
 */
import type { WeightArray } from '../model/types.js';
import { gram } from './linalg.js';
import { symmetricEigenvalues } from './sym-eigenvalues.js';

/** WeightWatcher's defaults (constants.py at a596ca09). */
export const WW_MIN_EVALS = 10;
export const WW_MAX_EVALS = 15000;
export const WW_MAX_N = 50000;
export const WW_EVALS_THRESH = 1e-5;
/** conv2d_norm: W·√(conv2d_count/2) with conv2d_count = 1 when pooling → eigenvalues × 1/2. */
export const WW_CONV2D_EVAL_SCALE = 0.5;
/** The documented alpha range of well-trained layers (WeightWatcher README: "2 < alpha < 6"). */
export const OVER_TRAINED_ALPHA = 2;
export const UNDER_TRAINED_ALPHA = 6;

export interface SpectralMetrics {
  alpha: number | null;
  D: number | null;
  xmin: number | null;
  alphaWeighted: number | null;
  logNorm: number | null;
  logSpectralNorm: number | null;
  stableRank: number | null;
  matrixEntropy: number | null;
  numPlSpikes: number | null;
  rankLoss: number | null;
}

export const SPECTRAL_KEYS = [
  'alpha',
  'D',
  'xmin',
  'alphaWeighted',
  'logNorm',
  'logSpectralNorm',
  'stableRank',
  'matrixEntropy',
  'numPlSpikes',
  'rankLoss',
] as const satisfies readonly (keyof SpectralMetrics)[];

export interface SpectralResult {
  metrics: SpectralMetrics;
  /** Why some or all metrics are null (layer skipped as WeightWatcher would, or the fit failed); else null. */
  reason: string | null;
  /** Number of pooled eigenvalues (M·kh·kw), N and M of the matrices. */
  numEvals: number;
  N: number;
  M: number;
}

export type TrainingFlagId = 'over-trained' | 'under-trained';

export interface TrainingFlag {
  id: TrainingFlagId;
  reason: string;
}

export const EMPTY_SPECTRAL: SpectralMetrics = {
  alpha: null,
  D: null,
  xmin: null,
  alphaWeighted: null,
  logNorm: null,
  logSpectralNorm: null,
  stableRank: null,
  matrixEntropy: null,
  numPlSpikes: null,
  rankLoss: null,
};

/** WeightWatcher's warnings, kept apart from the CNN Filter DB degeneration flags. */
export function trainingFlags(metrics: SpectralMetrics): TrainingFlag[] {
  const a = metrics.alpha;
  if (a === null) return [];
  if (a < OVER_TRAINED_ALPHA)
    return [
      {
        id: 'over-trained',
        reason: `alpha ${a.toFixed(2)} < ${OVER_TRAINED_ALPHA}: over-trained (WeightWatcher: the layer's spectrum is very heavy-tailed, it may be over-fit)`,
      },
    ];
  if (a > UNDER_TRAINED_ALPHA)
    return [
      {
        id: 'under-trained',
        reason: `alpha ${a.toFixed(2)} > ${UNDER_TRAINED_ALPHA}: under-trained (WeightWatcher: the spectrum is close to random, the layer has learned little correlation)`,
      },
    ];
  return [];
}

/** Why WeightWatcher would not analyse a layer of this planar shape, or null when it would. */
export function spectralSkipReason(shape: readonly number[]): string | null {
  const [out, inpg, kh, kw] = shape;
  const rf = kh * kw;
  const N = Math.max(out, inpg);
  const M = Math.min(out, inpg);
  const evals = M * rf;
  if (evals < WW_MIN_EVALS)
    return `only ${evals} eigenvalue${evals === 1 ? '' : 's'} (M·kh·kw = ${M}·${rf}): WeightWatcher skips layers with fewer than ${WW_MIN_EVALS} (min_evals)`;
  if (evals > WW_MAX_EVALS)
    return `${evals} eigenvalues (M·kh·kw = ${M}·${rf}): WeightWatcher skips layers with more than ${WW_MAX_EVALS} (max_evals)`;
  if (N > WW_MAX_N) return `N = ${N}: WeightWatcher skips layers with N > ${WW_MAX_N} (max_N)`;
  return null;
}

/**
 * The pooled, scaled spectrum of a layer (ascending) and its rank loss; null when WeightWatcher would skip
 * the layer. `shape` is the planar `[out, inPerGroup, kh, kw]`; the weights must be finite.
 */
export function pooledSpectrum(
  weight: WeightArray,
  shape: readonly number[],
): { evals: Float64Array; rankLoss: number; N: number; M: number } {
  const [out, inpg, kh, kw] = shape;
  const rf = kh * kw;
  const N = Math.max(out, inpg);
  const M = Math.min(out, inpg);
  const evals = new Float64Array(M * rf);
  const a = new Float64Array(M * N);
  const g = new Float64Array(M * M);
  const tallOut = out >= inpg; // W = W[:, :, i, j] is out × in; its rows are the N side when out ≥ in
  let rankLoss = 0;
  for (let s = 0; s < rf; s++) {
    // a: M × N, each row one column of W (so a·aᵀ = WᵀW, M × M)
    if (tallOut) {
      for (let o = 0; o < out; o++)
        for (let c = 0; c < inpg; c++) a[c * N + o] = weight[(o * inpg + c) * rf + s];
    } else {
      for (let o = 0; o < out; o++) {
        const base = o * N;
        for (let c = 0; c < inpg; c++) a[base + c] = weight[(o * inpg + c) * rf + s];
      }
    }
    gram(a, M, N, g);
    for (let i = 0; i < g.length; i++) g[i] *= WW_CONV2D_EVAL_SCALE;
    const lambda = symmetricEigenvalues(g, M); // ascending
    const tol = Math.max(lambda[M - 1], 0) * N * Number.EPSILON;
    for (let i = 0; i < M; i++) {
      if (lambda[i] < 0) lambda[i] = 0; // rounding of a (nearly) singular Gram matrix
      if (!(lambda[i] > tol)) rankLoss++;
    }
    evals.set(lambda, s * M);
  }
  evals.sort();
  return { evals, rankLoss, N, M };
}

export interface PowerLawFit {
  alpha: number;
  D: number;
  xmin: number;
  sigma: number;
}

/**
 * WeightWatcher's WWFit on sorted data (ascending, all > 0): every value but the last as xmin candidate,
 * alpha by maximum likelihood, D the KS distance; the smallest D wins (the first one on ties). Null when fewer
 * than 2 values (or NaN data).
 *
 * The search is O(n²) as written (4608 eigenvalues: 10 M terms). It is pruned without changing the answer: a
 * candidate is dropped as soon as one of its KS terms exceeds the best D found so far (its D can only be
 * larger) — checking a sparse sample of its terms first, which usually finds such a term at once — and a
 * sparse set of candidates is evaluated first so that the best D is small early. (x/xmin)^(1−α) is computed
 * as exp((1−α)·(ln x − ln xmin)) from the logs the alpha formula needs anyway. A candidate whose values are all
 * equal to it (Σ ln(x/xmin) = 0) has alpha = ∞; numpy's (x/xmin)**−inf is then 1 at x = xmin and 0 above, where
 * exp(−∞·0) would be NaN (and a NaN term would be skipped, giving D = 0): the exponent is clamped to −MAX_VALUE,
 * which gives numpy's values ([1, 2, 2]: D = 1/2 for xmin = 2, as WeightWatcher has it).
 */
export function fitPowerLaw(data: Float64Array): PowerLawFit | null {
  const n = data.length;
  if (n < 2) return null;
  const logs = data.map((x) => Math.log(x));
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + logs[i];
  const candidates = n - 1;
  const alphas = new Float64Array(candidates);
  for (let i = 0; i < candidates; i++) {
    const m = n - i;
    alphas[i] = 1 + m / (suffix[i] - m * logs[i]);
  }
  let best = 0; // candidate 0 is considered first: every D is at most 1
  let bestD = Number.POSITIVE_INFINITY;
  const done = new Uint8Array(candidates);
  const SAMPLE = 16;
  /** D of candidate i, or some value > bestD as soon as the candidate cannot win. */
  const ks = (i: number): number => {
    const alpha = alphas[i];
    if (!(alpha > 1)) return 1;
    const m = n - i;
    const e = Math.max(1 - alpha, -Number.MAX_VALUE);
    const li = logs[i];
    for (let k = SAMPLE - 1; k < m; k += SAMPLE) {
      const diff = Math.abs(1 - Math.exp(e * (logs[i + k] - li)) - k / m);
      if (diff > bestD) return diff;
    }
    let D = 0;
    for (let k = 0; k < m; k++) {
      const diff = Math.abs(1 - Math.exp(e * (logs[i + k] - li)) - k / m);
      if (diff > D) {
        D = diff;
        if (D > bestD) return D;
      }
    }
    return D;
  };
  const consider = (i: number): void => {
    done[i] = 1;
    const D = ks(i);
    if (D < bestD || (D === bestD && i < best)) {
      bestD = D;
      best = i;
    }
  };
  const stride = Math.max(1, Math.floor(candidates / 32));
  for (let i = 0; i < candidates; i += stride) consider(i);
  for (let i = 0; i < candidates; i++) if (!done[i]) consider(i);
  const alpha = alphas[best];
  if (Number.isNaN(alpha)) return null;
  return { alpha, D: bestD, xmin: data[best], sigma: (alpha - 1) / Math.sqrt(n - best) };
}

/**
 * Spectral metrics of one layer (planar shape `[out, inPerGroup, kh, kw]`). `nonFinite` > 0 (counted by
 * measureLayer) gives nulls with a reason instead of an eigen-solver error.
 */
export function spectralMetrics(
  weight: WeightArray,
  shape: readonly number[],
  nonFinite = 0,
): SpectralResult {
  const [out, inpg, kh, kw] = shape;
  const N = Math.max(out, inpg);
  const M = Math.min(out, inpg);
  const numEvals = M * kh * kw;
  const skip = spectralSkipReason(shape);
  if (skip) return { metrics: { ...EMPTY_SPECTRAL }, reason: skip, numEvals, N, M };
  if (nonFinite > 0)
    return {
      metrics: { ...EMPTY_SPECTRAL },
      reason: 'weights hold NaN or infinite values: no spectrum',
      numEvals,
      N,
      M,
    };
  const { evals, rankLoss } = pooledSpectrum(weight, shape);
  const count = evals.length;
  const lambdaMax = evals[count - 1];
  let sum = 0;
  for (let i = 0; i < count; i++) sum += evals[i];
  const metrics: SpectralMetrics = { ...EMPTY_SPECTRAL, rankLoss };
  if (!(lambdaMax > 0)) {
    return {
      metrics,
      reason: 'all eigenvalues are zero (an all-zero layer): no spectrum to fit',
      numEvals,
      N,
      M,
    };
  }
  metrics.logNorm = Math.log10(sum);
  metrics.logSpectralNorm = Math.log10(lambdaMax);
  metrics.stableRank = sum / lambdaMax;
  metrics.matrixEntropy = matrixEntropy(evals, sum, lambdaMax, N);

  let first = 0;
  while (first < count && !(evals[first] > WW_EVALS_THRESH)) first++;
  const fit = fitPowerLaw(evals.subarray(first));
  let reason: string | null = null;
  if (fit) {
    metrics.alpha = fit.alpha;
    metrics.D = fit.D;
    metrics.xmin = fit.xmin;
    metrics.alphaWeighted = fit.alpha * Math.log10(lambdaMax);
    let spikes = 0;
    for (const v of evals) if (v >= fit.xmin) spikes++;
    metrics.numPlSpikes = spikes;
  } else {
    reason = `power-law fit failed: ${count - first} eigenvalue${count - first === 1 ? '' : 's'} above ${WW_EVALS_THRESH} (need 2)`;
  }
  return { metrics, reason, numEvals, N, M };
}

/**
 * RMT_Util.matrix_entropy on the pooled spectrum: p = λ/Σλ, −Σ p ln p / ln(rank), rank the numerical rank
 * (see the file comment), 1.000001 when it is 1. Zero eigenvalues contribute 0 (numpy would give NaN for
 * 0·ln 0 — here the limit).
 */
function matrixEntropy(evals: Float64Array, sum: number, lambdaMax: number, N: number): number {
  const tol = lambdaMax * N * Number.EPSILON;
  let rank = 0;
  let h = 0;
  for (const v of evals) {
    if (v > tol) rank++;
    const p = v / sum;
    if (p > 0) h -= p * Math.log(p);
  }
  return h / Math.log(rank === 1 ? 1.000001 : rank);
}
