/**
 * The KDE of fine histograms (src/analysis/kde.ts) against numpy (test/data/kde/kde_reference.py, which writes
 * the definitions out independently), and the 2-D density grid (src/analysis/density2d.ts) against counts
 * worked out by hand.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Density2d } from '../src/analysis/density2d.js';
import { GroupHistograms } from '../src/analysis/histogram.js';
import {
  gaussianKde,
  groupKdes,
  histogramStats,
  type KdeOptions,
  kdeFromHistogram,
  linspace,
  silvermanBandwidth,
  trapezoid,
} from '../src/analysis/kde.js';
import { dataPath } from './support/paths.js';

interface RefCase {
  name: string;
  counts: (number | null)[];
  lo: number;
  hi: number;
  options: { points?: number; grid?: [number, number]; bandwidth?: number };
  stats: { n: number; mean: number; sd: number; q1: number; median: number; q3: number } | null;
  silverman: number;
  x: number[];
  y: number[];
  bandwidth: number;
  n: number;
}
const ref = JSON.parse(readFileSync(dataPath('kde/kde_reference.json'), 'utf8')) as {
  cases: RefCase[];
  gaussianKde: { values: number[]; x: number[]; bandwidth: number; y: number[] };
  trapezoid: { x: number[]; y: number[]; value: number };
};
/** JSON has no NaN: the generator writes null. */
const countsOf = (c: RefCase) => Float64Array.from(c.counts, (v) => (v === null ? Number.NaN : v));

function close(actual: number, expected: number, what: string, rel = 1e-12): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.max(1e-300, Math.abs(expected)),
    `${what}: ${actual} vs ${expected}`,
  );
}

function closeArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++)
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= 1e-12 * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
}

describe('KDE of a histogram equals numpy (test/data/kde/kde_reference.py)', () => {
  for (const c of ref.cases) {
    it(c.name, () => {
      const counts = countsOf(c);
      const s = histogramStats(counts, c.lo, c.hi);
      if (c.stats === null) {
        assert.equal(s.n, 0);
        for (const k of ['mean', 'sd', 'q1', 'median', 'q3'] as const) assert.ok(Number.isNaN(s[k]), k);
      } else {
        assert.equal(s.n, c.stats.n);
        for (const k of ['mean', 'sd', 'q1', 'median', 'q3'] as const) close(s[k], c.stats[k], k);
      }
      close(silvermanBandwidth(s), c.silverman, 'Silverman bandwidth');
      const opts: KdeOptions = {};
      if (c.options.points !== undefined) opts.points = c.options.points;
      if (c.options.grid) opts.grid = c.options.grid;
      if (c.options.bandwidth !== undefined) opts.bandwidth = c.options.bandwidth;
      const k = kdeFromHistogram(counts, c.lo, c.hi, opts);
      close(k.bandwidth, c.bandwidth, 'bandwidth');
      assert.equal(k.n, c.n);
      closeArrays(k.x, c.x, 'x');
      closeArrays(k.y, c.y, 'y');
    });
  }

  it('a bandwidth that is NaN, infinite or negative becomes one bin width', () => {
    const counts = [0, 2, 5, 1];
    for (const bandwidth of [Number.NaN, Number.POSITIVE_INFINITY, -0.3, 0])
      assert.equal(kdeFromHistogram(counts, -1, 1, { bandwidth, points: 5 }).bandwidth, 0.5, `${bandwidth}`);
    // no bins: no bin width, so a hundredth of the grid, or 1e-12 for a grid of one point
    assert.equal(kdeFromHistogram([], 0, 1, { bandwidth: Number.NaN, grid: [2, -3] }).bandwidth, 0.05);
    assert.equal(kdeFromHistogram([], 0, 1, { grid: [2, 2] }).bandwidth, 1e-12);
  });

  it('fewer than two points means two; the default is 1024 over the histogram range', () => {
    const two = kdeFromHistogram([1, 1], 0, 2, { points: 1, bandwidth: 1 });
    assert.deepEqual(Array.from(two.x), [0, 2]);
    const phi = (z: number) => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
    // centres 0.5 and 1.5, h = 1, n = 2
    close(two.y[0], (phi(0.5) + phi(1.5)) / 2, 'y(0)');
    close(two.y[1], (phi(1.5) + phi(0.5)) / 2, 'y(2)');
    const d = kdeFromHistogram([1, 1], 0, 2);
    assert.equal(d.x.length, 1024);
    assert.equal(d.x[0], 0);
    assert.equal(d.x[1023], 2);
  });

  it('a degenerate grid (one value) keeps every term, also those past 6h either side', () => {
    // bins of width 1 on [0, 20]: centres 0.5 .. 19.5; h = 1; grid [10, 10]: 0.5..3.5 and 16.5..19.5 are past 6h
    const counts = new Float64Array(20).fill(1);
    const k = kdeFromHistogram(counts, 0, 20, { grid: [10, 10], bandwidth: 1, points: 3 });
    let expected = 0;
    for (let b = 0; b < 20; b++) {
      const z = 10 - (b + 0.5);
      expected += Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI) / 20;
    }
    for (const y of k.y) close(y, expected, 'y');
  });

  it('Silverman: 0 without values or spread; otherwise the smaller finite positive spread', () => {
    assert.equal(silvermanBandwidth({ n: 0, sd: 1, q1: 0, q3: 1 }), 0);
    assert.equal(silvermanBandwidth({ n: Number.NaN, sd: 1, q1: 0, q3: 1 }), 0);
    assert.equal(silvermanBandwidth({ n: 10, sd: 0, q1: 1, q3: 1 }), 0);
    assert.equal(silvermanBandwidth({ n: 10, sd: Number.NaN, q1: 2, q3: 1 }), 0);
    const f = ((3 * 10) / 4) ** -0.2;
    close(silvermanBandwidth({ n: 10, sd: 2, q1: 0, q3: 1.349 }), 1 * f, 'IQR smaller');
    close(silvermanBandwidth({ n: 10, sd: 0.5, q1: 0, q3: 1.349 }), 0.5 * f, 'sd smaller');
    close(
      silvermanBandwidth({ n: 10, sd: Number.POSITIVE_INFINITY, q1: 0, q3: 2.698 }),
      2 * f,
      'sd infinite',
    );
  });

  it('a target beyond every count gives hi (counts that are all zero past a negative one)', () => {
    // only negative counts: n = 0 → NaN quartiles
    assert.ok(Number.isNaN(histogramStats([-1, -2], 0, 1).q1));
    // n = 2 with both at the first bin: every quartile inside bin 0
    const s = histogramStats([2, 0, 0, 0], 0, 4);
    assert.deepEqual([s.q1, s.median, s.q3], [0.25, 0.5, 0.75]);
    assert.equal(s.sd, 0);
    assert.equal(s.mean, 0.5);
  });
});

