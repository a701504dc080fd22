/**
 * ByteSources over browser `File`s: reads in slices (`File.slice().arrayBuffer()`), never the whole file at
 * once, with a small block cache so a reader's many small header reads cost one slice each. In a worker the
 * source can also read synchronously (`FileReaderSync`), which lets libhdf5 (Keras .h5) read lazily too.
 */
import type { ByteSource, ModelInput } from '../../src/formats/io/source.js';
import { checkRange, safeRelativePath } from '../../src/formats/io/source.js';

/** FileReaderSync exists in dedicated workers only (lib.webworker.d.ts is not in this program's libs). */
declare const FileReaderSync: { new (): { readAsArrayBuffer(blob: Blob): ArrayBuffer } } | undefined;

export interface FileByteSource extends ByteSource {
  readSync?(offset: number, target: Uint8Array): number;
  /** Bytes actually read from the file so far (for tests and progress). */
  bytesRead(): number;
}

/**
 * A source over `file`: reads of less than `blockSize` go through an LRU cache of `maxBlocks` aligned blocks;
 * bigger reads (weight tensors) are sliced directly.
 */
export function fileByteSource(file: File, blockSize = 4 << 20, maxBlocks = 16): FileByteSource {
  const name = file.name;
  const size = file.size;
  const blocks = new Map<number, Promise<Uint8Array>>();
  let total = 0;
  const slice = async (from: number, to: number): Promise<Uint8Array> => {
    total += to - from;
    return new Uint8Array(await file.slice(from, to).arrayBuffer());
  };
  const block = (i: number): Promise<Uint8Array> => {
    let b = blocks.get(i);
    if (b) {
      blocks.delete(i); // move to the back (most recent)
    } else {
      b = slice(i * blockSize, Math.min(size, (i + 1) * blockSize));
    }
    blocks.set(i, b);
    while (blocks.size > maxBlocks) blocks.delete(blocks.keys().next().value!);
    return b;
  };
  const source: FileByteSource = {
    name,
    size,
    async read(offset, length) {
      checkRange(name, size, offset, length);
      if (length === 0) return new Uint8Array(0);
      if (length >= blockSize) return slice(offset, offset + length);
      const first = Math.floor(offset / blockSize);
      const last = Math.floor((offset + length - 1) / blockSize);
      if (first === last) {
        const b = await block(first);
        const o = offset - first * blockSize;
        return b.subarray(o, o + length);
      }
      const out = new Uint8Array(length);
      for (let i = first; i <= last; i++) {
        const b = await block(i);
        const start = Math.max(offset, i * blockSize);
        const end = Math.min(offset + length, (i + 1) * blockSize);
        out.set(b.subarray(start - i * blockSize, end - i * blockSize), start - offset);
      }
      return out;
    },
    bytesRead: () => total,
  };
  if (typeof FileReaderSync === 'function') {
    const reader = new FileReaderSync();
    source.readSync = (offset, target) => {
      const end = Math.min(size, offset + target.length);
      if (end <= offset) return 0;
      const bytes = new Uint8Array(reader.readAsArrayBuffer(file.slice(offset, end)));
      target.set(bytes);
      total += bytes.length;
      return bytes.length;
    };
  }
  return source;
}

/** A model input over dropped files: `mainName` is the model's main file, the others its siblings (shards). */
export function droppedModelInput(files: readonly File[], mainName: string): ModelInput {
  const main = files.find((f) => f.name === mainName) ?? files[0];
  const byName = new Map(files.map((f) => [f.name, f]));
  return {
    main: fileByteSource(main),
    listing: files.map((f) => f.name),
    async sibling(rel: string): Promise<ByteSource | null> {
      // dropped files have no folders: match the last path segment
      const safe = safeRelativePath(main.name, rel);
      const file = byName.get(safe) ?? byName.get(safe.split('/').pop()!);
      return file ? fileByteSource(file) : null;
    },
  };
}
