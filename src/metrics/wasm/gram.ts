/**
 * WebAssembly SIMD (f64x2) kernel for `A·Aᵀ` — the glue around gram.wat (isomorphic: no `node:` imports).
 *
 * The module (~0.9 KiB, embedded as base64 in gram-wasm.ts) is compiled synchronously on first use with
 * `new WebAssembly.Module` (browsers allow that on the main thread below 4 KiB). An engine without SIMD (or
 * without WebAssembly) rejects it; {@link wasmGramAvailable} then says false and `gram()` keeps using its
 * JS kernel. Each thread (worker) has its own instance and memory.
 *
 * Per call the float64 input is copied once into the module's memory, padded with zero rows to a multiple of 4
 * and zero columns to a multiple of 4 (exact zeros: they change no sum), the kernel fills the upper triangle,
 * and the upper triangle is copied out. The memory grows to the largest matrix seen (rows·cols + rows² float64,
 * ~21 MiB for 512×4608) and is kept for the next call; wasm memory cannot shrink.
 *
 * Results differ from the JS kernel only by summation order (two SIMD lanes per accumulator), i.e. float64
 * rounding noise (~1e-16 relative); no FMA is used, so they are the same on every engine and CPU.
 */
import { GRAM_WASM_BASE64 } from './gram-wasm.js';

interface GramExports {
  memory: WebAssembly.Memory;
  gram_cols(
    a: number,
    rows: number,
    stride: number,
    c: number,
    d0: number,
    d1: number,
    iend: number,
    j0: number,
  ): void;
}

/** undefined: not tried yet; null: unavailable. */
let kernel: GramExports | null | undefined;

/** Base64 → bytes (atob: isomorphic), for the embedded wasm modules. */
export function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function load(): GramExports | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    if (typeof WebAssembly === 'object' && typeof atob === 'function') {
      const module = new WebAssembly.Module(decodeBase64(GRAM_WASM_BASE64));
      const k = new WebAssembly.Instance(module, {}).exports as unknown as GramExports;
      warmUp(k);
      kernel = k;
    }
  } catch {
    kernel = null; // no SIMD (CompileError) or WebAssembly disabled (e.g. a CSP without wasm-unsafe-eval)
  }
  return kernel;
}

/**
 * Runs the kernel on a small matrix a few times (~0.2 ms) so the engine's tiering (V8: Liftoff baseline, then
 * TurboFan in the background) promotes it before real work: a wasm call never leaves the tier it started in,
 * and the baseline SIMD code is ~3× slower — the first 512×4608 layer took 320 ms instead of 90 ms without this.
 */
function warmUp(k: GramExports): void {
  const rows = 16;
  const stride = 256; // 32 KiB + 2 KiB: fits the initial 64 KiB page
  const m = new Float64Array(k.memory.buffer, 0, rows * stride);
  for (let i = 0; i < m.length; i++) m[i] = (i % 7) - 3;
  for (let r = 0; r < 8; r++) k.gram_cols(0, rows, stride, rows * stride * 8, 0, stride, rows, 0);
}

/** True when the WebAssembly SIMD kernel can run here (compiles it on the first call). */
export function wasmGramAvailable(): boolean {
  return load() !== null;
}

/**
 * Default column chunk of the wasm kernel (float64 values): 512 = 4 KiB per row chunk, a 512-row panel 2 MiB.
 * Measured with bench/metrics.ts on 512×4608 (2-core Sapphire Rapids VM, Node 20, busy): 512 and 1024 at
 * 7.5–8.0 GMAC/s, 256 at 7.2–7.4, 2048 and unblocked at 6.6–7.3 (the matrix no longer stays in L2).
 */
export const WASM_GRAM_BLOCK_COLS = 512;

/** Largest memory the kernel will use (the byte offsets are i32; stay well inside 2 GiB). */
const MAX_BYTES = 2 ** 31 - 2 ** 20;
const PAGE = 65536;

/** Grows the kernel's memory to `bytes` (false when that is impossible). */
function reserve(k: GramExports, bytes: number): boolean {
  if (!(bytes <= MAX_BYTES)) return false;
  const have = k.memory.buffer.byteLength;
  if (bytes > have) {
    try {
      k.memory.grow(Math.ceil((bytes - have) / PAGE));
    } catch {
      return false; // out of memory: the JS kernel works on the caller's array directly
    }
  }
  return true;
}