describe('linspace, gaussianKde and trapezoid', () => {
  it('linspace: numpy.linspace, the last point exactly hi; one point is lo, none is empty', () => {
    const x = linspace(-1, 0.7, 4);
    const step = (0.7 - -1) / 3;
    assert.deepEqual(Array.from(x), [-1, -1 + step, -1 + 2 * step, 0.7]);
    assert.deepEqual(Array.from(linspace(0.1, 0.3, 3)), [0.1, 0.1 + 0.1, 0.3]);
    assert.deepEqual(Array.from(linspace(3, 9, 1)), [3]);
    // lo + 56·step is 2.1000000000000005 here: the last point is set to hi
    const long = linspace(-2.3, 2.1, 57);
    assert.equal(long[56], 2.1);
    assert.equal(long[55], -2.3 + 55 * (4.4 / 56));
    assert.equal(linspace(3, 9, 0).length, 0);
  });

  it('gaussianKde equals numpy on raw values; no values or no bandwidth gives zeros', () => {
    const g = ref.gaussianKde;
    closeArrays(gaussianKde(g.values, g.x, g.bandwidth), g.y, 'y');
    assert.deepEqual(Array.from(gaussianKde([], [0, 1], 1)), [0, 0]);
    assert.deepEqual(Array.from(gaussianKde([0.5], [0, 1], 0)), [0, 0]);
    assert.deepEqual(Array.from(gaussianKde([0.5], [0, 1], Number.NaN)), [0, 0]);
  });

  it('trapezoid equals numpy.trapezoid on an uneven grid', () => {
    close(trapezoid(ref.trapezoid.x, ref.trapezoid.y), ref.trapezoid.value, 'integral');
    assert.equal(trapezoid([1], [5]), 0);
  });
});

describe('groupKdes', () => {
  const hist = new GroupHistograms(2, 4, 0, 4);
  // group "b": coefficient 0 at 0.5, 0.5, 2.5; coefficient 1 at 3.5
  // added in an order that is neither sorted nor reversed
  hist.add('a', Float64Array.from([1.5, 0.5]), 1);
  hist.add('C', Float64Array.from([3.5, 1.5]), 1);
  hist.add('b', Float64Array.from([0.5, 3.5, 0.5, 3.5, 2.5, 3.5]), 3);

  it('groups sorted as strings, each the KDE of its coefficient slice', () => {
    const out = groupKdes(hist, 0, { points: 9, bandwidth: 1 });
    assert.deepEqual(
      out.map((k) => k.group),
      ['C', 'a', 'b'],
    );
    const b = out[2];
    const direct = kdeFromHistogram([2, 0, 1, 0], 0, 4, { points: 9, bandwidth: 1 });
    assert.deepEqual(Array.from(b.y), Array.from(direct.y));
    assert.equal(b.n, 3);
    const second = groupKdes(hist, 1, { points: 9, bandwidth: 1 });
    assert.deepEqual(
      Array.from(second[2].y),
      Array.from(kdeFromHistogram([0, 0, 0, 3], 0, 4, { points: 9, bandwidth: 1 }).y),
    );
    assert.deepEqual(
      Array.from(second[0].y),
      Array.from(kdeFromHistogram([0, 1, 0, 0], 0, 4, { points: 9, bandwidth: 1 }).y),
    );
  });

  it('groups in the order given, unknown ones skipped', () => {
    const out = groupKdes(hist, 0, { groups: ['b', 'zz', 'a'], points: 5 });
    assert.deepEqual(
      out.map((k) => [k.group, k.n]),
      [
        ['b', 3],
        ['a', 1],
      ],
    );
  });

  it('with no options: 1024 points and every group', () => {
    const out = groupKdes(hist, 1);
    assert.equal(out.length, 3);
    assert.equal(out[0].x.length, 1024);
  });
});

