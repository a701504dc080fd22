/**
 * src/metrics/sym-eigenvalues.ts on hard spectra and extreme magnitudes against numpy.linalg.eigvalsh
 * (test/data/mutation/eigen-spectra.json, from make_eigen_spectra.py): zero matrices, Wilkinson's W21+ (pairs
 * equal to ~1e-14), a tight cluster, a graded matrix, a negative definite one, equal neighbouring diagonal
 * entries, a row of mixed magnitudes, entries near 1e307 and subnormal ones; both kernels. Then which kernel
 * runs: the WebAssembly one by default (its sums round differently from the JS twin's, so the bits tell).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import {
  setTridiagWasm,
  symmetricEigenvalues,
  symmetricEigenvaluesOrNull,
  tridiagWasmAvailable,
} from '../src/metrics/sym-eigenvalues.js';
import { minstdWeights as weights } from './support/minstd.js';
import { dataPath } from './support/paths.js';
import { symmetricFromGenerator as symmetric, tridiagonal } from './support/symmetric.js';

interface Case {
  name: string;
  kind: string;
  n: number;
  seed?: number;
  r?: number;
  scale?: number;
  eigenvalues: number[];
}

function build(c: Case): Float64Array {
  const { n } = c;
  const seed = c.seed ?? 0;
  switch (c.kind) {
    case 'zero':
      return new Float64Array(n * n);
    case 'wilkinson':
      return tridiagonal(
        Array.from({ length: n }, (_, i) => Math.abs(10 - i)),
        Array.from({ length: n - 1 }, () => 1),
      );
    case 'laplacian':
      return tridiagonal(
        Array.from({ length: n }, () => 2),
        Array.from({ length: n - 1 }, () => -1),
      );
    case 'pair':
      return Float64Array.of(1, 0.5, 0.5, 1);
    case 'cluster': {
      const a = symmetric(n, seed).map((x) => x * 1e-9);
      for (let i = 0; i < n; i++) a[i * n + i] += 1;
      return a;
    }
    case 'graded': {
      const a = symmetric(n, seed);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] *= 2 ** (-4 * (i + j));
      return a;
    }
    case 'negativeGram': {
      const r = c.r ?? 0;
      const b = weights(n * r, seed);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += b[i * r + k] * b[j * r + k];
          a[i * n + j] = -s;
        }
      return a;
    }
    case 'mixed': {
      const a = symmetric(n, seed);
      for (let j = 0; j < 3; j++) a[4 * n + j] = a[j * n + 4] = a[4 * n + j] * 1e-150;
      a[4 * n + 3] = a[3 * n + 4] = a[4 * n + 3] * 1e150;
      return a;
    }
    case 'tinyBlock': {
      const a = new Float64Array(n * n);
      a[0] = 1;
      const block = tridiagonal([0.3, -0.2, 0.5, 0.1], [0.7, 0.4, -0.6]);
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) a[(i + 1) * n + j + 1] = block[i * 4 + j] * 2 ** -600;
      return a;
    }
    case 'tinyBlockFirst': {
      const a = new Float64Array(n * n);
      a[n * n - 1] = 1;
      const block = tridiagonal([0.3, -0.2, 0.5, 0.1], [0.7, 0.4, -0.6]);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) a[i * n + j] = block[i * 4 + j] * 2 ** -600;
      return a;
    }
    case 'weakTail':
      return tridiagonal([1, 1e-10, 1e-10], [1e-8, 1e-12]);
    case 'scaled':
      return symmetric(n, seed).map((x) => x * (c.scale ?? 1));
    case 'subnormal': {
      const s = c.scale ?? 0;
      return tridiagonal([0, 0, 0, 0], [s, 2 * s, 3 * s]);
    }
    default:
      throw new Error(`unknown case kind ${c.kind}`);
  }
}

const data = JSON.parse(readFileSync(dataPath('mutation/eigen-spectra.json'), 'utf8')) as {
  cases: Case[];
};
after(() => setTridiagWasm(true));

/** Backward-stable solvers agree to a small multiple of n·eps·‖A‖; subnormal results to their spacing. */
function assertClose(ev: Float64Array, expected: number[], label: string): void {
  assert.equal(ev.length, expected.length);
  const scale = Math.max(...expected.map(Math.abs));
  const tol = 1e-13 * scale + 2 * Number.MIN_VALUE;
  for (let i = 0; i < ev.length; i++)
    assert.ok(Math.abs(ev[i] - expected[i]) <= tol, `${label} λ${i}: ${ev[i]} vs ${expected[i]}`);
}

