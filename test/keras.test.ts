/**
 * Keras reader + HDF5 access layer. The Keras files are generated here with h5wasm (no TensorFlow/h5py in
 * this environment), laid out the way Keras writes them; the layouts are spelled out in the builders below.
 * Expected normalised kernels are computed with explicit index arithmetic, not with the reader's transpose.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import h5wasm, { type Group } from 'h5wasm';
import { FilterDbError } from '../src/errors.js';
import { hdf5SignatureOffset, openHdf5, withHdf5 } from '../src/formats/io/hdf5.js';
import { bytesSource, type ModelInput } from '../src/formats/io/source.js';
import { kerasReader, naturalPathCompare, toSnakeCase } from '../src/formats/keras.js';
import type { Model } from '../src/model/types.js';
import { dataPath } from './support/paths.js';

// ---------------------------------------------------------------------------------------------------------
// Writing HDF5 with h5wasm

type Attr = string | string[] | { fixed: string | string[] } | Float64Array;
interface H5Spec {
  attrs?: Record<string, Attr>;
  /** Dataset path → stored shape (+ dtype). Intermediate groups are created as h5py does. */
  datasets?: Record<string, { shape: number[]; data: Float32Array | Float64Array }>;
  groups?: string[];
  groupAttrs?: Record<string, Record<string, Attr>>;
}

let fileCounter = 0;
async function writeH5(spec: H5Spec): Promise<Uint8Array> {
  const { FS } = await h5wasm.ready;
  const path = `/keras-test-${++fileCounter}.h5`;
  const f = new h5wasm.File(path, 'w');
  const ensureGroup = (p: string) => {
    let cur = '';
    for (const part of p.split('/').filter(Boolean)) {
      const next = cur ? `${cur}/${part}` : part;
      if (f.get(next) === null) (cur ? (f.get(cur) as Group) : f).create_group(part);
      cur = next;
    }
  };
  const setAttrs = (obj: Group, attrs: Record<string, Attr>) => {
    for (const [name, v] of Object.entries(attrs)) {
      if (v instanceof Float64Array) obj.create_attribute(name, v, [v.length], '<d');
      else if (typeof v === 'object' && !Array.isArray(v)) {
        // numpy fixed-length byte strings ('S<n>'), as Keras 2 writes names and configs
        const list = Array.isArray(v.fixed) ? v.fixed : [v.fixed];
        const width = Math.max(1, ...list.map((s) => new TextEncoder().encode(s).length));
        obj.create_attribute(name, v.fixed, Array.isArray(v.fixed) ? [list.length] : [], `S${width}`);
      } else obj.create_attribute(name, v);
    }
  };
  for (const g of spec.groups ?? []) ensureGroup(g);
  for (const [p, d] of Object.entries(spec.datasets ?? {})) {
    const parts = p.split('/');
    const leaf = parts.pop()!;
    ensureGroup(parts.join('/'));
    const parent = parts.length ? (f.get(parts.join('/')) as Group) : f;
    parent.create_dataset({
      name: leaf,
      data: d.data,
      shape: d.shape,
      dtype: d.data instanceof Float64Array ? '<d' : '<f',
    });
  }
  setAttrs(f, spec.attrs ?? {});
  for (const [g, attrs] of Object.entries(spec.groupAttrs ?? {})) {
    ensureGroup(g);
    setAttrs(f.get(g) as Group, attrs);
  }
  f.close();
  const bytes = FS!.readFile(path);
  FS!.unlink(path);
  return bytes;
}

/** Deterministic distinct values per tensor. */
function values(count: number, seed: number, Ctor: typeof Float32Array | typeof Float64Array = Float32Array) {
  const out = new Ctor(count);
  for (let i = 0; i < count; i++) out[i] = (((i * 37 + seed * 101) % 211) - 105) / 64 + seed / 1024;
  return out;
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const tensor = (
  shape: number[],
  seed: number,
  Ctor: typeof Float32Array | typeof Float64Array = Float32Array,
) => ({
  shape,
  data: values(prod(shape), seed, Ctor),
});

// ---------------------------------------------------------------------------------------------------------
// Independent expected layouts

/** Conv [kh,kw,cin,cout] → [cout][cin][y][x]; also Conv1D/3D via generic spatial dims. */
function expectConv(stored: number[], data: ArrayLike<number>): number[] {
  const n = stored.length - 2;
  const spatial = stored.slice(0, n);
  const cin = stored[n];
  const cout = stored[n + 1];
  const sp = prod(spatial);
  const out: number[] = [];
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cin; c++) for (let s = 0; s < sp; s++) out.push(data[(s * cin + c) * cout + o]);
  return out;
}

/** Depthwise [kh,kw,cin,mult] → [cin*mult][1][y][x], output channel c*mult+m. */
function expectDepthwise(stored: number[], data: ArrayLike<number>): number[] {
  const [kh, kw, cin, mult] = stored;
  const out: number[] = [];
  for (let c = 0; c < cin; c++) {
    for (let m = 0; m < mult; m++) {
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out.push(data[((y * kw + x) * cin + c) * mult + m]);
    }
  }
  return out;
}

