/** Number-by-number comparison of measured layer metrics with a reference (numpy or hand-derived). */
import assert from 'node:assert/strict';
import type { LayerMetrics } from '../../src/metrics/types.js';

/** |a − e| ≤ max(abs, rel·|e|); nulls must match. */
export function close(
  actual: number | null,
  expected: number | null,
  what: string,
  rel = 1e-12,
  abs = 1e-13,
): void {
  if (actual === null || expected === null) {
    assert.equal(actual, expected, what);
    return;
  }
  const err = Math.abs(actual - expected);
  assert.ok(err <= Math.max(abs, rel * Math.abs(expected)), `${what}: ${actual} vs ${expected} (err ${err})`);
}

/** Every metric of `expected` within {@link close}'s default tolerance. */
export function closeMetrics(actual: LayerMetrics, expected: LayerMetrics, what: string): void {
  for (const key of Object.keys(expected) as (keyof LayerMetrics)[])
    close(actual[key], expected[key], `${what} ${key}`);
}
