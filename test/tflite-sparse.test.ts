/**
 * TFLite sparse weights (DENSIFY over a tensor with SparsityParameters) and custom ops, on files built by
 * the test writer with an encoder written here from the schema's description of the format.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { bytesSource } from '../src/formats/io/source.js';
import { readTflite } from '../src/formats/tflite.js';
import { mulberry32 as rng } from './support/random.js';
import { Builtin, f32Bytes, type SparsityDef, TensorType, writeTflite } from './support/tflite-writer.js';

/**
 * Encodes a dense row-major tensor as the schema describes: dimensions expanded by the block map, visited
 * in traversal order; a DENSE level keeps every index, a SPARSE_CSR level only the indices whose subtree
 * holds a non-zero, its segments giving each parent position's range of indices.
 */
function encodeSparse(
  dense: Float32Array,
  shape: number[],
  order: number[],
  blockMap: number[],
  blockSizes: number[],
  formats: ('dense' | 'csr')[],
  indexType: 'int32' | 'uint16' | 'uint8' = 'int32',
): { values: Float32Array; sparsity: SparsityDef } {
  const rank = shape.length;
  const expanded = shape.slice();
  blockMap.forEach((d, b) => {
    expanded[d] = shape[d] / blockSizes[b];
  });
  expanded.push(...blockSizes);
  // original coordinates of an expanded coordinate (indexed by expanded dimension)
  const original = (e: number[]): number[] => {
    const o = e.slice(0, rank);
    blockMap.forEach((d, b) => {
      o[d] = e[d] * blockSizes[b] + e[rank + b];
    });
    return o;
  };
  const flat = (o: number[]) => o.reduce((acc, x, d) => acc * shape[d] + x, 0);
  const all: number[][] = [];
  const enumerate = (level: number, e: number[]): void => {
    if (level === expanded.length) {
      all.push(e.slice());
      return;
    }
    for (let i = 0; i < expanded[level]; i++) {
      e[level] = i;
      enumerate(level + 1, e);
    }
  };
  enumerate(0, new Array(expanded.length).fill(0));
  // does the subtree under these traversal-level indices hold a non-zero?
  const nonZero = (prefix: number[]): boolean =>
    all.some((e) => prefix.every((x, l) => e[order[l]] === x) && dense[flat(original(e))] !== 0);
  const values: number[] = [];
  const segments: number[][] = formats.map(() => [0]);
  const indices: number[][] = formats.map(() => []);
  const walk = (level: number, prefix: number[]): void => {
    if (level === order.length) {
      const e = new Array(expanded.length).fill(0);
      prefix.forEach((x, l) => {
        e[order[l]] = x;
      });
      values.push(dense[flat(original(e))]);
      return;
    }
    const size = expanded[order[level]];
    for (let i = 0; i < size; i++) {
      if (formats[level] === 'csr') {
        if (!nonZero([...prefix, i])) continue;
        indices[level].push(i);
      }
      walk(level + 1, [...prefix, i]);
    }
    if (formats[level] === 'csr') segments[level].push(indices[level].length);
  };
  walk(0, []);
  return {
    values: Float32Array.from(values),
    sparsity: {
      traversalOrder: order,
      blockMap,
      dims: formats.map((f, level) =>
        f === 'dense'
          ? { format: 'dense', size: expanded[order[level]] }
          : { format: 'csr', segments: segments[level], indices: indices[level], indexType },
      ),
    },
  };
}

/** A [O, KH, KW, I] CONV_2D weight with about 60 % of its elements zero, in blocks where asked. */
function prunedWeight(shape: number[], seed: number): Float32Array {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => (r() < 0.6 ? 0 : Math.round((r() * 2 - 1) * 64) / 64));
}

/** O, KH, KW, I -> O, I, KH, KW (the reader's normalised layout). */
function toOIHW(w: Float32Array, [O, KH, KW, I]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < O; o++)
    for (let h = 0; h < KH; h++)
      for (let x = 0; x < KW; x++)
        for (let i = 0; i < I; i++) out[((o * I + i) * KH + h) * KW + x] = w[((o * KH + h) * KW + x) * I + i];
  return out;
}

function sparseModel(values: Float32Array, shape: number[], sparsity: SparsityDef): Uint8Array {
  return writeTflite({
    tensors: [
      { name: 'in', shape: [1, 6, 6, shape[3]], type: TensorType.FLOAT32 },
      { name: 'w/sparse', shape, type: TensorType.FLOAT32, data: f32Bytes(values), sparsity },
      { name: 'w/dense', shape, type: TensorType.FLOAT32 },
      { name: 'out', shape: [1, 6, 6, shape[0]], type: TensorType.FLOAT32 },
    ],
    ops: [
      { code: Builtin.DENSIFY, inputs: [1], outputs: [2] },
      { code: Builtin.CONV_2D, inputs: [0, 2], outputs: [3] },
    ],
    inputs: [0],
    outputs: [3],
  }).bytes;
}

