/**
 * src/metrics/layer-report.ts (issue 20 item 6): the planar views, the kernel filter, the work limits, and how
 * `qualityReport` assembles each layer's entry (fields, options passed on, the batch path, progress, init
 * distance, spectral extras) on small synthetic models whose answers are stated here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { layerInitDistance } from '../src/metrics/init-distance.js';
import { measureLayerFull } from '../src/metrics/layer-measure.js';
import { checkLayerWork, kernelFilter, planarShape, qualityReport } from '../src/metrics/layer-report.js';
import { measureLayer } from '../src/metrics/quality.js';
import type { QualityOptions } from '../src/metrics/types.js';
import type { ConvLayer, Model } from '../src/model/types.js';

function weights(n: number, seed: number): Float32Array {
  const w = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    w[i] = s / 2147483648 - 0.5;
  }
  return w;
}

function layer(name: string, shape: number[], seed: number, extra: Partial<ConvLayer> = {}): ConvLayer {
  const w = weights(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  return {
    name,
    op: `op-${name}`,
    kind: 'plain',
    shape,
    groups: seed,
    dtype: `dtype-${name}`,
    graphDepth: null,
    convDepth: seed * 10,
    convDepthNorm: seed / 10,
    loadWeight: async () => w,
    ...extra,
  };
}

function model(layers: ConvLayer[], extra: Partial<Model> = {}): Model {
  return { format: 'onnx', source: 'm.onnx', graphDepthKnown: false, warnings: ['w1'], layers, ...extra };
}

describe('planar views and the kernel filter', () => {
  it('2-D as stored (a copy), 1-D as 1×k rows, 3-D as depth slices, other ranks none', () => {
    const s = [8, 4, 3, 3];
    const p = planarShape(s);
    assert.deepEqual(p, [8, 4, 3, 3]);
    assert.notEqual(p, s);
    assert.deepEqual(planarShape([8, 4, 5]), [8, 4, 1, 5]);
    assert.deepEqual(planarShape([8, 4, 2, 3, 5]), [8, 8, 3, 5]);
    assert.equal(planarShape([8, 4]), null);
    assert.equal(planarShape([8, 4, 1, 1, 1, 1]), null);
  });

  it('"all" or nothing takes every layer; "AxB" the planar kernels labelled so; anything else is refused', () => {
    for (const k of [undefined, '', 'all']) assert.equal(kernelFilter(k)([1, 1, 7, 2]), true);
    const k3 = kernelFilter('3x3');
    assert.equal(k3([8, 4, 3, 3]), true);
    assert.equal(k3([8, 4, 3, 1]), false);
    assert.equal(k3([8, 4, 1, 3]), false);
    assert.equal(kernelFilter('03x3')([1, 1, 3, 3]), true); // numbers, not digits
    assert.equal(kernelFilter('11x11')([1, 1, 11, 11]), true);
    assert.equal(kernelFilter('1x5')([1, 1, 1, 5]), true);
    for (const bad of ['3by3', 'x3', '3x', '3x3x3', 'a3x3', '3x3a', ' 3x3'])
      assert.throws(() => kernelFilter(bad), {
        name: 'RangeError',
        message: `--kernel takes "all" or a size such as 3x3, not ${JSON.stringify(bad)}`,
      });
  });
});

describe('checkLayerWork', () => {
  it('takes 2^26 weights, refuses one more, naming the file and the layer', () => {
    checkLayerWork('f.onnx', { name: 'L' }, [1, 2 ** 26, 1, 1]);
    assert.throws(
      () => checkLayerWork('f.onnx', { name: 'L' }, [1, 2 ** 26 + 1, 1, 1]),
      (e: unknown) => {
        assert.ok(e instanceof FilterDbError);
        assert.equal(e.code, 'too-large');
        assert.equal(e.file, 'f.onnx');
        assert.equal(
          e.message,
          `f.onnx: layer L has ${2 ** 26 + 1} weights (limit ${2 ** 26} per conv layer)`,
        );
        return true;
      },
    );
  });

  it('refuses an orthogonality or a spectrum over its work limit as a typed too-large', () => {
    // 65536 filters of 1024 values: 2^31 pairs × (1024 + 32) > 2^37 multiply-adds
    assert.throws(
      () => checkLayerWork('f.onnx', { name: 'big' }, [65536, 1024, 1, 1]),
      (e: unknown) => {
        assert.ok(e instanceof FilterDbError);
        assert.equal(e.code, 'too-large');
        assert.match(
          e.message,
          /^f\.onnx: layer big: 65536 output filters of 1024 values: orthogonality needs/,
        );
        return true;
      },
    );
    // 3000 filters of 3000 values: a 3000×3000 spectrum (limit 2048)
    assert.throws(
      () => checkLayerWork('f.onnx', { name: 'wide' }, [3000, 1, 1, 3000]),
      (e: unknown) => {
        assert.ok(e instanceof FilterDbError);
        assert.equal(e.code, 'too-large');
        assert.match(e.message, /^f\.onnx: layer wide: 3000 filters of 3000 values: variance entropy needs/);
        return true;
      },
    );
    checkLayerWork('f.onnx', { name: 'ok' }, [2048, 1, 1, 2048]);
    // the values per filter are in·kh·kw, the filters out·in: 4 × 16 × 16 = 1024 values, 1500 × 2 = 3000 filters
    assert.throws(
      () => checkLayerWork('f.onnx', { name: 'big2' }, [65536, 4, 16, 16]),
      /^FilterDbError: f\.onnx: layer big2: 65536 output filters of 1024 values/,
    );
    assert.throws(
      () => checkLayerWork('f.onnx', { name: 'wide2' }, [1500, 2, 1, 3000]),
      /^FilterDbError: f\.onnx: layer wide2: 3000 filters of 3000 values/,
    );
  });

  it('qualityReport checks every selected layer before loading any weight', async () => {
    let loads = 0;
    const small = layer('small', [4, 2, 3, 3], 1, {
      loadWeight: async () => {
        loads++;
        return new Float32Array(72);
      },
    });
    const huge = layer('huge', [3000, 1, 1, 3000], 2, { loadWeight: async () => assert.fail('loaded') });
    await assert.rejects(qualityReport(model([small, huge])), /m\.onnx: layer huge: 3000 filters/);
    assert.equal(loads, 0);
    // a skipped layer is not checked
    const r = await qualityReport(model([small, huge]), { kernel: '3x3' });
    assert.equal(loads, 1);
    assert.deepEqual(r.skipped, [
      { name: 'huge', shape: [3000, 1, 1, 3000], reason: 'kernel 1x3000 not selected' },
    ]);
  });
});

describe('qualityReport', () => {
  const layers = [
    layer('c1d', [6, 2, 3], 1),
    layer('c2d', [8, 4, 3, 3], 2, { kind: 'depthwise' }),
    layer('rank2', [8, 4], 3),
    layer('c3d', [4, 2, 2, 3, 3], 4, { kind: null }),
  ];

  it('one entry per measured layer with its fields; other ranks and unselected kernels skipped with a reason', async () => {
    const m = model(layers, { producer: 'pytorch 2.1' });
    const r = await qualityReport(m, { sparsityEps: 0.3 });
    assert.equal(r.file, 'm.onnx');
    assert.equal(r.format, 'onnx');
    assert.equal(r.producer, 'pytorch 2.1');
    assert.deepEqual(r.warnings, ['w1']);
    assert.equal('initRule' in r, false);
    assert.deepEqual(r.skipped, [{ name: 'rank2', shape: [8, 4], reason: 'rank-2 weight' }]);
    assert.deepEqual(
      r.layers.map((l) => l.name),
      ['c1d', 'c2d', 'c3d'],
    );
    const planar = [
      [6, 2, 1, 3],
      [8, 4, 3, 3],
      [4, 4, 3, 3],
    ];
    for (const [i, l] of r.layers.entries()) {
      const src = layers[i === 2 ? 3 : i];
      assert.equal(l.op, src.op);
      assert.equal(l.kind, src.kind);
      assert.deepEqual(l.shape, src.shape);
      assert.equal(l.groups, src.groups);
      assert.equal(l.dtype, src.dtype);
      assert.equal(l.convDepth, src.convDepth);
      assert.equal(l.convDepthNorm, src.convDepthNorm);
      if (src.shape.length === 4) assert.equal('measuredAs' in l, false);
      else assert.deepEqual(l.measuredAs, planar[i]);
      const w = await src.loadWeight();
      // measured on the planar view with the given sparsity threshold
      assert.deepEqual(l.metrics, measureLayer(w, planar[i], { sparsityEps: 0.3 }).metrics);
      assert.equal(l.metrics.n, planar[i][0] * planar[i][1]);
      for (const k of ['init', 'spectralReason', 'trainingFlags']) assert.equal(k in l, false, k);
    }
    assert.equal((await qualityReport(model(layers))).producer, null);
  });

  it('flags use the planar shape and the sparsity threshold: a layer of zero filters is sparse at 30 %', async () => {
    const w = new Float32Array(6 * 2 * 3);
    w[0] = 1; // one non-zero filter of 12
    const z = layer('z', [6, 2, 3], 1, { loadWeight: async () => w });
    const r = await qualityReport(model([z]), { sparsityEps: 0.3 });
    const sparse = r.layers[0].flags.find((f) => f.id === 'sparse');
    assert.ok(sparse, JSON.stringify(r.layers[0].flags));
    assert.match(sparse.reason, /30%/);
    assert.equal(r.layers[0].metrics.sparsity, 11 / 12);
  });

  it('reports progress per layer: (1, n) … (n, n)', async () => {
    const calls: [number, number][] = [];
    await qualityReport(model(layers), { onLayer: (d, t) => calls.push([d, t]) });
    assert.deepEqual(calls, [
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });

  it('a batch measurer gets the planar shapes and plain options, its results are used in job order', async () => {
    const seen: { shapes: (readonly number[])[]; options: QualityOptions } = { shapes: [], options: {} };
    const calls: [number, number][] = [];
    const r = await qualityReport(model(layers), {
      sparsityEps: 0.2,
      onLayer: (d, t) => calls.push([d, t]),
      measureBatch: async (jobs, options, onDone) => {
        seen.shapes = jobs.map((j) => j.shape);
        seen.options = options;
        const out = [];
        for (const j of [...jobs].reverse()) {
          out.unshift(measureLayerFull(await j.load(), j.shape, options));
          onDone();
        }
        // a recognisable change, to see that these results are the ones reported
        return out.map((m, i) => ({ ...m, metrics: { ...m.metrics, normL1: i } }));
      },
    });
    assert.deepEqual(seen.shapes, [
      [6, 2, 1, 3],
      [8, 4, 3, 3],
      [4, 4, 3, 3],
    ]);
    assert.deepEqual(seen.options, { sparsityEps: 0.2 });
    assert.deepEqual(
      r.layers.map((l) => l.metrics.normL1),
      [0, 1, 2],
    );
    assert.equal(
      r.layers[1].metrics.sparsity,
      measureLayer(await layers[1].loadWeight(), [8, 4, 3, 3], { sparsityEps: 0.2 }).metrics.sparsity,
    );
    assert.deepEqual(calls, [
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });

  it('spectral: the spectral metrics merged in, with the reason and the training flags', async () => {
    const big = layer('big', [16, 16, 3, 3], 7);
    const r = await qualityReport(model([big]), { spectral: true });
    const l = r.layers[0];
    const full = measureLayerFull(await big.loadWeight(), [16, 16, 3, 3], { spectral: true });
    assert.ok(full.spectral);
    assert.deepEqual(l.metrics, { ...full.metrics, ...full.spectral.metrics });
    assert.equal(l.spectralReason, full.spectral.reason);
    assert.ok(Array.isArray(l.trainingFlags));
    assert.ok('alpha' in l.metrics);
    // the batch path passes spectral on
    let options: QualityOptions & { spectral?: boolean } = {};
    await qualityReport(model([big]), {
      spectral: true,
      // no onLayer: finishing a layer must not call it
      measureBatch: async (jobs, o, onDone) => {
        options = o;
        const out = await Promise.all(jobs.map(async (j) => measureLayerFull(await j.load(), j.shape, o)));
        for (const _ of out) onDone();
        return out;
      },
    });
    assert.deepEqual(options, { spectral: true });
  });

  it('init: the format’s rule for auto, the given rule, draws and seed; none for a layer with non-finite weights', async () => {
    const two = [layer('c1d', [6, 2, 3], 1), layer('c2d', [8, 4, 3, 3], 2)];
    const onnx = await qualityReport(model(two), {
      init: { rule: 'auto', draws: 8, seed: 3 },
      sparsityEps: 0.2,
    });
    assert.equal(onnx.initRule, 'kaiming-uniform');
    for (const [i, l] of onnx.layers.entries()) {
      const planar = i === 0 ? [6, 2, 1, 3] : [8, 4, 3, 3];
      const metrics = measureLayer(await two[i].loadWeight(), planar, { sparsityEps: 0.2 }).metrics;
      assert.deepEqual(
        l.init,
        layerInitDistance(metrics, planar, two[i].groups, {
          rule: 'kaiming-uniform',
          draws: 8,
          seed: 3,
          sparsityEps: 0.2,
        }),
      );
      assert.equal(l.init?.draws, 8);
    }
    const keras = await qualityReport(model(two, { format: 'keras' }), { init: { rule: 'auto', draws: 8 } });
    assert.equal(keras.initRule, 'glorot-uniform');
    assert.equal(keras.layers[0].init?.rule, 'glorot-uniform');
    const given = await qualityReport(model(two, { format: 'keras' }), {
      init: { rule: 'kaiming-uniform', draws: 8 },
    });
    assert.equal(given.initRule, 'kaiming-uniform');
    assert.equal(given.layers[1].init?.rule, 'kaiming-uniform');
    const nan = new Float32Array(72).fill(0.1);
    nan[5] = Number.NaN;
    const bad = layer('bad', [8, 1, 3, 3], 1, { loadWeight: async () => nan });
    const r = await qualityReport(model([bad, two[1]]), { init: { rule: 'auto', draws: 8 } });
    assert.equal('init' in r.layers[0], false);
    assert.ok(r.layers[1].init);
  });
});
