/**
 * The JavaScript side of the WebAssembly scan kernels (src/analysis/wasm/scan.ts): the thread's shared
 * instance, the heap of histograms (alignment, no overlap, zeroed over dirty memory, growth of the memory with
 * views that follow it, reset), draining, storing or not storing coefficients, the running range over both
 * lanes, the padding row, and the rows `track` picks — each against values worked out in the test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCAN_BLOCK, ScanKernels, threadScanKernels } from '../src/analysis/wasm/scan.js';

const D = 9;
const identity = Float64Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0));
const zeros = new Float64Array(D);

/** numpy.histogram's bin of x over [lo, hi] with `bins` bins (edges lo + j·step, the last one hi), or -1. */
function histogramBin(x: number, lo: number, hi: number, bins: number): number {
  if (!(x >= lo && x <= hi)) return -1;
  const step = (hi - lo) / bins;
  for (let j = bins - 1; j > 0; j--) if (x >= lo + j * step) return j;
  return 0;
}

/** Writes rows (each up to 9 values, the rest 0) into the block columns. */
function setRows(k: ScanKernels, rows: number[][]): void {
  rows.forEach((row, r) => {
    for (let j = 0; j < D; j++) k.cols[j][r] = row[j] ?? 0;
  });
}

/** Stores coefficients directly (the identity basis with rows whose peak is 1 gives the values themselves). */
function setCoefficients(k: ScanKernels, rows: number[][]): void {
  setRows(
    k,
    rows.map((row) => [...row, 1]),
  );
  k.setBasis(zeros, identity);
  k.project(rows.length, true);
}

