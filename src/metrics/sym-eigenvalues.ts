/**
 * All eigenvalues of a dense symmetric matrix: Householder reduction to tridiagonal form, then root-free
 * implicit QL with Wilkinson shifts on the tridiagonal matrix (eigenvalues only, no vectors). O(4/3·n³) for the
 * reduction, O(n²) for QL — the cyclic Jacobi solver in linalg.ts is O(n³) per sweep with ~10 sweeps and is
 * kept for the small k×k scatter matrices; this one is for the M×M Gram matrices of the spectral metrics (M up
 * to a few thousand) and, called by quality.ts, the centred Gram or scatter matrices of wide kernels.
 *
 * The reduction works on the lower triangle, row-major, and processes rows from the last one up (Numerical
 * Recipes' tred2 order), so every Householder vector is a contiguous row. Each step's rank-2 update of the
 * trailing block is fused with the next step's symmetric matrix–vector product (the next vector is the last
 * row of the block, updated first): one pass over the trailing triangle per step instead of two. Where the
 * engine has WebAssembly SIMD the whole reduction is one call into wasm/tridiag.wat (every step: Householder
 * vector, p and q, the fused pass two rows at a time); `tridiagonalize` below is its JS twin for engines
 * without it, with the same operations except for the summation order inside the fused pass.
 */
import { decodeBase64 } from './wasm/gram.js';
import { TRIDIAG_WASM_BASE64 } from './wasm/tridiag-wasm.js';

/** The matrix to reduce (the caller fills its lower triangle) and the reduction that works on it. */
interface Workspace {
  a: Float64Array;
  /**
   * Multiplies the lower triangle of `a` by `factor` (a power of two: exact), then tridiagonalises it (`a` is
   * destroyed): diagonal to `d`, sub-diagonal to `e` (see `tridiagonalize`).
   */
  scaleAndReduce(factor: number, d: Float64Array, e: Float64Array): void;
}

/** The JS reduction's vectors: u (Householder vector), q, v (the next one) and p (the product). */
interface JsWorkspace {
  a: Float64Array;
  u: Float64Array;
  q: Float64Array;
  v: Float64Array;
  p: Float64Array;
}

interface TridiagExports {
  memory: WebAssembly.Memory;
  tridiagonalize(
    a: number,
    n: number,
    factor: number,
    u: number,
    q: number,
    v: number,
    p: number,
    d: number,
    e: number,
  ): void;
}

let wasm: TridiagExports | null | undefined;
let useWasm = true;

function loadWasm(): TridiagExports | null {
  if (wasm === undefined) {
    try {
      const module = new WebAssembly.Module(decodeBase64(TRIDIAG_WASM_BASE64));
      const k = new WebAssembly.Instance(module, {}).exports as unknown as TridiagExports;
      warmUp(k);
      wasm = k;
    } catch {
      // no WebAssembly (ReferenceError), no SIMD (CompileError), no atob, or wasm disabled by a CSP: the JS loop
      wasm = null;
    }
  }
  return wasm;
}

/**
 * Reductions of a small matrix so the engine tiers the kernel up before real work (a wasm call never leaves
 * the tier it started in; see gram.ts, and the whole reduction is one call): when only the per-step pass was
 * wasm, the first 512×512 matrix took 200 ms instead of 75 without a warm-up. 20 reductions of a 32×32 matrix
 * (~2 ms) send the reduction and the paired-row pass to TurboFan in Node 20 (checked with
 * --trace-wasm-compilation-times). Its lower triangle is A_ij = 32i + j: no row is zero left of the diagonal,
 * so every pass of every step runs. Fixed byte offsets in the first 64 KiB page: u, q, v, p, d, e (256 bytes
 * each), then A at 1536.
 */
function warmUp(k: TridiagExports): void {
  const a = new Float64Array(k.memory.buffer, 1536, 1024);
  for (let r = 0; r < 20; r++) {
    for (let i = 0; i < 1024; i++) a[i] = i;
    k.tridiagonalize(1536, 32, 1, 0, 256, 512, 768, 1024, 1280);
  }
}

/** Forces the JS kernel (`false`) or allows the wasm one (`true`, default) — for tests and benchmarks. */
export function setTridiagWasm(enabled: boolean): void {
  useWasm = enabled;
}

/** Whether the WebAssembly SIMD kernel loaded (false without WebAssembly or SIMD: the JS kernel runs). */
export function tridiagWasmAvailable(): boolean {
  return loadWasm() !== null;
}

/** The kernel's byte offsets are i32: memory stays below 2 GiB − 1 MiB (orders above ~16 380 use the JS loop). */
const MAX_WASM_BYTES = 2_146_435_072;