// First in the file: the default (no setTridiagWasm call yet) and the module memory before any large matrix.
describe('symmetricEigenvalues: which kernel runs', () => {
  test('the WebAssembly SIMD kernel loads on Node 20 (SIMD is on by default)', () => {
    assert.equal(tridiagWasmAvailable(), true);
  });

  test('by default the WebAssembly kernel computes (its rounding differs from the JS twin), and setTridiagWasm switches', () => {
    const n = 17;
    const a = symmetric(n, 17);
    const first = symmetricEigenvalues(a, n);
    setTridiagWasm(false);
    const js = symmetricEigenvalues(a, n);
    setTridiagWasm(true);
    const again = symmetricEigenvalues(a, n);
    assert.deepEqual(again, first, 'deterministic');
    let differ = 0;
    for (let i = 0; i < n; i++) {
      if (js[i] !== first[i]) differ++;
      assert.ok(Math.abs(js[i] - first[i]) <= 1e-14, `λ${i}: the kernels agree to rounding`);
    }
    assert.ok(differ > 0, 'the two kernels sum in different orders, so some bits differ');
  });

  test('the module memory grows for larger matrices (89×89 and its vectors just need a second 64 KiB page)', () => {
    const small = symmetric(8, 8);
    const before = symmetricEigenvalues(small, 8);
    for (const n of [89, 200]) {
      const a = symmetric(n, n);
      const ev = symmetricEigenvalues(a, n);
      setTridiagWasm(false);
      const js = symmetricEigenvalues(a, n);
      setTridiagWasm(true);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(ev[i] - js[i]) <= 1e-13, `${n}: λ${i}`);
      let trace = 0;
      for (let i = 0; i < n; i++) trace += a[i * n + i];
      const sum = ev.reduce((s, x) => s + x, 0);
      assert.ok(Math.abs(sum - trace) <= 1e-12, `${n}: Σλ = trace: ${sum} vs ${trace}`);
    }
    assert.deepEqual(symmetricEigenvalues(small, 8), before, 'the smaller matrix after the larger ones');
  });
});

for (const wasm of [true, false]) {
  describe(`symmetricEigenvalues on hard spectra (${wasm ? 'WebAssembly' : 'JS'} kernel)`, () => {
    for (const c of data.cases) {
      test(c.name, () => {
        setTridiagWasm(wasm);
        const a = build(c);
        const copy = a.slice();
        const ev = symmetricEigenvaluesOrNull(a, c.n);
        assert.ok(ev, 'QL converges');
        assert.deepEqual(a, copy, 'the input is left unchanged');
        assertClose(ev, c.eigenvalues, c.name);
        if (c.kind === 'tinyBlock' || c.kind === 'tinyBlockFirst')
          for (let i = 0; i < 4; i++) {
            const want = c.eigenvalues[i];
            assert.ok(Math.abs(ev[i] - want) <= 1e-12 * Math.abs(want), `tiny λ${i}: ${ev[i]} vs ${want}`);
          }
        for (let i = 1; i < ev.length; i++) assert.ok(ev[i - 1] <= ev[i], 'ascending');
      });
    }
  });
}

describe('symmetricEigenvalues at the largest finite entry (hand-derived)', () => {
  test('an entry of exactly Number.MAX_VALUE is finite: diag(MAX_VALUE, 1) has eigenvalues 1 and MAX_VALUE', () => {
    const a = Float64Array.of(Number.MAX_VALUE, 0, 0, 1);
    assert.deepEqual(Array.from(symmetricEigenvalues(a, 2)), [1, Number.MAX_VALUE]);
  });
  test('an infinite entry is refused', () => {
    assert.throws(
      () => symmetricEigenvalues(Float64Array.of(Number.POSITIVE_INFINITY, 0, 0, 1), 2),
      RangeError,
    );
  });
});
