/** The WebAssembly kernels of the store's shift passes against plain JS references, and the range guess. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SCAN_BLOCK, ScanKernels } from '../src/analysis/wasm/scan.js';
import { candidateRange, RangeCandidates } from '../src/scan/range-candidates.js';

function block(n: number, seed: number): Float32Array[] {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const cols = Array.from({ length: 9 }, () => new Float32Array(n));
  for (let r = 0; r < n; r++) for (let j = 0; j < 9; j++) cols[j][r] = r % 97 === 5 ? 0 : rnd();
  return cols;
}

function scaledRow(cols: Float32Array[], r: number): number[] {
  let peak = 0;
  for (let j = 0; j < 9; j++) if (Math.abs(cols[j][r]) > peak) peak = Math.abs(cols[j][r]);
  return cols.map((c) => (peak === 0 ? 0 : c[r] / peak));
}

function coefficients(x: number[], mean: Float64Array, comps: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < 9; i++) {
    let c = 0;
    for (let j = 0; j < 9; j++) c += (x[j] - mean[j]) * comps[i * 9 + j];
    out.push(c);
  }
  return out;
}

const mean = Float64Array.from({ length: 9 }, (_, j) => 0.01 * (j - 4));
const comps = Float64Array.from({ length: 81 }, (_, i) => Math.sin(i * 1.7) * 0.6);

test('moments, projection, range and numpy binning of an odd block match the JS definitions', () => {
  const k = new ScanKernels();
  const n = SCAN_BLOCK - 1;
  const cols = block(n, 7);
  for (let j = 0; j < 9; j++) k.cols[j].set(cols[j]);
  k.zeroRow(n);
  const sums = k.moments(n + 1);
  const ref = new Float64Array(54);
  for (let r = 0; r < n; r++) {
    const x = scaledRow(cols, r);
    let q = 9;
    for (let i = 0; i < 9; i++) {
      ref[i] += x[i];
      for (let j = i; j < 9; j++) ref[q++] += x[i] * x[j];
    }
  }
  for (let i = 0; i < 54; i++)
    assert.ok(Math.abs(sums[i] - ref[i]) <= 1e-12 * Math.max(1, Math.abs(ref[i])), `sum ${i}`);

  k.setBasis(mean, comps);
  k.resetRange();
  k.project(n, true);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < n; r++) {
    const c = coefficients(scaledRow(cols, r), mean, comps);
    for (let i = 0; i < 9; i++) {
      assert.equal(k.coef[i][r], c[i], `coefficient ${i} of row ${r} (bit-exact)`);
      lo = Math.min(lo, c[i]);
      hi = Math.max(hi, c[i]);
    }
  }
  assert.deepEqual(k.range(), [lo, hi]);

  const bins = 70;
  const h = k.allocHistogram(3, bins, lo, hi);
  for (let r = 0; r < n; r++) k.groups[r] = r % 4 === 3 ? -1 : r % 3;
  k.bin(n, h);
  const counts = new Float64Array(3 * 9 * bins);
  const filters = new Float64Array(3);
  k.drain(h, counts, filters);
  const edges = Array.from({ length: bins + 1 }, (_, j) => (j === bins ? hi : lo + (j * (hi - lo)) / bins));
  const want = new Float64Array(3 * 9 * bins);
  for (let r = 0; r < n; r++) {
    if (r % 4 === 3) continue;
    const g = r % 3;
    for (let i = 0; i < 9; i++) {
      const x = k.coef[i][r];
      let b = edges.findIndex((e, j) => j < bins && x >= e && (j === bins - 1 ? x <= hi : x < edges[j + 1]));
      if (b < 0) b = bins - 1;
      want[(g * 9 + i) * bins + b]++;
    }
  }
  assert.deepEqual(counts, want);
  assert.equal(
    filters.reduce((a, b) => a + b, 0),
    Array.from({ length: n }, (_, r) => r).filter((r) => r % 4 !== 3).length,
  );
});

test('range candidates hold the extremes; their exact range equals the full scan', () => {
  const k = new ScanKernels();
  const cands = new RangeCandidates({ mean, comps, keep: 8 });
  k.resetRange();
  const blocks = 12;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let b = 0; b < blocks; b++) {
    const cols = block(SCAN_BLOCK, 100 + b);
    for (let j = 0; j < 9; j++) k.cols[j].set(cols[j]);
    k.setBasis(mean, comps);
    k.resetRange();
    k.project(SCAN_BLOCK, false);
    const [l, h] = k.range();
    lo = Math.min(lo, l);
    hi = Math.max(hi, h);
    cands.block(k, SCAN_BLOCK);
  }
  const kept = cands.result();
  assert.ok(kept.length / 9 < blocks * SCAN_BLOCK, 'pruned');
  assert.deepEqual(candidateRange(k, kept, mean, comps), [lo, hi]);
});
