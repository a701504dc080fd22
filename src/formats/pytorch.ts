/**
 * PyTorch checkpoints: zip archives (`<folder>/data.pkl` + `<folder>/data/<key>`), the legacy
 * non-zip format (`_use_new_zipfile_serialization=False`) and sharded `*.bin.index.json` checkpoints.
 * The pickle is run by our own VM: nothing in the file is executed.
 *
 * Which tensors are conv layers (fixtures README, extended):
 * - every 4-D floating-point tensor (float32/float16/bfloat16/float64) of the state dict, named by its
 *   key, in storage (pickle) order; these are the 2-D convs and get conv depth = their index in that order;
 * - rank-3 and rank-5 floating-point tensors whose key ends in `weight` are kept as 1-D / 3-D convs (they
 *   are reported but not measured); they share the conv depth of the 2-D conv before them (0 if none);
 * - the state dict is found inside checkpoints: a dict holding tensors is the state dict; otherwise the
 *   first of `state_dict`, `model_state_dict`, `model`, `module`, … that holds tensors (names relative to
 *   it); otherwise every entry except optimizer/scheduler state (names are key paths joined with '.');
 * - a pickled module (`torch.save(model)`) is read through its `_parameters`/`_buffers`/`_modules` state,
 *   giving state-dict names; for conv modules the class (Conv2d, ConvTranspose2d…) and `groups` are known
 *   there, so `op`, `groups` and `kind` are filled in. Elsewhere `groups`/`kind` are null and `op` is 'Conv'.
 */
import { FilterDbError } from '../errors.js';
import { convDepthsFromOrder } from '../model/depth.js';
import {
  type ConvKind,
  type ConvLayer,
  convKind,
  elementCount,
  MAX_CONV_WEIGHTS,
  type Model,
  type WeightArray,
} from '../model/types.js';
import { decodeFloats, FLOAT_DTYPE_SIZE } from './io/numeric.js';
import { basicGlobals, PickleGlobal, type PickleHandler, PickleStub, unpickle } from './io/pickle.js';
import { type ByteSource, type ModelInput, readAll, sliceSource } from './io/source.js';
import { firstEntryName, isZip, ZipArchive } from './io/zip.js';
import type { FormatReader, ReadOptions, SniffContext, SniffScore } from './reader.js';

/** Largest pickle we load into memory (data.pkl of a big model is a few MB). */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
/** Largest index JSON of a sharded checkpoint. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Largest tensor we materialise (elements); a conv weight is far smaller. */
const MAX_TENSOR_ELEMENTS = 2 ** 29;
/** Nesting depth beyond which the checkpoint walk stops (protects the JS stack). */
const MAX_WALK_DEPTH = 256;
/** Most containers the state-dict search visits (each once); a 256 MB pickle holds far fewer real ones. */
const MAX_WALK_STEPS = 20_000_000;
/** torch.serialization.MAGIC_NUMBER of the legacy format. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_MAGIC_BYTES = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

// ---------------------------------------------------------------------------------------------
// Tensors shared with the safetensors reader

/** A named tensor as stored, before the conv selection. */
export interface StoredTensor {
  name: string;
  shape: number[];
  /** float32 / float16 / bfloat16 / float64, or another dtype name (then ignored). */
  dtype: string;
  load(): Promise<WeightArray>;
  /** Known only for pickled modules. */
  op?: string;
  groups?: number | null;
  kind?: ConvKind | null;
}

/** True for tensors the selection rule above treats as conv weights. */
export function isConvTensor(t: StoredTensor): boolean {
  if (!FLOAT_DTYPE_SIZE.has(t.dtype)) return false;
  const rank = t.shape.length;
  return rank === 4 || ((rank === 3 || rank === 5) && t.name.endsWith('weight'));
}

