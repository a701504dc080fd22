/**
 * Node-only: one scan of the `filters` table for a distribution-shift pass. DuckDB's columnar chunks (w0..w8
 * FLOAT, layer_id INTEGER — never row objects), read in filter_id batches (batch-read.ts), are copied into
 * the WebAssembly kernels' block buffers
 * (analysis/wasm/scan.ts) and each full block of 2048 selected filters goes through the pass
 * (scan-passes.ts). Runs in the calling thread or in a worker (filter-scan-worker.ts); results are mergeable,
 * so N workers each scanning a part of the selection are merged by the caller (in part order).
 */
import { availableParallelism } from 'node:os';
import duckdb from '@duckdb/node-bindings';
import { SCAN_BLOCK, threadScanKernels } from '../analysis/wasm/scan.js';
import { BatchReader, batchEnd } from './batch-read.js';
import { isKernel3x3, type KernelSize, kernelDims } from './kernel-size.js';
import { KxKBlock, makeKxKPass } from './kxk-passes.js';
import { scanKxKBatches, scanKxKNative } from './kxk-scan.js';
import { type NativeDb, type NativeScanReader, nativeScanReader } from './native-scan.js';
import { type BlockPass, DIMS, makePass, type PassSpec, type ScanResult } from './scan-passes.js';

export {
  type DensitySpec,
  DIMS,
  type HistMap,
  type MomentSums,
  mergeMomentSums,
  mergeScanResults,
  type PassSpec,
  type ScanResult,
  superblockRows,
  totalMoments,
} from './scan-passes.js';

/** A filter_id interval [lo, hi). */
export interface IdRange {
  lo: number;
  hi: number;
}

export interface ScanTask {
  path: string;
  /** filter_id intervals scanned (SQL predicate); rows outside selected layers are skipped when `selected` is given. */
  ranges: IdRange[];
  /** layer_id → 1 when selected; null: every row in `ranges` is selected. */
  selected: Uint8Array | null;
  pass: PassSpec;
  /** Filters per superblock (scan-passes.ts); the part starts at a multiple of it. */
  superRows: number;
  /** DuckDB threads of this scanner's instance. */
  threads?: number;
  /** Kernel size of the filters (default 3x3, the `filters` table; others: `filters_other`, kxk-scan.ts). */
  kernel?: KernelSize;
}

function f32(v: Uint8Array, size: number): Float32Array {
  if (v.byteOffset % 4 === 0) return new Float32Array(v.buffer, v.byteOffset, size);
  return new Float32Array(v.slice().buffer, 0, size);
}

function i32(v: Uint8Array, size: number): Int32Array {
  if (v.byteOffset % 4 === 0) return new Int32Array(v.buffer, v.byteOffset, size);
  return new Int32Array(v.slice().buffer, 0, size);
}

/**
 * DuckDB's buffer pool per scanning instance, beyond what opening it took: a pass needs only the blocks in
 * flight and one materialized batch (122,880 rows × 40 bytes = 4.9 MB). Kept small because every fresh page
 * costs a page fault: on a Firecracker VM (~11 µs a fault, 2.8 s per GB touched) a 64 MB pool cost each
 * worker ~25,000 faults before its scan settled; at 16 MB the shift's RSS went from 345 to 255 MB (10 M
 * filters, 2 workers).
 */
export const SCAN_MEMORY_MB = 16;

/**
 * The native reader's pool per DuckDB thread of its instance: a streaming scan pins one 256 KiB block per
 * column it reads (11 with the filter_id predicate, twice at segment ends ≈ 5.5 MB at worst) and nothing is
 * materialized. A pool this small stays in the CPU's caches: bench/scan-read (the reader alone on the 10 M
 * bench's filters, 2 threads) read them in 0.21 s with 6 MB a thread, 0.28 s with 16, 0.71 s with 100 MB; in
 * bench/shift the 10 M shift went 1.35 s, 165 MB (16 MB in all, earlier the same day) → 1.18 s, 145 MB. At
 * 2 MB a thread, scans failed to pin their blocks.
 */
export const NATIVE_SCAN_MB_PER_THREAD = 6;

