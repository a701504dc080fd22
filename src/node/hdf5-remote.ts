/**
 * Node-only: HDF5 files opened in a worker thread with a deadline on every call (issue 17).
 *
 * libhdf5 (h5wasm) is synchronous C code running inside wasm: a corrupt structure that makes it loop (a
 * global heap whose free-space size is 0 was one; hdf5.ts now checks those, but others may exist) cannot be
 * interrupted on its own thread, and after a few thousand failed opens one module instance starts failing
 * valid files ("memory access out of bounds"). So every `openHdf5` in a Node process that imports this
 * module goes to one worker that owns the h5wasm instance:
 * - each call is a synchronous round trip (the worker answers on a MessagePort and wakes this thread with
 *   Atomics.notify; `receiveMessageOnPort` takes the answer), so callers keep the synchronous Hdf5File API;
 * - a call that does not answer within the deadline (FILTERDB_HDF5_DEADLINE_MS, default 10 s) terminates the
 *   worker and fails with a typed `corrupt` error naming the file; files still open on it fail from then on;
 * - after {@link FAILURE_BUDGET} failed opens or calls the worker is retired once no file is open on it, and
 *   the next open starts a fresh one (a fresh h5wasm instance: whatever failed opens leaked is gone).
 * Results cross as structured clones (a 1 M-row block of /filters: 36 MB copied, ~10 ms).
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type ErrorCode, FilterDbError } from '../errors.js';
import {
  type Hdf5File,
  type Hdf5Input,
  type Hdf5NodeKind,
  type OpenHdf5Options,
  setHdf5Opener,
} from '../formats/io/hdf5.js';
import type { ByteSource } from '../formats/io/source.js';

/** Failed opens or calls a worker absorbs before it is replaced (h5wasm broke after ~530–2260). */
export const FAILURE_BUDGET = 200;
const DEFAULT_DEADLINE_MS = 10_000;
/** Starting a worker loads and compiles h5wasm's 4 MB of wasm: the first open gets this much longer. */
const STARTUP_ALLOWANCE_MS = 20_000;

type Request =
  | { op: 'open'; input: { path: string; name: string } | { bytes: Uint8Array; name: string } }
  | { op: 'call'; file: number; method: string; args: unknown[] };
export type WorkerRequest = Request & { seq: number };

export type WorkerResponse =
  | { seq: number; ok: true; value: unknown }
  | { seq: number; ok: false; error: { code: ErrorCode | null; file: string; message: string } };

