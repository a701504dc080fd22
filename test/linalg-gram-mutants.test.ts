/**
 * gram and crossGram of src/metrics/linalg.ts (issue 20 item 6): exact integer answers (summed here by the
 * definition) on every kernel path, and which kernel and column blocks run, seen in the rounding of rows built
 * so that each summation order gives a different, hand-derived float64 answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  crossGram,
  GRAM_BLOCK_COLS,
  gram,
  setGramKernel,
  WASM_GRAM_MIN_MACS,
} from '../src/metrics/linalg.js';
import { checkCrossShapes, ints, naiveCross } from './support/exact-matrices.js';

describe('gram: exact integer answers on every path', () => {
  it('the JS kernel: all shapes around the 4×2 micro-kernel and dotRange edges, every block width', () => {
    for (const rows of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]) {
      for (const cols of [1, 2, 3, 4, 5, 7, 8, 9, 13]) {
        const a = ints(rows * cols, rows * 31 + cols);
        const want = naiveCross(a, rows, a, rows, cols);
        for (const blockCols of [undefined, 1, 2, 3, 5, Number.POSITIVE_INFINITY, 0]) {
          const out = new Float64Array(rows * rows).fill(7); // garbage to be cleared
          const c = gram(a, rows, cols, out, { kernel: 'js', blockCols });
          assert.equal(c, out);
          assert.deepEqual(Array.from(c), want, `${rows}×${cols} block ${blockCols}`);
        }
      }
    }
  });

  it('the WebAssembly kernel and auto, small and large (several column blocks), into a longer out', () => {
    for (const [rows, cols] of [
      [1, 1],
      [3, 5],
      [6, 9],
      [9, 1030],
      [13, 700],
    ]) {
      const a = ints(rows * cols, rows + 7 * cols);
      const want = naiveCross(a, rows, a, rows, cols);
      for (const kernel of ['wasm', 'auto'] as const) {
        for (const blockCols of [undefined, 4, 7, 512]) {
          const out = new Float64Array(rows * rows + 3).fill(5);
          gram(a, rows, cols, out, { kernel, blockCols });
          assert.deepEqual(
            Array.from(out.subarray(0, rows * rows)),
            want,
            `${kernel} ${rows}×${cols} ${blockCols}`,
          );
          assert.deepEqual(Array.from(out.subarray(rows * rows)), [5, 5, 5], 'nothing written past rows²');
        }
      }
    }
    assert.equal(GRAM_BLOCK_COLS, 512);
  });

  it('checks sizes, and says when the WebAssembly kernel cannot take the matrix', () => {
    const a = Float64Array.of(1, 2, 3, 4, 5, 6);
    assert.deepEqual(Array.from(gram(a, 2, 3)), [14, 32, 32, 77]);
    assert.deepEqual(Array.from(gram(a.subarray(0, 0), 0, 3)), []);
    assert.throws(() => gram(a, 3, 3), { name: 'RangeError', message: 'gram: 3×3 needs 9 values, got 6' });
    assert.throws(() => gram(a, 2, 3, new Float64Array(3)), {
      name: 'RangeError',
      message: 'gram: output needs 4 values, got 3',
    });
    // 20 000 rows: a 3.2 GB output would not fit the kernel's 2 GiB memory (refused before any copy)
    const rows = 20_000;
    const fake = { length: rows * rows } as unknown as Float64Array;
    assert.throws(
      () => gram(new Float64Array(rows), rows, 1, fake, { kernel: 'wasm' }),
      (e: Error) =>
        !(e instanceof RangeError) &&
        e.message === `gram: the WebAssembly SIMD kernel is not available here (or ${rows}×1 is too big)`,
    );
  });
});

/**
 * Rows whose dot product depends on the summation order: x = (1, 1, 1, 1, 0, …), y = (1e16, 1, −1e16, 1, 0, …).
 * In order (the JS micro-kernel): 1e16 + 1 rounds to 1e16, − 1e16 → 0, + 1 → 1. Two lanes (WebAssembly, even and
 * odd columns): (1e16 − 1e16) + (1 + 1) = 2. Four accumulators (JS dotRange, for rows past the last block of 4):
 * (1e16 + 1) + (−1e16 + 1) = 1e16 − 1e16 = 0.
 */
function orderProbe(rows: number, cols: number): Float64Array {
  const a = new Float64Array(rows * cols);
  a.fill(1, 0, 4);
  a.set([1e16, 1, -1e16, 1], cols);
  return a;
}
const probe = (rows: number, cols: number, kernel?: 'auto' | 'js' | 'wasm') =>
  gram(orderProbe(rows, cols), rows, cols, undefined, kernel ? { kernel } : {})[1];