describe('scan kernels: the thread instance and the histogram heap', () => {
  it('threadScanKernels gives one shared instance', () => {
    const a = threadScanKernels();
    assert.ok(a instanceof ScanKernels);
    assert.equal(threadScanKernels(), a);
  });

  it('a fresh instance allocates where resetHeap starts again', () => {
    const a = new ScanKernels();
    const first = a.allocHistogram(1, 4);
    const second = a.allocHistogram(1, 4);
    assert.ok(second.edges >= first.filters + 4, 'after the first');
    a.resetHeap();
    assert.deepEqual(a.allocHistogram(1, 4), first);
    assert.deepEqual(new ScanKernels().allocHistogram(1, 4), first);
  });

  it('histograms are 16-byte aligned, do not overlap, and start zeroed over dirty memory', () => {
    const k = new ScanKernels();
    // 7 coefficient values per row (the 8th is the peak 1, the 9th 0): inside, outside, on edges
    const rows = [
      [-1, -0.5, 0, 0.3, 0.9, 1, 0.45],
      [0.5, 0.75, -0.6, 0.25, 0.7499, 0.74, 0.1],
      [-0.99, 0.01, 0.5, 0.2, 0.6, -0.2, 0.125],
      [1, 0.999, -0.001, 0.2, 0.4, 0.8, 0.24],
      [0.33, 0.66, 0.99, -0.32, -0.65, -0.98, 0.31],
    ];
    setCoefficients(k, rows);
    const groupOf = [0, 2, -1, 1, 2];
    groupOf.forEach((g, r) => {
      k.groups[r] = g;
    });
    const specs = [
      { groups: 3, bins: 6, lo: -1, hi: 1 },
      { groups: 3, bins: 10, lo: 0, hi: 0.75 },
      { groups: 1, bins: 3, lo: -0.5, hi: 0.5 },
    ];
    const hs = specs.map((s) => k.allocHistogram(s.groups, s.bins, s.lo, s.hi));
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i];
      for (const at of [h.edges, h.counts, h.filters]) assert.equal(at % 16, 0, `histogram ${i} aligned`);
      assert.ok(h.counts >= h.edges + (h.bins + 1) * 8, 'counts after the edges');
      assert.ok(h.filters >= h.counts + h.groups * D * h.bins * 4, 'filters after the counts');
      if (i > 0) assert.ok(h.edges >= hs[i - 1].filters + hs[i - 1].groups * 4, 'after the previous one');
    }
    // the middle one binned twice, the others once; the last one with only row 0 in a group
    const want = (s: (typeof specs)[number], groupOfRow: number[], times: number) => {
      const counts = new Float64Array(s.groups * D * s.bins);
      const filters = new Float64Array(s.groups);
      rows.forEach((row, r) => {
        const g = groupOfRow[r];
        if (g < 0) return;
        filters[g] += times;
        [...row, 1, 0].forEach((x, j) => {
          const b = histogramBin(Math.fround(x), s.lo, s.hi, s.bins);
          if (b >= 0) counts[(g * D + j) * s.bins + b] += times;
        });
      });
      return { counts, filters };
    };
    const onlyRow0 = groupOf.map((_, r) => (r === 0 ? 0 : -1));
    k.bin(rows.length, hs[0]);
    k.bin(rows.length, hs[1]);
    k.bin(rows.length, hs[1]);
    onlyRow0.forEach((g, r) => {
      k.groups[r] = g;
    });
    k.bin(rows.length, hs[2]);
    const expected = [want(specs[0], groupOf, 1), want(specs[1], groupOf, 2), want(specs[2], onlyRow0, 1)];
    for (let i = 0; i < hs.length; i++) {
      const counts = new Float64Array(expected[i].counts.length);
      const filters = new Float64Array(specs[i].groups);
      k.drain(hs[i], counts, filters);
      assert.deepEqual(counts, expected[i].counts, `histogram ${i} counts`);
      assert.deepEqual(filters, expected[i].filters, `histogram ${i} filters`);
    }
    // bin again without draining, then reuse the memory: the new histogram starts at zero
    groupOf.forEach((g, r) => {
      k.groups[r] = g;
    });
    k.bin(rows.length, hs[0]);
    k.bin(rows.length, hs[1]);
    k.resetHeap();
    // the same shape again lands on the first one's dirty counts and filters
    const same = k.allocHistogram(specs[0].groups, specs[0].bins, specs[0].lo, specs[0].hi);
    assert.deepEqual(same, hs[0]);
    const c0 = new Float64Array(specs[0].groups * D * specs[0].bins);
    const f0 = new Float64Array(specs[0].groups);
    k.drain(same, c0, f0);
    assert.ok(c0.every((v) => v === 0) && f0.every((v) => v === 0), 'zeroed');
    const again = k.allocHistogram(2, 40, -1, 1);
    assert.ok(again.counts < hs[1].filters, 'over the old counts');
    const c = new Float64Array(2 * D * 40);
    const f = new Float64Array(2);
    k.drain(again, c, f);
    assert.ok(c.every((v) => v === 0) && f.every((v) => v === 0), 'zeroed');
  });

  it('the default range is [0, 1]', () => {
    const k = new ScanKernels();
    const row = [0, 0.25, 0.2499999, 0.5, 0.75, 0.99, -0.01];
    setCoefficients(k, [row]);
    k.groups[0] = 0;
    const h = k.allocHistogram(1, 4);
    k.bin(1, h);
    const counts = new Float64Array(D * 4);
    k.drain(h, counts, new Float64Array(1));
    const want = new Float64Array(D * 4);
    // 0 → 0, 0.25 → 1, 0.2499999 → 0, 0.5 → 2, 0.75 → 3, 0.99 → 3, −0.01 → none, the peak 1 → 3, 0 → 0
    [0, 1, 0, 2, 3, 3, -1, 3, 0].forEach((b, j) => {
      if (b >= 0) want[j * 4 + b] = 1;
    });
    assert.deepEqual(counts, want);
  });

  it('the memory grows for a big histogram, and every view follows it', () => {
    const k = new ScanKernels();
    const before = new Float32Array(k.cols[0].buffer).length * 4;
    const groups = 64;
    const bins = 400;
    const h = k.allocHistogram(groups, bins, -1, 1);
    assert.ok(h.filters + groups * 4 > before, 'past the initial memory');
    // written after the growth, through the views
    const rows = [
      [0.5, -0.25, 0.125, 1],
      [-1, 0.75, 0, 0.5],
      [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, -0.4],
    ];
    setRows(k, rows);
    k.groups[0] = 63;
    k.groups[1] = 0;
    k.groups[2] = 63;
    k.setBasis(zeros, identity);
    k.resetRange();
    k.project(3, true);
    const scaled = rows.map((row) => {
      const full = Array.from({ length: D }, (_, j) => Math.fround(row[j] ?? 0));
      const peak = Math.max(...full.map(Math.abs));
      return full.map((v) => v / peak);
    });
    for (let r = 0; r < 3; r++)
      for (let j = 0; j < D; j++) assert.equal(k.coef[j][r], scaled[r][j], `coefficient ${j} of row ${r}`);
    assert.deepEqual(k.range(), [-1, 1]);
    k.zeroRow(3);
    const sums = k.moments(4);
    assert.equal(sums.length, 54);
    for (let j = 0; j < D; j++)
      assert.equal(sums[j], scaled[0][j] + scaled[1][j] + scaled[2][j], `sum of value ${j}`);
    k.bin(3, h);
    const counts = new Float64Array(groups * D * bins);
    const filters = new Float64Array(groups);
    k.drain(h, counts, filters);
    const want = new Float64Array(groups * D * bins);
    scaled.forEach((row, r) => {
      const g = [63, 0, 63][r];
      row.forEach((x, j) => {
        want[(g * D + j) * bins + histogramBin(x, -1, 1, bins)]++;
      });
    });
    assert.deepEqual(counts, want);
    assert.equal(filters[63], 2);
    assert.equal(filters[0], 1);
  });

  it('the memory grows by the pages needed, no more', () => {
    const k = new ScanKernels();
    const before = k.cols[0].buffer.byteLength;
    const h = k.allocHistogram(10, 1000, 0, 1);
    const end = h.filters + 10 * 4;
    const after = k.cols[0].buffer.byteLength;
    assert.ok(after >= end && after - end < 65536, `${before} → ${after} bytes for ${end}`);
  });

  it("track's candidate list and a live histogram do not share memory", () => {
    const k = new ScanKernels();
    const h = k.allocHistogram(1, 4, 0, 1);
    // every row of a full block a candidate: 2048 row numbers written
    for (let j = 0; j < D; j++) k.cols[j].fill(0);
    k.cols[0].fill(1);
    k.setTrackBasis(zeros, identity);
    assert.equal(k.track(SCAN_BLOCK, -1, 0.5).length, SCAN_BLOCK);
    setCoefficients(k, [[0.1, 0.3, 0.6]]);
    k.groups[0] = 0;
    k.bin(1, h);
    const counts = new Float64Array(D * 4);
    k.drain(h, counts, new Float64Array(1));
    // 0.1 → 0, 0.3 → 1, 0.6 → 2, the peak 1 → 3, five zeros → 0
    const want = new Float64Array(D * 4);
    [0, 1, 2, 3, 0, 0, 0, 0, 0].forEach((b, j) => {
      want[j * 4 + b] = 1;
    });
    assert.deepEqual(counts, want);
  });

  it("drain touches only the histogram's share of longer accumulators", () => {
    const k = new ScanKernels();
    const h = k.allocHistogram(1, 2, 0, 1);
    const counts = new Float64Array(D * 2 + 3).fill(1);
    const filters = new Float64Array(4).fill(1);
    k.drain(h, counts, filters);
    assert.deepEqual(Array.from(counts), new Array(D * 2 + 3).fill(1));
    assert.deepEqual(Array.from(filters), [1, 1, 1, 1]);
  });

  it('drain adds into the accumulators and empties the histogram', () => {
    const k = new ScanKernels();
    setCoefficients(k, [[0.1, 0.6]]);
    k.groups[0] = 1;
    const h = k.allocHistogram(2, 2, 0, 1);
    k.bin(1, h);
    const counts = new Float64Array(2 * D * 2).fill(10);
    const filters = Float64Array.from([5, 7]);
    k.drain(h, counts, filters);
    const want = new Float64Array(2 * D * 2).fill(10);
    // group 1: coefficient 0 (0.1) → bin 0, 1 (0.6) → bin 1, 2 (the peak 1) → bin 1, 3..8 (0) → bin 0
    want[(D + 0) * 2 + 0]++;
    want[(D + 1) * 2 + 1]++;
    want[(D + 2) * 2 + 1]++;
    for (let j = 3; j < D; j++) want[(D + j) * 2 + 0]++;
    assert.deepEqual(counts, want);
    assert.deepEqual(filters, Float64Array.from([5, 8]));
    k.drain(h, counts, filters);
    assert.deepEqual(counts, want, 'nothing more');
    assert.deepEqual(filters, Float64Array.from([5, 8]));
  });
});