function wasmWorkspace(n: number): Workspace | null {
  const k = useWasm ? loadWasm() : null;
  if (!k) return null;
  // A (n × n), then u, q, v, p, d and e, each starting on a 16-byte boundary
  const vec = ((n + 1) & ~1) * 8;
  const offU = ((n * n + 1) & ~1) * 8;
  const offQ = offU + vec;
  const offV = offQ + vec;
  const offP = offV + vec;
  const offD = offP + vec;
  const offE = offD + vec;
  const need = offE + vec;
  if (need > MAX_WASM_BYTES) return null;
  const have = k.memory.buffer.byteLength;
  // growing fails only when the process is out of memory, as the JS workspace's allocation would
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  const buf = k.memory.buffer;
  return {
    a: new Float64Array(buf, 0, n * n),
    scaleAndReduce: (factor, d, e) => {
      // the scaling and the whole reduction in one call; e[n − 1] is not written (left as the caller's 0)
      k.tridiagonalize(0, n, factor, offU, offQ, offV, offP, offD, offE);
      d.set(new Float64Array(buf, offD, n));
      if (n > 1) e.set(new Float64Array(buf, offE, n - 1));
    },
  };
}

function jsWorkspace(n: number): Workspace {
  const ws: JsWorkspace = {
    a: new Float64Array(n * n),
    u: new Float64Array(n),
    q: new Float64Array(n),
    v: new Float64Array(n),
    p: new Float64Array(n),
  };
  const a = ws.a;
  return {
    a,
    scaleAndReduce: (factor, d, e) => {
      for (let i = 0; i < n; i++) for (let j = 0, o = i * n; j <= i; j++) a[o + j] *= factor;
      tridiagonalize(ws, n, d, e);
    },
  };
}

/** The JS twin of wasm/tridiag.wat's update_product (same operations, summation in one lane). */
function updateProductJs(
  a: Float64Array,
  n: number,
  m: number,
  u: Float64Array,
  q: Float64Array,
  v: Float64Array,
  p: Float64Array,
): void {
  for (let j = 0; j < m; j++) {
    const o = j * n;
    const uj = u[j];
    const qj = q[j];
    const vj = v[j];
    let s = 0;
    for (let k = 0; k < j; k++) {
      const x = a[o + k] - (uj * q[k] + qj * u[k]);
      a[o + k] = x;
      s += x * v[k];
      p[k] += x * vj;
    }
    const x = a[o + j] - (uj * qj + qj * uj);
    a[o + j] = x;
    p[j] += s + x * vj;
  }
}

/**
 * Eigenvalues of the symmetric `n × n` row-major matrix `a` (only the lower triangle is read; `a` is left
 * unchanged), sorted ascending. Throws a RangeError on non-finite input.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const d = symmetricEigenvaluesOrNull(a, n);
  if (!d) throw new Error('symmetricEigenvalues: QL did not converge');
  return d;
}

/** {@link symmetricEigenvalues}, or null when QL does not converge (the caller falls back to Jacobi). */
export function symmetricEigenvaluesOrNull(a: Float64Array, n: number): Float64Array | null {
  if (a.length < n * n) throw new RangeError(`symmetricEigenvalues: need ${n * n} values, got ${a.length}`);
  // only the lower triangle is read, checked and copied (the reduction never reads above the diagonal): one
  // pass copies it into the workspace and finds its largest magnitude (NaN and ∞ stick in Math.max), then the
  // workspace scales the copy in place (`a` is never written)
  const ws = wasmWorkspace(n) ?? jsWorkspace(n);
  const w = ws.a;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const o = i * n;
    for (let j = 0; j <= i; j++) {
      const x = a[o + j];
      w[o + j] = x;
      maxAbs = Math.max(maxAbs, Math.abs(x));
    }
  }
  if (!(maxAbs <= Number.MAX_VALUE)) throw new RangeError('symmetricEigenvalues: non-finite entry');
  const factor = normalisingFactor(maxAbs);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  ws.scaleAndReduce(factor, d, e);
  if (!tridiagonalQl(d, e, n)) return null;
  for (let i = 0; i < n; i++) d[i] /= factor;
  d.sort();
  return d;
}

/**
 * The power of two that brings the largest entry `maxAbs` near 1. Scaling by it is exact (bar entries below
 * 2^-1022 of the largest, far under its rounding), so are the eigenvalues scaled back: LAPACK's dsyev scales
 * the same way, for the same reasons. Entries near 1e308 overflowed in the reduction without it, subnormal ones
 * stalled QL, and with ‖A‖ ≈ 1 QL's rotations cannot overflow. 2^1074 is not a float64: the
 * tiniest matrices end up near 2^-74 (a zero matrix is multiplied by 2^1000 and stays zero).
 */
