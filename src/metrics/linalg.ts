/**
 * Small dense linear algebra for the metrics and analysis modules (isomorphic: no `node:` imports).
 *
 * Everything is float64, row-major, in plain typed arrays:
 * - {@link symmetricEigen}: cyclic Jacobi eigen-solver for small symmetric matrices (k×k, k up to ~100),
 *   eigenvalues sorted descending, unit eigenvectors, converged to machine precision.
 * - {@link gram}: `A·Aᵀ` for a tall or wide row-major matrix, cache-blocked over columns, a 4×2 register
 *   micro-kernel, computing only the upper triangle and mirroring it; WebAssembly SIMD when available.
 * - {@link columnMeans} / {@link centredScatter}: two-pass column means and `CᵀC` of the centred rows (the
 *   covariance numerator used by variance entropy and PCA).
 */

import { symmetricEigenvaluesOrNull } from './sym-eigenvalues.js';
import { crossGramWasm, gramWasm } from './wasm/gram.js';

export interface SymmetricEigen {
  /** Eigenvalues, sorted descending. */
  values: Float64Array;
  /**
   * Unit eigenvectors, row-major k×k: row `i` (`vectors.subarray(i*k, i*k+k)`) belongs to `values[i]`.
   * Sign convention: each vector's largest-magnitude component (the first one on ties) is positive, so the
   * result is deterministic (like scikit-learn's `svd_flip`).
   */
  vectors: Float64Array;
  /** Jacobi sweeps used (diagnostic). */
  sweeps: number;
}

export interface EigenOptions {
  /** Give up after this many sweeps (default 100; 9×9 matrices converge in about 6–10). */
  maxSweeps?: number;
  /**
   * Accumulate the eigenvectors (default true). With false only the eigenvalues are computed — the same
   * values, bit for bit, at about half the cost — and `vectors` is empty.
   */
  vectors?: boolean;
}

/** Off-diagonal elements below this (~1e-271) are dropped after the first sweeps: far below any real scatter. */
const NEGLIGIBLE = 2 ** -900;

/**
 * Eigen-decomposition of a symmetric k×k matrix `a` (row-major; only the upper triangle is read) by the cyclic
 * Jacobi method with Rutishauser's refinements (threshold sweeps, accumulated diagonal updates, dropping
 * off-diagonal elements that no longer change the diagonal). Jacobi attains high relative accuracy for the
 * small eigenvalues too, which matters for entropies of nearly-degenerate spectra.
 *
 * Throws a RangeError on non-finite input, an Error if it does not converge (not observed in practice).
 */
