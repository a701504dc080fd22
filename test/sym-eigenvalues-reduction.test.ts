/**
 * The WebAssembly reduction of src/metrics/sym-eigenvalues.ts (wasm/tridiag.wat's `tridiagonalize`, the whole
 * Householder loop in one call) against its JS twin, tighter than the numpy tolerances of the other eigenvalue
 * tests: both do the same operations except for the summation order inside the fused pass, and that pass rounds
 * identically while it covers at most 3 rows (each of p's sums then has the same association in both), so
 * orders 1–4 must give the same bits, zero rows included; larger orders must agree to rounding. Then the single
 * checking/copying pass over the lower triangle: non-finite entries anywhere in it are refused, `a` stays as it
 * was, and a refused matrix leaves nothing behind for the next one.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTridiagWasm, symmetricEigenvalues } from '../src/metrics/sym-eigenvalues.js';
import { symmetricFromGenerator as symmetric } from './support/symmetric.js';

after(() => setTridiagWasm(true));

function bothKernels(a: Float64Array, n: number): { wasm: Float64Array; js: Float64Array } {
  setTridiagWasm(true);
  const wasm = symmetricEigenvalues(a, n);
  setTridiagWasm(false);
  const js = symmetricEigenvalues(a, n);
  setTridiagWasm(true);
  return { wasm, js };
}

/** Rows and columns `rows` set to zero; `keepSub` keeps each row's sub-diagonal entry (a one-entry reflector). */
function zeroRows(a: Float64Array, n: number, rows: number[], keepSub: boolean): Float64Array {
  for (const r of rows)
    for (let j = 0; j < n; j++) {
      if (keepSub && j === r - 1) continue;
      a[r * n + j] = a[j * n + r] = 0;
    }
  return a;
}

