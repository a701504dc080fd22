/**
 * Node-only worker thread: unpacks (bundles) and analyses one uploaded model — find it, hash it, read it,
 * measure its layers — away from the server's event loop. A hostile file that makes a reader spin (a
 * shared-reference pickle, a corrupt HDF5 heap inside wasm) spins here, where the server's deadline can
 * terminate the thread; the server's own thread keeps answering. One message in, one out:
 * in `{ path, bundle?, sparsityEps?, spectral? }`; out `{ analysed }` (weights transferred), `{ failed: message }` (no
 * model in the file) or `{ refused: { status, code, message } }` (a bad bundle).
 */
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Unzip, UnzipInflate } from 'fflate';
import { safeRelativePath } from '../formats/io/source.js';
import { type AnalysedModel, analyseCandidate } from '../store/ingest.js';
import { discoverModels } from '../store/walk.js';
import { formatBytes, HttpError } from './http.js';

export interface AnalyseRequest {
  /** The model file (or, with `bundle`, the main file's path once unpacked). */
  path: string;
  /** A zip of the model's files to unpack first into `dir`, at most `maxUnpacked` bytes in all. */
  bundle?: { zip: string; dir: string; name: string; maxUnpacked: number };
  sparsityEps?: number;
  /** Also measure the WeightWatcher-style spectral metrics (stored at ingest). */
  spectral?: boolean;
}

export type AnalyseReply =
  | { analysed: AnalysedModel }
  | { failed: string }
  | { refused: { status: number; code: string; message: string } };

/**
 * Unpacks a zip bundle from disk into `dir`, streaming: each entry is inflated chunk by chunk and written as
 * it comes, so neither the archive nor an entry is ever held whole; entry names that would leave `dir` and
 * archives that unpack past `maxUnpacked` are refused.
 */
async function unpack(b: NonNullable<AnalyseRequest['bundle']>): Promise<void> {
  const names = new Set<string>();
  let unpacked = 0;
  let failure: HttpError | null = null;
  const open = new Set<number>();
  const unzip = new Unzip((file) => {
    if (failure || file.name.endsWith('/')) return;
    let rel: string;
    try {
      rel = safeRelativePath('bundle', file.name);
    } catch (e) {
      failure = new HttpError(400, 'path-traversal', (e as Error).message);
      return;
    }
    const path = join(b.dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w');
    open.add(fd);
    names.add(file.name);
    file.ondata = (err, data, final) => {
      if (failure) return;
      if (err) {
        failure = new HttpError(400, 'bad-bundle', `the bundle is not a readable zip: ${err.message}`);
        return;
      }
      unpacked += data.length;
      if (unpacked > b.maxUnpacked) {
        failure = new HttpError(
          413,
          'too-large',
          `the bundle unpacks to more than ${formatBytes(b.maxUnpacked)}`,
        );
        file.terminate();
        return;
      }
      writeSync(fd, data);
      if (final) {
        closeSync(fd);
        open.delete(fd);
      }
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    for await (const chunk of createReadStream(b.zip, { highWaterMark: 64 << 10 })) {
      unzip.push(chunk as Buffer);
      if (failure) break;
    }
    if (!failure) unzip.push(new Uint8Array(0), true);
  } catch (e) {
    failure ??= new HttpError(400, 'bad-bundle', `the bundle is not a readable zip: ${(e as Error).message}`);
  } finally {
    for (const fd of open) closeSync(fd);
  }
  if (failure) throw failure;
  if (!names.has(b.name))
    throw new HttpError(400, 'bad-bundle', `the bundle has no file ${JSON.stringify(b.name)}`);
}

/** The weights' buffers to move (not copy) to the server thread: each one once, only whole ones. */
function transferables(a: AnalysedModel): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const l of a.layers) {
    const buffer = l.weight.buffer;
    if (buffer instanceof ArrayBuffer && buffer.byteLength === l.weight.byteLength) out.add(buffer);
  }
  return [...out];
}

async function analyse(req: AnalyseRequest): Promise<{ reply: AnalyseReply; transfer: ArrayBuffer[] }> {
  try {
    if (req.bundle) await unpack(req.bundle);
  } catch (e) {
    if (e instanceof HttpError)
      return { reply: { refused: { status: e.status, code: e.code, message: e.message } }, transfer: [] };
    throw e;
  }
  const found = await discoverModels([req.path]);
  const error = found.errors[0]?.error;
  if (error) return { reply: { failed: error.message }, transfer: [] };
  const candidate = found.candidates[0];
  if (!candidate) return { reply: { failed: `${req.path}: no model found` }, transfer: [] };
  const a = await analyseCandidate(candidate, { sparsityEps: req.sparsityEps, spectral: req.spectral });
  if ('error' in a) return { reply: { failed: a.error }, transfer: [] };
  return { reply: { analysed: a }, transfer: transferables(a) };
}

analyse(workerData as AnalyseRequest).then(
  ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
  (e: unknown) => parentPort!.postMessage({ failed: e instanceof Error ? e.message : String(e) }),
);
