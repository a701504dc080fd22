/** Small exact matrices for the linear-algebra tests: integer entries make every sum an exact float64. */
import assert from 'node:assert/strict';

/** Integer entries in [-4, 4] from a small LCG (the minimal standard generator), reproducible by seed. */
export function ints(n: number, seed: number): Float64Array {
  let x = seed;
  return Float64Array.from({ length: n }, () => {
    x = (x * 48271) % 2147483647;
    return (x % 9) - 4;
  });
}

/** X·Yᵀ of row-major `rx × cols` and `ry × cols` matrices by the definition (A·Aᵀ with y = x), as a list. */
export function naiveCross(
  x: ArrayLike<number>,
  rx: number,
  y: ArrayLike<number>,
  ry: number,
  cols: number,
): number[] {
  const c: number[] = [];
  for (let i = 0; i < rx; i++)
    for (let j = 0; j < ry; j++) {
      let s = 0;
      for (let d = 0; d < cols; d++) s += x[i * cols + d] * y[j * cols + d];
      c.push(s);
    }
  return c;
}

/**
 * Runs `cross` (X·Yᵀ into `out`) on integer matrices of each `[rx, ry, cols]` shape, into an `out` two longer
 * than rx·ry filled with `fill`, and checks the exact products and that nothing past rx·ry was written.
 */
export function checkCrossShapes(
  shapes: number[][],
  seed: number,
  fill: number,
  cross: (x: Float64Array, rx: number, y: Float64Array, ry: number, cols: number, out: Float64Array) => void,
): void {
  for (const [rx, ry, cols] of shapes) {
    const x = ints(rx * cols, rx * 13 + cols + seed);
    const y = ints(ry * cols, ry * 17 + cols + seed + 1);
    const out = new Float64Array(rx * ry + 2).fill(fill);
    cross(x, rx, y, ry, cols, out);
    const what = `${rx}×${ry}×${cols}`;
    assert.deepEqual(Array.from(out.subarray(0, rx * ry)), naiveCross(x, rx, y, ry, cols), what);
    assert.deepEqual(Array.from(out.subarray(rx * ry)), [fill, fill], `${what}: nothing written past rx·ry`);
  }
}
