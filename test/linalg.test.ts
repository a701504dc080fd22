import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  centredScatter,
  columnMeans,
  gram,
  symmetricEigen,
  symmetricEigenvaluesQL,
} from '../src/metrics/linalg.js';
import { mulberry32 as rng } from './support/random.js';

/** Random orthogonal k×k (rows orthonormal) by Gram–Schmidt on a random matrix. */
function randomOrthogonal(k: number, rand: () => number): Float64Array {
  const q = new Float64Array(k * k);
  for (let i = 0; i < k * k; i++) q[i] = rand() - 0.5;
  for (let i = 0; i < k; i++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        let d = 0;
        for (let c = 0; c < k; c++) d += q[i * k + c] * q[j * k + c];
        for (let c = 0; c < k; c++) q[i * k + c] -= d * q[j * k + c];
      }
    }
    let nrm = 0;
    for (let c = 0; c < k; c++) nrm += q[i * k + c] ** 2;
    nrm = Math.sqrt(nrm);
    for (let c = 0; c < k; c++) q[i * k + c] /= nrm;
  }
  return q;
}

/** A = Qᵀ diag(lambda) Q. */
function withSpectrum(lambda: number[], q: Float64Array): Float64Array {
  const k = lambda.length;
  const a = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let r = 0; r < k; r++) s += q[r * k + i] * lambda[r] * q[r * k + j];
      a[i * k + j] = s;
    }
  }
  return a;
}

function checkDecomposition(a: Float64Array, k: number, tol: number): ReturnType<typeof symmetricEigen> {
  const res = symmetricEigen(a, k);
  let scale = 0;
  for (const x of a) scale = Math.max(scale, Math.abs(x));
  scale = Math.max(scale, 1e-300);
  for (let i = 1; i < k; i++) assert.ok(res.values[i - 1] >= res.values[i], 'sorted descending');
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      // orthonormal rows
      let d = 0;
      for (let c = 0; c < k; c++) d += res.vectors[i * k + c] * res.vectors[j * k + c];
      assert.ok(Math.abs(d - (i === j ? 1 : 0)) < tol, `VVᵀ[${i},${j}] = ${d}`);
      // A v_i = λ_i v_i  → reconstruct A = Σ λ v vᵀ
      let s = 0;
      for (let r = 0; r < k; r++) s += res.values[r] * res.vectors[r * k + i] * res.vectors[r * k + j];
      assert.ok(Math.abs(s - a[i * k + j]) <= tol * scale, `A[${i},${j}]: ${s} vs ${a[i * k + j]}`);
    }
  }
  return res;
}

