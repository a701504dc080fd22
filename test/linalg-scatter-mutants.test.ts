/**
 * columnMeans and centredScatter of src/metrics/linalg.ts (issue 20 item 6): exact answers on small integer
 * matrices (summed here by the definition) through every kernel (1×1, row pairs, unrolled 3×3, Gram) and row
 * selection, and the exact mean of a constant column.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { centredScatter, columnMeans, SCATTER_GRAM_MIN_COLS } from '../src/metrics/linalg.js';
import { ints } from './support/exact-matrices.js';

/** Σ over selected rows of (a_ri − m_i)(a_rj − m_j), by the definition. */
function naiveScatter(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
  mean: ArrayLike<number>,
  sel?: Uint8Array,
) {
  const s: number[] = [];
  for (let i = 0; i < cols; i++)
    for (let j = 0; j < cols; j++) {
      let t = 0;
      for (let r = 0; r < rows; r++)
        if (!sel || sel[r]) t += (a[r * cols + i] - mean[i]) * (a[r * cols + j] - mean[j]);
      s.push(t);
    }
  return s;
}

describe('columnMeans', () => {
  it('means of the selected rows; a constant column gets its value exactly', () => {
    // column 0 is 0.1 in every row: sum/3 would be 0.10000000000000002
    const a = Float64Array.of(0.1, 1, 5, 0.1, 2, 5, 0.1, 6, 7, 0.3, 100, 5);
    assert.notEqual((0.1 + 0.1 + 0.1) / 3, 0.1);
    assert.deepEqual(Array.from(columnMeans(a, 3, 3)), [0.1, 3, 17 / 3]);
    assert.deepEqual(Array.from(columnMeans(a, 4, 3)), [(0.1 + 0.1 + 0.1 + 0.3) / 4, 109 / 4, 22 / 4]);
    // rows 0, 1, 3: column 0 is not constant (0.3), column 2 is (5 5 _ 5) though row 2 (unselected) differs
    assert.deepEqual(Array.from(columnMeans(a, 4, 3, Uint8Array.of(1, 1, 0, 1))), [
      (0.1 + 0.1 + 0.3) / 3,
      103 / 3,
      5,
    ]);
    // the first selected row is the constant's value: rows 2 and 3 only
    assert.deepEqual(Array.from(columnMeans(a, 4, 3, Uint8Array.of(0, 0, 1, 1))), [(0.1 + 0.3) / 2, 53, 6]);
    assert.deepEqual(Array.from(columnMeans(a, 4, 3, Uint8Array.of(0, 1, 0, 0))), [0.1, 2, 5]);
    assert.deepEqual(Array.from(columnMeans(a, 4, 3, new Uint8Array(4))), [0, 0, 0]);
    assert.deepEqual(Array.from(columnMeans(a, 0, 3)), [0, 0, 0]);
    assert.deepEqual(Array.from(columnMeans(a, 4, 3, null)), Array.from(columnMeans(a, 4, 3)));
  });
});

describe('centredScatter: exact integer answers on every kernel', () => {
  for (const cols of [1, 2, 3, 5, 9, 15, 16, 25]) {
    it(`${cols} columns (${cols === 1 ? '1×1' : cols === 9 ? 'unrolled 3×3' : cols >= SCATTER_GRAM_MIN_COLS ? 'Gram' : 'row pairs'}), all rows and selections of odd and even counts`, () => {
      for (const rows of [1, 2, 5, 6, 17]) {
        const a = ints(rows * cols, cols * 101 + rows);
        // integer means keep every centred value and product exact; none is 0 (a zero mean m_j cannot tell
        // a_rj − m_j from a_rj + m_j) and the signs differ
        const mean = Float64Array.from({ length: cols }, (_, j) => [-1, 2, 1][j % 3]);
        const sels = [
          undefined,
          Uint8Array.from({ length: rows }, (_, r) => (r % 3 === 1 ? 0 : 1)),
          Uint8Array.from({ length: rows }, (_, r) => (r === rows - 1 ? 1 : 0)),
          Uint8Array.from({ length: rows }, (_, r) => (r < 2 ? 2 : 0)), // any non-zero selects
          new Uint8Array(rows),
        ];
        for (const sel of sels) {
          const s = centredScatter(a, rows, cols, mean, sel);
          assert.equal(s.length, cols * cols);
          assert.deepEqual(
            Array.from(s, (x) => x + 0),
            naiveScatter(a, rows, cols, mean, sel),
            `${rows} rows, ${sel}`,
          );
        }
        assert.deepEqual(
          Array.from(centredScatter(a, rows, cols, mean, null)),
          Array.from(centredScatter(a, rows, cols, mean)),
        );
      }
    });
  }

  it('reads float32 weights widened to float64', () => {
    const a = Float32Array.of(0.1, 0.2, 0.3, 0.5);
    const mean = [0, 0];
    const s = centredScatter(a, 2, 2, mean);
    assert.equal(s[1], Math.fround(0.1) * Math.fround(0.2) + Math.fround(0.3) * Math.fround(0.5));
    assert.equal(SCATTER_GRAM_MIN_COLS, 16);
  });
});