export function symmetricEigen(a: ArrayLike<number>, k: number, options: EigenOptions = {}): SymmetricEigen {
  if (!Number.isInteger(k) || k < 0 || a.length < k * k) {
    throw new RangeError(`symmetricEigen: need a ${k}×${k} matrix, got ${a.length} values`);
  }
  const maxSweeps = options.maxSweeps ?? 100;
  const wantVectors = options.vectors ?? true;
  // Working copy of the upper triangle (the only part the rotations below read and write).
  const m = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      const x = a[i * k + j];
      if (!Number.isFinite(x)) throw new RangeError(`symmetricEigen: non-finite entry at (${i}, ${j})`);
      m[i * k + j] = x;
    }
  }
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  const d = new Float64Array(k);
  const b = new Float64Array(k);
  const z = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    d[i] = m[i * k + i];
    b[i] = d[i];
  }

  let sweep = 0;
  for (;;) {
    let off = 0;
    for (let p = 0; p < k - 1; p++) for (let q = p + 1; q < k; q++) off += Math.abs(m[p * k + q]);
    if (off === 0) break;
    sweep++;
    if (sweep > maxSweeps) throw new Error(`symmetricEigen: no convergence after ${maxSweeps} sweeps`);
    const thresh = sweep < 4 ? (0.2 * off) / (k * k) : 0;
    for (let p = 0; p < k - 1; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = m[p * k + q];
        const g = 100 * Math.abs(apq);
        if (
          sweep > 4 &&
          ((Math.abs(d[p]) + g === Math.abs(d[p]) && Math.abs(d[q]) + g === Math.abs(d[q])) || g < NEGLIGIBLE)
        ) {
          // Too small to change either diagonal element (or so small that rotations only shuffle subnormal
          // rounding debris between elements, never reaching 0 — seen with weights spanning 1e-231…1e247): drop it.
          m[p * k + q] = 0;
          continue;
        }
        if (Math.abs(apq) <= thresh) continue;
        let h = d[q] - d[p];
        let t: number;
        if (Math.abs(h) + g === Math.abs(h)) {
          t = apq / h; // t = 1/(2θ) when θ is huge, avoiding θ² overflow
        } else {
          const theta = (0.5 * h) / apq;
          t = 1 / (Math.abs(theta) + Math.sqrt(1 + theta * theta));
          if (theta < 0) t = -t;
        }
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        const tau = s / (1 + c);
        h = t * apq;
        z[p] -= h;
        z[q] += h;
        d[p] -= h;
        d[q] += h;
        m[p * k + q] = 0;
        // Rotate rows/columns p and q, keeping only the upper triangle (r < p < q, p < r < q, p < q < r).
        for (let r = 0; r < p; r++) {
          const arp = m[r * k + p];
          const arq = m[r * k + q];
          m[r * k + p] = arp - s * (arq + tau * arp);
          m[r * k + q] = arq + s * (arp - tau * arq);
        }
        for (let r = p + 1; r < q; r++) {
          const arp = m[p * k + r];
          const arq = m[r * k + q];
          m[p * k + r] = arp - s * (arq + tau * arp);
          m[r * k + q] = arq + s * (arp - tau * arq);
        }
        for (let r = q + 1; r < k; r++) {
          const arp = m[p * k + r];
          const arq = m[q * k + r];
          m[p * k + r] = arp - s * (arq + tau * arp);
          m[q * k + r] = arq + s * (arp - tau * arq);
        }
        if (!wantVectors) continue;
        for (let r = 0; r < k; r++) {
          const vrp = v[r * k + p];
          const vrq = v[r * k + q];
          v[r * k + p] = vrp - s * (vrq + tau * vrp);
          v[r * k + q] = vrq + s * (vrp - tau * vrq);
        }
      }
    }
    for (let i = 0; i < k; i++) {
      b[i] += z[i];
      d[i] = b[i];
      z[i] = 0;
    }
  }

  // Sort descending (stable), transpose column eigenvectors into rows, fix signs.
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => d[y] - d[x] || x - y);
  const values = new Float64Array(k);
  const vectors = new Float64Array(wantVectors ? k * k : 0);
  for (let i = 0; i < k; i++) {
    const col = order[i];
    values[i] = d[col];
    if (!wantVectors) continue;
    let big = 0;
    let sign = 1;
    for (let r = 0; r < k; r++) {
      const x = v[r * k + col];
      if (Math.abs(x) > big) {
        big = Math.abs(x);
        sign = x < 0 ? -1 : 1;
      }
    }
    for (let r = 0; r < k; r++) vectors[i * k + r] = sign * v[r * k + col];
  }
  return { values, vectors, sweeps: sweep };
}

export interface GramOptions {
  /**
   * Column block width: the kernel walks the columns in chunks of this many values so the rows' chunks stay
   * in cache. Default {@link GRAM_BLOCK_COLS} (JS) / `WASM_GRAM_BLOCK_COLS` (wasm); `Infinity` disables blocking.
   */
  blockCols?: number;
  /**
   * Which kernel: `'auto'` (default: the {@link setGramKernel} setting), `'wasm'` (the WebAssembly SIMD
   * kernel; throws when this engine cannot run it) or `'js'` (the scalar JS kernel).
   */
  kernel?: GramKernel;
}

export type GramKernel = 'auto' | 'wasm' | 'js';

let defaultKernel: 'auto' | 'js' = 'auto';

/**
 * Sets what `kernel: 'auto'` means for every later {@link gram} call on this thread (and so for
 * `orthogonality` / `measureLayer`): `'auto'` (default) uses the WebAssembly SIMD kernel when the engine
 * supports it and the matrix is big enough to pay for the copy, `'js'` forces the JS kernel (tests,
 * benchmarks, or to rule the wasm path out). Returns the previous setting.
 */
export function setGramKernel(kernel: 'auto' | 'js'): 'auto' | 'js' {
  const previous = defaultKernel;
  defaultKernel = kernel;
  return previous;
}

/**
 * Below this many multiply-adds (rows²·cols/2) `'auto'` stays in JS: copying in and out of wasm memory and
 * the call cost more than the SIMD kernel saves (measured: 64×27 is 21 µs vs 35 µs in JS,
 * 64×9 18 µs vs 14 µs; either way microseconds).
 */
