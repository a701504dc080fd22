/**
 * TensorFlow Lite reader (`.tflite`, FlatBuffer with file identifier `TFL3`).
 *
 * Reads subgraph 0: operators (opcode via operator_codes, `max(deprecated_builtin_code, builtin_code)`),
 * tensors and buffers. Conv weights are normalised to `[out, in/g, kh, kw]` (`[in, out, kh, kw]` for
 * transposed convs); float16 weights behind a DEQUANTIZE op and sparse weights behind a DENSIFY op
 * (tflite-sparse.ts) are followed; int8/uint8/int16 weights are
 * dequantised `(q - zero_point) * scale`, per tensor or per channel along `quantized_dimension`.
 * Weight bytes are read lazily (inline `data` vectors or, for files over 2 GB, `offset`/`size` buffers).
 */
import { FilterDbError } from '../errors.js';
import { convDepthsFromGraph, convDepthsFromOrder, longestPathDepths } from '../model/depth.js';
import {
  type ConvAttributes,
  type ConvKind,
  type ConvLayer,
  convKind,
  elementCount,
  type Model,
  type WeightArray,
} from '../model/types.js';
import { type FbTable, FlatBufferReader } from './io/flatbuffers.js';
import { decodeFloats, transpose } from './io/numeric.js';
import type { ByteSource, ModelInput } from './io/source.js';
import type { FormatReader, SniffContext, SniffScore } from './reader.js';
import { densifyBytes, readSparsity, sparseToDenseIndex } from './tflite-sparse.js';

/** TensorType enum -> dtype name and element size (0 = not a fixed-size numeric type we decode). */
const TENSOR_TYPES: readonly [string, number][] = [
  ['float32', 4],
  ['float16', 2],
  ['int32', 4],
  ['uint8', 1],
  ['int64', 8],
  ['string', 0],
  ['bool', 1],
  ['int16', 2],
  ['complex64', 8],
  ['int8', 1],
  ['float64', 8],
  ['complex128', 16],
  ['uint64', 8],
  ['resource', 0],
  ['variant', 0],
  ['uint32', 4],
  ['uint16', 2],
  ['int4', 0],
  ['bfloat16', 2],
];

const OP = {
  CONV_2D: 3,
  CUSTOM: 32,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  TRANSPOSE_CONV: 67,
  DENSIFY: 124,
  CONV_3D: 132,
  CONV_3D_TRANSPOSE: 141,
} as const;

const CONV_OPS = new Map<number, string>([
  [OP.CONV_2D, 'CONV_2D'],
  [OP.DEPTHWISE_CONV_2D, 'DEPTHWISE_CONV_2D'],
  [OP.TRANSPOSE_CONV, 'TRANSPOSE_CONV'],
  [OP.CONV_3D, 'CONV_3D'],
  [OP.CONV_3D_TRANSPOSE, 'CONV_3D_TRANSPOSE'],
]);

/**
 * Custom operators read as convs: MediaPipe's transposed conv with a fused bias (inputs: input, weight
 * `[out, kh, kw, in]` as TRANSPOSE_CONV's, bias).
 */
const CUSTOM_CONVS = new Map<string, number>([['Convolution2DTransposeBias', OP.TRANSPOSE_CONV]]);

/** Builtin codes above this are newer than this reader: an unknown op, checked like a custom one. */
const LAST_KNOWN_BUILTIN = 210;

/** BuiltinOptions union tags of the options tables we read. */
const OPTIONS = { Conv2DOptions: 1, DepthwiseConv2DOptions: 2, TransposeConvOptions: 49 } as const;

interface TensorInfo {
  name: string;
  shape: number[];
  type: number;
  buffer: number;
  scale: Float32Array | null;
  zeroPoint: number[] | null;
  quantizedDimension: number;
  /** SparsityParameters when the tensor is stored sparse (a DENSIFY input). */
  sparsity: FbTable | null;
}

interface OperatorInfo {
  /** Builtin code; for a custom op read as a conv, the builtin it stands for. */
  code: number;
  /** The operator's name: the builtin's, or a custom op's `custom_code`. */
  name: string | null;
  inputs: Int32Array;
  outputs: Int32Array;
  optionsType: number;
  options: FbTable | null;
  /** A custom op not read as a conv, or a builtin code newer than this reader. */
  unknown: boolean;
}

