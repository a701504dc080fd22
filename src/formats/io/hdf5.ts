/**
 * A thin, isomorphic access layer over h5wasm (the HDF5 C library compiled to WebAssembly).
 *
 * ## Which h5wasm build
 * `import h5wasm from 'h5wasm'` resolves (package `exports` → `import`) to `dist/esm/hdf5_hl.js`, the
 * web/worker/Node build. It runs unchanged in Node 20 and in browsers and has an in-memory Emscripten
 * filesystem (MEMFS). `h5wasm/node` is a different build compiled with `NODERAWFS=1`: every path is a host
 * path (no in-memory files without writing a temp file), it is Node-only, and importing both would load two
 * 4 MB wasm instances. So the core uses the ESM build only.
 *
 * ## Lazy reading of huge files (the 50 GB CNN Filter DB `dataset.h5`)
 * libhdf5 is synchronous C code, so whatever backs the file must answer reads synchronously. We do not copy
 * the file into MEMFS: `openHdf5` creates one MEMFS file node per open file and replaces its `stream_ops.read`
 * with a callback (`LazyFile` below), the same trick Emscripten's own `createLazyFile` uses. libhdf5's default
 * sec2 driver then issues `pread`s for exactly the metadata and data ranges it needs:
 * - `SyncByteSource` (`readSync(offset, target)`): read lazily, nothing is held in memory. In Node this is
 *   `fs.readSync` on a descriptor (pass `{ path }` and openHdf5 does it for you, via
 *   `process.getBuiltinModule('fs')`, so there is no `node:` import in the core; Node ≥ 20.16). In a browser
 *   worker the same interface can be built on `FileReaderSync` over `File.slice`.
 * - a plain async `ByteSource` (browser main thread, zip entries, …): libhdf5 cannot await, so the whole file
 *   is read once into a Uint8Array (limit `maxInMemoryBytes`, default 2 GiB) and served from there. A
 *   `bytesSource` hands out views, so that costs no extra copy.
 * Verified: opening test/data/dataset.h5 lazily and slicing two rows of `/filters` reads 10 ranges / 68 KB of
 * the 1.4 MB file; a file placed behind an 8 GiB user block (all offsets > 4 GiB) reads correctly (keras.test).
 * Offsets travel as 53-bit numbers (Emscripten WASM_BIGINT pread64), so 50 GB files are addressable; the
 * wasm heap (≤ 4 GiB) only bounds a single read, so read big datasets in slices (`readFloats(path, ranges)`).
 *
 * ## Errors
 * h5wasm's throwing error handler is switched on once, so HDF5 failures throw instead of printing an
 * `HDF5-DIAG` stack to stderr and returning garbage. Every failure leaves here as a `FilterDbError` naming the
 * file (`truncated`, `corrupt`, `too-large`, `unsupported`, `missing-file`).
 */
import type H5Wasm from 'h5wasm';
import { FilterDbError, fsErrorText } from '../../errors.js';
import { decodeBfloat16, decodeFloat16 } from './numeric.js';
import type { ByteSource } from './source.js';

/** Synchronous random access: what libhdf5 needs to read a file lazily. */
export interface SyncByteSource {
  readonly name: string;
  readonly size: number;
  /** Copies up to `target.length` bytes found at `offset` into `target`; returns the count (short only at EOF). */
  readSync(offset: number, target: Uint8Array): number;
  /** Releases the underlying handle; called by `Hdf5File.close()` only for sources openHdf5 opened itself. */
  close?(): void;
}

/** What `openHdf5` accepts. A ByteSource that also has `readSync` is read lazily. */
export type Hdf5Input = ByteSource | SyncByteSource | { path: string; name?: string };

export interface OpenHdf5Options {
  /** Largest async (non-sync) source that is loaded into memory. Default 2 GiB. */
  maxInMemoryBytes?: number;
}

/** HDF5 format signature `\x89HDF\r\n\x1a\n`. */
export const HDF5_SIGNATURE = Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a);

/** Offset of the HDF5 signature in `head` (0, or after a 512/1024/2048-byte user block), or -1. */
export function hdf5SignatureOffset(head: Uint8Array): number {
  for (const off of [0, 512, 1024, 2048]) {
    if (off + 8 > head.length) break;
    let ok = true;
    for (let i = 0; i < 8 && ok; i++) ok = head[off + i] === HDF5_SIGNATURE[i];
    if (ok) return off;
  }
  return -1;
}

export type Hdf5Dtype =
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'string'
  | 'other';

export interface Hdf5DatasetInfo {
  path: string;
  /** `[]` for a scalar. */
  shape: number[];
  dtype: Hdf5Dtype;
  /** Bytes per element as stored. */
  elementSize: number;
  elementCount: number;
  chunks: number[] | null;
}