describe('symmetricEigen', () => {
  it('handles empty, 1×1 and diagonal matrices', () => {
    assert.equal(symmetricEigen([], 0).values.length, 0);
    const one = symmetricEigen([-3], 1);
    assert.deepEqual([...one.values], [-3]);
    assert.deepEqual([...one.vectors], [1]);
    const diag = symmetricEigen([2, 0, 0, 0, 5, 0, 0, 0, -1], 3);
    assert.deepEqual([...diag.values], [5, 2, -1]);
    assert.deepEqual([...diag.vectors], [0, 1, 0, 1, 0, 0, 0, 0, 1]);
    assert.equal(diag.sweeps, 0);
  });

  it('solves a 2×2 by hand', () => {
    // [[2, 1], [1, 2]] → 3 with (1, 1)/√2, 1 with (1, −1)/√2 (sign: largest component positive, first on ties)
    const r = symmetricEigen([2, 1, 1, 2], 2);
    assert.ok(Math.abs(r.values[0] - 3) < 1e-15 && Math.abs(r.values[1] - 1) < 1e-15);
    const h = Math.SQRT1_2;
    const expect = [h, h, h, -h];
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(r.vectors[i] - expect[i]) < 1e-15, `${r.vectors}`);
  });

  it('recovers a known 9×9 spectrum to machine precision', () => {
    const rand = rng(7);
    for (let trial = 0; trial < 20; trial++) {
      const lambda = Array.from({ length: 9 }, () => (rand() - 0.3) * 10);
      const a = withSpectrum(lambda, randomOrthogonal(9, rand));
      const res = checkDecomposition(a, 9, 1e-13);
      const sorted = [...lambda].sort((x, y) => y - x);
      for (let i = 0; i < 9; i++) assert.ok(Math.abs(res.values[i] - sorted[i]) < 1e-13 * 10, `λ${i}`);
      assert.ok(res.sweeps <= 12, `sweeps ${res.sweeps}`);
    }
  });

  it('handles repeated eigenvalues, rank deficiency and the zero matrix', () => {
    const rand = rng(11);
    const q = randomOrthogonal(9, rand);
    checkDecomposition(withSpectrum([4, 4, 4, 1, 1, 0, 0, 0, 0], q), 9, 1e-13);
    const zero = symmetricEigen(new Float64Array(81), 9);
    assert.ok(zero.values.every((v) => v === 0));
    const ident = symmetricEigen(withSpectrum([1, 1, 1, 1, 1, 1, 1, 1, 1], q), 9);
    for (const v of ident.values) assert.ok(Math.abs(v - 1) < 1e-14);
  });

  it('keeps small eigenvalues accurate in absolute terms across wide scales', () => {
    const rand = rng(3);
    const lambda = [1, 1e-3, 1e-6, 1e-9, 1e-12, 1e-15, 0, 0, 0];
    const res = checkDecomposition(withSpectrum(lambda, randomOrthogonal(9, rand)), 9, 1e-13);
    for (let i = 0; i < 9; i++)
      assert.ok(Math.abs(res.values[i] - lambda[i]) < 1e-15, `λ${i} ${res.values[i]}`);
    // scaled far from 1 (tiny filter weights squared)
    const tiny = lambda.map((x) => x * 1e-40);
    const rt = symmetricEigen(withSpectrum(tiny, randomOrthogonal(9, rand)), 9);
    assert.ok(Math.abs(rt.values[0] - 1e-40) < 1e-54);
  });

  it('converges for 49×49 (7×7 kernels) and 25×25', () => {
    const rand = rng(5);
    for (const k of [25, 49]) {
      const lambda = Array.from({ length: k }, () => rand() ** 3);
      const res = checkDecomposition(withSpectrum(lambda, randomOrthogonal(k, rand)), k, 1e-12);
      assert.ok(res.sweeps < 20, `${k}: ${res.sweeps} sweeps`);
    }
  });

  it('reads only the upper triangle and rejects non-finite input', () => {
    const r = symmetricEigen([2, 1, 99, 2], 2);
    assert.ok(Math.abs(r.values[0] - 3) < 1e-15);
    assert.throws(() => symmetricEigen([1, Number.NaN, 0, 1], 2), RangeError);
    assert.throws(() => symmetricEigen([1, 2, 3], 2), RangeError);
  });
});

function naiveGram(a: Float64Array, rows: number, cols: number): Float64Array {
  const c = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let d = 0; d < cols; d++) s += a[i * cols + d] * a[j * cols + d];
      c[i * rows + j] = s;
    }
  }
  return c;
}

describe('symmetricEigenvaluesQL (Householder + QL, for wide kernels)', () => {
  it('recovers known spectra of 1..150 with repeats, zeros and negatives, and agrees with Jacobi', () => {
    const rand = rng(17);
    for (const k of [0, 1, 2, 3, 8, 65, 150]) {
      const lambda = Array.from({ length: k }, (_, i) =>
        i % 7 === 3 ? 0 : i % 5 === 1 ? 2.5 : (rand() - 0.2) * 4,
      );
      const a = withSpectrum(lambda, randomOrthogonal(k, rand));
      const values = symmetricEigenvaluesQL(a, k);
      assert.ok(values, `converged for ${k}`);
      const sorted = [...lambda].sort((x, y) => y - x);
      for (let i = 0; i < k; i++)
        assert.ok(Math.abs(values[i] - sorted[i]) < 1e-12, `${k}: λ${i} ${values[i]} vs ${sorted[i]}`);
      if (k > 0 && k <= 65) {
        const jacobi = symmetricEigen(a, k, { vectors: false }).values;
        for (let i = 0; i < k; i++)
          assert.ok(Math.abs(values[i] - jacobi[i]) < 1e-12, `${k}: λ${i} vs Jacobi`);
      }
    }
  });

  it('handles a diagonal, an already tridiagonal and the zero matrix, and rejects non-finite input', () => {
    const diag = new Float64Array(16);
    [3, -1, 0, 7].forEach((v, i) => {
      diag[i * 5] = v;
    });
    assert.deepEqual(Array.from(symmetricEigenvaluesQL(diag, 4)!), [7, 3, 0, -1]);
    // [[2, 1, 0], [1, 2, 1], [0, 1, 2]]: 2 + √2, 2, 2 − √2
    const tri = Float64Array.of(2, 1, 0, 1, 2, 1, 0, 1, 2);
    const v = symmetricEigenvaluesQL(tri, 3)!;
    [2 + Math.SQRT2, 2, 2 - Math.SQRT2].forEach((x, i) => {
      assert.ok(Math.abs(v[i] - x) < 1e-15, `${v[i]} vs ${x}`);
    });
    assert.deepEqual(Array.from(symmetricEigenvaluesQL(new Float64Array(9), 3)!), [0, 0, 0]);
    assert.throws(() => symmetricEigenvaluesQL(Float64Array.of(1, Number.NaN, Number.NaN, 1), 2), RangeError);
  });
});