/**
 * A custom or unknown operator with a 4-D constant input may well be a conv this reader cannot
 * interpret: say so by name rather than leave its filters out silently.
 */
async function warnUnknownOpWeights(
  op: OperatorInfo,
  opIndex: number,
  tensor: (i: number) => Promise<TensorInfo>,
  constantSource: (index: number) => Promise<{ range: unknown }>,
  warnings: string[],
): Promise<void> {
  const label =
    op.code === OP.CUSTOM ? `custom op ${op.name ?? '(unnamed)'}` : `unknown builtin op ${op.code}`;
  for (const t of op.inputs) {
    if (t < 0) continue;
    const info = await tensor(t);
    if (info.shape.length !== 4 || !(await constantSource(t)).range) continue;
    warnings.push(
      `${label} (operator ${opIndex}) has a 4-D constant input ${info.name} [${info.shape.join(', ')}]; not read as a conv`,
    );
  }
}

export function sniffTflite(ctx: SniffContext): SniffScore {
  const h = ctx.head;
  if (h.length >= 8 && h[4] === 0x54 && h[5] === 0x46 && h[6] === 0x4c && h[7] === 0x33) return 2;
  return ctx.name.endsWith('.tflite') ? 1 : 0;
}

export const tfliteReader: FormatReader = {
  id: 'tflite',
  label: 'TensorFlow Lite',
  extensions: ['.tflite'],
  sniff: sniffTflite,
  read: (input: ModelInput) => readTflite(input.main),
};