function deadlineMs(): number {
  const v = Number(process.env.FILTERDB_HDF5_DEADLINE_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_DEADLINE_MS;
}

class Hdf5Worker {
  readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private seq = 0;
  private started = false;
  failures = 0;
  openFiles = 0;
  dead = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(fileURLToPath(new URL('./hdf5-worker.js', import.meta.url)), {
      workerData: { port: port2, flag: this.flag },
      transferList: [port2],
    });
    this.worker.unref();
    this.port.unref();
    this.worker.on('error', () => this.retire());
  }

  /** Sends `req` and blocks until the answer or the deadline; `name` names the file in errors. */
  request(req: Request, name: string, what: string): unknown {
    if (this.dead)
      throw new FilterDbError(
        'corrupt',
        name,
        `HDF5 ${what}: the HDF5 worker was stopped after an earlier failure`,
      );
    const seq = ++this.seq;
    this.worker.postMessage({ ...req, seq });
    const limit = deadlineMs() + (this.started ? 0 : STARTUP_ALLOWANCE_MS);
    const until = Date.now() + limit;
    for (;;) {
      const seen = Atomics.load(this.flag, 0);
      if (seen === seq) break;
      const left = until - Date.now();
      if (left <= 0 || Atomics.wait(this.flag, 0, seen, left) === 'timed-out') {
        if (Atomics.load(this.flag, 0) === seq) break;
        this.retire();
        throw new FilterDbError(
          'corrupt',
          name,
          `HDF5 ${what} did not finish within ${limit} ms (a corrupt structure can make libhdf5 loop); stopped`,
        );
      }
    }
    this.started = true;
    const msg = receiveMessageOnPort(this.port)?.message as WorkerResponse | undefined;
    if (!msg || msg.seq !== seq) {
      this.retire();
      throw new FilterDbError('corrupt', name, `HDF5 ${what}: the HDF5 worker answered out of turn`);
    }
    if (msg.ok) return msg.value;
    this.failures++;
    const { code, file, message } = msg.error;
    // An aborted wasm instance fails everything after: replace it now rather than after the budget.
    if (/Aborted\(/.test(message)) this.failures = Math.max(this.failures, FAILURE_BUDGET);
    if (code)
      throw new FilterDbError(
        code,
        file,
        message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message,
      );
    throw new FilterDbError('corrupt', name, `HDF5 ${what} failed: ${message}`);
  }

  retire(): void {
    if (this.dead) return;
    this.dead = true;
    void this.worker.terminate();
    if (current === this) current = null;
  }
}

let current: Hdf5Worker | null = null;

function workerForOpen(): Hdf5Worker {
  if (current && current.failures >= FAILURE_BUDGET && current.openFiles === 0) current.retire();
  current ??= new Hdf5Worker();
  return current;
}

/** Bytes of an input that has no path the worker could open itself. */
async function inputBytes(
  input: ByteSource | (Hdf5Input & { readSync: unknown }),
  limit: number,
): Promise<Uint8Array> {
  const src = input as ByteSource & { readSync?: (offset: number, target: Uint8Array) => number };
  if (src.size > limit)
    throw new FilterDbError(
      'too-large',
      src.name,
      `HDF5 file of ${src.size} bytes exceeds the in-memory limit of ${limit} bytes; open it by path`,
    );
  if (typeof src.read === 'function') return src.read(0, src.size);
  const bytes = new Uint8Array(src.size);
  src.readSync?.(0, bytes);
  return bytes;
}

/** {@link openHdf5} through the worker (installed by importing this module). */
export async function openRemoteHdf5(input: Hdf5Input, options: OpenHdf5Options = {}): Promise<Hdf5File> {
  const named = input as { path?: unknown; name?: string };
  let payload: { path: string; name: string } | { bytes: Uint8Array; name: string };
  if (typeof named.path === 'string') payload = { path: named.path, name: named.name ?? named.path };
  else {
    const src = input as ByteSource;
    payload = { bytes: await inputBytes(src, options.maxInMemoryBytes ?? 2 ** 31), name: src.name };
  }
  const w = workerForOpen();
  const opened = w.request({ op: 'open', input: payload }, payload.name, 'open') as {
    file: number;
    name: string;
    size: number;
  };
  w.openFiles++;
  return remoteFile(w, opened.file, opened.name, opened.size);
}

function remoteFile(w: Hdf5Worker, id: number, name: string, size: number): Hdf5File {
  let closed = false;
  const call = (method: string, args: unknown[]): unknown => {
    if (closed) throw new FilterDbError('corrupt', name, `HDF5 ${method} after close`);
    return w.request({ op: 'call', file: id, method, args }, name, method);
  };
  const file: Hdf5File = {
    name,
    size,
    get ioStats() {
      return call('ioStats', []) as { reads: number; bytes: number };
    },
    kind: (path) => call('kind', [path]) as Hdf5NodeKind,
    isGroup: (path) => call('isGroup', [path]) as boolean,
    isDataset: (path) => call('isDataset', [path]) as boolean,
    keys: (path = '/') => call('keys', [path]) as string[],
    attributeNames: (path = '/') => call('attributeNames', [path]) as string[],
    hasAttribute: (path, attr) => call('hasAttribute', [path, attr]) as boolean,
    attribute: (path, attr) => call('attribute', [path, attr]),
    attrString: (path, attr) => call('attrString', [path, attr]) as string | null,
    attrStrings: (path, attr) => call('attrStrings', [path, attr]) as string[] | null,
    attrNumber: (path, attr) => call('attrNumber', [path, attr]) as number | null,
    attrBytes: (path, attr) => call('attrBytes', [path, attr]) as Uint8Array | null,
    datasetInfo: (path) => call('datasetInfo', [path]) as ReturnType<Hdf5File['datasetInfo']>,
    readRaw: (path, slice) => call('readRaw', [path, slice]) as ReturnType<Hdf5File['readRaw']>,
    readFloats: ((...args: unknown[]) => call('readFloats', args)) as Hdf5File['readFloats'],
    readCompound: ((...args: unknown[]) => call('readCompound', args)) as Hdf5File['readCompound'],
    filterIds: (path) => call('filterIds', [path]) as number[],
    readValue: (path) => call('readValue', [path]),
    walk(path, visit) {
      // the same walk as LocalHdf5File's, over remote keys/kind (the callback stays on this thread)
      let budget = 1_000_000;
      const rec = (p: string, depth: number) => {
        for (const key of file.keys(p)) {
          if (--budget < 0) throw new FilterDbError('corrupt', name, 'HDF5 hierarchy too large or cyclic');
          const child = p === '/' ? `/${key}` : `${p}/${key}`;
          const kind = file.kind(child);
          const descend = visit(child, kind);
          if (kind === 'group' && descend !== false && depth < 64) rec(child, depth + 1);
        }
      };
      const start = path.replace(/^\/+/, '').replace(/\/+$/, '');
      rec(start === '' ? '/' : `/${start}`, 0);
    },
    close() {
      if (closed) return;
      closed = true;
      w.openFiles--;
      if (!w.dead) {
        try {
          w.request({ op: 'call', file: id, method: 'close', args: [] }, name, 'close');
        } catch {
          // the worker is gone or the file was already broken: nothing is left to release here
        }
        if (w.failures >= FAILURE_BUDGET && w.openFiles === 0) w.retire();
      }
    },
  };
  return file;
}

setHdf5Opener(openRemoteHdf5);
