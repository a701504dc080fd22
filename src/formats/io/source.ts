/**
 * Random-access byte sources. Readers never assume the whole file is in memory: they ask for
 * `read(offset, length)`, so multi-GB files (Node) and browser `File` slices work the same way.
 */
import { FilterDbError } from '../../errors.js';

export interface ByteSource {
  /** File name (or path) used in error messages. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `offset`; throws a `truncated` FilterDbError when out of range. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the underlying handle, where there is one. Reads after close fail. */
  close?(): Promise<void>;
}

/**
 * A model file plus the files beside it (ONNX external data, TF.js shards, sharded checkpoints).
 * `sibling` resolves a path relative to the main file's folder; it returns null when absent and must
 * refuse paths that escape that folder.
 */
export interface ModelInput {
  main: ByteSource;
  sibling?: (relativePath: string) => Promise<ByteSource | null>;
  /** Other entries of a directory argument, so a reader can find e.g. `model.json` or index files. */
  listing?: string[];
  /** Closes the main file and every sibling opened through `sibling` (call when done with the model). */
  close?(): Promise<void>;
}

/** Throws unless [offset, offset+length) lies inside a source of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FilterDbError('corrupt', name, `invalid byte range ${offset}+${length}`);
  }
  if (offset + length > size) {
    throw new FilterDbError(
      'truncated',
      name,
      `needs bytes ${offset}..${offset + length} but the file has only ${size} bytes (truncated or corrupt)`,
    );
  }
}

/** A source over bytes already in memory. `read` returns views, not copies. */
export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset: number, length: number) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A window [start, start+length) of another source, e.g. a stored zip entry. */
export function sliceSource(inner: ByteSource, start: number, length: number, name = inner.name): ByteSource {
  checkRange(inner.name, inner.size, start, length);
  return {
    name,
    size: length,
    async read(offset: number, len: number) {
      checkRange(name, length, offset, len);
      return inner.read(start + offset, len);
    },
  };
}

/** Reads a whole source (small files only: callers check `size` against their own limit first). */
export async function readAll(source: ByteSource): Promise<Uint8Array> {
  return source.read(0, source.size);
}

/** Normalises a relative path and refuses ones that leave the model's folder (`..`, absolute, drive). */
export function safeRelativePath(from: string, relative: string): string {
  if (relative.includes('\0') || /^([a-zA-Z]:)?[\\/]/.test(relative)) {
    throw new FilterDbError('unsafe', from, `refuses absolute path ${JSON.stringify(relative)}`);
  }
  const parts: string[] = [];
  for (const part of relative.split(/[\\/]+/)) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new FilterDbError(
        'unsafe',
        from,
        `refuses path outside the model folder ${JSON.stringify(relative)}`,
      );
    }
    parts.push(part);
  }
  if (parts.length === 0) throw new FilterDbError('corrupt', from, `empty path ${JSON.stringify(relative)}`);
  return parts.join('/');
}
