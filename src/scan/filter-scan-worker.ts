/**
 * Node-only worker: runs filter-scan passes on its own read-only DuckDB instance (one DuckDB thread, opened
 * on `prepare` or the first task and kept for the next passes) and posts the accumulators back. Messages
 * in: `{ prepare: path }`, `{ id, task }` and `{ close: true }`, handled one after the other; out:
 * `{ id, progress }` and `{ id, result }` or `{ id, error }`, and `{ closed: true }`.
 */
import { parentPort } from 'node:worker_threads';
import { threadScanKernels } from '../analysis/wasm/scan.js';
import { openScanSource, runScan, type ScanResult, type ScanTask } from './filter-scan.js';

type Message = { prepare: string } | { id: number; task: ScanTask } | { close: true };

function transferables(r: ScanResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const h of r.hist ?? []) out.push(h.counts.buffer as ArrayBuffer, h.filters.buffer as ArrayBuffer);
  if (r.density) out.push(r.density.counts.buffer as ArrayBuffer);
  if (r.candidates) out.push(r.candidates.buffer as ArrayBuffer);
  return out;
}

/** Scan workers use one DuckDB thread each: the worker's own thread runs the queries. */
const THREADS = 1;
let db: { path: string; open: ReturnType<typeof openScanSource> } | null = null;

async function closeDb(): Promise<void> {
  const d = db;
  db = null;
  if (!d) return;
  try {
    (await d.open).close();
  } catch {
    // never opened: nothing to close
  }
}

async function source(path: string) {
  if (db?.path !== path) {
    await closeDb();
    db = { path, open: openScanSource(path, THREADS) };
  }
  return db.open;
}

async function handle(msg: Message): Promise<void> {
  if ('close' in msg) {
    await closeDb();
    parentPort!.postMessage({ closed: true });
  } else if ('prepare' in msg) {
    threadScanKernels();
    await source(msg.prepare).catch(() => undefined); // a failure shows on the first task
  } else {
    try {
      const src = await source(msg.task.path);
      const result = await runScan(
        msg.task,
        (rows) => parentPort!.postMessage({ id: msg.id, progress: rows }),
        src,
      );
      parentPort!.postMessage({ id: msg.id, result }, transferables(result));
    } catch (e) {
      parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (msg: Message) => {
  queue = queue.then(() => handle(msg));
});