export const WASM_GRAM_MIN_MACS = 32768;

/**
 * Default column block of {@link gram}: 512 float64 = 4 KiB per row, so the 6 row chunks a micro-kernel step
 * touches sit in L1 and a 512-row panel (2 MiB) in L2. Measured with bench/metrics.ts (2-core Sapphire Rapids
 * VM, Node 20): 256/512/1024/2048/unblocked all run at 2.3–2.5 GMAC/s on 512×4608, within run-to-run noise
 * (hardware prefetch streams whole rows well here); 512 was best over all ResNet-50 3×3 layers and is the safe
 * choice for CPUs with smaller caches. The 4×2 register blocking itself is the 2.6× win over plain dot products.
 */
export const GRAM_BLOCK_COLS = 512;

/**
 * `A·Aᵀ` for the row-major `rows × cols` matrix `a` (float64), returned as a full symmetric `rows × rows`
 * row-major matrix (in `out` when given; it must hold rows² values).
 *
 * Only the upper triangle is computed (4×2 register blocks: 6 loads feed 8 multiply-adds, versus 2 loads
 * per multiply-add for plain dot products) and mirrored at the end. Columns are processed in blocks of
 * `blockCols`, accumulating into `out`.
 *
 * Two kernels with that structure (see {@link GramOptions.kernel}): the WebAssembly SIMD one
 * (src/metrics/wasm/gram.wat, f64x2 lanes, ~2–3× faster) whenever the engine supports it, and the scalar
 * JS one below otherwise. They differ only in summation order (float64 rounding noise, ~1e-16 relative).
 */
export function gram(
  a: Float64Array,
  rows: number,
  cols: number,
  out?: Float64Array,
  options: GramOptions = {},
): Float64Array {
  if (a.length < rows * cols)
    throw new RangeError(`gram: ${rows}×${cols} needs ${rows * cols} values, got ${a.length}`);
  const c = out ?? new Float64Array(rows * rows);
  if (c.length < rows * rows)
    throw new RangeError(`gram: output needs ${rows * rows} values, got ${c.length}`);
  const kernel = options.kernel ?? 'auto';
  if (kernel === 'wasm') {
    if (!gramWasm(a, rows, cols, c, options.blockCols))
      throw new Error(
        `gram: the WebAssembly SIMD kernel is not available here (or ${rows}×${cols} is too big)`,
      );
    return c;
  }
  if (
    kernel === 'auto' &&
    defaultKernel === 'auto' &&
    rows >= 2 &&
    (rows * rows * cols) / 2 >= WASM_GRAM_MIN_MACS &&
    gramWasm(a, rows, cols, c, options.blockCols)
  ) {
    return c;
  }
  c.fill(0, 0, rows * rows);
  const block = Math.max(1, Math.min(cols, options.blockCols ?? GRAM_BLOCK_COLS));
  for (let d0 = 0; d0 < cols; d0 += block) {
    const d1 = Math.min(cols, d0 + block);
    gramUpperBlock(a, rows, cols, d0, d1, c);
  }
  for (let i = 1; i < rows; i++) {
    for (let j = 0; j < i; j++) c[i * rows + j] = c[j * rows + i];
  }
  return c;
}

