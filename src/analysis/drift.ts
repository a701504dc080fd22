/**
 * The paper's distribution-shift measure: per coefficient, histograms floored at float32 eps and normalised,
 * symmetric KL divergence between groups, weighted by the explained-variance ratio of the coefficient.
 */

export const FLOAT32_EPS = 1.1920928955078125e-7;

/** Counts → probabilities: zero bins set to float32 eps, then normalised to sum 1 (per coefficient). */
export function floorAndNormalise(counts: Float64Array, dims: number, bins: number): Float64Array {
  const p = new Float64Array(counts.length);
  for (let c = 0; c < dims; c++) {
    const o = c * bins;
    let sum = 0;
    for (let b = 0; b < bins; b++) {
      const v = counts[o + b] === 0 ? FLOAT32_EPS : counts[o + b];
      p[o + b] = v;
      sum += v;
    }
    for (let b = 0; b < bins; b++) p[o + b] /= sum;
  }
  return p;
}

/** KL(p||q) = Σ p ln(p/q) over one coefficient's bins (both already floored, so finite). */
export function kl(p: Float64Array, q: Float64Array, offset: number, bins: number): number {
  let s = 0;
  for (let b = offset; b < offset + bins; b++) s += p[b] * Math.log(p[b] / q[b]);
  return s;
}

/** Symmetric, EVR-weighted KL matrix between groups (in the order given). */
export function driftMatrix(
  probabilities: Float64Array[],
  explainedVarianceRatio: readonly number[],
  bins: number,
): number[][] {
  const g = probabilities.length;
  const dims = explainedVarianceRatio.length;
  const m: number[][] = Array.from({ length: g }, () => new Array<number>(g).fill(0));
  for (let a = 0; a < g; a++) {
    for (let b = a + 1; b < g; b++) {
      let d = 0;
      for (let c = 0; c < dims; c++) {
        const o = c * bins;
        d +=
          explainedVarianceRatio[c] *
          (kl(probabilities[a], probabilities[b], o, bins) + kl(probabilities[b], probabilities[a], o, bins));
      }
      m[a][b] = d;
      m[b][a] = d;
    }
  }
  return m;
}

export interface DriftSummary {
  pairs: number;
  min: number | null;
  median: number | null;
  mean: number | null;
  max: number | null;
  q1: number | null;
  q3: number | null;
}

/** Summary of the upper triangle (the paper's drift boxplot numbers; quartiles by linear interpolation). */
export function driftSummary(matrix: number[][]): DriftSummary {
  const values: number[] = [];
  for (let a = 0; a < matrix.length; a++)
    for (let b = a + 1; b < matrix.length; b++) values.push(matrix[a][b]);
  if (values.length === 0)
    return { pairs: 0, min: null, median: null, mean: null, max: null, q1: null, q3: null };
  values.sort((x, y) => x - y);
  const q = (f: number) => {
    const pos = f * (values.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return values[lo] + (values[hi] - values[lo]) * (pos - lo);
  };
  return {
    pairs: values.length,
    min: values[0],
    q1: q(0.25),
    median: q(0.5),
    mean: values.reduce((s, v) => s + v, 0) / values.length,
    q3: q(0.75),
    max: values[values.length - 1],
  };
}