describe('gram', () => {
  it('matches the naive product for all shapes around the 4×2 micro-kernel edges', () => {
    const rand = rng(1);
    for (const rows of [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17]) {
      for (const cols of [1, 2, 3, 9, 10, 37]) {
        const a = Float64Array.from({ length: rows * cols }, () => rand() - 0.5);
        const ref = naiveGram(a, rows, cols);
        for (const blockCols of [1, 4, 8, Number.POSITIVE_INFINITY, undefined]) {
          const c = gram(a, rows, cols, undefined, { blockCols });
          for (let i = 0; i < rows * rows; i++) {
            assert.ok(Math.abs(c[i] - ref[i]) < 1e-14, `${rows}×${cols} block ${blockCols} [${i}]`);
          }
          for (let i = 0; i < rows; i++) {
            for (let j = 0; j < i; j++) assert.equal(c[i * rows + j], c[j * rows + i], 'exactly symmetric');
          }
        }
      }
    }
  });

  it('reuses and clears a given output buffer, and checks sizes', () => {
    const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const out = new Float64Array(4).fill(99);
    assert.equal(gram(a, 2, 3, out), out);
    assert.deepEqual([...out], [14, 32, 32, 77]);
    assert.throws(() => gram(a, 3, 3), RangeError);
    assert.throws(() => gram(a, 2, 3, new Float64Array(3)), RangeError);
  });

  it('agrees on a large panel with blocked and unblocked columns', () => {
    const rand = rng(2);
    const rows = 70;
    const cols = 1300;
    const a = Float64Array.from({ length: rows * cols }, () => rand() - 0.5);
    const ref = naiveGram(a, rows, cols);
    const c1 = gram(a, rows, cols);
    const c2 = gram(a, rows, cols, undefined, { blockCols: Number.POSITIVE_INFINITY });
    for (let i = 0; i < ref.length; i++) {
      assert.ok(Math.abs(c1[i] - ref[i]) < 1e-12 && Math.abs(c2[i] - ref[i]) < 1e-12);
    }
  });
});

describe('columnMeans / centredScatter', () => {
  it('gives exact means for constant columns and honours the row selection', () => {
    const a = Float64Array.from([0.1, 1, 0.1, 2, 0.1, 6, 0.1, 100]);
    assert.deepEqual([...columnMeans(a, 4, 2)], [0.1, 27.25]);
    assert.deepEqual([...columnMeans(a, 4, 2, Uint8Array.from([1, 1, 1, 0]))], [0.1, 3]);
    assert.deepEqual([...columnMeans(a, 4, 2, new Uint8Array(4))], [0, 0]);
  });

  it('matches a naive centred CᵀC for k = 9 (unrolled path) and other k', () => {
    const rand = rng(4);
    for (const k of [1, 3, 9, 25]) {
      const rows = 57;
      const a = Float64Array.from({ length: rows * k }, () => rand() * 2 + 1);
      const select = Uint8Array.from({ length: rows }, () => (rand() < 0.7 ? 1 : 0));
      for (const sel of [undefined, select]) {
        const mean = columnMeans(a, rows, k, sel);
        const s = centredScatter(a, rows, k, mean, sel);
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            let ref = 0;
            for (let r = 0; r < rows; r++) {
              if (sel && !sel[r]) continue;
              ref += (a[r * k + i] - mean[i]) * (a[r * k + j] - mean[j]);
            }
            assert.ok(Math.abs(s[i * k + j] - ref) < 1e-12, `k=${k} [${i},${j}]`);
          }
        }
      }
    }
  });
});
