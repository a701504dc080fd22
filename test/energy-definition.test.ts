/**
 * First-layer energy (src/analysis/energy.ts) against hand-derived values: the DCT-II vectors of 2 and 3
 * points in closed form, the basis order on a non-square patch, the energy formula on a rotated basis, the
 * orthonormality error of skewed bases, Pearson's r of small series, and the first-layer rule's edge cases.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Basis,
  dctBasis,
  dctEnergy,
  energyProfile,
  firstConvLayerIndex,
  orthonormalityError,
  pearson,
  profileCorrelation,
} from '../src/analysis/energy.js';

const h = Math.SQRT1_2;
/** Orthonormal DCT-II on 2 points (u = 0, 1) and 3 points (u = 0, 1, 2), worked out by hand. */
const DCT2 = [
  [h, h],
  [h, -h],
];
const r3 = 1 / Math.sqrt(3);
const r6 = 1 / Math.sqrt(6);
const DCT3 = [
  [r3, r3, r3],
  [h, 0, -h],
  [r6, -2 * r6, r6],
];

function near(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

/** The vector of channel c, frequencies (u, v), on `channels` channels of kh×kw, as the module documents it. */
function dctVector(channels: number, c: number, u: number, v: number, rows: number[][], cols: number[][]) {
  const kh = rows.length;
  const kw = cols.length;
  const out = new Array<number>(channels * kh * kw).fill(0);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++) out[c * kh * kw + y * kw + x] = rows[u][y] * cols[v][x];
  return out;
}

test('DCT basis on 2 channels of 2×3: closed-form vectors in (u+v, u, channel) order with their labels', () => {
  const b = dctBasis(2, 2, 3);
  assert.equal(b.size, 12);
  const order: [number, number][] = [
    [0, 0],
    [0, 1],
    [1, 0],
    [0, 2],
    [1, 1],
    [1, 2],
  ];
  const expected: number[] = [];
  const labels: string[] = [];
  for (const [u, v] of order)
    for (const c of [0, 1]) {
      expected.push(...dctVector(2, c, u, v, DCT2, DCT3));
      labels.push(`c${c} (${u},${v})`);
    }
  near(b.vectors, expected, 1e-15, 'dct 2x2x3');
  assert.deepEqual(b.labels, labels);
});

test('DCT basis: kw defaults to kh; 3×3 on one channel in closed form', () => {
  const b = dctBasis(1, 3);
  assert.equal(b.size, 9);
  const order: [number, number][] = [
    [0, 0],
    [0, 1],
    [1, 0],
    [0, 2],
    [1, 1],
    [2, 0],
    [1, 2],
    [2, 1],
    [2, 2],
  ];
  near(
    b.vectors,
    order.flatMap(([u, v]) => dctVector(1, 0, u, v, DCT3, DCT3)),
    1e-15,
    'dct 3x3',
  );
  assert.deepEqual(
    b.labels,
    order.map(([u, v]) => `c0 (${u},${v})`),
  );
  const tall = dctBasis(1, 3, 2);
  assert.deepEqual(tall.labels, ['c0 (0,0)', 'c0 (0,1)', 'c0 (1,0)', 'c0 (1,1)', 'c0 (2,0)', 'c0 (2,1)']);
  near(tall.vectors.subarray(0, 6), [r3 * h, r3 * h, r3 * h, r3 * h, r3 * h, r3 * h], 1e-15, 'tall DC');
});

test('orthonormality error is the largest |UUᵀ − I| entry, diagonal and off-diagonal', () => {
  const basis = (vectors: number[]): Basis => ({
    size: 2,
    vectors: new Float64Array(vectors),
    labels: ['a', 'b'],
  });
  assert.equal(orthonormalityError(basis([1, 0, 0, 1])), 0);
  // UUᵀ = [[4, 0], [0, 1]]: the diagonal is off by 3
  assert.equal(orthonormalityError(basis([2, 0, 0, 1])), 3);
  // UUᵀ = [[1.25, 0.5], [0.5, 1]]: the off-diagonal 0.5 is the worst
  assert.equal(orthonormalityError(basis([1, 0.5, 0, 1])), 0.5);
  // UUᵀ = [[1, 0], [0, 0.25]]: only the last diagonal entry is off
  assert.equal(orthonormalityError(basis([1, 0, 0, 0.5])), 0.75);
  assert.ok(orthonormalityError(dctBasis(2, 2, 3)) < 1e-15);
});

test('energy on a 45°-rotated basis: E = √(Σ projections²)/F by hand, profile = E / max E', () => {
  const basis: Basis = { size: 2, vectors: new Float64Array([h, h, h, -h]), labels: ['+', '−'] };
  // filters (3, 1) and (1, 1): projections (4/√2, 2/√2) and (2/√2, 0) → sums of squares 10 and 2
  const p = energyProfile([3, 1, 1, 1], basis);
  assert.equal(p.filters, 2);
  assert.equal(p.size, 2);
  near(p.energy, [Math.sqrt(10) / 2, Math.sqrt(2) / 2], 1e-15, 'energy');
  near(p.profile, [1, 1 / Math.sqrt(5)], 1e-15, 'profile');
  // an initialisation is subtracted filter by filter: (3, 1) − (2, 0) = (1, 1); (1, 1) − (1, 2) = (0, −1)
  const q = energyProfile([3, 1, 1, 1], basis, [2, 0, 1, 2]);
  near(q.energy, [Math.sqrt(2 + 0.5) / 2, Math.sqrt(0.5) / 2], 1e-15, 'energy with init');
  // null init: nothing subtracted
  near(energyProfile([3, 1, 1, 1], basis, null).energy, p.energy, 0, 'null init');
  // the profile's maximum may sit anywhere
  near(energyProfile([1, -1], basis).profile, [0, 1], 1e-15, 'max on the second vector');
});

