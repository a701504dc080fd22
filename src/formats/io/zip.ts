/**
 * Random-access zip reader: finds the central directory from the end of the file (zip64 aware) and
 * hands out entries as byte sources. Stored entries are windows onto the file (nothing is copied, so a
 * multi-GB PyTorch checkpoint is read lazily); deflated entries are inflated into a buffer of exactly the
 * declared size, so a zip bomb can never make us allocate more than that size, which is itself capped.
 */
import { inflateSync } from 'fflate';
import { FilterDbError } from '../../errors.js';
import { type ByteSource, bytesSource, sliceSource } from './source.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

export interface ZipOptions {
  /** Largest uncompressed size we inflate into memory (stored entries are never loaded whole). */
  maxInflatedBytes?: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
/** EOCD plus the longest possible archive comment. */
const EOCD_SEARCH = EOCD_SIZE + 0xffff;
/** About a million entries; real archives (even sharded LLM checkpoints) are far smaller. */
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;
const DEFAULT_MAX_INFLATED = 512 * 1024 * 1024;
/** Deflate cannot compress better than about 1032:1; a larger declared ratio is a bomb or a lie. */
const MAX_DEFLATE_RATIO = 1032;

/** True when the bytes start like a zip file (a local file header). */
export function isZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/** Name of the first local entry, read from the file head alone (cheap sniffing). */
export function firstEntryName(head: Uint8Array): string | null {
  if (!isZip(head) || head.length < 30) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const nameLength = view.getUint16(26, true);
  if (30 + nameLength > head.length) return null;
  return new TextDecoder().decode(head.subarray(30, 30 + nameLength));
}

export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: Map<string, ZipEntry>;
  private readonly source: ByteSource;
  private readonly maxInflated: number;

  private constructor(source: ByteSource, entries: Map<string, ZipEntry>, maxInflated: number) {
    this.source = source;
    this.entries = entries;
    this.maxInflated = maxInflated;
  }

  static async open(source: ByteSource, options: ZipOptions = {}): Promise<ZipArchive> {
    const { offset, size, count } = await findCentralDirectory(source);
    const bytes = await source.read(offset, size);
    const entries = parseCentralDirectory(source, bytes, count);
    return new ZipArchive(source, entries, options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED);
  }

  get name(): string {
    return this.source.name;
  }

  /** The entry's uncompressed bytes as a source: a window for stored entries, inflated for deflated ones. */
  async open(entry: ZipEntry): Promise<ByteSource> {
    const dataStart = await this.dataOffset(entry);
    const label = `${this.source.name}:${entry.name}`;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.uncompressedSize) {
        this.fail(
          'corrupt',
          `stored entry ${entry.name} declares different compressed and uncompressed sizes`,
        );
      }
      return sliceSource(this.source, dataStart, entry.compressedSize, label);
    }
    if (entry.method === 8) return bytesSource(label, await this.inflate(entry, dataStart));
    return this.fail('unsupported', `entry ${entry.name} uses compression method ${entry.method}`);
  }

  /** Reads a whole entry into memory, refusing entries larger than `maxBytes`. */
  async readEntry(entry: ZipEntry, maxBytes = this.maxInflated): Promise<Uint8Array> {
    if (entry.uncompressedSize > maxBytes) {
      this.fail(
        'too-large',
        `entry ${entry.name} declares ${entry.uncompressedSize} bytes (limit ${maxBytes})`,
      );
    }
    const src = await this.open(entry);
    return src.read(0, src.size);
  }

  /** Start of the entry's data: the local header's own name/extra lengths can differ from the central one. */
  private async dataOffset(entry: ZipEntry): Promise<number> {
    const header = await this.source.read(entry.localHeaderOffset, 30);
    const view = new DataView(header.buffer, header.byteOffset, 30);
    if (view.getUint32(0, true) !== SIG_LOCAL)
      this.fail('corrupt', `entry ${entry.name} has no local header`);
    const start = entry.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    if (start + entry.compressedSize > this.source.size) {
      this.fail(
        'truncated',
        `entry ${entry.name} needs ${entry.compressedSize} bytes beyond the end of the file`,
      );
    }
    return start;
  }

  private async inflate(entry: ZipEntry, dataStart: number): Promise<Uint8Array> {
    const declared = entry.uncompressedSize;
    if (declared > this.maxInflated || declared > Math.max(entry.compressedSize, 1) * MAX_DEFLATE_RATIO) {
      this.fail(
        'too-large',
        `entry ${entry.name} declares ${declared} uncompressed bytes (zip bomb or corrupt)`,
      );
    }
    const compressed = await this.source.read(dataStart, entry.compressedSize);
    // The output buffer has exactly the declared size: fflate truncates anything beyond it.
    const out = new Uint8Array(declared + 1);
    let result: Uint8Array;
    try {
      result = inflateSync(compressed, { out });
    } catch (e) {
      return this.fail('corrupt', `entry ${entry.name} does not inflate: ${(e as Error).message}`);
    }
    if (result.length !== declared) {
      this.fail('corrupt', `entry ${entry.name} inflates to a different size than declared (${declared})`);
    }
    const data = result.subarray(0, declared);
    if (crc32(data) !== entry.crc32) this.fail('corrupt', `entry ${entry.name} fails its CRC check`);
    return data;
  }

  private fail(code: 'corrupt' | 'truncated' | 'too-large' | 'unsupported', detail: string): never {
    throw new FilterDbError(code, this.source.name, detail);
  }
}

