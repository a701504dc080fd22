/**
 * src/metrics/quality.ts on kernels wider than 64 values (1-D convs' 1×k rows), where one Gram matrix of the
 * rows serves orthogonality and both entropies (double centring), with the fallback to centring the rows for
 * near-identical filters, no sharing for two input channels, and the k×k scatter once there are as many filters
 * as values: against numpy (test/data/mutation/make_quality_wide.py, same generated weights). Also the work
 * limits as measureLayer applies them (from the layer's shape, before measuring).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { MetricLimitError, measureLayer } from '../src/metrics/quality.js';
import type { LayerMetrics } from '../src/metrics/types.js';
import { closeMetrics } from './support/close-metrics.js';
import { minstdLayer, minstdWeights as weights } from './support/minstd.js';
import { dataPath } from './support/paths.js';

interface WideData {
  layers: { shape: number[]; seed: number; deadEvery: number; float32: boolean; expected: LayerMetrics }[];
  nearIdentical: {
    shape: number[];
    seed: number;
    spread: number;
    deadRow: number | null;
    expected: LayerMetrics;
  }[];
  zeroFirst: { shape: number[]; seed: number; expected: LayerMetrics }[];
  large: { shape: number[]; seed: number; deadEvery: number; expected: LayerMetrics }[];
}
const wide = JSON.parse(readFileSync(dataPath('mutation/quality-wide.json'), 'utf8')) as WideData;
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

describe('wide kernels (k > 64) against numpy', () => {
  for (const c of wide.layers) {
    test(`[${c.shape.join(', ')}]${c.deadEvery ? ' with sparse filters' : ''}${c.float32 ? ', float32' : ''}`, () => {
      // rows r ≡ 3 (mod deadEvery) times 1e-4, as the generator script does
      const w = minstdLayer(c.shape, c.seed, c.deadEvery);
      const { metrics, nonFinite } = measureLayer(c.float32 ? Float32Array.from(w) : w, c.shape);
      assert.equal(nonFinite, 0);
      closeMetrics(metrics, c.expected, `[${c.shape}]`);
    });
  }
  for (const c of wide.nearIdentical) {
    test(`[${c.shape.join(', ')}] near-identical filters (spread ${c.spread})${c.deadRow !== null ? ' and a sparse one' : ''}`, () => {
      const [out, inpg, kh, kw] = c.shape;
      const k = kh * kw;
      const base = weights(k, c.seed);
      const noise = weights(out * inpg * k, c.seed + 1);
      const w = noise.map((x, i) => base[i % k] + c.spread * x);
      if (c.deadRow !== null) for (let j = 0; j < k; j++) w[c.deadRow * k + j] *= 1e-4;
      closeMetrics(measureLayer(w, c.shape).metrics, c.expected, `[${c.shape}] near-identical`);
    });
  }
  for (const c of wide.zeroFirst) {
    test(`[${c.shape.join(', ')}] with an all-zero first filter (the centring reads the selected rows)`, () => {
      const w = weights(size(c.shape), c.seed);
      const k = c.shape[2] * c.shape[3];
      w.fill(0, 0, k);
      closeMetrics(measureLayer(w, c.shape).metrics, c.expected, `[${c.shape}] zero first filter`);
    });
  }
  test('a small wide layer, then a 512-filter one: the n×n buffers reused between layers grow', () => {
    const small = wide.layers[0];
    const big = wide.large.find((c) => c.shape[0] === 512);
    assert.ok(big, 'quality-wide.json has the 512×1×1×700 case');
    closeMetrics(
      measureLayer(minstdLayer(small.shape, small.seed, small.deadEvery), small.shape).metrics,
      small.expected,
      'small first',
    );
    closeMetrics(
      measureLayer(minstdLayer(big.shape, big.seed, big.deadEvery), big.shape).metrics,
      big.expected,
      'then 512 filters',
    );
    closeMetrics(
      measureLayer(minstdLayer(small.shape, small.seed, small.deadEvery), small.shape).metrics,
      small.expected,
      'small again',
    );
  });
});

describe('work limits inside measureLayer (hand-derived)', () => {
  // NaN weights: a mutated limit would measure instead of refusing, and a NaN layer measures fast.
  test('65536 filters of 2×2×9 = 36 values: 2^31·68 > 2^37 multiply-adds, refused as too-large', () => {
    const shape = [65536, 2, 2, 9];
    assert.throws(
      () => measureLayer(new Float32Array(size(shape)).fill(Number.NaN), shape),
      (e: unknown) =>
        e instanceof MetricLimitError &&
        e.code === 'too-large' &&
        e.message.startsWith('conv layer: 65536 output filters of 36 values: orthogonality'),
    );
  });
  test('683·3 = 2049 filters of 2049 values: a 2049×2049 spectrum, refused as too-large', () => {
    const shape = [683, 3, 1, 2049];
    assert.throws(
      () => measureLayer(new Float32Array(size(shape)).fill(Number.NaN), shape),
      (e: unknown) =>
        e instanceof MetricLimitError &&
        /^2049 filters of 2049 values: variance entropy needs the spectrum of a 2049×2049 matrix/.test(
          e.detail,
        ),
    );
  });
});
