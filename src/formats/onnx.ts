/**
 * ONNX reader. Walks the ModelProto through a sliding window: graph structure is parsed, but tensor data
 * (raw_data, float_data, …) is only recorded as file ranges, so `inspect` on a 1 GB model reads a few
 * kilobytes and `loadWeight()` reads exactly one tensor. Conv layers and depths follow fixtures/README.md.
 */
import { FilterDbError } from '../errors.js';
import { convDepthsFromGraph, longestPathDepths } from '../model/depth.js';
import {
  type ConvAttributes,
  type ConvLayer,
  convKind,
  elementCount,
  type Model,
  type WeightArray,
} from '../model/types.js';
import { bfloat16ToFloat, decodeFloats, FLOAT_DTYPE_SIZE, halfToFloat } from './io/numeric.js';
import {
  HEADER_BYTES,
  ProtoReader,
  ProtoWindow,
  WIRE_I32,
  WIRE_I64,
  WIRE_LEN,
  WIRE_VARINT,
} from './io/protobuf.js';
import { type ByteSource, checkRange, type ModelInput, safeRelativePath } from './io/source.js';
import type { FormatReader, ReadOptions, SniffContext, SniffScore } from './reader.js';

// Field numbers from onnx.proto3.
const M_IR_VERSION = 1;
const M_PRODUCER_NAME = 2;
const M_PRODUCER_VERSION = 3;
const M_GRAPH = 7;
const M_OPSET_IMPORT = 8;
const G_NODE = 1;
const G_INITIALIZER = 5;
const G_INPUT = 11;
const G_SPARSE_INITIALIZER = 15;
const N_INPUT = 1;
const N_OUTPUT = 2;
const N_NAME = 3;
const N_OP_TYPE = 4;
const N_ATTRIBUTE = 5;
const N_DOMAIN = 7;
const A_NAME = 1;
const A_I = 3;
const A_S = 4;
const A_T = 5;
const A_G = 6;
const A_INTS = 8;
const A_GRAPHS = 11;
const T_DIMS = 1;
const T_DATA_TYPE = 2;
const T_FLOAT_DATA = 4;
const T_INT32_DATA = 5;
const T_INT64_DATA = 7;
const T_NAME = 8;
const T_RAW_DATA = 9;
const T_DOUBLE_DATA = 10;
const T_UINT64_DATA = 11;
const T_EXTERNAL_DATA = 13;
const T_DATA_LOCATION = 14;

const EXTERNAL = 1;

/** ONNX TensorProto.DataType → dtype name as reported. */
const DTYPES = new Map<number, string>([
  [1, 'float32'],
  [2, 'uint8'],
  [3, 'int8'],
  [4, 'uint16'],
  [5, 'int16'],
  [6, 'int32'],
  [7, 'int64'],
  [8, 'string'],
  [9, 'bool'],
  [10, 'float16'],
  [11, 'float64'],
  [12, 'uint32'],
  [13, 'uint64'],
  [16, 'bfloat16'],
]);

/** Which typed field holds each float dtype when raw_data is absent (fp16/bf16 bit patterns live in int32_data). */
const TYPED_FIELD = new Map<string, number>([
  ['float32', T_FLOAT_DATA],
  ['float64', T_DOUBLE_DATA],
  ['float16', T_INT32_DATA],
  ['bfloat16', T_INT32_DATA],
]);

/** Messages up to this size are loaded whole and parsed synchronously; bigger ones are walked field by field. */
const SMALL_MESSAGE = 1 << 16;

interface Range {
  offset: number;
  length: number;
}

interface Tensor {
  name: string;
  dims: number[];
  dataType: number;
  raw: Range | null;
  /** Typed data fields (float_data, int32_data, …) as flat [offset, length, …] file ranges, in order. */
  typed: Map<number, number[]>;
  external: Map<string, string> | null;
  location: number;
}

interface Attr {
  name: string;
  i?: number;
  ints?: number[];
  s?: string;
  t?: Tensor;
  /** File ranges of the GraphProtos of a `g` / `graphs` attribute (If branches, Loop / Scan bodies). */
  graphs?: Range[];
}

interface Node {
  op: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Attr[];
  /** Parsed subgraphs of the graph attributes (control flow), by attribute name. */
  bodies: { attr: string; graph: Graph }[];
}

/** A GraphProto: the model's main graph or a control-flow body. */
interface Graph {
  nodes: Node[];
  initializers: Map<string, Tensor>;
  inputs: string[];
  sparseInitializers: number;
}

interface Parsed extends Graph {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opset?: number;
  hasOpsetImport: boolean;
  graphs: number;
}

/** Control-flow bodies nested deeper than this are refused (a hostile file could nest without end). */
const MAX_GRAPH_NESTING = 32;

// ---------------------------------------------------------------------------------------------------------
// Walking messages

