/** shift / pca / report --db over the store: the fixture answers reproduced from dataset.h5 imported into DuckDB. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { distributionShift } from '../src/analysis/shift.js';
import { fitWithRangeGuess, histogramPass, storePca, storeShift } from '../src/scan/analyses.js';
import { loadBasis, saveBasis } from '../src/scan/bases.js';
import { PlanScanner, storeBatchSource } from '../src/scan/plan-scanner.js';
import { nonFiniteNote, planSelection, TooManyGroupsError } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { dataPath, repoRoot } from './support/paths.js';
import { mulberry32 } from './support/random.js';
import { writeSafetensors } from './support/safetensors-writer.js';
import {
  assertClose,
  assertMatchesExpected,
  expectedShift,
  importAnswerDataset,
  matrixFromHistograms,
} from './support/shift-expected.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-shift-'));
const DB = join(tmp, 'fx.duckdb');
const CLI = join(repoRoot, 'dist/src/cli/main.js');
after(() => rmSync(tmp, { recursive: true, force: true }));

before(() => importAnswerDataset(DB));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
}

for (const by of ['Task', 'depth']) {
  test(`shift --by ${by} reproduces dataset.shift.${by}.json (CLI and API, in-thread, on 2 workers, and shared with this thread)`, async () => {
    const r = cli('shift', '--db', DB, '--by', by, '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    for (const k of [
      'by',
      'groups',
      'counts',
      'matrix',
      'explainedVarianceRatio',
      'components',
      'mean',
      'range',
      'bins',
      'filterCount',
      'summary',
    ])
      assert.ok(k in j, k);
    assert.equal(j.by, by);
    assert.equal(j.bins, 70);
    assertMatchesExpected(j, by);
    assert.equal(j.filterCount, 8672);
    const db = await openDb(DB, { readOnly: true });
    const plan = await planSelection(db.connection, { by });
    db.close();
    for (const workers of [0, 2]) assertMatchesExpected(await storeShift(DB, plan, { workers }), by);
    // this thread as one of the two scan threads (the CLI's way): the same bits as two workers
    const { seconds: _a, ...shared } = await storeShift(DB, plan, { workers: 2, shareThisThread: true });
    const { seconds: _b, ...pooled } = await storeShift(DB, plan, { workers: 2 });
    assert.deepEqual(shared, pooled);
  });
}

test('a wrong range guess is detected by the histogram pass and the histograms redone on the exact range', async () => {
  const db = await openDb(DB, { readOnly: true });
  const plan = await planSelection(db.connection, { by: 'Task' });
  db.close();
  const scanner = new PlanScanner(DB, plan, { workers: 0 });
  try {
    const { basis, guess } = await fitWithRangeGuess(scanner);
    assert.ok(guess);
    const layerGroup = new Int32Array(plan.layerSpan).fill(-1);
    plan.layers.forEach((l) => {
      layerGroup[l.layerId] = plan.groups.indexOf(l.group);
    });
    const spec = (range: [number, number]) => ({
      kind: 'hist' as const,
      mean: Float64Array.from(basis.mean),
      comps: Float64Array.from(basis.components.flat()),
      lo: range[0],
      hi: range[1],
      maps: [{ layerGroup, groups: plan.groups.length, bins: 70 }],
    });
    const right = await histogramPass(scanner, spec, basis, null, guess);
    assert.equal(right.passes, 1);
    assertClose(right.range, expectedShift('Task').range, 1e-12, 'range');
    const wrong = await histogramPass(scanner, spec, basis, null, [guess[0] / 2, guess[1] / 2]);
    assert.equal(wrong.passes, 2);
    assert.deepEqual(wrong.range, right.range);
    assert.deepEqual(wrong.result.hist, right.result.hist);
  } finally {
    await scanner.close();
  }
});

async function storeShiftOf(path: string, by: string) {
  const db = await openDb(path, { readOnly: true });
  const plan = await planSelection(db.connection, { by });
  db.close();
  return storeShift(path, plan, { workers: 0 });
}

test('shift --by model matches numpy (make_dataset_expected.py); the matrix, diagonal included, follows from the histograms', async () => {
  const r = cli('shift', '--db', DB, '--by', 'model', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assertMatchesExpected(j, 'model');
  const store = await storeShiftOf(DB, 'model');
  assertClose(store.matrix, matrixFromHistograms(store), 1e-12, 'matrix from the histograms', 1e-300);
  // the in-memory analysis (JS binning) of the same filters
  const db = await openDb(DB, { readOnly: true });
  const plan = await planSelection(db.connection, { by: 'model' });
  db.close();
  const mem = await distributionShift(storeBatchSource(DB, plan), 'model');
  assertMatchesExpected(mem, 'model');
});

test('a NULL grouping value is its own (none) group (Training matches numpy); layer-kind and SQL expressions group too', async () => {
  const r = cli('shift', '--db', DB, '--by', 'Training', '--json');
  assert.equal(r.status, 0, r.stderr);
  assertMatchesExpected(JSON.parse(r.stdout), 'Training');
  const k = JSON.parse(cli('shift', '--db', DB, '--by', 'layer-kind', '--json').stdout);
  assert.equal(k.filterCount, 8672);
  const e = cli(
    'shift',
    '--db',
    DB,
    '--by',
    "CASE WHEN conv_depth_norm < 0.5 THEN 'early' ELSE 'late' END",
    '--json',
  );
  assert.equal(e.status, 0, e.stderr);
  assert.deepEqual(JSON.parse(e.stdout).groups, ['early', 'late']);
});

test('shift --by layer-kind on the ingested ONNX fixtures matches numpy (plain vs depthwise)', async () => {
  const path = join(tmp, 'kinds.duckdb');
  const db = await openDb(path);
  try {
    await ingestPaths(db, [dataPath('digits_cnn.onnx'), dataPath('digits_dwsep.onnx')]);
  } finally {
    db.close();
  }
  const r = cli('shift', '--db', path, '--by', 'layer-kind', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assertMatchesExpected(j, 'layer-kind');
  assertClose(
    j.matrix,
    matrixFromHistograms(await storeShiftOf(path, 'layer-kind')),
    1e-12,
    'from histograms',
    1e-300,
  );
});

test('--where restricts to one model; the text table is sorted by mean drift with a drift summary', async () => {
  const r = cli('shift', '--db', DB, '--by', 'depth', '--where', "model = 'digits_cnn'", '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const db = await openDb(DB, { readOnly: true });
  const n = await db.connection.runAndReadAll(
    "SELECT sum(filter_count) FROM layer_info WHERE model = 'digits_cnn' AND filter_table = 'filters'",
  );
  db.close();
  assert.equal(j.filterCount, Number(n.getRowsJS()[0][0]));
  assert.ok(j.filterCount < 8672);
  const t = cli('shift', '--db', DB, '--by', 'depth', '--sort', 'mean');
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /drift D over 45 pairs: min [\d.]+ +median [\d.]+ +mean [\d.]+ +max [\d.]+/);
  const rows = t.stdout.split('\n').filter((l) => /^[[(]\d\.\d, \d\.\d\]\s/.test(l));
  const means = rows.map((l) => Number(l.split(/\s{2,}/)[2]));
  assert.equal(rows.length, 10);
  for (let i = 1; i < means.length; i++) assert.ok(means[i - 1] >= means[i], `row ${i} out of order`);
});

test('pca --save stores a basis; shift --basis reuses it with identical results (one pass)', async () => {
  const p = cli('pca', '--db', DB, '--json', '--save', 'all');
  assert.equal(p.status, 0, p.stderr);
  const pj = JSON.parse(p.stdout);
  assertClose(pj.explainedVarianceRatio, expectedShift('Task').explainedVarianceRatio, 1e-12, 'evr');
  const fresh = JSON.parse(cli('shift', '--db', DB, '--by', 'Task', '--json').stdout);
  const reused = JSON.parse(cli('shift', '--db', DB, '--by', 'Task', '--basis', 'all', '--json').stdout);
  assert.deepEqual(reused, fresh);
  const db = await openDb(DB, { readOnly: true });
  const stored = await loadBasis(db.connection, 'all');
  db.close();
  assert.deepEqual(stored.basis.components, pj.components);
  assert.deepEqual(stored.range, pj.range);
  const missing = cli('shift', '--db', DB, '--by', 'Task', '--basis', 'nope');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no stored basis named "nope" \(stored: all\)/);
  // a subset basis through the API
  const db2 = await openDb(DB, { readOnly: true });
  const plan = await planSelection(db2.connection, { where: "Task = 'Denoising'" });
  db2.close();
  const sub = await storePca(DB, plan, { range: false });
  assert.equal(sub.basis.count, 800);
  const w = await openDb(DB);
  await saveBasis(w.connection, { name: 'denoising', where: plan.where, basis: sub.basis, range: null });
  w.close();
});

test('bad --by / --where SQL is a usage error (exit 2) with a clear message', () => {
  const a = cli('shift', '--db', DB, '--by', 'no_such_column + 1');
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--by "no_such_column \+ 1" is neither a column of layer_info/);
  const b = cli('shift', '--db', DB, '--by', 'Task', '--where', 'model = = 1');
  assert.equal(b.status, 2);
  assert.match(b.stderr, /--where "model = = 1" is not valid SQL on layer_info/);
  const c = cli('pca', '--db', DB, '--where', 'nonexistent_col > 1');
  assert.equal(c.status, 2);
});

test('shift --views writes KDE curves, the 2-D density and eigen-images', () => {
  const out = join(tmp, 'views.json');
  const r = cli('shift', '--db', DB, '--by', 'Task', '--views', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const v = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(v.kde.x.length, 1024);
  assert.equal(v.kde.curves.length, 2 * 9);
  assert.equal(v.kde.curves[0].y.length, 1024);
  assert.equal(v.density.nx, 512);
  assert.equal(v.density.total + v.density.outside, 8672);
  assert.equal(v.eigenImages.components.length, 9);
  assert.deepEqual(JSON.parse(r.stdout).groups, ['Classification', 'Denoising']);
});

test('report --db renders the zoo report (models, basis, drift per grouping, ridges, density)', () => {
  const out = join(tmp, 'zoo.html');
  const r = cli('report', '--db', DB, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(out, 'utf8');
  for (const h of [
    'Models',
    'Filter basis',
    'Distribution shift',
    'By Task',
    'By depth',
    'By model',
    'Coefficient density',
  ])
    assert.ok(html.includes(`<h2>${h}`) || html.includes(`>${h}<`), h);
  assert.ok(html.includes('digits_denoiser'));
  assert.ok(html.includes('<svg'));
  const both = cli('report', dataPath('digits_cnn.onnx'), '--db', DB, '--out', out);
  assert.equal(both.status, 2);
});

test('layers with NaN or infinite weights are left out of shift/pca and named; uncounted ones give a clear error', async () => {
  const dir = mkdtempSync(join(tmp, 'nonfinite-'));
  const rand = mulberry32(5);
  const conv = (out: number, inp: number, bad: boolean) => {
    const data = Float32Array.from({ length: out * inp * 9 }, () => rand() - 0.5);
    if (bad)
      [data[5], data[100], data[200]] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    return data;
  };
  for (const [name, bad] of [
    ['bad', true],
    ['good', false],
  ] as const)
    writeSafetensors(join(dir, `${name}.safetensors`), [
      { name: 'conv1.weight', shape: [16, 3, 3, 3], data: conv(16, 3, false) },
      { name: 'conv2.weight', shape: [16, 16, 3, 3], data: conv(16, 16, bad) },
    ]);
  const path = join(dir, 'z.duckdb');
  const db = await openDb(path);
  try {
    await ingestPaths(db, [dir]);
    const plan = await planSelection(db.connection, { by: 'model' });
    assert.deepEqual(plan.nonFinite, { layers: 1, filters: 256 });
    assert.equal(plan.filterCount, 48 + 48 + 256);
    assert.deepEqual(plan.groups, ['bad', 'good']);
    assert.match(
      nonFiniteNote(plan) ?? '',
      /left out 1 layer \(256 filters\) whose weights hold NaN or infinite/,
    );
    const r = await storeShift(path, plan);
    assert.deepEqual(r.counts, [48, 304]);
    assert.ok(r.matrix.flat().every(Number.isFinite));
    // a layer whose non_finite count is unknown (as imported ones) fails with a message, not a NaN basis
    await db.connection.run('UPDATE layers SET non_finite = NULL');
    const unknown = await planSelection(db.connection, { by: 'model' });
    assert.equal(unknown.nonFinite.layers, 0);
    await assert.rejects(storePca(path, unknown), /hold NaN or infinite weights/);
  } finally {
    db.close();
  }
  const out = cli('shift', '--db', path, '--by', 'model');
  assert.equal(out.status, 2, out.stderr);
  assert.match(out.stderr, /NaN or infinite/);
});

test('a grouping into more groups than can be compared is refused before any scan, with a clear message', async () => {
  const db = await openDb(DB, { readOnly: true });
  try {
    const plan = await planSelection(db.connection, { by: 'model', maxGroups: 4 });
    assert.equal(plan.groups.length, 4);
    await assert.rejects(
      planSelection(db.connection, { by: 'model', maxGroups: 3 }),
      (e: unknown) =>
        e instanceof TooManyGroupsError &&
        /grouping by model gives 4 groups; at most 3 can be compared/.test(e.message),
    );
  } finally {
    db.close();
  }
});

test('bins, KDE bins or a density raster too large to hold are refused before any scan', async () => {
  const db = await openDb(DB, { readOnly: true });
  let plan: Awaited<ReturnType<typeof planSelection>>;
  try {
    plan = await planSelection(db.connection, { by: 'Task' });
  } finally {
    db.close();
  }
  await assert.rejects(storeShift(DB, plan, { bins: 5_000_000 }), /90,000,000 histogram cells, more than/);
  await assert.rejects(
    storeShift(DB, plan, { views: { kdeBins: 2_000_000 } }),
    /\(70 \+ 2000000 for the KDE curves\)/,
  );
  await assert.rejects(
    storeShift(DB, plan, { views: { density: { size: 5000, lo: -3, hi: 3, xIndex: 0, yIndex: 1 } } }),
    /5000² density raster is larger than 4096²/,
  );
  const ok = await storeShift(DB, plan, { bins: 1000 });
  assert.equal(ok.bins, 1000);
});
