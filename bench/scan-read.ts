/**
 * bench/scan-read: how fast the native scan reader (native/scan_reader.c) reads the `filters` table, with no
 * arithmetic, by DuckDB buffer-pool size — the reading half of every shift scan. Each of `--threads` worker
 * threads opens its own read-only instance (one DuckDB thread, pool = what opening took + N MB) and streams
 * its half of the filter_ids into a 2048-row block, as the shift's scan threads do. Prints wall seconds per
 * pool size (best of `--runs`; the workers are started before the clock, opening the instances is timed).
 *
 *   node dist/bench/scan-read.js [--db bench/out/shift-10M.duckdb] [--pools 6,16,100,400] [--threads 2] [--runs 3]
 *
 * The database comes from bench/shift (`node dist/bench/shift.js` writes bench/out/shift-10M.duckdb).
 */
import { existsSync } from 'node:fs';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { SCAN_BLOCK } from '../src/analysis/wasm/scan.js';
import { nativeScanReader } from '../src/scan/native-scan.js';
import { machineLine } from './machine.js';

interface Job {
  path: string;
  lo: number;
  hi: number;
  poolMB: number;
}

/** One thread's read: open, stream [lo, hi) into a block, close. Returns the rows read. */
function readPart(job: Job): number {
  const reader = nativeScanReader();
  if (!reader) throw new Error('the native scan reader is not built (npm run build)');
  const db = reader.open(job.path, 1, job.poolMB);
  try {
    const cols = Array.from({ length: 10 }, () => new Float32Array(SCAN_BLOCK));
    const scan = reader.query(
      db,
      `SELECT layer_id, w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters WHERE filter_id >= ${job.lo} AND filter_id < ${job.hi}`,
    );
    let rows = 0;
    try {
      for (;;) {
        const fill = reader.fill(scan, cols, 0, SCAN_BLOCK, null);
        rows += fill;
        if (fill < SCAN_BLOCK) break;
      }
    } finally {
      reader.closeScan(scan);
    }
    return rows;
  } finally {
    reader.close(db);
  }
}

if (!isMainThread) {
  parentPort!.on('message', (job: Job) => parentPort!.postMessage(readPart(job)));
} else {
  const args = process.argv.slice(2);
  const value = (name: string, def: string) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  const path = value('--db', 'bench/out/shift-10M.duckdb');
  const pools = value('--pools', '6,16,100,400').split(',').map(Number);
  const threads = Number(value('--threads', '2'));
  const runs = Number(value('--runs', '3'));
  if (!existsSync(path)) throw new Error(`${path} is missing: run node dist/bench/shift.js first`);
  const reader = nativeScanReader();
  if (!reader) throw new Error('the native scan reader is not built (npm run build)');
  const db = reader.open(path, 1, 16);
  const n = new Int32Array(1); // the reader copies 4-byte columns: the count as INTEGER
  const c2 = reader.query(db, 'SELECT CAST(max(filter_id) + 1 AS INTEGER) FROM filters');
  reader.fill(c2, [n], 0, 1, null);
  reader.closeScan(c2);
  reader.close(db);
  const total = n[0];
  console.log(machineLine());
  console.log(`${path}: ${total.toLocaleString('en-US')} filters, ${threads} threads, best of ${runs}`);
  // workers started before timing: the figures are the instances' open + read, not Node's worker boot
  const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url)));
  const run = (w: Worker, job: Job) =>
    new Promise<number>((resolve, reject) => {
      const onError = (e: Error) => {
        w.off('message', onMessage);
        reject(e);
      };
      const onMessage = (rows: number) => {
        w.off('error', onError);
        resolve(rows);
      };
      w.once('message', onMessage);
      w.once('error', onError);
      w.postMessage(job);
    });
  for (const poolMB of pools) {
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const rows = await Promise.all(
        workers.map((w, i) =>
          run(w, {
            path,
            lo: Math.floor((total * i) / threads),
            hi: Math.floor((total * (i + 1)) / threads),
            poolMB,
          }),
        ),
      );
      const seconds = (performance.now() - t0) / 1000;
      const read = rows.reduce((a, b) => a + b, 0);
      if (read !== total) throw new Error(`read ${read} rows of ${total}`);
      best = Math.min(best, seconds);
    }
    console.log(
      `pool ${poolMB} MB a thread: ${best.toFixed(3)} s (${((best * 1e9 * threads) / total).toFixed(1)} ns a row a thread)`,
    );
  }
  await Promise.all(workers.map((w) => w.terminate()));
}
