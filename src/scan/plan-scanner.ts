/**
 * Node-only: scanning a planned selection (selection.ts). The passes stream the `filters` table in DuckDB's
 * columnar chunks through filter-scan.ts into the WebAssembly SIMD kernels (analysis/wasm/scan.ts). Large
 * selections are split by filter count, at superblock boundaries (scan-passes.ts: the same bits for any
 * number of workers), into two parts scanned by two threads (each with its own read-only DuckDB instance),
 * merged afterwards in order.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import duckdb from '@duckdb/node-bindings';
import type { BatchSource } from '../analysis/shift.js';
import { SCAN_BLOCK } from '../analysis/wasm/scan.js';
import { FilterDbError } from '../errors.js';
import {
  DIMS,
  type IdRange,
  mergeScanResults,
  openScanDb,
  openScanSource,
  type PassSpec,
  runScan,
  type ScanResult,
  type ScanTask,
  superblockRows,
} from './filter-scan.js';
import { closeScanWorkers, takeScanWorkers } from './scan-workers.js';
import { firstLine, type SelectionPlan } from './selection.js';

interface ScanPart {
  ranges: IdRange[];
  /** Rows of selected layers in the part. */
  count: number;
  /** Every row in `ranges` belongs to a selected layer. */
  exact: boolean;
}

/**
 * Merged filter_id intervals of the plan's layers, split into `n` parts of about equal filter counts; every
 * part but the first starts at a multiple of `align` selected filters (the superblock, scan-passes.ts).
 */
export function splitPlan(plan: SelectionPlan, n: number, align = 1): ScanPart[] {
  const merged: IdRange[] = [];
  for (const l of plan.layers) {
    const last = merged[merged.length - 1];
    if (last && last.hi === l.first) last.hi = l.first + l.count;
    else merged.push({ lo: l.first, hi: l.first + l.count });
  }
  const target = plan.filterCount / n;
  const parts: IdRange[][] = Array.from({ length: n }, () => []);
  let acc = 0;
  let p = 0;
  for (const r of merged) {
    let lo = r.lo;
    while (lo < r.hi) {
      const room =
        p === n - 1 ? Number.POSITIVE_INFINITY : Math.round((target * (p + 1)) / align) * align - acc;
      if (room <= 0) {
        p++;
        continue;
      }
      const take = Math.min(r.hi - lo, room);
      parts[p].push({ lo, hi: lo + take });
      acc += take;
      lo += take;
    }
  }
  return parts
    .filter((p) => p.length > 0)
    .map((ranges) => {
      const count = ranges.reduce((s, r) => s + r.hi - r.lo, 0);
      // many small intervals → scan the hull and drop unselected layers in the kernel
      if (ranges.length > 64) {
        const hull = { lo: ranges[0].lo, hi: ranges[ranges.length - 1].hi };
        return { ranges: [hull], count, exact: hull.hi - hull.lo === count };
      }
      return { ranges, count, exact: true };
    });
}

export interface ScanOptions {
  /**
   * Scan threads (default: 2 on ≥ 2 cores when the selection holds ≥ 2 M filters, else in-thread). Worker
   * threads, or with `shareThisThread`, this thread and one worker less.
   */
  workers?: number;
  /**
   * This thread scans one of the parts itself (yielding to its event loop every ~1 M rows): a command line
   * with nothing else to do saves starting a worker (~150 ms of CPU on 2 cores). A server leaves it unset.
   */
  shareThisThread?: boolean;
  onProgress?: (filters: number, pass: string) => void;
  /** Stops the scan (the server's request deadline, or its client leaving): the pass rejects with its reason. */
  signal?: AbortSignal;
}

/** Runs one pass over the plan in parallel parts and merges the results. */
export class PlanScanner {
  private pool: Worker[] = [];
  /** The in-thread instance (no workers), opened on the first pass. */
  private local: ReturnType<typeof openScanSource> | null = null;
  private nextId = 0;
  private readonly parts: ScanPart[];
  private readonly selected: Uint8Array;
  private readonly superRows: number;
  constructor(
    readonly path: string,
    readonly plan: SelectionPlan,
    private readonly options: ScanOptions = {},
  ) {
    const cores = Math.max(1, availableParallelism());
    const n = options.workers ?? (plan.filterCount >= 2_000_000 ? Math.min(2, cores) : 0);
    this.superRows = superblockRows(plan.filterCount);
    this.parts = splitPlan(plan, Math.max(1, n), this.superRows);
    this.selected = new Uint8Array(plan.layerSpan);
    for (const l of plan.layers) this.selected[l.layerId] = 1;
    this.share = options.shareThisThread === true;
    const workers = Math.min(n, this.parts.length) - (this.share ? 1 : 0);
    if (this.parts.length > 1 && workers > 0) this.pool = takeScanWorkers(path, workers);
  }