function normalisingFactor(maxAbs: number): number {
  return 2 ** Math.min(-Math.floor(Math.log2(maxAbs)), 1000);
}

/**
 * Householder vector of row `row` over columns 0..l of `a` (scaled by 1/scale for safety from over- and
 * underflow), written to `x`. Returns h (scaled ‖x‖²/2 form of tred2) and the sub-diagonal element, or null
 * when the row is zero.
 */
function householder(
  a: Float64Array,
  row: number,
  l: number,
  x: Float64Array,
): { h: number; offDiagonal: number } | null {
  let scale = 0;
  for (let k = 0; k <= l; k++) scale += Math.abs(a[row + k]);
  if (scale === 0) return null;
  let h = 0;
  for (let k = 0; k <= l; k++) {
    const t = a[row + k] / scale;
    x[k] = t;
    h += t * t;
  }
  const f = x[l];
  const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
  h -= f * g;
  x[l] = f - g;
  return { h, offDiagonal: scale * g };
}

/**
 * Householder tridiagonalisation (eigenvalues only): on return `d` holds the diagonal and `e[i]` the
 * sub-diagonal element (i + 1, i) of the tridiagonal matrix (`e[n − 1]` is not written). `ws.a` is destroyed.
 */
function tridiagonalize(ws: JsWorkspace, n: number, d: Float64Array, e: Float64Array): void {
  const { a, q, p } = ws;
  // u holds this step's Householder vector, v receives the next one (computed at the end of a step from row l,
  // which nothing touches before the next step reads it); they swap roles after each step, as in tridiag.wat
  let { u, v } = ws;
  let hh = householder(a, (n - 1) * n, n - 2, u); // null for n ≤ 1 (no columns), where no step runs
  let productReady = false; // p already holds S·u for this step (from the previous fused pass)
  for (let i = n - 1; i >= 1; i--) {
    const l = i - 1;
    const rowL = l * n;
    if (!hh) {
      e[l] = 0; // row i is zero left of its diagonal, sub-diagonal entry included: nothing to reduce
      productReady = false;
      hh = householder(a, rowL, l - 1, u);
      continue;
    }
    const { h } = hh;
    e[l] = hh.offDiagonal;
    if (!productReady) {
      // p = S·u: the fused pass with a zero update (A − 0 = A exactly) and u as the vector
      q.fill(0, 0, l + 1);
      p.fill(0, 0, l + 1);
      updateProductJs(a, n, l + 1, u, q, u, p);
    }
    // p = S·u/h (h ≥ 1/(l+1) after scaling, so 1/h is finite), q = p − (uᵀp/2h)·u
    const invH = 1 / h;
    let fsum = 0;
    for (let j = 0; j <= l; j++) {
      const pj = p[j] * invH;
      p[j] = pj;
      fsum += pj * u[j];
    }
    const kk = fsum / (h + h);
    // Row l (the next step's Householder row) is updated with q as q is formed; rows 0..l-1 are updated in
    // the fused pass with the next product (S·v, v the next step's Householder vector; for a zero next row, or
    // none, that product is computed and not used).
    const ul = u[l];
    const ql = p[l] - kk * ul;
    for (let k = 0; k <= l; k++) {
      const qk = p[k] - kk * u[k];
      q[k] = qk;
      a[rowL + k] -= ul * qk + ql * u[k];
    }
    hh = householder(a, rowL, l - 1, v);
    productReady = hh !== null;
    p.fill(0, 0, l);
    updateProductJs(a, n, l, u, q, v, p);
    [u, v] = [v, u];
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
}

/**
 * Root-free implicit QL with Wilkinson shifts (the Pal–Walker–Kahan variant: LAPACK dsterf's method, the one
 * numpy.linalg.eigvalsh runs) on the symmetric tridiagonal matrix (diagonal `d`, sub-diagonal `e[i]` = element
 * (i + 1, i); `e` is destroyed); on return `d` holds the eigenvalues (unsorted). False when an eigenvalue needs
 * more than 60 steps (a safety net: with Wilkinson's shift QL converges for every symmetric tridiagonal matrix,
 * here in 1–3 steps an eigenvalue). Each unreduced block (split where `e[i]` is negligible) is solved alone.
 */
function tridiagonalQl(d: Float64Array, e: Float64Array, n: number): boolean {
  for (let l = 0; l < n; ) {
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > Number.EPSILON * (Math.abs(d[m]) + Math.abs(d[m + 1]))) m++;
    if (m > l && !rootFreeQl(d, e, l, m)) return false;
    l = m + 1;
  }
  return true;
}