test('energy: no filters or all-zero filters give zero energy and profile; bad sizes are RangeErrors', () => {
  const basis: Basis = { size: 2, vectors: new Float64Array([1, 0, 0, 1]), labels: ['a', 'b'] };
  const empty = energyProfile([], basis);
  assert.equal(empty.filters, 0);
  assert.deepEqual(empty.energy, [0, 0]);
  assert.deepEqual(empty.profile, [0, 0]);
  const zero = energyProfile([0, 0, 0, 0], basis);
  assert.deepEqual(zero.energy, [0, 0]);
  assert.deepEqual(zero.profile, [0, 0]);
  assert.throws(() => energyProfile([1, 2, 3], basis), /3 weights are not whole filters of 2 values/);
  const none: Basis = { size: 0, vectors: new Float64Array(0), labels: [] };
  assert.throws(() => energyProfile([], none), /0 weights are not whole filters of 0 values/);
  const negative: Basis = { size: -2, vectors: new Float64Array(0), labels: [] };
  assert.throws(() => energyProfile([1, 2], negative), /2 weights are not whole filters of -2 values/);
  assert.throws(
    () => energyProfile([1, 2], basis, [1, 2, 3]),
    /the initialisation has 3 values, the layer 2/,
  );
});

test('dctEnergy reads the patch as [F, C, kh, kw]: a 1×2 filter on the 1×2 DCT', () => {
  // (1, 1) is pure DC: 2/√2 = √2 on (0,0), nothing on (0,1); (1, −1) the reverse, F = 2 halves both
  const e = dctEnergy([1, 1, 1, -1], [2, 1, 1, 2]);
  assert.deepEqual(e.labels, ['c0 (0,0)', 'c0 (0,1)']);
  near(e.energy, [Math.SQRT2 / 2, Math.SQRT2 / 2], 1e-15, 'energy');
  const two = dctEnergy([1, 0], [1, 2, 1, 1]);
  assert.deepEqual(two.labels, ['c0 (0,0)', 'c1 (0,0)']);
  near(two.energy, [1, 0], 1e-15, 'two channels');
});

test('pearson by hand; fewer than 2 points, unequal lengths or a constant side give null', () => {
  // a = (1, 2, 3), b = (2, 4, 7): Σda·db = 5, Σda² = 2, Σdb² = 114/9
  near([pearson([1, 2, 3], [2, 4, 7])!], [15 / Math.sqrt(228)], 1e-15, 'r');
  assert.equal(pearson([1, 2], [5, 3]), -1);
  assert.equal(pearson([1, 2], [3, 5]), 1);
  assert.equal(pearson([1], [2]), null);
  assert.equal(pearson([], []), null);
  assert.equal(pearson([1, 2, 3], [1, 2]), null);
  assert.equal(pearson([2, 2, 2], [1, 2, 3]), null);
  assert.equal(pearson([1, 2, 3], [4, 4, 4]), null);
});

test('profile correlation matrix: 1 on the diagonal, Pearson off it, null for 1-point or mismatched profiles', () => {
  const r = 15 / Math.sqrt(228);
  const m = profileCorrelation([[1, 2, 3], [2, 4, 7], [5]]);
  assert.equal(m.length, 3);
  assert.equal(m[0][0], 1);
  assert.equal(m[1][1], 1);
  near([m[0][1]!, m[1][0]!], [r, r], 1e-15, 'off-diagonal');
  assert.deepEqual([m[0][2], m[2][0], m[1][2], m[2][1], m[2][2]], [null, null, null, null, null]);
  // a constant profile correlates with no other, but the diagonal is 1 for any profile of 2+ points
  assert.deepEqual(
    profileCorrelation([
      [0.5, 0.5, 0.5],
      [1, 2, 3],
    ]),
    [
      [1, null],
      [null, 1],
    ],
  );
});

test('first conv layer: rank-4 only, transposed by kind or by op name skipped, lowest depth, first on ties', () => {
  const l = (shape: number[], convDepth: number, kind: string | null = 'plain', op = 'Conv') => ({
    shape,
    convDepth,
    kind,
    op,
  });
  assert.equal(firstConvLayerIndex([]), -1);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 0)]), 0);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 2), l([4, 3, 3, 3], 1), l([4, 3, 3, 3], 1)]), 1);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 1), l([4, 3, 3, 3], 1)]), 0);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3, 3], 0), l([4, 3, 3], 0), l([4, 3, 3, 3], 5)]), 2);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 0, null, 'ConvTranspose'), l([4, 3, 3, 3], 3)]), 1);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 0, null, 'conv2d_transpose'), l([4, 3, 3, 3], 3)]), 1);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 0, 'transposed'), l([4, 3, 3, 3], 3, null)]), 1);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 0, 'transposed')]), -1);
});
