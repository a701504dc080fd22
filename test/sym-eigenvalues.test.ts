/**
 * The Householder + QL eigen-solver of src/metrics/sym-eigenvalues.ts against numpy.linalg.eigvalsh
 * (test/data/mutation/eigen.json, from make_eigen.py; issue 20 item 6), through both kernels of its fused
 * update (WebAssembly SIMD and the JS twin), on matrices that reach each branch: odd and even orders, a diagonal
 * matrix (every Householder row zero), a zero last row, a rank-3 Gram matrix, a tridiagonal matrix that splits,
 * entries near 1e±150.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import {
  setTridiagWasm,
  symmetricEigenvalues,
  symmetricEigenvaluesOrNull,
} from '../src/metrics/sym-eigenvalues.js';
import { minstdWeights as weights } from './support/minstd.js';
import { dataPath } from './support/paths.js';
import { symmetricFromGenerator as symmetric } from './support/symmetric.js';

interface Case {
  name: string;
  kind: 'symmetric' | 'diagonal' | 'zeroLastRow' | 'gram' | 'tridiagonal';
  n: number;
  seed: number;
  r?: number;
  split?: number;
  scale?: number;
  eigenvalues: number[];
}
function build(c: Case): Float64Array {
  const n = c.n;
  if (c.kind === 'symmetric') return symmetric(n, c.seed).map((x) => x * (c.scale ?? 1));
  if (c.kind === 'zeroLastRow') {
    const a = symmetric(n, c.seed);
    for (let j = 0; j < n; j++) a[(n - 1) * n + j] = a[j * n + n - 1] = 0;
    return a;
  }
  const a = new Float64Array(n * n);
  if (c.kind === 'diagonal') {
    const w = weights(n, c.seed);
    for (let i = 0; i < n; i++) a[i * n + i] = w[i];
  } else if (c.kind === 'gram') {
    const r = c.r ?? 0;
    const b = weights(n * r, c.seed);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b[i * r + k] * b[j * r + k];
        a[i * n + j] = s;
      }
  } else {
    const w = weights(2 * n, c.seed);
    for (let i = 0; i < n; i++) a[i * n + i] = w[i];
    for (let i = 1; i < n; i++) a[i * n + i - 1] = a[(i - 1) * n + i] = w[n + i - 1];
    const s = c.split ?? 0;
    a[s * n + s - 1] = a[(s - 1) * n + s] = 0;
  }
  return a;
}

const data = JSON.parse(readFileSync(dataPath('mutation/eigen.json'), 'utf8')) as { cases: Case[] };
after(() => setTridiagWasm(true));

for (const wasm of [true, false]) {
  describe(`symmetricEigenvalues against numpy.linalg.eigvalsh (${wasm ? 'WebAssembly' : 'JS'} kernel)`, () => {
    for (const c of data.cases) {
      test(c.name, () => {
        setTridiagWasm(wasm);
        const a = build(c);
        const copy = a.slice();
        const ev = symmetricEigenvalues(a, c.n);
        assert.deepEqual(a, copy, 'the input is left unchanged');
        assert.equal(ev.length, c.n);
        const scale = Math.max(...c.eigenvalues.map(Math.abs));
        // backward-stable solvers agree to a small multiple of n·eps·‖A‖
        for (let i = 0; i < c.n; i++)
          assert.ok(
            Math.abs(ev[i] - c.eigenvalues[i]) <= 1e-13 * scale,
            `λ${i}: ${ev[i]} vs ${c.eigenvalues[i]} (‖A‖ ≈ ${scale})`,
          );
      });
    }
  });
}

describe('symmetricEigenvalues: input checks', () => {
  test('only the lower triangle is read: garbage above the diagonal changes nothing', () => {
    const c = data.cases.find((x) => x.name === 'random 8');
    assert.ok(c);
    const a = build(c);
    for (let i = 0; i < 8; i++) for (let j = i + 1; j < 8; j++) a[i * 8 + j] = 1e6 * (i - j);
    const ev = symmetricEigenvalues(a, 8);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(ev[i] - c.eigenvalues[i]) <= 1e-13 * 2, `λ${i}`);
  });
  test('too few values or a non-finite entry in the lower triangle: RangeError', () => {
    assert.throws(() => symmetricEigenvaluesOrNull(new Float64Array(8), 3), {
      name: 'RangeError',
      message: 'symmetricEigenvalues: need 9 values, got 8',
    });
    const a = symmetric(3, 3);
    a[2 * 3 + 2] = Number.POSITIVE_INFINITY;
    assert.throws(() => symmetricEigenvalues(a, 3), {
      name: 'RangeError',
      message: 'symmetricEigenvalues: non-finite entry',
    });
    const b = symmetric(3, 3);
    b[0 * 3 + 2] = Number.NaN; // above the diagonal: not read
    b[2 * 3 + 0] = 0.25;
    assert.equal(symmetricEigenvalues(b, 3).length, 3);
  });
  test('order 0: no eigenvalues', () => {
    assert.equal(symmetricEigenvalues(new Float64Array(0), 0).length, 0);
  });
});
