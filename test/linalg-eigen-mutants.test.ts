/**
 * The Jacobi solver of src/metrics/linalg.ts (and its QL entry point) against test/data/mutation/linalg.json
 * (make_linalg.py; issue 20 item 6): numpy's eigh to rounding, and the method written out in Python floats — the
 * same eigenvalues, eigenvectors and sweep counts bit for bit.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { symmetricEigen, symmetricEigenvaluesQL } from '../src/metrics/linalg.js';
import { dataPath } from './support/paths.js';

interface EigenCase {
  name: string;
  k: number;
  a: number[];
  values: number[];
  vectors: number[];
  sweeps: number;
  numpyValues: number[];
  numpyVectors: number[];
}
const eigen = JSON.parse(readFileSync(dataPath('mutation/linalg.json'), 'utf8')) as { cases: EigenCase[] };

describe('symmetricEigen: numpy and the method written out in Python', () => {
  for (const c of eigen.cases) {
    it(`${c.name}: eigenvalues, eigenvectors and sweeps bit for bit; numpy's eigenpairs to rounding`, () => {
      const r = symmetricEigen(c.a, c.k);
      assert.deepEqual(Array.from(r.values), c.values);
      assert.deepEqual(
        Array.from(r.vectors, (x) => x + 0),
        c.vectors.map((x) => x + 0),
      );
      assert.equal(r.sweeps, c.sweeps);
      let scale = 0;
      for (const x of c.numpyValues) scale = Math.max(scale, Math.abs(x));
      for (let i = 0; i < c.k; i++) {
        assert.ok(Math.abs(r.values[i] - c.numpyValues[i]) <= 1e-14 * scale, `λ${i}`);
        // numpy's vectors up to sign, where the eigenvalue is simple
        const simple = c.numpyValues.every(
          (v, j) => j === i || Math.abs(v - c.numpyValues[i]) > 1e-6 * scale,
        );
        if (!simple) continue;
        let dot = 0;
        for (let t = 0; t < c.k; t++) dot += r.vectors[i * c.k + t] * c.numpyVectors[i * c.k + t];
        assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-9, `${c.name} v${i}: |dot| ${dot}`);
      }
      // without vectors: the same values bit for bit, no vectors
      const v = symmetricEigen(c.a, c.k, { vectors: false });
      assert.deepEqual(Array.from(v.values), c.values);
      assert.equal(v.vectors.length, 0);
      assert.equal(v.sweeps, c.sweeps);
    });
  }

  it('gives up after maxSweeps (exactly the sweeps needed is enough)', () => {
    const c = eigen.cases.find((x) => x.name === '9x9 random')!;
    assert.equal(symmetricEigen(c.a, c.k, { maxSweeps: c.sweeps }).sweeps, c.sweeps);
    assert.throws(
      () => symmetricEigen(c.a, c.k, { maxSweeps: c.sweeps - 1 }),
      (e: Error) =>
        !(e instanceof RangeError) &&
        e.message === `symmetricEigen: no convergence after ${c.sweeps - 1} sweeps`,
    );
    const big = eigen.cases.find((x) => x.name === '25x25 random')!;
    assert.ok(big.sweeps > 0 && big.sweeps <= 100);
    assert.throws(() => symmetricEigen(big.a, big.k, { maxSweeps: 0 }), /no convergence after 0 sweeps/);
  });

  it('checks its input with the shape and the entry in the message', () => {
    assert.deepEqual(Array.from(symmetricEigen([], 0).values), []);
    assert.deepEqual(Array.from(symmetricEigen([7, 99], 1).values), [7]); // extra values ignored
    assert.throws(() => symmetricEigen([1, 2, 3], 2), {
      name: 'RangeError',
      message: 'symmetricEigen: need a 2×2 matrix, got 3 values',
    });
    assert.throws(() => symmetricEigen([1, 2, 3, 4], 1.5), /need a 1\.5×1\.5 matrix, got 4 values/);
    assert.throws(() => symmetricEigen([1], -1), /need a -1×-1 matrix/);
    assert.throws(() => symmetricEigen([1, 2, 2, Number.POSITIVE_INFINITY], 2), {
      name: 'RangeError',
      message: 'symmetricEigen: non-finite entry at (1, 1)',
    });
    // the lower triangle is never read, not even for finiteness
    assert.deepEqual(Array.from(symmetricEigen([3, 0, Number.NaN, 1], 2).values), [3, 1]);
  });
});

describe('symmetricEigenvaluesQL', () => {
  it('gives numpy’s eigenvalues, descending', () => {
    for (const c of eigen.cases.filter((x) => x.name.includes('random'))) {
      const sym = Float64Array.from(c.a);
      const v = symmetricEigenvaluesQL(sym, c.k)!;
      assert.equal(v.length, c.k);
      for (let i = 0; i < c.k; i++) assert.ok(Math.abs(v[i] - c.numpyValues[i]) < 1e-12, `${c.name} λ${i}`);
    }
    assert.deepEqual(Array.from(symmetricEigenvaluesQL([], 0)!), []);
  });

  it('checks its input', () => {
    assert.throws(() => symmetricEigenvaluesQL([1, 2, 3], 2), {
      name: 'RangeError',
      message: 'symmetricEigenvaluesQL: need a 2×2 matrix, got 3 values',
    });
    assert.throws(() => symmetricEigenvaluesQL([1, 2], 0.5), /need a 0\.5×0\.5 matrix/);
    assert.throws(() => symmetricEigenvaluesQL([1], -1), RangeError);
    assert.throws(() => symmetricEigenvaluesQL([1, 0, Number.NaN, 1], 2), {
      name: 'RangeError',
      message: 'symmetricEigenvaluesQL: non-finite entry 2',
    });
  });
});
