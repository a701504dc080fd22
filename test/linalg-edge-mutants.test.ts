/**
 * Edge cases of src/metrics/linalg.ts left open by the other linalg-*-mutants tests (issue 20 item 6):
 * Jacobi on a matrix needing more than four sweeps and on an off-diagonal element so small that θ² overflows,
 * gram leaving an output array's tail alone, columnMeans' constant-column shortcut, and which centredScatter
 * kernel runs, seen in the rounding of a column built so each summation order gives a different answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  centredScatter,
  columnMeans,
  gram,
  symmetricEigen,
  symmetricEigenvaluesQL,
} from '../src/metrics/linalg.js';

describe('symmetricEigen edge cases', () => {
  it('the 12×12 second-difference matrix (7 sweeps): eigenvalues 2 − 2cos(jπ/13)', () => {
    const n = 12;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      a[i * n + i] = 2;
      if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
    }
    const expected = Array.from({ length: n }, (_, j) => 2 - 2 * Math.cos(((n - j) * Math.PI) / (n + 1)));
    const { values, sweeps } = symmetricEigen(a, n);
    assert.ok(sweeps > 4, `${sweeps} sweeps`);
    for (let j = 0; j < n; j++) {
      assert.ok(Math.abs(values[j] - expected[j]) < 1e-13, `${j}: ${values[j]} vs ${expected[j]}`);
    }
  });

  it('[[0, ε], [ε, 1]] with ε = 1e-160: θ² would overflow, t = ε/h gives the eigenvalue −ε² (subnormal)', () => {
    const e = 1e-160;
    const { values } = symmetricEigen([0, e, e, 1], 2);
    // eigenvalues (1 ± √(1 + 4ε²))/2 = 1 and −ε² to far below rounding
    assert.equal(values[0], 1);
    assert.equal(values[1], -(e * e));
    assert.ok(values[1] < 0);
  });
});

describe('symmetricEigenvaluesQL', () => {
  it('rejects a negative size even when a holds k² values', () => {
    assert.throws(
      () => symmetricEigenvaluesQL([1, 2, 3, 4], -2),
      /symmetricEigenvaluesQL: need a -2×-2 matrix/,
    );
  });
});

describe('gram', () => {
  it('writes only the first rows² entries of a longer output array', () => {
    for (const rows of [4, 5, 8]) {
      const a = Float64Array.from({ length: rows * 3 }, (_, i) => i + 1);
      const out = new Float64Array(rows * rows + 3).fill(7);
      gram(a, rows, 3, out, { kernel: 'js' });
      assert.deepEqual(Array.from(out.subarray(rows * rows)), [7, 7, 7], `${rows} rows`);
      // row 0 of A·Aᵀ: 1·1 + 2·2 + 3·3 = 14, then 1·4 + 2·5 + 3·6 = 32
      assert.deepEqual([out[0], out[1], out[rows]], [14, 32, 32]);
    }
  });
});

describe('columnMeans: the constant-column shortcut', () => {
  it('the first row differing from the constant rest is not taken as the constant', () => {
    assert.deepEqual(Array.from(columnMeans([5, 1, 1], 3, 1)), [7 / 3]);
    assert.deepEqual(Array.from(columnMeans([5, 1, 1], 3, 1, Uint8Array.of(1, 1, 1))), [7 / 3]);
  });

  it('a column constant over the selected rows only gets its value exactly', () => {
    // (0.1 + 0.1 + 0.1) / 3 is 0.10000000000000002; the unselected row 1 (9) must not break constancy
    const s = columnMeans([0.1, 9, 0.1, 0.1], 4, 1, Uint8Array.of(1, 0, 1, 1));
    assert.deepEqual(Array.from(s), [0.1]);
  });

  it('the constant check reads the right column of each row (3 columns, the middle one constant)', () => {
    const a = [1, 0.1, 5, 2, 0.1, 6, 3, 0.1, 7];
    assert.deepEqual(Array.from(columnMeans(a, 3, 3)), [2, 0.1, 6]);
  });
});

describe('centredScatter: which kernel runs, seen in the rounding', () => {
  // Centred column 0 (mean 0) x = 1, 1, 2⁻²⁶, 2⁻²⁷, 2⁻²⁶: squares 1, 1, 2⁻⁵², 2⁻⁵⁴, 2⁻⁵² (ulp(2) = 2⁻⁵¹).
  //  - row by row (3×3 kernel; Gram of 16 columns; 1×1 with a selection): 2 + 2⁻⁵² ties to 2, + 2⁻⁵⁴ and
  //    + 2⁻⁵² stay 2 → 2.
  //  - row pairs (2…15 columns): (1 + 1) + (2⁻⁵² + 2⁻⁵⁴) rounds up to 2 + 2⁻⁵¹, + 2⁻⁵² ties to even 2 + 2⁻⁵⁰.
  //  - 1×1 without a selection (even rows, odd rows): (1 + 2⁻⁵² + 2⁻⁵²) + (1 + 2⁻⁵⁴ → 1) = 2 + 2⁻⁵¹.
  const x = [1, 1, 2 ** -26, 2 ** -27, 2 ** -26];
  const cases: [number, number][] = [
    [1, 2 + 2 ** -51],
    [2, 2 + 2 ** -50],
    [3, 2 + 2 ** -50],
    [9, 2],
    [15, 2 + 2 ** -50],
    [16, 2],
  ];
  for (const [cols, s00] of cases) {
    it(`${cols} column(s)`, () => {
      const a = new Float64Array(5 * cols);
      x.forEach((v, r) => {
        a[r * cols] = v;
      });
      const s = centredScatter(a, 5, cols, new Float64Array(cols));
      assert.equal(s[0], s00);
      assert.ok(s.every((v, i) => i === 0 || v === 0));
    });
  }
  it('17 columns with a selection: the Gram kernel sums only the selected rows (no zero padding)', () => {
    // column 16 is the Gram kernel's leftover row, summed by dotRange with four accumulators: over the six
    // selected rows x = 1, 2⁻²⁶, 1, 2⁻²⁶, 1, 2⁻²⁶ (squares 1, 2⁻⁵², …) (2 + 2⁻⁵² → 2) + (1 + 2⁻⁵²) ties to 3;
    // padded to eight with two zeros the accumulators are 2, 2⁻⁵¹, 1, 2⁻⁵² and the sum is above 3.
    const cols = 17;
    const sel = Uint8Array.of(1, 1, 0, 1, 1, 1, 1, 0);
    const a = new Float64Array(8 * cols);
    const x = [1, 2 ** -26, 1, 2 ** -26, 1, 2 ** -26];
    for (let r = 0, i = 0; r < 8; r++) a[r * cols + 16] = sel[r] ? x[i++] : 5;
    const s = centredScatter(a, 8, cols, new Float64Array(cols), sel);
    assert.equal(s[16 * cols + 16], 3);
  });

  it('1 column with a selection: row by row', () => {
    assert.equal(centredScatter(Float64Array.from(x), 5, 1, [0], new Uint8Array(5).fill(1))[0], 2);
  });
});
