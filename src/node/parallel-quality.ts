/**
 * Node-only: `measureLayer` on a small worker_threads pool, for the CLI's `quality` on big models.
 *
 * Each worker runs exactly the code of the single-threaded path (`measureLayer`, same WebAssembly/JS Gram
 * kernel choice), so the results are bit-for-bit the same; only the order in which layers finish changes.
 * {@link QualityPool.measureBatch} is a `LayerBatchMeasurer` for `qualityReport` (metrics/layer-report.ts):
 * layers go out largest first (by weight count, known from the shape before reading), at most `size + 1`
 * weights are read ahead of the workers, and results come back in layer order.
 *
 * Weights are moved, not copied: an array that owns its whole ArrayBuffer is transferred (it is detached
 * afterwards — the caller must not use it again); a view into a larger buffer is copied first (transferring
 * would detach the whole buffer).
 *
 * Start-up: a worker costs ~40 ms (thread, isolate, module graph, wasm compile); that only pays off above
 * {@link POOL_MIN_WEIGHTS} weights — see {@link shouldUsePool}. This module is also the worker's entry point
 * (it recognises itself by its `workerData` tag).
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  measureLayerFull as measureLayer,
  plainMeasureOptions,
  type MeasureOptions as QualityOptions,
} from '../metrics/layer-measure.js';
import type { LayerMeasurement, MeasureJob } from '../metrics/layer-report.js';
import { MetricLimitError } from '../metrics/quality.js';
import { elementCount, type WeightArray } from '../model/types.js';

const WORKER_TAG = 'filterdb:quality-worker';

/** Default and maximum pool size: the machine's parallelism, at most this many workers. */
export const MAX_POOL_SIZE = 4;

/**
 * Below this many weights (over all layers to measure) the CLI measures on the main thread: starting workers
 * costs more than they save. Measured with bench/metrics.ts on the 2-core VM: start-up (thread, isolate,
 * modules, wasm compile) ~40 ms for one worker, ~60 ms for two; the serial pass runs at ~23 M weights/s on
 * ResNet-50 3×3 shapes, so two workers break even around 60 ms × 46 M/s ≈ 2.8 M weights; 4 M keeps a margin.
 */
export const POOL_MIN_WEIGHTS = 4_000_000;

interface SingleRequest {
  id: number;
  weight: WeightArray;
  shape: number[];
  options: QualityOptions;
}

/** Several layers in one message; the weights come back (transferred) with the results. */
interface BatchRequest {
  id: number;
  batch: true;
  weights: WeightArray[];
  shapes: number[][];
  options: QualityOptions;
}

/** Asks an idle worker to close its port and exit on its own (see {@link QualityPool.close}). */
interface ExitRequest {
  exit: true;
}

type Request = SingleRequest | BatchRequest;

/** What {@link QualityPool.measureMany} resolves to: results in input order, and the weights handed back. */
export interface BatchMeasurement {
  results: LayerMeasurement[];
  weights: WeightArray[];
}

/** The worker's first message: its module graph is loaded and its message handler is listening. */
interface ReadyMessage {
  ready: true;
}

type Response =
  | { id: number; ok: true; result: LayerMeasurement }
  | { id: number; ok: true; batch: BatchMeasurement }
  | { id: number; ok: false; name: string; message: string };

interface Task {
  request: Request;
  transfer: ArrayBuffer[];
  /** Resolves a LayerMeasurement (single request) or a BatchMeasurement (batch request). */
  resolve: (r: LayerMeasurement | BatchMeasurement) => void;
  reject: (e: Error) => void;
}

/** True when measuring layers with these shapes is worth a pool (and the machine has more than one core). */
export function shouldUsePool(
  shapes: readonly (readonly number[])[],
  minWeights = POOL_MIN_WEIGHTS,
): boolean {
  if (availableParallelism() < 2) return false;
  let total = 0;
  for (const s of shapes) total += elementCount(s);
  return total >= minWeights;
}

export function defaultPoolSize(): number {
  return Math.max(1, Math.min(MAX_POOL_SIZE, availableParallelism()));
}

