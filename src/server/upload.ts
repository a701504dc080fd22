/**
 * Node-only: `POST /api/models` — a model file (or a zip bundle of a multi-file model such as TF.js
 * model.json + shards) is streamed to a fresh temp directory (never held whole in memory; a per-request and a
 * server-wide limit on the bytes being received), unpacked and analysed in a worker thread with a deadline
 * (upload-worker.ts), written through src/store/ingest.ts, and the directory removed. Analyses run one at a
 * time (each holds a model's weights); writes run one at a time with the compare scans (serial.ts).
 */
import { type FileHandle, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FilterDb } from '../store/db.js';
import { type AnalysedModel, ingestAnalysed, type ModelResult } from '../store/ingest.js';
import { type BodyLimits, formatBytes, HttpError, receiveBody } from './http.js';
import { serial } from './serial.js';
import type { AnalyseReply, AnalyseRequest } from './upload-worker.js';

/** A file name as the client sent it, reduced to something safe to write (no folders, no control chars). */
export function safeFileName(name: string | null): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[\x00-\x1f\x7f]/g, '').trim();
  if (!clean || clean === '.' || clean === '..' || clean.length > 255)
    throw new HttpError(400, 'bad-name', 'give the model file name: POST /api/models?name=<file name>');
  return clean;
}

export interface UploadAnswer {
  status: ModelResult['status'];
  modelId: number | null;
  name: string;
  layers?: number;
  filters?: number;
  /** For a duplicate: the name of the stored model with the same bytes. */
  duplicateOf?: string;
  message: string;
}

/** Bytes of request bodies being received or waiting for their ingest, server-wide, against a limit. */
export class InFlightBytes {
  used = 0;
  constructor(readonly limit: number) {}