describe('tflite sparse weights', () => {
  test('row-wise CSR over the input channels (the layout of MediaPipe sparse models)', async () => {
    const shape = [8, 1, 1, 16];
    const dense = prunedWeight(shape, 1);
    const { values, sparsity } = encodeSparse(
      dense,
      shape,
      [0, 1, 2, 3],
      [],
      [],
      ['dense', 'dense', 'dense', 'csr'],
    );
    assert.ok(values.length < dense.length / 2, 'the encoding drops the zeros');
    const m = await readTflite(bytesSource('csr.tflite', sparseModel(values, shape, sparsity)));
    assert.deepEqual(m.warnings, []);
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0].name, 'w/sparse');
    assert.deepEqual(m.layers[0].shape, [8, 16, 1, 1]);
    assert.equal(m.layers[0].graphDepth, 0);
    assert.deepEqual(await m.layers[0].loadWeight(), toOIHW(dense, shape));
  });

  test('block map, a permuted traversal order and two sparse levels with uint8 and uint16 indices', async () => {
    const shape = [4, 3, 3, 6];
    const dense = prunedWeight(shape, 2);
    // zero whole 2x2 blocks of (out, in) as block pruning does
    for (let o = 0; o < 4; o += 2)
      for (let i = 0; i < 6; i += 2)
        if ((o + i) % 4 === 0)
          for (let h = 0; h < 3; h++)
            for (let x = 0; x < 3; x++)
              for (let a = 0; a < 2; a++)
                for (let b = 0; b < 2; b++) dense[(((o + a) * 3 + h) * 3 + x) * 6 + i + b] = 0;
    for (const indexType of ['uint8', 'uint16'] as const) {
      const { values, sparsity } = encodeSparse(
        dense,
        shape,
        [1, 0, 3, 2, 5, 4],
        [0, 3],
        [2, 2],
        ['dense', 'csr', 'csr', 'dense', 'dense', 'dense'],
        indexType,
      );
      const m = await readTflite(bytesSource('block.tflite', sparseModel(values, shape, sparsity)));
      assert.deepEqual(m.warnings, []);
      assert.deepEqual(await m.layers[0].loadWeight(), toOIHW(dense, shape), indexType);
    }
  });

  test('float16 behind DENSIFY and DEQUANTIZE', async () => {
    const shape = [2, 3, 3, 2];
    const dense = prunedWeight(shape, 3);
    const { values, sparsity } = encodeSparse(
      dense,
      shape,
      [0, 1, 2, 3],
      [],
      [],
      ['dense', 'csr', 'dense', 'csr'],
    );
    const half = new Uint8Array(values.length * 2);
    const dv = new DataView(half.buffer);
    // the values are multiples of 1/64 in [-1, 1]: exact halves
    values.forEach((v, k) => {
      if (v === 0) return;
      const e = Math.floor(Math.log2(Math.abs(v)));
      dv.setUint16(
        k * 2,
        (v < 0 ? 0x8000 : 0) | ((e + 15) << 10) | ((Math.abs(v) / 2 ** e - 1) * 1024),
        true,
      );
    });
    const bytes = writeTflite({
      tensors: [
        { name: 'in', shape: [1, 6, 6, 2], type: TensorType.FLOAT32 },
        { name: 'w/f16', shape, type: 1, data: half, sparsity },
        { name: 'w/f16dense', shape, type: 1 },
        { name: 'w/f32', shape, type: TensorType.FLOAT32 },
        { name: 'out', shape: [1, 6, 6, 2], type: TensorType.FLOAT32 },
      ],
      ops: [
        { code: Builtin.DENSIFY, inputs: [1], outputs: [2] },
        { code: Builtin.DEQUANTIZE, inputs: [2], outputs: [3] },
        { code: Builtin.CONV_2D, inputs: [0, 3], outputs: [4] },
      ],
      inputs: [0],
      outputs: [4],
    }).bytes;
    const m = await readTflite(bytesSource('f16.tflite', bytes));
    assert.deepEqual(m.warnings, []);
    assert.equal(m.layers[0].dtype, 'float16');
    assert.deepEqual(await m.layers[0].loadWeight(), toOIHW(dense, shape));
  });

  test('inconsistent sparsity metadata is a corrupt-file error naming the weight', async () => {
    const shape = [4, 1, 1, 4];
    const dense = prunedWeight(shape, 4);
    const good = encodeSparse(dense, shape, [0, 1, 2, 3], [], [], ['dense', 'dense', 'dense', 'csr']);
    const csr = good.sparsity.dims[3] as { format: 'csr'; segments: number[]; indices: number[] };
    const cases: [string, SparsityDef, Float32Array][] = [
      [
        'an index past the dimension',
        {
          ...good.sparsity,
          dims: [...good.sparsity.dims.slice(0, 3), { ...csr, indices: csr.indices.map(() => 9) }],
        },
        good.values,
      ],
      [
        'segments past the indices',
        {
          ...good.sparsity,
          dims: [...good.sparsity.dims.slice(0, 3), { ...csr, segments: csr.segments.map((s) => s + 50) }],
        },
        good.values,
      ],
      [
        'a traversal order that is no permutation',
        { ...good.sparsity, traversalOrder: [0, 0, 2, 3] },
        good.values,
      ],
      [
        'a dense size that disagrees with the shape',
        { ...good.sparsity, dims: [{ format: 'dense', size: 5 }, ...good.sparsity.dims.slice(1)] },
        good.values,
      ],
      ['one stored value too many', good.sparsity, Float32Array.from([...good.values, 1])],
    ];
    for (const [what, sparsity, values] of cases) {
      await assert.rejects(
        readTflite(bytesSource('bad.tflite', sparseModel(values, shape, sparsity))),
        (e: unknown) => e instanceof FilterDbError && e.code === 'corrupt' && /w\/sparse/.test(e.message),
        what,
      );
    }
  });
});

