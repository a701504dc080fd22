/**
 * src/metrics/layer-measure.ts: the options a worker receives (only what measuring reads, structured-cloneable)
 * and measureLayerFull's result: the quality metrics as measureLayer gives them for the same options, the
 * spectrum only when asked, told about non-finite weights. Expected values hand-derived.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MeasureOptions } from '../src/metrics/layer-measure.js';
import { measureLayerFull, plainMeasureOptions } from '../src/metrics/layer-measure.js';

describe('plainMeasureOptions', () => {
  test('keeps sparsityEps (also 0) and spectral: true; drops spectral: false, undefined and unknown keys', () => {
    assert.deepStrictEqual(plainMeasureOptions({}), {});
    assert.deepStrictEqual(plainMeasureOptions({ sparsityEps: 0.02 }), { sparsityEps: 0.02 });
    assert.deepStrictEqual(plainMeasureOptions({ sparsityEps: 0, spectral: false }), { sparsityEps: 0 });
    assert.deepStrictEqual(plainMeasureOptions({ sparsityEps: undefined, spectral: true }), {
      spectral: true,
    });
    const extra = { spectral: true, onProgress: () => {} } as MeasureOptions;
    assert.deepStrictEqual(plainMeasureOptions(extra), { spectral: true });
  });
});

describe('measureLayerFull', () => {
  // 4 output filters of one 1×2 kernel: maxima 1, 0.5, 0.05, 0.005
  const w = Float64Array.of(1, 0, 0, 0.5, 0.05, 0, 0, 0.005);
  const shape = [4, 1, 1, 2];

  test('without spectral: the metrics and the non-finite count, no spectrum key', () => {
    const r = measureLayerFull(w, shape);
    assert.deepStrictEqual(Object.keys(r), ['metrics', 'nonFinite']);
    assert.equal(r.nonFinite, 0);
    assert.equal(r.metrics.n, 4);
    assert.equal(r.metrics.sparsity, 0.25); // 0.005 < 0.01·1
    assert.equal(r.metrics.normL1, 1.555);
    assert.equal(measureLayerFull(w, shape, { spectral: false }).spectral, undefined);
  });

  test('passes sparsityEps on: eps 0.1 makes the filters with max 0.05 and 0.005 sparse', () => {
    assert.equal(measureLayerFull(w, shape, { sparsityEps: 0.1 }).metrics.sparsity, 0.5);
  });

  test('spectral: the pooled spectrum of [8, 3, 3, 3] has N = 8, M = 3 and 3·9 eigenvalues', () => {
    const shape3 = [8, 3, 3, 3];
    const w3 = new Float64Array(8 * 3 * 9).map((_, i) => Math.sin(i + 1));
    const r = measureLayerFull(w3, shape3, { spectral: true });
    assert.equal(r.nonFinite, 0);
    assert.equal(r.spectral?.N, 8);
    assert.equal(r.spectral?.M, 3);
    assert.equal(r.spectral?.numEvals, 27);
  });

  test('spectral with a NaN weight: counted, and the spectrum says why it is missing', () => {
    const w3 = new Float64Array(8 * 3 * 9).map((_, i) => Math.sin(i + 1));
    w3[5] = Number.NaN;
    const r = measureLayerFull(w3, [8, 3, 3, 3], { spectral: true });
    assert.equal(r.nonFinite, 1);
    assert.equal(r.metrics.varianceEntropy, null);
    assert.equal(r.spectral?.reason, 'weights hold NaN or infinite values: no spectrum');
    assert.equal(r.spectral?.metrics.alpha, null);
  });
});
