/**
 * src/metrics/quality.ts where the choice of path and eigen-solver decides the work, not the answer: a layer of
 * 6 filters of 2000 values (two input channels, so no shared Gram) takes its spectrum from the 6×6 Gram matrix
 * of the centred rows, not the 2000×2000 scatter; 512 filters of 700 values share one Gram matrix and take the
 * 512×512 spectrum by Householder + QL, not cyclic Jacobi. Both against numpy
 * (test/data/mutation/make_quality_wide.py); a wrong choice still gives these numbers, only many times slower,
 * which the mutation run counts as a time-out. Kept apart from quality-wide.test.ts because it is the slowest.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { measureLayer } from '../src/metrics/quality.js';
import type { LayerMetrics } from '../src/metrics/types.js';
import { closeMetrics } from './support/close-metrics.js';
import { minstdLayer } from './support/minstd.js';
import { dataPath } from './support/paths.js';

const { large } = JSON.parse(readFileSync(dataPath('mutation/quality-wide.json'), 'utf8')) as {
  large: { shape: number[]; seed: number; deadEvery: number; expected: LayerMetrics }[];
};

for (const c of large) {
  test(`[${c.shape.join(', ')}] with sparse filters against numpy`, () => {
    const w = minstdLayer(c.shape, c.seed, c.deadEvery);
    const { metrics, nonFinite } = measureLayer(w, c.shape);
    assert.equal(nonFinite, 0);
    closeMetrics(metrics, c.expected, `[${c.shape}]`);
  });
}
