import { minstdWeights } from './minstd.js';

/**
 * A symmetric `n × n` matrix whose lower triangle, row by row, is the minimal standard generator's output for
 * `seed`, mirrored: make_eigen.py's `symmetric`, bit for bit.
 */
export function symmetricFromGenerator(n: number, seed: number): Float64Array {
  const w = minstdWeights((n * (n + 1)) / 2, seed);
  const a = new Float64Array(n * n);
  let t = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = w[t++];
  return a;
}

/** The symmetric tridiagonal matrix with diagonal `diag` and sub- and super-diagonal `off` (dense, row-major). */
export function tridiagonal(diag: readonly number[], off: readonly number[]): Float64Array {
  const n = diag.length;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = diag[i];
  for (let i = 1; i < n; i++) a[i * n + i - 1] = a[(i - 1) * n + i] = off[i - 1];
  return a;
}
