/**
 * The real fixture models (test/data/*.quality.json, computed by the independent numpy oracle): read each
 * model with the format readers and check every metric of every layer to 1e-12 relative (1e-12 absolute floor
 * for values that are mathematically 0).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { measureLayer } from '../src/metrics/quality.js';
import type { LayerMetrics } from '../src/metrics/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { dataPath } from './support/paths.js';

const FIXTURES = ['digits_cnn.onnx', 'digits_cnn.safetensors', 'digits_cnn.pt', 'digits_dwsep.onnx'];

interface ExpectedLayer {
  name: string;
  shape: number[];
  metrics: LayerMetrics;
}

describe('quality metrics on the fixture models', () => {
  for (const file of FIXTURES) {
    it(file, async () => {
      const expected = JSON.parse(readFileSync(dataPath(`${file}.quality.json`), 'utf8')) as {
        layers: ExpectedLayer[];
      };
      const model = await readModel(await openModelInput(dataPath(file)));
      assert.deepEqual(
        model.layers.map((l) => l.name),
        expected.layers.map((l) => l.name),
      );
      for (const [i, exp] of expected.layers.entries()) {
        const layer = model.layers[i];
        assert.deepEqual(layer.shape, exp.shape, `${exp.name} shape`);
        const { metrics, nonFinite } = measureLayer(await layer.loadWeight(), layer.shape);
        assert.equal(nonFinite, 0);
        for (const key of Object.keys(exp.metrics) as (keyof LayerMetrics)[]) {
          const e = exp.metrics[key];
          const a = metrics[key];
          const what = `${file} ${exp.name} ${key}: ${a} vs ${e}`;
          if (e === null || a === null) {
            assert.equal(a, e, what);
            continue;
          }
          assert.ok(Math.abs(a - e) <= Math.max(1e-12, 1e-12 * Math.abs(e)), what);
        }
      }
    });
  }
});
