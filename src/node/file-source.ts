/** Node-only: byte sources over files on disk, and model inputs for a file or directory argument. */
import { readSync } from 'node:fs';
import { type FileHandle, open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { FilterDbError, fsErrorText } from '../errors.js';
import { MODEL_FILE_EXTENSIONS } from '../formats/detect.js';
import { type ByteSource, checkRange, type ModelInput, safeRelativePath } from '../formats/io/source.js';
// HDF5 files opened from here on run in a worker with a deadline (a corrupt file can make libhdf5 loop).
import './hdf5-remote.js';

/** A ByteSource that can also read synchronously (h5wasm's lazy HDF5 access needs that). */
export interface FileByteSource extends ByteSource {
  readSync(offset: number, target: Uint8Array): number;
  /** The file on disk (the HDF5 worker opens it by path rather than receiving its bytes). */
  readonly path: string;
}

/** A source that reads slices with positional reads on one shared descriptor. */
export async function fileSource(path: string, displayName = path): Promise<FileByteSource> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new FilterDbError('unsupported-format', displayName, 'is not a regular file');
    size = st.size;
  } catch (e) {
    if (e instanceof FilterDbError) throw e;
    throw new FilterDbError('missing-file', displayName, `cannot open: ${fsErrorText(e)}`);
  }
  const handle = await open(path, 'r');
  let closed = false;
  const source: FileByteSource = {
    name: displayName,
    path,
    size,
    async read(offset: number, length: number) {
      checkRange(displayName, size, offset, length);
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0)
          throw new FilterDbError('truncated', displayName, 'file shrank while being read');
        done += bytesRead;
      }
      return buf;
    },
    readSync(offset: number, target: Uint8Array) {
      return readSync(handle.fd, target, 0, target.length, offset);
    },
    async close() {
      if (closed) return;
      closed = true;
      unclosed.unregister(source);
      await handle.close();
    },
  };
  // A source dropped without close() still releases its descriptor when collected.
  unclosed.register(source, handle, source);
  return source;
}

const unclosed = new FinalizationRegistry<FileHandle>((handle) => {
  handle.close().catch(() => {});
});

/** File names that identify the model file inside a directory, most specific first. */
const DIRECTORY_ENTRY_POINTS = [
  'model.json',
  'model.safetensors.index.json',
  'model.safetensors',
  'pytorch_model.bin.index.json',
  'pytorch_model.bin',
  'model.onnx',
  'model.keras',
  'model.h5',
  'model.tflite',
];

/** Opens a model path (file or directory) as a ModelInput whose siblings resolve inside its folder. */
export async function openModelInput(path: string): Promise<ModelInput> {
  const abs = resolve(path);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(abs);
  } catch (e) {
    throw new FilterDbError('missing-file', path, `cannot open: ${fsErrorText(e)}`);
  }
  let mainPath = abs;
  let listing: string[] | undefined;
  if (st.isDirectory()) {
    listing = await readdir(abs);
    const entry = pickDirectoryEntry(listing);
    if (!entry) {
      throw new FilterDbError(
        'unsupported-format',
        path,
        `directory holds no model file (looked for ${DIRECTORY_ENTRY_POINTS.join(', ')} or a single file with a model extension)`,
      );
    }
    mainPath = join(abs, entry);
  } else {
    listing = await readdir(dirname(abs)).catch(() => undefined);
  }
  const folder = dirname(mainPath);
  const display = st.isDirectory() ? join(path, basename(mainPath)) : path;
  const main = await fileSource(mainPath, display);
  const opened: ByteSource[] = [main];
  return {
    main,
    listing,
    async close() {
      await Promise.all(opened.map((s) => s.close?.()));
      opened.length = 0;
    },
    async sibling(rel: string) {
      const safe = safeRelativePath(display, rel);
      const target = resolve(folder, safe);
      if (relative(folder, target).startsWith('..') || !target.startsWith(folder + sep)) {
        throw new FilterDbError(
          'unsafe',
          display,
          `refuses path outside the model folder ${JSON.stringify(rel)}`,
        );
      }
      const real = await realpath(target).catch(() => null);
      if (real === null) return null; // missing (or a dangling link)
      if (!(await insideModelFolder(real, folder, mainPath))) {
        throw new FilterDbError(
          'unsafe',
          display,
          `refuses ${JSON.stringify(rel)}: it is a link to ${real}, outside the model folder`,
        );
      }
      try {
        const source = await fileSource(real, join(dirname(display), safe));
        opened.push(source);
        return source;
      } catch (e) {
        if (e instanceof FilterDbError && e.code === 'missing-file') return null;
        throw e;
      }
    },
  };
}

/**
 * Whether `real` (a resolved sibling path) lies in the model's folder: the folder as named, resolved, or the
 * folder the main file itself resolves to. The last keeps link farms such as the Hugging Face cache working
 * (snapshots/<rev>/model-0000x.safetensors all link into ../../blobs/) while a link to /etc/passwd or to
 * another user's files is refused.
 */
async function insideModelFolder(real: string, folder: string, mainPath: string): Promise<boolean> {
  const roots = new Set([folder]);
  const resolvedFolder = await realpath(folder).catch(() => null);
  if (resolvedFolder) roots.add(resolvedFolder);
  const resolvedMain = await realpath(mainPath).catch(() => null);
  if (resolvedMain) roots.add(dirname(resolvedMain));
  for (const root of roots) if (real.startsWith(root.endsWith(sep) ? root : root + sep)) return true;
  return false;
}

function pickDirectoryEntry(listing: string[]): string | null {
  for (const name of DIRECTORY_ENTRY_POINTS) if (listing.includes(name)) return name;
  const candidates = listing.filter((f) =>
    MODEL_FILE_EXTENSIONS.some((ext) => f.toLowerCase().endsWith(ext)),
  );
  return candidates.length === 1 ? candidates[0] : null;
}