export async function readTflite(source: ByteSource): Promise<Model> {
  const fb = new FlatBufferReader(source);
  const name = source.name;
  if (source.size < 8)
    throw new FilterDbError('truncated', name, `file of ${source.size} bytes is too small for TFLite`);
  const warnings: string[] = [];
  if ((await fb.identifier()) !== 'TFL3')
    warnings.push('file identifier is not TFL3; reading it as TFLite anyway');
  const root = await fb.root();

  // operator codes
  const codesVec = await root.tableVector(1);
  const opcodes: { code: number; custom: string | null }[] = [];
  if (codesVec) {
    for (let i = 0; i < codesVec.length; i++) {
      const t = await fb.tableAt(codesVec, i);
      const deprecated = await t.i8(0, 0);
      const builtin = await t.i32(3, 0);
      opcodes.push({ code: Math.max(deprecated, builtin), custom: await t.string(1) });
    }
  }
  const subgraphs = await root.tableVector(2);
  if (!subgraphs || subgraphs.length === 0)
    throw new FilterDbError('not-a-model', name, 'TFLite file has no subgraphs');
  // other subgraphs are the bodies of WHILE / IF / CALL ops: say so only when they hold convs
  const unread: string[] = [];
  for (let s = 1; s < subgraphs.length; s++) {
    const opsOf = await (await fb.tableAt(subgraphs, s)).tableVector(3);
    let convs = 0;
    for (let i = 0; i < (opsOf?.length ?? 0); i++) {
      const idx = await (await fb.tableAt(opsOf!, i)).u32(0, 0);
      const oc = opcodes[idx];
      if (oc && (CONV_OPS.has(oc.code) || (oc.custom !== null && CUSTOM_CONVS.has(oc.custom)))) convs++;
    }
    if (convs > 0) unread.push(`${convs} in subgraph ${s}`);
  }
  if (unread.length > 0)
    warnings.push(
      `only subgraph 0 of ${subgraphs.length} is read; conv operators not read: ${unread.join(', ')}`,
    );
  const buffersVec = await root.tableVector(4);
  const description = await root.string(3);

  const sg = await fb.tableAt(subgraphs, 0);
  const tensorsVec = await sg.tableVector(0);
  const tensorCount = tensorsVec?.length ?? 0;
  const graphInputs = (await sg.int32Vector(1)) ?? new Int32Array(0);
  const opsVec = await sg.tableVector(3);

  const ops: OperatorInfo[] = [];
  if (opsVec) {
    for (let i = 0; i < opsVec.length; i++) {
      const t = await fb.tableAt(opsVec, i);
      const idx = await t.u32(0, 0);
      if (idx >= opcodes.length)
        throw fb.corrupt(`operator ${i} uses opcode index ${idx} of ${opcodes.length}`);
      const optionsType = await t.u8(3, 0);
      const { code, custom } = opcodes[idx];
      const customConv = code === OP.CUSTOM && custom !== null ? CUSTOM_CONVS.get(custom) : undefined;
      ops.push({
        code: customConv ?? code,
        name: customConv !== undefined ? custom : (CONV_OPS.get(code) ?? custom),
        unknown: customConv === undefined && (code === OP.CUSTOM || code > LAST_KNOWN_BUILTIN),
        inputs: (await t.int32Vector(1)) ?? new Int32Array(0),
        outputs: (await t.int32Vector(2)) ?? new Int32Array(0),
        optionsType,
        options: optionsType ? await t.table(4) : null,
      });
    }
  }

  const tensorCache = new Map<number, TensorInfo>();
  const tensor = async (i: number): Promise<TensorInfo> => {
    const cached = tensorCache.get(i);
    if (cached) return cached;
    if (!tensorsVec || i < 0 || i >= tensorCount)
      throw fb.corrupt(`tensor index ${i} outside ${tensorCount} tensors`);
    const t = await fb.tableAt(tensorsVec, i);
    const q = await t.table(4);
    const info: TensorInfo = {
      name: (await t.string(3)) ?? `tensor_${i}`,
      shape: Array.from((await t.int32Vector(0)) ?? []),
      type: await t.i8(1, 0),
      buffer: await t.u32(2, 0),
      scale: q ? await q.float32Vector(2) : null,
      zeroPoint: q ? await q.int64Vector(3) : null,
      quantizedDimension: q ? await q.i32(6, 0) : 0,
      sparsity: await t.table(6),
    };
    tensorCache.set(i, info);
    return info;
  };

  const bufferRange = async (index: number): Promise<{ offset: number; length: number } | null> => {
    if (index === 0 || !buffersVec) return null;
    if (index >= buffersVec.length)
      throw fb.corrupt(`buffer index ${index} outside ${buffersVec.length} buffers`);
    const b = await fb.tableAt(buffersVec, index);
    const data = await b.vector(0, 1);
    if (data && data.length > 0) return { offset: data.start, length: data.length };
    const offset = await b.u64(1, 0);
    const size = await b.u64(2, 0);
    if (offset > 1 && size > 0) {
      if (offset + size > source.size) {
        throw new FilterDbError(
          'truncated',
          name,
          `buffer ${index} claims bytes ${offset}..${offset + size} but the file has only ${source.size} bytes`,
        );
      }
      return { offset, length: size };
    }
    return null;
  };

  // producers and consumers for the operator graph
  const producer = new Int32Array(tensorCount).fill(-1);
  const consumers: number[][] = Array.from({ length: tensorCount }, () => []);
  ops.forEach((op, i) => {
    for (const t of op.outputs) if (t >= 0 && t < tensorCount) producer[t] = i;
    for (const t of op.inputs) if (t >= 0 && t < tensorCount) consumers[t].push(i);
  });

  /** A constant tensor, or the constant behind DEQUANTIZE (float16, int8) and/or DENSIFY (sparse storage). */
  const constantSource = async (
    index: number,
  ): Promise<{ stored: number; range: { offset: number; length: number } | null }> => {
    let stored = index;
    let range = await bufferRange((await tensor(index)).buffer);
    for (let steps = 0; !range && steps < 2; steps++) {
      const p = stored < tensorCount ? producer[stored] : -1;
      const prod = p >= 0 ? ops[p] : null;
      if (!prod || (prod.code !== OP.DEQUANTIZE && prod.code !== OP.DENSIFY) || !(prod.inputs[0] >= 0)) break;
      stored = prod.inputs[0];
      range = await bufferRange((await tensor(stored)).buffer);
    }
    return { stored, range };
  };

  interface Found {
    opIndex: number;
    layer: Omit<ConvLayer, 'graphDepth' | 'convDepth' | 'convDepthNorm'>;
  }
  const found: Found[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (op.unknown) {
      await warnUnknownOpWeights(op, i, tensor, constantSource, warnings);
      continue;
    }
    const opName = CONV_OPS.has(op.code) ? op.name : null;
    if (!opName) continue;
    const wIndex = op.inputs[1];
    if (wIndex === undefined || wIndex < 0) continue;
    const { stored, range } = await constantSource(wIndex);
    const weight = await tensor(stored);
    if (!range) {
      warnings.push(`${opName} weight ${weight.name} is computed at run time; skipped`);
      continue;
    }
    if (seen.has(stored)) continue;
    seen.add(stored);
    const layer = await describe(
      op,
      opName,
      weight,
      range,
      await tensor(wIndex),
      op.inputs,
      tensor,
      warnings,
      source,
    );
    if (layer) found.push({ opIndex: i, layer });
  }

  // conv depth from the operator graph
  const successors = ops.map((op) => {
    const s: number[] = [];
    for (const t of op.outputs) if (t >= 0 && t < tensorCount) s.push(...consumers[t]);
    return s;
  });
  const starts = new Set<number>();
  for (const t of graphInputs) if (t >= 0 && t < tensorCount) for (const c of consumers[t]) starts.add(c);
  const depth = longestPathDepths(ops.length, successors, [...starts]);
  const convGraphDepths = found.map((f) => depth[f.opIndex]);
  const graphKnown = found.length > 0 && convGraphDepths.every((d) => d >= 0);
  if (found.length > 0 && !graphKnown)
    warnings.push('some convs are not reachable from the graph inputs: conv depth from operator order');
  const depths = graphKnown ? convDepthsFromGraph(convGraphDepths) : convDepthsFromOrder(found.length);
  const levels = new Set<number>();
  for (const d of depth) if (d >= 0) levels.add(d);

  const layers: ConvLayer[] = found.map((f, i) => ({
    ...f.layer,
    graphDepth: graphKnown ? convGraphDepths[i] : null,
    convDepth: depths.convDepth[i],
    convDepthNorm: depths.convDepthNorm[i],
  }));
  const model: Model = {
    format: 'tflite',
    source: name,
    graphDepthKnown: graphKnown,
    layers,
    warnings,
  };
  if (description) model.producer = description;
  if (graphKnown) model.graphDepthLevels = levels.size;
  return model;
}

