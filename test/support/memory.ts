/** Test helper: how much ArrayBuffer memory a call leaves allocated (a load-independent "did it allocate?"). */

/**
 * ArrayBuffer bytes held after `fn` beyond those held before it. Backing stores are freed only by a garbage
 * collection, so a large buffer allocated during the call still counts unless a GC ran meanwhile; use it to
 * show that a hostile size claim was refused before allocating, instead of a wall-clock bound.
 */
export async function peakArrayBufferGrowth(fn: () => Promise<unknown>): Promise<number> {
  const before = process.memoryUsage().arrayBuffers;
  await fn();
  return Math.max(0, process.memoryUsage().arrayBuffers - before);
}
