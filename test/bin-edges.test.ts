/**
 * Coefficients exactly on histogram bin edges, and one ulp either side, through every path `shift` bins with:
 * the WebAssembly `bin` kernel, the JS `GroupHistograms` (in-memory `distributionShift`), and the store's
 * scan (native reader and node-bindings reader) — against numpy.histogram's rule written out here from its
 * definition (edges `lo + j·(hi − lo)/bins` as numpy.linspace makes them, bins `[a, b)`, the last `[a, b]`).
 *
 * The range is chosen so that the fast estimate `⌊(x − lo)·bins/(hi − lo)⌋` both implementations start from
 * is one bin too low on some edges and one too high just below others, and reaches `bins` at `hi`: only the
 * edge corrections put those values where numpy does (the test checks the data holds such cases).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GroupHistograms } from '../src/analysis/histogram.js';
import type { PcaBasis } from '../src/analysis/pca.js';
import { distributionShift } from '../src/analysis/shift.js';
import { ScanKernels } from '../src/analysis/wasm/scan.js';
import { storeShift } from '../src/scan/analyses.js';
import {
  openScanDb,
  openScanSource,
  type PassSpec,
  runScan,
  type ScanSource,
} from '../src/scan/filter-scan.js';
import { nativeScanReader, nativeScanUnavailable } from '../src/scan/native-scan.js';
import { storeBatchSource } from '../src/scan/plan-scanner.js';
import { planSelection, type SelectionPlan } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { writeSafetensors } from './support/safetensors-writer.js';

const LO = -1.7;
const HI = 2.3;
const BINS = 70;

// ---- the reference: numpy.histogram's rule, independent of src/analysis/histogram.ts --------------------

/** numpy.linspace(lo, hi, bins + 1): arange(bins + 1) * ((hi - lo) / bins) + lo, the last one set to hi. */
function numpyEdges(lo: number, hi: number, bins: number): number[] {
  const step = (hi - lo) / bins;
  return Array.from({ length: bins + 1 }, (_, j) => (j === bins ? hi : j * step + lo));
}

const EDGES = numpyEdges(LO, HI, BINS);

/** The bin whose [edge, next edge) holds x (the last bin closed), by bisection over the edges; -1 outside. */
function numpyBin(x: number, edges: number[] = EDGES): number {
  const bins = edges.length - 1;
  if (!(x >= edges[0] && x <= edges[bins])) return -1;
  if (x === edges[bins]) return bins - 1;
  let a = 0;
  let b = bins; // edges[a] <= x < edges[b]
  while (b - a > 1) {
    const m = (a + b) >> 1;
    if (edges[m] <= x) a = m;
    else b = m;
  }
  return a;
}

function nextUp(x: number): number {
  const f = new Float64Array([x]);
  const i = new BigInt64Array(f.buffer);
  if (x === 0) return Number.MIN_VALUE;
  i[0] += x > 0 ? 1n : -1n;
  return f[0];
}
const nextDown = (x: number) => -nextUp(-x);

/** Every edge and its two neighbouring doubles (outside values included when `outside`). */
function edgeValues(outside: boolean): number[] {
  const out: number[] = [];
  for (const e of EDGES)
    for (const x of [nextDown(e), e, nextUp(e)]) if (outside || (x >= LO && x <= HI)) out.push(x);
  return out;
}

/** The fast estimate both implementations start from (before their edge corrections). */
const estimate = (x: number) => Math.floor((x - LO) * (BINS / (HI - LO)));

it('the edge values include estimates one bin too low, one bin too high, and = bins at hi', () => {
  const xs = edgeValues(false);
  const low = xs.filter((x) => estimate(x) === numpyBin(x) - 1).length;
  const high = xs.filter((x) => estimate(x) === numpyBin(x) + 1 && x !== HI).length;
  assert.ok(low >= 10, `${low} values need the upward correction`);
  assert.ok(high >= 10, `${high} values need the downward correction`);
  assert.equal(estimate(HI), BINS, 'hi needs the clamp to the last bin');
});

