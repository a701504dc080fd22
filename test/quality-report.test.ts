import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelFilter, planarShape, qualityReport } from '../src/metrics/layer-report.js';
import { measureLayer } from '../src/metrics/quality.js';
import type { ConvLayer, Model } from '../src/model/types.js';
import { convLayer } from './support/conv-layer.js';

function layer(name: string, shape: number[], seed: number): ConvLayer {
  const n = shape.reduce((a, b) => a * b, 1);
  const w = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    w[i] = s / 2147483648 - 0.5;
  }
  return convLayer(name, shape, w);
}

const model: Model = {
  format: 'test',
  source: 'synthetic',
  graphDepthKnown: false,
  warnings: [],
  layers: [
    layer('c1d', [8, 4, 3], 1),
    layer('c2d', [8, 4, 3, 3], 2),
    layer('c3d', [8, 4, 2, 3, 3], 3),
    layer('odd', [8, 4], 4),
  ],
};

describe('quality report', () => {
  it('measures 1-D convs as 1×k filters and 3-D convs on their 2-D depth slices', async () => {
    const r = await qualityReport(model);
    assert.deepEqual(
      r.layers.map((l) => l.name),
      ['c1d', 'c2d', 'c3d'],
    );
    assert.deepEqual(r.layers[0].measuredAs, [8, 4, 1, 3]);
    assert.deepEqual(r.layers[2].measuredAs, [8, 8, 3, 3]);
    assert.equal(r.layers[1].measuredAs, undefined);
    assert.equal(r.layers[2].metrics.n, 64);
    const direct = measureLayer(await model.layers[2].loadWeight(), [8, 8, 3, 3]).metrics;
    assert.deepEqual(r.layers[2].metrics, direct);
    assert.deepEqual(
      r.skipped.map((s) => s.name),
      ['odd'],
    );
  });

  it('selects kernels by their planar size', async () => {
    const r = await qualityReport(model, { kernel: '3x3' });
    assert.deepEqual(
      r.layers.map((l) => l.name),
      ['c2d', 'c3d'],
    );
    assert.equal(r.skipped.length, 2);
  });

  it('rejects a malformed kernel option', () => {
    assert.throws(() => kernelFilter('3by3'), RangeError);
    assert.equal(planarShape([1, 2]), null);
  });

  it('passes the sparsity threshold to the flag wording', async () => {
    const zeros: ConvLayer = { ...layer('z', [16, 16, 3, 3], 5) };
    const w = new Float32Array(16 * 16 * 9);
    w[0] = 1; // one non-zero filter: everything else is sparse at any threshold
    zeros.loadWeight = async () => w;
    const r = await qualityReport({ ...model, layers: [zeros] }, { sparsityEps: 0.05 });
    const sparse = r.layers[0].flags.find((f) => f.id === 'sparse');
    assert.ok(sparse);
    assert.match(sparse.reason, /5%/);
  });
});