interface WalkSpec {
  /** Fields the visitor reads; all others are skipped without being loaded. */
  fields: ReadonlySet<number>;
  /** Length-delimited fields the visitor consumes from their header alone (data recorded by range). */
  blobs?: ReadonlySet<number>;
  /** Takes over a length-delimited field asynchronously (big messages); null means load it and visit. */
  descend?: (field: number, start: number, end: number) => Promise<void> | null;
  /** Reads one field; the reader holds the whole field (or just its header for blobs). */
  visit: (r: ProtoReader, field: number) => void;
  progress?: (offset: number) => void;
}

/** Walks the fields of the message at [start, end), loading only what the visitor needs. */
async function walk(win: ProtoWindow, start: number, end: number, spec: WalkSpec): Promise<void> {
  let pos = start;
  while (pos < end) {
    let r = win.readerSync(pos, end, HEADER_BYTES) ?? (await win.reader(pos, end, HEADER_BYTES));
    const field = r.tag();
    if (!spec.fields.has(field)) {
      r.skip();
    } else if (r.wire !== WIRE_LEN || spec.blobs?.has(field)) {
      spec.visit(r, field);
    } else {
      const length = r.length();
      const payload = r.offset;
      const taken = spec.descend?.(field, payload, payload + length);
      if (taken) {
        await taken;
        pos = payload + length;
        spec.progress?.(pos);
        continue;
      }
      const need = payload + length - pos;
      r = win.readerSync(pos, end, need) ?? (await win.reader(pos, end, need));
      r.tag();
      spec.visit(r, field);
    }
    pos = r.offset;
    spec.progress?.(pos);
  }
}

const TENSOR_FIELDS = new Set([
  T_DIMS,
  T_DATA_TYPE,
  T_FLOAT_DATA,
  T_INT32_DATA,
  T_INT64_DATA,
  T_NAME,
  T_RAW_DATA,
  T_DOUBLE_DATA,
  T_UINT64_DATA,
  T_EXTERNAL_DATA,
  T_DATA_LOCATION,
]);
const TENSOR_BLOBS = new Set([
  T_FLOAT_DATA,
  T_INT32_DATA,
  T_INT64_DATA,
  T_RAW_DATA,
  T_DOUBLE_DATA,
  T_UINT64_DATA,
]);
const NODE_FIELDS = new Set([N_INPUT, N_OUTPUT, N_NAME, N_OP_TYPE, N_ATTRIBUTE, N_DOMAIN]);
const ATTR_FIELDS = new Set([A_NAME, A_I, A_S, A_T, A_G, A_INTS, A_GRAPHS]);
const ATTR_BLOBS = new Set([A_G, A_GRAPHS]);

function newTensor(): Tensor {
  return { name: '', dims: [], dataType: 0, raw: null, typed: new Map(), external: null, location: 0 };
}

/** Wire type the scalar form of each typed data field uses. */
const TYPED_WIRE = new Map<number, number>([
  [T_FLOAT_DATA, WIRE_I32],
  [T_INT32_DATA, WIRE_VARINT],
  [T_INT64_DATA, WIRE_VARINT],
  [T_DOUBLE_DATA, WIRE_I64],
  [T_UINT64_DATA, WIRE_VARINT],
]);

/** Records where a typed data field's values sit; packed and unpacked encodings both concatenate. */
function addTypedSegment(t: Tensor, r: ProtoReader, field: number): void {
  if (r.wire !== WIRE_LEN && r.wire !== TYPED_WIRE.get(field)) {
    r.skip();
    return;
  }
  let seg: Range;
  if (r.wire === WIRE_LEN) seg = r.range();
  else if (r.wire === WIRE_I32) seg = r.fixedRange(4);
  else if (r.wire === WIRE_I64) seg = r.fixedRange(8);
  else {
    const offset = r.offset;
    r.varint();
    seg = { offset, length: r.offset - offset };
  }
  let list = t.typed.get(field);
  if (!list) {
    list = [];
    t.typed.set(field, list);
  }
  const n = list.length;
  if (n > 0 && list[n - 2] + list[n - 1] === seg.offset) list[n - 1] += seg.length;
  else list.push(seg.offset, seg.length);
}

function tensorField(t: Tensor, r: ProtoReader, field: number): void {
  const w = r.wire;
  if (field === T_DIMS) r.int64s(t.dims);
  else if (field === T_DATA_TYPE && w === WIRE_VARINT) t.dataType = r.int64();
  else if (field === T_NAME && w === WIRE_LEN) t.name = r.string();
  else if (field === T_RAW_DATA && w === WIRE_LEN) t.raw = r.range();
  else if (TYPED_WIRE.has(field)) addTypedSegment(t, r, field);
  else if (field === T_EXTERNAL_DATA && w === WIRE_LEN) {
    const [key, value] = keyValue(r.sub());
    t.external ??= new Map();
    t.external.set(key, value);
  } else if (field === T_DATA_LOCATION && w === WIRE_VARINT) t.location = r.int64();
  else r.skip();
}

