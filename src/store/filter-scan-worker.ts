/**
 * Node-only worker: runs filter-scan passes on its own read-only DuckDB instance (one DuckDB thread) and
 * posts the accumulators back. Messages in: `{ id, task }`; out: `{ id, progress }` and `{ id, result }` or
 * `{ id, error }`.
 */
import { parentPort } from 'node:worker_threads';
import { runScan, type ScanResult, type ScanTask } from './filter-scan.js';

function transferables(r: ScanResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const h of r.hist ?? []) out.push(h.counts.buffer as ArrayBuffer, h.filters.buffer as ArrayBuffer);
  if (r.density) out.push(r.density.counts.buffer as ArrayBuffer);
  if (r.candidates) out.push(r.candidates.buffer as ArrayBuffer);
  return out;
}

parentPort!.on('message', async (msg: { id: number; task: ScanTask }) => {
  try {
    const result = await runScan(msg.task, (rows) => parentPort!.postMessage({ id: msg.id, progress: rows }));
    parentPort!.postMessage({ id: msg.id, result }, transferables(result));
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