describe('gram and crossGram: which kernel runs (seen in the rounding)', () => {
  it('the three summation orders give 1, 2 and 0', () => {
    assert.equal(probe(8, 4, 'js'), 1);
    assert.equal(probe(8, 4, 'wasm'), 2);
    assert.equal(probe(2, 4, 'js'), 0); // two rows: dotRange
  });

  it('auto: WebAssembly from rows²·cols/2 ≥ 32768 multiply-adds and 2 rows, JS below', () => {
    assert.equal(WASM_GRAM_MIN_MACS, 32768);
    assert.equal(probe(8, 1024), 2); // exactly 32768
    assert.equal(probe(8, 1023), 1);
    assert.equal(probe(2, 16384), 2); // 2 rows, 32768
    assert.equal(probe(2, 16383), 0);
    // one row of 65536: 32768 multiply-adds, but a single dot product stays in JS (4 accumulators)
    const one = new Float64Array(65536);
    one.set([2 ** 27, 1, 0, 1, 0, 1, 0, 1]); // in JS: (2^54 + 2) + 2 → 2^54 twice (ties to even); in lanes 2^54 + 4
    assert.equal(gram(one, 1, 65536)[0], 2 ** 54);
    assert.equal(gram(one, 1, 65536, undefined, { kernel: 'wasm' })[0], 2 ** 54 + 4);
  });

  /**
   * The JS kernel sums each column block in order and adds the block's sum into C. Row x = ones, row y = 1e16,
   * 1, −1e16, 1 at columns 0, s, 2s, 3s: one block holding all four gives 1 (1e16 + 1 rounds to 1e16, − 1e16,
   * + 1); a block boundary between s and 2s gives 1e16 + (−1e16) = 0; blocks of at most s columns add each term
   * into C in order, and so do blocks that split 2s from 3s: 1. `pair` picks the kernel path: rows (0, 1) of 8 (4×2 micro-kernel), (0, 4) of 5 (the odd
   * last column), (4, 5) of 6 (dotRange, whose accumulator for columns ≡ 0 mod 4 sees all four terms).
   */
  function jsBlocks(pair: [number, number], rows: number, s: number, cols: number, blockCols?: number) {
    const a = new Float64Array(rows * cols);
    const [x, y] = pair;
    a.fill(1, x * cols, x * cols + cols);
    a[y * cols] = 1e16;
    a[y * cols + s] = 1;
    a[y * cols + 2 * s] = -1e16;
    a[y * cols + 3 * s] = 1;
    return gram(a, rows, cols, undefined, { kernel: 'js', blockCols })[x * rows + y];
  }

  it('the JS kernel adds one column block at a time into C (512 columns by default)', () => {
    for (const [pair, rows] of [
      [[0, 1], 8],
      [[0, 4], 5],
      [[4, 5], 6],
    ] as [[number, number], number][]) {
      const what = `rows ${pair} of ${rows}`;
      assert.equal(jsBlocks(pair, rows, 4, 16, 8), 0, what);
      assert.equal(jsBlocks(pair, rows, 4, 16, 7), 0, what);
      assert.equal(jsBlocks(pair, rows, 4, 16, 6), 1, what); // 8 and 12 in different blocks
      assert.equal(jsBlocks(pair, rows, 4, 16, 4), 1, what);
      assert.equal(jsBlocks(pair, rows, 4, 16, 0), 1, what); // at least 1
      assert.equal(jsBlocks(pair, rows, 4, 16, 12), 1, what);
      assert.equal(jsBlocks(pair, rows, 4, 16, Number.POSITIVE_INFINITY), 1, what);
      assert.equal(jsBlocks(pair, rows, 256, 1024), 0, what);
      assert.equal(jsBlocks(pair, rows, 256, 1024, 1024), 1, what);
      assert.equal(jsBlocks(pair, rows, 256, 1024, 4096), 1, what); // at most cols
    }
    // the WebAssembly kernel takes blockCols too (in multiples of 4)
    const a = new Float64Array(2 * 16);
    a.fill(1, 0, 16);
    a.set([1e16, 0, 0, 0, 1, 0, 0, 0, -1e16, 0, 0, 0, 1], 16);
    assert.equal(gram(a, 2, 16, undefined, { kernel: 'wasm', blockCols: 8 })[1], 0);
    assert.equal(gram(a, 2, 16, undefined, { kernel: 'wasm', blockCols: 16 })[1], 1);
  });

  it('setGramKernel("js") keeps auto and crossGram in JS; it returns the previous setting', () => {
    const x = new Float64Array(32).fill(1, 0, 4);
    const y = orderProbe(2, 16).subarray(16);
    const out = new Float64Array(2);
    const cross = () => crossGram(x, 2, y, 1, 16, out)[0];
    assert.equal(cross(), 2); // 16 columns: WebAssembly
    assert.equal(setGramKernel('js'), 'auto');
    try {
      assert.equal(probe(8, 1024), 1);
      assert.equal(probe(8, 1024, 'wasm'), 2, 'an explicit kernel still wins');
      assert.equal(cross(), 1);
      assert.equal(setGramKernel('js'), 'js');
    } finally {
      assert.equal(setGramKernel('auto'), 'js');
    }
    // 15 columns: plain JS dot products, in order
    const y15 = new Float64Array(15);
    y15.set([1e16, 1, -1e16, 1]);
    assert.equal(crossGram(x.subarray(0, 15), 1, y15, 1, 15, out)[0], 1);
  });
});

describe('crossGram: exact integer answers', () => {
  it('X·Yᵀ for short and long rows, X or Y empty, overwriting out', () => {
    const shapes = [
      [1, 1, 1],
      [3, 2, 5],
      [2, 5, 15],
      [5, 3, 16],
      [7, 6, 33],
      [1, 9, 40],
    ];
    checkCrossShapes(shapes, 1, 9, (x, rx, y, ry, cols, out) => {
      assert.equal(crossGram(x, rx, y, ry, cols, out), out);
    });
    const out = new Float64Array(0);
    assert.equal(crossGram(new Float64Array(0), 0, ints(32, 1), 2, 16, out), out);
    assert.equal(crossGram(ints(32, 1), 2, new Float64Array(0), 0, 16, out), out);
  });
});
