/**
 * One database job at a time for the server: uploads write through the server's DuckDB instance while
 * compare scans read the file through instances of their own (scan/filter-scan.ts), which must never see a
 * write half done. Both run through {@link serial}.
 */
let queue: Promise<unknown> = Promise.resolve();

/** Runs `fn` after every job queued before it has settled. */
export function serial<T>(fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn, fn);
  queue = next.catch(() => {});
  return next;
}