/** Copies `w` when it is a view into a larger (or shared) buffer, so its buffer can be transferred. */
function transferable(w: WeightArray): { weight: WeightArray; transfer: ArrayBuffer[] } {
  const buf = w.buffer;
  if (buf instanceof ArrayBuffer && w.byteOffset === 0 && w.byteLength === buf.byteLength) {
    return { weight: w, transfer: [buf] };
  }
  const copy = w.slice();
  return { weight: copy, transfer: [copy.buffer as ArrayBuffer] };
}

export class QualityPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly running = new Map<Worker, Task>();
  private nextId = 0;
  /** Workers whose thread has ended. */
  private readonly exited = new Map<Worker, number>();
  /** Workers that have finished starting (sent their {@link ReadyMessage}): only these may be terminated. */
  private readonly ready = new Set<Worker>();
  private failure: Error | null = null;
  private closed = false;

  /** Starts `size` workers (default: available parallelism, at most {@link MAX_POOL_SIZE}). */
  constructor(size = defaultPoolSize()) {
    this.size = Math.max(1, Math.floor(size));
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(new URL(import.meta.url), { workerData: { tag: WORKER_TAG } });
      worker.on('message', (msg: Response | ReadyMessage) => {
        if ('ready' in msg) this.ready.add(worker);
        else this.settle(worker, msg);
      });
      worker.on('error', (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
      worker.on('exit', (code) => {
        this.exited.set(worker, code);
        if (!this.closed) this.fail(new Error(`quality worker exited unexpectedly (code ${code})`));
      });
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  /** `measureLayer(weight, shape, options)` on a worker. The weight's buffer is transferred (see the file comment). */
  measure(
    weight: WeightArray,
    shape: readonly number[],
    options: QualityOptions = {},
  ): Promise<LayerMeasurement> {
    if (this.closed) return Promise.reject(new Error('quality pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const { weight: w, transfer } = transferable(weight);
    const plain = plainMeasureOptions(options);
    return new Promise((resolve, reject) => {
      this.queue.push({
        request: { id: this.nextId++, weight: w, shape: [...shape], options: plain },
        transfer,
        resolve: resolve as Task['resolve'],
        reject,
      });
      this.pump();
    });
  }

  /**
   * `measureLayer` on each of `items` in one message to one worker (for many small layers: one round trip
   * instead of one per layer). The weights are transferred there and back: the arrays passed in are detached
   * (views are copied first, see the file comment); use the ones in the result. Rejects with the first
   * layer's error.
   */
  measureMany(
    items: readonly { weight: WeightArray; shape: readonly number[] }[],
    options: QualityOptions = {},
  ): Promise<BatchMeasurement> {
    if (this.closed) return Promise.reject(new Error('quality pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const weights: WeightArray[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const item of items) {
      const t = transferable(item.weight);
      // the same buffer twice cannot be transferred twice: copy the second one
      if (transfer.includes(t.transfer[0])) {
        const copy = t.weight.slice();
        weights.push(copy);
        transfer.push(copy.buffer as ArrayBuffer);
      } else {
        weights.push(t.weight);
        transfer.push(...t.transfer);
      }
    }
    const plain = plainMeasureOptions(options);
    return new Promise((resolve, reject) => {
      this.queue.push({
        request: {
          id: this.nextId++,
          batch: true,
          weights,
          shapes: items.map((i) => [...i.shape]),
          options: plain,
        },
        transfer,
        resolve: resolve as Task['resolve'],
        reject,
      });
      this.pump();
    });
  }

  /**
   * A `LayerBatchMeasurer`: all jobs, largest first, results in job order. Weights are loaded on this thread
   * just ahead of the workers (at most `size + 1` in flight).
   */
  readonly measureBatch = async (
    jobs: readonly MeasureJob[],
    options: QualityOptions,
    onDone: () => void,
  ): Promise<LayerMeasurement[]> => {
    const order = jobs
      .map((job, index) => ({ index, size: elementCount(job.shape) }))
      .sort((a, b) => b.size - a.size || a.index - b.index)
      .map((o) => o.index);
    const results: LayerMeasurement[] = new Array(jobs.length);
    let next = 0;
    let failed = false;
    const lane = async (): Promise<void> => {
      while (next < order.length && !failed) {
        const index = order[next++];
        const job = jobs[index];
        try {
          results[index] = await this.measure(await job.load(), job.shape, options);
        } catch (e) {
          failed = true;
          throw e;
        }
        onDone();
      }
    };
    const lanes = Array.from({ length: Math.min(this.size + 1, order.length) }, lane);
    const settled = await Promise.allSettled(lanes);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    return results;
  };

  /**
   * Stops the workers; pending work is rejected. Idle workers are asked to exit and end on their own (their
   * port closes, their event loop empties): `terminate()` stops a thread wherever it is — while it is still
   * starting (loading modules, compiling the wasm kernel; slow on a loaded machine) or while V8 tiers up code
   * in the background — and runtimes have crashed the whole process there (nodejs/node#38418: "FATAL ERROR:
   * v8::ToLocalChecked Empty MaybeLocal" from a terminate during start-up). Only a worker that has started
   * (sent its ready message) and is busy with a layer is terminated, since its result is no longer wanted; a
   * busy worker still starting gets the exit request behind its layer and ends after it. Resolves to the
   * workers' exit codes (0 for a worker that ended by itself, 1 for a terminated one); a second call resolves
   * to [].
   */
  async close(): Promise<number[]> {
    if (this.closed) return [];
    this.closed = true;
    const error = new Error('quality pool is closed');
    for (const t of this.queue.splice(0)) t.reject(error);
    for (const t of this.running.values()) t.reject(error);
    const busy = new Set(this.running.keys());
    this.running.clear();
    return Promise.all(
      this.workers.map((w) => {
        if (this.exited.has(w)) return this.exited.get(w)!;
        const exited = new Promise<number>((resolve) => w.once('exit', resolve));
        if ((busy.has(w) || this.failure) && this.ready.has(w)) void w.terminate();
        else w.postMessage({ exit: true } satisfies ExitRequest);
        return exited;
      }),
    );
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const task = this.queue.shift()!;
      this.running.set(worker, task);
      worker.postMessage(task.request, task.transfer);
    }
  }

  private settle(worker: Worker, msg: Response): void {
    const task = this.running.get(worker);
    if (!task || task.request.id !== msg.id) return;
    this.running.delete(worker);
    this.idle.push(worker);
    if (msg.ok) task.resolve('batch' in msg ? msg.batch : msg.result);
    else {
      const e =
        msg.name === 'MetricLimitError'
          ? new MetricLimitError(msg.message)
          : msg.name === 'RangeError'
            ? new RangeError(msg.message)
            : new Error(msg.message);
      task.reject(e);
    }
    this.pump();
  }

  private fail(e: Error): void {
    if (this.failure || this.closed) return;
    this.failure = e;
    for (const t of this.queue.splice(0)) t.reject(e);
    for (const t of this.running.values()) t.reject(e);
    this.running.clear();
    void this.close();
  }
}

/**
 * Runs `work` with a pool when {@link shouldUsePool} says the layers are big enough, else with no pool
 * (`undefined`: measure on this thread); the pool is closed afterwards either way.
 */
export async function withQualityPool<T>(
  shapes: readonly (readonly number[])[],
  work: (pool: QualityPool | undefined) => Promise<T>,
  minWeights = POOL_MIN_WEIGHTS,
): Promise<T> {
  if (!shouldUsePool(shapes, minWeights)) return work(undefined);
  const pool = new QualityPool();
  try {
    return await work(pool);
  } finally {
    await pool.close();
  }
}

// Worker side.
if (!isMainThread && parentPort && (workerData as { tag?: string } | null)?.tag === WORKER_TAG) {
  const port = parentPort;
  port.on('message', (req: Request | ExitRequest) => {
    if ('exit' in req) {
      port.close(); // nothing else keeps this thread alive: it ends by itself
      return;
    }
    let msg: Response;
    let transfer: ArrayBuffer[] = [];
    try {
      if ('batch' in req) {
        const results = req.weights.map((w, i) => measureLayer(w, req.shapes[i], req.options));
        msg = { id: req.id, ok: true, batch: { results, weights: req.weights } };
        transfer = req.weights.map((w) => w.buffer as ArrayBuffer);
      } else {
        msg = { id: req.id, ok: true, result: measureLayer(req.weight, req.shape, req.options) };
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      msg =
        e instanceof MetricLimitError
          ? { id: req.id, ok: false, name: 'MetricLimitError', message: e.detail }
          : { id: req.id, ok: false, name: err.name, message: err.message };
    }
    port.postMessage(msg, transfer);
  });
  port.postMessage({ ready: true } satisfies ReadyMessage);
}