  private readonly share: boolean;

  /**
   * Runs `tasks` (in order) on this thread and the workers, contiguous runs of them each: this thread takes
   * the first run when it shares the work, else everything runs here when there are no workers.
   */
  private async distribute(tasks: ScanTask[], progress: (rows: number) => void): Promise<ScanResult[]> {
    const signal = this.options.signal;
    signal?.throwIfAborted();
    // this thread's own scan stops itself at its next report; it must finish before close() frees its source
    if (!signal || this.pool.length === 0 || this.share) return this.spread(tasks, progress);
    // workers cannot be reached mid-task: an abort ends them (close() then finds none left)
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        const workers = this.pool;
        this.pool = [];
        for (const w of workers) w.terminate().catch(() => {});
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([this.spread(tasks, progress), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async spread(tasks: ScanTask[], progress: (rows: number) => void): Promise<ScanResult[]> {
    if (this.pool.length === 0) return this.inThread(tasks, progress);
    const lanes = this.pool.length + (this.share ? 1 : 0);
    const runs: ScanTask[][] = Array.from({ length: lanes }, () => []);
    tasks.forEach((t, i) => {
      runs[Math.floor((i * lanes) / tasks.length)].push(t);
    });
    const local = this.share ? runs.shift()! : [];
    // post to the workers first, then scan here
    const remote = runs.map((run, w) =>
      Promise.all(run.map((t) => this.onWorker(this.pool[w], t, progress))),
    );
    const here = local.length > 0 ? await this.inThread(local, progress) : [];
    return [...here, ...(await Promise.all(remote)).flat()];
  }

  async run(pass: PassSpec, label: string): Promise<ScanResult> {
    let done = 0;
    const progress = (rows: number) => {
      done += rows;
      this.options.onProgress?.(done, label);
    };
    const tasks: ScanTask[] = this.parts.map((p) => ({
      path: this.path,
      ranges: p.ranges,
      selected: p.exact ? null : this.selected,
      pass,
      superRows: this.superRows,
      threads: this.pool.length > 0 ? 1 : undefined,
      kernel: this.plan.kernel,
    }));
    const results = await this.distribute(tasks, progress);
    const out: ScanResult = { rows: 0 };
    for (const r of results) mergeScanResults(out, r);
    return out;
  }

  /**
   * Runs one pass over each of `ranges` (all selected), one query per range (a single filter_id interval
   * prunes row groups by their zone maps; an OR of them does not), merged in order — for small samples. On
   * the scan threads as the parts are ({@link distribute}), contiguous runs of ranges each.
   */
  async runSample(ranges: IdRange[], pass: PassSpec): Promise<ScanResult> {
    const tasks: ScanTask[] = ranges.map((r) => ({
      path: this.path,
      ranges: [r],
      selected: null,
      pass,
      superRows: SCAN_BLOCK,
      kernel: this.plan.kernel,
    }));
    const results = await this.distribute(tasks, () => {});
    const out: ScanResult = { rows: 0 };
    for (const r of results) mergeScanResults(out, r);
    return out;
  }

  /**
   * Runs tasks one after the other in this thread, on one DuckDB instance kept for every pass of this
   * scanner: a fresh instance per pass would warm up its buffer pool (page faults) each time.
   */
  private async inThread(tasks: ScanTask[], progress?: (rows: number) => void): Promise<ScanResult[]> {
    // beside workers, one DuckDB thread: the other cores are theirs
    this.local ??= openScanSource(this.path, this.pool.length > 0 ? 1 : undefined);
    const source = await this.local; // failing to open is not a failed scan: its error goes out as it is
    try {
      const signal = this.options.signal;
      // an abort ends the scan loop at its next report (~1 M rows)
      const report = (rows: number) => {
        progress?.(rows);
        signal?.throwIfAborted();
      };
      const results: ScanResult[] = [];
      for (const t of tasks) {
        signal?.throwIfAborted();
        results.push(await runScan(t, report, source));
      }
      return results;
    } catch (e) {
      if (this.options.signal?.aborted) throw this.options.signal.reason;
      throw new FilterDbError('corrupt', this.path, `scan failed: ${firstLine(e)}`);
    }
  }

  private onWorker(w: Worker, task: ScanTask, progress: (rows: number) => void): Promise<ScanResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (m: { id: number; progress?: number; result?: ScanResult; error?: string }) => {
        if (m.id !== id) return;
        if (m.progress !== undefined) progress(m.progress);
        else {
          w.off('message', onMessage);
          w.off('error', onError);
          if (m.error !== undefined)
            reject(new FilterDbError('corrupt', this.path, `scan failed: ${m.error}`));
          else resolve(m.result!);
        }
      };
      const onError = (e: Error) => {
        w.off('message', onMessage);
        reject(e);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.postMessage({ id, task });
    });
  }

  /** Closes the workers' DuckDB instances, then the workers. */
  async close(): Promise<void> {
    await closeScanWorkers(this.pool);
    this.pool = [];
    const local = this.local;
    this.local = null;
    if (local) (await local.catch(() => null))?.close();
  }
}

/**
 * `windows` runs of `size` consecutive selected filters evenly spread over the selection (all of it when
 * smaller), as filter_id intervals: the sample of the approximate basis.
 */
export function sampleRanges(plan: SelectionPlan, windows = 8, size = 8192): IdRange[] {
  const merged: IdRange[] = [];
  for (const l of plan.layers) {
    const last = merged[merged.length - 1];
    if (last && last.hi === l.first) last.hi = l.first + l.count;
    else merged.push({ lo: l.first, hi: l.first + l.count });
  }
  const n = plan.filterCount;
  if (windows < 2 || n <= windows * size) return merged;
  const out: IdRange[] = [];
  let i = 0;
  let before = 0; // selected filters before merged[i]
  for (let w = 0; w < windows; w++) {
    let pos = Math.floor((w * (n - size)) / (windows - 1));
    let left = size;
    while (left > 0) {
      while (before + (merged[i].hi - merged[i].lo) <= pos) {
        before += merged[i].hi - merged[i].lo;
        i++;
      }
      const lo = merged[i].lo + (pos - before);
      const take = Math.min(left, merged[i].hi - lo);
      out.push({ lo, hi: lo + take });
      left -= take;
      pos += take;
    }
  }
  return out;
}

/**
 * The plan's filters as a `BatchSource` (analysis/shift.ts): row-major Float32Array batches, one group per
 * batch (a DuckDB chunk is split where the group changes). For the in-memory analysis code and tests; the
 * store's own passes use the columnar kernels directly. 3x3 plans only.
 */
export function storeBatchSource(path: string, plan: SelectionPlan): BatchSource {
  if (plan.kernel.kh !== 3 || plan.kernel.kw !== 3)
    throw new RangeError('storeBatchSource reads 3x3 filters (the `filters` table) only');
  const planned = new Map(plan.layers.map((l) => [l.layerId, l]));
  const parts = splitPlan(plan, 1);
  return async function* () {
    /** Rows of each per-filter-grouped layer met so far (one part: layers come whole, in filter_id order). */
    const seen = new Map<number, number>();
    const db = await openScanDb(path, undefined, 256); // ORDER BY over OR-ed ranges
    try {
      for (const part of parts) {
        const prep = await duckdb.prepare(
          db.con,
          `SELECT layer_id, w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters WHERE ${part.ranges
            .map((r) => `(filter_id >= ${r.lo} AND filter_id < ${r.hi})`)
            .join(' OR ')} ORDER BY filter_id`,
        );
        const res = await duckdb.execute_prepared_streaming(prep);
        for (;;) {
          const chunk = await duckdb.fetch_chunk(res);
          if (!chunk) break;
          const size = duckdb.data_chunk_get_size(chunk);
          if (size === 0) break;
          const layer = new Int32Array(
            duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, 0), size * 4).slice().buffer,
          );
          const cols = Array.from(
            { length: DIMS },
            (_, k) =>
              new Float32Array(
                duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, k + 1), size * 4).slice().buffer,
              ),
          );
          let start = 0;
          while (start < size) {
            const l = planned.get(layer[start]);
            let end = start + 1;
            while (end < size && layer[end] === layer[start]) end++;
            let g = l?.group;
            if (l?.filterGroups) {
              // a run of filters with the same label
              const at = seen.get(l.layerId) ?? 0;
              g = l.filterGroups[at];
              end = start + 1;
              while (end < size && layer[end] === layer[start] && l.filterGroups[at + end - start] === g)
                end++;
              seen.set(l.layerId, at + end - start);
            }
            if (g !== undefined) {
              const filters = new Float32Array((end - start) * DIMS);
              for (let r = start; r < end; r++)
                for (let k = 0; k < DIMS; k++) filters[(r - start) * DIMS + k] = cols[k][r];
              yield { group: g, filters, count: end - start };
            }
            start = end;
          }
        }
        duckdb.destroy_prepare_sync(prep);
      }
    } finally {
      db.close();
    }
  };
}
