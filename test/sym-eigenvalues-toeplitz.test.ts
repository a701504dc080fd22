/**
 * src/metrics/sym-eigenvalues.ts on every symmetric tridiagonal Toeplitz matrix of orders 2–128 in four patterns,
 * against the closed form λ_k = a + 2b·cos(kπ/(n + 1)), k = 1…n, on both kernels. These matrices are exact in
 * small binary fractions, so QL's chases meet exact zeros: the Laplacian (a = 2, b = −1) of order 17 made the
 * second of two paired chases divide 0 by 0 before the identity rotation was added (null instead of eigenvalues).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTridiagWasm, symmetricEigenvaluesOrNull } from '../src/metrics/sym-eigenvalues.js';
import { tridiagonal } from './support/symmetric.js';

after(() => setTridiagWasm(true));

const PATTERNS: [number, number][] = [
  [2, -1],
  [0, 1],
  [1, 1],
  [5, 0.5],
];

for (const wasm of [true, false]) {
  describe(`symmetricEigenvalues on tridiagonal Toeplitz matrices (${wasm ? 'WebAssembly' : 'JS'} kernel)`, () => {
    for (const [a, b] of PATTERNS) {
      test(`a = ${a}, b = ${b}, orders 2–128: the closed form to 1e-13·‖A‖`, () => {
        setTridiagWasm(wasm);
        for (let n = 2; n <= 128; n++) {
          const ev = symmetricEigenvaluesOrNull(tridiagonal(Array(n).fill(a), Array(n - 1).fill(b)), n);
          assert.ok(ev, `order ${n}: QL converges`);
          const exact = Array.from(
            { length: n },
            (_, k) => a + 2 * b * Math.cos(((k + 1) * Math.PI) / (n + 1)),
          );
          exact.sort((x, y) => x - y);
          const norm = Math.max(...exact.map(Math.abs));
          for (let i = 0; i < n; i++)
            assert.ok(
              Math.abs(ev[i] - exact[i]) <= 1e-13 * norm,
              `order ${n}: λ${i} ${ev[i]} vs ${exact[i]}`,
            );
        }
      });
    }
  });
}