/** Builds conv layers (with storage-order depths) from tensors in storage order. */
export function convLayersFromTensors(tensors: readonly StoredTensor[]): ConvLayer[] {
  const convs = tensors.filter(isConvTensor);
  const depths = convDepthsFromOrder(convs.filter((t) => t.shape.length === 4).length);
  let seen2d = -1;
  return convs.map((t) => {
    if (t.shape.length === 4) seen2d++;
    const i = Math.max(seen2d, 0);
    return {
      name: t.name,
      op: t.op ?? 'Conv',
      kind: t.kind ?? null,
      shape: t.shape,
      groups: t.groups ?? null,
      dtype: t.dtype,
      graphDepth: null,
      convDepth: depths.convDepth[i] ?? 0,
      convDepthNorm: depths.convDepthNorm[i] ?? 0,
      loadWeight: t.load,
    };
  });
}

/** Reads a small JSON file into Maps (so keys from the file never touch object prototypes). */
export function parseJsonMaps(name: string, bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FilterDbError('corrupt', name, 'JSON is not valid UTF-8');
  }
  try {
    return JSON.parse(text, (_k, v) =>
      v && typeof v === 'object' && !Array.isArray(v) ? new Map(Object.entries(v)) : v,
    );
  } catch (e) {
    throw new FilterDbError('corrupt', name, `invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Reads a sharded checkpoint index (`weight_map`: tensor name → shard file) and the shards beside it,
 * in shard-name order. `readShard` returns the tensors of one shard in storage order.
 */
export async function readShardedIndex(
  input: ModelInput,
  readShard: (source: ByteSource) => Promise<{ tensors: StoredTensor[]; warnings: string[] }>,
): Promise<{ tensors: StoredTensor[]; warnings: string[] }> {
  const { main } = input;
  if (main.size > MAX_INDEX_BYTES) throw new FilterDbError('too-large', main.name, 'index JSON is too large');
  const index = parseJsonMaps(main.name, await readAll(main));
  const weightMap = index instanceof Map ? index.get('weight_map') : undefined;
  if (!(weightMap instanceof Map))
    throw new FilterDbError('corrupt', main.name, 'index has no "weight_map" object');
  const shards = [...new Set([...weightMap.values()])];
  if (shards.some((s) => typeof s !== 'string'))
    throw new FilterDbError('corrupt', main.name, 'weight_map values must be file names');
  const tensors: StoredTensor[] = [];
  const warnings: string[] = [];
  for (const shard of (shards as string[]).sort()) {
    const source = input.sibling ? await input.sibling(shard) : null;
    if (!source)
      throw new FilterDbError(
        'missing-file',
        main.name,
        `shard ${JSON.stringify(shard)} named in weight_map is missing`,
      );
    const part = await readShard(source);
    tensors.push(...part.tensors);
    warnings.push(...part.warnings);
  }
  return { tensors, warnings };
}

// ---------------------------------------------------------------------------------------------
// Storages and tensors inside a checkpoint

/** dtype and element size of each torch storage class. */
const STORAGE_DTYPES = new Map<string, [string, number]>([
  ['FloatStorage', ['float32', 4]],
  ['HalfStorage', ['float16', 2]],
  ['BFloat16Storage', ['bfloat16', 2]],
  ['DoubleStorage', ['float64', 8]],
  ['LongStorage', ['int64', 8]],
  ['IntStorage', ['int32', 4]],
  ['ShortStorage', ['int16', 2]],
  ['CharStorage', ['int8', 1]],
  ['ByteStorage', ['uint8', 1]],
  ['BoolStorage', ['bool', 1]],
  ['UntypedStorage', ['uint8', 1]],
  ['ComplexFloatStorage', ['complex64', 8]],
  ['ComplexDoubleStorage', ['complex128', 16]],
  ['QInt8Storage', ['qint8', 1]],
  ['QUInt8Storage', ['quint8', 1]],
  ['QInt32Storage', ['qint32', 4]],
]);

/** torch dtype globals (`torch.float16`) as used by `_rebuild_tensor_v3`. */
const TORCH_DTYPES = new Map<string, [string, number]>([
  ['float32', ['float32', 4]],
  ['float', ['float32', 4]],
  ['float16', ['float16', 2]],
  ['half', ['float16', 2]],
  ['bfloat16', ['bfloat16', 2]],
  ['float64', ['float64', 8]],
  ['double', ['float64', 8]],
  ['int64', ['int64', 8]],
  ['int32', ['int32', 4]],
  ['int16', ['int16', 2]],
  ['int8', ['int8', 1]],
  ['uint8', ['uint8', 1]],
  ['bool', ['bool', 1]],
]);

/** A storage as named by a persistent id; its bytes are located after parsing and opened lazily. */
class TorchStorage {
  /** Bytes actually present for this storage in the file (0 until located). */
  byteLength = 0;
  bigEndian = false;
  private opener: (() => Promise<ByteSource>) | null = null;
  constructor(
    readonly key: string,
    readonly dtype: string,
    readonly itemSize: number,
    readonly numel: number,
  ) {}
  locate(byteLength: number, bigEndian: boolean, open: () => Promise<ByteSource>): void {
    this.byteLength = byteLength;
    this.bigEndian = bigEndian;
    let opened: Promise<ByteSource> | null = null;
    this.opener = () => {
      opened ??= open();
      return opened;
    };
  }
  get located(): boolean {
    return this.opener !== null;
  }
  open(): Promise<ByteSource> {
    if (!this.opener) throw new Error(`storage ${this.key} was never located`);
    return this.opener();
  }
}

class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly dtype: string,
    readonly itemSize: number,
  ) {}
}

type Fail = (code: 'corrupt' | 'truncated' | 'too-large' | 'unsupported', detail: string) => never;

function intList(v: unknown): number[] | null {
  if (!Array.isArray(v)) return null;
  return v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) ? (v as number[]) : null;
}

/** `_rebuild_tensor(_v2/_v3)(storage, offset, size, stride, …)` → TorchTensor (others stay stubs). */
function rebuildTensor(args: unknown[], dtypeArg: unknown, fail: Fail): unknown {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) return new PickleStub('torch._utils._rebuild_tensor_v2', args);
  const shape = intList(size);
  const strides = intList(stride);
  if (
    typeof offset !== 'number' ||
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    !shape ||
    !strides ||
    shape.length !== strides.length
  ) {
    fail('corrupt', `tensor on storage ${storage.key} has an invalid offset, size or stride`);
  }
  let dtype = storage.dtype;
  let itemSize = storage.itemSize;
  if (dtypeArg instanceof PickleGlobal) {
    const known = TORCH_DTYPES.get(dtypeArg.name);
    [dtype, itemSize] = known ?? [dtypeArg.name, 0];
  }
  return new TorchTensor(storage, offset, shape, strides, dtype, itemSize);
}

function torchGlobals(fail: Fail): Map<string, PickleHandler> {
  const globals = new Map(basicGlobals);
  const tensor: PickleHandler = { call: (args) => rebuildTensor(args, null, fail) };
  globals.set('torch._utils._rebuild_tensor', tensor);
  globals.set('torch._utils._rebuild_tensor_v2', tensor);
  globals.set('torch._utils._rebuild_tensor_v3', { call: (args) => rebuildTensor(args, args[6], fail) });
  // A Parameter is its data tensor for our purposes.
  const parameter: PickleHandler = { call: (args) => args[0], build: (obj) => obj };
  globals.set('torch._utils._rebuild_parameter', parameter);
  globals.set('torch._utils._rebuild_parameter_with_state', parameter);
  // Tensor subclasses: `_rebuild_from_type_v2(func, new_type, args, state)` → func(*args).
  const fromType: PickleHandler = {
    call: (args, ctx) => (Array.isArray(args[2]) ? ctx.call(args[0], args[2]) : null),
  };
  globals.set('torch._tensor._rebuild_from_type', fromType);
  globals.set('torch._tensor._rebuild_from_type_v2', fromType);
  globals.set('torch.Size', { call: (args) => (Array.isArray(args[0]) ? [...args[0]] : []) });
  return globals;
}

/** Checks that a tensor's view fits inside its storage's bytes, so loading cannot read past them. */
function checkTensor(name: string, t: TorchTensor, fail: Fail): void {
  if (t.itemSize === 0) return;
  const n = elementCount(t.shape);
  if (n > MAX_TENSOR_ELEMENTS) fail('too-large', `tensor ${name} has ${n} elements`);
  if (n === 0) return;
  let last = t.offset;
  t.shape.forEach((d, i) => {
    last += (d - 1) * t.stride[i];
  });
  const needed = (last + 1) * t.itemSize;
  const have = Math.min(t.storage.byteLength, t.storage.numel * t.storage.itemSize);
  if (needed > have) {
    fail('corrupt', `tensor ${name} needs ${needed} bytes of storage ${t.storage.key}, which holds ${have}`);
  }
}

/** Reads the span of storage a tensor covers and materialises it row-major (handles any strides). */
async function loadTensor(t: TorchTensor): Promise<WeightArray> {
  const n = elementCount(t.shape);
  let last = t.offset;
  t.shape.forEach((d, i) => {
    last += (d - 1) * t.stride[i];
  });
  const spanCount = n === 0 ? 0 : last - t.offset + 1;
  const source = await t.storage.open();
  let bytes = await source.read(t.offset * t.itemSize, spanCount * t.itemSize);
  if (t.storage.bigEndian && t.itemSize > 1) bytes = swapBytes(bytes, t.itemSize);
  const span = decodeFloats(t.dtype, bytes, spanCount);
  if (n === 0 || isContiguous(t.shape, t.stride)) return span.length === n ? span : span.subarray(0, n);
  return gather(span, t.shape, t.stride);
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Row-major copy of a strided view (`span` starts at the view's first element). */
function gather(span: WeightArray, shape: readonly number[], stride: readonly number[]): WeightArray {
  const n = elementCount(shape);
  const out = new (span.constructor as { new (len: number): WeightArray })(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < n; o++) {
    out[o] = span[src];
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]++;
      src += stride[ax];
      if (idx[ax] < shape[ax]) break;
      src -= stride[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
  return out;
}

function swapBytes(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size)
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j];
  return out;
}

/** Parses a persistent id `('storage', StorageClass, key, location, numel[, view_metadata])`. */
function storageFromPid(
  pid: unknown,
  fail: Fail,
): { key: string; dtype: string; itemSize: number; numel: number } {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5)
    fail('unsupported', 'unknown persistent id in pickle');
  const [, cls, key, , numel] = pid;
  if (!(cls instanceof PickleGlobal) || (typeof key !== 'string' && typeof key !== 'number')) {
    fail('corrupt', 'malformed storage persistent id');
  }
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0)
    fail('corrupt', `storage ${key} has a bad size`);
  if (pid.length > 5 && pid[5] !== null) fail('unsupported', 'legacy storage views are not supported');
  const known = STORAGE_DTYPES.get(cls.name);
  if (!known) fail('unsupported', `unknown storage type ${cls.fullName}`);
  return { key: String(key), dtype: known[0], itemSize: known[1], numel };
}

// ---------------------------------------------------------------------------------------------
// Finding the state dict in whatever was pickled

interface Found {
  name: string;
  tensor: TorchTensor;
  op?: string;
  groups?: number | null;
  kind?: ConvKind | null;
}

/** Checkpoint keys that hold the model, most preferred first. */
const MODEL_KEYS = [
  'state_dict',
  'model_state_dict',
  'model',
  'module',
  'net',
  'network',
  'ema',
  'model_ema',
  'state_dict_ema',
  'ema_state_dict',
  'params',
  'weights',
];
/** Checkpoint entries that are training state, never model weights. */
const TRAINING_STATE = /optim|sched|scaler/i;

class StateDictFinder {
  readonly found: Found[] = [];
  readonly warnings: string[] = [];
  private readonly seenTensors = new Set<TorchTensor>();
  /**
   * Every container already walked. Visiting each object once (not just guarding against cycles) keeps the
   * walk linear in the pickle: shared references (`x = [x, x]` sixty times) would otherwise be walked 2^60
   * times. A tensor reached again by another path was emitted the first time anyway.
   */
  private readonly visited = new Set<unknown>();

  /** `steps` is shared with the probes {@link containsTensor} starts, so the cap bounds the whole search. */
  constructor(
    private readonly fail: Fail,
    private readonly steps = { n: 0 },
  ) {}

  /** Entry point: picks the model part of a checkpoint. */
  select(value: unknown, prefix: string, depth = 0): void {
    if (depth > MAX_WALK_DEPTH) return;
    if (value instanceof Map && !this.holdsTensorsDirectly(value)) {
      for (const key of MODEL_KEYS) {
        const sub = value.get(key);
        if (sub !== undefined && this.containsTensor(sub)) {
          if (value.size > 1)
            this.warnings.push(
              `read checkpoint entry '${key}' (keys: ${[...value.keys()].map(String).join(', ')})`,
            );
          this.select(sub, prefix, depth + 1);
          return;
        }
      }
    }
    this.walk(value, prefix, depth);
  }

  private holdsTensorsDirectly(map: Map<unknown, unknown>): boolean {
    for (const v of map.values()) if (v instanceof TorchTensor) return true;
    return false;
  }

  private containsTensor(value: unknown): boolean {
    const probe = new StateDictFinder(this.fail, this.steps);
    probe.walk(value, '', 0);
    return probe.found.length > 0;
  }

  private emit(found: Found): void {
    if (this.seenTensors.has(found.tensor)) return;
    this.seenTensors.add(found.tensor);
    this.found.push(found);
  }

  walk(value: unknown, prefix: string, depth: number): void {
    if (value instanceof TorchTensor) {
      this.emit({ name: prefix, tensor: value });
      return;
    }
    if (typeof value !== 'object' || value === null || depth > MAX_WALK_DEPTH || this.visited.has(value))
      return;
    this.visited.add(value);
    if (++this.steps.n > MAX_WALK_STEPS)
      this.fail('too-large', `the pickle holds more than ${MAX_WALK_STEPS} containers to search for tensors`);
    if (isModule(value)) this.walkModule(value, prefix, depth);
    else if (value instanceof Map) this.walkEntries(value, prefix, depth, true);
    else if (Array.isArray(value)) this.walkList(value, prefix, depth);
    else if (value instanceof PickleStub) {
      if (value.state instanceof Map) this.walkEntries(value.state, prefix, depth, true);
      this.walkEntries(value.dictItems, prefix, depth, true);
      this.walkList(value.listItems, prefix, depth);
    }
  }

  private walkList(items: readonly unknown[], prefix: string, depth: number): void {
    for (const [i, v] of items.entries()) this.walk(v, join(prefix, String(i)), depth + 1);
  }

  private walkEntries(
    map: Map<unknown, unknown>,
    prefix: string,
    depth: number,
    skipTraining: boolean,
  ): void {
    for (const [k, v] of map) {
      const key = typeof k === 'string' || typeof k === 'number' ? String(k) : null;
      if (key === null || (skipTraining && TRAINING_STATE.test(key))) continue;
      this.walk(v, join(prefix, key), depth + 1);
    }
  }

  /** nn.Module: parameters and buffers first, then submodules, like `state_dict()`. */
  private walkModule(module: PickleStub, prefix: string, depth: number): void {
    const state = module.state as Map<unknown, unknown>;
    const conv = convModuleInfo(module);
    for (const field of ['_parameters', '_buffers']) {
      const entries = state.get(field);
      if (!(entries instanceof Map)) continue;
      for (const [k, v] of entries) {
        if (typeof k !== 'string' || !(v instanceof TorchTensor)) continue;
        this.emit({ name: join(prefix, k), tensor: v, ...(conv && k === 'weight' ? conv : {}) });
      }
    }
    const children = state.get('_modules');
    if (children instanceof Map) this.walkEntries(children, prefix, depth, false);
  }
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

function isModule(v: unknown): v is PickleStub {
  return (
    v instanceof PickleStub &&
    v.state instanceof Map &&
    (v.state.has('_parameters') || v.state.has('_modules'))
  );
}

/** For torch.nn ConvNd / ConvTransposeNd modules: the class name, groups and kind. */
function convModuleInfo(
  module: PickleStub,
): { op: string; groups: number | null; kind: ConvKind | null } | null {
  const cls = module.className.split('.').pop() ?? '';
  if (!/^(Lazy)?Conv(Transpose)?[123]d$/.test(cls)) return null;
  const state = module.state as Map<unknown, unknown>;
  const groups = state.get('groups');
  const params = state.get('_parameters');
  const weight = params instanceof Map ? params.get('weight') : undefined;
  if (typeof groups !== 'number' || !(weight instanceof TorchTensor))
    return { op: cls, groups: null, kind: null };
  const transposed = cls.includes('Transpose');
  return {
    op: cls,
    groups,
    kind: convKind(transposed ? 'transposed' : 'conv', groups, weight.shape[1] ?? 1),
  };
}

// ---------------------------------------------------------------------------------------------
// The two container formats

interface Checkpoint {
  root: unknown;
  warnings: string[];
}

/** Zip checkpoint: `<folder>/data.pkl`, storages in `<folder>/data/<key>`, optional `<folder>/byteorder`. */
async function readZipCheckpoint(zip: ZipArchive, fail: Fail): Promise<Checkpoint> {
  const pkl = findDataPkl(zip);
  if (!pkl) fail('unsupported', 'zip archive has no data.pkl (not a PyTorch checkpoint)');
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const warnings: string[] = [];
  const byteorderEntry = zip.entries.get(`${prefix}byteorder`);
  const byteorder = byteorderEntry
    ? new TextDecoder().decode(await zip.readEntry(byteorderEntry, 16)).trim()
    : 'little';
  if (byteorder !== 'little' && byteorder !== 'big')
    fail('corrupt', `unknown byteorder ${JSON.stringify(byteorder)}`);
  const bytes = await zip.readEntry(pkl, MAX_PICKLE_BYTES);
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    const { key, dtype, itemSize, numel } = storageFromPid(pid, fail);
    const cached = storages.get(key);
    if (cached) return cached;
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (!entry) fail('corrupt', `storage ${key} is missing from the archive`);
    const storage = new TorchStorage(key, dtype, itemSize, numel);
    storage.locate(entry.uncompressedSize, byteorder === 'big', () => zip.open(entry));
    storages.set(key, storage);
    return storage;
  };
  const { value } = unpickle(bytes, {
    name: `${zip.name}:${pkl.name}`,
    globals: torchGlobals(fail),
    persistentLoad,
  });
  return { root: value, warnings };
}

function findDataPkl(zip: ZipArchive) {
  let fallback = null;
  for (const entry of zip.entries.values()) {
    if (!entry.name.endsWith('data.pkl')) continue;
    const parts = entry.name.split('/');
    if (parts.at(-1) !== 'data.pkl') continue;
    if (parts.length === 2) return entry;
    fallback ??= entry;
  }
  return fallback;
}

/** Legacy format: magic, protocol, sys_info, the object, the storage keys, then raw storages. */
async function readLegacyCheckpoint(source: ByteSource, fail: Fail): Promise<Checkpoint> {
  // Pickles are parsed from a growing prefix of the file: the storages that follow can be huge.
  for (let chunk = Math.min(source.size, 1 << 20); ; chunk = Math.min(source.size, chunk * 4)) {
    const head = await source.read(0, chunk);
    let parsed: LegacyPickles;
    try {
      parsed = parseLegacy(source.name, head, fail);
    } catch (e) {
      const retry = e instanceof FilterDbError && e.code === 'truncated' && e.message.includes('pickle:');
      if (!retry || chunk >= source.size) throw e;
      if (chunk >= MAX_PICKLE_BYTES) fail('too-large', 'legacy checkpoint pickle is larger than 256 MB');
      continue;
    }
    await locateLegacy(source, parsed, fail);
    return { root: parsed.root, warnings: parsed.warnings };
  }
}

interface LegacyPickles {
  root: unknown;
  warnings: string[];
  storages: Map<string, TorchStorage>;
  keys: unknown[];
  /** Offset of the first storage record. */
  dataStart: number;
}

function parseLegacy(name: string, head: Uint8Array, fail: Fail): LegacyPickles {
  const globals = torchGlobals(fail);
  const magic = unpickle(head, { name, globals });
  if (magic.value !== LEGACY_MAGIC) fail('unsupported', 'not a PyTorch legacy checkpoint (bad magic number)');
  const version = unpickle(head, { name, globals, offset: magic.end });
  if (version.value !== 1001)
    fail('unsupported', `legacy checkpoint protocol ${String(version.value)} is not supported`);
  const sysInfo = unpickle(head, { name, globals, offset: version.end });
  const warnings: string[] = [];
  // torch writes legacy storages little-endian whatever the machine (THPStorage_writeFileRaw).
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    warnings.push('legacy checkpoint written on a big-endian machine; storages are read as little-endian');
  }
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    const { key, dtype, itemSize, numel } = storageFromPid(pid, fail);
    const storage = storages.get(key) ?? new TorchStorage(key, dtype, itemSize, numel);
    storages.set(key, storage);
    return storage;
  };
  const object = unpickle(head, { name, globals, persistentLoad, offset: sysInfo.end });
  const keys = unpickle(head, { name, globals, offset: object.end });
  if (!Array.isArray(keys.value)) fail('corrupt', 'legacy storage key list is not a list');
  return { root: object.value, warnings, storages, keys: keys.value, dataStart: keys.end };
}

/** Walks the `<u64 numel><bytes>` records after the key list; they are located, not read. */
async function locateLegacy(source: ByteSource, parsed: LegacyPickles, fail: Fail): Promise<void> {
  let pos = parsed.dataStart;
  for (const k of parsed.keys) {
    const key = String(k);
    const storage = parsed.storages.get(key);
    if (!storage) fail('corrupt', `storage key ${key} was not referenced by the pickle`);
    if (storage.located) fail('corrupt', `storage key ${key} is listed twice`);
    const header = await source.read(pos, 8);
    const numel = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0, true);
    const bytes = numel * BigInt(storage.itemSize);
    if (bytes > BigInt(source.size - pos - 8))
      fail('truncated', `storage ${key} needs ${bytes} bytes beyond the end of the file`);
    const start = pos + 8;
    const length = Number(bytes);
    storage.locate(length, false, async () => sliceSource(source, start, length));
    pos = start + length;
  }
  for (const storage of parsed.storages.values()) {
    if (!storage.located) fail('corrupt', `storage ${storage.key} has no data in the file`);
  }
}

function isLegacyHead(head: Uint8Array): boolean {
  if (head.length < 2 || head[0] !== 0x80 || head[1] < 2) return false;
  let p = 2;
  if (head[p] === 0x95) p += 9; // FRAME (protocol 4+)
  return LEGACY_MAGIC_BYTES.every((b, i) => head[p + i] === b);
}

/** Reads one checkpoint file (zip or legacy) into named tensors in storage order. */
export async function readCheckpointTensors(
  source: ByteSource,
): Promise<{ tensors: StoredTensor[]; warnings: string[] }> {
  const fail: Fail = (code, detail) => {
    throw new FilterDbError(code, source.name, detail);
  };
  const head = await source.read(0, Math.min(64, source.size));
  let checkpoint: Checkpoint;
  if (isZip(head)) checkpoint = await readZipCheckpoint(await ZipArchive.open(source), fail);
  else if (isLegacyHead(head)) checkpoint = await readLegacyCheckpoint(source, fail);
  else if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b)
    return fail('unsupported', 'gzip-compressed file');
  else return fail('unsupported', 'not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)');
  const finder = new StateDictFinder(fail);
  finder.select(checkpoint.root, '');
  if (finder.found.length === 0) {
    fail(
      'unsupported',
      'no tensors found (a pickle without a state dict, or a pickled object filterdb cannot read)',
    );
  }
  const tensors = finder.found.map((f) => toStored(f, fail));
  // Open the storages of conv weights now, so a file cut short fails here rather than mid-analysis.
  // Their logical size (a stride-0 `expand` view claims far more than its storage) is checked first, so
  // nothing is inflated for a layer that would be refused anyway.
  for (const [i, f] of finder.found.entries()) {
    if (!isConvTensor(tensors[i])) continue;
    const n = elementCount(tensors[i].shape);
    if (n > MAX_CONV_WEIGHTS)
      fail('too-large', `conv weight ${f.name} has ${n} weights (limit ${MAX_CONV_WEIGHTS} per layer)`);
    await f.tensor.storage.open();
  }
  return { tensors, warnings: [...checkpoint.warnings, ...finder.warnings] };
}

function toStored(f: Found, fail: Fail): StoredTensor {
  const t = f.tensor;
  const stored: StoredTensor = { name: f.name, shape: t.shape, dtype: t.dtype, load: () => loadTensor(t) };
  if (FLOAT_DTYPE_SIZE.has(t.dtype)) checkTensor(f.name, t, fail);
  if (f.op) Object.assign(stored, { op: f.op, groups: f.groups ?? null, kind: f.kind ?? null });
  return stored;
}

// ---------------------------------------------------------------------------------------------
// The reader

const EXTENSIONS = ['.pt', '.pth', '.ckpt', '.bin', '.pkl'];

async function sniff(ctx: SniffContext): Promise<SniffScore> {
  const { head, name } = ctx;
  if (isZip(head)) return (await zipHasDataPkl(ctx)) ? 2 : 0;
  if (isLegacyHead(head)) return 2;
  if (/\.(bin|pt|pth|ckpt)\.index\.json$/.test(name) && head[0] === 0x7b) return 2;
  return EXTENSIONS.some((e) => name.endsWith(e)) ? 1 : 0;
}

async function zipHasDataPkl(ctx: SniffContext): Promise<boolean> {
  const first = firstEntryName(ctx.head);
  if (first?.endsWith('/data.pkl')) return true;
  try {
    return findDataPkl(await ZipArchive.open(ctx.source)) !== null;
  } catch {
    return false;
  }
}

async function read(input: ModelInput, options?: ReadOptions): Promise<Model> {
  const { main } = input;
  const isIndex = main.name.toLowerCase().endsWith('.index.json');
  const { tensors, warnings } = isIndex
    ? await readShardedIndex(input, readCheckpointTensors)
    : await readCheckpointTensors(main);
  options?.onProgress?.(main.size, main.size);
  const layers = convLayersFromTensors(tensors);
  if (layers.length === 0) warnings.push('no convolution weights (4-D floating-point tensors) found');
  return { format: 'pytorch', source: main.name, graphDepthKnown: false, layers, warnings };
}

export const pytorchReader: FormatReader = {
  id: 'pytorch',
  label: 'PyTorch checkpoint',
  extensions: ['.pt', '.pth', '.ckpt', '.bin', '.bin.index.json'],
  sniff,
  read,
};
