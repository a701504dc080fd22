/**
 * Node-only: reading filters of a kernel size other than 3x3 (`filters_other`, a FLOAT[] list a filter) for
 * the passes of kxk-passes.ts. The lists are unnested in SQL (`SELECT layer_id, unnest(w)`), so both readers
 * see two 4-byte columns — one row per value, the filter's values in row-major order — and copy them straight
 * into the block: the native reader (native-scan.ts) with its layer selection applied per value row (a
 * filter's values share its layer_id, so a filter is kept or dropped whole), or node-bindings batches
 * (batch-read.ts). Memory: one block of 2048 filters (and on node-bindings one materialized batch).
 */
import type duckdb from '@duckdb/node-bindings';
import { SCAN_BLOCK } from '../analysis/wasm/scan.js';
import { BatchReader, batchEnd } from './batch-read.js';
import type { ScanTask } from './filter-scan.js';
import type { KxKBlock } from './kxk-passes.js';
import type { NativeDb, NativeScanReader } from './native-scan.js';
import type { BlockPass } from './scan-passes.js';

const COLUMNS = ['layer_id', 'unnest(w)'];

/** Blocks between turns given to the event loop (a scan on a main thread keeps it responsive). */
const YIELD_BLOCKS = 64;

/** Value rows read before a progress report is due (~1 M filters of 5x5). */
const REPORT_ROWS = 1 << 24;

function mismatch(task: ScanTask, got: number, dims: number): Error {
  return new Error(
    `filters_other rows of the selected layers should hold ${dims} values each (${task.kernel?.kh}x${task.kernel?.kw}); a run of ${got} values does not divide into filters`,
  );
}

/** The native reader fills the block's values (and a layer id per value) directly. */
export async function scanKxKNative(
  task: ScanTask,
  pass: BlockPass,
  block: KxKBlock,
  native: { reader: NativeScanReader; db: NativeDb },
  onRows?: (rows: number) => void,
): Promise<void> {
  const { reader, db } = native;
  const d = block.dims;
  const cap = SCAN_BLOCK * d;
  const valueLayers = new Int32Array(cap);
  const layers = new Int32Array(SCAN_BLOCK);
  const dests = [valueLayers, block.values];
  let fill = 0;
  let blocks = 0;
  let reported = 0;
  let before = 0;
  const flush = async (values: number) => {
    if (values % d !== 0) throw mismatch(task, values, d);
    const n = values / d;
    for (let r = 0; r < n; r++) layers[r] = valueLayers[r * d];
    pass.block(n, layers);
    if (++blocks % YIELD_BLOCKS === 0) await new Promise((resolve) => setImmediate(resolve));
  };
  for (const range of task.ranges) {
    const scan = reader.query(
      db,
      `SELECT ${COLUMNS.join(', ')} FROM filters_other WHERE filter_id >= ${range.lo} AND filter_id < ${range.hi}`,
    );
    try {
      for (;;) {
        fill = reader.fill(scan, dests, fill, cap, task.selected);
        if (fill < cap) break; // the result has ended
        await flush(fill);
        fill = 0;
        if (onRows) {
          const seen = before + reader.seen(scan);
          if (seen - reported >= REPORT_ROWS) {
            onRows(Math.round((seen - reported) / d));
            reported = seen;
          }
        }
      }
      before += reader.seen(scan);
    } finally {
      reader.closeScan(scan);
    }
  }
  if (fill > 0) await flush(fill);
  if (onRows && before > reported) onRows(Math.round((before - reported) / d));
}

/** node-bindings: filter_id batches of unnested values, each chunk copied into the block. */
export async function scanKxKBatches(
  task: ScanTask,
  pass: BlockPass,
  block: KxKBlock,
  con: duckdb.Connection,
  onRows?: (rows: number) => void,
): Promise<void> {
  const d = block.dims;
  const cap = SCAN_BLOCK * d;
  const selected = task.selected;
  const values = block.values;
  const layers = new Int32Array(SCAN_BLOCK);
  const reader = new BatchReader(con, COLUMNS, 'filters_other');
  // blocks are full ones during a batch (the sink is synchronous); the last, partial one after the scan
  let fill = 0;
  const flush = () => {
    if (fill % d !== 0) throw mismatch(task, fill, d);
    pass.block(fill / d, layers);
    fill = 0;
  };
  try {
    const sink = (size: number, v: Uint8Array[]) => {
      const layer = new Int32Array(v[0].slice(0, size * 4).buffer);
      const w = new Float32Array(v[1].slice(0, size * 4).buffer);
      for (let r = 0; r < size; r++) {
        const lid = layer[r];
        if (selected !== null && selected[lid] !== 1) continue;
        if (fill % d === 0) layers[fill / d] = lid;
        values[fill++] = w[r];
        if (fill === cap) flush();
      }
    };
    let seen = 0;
    let reported = 0;
    for (const range of task.ranges) {
      for (let lo = range.lo; lo < range.hi; ) {
        // batches of filter ids: about a row group of 3x3 filters' bytes
        const hi = Math.min(range.hi, lo + Math.max(1, Math.floor((batchEnd(lo, range.hi) - lo) / d)));
        seen += await reader.read(lo, hi, sink);
        lo = hi;
        if (onRows && seen - reported >= REPORT_ROWS) {
          onRows(Math.round((seen - reported) / d));
          reported = seen;
        }
      }
    }
    if (fill > 0) flush();
    if (onRows && seen > reported) onRows(Math.round((seen - reported) / d));
  } finally {
    reader.close();
  }
}