/**
 * Opens a read-only DuckDB instance (node-bindings) for scanning, its memory limited to what opening took
 * (replaying a write-ahead log left by a writer holds the replayed rows in memory) plus `memoryMB`. Queries
 * that sort or join need more than the passes' default.
 */
export async function openScanDb(
  path: string,
  threads?: number,
  memoryMB = SCAN_MEMORY_MB,
): Promise<{ con: duckdb.Connection; close(): void }> {
  const cfg = duckdb.create_config();
  duckdb.set_config(cfg, 'access_mode', 'READ_ONLY');
  if (threads) duckdb.set_config(cfg, 'threads', String(threads));
  const db = await duckdb.open(path, cfg);
  const con = await duckdb.connect(db);
  const close = () => {
    duckdb.disconnect_sync(con);
    duckdb.close_sync(db);
  };
  try {
    const res = await duckdb.query(
      con,
      'SELECT CAST(coalesce(sum(memory_usage_bytes), 0) AS DOUBLE) FROM duckdb_memory()',
    );
    const chunk = duckdb.result_get_chunk(res, 0);
    const used = new Float64Array(
      duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, 0), 8).slice().buffer,
    )[0];
    await duckdb.query(con, `SET memory_limit = '${Math.ceil(used / 2 ** 20) + memoryMB}MB'`);
  } catch (e) {
    close();
    throw e;
  }
  return { con, close };
}

/**
 * Where a scan reads rows: the native reader (native-scan.ts) when it is built, else a node-bindings
 * connection read in batches (batch-read.ts).
 */
export type ScanSource =
  | { native: { reader: NativeScanReader; db: NativeDb }; con?: undefined; close(): void }
  | { native?: undefined; con: duckdb.Connection; close(): void };

/**
 * Opens the scan source of `path` (see {@link openScanDb} for `threads` and `memoryMB`; by default the
 * native reader gets {@link NATIVE_SCAN_MB_PER_THREAD} per DuckDB thread, node-bindings {@link SCAN_MEMORY_MB}).
 */
export async function openScanSource(path: string, threads?: number, memoryMB?: number): Promise<ScanSource> {
  const reader = nativeScanReader();
  if (reader) {
    const mb = memoryMB ?? NATIVE_SCAN_MB_PER_THREAD * (threads || availableParallelism());
    const db = reader.open(path, threads ?? 0, mb);
    return { native: { reader, db }, close: () => reader.close(db) };
  }
  return openScanDb(path, threads, memoryMB ?? SCAN_MEMORY_MB);
}

/**
 * Runs one pass over `task.ranges` from `source` (opened for the task when not given), each full block of
 * selected rows going through the pass. Memory: one block and the accumulators (plus, on node-bindings, one
 * materialized batch).
 */
export async function runScan(
  task: ScanTask,
  onRows?: (rows: number) => void,
  source?: ScanSource,
): Promise<ScanResult> {
  const generic = task.kernel !== undefined && !isKernel3x3(task.kernel);
  const block = generic ? new KxKBlock(kernelDims(task.kernel!)) : null;
  // per-filter groupings (--by pattern) are 3x3 only (selection.ts refuses them with another kernel size)
  const pass = block
    ? makeKxKPass(block, task.pass, task.superRows)
    : makePass(threadScanKernels(), task.pass, task.superRows, task.ranges);
  if (task.ranges.length === 0) return pass.result();
  const own = source ? null : await openScanSource(task.path, task.threads);
  const src = source ?? own!;
  try {
    if (block) {
      if (src.native) await scanKxKNative(task, pass, block, src.native, onRows);
      else await scanKxKBatches(task, pass, block, src.con, onRows);
    } else if (src.native) await scanNative(task, pass, src.native, onRows);
    else await scanBatches(task, pass, src.con, onRows);
    return pass.result();
  } finally {
    own?.close();
  }
}

function scanColumns(needLayer: boolean): string[] {
  const weights = Array.from({ length: DIMS }, (_, j) => `w${j}`);
  return needLayer ? ['layer_id', ...weights] : weights;
}

