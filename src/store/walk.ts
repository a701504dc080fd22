/**
 * Node-only: finding the models under the ingest arguments, naming them, and hashing their bytes.
 *
 * A directory is one model when it holds a TF.js `model.json` or a sharded-checkpoint index
 * (`*.index.json`); otherwise its files with a model extension are models and its sub-directories are
 * walked. A face-api.js `*-weights_manifest.json` is a model with the shards it names. Explicit file
 * arguments are always tried, whatever their extension.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { FilterDbError, fsErrorText } from '../errors.js';
import { MODEL_FILE_EXTENSIONS } from '../formats/detect.js';
import { bytesSource, type ModelInput, safeRelativePath } from '../formats/io/source.js';
import { readers } from '../formats/registry.js';
import { modelNameOfPath } from '../model/names.js';
import { openModelInput } from '../node/file-source.js';

export interface ModelCandidate {
  /** Absolute path of the model file, or of the folder for a folder model. */
  path: string;
  /** The argument-relative path shown to the user. */
  display: string;
  isDirectory: boolean;
  /** Model name used to join metadata: file stem, or folder name for generic names. */
  name: string;
  /** Files whose bytes make up the model (hashed together). */
  files: string[];
  bytes: number;
}

function modelExtensions(): string[] {
  const exts = new Set(MODEL_FILE_EXTENSIONS);
  for (const r of readers)
    for (const e of r.extensions) exts.add(e.startsWith('.') ? e.toLowerCase() : `.${e.toLowerCase()}`);
  exts.delete('.json');
  return [...exts];
}

function isModelDirectory(listing: string[]): boolean {
  return listing.includes('model.json') || listing.some((f) => f.endsWith('.index.json'));
}

/** The model name of a file path: its stem, or the parent folder's name when the stem is generic. */
export function modelNameOf(path: string, isDirectory = false): string {
  return modelNameOfPath(path, isDirectory);
}

export interface Discovery {
  candidates: ModelCandidate[];
  errors: { path: string; error: FilterDbError }[];
  /** Files met in a directory walk that are not models and are left out, with why (e.g. a dataset.h5). */
  skipped: { path: string; reason: string }[];
}

/**
 * True when `path` is a CNN Filter DB `dataset.h5` (HDF5 with a `/filters` dataset and a `/meta` group —
 * a filter table, not a model). Only HDF5 files are opened (lazily, metadata only).
 */