describe('symmetricEigenvalues: the WebAssembly reduction against the JS one', () => {
  test('orders 1–4, 40 random matrices each: the same bits', () => {
    // a larger matrix first, so the kernel's scratch vectors hold stale values
    symmetricEigenvalues(symmetric(40, 1), 40);
    for (let n = 1; n <= 4; n++)
      for (let seed = 1; seed <= 40; seed++) {
        const { wasm, js } = bothKernels(symmetric(n, 1000 * n + seed), n);
        assert.deepEqual(wasm, js, `n = ${n}, seed ${seed}`);
      }
  });

  test('orders 2–4 with zero rows (the reflector skipped, the next product recomputed): the same bits', () => {
    let cases = 0;
    for (let n = 2; n <= 4; n++)
      for (let mask = 1; mask < 1 << n; mask++) {
        const rows = [...Array(n).keys()].filter((r) => mask & (1 << r));
        for (const keepSub of [false, true]) {
          const a = zeroRows(symmetric(n, 77 + mask), n, rows, keepSub);
          const { wasm, js } = bothKernels(a, n);
          assert.deepEqual(
            wasm,
            js,
            `n = ${n}, zero rows ${rows}${keepSub ? ' but their sub-diagonal' : ''}`,
          );
          cases++;
        }
      }
    assert.equal(cases, 2 * (3 + 7 + 15));
  });

  test('diagonal matrices (every row zero left of the diagonal: no reflector at all): the same bits', () => {
    for (const n of [5, 16, 33]) {
      const a = new Float64Array(n * n);
      const w = symmetric(n, n);
      for (let i = 0; i < n; i++) a[i * n + i] = w[i * n + i];
      const { wasm, js } = bothKernels(a, n);
      assert.deepEqual(wasm, js, `n = ${n}`);
      assert.deepEqual(
        wasm,
        Float64Array.from({ length: n }, (_, i) => a[i * n + i]).sort(),
        'the diagonal itself',
      );
    }
  });

  test("block-diagonal matrices: the union of the blocks' eigenvalues (both kernels)", () => {
    // diag(B, C) with B of order r: the steps reduce C first (their vectors vanish in B's columns), then row r
    // has nothing left of its diagonal — no reflector — and the first step in B computes its product afresh
    // over vectors the earlier steps left behind. The result must be B's and C's eigenvalues, each solved alone.
    for (const [n, r] of [
      [9, 5],
      [12, 6],
      [12, 9],
    ]) {
      const b = symmetric(r, 100 + r);
      const c = symmetric(n - r, 200 + n);
      const a = new Float64Array(n * n);
      for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) a[i * n + j] = b[i * r + j];
      for (let i = r; i < n; i++) for (let j = r; j < n; j++) a[i * n + j] = c[(i - r) * (n - r) + j - r];
      for (const kernel of [true, false]) {
        setTridiagWasm(kernel);
        const got = Array.from(symmetricEigenvalues(a, n));
        const want = [...symmetricEigenvalues(b, r), ...symmetricEigenvalues(c, n - r)].sort((x, y) => x - y);
        const norm = Math.max(...want.map(Math.abs));
        for (let i = 0; i < n; i++)
          assert.ok(
            Math.abs(got[i] - want[i]) <= 4 * n * Number.EPSILON * norm,
            `${kernel ? 'wasm' : 'JS'} ${n}, blocks ${r} + ${n - r}: λ${i} ${got[i]} vs ${want[i]}`,
          );
      }
      setTridiagWasm(true);
    }
  });

  test('orders 0 and 1 on both kernels: no eigenvalue, then the entry itself', () => {
    for (const kernel of [true, false]) {
      setTridiagWasm(kernel);
      assert.deepEqual(Array.from(symmetricEigenvalues(new Float64Array(0), 0)), [], `${kernel}: order 0`);
      assert.deepEqual(
        Array.from(symmetricEigenvalues(Float64Array.of(-2.5), 1)),
        [-2.5],
        `${kernel}: order 1`,
      );
    }
    setTridiagWasm(true);
  });

  test('odd and even orders up to 65, zero rows among them: agree to n·eps·‖A‖ and differ somewhere', () => {
    let differ = 0;
    for (const n of [5, 6, 16, 31, 32, 33, 64, 65])
      for (const [label, a] of [
        ['random', symmetric(n, n)],
        // the last two rows zero (the first reflector and the one after it skipped), pairs of zero rows inside
        ['zero rows', zeroRows(symmetric(n, n + 1), n, [n - 1, n - 2, 1, 2], false)],
        // rows with one entry left of the diagonal: a reflector of one element
        ['one-entry rows', zeroRows(symmetric(n, n + 2), n, [n - 1, n - 3, 3, 4], true)],
      ] as const) {
        const { wasm, js } = bothKernels(a, n);
        const norm = Math.max(...js.map(Math.abs));
        for (let i = 0; i < n; i++) {
          assert.ok(
            Math.abs(wasm[i] - js[i]) <= n * Number.EPSILON * norm,
            `${label} ${n}: λ${i} ${wasm[i]} vs ${js[i]}`,
          );
          if (wasm[i] !== js[i]) differ++;
        }
      }
    assert.ok(differ > 0, 'the kernels sum the fused pass in different orders, so some bits differ');
  });
});

for (const wasm of [true, false])
  describe(`symmetricEigenvalues: one pass checks and copies the lower triangle (${wasm ? 'WebAssembly' : 'JS'} kernel)`, () => {
    test('NaN or ±∞ anywhere in the lower triangle is refused, `a` is left as it was, the next matrix is unharmed', () => {
      setTridiagWasm(wasm);
      const n = 7;
      const good = symmetric(n, 7);
      const expected = symmetricEigenvalues(good, n);
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
        for (const [i, j] of [
          [0, 0],
          [3, 1],
          [6, 5],
          [6, 6],
        ]) {
          const a = good.slice();
          a[i * n + j] = bad;
          a[(n - 1) * n] = 1e300; // a larger finite entry before or after the bad one in the pass: it still wins
          const copy = a.slice();
          assert.throws(() => symmetricEigenvalues(a, n), {
            name: 'RangeError',
            message: 'symmetricEigenvalues: non-finite entry',
          });
          assert.deepEqual(a, copy, `${bad} at (${i}, ${j}): the input is unchanged`);
          assert.deepEqual(
            symmetricEigenvalues(good, n),
            expected,
            'the next matrix gives its own eigenvalues',
          );
        }
      setTridiagWasm(true);
    });
  });