function keyValue(r: ProtoReader): [string, string] {
  let key = '';
  let value = '';
  while (!r.done) {
    const f = r.tag();
    if (f === 1 && r.wire === WIRE_LEN) key = r.string();
    else if (f === 2 && r.wire === WIRE_LEN) value = r.string();
    else r.skip();
  }
  return [key, value];
}

function parseTensor(r: ProtoReader): Tensor {
  const t = newTensor();
  while (!r.done) tensorField(t, r, r.tag());
  return t;
}

async function parseTensorLarge(win: ProtoWindow, start: number, end: number): Promise<Tensor> {
  const t = newTensor();
  await walk(win, start, end, {
    fields: TENSOR_FIELDS,
    blobs: TENSOR_BLOBS,
    visit: (r, f) => tensorField(t, r, f),
  });
  return t;
}

function attrField(a: Attr, r: ProtoReader, field: number): void {
  const w = r.wire;
  if (field === A_NAME && w === WIRE_LEN) a.name = r.string();
  else if (field === A_I && w === WIRE_VARINT) a.i = r.int64();
  else if (field === A_INTS) a.ints = r.int64s(a.ints ?? []);
  else if (field === A_S && w === WIRE_LEN) a.s = r.string();
  else if (field === A_T && w === WIRE_LEN) a.t = parseTensor(r.sub());
  else if ((field === A_G || field === A_GRAPHS) && w === WIRE_LEN) {
    a.graphs ??= [];
    a.graphs.push(r.range());
  } else r.skip();
}

function parseAttr(r: ProtoReader): Attr {
  const a: Attr = { name: '' };
  while (!r.done) attrField(a, r, r.tag());
  return a;
}

async function parseAttrLarge(win: ProtoWindow, start: number, end: number): Promise<Attr> {
  const a: Attr = { name: '' };
  await walk(win, start, end, {
    fields: ATTR_FIELDS,
    blobs: ATTR_BLOBS,
    descend: (f, s, e) =>
      f === A_T
        ? parseTensorLarge(win, s, e).then((t) => {
            a.t = t;
          })
        : null,
    visit: (r, f) => attrField(a, r, f),
  });
  return a;
}

function newNode(): Node {
  return { op: '', domain: '', name: '', inputs: [], outputs: [], attrs: [], bodies: [] };
}

function nodeField(n: Node, r: ProtoReader, field: number): void {
  if (r.wire !== WIRE_LEN) r.skip();
  else if (field === N_INPUT) n.inputs.push(r.string());
  else if (field === N_OUTPUT) n.outputs.push(r.string());
  else if (field === N_NAME) n.name = r.string();
  else if (field === N_OP_TYPE) n.op = r.string();
  else if (field === N_DOMAIN) n.domain = r.string();
  else if (field === N_ATTRIBUTE) n.attrs.push(parseAttr(r.sub()));
  else r.skip();
}

function parseNode(r: ProtoReader): Node {
  const n = newNode();
  while (!r.done) nodeField(n, r, r.tag());
  return n;
}

/** A node too big to load (a Constant holding a large tensor): its attribute tensors are walked lazily. */
async function parseNodeLarge(win: ProtoWindow, start: number, end: number): Promise<Node> {
  const n = newNode();
  await walk(win, start, end, {
    fields: NODE_FIELDS,
    descend: (f, s, e) =>
      f === N_ATTRIBUTE && e - s > SMALL_MESSAGE
        ? parseAttrLarge(win, s, e).then((a) => void n.attrs.push(a))
        : null,
    visit: (r, f) => nodeField(n, r, f),
  });
  return n;
}

function valueInfoName(r: ProtoReader): string {
  while (!r.done) {
    if (r.tag() === 1 && r.wire === WIRE_LEN) return r.string();
    r.skip();
  }
  return '';
}

function addInitializer(p: Graph, t: Tensor): void {
  if (!p.initializers.has(t.name)) p.initializers.set(t.name, t);
}

async function parseGraph(
  win: ProtoWindow,
  start: number,
  end: number,
  p: Graph,
  progress?: (o: number) => void,
) {
  await walk(win, start, end, {
    fields: new Set([G_NODE, G_INITIALIZER, G_INPUT, G_SPARSE_INITIALIZER]),
    blobs: new Set([G_SPARSE_INITIALIZER]),
    descend: (f, s, e) => {
      if (e - s <= SMALL_MESSAGE) return null;
      if (f === G_NODE) return parseNodeLarge(win, s, e).then((n) => void p.nodes.push(n));
      if (f === G_INITIALIZER) return parseTensorLarge(win, s, e).then((t) => addInitializer(p, t));
      return null;
    },
    visit: (r, f) => {
      if (f === G_NODE) p.nodes.push(parseNode(r.sub()));
      else if (f === G_INITIALIZER) addInitializer(p, parseTensor(r.sub()));
      else if (f === G_INPUT) p.inputs.push(valueInfoName(r.sub()));
      else {
        p.sparseInitializers++;
        r.skip();
      }
    },
    progress,
  });
}

