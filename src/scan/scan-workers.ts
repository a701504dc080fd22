/**
 * Node-only: the scan worker threads (filter-scan-worker.ts). A worker is told its database as soon as it is
 * spawned, so it opens its DuckDB instance and compiles the kernels while the caller is still busy; the CLI
 * spawns them before it even loads @duckdb/node-api and plans the selection ({@link prewarmScanWorkers}),
 * and a {@link PlanScanner} takes them from there.
 *
 * Measured (10 M bench, 2 cores): workers spawned by the scanner were ready ~70 ms after the plan, and the
 * sample of the approximate basis, read meanwhile in the main thread on an instance of its own, ~100 ms;
 * prewarmed, both overlap loading @duckdb/node-api (~100 ms) and planning.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Spawned ahead of use, by database path. */
const warm: { path: string; worker: Worker }[] = [];

function spawn(path: string): Worker {
  const w = new Worker(new URL('./filter-scan-worker.js', import.meta.url));
  w.postMessage({ prepare: path });
  return w;
}

/**
 * Starts `n` scan workers for the database at `path`; the next scans of that database take them. Unused
 * ones do not keep the process alive; {@link releaseScanWorkers} ends them.
 */
export function prewarmScanWorkers(path: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const worker = spawn(path);
    worker.unref();
    warm.push({ path, worker });
  }
}

/** `n` scan workers for `path`: prewarmed ones first, then new ones. */
export function takeScanWorkers(path: string, n: number): Worker[] {
  const out: Worker[] = [];
  for (let i = 0; i < warm.length && out.length < n; ) {
    if (warm[i].path === path) {
      const { worker } = warm.splice(i, 1)[0];
      worker.ref();
      out.push(worker);
    } else i++;
  }
  while (out.length < n) out.push(spawn(path));
  return out;
}

/** Closes the workers' DuckDB instances, then ends the workers. */
export async function closeScanWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          const done = () => {
            w.off('message', onMessage);
            w.off('error', done);
            w.off('exit', done);
            resolve();
          };
          const onMessage = (m: { closed?: boolean }) => {
            if (m.closed) done();
          };
          w.on('message', onMessage);
          w.on('error', done);
          w.on('exit', done);
          w.postMessage({ close: true });
        }),
    ),
  );
  await Promise.all(workers.map((w) => w.terminate()));
}

/** Ends the prewarmed workers no scan took. */
export async function releaseScanWorkers(): Promise<void> {
  await closeScanWorkers(warm.splice(0).map((w) => w.worker));
}

/** Database files from this size on hold ≥ 2 M 3x3 filters or so: a scan of them runs on workers. */
const WORKER_FILE_BYTES = 64 << 20;

/** Scan workers a shift of the database at `path` will likely use (PlanScanner decides on the plan). */
export function scanWorkersFor(path: string): number {
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    return 0;
  }
  return size >= WORKER_FILE_BYTES ? Math.min(2, Math.max(1, availableParallelism())) : 0;
}