/** One field of a compound (struct) datatype, as laid out in the rows `readCompound` returns. */
export interface Hdf5CompoundField {
  name: string;
  /** Byte offset of the field inside a row. */
  offset: number;
  /** Bytes of the whole field (`count * elementSize`). */
  size: number;
  /** Type of one element; `string` is a fixed-length byte string of `elementSize` bytes. */
  dtype: Hdf5Dtype;
  elementSize: number;
  /** Elements in the field: 1 for a scalar field, the product of the dims for an array field. */
  count: number;
}

export type Hdf5NodeKind = 'group' | 'dataset' | 'datatype' | 'link' | 'missing';

/** Per-dimension `[start, end)` ranges (numpy `start:end`); missing trailing dims mean "all". */
export type Hdf5Slice = ReadonlyArray<readonly [number, number]>;

// ---------------------------------------------------------------------------------------------------------
// Module access (typed minimally: the public d.ts does not describe the FS internals we use)

type H5Lib = typeof H5Wasm;
type H5Module = Awaited<H5Lib['ready']>;
interface H5Metadata {
  type: number;
  size: number;
  signed: boolean;
  vlen: boolean;
  littleEndian: boolean;
  shape: number[] | null;
  total_size: number;
  chunks: number[] | null;
  compound_type?: { members: (H5Metadata & { name: string; offset: number })[] };
  array_type?: H5Metadata;
}
interface EmFsNode {
  contents: unknown;
  stream_ops: unknown;
}
interface EmFs {
  mkdirTree(path: string): void;
  createFile(parent: string, name: string, props: object, canRead: boolean, canWrite: boolean): EmFsNode;
  unlink(path: string): void;
  analyzePath(path: string): { exists: boolean };
  filesystems: { MEMFS: { stream_ops: { llseek: unknown } } };
  ErrnoError: new (errno: number) => Error;
}

const H5O_TYPE_GROUP = 0;
const H5O_TYPE_DATASET = 1;
const H5O_TYPE_DATATYPE = 2;
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_COMPOUND = 6;
const H5T_ARRAY = 10;
const EIO = 29; // Emscripten errno
const MOUNT_DIR = '/filterdb-hdf5';

let modulePromise: Promise<H5Module> | null = null;
let openCounter = 0;
/** h5wasm itself, loaded on first use: its 4 MB of WebAssembly cost start-up time for every other format. */
let h5wasm: H5Lib;

async function getModule(): Promise<H5Module> {
  modulePromise ??= import('h5wasm').then(async (lib) => {
    h5wasm = lib.default;
    const m = await h5wasm.ready;
    m.activate_throwing_error_handler();
    (m.FS as unknown as EmFs).mkdirTree(MOUNT_DIR);
    return m;
  });
  return modulePromise;
}

