/** Comparing a JSON answer with a reference answer (numpy/scipy), number by number. */
import assert from 'node:assert/strict';

/**
 * Same structure (the same nulls, strings and booleans; with `exactKeys`, the default, the same keys in the
 * same order, else every key of `wanted`), numbers within `tol(path)`; returns the largest difference seen.
 */
export function assertClose(
  actual: unknown,
  wanted: unknown,
  tol: (path: string) => number,
  path = '',
  exactKeys = true,
): number {
  if (wanted === null || typeof wanted === 'string' || typeof wanted === 'boolean') {
    assert.equal(actual, wanted, path);
    return 0;
  }
  if (typeof wanted === 'number') {
    assert.equal(typeof actual, 'number', `${path}: ${actual} instead of ${wanted}`);
    const d = Math.abs((actual as number) - wanted);
    assert.ok(d <= tol(path), `${path}: ${actual} vs ${wanted} (difference ${d})`);
    return d;
  }
  if (Array.isArray(wanted)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal((actual as unknown[]).length, wanted.length, `${path}: length`);
    return Math.max(
      0,
      ...wanted.map((w, i) => assertClose((actual as unknown[])[i], w, tol, `${path}[${i}]`, exactKeys)),
    );
  }
  const a = actual as Record<string, unknown>;
  const w = wanted as Record<string, unknown>;
  if (exactKeys) assert.deepEqual(Object.keys(a), Object.keys(w), `${path}: keys`);
  return Math.max(0, ...Object.keys(w).map((k) => assertClose(a[k], w[k], tol, `${path}.${k}`, exactKeys)));
}
