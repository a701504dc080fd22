/** Small exact matrices for the linear-algebra tests: integer entries make every sum an exact float64. */

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
