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
  return assertSameShape(
    actual,
    wanted,
    (a, w, at) => {
      const d = Math.abs(a - w);
      assert.ok(d <= tol(at), `${at}: ${a} vs ${w} (difference ${d})`);
      return d;
    },
    path,
    exactKeys,
  );
}

/**
 * The walk of {@link assertClose}: the same structure, every number pair checked by `check` (which asserts and
 * returns its difference); returns the largest difference seen.
 */
export function assertSameShape(
  actual: unknown,
  wanted: unknown,
  check: (actual: number, wanted: number, path: string) => number,
  path = '',
  exactKeys = true,
): number {
  if (wanted === null || typeof wanted === 'string' || typeof wanted === 'boolean') {
    assert.equal(actual, wanted, path);
    return 0;
  }
  if (typeof wanted === 'number') {
    assert.equal(typeof actual, 'number', `${path}: ${actual} instead of ${wanted}`);
    return check(actual as number, wanted, path);
  }
  if (Array.isArray(wanted)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal((actual as unknown[]).length, wanted.length, `${path}: length`);
    return Math.max(
      0,
      ...wanted.map((w, i) =>
        assertSameShape((actual as unknown[])[i], w, check, `${path}[${i}]`, exactKeys),
      ),
    );
  }
  const a = actual as Record<string, unknown>;
  const w = wanted as Record<string, unknown>;
  if (exactKeys) assert.deepEqual(Object.keys(a), Object.keys(w), `${path}: keys`);
  return Math.max(
    0,
    ...Object.keys(w).map((k) => assertSameShape(a[k], w[k], check, `${path}.${k}`, exactKeys)),
  );
}
