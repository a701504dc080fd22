/**
 * Node-only: filter selections and groupings over the store, and the distribution-shift passes run on them.
 *
 * A selection is `--where <SQL on layer_info>` (model, Task, kind, conv_depth_norm, …); a grouping is
 * `--by <meta column | depth | model | layer-kind | SQL expression on layer_info>`, evaluated once per layer
 * (layers are the unit of every such grouping: they own filter_ids first_filter_id .. +filter_count). NULL →
 * `(none)`; depth → depthDecile(conv_depth_norm) labels.
 *
 * The passes stream the `filters` table in DuckDB's columnar chunks through filter-scan.ts into the
 * WebAssembly SIMD kernels (analysis/wasm/scan.ts): the moments pass, which also collects candidates for the
 * extremes of the coefficients (range-candidates.ts), then the histogram pass on the candidates' range,
 * which computes the exact range too and is repeated on it in the rare case the guess was wrong — two scans
 * instead of three (moments → range → histograms). Large selections are split by filter count, at
 * superblock boundaries (scan-passes.ts: the same bits for any number of workers), into two parts scanned by
 * two worker threads (each with its own read-only DuckDB instance), merged afterwards in order.
 *
 * Measured alternative (10 M synthetic filters, 2 cores): the moments as SQL aggregates (SUM of the 9 values
 * and 45 products of peak-scaled values, DuckDB on 2 threads) take 1.42 s, the streaming moments pass here
 * 0.6–0.8 s (with the range candidates); histograms as SQL (GROUPING SETS over floor((c - lo)·scale)) took
 * 2.3 s and lack numpy's edge correction. So the passes stay streaming, where the arithmetic is the kernels'.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { DuckDBConnection } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { compareCodePoints, depthDecile, NONE_GROUP } from '../analysis/groups.js';
import { GroupHistograms } from '../analysis/histogram.js';
import type { Moments } from '../analysis/moments.js';
import { type PcaBasis, pcaFromMoments } from '../analysis/pca.js';
import { type BatchSource, type ShiftResult, shiftFromHistograms } from '../analysis/shift.js';
import { SCAN_BLOCK, threadScanKernels } from '../analysis/wasm/scan.js';
import { FilterDbError } from '../errors.js';
import { ident, literal, queryRows } from './db.js';
import {
  type DensitySpec,
  DIMS,
  type HistMap,
  type IdRange,
  mergeScanResults,
  openScanDb,
  openScanSource,
  type PassSpec,
  runScan,
  type ScanResult,
  type ScanTask,
  superblockRows,
  totalMoments,
} from './filter-scan.js';
import { candidateRange, type TrackSpec } from './range-candidates.js';
import { closeScanWorkers, takeScanWorkers } from './scan-workers.js';

/** Groupings with a meaning of their own (anything else is a layer_info column or an SQL expression). */
export const SPECIAL_GROUPINGS = ['depth', 'model', 'layer-kind'] as const;

export interface LayerPlan {
  layerId: number;
  modelId: number;
  first: number;
  count: number;
  /** Group label (only when planned with a grouping). */
  group: string;
}

export interface SelectionPlan {
  where: string | null;
  by: string | null;
  layers: LayerPlan[];
  /** Sorted distinct group labels (code-point order). */
  groups: string[];
  filterCount: number;
  /** Largest layer_id + 1. */
  layerSpan: number;
  /**
   * Layers of the selection left out because their weights hold NaN or infinite values (`non_finite` > 0,
   * counted at ingest): such filters cannot be peak-scaled, and one of them would make every moment NaN.
   */
  nonFinite: { layers: number; filters: number };
}

/** A bad --where / --by (exit 2 in the CLI). */
export class SelectionError extends RangeError {}

/** A grouping into more than {@link MAX_GROUPS} groups. */
export class TooManyGroupsError extends SelectionError {}

