/**
 * A minimal ONNX (protobuf) writer for tests and benchmarks: ModelProto with graph inputs, nodes with
 * int/ints/string/float/tensor/graph attributes, initializers stored as raw_data, typed fields (packed or
 * unpacked) or external data, in FLOAT, FLOAT16, BFLOAT16, DOUBLE or INT8. Fields are written in field-number
 * order like the protobuf runtimes do.
 */

export type Dtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int8';

export interface TensorSpec {
  name: string;
  dims: number[];
  values: ArrayLike<number>;
  /** Default float32. */
  dtype?: Dtype;
  /** Default 'raw' (raw_data). 'typed' uses float_data / double_data / int32_data. */
  storage?: 'raw' | 'typed' | 'external';
  /** Typed storage only: one tag per element instead of a packed field. */
  unpacked?: boolean;
  /** External storage: file name (default 'weights.bin') and optional overrides of the written keys. */
  location?: string;
  externalOffset?: number | string;
  externalLength?: number | string;
  /** Override the raw_data bytes (to write inconsistent files). */
  rawBytes?: Uint8Array;
}

export type AttrSpec =
  | { i: number }
  | { ints: number[] }
  | { s: string }
  | { f: number }
  | { t: TensorSpec }
  | { g: GraphSpec };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrSpec>;
}

export interface GraphSpec {
  name?: string;
  /** Graph input names (non-initializer inputs, plus initializers if you want the IR 3 style). */
  inputs: string[];
  outputs?: string[];
  initializers?: TensorSpec[];
  nodes: NodeSpec[];
}

export interface ModelSpec extends GraphSpec {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  opset?: number;
}

export interface WrittenModel {
  bytes: Uint8Array;
  /** External data files by location. */
  external: Map<string, Uint8Array>;
}

const DTYPE_CODE: Record<Dtype, number> = { float32: 1, int8: 3, float16: 10, float64: 11, bfloat16: 16 };

/** Growable protobuf encoder. */
export class PbWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned or negative (10-byte two's complement) varint. */
  varint(v: number): this {
    this.ensure(10);
    let x = v < 0 ? BigInt.asUintN(64, BigInt(v)) : BigInt(v);
    if (v >= 0 && v < 0x80) {
      this.buf[this.len++] = v;
      return this;
    }
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  raw(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }

  bytes(field: number, data: Uint8Array): this {
    return this.tag(field, 2).varint(data.length).raw(data);
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: PbWriter): this {
    return this.bytes(field, w.finish());
  }

  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.tag(field, 5).raw(b);
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → IEEE half bits, round to nearest even. */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** float → bfloat16 bits, round to nearest even. */
export function toBfloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Little-endian element bytes of `values` in `dtype`. */
export function encodeValues(values: ArrayLike<number>, dtype: Dtype): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'int8':
      return new Uint8Array(Int8Array.from(values).buffer);
    default: {
      const bits = new Uint16Array(n);
      const conv = dtype === 'float16' ? toHalfBits : toBfloat16Bits;
      for (let i = 0; i < n; i++) bits[i] = conv(values[i]);
      return new Uint8Array(bits.buffer);
    }
  }
}

function bitPatterns(values: ArrayLike<number>, dtype: Dtype): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'float16') out.push(toHalfBits(values[i]));
    else if (dtype === 'bfloat16') out.push(toBfloat16Bits(values[i]));
    else out.push(values[i]);
  }
  return out;
}

function typedData(w: PbWriter, t: TensorSpec, dtype: Dtype): void {
  if (dtype === 'float32' || dtype === 'float64') {
    const field = dtype === 'float32' ? 4 : 10;
    if (!t.unpacked) {
      w.bytes(field, encodeValues(t.values, dtype));
      return;
    }
    const size = dtype === 'float32' ? 4 : 8;
    const bytes = encodeValues(t.values, dtype);
    for (let i = 0; i < t.values.length; i++)
      w.tag(field, size === 4 ? 5 : 1).raw(bytes.subarray(i * size, (i + 1) * size));
    return;
  }
  const ints = bitPatterns(t.values, dtype);
  if (t.unpacked) {
    for (const v of ints) w.int(5, v);
    return;
  }
  const packed = new PbWriter();
  for (const v of ints) packed.varint(v);
  w.bytes(5, packed.finish());
}

