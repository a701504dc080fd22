/** Assertions that two cohorts results (streamed and SQL-engine paths) are the same analysis. */
import assert from 'node:assert/strict';
import { assertSameShape } from './assert-close.js';

/**
 * The same structure, strings, nulls and keys in the same order; every number within `rel` relative (of
 * max(|wanted|, `floor`)): the moment sums of the SQL passes are added in another order, so the basis, the
 * variance entropies and the matrices agree to rounding. Returns the largest relative difference seen.
 */
export function assertSameCohorts(
  actual: unknown,
  wanted: unknown,
  rel = 1e-12,
  floor = 1e-9,
  path = '',
): number {
  return assertSameShape(
    actual,
    wanted,
    (a, w, at) => {
      const d = Math.abs(a - w) / Math.max(Math.abs(w), floor);
      assert.ok(d <= rel, `${at}: ${a} vs ${w} (relative difference ${d})`);
      return d;
    },
    path,
  );
}