describe('2-D density grid (counts worked out by hand)', () => {
  it('defaults: 512 bins on [-3.3, 3.3], coefficients 0 and 1', () => {
    const d = new Density2d();
    assert.equal(d.size, 512);
    assert.equal(d.lo, -3.3);
    assert.equal(d.hi, 3.3);
    assert.equal(d.counts.length, 512 * 512);
    // (-3.3, 3.3) → column 0, the last row; (3.3, -3.3) → the last column, row 0 (closed last bin)
    d.add([-3.3, 3.3, 9, 3.3, -3.3, 9], 2, 3);
    assert.equal(d.counts[511 * 512], 1);
    assert.equal(d.counts[511], 1);
    assert.equal(d.total, 2);
    const g = d.toGrid();
    assert.deepEqual(
      { ...g, counts: undefined },
      {
        counts: undefined,
        nx: 512,
        ny: 512,
        x: [-3.3, 3.3],
        y: [-3.3, 3.3],
        total: 2,
        outside: 0,
        xIndex: 0,
        yIndex: 1,
      },
    );
    assert.equal(g.counts, d.counts);
  });

  it('bins [a, b) except the closed last; outside and NaN pairs counted apart', () => {
    // 4 bins on [0, 2]: edges 0, 0.5, 1, 1.5, 2; x is coefficient 2, y coefficient 0 of rows of 3
    const d = new Density2d({ size: 4, lo: 0, hi: 2, xIndex: 2, yIndex: 0 });
    const rows = [
      [0, 7, 0], // (x 0, y 0) → row 0, col 0
      [0.5, 7, 0.49], // (x 0.49, y 0.5) → row 1, col 0
      [1.999, 7, 1], // (x 1, y 1.999) → row 3, col 2
      [2, 7, 2], // (2, 2) → row 3, col 3
      [1.5, 7, 1.5], // (1.5, 1.5) → row 3, col 3
      [0.1, 7, -1e-9], // x below lo
      [0.1, 7, 2.000001], // x above hi
      [-0.1, 7, 1], // y below lo
      [2.1, 7, 1], // y above hi
      [Number.NaN, 7, 1], // NaN y
      [1, 7, Number.NaN], // NaN x
    ];
    d.add(rows.flat(), rows.length, 3);
    const expected = new Float64Array(16);
    expected[0 * 4 + 0] = 1;
    expected[1 * 4 + 0] = 1;
    expected[3 * 4 + 2] = 1;
    expected[3 * 4 + 3] = 2;
    assert.deepEqual(Array.from(d.counts), Array.from(expected));
    assert.equal(d.total, 5);
    assert.equal(d.outside, 6);
    // only `count` rows are read
    d.add(rows.flat(), 1, 3);
    assert.equal(d.counts[0], 2);
    assert.equal(d.total, 6);
    assert.equal(d.outside, 6);
  });

  it('merge adds counts, totals and outside counts; other grids are refused', () => {
    const a = new Density2d({ size: 2, lo: -1, hi: 1 });
    const b = new Density2d({ size: 2, lo: -1, hi: 1 });
    a.add([-0.5, -0.5, 5, 5], 2, 2);
    b.add([0.5, -0.5, 0.5, 0.5, 0.5, 0.5, 3, 0, Number.NaN, 0], 5, 2);
    a.merge(b);
    assert.deepEqual(Array.from(a.counts), [1, 1, 0, 2]);
    assert.equal(a.total, 4);
    assert.equal(a.outside, 3);
    assert.deepEqual(Array.from(b.counts), [0, 1, 0, 2]);
    for (const other of [
      new Density2d({ size: 3, lo: -1, hi: 1 }),
      new Density2d({ size: 2, lo: -2, hi: 1 }),
      new Density2d({ size: 2, lo: -1, hi: 2 }),
    ])
      assert.throws(() => a.merge(other), /cannot merge densities of different grids/);
  });

  it('refuses sizes that are not positive integers and empty ranges', () => {
    for (const size of [0, -1, 1.5, Number.NaN])
      assert.throws(() => new Density2d({ size }), /density size must be a positive integer/);
    assert.equal(new Density2d({ size: 1 }).counts.length, 1);
    for (const [lo, hi] of [
      [1, 1],
      [2, 1],
      [Number.NaN, 1],
    ])
      assert.throws(() => new Density2d({ lo, hi }), /density range must have hi > lo/);
  });
});