/** Parses the control-flow bodies (If branches, Loop / Scan bodies) of every node, recursively. */
async function parseBodies(win: ProtoWindow, g: Graph, nesting: number): Promise<void> {
  for (const node of g.nodes) {
    for (const a of node.attrs) {
      for (const range of a.graphs ?? []) {
        if (nesting >= MAX_GRAPH_NESTING)
          throw new FilterDbError(
            'corrupt',
            win.source.name,
            `control-flow subgraphs nested more than ${MAX_GRAPH_NESTING} deep`,
          );
        const body: Graph = { nodes: [], initializers: new Map(), inputs: [], sparseInitializers: 0 };
        await parseGraph(win, range.offset, range.offset + range.length, body);
        await parseBodies(win, body, nesting + 1);
        node.bodies.push({ attr: a.name, graph: body });
      }
    }
  }
}

function opsetField(p: Parsed, r: ProtoReader): void {
  let domain = '';
  let version: number | undefined;
  while (!r.done) {
    const f = r.tag();
    if (f === 1 && r.wire === WIRE_LEN) domain = r.string();
    else if (f === 2 && r.wire === WIRE_VARINT) version = r.int64();
    else r.skip();
  }
  p.hasOpsetImport = true;
  if ((domain === '' || domain === 'ai.onnx') && version !== undefined) p.opset = version;
}

async function parseModelProto(win: ProtoWindow, options?: ReadOptions): Promise<Parsed> {
  const p: Parsed = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    hasOpsetImport: false,
    graphs: 0,
    nodes: [],
    initializers: new Map(),
    inputs: [],
    sparseInitializers: 0,
  };
  const size = win.source.size;
  // Report at most once per MiB walked: a graph can have 100k small fields.
  let reported = 0;
  const onProgress = options?.onProgress;
  const progress =
    onProgress &&
    ((o: number) => {
      if (o - reported < 1 << 20) return;
      reported = o;
      onProgress(o, size);
    });
  await walk(win, 0, size, {
    fields: new Set([M_IR_VERSION, M_PRODUCER_NAME, M_PRODUCER_VERSION, M_GRAPH, M_OPSET_IMPORT]),
    // The graph holds everything big: always walk it field by field. A second graph field is skipped unread.
    descend: (f, s, e) => {
      if (f !== M_GRAPH) return null;
      return p.graphs++ === 0 ? parseGraph(win, s, e, p, progress) : Promise.resolve();
    },
    visit: (r, f) => {
      if (f === M_IR_VERSION && r.wire === WIRE_VARINT) p.irVersion = r.int64();
      else if (f === M_PRODUCER_NAME && r.wire === WIRE_LEN) p.producerName = r.string();
      else if (f === M_PRODUCER_VERSION && r.wire === WIRE_LEN) p.producerVersion = r.string();
      else if (f === M_OPSET_IMPORT && r.wire === WIRE_LEN) opsetField(p, r.sub());
      else r.skip();
    },
  });
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Graph → conv layers

/** A conv weight found in the graph, before depths are known. */
interface Found {
  /** Graph depth of the conv node (control-flow bodies: the control node's depth plus the depth inside), -1 if unreachable. */
  depth: number;
  /** The layer's name: the weight's, prefixed with the control node and attribute of the bodies it is in. */
  label: string;
  tensorName: string;
  tensor: Tensor;
  op: 'Conv' | 'ConvTranspose';
  groups: number;
  attributes: ConvAttributes;
}

function isDefaultDomain(node: Node): boolean {
  return node.domain === '' || node.domain === 'ai.onnx';
}

function attr(node: Node, name: string): Attr | undefined {
  return node.attrs.find((a) => a.name === name);
}

type ConstantIndex = { constants: Map<string, Tensor>; identity: Map<string, string> };

/** Constant tensors by graph name: initializers, then Constant node outputs; plus Identity edges. */
function constantIndex(g: Graph): ConstantIndex {
  const constants = new Map(g.initializers);
  const identity = new Map<string, string>();
  for (const node of g.nodes) {
    if (!isDefaultDomain(node) || node.outputs.length === 0) continue;
    if (node.op === 'Constant') {
      const t = attr(node, 'value')?.t;
      if (t && !constants.has(node.outputs[0])) constants.set(node.outputs[0], t);
    } else if (node.op === 'Identity' && node.inputs[0]) {
      identity.set(node.outputs[0], node.inputs[0]);
    }
  }
  return { constants, identity };
}

/**
 * Follows Identity edges to a constant, looking a name up in the innermost scope first (a body sees its
 * enclosing graphs' values); the step bound makes a cyclic chain harmless.
 */
function resolveConstant(
  name: string,
  scopes: readonly ConstantIndex[],
  maxSteps: number,
): { name: string; tensor: Tensor } | null {
  let current = name;
  for (let step = 0; step <= maxSteps; step++) {
    let next: string | undefined;
    for (let k = scopes.length - 1; k >= 0 && next === undefined; k--) {
      const t = scopes[k].constants.get(current);
      if (t) return { name: current, tensor: t };
      next = scopes[k].identity.get(current);
    }
    if (next === undefined) return null;
    current = next;
  }
  return null;
}

