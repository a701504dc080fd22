/**
 * Writes small TFLite files for tests with the `flatbuffers` package's Builder (an encoder independent of
 * filterdb's reader). Field slots follow tensorflow/lite/schema/schema.fbs.
 */
import * as flatbuffers from 'flatbuffers';

export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT8: 9 } as const;
export const Builtin = {
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  RELU: 19,
  CUSTOM: 32,
  TRANSPOSE_CONV: 67,
  DENSIFY: 124,
  CONV_3D: 132,
} as const;
export const OptionsType = { Conv2DOptions: 1, DepthwiseConv2DOptions: 2, TransposeConvOptions: 49 } as const;

export interface TensorDef {
  name: string;
  shape: number[];
  type: number;
  /** Constant data (little-endian bytes); absent for activations. */
  data?: Uint8Array;
  quant?: { scale: number[]; zeroPoint: number[]; dimension?: number };
  /** SparsityParameters: `data` then holds only the stored values, in traversal order. */
  sparsity?: SparsityDef;
}

export interface SparsityDef {
  traversalOrder: number[];
  blockMap: number[];
  /** One per traversal level: DENSE with its size, or SPARSE_CSR with segments and indices. */
  dims: (
    | { format: 'dense'; size: number }
    | { format: 'csr'; segments: number[]; indices: number[]; indexType?: 'int32' | 'uint16' | 'uint8' }
  )[];
}

export interface OpDef {
  code: number;
  /** `custom_code` of a CUSTOM (32) operator. */
  customCode?: string;
  inputs: number[];
  outputs: number[];
  /** BuiltinOptions union tag and int32 fields by slot (i8 for slot 0 = padding). */
  options?: { type: number; padding?: number; ints: Record<number, number> };
}

export interface ModelDef {
  tensors: TensorDef[];
  ops: OpDef[];
  inputs: number[];
  outputs: number[];
  description?: string;
  /** Write opcodes only in the old 8-bit `deprecated_builtin_code` field. */
  legacyOpcodes?: boolean;
  /** Store buffer data after the FlatBuffer via Buffer.offset/size (the >2 GB layout). */
  externalBuffers?: boolean;
  /** Further subgraphs (WHILE / IF bodies), written as their operators only (no tensors). */
  extraSubgraphs?: OpDef[][];
}

export interface Written {
  bytes: Uint8Array;
  /** Absolute positions of some structures, for tests that damage them. */
  positions: { tensorsVector: number; firstDataVector: number };
}

