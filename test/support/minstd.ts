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