function convAttributes(node: Node): ConvAttributes {
  const out: ConvAttributes = {};
  const strides = attr(node, 'strides')?.ints;
  const dilations = attr(node, 'dilations')?.ints;
  const pads = attr(node, 'pads')?.ints;
  const autoPad = attr(node, 'auto_pad')?.s;
  if (strides) out.strides = strides;
  if (dilations) out.dilations = dilations;
  if (pads) out.pads = pads;
  if (autoPad) out.padding = autoPad;
  return out;
}

function checkDims(file: string, t: Tensor, name: string): void {
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new FilterDbError('corrupt', file, `tensor ${name} has invalid dims [${t.dims}]`);
  }
  if (!Number.isSafeInteger(elementCount(t.dims))) {
    throw new FilterDbError('corrupt', file, `tensor ${name} has an impossible element count [${t.dims}]`);
  }
}

/** What the conv search carries from graph to nested body. */
interface Walk {
  file: string;
  warnings: string[];
  found: Found[];
  /** Graph depths of the `Conv` uses with a 4-D weight (the conv-depth levels), -1 if unreachable. */
  levelDepths: number[];
  /** Weights already taken (each weight is one layer, at its first use). */
  seen: Set<Tensor>;
  /** Weights already warned about. */
  warned: Set<Tensor>;
  /** Distinct graph depths of all nodes, for graphDepthLevels. */
  nodeLevels: Set<number>;
}

/**
 * Finds conv weights in node order, then in each control-flow body (If branches, Loop / Scan bodies)
 * right after its node: a body's convs take weights from the body's or an enclosing graph's constants,
 * their depth is the control node's plus their depth inside the body, and their names say which body.
 */
function findConvs(
  g: Graph,
  scopes: readonly ConstantIndex[],
  base: number | null,
  prefix: string,
  w: Walk,
): void {
  const inner = [...scopes, constantIndex(g)];
  const { successors, starts } = nodeGraph(g, inner.length > 1);
  assertAcyclic(w.file, g, successors);
  const nodeDepth = longestPathDepths(g.nodes.length, successors, starts);
  const depthOf = (i: number) => (base !== null && nodeDepth[i] >= 0 ? base + nodeDepth[i] : -1);
  for (let i = 0; i < g.nodes.length; i++) if (depthOf(i) >= 0) w.nodeLevels.add(depthOf(i));
  const producers = new Map<string, string>();
  for (const node of g.nodes) for (const o of node.outputs) if (!producers.has(o)) producers.set(o, node.op);
  g.nodes.forEach((node, i) => {
    const label = node.name || `#${i}`;
    if ((node.op === 'Conv' || node.op === 'ConvTranspose') && isDefaultDomain(node)) {
      readConv(node, label, depthOf(i), inner, producers, prefix, w, g.nodes.length);
    }
    for (const body of node.bodies) {
      findConvs(body.graph, inner, depthOf(i) >= 0 ? depthOf(i) : null, `${prefix}${label}/${body.attr}/`, w);
    }
  });
}

function readConv(
  node: Node,
  label: string,
  depth: number,
  scopes: readonly ConstantIndex[],
  producers: Map<string, string>,
  prefix: string,
  w: Walk,
  maxSteps: number,
): void {
  const weightName = node.inputs[1];
  const src = weightName ? resolveConstant(weightName, scopes, maxSteps) : null;
  if (!src) {
    const via = weightName ? producers.get(weightName) : undefined;
    w.warnings.push(
      `${node.op} node ${prefix}${label}: weight ${JSON.stringify(weightName ?? '')} is not a constant` +
        `${via ? ` (computed by ${via})` : ''}; skipped`,
    );
    return;
  }
  const t = src.tensor;
  checkDims(w.file, t, src.name);
  const dtype = DTYPES.get(t.dataType) ?? `type ${t.dataType}`;
  const rank = t.dims.length;
  const refusal = !FLOAT_DTYPE_SIZE.has(dtype)
    ? `dtype ${dtype}`
    : rank < 3 || rank > 5
      ? `rank ${rank}`
      : null;
  if (refusal) {
    if (!w.warned.has(t)) w.warnings.push(`${node.op} weight ${prefix}${src.name} has ${refusal}; skipped`);
    w.warned.add(t);
    return;
  }
  if (node.op === 'Conv' && rank === 4) w.levelDepths.push(depth);
  if (w.seen.has(t)) return;
  w.seen.add(t);
  const group = attr(node, 'group')?.i ?? 1;
  if (!Number.isSafeInteger(group) || group < 1) {
    throw new FilterDbError(
      'corrupt',
      w.file,
      `${node.op} node ${prefix}${label} has invalid group ${group}`,
    );
  }
  w.found.push({
    depth,
    label: `${prefix}${src.name}`,
    tensorName: src.name,
    tensor: t,
    op: node.op as Found['op'],
    groups: group,
    attributes: convAttributes(node),
  });
}