const EPS_SQUARED = Number.EPSILON * Number.EPSILON;

/**
 * Paired chases for the first steps on an eigenvalue only, as a safeguard: two shifts placed symmetrically about
 * the middle of a spectrum that is itself symmetric (a Laplacian's top block [[2, −1], [−1, 2]] gives 1 and 3)
 * make a double step blind to the difference between λ and its mirror image, so from the third step on an
 * eigenvalue a single Wilkinson shift chases alone — the case for which QL's convergence is proven.
 */
const PAIRED_STEPS = 2;

/**
 * {@link tridiagonalQl} on the unreduced block of rows `lo..hi`. It works on the squared off-diagonal entries, so
 * a rotation needs no square root, after scaling the block by the power of two that brings its largest entry
 * near 1 (exact, and undone at the end): squares neither overflow nor underflow, even for a block far below the
 * matrix's norm (dsterf scales its blocks the same way).
 *
 * A QL step is a chase of rotations from the bottom row m up to the top row l, each one waiting for the last:
 * its speed is the latency of that chain, not the arithmetic. So each step chases two shifts at once, the
 * Wilkinson shift σ₁ and the other eigenvalue of the top 2×2 block σ₂ (σ₁ + σ₂ = its trace; with both, the two
 * chases together do what a double-shift step does), the second chase two rows behind the first — it reads rows
 * only after the first has finished with them, so the result is that of the two chases one after the other,
 * while the CPU overlaps their independent chains (0.45 ms instead of 0.7 for a 257×257 matrix's QL).
 * Blocks of fewer than four rows, and every step after the first {@link PAIRED_STEPS} on an eigenvalue, take
 * single chases.
 */
function rootFreeQl(d: Float64Array, e: Float64Array, lo: number, hi: number): boolean {
  let big = 0;
  for (let i = lo; i <= hi; i++) big = Math.max(big, Math.abs(d[i]));
  for (let i = lo; i < hi; i++) big = Math.max(big, Math.abs(e[i]));
  const scale = normalisingFactor(big); // big > 0: e[lo] is not negligible
  for (let i = lo; i <= hi; i++) d[i] *= scale;
  for (let i = lo; i < hi; i++) {
    const x = e[i] * scale;
    e[i] = x * x;
  }
  const a = new Float64Array(4); // chase state, see rotations()
  const b = new Float64Array(4);
  let iter = 0;
  for (let l = lo; l <= hi; ) {
    let m = l;
    for (; m < hi; m++) {
      const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
      if (e[m] <= EPS_SQUARED * dd * dd) break;
    }
    if (m === l) {
      l++;
      iter = 0;
      continue;
    }
    if (++iter > 60) return false;
    // Wilkinson's shift from the top 2×2 block
    const rte = Math.sqrt(e[l]);
    const t = (d[l + 1] - d[l]) / (2 * rte);
    const r0 = Math.hypot(t, 1);
    const sigmaA = d[l] - rte / (t + (t >= 0 ? r0 : -r0));
    startChase(d, m, sigmaA, a);
    if (m - l < 3 || iter > PAIRED_STEPS) {
      rotations(d, e, m - 1, l, m, sigmaA, a);
      endChase(d, e, l, sigmaA, a);
      continue;
    }
    const sigmaB = d[l] + d[l + 1] - sigmaA;
    rotations(d, e, m - 1, m - 2, m, sigmaA, a);
    startChase(d, m, sigmaB, b); // d[m] is final for the first chase now
    pairedRotations(d, e, m, l, sigmaA, a, sigmaB, b);
    endChase(d, e, l, sigmaA, a);
    rotations(d, e, l + 1, l, m, sigmaB, b);
    endChase(d, e, l, sigmaB, b);
  }
  for (let i = lo; i <= hi; i++) {
    d[i] /= scale;
    // a NaN (from a 0/0 in a chase, which no input has produced) goes to the caller's Jacobi solver, not out
    if (Number.isNaN(d[i])) return false;
  }
  return true;
}

/** A chase's running values: `[c, s, γ, p]` of dsterf's recurrence. */
type ChaseState = Float64Array;

function startChase(d: Float64Array, m: number, sigma: number, st: ChaseState): void {
  const gamma = d[m] - sigma;
  st[0] = 1;
  st[1] = 0;
  st[2] = gamma;
  st[3] = gamma * gamma;
}

function endChase(d: Float64Array, e: Float64Array, l: number, sigma: number, st: ChaseState): void {
  e[l] = st[1] * st[3];
  d[l] = sigma + st[2];
}