interface CentralDirectory {
  offset: number;
  size: number;
  count: number;
}

async function findCentralDirectory(source: ByteSource): Promise<CentralDirectory> {
  const fail = (code: 'corrupt' | 'truncated', detail: string): never => {
    throw new FilterDbError(code, source.name, detail);
  };
  if (source.size < EOCD_SIZE) fail('truncated', 'is too short to be a zip archive');
  const tailStart = Math.max(0, source.size - EOCD_SEARCH);
  const tail = await source.read(tailStart, source.size - tailStart);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let at = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (view.getUint32(i, true) === SIG_EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) fail('truncated', 'has no zip end-of-central-directory record (truncated?)');
  let count = view.getUint16(at + 10, true);
  let size = view.getUint32(at + 12, true);
  let offset = view.getUint32(at + 16, true);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff || hasZip64Locator(view, at)) {
    ({ count, size, offset } = await readZip64End(source, view, at, tailStart));
  }
  if (offset + size > source.size) fail('truncated', 'central directory lies beyond the end of the file');
  if (size > MAX_CENTRAL_DIRECTORY) {
    throw new FilterDbError(
      'too-large',
      source.name,
      `central directory of ${size} bytes is implausibly large`,
    );
  }
  // Each central record takes at least 46 bytes: a larger count cannot be honest.
  if (count * 46 > size) fail('corrupt', `central directory claims ${count} entries in ${size} bytes`);
  return { offset, size, count };
}

function hasZip64Locator(view: DataView, eocdAt: number): boolean {
  return eocdAt >= 20 && view.getUint32(eocdAt - 20, true) === SIG_ZIP64_LOCATOR;
}

async function readZip64End(
  source: ByteSource,
  tail: DataView,
  eocdAt: number,
  tailStart: number,
): Promise<CentralDirectory> {
  if (!hasZip64Locator(tail, eocdAt)) {
    throw new FilterDbError('corrupt', source.name, 'zip64 sizes without a zip64 locator');
  }
  const recordOffset = u64(source.name, tail, eocdAt - 20 + 8);
  const rec = await source.read(recordOffset, 56);
  const view = new DataView(rec.buffer, rec.byteOffset, 56);
  if (view.getUint32(0, true) !== SIG_ZIP64_EOCD || recordOffset >= tailStart + eocdAt) {
    throw new FilterDbError('corrupt', source.name, 'bad zip64 end-of-central-directory record');
  }
  return {
    count: u64(source.name, view, 32),
    size: u64(source.name, view, 40),
    offset: u64(source.name, view, 48),
  };
}

function u64(name: string, view: DataView, at: number): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FilterDbError('too-large', name, `zip field value ${v} is too large`);
  return Number(v);
}

function parseCentralDirectory(source: ByteSource, bytes: Uint8Array, count: number): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== SIG_CENTRAL) {
      throw new FilterDbError('corrupt', source.name, `central directory record ${i} is malformed`);
    }
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > bytes.length)
      throw new FilterDbError('corrupt', source.name, `central directory record ${i} overruns`);
    const entry: ZipEntry = {
      name: decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength)),
      flags: view.getUint16(p + 8, true),
      method: view.getUint16(p + 10, true),
      crc32: view.getUint32(p + 16, true),
      compressedSize: view.getUint32(p + 20, true),
      uncompressedSize: view.getUint32(p + 24, true),
      localHeaderOffset: view.getUint32(p + 42, true),
    };
    applyZip64Extra(
      source.name,
      entry,
      new DataView(bytes.buffer, bytes.byteOffset + p + 46 + nameLength, extraLength),
    );
    if (entry.localHeaderOffset + 30 > source.size) {
      throw new FilterDbError(
        'truncated',
        source.name,
        `entry ${entry.name} starts beyond the end of the file`,
      );
    }
    if (!entries.has(entry.name)) entries.set(entry.name, entry);
    p = end;
  }
  return entries;
}

/** Replaces 0xFFFFFFFF placeholders with the 64-bit values of the zip64 extra field (in spec order). */
function applyZip64Extra(name: string, entry: ZipEntry, extra: DataView): void {
  const needs = [entry.uncompressedSize, entry.compressedSize, entry.localHeaderOffset].some(
    (v) => v === 0xffffffff,
  );
  if (!needs) return;
  for (let p = 0; p + 4 <= extra.byteLength; ) {
    const id = extra.getUint16(p, true);
    const len = extra.getUint16(p + 2, true);
    if (p + 4 + len > extra.byteLength) break;
    if (id === 0x0001) {
      let q = p + 4;
      const next = (): number => {
        if (q + 8 > p + 4 + len)
          throw new FilterDbError('corrupt', name, `entry ${entry.name} has a short zip64 field`);
        const v = u64(name, extra, q);
        q += 8;
        return v;
      };
      if (entry.uncompressedSize === 0xffffffff) entry.uncompressedSize = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
      return;
    }
    p += 4 + len;
  }
  throw new FilterDbError('corrupt', name, `entry ${entry.name} needs a zip64 extra field but has none`);
}

let crcTable: Uint32Array | null = null;

/** Standard CRC-32 (zip, PNG). */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