/** Normalisation plan: permutation of the stored weight and the normalised shape/groups/kind. */
async function describe(
  op: OperatorInfo,
  opName: string,
  weight: TensorInfo,
  range: { offset: number; length: number },
  consumed: TensorInfo,
  inputs: Int32Array,
  tensor: (i: number) => Promise<TensorInfo>,
  warnings: string[],
  source: ByteSource,
): Promise<Omit<ConvLayer, 'graphDepth' | 'convDepth' | 'convDepthNorm'> | null> {
  const s = weight.shape;
  const typeInfo = TENSOR_TYPES[weight.type];
  const dtype = typeInfo ? typeInfo[0] : `type${weight.type}`;
  const rank = op.code === OP.CONV_3D || op.code === OP.CONV_3D_TRANSPOSE ? 5 : 4;
  if (s.length !== rank || s.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
    warnings.push(`${opName} weight ${weight.name} has unexpected shape [${s.join(', ')}]; skipped`);
    return null;
  }
  if (
    consumed !== weight &&
    consumed.shape.length === s.length &&
    consumed.shape.some((d, i) => d !== s[i])
  ) {
    warnings.push(`${opName} weight ${weight.name}: DEQUANTIZE changes the shape; skipped`);
    return null;
  }
  if (
    !typeInfo ||
    typeInfo[1] === 0 ||
    !['float32', 'float16', 'float64', 'bfloat16', 'int8', 'uint8', 'int16'].includes(dtype)
  ) {
    warnings.push(`${opName} weight ${weight.name} has element type ${dtype}, which is not read; skipped`);
    return null;
  }
  const count = elementCount(s);
  let denseIndex: Float64Array | null = null;
  if (weight.sparsity) {
    const index = sparseToDenseIndex(s, await readSparsity(weight.sparsity));
    if (typeof index === 'string')
      throw new FilterDbError('corrupt', source.name, `sparse weight ${weight.name}: ${index}`);
    denseIndex = index;
  }
  const storedCount = denseIndex ? denseIndex.length : count;
  if (storedCount * typeInfo[1] !== range.length) {
    throw new FilterDbError(
      'corrupt',
      source.name,
      `weight ${weight.name} [${s.join(', ')}] ${dtype}${denseIndex ? ` (sparse, ${storedCount} stored values)` : ''} needs ${storedCount * typeInfo[1]} bytes but its buffer holds ${range.length}`,
    );
  }
  const quantized = dtype === 'int8' || dtype === 'uint8' || dtype === 'int16';
  if (quantized && (!weight.scale || weight.scale.length === 0)) {
    warnings.push(`${opName} weight ${weight.name} is ${dtype} without quantization scales; skipped`);
    return null;
  }
  if (quantized && weight.scale!.length !== 1) {
    const qd = weight.quantizedDimension;
    if (qd < 0 || qd >= s.length || s[qd] !== weight.scale!.length) {
      throw new FilterDbError(
        'corrupt',
        source.name,
        `weight ${weight.name}: ${weight.scale!.length} scales do not match dimension ${qd} of [${s.join(', ')}]`,
      );
    }
  }
  if (
    quantized &&
    weight.zeroPoint &&
    weight.zeroPoint.length > 1 &&
    weight.zeroPoint.length !== weight.scale!.length
  ) {
    throw new FilterDbError(
      'corrupt',
      source.name,
      `weight ${weight.name}: zero_point and scale lengths differ`,
    );
  }

  let perm: number[];
  let shape: number[];
  let groups: number;
  let kind: ConvKind;
  const attributes: ConvAttributes = {};
  const inputChannels = async (axis: number): Promise<number> => {
    const idx = inputs[op.code === OP.TRANSPOSE_CONV || op.code === OP.CONV_3D_TRANSPOSE ? 2 : 0];
    if (idx === undefined || idx < 0) return 0;
    try {
      const t = await tensor(idx);
      const c = t.shape[axis < 0 ? t.shape.length + axis : axis];
      return Number.isSafeInteger(c) && c > 0 ? c : 0;
    } catch {
      return 0;
    }
  };
  switch (op.code) {
    case OP.CONV_2D: {
      // [out, kh, kw, in/g]
      perm = [0, 3, 1, 2];
      shape = [s[0], s[3], s[1], s[2]];
      const cin = await inputChannels(-1);
      groups = cin > 0 && cin % s[3] === 0 && s[0] % (cin / s[3]) === 0 ? cin / s[3] : 1;
      kind = convKind('conv', groups, s[3]);
      if (op.optionsType === OPTIONS.Conv2DOptions && op.options) {
        const o = op.options;
        attributes.padding = (await o.i8(0, 0)) === 1 ? 'VALID' : 'SAME';
        attributes.strides = [await o.i32(2, 0), await o.i32(1, 0)];
        attributes.dilations = [await o.i32(5, 1), await o.i32(4, 1)];
      }
      break;
    }
    case OP.DEPTHWISE_CONV_2D: {
      // [1, kh, kw, in*mult] -> [in*mult, 1, kh, kw]
      if (s[0] !== 1) {
        warnings.push(
          `${opName} weight ${weight.name} has shape [${s.join(', ')}] (expected [1, kh, kw, C]); skipped`,
        );
        return null;
      }
      perm = [3, 0, 1, 2];
      shape = [s[3], 1, s[1], s[2]];
      let mult = 0;
      if (op.optionsType === OPTIONS.DepthwiseConv2DOptions && op.options) {
        const o = op.options;
        attributes.padding = (await o.i8(0, 0)) === 1 ? 'VALID' : 'SAME';
        attributes.strides = [await o.i32(2, 0), await o.i32(1, 0)];
        attributes.dilations = [await o.i32(6, 1), await o.i32(5, 1)];
        mult = await o.i32(3, 0);
      }
      const cin = await inputChannels(-1);
      const fromMult = mult > 0 && s[3] % mult === 0 ? s[3] / mult : 0;
      const fromInput = cin > 0 && s[3] % cin === 0 ? cin : 0;
      if (fromMult && fromInput && fromMult !== fromInput) {
        warnings.push(
          `${opName} weight ${weight.name}: depth_multiplier ${mult} disagrees with ${cin} input channels; using the input`,
        );
      }
      groups = fromInput || fromMult || s[3];
      kind = convKind('conv', groups, 1);
      break;
    }
    case OP.TRANSPOSE_CONV: {
      // [out, kh, kw, in] -> [in, out, kh, kw]
      perm = [3, 0, 1, 2];
      shape = [s[3], s[0], s[1], s[2]];
      groups = 1;
      kind = 'transposed';
      if (op.optionsType === OPTIONS.TransposeConvOptions && op.options) {
        const o = op.options;
        attributes.padding = (await o.i8(0, 0)) === 1 ? 'VALID' : 'SAME';
        attributes.strides = [await o.i32(2, 0), await o.i32(1, 0)];
      }
      break;
    }
    case OP.CONV_3D: {
      // [kd, kh, kw, in/g, out] -> [out, in/g, kd, kh, kw]
      perm = [4, 3, 0, 1, 2];
      shape = [s[4], s[3], s[0], s[1], s[2]];
      const cin = await inputChannels(-1);
      groups = cin > 0 && cin % s[3] === 0 && s[4] % (cin / s[3]) === 0 ? cin / s[3] : 1;
      kind = convKind('conv', groups, s[3]);
      break;
    }
    default: {
      // CONV_3D_TRANSPOSE [kd, kh, kw, out, in] -> [in, out, kd, kh, kw]
      perm = [4, 3, 0, 1, 2];
      shape = [s[4], s[3], s[0], s[1], s[2]];
      groups = 1;
      kind = 'transposed';
    }
  }

  const scale = weight.scale;
  const zeroPoint = weight.zeroPoint;
  const qdim = weight.quantizedDimension;
  const layer: Omit<ConvLayer, 'graphDepth' | 'convDepth' | 'convDepthNorm'> = {
    name: weight.name,
    op: opName,
    kind,
    shape,
    groups,
    dtype,
    async loadWeight(): Promise<WeightArray> {
      let bytes = await source.read(range.offset, range.length);
      if (denseIndex) bytes = densifyBytes(bytes, typeInfo[1], count, denseIndex);
      let raw: WeightArray;
      if (quantized) {
        raw = dequantize(bytes, dtype, s, scale!, zeroPoint, qdim);
      } else {
        raw = decodeFloats(dtype, bytes, count);
      }
      return transpose(raw, s, perm);
    },
  };
  if (Object.keys(attributes).length > 0) layer.attributes = attributes;
  return layer;
}

/** `(q - zero_point) * scale` in float64, rounded to float32 (TFLite's reference Dequantize). */
export function dequantize(
  bytes: Uint8Array,
  dtype: string,
  shape: readonly number[],
  scale: Float32Array,
  zeroPoint: number[] | null,
  quantizedDimension: number,
): Float32Array {
  const count = elementCount(shape);
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get =
    dtype === 'int8'
      ? (i: number) => dv.getInt8(i)
      : dtype === 'uint8'
        ? (i: number) => dv.getUint8(i)
        : (i: number) => dv.getInt16(i * 2, true);
  const perChannel = scale.length > 1;
  let inner = 1;
  if (perChannel) for (let d = quantizedDimension + 1; d < shape.length; d++) inner *= shape[d];
  const dimSize = perChannel ? shape[quantizedDimension] : 1;
  for (let i = 0; i < count; i++) {
    const c = perChannel ? Math.floor(i / inner) % dimSize : 0;
    const zp = zeroPoint && zeroPoint.length > 0 ? (zeroPoint.length === 1 ? zeroPoint[0] : zeroPoint[c]) : 0;
    out[i] = (get(i) - zp) * scale[c];
  }
  return out;
}