/** Blocks between turns given to the event loop (~1 M rows): a scan on a main thread keeps it responsive. */
const YIELD_BLOCKS = 512;

/** The native reader fills the kernels' block columns directly (and drops unselected rows itself). */
async function scanNative(
  task: ScanTask,
  pass: BlockPass,
  native: { reader: NativeScanReader; db: NativeDb },
  onRows?: (rows: number) => void,
): Promise<void> {
  const { reader, db } = native;
  const k = threadScanKernels();
  const needLayer = task.selected !== null || pass.needLayers;
  const layers = new Int32Array(SCAN_BLOCK);
  const dests: (Float32Array | Int32Array)[] = needLayer ? [layers, ...k.cols] : [...k.cols];
  const columns = scanColumns(needLayer).join(', ');
  let fill = 0;
  let reported = 0;
  let before = 0;
  let blocks = 0;
  for (const range of task.ranges) {
    const scan = reader.query(
      db,
      `SELECT ${columns} FROM filters WHERE filter_id >= ${range.lo} AND filter_id < ${range.hi}`,
    );
    try {
      for (;;) {
        fill = reader.fill(scan, dests, fill, SCAN_BLOCK, task.selected);
        if (fill < SCAN_BLOCK) break; // the result has ended
        pass.block(fill, layers);
        fill = 0;
        if (++blocks % YIELD_BLOCKS === 0) await new Promise((resolve) => setImmediate(resolve));
        if (onRows) {
          const seen = before + reader.seen(scan);
          if (seen - reported >= 1 << 20) {
            onRows(seen - reported);
            reported = seen;
          }
        }
      }
      before += reader.seen(scan);
    } finally {
      reader.closeScan(scan);
    }
  }
  if (fill > 0) pass.block(fill, layers);
  if (onRows && before > reported) onRows(before - reported);
}

/** node-bindings: filter_id batches, each chunk copied into the block (batch-read.ts). */
async function scanBatches(
  task: ScanTask,
  pass: BlockPass,
  con: duckdb.Connection,
  onRows?: (rows: number) => void,
): Promise<void> {
  const k = threadScanKernels();
  const needLayer = task.selected !== null || pass.needLayers;
  const selected = task.selected;
  const reader = new BatchReader(con, scanColumns(needLayer));
  try {
    const off = needLayer ? 1 : 0;
    const layers = new Int32Array(SCAN_BLOCK);
    const kc = k.cols;
    const w: Float32Array[] = new Array(DIMS);
    let fill = 0;
    const sink = (size: number, v: Uint8Array[]) => {
      const layer = needLayer ? i32(v[0], size) : null;
      for (let j = 0; j < DIMS; j++) w[j] = f32(v[j + off], size);
      if (selected === null) {
        // every row: contiguous copies into the block
        let r = 0;
        while (r < size) {
          const take = Math.min(SCAN_BLOCK - fill, size - r);
          for (let j = 0; j < DIMS; j++) kc[j].set(w[j].subarray(r, r + take), fill);
          if (layer !== null) layers.set(layer.subarray(r, r + take), fill);
          fill += take;
          r += take;
          if (fill === SCAN_BLOCK) {
            pass.block(fill, layers);
            fill = 0;
          }
        }
      } else {
        for (let r = 0; r < size; r++) {
          const lid = layer![r];
          if (selected[lid] !== 1) continue;
          for (let j = 0; j < DIMS; j++) kc[j][fill] = w[j][r];
          layers[fill] = lid;
          if (++fill === SCAN_BLOCK) {
            pass.block(fill, layers);
            fill = 0;
          }
        }
      }
    };
    let seen = 0;
    let reported = 0;
    for (const range of task.ranges) {
      for (let lo = range.lo; lo < range.hi; ) {
        const hi = batchEnd(lo, range.hi);
        seen += await reader.read(lo, hi, sink);
        lo = hi;
        if (onRows && seen - reported >= 1 << 20) {
          onRows(seen - reported);
          reported = seen;
        }
      }
    }
    if (fill > 0) pass.block(fill, layers);
    if (onRows && seen > reported) onRows(seen - reported);
  } finally {
    reader.close();
  }
}