  /** Takes `n` bytes of the budget, or refuses (503) when the uploads in flight already hold too much. */
  take(n: number): void {
    if (this.used + n > this.limit)
      throw new HttpError(
        503,
        'busy',
        `uploads in progress hold ${formatBytes(this.used)} of the server's ${formatBytes(this.limit)}; try again when they are done`,
        { 'retry-after': '10', connection: 'close' },
      );
    this.used += n;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

export interface UploadOptions {
  body: BodyLimits;
  inFlight: InFlightBytes;
  /** Folder for the per-upload temp directories. */
  root: string;
  /** Deadline of one upload's analysis (unpacking, reading, measuring) in its worker. */
  analysisTimeoutMs: number;
  signal: AbortSignal;
  /** Called once the whole body is on disk (the request's work deadline starts then). */
  onBodyReceived?: () => void;
}

/** Temp directories are named with the server's PID, so a later server can tell which ones are orphans. */
const PREFIX = 'filterdb-upload-';

/**
 * Removes upload temp directories a killed server left in `root`: those whose PID is no longer running,
 * those named before PIDs were part of the name once they are an hour old, and any older than a day (a PID
 * reused since).
 * Returns how many were removed.
 */
export async function cleanStaleUploads(root: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const path = join(root, name);
    const pid = /^(\d+)-/.exec(name.slice(PREFIX.length))?.[1];
    const st = await stat(path).catch(() => null);
    if (!st) continue;
    const age = Date.now() - st.mtimeMs;
    // a folder of an older server (no PID in its name) may still be in use for a while
    const stale = pid === undefined ? age > 3600_000 : !processAlive(Number(pid)) || age > 24 * 3600_000;
    if (stale) {
      await rm(path, { recursive: true, force: true }).catch(() => {});
      removed++;
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Receives, analyses and ingests one upload. `bundle`: the body is a zip of the model's files and `name` is
 * the main file in it (TF.js model.json, an index.json, an .onnx with external data).
 */
export async function ingestUpload(
  db: FilterDb,
  req: IncomingMessage,
  nameParam: string | null,
  bundle: boolean,
  o: UploadOptions,
): Promise<UploadAnswer> {
  const name = safeFileName(nameParam);
  const declared = req.headers['content-length'];
  let held = 0;
  // a declared size is reserved whole before anything is read; a chunked body as it arrives
  if (declared !== undefined && Number(declared) <= o.body.maxBytes) {
    o.inFlight.take(Number(declared));
    held = Number(declared);
  }
  let dir: string | null = null;
  try {
    dir = await mkdtemp(join(o.root, `${PREFIX}${process.pid}-`));
    const raw = join(dir, bundle ? 'upload.zip' : name);
    const size = await receiveToFile(req, raw, o, declared === undefined, (n) => {
      held += n;
    });
    o.onBodyReceived?.();
    if (size === 0)
      throw new HttpError(400, 'empty-body', 'the request body is empty (send the model file bytes)');
    const modelDir = bundle ? join(dir, 'model') : dir;
    const main = join(modelDir, name);
    const analysed = await analyseInWorker(
      {
        path: main,
        bundle: bundle ? { zip: raw, dir: modelDir, name, maxUnpacked: size * 4 + (64 << 20) } : undefined,
        // spectral metrics at ingest, as `filterdb ingest` computes them by default
        spectral: true,
      },
      o.analysisTimeoutMs,
      o.signal,
      name,
    );
    const shown = (text: string) => text.replaceAll(`${modelDir}/`, '').replaceAll(`${dir}/`, '');
    return await serial(async () => {
      o.signal.throwIfAborted();
      const r = await ingestAnalysed(db, analysed, { spectral: true });
      if (r.status === 'failed')
        throw new HttpError(422, 'not-a-model', shown(r.error ?? `${name}: cannot read`));
      return answer(db, name, r);
    });
  } finally {
    o.inFlight.give(held);
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** Streams the body to `path`; `grow` is told of bytes taken from the in-flight budget chunk by chunk. */
async function receiveToFile(
  req: IncomingMessage,
  path: string,
  o: UploadOptions,
  chunked: boolean,
  grow: (n: number) => void,
): Promise<number> {
  let file: FileHandle | null = await open(path, 'w');
  try {
    const size = await receiveBody(
      req,
      o.body,
      async (chunk) => {
        if (chunked) {
          o.inFlight.take(chunk.length);
          grow(chunk.length);
        }
        await file!.write(chunk);
      },
      o.signal,
    );
    await file.close();
    file = null;
    return size;
  } finally {
    await file?.close();
  }
}

/** One analysis at a time: each holds a whole model's weights. */
let analyses: Promise<unknown> = Promise.resolve();

/**
 * Runs upload-worker.ts on `request`, after the analyses queued before it. The worker is terminated when
 * `timeoutMs` pass (422 `corrupt`: a file that makes a reader spin) or `signal` aborts (the request's own
 * deadline, or the client left).
 */
export function analyseInWorker(
  request: AnalyseRequest,
  timeoutMs: number,
  signal: AbortSignal,
  name: string,
): Promise<AnalysedModel> {
  const run = () => {
    signal.throwIfAborted();
    return new Promise<AnalysedModel>((resolve, reject) => {
      const worker = new Worker(new URL('./upload-worker.js', import.meta.url), {
        workerData: request,
        // a reader that runs the heap out ends this thread (ERR_WORKER_OUT_OF_MEMORY), not the server
        resourceLimits: { maxOldGenerationSizeMb: 1536 },
      });
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        worker.terminate().catch(() => {});
        fn();
      };
      const timer = setTimeout(
        () =>
          settle(() =>
            reject(
              new HttpError(
                422,
                'corrupt',
                `${name}: the analysis did not finish within ${timeoutMs / 1000} s and was stopped (a corrupt file, one built to make a reader spin, or a model too big for this server's --analysis-timeout); nothing was stored`,
              ),
            ),
          ),
        timeoutMs,
      );
      const onAbort = () => settle(() => reject(signal.reason));
      signal.addEventListener('abort', onAbort);
      worker.once('message', (reply: AnalyseReply) =>
        settle(() => {
          if ('analysed' in reply) resolve(reply.analysed);
          else if ('refused' in reply)
            reject(new HttpError(reply.refused.status, reply.refused.code, reply.refused.message));
          else reject(new HttpError(422, 'not-a-model', stripDirs(reply.failed, request)));
        }),
      );
      worker.once('error', (e) =>
        settle(() =>
          reject(
            /ERR_WORKER_OUT_OF_MEMORY/.test(String((e as NodeJS.ErrnoException).code))
              ? new HttpError(413, 'too-large', `${name}: analysing it ran out of the worker's memory`)
              : new HttpError(422, 'not-a-model', `${name}: ${stripDirs(e.message, request)}`),
          ),
        ),
      );
      worker.once('exit', () =>
        settle(() => reject(new HttpError(500, 'internal', `${name}: the analysis worker exited`))),
      );
    });
  };
  const next = analyses.then(run, run);
  analyses = next.catch(() => {});
  return next;
}

function stripDirs(text: string, request: AnalyseRequest): string {
  const dir = request.bundle ? request.bundle.dir : request.path.slice(0, request.path.lastIndexOf('/'));
  return text.replaceAll(`${dir}/`, '');
}

async function answer(db: FilterDb, name: string, r: ModelResult): Promise<UploadAnswer> {
  if ((r.status === 'added' || r.status === 'replaced') && r.modelId !== undefined) {
    // the temp file is gone after this request: record where the model came from instead
    await db.connection.run('UPDATE models SET file = $1 WHERE model_id = $2', [`upload:${name}`, r.modelId]);
  }
  let modelId = r.modelId ?? null;
  let duplicateOf: string | undefined;
  if (r.status === 'duplicate' && r.duplicateOf) {
    // name the stored model, never the file path it was ingested from (a path on the server's disk)
    const rows = (
      await db.connection.runAndReadAll('SELECT model_id, name FROM models WHERE file = $1', [r.duplicateOf])
    ).getRowsJS();
    if (rows.length) {
      modelId = Number(rows[0][0]);
      duplicateOf = String(rows[0][1]);
    }
  }
  const message =
    r.status === 'duplicate'
      ? `${name} is already in the database (same bytes as model ${duplicateOf ?? '?'}${modelId === null ? '' : `, id ${modelId}`})`
      : `${name}: ${r.status}, ${r.layers ?? 0} conv layers, ${r.filters ?? 0} filters stored`;
  return {
    status: r.status,
    modelId,
    name: r.name,
    layers: r.layers,
    filters: r.filters,
    duplicateOf,
    message,
  };
}