function tensor(t: TensorSpec, external: Map<string, Uint8Array>): PbWriter {
  const w = new PbWriter();
  const dtype = t.dtype ?? 'float32';
  for (const d of t.dims) w.int(1, d);
  w.int(2, DTYPE_CODE[dtype]);
  const storage = t.storage ?? 'raw';
  if (storage === 'typed') typedData(w, t, dtype);
  w.string(8, t.name);
  if (storage === 'raw') w.bytes(9, t.rawBytes ?? encodeValues(t.values, dtype));
  if (storage === 'external') {
    const location = t.location ?? 'weights.bin';
    const data = t.rawBytes ?? encodeValues(t.values, dtype);
    const before = external.get(location) ?? new Uint8Array(0);
    const merged = new Uint8Array(before.length + data.length);
    merged.set(before);
    merged.set(data, before.length);
    external.set(location, merged);
    const entry = (k: string, v: string) => new PbWriter().string(1, k).string(2, v);
    w.message(13, entry('location', location));
    w.message(13, entry('offset', String(t.externalOffset ?? before.length)));
    w.message(13, entry('length', String(t.externalLength ?? data.length)));
    w.int(14, 1);
  }
  return w;
}

function attribute(name: string, a: AttrSpec, external: Map<string, Uint8Array>): PbWriter {
  const w = new PbWriter().string(1, name);
  if ('f' in a) w.float(2, a.f).int(20, 1);
  else if ('i' in a) w.int(3, a.i).int(20, 2);
  else if ('s' in a) w.string(4, a.s).int(20, 3);
  else if ('t' in a) w.message(5, tensor(a.t, external)).int(20, 4);
  else if ('g' in a) w.message(6, graph(a.g, external)).int(20, 5);
  else {
    const packed = new PbWriter();
    for (const v of a.ints) packed.varint(v);
    w.bytes(8, packed.finish()).int(20, 7);
  }
  return w;
}

function node(n: NodeSpec, index: number, external: Map<string, Uint8Array>): PbWriter {
  const w = new PbWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name ?? `${n.op}_${index}`);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, attribute(k, v, external));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function valueInfo(name: string): PbWriter {
  // type: tensor_type { elem_type: FLOAT }
  const tensorType = new PbWriter().int(1, 1);
  const type = new PbWriter().message(1, tensorType);
  return new PbWriter().string(1, name).message(2, type);
}

function graph(g: GraphSpec, external: Map<string, Uint8Array>): PbWriter {
  const w = new PbWriter();
  g.nodes.forEach((n, i) => {
    w.message(1, node(n, i, external));
  });
  w.string(2, g.name ?? 'graph');
  for (const t of g.initializers ?? []) w.message(5, tensor(t, external));
  for (const i of g.inputs) w.message(11, valueInfo(i));
  for (const o of g.outputs ?? []) w.message(12, valueInfo(o));
  return w;
}

export function writeOnnx(spec: ModelSpec): WrittenModel {
  const external = new Map<string, Uint8Array>();
  const w = new PbWriter();
  w.int(1, spec.irVersion ?? 8);
  w.string(2, spec.producerName ?? 'filterdb-test');
  w.string(3, spec.producerVersion ?? '0.1');
  w.message(7, graph(spec, external));
  w.message(8, new PbWriter().string(1, '').int(2, spec.opset ?? 13));
  return { bytes: w.finish(), external };
}