it('the reference rule agrees with numpy.histogram itself (skipped without python3 + numpy)', (t) => {
  const xs = edgeValues(true);
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import json,sys,numpy as np;d=json.load(sys.stdin);' +
        'print(json.dumps(np.histogram(np.array(d["x"]),bins=d["bins"],range=(d["lo"],d["hi"]))[0].tolist()))',
    ],
    { input: JSON.stringify({ x: xs, bins: BINS, lo: LO, hi: HI }), encoding: 'utf8' },
  );
  if (py.status !== 0) {
    t.skip(`python3 with numpy unavailable: ${(py.error?.message ?? py.stderr).split('\n')[0]}`);
    return;
  }
  const want = new Array<number>(BINS).fill(0);
  for (const x of xs) if (numpyBin(x) >= 0) want[numpyBin(x)]++;
  assert.deepEqual(JSON.parse(py.stdout), want);
});

// ---- the WebAssembly kernel and the JS histograms, fed coefficients directly ------------------------------

describe('bin edges: kernels fed the coefficients directly', () => {
  const xs = edgeValues(true);
  xs.push(Number.NaN, LO - 1, HI + 1);
  /** Row r, coefficient i gets xs[(r·9 + i) mod len], group r mod 2. */
  const rows = Math.ceil(xs.length / 9) + 3;
  const value = (r: number, i: number) => xs[(r * 9 + i) % xs.length];
  const want = new Float64Array(2 * 9 * BINS);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < 9; i++) {
      const b = numpyBin(value(r, i));
      if (b >= 0) want[((r % 2) * 9 + i) * BINS + b]++;
    }

  it('the WebAssembly bin kernel puts every edge value where numpy does', () => {
    const k = new ScanKernels();
    const h = k.allocHistogram(2, BINS, LO, HI);
    for (let r = 0; r < rows; r++) {
      k.groups[r] = r % 2;
      for (let i = 0; i < 9; i++) k.coef[i][r] = value(r, i);
    }
    k.bin(rows, h);
    const counts = new Float64Array(2 * 9 * BINS);
    const filters = new Float64Array(2);
    k.drain(h, counts, filters);
    assert.deepEqual(counts, want);
    assert.deepEqual(Array.from(filters), [Math.ceil(rows / 2), Math.floor(rows / 2)]);
  });

  it('the JS GroupHistograms put every edge value where numpy does', () => {
    const gh = new GroupHistograms(9, BINS, LO, HI);
    for (let r = 0; r < rows; r++)
      gh.add(
        String(r % 2),
        Float64Array.from({ length: 9 }, (_, i) => value(r, i)),
        1,
      );
    const got = new Float64Array(2 * 9 * BINS);
    got.set(gh.counts.get('0')!, 0);
    got.set(gh.counts.get('1')!, 9 * BINS);
    assert.deepEqual(got, want);
  });
});

// ---- through the store: filters whose coefficients are the edge values -------------------------------------

/**
 * With a zero mean, the coefficients of the unit filter e_j (a single 1 at position j) are exactly column j of
 * the components: 0 + 0·p_i0 + … + 1·p_ij + 0·… = p_ij in IEEE arithmetic. So a "basis" whose entries are the
 * edge values makes the stored unit filters' coefficients land on them (a basis need not be orthonormal for
 * the binning). Slots 0 and 1 hold lo and hi, so the data's own range is [lo, hi].
 */
function edgeBases(): PcaBasis[] {
  const targets = edgeValues(false);
  const perBasis = 81 - 2;
  const n = Math.ceil(targets.length / perBasis);
  return Array.from({ length: n }, (_, b) => {
    const flat = Array.from({ length: 81 }, (_, s) =>
      s === 0 ? LO : s === 1 ? HI : targets[(b * perBasis + s - 2) % targets.length],
    );
    return {
      dims: 9,
      count: 1,
      mean: new Array<number>(9).fill(0),
      components: Array.from({ length: 9 }, (_, i) => flat.slice(i * 9, i * 9 + 9)),
      explainedVariance: new Array<number>(9).fill(1),
      explainedVarianceRatio: new Array<number>(9).fill(1 / 9),
    };
  });
}

/** Unit filters stored per model: which positions j, in order (model "a" holds each once, "b" a few twice). */
const MODELS: Record<string, number[]> = { a: [0, 1, 2, 3, 4, 5, 6, 7, 8], b: [8, 2, 5, 2, 0, 7, 7, 3] };

function unitFilters(js: number[]): Float32Array {
  const w = new Float32Array(js.length * 9);
  js.forEach((j, r) => {
    w[r * 9 + j] = r % 3 === 2 ? 0.25 : 1; // the peak scaling makes 0.25·e_j a unit filter too
  });
  return w;
}

