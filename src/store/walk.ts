/**
 * Node-only: finding the models under the ingest arguments, naming them, and hashing their bytes.
 *
 * A directory is one model when it holds a TF.js `model.json` or a sharded-checkpoint index
 * (`*.index.json`); otherwise its files with a model extension are models and its sub-directories are
 * walked. Explicit file arguments are always tried, whatever their extension.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { FilterDbError } from '../errors.js';
import { readers } from '../formats/registry.js';

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

const DEFAULT_EXTENSIONS = [
  '.onnx',
  '.pt',
  '.pth',
  '.ckpt',
  '.bin',
  '.safetensors',
  '.h5',
  '.keras',
  '.tflite',
];

/** Stems too generic to name a model; the folder name is used instead. */
const GENERIC_STEMS = new Set([
  'model',
  'pytorch_model',
  'tf_model',
  'flax_model',
  'weights',
  'checkpoint',
  'saved_model',
  'model_weights',
  'diffusion_pytorch_model',
]);

function modelExtensions(): string[] {
  const exts = new Set(DEFAULT_EXTENSIONS);
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
  if (isDirectory) return basename(path);
  const base = basename(path);
  let stem = base.slice(0, base.length - extname(base).length) || base;
  // sharded names such as pytorch_model-00001-of-00002 or model.safetensors.index
  stem = stem.replace(/-\d+-of-\d+$/, '').replace(/\.(safetensors|bin)\.index$/, '');
  if (GENERIC_STEMS.has(stem.toLowerCase())) {
    const parent = basename(dirname(path));
    if (parent && parent !== '.' && parent !== '/') return parent;
  }
  return stem;
}

export interface Discovery {
  candidates: ModelCandidate[];
  errors: { path: string; error: FilterDbError }[];
}

/** Expands file and directory arguments into model candidates (sorted by path, deduplicated). */
export async function discoverModels(inputs: string[]): Promise<Discovery> {
  const exts = modelExtensions();
  const candidates = new Map<string, ModelCandidate>();
  const errors: Discovery['errors'] = [];

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
  const walk = async (abs: string, display: string, explicit: boolean): Promise<void> => {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(abs);
    } catch (e) {
      errors.push({
        path: display,
        error: new FilterDbError(
          'missing-file',
          display,
          `cannot open: ${(e as NodeJS.ErrnoException).code ?? e}`,
        ),
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
      if (explicit || exts.includes(extname(abs).toLowerCase())) await addFile(abs, display, st.size);
      return;
    }
    if (!st.isDirectory()) return;
    let listing: string[];
    try {
      listing = await readdir(abs);
    } catch (e) {
      errors.push({
        path: display,
        error: new FilterDbError('missing-file', display, `cannot list: ${(e as Error).message}`),
      });
      return;
    }
    if (isModelDirectory(listing)) {
      await addDirectoryModel(abs, display, listing);
      return;
    }
    for (const entry of listing.sort()) {
      if (entry.startsWith('.')) continue;
      await walk(join(abs, entry), join(display, entry), false);
    }
  };
  for (const input of inputs) await walk(resolve(input), input, true);
  const list = [...candidates.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { candidates: list, errors };
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
    throw new FilterDbError('missing-file', path, `cannot read: ${(e as Error).message}`);
  }
  return h.digest('hex');
}
