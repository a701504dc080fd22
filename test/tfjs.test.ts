import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { readModel } from '../src/formats/detect.js';
import { bytesSource } from '../src/formats/io/source.js';
import { readTfjs, tfjsReader } from '../src/formats/tfjs.js';
import type { Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { peakArrayBufferGrowth } from './support/memory.js';
import { modulePath } from './support/paths.js';
import { mulberry32 as rng } from './support/random.js';

// ---------------------------------------------------------------------------------------------------
// helpers

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-tfjs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dirCount = 0;

/** Writes model.json and the given files into a fresh temp dir; returns the dir. */
function writeModel(modelJson: unknown, files: Record<string, Uint8Array>): string {
  const dir = join(tmp, `m${dirCount++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'model.json'),
    typeof modelJson === 'string' ? modelJson : JSON.stringify(modelJson),
  );
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return dir;
}

async function read(dir: string): Promise<Model> {
  return readModel(await openModelInput(dir));
}

async function expectError(p: Promise<unknown>, code: string): Promise<FilterDbError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FilterDbError, `expected FilterDbError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected a ${code} error`);
}

/** float16 bits of a value that is exactly representable as a normal half (or zero). */
function halfBits(v: number): number {
  if (v === 0) return 0;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  const frac = (a / 2 ** e - 1) * 1024;
  assert.ok(Number.isInteger(frac) && e >= -14 && e <= 15, `${v} is not an exact half`);
  return sign | ((e + 15) << 10) | frac;
}

/**
 * A weight in TF layout with its stored bytes and its decoded float32 values (decoded here, by the
 * definitions in the fixtures README, not by filterdb).
 */
interface TestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: Record<string, unknown>;
  bytes: Uint8Array;
  values: Float32Array;
}

function count(shape: number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

function float32Weight(name: string, shape: number[], seed: number): TestWeight {
  const r = rng(seed);
  const values = Float32Array.from({ length: count(shape) }, () => r() * 2 - 1);
  return { name, shape, dtype: 'float32', bytes: new Uint8Array(values.buffer), values };
}

function float16Weight(name: string, shape: number[]): TestWeight {
  const n = count(shape);
  const values = Float32Array.from({ length: n }, (_, i) => ((i * 13) % 61) / 32 - 0.9375);
  const bytes = new Uint8Array(n * 2);
  const dv = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    dv.setUint16(i * 2, halfBits(v), true);
  });
  return { name, shape, dtype: 'float32', quantization: { dtype: 'float16' }, bytes, values };
}

function uintWeight(name: string, shape: number[], bits: 8 | 16, min: number, scale: number): TestWeight {
  const n = count(shape);
  const r = rng(n + bits);
  const q = Array.from({ length: n }, () => Math.floor(r() * 2 ** bits));
  const bytes = new Uint8Array(n * (bits / 8));
  const dv = new DataView(bytes.buffer);
  q.forEach((v, i) => {
    if (bits === 8) dv.setUint8(i, v);
    else dv.setUint16(i * 2, v, true);
  });
  // tfjs-core: Float32Array element = q * scale + min (computed in double, stored as float32)
  const values = Float32Array.from(q, (v) => v * scale + min);
  return { name, shape, dtype: 'float32', quantization: { dtype: `uint${bits}`, min, scale }, bytes, values };
}

function rawWeight(name: string, shape: number[], dtype: string, bytes: Uint8Array): TestWeight {
  return { name, shape, dtype, bytes, values: new Float32Array(0) };
}

/** One manifest group; its bytes split into shards at the given byte positions. */
function group(
  paths: string[],
  weights: TestWeight[],
  splits: number[] = [],
): { entry: unknown; files: Record<string, Uint8Array> } {
  const total = weights.reduce((n, w) => n + w.bytes.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const w of weights) {
    all.set(w.bytes, off);
    off += w.bytes.length;
  }
  const bounds = [0, ...splits, total];
  assert.equal(bounds.length - 1, paths.length);
  const files: Record<string, Uint8Array> = {};
  paths.forEach((p, i) => {
    files[p] = all.slice(bounds[i], bounds[i + 1]);
  });
  const entry = {
    paths,
    weights: weights.map((w) => ({
      name: w.name,
      shape: w.shape,
      dtype: w.dtype,
      ...(w.quantization ? { quantization: w.quantization } : {}),
    })),
  };
  return { entry, files };
}

// reference layout conversions, written out as loops
/** Conv2D [KH, KW, I, O] -> [O, I, KH, KW]. */
function convRef(v: Float32Array, [KH, KW, I, O]: number[]): Float32Array {
  const out = new Float32Array(v.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++) out[((o * I + i) * KH + h) * KW + x] = v[((h * KW + x) * I + i) * O + o];
  return out;
}
/** Depthwise [KH, KW, C, M] -> [C*M, 1, KH, KW] with output channel c*M + m. */
function depthwiseRef(v: Float32Array, [KH, KW, C, M]: number[]): Float32Array {
  const out = new Float32Array(v.length);
  for (let c = 0; c < C; c++)
    for (let m = 0; m < M; m++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++) out[((c * M + m) * KH + h) * KW + x] = v[((h * KW + x) * C + c) * M + m];
  return out;
}
/** Conv2DTranspose [KH, KW, OUT, IN] -> [IN, OUT, KH, KW]. */
function transposedRef(v: Float32Array, [KH, KW, OUT, IN]: number[]): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < IN; i++)
    for (let o = 0; o < OUT; o++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++)
          out[((i * OUT + o) * KH + h) * KW + x] = v[((h * KW + x) * OUT + o) * IN + i];
  return out;
}

// ---------------------------------------------------------------------------------------------------
// real models shipped in devDependencies

const REAL_MODELS = [
  '@upscalerjs/esrgan-slim/models/x2',
  '@upscalerjs/esrgan-slim/models/x3',
  '@upscalerjs/esrgan-slim/models/x4',
  '@upscalerjs/esrgan-slim/models/x8',
  '@upscalerjs/default-model/models',
];

describe('tfjs reader on the upscalerjs models', () => {
  for (const rel of REAL_MODELS) {
    test(rel, async () => {
      const dir = modulePath(rel);
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      assert.equal(json.format, 'layers-model');
      const m = await read(dir);
      assert.equal(m.format, 'tfjs');
      assert.equal(m.graphDepthKnown, true);
      assert.deepEqual(m.warnings, []);
      // independent decoding: one group of float32 weights, offsets = running byte sums
      const entries: { name: string; shape: number[]; dtype: string }[] = json.weightsManifest.flatMap(
        (g: { weights: unknown[] }) => g.weights,
      );
      assert.equal(json.weightsManifest.length, 1);
      const shard = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
      const offsets = new Map<string, number>();
      let off = 0;
      for (const e of entries) {
        assert.equal(e.dtype, 'float32');
        offsets.set(e.name, off);
        off += count(e.shape) * 4;
      }
      assert.equal(off, shard.length);
      const kernels = entries.filter((e) => e.name.endsWith('/kernel'));
      assert.equal(kernels.length, 12);
      assert.equal(m.layers.length, kernels.length);
      assert.deepEqual(m.layers.map((l) => l.name).sort(), kernels.map((k) => k.name).sort());
      // topology order: first conv at depth 0, output conv SR last
      assert.equal(m.layers[0].name, 'F_m1/kernel');
      assert.equal(m.layers[0].convDepthNorm, 0);
      assert.equal(m.layers.at(-1)!.name, 'SR/kernel');
      assert.equal(m.layers.at(-1)!.convDepthNorm, 1);
      const dv = new DataView(shard.buffer, shard.byteOffset, shard.byteLength);
      for (const l of m.layers) {
        const e = kernels.find((k) => k.name === l.name)!;
        const [KH, KW, I, O] = e.shape;
        assert.deepEqual(l.shape, [O, I, KH, KW]);
        assert.deepEqual([l.op, l.kind, l.groups, l.dtype], ['Conv2D', 'plain', 1, 'float32']);
        const w = await l.loadWeight();
        assert.equal(w.length, count(e.shape));
        assert.ok(w.every(Number.isFinite));
        // spot checks: stored element [kh, kw, in, out] equals normalised [out, in, kh, kw]
        const base = offsets.get(e.name)!;
        const picks: [number, number, number, number][] = [
          [0, 0, 0, 0],
          [KH - 1, KW - 1, I - 1, O - 1],
          [0, Math.min(1, KW - 1), Math.min(2, I - 1), Math.min(3, O - 1)],
          [KH >> 1, 0, I >> 1, O >> 1],
        ];
        for (const [h, x, i, o] of picks) {
          const stored = dv.getFloat32(base + (((h * KW + x) * I + i) * O + o) * 4, true);
          assert.equal(w[((o * I + i) * KH + h) * KW + x], stored, `${l.name}[${h},${x},${i},${o}]`);
        }
      }
    });
  }

  test('default-model holds the same weights as esrgan-slim x2', async () => {
    const a = await read(modulePath('@upscalerjs/default-model/models'));
    const b = await read(modulePath('@upscalerjs/esrgan-slim/models/x2'));
    assert.deepEqual(await a.layers[3].loadWeight(), await b.layers[3].loadWeight());
  });
});

// ---------------------------------------------------------------------------------------------------
// generated layers model: float16, uint8/uint16 quantisation, depthwise x2, separable, grouped,
// transposed, several groups and shards

const L = {
  c1: float16Weight('c1/kernel', [3, 3, 3, 4]),
  c1b: float32Weight('c1/bias', [4], 1),
  side: float32Weight('side/kernel', [1, 1, 3, 2], 2),
  dw: uintWeight('dw/depthwise_kernel', [3, 3, 4, 2], 8, -0.6, 0.005),
  proto: float32Weight('__proto__', [2], 3),
  step: rawWeight('step', [1], 'int32', new Uint8Array([7, 0, 0, 0])),
  sepD: float32Weight('sep/depthwise_kernel', [3, 3, 8, 1], 4),
  sepP: float32Weight('sep/pointwise_kernel', [1, 1, 8, 6], 5),
  sepB: float32Weight('sep/bias', [6], 6),
  g: uintWeight('g/kernel', [3, 3, 3, 4], 16, -1, 1 / 40000),
  up: float32Weight('up/kernel', [2, 2, 5, 4], 7),
};

function kerasLayer(className: string, name: string, inbound: string[], config: object = {}) {
  return {
    class_name: className,
    name,
    config: { name, trainable: true, ...config },
    inbound_nodes: inbound.length ? [inbound.map((i) => [i, 0, 0, {}])] : [],
  };
}

function layersModelJson(groups: unknown[]): unknown {
  return {
    format: 'layers-model',
    generatedBy: 'keras v2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.0.0',
    modelTopology: {
      keras_version: '2.15.0',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Functional',
        config: {
          name: 'gen',
          layers: [
            kerasLayer('InputLayer', 'in', [], { batch_input_shape: [null, 8, 8, 3] }),
            kerasLayer('Conv2D', 'c1', ['in'], {
              filters: 4,
              kernel_size: [3, 3],
              strides: [1, 1],
              padding: 'same',
              groups: 1,
            }),
            kerasLayer('Conv2D', 'side', ['in'], {
              filters: 2,
              kernel_size: [1, 1],
              strides: [2, 2],
              padding: 'valid',
            }),
            kerasLayer('DepthwiseConv2D', 'dw', ['c1'], { depth_multiplier: 2, kernel_size: [3, 3] }),
            kerasLayer('SeparableConv2D', 'sep', ['dw'], { filters: 6, depth_multiplier: 1 }),
            kerasLayer('Conv2D', 'g', ['sep'], { filters: 4, groups: 2 }),
            kerasLayer('Conv2DTranspose', 'up', ['g'], { filters: 5 }),
            kerasLayer('Add', '__proto__', ['up', 'up']),
          ],
          input_layers: [['in', 0, 0]],
          output_layers: [['up', 0, 0]],
        },
      },
    },
    weightsManifest: groups,
  };
}

function generatedLayersModel() {
  const g0 = group(
    ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
    [L.c1, L.c1b, L.side, L.dw, L.proto, L.step],
    [37],
  );
  const g1 = group(['sub/group2-shard1of1.bin'], [L.sepD, L.sepP, L.sepB, L.g, L.up]);
  return { json: layersModelJson([g0.entry, g1.entry]), files: { ...g0.files, ...g1.files } };
}

describe('tfjs reader on a generated layers model', () => {
  test('sniff', () => {
    const head = new TextEncoder().encode('{"format": "layers-model", "modelTopology": {');
    const source = bytesSource('x.json', head);
    assert.equal(tfjsReader.sniff({ head, name: 'x.json', source }), 2);
    assert.equal(tfjsReader.sniff({ head: new Uint8Array([1, 2, 3]), name: 'model.json', source }), 1);
    assert.equal(tfjsReader.sniff({ head: new Uint8Array([1, 2, 3]), name: 'x.bin', source }), 0);
  });

  test('layers, shapes, kinds, depths and values', async () => {
    const { json, files } = generatedLayersModel();
    const m = await read(writeModel(json, files));
    assert.equal(m.format, 'tfjs');
    assert.equal(m.producer, 'keras v2.15.0; TensorFlow.js Converter v4.0.0');
    assert.deepEqual(m.warnings, []);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.op, l.kind, l.shape, l.groups, l.dtype]),
      [
        ['c1/kernel', 'Conv2D', 'plain', [4, 3, 3, 3], 1, 'float16'],
        ['side/kernel', 'Conv2D', 'plain', [2, 3, 1, 1], 1, 'float32'],
        ['dw/depthwise_kernel', 'DepthwiseConv2D', 'depthwise', [8, 1, 3, 3], 4, 'uint8'],
        ['sep/depthwise_kernel', 'SeparableConv2D', 'depthwise', [8, 1, 3, 3], 8, 'float32'],
        ['sep/pointwise_kernel', 'SeparableConv2D', 'plain', [6, 8, 1, 1], 1, 'float32'],
        ['g/kernel', 'Conv2D', 'grouped', [4, 3, 3, 3], 2, 'uint16'],
        ['up/kernel', 'Conv2DTranspose', 'transposed', [4, 5, 2, 2], 1, 'float32'],
      ],
    );
    assert.equal(m.graphDepthKnown, true);
    assert.deepEqual(
      m.layers.map((l) => l.graphDepth),
      [0, 0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      m.layers.map((l) => l.convDepthNorm),
      [0, 0, 0.2, 0.4, 0.6, 0.8, 1],
    );
    assert.deepEqual(m.layers[1].attributes, { strides: [2, 2], padding: 'VALID' });
    const expected = [
      convRef(L.c1.values, L.c1.shape),
      convRef(L.side.values, L.side.shape),
      depthwiseRef(L.dw.values, L.dw.shape),
      depthwiseRef(L.sepD.values, L.sepD.shape),
      convRef(L.sepP.values, L.sepP.shape),
      convRef(L.g.values, L.g.shape),
      transposedRef(L.up.values, L.up.shape),
    ];
    for (let i = 0; i < expected.length; i++) {
      assert.deepEqual(await m.layers[i].loadWeight(), expected[i], m.layers[i].name);
    }
    // spot check against the README: depthwise output channel c*mult + m, kernel element [kh=0, kw=1, c=2, m=1]
    const dw = await m.layers[2].loadWeight();
    assert.equal(dw[(2 * 2 + 1) * 9 + 0 * 3 + 1], L.dw.values[((0 * 3 + 1) * 4 + 2) * 2 + 1]);
  });

  test('a Sequential model without inbound_nodes: chain depths', async () => {
    const w = float32Weight('conv2d/kernel', [3, 3, 1, 2], 11);
    const w2 = float32Weight('conv2d_1/kernel', [3, 3, 2, 2], 12);
    const g = group(['w.bin'], [w, w2]);
    const json = {
      format: 'layers-model',
      modelTopology: {
        class_name: 'Sequential',
        config: {
          name: 'seq',
          layers: [
            { class_name: 'Conv2D', config: { name: 'conv2d', filters: 2 } },
            { class_name: 'MaxPooling2D', config: { name: 'pool' } },
            { class_name: 'Conv2D', config: { name: 'conv2d_1', filters: 2 } },
          ],
        },
      },
      weightsManifest: [g.entry],
    };
    const m = await read(writeModel(json, g.files));
    assert.equal(m.graphDepthKnown, true);
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.graphDepth, l.convDepthNorm]),
      [
        ['conv2d/kernel', 0, 0],
        ['conv2d_1/kernel', 2, 1],
      ],
    );
  });

  test('Conv1D and Conv3D are reported with rank 3 and 5', async () => {
    const c1 = float32Weight('c1d/kernel', [5, 2, 3], 31); // [k, in, out]
    const c3 = float32Weight('c3d/kernel', [2, 3, 4, 3, 2], 32); // [kd, kh, kw, in, out]
    const g = group(['w.bin'], [c1, c3]);
    const json = {
      format: 'layers-model',
      modelTopology: {
        model_config: {
          class_name: 'Sequential',
          config: {
            layers: [
              { class_name: 'Conv1D', config: { name: 'c1d' } },
              { class_name: 'Conv3D', config: { name: 'c3d' } },
            ],
          },
        },
      },
      weightsManifest: [g.entry],
    };
    const m = await read(writeModel(json, g.files));
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.kind, l.shape]),
      [
        ['c1d/kernel', 'plain', [3, 2, 5]],
        ['c3d/kernel', 'plain', [2, 3, 2, 3, 4]],
      ],
    );
    const w1 = await m.layers[0].loadWeight();
    // [o=2, i=1, k=4] <- stored [k=4, i=1, o=2]
    assert.equal(w1[(2 * 2 + 1) * 5 + 4], c1.values[(4 * 2 + 1) * 3 + 2]);
    const w3 = await m.layers[1].loadWeight();
    // [o=1, i=2, d=1, h=2, x=3] <- stored [d=1, h=2, x=3, i=2, o=1]
    assert.equal(
      w3[(((1 * 3 + 2) * 2 + 1) * 3 + 2) * 4 + 3],
      c3.values[(((1 * 3 + 2) * 4 + 3) * 3 + 2) * 2 + 1],
    );
  });

  test('weights without a usable topology: *kernel names in manifest order', async () => {
    const g = group(
      ['w.bin'],
      [float32Weight('a/kernel', [3, 3, 2, 4], 1), float32Weight('b/depthwise_kernel', [3, 3, 4, 1], 2)],
    );
    const m = await read(writeModel({ modelTopology: null, weightsManifest: [g.entry] }, g.files));
    assert.equal(m.graphDepthKnown, false);
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.kind, l.shape, l.convDepth]),
      [
        ['a/kernel', 'plain', [4, 2, 3, 3], 0],
        ['b/depthwise_kernel', 'depthwise', [4, 1, 3, 3], 1],
      ],
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// generated graph model

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

const G = {
  w1: float32Weight('w1', [3, 3, 3, 4], 21),
  dw: float16Weight('dw_w', [3, 3, 4, 2]),
  fw: uintWeight('fw', [1, 1, 8, 6], 8, -0.25, 0.002),
  b: float32Weight('b', [6], 22),
  os: rawWeight('os', [4], 'int32', new Uint8Array(Int32Array.from([1, 16, 16, 5]).buffer)),
  tw: float32Weight('tw', [2, 2, 5, 6], 23),
};

function graphModelJson(entry: unknown): unknown {
  const n = (name: string, op: string, input: string[] = [], attr: object = {}) => ({
    name,
    op,
    input,
    attr,
  });
  return {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.17.0',
    modelTopology: {
      node: [
        n('x', 'Placeholder'),
        n('w1', 'Const'),
        n('w1/read', 'Identity', ['w1']),
        n('conv1', 'Conv2D', ['x', 'w1/read'], {
          strides: { list: { i: ['1', '2', '2', '1'] } },
          padding: { s: b64('SAME') },
          data_format: { s: b64('NHWC') },
          dilations: { list: { i: ['1', '1', '1', '1'] } },
        }),
        n('conv1b', 'Conv2D', ['x', 'w1']),
        n('dw_w', 'Const'),
        n('dw', 'DepthwiseConv2dNative', ['conv1:0', 'dw_w']),
        n('fw', 'Const'),
        n('b', 'Const'),
        n('fc', '_FusedConv2D', ['dw', 'fw', 'b']),
        n('relu', 'Relu', ['fc']),
        n('os', 'Const'),
        n('tw', 'Const'),
        n('tc', 'Conv2DBackpropInput', ['os', 'tw', 'relu', '^x']),
        n('unused', 'Conv2D', ['x', 'missing_filter']),
      ],
      library: {},
      versions: { producer: 1395 },
    },
    weightsManifest: [entry],
  };
}

describe('tfjs reader on a generated graph model', () => {
  test('convs, Identity-wrapped filters, depths and values', async () => {
    const g = group(
      ['group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin'],
      [G.w1, G.dw, G.fw, G.b, G.os, G.tw],
      [100, 333],
    );
    const m = await read(writeModel(graphModelJson(g.entry), g.files));
    assert.equal(m.format, 'tfjs');
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.op, l.kind, l.shape, l.groups, l.dtype]),
      [
        ['w1', 'Conv2D', 'plain', [4, 3, 3, 3], 1, 'float32'],
        ['dw_w', 'DepthwiseConv2dNative', 'depthwise', [8, 1, 3, 3], 4, 'float16'],
        ['fw', '_FusedConv2D', 'plain', [6, 8, 1, 1], 1, 'uint8'],
        ['tw', 'Conv2DBackpropInput', 'transposed', [6, 5, 2, 2], 1, 'float32'],
      ],
    );
    assert.equal(m.graphDepthKnown, true);
    assert.equal(m.graphDepthLevels, 5);
    assert.deepEqual(
      m.layers.map((l) => l.graphDepth),
      [0, 1, 2, 4],
    );
    assert.deepEqual(
      m.layers.map((l) => l.convDepth),
      [0, 1, 2, 3],
    );
    assert.deepEqual(m.layers[0].attributes, { strides: [2, 2], dilations: [1, 1], padding: 'SAME' });
    assert.equal(m.warnings.length, 1);
    assert.match(m.warnings[0], /unused/);
    assert.deepEqual(await m.layers[0].loadWeight(), convRef(G.w1.values, G.w1.shape));
    assert.deepEqual(await m.layers[1].loadWeight(), depthwiseRef(G.dw.values, G.dw.shape));
    assert.deepEqual(await m.layers[2].loadWeight(), convRef(G.fw.values, G.fw.shape));
    assert.deepEqual(await m.layers[3].loadWeight(), transposedRef(G.tw.values, G.tw.shape));
  });
});

describe('tfjs reader on a face-api.js weights manifest', () => {
  test('every 4-D weight is a conv, depthwise by name or by its [kh, kw, C, 1] shape; depth from order', async () => {
    const w = {
      dwByName: float32Weight('block/depthwise_filter', [3, 3, 4, 2], 31),
      pw: float32Weight('block/pointwise_filter', [1, 1, 8, 1], 32),
      dwByShape: float32Weight('head/filters', [3, 3, 6, 1], 33),
      conv: uintWeight('head/conv/filters', [3, 3, 6, 5], 8, -0.5, 0.01),
      bias: float32Weight('head/conv/bias', [5], 34),
    };
    const g = group(['tiny_model.bin'], [w.dwByName, w.pw, w.dwByShape, w.conv, w.bias]);
    const dir = writeModel('{}', g.files);
    writeFileSync(join(dir, 'tiny_model-weights_manifest.json'), JSON.stringify([g.entry]));
    const m = await read(join(dir, 'tiny_model-weights_manifest.json'));
    assert.equal(m.format, 'tfjs');
    assert.deepEqual(m.warnings, []);
    assert.equal(m.graphDepthKnown, false);
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.op, l.kind, l.shape, l.groups, l.convDepth]),
      [
        ['block/depthwise_filter', 'DepthwiseConv2D', 'depthwise', [8, 1, 3, 3], 4, 0],
        ['block/pointwise_filter', 'Conv2D', 'plain', [1, 8, 1, 1], 1, 1],
        ['head/filters', 'DepthwiseConv2D', 'depthwise', [6, 1, 3, 3], 6, 2],
        ['head/conv/filters', 'Conv2D', 'plain', [5, 6, 3, 3], 1, 3],
      ],
    );
    assert.deepEqual(await m.layers[0].loadWeight(), depthwiseRef(w.dwByName.values, w.dwByName.shape));
    assert.deepEqual(await m.layers[2].loadWeight(), depthwiseRef(w.dwByShape.values, w.dwByShape.shape));
    assert.deepEqual(await m.layers[3].loadWeight(), convRef(w.conv.values, w.conv.shape));
  });
});

// ---------------------------------------------------------------------------------------------------
// hostile inputs

describe('tfjs reader on hostile inputs', () => {
  test('a truncated shard', async () => {
    const { json, files } = generatedLayersModel();
    const cut = { ...files, 'sub/group2-shard1of1.bin': files['sub/group2-shard1of1.bin'].slice(0, -10) };
    const e = await expectError(read(writeModel(json, cut)), 'truncated');
    assert.match(e.message, /group2-shard1of1\.bin/);
  });

  test('a manifest naming a missing file', async () => {
    const { json, files } = generatedLayersModel();
    const { 'group1-shard2of2.bin': _, ...rest } = files;
    const e = await expectError(read(writeModel(json, rest)), 'missing-file');
    assert.match(e.message, /group1-shard2of2\.bin/);
  });

  test('paths outside the model folder are unsafe', async () => {
    for (const bad of ['../../x', '/etc/passwd', 'a/../../x', 'C:\\x.bin']) {
      const g = group([bad], [float32Weight('k/kernel', [1, 1, 1, 1], 1)]);
      await expectError(
        read(writeModel({ format: 'layers-model', weightsManifest: [g.entry] }, {})),
        'unsafe',
      );
    }
  });

  test('bad JSON, no manifest, bad shapes, huge shapes, bad quantization', async () => {
    await expectError(read(writeModel('{"modelTopology": {', {})), 'corrupt');
    await expectError(read(writeModel({ modelTopology: {} }, {})), 'not-a-model');
    await expectError(
      read(writeModel({ weightsManifest: [{ paths: 'w.bin', weights: [] }] }, {})),
      'corrupt',
    );
    const one = { 'w.bin': new Uint8Array(16) };
    const manifest = (w: object) => ({ weightsManifest: [{ paths: ['w.bin'], weights: [w] }] });
    await expectError(
      read(writeModel(manifest({ name: 'k', shape: [2, -1], dtype: 'float32' }), one)),
      'corrupt',
    );
    await expectError(
      read(writeModel(manifest({ name: 'k', shape: [2, 1.5], dtype: 'float32' }), one)),
      'corrupt',
    );
    await expectError(
      read(writeModel(manifest({ name: 'k', shape: [1e6, 1e6, 1e6], dtype: 'float32' }), one)),
      'too-large',
    );
    await expectError(
      read(writeModel(manifest({ name: 'k', shape: [3, 3, 1, 1], dtype: 'float32' }), one)),
      'truncated',
    );
    await expectError(
      read(
        writeModel(
          manifest({ name: 'k', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }),
          one,
        ),
      ),
      'corrupt',
    );
    await expectError(
      read(writeModel(manifest({ name: 'k', shape: [1], dtype: 'complex128' }), one)),
      'unsupported',
    );
  });

  test('__proto__ and constructor names are plain names', async () => {
    const w = float32Weight('__proto__/kernel', [1, 1, 2, 2], 5);
    const w2 = float32Weight('constructor/kernel', [1, 1, 2, 2], 6);
    const g = group(['w.bin'], [w, w2]);
    const json = {
      modelTopology: {
        model_config: {
          class_name: 'Functional',
          config: {
            layers: [
              kerasLayer('InputLayer', 'input', []),
              kerasLayer('Conv2D', '__proto__', ['input']),
              kerasLayer('Conv2D', 'constructor', ['__proto__']),
            ],
          },
        },
      },
      weightsManifest: [g.entry],
    };
    const m = await read(writeModel(JSON.stringify(json), g.files));
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.convDepth]),
      [
        ['__proto__/kernel', 0],
        ['constructor/kernel', 1],
      ],
    );
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  });

  test('a shard claiming a huge string weight fails without allocating for it', async () => {
    const m = {
      weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 's', shape: [1e9], dtype: 'string' }] }],
    };
    const peak = await peakArrayBufferGrowth(() =>
      expectError(read(writeModel(m, { 'w.bin': new Uint8Array(64) })), 'truncated'),
    );
    assert.ok(peak < 64 << 20, `${peak} bytes of ArrayBuffers allocated`);
  });

  test('in-memory input without siblings reports the missing shard', async () => {
    const g = group(['w.bin'], [float32Weight('k/kernel', [1, 1, 1, 1], 1)]);
    const bytes = new TextEncoder().encode(JSON.stringify({ weightsManifest: [g.entry] }));
    const e = await expectError(readTfjs({ main: bytesSource('model.json', bytes) }), 'missing-file');
    assert.match(e.message, /w\.bin/);
  });
});