/**
 * Rotations i = from, from − 1, …, to of the chase that started at row m with shift σ. dsterf's recurrence,
 * rearranged so that one division (1/r) lies on the chain from one rotation to the next where dsterf has two
 * (p/r, then γ²/c), and 1/p is computed beside it: c = p/r, s = bb/r, γ = (p(α − σ) − bb·γ')/r and the next
 * p = γ²/c = γ·(p(α − σ) − bb·γ')/p (bb·c' when p = 0). bb > 0 in an unreduced block, so r > 0 — except where
 * a second chase meets the row its first chase decoupled (below).
 */
function rotations(
  d: Float64Array,
  e: Float64Array,
  from: number,
  to: number,
  m: number,
  sigma: number,
  st: ChaseState,
): void {
  let c = st[0];
  let s = st[1];
  let gamma = st[2];
  let p = st[3];
  for (let i = from; i >= to; i--) {
    const bb = e[i];
    const r = p + bb;
    if (i !== m - 1) e[i + 1] = s * r;
    const alpha = d[i];
    if (r === 0) {
      // p = bb = 0, which the second of two paired chases meets at the top row when the first ended there with
      // e[l] = s·p = 0 (the Laplacian of order 17): row i is no longer coupled to the rows below, so the chase
      // below ends and starts afresh at row i — the identity rotation, the limit of the formulas below as bb → 0
      const g = alpha - sigma;
      d[i + 1] = gamma + (alpha - g);
      c = 1;
      s = 0;
      gamma = g;
      p = g * g;
      continue;
    }
    const invP = 1 / p;
    const numerator = p * (alpha - sigma) - bb * gamma;
    const invR = 1 / r;
    const g = numerator * invR;
    d[i + 1] = gamma + (alpha - g);
    const next = p !== 0 ? g * (numerator * invP) : c * bb;
    c = p * invR;
    s = bb * invR;
    gamma = g;
    p = next;
  }
  st[0] = c;
  st[1] = s;
  st[2] = gamma;
  st[3] = p;
}

/**
 * Rotations i = m − 3, …, l of chase A together with rotations i + 2 of chase B (B two rows behind A: it reads
 * d[i + 2] and e[i + 2] after A's rotation i + 1 wrote them). The recurrence of {@link rotations}, written out
 * for both chases in one loop body so that the engine interleaves their two dependency chains (the same code
 * through a shared function and state array measured 0.57 ms instead of 0.45). B's bb here is A's s·r, both
 * positive in the unreduced block, so B's r > 0 (B meets p = bb = 0 only at the top row, in rotations()).
 */
function pairedRotations(
  d: Float64Array,
  e: Float64Array,
  m: number,
  l: number,
  sigmaA: number,
  a: ChaseState,
  sigmaB: number,
  b: ChaseState,
): void {
  let cA = a[0];
  let sA = a[1];
  let gammaA = a[2];
  let pA = a[3];
  let cB = b[0];
  let sB = b[1];
  let gammaB = b[2];
  let pB = b[3];
  for (let i = m - 3; i >= l; i--) {
    const j = i + 2;
    const bbA = e[i];
    const bbB = e[j];
    const rA = pA + bbA;
    const rB = pB + bbB;
    e[i + 1] = sA * rA;
    if (j !== m - 1) e[j + 1] = sB * rB;
    const invPA = 1 / pA;
    const invPB = 1 / pB;
    const alphaA = d[i];
    const alphaB = d[j];
    const numeratorA = pA * (alphaA - sigmaA) - bbA * gammaA;
    const numeratorB = pB * (alphaB - sigmaB) - bbB * gammaB;
    const invRA = 1 / rA;
    const invRB = 1 / rB;
    const gA = numeratorA * invRA;
    const gB = numeratorB * invRB;
    d[i + 1] = gammaA + (alphaA - gA);
    d[j + 1] = gammaB + (alphaB - gB);
    const nextA = pA !== 0 ? gA * (numeratorA * invPA) : cA * bbA;
    const nextB = pB !== 0 ? gB * (numeratorB * invPB) : cB * bbB;
    cA = pA * invRA;
    sA = bbA * invRA;
    gammaA = gA;
    pA = nextA;
    cB = pB * invRB;
    sB = bbB * invRB;
    gammaB = gB;
    pB = nextB;
  }
  a[0] = cA;
  a[1] = sA;
  a[2] = gammaA;
  a[3] = pA;
  b[0] = cB;
  b[1] = sB;
  b[2] = gammaB;
  b[3] = pB;
}