/** Transposed [kh,kw,out,in] → [in][out][y][x]. */
function expectTransposed(stored: number[], data: ArrayLike<number>): number[] {
  const [kh, kw, cout, cin] = stored;
  const out: number[] = [];
  for (let i = 0; i < cin; i++) {
    for (let o = 0; o < cout; o++) {
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out.push(data[((y * kw + x) * cout + o) * cin + i]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The test model (functional):
//   input_1 → conv2d(Conv2D 3→4, 3x3) → bn → { dw(DepthwiseConv2D ×2), gconv(Conv2D groups 2, 4→8) } → add
//   → sep(SeparableConv2D 8→6, mult 1) → up(Conv2DTranspose 6→5, 2x2)
// Graph depths (InputLayer is not a node): conv2d 0, bn 1, dw 2, gconv 2, add 3, sep-dw 4, sep-pw 5, up 6.

const W = {
  conv2d: tensor([3, 3, 3, 4], 1),
  dw: tensor([3, 3, 4, 2], 2),
  gconv: tensor([3, 3, 2, 8], 3),
  sepDw: tensor([3, 3, 8, 1], 4),
  sepPw: tensor([1, 1, 8, 6], 5),
  up: tensor([2, 2, 5, 6], 6),
  headConv: tensor([1, 1, 5, 2], 7),
};

function k2Layer(name: string, cls: string, config: object, inbound: string[][]) {
  return {
    class_name: cls,
    name,
    config: { name, trainable: true, ...config },
    inbound_nodes: inbound.length ? [inbound.map((src) => [src[0], 0, 0, {}])] : [],
  };
}

function keras2Config(overrides: Record<string, object> = {}, extraLayers: object[] = []) {
  const conv = { padding: 'same', strides: [1, 1], dilation_rate: [1, 1], use_bias: true };
  return {
    class_name: 'Functional',
    config: {
      name: 'model',
      layers: [
        {
          class_name: 'InputLayer',
          name: 'input_1',
          config: { name: 'input_1', batch_input_shape: [null, 8, 8, 3] },
          inbound_nodes: [],
        },
        k2Layer(
          'conv2d',
          'Conv2D',
          { ...conv, filters: 4, kernel_size: [3, 3], groups: 1, ...overrides.conv2d },
          [['input_1']],
        ),
        k2Layer('bn', 'BatchNormalization', { axis: [3] }, [['conv2d']]),
        k2Layer(
          'dw',
          'DepthwiseConv2D',
          { ...conv, kernel_size: [3, 3], depth_multiplier: 2, ...overrides.dw },
          [['bn']],
        ),
        k2Layer(
          'gconv',
          'Conv2D',
          { ...conv, filters: 8, kernel_size: [3, 3], groups: 2, ...overrides.gconv },
          [['bn']],
        ),
        k2Layer('add', 'Add', {}, [['dw'], ['gconv']]),
        k2Layer('sep', 'SeparableConv2D', { ...conv, filters: 6, kernel_size: [3, 3], depth_multiplier: 1 }, [
          ['add'],
        ]),
        k2Layer('up', 'Conv2DTranspose', { ...conv, filters: 5, kernel_size: [2, 2], strides: [2, 2] }, [
          ['sep'],
        ]),
        ...extraLayers,
      ],
      input_layers: [['input_1', 0, 0]],
      output_layers: [['up', 0, 0]],
    },
  };
}

/** Keras 2 weights group layout: `<layer>/<weight name>` + `weight_names`, root `layer_names`. */
function keras2Weights(prefix: string) {
  const layers: Record<string, Record<string, { shape: number[]; data: Float32Array | Float64Array }>> = {
    input_1: {},
    conv2d: { 'conv2d/kernel:0': W.conv2d, 'conv2d/bias:0': tensor([4], 11) },
    bn: {
      'bn/gamma:0': tensor([4], 12),
      'bn/beta:0': tensor([4], 13),
      'bn/moving_mean:0': tensor([4], 14),
      'bn/moving_variance:0': tensor([4], 15),
    },
    dw: { 'dw/depthwise_kernel:0': W.dw, 'dw/bias:0': tensor([8], 16) },
    gconv: { 'gconv/kernel:0': W.gconv, 'gconv/bias:0': tensor([8], 17) },
    add: {},
    sep: {
      'sep/depthwise_kernel:0': W.sepDw,
      'sep/pointwise_kernel:0': W.sepPw,
      'sep/bias:0': tensor([6], 18),
    },
    up: { 'up/kernel:0': W.up, 'up/bias:0': tensor([5], 19) },
  };
  const datasets: H5Spec['datasets'] = {};
  const groupAttrs: H5Spec['groupAttrs'] = {};
  for (const [layer, weights] of Object.entries(layers)) {
    const g = prefix ? `${prefix}/${layer}` : layer;
    const names = Object.keys(weights);
    // h5py stores an empty name list as an empty float64 array
    groupAttrs[g] = { weight_names: names.length ? { fixed: names } : new Float64Array(0) };
    for (const [w, t] of Object.entries(weights)) datasets[`${g}/${w}`] = t;
  }
  return { datasets, groupAttrs, layerNames: Object.keys(layers) };
}

async function legacyFullModel(config: object = keras2Config()): Promise<Uint8Array> {
  const { datasets, groupAttrs, layerNames } = keras2Weights('model_weights');
  groupAttrs.model_weights = {
    layer_names: { fixed: layerNames },
    backend: 'tensorflow',
    keras_version: '2.13.1',
  };
  return writeH5({
    attrs: {
      keras_version: { fixed: '2.13.1' },
      backend: { fixed: 'tensorflow' },
      model_config: { fixed: JSON.stringify(config) },
    },
    datasets,
    groupAttrs,
  });
}

async function keras2WeightsOnly(): Promise<Uint8Array> {
  const { datasets, groupAttrs, layerNames } = keras2Weights('');
  // Long name lists are split into layer_names0, layer_names1, … by Keras; exercise that here.
  return writeH5({
    attrs: {
      layer_names0: { fixed: layerNames.slice(0, 3) },
      layer_names1: { fixed: layerNames.slice(3) },
      backend: 'tensorflow',
      keras_version: '2.13.1',
    },
    datasets,
    groupAttrs,
  });
}

// Keras 3: config.json with {args, kwargs} inbound nodes; model.weights.h5 with layers/<class key>/vars/<i>.
const kt = (name: string) => ({
  class_name: '__keras_tensor__',
  config: { shape: [null, 8, 8, 4], dtype: 'float32', keras_history: [name, 0, 0] },
});
function k3Layer(name: string, cls: string, config: object, args: unknown[]) {
  return {
    module: 'keras.layers',
    class_name: cls,
    config: { name, trainable: true, dtype: 'float32', ...config },
    registered_name: null,
    name,
    inbound_nodes: args.length ? [{ args, kwargs: {} }] : [],
  };
}

function keras3Config() {
  return {
    module: 'keras',
    class_name: 'Functional',
    config: {
      name: 'functional',
      trainable: true,
      layers: [
        {
          module: 'keras.layers',
          class_name: 'InputLayer',
          config: { batch_shape: [null, 8, 8, 3], name: 'input_layer' },
          name: 'input_layer',
          inbound_nodes: [],
        },
        k3Layer('stem', 'Conv2D', { filters: 4, kernel_size: [3, 3], groups: 1 }, [kt('input_layer')]),
        k3Layer('norm', 'BatchNormalization', { axis: -1 }, [kt('stem')]),
        k3Layer('dw', 'DepthwiseConv2D', { kernel_size: [3, 3], depth_multiplier: 2 }, [kt('norm')]),
        k3Layer('gconv', 'Conv2D', { filters: 8, kernel_size: [3, 3], groups: 2 }, [kt('norm')]),
        k3Layer('add', 'Add', {}, [[kt('dw'), kt('gconv')]]),
        k3Layer('sep', 'SeparableConv2D', { filters: 6, kernel_size: [3, 3], depth_multiplier: 1 }, [
          kt('add'),
        ]),
        k3Layer('up', 'Conv2DTranspose', { filters: 5, kernel_size: [2, 2], strides: [2, 2] }, [kt('sep')]),
        {
          module: 'keras',
          class_name: 'Sequential',
          config: {
            name: 'head',
            layers: [
              {
                module: 'keras.layers',
                class_name: 'InputLayer',
                config: { batch_shape: [null, 16, 16, 5], name: 'head_in' },
              },
              {
                module: 'keras.layers',
                class_name: 'Conv2D',
                config: { name: 'head_conv', filters: 2, kernel_size: [1, 1] },
              },
            ],
          },
          registered_name: null,
          name: 'head',
          inbound_nodes: [{ args: [kt('up')], kwargs: {} }],
        },
      ],
      input_layers: [['input_layer', 0, 0]],
      output_layers: [['head', 0, 0]],
    },
  };
}

const UP64 = tensor([2, 2, 5, 6], 6, Float64Array);

async function keras3WeightsH5(): Promise<Uint8Array> {
  return writeH5({
    groups: ['layers/input_layer/vars', 'layers/add/vars', 'layers/sequential/vars', 'vars'],
    datasets: {
      'layers/conv2d/vars/0': W.conv2d,
      'layers/conv2d/vars/1': tensor([4], 11),
      'layers/batch_normalization/vars/0': tensor([4], 12),
      'layers/batch_normalization/vars/1': tensor([4], 13),
      'layers/batch_normalization/vars/2': tensor([4], 14),
      'layers/batch_normalization/vars/3': tensor([4], 15),
      'layers/depthwise_conv2d/vars/0': W.dw,
      'layers/depthwise_conv2d/vars/1': tensor([8], 16),
      'layers/conv2d_1/vars/0': W.gconv,
      'layers/conv2d_1/vars/1': tensor([8], 17),
      'layers/separable_conv2d/vars/0': W.sepDw,
      'layers/separable_conv2d/vars/1': W.sepPw,
      'layers/separable_conv2d/vars/2': tensor([6], 18),
      'layers/conv2d_transpose/vars/0': UP64,
      'layers/conv2d_transpose/vars/1': tensor([5], 19),
      'layers/sequential/layers/conv2d/vars/0': W.headConv,
      'layers/sequential/layers/conv2d/vars/1': tensor([2], 20),
    },
  });
}

async function kerasZip(entries: Record<string, Uint8Array>): Promise<Uint8Array> {
  // Keras writes the archive with ZIP_STORED; level 0 does the same here.
  return zipSync(entries, { level: 0 });
}

async function keras3Archive(): Promise<Uint8Array> {
  const enc = new TextEncoder();
  return kerasZip({
    'metadata.json': enc.encode(
      JSON.stringify({ keras_version: '3.3.3', date_saved: '2024-05-01@12:00:00' }),
    ),
    'config.json': enc.encode(JSON.stringify(keras3Config())),
    'model.weights.h5': await keras3WeightsH5(),
  });
}

function input(name: string, bytes: Uint8Array): ModelInput {
  return { main: bytesSource(name, bytes) };
}

async function sniffBytes(name: string, bytes: Uint8Array) {
  const source = bytesSource(name, bytes);
  return kerasReader.sniff({ head: bytes.subarray(0, 4096), name: name.toLowerCase(), source });
}

function summary(model: Model) {
  return model.layers.map((l) => ({
    name: l.name,
    op: l.op,
    kind: l.kind,
    shape: l.shape,
    groups: l.groups,
    dtype: l.dtype,
    convDepth: l.convDepth,
    convDepthNorm: l.convDepthNorm,
  }));
}

async function assertWeight(
  model: Model,
  name: string,
  expected: number[],
  ctor: 'Float32Array' | 'Float64Array' = 'Float32Array',
) {
  const layer = model.layers.find((l) => l.name === name);
  assert.ok(layer, `layer ${name} present`);
  const w = await layer.loadWeight();
  assert.equal(w.constructor.name, ctor);
  assert.equal(w.length, prod(layer.shape));
  // Float32 storage: compare against the float32-rounded source values
  const exp = ctor === 'Float32Array' ? Array.from(Float32Array.from(expected)) : expected;
  assert.deepEqual(Array.from(w), exp, `weights of ${name}`);
}

async function rejects(p: Promise<unknown>, codes: string[], pattern?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FilterDbError, `expected FilterDbError, got ${String(e)}`);
    assert.ok(codes.includes(e.code), `code ${e.code} not in ${codes.join('/')}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------

test('toSnakeCase matches keras naming.to_snake_case', () => {
  assert.equal(toSnakeCase('Conv2D'), 'conv2d');
  assert.equal(toSnakeCase('DepthwiseConv2D'), 'depthwise_conv2d');
  assert.equal(toSnakeCase('SeparableConv2D'), 'separable_conv2d');
  assert.equal(toSnakeCase('Conv2DTranspose'), 'conv2d_transpose');
  assert.equal(toSnakeCase('BatchNormalization'), 'batch_normalization');
  assert.equal(toSnakeCase('InputLayer'), 'input_layer');
});

test('natural order of storage paths', () => {
  const paths = [
    'layers/conv2d_10/vars/0',
    'layers/conv2d/vars/1',
    'layers/conv2d_2/vars/0',
    'layers/conv2d/vars/0',
  ];
  assert.deepEqual(paths.sort(naturalPathCompare), [
    'layers/conv2d/vars/0',
    'layers/conv2d/vars/1',
    'layers/conv2d_2/vars/0',
    'layers/conv2d_10/vars/0',
  ]);
});

test('legacy full-model .h5 (Keras 2 functional config)', async () => {
  const bytes = await legacyFullModel();
  assert.equal(await sniffBytes('model.h5', bytes), 2);
  const model = await kerasReader.read(input('model.h5', bytes));
  assert.equal(model.format, 'keras');
  assert.equal(model.producer, 'keras 2.13.1 (tensorflow)');
  assert.equal(model.graphDepthKnown, true);
  assert.equal(model.graphDepthLevels, 7);
  assert.deepEqual(model.warnings, []);
  assert.deepEqual(summary(model), [
    {
      name: 'conv2d/kernel:0',
      op: 'Conv2D',
      kind: 'plain',
      shape: [4, 3, 3, 3],
      groups: 1,
      dtype: 'float32',
      convDepth: 0,
      convDepthNorm: 0,
    },
    {
      name: 'dw/depthwise_kernel:0',
      op: 'DepthwiseConv2D',
      kind: 'depthwise',
      shape: [8, 1, 3, 3],
      groups: 4,
      dtype: 'float32',
      convDepth: 1,
      convDepthNorm: 0.25,
    },
    {
      name: 'gconv/kernel:0',
      op: 'Conv2D',
      kind: 'grouped',
      shape: [8, 2, 3, 3],
      groups: 2,
      dtype: 'float32',
      convDepth: 1,
      convDepthNorm: 0.25,
    },
    {
      name: 'sep/depthwise_kernel:0',
      op: 'SeparableConv2D',
      kind: 'depthwise',
      shape: [8, 1, 3, 3],
      groups: 8,
      dtype: 'float32',
      convDepth: 2,
      convDepthNorm: 0.5,
    },
    {
      name: 'sep/pointwise_kernel:0',
      op: 'SeparableConv2D',
      kind: 'plain',
      shape: [6, 8, 1, 1],
      groups: 1,
      dtype: 'float32',
      convDepth: 3,
      convDepthNorm: 0.75,
    },
    {
      name: 'up/kernel:0',
      op: 'Conv2DTranspose',
      kind: 'transposed',
      shape: [6, 5, 2, 2],
      groups: 1,
      dtype: 'float32',
      convDepth: 4,
      convDepthNorm: 1,
    },
  ]);
  assert.deepEqual(
    model.layers.map((l) => l.graphDepth),
    [0, 2, 2, 4, 5, 6],
  );
  assert.deepEqual(model.layers[5].attributes, { strides: [2, 2], dilations: [1, 1], padding: 'same' });
  await assertWeight(model, 'conv2d/kernel:0', expectConv(W.conv2d.shape, W.conv2d.data));
  await assertWeight(model, 'dw/depthwise_kernel:0', expectDepthwise(W.dw.shape, W.dw.data));
  await assertWeight(model, 'gconv/kernel:0', expectConv(W.gconv.shape, W.gconv.data));
  await assertWeight(model, 'sep/depthwise_kernel:0', expectDepthwise(W.sepDw.shape, W.sepDw.data));
  await assertWeight(model, 'sep/pointwise_kernel:0', expectConv(W.sepPw.shape, W.sepPw.data));
  await assertWeight(model, 'up/kernel:0', expectTransposed(W.up.shape, W.up.data));
  // after every kernel was loaded once the file is closed; loading again reopens it
  await assertWeight(model, 'up/kernel:0', expectTransposed(W.up.shape, W.up.data));
});

test('Keras 2 weights-only .h5: names and storage order, kind only where the weight name says it', async () => {
  const bytes = await keras2WeightsOnly();
  assert.equal(await sniffBytes('weights.h5', bytes), 2);
  const model = await kerasReader.read(input('weights.h5', bytes));
  assert.equal(model.graphDepthKnown, false);
  assert.equal(model.producer, 'keras 2.13.1 (tensorflow)');
  assert.deepEqual(
    summary(model).map(({ name, op, kind, shape, groups, convDepth }) => ({
      name,
      op,
      kind,
      shape,
      groups,
      convDepth,
    })),
    [
      { name: 'conv2d/kernel:0', op: 'Conv2D', kind: null, shape: [4, 3, 3, 3], groups: null, convDepth: 0 },
      {
        name: 'dw/depthwise_kernel:0',
        op: 'DepthwiseConv2D',
        kind: 'depthwise',
        shape: [8, 1, 3, 3],
        groups: 4,
        convDepth: 1,
      },
      { name: 'gconv/kernel:0', op: 'Conv2D', kind: null, shape: [8, 2, 3, 3], groups: null, convDepth: 2 },
      {
        name: 'sep/depthwise_kernel:0',
        op: 'SeparableConv2D',
        kind: 'depthwise',
        shape: [8, 1, 3, 3],
        groups: 8,
        convDepth: 3,
      },
      {
        name: 'sep/pointwise_kernel:0',
        op: 'SeparableConv2D',
        kind: 'plain',
        shape: [6, 8, 1, 1],
        groups: 1,
        convDepth: 4,
      },
      // a Conv2DTranspose kernel cannot be told from a Conv2D kernel without a config
      { name: 'up/kernel:0', op: 'Conv2D', kind: null, shape: [6, 5, 2, 2], groups: null, convDepth: 5 },
    ],
  );
  await assertWeight(model, 'dw/depthwise_kernel:0', expectDepthwise(W.dw.shape, W.dw.data));
  await assertWeight(model, 'gconv/kernel:0', expectConv(W.gconv.shape, W.gconv.data));
});

test('Keras 3 .keras zip: class-keyed storage, dict inbound nodes, nested Sequential, float64', async () => {
  const bytes = await keras3Archive();
  assert.equal(await sniffBytes('model.keras', bytes), 2);
  assert.equal(await sniffBytes('renamed.bin', bytes), 2);
  const model = await kerasReader.read(input('model.keras', bytes));
  assert.equal(model.producer, 'keras 3.3.3');
  assert.equal(model.graphDepthKnown, true);
  assert.deepEqual(model.warnings, []);
  assert.deepEqual(summary(model), [
    {
      name: 'layers/conv2d/vars/0',
      op: 'Conv2D',
      kind: 'plain',
      shape: [4, 3, 3, 3],
      groups: 1,
      dtype: 'float32',
      convDepth: 0,
      convDepthNorm: 0,
    },
    {
      name: 'layers/depthwise_conv2d/vars/0',
      op: 'DepthwiseConv2D',
      kind: 'depthwise',
      shape: [8, 1, 3, 3],
      groups: 4,
      dtype: 'float32',
      convDepth: 1,
      convDepthNorm: 0.2,
    },
    {
      name: 'layers/conv2d_1/vars/0',
      op: 'Conv2D',
      kind: 'grouped',
      shape: [8, 2, 3, 3],
      groups: 2,
      dtype: 'float32',
      convDepth: 1,
      convDepthNorm: 0.2,
    },
    {
      name: 'layers/separable_conv2d/vars/0',
      op: 'SeparableConv2D',
      kind: 'depthwise',
      shape: [8, 1, 3, 3],
      groups: 8,
      dtype: 'float32',
      convDepth: 2,
      convDepthNorm: 0.4,
    },
    {
      name: 'layers/separable_conv2d/vars/1',
      op: 'SeparableConv2D',
      kind: 'plain',
      shape: [6, 8, 1, 1],
      groups: 1,
      dtype: 'float32',
      convDepth: 3,
      convDepthNorm: 0.6,
    },
    {
      name: 'layers/conv2d_transpose/vars/0',
      op: 'Conv2DTranspose',
      kind: 'transposed',
      shape: [6, 5, 2, 2],
      groups: 1,
      dtype: 'float64',
      convDepth: 4,
      convDepthNorm: 0.8,
    },
    {
      name: 'layers/sequential/layers/conv2d/vars/0',
      op: 'Conv2D',
      kind: 'plain',
      shape: [2, 5, 1, 1],
      groups: 1,
      dtype: 'float32',
      convDepth: 5,
      convDepthNorm: 1,
    },
  ]);
  assert.deepEqual(
    model.layers.map((l) => l.graphDepth),
    [0, 2, 2, 4, 5, 6, 7],
  );
  await assertWeight(model, 'layers/conv2d/vars/0', expectConv(W.conv2d.shape, W.conv2d.data));
  await assertWeight(model, 'layers/depthwise_conv2d/vars/0', expectDepthwise(W.dw.shape, W.dw.data));
  await assertWeight(model, 'layers/conv2d_1/vars/0', expectConv(W.gconv.shape, W.gconv.data));
  await assertWeight(model, 'layers/separable_conv2d/vars/1', expectConv(W.sepPw.shape, W.sepPw.data));
  await assertWeight(
    model,
    'layers/conv2d_transpose/vars/0',
    expectTransposed(UP64.shape, UP64.data),
    'Float64Array',
  );
  await assertWeight(
    model,
    'layers/sequential/layers/conv2d/vars/0',
    expectConv(W.headConv.shape, W.headConv.data),
  );
});

test('Keras 3 weights-only .weights.h5: rank-4 variables in natural order, with a warning', async () => {
  const bytes = await keras3WeightsH5();
  assert.equal(await sniffBytes('model.weights.h5', bytes), 2);
  const model = await kerasReader.read(input('model.weights.h5', bytes));
  assert.equal(model.graphDepthKnown, false);
  assert.deepEqual(
    model.layers.map((l) => [l.name, l.kind, l.groups, l.dtype]),
    [
      ['layers/conv2d/vars/0', null, null, 'float32'],
      ['layers/conv2d_1/vars/0', null, null, 'float32'],
      ['layers/conv2d_transpose/vars/0', null, null, 'float64'],
      ['layers/depthwise_conv2d/vars/0', null, null, 'float32'],
      ['layers/separable_conv2d/vars/0', null, null, 'float32'],
      ['layers/separable_conv2d/vars/1', null, null, 'float32'],
      ['layers/sequential/layers/conv2d/vars/0', null, null, 'float32'],
    ],
  );
  assert.equal(model.warnings.length, 1);
  assert.match(model.warnings[0], /without a config/);
  await assertWeight(model, 'layers/conv2d_1/vars/0', expectConv(W.gconv.shape, W.gconv.data));
});

test('Conv1D / Conv3D in a Sequential legacy model: rank 3 and 5, depth by order', async () => {
  const c1 = tensor([3, 2, 4], 30);
  const c3 = tensor([2, 3, 2, 4, 3], 31);
  const config = {
    class_name: 'Sequential',
    config: {
      name: 'seq',
      layers: [
        { class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 10, 2] } },
        { class_name: 'Conv1D', config: { name: 'c1', filters: 4, kernel_size: [3], groups: 1 } },
        { class_name: 'Flatten', config: { name: 'flat' } },
        { class_name: 'Conv3D', config: { name: 'c3', filters: 3, kernel_size: [2, 3, 2], groups: 1 } },
      ],
    },
  };
  const bytes = await writeH5({
    attrs: { keras_version: '2.15.0', backend: 'tensorflow', model_config: JSON.stringify(config) },
    datasets: { 'model_weights/c1/c1/kernel:0': c1, 'model_weights/c3/c3/kernel:0': c3 },
    groupAttrs: {
      model_weights: { layer_names: { fixed: ['c1', 'flat', 'c3'] } },
      'model_weights/c1': { weight_names: { fixed: ['c1/kernel:0'] } },
      'model_weights/flat': { weight_names: new Float64Array(0) },
      'model_weights/c3': { weight_names: { fixed: ['c3/kernel:0'] } },
    },
  });
  const model = await kerasReader.read(input('seq.h5', bytes));
  assert.deepEqual(summary(model), [
    {
      name: 'c1/kernel:0',
      op: 'Conv1D',
      kind: 'plain',
      shape: [4, 2, 3],
      groups: 1,
      dtype: 'float32',
      convDepth: 0,
      convDepthNorm: 0,
    },
    {
      name: 'c3/kernel:0',
      op: 'Conv3D',
      kind: 'plain',
      shape: [3, 4, 2, 3, 2],
      groups: 1,
      dtype: 'float32',
      convDepth: 1,
      convDepthNorm: 1,
    },
  ]);
  assert.deepEqual(
    model.layers.map((l) => l.graphDepth),
    [0, 2],
  );
  await assertWeight(model, 'c1/kernel:0', expectConv(c1.shape, c1.data));
  await assertWeight(model, 'c3/kernel:0', expectConv(c3.shape, c3.data));
});

test('legacy functional model with a nested Sequential: flattened graph, weights mapped by name', async () => {
  const stem = tensor([3, 3, 3, 4], 40);
  const inner = tensor([3, 3, 4, 4], 41);
  const tail = tensor([1, 1, 4, 2], 42);
  const config = {
    class_name: 'Functional',
    config: {
      name: 'outer',
      layers: [
        { class_name: 'InputLayer', name: 'x', config: { name: 'x' }, inbound_nodes: [] },
        k2Layer('stem', 'Conv2D', { filters: 4, kernel_size: [3, 3] }, [['x']]),
        {
          class_name: 'Sequential',
          name: 'block',
          config: {
            name: 'block',
            layers: [
              { class_name: 'InputLayer', config: { name: 'block_in' } },
              { class_name: 'Conv2D', config: { name: 'inner', filters: 4, kernel_size: [3, 3] } },
              { class_name: 'ReLU', config: { name: 'relu' } },
            ],
          },
          inbound_nodes: [[['stem', 0, 0, {}]]],
        },
        k2Layer('tail', 'Conv2D', { filters: 2, kernel_size: [1, 1] }, [['block']]),
      ],
      input_layers: [['x', 0, 0]],
      output_layers: [['tail', 0, 0]],
    },
  };
  const bytes = await writeH5({
    attrs: { keras_version: '2.11.0', backend: 'tensorflow', model_config: JSON.stringify(config) },
    datasets: {
      'model_weights/stem/stem/kernel:0': stem,
      'model_weights/block/inner/kernel:0': inner,
      'model_weights/tail/tail/kernel:0': tail,
    },
    groupAttrs: {
      model_weights: { layer_names: { fixed: ['x', 'stem', 'block', 'tail'] } },
      'model_weights/x': { weight_names: new Float64Array(0) },
      'model_weights/stem': { weight_names: { fixed: ['stem/kernel:0'] } },
      'model_weights/block': { weight_names: { fixed: ['inner/kernel:0'] } },
      'model_weights/tail': { weight_names: { fixed: ['tail/kernel:0'] } },
    },
  });
  const model = await kerasReader.read(input('nested.h5', bytes));
  assert.deepEqual(model.warnings, []);
  assert.equal(model.graphDepthKnown, true);
  assert.deepEqual(
    model.layers.map((l) => [l.name, l.kind, l.graphDepth, l.convDepth]),
    [
      ['stem/kernel:0', 'plain', 0, 0],
      ['inner/kernel:0', 'plain', 1, 1],
      ['tail/kernel:0', 'plain', 3, 2],
    ],
  );
  await assertWeight(model, 'inner/kernel:0', expectConv(inner.shape, inner.data));
});

// ---------------------------------------------------------------------------------------------------------
// Hostile input

test('a plain HDF5 file that is not Keras (CNN Filter DB dataset.h5): sniff <= 1, read not-a-model', async () => {
  const bytes = new Uint8Array(readFileSync(dataPath('dataset.h5')));
  assert.ok((await sniffBytes('dataset.h5', bytes)) <= 1);
  await rejects(kerasReader.read(input('dataset.h5', bytes)), ['not-a-model'], /dataset\.h5.*CNN Filter DB/);
});

test('truncated .h5 gives a typed error naming the file', async () => {
  const bytes = await legacyFullModel();
  for (const cut of [100, 2000, Math.floor(bytes.length / 2), bytes.length - 10]) {
    await rejects(
      kerasReader.read(input('cut.h5', bytes.subarray(0, cut))),
      ['truncated', 'corrupt'],
      /^cut\.h5: /,
    );
  }
  // garbage after a valid signature
  const junk = new Uint8Array(4096);
  junk.set(bytes.subarray(0, 8));
  await rejects(kerasReader.read(input('junk.h5', junk)), ['truncated', 'corrupt'], /^junk\.h5: /);
});

test('.keras zip without model.weights.h5 → missing-file; without config.json → not-a-model', async () => {
  const enc = new TextEncoder();
  const noWeights = await kerasZip({
    'config.json': enc.encode(JSON.stringify(keras3Config())),
    'metadata.json': enc.encode('{}'),
  });
  assert.equal(await sniffBytes('m.keras', noWeights), 0);
  await rejects(
    kerasReader.read(input('m.keras', noWeights)),
    ['missing-file', 'corrupt'],
    /model\.weights\.h5/,
  );
  const noConfig = await kerasZip({ 'model.weights.h5': await keras3WeightsH5() });
  await rejects(kerasReader.read(input('n.keras', noConfig)), ['not-a-model']);
  // a .keras whose weights file is not HDF5
  const badWeights = await kerasZip({
    'config.json': enc.encode(JSON.stringify(keras3Config())),
    'model.weights.h5': enc.encode('nope'),
  });
  await rejects(kerasReader.read(input('b.keras', badWeights)), ['corrupt', 'truncated']);
});

test('model_config with __proto__ keys and a layer named __proto__ is harmless', async () => {
  const base = keras2Config({}, [k2Layer('__proto__', 'Dense', { units: 2 }, [['up']])]);
  const json = JSON.stringify(base)
    .replace('"config":{"name":"model"', '"config":{"__proto__":{"polluted":true},"name":"model"')
    .replace(
      '"class_name":"Conv2D"',
      '"__proto__":{"class_name":"Evil","polluted":true},"class_name":"Conv2D"',
    );
  assert.match(json, /__proto__/);
  const bytes = await legacyFullModel(JSON.parse(json));
  // JSON.parse keeps "__proto__" as an own key; re-serialising keeps it in the attribute
  const model = await kerasReader.read(input('proto.h5', bytes));
  assert.equal(model.layers.length, 6);
  assert.equal(model.layers[0].op, 'Conv2D');
  assert.equal(model.graphDepthKnown, true);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
});

test('model_config that is not JSON falls back to storage order with a warning', async () => {
  const { datasets, groupAttrs, layerNames } = keras2Weights('model_weights');
  groupAttrs.model_weights = { layer_names: { fixed: layerNames } };
  const bytes = await writeH5({
    attrs: { keras_version: '2.13.1', model_config: '{"class_name": ' },
    datasets,
    groupAttrs,
  });
  const model = await kerasReader.read(input('badjson.h5', bytes));
  assert.equal(model.layers.length, 6);
  assert.equal(model.graphDepthKnown, false);
  assert.match(model.warnings.join('\n'), /not valid JSON/);
});

test('a weight whose stored shape disagrees with the config → corrupt', async () => {
  const cases: [Record<string, object>, RegExp][] = [
    [{ gconv: { kernel_size: [5, 5] } }, /gconv\/kernel:0.*\[3, 3, 2, 8\].*kernel_size \[5, 5\]/],
    [{ conv2d: { filters: 7 } }, /conv2d\/kernel:0.*filters 7/],
    [{ dw: { depth_multiplier: 3 } }, /dw\/depthwise_kernel:0.*depth_multiplier 3/],
    [{ gconv: { groups: 3 } }, /groups 3/],
  ];
  for (const [override, pattern] of cases) {
    const bytes = await legacyFullModel(keras2Config(override));
    await rejects(kerasReader.read(input('bad.h5', bytes)), ['corrupt'], pattern);
  }
  // a Conv2D config over a rank-3 weight
  const cfg = keras2Config({ conv2d: {} });
  const { datasets, groupAttrs, layerNames } = keras2Weights('model_weights');
  datasets!['model_weights/conv2d/conv2d/kernel:0'] = tensor([3, 3, 12], 1);
  groupAttrs.model_weights = { layer_names: { fixed: layerNames } };
  const bytes = await writeH5({
    attrs: { keras_version: '2.13.1', model_config: JSON.stringify(cfg) },
    datasets,
    groupAttrs,
  });
  await rejects(kerasReader.read(input('rank.h5', bytes)), ['corrupt'], /rank 3.*needs rank 4/);
});

test('Keras 3 archive whose config names a conv layer missing from the weights → missing-file', async () => {
  const enc = new TextEncoder();
  const cfg = keras3Config();
  (cfg.config.layers as object[]).push(
    k3Layer('extra', 'Conv2D', { filters: 1, kernel_size: [1, 1] }, [kt('up')]),
  );
  const bytes = await kerasZip({
    'config.json': enc.encode(JSON.stringify(cfg)),
    'model.weights.h5': await keras3WeightsH5(),
  });
  await rejects(kerasReader.read(input('x.keras', bytes)), ['missing-file'], /extra/);
});

test('sniff: extension only, and non-HDF5 bytes', async () => {
  const junk = new TextEncoder().encode('just some text, not a model at all');
  assert.equal(await sniffBytes('a.h5', junk), 1);
  assert.equal(await sniffBytes('a.keras', junk), 1);
  assert.equal(await sniffBytes('a.bin', junk), 0);
  await rejects(kerasReader.read(input('a.h5', junk)), ['unsupported-format']);
});

// ---------------------------------------------------------------------------------------------------------
// HDF5 access layer

test('hdf5: attributes, datasets, slices, walk, and close/unlink', async () => {
  const bytes = await legacyFullModel();
  assert.equal(hdf5SignatureOffset(bytes), 0);
  const { FS } = await h5wasm.ready;
  const before = FS!.readdir('/filterdb-hdf5').length;
  await withHdf5(bytesSource('m.h5', bytes), (f) => {
    assert.equal(FS!.readdir('/filterdb-hdf5').length, before + 1);
    assert.deepEqual(f.keys('/'), ['model_weights']);
    assert.equal(f.attrString('/', 'keras_version'), '2.13.1');
    assert.deepEqual(f.attrStrings('model_weights', 'layer_names')?.slice(0, 2), ['input_1', 'conv2d']);
    assert.deepEqual(f.attrStrings('model_weights/input_1', 'weight_names'), []);
    assert.equal(f.kind('model_weights/conv2d'), 'group');
    assert.equal(f.kind('model_weights/conv2d/conv2d/kernel:0'), 'dataset');
    assert.equal(f.kind('nope/nothing'), 'missing');
    const info = f.datasetInfo('model_weights/conv2d/conv2d/kernel:0');
    assert.deepEqual(
      [info.shape, info.dtype, info.elementSize, info.elementCount],
      [[3, 3, 3, 4], 'float32', 4, 108],
    );
    const all = f.readFloats('model_weights/conv2d/conv2d/kernel:0');
    assert.deepEqual(Array.from(all.data), Array.from(W.conv2d.data));
    const part = f.readFloats('model_weights/conv2d/conv2d/kernel:0', [
      [1, 2],
      [0, 3],
      [2, 3],
    ]);
    assert.deepEqual(part.shape, [1, 3, 1, 4]);
    const expected: number[] = [];
    for (let x = 0; x < 3; x++)
      for (let o = 0; o < 4; o++) expected.push(W.conv2d.data[((1 * 3 + x) * 3 + 2) * 4 + o]);
    assert.deepEqual(Array.from(part.data), expected);
    assert.throws(() => f.readFloats('model_weights/conv2d/conv2d/kernel:0', [[0, 9]]), FilterDbError);
    assert.throws(() => f.datasetInfo('model_weights/nope'), FilterDbError);
    const seen: string[] = [];
    f.walk('/model_weights/sep', (p, kind) => {
      seen.push(`${kind}:${p}`);
      return true;
    });
    assert.deepEqual(seen, [
      'group:/model_weights/sep/sep',
      'dataset:/model_weights/sep/sep/bias:0',
      'dataset:/model_weights/sep/sep/depthwise_kernel:0',
      'dataset:/model_weights/sep/sep/pointwise_kernel:0',
    ]);
  });
  assert.equal(FS!.readdir('/filterdb-hdf5').length, before);
});

test('hdf5: opening by path reads lazily (dataset.h5), errors name the file', async () => {
  const path = dataPath('dataset.h5');
  const size = statSync(path).size;
  const f = await openHdf5({ path, name: 'dataset.h5' });
  try {
    assert.deepEqual(f.keys(), ['filters', 'meta']);
    const info = f.datasetInfo('filters');
    assert.deepEqual([info.shape.slice(1), info.dtype], [[3, 3], 'float32']);
    const rows = f.readFloats('filters', [[100, 104]]);
    assert.deepEqual(rows.shape, [4, 3, 3]);
    assert.equal(f.attrString('meta', 'pandas_type'), 'frame');
    assert.ok(f.ioStats.bytes < size / 4, `lazy: read ${f.ioStats.bytes} of ${size} bytes`);
    // the same rows through an in-memory source
    const mem = await openHdf5(bytesSource('mem.h5', new Uint8Array(readFileSync(path))));
    try {
      assert.deepEqual(Array.from(mem.readFloats('filters', [[100, 104]]).data), Array.from(rows.data));
    } finally {
      mem.close();
    }
  } finally {
    f.close();
  }
  await rejects(openHdf5({ path: join(tmpdir(), 'does-not-exist.h5') }), ['missing-file']);
  await rejects(
    openHdf5(bytesSource('text.h5', new TextEncoder().encode('hello'))),
    ['corrupt', 'truncated'],
    /^text\.h5: HDF5 open failed/,
  );
  await rejects(openHdf5(bytesSource('big.h5', new Uint8Array(64)), { maxInMemoryBytes: 10 }), ['too-large']);
});

test('hdf5: offsets beyond 4 GiB (file behind an 8 GiB user block, sparse)', async (t) => {
  const bytes = await legacyFullModel();
  const path = join(tmpdir(), `filterdb-ub-${process.pid}.h5`);
  const offset = 2 ** 33;
  try {
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, bytes, 0, bytes.length, offset);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    t.skip(`cannot write a sparse file here: ${(e as Error).message}`);
    return;
  }
  try {
    const f = await openHdf5({ path });
    try {
      const got = f.readFloats('model_weights/up/up/kernel:0');
      assert.deepEqual(Array.from(got.data), Array.from(W.up.data));
      assert.ok(f.ioStats.bytes < 1024 * 1024);
    } finally {
      f.close();
    }
  } finally {
    rmSync(path, { force: true });
  }
});
