/**
 * TensorFlow.js reader: `model.json` (layers models with a Keras topology, graph models with a GraphDef as
 * JSON) plus the binary weight shards its `weightsManifest` names.
 *
 * Weight groups are the concatenation of their shards in order (as tfjs-core loads them); each weight
 * takes `count * bytes(dtype)` bytes, quantised ones `count * bytes(quantization.dtype)`. Shards are
 * opened through `ModelInput.sibling` (paths checked with safeRelativePath) and their total length is
 * checked against the manifest before any weight is decoded. Kernels are normalised to the PyTorch layout
 * (see DESIGN.md); weights are decoded lazily by `loadWeight`.
 */
import { FilterDbError } from '../errors.js';
import { convDepthsFromGraph, convDepthsFromOrder, longestPathDepths } from '../model/depth.js';
import {
  type ConvAttributes,
  type ConvKind,
  type ConvLayer,
  convKind,
  type Model,
  type WeightArray,
} from '../model/types.js';
import { decodeBfloat16, decodeFloat16, decodeFloat32, decodeFloat64, transpose } from './io/numeric.js';
import { type ByteSource, checkRange, type ModelInput, readAll, safeRelativePath } from './io/source.js';
import type { FormatReader, ReadOptions, SniffContext, SniffScore } from './reader.js';

/** model.json files larger than this are refused (the topology JSON is parsed in memory). */
const MAX_JSON_BYTES = 512 * 1024 * 1024;

const ELEMENT_SIZE = new Map<string, number>([
  ['float32', 4],
  ['int32', 4],
  ['float16', 2],
  ['bfloat16', 2],
  ['float64', 8],
  ['uint8', 1],
  ['uint16', 2],
  ['int8', 1],
  ['int16', 2],
  ['bool', 1],
  ['complex64', 8],
]);

type Json = unknown;
type JsonObject = { [key: string]: Json };