/** Copies the `rows × cols` matrix `a` into `m` from row `at` on, rows `stride` apart, padding with zeros. */
function copyRows(m: Float64Array, at: number, a: Float64Array, rows: number, cols: number, stride: number) {
  if (stride === cols) {
    m.set(a.subarray(0, rows * cols), at * stride);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = (at + r) * stride;
    m.set(a.subarray(r * cols, r * cols + cols), o);
    m.fill(0, o + cols, o + stride);
  }
}

/**
 * Copies the row blocks into the kernel's memory one after the other, each padded with zero rows to a multiple
 * of 4 and every row with zero columns to `stride` (a multiple of 4), and zeroes the `rp × rp` output after
 * them. Null when the memory cannot grow that far.
 */
function stage(
  k: GramExports,
  blocks: [Float64Array, number][],
  cols: number,
): { rp: number; stride: number; aBytes: number; cm: Float64Array } | null {
  const rp = blocks.reduce((sum, [, rows]) => sum + ((rows + 3) & ~3), 0);
  const stride = (cols + 3) & ~3;
  const aBytes = rp * stride * 8;
  if (!reserve(k, aBytes + rp * rp * 8)) return null;
  const buf = k.memory.buffer;
  const m = new Float64Array(buf, 0, rp * stride);
  let at = 0;
  for (const [a, rows] of blocks) {
    copyRows(m, at, a, rows, cols, stride);
    const padded = (rows + 3) & ~3;
    m.fill(0, (at + rows) * stride, (at + padded) * stride);
    at += padded;
  }
  const cm = new Float64Array(buf, aBytes, rp * rp);
  cm.fill(0);
  return { rp, stride, aBytes, cm };
}

/** Runs gram_cols over all column chunks. */
function runChunks(
  k: GramExports,
  rows: number,
  stride: number,
  cOffset: number,
  blockCols: number,
  iend: number,
  j0: number,
): void {
  const block = Number.isFinite(blockCols) ? Math.max(4, Math.floor(blockCols / 4) * 4) : stride;
  for (let d0 = 0; d0 < stride; d0 += block)
    k.gram_cols(0, rows, stride, cOffset, d0, Math.min(stride, d0 + block), iend, j0);
}

/**
 * `A·Aᵀ` of the row-major `rows × cols` float64 matrix `a` into `c` (full symmetric rows×rows, row-major) with
 * the WebAssembly kernel. Returns false, leaving `c` untouched, when the kernel is unavailable or the matrix is
 * too large for its memory — the caller then uses the JS kernel.
 */
export function gramWasm(
  a: Float64Array,
  rows: number,
  cols: number,
  c: Float64Array,
  blockCols: number = WASM_GRAM_BLOCK_COLS,
): boolean {
  const k = load();
  if (!k) return false;
  const staged = stage(k, [[a, rows]], cols);
  if (!staged) return false;
  const { rp, stride, aBytes, cm } = staged;
  runChunks(k, rp, stride, aBytes, blockCols, rp, 0);
  for (let i = 0; i < rows; i++) {
    c.set(cm.subarray(i * rp + i, i * rp + rows), i * rows + i);
  }
  for (let i = 1; i < rows; i++) {
    for (let j = 0; j < i; j++) c[i * rows + j] = c[j * rows + i];
  }
  return true;
}

/**
 * The cross products `X·Yᵀ` of the row-major `rowsX × cols` and `rowsY × cols` float64 matrices into `c`
 * (`rowsX × rowsY`, row-major) with the same kernel: X and Y are stacked in its memory and only the X-rows ×
 * Y-columns block is computed. Returns false (leaving `c` untouched) when the kernel is unavailable or the
 * matrices do not fit.
 */
export function crossGramWasm(
  x: Float64Array,
  rowsX: number,
  y: Float64Array,
  rowsY: number,
  cols: number,
  c: Float64Array,
): boolean {
  const k = load();
  if (!k || rowsX === 0 || rowsY === 0) return false;
  const staged = stage(
    k,
    [
      [x, rowsX],
      [y, rowsY],
    ],
    cols,
  );
  if (!staged) return false;
  const { rp, stride, aBytes, cm } = staged;
  const px = (rowsX + 3) & ~3;
  runChunks(k, rp, stride, aBytes, WASM_GRAM_BLOCK_COLS, px, px);
  for (let i = 0; i < rowsX; i++) c.set(cm.subarray(i * rp + px, i * rp + px + rowsY), i * rowsY);
  return true;
}
