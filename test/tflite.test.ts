import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { bytesSource, type ModelInput } from '../src/formats/io/source.js';
import { readTfjs } from '../src/formats/tfjs.js';
import { readTflite, tfliteReader } from '../src/formats/tflite.js';
import type { Model } from '../src/model/types.js';
import { peakArrayBufferGrowth } from './support/memory.js';
import { mulberry32 as rng } from './support/random.js';
import {
  Builtin,
  f32Bytes,
  type ModelDef,
  OptionsType,
  TensorType,
  writeTflite,
} from './support/tflite-writer.js';

// ---------------------------------------------------------------------------------------------------
// independent helpers: a seeded PRNG, layouts written out as loops, float16 encoding of exact values

function randomF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** PyTorch conv [O, I, KH, KW] -> TFLite CONV_2D [O, KH, KW, I]. */
function torchToTfliteConv(w: Float32Array, [O, I, KH, KW]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++)
          out[((o * KH + h) * KW + x) * I + i] = w[((o * I + i) * KH + h) * KW + x];
  return out;
}

/** Depthwise [C, 1, KH, KW] -> TFLite [1, KH, KW, C]. */
function torchToTfliteDepthwise(w: Float32Array, [C, , KH, KW]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let c = 0; c < C; c++)
    for (let h = 0; h < KH; h++)
      for (let x = 0; x < KW; x++) out[(h * KW + x) * C + c] = w[(c * KH + h) * KW + x];
  return out;
}

/** Transposed [IN, OUT, KH, KW] -> TFLite TRANSPOSE_CONV [OUT, KH, KW, IN]. */
function torchToTfliteTransposed(w: Float32Array, [IN, OUT, KH, KW]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < IN; i++)
    for (let o = 0; o < OUT; o++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++)
          out[((o * KH + h) * KW + x) * IN + i] = w[((i * OUT + o) * KH + h) * KW + x];
  return out;
}

/** Conv [O, I, KH, KW] -> TF.js Conv2D [KH, KW, I, O]. */
function torchToTfjsConv(w: Float32Array, [O, I, KH, KW]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++) out[((h * KW + x) * I + i) * O + o] = w[((o * I + i) * KH + h) * KW + x];
  return out;
}

/** Depthwise [C*M, 1, KH, KW] (channel c*M+m) -> TF.js [KH, KW, C, M]. */
function torchToTfjsDepthwise(w: Float32Array, C: number, M: number, KH: number, KW: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let c = 0; c < C; c++)
    for (let m = 0; m < M; m++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++) out[((h * KW + x) * C + c) * M + m] = w[((c * M + m) * KH + h) * KW + x];
  return out;
}

/** Transposed [IN, OUT, KH, KW] -> TF.js Conv2DTranspose [KH, KW, OUT, IN]. */
function torchToTfjsTransposed(w: Float32Array, [IN, OUT, KH, KW]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < IN; i++)
    for (let o = 0; o < OUT; o++)
      for (let h = 0; h < KH; h++)
        for (let x = 0; x < KW; x++)
          out[((h * KW + x) * OUT + o) * IN + i] = w[((i * OUT + o) * KH + h) * KW + x];
  return out;
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

function halfBytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setUint16(i * 2, halfBits(values[i]), true);
  return out;
}