/** Adds the columns [d0, d1) contribution of A·Aᵀ to the upper triangle (and some harmless lower entries). */
function gramUpperBlock(
  a: Float64Array,
  rows: number,
  cols: number,
  d0: number,
  d1: number,
  c: Float64Array,
): void {
  const rows4 = rows - (rows % 4);
  for (let i = 0; i < rows4; i += 4) {
    const o0 = i * cols;
    const o1 = o0 + cols;
    const o2 = o1 + cols;
    const o3 = o2 + cols;
    let j = i;
    for (; j + 1 < rows; j += 2) {
      const p0 = j * cols;
      const p1 = p0 + cols;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      let s20 = 0;
      let s21 = 0;
      let s30 = 0;
      let s31 = 0;
      for (let d = d0; d < d1; d++) {
        const y0 = a[p0 + d];
        const y1 = a[p1 + d];
        let x = a[o0 + d];
        s00 += x * y0;
        s01 += x * y1;
        x = a[o1 + d];
        s10 += x * y0;
        s11 += x * y1;
        x = a[o2 + d];
        s20 += x * y0;
        s21 += x * y1;
        x = a[o3 + d];
        s30 += x * y0;
        s31 += x * y1;
      }
      let q = i * rows + j;
      c[q] += s00;
      c[q + 1] += s01;
      q += rows;
      c[q] += s10;
      c[q + 1] += s11;
      q += rows;
      c[q] += s20;
      c[q + 1] += s21;
      q += rows;
      c[q] += s30;
      c[q + 1] += s31;
    }
    if (j < rows) {
      // Last odd column of the block row.
      const p0 = j * cols;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let d = d0; d < d1; d++) {
        const y = a[p0 + d];
        s0 += a[o0 + d] * y;
        s1 += a[o1 + d] * y;
        s2 += a[o2 + d] * y;
        s3 += a[o3 + d] * y;
      }
      c[i * rows + j] += s0;
      c[(i + 1) * rows + j] += s1;
      c[(i + 2) * rows + j] += s2;
      c[(i + 3) * rows + j] += s3;
    }
  }
  // Leftover rows (rows % 4): plain dot products unrolled by 4.
  for (let i = rows4; i < rows; i++) {
    const o = i * cols;
    for (let j = i; j < rows; j++) c[i * rows + j] += dotRange(a, o, j * cols, d0, d1);
  }
}

/** Σ a[oa+d]·a[ob+d] for d in [d0, d1), four accumulators. */
function dotRange(a: Float64Array, oa: number, ob: number, d0: number, d1: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let d = d0;
  for (; d + 3 < d1; d += 4) {
    s0 += a[oa + d] * a[ob + d];
    s1 += a[oa + d + 1] * a[ob + d + 1];
    s2 += a[oa + d + 2] * a[ob + d + 2];
    s3 += a[oa + d + 3] * a[ob + d + 3];
  }
  for (; d < d1; d++) s0 += a[oa + d] * a[ob + d];
  return s0 + s1 + (s2 + s3);
}

/**
 * Column means of the row-major `rows × cols` matrix `a`, over the rows where `select` is non-zero (all rows when
 * `select` is omitted). A column whose selected values are all equal gets exactly that value as its mean (so
 * centring yields exact zeros rather than rounding noise — an all-equal set of filters has zero variance).
 */
export function columnMeans(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
  select?: Uint8Array | null,
): Float64Array {
  const sum = new Float64Array(cols);
  let count = 0;
  let firstRow = -1;
  for (let r = 0; r < rows; r++) {
    if (select && !select[r]) continue;
    if (firstRow < 0) firstRow = r;
    const o = r * cols;
    for (let j = 0; j < cols; j++) sum[j] += a[o + j];
    count++;
  }
  if (count === 0) return sum;
  for (let j = 0; j < cols; j++) {
    // Constant column? For real data the first differing row comes almost at once, so this costs ~nothing.
    const x0 = a[firstRow * cols + j];
    let constant = true;
    for (let r = firstRow + 1; r < rows; r++) {
      if (select && !select[r]) continue;
      if (a[r * cols + j] !== x0) {
        constant = false;
        break;
      }
    }
    sum[j] = constant ? x0 : sum[j] / count;
  }
  return sum;
}

/**
 * The scatter matrix `CᵀC` (cols × cols, row-major, symmetric) of the selected rows of `a` centred by `mean`
 * (two-pass: pass the means from {@link columnMeans}). Divide by `count - 1` for the sample covariance.
 *
 * `a` may be float32 or float64 (or any array of numbers): every value is widened to float64 as it is read,
 * so there is no need for a float64 copy of float32 weights. 3×3 kernels (cols 9) run an unrolled kernel; other widths take two rows per step (half the loads and
 * stores of the accumulator array).
 */