describe('scan kernels: projection, range, padding row and tracking', () => {
  it('project stores the coefficients only when asked', () => {
    const k = new ScanKernels();
    setRows(k, [
      [2, -1, 0.5],
      [0, 0, 0, 4],
    ]);
    for (let j = 0; j < D; j++) k.coef[j].fill(7, 0, 2);
    k.setBasis(zeros, identity);
    k.project(2, false);
    for (let j = 0; j < D; j++)
      assert.deepEqual(Array.from(k.coef[j].subarray(0, 2)), [7, 7], `column ${j} kept`);
    k.project(2, true);
    assert.deepEqual(
      Array.from({ length: D }, (_, j) => k.coef[j][0]),
      [1, -0.5, 0.25, 0, 0, 0, 0, 0, 0],
    );
    assert.deepEqual(
      Array.from({ length: D }, (_, j) => k.coef[j][1]),
      [0, 0, 0, 1, 0, 0, 0, 0, 0],
    );
  });

  it('the running range holds the extremes wherever they are (row parity, coefficient) until reset', () => {
    const k = new ScanKernels();
    for (let c = 0; c < D; c++) {
      // only coefficient c is non-zero: comps row c picks value 0 of each row
      const comps = new Float64Array(D * D);
      comps[c * D] = 1;
      k.setBasis(zeros, comps);
      for (let lowRow = 0; lowRow < 4; lowRow++)
        for (let highRow = 0; highRow < 4; highRow++) {
          if (lowRow === highRow) continue;
          const rows = [0, 1, 2, 3].map((r) => [r === lowRow ? -0.7 : r === highRow ? 0.9 : 0.1, 1]);
          setRows(k, rows);
          k.resetRange();
          k.project(4, false);
          assert.deepEqual(
            k.range(),
            [Math.fround(-0.7), Math.fround(0.9)],
            `coefficient ${c}, rows ${lowRow}/${highRow}`,
          );
        }
    }
    // without a reset the range keeps growing; a reset forgets it
    setRows(k, [
      [0.5, 1],
      [0.5, 1],
    ]);
    k.project(2, false);
    assert.deepEqual(k.range(), [Math.fround(-0.7), Math.fround(0.9)]);
    k.resetRange();
    assert.deepEqual(k.range(), [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    k.project(2, false);
    assert.deepEqual(k.range(), [0, 0.5]);
  });

  it('zeroRow clears one row of every column', () => {
    const k = new ScanKernels();
    for (let j = 0; j < D; j++) k.cols[j].fill(5, 0, 4);
    k.zeroRow(2);
    for (let j = 0; j < D; j++) assert.deepEqual(Array.from(k.cols[j].subarray(0, 4)), [5, 5, 0, 5]);
    assert.equal(k.cols[0].length, SCAN_BLOCK);
  });

  it('track picks the rows of [0, n) with a coefficient above hi or below lo on the float32 basis', () => {
    const k = new ScanKernels();
    // identity basis less 0.25: coefficients are the peak-scaled values − 0.25
    k.setTrackBasis(new Float64Array(D).fill(0.25), identity);
    setRows(k, [
      [1, 0.2], // 0.75, −0.05
      [-1, 0.2], // −1.25
      [0, 0], // all −0.25
      [-4, 3], // −1.25, 0.5
      [0.5, 1, 0.9], // 0, 0.75, 0.65
      [0.1, 1], // -0.15, 0.75
      [-1, 0], // −1.25 (row 6, past n)
      [1], // 0.75 (row 7, past n)
    ]);
    assert.deepEqual(Array.from(k.track(6, -2, 0.6)), [0, 4, 5]);
    assert.deepEqual(Array.from(k.track(6, -1, 2)), [1, 3]);
    assert.deepEqual(Array.from(k.track(8, -1, 2)), [1, 3, 6]);
    assert.deepEqual(Array.from(k.track(6, -1.3, 0.74)), [0, 4, 5]);
    assert.deepEqual(Array.from(k.track(6, -2, 2)), []);
    assert.deepEqual(Array.from(k.track(0, 0, 0)), []);
  });
});