/** Names a graph reads from outside itself: not produced by its nodes, not its inputs or initializers. */
function outerNames(g: Graph): Set<string> {
  const local = new Set<string>([...g.inputs, ...g.initializers.keys()]);
  for (const node of g.nodes) for (const o of node.outputs) local.add(o);
  const out = new Set<string>();
  for (const node of g.nodes) {
    for (const name of node.inputs) if (name && !local.has(name)) out.add(name);
    for (const body of node.bodies)
      for (const name of outerNames(body.graph)) if (!local.has(name)) out.add(name);
  }
  return out;
}

/**
 * Successor lists between nodes (producer → consumer) and the start nodes: those reading a graph input
 * (a body: also those reading a value of an enclosing graph). A control-flow node also consumes what its
 * bodies read from this graph, so it lies after those values' producers.
 */
function nodeGraph(g: Graph, isBody: boolean): { successors: number[][]; starts: number[] } {
  const producer = new Map<string, number>();
  g.nodes.forEach((node, i) => {
    for (const o of node.outputs) if (o && !producer.has(o)) producer.set(o, i);
  });
  const inputs = new Set(g.inputs.filter((name) => name && !g.initializers.has(name)));
  const successors: number[][] = g.nodes.map(() => []);
  const starts: number[] = [];
  g.nodes.forEach((node, i) => {
    let start = false;
    const reads = node.bodies.length
      ? [...node.inputs, ...node.bodies.flatMap((b) => [...outerNames(b.graph)])]
      : node.inputs;
    for (const name of reads) {
      if (!name) continue;
      const from = producer.get(name);
      if (from !== undefined) successors[from].push(i);
      if (inputs.has(name) || (isBody && from === undefined && !g.initializers.has(name))) start = true;
    }
    if (start) starts.push(i);
  });
  return { successors, starts };
}

/** Kahn's algorithm over the whole graph; a leftover node means a cycle, which ONNX forbids. */
function assertAcyclic(file: string, p: Graph, successors: number[][]): void {
  const n = successors.length;
  const indegree = new Int32Array(n);
  for (const list of successors) for (const v of list) indegree[v]++;
  const queue: number[] = [];
  for (let u = 0; u < n; u++) if (indegree[u] === 0) queue.push(u);
  for (let qi = 0; qi < queue.length; qi++) {
    for (const v of successors[queue[qi]]) if (--indegree[v] === 0) queue.push(v);
  }
  if (queue.length < n) {
    const stuck = indegree.findIndex((d) => d > 0);
    const node = p.nodes[stuck];
    throw new FilterDbError(
      'corrupt',
      file,
      `the node graph has a cycle (through ${node.op} node ${node.name || `#${stuck}`})`,
    );
  }
}

/**
 * Conv depth (fixtures README): the levels are the distinct graph depths of `Conv` nodes with a 4-D weight.
 * Other layers (ConvTranspose, 1-D/3-D convs) are not levels of their own, so the oracle's numbers stay exact;
 * they take the first level at or below them in the graph (clamped to the last). A graph with no such Conv
 * uses the layers' own depths. Unreachable layers get levels after all others, in node order.
 */
