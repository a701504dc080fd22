/**
 * The JS glue of the WebAssembly Gram kernel (src/metrics/wasm/gram.ts; issue 20 item 6): memory growth, zero
 * padding of rows and columns over memory left by earlier, larger calls, the copy out, the column chunks
 * (seen in the rounding of rows built so that each chunking gives a different, hand-derived float64 answer)
 * and the refusals. Answers are exact integers summed here by the definition. The first test must run first
 * in a fresh process: it is the one that makes the kernel's memory grow past its first 64 KiB page.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  crossGramWasm,
  decodeBase64,
  gramWasm,
  WASM_GRAM_BLOCK_COLS,
  wasmGramAvailable,
} from '../src/metrics/wasm/gram.js';
import { checkCrossShapes, ints, naiveCross } from './support/exact-matrices.js';

function checkGram(rows: number, cols: number, seed: number, blockCols?: number) {
  const a = ints(rows * cols, seed);
  const c = new Float64Array(rows * rows + 2).fill(3);
  assert.equal(gramWasm(a, rows, cols, c, blockCols), true);
  assert.deepEqual(
    Array.from(c.subarray(0, rows * rows)),
    naiveCross(a, rows, a, rows, cols),
    `${rows}×${cols}`,
  );
  assert.deepEqual(Array.from(c.subarray(rows * rows)), [3, 3], 'nothing written past rows²');
}

describe('gramWasm', () => {
  it('grows its memory past the first page (12×1001: 97 536 bytes) and gives the exact Gram matrix', () => {
    assert.equal(wasmGramAvailable(), true);
    checkGram(12, 1001, 1);
    checkGram(40, 1003, 2); // ~330 KiB: grows again
  });

  it('pads rows and columns with zeros over the larger matrices left in memory, and clears the output', () => {
    for (const [rows, cols] of [
      [5, 6],
      [5, 6], // the same size again: the output area held the last answer
      [1, 1],
      [3, 8], // no column padding
      [4, 3],
      [7, 13],
      [9, 2],
    ])
      checkGram(rows, cols, rows * 100 + cols);
  });

  it('reads only rows × cols values of a longer input', () => {
    for (const [rows, cols] of [
      [4, 3],
      [8, 5],
      [3, 4],
    ]) {
      const a = ints(rows * cols + cols, 11);
      const c = new Float64Array(rows * rows);
      assert.equal(gramWasm(a, rows, cols, c), true);
      assert.deepEqual(Array.from(c), naiveCross(a, rows, a, rows, cols), `${rows}×${cols}`);
      const x = ints(rows * cols + cols, 12);
      const out = new Float64Array(rows * rows);
      assert.equal(crossGramWasm(x, rows, a, rows, cols, out), true);
      assert.deepEqual(Array.from(out), naiveCross(x, rows, a, rows, cols));
    }
  });

  it('gives the same exact answers for every column chunk width', () => {
    for (const b of [1, 4, 5, 8, 9, Number.POSITIVE_INFINITY, Number.NaN]) checkGram(6, 23, 7, b);
  });

  /**
   * x = (1, 1, …), y = 1e16, 1, −1e16, 1 at columns 0, s, 2s, 3s. The kernel sums each chunk's even columns in
   * one lane, in order, and adds each chunk's total into C. One chunk holding all four: 1e16 + 1 rounds to 1e16,
   * − 1e16 → 0, + 1 → 1. A chunk boundary between 0, s and 2s, 3s: 1e16 + 1 → 1e16, then −1e16 + 1 → −1e16 in
   * the next chunk, and C = 1e16 − 1e16 = 0. Chunks of at most s columns add each term into C in order: 1.
   */
  function chunked(s: number, cols: number, blockCols?: number): number {
    const a = new Float64Array(2 * cols);
    a.fill(1, 0, cols);
    a[cols] = 1e16;
    a[cols + s] = 1;
    a[cols + 2 * s] = -1e16;
    a[cols + 3 * s] = 1;
    const c = new Float64Array(4);
    assert.ok(gramWasm(a, 2, cols, c, blockCols));
    assert.equal(c[2], c[1], 'symmetric');
    return c[1];
  }

  it('chunks of blockCols rounded down to a multiple of 4, at least 4; non-finite: one chunk', () => {
    assert.equal(chunked(4, 16, 8), 0);
    assert.equal(chunked(4, 16, 9), 0); // → 8
    assert.equal(chunked(4, 16, 11), 0); // → 8
    assert.equal(chunked(4, 16, 4), 1);
    assert.equal(chunked(4, 16, 5), 1); // → 4
    assert.equal(chunked(4, 16, 1), 1); // → 4
    assert.equal(chunked(4, 16, 12), 1);
    assert.equal(chunked(4, 16, Number.POSITIVE_INFINITY), 1);
    assert.equal(chunked(4, 16, Number.NaN), 1);
  });

  it('512 columns per chunk by default', () => {
    assert.equal(WASM_GRAM_BLOCK_COLS, 512);
    assert.equal(chunked(256, 1024), 0);
    assert.equal(chunked(256, 1024, 512), 0);
    assert.equal(chunked(256, 1024, 256), 1);
    assert.equal(chunked(256, 1024, 1024), 1);
  });

  it('refuses a matrix its 2 GiB memory cannot hold, leaving the output untouched', () => {
    const c = new Float64Array(4).fill(3);
    // 16 384 rows: a 2 GiB output alone
    assert.equal(gramWasm(new Float64Array(16384), 16384, 1, c), false);
    assert.deepEqual(Array.from(c), [3, 3, 3, 3]);
    // 8 rows of 2^25 columns: 2 GiB of input (refused before anything is read or copied)
    assert.equal(gramWasm(new Float64Array(0), 8, 2 ** 25, c), false);
    assert.deepEqual(Array.from(c), [3, 3, 3, 3]);
  });
});