export function centredScatter(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
  mean: ArrayLike<number>,
  select?: Uint8Array | null,
): Float64Array {
  if (cols === 9) return centredScatter9(a, rows, mean, select ?? null);
  if (cols === 1) return centredScatter1(a, rows, mean[0], select ?? null);
  if (cols >= SCATTER_GRAM_MIN_COLS) return centredScatterGram(a, rows, cols, mean, select ?? null);
  const s = new Float64Array(cols * cols);
  const c = new Float64Array(cols);
  const d = new Float64Array(cols);
  let pending = false; // c holds a centred row waiting for its partner
  for (let r = 0; r < rows; r++) {
    if (select && !select[r]) continue;
    const o = r * cols;
    if (!pending) {
      for (let j = 0; j < cols; j++) c[j] = a[o + j] - mean[j];
      pending = true;
      continue;
    }
    for (let j = 0; j < cols; j++) d[j] = a[o + j] - mean[j];
    pending = false;
    for (let i = 0; i < cols; i++) {
      const ci = c[i];
      const di = d[i];
      const oi = i * cols;
      for (let j = i; j < cols; j++) s[oi + j] += ci * c[j] + di * d[j];
    }
  }
  if (pending) {
    for (let i = 0; i < cols; i++) {
      const ci = c[i];
      const oi = i * cols;
      for (let j = i; j < cols; j++) s[oi + j] += ci * c[j];
    }
  }
  for (let i = 1; i < cols; i++) for (let j = 0; j < i; j++) s[i * cols + j] = s[j * cols + i];
  return s;
}

/**
 * From this kernel size on (5×5 = 25, 7×7, …) the scatter is the Gram matrix of the transposed centred rows,
 * computed by {@link gram} (WebAssembly SIMD): writing the `cols × rows` transpose costs `cols` stores per
 * row, the row-at-a-time update `cols²/2` multiply-adds — measured 1.8 ms vs ~0.3 ms for 4096 rows of 25.
 */
export const SCATTER_GRAM_MIN_COLS = 16;

function centredScatterGram(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
  mean: ArrayLike<number>,
  select: Uint8Array | null,
): Float64Array {
  let count = rows;
  if (select) {
    count = 0;
    for (let r = 0; r < rows; r++) count += select[r] ? 1 : 0;
  }
  const t = new Float64Array(cols * count);
  for (let r = 0, i = 0; r < rows; r++) {
    if (select && !select[r]) continue;
    const o = r * cols;
    for (let j = 0; j < cols; j++) t[j * count + i] = a[o + j] - mean[j];
    i++;
  }
  return gram(t, cols, count);
}

/** 1×1 kernels: Σ (a − m)² over the selected rows (branch-free: an unselected row adds an exact 0). */
function centredScatter1(
  a: ArrayLike<number>,
  rows: number,
  m: number,
  select: Uint8Array | null,
): Float64Array {
  let s0 = 0;
  let s1 = 0;
  if (select) {
    for (let r = 0; r < rows; r++) {
      const c = (a[r] - m) * (select[r] === 0 ? 0 : 1);
      s0 += c * c;
    }
  } else {
    let r = 0;
    for (; r + 1 < rows; r += 2) {
      const c0 = a[r] - m;
      const c1 = a[r + 1] - m;
      s0 += c0 * c0;
      s1 += c1 * c1;
    }
    if (r < rows) {
      const c0 = a[r] - m;
      s0 += c0 * c0;
    }
  }
  return Float64Array.of(s0 + s1);
}

/**
 * 3×3 kernels (the common case): unrolled, the 45 upper-triangle sums in an 81-slot array. (Keeping the 45
 * sums in locals instead ran faster warm on the main thread but slower cold in the worker pool, where it
 * matters: `filterdb quality` on ResNet-50 shapes took 0.64 s with locals vs 0.56 s with the array.)
 */