function isObject(v: Json): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own property only, so names like `constructor` or `__proto__` never reach Object.prototype. */
function get(obj: Json, key: string): Json {
  return isObject(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function str(v: Json): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

interface Quantization {
  dtype: string;
  /** value = float32(q * scale + min) (tfjs-core). */
  min?: number;
  scale?: number;
  /** value = float32((q - offset) * scale), an affine zero point, when `min` is absent. */
  offset?: number;
}

export interface WeightSpec {
  name: string;
  /** Shape as stored in the manifest (TF layout). */
  shape: number[];
  dtype: string;
  /** Element type of the bytes: quantization.dtype when quantised, else dtype. */
  storedDtype: string;
  quantization: Quantization | null;
  count: number;
  group: number;
  offset: number;
  byteLength: number;
}

interface Group {
  paths: string[];
  source: ByteSource;
}

type Transform = 'conv' | 'depthwise' | 'transposed';

interface Candidate {
  spec: WeightSpec;
  op: string;
  transform: Transform;
  spatial: number;
  groups: number;
  attributes?: ConvAttributes;
  /** Node id in the depth graph, -1 if none. */
  node: number;
}

export function sniffTfjs(ctx: SniffContext): SniffScore {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(ctx.head);
  if (/^\s*\{/.test(text) && (text.includes('"modelTopology"') || text.includes('"weightsManifest"')))
    return 2;
  // a bare weights manifest (face-api.js `*-weights_manifest.json`): an array of { paths, weights }
  if (/^\s*\[\s*\{/.test(text) && text.includes('"paths"') && text.includes('"weights"')) return 2;
  return ctx.name === 'model.json' || ctx.name.endsWith('weights_manifest.json') ? 1 : 0;
}

export const tfjsReader: FormatReader = {
  id: 'tfjs',
  label: 'TensorFlow.js (model.json + shards)',
  extensions: ['model.json', '.json'],
  sniff: sniffTfjs,
  read: readTfjs,
};

export async function readTfjs(input: ModelInput, options?: ReadOptions): Promise<Model> {
  const main = input.main;
  const file = main.name;
  if (main.size > MAX_JSON_BYTES) {
    throw new FilterDbError(
      'too-large',
      file,
      `model.json of ${main.size} bytes exceeds the ${MAX_JSON_BYTES}-byte limit`,
    );
  }
  let json: Json;
  try {
    json = JSON.parse(new TextDecoder('utf-8').decode(await readAll(main)));
  } catch (e) {
    if (e instanceof FilterDbError) throw e;
    throw new FilterDbError('corrupt', file, `model.json is not valid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(json)) return readWeightsManifest(input, json);
  if (!isObject(json)) throw new FilterDbError('not-a-model', file, 'model.json is not a JSON object');
  const manifest = get(json, 'weightsManifest');
  if (!Array.isArray(manifest))
    throw new FilterDbError('not-a-model', file, 'model.json has no weightsManifest');

  const { specs, groups, warnings } = await loadManifest(input, manifest);
  const byName = new Map<string, WeightSpec>();
  for (const s of specs) if (!byName.has(s.name)) byName.set(s.name, s);

  const topology = get(json, 'modelTopology');
  const format = str(get(json, 'format'));
  let found: { candidates: Candidate[]; depth: Int32Array | null; levels: number };
  if (format === 'graph-model' || Array.isArray(get(topology, 'node'))) {
    found = graphModel(topology, byName, warnings);
  } else {
    found = layersModel(topology, specs, warnings);
  }
  const { candidates, depth } = found;

  const convGraphDepths = depth ? candidates.map((c) => (c.node >= 0 ? depth[c.node] : -1)) : [];
  const graphKnown = depth !== null && candidates.length > 0 && convGraphDepths.every((d) => d >= 0);
  if (depth !== null && candidates.length > 0 && !graphKnown) {
    warnings.push('some convs are not reachable from the model inputs: conv depth from layer order');
  }
  const depths = graphKnown ? convDepthsFromGraph(convGraphDepths) : convDepthsFromOrder(candidates.length);
  const layers = candidates.map((c, i) =>
    makeLayer(
      c,
      groups[c.spec.group].source,
      graphKnown ? convGraphDepths[i] : null,
      depths.convDepth[i],
      depths.convDepthNorm[i],
    ),
  );
  const producer = [str(get(json, 'generatedBy')), str(get(json, 'convertedBy'))].filter(Boolean).join('; ');
  const model: Model = { format: 'tfjs', source: file, graphDepthKnown: graphKnown, layers, warnings };
  if (producer) model.producer = producer;
  if (graphKnown) model.graphDepthLevels = found.levels;
  options?.onProgress?.(main.size, main.size);
  return model;
}

/**
 * A weights manifest without a topology (face-api.js ships every model so: `*-weights_manifest.json` beside
 * its `.bin`): every 4-D weight is a conv kernel `[kh, kw, in, out]`, depthwise `[kh, kw, C, 1]` where the
 * name says depthwise or the shape has one output over several inputs; depth from storage order.
 */
async function readWeightsManifest(input: ModelInput, manifest: Json[]): Promise<Model> {
  const { specs, groups, warnings } = await loadManifest(input, manifest);
  const candidates: Candidate[] = [];
  for (const spec of specs) {
    const s = spec.shape;
    if (s.length !== 4) continue;
    const depthwise =
      /depthwise/i.test(spec.name) || (s[3] === 1 && s[2] > 1 && !/pointwise/i.test(spec.name));
    const op = depthwise ? 'DepthwiseConv2D' : 'Conv2D';
    if (!usable(spec, 2, op, warnings)) continue;
    candidates.push({
      spec,
      op,
      transform: depthwise ? 'depthwise' : 'conv',
      spatial: 2,
      groups: 1,
      node: -1,
    });
  }
  const depths = convDepthsFromOrder(candidates.length);
  const layers = candidates.map((c, i) =>
    makeLayer(c, groups[c.spec.group].source, null, depths.convDepth[i], depths.convDepthNorm[i]),
  );
  return { format: 'tfjs', source: input.main.name, graphDepthKnown: false, layers, warnings };
}

// ---------------------------------------------------------------------------------------------------
// manifest and shards

async function loadManifest(
  input: ModelInput,
  manifest: Json[],
): Promise<{ specs: WeightSpec[]; groups: Group[]; warnings: string[] }> {
  const file = input.main.name;
  const warnings: string[] = [];
  const specs: WeightSpec[] = [];
  const groups: Group[] = [];
  for (let g = 0; g < manifest.length; g++) {
    const entry = manifest[g];
    const paths = get(entry, 'paths');
    const weights = get(entry, 'weights');
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string') || !Array.isArray(weights)) {
      throw new FilterDbError(
        'corrupt',
        file,
        `weightsManifest[${g}] needs "paths" (strings) and "weights" arrays`,
      );
    }
    const parts: ByteSource[] = [];
    for (const p of paths as string[]) {
      safeRelativePath(file, p); // refuses `..`, absolute paths, NUL
      const src = input.sibling ? await input.sibling(p) : null;
      if (!src)
        throw new FilterDbError(
          'missing-file',
          file,
          `weight shard ${JSON.stringify(p)} named in the manifest is missing`,
        );
      parts.push(src);
    }
    const source = concatSource(parts, paths.length ? (paths as string[]).join('+') : `group ${g}`);
    const group: Group = { paths: paths as string[], source };
    groups.push(group);
    let offset = 0;
    for (let w = 0; w < weights.length; w++) {
      const spec = parseSpec(file, weights[w], g, w);
      const size =
        spec.storedDtype === 'string'
          ? await stringBytes(group, offset, spec, file)
          : spec.count * ELEMENT_SIZE.get(spec.storedDtype)!;
      if (offset + size > source.size) {
        throw new FilterDbError(
          'truncated',
          file,
          `weight ${JSON.stringify(spec.name)} needs bytes ${offset}..${offset + size} of weight group ${g}, but its shard(s) ` +
            `${JSON.stringify(group.paths)} hold only ${source.size} bytes (shard ${JSON.stringify(group.paths.at(-1) ?? '')} truncated?)`,
        );
      }
      spec.offset = offset;
      spec.byteLength = size;
      offset += size;
      specs.push(spec);
    }
    if (offset < source.size) {
      warnings.push(
        `weight group ${g} shards hold ${source.size - offset} bytes more than the manifest describes`,
      );
    }
  }
  return { specs, groups, warnings };
}

function parseSpec(file: string, w: Json, g: number, index: number): WeightSpec {
  const where = `weightsManifest[${g}].weights[${index}]`;
  const name = str(get(w, 'name'));
  const dtype = str(get(w, 'dtype'));
  const shape = get(w, 'shape');
  if (name === undefined || dtype === undefined || !Array.isArray(shape)) {
    throw new FilterDbError('corrupt', file, `${where} needs "name", "dtype" and "shape"`);
  }
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new FilterDbError(
        'corrupt',
        file,
        `${where} (${name}) has an invalid shape ${JSON.stringify(shape)}`,
      );
    }
    count *= d;
    if (!Number.isSafeInteger(count) || count > 2 ** 40) {
      throw new FilterDbError(
        'too-large',
        file,
        `${where} (${name}) has an impossible shape ${JSON.stringify(shape)}`,
      );
    }
  }
  const q = get(w, 'quantization');
  let quantization: Quantization | null = null;
  let storedDtype = dtype;
  if (q !== undefined && q !== null) {
    const qd = str(get(q, 'dtype'));
    if (qd === undefined)
      throw new FilterDbError('corrupt', file, `${where} (${name}) has quantization without dtype`);
    quantization = { dtype: qd };
    storedDtype = qd;
    const min = get(q, 'min');
    const scale = get(q, 'scale');
    const offset = get(q, 'offset');
    if (typeof min === 'number') quantization.min = min;
    if (typeof scale === 'number') quantization.scale = scale;
    if (typeof offset === 'number') quantization.offset = offset;
    if (qd === 'uint8' || qd === 'uint16') {
      if (
        quantization.scale === undefined ||
        (quantization.min === undefined && quantization.offset === undefined)
      ) {
        throw new FilterDbError('corrupt', file, `${where} (${name}) is ${qd}-quantised without min/scale`);
      }
    } else if (qd !== 'float16') {
      throw new FilterDbError('unsupported', file, `${where} (${name}) uses quantization dtype ${qd}`);
    }
  }
  if (storedDtype !== 'string' && !ELEMENT_SIZE.has(storedDtype)) {
    throw new FilterDbError(
      'unsupported',
      file,
      `${where} (${name}) has dtype ${storedDtype}, whose size is unknown`,
    );
  }
  return {
    name,
    shape: shape as number[],
    dtype,
    storedDtype,
    quantization,
    count,
    group: g,
    offset: 0,
    byteLength: 0,
  };
}

/** Byte length of a string weight: `count` entries of (uint32 length, bytes). */
async function stringBytes(group: Group, offset: number, spec: WeightSpec, file: string): Promise<number> {
  const src = group.source;
  if (spec.count * 4 > src.size - offset) {
    throw new FilterDbError('truncated', file, `string weight ${spec.name} overruns its shards`);
  }
  let pos = offset;
  for (let i = 0; i < spec.count; i++) {
    if (pos + 4 > src.size)
      throw new FilterDbError('truncated', file, `string weight ${spec.name} overruns its shards`);
    const b = await src.read(pos, 4);
    pos += 4 + new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }
  return pos - offset;
}

/** The shards of one weight group read as one byte range. */
function concatSource(parts: ByteSource[], name: string): ByteSource {
  const starts: number[] = [];
  let total = 0;
  for (const p of parts) {
    starts.push(total);
    total += p.size;
  }
  return {
    name,
    size: total,
    async read(offset: number, length: number) {
      checkRange(name, total, offset, length);
      const out = new Uint8Array(length);
      let done = 0;
      for (let i = 0; i < parts.length && done < length; i++) {
        const s = starts[i];
        const e = s + parts[i].size;
        const pos = offset + done;
        if (pos >= e || pos < s) continue;
        const n = Math.min(e - pos, length - done);
        if (n === length) return parts[i].read(pos - s, n);
        out.set(await parts[i].read(pos - s, n), done);
        done += n;
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// layer construction

function makeLayer(
  c: Candidate,
  source: ByteSource,
  graphDepth: number | null,
  convDepth: number,
  convDepthNorm: number,
): ConvLayer {
  const s = c.spec.shape;
  const r = s.length;
  const spatialIdx = Array.from({ length: r - 2 }, (_, i) => i);
  let perm: number[];
  let shape: number[];
  let groups: number;
  let kind: ConvKind;
  if (c.transform === 'depthwise') {
    // [...k, in, mult] -> [in, mult, ...k] -> [in*mult, 1, ...k]
    perm = [r - 2, r - 1, ...spatialIdx];
    shape = [s[r - 2] * s[r - 1], 1, ...s.slice(0, r - 2)];
    groups = s[r - 2];
    kind = convKind('conv', groups, 1);
  } else {
    // conv [...k, in/g, out] -> [out, in/g, ...k]; transposed [...k, out, in] -> [in, out, ...k]
    perm = [r - 1, r - 2, ...spatialIdx];
    shape = [s[r - 1], s[r - 2], ...s.slice(0, r - 2)];
    groups = c.transform === 'transposed' ? 1 : c.groups;
    kind = c.transform === 'transposed' ? 'transposed' : convKind('conv', groups, s[r - 2]);
  }
  const spec = c.spec;
  const layer: ConvLayer = {
    name: spec.name,
    op: c.op,
    kind,
    shape,
    groups,
    dtype: spec.storedDtype,
    graphDepth,
    convDepth,
    convDepthNorm,
    async loadWeight(): Promise<WeightArray> {
      const bytes = await source.read(spec.offset, spec.byteLength);
      return transpose(decodeWeight(spec, bytes), s, perm);
    },
  };
  if (c.attributes && Object.keys(c.attributes).length > 0) layer.attributes = c.attributes;
  return layer;
}

/** Decodes a float or quantised weight exactly like tfjs-core. */
export function decodeWeight(spec: WeightSpec, bytes: Uint8Array): WeightArray {
  const n = spec.count;
  const q = spec.quantization;
  switch (spec.storedDtype) {
    case 'float32':
      return decodeFloat32(bytes, n);
    case 'float16':
      return decodeFloat16(bytes, n);
    case 'bfloat16':
      return decodeBfloat16(bytes, n);
    case 'float64':
      return decodeFloat64(bytes, n);
    case 'uint8':
    case 'uint16': {
      if (!q || q.scale === undefined) throw new Error(`weight ${spec.name} is not float`);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const out = new Float32Array(n);
      const wide = spec.storedDtype === 'uint16';
      const scale = q.scale;
      if (q.min !== undefined) {
        const min = q.min;
        for (let i = 0; i < n; i++)
          out[i] = (wide ? dv.getUint16(i * 2, true) : dv.getUint8(i)) * scale + min;
      } else {
        const zp = q.offset ?? 0;
        for (let i = 0; i < n; i++)
          out[i] = ((wide ? dv.getUint16(i * 2, true) : dv.getUint8(i)) - zp) * scale;
      }
      return out;
    }
    default:
      throw new Error(`weight ${spec.name} has non-float dtype ${spec.storedDtype}`);
  }
}

const FLOAT_STORED = new Set(['float32', 'float16', 'bfloat16', 'float64', 'uint8', 'uint16']);

function usable(spec: WeightSpec, spatial: number, what: string, warnings: string[]): boolean {
  if (spec.shape.length !== spatial + 2 || spec.shape.some((d) => d === 0)) {
    warnings.push(
      `${what} weight ${spec.name} has shape [${spec.shape.join(', ')}], expected rank ${spatial + 2}; skipped`,
    );
    return false;
  }
  if (
    !FLOAT_STORED.has(spec.storedDtype) ||
    (spec.quantization === null && !['float32', 'float16', 'bfloat16', 'float64'].includes(spec.dtype))
  ) {
    warnings.push(`${what} weight ${spec.name} has dtype ${spec.storedDtype}; skipped`);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------
// layers models (Keras topology)

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);
const WRAPPER_CLASSES = new Set(['TimeDistributed', 'Bidirectional']);

interface KerasConvSpec {
  spatial: number;
  parts: { suffix: string; transform: Transform }[];
}

const KERAS_CONVS = new Map<string, KerasConvSpec>();
for (const [names, spatial] of [
  [['Conv1D', 'Convolution1D'], 1],
  [['Conv2D', 'Convolution2D'], 2],
  [['Conv3D', 'Convolution3D'], 3],
] as const) {
  for (const n of names) KERAS_CONVS.set(n, { spatial, parts: [{ suffix: 'kernel', transform: 'conv' }] });
}
for (const [n, spatial] of [
  ['Conv1DTranspose', 1],
  ['Conv2DTranspose', 2],
  ['Convolution2DTranspose', 2],
  ['Deconvolution2D', 2],
  ['Conv3DTranspose', 3],
  ['Convolution3DTranspose', 3],
  ['Deconvolution3D', 3],
] as const) {
  KERAS_CONVS.set(n, { spatial, parts: [{ suffix: 'kernel', transform: 'transposed' }] });
}
for (const [n, spatial] of [
  ['DepthwiseConv1D', 1],
  ['DepthwiseConv2D', 2],
] as const) {
  KERAS_CONVS.set(n, { spatial, parts: [{ suffix: 'depthwise_kernel', transform: 'depthwise' }] });
}
for (const [n, spatial] of [
  ['SeparableConv1D', 1],
  ['SeparableConvolution1D', 1],
  ['SeparableConv2D', 2],
  ['SeparableConvolution2D', 2],
] as const) {
  KERAS_CONVS.set(n, {
    spatial,
    parts: [
      { suffix: 'depthwise_kernel', transform: 'depthwise' },
      { suffix: 'pointwise_kernel', transform: 'conv' },
    ],
  });
}

interface KerasLayer {
  name: string;
  className: string;
  config: Json;
  inbound: string[];
}

/** Names of the layers feeding a Keras layer (Keras 2 `[[name, node, tensor, kwargs], …]` or Keras 3 keras_history). */
function inboundNames(nodes: Json): string[] {
  const out: string[] = [];
  const visit = (v: Json, depth: number): void => {
    if (depth > 12) return;
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && typeof v[1] === 'number') {
        out.push(v[0]);
        return;
      }
      for (const x of v) visit(x, depth + 1);
    } else if (isObject(v)) {
      const kh = get(v, 'keras_history');
      if (Array.isArray(kh) && typeof kh[0] === 'string') {
        out.push(kh[0]);
        return;
      }
      for (const key of Object.keys(v)) visit(v[key], depth + 1);
    }
  };
  visit(nodes, 0);
  return out;
}

function layersModel(
  topology: Json,
  specs: WeightSpec[],
  warnings: string[],
): { candidates: Candidate[]; depth: Int32Array | null; levels: number } {
  let root = get(topology, 'model_config') ?? topology;
  if (isObject(root) && !get(root, 'class_name') && isObject(get(root, 'config'))) root = get(root, 'config');
  const rootClass = str(get(root, 'class_name'));
  if (!rootClass || !MODEL_CLASSES.has(rootClass)) {
    return manifestOnly(specs, warnings);
  }

  // flatten the layers (nested models / wrappers make the depth graph unknown)
  const layers: KerasLayer[] = [];
  let nested = false;
  const walk = (modelCfg: Json, depth: number): void => {
    const cfg = get(modelCfg, 'config');
    const list = Array.isArray(cfg) ? cfg : get(cfg, 'layers');
    if (!Array.isArray(list) || depth > 16) return;
    for (const l of list) {
      const className = str(get(l, 'class_name')) ?? '';
      const config = get(l, 'config');
      const name = str(get(l, 'name')) ?? str(get(config, 'name')) ?? '';
      if (MODEL_CLASSES.has(className)) {
        nested = true;
        walk(l, depth + 1);
      } else if (WRAPPER_CLASSES.has(className)) {
        nested = true;
        const inner = get(config, 'layer');
        layers.push({
          name,
          className: str(get(inner, 'class_name')) ?? '',
          config: get(inner, 'config'),
          inbound: [],
        });
      } else {
        layers.push({ name, className, config, inbound: inboundNames(get(l, 'inbound_nodes')) });
      }
    }
  };
  walk(root, 0);

  // manifest lookup by "<layer>/<weight>" (the last two path components; nested models prefix more)
  const byTail = new Map<string, WeightSpec[]>();
  for (const s of specs) {
    const parts = s.name.replace(/:\d+$/, '').split('/');
    if (parts.length < 2) continue;
    const key = `${parts[parts.length - 2]}/${parts[parts.length - 1]}`;
    const list = byTail.get(key);
    if (list) list.push(s);
    else byTail.set(key, [s]);
  }
  const used = new Set<WeightSpec>();
  const lookup = (layer: string, suffix: string): WeightSpec | null => {
    const list = byTail.get(`${layer}/${suffix}`);
    if (!list) return null;
    const s = list.find((x) => !used.has(x)) ?? null;
    if (s) used.add(s);
    return s;
  };

  // depth graph: one node per layer, plus one for the pointwise half of a separable conv
  const index = new Map<string, number>();
  layers.forEach((l, i) => {
    if (!index.has(l.name)) index.set(l.name, i);
  });
  const extra = new Map<number, number>();
  let nodeCount = layers.length;
  const candidates: Candidate[] = [];
  layers.forEach((l, i) => {
    const conv = KERAS_CONVS.get(l.className);
    if (!conv) return;
    const groupsCfg = get(l.config, 'groups');
    const groups =
      typeof groupsCfg === 'number' && Number.isSafeInteger(groupsCfg) && groupsCfg > 0 ? groupsCfg : 1;
    const attributes: ConvAttributes = {};
    const strides = get(l.config, 'strides');
    const dil = get(l.config, 'dilation_rate');
    const pad = str(get(l.config, 'padding'));
    if (Array.isArray(strides) && strides.every((x) => typeof x === 'number'))
      attributes.strides = strides as number[];
    if (Array.isArray(dil) && dil.every((x) => typeof x === 'number')) attributes.dilations = dil as number[];
    if (pad) attributes.padding = pad.toUpperCase();
    conv.parts.forEach((part, k) => {
      const spec = lookup(l.name, part.suffix);
      if (!spec) {
        warnings.push(
          `${l.className} layer ${l.name}: no weight ${l.name}/${part.suffix} in the manifest; skipped`,
        );
        return;
      }
      if (!usable(spec, conv.spatial, l.className, warnings)) return;
      let node = i;
      if (k === 1) {
        node = nodeCount++;
        extra.set(i, node);
      }
      candidates.push({
        spec,
        op: l.className,
        transform: part.transform,
        spatial: conv.spatial,
        groups,
        attributes,
        node,
      });
    });
  });
  if (
    candidates.length === 0 &&
    specs.some((s) => /(^|\/)(depthwise_|pointwise_)?kernel(:\d+)?$/.test(s.name) && s.shape.length === 4)
  ) {
    warnings.push('no conv layers found in the topology; conv kernels recognised from the manifest names');
    return manifestOnly(specs, warnings);
  }

  if (nested) {
    warnings.push('nested models or layer wrappers: conv depth from layer order');
    return { candidates, depth: null, levels: 0 };
  }
  const outNode = (i: number): number => extra.get(i) ?? i;
  const successors: number[][] = Array.from({ length: nodeCount }, () => []);
  for (const [i, e] of extra) successors[i].push(e);
  const starts: number[] = [];
  const isInput = (l: KerasLayer) => l.className === 'InputLayer';
  if (rootClass === 'Sequential') {
    let prev = -1;
    layers.forEach((l, i) => {
      if (isInput(l)) return;
      if (prev < 0) starts.push(i);
      else successors[outNode(prev)].push(i);
      prev = i;
    });
  } else {
    const hasInbound = layers.some((l) => l.inbound.length > 0);
    if (!hasInbound) {
      warnings.push('the topology has no inbound_nodes: conv depth from layer order');
      return { candidates, depth: null, levels: 0 };
    }
    layers.forEach((l, v) => {
      for (const src of l.inbound) {
        const u = index.get(src);
        if (u === undefined) continue;
        if (isInput(layers[u])) starts.push(v);
        else successors[outNode(u)].push(v);
      }
    });
  }
  const depth = longestPathDepths(nodeCount, successors, starts);
  const levels = new Set<number>();
  for (const d of depth) if (d >= 0) levels.add(d);
  return { candidates, depth, levels: levels.size };
}

/** No usable topology: 3/4/5-D weights named *kernel, in manifest order, depth from that order. */
function manifestOnly(
  specs: WeightSpec[],
  warnings: string[],
): { candidates: Candidate[]; depth: null; levels: number } {
  const candidates: Candidate[] = [];
  for (const spec of specs) {
    const base = spec.name.replace(/:\d+$/, '').split('/').pop() ?? '';
    const r = spec.shape.length;
    if (r !== 4 || !FLOAT_STORED.has(spec.storedDtype)) continue;
    if (base === 'depthwise_kernel') {
      candidates.push({
        spec,
        op: 'DepthwiseConv2D',
        transform: 'depthwise',
        spatial: 2,
        groups: 1,
        node: -1,
      });
    } else if (base === 'kernel' || base === 'pointwise_kernel') {
      candidates.push({ spec, op: 'Conv2D', transform: 'conv', spatial: 2, groups: 1, node: -1 });
    }
  }
  if (candidates.length > 0)
    warnings.push(
      'no Keras topology: 4-D *kernel weights read as Conv2D (Conv2DTranspose cannot be told apart)',
    );
  return { candidates, depth: null, levels: 0 };
}

// ---------------------------------------------------------------------------------------------------
// graph models (GraphDef as JSON)

const GRAPH_CONVS = new Map<string, { transform: Transform; spatial: number }>([
  ['Conv2D', { transform: 'conv', spatial: 2 }],
  ['_FusedConv2D', { transform: 'conv', spatial: 2 }],
  ['FusedConv2D', { transform: 'conv', spatial: 2 }],
  ['DepthwiseConv2dNative', { transform: 'depthwise', spatial: 2 }],
  ['FusedDepthwiseConv2dNative', { transform: 'depthwise', spatial: 2 }],
  ['Conv2DBackpropInput', { transform: 'transposed', spatial: 2 }],
  ['Conv3D', { transform: 'conv', spatial: 3 }],
  ['Conv3DBackpropInputV2', { transform: 'transposed', spatial: 3 }],
]);

function decodeAttrString(v: Json): string | undefined {
  const s = str(get(v, 's'));
  if (s === undefined) return undefined;
  try {
    return atob(s);
  } catch {
    return s;
  }
}

function attrInts(v: Json): number[] | undefined {
  const list = get(get(v, 'list'), 'i');
  if (!Array.isArray(list)) return undefined;
  const out = list.map((x) => Number(x));
  return out.every((x) => Number.isFinite(x)) ? out : undefined;
}

function graphModel(
  topology: Json,
  byName: Map<string, WeightSpec>,
  warnings: string[],
): { candidates: Candidate[]; depth: Int32Array; levels: number } {
  const nodesJson = get(topology, 'node');
  const nodes = Array.isArray(nodesJson) ? nodesJson : [];
  const names: string[] = [];
  const ops: string[] = [];
  const inputs: string[][] = [];
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    const name = str(get(n, 'name')) ?? `node_${i}`;
    names.push(name);
    ops.push(str(get(n, 'op')) ?? '');
    const inp = get(n, 'input');
    inputs.push(Array.isArray(inp) ? inp.filter((x): x is string => typeof x === 'string') : []);
    if (!index.has(name)) index.set(name, i);
  });
  const source = (input: string): number | undefined =>
    input.startsWith('^') ? undefined : index.get(input.split(':')[0]);

  const successors: number[][] = nodes.map(() => []);
  const starts = new Set<number>();
  inputs.forEach((list, v) => {
    for (const s of list) {
      const u = source(s);
      if (u === undefined) continue;
      successors[u].push(v);
      if (ops[u] === 'Placeholder' || ops[u] === 'PlaceholderWithDefault') starts.add(v);
    }
  });
  for (let u = 0; u < nodes.length; u++) {
    if (ops[u] === 'Placeholder' || ops[u] === 'PlaceholderWithDefault') successors[u] = [];
  }
  unrollWhileLoops(ops, inputs, index, successors);

  const candidates: Candidate[] = [];
  const seen = new Set<WeightSpec>();
  nodes.forEach((n, i) => {
    const conv = GRAPH_CONVS.get(ops[i]);
    if (!conv) return;
    const filterInput = inputs[i][1];
    if (filterInput === undefined) return;
    // follow Identity nodes back to the Const that holds the filter
    let u = source(filterInput);
    for (let steps = 0; u !== undefined && ops[u] === 'Identity' && steps < 64; steps++) {
      u = inputs[u][0] === undefined ? undefined : source(inputs[u][0]);
    }
    const constName = u !== undefined && ops[u] === 'Const' ? names[u] : undefined;
    const spec = constName !== undefined ? byName.get(constName) : undefined;
    if (!spec) {
      warnings.push(`${ops[i]} node ${names[i]}: filter is not a constant in the weight manifest; skipped`);
      return;
    }
    if (seen.has(spec)) return;
    if (!usable(spec, conv.spatial, ops[i], warnings)) return;
    seen.add(spec);
    const attr = get(n, 'attr');
    const fmt = decodeAttrString(get(attr, 'data_format')) ?? 'NHWC';
    const spatialAxes = fmt.startsWith('NC')
      ? Array.from({ length: conv.spatial }, (_, k) => k + 2)
      : Array.from({ length: conv.spatial }, (_, k) => k + 1);
    const attributes: ConvAttributes = {};
    const strides = attrInts(get(attr, 'strides'));
    const dil = attrInts(get(attr, 'dilations'));
    const pad = decodeAttrString(get(attr, 'padding'));
    if (strides && strides.length === conv.spatial + 2)
      attributes.strides = spatialAxes.map((a) => strides[a]);
    if (dil && dil.length === conv.spatial + 2) attributes.dilations = spatialAxes.map((a) => dil[a]);
    if (pad) attributes.padding = pad;
    // EXPLICIT padding: [begin, end] per axis in data_format order, kept as ONNX pads [begins…, ends…]
    const explicit = attrInts(get(attr, 'explicit_paddings'));
    if (pad === 'EXPLICIT' && explicit && explicit.length === 2 * (conv.spatial + 2))
      attributes.pads = [
        ...spatialAxes.map((a) => explicit[2 * a]),
        ...spatialAxes.map((a) => explicit[2 * a + 1]),
      ];
    candidates.push({
      spec,
      op: ops[i],
      transform: conv.transform,
      spatial: conv.spatial,
      groups: 1,
      attributes,
      node: i,
    });
  });
  const depth = longestPathDepths(successors.length, successors, [...starts]);
  const levels = new Set<number>();
  for (let u = 0; u < nodes.length; u++) if (depth[u] >= 0) levels.add(depth[u]);
  return { candidates, depth, levels: levels.size };
}

const NEXT_ITERATION = new Set(['NextIteration', 'RefNextIteration']);

/**
 * A TF1 while loop is a cycle: Enter -> Merge -> Switch -:1-> body -> NextIteration -> Merge, and
 * Switch -:0-> Exit when the condition fails. Depth treats it as run once: the NextIteration -> Merge
 * back edge goes instead to a copy of the Merge (appended as a new node), which feeds copies of its
 * Switches, which feed the Switches' Exit side. So what follows the loop lies deeper than its body, the
 * graph stays a DAG, and a path from the inputs that runs through the body (the loop's accumulator)
 * still reaches the rest of the model.
 */
function unrollWhileLoops(
  ops: readonly string[],
  inputs: readonly string[][],
  index: ReadonlyMap<string, number>,
  successors: number[][],
): void {
  const port = (input: string): { node: number | undefined; port: number } => {
    const [name, p] = input.split(':');
    return {
      node: input.startsWith('^') ? undefined : index.get(name),
      port: p === undefined ? 0 : Number(p),
    };
  };
  const mergeCopy = new Map<number, number>();
  const newNode = (): number => successors.push([]) - 1;
  inputs.forEach((list, m) => {
    if (ops[m] !== 'Merge' && ops[m] !== 'RefMerge') return;
    for (const input of list) {
      const n = port(input).node;
      if (n === undefined || !NEXT_ITERATION.has(ops[n])) continue;
      let copy = mergeCopy.get(m);
      if (copy === undefined) {
        copy = newNode();
        mergeCopy.set(m, copy);
      }
      successors[n] = successors[n].filter((v) => v !== m);
      successors[n].push(copy);
    }
  });
  if (mergeCopy.size === 0) return;
  const switchCopy = new Map<number, number>();
  inputs.forEach((list, s) => {
    if (ops[s] !== 'Switch' && ops[s] !== 'RefSwitch') return;
    const m = list[0] === undefined ? undefined : port(list[0]).node;
    const mCopy = m === undefined ? undefined : mergeCopy.get(m);
    if (mCopy === undefined) return;
    const copy = newNode();
    successors[mCopy].push(copy);
    switchCopy.set(s, copy);
  });
  inputs.forEach((list, v) => {
    for (const input of list) {
      const { node: s, port: p } = port(input);
      const copy = s === undefined ? undefined : switchCopy.get(s);
      if (copy !== undefined && p === 0) successors[copy].push(v);
    }
  });
}