describe('crossGramWasm', () => {
  it('X·Yᵀ of stacked blocks, padded, over larger matrices left in memory, in the default chunks', () => {
    checkGram(30, 1100, 9); // leave big non-zero data in memory
    const shapes = [
      [1, 1, 1],
      [5, 3, 7],
      [3, 5, 7],
      [4, 4, 8],
      [2, 9, 30],
      [6, 2, 1029],
    ];
    checkCrossShapes(shapes, 0, 3, (x, rx, y, ry, cols, out) => {
      assert.equal(crossGramWasm(x, rx, y, ry, cols, out), true);
    });
    // the default 512-column chunks (see gramWasm's chunk test)
    const x = new Float64Array(1024).fill(1);
    const y = new Float64Array(1024);
    y[0] = 1e16;
    y[256] = 1;
    y[512] = -1e16;
    y[768] = 1;
    const c = new Float64Array(1);
    assert.ok(crossGramWasm(x, 1, y, 1, 1024, c));
    assert.equal(c[0], 0);
  });

  it('refuses no rows on either side and matrices too big, leaving the output untouched', () => {
    const c = new Float64Array(2).fill(3);
    assert.equal(crossGramWasm(new Float64Array(0), 0, ints(4, 1), 1, 4, c), false);
    assert.equal(crossGramWasm(ints(4, 1), 1, new Float64Array(0), 0, 4, c), false);
    // 8192 + 8192 stacked rows: a 2 GiB output area
    assert.equal(crossGramWasm(new Float64Array(0), 8192, new Float64Array(0), 8192, 1, c), false);
    assert.deepEqual(Array.from(c), [3, 3]);
  });
});

describe('decodeBase64', () => {
  it('decodes standard base64 to bytes', () => {
    assert.deepEqual(Array.from(decodeBase64('AAEC/w==')), [0, 1, 2, 255]);
    assert.deepEqual(Array.from(decodeBase64('')), []);
    assert.ok(decodeBase64('AA==') instanceof Uint8Array);
  });
});