describe('tflite custom ops', () => {
  const transposedModel = (customCode: string) =>
    writeTflite({
      tensors: [
        { name: 'in', shape: [1, 4, 4, 3], type: TensorType.FLOAT32 },
        // [out 2, kh 2, kw 2, in 3] as TRANSPOSE_CONV stores it
        {
          name: 'up/w',
          shape: [2, 2, 2, 3],
          type: TensorType.FLOAT32,
          data: f32Bytes(Array.from({ length: 24 }, (_, i) => i - 12)),
        },
        { name: 'up/b', shape: [2], type: TensorType.FLOAT32, data: f32Bytes([0, 0]) },
        { name: 'out', shape: [1, 8, 8, 2], type: TensorType.FLOAT32 },
      ],
      ops: [{ code: Builtin.CUSTOM, customCode, inputs: [0, 1, 2], outputs: [3] }],
      inputs: [0],
      outputs: [3],
    }).bytes;

  test("MediaPipe's Convolution2DTransposeBias is read as a transposed conv", async () => {
    const m = await readTflite(bytesSource('t.tflite', transposedModel('Convolution2DTransposeBias')));
    assert.deepEqual(m.warnings, []);
    assert.equal(m.layers.length, 1);
    const l = m.layers[0];
    assert.deepEqual(
      [l.op, l.kind, l.shape, l.groups],
      ['Convolution2DTransposeBias', 'transposed', [3, 2, 2, 2], 1],
    );
    const w = await l.loadWeight();
    // normalised [in, out, kh, kw]: element [i=2, o=1, h=0, x=1] is stored at [1, 0, 1, 2]
    assert.equal(w[((2 * 2 + 1) * 2 + 0) * 2 + 1], ((1 * 2 + 0) * 2 + 1) * 3 + 2 - 12);
  });

  test('another custom op with a 4-D constant input is named in a warning, not read', async () => {
    const m = await readTflite(bytesSource('u.tflite', transposedModel('MyFancyConv')));
    assert.equal(m.layers.length, 0);
    assert.equal(m.warnings.length, 1);
    assert.match(m.warnings[0], /custom op MyFancyConv .*up\/w \[2, 2, 2, 3\].*not read as a conv/);
  });
});

describe('tflite subgraphs', () => {
  const model = (extra: { code: number; inputs: number[]; outputs: number[] }[][]) =>
    writeTflite({
      tensors: [
        { name: 'in', shape: [1, 4, 4, 2], type: TensorType.FLOAT32 },
        { name: 'w', shape: [2, 3, 3, 2], type: TensorType.FLOAT32, data: f32Bytes(new Array(36).fill(0.5)) },
        { name: 'out', shape: [1, 4, 4, 2], type: TensorType.FLOAT32 },
      ],
      ops: [{ code: Builtin.CONV_2D, inputs: [0, 1], outputs: [2] }],
      inputs: [0],
      outputs: [2],
      extraSubgraphs: extra,
    }).bytes;

  test('subgraphs without convs (loop and branch bodies) raise no warning; ones with convs are named', async () => {
    const quiet = await readTflite(
      bytesSource('q.tflite', model([[], [{ code: Builtin.RELU, inputs: [], outputs: [] }]])),
    );
    assert.deepEqual([quiet.layers.length, quiet.warnings], [1, []]);
    const loud = await readTflite(
      bytesSource(
        'l.tflite',
        model([
          [{ code: Builtin.RELU, inputs: [], outputs: [] }],
          [{ code: Builtin.DEPTHWISE_CONV_2D, inputs: [], outputs: [] }],
        ]),
      ),
    );
    assert.equal(loud.layers.length, 1);
    assert.deepEqual(loud.warnings, [
      'only subgraph 0 of 3 is read; conv operators not read: 1 in subgraph 2',
    ]);
  });
});