function centredScatter9(
  a: ArrayLike<number>,
  rows: number,
  mean: ArrayLike<number>,
  select: Uint8Array | null,
): Float64Array {
  const m0 = mean[0];
  const m1 = mean[1];
  const m2 = mean[2];
  const m3 = mean[3];
  const m4 = mean[4];
  const m5 = mean[5];
  const m6 = mean[6];
  const m7 = mean[7];
  const m8 = mean[8];
  // Accumulate into a small array per row block; JS engines keep typed-array slots in cache anyway.
  const s = new Float64Array(81);
  for (let r = 0; r < rows; r++) {
    if (select && !select[r]) continue;
    const o = r * 9;
    const c0 = a[o] - m0;
    const c1 = a[o + 1] - m1;
    const c2 = a[o + 2] - m2;
    const c3 = a[o + 3] - m3;
    const c4 = a[o + 4] - m4;
    const c5 = a[o + 5] - m5;
    const c6 = a[o + 6] - m6;
    const c7 = a[o + 7] - m7;
    const c8 = a[o + 8] - m8;
    s[0] += c0 * c0;
    s[1] += c0 * c1;
    s[2] += c0 * c2;
    s[3] += c0 * c3;
    s[4] += c0 * c4;
    s[5] += c0 * c5;
    s[6] += c0 * c6;
    s[7] += c0 * c7;
    s[8] += c0 * c8;
    s[10] += c1 * c1;
    s[11] += c1 * c2;
    s[12] += c1 * c3;
    s[13] += c1 * c4;
    s[14] += c1 * c5;
    s[15] += c1 * c6;
    s[16] += c1 * c7;
    s[17] += c1 * c8;
    s[20] += c2 * c2;
    s[21] += c2 * c3;
    s[22] += c2 * c4;
    s[23] += c2 * c5;
    s[24] += c2 * c6;
    s[25] += c2 * c7;
    s[26] += c2 * c8;
    s[30] += c3 * c3;
    s[31] += c3 * c4;
    s[32] += c3 * c5;
    s[33] += c3 * c6;
    s[34] += c3 * c7;
    s[35] += c3 * c8;
    s[40] += c4 * c4;
    s[41] += c4 * c5;
    s[42] += c4 * c6;
    s[43] += c4 * c7;
    s[44] += c4 * c8;
    s[50] += c5 * c5;
    s[51] += c5 * c6;
    s[52] += c5 * c7;
    s[53] += c5 * c8;
    s[60] += c6 * c6;
    s[61] += c6 * c7;
    s[62] += c6 * c8;
    s[70] += c7 * c7;
    s[71] += c7 * c8;
    s[80] += c8 * c8;
  }
  for (let i = 1; i < 9; i++) for (let j = 0; j < i; j++) s[i * 9 + j] = s[j * 9 + i];
  return s;
}

/** Below this row length {@link crossGram} stays in JS. */
const CROSS_WASM_MIN_COLS = 16;

/**
 * `X·Yᵀ` for row-major float64 `rowsX × cols` and `rowsY × cols` matrices, into `out` (`rowsX × rowsY`,
 * row-major; overwritten). Uses the WebAssembly SIMD kernel of {@link gram} when it is available and allowed
 * (see {@link setGramKernel}), else plain dot products. The orthogonality of layers too large for one Gram
 * matrix is summed from these blocks.
 */
export function crossGram(
  x: Float64Array,
  rowsX: number,
  y: Float64Array,
  rowsY: number,
  cols: number,
  out: Float64Array,
): Float64Array {
  // Short rows: copying into wasm memory and padding to 4 columns costs more than the dot products.
  if (defaultKernel === 'auto' && cols >= CROSS_WASM_MIN_COLS && crossGramWasm(x, rowsX, y, rowsY, cols, out))
    return out;
  for (let i = 0; i < rowsX; i++) {
    const o = i * cols;
    for (let j = 0; j < rowsY; j++) {
      const p = j * cols;
      let s = 0;
      for (let d = 0; d < cols; d++) s += x[o + d] * y[p + d];
      out[i * rowsY + j] = s;
    }
  }
  return out;
}

/**
 * Eigenvalues (descending) of a symmetric k×k matrix (row-major, full) by Householder reduction to
 * tridiagonal form and root-free implicit QL (sym-eigenvalues.ts): O(k³) with a small constant, where
 * cyclic Jacobi needs several O(k³) sweeps — 512×512 takes ~0.1 s instead of seconds. Backward stable
 * (errors ~1e-16·‖A‖), which is what an entropy of the normalised spectrum needs; {@link symmetricEigen}
 * stays the solver for small kernels (high relative accuracy, bit-for-bit stable results).
 * Returns null if QL does not converge (not observed in practice), so the caller can fall back to Jacobi.
 */
export function symmetricEigenvaluesQL(a: ArrayLike<number>, k: number): Float64Array | null {
  if (!Number.isInteger(k) || k < 0 || a.length < k * k) {
    throw new RangeError(`symmetricEigenvaluesQL: need a ${k}×${k} matrix, got ${a.length} values`);
  }
  const z = new Float64Array(k * k);
  for (let i = 0; i < k * k; i++) {
    if (!Number.isFinite(a[i])) throw new RangeError(`symmetricEigenvaluesQL: non-finite entry ${i}`);
    z[i] = a[i];
  }
  // the one Householder + QL solver (sym-eigenvalues.ts, also the spectral metrics'), ascending → descending
  return symmetricEigenvaluesOrNull(z, k)?.reverse() ?? null;
}