/** Expected counts, groups in plan order (a, b) × 9 coefficients × bins. */
function expectedCounts(basis: PcaBasis): Float64Array {
  const want = new Float64Array(2 * 9 * BINS);
  Object.values(MODELS).forEach((js, g) => {
    for (const j of js)
      for (let i = 0; i < 9; i++) {
        const b = numpyBin(basis.components[i][j]);
        assert.ok(b >= 0);
        want[(g * 9 + i) * BINS + b]++;
      }
  });
  return want;
}

/** Zero counts floored at float32 eps, then each coefficient's bins normalised (the fixtures' step 5). */
function floored(counts: Float64Array, group: number): number[][] {
  return Array.from({ length: 9 }, (_, i) => {
    const c = Array.from(counts.subarray((group * 9 + i) * BINS, (group * 9 + i + 1) * BINS), (v) =>
      v === 0 ? 2 ** -23 : v,
    );
    const s = c.reduce((a, b) => a + b, 0);
    return c.map((v) => v / s);
  });
}

describe('bin edges through the store (the path of filterdb shift)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'filterdb-edges-'));
  const DB = join(tmp, 'edges.duckdb');
  let plan: SelectionPlan;
  after(() => rmSync(tmp, { recursive: true, force: true }));
  before(async () => {
    const dir = join(tmp, 'models');
    mkdirSync(dir);
    for (const [name, js] of Object.entries(MODELS))
      writeSafetensors(join(dir, `${name}.safetensors`), [
        { name: 'conv.weight', shape: [js.length, 1, 3, 3], data: unitFilters(js) },
      ]);
    const db = await openDb(DB);
    try {
      const s = await ingestPaths(db, [dir]);
      assert.equal(s.results.filter((r) => r.status === 'added').length, 2);
      plan = await planSelection(db.connection, { by: 'model' });
    } finally {
      db.close();
    }
    assert.deepEqual(plan.groups, ['a', 'b']);
  });

  const bases = edgeBases();

  it('storeShift: range [lo, hi] found from the data, histograms as numpy bins them (default reader)', async () => {
    if (process.env.FILTERDB_REQUIRE_NATIVE === '1')
      assert.ok(nativeScanReader(), nativeScanUnavailable() ?? '');
    for (const basis of bases) {
      const r = await storeShift(DB, plan, { basis, bins: BINS, workers: 0 });
      assert.deepEqual(r.range, [LO, HI]);
      assert.equal(r.histogramPasses, 1);
      const want = expectedCounts(basis);
      for (let g = 0; g < 2; g++)
        assert.deepEqual(r.histograms![g], floored(want, g), `group ${plan.groups[g]}`);
    }
  });

  for (const reader of ['native', 'node-bindings'] as const)
    it(`the ${reader} reader's histogram scan counts every edge value where numpy does`, {
      skip:
        reader === 'native' && !nativeScanReader()
          ? `native reader unavailable: ${nativeScanUnavailable()}`
          : false,
    }, async () => {
      const layerGroup = new Int32Array(plan.layerSpan).fill(-1);
      for (const l of plan.layers) layerGroup[l.layerId] = plan.groups.indexOf(l.group);
      const lo = Math.min(...plan.layers.map((l) => l.first));
      const hi = Math.max(...plan.layers.map((l) => l.first + l.count));
      for (const basis of bases) {
        const pass: PassSpec = {
          kind: 'hist',
          mean: new Float64Array(9),
          comps: Float64Array.from(basis.components.flat()),
          lo: LO,
          hi: HI,
          maps: [{ layerGroup, groups: 2, bins: BINS }],
        };
        const src: ScanSource = reader === 'native' ? await openScanSource(DB) : await openScanDb(DB);
        try {
          assert.equal(Boolean(src.native), reader === 'native');
          const r = await runScan(
            { path: DB, ranges: [{ lo, hi }], selected: null, pass, superRows: 2048 },
            undefined,
            src,
          );
          assert.deepEqual(r.hist![0].counts, expectedCounts(basis));
          assert.deepEqual([r.lo, r.hi], [LO, HI]);
        } finally {
          src.close();
        }
      }
    });

  it('the in-memory distributionShift (JS binning) gives the same histograms', async () => {
    for (const basis of bases) {
      const r = await distributionShift(storeBatchSource(DB, plan), 'model', { basis, bins: BINS });
      assert.deepEqual(r.range, [LO, HI]);
      const want = expectedCounts(basis);
      for (let g = 0; g < 2; g++)
        assert.deepEqual(r.histograms![g], floored(want, g), `group ${r.groups[g]}`);
    }
  });
});
