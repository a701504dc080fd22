/**
 * Keras reader: legacy HDF5 full models (`model.save('m.h5')`), weights-only HDF5 files (Keras 2
 * `save_weights('w.h5')` and Keras 3 `*.weights.h5`), and Keras 3 `.keras` zips.
 *
 * ## File layouts
 * - **Legacy full model** (Keras 2, and Keras 3's legacy h5 writer): root attributes `keras_version`, `backend`,
 *   `model_config` (JSON). Group `model_weights` with attribute `layer_names`; one group per top-level layer
 *   with attribute `weight_names`, each weight a dataset at `<layer>/<weight name>` (`conv2d/conv2d/kernel:0`).
 *   Big name lists are split into `layer_names0`, `layer_names1`, … (Keras' 64 KB attribute workaround).
 * - **Keras 2 weights-only**: the same as `model_weights`, at the root; no config.
 * - **Keras 3 weights store** (`model.weights.h5` inside `.keras`, or a `.weights.h5`): `layers/<key>/vars/<i>`
 *   where `<key>` is the snake_case class name plus a per-class counter in `model.layers` order (`conv2d`,
 *   `conv2d_1`, `depthwise_conv2d`…, saving_lib `_save_container_state`: *not* the layer's name) and `<i>` the
 *   index in `trainable + non_trainable` variables (Conv: 0 kernel, 1 bias; SeparableConv: 0 depthwise,
 *   1 pointwise, 2 bias). Nested models nest: `layers/sequential/layers/conv2d/vars/0`. TF-Keras 2.13/2.14
 *   wrote `_layer_checkpoint_dependencies` where Keras 3 writes `layers`; both are read. We look a layer up by
 *   its class key first and by its name second.
 *
 * ## Layer names (the `name` of a ConvLayer)
 * Legacy/Keras 2 files: the weight name exactly as listed in `weight_names` (`conv2d/kernel:0`), which is also
 * what TF.js manifests and TF checkpoints call the tensor; if two layers list the same weight name, both get
 * `<layer group>/<weight name>`. Keras 3 stores: the HDF5 path of the variable (`layers/conv2d/vars/0`): the
 * variable's only stored name, unique, stable across re-saves of the same architecture and directly
 * addressable with h5py.
 *
 * ## Layouts (to filterdb's `[out, inPerGroup, ...k]`, see DESIGN.md)
 * Conv{1,2,3}D `[...k, in/g, out]` → `[out, in/g, ...k]`; Conv{n}DTranspose `[...k, out, in]` → `[in, out, ...k]`
 * (kind transposed); DepthwiseConv `[...k, in, mult]` → `[in*mult, 1, ...k]` (groups = in, kind depthwise);
 * SeparableConv = its depthwise kernel (as DepthwiseConv) and its pointwise kernel (as a 1x1 Conv), reported
 * as two layers named by their weight names. Without a config, kernels are recognised by weight name
 * (`kernel`, `depthwise_kernel`, `pointwise_kernel`; Keras 3 stores: rank-4 variables) and `kind` is null
 * unless the name says it.
 *
 * ## Depth
 * From the config's layer graph: functional `inbound_nodes` (Keras 2 `[[name, node, tensor, kwargs]]` lists
 * and Keras 3 `{args, kwargs}` with `keras_history`), Sequential order; nested models are flattened (their
 * input consumers join the graph where the nested model is called). InputLayers are not nodes, so the convs
 * reading the model input have graph depth 0, like the ONNX rule in fixtures/README.md. A SeparableConv is two
 * nodes (depthwise, then pointwise), as in an ONNX export. Without a usable graph: storage order.
 */
import { FilterDbError } from '../errors.js';
import { convDepthsFromGraph, convDepthsFromOrder, longestPathDepths } from '../model/depth.js';
import type { ConvKind, ConvLayer, Model, WeightArray } from '../model/types.js';
import { type Hdf5Dtype, type Hdf5File, hdf5SignatureOffset, openHdf5 } from './io/hdf5.js';
import { transpose } from './io/numeric.js';
import type { ByteSource, ModelInput } from './io/source.js';
import { isZip, ZipArchive } from './io/zip.js';
import type { FormatReader, ReadOptions, SniffContext, SniffScore } from './reader.js';

/** Files up to this size are opened during sniffing to look at their structure. */
const SNIFF_OPEN_LIMIT = 64 * 1024 * 1024;
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
const MAX_NESTING = 32;
const FLOAT_DTYPES = new Set<Hdf5Dtype>(['float16', 'bfloat16', 'float32', 'float64']);

type Json = unknown;
type JsonObject = Record<string, unknown>;

function isObject(x: Json): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(x: Json): string | null {
  return typeof x === 'string' ? x : null;
}

