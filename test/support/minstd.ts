/**
 * The minimal standard generator (Park & Miller) the numpy scripts in test/data/mutation/ use to build their
 * inputs: x ← 48271·x mod (2³¹ − 1), w = x/(2³¹ − 1) − 0.5. Every product is an integer below 2⁴⁷, exact in
 * float64, so the test and numpy see bit-identical values without storing them.
 */
const M = 2147483647;

export function minstdWeights(count: number, seed: number): Float64Array {
  const out = new Float64Array(count);
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (x * 48271) % M;
    out[i] = x / M - 0.5;
  }
  return out;
}

/** Rows r ≡ 3 (mod every) of `k` values scaled by 1e-4, in place: the scripts' dead filters (none for every = 0). */
export function killRows(w: Float64Array, k: number, every: number): Float64Array {
  if (every) for (let r = 3; r * k < w.length; r += every) for (let j = 0; j < k; j++) w[r * k + j] *= 1e-4;
  return w;
}

/**
 * make_quality_paths.py's `layer`: the weights of a layer of `shape` ([out, in, kh, kw]) from the generator, its
 * kh·kw rows r ≡ 3 (mod deadEvery) made dead.
 */
export function minstdLayer(shape: readonly number[], seed: number, deadEvery = 0): Float64Array {
  const k = shape[2] * shape[3];
  return killRows(minstdWeights(shape[0] * shape[1] * k, seed), k, deadEvery);
}
