/**
 * The exact bits of src/metrics/sym-eigenvalues.ts's eigenvalues, both kernels, on a fixed set of matrices — to
 * check that a change meant to be a pure speed-up (the reduction moved into WebAssembly, the check and copy
 * fused) rounds nothing differently. Prints one SHA-256 a matrix and kernel and one over all of them; run it on
 * the build before and after and compare (`--module` loads sym-eigenvalues.js from another build's dist/).
 *
 *   node dist/bench/eigen-bits.js [--module /other/checkout/dist/src/metrics/sym-eigenvalues.js] [--quiet]
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { minstdWeights } from '../test/support/minstd.js';
import { symmetricFromGenerator as symmetric } from '../test/support/symmetric.js';

type Solver = typeof import('../src/metrics/sym-eigenvalues.js');

const args = process.argv.slice(2);
const at = args.indexOf('--module');
const modulePath = at >= 0 ? pathToFileURL(args[at + 1]).href : '../src/metrics/sym-eigenvalues.js';
const solver = (await import(modulePath)) as Solver;

/** The centred Gram matrix (rows × rows) of a seeded rows × cols matrix: what the wide-kernel entropies solve. */
function centredGram(rows: number, cols: number, seed: number): Float64Array {
  const b = minstdWeights(rows * cols, seed);
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += b[i * cols + j];
    mean /= rows;
    for (let i = 0; i < rows; i++) b[i * cols + j] -= mean;
  }
  const a = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += b[i * cols + k] * b[j * cols + k];
      a[i * rows + j] = a[j * rows + i] = s;
    }
  return a;
}

/** Rows (and columns) `rows` zeroed, all of each row or all but its sub-diagonal entry. */
function withZeroRows(a: Float64Array, n: number, rows: number[], keepSub: boolean): Float64Array {
  for (const r of rows)
    for (let j = 0; j < n; j++) if (!(keepSub && j === r - 1)) a[r * n + j] = a[j * n + r] = 0;
  return a;
}

const cases: [string, number, Float64Array][] = [];
for (const n of [1, 2, 3, 4, 5, 17, 64, 65, 257, 600])
  cases.push([`random ${n}`, n, symmetric(n, 2 * n + 1)]);
cases.push(['centred Gram 257 of 257×512', 257, centredGram(257, 512, 31)]);
cases.push(['zero rows 65', 65, withZeroRows(symmetric(65, 43), 65, [1, 2, 20, 21, 63, 64], false)]);
cases.push([
  'zero rows but the sub-diagonal 64',
  64,
  withZeroRows(symmetric(64, 41), 64, [10, 30, 62, 63], true),
]);
cases.push(['random 40 × 1e200', 40, symmetric(40, 49).map((x) => x * 1e200)]);
cases.push(['random 40 × 1e-300', 40, symmetric(40, 51).map((x) => x * 1e-300)]);

const all = createHash('sha256');
for (const wasm of [true, false]) {
  solver.setTridiagWasm(wasm);
  for (const [name, n, a] of cases) {
    const ev = solver.symmetricEigenvaluesOrNull(a, n);
    const bytes = ev ? new Uint8Array(ev.buffer) : new Uint8Array(0);
    all.update(bytes);
    if (!args.includes('--quiet'))
      console.log(
        `${wasm ? 'wasm' : 'JS  '} ${name.padEnd(36)} ${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`,
      );
  }
}
solver.setTridiagWasm(true);
console.log(`all ${2 * cases.length} spectra: ${all.digest('hex')}`);