/** Deterministic pseudo-random values in [-1, 1) (LCG), so test files are reproducible. */
export function pseudoRandom(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

export interface ConvSpec {
  weight: TensorSpec;
  op?: 'Conv' | 'ConvTranspose';
  group?: number;
  attrs?: Record<string, AttrSpec>;
}

/** input `x` → conv → Relu → conv → Relu …, weights as initializers. */
export function convChain(convs: ConvSpec[], extra: Partial<ModelSpec> = {}): ModelSpec {
  const nodes: NodeSpec[] = [];
  let prev = 'x';
  convs.forEach((c, i) => {
    const attrs: Record<string, AttrSpec> = { ...(c.attrs ?? {}) };
    if (c.group !== undefined) attrs.group = { i: c.group };
    nodes.push({ op: c.op ?? 'Conv', inputs: [prev, c.weight.name], outputs: [`c${i}`], attrs });
    nodes.push({ op: 'Relu', inputs: [`c${i}`], outputs: [`r${i}`] });
    prev = `r${i}`;
  });
  return { inputs: ['x'], outputs: [prev], initializers: convs.map((c) => c.weight), nodes, ...extra };
}

/** Conv weight shapes of ResNet-50 (torchvision layout), stem first. */
export function resnet50ConvShapes(): number[][] {
  const shapes: number[][] = [[64, 3, 7, 7]];
  let inCh = 64;
  const stages: [number, number][] = [
    [64, 3],
    [128, 4],
    [256, 6],
    [512, 3],
  ];
  for (const [width, blocks] of stages) {
    for (let b = 0; b < blocks; b++) {
      shapes.push([width, inCh, 1, 1], [width, width, 3, 3], [width * 4, width, 1, 1]);
      if (b === 0) shapes.push([width * 4, inCh, 1, 1]);
      inCh = width * 4;
    }
  }
  return shapes;
}

/**
 * A ResNet-50 shaped model (about 94 MB of float32 conv weights plus a 2048x1000 Gemm) with residual Adds,
 * for benchmarks. Values are pseudo-random.
 */
export function resnet50Model(): ModelSpec {
  const shapes = resnet50ConvShapes();
  const initializers: TensorSpec[] = [];
  const nodes: NodeSpec[] = [];
  let seed = 1;
  const weight = (name: string, dims: number[]): string => {
    const n = dims.reduce((a, b) => a * b, 1);
    initializers.push({ name, dims, values: pseudoRandom(n, seed++) });
    initializers.push({ name: `${name}.bias`, dims: [dims[0]], values: pseudoRandom(dims[0], seed++) });
    return name;
  };
  const conv = (input: string, dims: number[], out: string, relu: boolean): string => {
    const w = weight(`${out}.weight`, dims);
    nodes.push({
      op: 'Conv',
      inputs: [input, w, `${w}.bias`],
      outputs: [`${out}.conv`],
      attrs: { group: { i: 1 } },
    });
    if (!relu) return `${out}.conv`;
    nodes.push({ op: 'Relu', inputs: [`${out}.conv`], outputs: [out] });
    return out;
  };
  let x = conv('input', shapes[0], 'stem', true);
  let k = 1;
  let block = 0;
  while (k < shapes.length) {
    const [s1, s2, s3] = shapes.slice(k, k + 3);
    const hasDown =
      k + 3 < shapes.length &&
      shapes[k + 3][2] === 1 &&
      shapes[k + 3][0] === s3[0] &&
      shapes[k + 3][1] === s1[1];
    const a = conv(x, s1, `b${block}.a`, true);
    const b = conv(a, s2, `b${block}.b`, true);
    const c = conv(b, s3, `b${block}.c`, false);
    const shortcut = hasDown ? conv(x, shapes[k + 3], `b${block}.down`, false) : x;
    nodes.push({ op: 'Add', inputs: [c, shortcut], outputs: [`b${block}.add`] });
    nodes.push({ op: 'Relu', inputs: [`b${block}.add`], outputs: [`b${block}.out`] });
    x = `b${block}.out`;
    k += hasDown ? 4 : 3;
    block++;
  }
  nodes.push({ op: 'GlobalAveragePool', inputs: [x], outputs: ['pool'] });
  nodes.push({ op: 'Flatten', inputs: ['pool'], outputs: ['flat'] });
  const fc = weight('fc.weight', [1000, 2048]);
  nodes.push({
    op: 'Gemm',
    inputs: ['flat', fc, `${fc}.bias`],
    outputs: ['logits'],
    attrs: { transB: { i: 1 } },
  });
  return {
    inputs: ['input'],
    outputs: ['logits'],
    initializers,
    nodes,
    producerName: 'pytorch',
    producerVersion: '2.1.0',
  };
}