/** Turns an h5wasm / HDF5-DIAG error into one readable line and an error code. */
function toFilterDbError(name: string, what: string, e: unknown): FilterDbError {
  if (e instanceof FilterDbError) return e;
  const text = String((e as Error)?.message ?? e);
  // HDF5-DIAG stacks: "#003: …/H5Fsuper.c line 620 in H5F__super_read(): truncated file: eof = 1000, …"
  const frames = [...text.matchAll(/#\d+: .*? in (\w+)\(\): ([^\n]*)/g)].map((m) => m[2].trim());
  const minors = [...text.matchAll(/minor: ([^\n]*)/g)].map((m) => m[1].trim());
  const detail = frames.length ? frames[frames.length - 1] : text.split('\n')[0].slice(0, 300);
  const minor = minors.length ? minors[minors.length - 1] : '';
  const lower = `${text}`.toLowerCase();
  let code: 'truncated' | 'corrupt' | 'too-large' = 'corrupt';
  if (/truncated file|addr overflow|past (the )?end/.test(lower)) code = 'truncated';
  else if (/memory|allocation/.test(lower) && !frames.length) code = 'too-large';
  const suffix = minor && !detail.toLowerCase().includes(minor.toLowerCase()) ? ` (${minor})` : '';
  return new FilterDbError(code, name, `HDF5 ${what} failed: ${detail}${suffix}`);
}

// ---------------------------------------------------------------------------------------------------------
// Opening

/** Loads Node's fs without a static `node:` import, so the core still bundles for browsers. */
function nodeFs(): {
  openSync(p: string, flags: string): number;
  readSync(fd: number, b: Uint8Array, o: number, l: number, p: number): number;
  fstatSync(fd: number): { size: number; isFile(): boolean };
  closeSync(fd: number): void;
} | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('fs');
  return (fs as ReturnType<typeof nodeFs>) ?? null;
}

function syncFileSource(path: string, name: string): SyncByteSource {
  const fs = nodeFs();
  if (!fs) {
    throw new FilterDbError(
      'unsupported',
      name,
      'opening an HDF5 file by path needs Node >= 20.16 (process.getBuiltinModule); pass a ByteSource instead',
    );
  }
  let fd: number;
  let size: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new FilterDbError('missing-file', name, `cannot open: ${fsErrorText(e)}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new FilterDbError('unsupported-format', name, 'is not a regular file');
    size = st.size;
  } catch (e) {
    fs.closeSync(fd);
    if (e instanceof FilterDbError) throw e;
    throw new FilterDbError('missing-file', name, `cannot open: ${fsErrorText(e)}`);
  }
  let closed = false;
  return {
    name,
    size,
    readSync(offset, target) {
      let done = 0;
      while (done < target.length) {
        const n = fs.readSync(fd, target, done, target.length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    },
    close() {
      if (!closed) fs.closeSync(fd);
      closed = true;
    },
  };
}

function hasReadSync(x: object): x is SyncByteSource {
  return typeof (x as Partial<SyncByteSource>).readSync === 'function';
}

function memorySyncSource(name: string, bytes: Uint8Array): SyncByteSource {
  return {
    name,
    size: bytes.byteLength,
    readSync(offset, target) {
      const n = Math.max(0, Math.min(target.length, bytes.byteLength - offset));
      target.set(bytes.subarray(offset, offset + n));
      return n;
    },
  };
}

/** An open HDF5 file: what every caller uses (the public members of {@link LocalHdf5File}). */
export type Hdf5File = { [K in keyof LocalHdf5File]: LocalHdf5File[K] };

/** Opens HDF5 files somewhere else (Node: in a worker with a deadline, src/node/hdf5-remote.ts). */
export type Hdf5Opener = (input: Hdf5Input, options: OpenHdf5Options) => Promise<Hdf5File>;
let opener: Hdf5Opener | null = null;

/**
 * Routes every later {@link openHdf5} through `next` (null: back to this thread). libhdf5 runs synchronously
 * inside wasm: a corrupt file that makes it loop cannot be stopped from its own thread, so Node entry points
 * install an opener that runs it in a worker they can terminate.
 */
export function setHdf5Opener(next: Hdf5Opener | null): void {
  opener = next;
}

/**
 * Opens an HDF5 file read-only. Call `close()` when done (or use `withHdf5`): it closes the HDF5 handle,
 * removes the MEMFS node and closes a descriptor openHdf5 opened. Goes through the opener installed with
 * {@link setHdf5Opener}, if any.
 */
export async function openHdf5(input: Hdf5Input, options: OpenHdf5Options = {}): Promise<Hdf5File> {
  return opener ? opener(input, options) : openLocalHdf5(input, options);
}

/** {@link openHdf5} on this thread, whatever opener is installed. */
export async function openLocalHdf5(input: Hdf5Input, options: OpenHdf5Options = {}): Promise<LocalHdf5File> {
  const module = await getModule();
  let source: SyncByteSource;
  let owned = false;
  if ('path' in input && typeof input.path === 'string' && !('size' in input)) {
    source = syncFileSource(input.path, input.name ?? input.path);
    owned = true;
  } else if (hasReadSync(input)) {
    source = input;
  } else {
    const src = input as ByteSource;
    const limit = options.maxInMemoryBytes ?? 2 ** 31;
    if (src.size > limit) {
      throw new FilterDbError(
        'too-large',
        src.name,
        `HDF5 file of ${src.size} bytes exceeds the in-memory limit of ${limit} bytes; open it by path (Node) or through a source with readSync so it is read lazily`,
      );
    }
    source = memorySyncSource(src.name, await src.read(0, src.size));
  }
  const fs = module.FS as unknown as EmFs;
  const fileName = `f${++openCounter}.h5`;
  const fullPath = `${MOUNT_DIR}/${fileName}`;
  let node: EmFsNode;
  try {
    node = fs.createFile(MOUNT_DIR, fileName, {}, true, false);
  } catch (e) {
    if (owned) source.close?.();
    throw toFilterDbError(source.name, 'open', e);
  }
  const lazy = new LazyFile(source, fs);
  lazy.install(node);
  let fileId: bigint;
  try {
    // embind needs every argument: (path, mode, track_order, libver_low, libver_high); -1 = library default.
    fileId = module.open(
      fullPath,
      (module as unknown as Record<string, number>).H5F_ACC_RDONLY,
      false,
      -1,
      -1,
    );
    if (fileId < 0n) throw new Error('H5Fopen returned an invalid id');
  } catch (e) {
    safeUnlink(fs, fullPath);
    if (owned) source.close?.();
    if (lazy.failure) throw new FilterDbError('corrupt', source.name, `read failed: ${lazy.failure.message}`);
    throw toFilterDbError(source.name, 'open', e);
  }
  return new LocalHdf5File(module, source, fileId, fullPath, owned ? source : null, lazy);
}

/** Opens, runs `fn`, and always closes. */
export async function withHdf5<T>(
  input: Hdf5Input,
  fn: (file: Hdf5File) => T | Promise<T>,
  options?: OpenHdf5Options,
): Promise<T> {
  const file = await openHdf5(input, options);
  try {
    return await fn(file);
  } finally {
    file.close();
  }
}

function safeUnlink(fs: EmFs, path: string): void {
  try {
    if (fs.analyzePath(path).exists) fs.unlink(path);
  } catch {
    // nothing useful to do: the node is tiny (it holds no file bytes)
  }
}

/** Serves a MEMFS node's reads from a SyncByteSource (see the module comment). */
class LazyFile {
  reads = 0;
  bytesRead = 0;
  failure: Error | null = null;
  constructor(
    private readonly source: SyncByteSource,
    private readonly fs: EmFs,
  ) {}

  install(node: EmFsNode): void {
    const size = this.source.size;
    // `contents` must be truthy so FS.forceLoadFile treats the node as loaded; `usedBytes` is what fstat reports.
    node.contents = { length: size };
    Object.defineProperty(node, 'usedBytes', { get: () => size });
    const memOps = this.fs.filesystems.MEMFS.stream_ops;
    node.stream_ops = {
      llseek: memOps.llseek,
      read: (_stream: unknown, buffer: Int8Array, offset: number, length: number, position: number) =>
        this.read(buffer, offset, length, position),
      write: () => {
        throw new this.fs.ErrnoError(EIO);
      },
    };
  }

  private read(buffer: Int8Array, offset: number, length: number, position: number): number {
    const size = this.source.size;
    if (position >= size || length <= 0) return 0;
    const n = Math.min(size - position, length);
    try {
      const got = this.source.readSync(
        position,
        new Uint8Array(buffer.buffer, buffer.byteOffset + offset, n),
      );
      this.reads++;
      this.bytesRead += got;
      if (got <= MAX_SCANNED_READ && heapCheck) {
        const problem = globalHeapProblem(
          new Uint8Array(buffer.buffer, buffer.byteOffset + offset, got),
          position,
          size,
        );
        if (problem) throw new Error(problem);
      }
      return got;
    } catch (e) {
      // A JS exception must not unwind through libhdf5's C frames: report EIO and keep the cause.
      this.failure = e as Error;
      throw new this.fs.ErrnoError(EIO);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Global heap collections, checked before libhdf5 parses them

/**
 * FILTERDB_HDF5_HEAP_CHECK=0 hands collections to libhdf5 unchecked (to reproduce its own behaviour, e.g. to
 * test that the worker's deadline stops the loop).
 */
const heapCheck =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.FILTERDB_HDF5_HEAP_CHECK !== '0';
/** Reads up to this size are scanned for global heap collections (metadata reads; raw data reads are larger). */
const MAX_SCANNED_READ = 1 << 20;
const GCOL = [0x47, 0x43, 0x4f, 0x4c]; // "GCOL"
/** libhdf5 never writes a collection smaller than this (H5HG_MINSIZE). */
const GCOL_MIN_SIZE = 4096;
const GCOL_HEADER = 16;
const GCOL_OBJECT_HEADER = 16;

/**
 * Checks every global heap collection that starts in `bytes` (read at file offset `position`) the way
 * libhdf5's H5HG__cache_heap_deserialize walks it, and returns what is wrong or null. libhdf5 trusts these
 * sizes: a free-space object of size 0 makes its walk loop forever (p = begin + 0), and a huge object size
 * wraps the 32-bit wasm pointer. A collection must lie inside the file, and each object must move the walk
 * forward and end inside its collection. Only "GCOL", version 1, three zero bytes and a size ≥ 4096 count as a
 * collection (8 fixed bytes: data that merely contains "GCOL" is not mistaken for one).
 */
export function globalHeapProblem(bytes: Uint8Array, position: number, fileSize: number): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (
    let at = bytes.indexOf(GCOL[0]);
    at >= 0 && at + GCOL_HEADER <= bytes.length;
    at = bytes.indexOf(GCOL[0], at + 1)
  ) {
    if (bytes[at + 1] !== GCOL[1] || bytes[at + 2] !== GCOL[2] || bytes[at + 3] !== GCOL[3]) continue;
    if (bytes[at + 4] !== 1 || bytes[at + 5] !== 0 || bytes[at + 6] !== 0 || bytes[at + 7] !== 0) continue;
    const size = Number(view.getBigUint64(at + 8, true));
    if (size < GCOL_MIN_SIZE) continue;
    const where = `global heap collection at ${position + at}`;
    if (position + at + size > fileSize) return `${where} claims ${size} bytes, past the end of the file`;
    if (at + size > bytes.length) continue; // only its header is in this read; checked when read whole
    let p = at + GCOL_HEADER;
    const end = at + size;
    while (p < end) {
      if (p + GCOL_OBJECT_HEADER > end) break; // a tail too small for an object header is free space
      const index = view.getUint16(p, true);
      const objectSize = Number(view.getBigUint64(p + 8, true));
      const need = index > 0 ? GCOL_OBJECT_HEADER + Math.ceil(objectSize / 8) * 8 : objectSize;
      if (need <= 0) return `${where}: object ${index} at ${position + p} has size 0`;
      if (p + need > end)
        return `${where}: object ${index} at ${position + p} (${objectSize} bytes) runs past the collection's ${size} bytes`;
      p += need;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// The file

function joinPath(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '/' : `/${trimmed}`;
}

function dtypeOf(meta: H5Metadata): Hdf5Dtype {
  if (meta.type === H5T_FLOAT) {
    if (meta.size === 2) return 'float16';
    if (meta.size === 4) return 'float32';
    if (meta.size === 8) return 'float64';
    return 'other';
  }
  if (meta.type === H5T_INTEGER) {
    const bits = meta.size * 8;
    if (![8, 16, 32, 64].includes(bits)) return 'other';
    return `${meta.signed ? 'int' : 'uint'}${bits}` as Hdf5Dtype;
  }
  if (meta.type === H5T_STRING) return 'string';
  return 'other';
}

/** An HDF5 file opened with h5wasm on this thread (see {@link Hdf5File} for the shape callers use). */
export class LocalHdf5File {
  private closed = false;
  constructor(
    private readonly module: H5Module,
    private readonly source: SyncByteSource,
    private readonly fileId: bigint,
    private readonly fsPath: string,
    private readonly owned: SyncByteSource | null,
    private readonly lazy: LazyFile,
  ) {}

  /** File name used in errors. */
  get name(): string {
    return this.source.name;
  }

  get size(): number {
    return this.source.size;
  }

  /** Read statistics of the lazy backend (calls and bytes served to libhdf5). */
  get ioStats(): { reads: number; bytes: number } {
    return { reads: this.lazy.reads, bytes: this.lazy.bytesRead };
  }

  private guard<T>(what: string, fn: () => T): T {
    if (this.closed) throw new FilterDbError('corrupt', this.name, `HDF5 ${what} after close`);
    try {
      return fn();
    } catch (e) {
      if (this.lazy.failure) {
        throw new FilterDbError(
          'corrupt',
          this.name,
          `read failed during HDF5 ${what}: ${this.lazy.failure.message}`,
        );
      }
      throw toFilterDbError(this.name, what, e);
    }
  }

  kind(path: string): Hdf5NodeKind {
    return this.guard(`lookup of ${path}`, () => {
      const t = this.module.get_type(this.fileId, joinPath(path));
      if (t === H5O_TYPE_GROUP) return 'group';
      if (t === H5O_TYPE_DATASET) return 'dataset';
      if (t === H5O_TYPE_DATATYPE) return 'datatype';
      return t < 0 ? 'missing' : 'link';
    });
  }

  isGroup(path: string): boolean {
    return this.kind(path) === 'group';
  }

  isDataset(path: string): boolean {
    return this.kind(path) === 'dataset';
  }

  /** Child names of a group, in HDF5 index order (by name unless the file tracks creation order). */
  keys(path = '/'): string[] {
    if (!this.isGroup(path))
      throw new FilterDbError('corrupt', this.name, `HDF5 group ${joinPath(path)} not found`);
    return this.guard(`listing of ${path}`, () => this.module.get_names(this.fileId, joinPath(path), false));
  }

  attributeNames(path = '/'): string[] {
    if (this.kind(path) === 'missing') return [];
    return this.guard(`attributes of ${path}`, () =>
      this.module.get_attribute_names(this.fileId, joinPath(path)),
    );
  }

  hasAttribute(path: string, name: string): boolean {
    return this.attributeNames(path).includes(name);
  }

  /**
   * An attribute as h5wasm decodes it (string, string[], number, bigint, typed array, …), or null when absent
   * or of a type h5wasm cannot decode.
   */
  attribute(path: string, name: string): unknown {
    if (!this.hasAttribute(path, name)) return null;
    return this.guard(`attribute ${path}@${name}`, () => {
      const group = new h5wasm.Group(this.fileId, joinPath(path));
      const attr = group.attrs[name];
      return attr ? attr.value : null;
    });
  }

  /** A string attribute (scalar, a one-element string array, or bytes decoded as UTF-8); null if absent. */
  attrString(path: string, name: string): string | null {
    const v = this.attribute(path, name);
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
    if (v instanceof Uint8Array || v instanceof Int8Array) {
      return new TextDecoder('utf-8', { fatal: false }).decode(v).replace(/\0+$/, '');
    }
    return null;
  }

  /** A string-array attribute (a scalar string gives a one-element array; an empty numeric array gives []). */
  attrStrings(path: string, name: string): string[] | null {
    const v = this.attribute(path, name);
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? (v as string[]) : null;
    if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number>).length === 0) return [];
    return null;
  }

  /** A numeric scalar attribute (or a one-element numeric array); null if absent or not numeric. */
  attrNumber(path: string, name: string): number | null {
    const v = this.attribute(path, name);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const arr = v as unknown as ArrayLike<number | bigint>;
      if (arr.length === 1) return Number(arr[0]);
    }
    return null;
  }

  private metadata(path: string): H5Metadata {
    if (!this.isDataset(path))
      throw new FilterDbError('corrupt', this.name, `HDF5 dataset ${joinPath(path)} not found`);
    return this.guard(
      `metadata of ${path}`,
      () => this.module.get_dataset_metadata(this.fileId, joinPath(path)) as unknown as H5Metadata,
    );
  }

  datasetInfo(path: string): Hdf5DatasetInfo {
    const meta = this.metadata(path);
    let dtype = dtypeOf(meta);
    // Keras 3 writes bfloat16 variables as 16-bit data tagged with a `dtype` attribute.
    if (meta.size === 2 && dtype !== 'string' && this.attrString(path, 'dtype') === 'bfloat16')
      dtype = 'bfloat16';
    const shape = meta.shape ?? [];
    return {
      path: joinPath(path),
      shape: [...shape],
      dtype,
      elementSize: meta.size,
      elementCount: shape.reduce((a, b) => a * b, 1),
      chunks: meta.chunks ? [...meta.chunks] : null,
    };
  }

  /**
   * Raw little-endian element bytes of a numeric dataset, whole or a hyperslab (`[start, end)` per dim).
   * libhdf5 converts big-endian data to little-endian on the way.
   */
  readRaw(path: string, slice?: Hdf5Slice): { bytes: Uint8Array; shape: number[]; info: Hdf5DatasetInfo } {
    const info = this.datasetInfo(path);
    const meta = this.metadata(path);
    if (meta.vlen || (meta.type !== H5T_FLOAT && meta.type !== H5T_INTEGER && info.dtype !== 'bfloat16')) {
      throw new FilterDbError(
        'unsupported',
        this.name,
        `HDF5 dataset ${info.path} is not numeric (${info.dtype})`,
      );
    }
    let count: bigint[] | null = null;
    let offset: bigint[] | null = null;
    let strides: bigint[] | null = null;
    let outShape = info.shape;
    if (slice && slice.length > 0) {
      if (slice.length > info.shape.length) {
        throw new FilterDbError(
          'corrupt',
          this.name,
          `slice of rank ${slice.length} on ${info.path} of rank ${info.shape.length}`,
        );
      }
      outShape = info.shape.map((dim, i) => {
        const r = slice[i];
        if (!r) return dim;
        const [a, b] = r;
        if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b < a || b > dim) {
          throw new FilterDbError(
            'corrupt',
            this.name,
            `slice ${a}:${b} out of range 0:${dim} on ${info.path}`,
          );
        }
        return b - a;
      });
      count = outShape.map((n) => BigInt(n));
      offset = info.shape.map((_, i) => BigInt(slice[i]?.[0] ?? 0));
      strides = info.shape.map(() => 1n);
    }
    const elements = outShape.reduce((a, b) => a * b, 1);
    const nbytes = elements * meta.size;
    const maxMemory = (this.module as unknown as { MAXIMUM_MEMORY: number }).MAXIMUM_MEMORY;
    if (nbytes > Math.min(maxMemory / 2, 2 ** 30)) {
      throw new FilterDbError(
        'too-large',
        this.name,
        `reading ${nbytes} bytes of ${info.path} at once is too much; read it in slices`,
      );
    }
    if (nbytes === 0) return { bytes: new Uint8Array(0), shape: outShape, info };
    return this.guard(`read of ${info.path}`, () => {
      const ptr = this.module._malloc(nbytes);
      if (!ptr)
        throw new FilterDbError('too-large', this.name, `cannot allocate ${nbytes} bytes for ${info.path}`);
      try {
        const status = this.module.get_dataset_data(
          this.fileId,
          info.path,
          count,
          offset,
          strides,
          BigInt(ptr),
        );
        if (status < 0) throw new Error(`H5Dread failed with status ${status}`);
        return { bytes: this.module.HEAPU8.slice(ptr, ptr + nbytes), shape: outShape, info };
      } finally {
        this.module._free(ptr);
      }
    });
  }

  /**
   * A floating-point dataset (or a slice) as Float32Array (float32/float16/bfloat16, widened exactly) or
   * Float64Array (float64). Other types give an `unsupported` error.
   */
  readFloats(
    path: string,
    slice?: Hdf5Slice,
  ): { data: Float32Array | Float64Array; shape: number[]; dtype: Hdf5Dtype } {
    const { bytes, shape, info } = this.readRaw(path, slice);
    const n = bytes.byteLength / info.elementSize;
    switch (info.dtype) {
      case 'float32':
        return { data: new Float32Array(bytes.buffer, bytes.byteOffset, n), shape, dtype: info.dtype };
      case 'float64':
        return { data: new Float64Array(bytes.buffer, bytes.byteOffset, n), shape, dtype: info.dtype };
      case 'float16':
        return { data: decodeFloat16(bytes, n), shape, dtype: info.dtype };
      case 'bfloat16':
        return { data: decodeBfloat16(bytes, n), shape, dtype: info.dtype };
      default:
        throw new FilterDbError(
          'unsupported',
          this.name,
          `HDF5 dataset ${info.path} is ${info.dtype}, not floating point`,
        );
    }
  }

  /** IDs of the filters (compression, shuffle, …) a dataset's chunks pass through; [] for plain storage. */
  filterIds(path: string): number[] {
    const info = this.datasetInfo(path);
    return this.guard(`filters of ${info.path}`, () =>
      this.module.get_dataset_filters(this.fileId, info.path).map((f) => Number(f.id)),
    );
  }

  /**
   * Rows `[start, end)` (default all) of a one-dimensional compound dataset as raw little-endian bytes
   * (`rowSize` bytes per row, fields at their `offset`), plus the field layout. Fields must be numeric or
   * fixed-length strings, scalars or arrays of them; anything else (variable-length, nested compounds,
   * references, big-endian members) is `unsupported`. Every field is checked to lie inside the row.
   */
  readCompound(
    path: string,
    rows?: readonly [number, number],
  ): { bytes: Uint8Array; rowSize: number; rows: number; fields: Hdf5CompoundField[] } {
    const meta = this.metadata(path);
    const where = joinPath(path);
    const unsupported = (detail: string): never => {
      throw new FilterDbError('unsupported', this.name, `HDF5 dataset ${where}: ${detail}`);
    };
    if (meta.type !== H5T_COMPOUND || !meta.compound_type) unsupported('is not a compound dataset');
    const shape = meta.shape ?? [];
    if (shape.length !== 1) unsupported(`has rank ${shape.length}, expected a 1-D table`);
    const rowSize = meta.size;
    const fields: Hdf5CompoundField[] = [];
    for (const m of meta.compound_type?.members ?? []) {
      let elem: H5Metadata = m;
      let count = 1;
      if (m.type === H5T_ARRAY && m.array_type) {
        elem = m.array_type;
        count = (elem.shape ?? []).reduce((a, b) => a * b, 1);
      }
      const dtype = dtypeOf(elem);
      if (elem.vlen || dtype === 'other')
        unsupported(`field ${JSON.stringify(m.name)} has an unsupported type`);
      if (elem.size > 1 && !elem.littleEndian && dtype !== 'string')
        unsupported(`field ${JSON.stringify(m.name)} is big-endian`);
      const size = count * elem.size;
      if (!Number.isSafeInteger(m.offset) || m.offset < 0 || size !== m.size || m.offset + size > rowSize) {
        throw new FilterDbError(
          'corrupt',
          this.name,
          `HDF5 dataset ${where}: field ${JSON.stringify(m.name)} lies outside its ${rowSize}-byte row`,
        );
      }
      fields.push({ name: m.name, offset: m.offset, size, dtype, elementSize: elem.size, count });
    }
    const total = shape[0];
    const [a, b] = rows ?? [0, total];
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b < a || b > total) {
      throw new FilterDbError('corrupt', this.name, `rows ${a}:${b} out of range 0:${total} on ${where}`);
    }
    const nbytes = (b - a) * rowSize;
    const maxMemory = (this.module as unknown as { MAXIMUM_MEMORY: number }).MAXIMUM_MEMORY;
    if (nbytes > Math.min(maxMemory / 2, 2 ** 30)) {
      throw new FilterDbError(
        'too-large',
        this.name,
        `reading ${nbytes} bytes of ${where} at once is too much; read it in slices`,
      );
    }
    if (nbytes === 0) return { bytes: new Uint8Array(0), rowSize, rows: 0, fields };
    return this.guard(`read of ${where}`, () => {
      const ptr = this.module._malloc(nbytes);
      if (!ptr)
        throw new FilterDbError('too-large', this.name, `cannot allocate ${nbytes} bytes for ${where}`);
      try {
        const status = this.module.get_dataset_data(
          this.fileId,
          where,
          [BigInt(b - a)],
          [BigInt(a)],
          [1n],
          BigInt(ptr),
        );
        if (status < 0) throw new Error(`H5Dread failed with status ${status}`);
        return { bytes: this.module.HEAPU8.slice(ptr, ptr + nbytes), rowSize, rows: b - a, fields };
      } finally {
        this.module._free(ptr);
      }
    });
  }

  /**
   * The raw bytes of a scalar string attribute (fixed-length: exactly as stored, trailing NULs included;
   * variable-length: its text as UTF-8), or null when absent or not a scalar string. PyTables stores pickled
   * Python attributes (lists, tuples, None) this way.
   */
  attrBytes(path: string, name: string): Uint8Array | null {
    if (!this.hasAttribute(path, name)) return null;
    const where = joinPath(path);
    const meta = this.guard(
      `attribute ${where}@${name}`,
      () => this.module.get_attribute_metadata(this.fileId, where, name) as unknown as H5Metadata,
    );
    if (meta.type !== H5T_STRING || meta.total_size !== 1) return null;
    if (meta.vlen) {
      const s = this.attrString(path, name);
      return s === null ? null : new TextEncoder().encode(s);
    }
    const nbytes = meta.size;
    if (!Number.isSafeInteger(nbytes) || nbytes < 0 || nbytes > 2 ** 26) {
      throw new FilterDbError('corrupt', this.name, `attribute ${where}@${name} of ${nbytes} bytes`);
    }
    if (nbytes === 0) return new Uint8Array(0);
    return this.guard(`attribute ${where}@${name}`, () => {
      const ptr = this.module._malloc(nbytes);
      if (!ptr) throw new FilterDbError('too-large', this.name, `cannot allocate ${nbytes} bytes`);
      try {
        const status = this.module.get_attribute_data(this.fileId, where, name, BigInt(ptr));
        if (status < 0) throw new Error(`H5Aread failed with status ${status}`);
        return this.module.HEAPU8.slice(ptr, ptr + nbytes);
      } finally {
        this.module._free(ptr);
      }
    });
  }

  /** A dataset's value as h5wasm decodes it (strings, numbers, typed arrays); for small, non-float data. */
  readValue(path: string): unknown {
    const info = this.datasetInfo(path);
    if (info.elementCount * info.elementSize > 2 ** 28) {
      throw new FilterDbError('too-large', this.name, `dataset ${info.path} is too large to read as a value`);
    }
    return this.guard(`read of ${info.path}`, () => new h5wasm.Dataset(this.fileId, info.path).value);
  }

  /**
   * Depth-first walk below `path` (children in index order). `visit` returns false to skip a group's children.
   * Bounded (depth 64, 1,000,000 nodes) so a file whose hard links form a cycle cannot hang the walk.
   */
  walk(path: string, visit: (path: string, kind: Hdf5NodeKind) => boolean | undefined): void {
    let budget = 1_000_000;
    const rec = (p: string, depth: number) => {
      for (const key of this.keys(p)) {
        if (--budget < 0) throw new FilterDbError('corrupt', this.name, 'HDF5 hierarchy too large or cyclic');
        const child = p === '/' ? `/${key}` : `${p}/${key}`;
        const kind = this.kind(child);
        const descend = visit(child, kind);
        if (kind === 'group' && descend !== false && depth < 64) rec(child, depth + 1);
      }
    };
    rec(joinPath(path), 0);
  }

  /** Closes the HDF5 handle, removes the MEMFS node and closes a descriptor openHdf5 opened. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.module.close_file(this.fileId);
    } catch {
      // closing a file whose reads failed can report errors; the handle is gone either way
    }
    safeUnlink(this.module.FS as unknown as EmFs, this.fsPath);
    this.owned?.close?.();
  }
}
