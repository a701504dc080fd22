/** Assertions that two cohorts results (streamed and SQL-engine paths) are the same analysis. */
import assert from 'node:assert/strict';

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
  if (wanted === null || typeof wanted === 'string' || typeof wanted === 'boolean') {
    assert.equal(actual, wanted, path);
    return 0;
  }
  if (typeof wanted === 'number') {
    assert.equal(typeof actual, 'number', `${path}: ${actual} instead of ${wanted}`);
    const d = Math.abs((actual as number) - wanted) / Math.max(Math.abs(wanted), floor);
    assert.ok(d <= rel, `${path}: ${actual} vs ${wanted} (relative difference ${d})`);
    return d;
  }
  if (Array.isArray(wanted)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal((actual as unknown[]).length, wanted.length, `${path}: length`);
    return Math.max(
      0,
      ...wanted.map((w, i) => assertSameCohorts((actual as unknown[])[i], w, rel, floor, `${path}[${i}]`)),
    );
  }
  const a = actual as Record<string, unknown>;
  const w = wanted as Record<string, unknown>;
  assert.deepEqual(Object.keys(a), Object.keys(w), `${path}: keys`);
  return Math.max(0, ...Object.keys(w).map((k) => assertSameCohorts(a[k], w[k], rel, floor, `${path}.${k}`)));
}