export async function isFilterDbDataset(path: string): Promise<boolean> {
  const head = new Uint8Array(2056);
  try {
    const fh = await open(path, 'r');
    try {
      await fh.read(head, 0, head.length, 0);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
  const { hdf5SignatureOffset, withHdf5 } = await import('../formats/io/hdf5.js');
  if (hdf5SignatureOffset(head) < 0) return false;
  try {
    return await withHdf5({ path }, (f) => f.isDataset('/filters') && f.isGroup('/meta'));
  } catch {
    return false; // not readable as HDF5: leave it to the readers (they report it properly)
  }
}

const HDF5_EXTENSIONS = new Set(['.h5', '.hdf5']);

/** What ingest says about a dataset.h5 it will not read as a model. */
export function datasetH5Message(display: string): string {
  return `${display} is a CNN Filter DB dataset.h5 (a table of filters, not a model): load it with \`filterdb import-h5 ${display} --db <db>\``;
}

/** Expands file and directory arguments into model candidates (sorted by path, deduplicated). */
export async function discoverModels(inputs: string[]): Promise<Discovery> {
  const exts = modelExtensions();
  const candidates = new Map<string, ModelCandidate>();
  const errors: Discovery['errors'] = [];
  const skipped: Discovery['skipped'] = [];

  const addFile = async (abs: string, display: string, size: number) => {
    if (!candidates.has(abs)) {
      candidates.set(abs, {
        path: abs,
        display,
        isDirectory: false,
        name: modelNameOf(abs),
        files: [abs],
        bytes: size,
      });
    }
  };
  const addDirectoryModel = async (abs: string, display: string, listing: string[]) => {
    const files: string[] = [];
    let bytes = 0;
    for (const f of listing.sort()) {
      const st = await stat(join(abs, f)).catch(() => null);
      if (st?.isFile()) {
        files.push(join(abs, f));
        bytes += st.size;
      }
    }
    candidates.set(abs, { path: abs, display, isDirectory: true, name: basename(abs), files, bytes });
  };
  // a face-api.js weights manifest: the model is the manifest and the shards it names
  const shards = new Set<string>();
  const addManifestModel = async (abs: string, display: string, size: number) => {
    const files = [abs];
    let bytes = size;
    try {
      const json: unknown = JSON.parse(await readFile(abs, 'utf8'));
      const paths = Array.isArray(json) ? json.flatMap((g) => (Array.isArray(g?.paths) ? g.paths : [])) : [];
      for (const p of paths) {
        if (typeof p !== 'string') continue;
        const shard = join(dirname(abs), safeRelativePath(display, p));
        const st = await stat(shard).catch(() => null);
        if (st?.isFile() && !files.includes(shard)) {
          files.push(shard);
          shards.add(shard);
          bytes += st.size;
        }
      }
    } catch {
      // unreadable or malformed: the reader reports it when the model is read
    }
    candidates.set(abs, { path: abs, display, isDirectory: false, name: modelNameOf(abs), files, bytes });
  };
  const walk = async (abs: string, display: string, explicit: boolean): Promise<void> => {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(abs);
    } catch (e) {
      errors.push({
        path: display,
        error: new FilterDbError('missing-file', display, `cannot open: ${fsErrorText(e)}`),
      });
      return;
    }
    if (st.isFile()) {
      // an explicit model.json / *.index.json names its folder's model (shards included in the hash)
      const base = basename(abs);
      if (explicit && (base === 'model.json' || base.endsWith('.index.json'))) {
        await addDirectoryModel(dirname(abs), dirname(display), await readdir(dirname(abs)));
        return;
      }
      if (base.toLowerCase().endsWith('weights_manifest.json')) {
        if (!candidates.has(abs)) await addManifestModel(abs, display, st.size);
        return;
      }
      const ext = extname(abs).toLowerCase();
      if (!explicit && !exts.includes(ext)) return;
      if (HDF5_EXTENSIONS.has(ext) && (await isFilterDbDataset(abs))) {
        // met in a walk: skip it and say so; named explicitly: a failure that says what to do instead
        if (explicit)
          errors.push({
            path: display,
            error: new FilterDbError(
              'not-a-model',
              display,
              datasetH5Message(display).slice(display.length + 1),
            ),
          });
        else skipped.push({ path: display, reason: datasetH5Message(display) });
        return;
      }
      await addFile(abs, display, st.size);
      return;
    }
    if (!st.isDirectory()) return;
    let listing: string[];
    try {
      listing = await readdir(abs);
    } catch (e) {
      errors.push({
        path: display,
        error: new FilterDbError('missing-file', display, `cannot list: ${fsErrorText(e)}`),
      });
      return;
    }
    if (isModelDirectory(listing)) {
      await addDirectoryModel(abs, display, listing);
      return;
    }
    // weights manifests first, so the shards they name are not taken for models of their own
    const entries = listing.filter((e) => !e.startsWith('.')).sort();
    const isManifest = (e: string) => e.toLowerCase().endsWith('weights_manifest.json');
    for (const entry of entries.filter(isManifest)) await walk(join(abs, entry), join(display, entry), false);
    for (const entry of entries.filter((e) => !isManifest(e))) {
      if (!shards.has(join(abs, entry))) await walk(join(abs, entry), join(display, entry), false);
    }
  };
  for (const input of inputs) await walk(resolve(input), input, true);
  const list = [...candidates.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { candidates: list, errors, skipped };
}

/**
 * SHA-256 of a model's bytes, streamed. One file: the hash of its bytes ("sha256:<hex>"). Several files:
 * the hash of "name NUL sha256(file) LF" lines in name order, so any changed, added or removed shard changes it.
 */
export async function hashModel(candidate: ModelCandidate, onBytes?: (n: number) => void): Promise<string> {
  if (candidate.files.length === 1 && !candidate.isDirectory) {
    return `sha256:${await hashFile(candidate.files[0], onBytes)}`;
  }
  const outer = createHash('sha256');
  for (const f of candidate.files) outer.update(`${basename(f)}\0${await hashFile(f, onBytes)}\n`);
  return `sha256:${outer.digest('hex')}`;
}

async function hashFile(path: string, onBytes?: (n: number) => void): Promise<string> {
  const h = createHash('sha256');
  const stream = createReadStream(path, { highWaterMark: 4 << 20 });
  try {
    for await (const chunk of stream) {
      h.update(chunk as Buffer);
      onBytes?.((chunk as Buffer).length);
    }
  } catch (e) {
    throw new FilterDbError('missing-file', path, `cannot read: ${fsErrorText(e)}`);
  }
  return h.digest('hex');
}

/** Models up to this size are read into memory once: hashed from the buffer and parsed from it (for bigger
 * ones positional reads of the tensors cost little, and a streamed hash keeps memory flat). */
export const BUFFERED_MODEL_BYTES = 64 * 1024 * 1024;

/** A model read into memory: its hash (as {@link hashModel} computes it) and a ModelInput over the bytes. */
export interface BufferedModel {
  hash: string;
  /** Opens the model over the buffered bytes (siblings not among the model's files are opened from disk). */
  open(): Promise<ModelInput>;
}

/**
 * Reads a model's files into memory (one read each instead of a positional read per tensor) and hashes them
 * from the buffers, off the main thread (WebCrypto). Returns null for models larger than
 * {@link BUFFERED_MODEL_BYTES}: use {@link hashModel} and openModelInput for those. The hash is byte-for-byte
 * what hashModel gives.
 */
export async function readBuffered(candidate: ModelCandidate): Promise<BufferedModel | null> {
  if (candidate.bytes > BUFFERED_MODEL_BYTES) return null;
  const buffers = new Map<string, Uint8Array>();
  let total = 0;
  for (const f of candidate.files) {
    let b: Uint8Array;
    try {
      b = await readFile(f);
    } catch (e) {
      throw new FilterDbError('missing-file', f, `cannot read: ${fsErrorText(e)}`);
    }
    total += b.byteLength;
    if (total > BUFFERED_MODEL_BYTES) return null; // grew since discovery
    buffers.set(f, b);
  }
  const digests = await Promise.all(candidate.files.map((f) => sha256Hex(buffers.get(f)!)));
  let hash: string;
  if (candidate.files.length === 1 && !candidate.isDirectory) hash = `sha256:${digests[0]}`;
  else {
    const outer = createHash('sha256');
    candidate.files.forEach((f, i) => {
      outer.update(`${basename(f)}\0${digests[i]}\n`);
    });
    hash = `sha256:${outer.digest('hex')}`;
  }
  return {
    hash,
    async open() {
      const base = await openModelInput(candidate.path);
      const mainPath = candidate.isDirectory
        ? join(candidate.path, basename(base.main.name))
        : candidate.path;
      const mainBytes = buffers.get(mainPath);
      if (!mainBytes) return base;
      const display = base.main.name;
      const folder = dirname(mainPath);
      return {
        main: bytesSource(display, mainBytes),
        listing: base.listing,
        close: () => base.close?.() ?? Promise.resolve(),
        async sibling(rel: string) {
          const safe = safeRelativePath(display, rel);
          const bytes = buffers.get(resolve(folder, safe));
          if (bytes) return bytesSource(join(dirname(display), safe), bytes);
          return base.sibling ? base.sibling(rel) : null;
        },
      };
    },
  };
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Buffer.from(digest).toString('hex');
}
