/**
 * The paper's PCA basis of peak-scaled filters: components are the eigenvectors of the covariance in
 * descending eigenvalue order, each signed so that its largest-magnitude entry is positive (first on ties).
 */
import { symmetricEigen } from '../metrics/linalg.js';
import type { Moments } from './moments.js';

export interface PcaBasis {
  dims: number;
  /** Filters the basis was fitted on. */
  count: number;
  mean: number[];
  /** Row-major dims × dims: row i is component i. */
  components: number[][];
  /** Eigenvalues of the sample covariance (divided by n - 1), descending. */
  explainedVariance: number[];
  explainedVarianceRatio: number[];
}

export function pcaFromMoments(m: Moments): PcaBasis {
  const { dims, n } = m;
  if (n < 2) throw new RangeError(`PCA needs at least 2 filters, got ${n}`);
  const cov = new Float64Array(dims * dims);
  for (let i = 0; i < cov.length; i++) cov[i] = m.scatter[i] / (n - 1);
  const eig = symmetricEigen(cov, dims);
  const values = Array.from(eig.values, (v) => Math.max(v, 0));
  const total = values.reduce((s, v) => s + v, 0);
  const components: number[][] = [];
  for (let i = 0; i < dims; i++)
    components.push(signByLargest(Array.from(eig.vectors.subarray(i * dims, i * dims + dims))));
  return {
    dims,
    count: n,
    mean: Array.from(m.mean),
    components,
    explainedVariance: values,
    explainedVarianceRatio: values.map((v) => (total > 0 ? v / total : 0)),
  };
}

/** Flips a vector so that its entry with the largest |value| (the first such on a tie) is positive. */
export function signByLargest(v: number[]): number[] {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[best])) best = i;
  return v[best] < 0 ? v.map((x) => -x) : v;
}

/**
 * Projects `count` scaled filters onto the basis: out[r*dims + i] = (x_r - mean) · component_i.
 * Flattened components are passed for speed (see flatComponents).
 */
export function projectBatch(
  scaled: Float64Array,
  count: number,
  dims: number,
  mean: Float64Array,
  flatComponents: Float64Array,
  out: Float64Array,
): Float64Array {
  const centred = new Float64Array(dims);
  for (let r = 0; r < count; r++) {
    const o = r * dims;
    for (let j = 0; j < dims; j++) centred[j] = scaled[o + j] - mean[j];
    for (let i = 0; i < dims; i++) {
      const ci = i * dims;
      let s = 0;
      for (let j = 0; j < dims; j++) s += centred[j] * flatComponents[ci + j];
      out[o + i] = s;
    }
  }
  return out;
}

export function flatComponents(basis: PcaBasis): Float64Array {
  return Float64Array.from(basis.components.flat());
}