/**
 * Most groups one shift compares: the drift matrix and its KL sums grow with the square of the count (4096
 * groups: 16.8 M pairs, 134 MB of matrix, ~10 G multiply-adds), the per-group histograms linearly. Every
 * grouping of the paper has far fewer (the published zoo has ~1,500 models); past this a grouping is a
 * mistake such as `--by layer_id` on a large database, refused before anything is allocated.
 */
export const MAX_GROUPS = 4096;

/** The SQL expression (over layer_info) of a grouping, or 'depth'. */
async function groupingExpression(con: DuckDBConnection, by: string): Promise<string> {
  if (by === 'depth') return 'conv_depth_norm';
  if (by === 'model') return 'model';
  if (by === 'layer-kind') return 'kind';
  const cols = await queryRows(
    con,
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'layer_info' ORDER BY ordinal_position",
  );
  const names = cols.map((r) => String(r.column_name));
  const exact = names.find((c) => c === by) ?? names.find((c) => c.toLowerCase() === by.toLowerCase());
  return exact ? ident(exact) : `(${by})`;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/**
 * Resolves the selection and grouping into layers (small: one row per layer). Only 3x3 filters of
 * non-transposed convolutions are selected (the `filters` table, as the paper).
 */
export async function planSelection(
  con: DuckDBConnection,
  options: { where?: string | null; by?: string | null; maxGroups?: number },
): Promise<SelectionPlan> {
  const maxGroups = options.maxGroups ?? MAX_GROUPS;
  const where = options.where?.trim() || null;
  const by = options.by?.trim() || null;
  let groupSql = 'NULL';
  if (by !== null) {
    const expr = await groupingExpression(con, by);
    groupSql = by === 'depth' ? expr : `CAST(${expr} AS VARCHAR)`;
    try {
      await con.runAndReadAll(`SELECT ${groupSql} FROM layer_info LIMIT 0`);
    } catch (e) {
      throw new SelectionError(
        `--by ${JSON.stringify(by)} is neither a column of layer_info (see \`filterdb sql --db … "DESCRIBE layer_info"\`), depth, model, layer-kind, nor a valid SQL expression on layer_info: ${firstLine(e)}`,
      );
    }
  }
  if (where !== null) {
    try {
      await con.runAndReadAll(`SELECT 1 FROM layer_info WHERE (${where}) LIMIT 0`);
    } catch (e) {
      throw new SelectionError(
        `--where ${JSON.stringify(where)} is not valid SQL on layer_info: ${firstLine(e)}`,
      );
    }
  }
  let rows: Record<string, unknown>[];
  try {
    rows = await queryRows(
      con,
      `SELECT layer_id, model_id, first_filter_id, filter_count, ${groupSql} AS g,
              coalesce(non_finite, 0) > 0 AS non_finite
       FROM layer_info
       WHERE filter_table = 'filters' AND filter_count > 0 AND coalesce(kind, '') <> 'transposed'
         ${where !== null ? `AND (${where})` : ''}
       ORDER BY first_filter_id`,
    );
  } catch (e) {
    throw new SelectionError(`cannot evaluate the selection: ${firstLine(e)}`);
  }
  const layers: LayerPlan[] = [];
  const groups = new Set<string>();
  let filterCount = 0;
  let layerSpan = 0;
  const nonFinite = { layers: 0, filters: 0 };
  for (const r of rows) {
    if (r.non_finite === true) {
      nonFinite.layers++;
      nonFinite.filters += Number(r.filter_count);
      continue;
    }
    let group = '';
    if (by !== null) {
      const g = r.g;
      if (by === 'depth') group = (typeof g === 'number' ? depthDecile(g) : null) ?? NONE_GROUP;
      else group = g === null || g === undefined ? NONE_GROUP : String(g);
      groups.add(group);
    }
    const layer: LayerPlan = {
      layerId: Number(r.layer_id),
      modelId: Number(r.model_id),
      first: Number(r.first_filter_id),
      count: Number(r.filter_count),
      group,
    };
    filterCount += layer.count;
    layerSpan = Math.max(layerSpan, layer.layerId + 1);
    layers.push(layer);
  }
  if (groups.size > maxGroups)
    throw new TooManyGroupsError(
      `grouping by ${by} gives ${groups.size.toLocaleString('en-US')} groups; at most ${maxGroups.toLocaleString('en-US')} can be compared (the drift matrix grows with their square): group more coarsely or narrow the selection`,
    );
  return {
    where,
    by,
    layers,
    groups: [...groups].sort(compareCodePoints),
    filterCount,
    layerSpan,
    nonFinite,
  };
}

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

function toMoments(r: ScanResult): Moments {
  const m = totalMoments(r);
  // layers counted at ingest are planned out when they hold NaN/inf; others (imported) are caught here
  if (!m.mean.every(Number.isFinite) || !m.scatter.every(Number.isFinite))
    throw new SelectionError(
      'the selected filters hold NaN or infinite weights (in layers without a non_finite count, such as imported ones), so they have no PCA basis; leave those layers out with --where',
    );
  return { n: m.n, dims: DIMS, mean: m.mean, scatter: m.scatter };
}

/** A note on the layers a plan left out for NaN or infinite weights, or null when there were none. */
export function nonFiniteNote(plan: SelectionPlan): string | null {
  const { layers, filters } = plan.nonFinite;
  if (layers === 0) return null;
  return `left out ${layers} layer${layers === 1 ? '' : 's'} (${filters.toLocaleString('en-US')} filters) whose weights hold NaN or infinite values (layer_info.non_finite > 0): they cannot be peak-scaled`;
}

function basisArrays(basis: PcaBasis): { mean: Float64Array; comps: Float64Array } {
  if (basis.dims !== DIMS)
    throw new SelectionError(`the basis has ${basis.dims} dimensions, filters have ${DIMS}`);
  return { mean: Float64Array.from(basis.mean), comps: Float64Array.from(basis.components.flat()) };
}

/** Fits the PCA basis of the plan's filters (one pass). */
export async function fitStoreBasis(scanner: PlanScanner): Promise<PcaBasis> {
  return (await fitWithRangeGuess(scanner, false)).basis;
}

/** Range candidates kept at each end of the approximate coefficients (range-candidates.ts). */
const RANGE_CANDIDATES = 1024;

/**
 * The moments pass, optionally (`guess`) with range candidates on an approximate basis fitted on a sample
 * (read while the workers start): the basis, and the candidates' exact coefficient range — a guess of the
 * range that the histogram pass verifies (see {@link histogramPass}).
 */
export async function fitWithRangeGuess(
  scanner: PlanScanner,
  guess = true,
): Promise<{ basis: PcaBasis; guess: [number, number] | null }> {
  if (scanner.plan.filterCount < 2)
    throw new SelectionError(`PCA needs at least 2 filters, the selection has ${scanner.plan.filterCount}`);
  let track: TrackSpec | undefined;
  if (guess) {
    const sample = toMoments(await scanner.runSample(sampleRanges(scanner.plan), { kind: 'moments' }));
    if (sample.n >= 2) track = { ...basisArrays(pcaFromMoments(sample)), keep: RANGE_CANDIDATES };
  }
  const r = await scanner.run({ kind: 'moments', track }, 'moments');
  const basis = pcaFromMoments(toMoments(r));
  if (!track || !r.candidates || r.candidates.length === 0) return { basis, guess: null };
  const { mean, comps } = basisArrays(basis);
  return { basis, guess: candidateRange(threadScanKernels(), r.candidates, mean, comps) };
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
 * The histogram pass on the exact coefficient range: `range` when known; else on the `guess` of
 * {@link fitWithRangeGuess}, verified against the exact range the pass computes (bit-for-bit equal whenever
 * the extreme filters were among the candidates), and repeated on the exact range when it differs; without
 * either, after a range pass.
 */
export async function histogramPass(
  scanner: PlanScanner,
  spec: (range: [number, number]) => PassSpec,
  basis: PcaBasis,
  range: [number, number] | null,
  guess: [number, number] | null,
): Promise<{ result: ScanResult; range: [number, number]; passes: number }> {
  const known = range ?? (guess ? null : await coefficientRange(scanner, basis));
  if (known) return { result: await scanner.run(spec(known), 'histograms'), range: known, passes: 1 };
  const r = await scanner.run(spec(guess!), 'histograms');
  if (r.lo === undefined || r.hi === undefined || !(r.lo <= r.hi))
    throw new SelectionError('no filters selected');
  if (r.lo === guess![0] && r.hi === guess![1]) return { result: r, range: guess!, passes: 1 };
  const exact: [number, number] = [r.lo, r.hi];
  return { result: await scanner.run(spec(exact), 'histograms'), range: exact, passes: 2 };
}

export async function coefficientRange(scanner: PlanScanner, basis: PcaBasis): Promise<[number, number]> {
  const r = await scanner.run({ kind: 'range', ...basisArrays(basis) }, 'range');
  if (r.lo === undefined || r.hi === undefined || !(r.lo <= r.hi))
    throw new SelectionError('no filters selected');
  return [r.lo, r.hi];
}

export interface StoreShiftOptions extends ScanOptions {
  bins?: number;
  basis?: PcaBasis;
  /** Coefficient range of `basis` on this very selection (skips the range pass). */
  range?: [number, number];
  /** Also collect views: fine per-group histograms (KDE input) and the 2-D density. */
  views?: { kdeBins?: number; density?: DensitySpec | false };
}

export interface StoreShiftResult extends ShiftResult {
  basis: PcaBasis;
  /** Fine per-group histograms (when views were asked for). */
  fine?: GroupHistograms;
  density?: { counts: Float64Array; total: number; outside: number; spec: DensitySpec };
  /** Seconds of the moments pass and of the histogram pass(es) (with the range pass, when one was needed). */
  seconds: { moments: number; histograms: number };
  /** Histogram passes run: 2 when the guessed coefficient range was not the exact one. */
  histogramPasses: number;
}

export const DEFAULT_DENSITY: DensitySpec = { size: 512, lo: -3.3, hi: 3.3, xIndex: 0, yIndex: 1 };

/**
 * Histogram cells (group × coefficient × bin, drift and KDE histograms together) one shift may count: each
 * scan thread holds them as uint32 counts plus float64 sums, 12 bytes a cell (2^25 cells ≈ 400 MB).
 */
export const MAX_HISTOGRAM_CELLS = 2 ** 25;
/** Largest side of the 2-D density raster (float64 counts per scan thread: 4096² = 128 MB). */
export const MAX_DENSITY_SIZE = 4096;

/** Refuses bins, KDE bins and density sizes whose counts would not fit the bounds above, before any scan. */
function checkHistogramSize(
  groups: number,
  bins: number,
  kdeBins: number,
  density: DensitySpec | undefined,
): void {
  const cells = groups * DIMS * (bins + kdeBins);
  if (cells > MAX_HISTOGRAM_CELLS)
    throw new SelectionError(
      `${groups} groups × ${DIMS} coefficients × ${bins + kdeBins} bins${kdeBins ? ` (${bins} + ${kdeBins} for the KDE curves)` : ''} are ${cells.toLocaleString('en-US')} histogram cells, more than the ${MAX_HISTOGRAM_CELLS.toLocaleString('en-US')} a shift may hold (~400 MB a scan thread): use fewer bins or groups`,
    );
  const size = density?.size ?? 0;
  if (size > MAX_DENSITY_SIZE)
    throw new SelectionError(
      `a ${size}² density raster is larger than ${MAX_DENSITY_SIZE}² (~128 MB a scan thread): use a smaller --density`,
    );
}

/** The distribution shift of a planned selection and grouping, streamed from the store. */
export async function storeShift(
  path: string,
  plan: SelectionPlan,
  options: StoreShiftOptions = {},
): Promise<StoreShiftResult> {
  const bins = options.bins ?? 70;
  if (!Number.isInteger(bins) || bins < 1)
    throw new SelectionError(`--bins must be a positive integer, got ${bins}`);
  if (plan.by === null) throw new SelectionError('a grouping (--by) is required');
  if (plan.filterCount === 0) throw new SelectionError('no filters selected');
  const kdeBins = options.views ? (options.views.kdeBins ?? 2048) : 0;
  const density =
    options.views && options.views.density !== false ? (options.views.density ?? DEFAULT_DENSITY) : undefined;
  checkHistogramSize(plan.groups.length, bins, kdeBins, density);
  const scanner = new PlanScanner(path, plan, options);
  try {
    const seconds = { moments: 0, histograms: 0 };
    let t = performance.now();
    const fit = options.basis ? { basis: options.basis, guess: null } : await fitWithRangeGuess(scanner);
    const basis = fit.basis;
    seconds.moments = (performance.now() - t) / 1000;
    t = performance.now();
    const groupIndex = new Map(plan.groups.map((g, i) => [g, i]));
    const layerGroup = new Int32Array(plan.layerSpan).fill(-1);
    for (const l of plan.layers) layerGroup[l.layerId] = groupIndex.get(l.group)!;
    const maps: HistMap[] = [{ layerGroup, groups: plan.groups.length, bins }];
    if (kdeBins) maps.push({ layerGroup, groups: plan.groups.length, bins: kdeBins });
    const pass = await histogramPass(
      scanner,
      (range) => ({ kind: 'hist', ...basisArrays(basis), lo: range[0], hi: range[1], maps, density }),
      basis,
      options.range ?? null,
      fit.guess,
    );
    const { result: r, range } = pass;
    seconds.histograms = (performance.now() - t) / 1000;
    const hist = toGroupHistograms(plan.groups, r.hist![0], bins, range);
    const result = shiftFromHistograms(plan.by, hist, basis);
    return {
      ...result,
      basis,
      fine: kdeBins ? toGroupHistograms(plan.groups, r.hist![1], kdeBins, range) : undefined,
      density: density && r.density ? { ...r.density, spec: density } : undefined,
      seconds,
      histogramPasses: pass.passes,
    };
  } finally {
    await scanner.close();
  }
}

export function toGroupHistograms(
  groups: string[],
  h: { counts: Float64Array; filters: Float64Array },
  bins: number,
  range: [number, number],
): GroupHistograms {
  const gh = new GroupHistograms(DIMS, bins, range[0], range[1]);
  const size = DIMS * bins;
  groups.forEach((g, i) => {
    if (h.filters[i] > 0) {
      gh.counts.set(g, h.counts.slice(i * size, (i + 1) * size));
      gh.filters.set(g, h.filters[i]);
    }
  });
  return gh;
}

/** PCA basis (and its coefficient range, for later single-pass shifts) of a selection. */
export async function storePca(
  path: string,
  plan: SelectionPlan,
  options: ScanOptions & { range?: boolean } = {},
): Promise<{ basis: PcaBasis; range: [number, number] | null }> {
  const scanner = new PlanScanner(path, plan, options);
  try {
    const basis = await fitStoreBasis(scanner);
    const range = options.range === false ? null : await coefficientRange(scanner, basis);
    return { basis, range };
  } finally {
    await scanner.close();
  }
}

/**
 * The plan's filters as a `BatchSource` (analysis/shift.ts): row-major Float32Array batches, one group per
 * batch (a DuckDB chunk is split where the group changes). For the in-memory analysis code and tests; the
 * store's own passes use the columnar kernels directly.
 */
export function storeBatchSource(path: string, plan: SelectionPlan): BatchSource {
  const groupOf = new Map(plan.layers.map((l) => [l.layerId, l.group]));
  const parts = splitPlan(plan, 1);
  return async function* () {
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
            const g = groupOf.get(layer[start]);
            let end = start + 1;
            while (end < size && layer[end] === layer[start]) end++;
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

// ---- stored bases ---------------------------------------------------------------------------------------

export interface StoredBasis {
  name: string;
  where: string | null;
  basis: PcaBasis;
  range: [number, number] | null;
  created: string;
}

const BASES_DDL = `CREATE TABLE IF NOT EXISTS bases (
  name VARCHAR PRIMARY KEY,
  "where" VARCHAR,
  count BIGINT,
  dims INTEGER,
  mean DOUBLE[],
  components DOUBLE[],
  explained_variance DOUBLE[],
  explained_variance_ratio DOUBLE[],
  range_lo DOUBLE,
  range_hi DOUBLE,
  created TIMESTAMP
)`;

function doubles(v: number[]): string {
  return `[${v.map((x) => (Number.isFinite(x) ? x.toExponential(16) : 'NULL')).join(', ')}]::DOUBLE[]`;
}

/** Stores (or replaces) a named basis; the database must be open for writing. */
export async function saveBasis(con: DuckDBConnection, stored: Omit<StoredBasis, 'created'>): Promise<void> {
  const b = stored.basis;
  await con.run(BASES_DDL);
  await con.run(`DELETE FROM bases WHERE name = ${literal(stored.name)}`);
  await con.run(
    `INSERT INTO bases VALUES (${literal(stored.name)}, ${stored.where === null ? 'NULL' : literal(stored.where)},
      ${b.count}, ${b.dims}, ${doubles(b.mean)}, ${doubles(b.components.flat())}, ${doubles(b.explainedVariance)},
      ${doubles(b.explainedVarianceRatio)}, ${stored.range ? stored.range[0].toExponential(16) : 'NULL'},
      ${stored.range ? stored.range[1].toExponential(16) : 'NULL'}, now()::TIMESTAMP)`,
  );
}

/** Reads a named basis; a missing one is a usage error naming the stored ones. */
export async function loadBasis(con: DuckDBConnection, name: string): Promise<StoredBasis> {
  const exists = await queryRows(
    con,
    "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'bases'",
  );
  const rows =
    Number(exists[0].n) > 0
      ? await queryRows(
          con,
          `SELECT *, CAST(created AS VARCHAR) AS created_s FROM bases WHERE name = ${literal(name)}`,
        )
      : [];
  if (rows.length === 0) {
    const names =
      Number(exists[0].n) > 0
        ? (await queryRows(con, 'SELECT name FROM bases ORDER BY name')).map((r) => r.name)
        : [];
    throw new SelectionError(
      `no stored basis named ${JSON.stringify(name)} (${names.length ? `stored: ${names.join(', ')}` : 'none stored; save one with `filterdb pca --save NAME`'})`,
    );
  }
  const r = rows[0];
  const dims = Number(r.dims);
  const flat = (r.components as number[]).map(Number);
  const basis: PcaBasis = {
    dims,
    count: Number(r.count),
    mean: (r.mean as number[]).map(Number),
    components: Array.from({ length: dims }, (_, i) => flat.slice(i * dims, (i + 1) * dims)),
    explainedVariance: (r.explained_variance as number[]).map(Number),
    explainedVarianceRatio: (r.explained_variance_ratio as number[]).map(Number),
  };
  const lo = r.range_lo;
  const hi = r.range_hi;
  return {
    name,
    where: (r.where as string | null) ?? null,
    basis,
    range: typeof lo === 'number' && typeof hi === 'number' ? [lo, hi] : null,
    created: String(r.created_s),
  };
}

// ---- the zoo report from one coefficient pass -----------------------------------------------------------

export interface ZooAnalysis {
  basis: PcaBasis;
  range: [number, number];
  shifts: ShiftResult[];
  /** Fine histograms per grouping (for KDE ridges), by grouping name. */
  fine: Map<string, GroupHistograms>;
  density: { counts: Float64Array; total: number; outside: number; spec: DensitySpec } | null;
  filterCount: number;
}

/**
 * Every grouping of a zoo from three passes in all (moments, range, histograms): the histogram pass counts
 * per cell (a layer's (model, depth decile) — every layer_info grouping is a function of the layer, and the
 * cells of metadata/depth/model groupings are far fewer than layers), then aggregates the cells per grouping.
 * Groupings in `ridges` also get fine histograms (KDE input), and the 2-D density comes from the same pass.
 */
export async function storeZooAnalysis(
  path: string,
  plans: SelectionPlan[],
  options: ScanOptions & {
    bins?: number;
    kdeBins?: number;
    ridges?: string[];
    density?: DensitySpec | false;
  } = {},
): Promise<ZooAnalysis> {
  if (plans.length === 0) throw new SelectionError('no groupings');
  const bins = options.bins ?? 70;
  const kdeBins = options.kdeBins ?? 2048;
  const base = plans[0];
  if (base.filterCount < 2) throw new SelectionError('the database holds fewer than 2 3x3 filters');
  // cells: layers with the same label in every grouping
  const cellOf = new Map<string, number>();
  const layerCell = new Int32Array(base.layerSpan).fill(-1);
  const labelsByLayer = new Map<number, string[]>();
  for (const p of plans)
    for (const l of p.layers) {
      let a = labelsByLayer.get(l.layerId);
      if (!a) {
        a = [];
        labelsByLayer.set(l.layerId, a);
      }
      a.push(l.group);
    }
  const cellLabels: string[][] = [];
  for (const l of base.layers) {
    const labels = labelsByLayer.get(l.layerId)!;
    const key = JSON.stringify(labels);
    let c = cellOf.get(key);
    if (c === undefined) {
      c = cellLabels.length;
      cellOf.set(key, c);
      cellLabels.push(labels);
    }
    layerCell[l.layerId] = c;
  }
  const scanner = new PlanScanner(path, base, options);
  try {
    const { basis, guess } = await fitWithRangeGuess(scanner);
    const maps: HistMap[] = [{ layerGroup: layerCell, groups: cellLabels.length, bins }];
    const ridgePlans = plans.filter((p) => options.ridges?.includes(p.by ?? '') ?? true);
    for (const p of ridgePlans) {
      const idx = new Map(p.groups.map((g, i) => [g, i]));
      const lg = new Int32Array(base.layerSpan).fill(-1);
      for (const l of p.layers) lg[l.layerId] = idx.get(l.group)!;
      maps.push({ layerGroup: lg, groups: p.groups.length, bins: kdeBins });
    }
    const density = options.density === false ? undefined : (options.density ?? DEFAULT_DENSITY);
    const { result: r, range } = await histogramPass(
      scanner,
      (range) => ({ kind: 'hist', ...basisArrays(basis), lo: range[0], hi: range[1], maps, density }),
      basis,
      null,
      guess,
    );
    const cells = r.hist![0];
    const size = DIMS * bins;
    const shifts = plans.map((p, pi) => {
      const gh = new GroupHistograms(DIMS, bins, range[0], range[1]);
      cellLabels.forEach((labels, c) => {
        const n = cells.filters[c];
        if (!(n > 0)) return;
        const g = labels[pi];
        const h = gh.counts.get(g);
        const src = cells.counts.subarray(c * size, (c + 1) * size);
        if (h) for (let i = 0; i < size; i++) h[i] += src[i];
        else gh.counts.set(g, Float64Array.from(src));
        gh.filters.set(g, (gh.filters.get(g) ?? 0) + n);
      });
      return shiftFromHistograms(p.by ?? '', gh, basis);
    });
    const fine = new Map<string, GroupHistograms>();
    ridgePlans.forEach((p, i) => {
      fine.set(p.by ?? '', toGroupHistograms(p.groups, r.hist![i + 1], kdeBins, range));
    });
    return {
      basis,
      range,
      shifts,
      fine,
      density: density && r.density ? { ...r.density, spec: density } : null,
      filterCount: r.rows,
    };
  } finally {
    await scanner.close();
  }
}