function convDepths(found: Found[], levelDepths: number[]) {
  let reached = levelDepths.filter((d) => d >= 0);
  if (reached.length === 0) reached = found.map((f) => f.depth).filter((d) => d >= 0);
  const levels = [...new Set(reached)].sort((a, b) => a - b);
  let next = (levels.at(-1) ?? -1) + 1;
  const keys = found.map((f) => {
    if (f.depth < 0) return next++;
    const at = levels.findIndex((l) => l >= f.depth);
    return levels[at < 0 ? levels.length - 1 : at];
  });
  const all = convDepthsFromGraph([...levels, ...keys]);
  return {
    convDepth: all.convDepth.slice(levels.length),
    convDepthNorm: all.convDepthNorm.slice(levels.length),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Weights

/** Where a tensor's bytes are and how to turn them into numbers. */
interface WeightRef {
  source: ByteSource;
  /** Flat [offset, length, …] ranges whose concatenation is the data. */
  ranges: number[];
  /** 'le': little-endian elements of the dtype; 'varint16': int32_data varints holding fp16/bf16 bits. */
  encoding: 'le' | 'varint16';
}

function byteTotal(ranges: number[]): number {
  let n = 0;
  for (let i = 1; i < ranges.length; i += 2) n += ranges[i];
  return n;
}

/** Finds the data of a weight and checks its size against the dims before anything is allocated. */
async function weightRef(
  input: ModelInput,
  t: Tensor,
  name: string,
  dtype: string,
  count: number,
  externals: Map<string, ByteSource>,
): Promise<WeightRef> {
  const file = input.main.name;
  const size = FLOAT_DTYPE_SIZE.get(dtype)!;
  const expected = count * size;
  const mismatch = (what: string, got: number) =>
    new FilterDbError(
      'corrupt',
      file,
      `tensor ${name}: ${what} has ${got} bytes but dims [${t.dims}] of ${dtype} need ${expected}`,
    );
  if (t.location === EXTERNAL) return externalRef(input, t, name, expected, externals);
  if (t.raw) {
    if (t.raw.length !== expected) throw mismatch('raw_data', t.raw.length);
    return { source: input.main, ranges: [t.raw.offset, t.raw.length], encoding: 'le' };
  }
  const field = TYPED_FIELD.get(dtype)!;
  const ranges = t.typed.get(field) ?? [];
  const bytes = byteTotal(ranges);
  if (field === T_INT32_DATA) {
    // One varint per element, 1..3 bytes for a 16-bit pattern (up to 10 if written sign-extended).
    if (bytes < count || bytes > count * 10) throw mismatch('int32_data', bytes);
    return { source: input.main, ranges, encoding: 'varint16' };
  }
  if (bytes !== expected) throw mismatch(field === T_FLOAT_DATA ? 'float_data' : 'double_data', bytes);
  return { source: input.main, ranges, encoding: 'le' };
}

function parseDecimal(
  file: string,
  name: string,
  key: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new FilterDbError(
      'corrupt',
      file,
      `tensor ${name}: external_data ${key} ${JSON.stringify(value)} is not a byte count`,
    );
  return n;
}

async function externalRef(
  input: ModelInput,
  t: Tensor,
  name: string,
  expected: number,
  externals: Map<string, ByteSource>,
): Promise<WeightRef> {
  const file = input.main.name;
  const location = t.external?.get('location');
  if (!location) throw new FilterDbError('corrupt', file, `tensor ${name}: external data without a location`);
  const safe = safeRelativePath(file, location);
  const offset = parseDecimal(file, name, 'offset', t.external?.get('offset')) ?? 0;
  const length = parseDecimal(file, name, 'length', t.external?.get('length')) ?? expected;
  if (length !== expected) {
    throw new FilterDbError(
      'corrupt',
      file,
      `tensor ${name}: external data length ${length} does not match dims [${t.dims}] (${expected} bytes)`,
    );
  }
  let source = externals.get(safe);
  if (!source) {
    const opened = input.sibling ? await input.sibling(safe) : null;
    if (!opened) {
      throw new FilterDbError(
        'missing-file',
        file,
        `external data file ${safe} (tensor ${name}) is missing next to ${file}`,
      );
    }
    source = opened;
    externals.set(safe, source);
  }
  checkRange(source.name, source.size, offset, length);
  return { source, ranges: [offset, length], encoding: 'le' };
}

/** Reads the ranges into one contiguous buffer (a single read when there is one range). */
async function gather(ref: WeightRef): Promise<Uint8Array> {
  const { ranges, source } = ref;
  if (ranges.length === 0) return new Uint8Array(0);
  if (ranges.length === 2) return source.read(ranges[0], ranges[1]);
  const first = ranges[0];
  const last = ranges[ranges.length - 2] + ranges[ranges.length - 1];
  const span = await source.read(first, last - first);
  const out = new Uint8Array(byteTotal(ranges));
  let at = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    out.set(span.subarray(ranges[i] - first, ranges[i] - first + ranges[i + 1]), at);
    at += ranges[i + 1];
  }
  return out;
}

function decodeVarint16(
  file: string,
  name: string,
  bytes: Uint8Array,
  count: number,
  dtype: string,
): Float32Array {
  const out = new Float32Array(count);
  const r = new ProtoReader(bytes, file);
  const widen = dtype === 'bfloat16' ? bfloat16ToFloat : halfToFloat;
  let i = 0;
  while (!r.done) {
    if (i === count) break;
    out[i++] = widen(r.varint() & 0xffff);
  }
  if (i !== count || !r.done)
    throw new FilterDbError('corrupt', file, `tensor ${name}: int32_data does not hold ${count} values`);
  return out;
}

function loader(
  file: string,
  name: string,
  ref: WeightRef,
  dtype: string,
  count: number,
): () => Promise<WeightArray> {
  return async () => {
    const bytes = await gather(ref);
    if (ref.encoding === 'varint16') return decodeVarint16(file, name, bytes, count, dtype);
    return decodeFloats(dtype, bytes, count);
  };
}

async function buildLayers(
  input: ModelInput,
  p: Parsed,
  found: Found[],
  warnings: string[],
  depths: {
    graphDepth: (number | null)[];
    convDepth: number[];
    convDepthNorm: number[];
  },
): Promise<ConvLayer[]> {
  const file = input.main.name;
  const externals = new Map<string, ByteSource>();
  const layers: ConvLayer[] = [];
  for (let i = 0; i < found.length; i++) {
    const f = found[i];
    const t = f.tensor;
    const dtype = DTYPES.get(t.dataType)!;
    const count = elementCount(t.dims);
    const ref = await weightRef(input, t, f.tensorName, dtype, count, externals);
    const shape = [...t.dims];
    layers.push({
      name: f.label,
      op: f.op,
      kind: convKind(f.op === 'ConvTranspose' ? 'transposed' : 'conv', f.groups, shape[1]),
      shape,
      groups: f.groups,
      dtype,
      graphDepth: depths.graphDepth[i],
      convDepth: depths.convDepth[i],
      convDepthNorm: depths.convDepthNorm[i],
      attributes: f.attributes,
      loadWeight: loader(file, f.tensorName, ref, dtype, count),
    });
  }
  if (p.sparseInitializers > 0) warnings.push(`${p.sparseInitializers} sparse initializer(s) ignored`);
  return layers;
}

async function toModel(input: ModelInput, p: Parsed): Promise<Model> {
  const file = input.main.name;
  const warnings: string[] = [];
  const w: Walk = {
    file,
    warnings,
    found: [],
    levelDepths: [],
    seen: new Set(),
    warned: new Set(),
    nodeLevels: new Set(),
  };
  findConvs(p, [], 0, '', w);
  const { found } = w;
  const { convDepth, convDepthNorm } = convDepths(found, w.levelDepths);
  const graphDepth = found.map((f) => (f.depth >= 0 ? f.depth : null));
  const unreachable = found.filter((_, i) => graphDepth[i] === null).map((f) => f.label);
  if (unreachable.length > 0) {
    warnings.push(
      `${unreachable.length} conv layer(s) not reachable from a graph input (${unreachable.slice(0, 5).join(', ')}` +
        `${unreachable.length > 5 ? ', …' : ''}); their conv depths follow the reachable ones in node order`,
    );
  }
  const layers = await buildLayers(input, p, found, warnings, { graphDepth, convDepth, convDepthNorm });
  const levelSet = w.nodeLevels;
  const producer = `${p.producerName} ${p.producerVersion}`.trim();
  return {
    format: 'onnx',
    source: file,
    producer: producer || undefined,
    opset: p.opset,
    graphDepthKnown: graphDepth.some((d) => d !== null) || (found.length === 0 && levelSet.size > 0),
    graphDepthLevels: levelSet.size > 0 ? levelSet.size : undefined,
    layers,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Sniffing

/** Top-level ModelProto fields and their wire types. */
const MODEL_FIELD_WIRES = new Map<number, number>([
  [1, WIRE_VARINT],
  [2, WIRE_LEN],
  [3, WIRE_LEN],
  [4, WIRE_LEN],
  [5, WIRE_VARINT],
  [6, WIRE_LEN],
  [7, WIRE_LEN],
  [8, WIRE_LEN],
  [14, WIRE_LEN],
  [20, WIRE_LEN],
  [25, WIRE_LEN],
]);

function printable(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  return true;
}

/**
 * True when the head reads as the start of a ModelProto: ir_version first (exporters write fields in
 * number order), a plausible version, then only known top-level fields with their wire types and sizes
 * that fit in the file. At least two fields, so a stray 0x08 byte is not enough.
 */
export function looksLikeModelProto(head: Uint8Array, fileSize: number): boolean {
  if (head.length < 4 || head[0] !== 0x08) return false;
  const r = new ProtoReader(head, 'sniff', 0, 0, fileSize, fileSize);
  let fields = 0;
  try {
    r.tag();
    const ir = r.varint();
    if (ir < 1 || ir > 16) return false;
    fields = 1;
    while (r.pos < r.end) {
      if (r.end - r.pos < HEADER_BYTES && r.end < fileSize) break;
      const f = r.tag();
      if (MODEL_FIELD_WIRES.get(f) !== r.wire) return false;
      if (r.wire === WIRE_VARINT) r.varint();
      else {
        const len = r.length();
        if (
          (f === 2 || f === 3 || f === 4) &&
          (r.pos + len > r.end || !printable(head.subarray(r.pos, r.pos + len)))
        ) {
          return false;
        }
        r.pos += len;
      }
      fields++;
    }
  } catch {
    return false;
  }
  return fields >= 2;
}

// ---------------------------------------------------------------------------------------------------------

export const onnxReader: FormatReader = {
  id: 'onnx',
  label: 'ONNX',
  extensions: ['.onnx'],
  sniff(ctx: SniffContext): SniffScore {
    if (looksLikeModelProto(ctx.head, ctx.source.size)) return 2;
    return ctx.name.endsWith('.onnx') ? 1 : 0;
  },
  async read(input: ModelInput, options?: ReadOptions): Promise<Model> {
    const file = input.main.name;
    const win = new ProtoWindow(input.main);
    const parsed = await parseModelProto(win, options);
    if (parsed.graphs === 0)
      throw new FilterDbError(
        'not-a-model',
        file,
        'ONNX ModelProto without a graph (not an ONNX model, or truncated)',
      );
    if (!parsed.hasOpsetImport && parsed.irVersion >= 3) {
      throw new FilterDbError('truncated', file, 'ONNX model has no opset_import (truncated or corrupt)');
    }
    await parseBodies(win, parsed, 0);
    const model = await toModel(input, parsed);
    options?.onProgress?.(input.main.size, input.main.size);
    return model;
  },
};
