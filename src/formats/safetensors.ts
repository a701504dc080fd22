/**
 * safetensors: `<u64 LE header length><JSON header><data>`; each header entry gives dtype, shape and
 * `data_offsets` [begin, end) relative to the data section. Sharded models use
 * `model.safetensors.index.json` (`weight_map`).
 *
 * Conv layers follow the PyTorch rule (see pytorch.ts): every 4-D floating-point tensor, plus rank-3/5
 * floating tensors whose name ends in `weight` as 1-D/3-D convs, in ascending `data_offsets` order.
 */
import { FilterDbError } from '../errors.js';
import type { Model } from '../model/types.js';
import { decodeFloats } from './io/numeric.js';
import type { ByteSource, ModelInput } from './io/source.js';
import { convLayersFromTensors, parseJsonMaps, readShardedIndex, type StoredTensor } from './pytorch.js';
import type { FormatReader, ReadOptions, SniffContext, SniffScore } from './reader.js';

/** Headers beyond this are refused (the format's own reference implementation uses the same cap). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** safetensors dtype → [our dtype name, bytes per element]. */
const DTYPES = new Map<string, [string, number]>([
  ['F64', ['float64', 8]],
  ['F32', ['float32', 4]],
  ['F16', ['float16', 2]],
  ['BF16', ['bfloat16', 2]],
  ['I64', ['int64', 8]],
  ['I32', ['int32', 4]],
  ['I16', ['int16', 2]],
  ['I8', ['int8', 1]],
  ['U64', ['uint64', 8]],
  ['U32', ['uint32', 4]],
  ['U16', ['uint16', 2]],
  ['U8', ['uint8', 1]],
  ['BOOL', ['bool', 1]],
  ['F8_E4M3', ['float8_e4m3', 1]],
  ['F8_E5M2', ['float8_e5m2', 1]],
  ['C64', ['complex64', 8]],
]);

interface Entry {
  name: string;
  dtype: string;
  itemSize: number;
  shape: number[];
  begin: number;
  end: number;
}

type Fail = (code: 'corrupt' | 'truncated' | 'too-large' | 'unsupported', detail: string) => never;

/** Reads one .safetensors file into tensors in ascending data_offsets order. */
export async function readSafetensorsTensors(
  source: ByteSource,
): Promise<{ tensors: StoredTensor[]; warnings: string[] }> {
  const fail: Fail = (code, detail) => {
    throw new FilterDbError(code, source.name, detail);
  };
  if (source.size < 8) fail('truncated', 'is too short for a safetensors header');
  const lengthBytes = await source.read(0, 8);
  const declared = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES))
    fail('too-large', `header length ${declared} exceeds the 100 MB limit`);
  const headerLength = Number(declared);
  if (8 + headerLength > source.size)
    fail('truncated', `header length ${headerLength} exceeds the file size ${source.size}`);
  const header = parseJsonMaps(source.name, await source.read(8, headerLength));
  if (!(header instanceof Map)) fail('corrupt', 'header is not a JSON object');
  const dataStart = 8 + headerLength;
  const warnings: string[] = [];
  const entries = parseEntries(header, source.size - dataStart, warnings, fail);
  const tensors = entries.map<StoredTensor>((e) => ({
    name: e.name,
    shape: e.shape,
    dtype: e.dtype,
    load: async () =>
      decodeFloats(
        e.dtype,
        await source.read(dataStart + e.begin, e.end - e.begin),
        (e.end - e.begin) / e.itemSize,
      ),
  }));
  return { tensors, warnings };
}

function parseEntries(
  header: Map<unknown, unknown>,
  dataSize: number,
  warnings: string[],
  fail: Fail,
): Entry[] {
  const entries: Entry[] = [];
  for (const [name, info] of header) {
    if (name === '__metadata__') continue;
    if (typeof name !== 'string' || !(info instanceof Map))
      fail('corrupt', `header entry ${String(name)} is not an object`);
    const entry = parseEntry(name, info, dataSize, fail);
    if (entry) entries.push(entry);
    else
      warnings.push(`tensor ${name} has dtype ${String(info.get('dtype'))}, which filterdb does not decode`);
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].begin < entries[i - 1].end) {
      fail('corrupt', `tensors ${entries[i - 1].name} and ${entries[i].name} overlap in the data section`);
    }
  }
  return entries;
}

/** Validates one header entry; null for a dtype we do not know (skipped with a warning). */
function parseEntry(name: string, info: Map<unknown, unknown>, dataSize: number, fail: Fail): Entry | null {
  const dtypeName = info.get('dtype');
  const shape = info.get('shape');
  const offsets = info.get('data_offsets');
  if (typeof dtypeName !== 'string') fail('corrupt', `tensor ${name} has no dtype`);
  if (!isIntList(shape)) fail('corrupt', `tensor ${name} has an invalid shape`);
  if (!isIntList(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
    fail('corrupt', `tensor ${name} has invalid data_offsets`);
  }
  const [begin, end] = offsets;
  if (end > dataSize)
    fail('truncated', `tensor ${name} ends at byte ${end} of a ${dataSize}-byte data section`);
  const known = DTYPES.get(dtypeName);
  if (!known) return null;
  const [dtype, itemSize] = known;
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel * itemSize !== end - begin) {
    fail(
      'corrupt',
      `tensor ${name}: ${end - begin} bytes do not match shape [${shape.join(', ')}] of ${dtypeName}`,
    );
  }
  return { name, dtype, itemSize, shape, begin, end };
}

function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
}

function sniff({ head, name, source }: SniffContext): SniffScore {
  if (name.endsWith('.safetensors.index.json') && head[0] === 0x7b) return 2;
  if (head.length >= 9 && head[8] === 0x7b) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(MAX_HEADER_BYTES) && 8n + n <= BigInt(source.size)) return 2;
  }
  return name.endsWith('.safetensors') ? 1 : 0;
}

async function read(input: ModelInput, options?: ReadOptions): Promise<Model> {
  const { main } = input;
  const isIndex = main.name.toLowerCase().endsWith('.index.json');
  const { tensors, warnings } = isIndex
    ? await readShardedIndex(input, readSafetensorsTensors)
    : await readSafetensorsTensors(main);
  options?.onProgress?.(main.size, main.size);
  const layers = convLayersFromTensors(tensors);
  if (layers.length === 0) warnings.push('no convolution weights (4-D floating-point tensors) found');
  return { format: 'safetensors', source: main.name, graphDepthKnown: false, layers, warnings };
}

export const safetensorsReader: FormatReader = {
  id: 'safetensors',
  label: 'safetensors',
  extensions: ['.safetensors', '.safetensors.index.json'],
  sniff,
  read,
};