/** Own property only: a config key `__proto__` or `constructor` never reaches Object.prototype. */
function get(obj: JsonObject, key: string): Json {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Config parsing

interface LayerSpec {
  name: string;
  className: string;
  config: JsonObject;
  /** Names of the layers whose outputs this layer consumes (functional models). */
  inbound: string[];
  /** Keras 3 storage key: snake_case(class) plus a per-class counter. */
  storageKey: string;
  children: ModelSpec | null;
}

interface ModelSpec {
  kind: 'functional' | 'sequential';
  layers: LayerSpec[];
  outputs: string[];
}

/** keras.src.utils.naming.to_snake_case. */
export function toSnakeCase(name: string): string {
  let s = name.replace(/\W+/g, '');
  s = s.replace(/(.)([A-Z][a-z]+)/g, '$1_$2');
  return s.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);

function parseModelSpec(node: Json, depth: number, warnings: string[]): ModelSpec | null {
  if (depth > MAX_NESTING) {
    warnings.push('model config nests deeper than 32 levels; inner models ignored');
    return null;
  }
  if (!isObject(node)) return null;
  const className = str(get(node, 'class_name')) ?? '';
  const config = get(node, 'config');
  // Very old Sequential configs are a bare list of layers.
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? get(config, 'layers') : undefined;
  if (!Array.isArray(rawLayers)) return null;
  const kind: ModelSpec['kind'] = className === 'Sequential' ? 'sequential' : 'functional';
  const counters = new Map<string, number>();
  const layers: LayerSpec[] = [];
  const rawOf = new Map<LayerSpec, JsonObject>();
  for (const raw of rawLayers) {
    if (!isObject(raw)) continue;
    const cls = str(get(raw, 'class_name'));
    const cfg = get(raw, 'config');
    const lcfg = isObject(cfg) ? cfg : {};
    const name = str(get(raw, 'name')) ?? str(get(lcfg, 'name'));
    if (!cls || !name) continue;
    const snake = toSnakeCase(cls);
    const seen = counters.get(snake);
    counters.set(snake, seen === undefined ? 0 : seen + 1);
    const storageKey = seen === undefined ? snake : `${snake}_${seen + 1}`;
    const isModel = MODEL_CLASSES.has(cls) || Array.isArray(cfg) || Array.isArray(get(lcfg, 'layers'));
    const layer: LayerSpec = {
      name,
      className: cls,
      config: lcfg,
      inbound: [],
      storageKey,
      children: isModel ? parseModelSpec(raw, depth + 1, warnings) : null,
    };
    layers.push(layer);
    rawOf.set(layer, raw);
  }
  const names = new Set(layers.map((l) => l.name));
  if (kind === 'functional') {
    for (const layer of layers) {
      const found = new Set<string>();
      collectTensorRefs(get(rawOf.get(layer)!, 'inbound_nodes'), names, found, 0);
      layer.inbound = [...found];
    }
  }
  const outputs: string[] = [];
  const cfgObj = isObject(config) ? config : {};
  collectTensorRefs(get(cfgObj, 'output_layers'), names, new Set(outputs), 0, outputs);
  return { kind, layers, outputs };
}

/**
 * Finds the layers a piece of `inbound_nodes` refers to: Keras 2 `[name, nodeIndex, tensorIndex, …]` lists and
 * Keras 3 `{class_name: '__keras_tensor__', config: {keras_history: [name, node, tensor]}}` objects, at any
 * nesting (args, kwargs, lists of tensors). Only names of layers of this model count.
 */
function collectTensorRefs(
  x: Json,
  names: Set<string>,
  found: Set<string>,
  depth: number,
  ordered?: string[],
): void {
  if (depth > 64 || x === null || typeof x !== 'object') return;
  const add = (n: string) => {
    if (!found.has(n)) {
      found.add(n);
      ordered?.push(n);
    }
  };
  if (Array.isArray(x)) {
    if (x.length >= 3 && typeof x[0] === 'string' && typeof x[1] === 'number' && typeof x[2] === 'number') {
      if (names.has(x[0])) add(x[0]);
      for (const item of x.slice(3)) collectTensorRefs(item, names, found, depth + 1, ordered);
      return;
    }
    for (const item of x) collectTensorRefs(item, names, found, depth + 1, ordered);
    return;
  }
  const obj = x as JsonObject;
  const cfg = get(obj, 'config');
  if (isObject(cfg)) {
    const history = get(cfg, 'keras_history');
    if (Array.isArray(history) && typeof history[0] === 'string') {
      if (names.has(history[0])) add(history[0]);
      return;
    }
  }
  for (const key of Object.keys(obj)) collectTensorRefs(obj[key], names, found, depth + 1, ordered);
}

// ---------------------------------------------------------------------------------------------------------
// Graph: flattened over nested models

interface GraphNode {
  layer: LayerSpec;
  /** 'main' for ordinary layers; SeparableConv has a 'depthwise' and a 'pointwise' node. */
  part: 'main' | 'depthwise' | 'pointwise';
}

interface Graph {
  nodes: GraphNode[];
  successors: number[][];
  starts: number[];
  /** Node ids by LayerSpec. */
  byLayer: Map<LayerSpec, number[]>;
}

interface Ends {
  entry: number[];
  exit: number[];
}

function isSeparable(className: string): boolean {
  return /^SeparableConv(olution)?[123]D$/.test(className);
}

function buildGraph(spec: ModelSpec): Graph {
  const g: Graph = { nodes: [], successors: [], starts: [], byLayer: new Map() };
  const addNode = (layer: LayerSpec, part: GraphNode['part']): number => {
    g.nodes.push({ layer, part });
    g.successors.push([]);
    const id = g.nodes.length - 1;
    const list = g.byLayer.get(layer) ?? [];
    list.push(id);
    g.byLayer.set(layer, list);
    return id;
  };
  const connect = (from: number[], to: number[]) => {
    for (const a of from) for (const b of to) if (!g.successors[a].includes(b)) g.successors[a].push(b);
  };
  const layerEnds = (layer: LayerSpec): Ends | null => {
    if (layer.className === 'InputLayer') return null;
    if (layer.children) return modelEnds(layer.children);
    if (isSeparable(layer.className)) {
      const dw = addNode(layer, 'depthwise');
      const pw = addNode(layer, 'pointwise');
      connect([dw], [pw]);
      return { entry: [dw], exit: [pw] };
    }
    const id = addNode(layer, 'main');
    return { entry: [id], exit: [id] };
  };
  const modelEnds = (m: ModelSpec): Ends => {
    const entry: number[] = [];
    if (m.kind === 'sequential') {
      let prev: Ends | null = null;
      let first: Ends | null = null;
      for (const layer of m.layers) {
        const ends = layerEnds(layer);
        if (!ends) continue;
        if (prev) connect(prev.exit, ends.entry);
        first ??= ends;
        prev = ends;
      }
      return { entry: first?.entry ?? [], exit: prev?.exit ?? [] };
    }
    const ends = new Map<string, Ends | null>();
    for (const layer of m.layers) ends.set(layer.name, layerEnds(layer));
    const inputs = new Set(m.layers.filter((l) => l.className === 'InputLayer').map((l) => l.name));
    for (const layer of m.layers) {
      const mine = ends.get(layer.name);
      if (!mine) continue;
      for (const src of layer.inbound) {
        if (inputs.has(src)) entry.push(...mine.entry);
        else {
          const theirs = ends.get(src);
          if (theirs) connect(theirs.exit, mine.entry);
        }
      }
    }
    const exit: number[] = [];
    for (const o of m.outputs) exit.push(...(ends.get(o)?.exit ?? []));
    return { entry: [...new Set(entry)], exit };
  };
  g.starts = modelEnds(spec).entry;
  return g;
}

/** All leaf layers of a spec with their nesting path of specs (outermost first). */
function leafLayers(
  spec: ModelSpec,
  path: LayerSpec[] = [],
  out: { layer: LayerSpec; path: LayerSpec[] }[] = [],
) {
  for (const layer of spec.layers) {
    if (layer.children) leafLayers(layer.children, [...path, layer], out);
    else out.push({ layer, path: [...path, layer] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Conv classes and weight roles

type Role = 'kernel' | 'depthwise' | 'pointwise';
type Layout = 'conv' | 'transposed' | 'depthwise';

interface ConvClass {
  op: string;
  rank: number;
  family: 'conv' | 'transposed' | 'depthwise' | 'separable';
}

function convClass(className: string): ConvClass | null {
  let m = /^Conv(?:olution)?([123])D$/.exec(className);
  if (m) return { op: className, rank: Number(m[1]) + 2, family: 'conv' };
  m = /^(?:Conv([123])DTranspose|Deconvolution([23])D)$/.exec(className);
  if (m) return { op: className, rank: Number(m[1] ?? m[2]) + 2, family: 'transposed' };
  m = /^DepthwiseConv([12])D$/.exec(className);
  if (m) return { op: className, rank: Number(m[1]) + 2, family: 'depthwise' };
  m = /^SeparableConv(?:olution)?([12])D$/.exec(className);
  if (m) return { op: className, rank: Number(m[1]) + 2, family: 'separable' };
  return null;
}

/** `conv2d/kernel:0` → `kernel`. */
function weightRoleName(weightName: string): string {
  const last = weightName.split('/').pop() ?? weightName;
  return last.replace(/:\d+$/, '');
}

interface FoundKernel {
  /** Reported ConvLayer name. */
  name: string;
  /** HDF5 dataset path. */
  path: string;
  role: Role;
  op: string;
  layerSpec: LayerSpec | null;
  part: GraphNode['part'];
  /** Known from the config (or the weight name); null for weights-only kernels of unknown type. */
  family: ConvClass['family'] | null;
}

// ---------------------------------------------------------------------------------------------------------
// Sniffing

function looksLikeKerasHdf5(f: Hdf5File): boolean {
  const attrs = f.attributeNames('/');
  if (attrs.includes('keras_version') || attrs.includes('model_config')) return true;
  if (attrs.includes('layer_names') || attrs.includes('layer_names0')) return true;
  for (const g of ['model_weights', 'layers', '_layer_checkpoint_dependencies'])
    if (f.isGroup(g)) return true;
  return false;
}

const KERAS_HEAD_MARKERS = ['keras_version', 'model_config', 'model_weights', 'layer_names', 'weight_names'];

function headHasMarker(head: Uint8Array): boolean {
  const text = new TextDecoder('latin1').decode(head);
  return KERAS_HEAD_MARKERS.some((m) => text.includes(m));
}

async function sniff(ctx: SniffContext): Promise<SniffScore> {
  const ext = /\.(h5|hdf5|keras)$/.test(ctx.name) ? 1 : 0;
  if (isZip(ctx.head)) {
    try {
      const zip = await ZipArchive.open(ctx.source);
      return zip.entries.has('config.json') && zip.entries.has('model.weights.h5') ? 2 : 0;
    } catch {
      return ctx.name.endsWith('.keras') ? 1 : 0;
    }
  }
  if (hdf5SignatureOffset(ctx.head) < 0) return ext as SniffScore;
  const lazy = typeof (ctx.source as { readSync?: unknown }).readSync === 'function';
  if (ctx.source.size <= SNIFF_OPEN_LIMIT || lazy) {
    try {
      const f = await openHdf5(ctx.source);
      try {
        return looksLikeKerasHdf5(f) ? 2 : 1;
      } finally {
        f.close();
      }
    } catch {
      return 1;
    }
  }
  // Too big to open just for sniffing: h5py writes the root attributes and the root's link names early.
  return headHasMarker(ctx.head) ? 2 : 1;
}

// ---------------------------------------------------------------------------------------------------------
// Reading

interface KerasSource {
  hdf5: ByteSource;
  config: Json | null;
  configError: string | null;
  producer: string | undefined;
}

async function openKerasZip(main: ByteSource): Promise<KerasSource> {
  const zip = await ZipArchive.open(main);
  const configEntry = zip.entries.get('config.json');
  const weightsEntry = zip.entries.get('model.weights.h5');
  if (!configEntry) {
    const shards = [...zip.entries.keys()].some((n) => /^model(_\d+)?\.weights\.json$/.test(n));
    throw new FilterDbError(
      shards ? 'unsupported' : 'not-a-model',
      main.name,
      shards
        ? 'sharded Keras weights are not supported yet'
        : 'zip has no config.json: not a Keras .keras file',
    );
  }
  if (!weightsEntry) {
    throw new FilterDbError(
      'missing-file',
      main.name,
      '.keras archive has config.json but no model.weights.h5',
    );
  }
  const configBytes = await zip.readEntry(configEntry, MAX_CONFIG_BYTES);
  let config: Json | null = null;
  let configError: string | null = null;
  try {
    config = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (e) {
    configError = `config.json is not valid JSON (${(e as Error).message})`;
  }
  let producer: string | undefined;
  const metaEntry = zip.entries.get('metadata.json');
  if (metaEntry) {
    try {
      const meta = JSON.parse(new TextDecoder().decode(await zip.readEntry(metaEntry, 1024 * 1024)));
      const v = isObject(meta) ? str(get(meta, 'keras_version')) : null;
      if (v) producer = `keras ${v}`;
    } catch {
      // metadata is informative only
    }
  }
  const weights = await zip.open(weightsEntry);
  return { hdf5: weights, config, configError, producer };
}

/** Reads Keras' chunked list attributes: `name`, or `name0`, `name1`, … */
function listAttribute(f: Hdf5File, path: string, name: string): string[] | null {
  const whole = f.attrStrings(path, name);
  if (whole) return whole;
  const names = f.attributeNames(path);
  if (!names.includes(`${name}0`)) return null;
  const out: string[] = [];
  for (let i = 0; names.includes(`${name}${i}`); i++) out.push(...(f.attrStrings(path, `${name}${i}`) ?? []));
  return out;
}

function joinH5(...parts: string[]): string {
  return parts.filter((p) => p !== '' && p !== '/').join('/');
}

/** Kernels of a legacy (Keras 2 style) weights group: `<root>/<layer>/<weight name>`. */
function legacyKernels(f: Hdf5File, root: string, spec: ModelSpec | null, warnings: string[]): FoundKernel[] {
  const layerNames = listAttribute(f, root === '' ? '/' : root, 'layer_names') ?? [];
  const topByName = new Map<string, LayerSpec>();
  for (const l of spec?.layers ?? []) topByName.set(l.name, l);
  const found: FoundKernel[] = [];
  for (const layerName of layerNames) {
    const groupPath = joinH5(root, layerName);
    if (!f.isGroup(groupPath)) {
      throw new FilterDbError(
        'corrupt',
        f.name,
        `layer_names lists ${JSON.stringify(layerName)} but there is no such group`,
      );
    }
    const weightNames = listAttribute(f, groupPath, 'weight_names') ?? [];
    const top = topByName.get(layerName) ?? null;
    const perLayer = new Map<LayerSpec | null, { weightName: string; path: string }[]>();
    for (const weightName of weightNames) {
      const path = joinH5(groupPath, weightName);
      if (!f.isDataset(path)) {
        throw new FilterDbError(
          'missing-file',
          f.name,
          `weight ${JSON.stringify(weightName)} of layer ${layerName} is missing`,
        );
      }
      let owner: LayerSpec | null = top;
      if (top?.children) owner = innerLayerFor(top.children, weightName);
      const list = perLayer.get(owner) ?? [];
      list.push({ weightName, path });
      perLayer.set(owner, list);
    }
    for (const [owner, weights] of perLayer) {
      const cls = owner ? convClass(owner.className) : null;
      if (owner && !cls) continue; // a known non-conv layer
      if (spec && !owner) {
        warnings.push(`weights of layer ${layerName} do not match the model config; read by weight name`);
      }
      found.push(...kernelsOfLayer(f, weights, owner, cls));
    }
  }
  return found;
}

/** The leaf layer of a nested model that a weight name belongs to (`conv2d_1/kernel:0` → `conv2d_1`). */
function innerLayerFor(spec: ModelSpec, weightName: string): LayerSpec | null {
  const leaves = leafLayers(spec);
  const parts = weightName.split('/').slice(0, -1);
  for (let i = parts.length - 1; i >= 0; i--) {
    const hit = leaves.find((l) => l.layer.name === parts[i]);
    if (hit) return hit.layer;
  }
  return null;
}

function kernelsOfLayer(
  f: Hdf5File,
  weights: { weightName: string; path: string }[],
  owner: LayerSpec | null,
  cls: ConvClass | null,
): FoundKernel[] {
  const out: FoundKernel[] = [];
  const rankOf = (path: string) => f.datasetInfo(path).shape.length;
  if (cls) {
    const candidates = weights.filter((w) => rankOf(w.path) === cls.rank);
    const byRole = (r: string) => candidates.find((w) => weightRoleName(w.weightName) === r);
    if (cls.family === 'separable') {
      const dw = byRole('depthwise_kernel') ?? candidates[0];
      const pw = byRole('pointwise_kernel') ?? candidates.find((w) => w !== dw);
      if (dw) out.push(kernel(dw, 'depthwise', 'depthwise', cls, owner));
      if (pw) out.push(kernel(pw, 'pointwise', 'pointwise', cls, owner));
      return out;
    }
    const k = byRole('kernel') ?? byRole('depthwise_kernel') ?? candidates[0];
    if (k) out.push(kernel(k, cls.family === 'depthwise' ? 'depthwise' : 'kernel', 'main', cls, owner));
    else if (weights.some((w) => /kernel$/.test(weightRoleName(w.weightName)))) {
      const w = weights.find((x) => /kernel$/.test(weightRoleName(x.weightName)))!;
      throw new FilterDbError(
        'corrupt',
        f.name,
        `weight ${w.weightName} has rank ${rankOf(w.path)} but layer ${owner?.name} (${cls.op}) needs rank ${cls.rank}`,
      );
    }
    return out;
  }
  // No config: recognise kernels by name and rank (2-D convs only; 1-D/3-D kernels are ambiguous by name).
  const roles = weights.map((w) => weightRoleName(w.weightName));
  const separable = roles.includes('depthwise_kernel') && roles.includes('pointwise_kernel');
  for (const w of weights) {
    if (rankOf(w.path) !== 4) continue;
    const role = weightRoleName(w.weightName);
    if (role === 'kernel') {
      out.push({
        name: w.weightName,
        path: w.path,
        role: 'kernel',
        op: 'Conv2D',
        layerSpec: null,
        part: 'main',
        family: null,
      });
    } else if (role === 'depthwise_kernel') {
      const op = separable ? 'SeparableConv2D' : 'DepthwiseConv2D';
      out.push({
        name: w.weightName,
        path: w.path,
        role: 'depthwise',
        op,
        layerSpec: null,
        part: 'depthwise',
        family: 'depthwise',
      });
    } else if (role === 'pointwise_kernel') {
      out.push({
        name: w.weightName,
        path: w.path,
        role: 'pointwise',
        op: 'SeparableConv2D',
        layerSpec: null,
        part: 'pointwise',
        family: 'separable',
      });
    }
  }
  return out;
}

function kernel(
  w: { weightName: string; path: string },
  role: Role,
  part: GraphNode['part'],
  cls: ConvClass,
  owner: LayerSpec | null,
): FoundKernel {
  return { name: w.weightName, path: w.path, role, op: cls.op, layerSpec: owner, part, family: cls.family };
}

/** Keras 3 store: `layers/<key>/vars/<i>`, nested models recursively. */
function keras3Kernels(f: Hdf5File, spec: ModelSpec, warnings: string[]): FoundKernel[] {
  const containers = ['layers', '_layer_checkpoint_dependencies'];
  const found: FoundKernel[] = [];
  const visit = (m: ModelSpec, base: string, depth: number) => {
    for (const layer of m.layers) {
      let groupPath: string | null = null;
      for (const c of containers) {
        for (const key of [layer.storageKey, layer.name]) {
          const p = joinH5(base, c, key);
          if (groupPath === null && f.isGroup(p)) groupPath = p;
        }
      }
      if (layer.children) {
        if (groupPath && depth < MAX_NESTING) visit(layer.children, groupPath, depth + 1);
        else if (!groupPath && leafLayers(layer.children).some((l) => convClass(l.layer.className))) {
          warnings.push(`nested model ${layer.name} has no weights group in the file`);
        }
        continue;
      }
      const cls = convClass(layer.className);
      if (!cls) continue;
      if (!groupPath || !f.isGroup(joinH5(groupPath, 'vars'))) {
        throw new FilterDbError(
          'missing-file',
          f.name,
          `no weights for layer ${layer.name} (${layer.className}) in the file`,
        );
      }
      const vars = joinH5(groupPath, 'vars');
      const need = cls.family === 'separable' ? ['0', '1'] : ['0'];
      for (const [i, idx] of need.entries()) {
        const path = joinH5(vars, idx);
        if (!f.isDataset(path)) {
          throw new FilterDbError(
            'missing-file',
            f.name,
            `variable ${path} of layer ${layer.name} is missing`,
          );
        }
        const role: Role =
          cls.family === 'separable'
            ? i === 0
              ? 'depthwise'
              : 'pointwise'
            : cls.family === 'depthwise'
              ? 'depthwise'
              : 'kernel';
        const part: GraphNode['part'] =
          cls.family === 'separable' ? (i === 0 ? 'depthwise' : 'pointwise') : 'main';
        found.push({ name: path, path, role, op: cls.op, layerSpec: layer, part, family: cls.family });
      }
    }
  };
  visit(spec, '', 0);
  return found;
}

/** Keras 3 store without a config: every rank-4 float variable under any `vars` group, natural order. */
function keras3KernelsWithoutConfig(f: Hdf5File): FoundKernel[] {
  const found: FoundKernel[] = [];
  f.walk('/', (path, kind) => {
    if (kind !== 'dataset' || !/\/vars\/\d+$/.test(path)) return true;
    const info = f.datasetInfo(path);
    if (info.shape.length === 4 && FLOAT_DTYPES.has(info.dtype)) {
      const name = path.replace(/^\//, '');
      found.push({
        name,
        path: name,
        role: 'kernel',
        op: 'Conv2D',
        layerSpec: null,
        part: 'main',
        family: null,
      });
    }
    return true;
  });
  return found.sort((a, b) => naturalPathCompare(a.path, b.path));
}

/** Segment-wise natural order (`conv2d` < `conv2d_1` < `conv2d_2` < `conv2d_10`), code points otherwise. */
export function naturalPathCompare(a: string, b: string): number {
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const ta = sa[i].match(/\d+|\D+/g) ?? [];
    const tb = sb[i].match(/\d+|\D+/g) ?? [];
    for (let j = 0; j < Math.min(ta.length, tb.length); j++) {
      const da = /^\d/.test(ta[j]);
      const db = /^\d/.test(tb[j]);
      let c: number;
      if (da && db) c = Number(ta[j]) - Number(tb[j]);
      else c = ta[j] < tb[j] ? -1 : ta[j] > tb[j] ? 1 : 0;
      if (c !== 0) return c;
    }
    if (ta.length !== tb.length) return ta.length - tb.length;
  }
  return sa.length - sb.length;
}

// ---------------------------------------------------------------------------------------------------------
// Shapes

interface Normalised {
  shape: number[];
  layout: Layout;
  groups: number | null;
  kind: ConvKind | null;
}

function numList(x: Json, n: number): number[] | null {
  if (typeof x === 'number') return Array.from({ length: n }, () => x);
  if (Array.isArray(x) && x.length === n && x.every((v) => typeof v === 'number')) return x as number[];
  return null;
}

function mismatch(file: string, k: FoundKernel, stored: number[], expected: string): FilterDbError {
  const layer = k.layerSpec ? `layer ${k.layerSpec.name} (${k.layerSpec.className})` : 'its layer';
  return new FilterDbError(
    'corrupt',
    file,
    `weight ${k.name} has stored shape [${stored.join(', ')}] but ${layer} config says ${expected}`,
  );
}

/** Checks a stored kernel against its layer config and computes the normalised shape. */
function normalise(file: string, k: FoundKernel, stored: number[], dwShape: number[] | null): Normalised {
  const n = stored.length - 2;
  const spatial = stored.slice(0, n);
  const [a, b] = stored.slice(n);
  const cfg = k.layerSpec?.config ?? {};
  if (k.layerSpec) {
    const ks = numList(get(cfg, 'kernel_size'), n);
    const filters = get(cfg, 'filters');
    if (k.role !== 'pointwise' && ks && ks.some((v, i) => v !== spatial[i])) {
      throw mismatch(file, k, stored, `kernel_size [${ks.join(', ')}]`);
    }
    if (k.role === 'pointwise' && spatial.some((v) => v !== 1))
      throw mismatch(file, k, stored, 'a 1x1 pointwise kernel');
    if (typeof filters === 'number') {
      const outDim = k.family === 'transposed' ? a : b;
      if (k.role !== 'depthwise' && outDim !== filters) throw mismatch(file, k, stored, `filters ${filters}`);
    }
    const mult = get(cfg, 'depth_multiplier');
    if (k.role === 'depthwise' && typeof mult === 'number' && b !== mult) {
      throw mismatch(file, k, stored, `depth_multiplier ${mult}`);
    }
    if (k.role === 'pointwise' && dwShape && a !== dwShape[n] * dwShape[n + 1]) {
      throw mismatch(
        file,
        k,
        stored,
        `${dwShape[n] * dwShape[n + 1]} pointwise input channels (depthwise output)`,
      );
    }
  }
  if (k.role === 'depthwise') {
    return { shape: [a * b, 1, ...spatial], layout: 'depthwise', groups: a, kind: 'depthwise' };
  }
  if (k.family === 'transposed')
    return { shape: [b, a, ...spatial], layout: 'transposed', groups: 1, kind: 'transposed' };
  if (k.role === 'pointwise') return { shape: [b, a, ...spatial], layout: 'conv', groups: 1, kind: 'plain' };
  if (!k.layerSpec) return { shape: [b, a, ...spatial], layout: 'conv', groups: null, kind: null };
  const groupsRaw = get(cfg, 'groups');
  const groups =
    typeof groupsRaw === 'number' && Number.isInteger(groupsRaw) && groupsRaw >= 1 ? groupsRaw : 1;
  if (groups > 1 && b % groups !== 0)
    throw mismatch(file, k, stored, `groups ${groups} (filters must divide by it)`);
  return { shape: [b, a, ...spatial], layout: 'conv', groups, kind: groupsKind(groups, a) };
}

function groupsKind(groups: number, inPerGroup: number): ConvKind {
  if (groups <= 1) return 'plain';
  return inPerGroup === 1 ? 'depthwise' : 'grouped';
}

/** Stored kernel → normalised layout (see the module comment). */
export function normaliseKernel(data: WeightArray, stored: readonly number[], layout: Layout): WeightArray {
  const n = stored.length - 2;
  const spatialAxes = Array.from({ length: n }, (_, i) => i);
  if (layout === 'depthwise') return transpose(data, stored, [n, n + 1, ...spatialAxes]);
  return transpose(data, stored, [n + 1, n, ...spatialAxes]);
}

// ---------------------------------------------------------------------------------------------------------
// Lazy weight access: the HDF5 file stays open until every kernel was loaded once (or the model is collected)

class SharedHdf5 {
  private file: Hdf5File | null;
  private pending: Set<string>;
  constructor(
    file: Hdf5File,
    private readonly source: ByteSource,
    names: string[],
  ) {
    this.file = file;
    this.pending = new Set(names);
  }

  async use<T>(path: string, fn: (f: Hdf5File) => T): Promise<T> {
    this.file ??= await openHdf5(this.source);
    try {
      return fn(this.file);
    } finally {
      this.pending.delete(path);
      if (this.pending.size === 0) this.close();
    }
  }

  close(): void {
    this.file?.close();
    this.file = null;
  }
}

const finalizer = new FinalizationRegistry<SharedHdf5>((shared) => shared.close());

// ---------------------------------------------------------------------------------------------------------

function parseConfigString(text: string | null, warnings: string[]): Json | null {
  if (text === null) return null;
  if (text.length > MAX_CONFIG_BYTES) {
    warnings.push('model_config is too large to parse; read without a config');
    return null;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    warnings.push(`model_config is not valid JSON (${(e as Error).message}); read without a config`);
    return null;
  }
}

function notAModel(f: Hdf5File): FilterDbError {
  const dataset = f.isDataset('filters') && f.isGroup('meta');
  return new FilterDbError(
    'not-a-model',
    f.name,
    dataset
      ? 'is a CNN Filter DB dataset.h5 (filters + meta), not a model; use `filterdb import-h5`'
      : 'is an HDF5 file but not a Keras model (no keras_version/model_config attributes, model_weights, layer_names or layers)',
  );
}

async function read(input: ModelInput, options?: ReadOptions): Promise<Model> {
  const main = input.main;
  const head = await main.read(0, Math.min(4096, main.size));
  const warnings: string[] = [];
  let ks: KerasSource;
  if (isZip(head)) ks = await openKerasZip(main);
  else if (hdf5SignatureOffset(head) >= 0)
    ks = { hdf5: main, config: null, configError: null, producer: undefined };
  else throw new FilterDbError('unsupported-format', main.name, 'is neither an HDF5 file nor a .keras zip');
  if (ks.configError) warnings.push(`${ks.configError}; read without a config`);

  const f = await openHdf5(ks.hdf5);
  let kernels: FoundKernel[];
  let spec: ModelSpec | null = null;
  let legacy = false;
  try {
    let config = ks.config;
    if (
      f.isGroup('model_weights') ||
      f.hasAttribute('/', 'model_config') ||
      listAttribute(f, '/', 'layer_names')
    ) {
      legacy = true;
      const version = f.attrString('/', 'keras_version') ?? f.attrString('model_weights', 'keras_version');
      const backend = f.attrString('/', 'backend');
      if (version) ks.producer = `keras ${version}${backend ? ` (${backend})` : ''}`;
      config = parseConfigString(f.attrString('/', 'model_config'), warnings);
    } else if (!f.isGroup('layers') && !f.isGroup('_layer_checkpoint_dependencies') && !f.isGroup('vars')) {
      throw notAModel(f);
    }
    if (config !== null) {
      spec = parseModelSpec(config, 0, warnings);
      if (!spec) warnings.push('model config has no layer list; read without a config');
    }
    if (legacy) {
      const root = f.isGroup('model_weights') ? 'model_weights' : '';
      if (root === '' && !listAttribute(f, '/', 'layer_names')) {
        throw new FilterDbError(
          'not-a-model',
          f.name,
          'Keras HDF5 file without weights (no model_weights group)',
        );
      }
      kernels = legacyKernels(f, root, spec, warnings);
    } else if (spec) {
      kernels = keras3Kernels(f, spec, warnings);
    } else {
      kernels = keras3KernelsWithoutConfig(f);
      if (kernels.length) {
        warnings.push(
          'Keras 3 weights without a config: layer types are unknown, so every rank-4 variable is read as a Conv2D kernel [kh, kw, in, out] (depthwise or transposed kernels would be mislabelled); read the .keras file for exact kinds',
        );
      }
    }
  } catch (e) {
    f.close();
    throw e;
  }

  // Unique names (legacy weight names can repeat across layers).
  const counts = new Map<string, number>();
  for (const k of kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  for (const k of kernels) if ((counts.get(k.name) ?? 0) > 1) k.name = k.path;

  // Shapes, dtypes and normalisation (validated now, data read lazily).
  const prepared: { k: FoundKernel; stored: number[]; dtype: Hdf5Dtype; norm: Normalised }[] = [];
  try {
    const dwShapes = new Map<LayerSpec | null, number[]>();
    for (const k of kernels) {
      const info = f.datasetInfo(k.path);
      if (!FLOAT_DTYPES.has(info.dtype)) {
        warnings.push(`${k.name}: ${info.dtype} kernel (quantized?) is not supported; skipped`);
        continue;
      }
      if (info.shape.some((d) => d <= 0)) {
        warnings.push(`${k.name}: empty kernel [${info.shape.join(', ')}]; skipped`);
        continue;
      }
      if (k.role === 'depthwise') dwShapes.set(k.layerSpec, info.shape);
      const norm = normalise(
        f.name,
        k,
        info.shape,
        k.role === 'pointwise' ? (dwShapes.get(k.layerSpec) ?? null) : null,
      );
      prepared.push({ k, stored: info.shape, dtype: info.dtype, norm });
    }
  } catch (e) {
    f.close();
    throw e;
  }

  // Depth.
  let graphDepths: (number | null)[] = prepared.map(() => null);
  let graphDepthLevels: number | undefined;
  if (spec && prepared.length) {
    const g = buildGraph(spec);
    const depth = longestPathDepths(g.nodes.length, g.successors, g.starts);
    graphDepths = prepared.map(({ k }) => {
      const ids = k.layerSpec ? (g.byLayer.get(k.layerSpec) ?? []) : [];
      const id = ids.find((i) => g.nodes[i].part === k.part) ?? ids[0];
      return id !== undefined && depth[id] >= 0 ? depth[id] : null;
    });
    const levels = new Set<number>();
    for (const d of depth) if (d >= 0) levels.add(d);
    graphDepthLevels = levels.size || undefined;
    if (graphDepths.some((d) => d === null)) {
      warnings.push(
        'some conv layers are not connected to the model input in the config graph; depth is storage order',
      );
    }
  }
  const graphKnown = prepared.length > 0 && graphDepths.every((d) => d !== null);
  const depths = graphKnown
    ? convDepthsFromGraph(graphDepths as number[])
    : convDepthsFromOrder(prepared.length);

  const shared = new SharedHdf5(
    f,
    ks.hdf5,
    prepared.map((p) => p.k.path),
  );
  const layers: ConvLayer[] = prepared.map(({ k, stored, dtype, norm }, i) => ({
    name: k.name,
    op: k.op,
    kind: norm.kind,
    shape: norm.shape,
    groups: norm.groups,
    dtype,
    graphDepth: graphKnown ? graphDepths[i] : null,
    convDepth: depths.convDepth[i],
    convDepthNorm: depths.convDepthNorm[i],
    attributes: attributesOf(k.layerSpec?.config),
    loadWeight: () =>
      shared.use(k.path, (file) => {
        const { data } = file.readFloats(k.path);
        return normaliseKernel(data, stored, norm.layout);
      }),
  }));
  if (layers.length === 0) shared.close();
  else finalizer.register(layers, shared);
  options?.onProgress?.(main.size, main.size);
  return {
    format: 'keras',
    source: main.name,
    producer: ks.producer,
    graphDepthKnown: graphKnown,
    graphDepthLevels: graphKnown ? graphDepthLevels : undefined,
    layers,
    warnings,
  };
}

function attributesOf(cfg: JsonObject | undefined): ConvLayer['attributes'] {
  if (!cfg) return undefined;
  const strides = get(cfg, 'strides');
  const dilations = get(cfg, 'dilation_rate');
  const padding = get(cfg, 'padding');
  const attrs: NonNullable<ConvLayer['attributes']> = {};
  if (Array.isArray(strides) && strides.every((s) => typeof s === 'number'))
    attrs.strides = strides as number[];
  if (Array.isArray(dilations) && dilations.every((s) => typeof s === 'number'))
    attrs.dilations = dilations as number[];
  if (typeof padding === 'string') attrs.padding = padding;
  return Object.keys(attrs).length ? attrs : undefined;
}

export const kerasReader: FormatReader = {
  id: 'keras',
  label: 'Keras (HDF5 .h5 / .weights.h5, Keras 3 .keras)',
  extensions: ['.h5', '.hdf5', '.keras'],
  sniff,
  read,
};
