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