export function writeTflite(def: ModelDef): Written {
  if (!def.externalBuffers) return build(def, null);
  // two passes: the first gives the FlatBuffer's length (offsets are fixed-width, so it does not change)
  const first = build(def, 1 << 30);
  const blobs = def.tensors.filter((t) => t.data).map((t) => t.data!);
  let pos = align(first.bytes.length, 16);
  const offsets: number[] = [];
  for (const b of blobs) {
    offsets.push(pos);
    pos = align(pos + b.length, 16);
  }
  const second = build(def, offsets);
  if (second.bytes.length !== first.bytes.length) throw new Error('external buffer layout changed size');
  const out = new Uint8Array(pos);
  out.set(second.bytes);
  blobs.forEach((b, i) => {
    out.set(b, offsets[i]);
  });
  return { bytes: out, positions: second.positions };
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function build(def: ModelDef, external: number | number[] | null): Written {
  const b = new flatbuffers.Builder(1024);
  b.forceDefaults(true);
  const int32Vector = (xs: readonly number[]): number => {
    b.startVector(4, xs.length, 4);
    for (let i = xs.length - 1; i >= 0; i--) b.addInt32(xs[i]);
    return b.endVector();
  };
  const offsetVector = (xs: readonly number[]): number => {
    b.startVector(4, xs.length, 4);
    for (let i = xs.length - 1; i >= 0; i--) b.addOffset(xs[i]);
    return b.endVector();
  };
  let firstDataVector = 0;

  // buffers: 0 is the empty sentinel, then one per constant tensor
  const bufferOffsets: number[] = [];
  b.startObject(3);
  bufferOffsets.push(b.endObject());
  const bufferIndex: number[] = [];
  let blob = 0;
  for (const t of def.tensors) {
    if (!t.data) {
      bufferIndex.push(0);
      continue;
    }
    let dataVec = 0;
    if (external === null) {
      b.startVector(1, t.data.length, 16);
      for (let i = t.data.length - 1; i >= 0; i--) b.addInt8(t.data[i]);
      dataVec = b.endVector();
      if (!firstDataVector) firstDataVector = b.offset();
    }
    b.startObject(3);
    if (dataVec) b.addFieldOffset(0, dataVec, 0);
    if (external !== null) {
      const off = typeof external === 'number' ? external : external[blob];
      b.addFieldInt64(1, BigInt(off), 0n);
      b.addFieldInt64(2, BigInt(t.data.length), 0n);
    }
    blob++;
    bufferIndex.push(bufferOffsets.length);
    bufferOffsets.push(b.endObject());
  }

  // SparsityParameters { traversal_order 0, block_map 1, dim_metadata 2 }; DimensionMetadata { format 0,
  // dense_size 1, array_segments (type 2, value 3), array_indices (type 4, value 5) }
  const indexVector = (values: number[], type: 'int32' | 'uint16' | 'uint8'): [number, number] => {
    const size = type === 'int32' ? 4 : type === 'uint16' ? 2 : 1;
    b.startVector(size, values.length, 4);
    for (let i = values.length - 1; i >= 0; i--) {
      if (size === 4) b.addInt32(values[i]);
      else if (size === 2) b.addInt16(values[i]);
      else b.addInt8(values[i]);
    }
    const vec = b.endVector();
    b.startObject(1);
    b.addFieldOffset(0, vec, 0);
    return [size === 4 ? 1 : size === 2 ? 2 : 3, b.endObject()];
  };
  const sparsityTable = (sp: SparsityDef): number => {
    const dims = sp.dims.map((d) => {
      if (d.format === 'dense') {
        b.startObject(6);
        b.addFieldInt8(0, 0, 0);
        b.addFieldInt32(1, d.size, 0);
        return b.endObject();
      }
      const [segType, seg] = indexVector(d.segments, d.indexType ?? 'int32');
      const [idxType, idx] = indexVector(d.indices, d.indexType ?? 'int32');
      b.startObject(6);
      b.addFieldInt8(0, 1, 0);
      b.addFieldInt8(2, segType, 0);
      b.addFieldOffset(3, seg, 0);
      b.addFieldInt8(4, idxType, 0);
      b.addFieldOffset(5, idx, 0);
      return b.endObject();
    });
    const order = int32Vector(sp.traversalOrder);
    const blockMap = int32Vector(sp.blockMap);
    const dimVec = offsetVector(dims);
    b.startObject(3);
    b.addFieldOffset(0, order, 0);
    b.addFieldOffset(1, blockMap, 0);
    b.addFieldOffset(2, dimVec, 0);
    return b.endObject();
  };

  // tensors
  const tensorOffsets = def.tensors.map((t, i) => {
    const name = b.createString(t.name);
    const shape = int32Vector(t.shape);
    let quant = 0;
    if (t.quant) {
      b.startVector(4, t.quant.scale.length, 4);
      for (let k = t.quant.scale.length - 1; k >= 0; k--) b.addFloat32(t.quant.scale[k]);
      const scale = b.endVector();
      b.startVector(8, t.quant.zeroPoint.length, 8);
      for (let k = t.quant.zeroPoint.length - 1; k >= 0; k--) b.addInt64(BigInt(t.quant.zeroPoint[k]));
      const zp = b.endVector();
      b.startObject(7);
      b.addFieldOffset(2, scale, 0);
      b.addFieldOffset(3, zp, 0);
      b.addFieldInt32(6, t.quant.dimension ?? 0, 0);
      quant = b.endObject();
    }
    const sparsity = t.sparsity ? sparsityTable(t.sparsity) : 0;
    b.startObject(8);
    b.addFieldOffset(0, shape, 0);
    b.addFieldInt8(1, t.type, 0);
    b.addFieldInt32(2, bufferIndex[i], 0);
    b.addFieldOffset(3, name, 0);
    if (quant) b.addFieldOffset(4, quant, 0);
    if (sparsity) b.addFieldOffset(6, sparsity, 0);
    return b.endObject();
  });

  // operator codes
  const codeKey = (o: OpDef) => `${o.code}:${o.customCode ?? ''}`;
  const allOps = [...def.ops, ...(def.extraSubgraphs ?? []).flat()];
  const codes = [...new Map(allOps.map((o) => [codeKey(o), o])).values()];
  const codeOffsets = codes.map((o) => {
    const custom = o.customCode === undefined ? 0 : b.createString(o.customCode);
    b.startObject(4);
    b.addFieldInt8(0, Math.min(o.code, 127), 0);
    if (custom) b.addFieldOffset(1, custom, 0);
    b.addFieldInt32(2, 1, 1);
    if (!def.legacyOpcodes) b.addFieldInt32(3, o.code, 0);
    return b.endObject();
  });

  // operators
  const operator = (o: OpDef): number => {
    const inputs = int32Vector(o.inputs);
    const outputs = int32Vector(o.outputs);
    let options = 0;
    if (o.options) {
      const slots = Object.keys(o.options.ints).map(Number);
      b.startObject(8);
      b.addFieldInt8(0, o.options.padding ?? 0, 0);
      for (const s of slots) b.addFieldInt32(s, o.options.ints[s], 0);
      options = b.endObject();
    }
    b.startObject(5);
    b.addFieldInt32(
      0,
      codes.findIndex((c) => codeKey(c) === codeKey(o)),
      0,
    );
    b.addFieldOffset(1, inputs, 0);
    b.addFieldOffset(2, outputs, 0);
    if (o.options) {
      b.addFieldInt8(3, o.options.type, 0);
      b.addFieldOffset(4, options, 0);
    }
    return b.endObject();
  };
  const opOffsets = def.ops.map(operator);
  const extraSubgraphs = (def.extraSubgraphs ?? []).map((ops) => {
    const vec = offsetVector(ops.map(operator));
    b.startObject(5);
    b.addFieldOffset(3, vec, 0);
    return b.endObject();
  });

  const tensorsVec = offsetVector(tensorOffsets);
  const tensorsVecFromEnd = b.offset();
  const sgInputs = int32Vector(def.inputs);
  const sgOutputs = int32Vector(def.outputs);
  const opsVec = offsetVector(opOffsets);
  const sgName = b.createString('main');
  b.startObject(5);
  b.addFieldOffset(0, tensorsVec, 0);
  b.addFieldOffset(1, sgInputs, 0);
  b.addFieldOffset(2, sgOutputs, 0);
  b.addFieldOffset(3, opsVec, 0);
  b.addFieldOffset(4, sgName, 0);
  const subgraph = b.endObject();

  const codesVec = offsetVector(codeOffsets);
  const subgraphsVec = offsetVector([subgraph, ...extraSubgraphs]);
  const buffersVec = offsetVector(bufferOffsets);
  const description = b.createString(def.description ?? 'filterdb test writer');
  b.startObject(5);
  b.addFieldInt32(0, 3, 0);
  b.addFieldOffset(1, codesVec, 0);
  b.addFieldOffset(2, subgraphsVec, 0);
  b.addFieldOffset(3, description, 0);
  b.addFieldOffset(4, buffersVec, 0);
  const model = b.endObject();
  b.finish(model, 'TFL3');
  const bytes = b.asUint8Array().slice();
  return {
    bytes,
    positions: {
      tensorsVector: bytes.length - tensorsVecFromEnd,
      firstDataVector: firstDataVector ? bytes.length - firstDataVector : -1,
    },
  };
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
