/**
 * Streaming first and second moments of peak-scaled filters (the input of the paper's PCA).
 * Each batch is reduced with a two-pass mean/centred scatter and merged with Chan et al.'s pairwise update,
 * so one pass over a billion filters keeps float64 accuracy without holding them.
 */

export interface Moments {
  /** Number of filters. */
  n: number;
  /** Values per filter (9 for 3x3). */
  dims: number;
  mean: Float64Array;
  /** Σ (x - mean)(x - mean)ᵀ, row-major dims × dims. */
  scatter: Float64Array;
}

export function emptyMoments(dims: number): Moments {
  return { n: 0, dims, mean: new Float64Array(dims), scatter: new Float64Array(dims * dims) };
}

/**
 * Scales each filter (row of `dims` values) by its own max |value| into `out` (float64); an all-zero filter
 * stays zero. Returns `out`.
 */
export function peakScale(
  filters: ArrayLike<number>,
  count: number,
  dims: number,
  out: Float64Array,
): Float64Array {
  for (let r = 0; r < count; r++) {
    const o = r * dims;
    let peak = 0;
    for (let j = 0; j < dims; j++) {
      const a = Math.abs(filters[o + j]);
      if (a > peak) peak = a;
    }
    if (peak === 0) {
      for (let j = 0; j < dims; j++) out[o + j] = 0;
    } else {
      for (let j = 0; j < dims; j++) out[o + j] = filters[o + j] / peak;
    }
  }
  return out;
}

/** Moments of `count` already-scaled rows (two-pass within the batch). */
export function batchMoments(scaled: Float64Array, count: number, dims: number): Moments {
  const m = emptyMoments(dims);
  if (count === 0) return m;
  const mean = m.mean;
  for (let r = 0; r < count; r++) {
    const o = r * dims;
    for (let j = 0; j < dims; j++) mean[j] += scaled[o + j];
  }
  for (let j = 0; j < dims; j++) mean[j] /= count;
  const s = m.scatter;
  const c = new Float64Array(dims);
  for (let r = 0; r < count; r++) {
    const o = r * dims;
    for (let j = 0; j < dims; j++) c[j] = scaled[o + j] - mean[j];
    for (let i = 0; i < dims; i++) {
      const ci = c[i];
      const oi = i * dims;
      for (let j = i; j < dims; j++) s[oi + j] += ci * c[j];
    }
  }
  for (let i = 1; i < dims; i++) for (let j = 0; j < i; j++) s[i * dims + j] = s[j * dims + i];
  m.n = count;
  return m;
}

/** Merges `b` into `a` (Chan, Golub & LeVeque pairwise update). Returns `a`. */
export function mergeMoments(a: Moments, b: Moments): Moments {
  if (b.n === 0) return a;
  if (a.dims !== b.dims) throw new RangeError(`cannot merge moments of ${a.dims} and ${b.dims} values`);
  if (a.n === 0) {
    a.n = b.n;
    a.mean.set(b.mean);
    a.scatter.set(b.scatter);
    return a;
  }
  const dims = a.dims;
  const n = a.n + b.n;
  const delta = new Float64Array(dims);
  for (let j = 0; j < dims; j++) delta[j] = b.mean[j] - a.mean[j];
  const f = (a.n * b.n) / n;
  for (let i = 0; i < dims; i++) {
    for (let j = 0; j < dims; j++) {
      a.scatter[i * dims + j] += b.scatter[i * dims + j] + delta[i] * delta[j] * f;
    }
  }
  for (let j = 0; j < dims; j++) a.mean[j] += (delta[j] * b.n) / n;
  a.n = n;
  return a;
}