function memInput(name: string, bytes: Uint8Array, siblings = new Map<string, Uint8Array>()): ModelInput {
  return {
    main: bytesSource(name, bytes),
    async sibling(p: string) {
      const b = siblings.get(p);
      return b ? bytesSource(p, b) : null;
    },
  };
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

// ---------------------------------------------------------------------------------------------------
// the test model: conv f32 -> depthwise (mult 2) -> 1x1 conv f16 via DEQUANTIZE -> int8 per-channel conv
// -> transpose conv

const W1 = randomF32(4 * 3 * 3 * 3, 1); // [4, 3, 3, 3]
const W2 = randomF32(8 * 1 * 3 * 3, 2); // depthwise [8, 1, 3, 3], in 4, mult 2
const W3 = Float32Array.from({ length: 6 * 8 }, (_, i) => ((i % 23) - 11) / 16); // exact halves, [6, 8, 1, 1]
const I8 = Int8Array.from({ length: 4 * 3 * 3 * 6 }, (_, i) => ((i * 37) % 255) - 127); // stored [4, 3, 3, 6]
const I8_SCALE = [0.01, 0.02, 0.03, 0.04];
const I8_ZP = [0, 1, -2, 3];
const W5 = randomF32(4 * 5 * 2 * 2, 5); // transposed [in 4, out 5, 2, 2]

function testModel(extra: Partial<ModelDef> = {}): ModelDef {
  return {
    tensors: [
      { name: 'input', shape: [1, 8, 8, 3], type: TensorType.FLOAT32 },
      {
        name: 'conv/w',
        shape: [4, 3, 3, 3],
        type: TensorType.FLOAT32,
        data: f32Bytes(torchToTfliteConv(W1, [4, 3, 3, 3])),
      },
      { name: 'conv/b', shape: [4], type: TensorType.FLOAT32, data: f32Bytes([0.1, 0.2, 0.3, 0.4]) },
      { name: 'a1', shape: [1, 8, 8, 4], type: TensorType.FLOAT32 },
      {
        name: 'dw/w',
        shape: [1, 3, 3, 8],
        type: TensorType.FLOAT32,
        data: f32Bytes(torchToTfliteDepthwise(W2, [8, 1, 3, 3])),
      },
      { name: 'a2', shape: [1, 8, 8, 8], type: TensorType.FLOAT32 },
      {
        name: 'pw/w_f16',
        shape: [6, 1, 1, 8],
        type: TensorType.FLOAT16,
        data: halfBytes(torchToTfliteConv(W3, [6, 8, 1, 1])),
      },
      { name: 'pw/w_dequant', shape: [6, 1, 1, 8], type: TensorType.FLOAT32 },
      { name: 'a3', shape: [1, 8, 8, 6], type: TensorType.FLOAT32 },
      {
        name: 'q/w',
        shape: [4, 3, 3, 6],
        type: TensorType.INT8,
        data: new Uint8Array(I8.buffer),
        quant: { scale: I8_SCALE, zeroPoint: I8_ZP, dimension: 0 },
      },
      { name: 'a4', shape: [1, 8, 8, 4], type: TensorType.FLOAT32 },
      {
        name: 'tc/shape',
        shape: [4],
        type: TensorType.INT32,
        data: new Uint8Array(Int32Array.from([1, 16, 16, 5]).buffer),
      },
      {
        name: 'tc/w',
        shape: [5, 2, 2, 4],
        type: TensorType.FLOAT32,
        data: f32Bytes(torchToTfliteTransposed(W5, [4, 5, 2, 2])),
      },
      { name: 'output', shape: [1, 16, 16, 5], type: TensorType.FLOAT32 },
    ],
    ops: [
      {
        code: Builtin.CONV_2D,
        inputs: [0, 1, 2],
        outputs: [3],
        options: { type: OptionsType.Conv2DOptions, padding: 0, ints: { 1: 1, 2: 1, 4: 1, 5: 1 } },
      },
      {
        code: Builtin.DEPTHWISE_CONV_2D,
        inputs: [3, 4, -1],
        outputs: [5],
        options: { type: OptionsType.DepthwiseConv2DOptions, padding: 1, ints: { 1: 1, 2: 1, 3: 2 } },
      },
      { code: Builtin.DEQUANTIZE, inputs: [6], outputs: [7] },
      { code: Builtin.CONV_2D, inputs: [5, 7, -1], outputs: [8] },
      { code: Builtin.CONV_2D, inputs: [8, 9, -1], outputs: [10] },
      {
        code: Builtin.TRANSPOSE_CONV,
        inputs: [11, 12, 10],
        outputs: [13],
        options: { type: OptionsType.TransposeConvOptions, padding: 0, ints: { 1: 2, 2: 2 } },
      },
    ],
    inputs: [0],
    outputs: [13],
    ...extra,
  };
}

function expectedInt8(): Float32Array {
  // stored [4, 3, 3, 6], per output channel (dim 0): (q - zp) * scale, rounded to float32
  const stored = Float32Array.from(I8, (q, i) => {
    const c = Math.floor(i / 54);
    return (q - I8_ZP[c]) * Math.fround(I8_SCALE[c]); // scales are stored as float32
  });
  const out = new Float32Array(stored.length);
  for (let o = 0; o < 4; o++)
    for (let i = 0; i < 6; i++)
      for (let h = 0; h < 3; h++)
        for (let x = 0; x < 3; x++)
          out[((o * 6 + i) * 3 + h) * 3 + x] = stored[((o * 3 + h) * 3 + x) * 6 + i];
  return out;
}

async function checkTestModel(m: Model): Promise<void> {
  assert.equal(m.format, 'tflite');
  assert.deepEqual(
    m.layers.map((l) => [l.name, l.op, l.kind, l.shape, l.groups, l.dtype]),
    [
      ['conv/w', 'CONV_2D', 'plain', [4, 3, 3, 3], 1, 'float32'],
      ['dw/w', 'DEPTHWISE_CONV_2D', 'depthwise', [8, 1, 3, 3], 4, 'float32'],
      ['pw/w_f16', 'CONV_2D', 'plain', [6, 8, 1, 1], 1, 'float16'],
      ['q/w', 'CONV_2D', 'plain', [4, 6, 3, 3], 1, 'int8'],
      ['tc/w', 'TRANSPOSE_CONV', 'transposed', [4, 5, 2, 2], 1, 'float32'],
    ],
  );
  assert.equal(m.graphDepthKnown, true);
  assert.deepEqual(
    m.layers.map((l) => l.convDepth),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(
    m.layers.map((l) => l.convDepthNorm),
    [0, 0.25, 0.5, 0.75, 1],
  );
  assert.deepEqual(await m.layers[0].loadWeight(), W1);
  assert.deepEqual(await m.layers[1].loadWeight(), W2);
  assert.deepEqual(await m.layers[2].loadWeight(), W3);
  assert.deepEqual(await m.layers[3].loadWeight(), expectedInt8());
  assert.deepEqual(await m.layers[4].loadWeight(), W5);
}

describe('tflite reader', () => {
  test('sniffs the TFL3 identifier and the extension', () => {
    const { bytes } = writeTflite(testModel());
    const src = bytesSource('x.bin', bytes);
    assert.equal(tfliteReader.sniff({ head: bytes.subarray(0, 4096), name: 'x.bin', source: src }), 2);
    assert.equal(tfliteReader.sniff({ head: new Uint8Array(8), name: 'm.tflite', source: src }), 1);
    assert.equal(tfliteReader.sniff({ head: new Uint8Array(8), name: 'm.onnx', source: src }), 0);
  });

  test('CONV_2D, DEPTHWISE_CONV_2D, float16 via DEQUANTIZE, int8 per-channel, TRANSPOSE_CONV', async () => {
    const { bytes } = writeTflite(testModel());
    const m = await tfliteReader.read(memInput('test.tflite', bytes));
    await checkTestModel(m);
    assert.equal(m.graphDepthLevels, 5);
    assert.equal(m.producer, 'filterdb test writer');
    assert.deepEqual(m.layers[0].attributes, { padding: 'SAME', strides: [1, 1], dilations: [1, 1] });
    assert.deepEqual(m.layers[1].attributes, { padding: 'VALID', strides: [1, 1], dilations: [1, 1] });
    assert.deepEqual(m.layers[4].attributes, { padding: 'SAME', strides: [2, 2] });
  });

  test('old files (deprecated_builtin_code only) and >2 GB layout (buffer offset/size) read the same', async () => {
    await checkTestModel(
      await readTflite(bytesSource('legacy.tflite', writeTflite(testModel({ legacyOpcodes: true })).bytes)),
    );
    const ext = writeTflite(testModel({ externalBuffers: true })).bytes;
    await checkTestModel(await readTflite(bytesSource('external.tflite', ext)));
  });

  test('grouped CONV_2D (input channels = groups * weight in) and per-tensor uint8', async () => {
    const q = Uint8Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => (i * 7) % 256);
    const m = await readTflite(
      bytesSource(
        'g.tflite',
        writeTflite({
          tensors: [
            { name: 'in', shape: [1, 5, 5, 6], type: TensorType.FLOAT32 },
            {
              name: 'g/w',
              shape: [4, 3, 3, 3],
              type: TensorType.UINT8,
              data: q,
              quant: { scale: [0.5], zeroPoint: [128] },
            },
            { name: 'out', shape: [1, 5, 5, 4], type: TensorType.FLOAT32 },
          ],
          ops: [{ code: Builtin.CONV_2D, inputs: [0, 1], outputs: [2] }],
          inputs: [0],
          outputs: [2],
        }).bytes,
      ),
    );
    assert.equal(m.layers.length, 1);
    const l = m.layers[0];
    assert.deepEqual([l.kind, l.groups, l.shape, l.dtype], ['grouped', 2, [4, 3, 3, 3], 'uint8']);
    const w = await l.loadWeight();
    // element [o=1, i=2, h=0, w=1] of the normalised weight is stored at [1, 0, 1, 2]
    assert.equal(w[((1 * 3 + 2) * 3 + 0) * 3 + 1], (q[((1 * 3 + 0) * 3 + 1) * 3 + 2] - 128) * 0.5);
  });

  test('CONV_3D is reported with rank 5', async () => {
    const v = randomF32(2 * 3 * 4 * 3 * 2, 8); // stored [kd 2, kh 3, kw 4, in 3, out 2]
    const m = await readTflite(
      bytesSource(
        'c3.tflite',
        writeTflite({
          tensors: [
            { name: 'in', shape: [1, 4, 5, 6, 3], type: TensorType.FLOAT32 },
            { name: 'c3/w', shape: [2, 3, 4, 3, 2], type: TensorType.FLOAT32, data: f32Bytes(v) },
            { name: 'out', shape: [1, 4, 5, 6, 2], type: TensorType.FLOAT32 },
          ],
          ops: [{ code: Builtin.CONV_3D, inputs: [0, 1], outputs: [2] }],
          inputs: [0],
          outputs: [2],
        }).bytes,
      ),
    );
    assert.deepEqual(
      m.layers.map((l) => [l.op, l.kind, l.shape, l.groups]),
      [['CONV_3D', 'plain', [2, 3, 2, 3, 4], 1]],
    );
    const w = await m.layers[0].loadWeight();
    // [o=1, i=2, d=1, h=2, x=3] <- stored [d=1, h=2, x=3, i=2, o=1]
    assert.equal(w[(((1 * 3 + 2) * 2 + 1) * 3 + 2) * 4 + 3], v[(((1 * 3 + 2) * 4 + 3) * 3 + 2) * 2 + 1]);
  });

  test('the same weights as float32 TFLite and as TF.js give identical normalised arrays', async () => {
    const tflite = await readTflite(bytesSource('same.tflite', writeTflite(testModel()).bytes));
    const tfjsWeights: [string, number[], Float32Array][] = [
      ['conv/kernel', [3, 3, 3, 4], torchToTfjsConv(W1, [4, 3, 3, 3])],
      ['dw/depthwise_kernel', [3, 3, 4, 2], torchToTfjsDepthwise(W2, 4, 2, 3, 3)],
      ['tc/kernel', [2, 2, 5, 4], torchToTfjsTransposed(W5, [4, 5, 2, 2])],
    ];
    const shard = new Uint8Array(tfjsWeights.reduce((n, [, , d]) => n + d.byteLength, 0));
    let off = 0;
    for (const [, , d] of tfjsWeights) {
      shard.set(f32Bytes(d), off);
      off += d.byteLength;
    }
    const layer = (className: string, name: string, inbound: string | null, config: object = {}) => ({
      class_name: className,
      name,
      config: { name, ...config },
      inbound_nodes: inbound ? [[[inbound, 0, 0, {}]]] : [],
    });
    const modelJson = {
      format: 'layers-model',
      modelTopology: {
        model_config: {
          class_name: 'Functional',
          config: {
            layers: [
              layer('InputLayer', 'input', null),
              layer('Conv2D', 'conv', 'input', { filters: 4, groups: 1 }),
              layer('DepthwiseConv2D', 'dw', 'conv', { depth_multiplier: 2 }),
              layer('Conv2DTranspose', 'tc', 'dw', { filters: 5 }),
            ],
          },
        },
      },
      weightsManifest: [
        {
          paths: ['w.bin'],
          weights: tfjsWeights.map(([name, shape]) => ({ name, shape, dtype: 'float32' })),
        },
      ],
    };
    const tfjs = await readTfjs(
      memInput(
        'model.json',
        new TextEncoder().encode(JSON.stringify(modelJson)),
        new Map([['w.bin', shard]]),
      ),
    );
    const pairs: [number, number][] = [
      [0, 0],
      [1, 1],
      [4, 2],
    ];
    for (const [a, b] of pairs) {
      assert.deepEqual(tfjs.layers[b].shape, tflite.layers[a].shape);
      assert.equal(tfjs.layers[b].kind, tflite.layers[a].kind);
      assert.equal(tfjs.layers[b].groups, tflite.layers[a].groups);
      assert.deepEqual(await tfjs.layers[b].loadWeight(), await tflite.layers[a].loadWeight());
    }
  });
});

describe('tflite reader on hostile files', () => {
  const good = writeTflite(testModel());

  test('a zero (self-referencing) root offset is corrupt', async () => {
    const b = good.bytes.slice();
    new DataView(b.buffer).setUint32(0, 0, true);
    await expectError(readTflite(bytesSource('cyclic.tflite', b)), 'corrupt');
  });

  test('a root offset past the end is corrupt', async () => {
    const b = good.bytes.slice();
    new DataView(b.buffer).setUint32(0, b.length + 100, true);
    await expectError(readTflite(bytesSource('past.tflite', b)), 'corrupt');
  });

  test('a vtable offset outside the file is corrupt', async () => {
    const b = good.bytes.slice();
    const dv = new DataView(b.buffer);
    dv.setInt32(dv.getUint32(0, true), -0x7ffffff0, true);
    await expectError(readTflite(bytesSource('vtable.tflite', b)), 'corrupt');
  });

  test('a huge vector length is refused before allocating', async () => {
    const b = good.bytes.slice();
    new DataView(b.buffer).setUint32(good.positions.tensorsVector, 0x7fffffff, true);
    const peak = await peakArrayBufferGrowth(() =>
      expectError(readTflite(bytesSource('huge.tflite', b)), 'corrupt'),
    );
    assert.ok(peak < 64 << 20, `${peak} bytes of ArrayBuffers allocated`);
    const c = good.bytes.slice();
    new DataView(c.buffer).setUint32(good.positions.firstDataVector, 0xfffffff0, true);
    await expectError(readTflite(bytesSource('huge-data.tflite', c)), 'corrupt');
  });

  test('an external buffer past the end of the file is truncated', async () => {
    const ext = writeTflite(testModel({ externalBuffers: true })).bytes;
    await expectError(readTflite(bytesSource('cut.tflite', ext.subarray(0, ext.length - 64))), 'truncated');
  });

  // no wall-clock bound (it fails on a loaded machine): a hang or runaway loop hits the test's timeout instead
  test('truncated files and random damage end in FilterDbError, never hang', {
    timeout: 120_000,
  }, async () => {
    for (const cut of [0, 4, 7, 8, 16, 100, good.bytes.length >> 1, good.bytes.length - 1]) {
      try {
        const m = await readTflite(bytesSource('cut.tflite', good.bytes.subarray(0, cut)));
        for (const l of m.layers) await l.loadWeight();
      } catch (e) {
        assert.ok(e instanceof FilterDbError, `cut at ${cut}: ${e}`);
      }
    }
    const r = rng(99);
    for (let k = 0; k < 400; k++) {
      const b = good.bytes.slice();
      for (let j = 0; j < 4; j++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      try {
        const m = await readTflite(bytesSource('fuzz.tflite', b));
        for (const l of m.layers) {
          const w = await l.loadWeight();
          assert.equal(
            w.length,
            l.shape.reduce((a, d) => a * d, 1),
          );
        }
      } catch (e) {
        assert.ok(e instanceof FilterDbError, `mutation ${k}: ${(e as Error).stack}`);
      }
    }
  });
});
