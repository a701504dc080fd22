/**
 * `filterdb cohorts`: the definitions of issue #13 against the numpy/scipy reference
 * (test/data/cohorts/make_expected.py → expected.json) on the cohort zoo (test/support/cohort-zoo.ts: digits_cnn
 * and its normal / adversarial-like / pruned variants, a model without 3x3 layers, one without a cohort).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  averageRanks,
  COHORT_BINS,
  cohortBin,
  cohortsJson,
  keptFilters,
  measureCohortLayer,
  ORTH_GRAM_MAX,
  rowwiseOrthogonality,
  spearman,
} from '../src/analysis/cohorts.js';
import { orthogonality } from '../src/metrics/quality.js';
import { loadBasis } from '../src/scan/bases.js';
import { planCohorts, storeCohorts } from '../src/scan/cohort-scan.js';
import { startServer } from '../src/server/server.js';
import { openDb } from '../src/store/db.js';
import { assertClose } from './support/assert-close.js';
import { writeCohortZoo } from './support/cohort-zoo.js';
import { dataPath, repoRoot } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-cohorts-'));
const DB = join(tmp, 'zoo.duckdb');
const CLI = join(repoRoot, 'dist/src/cli/main.js');
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1', ...env },
  });
}

before(() => {
  const { files, meta } = writeCohortZoo(join(tmp, 'zoo'));
  const r = cli(['ingest', ...files, '--db', DB, '--meta', meta]);
  assert.equal(r.status, 0, r.stderr);
});

const expected = JSON.parse(readFileSync(dataPath('cohorts/expected.json'), 'utf8'));

/** 1e-6 on the divergence matrices, 1e-9 on everything else (metrics, correlations, EVR, range). */
const tolerance = (path: string) => (/^\.divergence\.(byBin|whole)/.test(path) ? 1e-6 : 1e-9);

test('cohorts --by Training --correlate "Robust Accuracy" --json equals the numpy/scipy reference', () => {
  const r = cli(['cohorts', '--db', DB, '--by', 'Training', '--correlate', 'Robust Accuracy', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const worst = assertClose(got, expected, tolerance);
  assert.ok(worst < 1e-9, `largest difference ${worst}`);
  // the edge cases are really in the answer
  const byName = new Map(got.models.map((m: { model: string }) => [m.model, m]));
  const pointwise = byName.get('pointwise') as { whole: Record<string, unknown>; sparsity: unknown[] };
  assert.deepEqual(pointwise.whole, { sparsity: null, varianceEntropy: null, orthogonality: null });
  assert.ok(pointwise.sparsity.every((v) => v === null));
  const pruned = byName.get('pruned') as { sparsity: (number | null)[]; varianceEntropy: (number | null)[] };
  // conv4 (every filter zero) is bin (0.4, 0.5]: all sparse, no entropy
  assert.equal(pruned.sparsity[5], 1);
  assert.equal(pruned.varianceEntropy[5], null);
  assert.equal((byName.get('unlabeled') as { group: string }).group, '(none)');
  assert.deepEqual(got.groups, ['(none)', 'adversarial', 'normal', 'pruned']);
  // a cohort missing from a bin: (0.6, 0.7] holds only the 7-layer models
  assert.equal(got.divergence.byBin[7], null);
  assert.ok(Array.isArray(got.divergence.byBin[0]));
  assert.equal(got.correlation.n, 6);
});

test('cohorts reads the same through @duckdb/node-bindings and across chunk edges', async () => {
  const r = cli(['cohorts', '--db', DB, '--by', 'Training', '--correlate', 'Robust Accuracy', '--json'], {
    FILTERDB_NATIVE_SCAN: '0',
  });
  assert.equal(r.status, 0, r.stderr);
  assertClose(JSON.parse(r.stdout), expected, tolerance);
  const db = await openDb(DB, { readOnly: true });
  const plan = await planCohorts(db.connection, { by: 'Training', correlate: 'Robust Accuracy' }).finally(
    () => db.close(),
  );
  // 100 filters a query: most layers (144–1024 filters) alone, the small ones together
  const passes = new Set<string>();
  const small = await storeCohorts(DB, plan, { chunkFilters: 100, onProgress: (_, p) => passes.add(p) });
  assertClose(cohortsJson(small), expected, tolerance);
  assert.deepEqual([...passes], ['layers', 'range', 'histograms']);
});

test('cohorts: selections, text output and bad input', () => {
  const text = cli(['cohorts', '--db', DB, '--by', 'Training', '--correlate', 'Robust Accuracy']);
  assert.equal(text.status, 0, text.stderr);
  for (const s of [
    'sparsity',
    'variance entropy',
    'orthogonality',
    'divergence by depth',
    'adversarial – normal',
  ])
    assert.ok(text.stdout.includes(s), s);
  assert.match(text.stdout, /Spearman correlation with Robust Accuracy \(6 models with a value\)/);
  assert.match(text.stderr, /1 model has no selected 3x3 layer/);
  // --where narrows the models: two cohorts only
  const two = cli([
    'cohorts',
    '--db',
    DB,
    '--by',
    'Training',
    '--where',
    "Training IN ('normal', 'adversarial')",
    '--json',
  ]);
  assert.equal(two.status, 0, two.stderr);
  const j = JSON.parse(two.stdout);
  assert.deepEqual(j.groups, ['adversarial', 'normal']);
  assert.equal(j.models.length, 4);
  assert.equal(j.correlation, undefined);
  assert.equal(j.divergence.whole.length, 2);
  // a cohort is a set of models: a layer-level expression is refused (exit 2)
  const perLayer = cli(['cohorts', '--db', DB, '--by', 'conv_depth']);
  assert.equal(perLayer.status, 2);
  assert.match(perLayer.stderr, /one value per model/);
  const bad = cli(['cohorts', '--db', DB, '--by', 'no_such_column']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--by "no_such_column"/);
  const notNumeric = cli(['cohorts', '--db', DB, '--by', 'Training', '--correlate', 'Training']);
  assert.equal(notNumeric.status, 2);
  assert.match(notNumeric.stderr, /not numeric/);
});

test('cohorts --basis uses a stored basis: its EVR and range, one scan', async () => {
  const save = cli(['pca', '--db', DB, '--save', 'all']);
  assert.equal(save.status, 0, save.stderr);
  const r = cli(['cohorts', '--db', DB, '--by', 'Training', '--basis', 'all', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const pca = JSON.parse(cli(['pca', '--db', DB, '--json']).stdout);
  assertClose(j.divergence.explainedVarianceRatio, pca.explainedVarianceRatio, () => 1e-12);
  // the basis of every filter (sparse ones too) differs from the cohort basis of the non-sparse ones
  assert.notDeepEqual(j.divergence.explainedVarianceRatio, expected.divergence.explainedVarianceRatio);
  assert.equal(j.divergence.filterCount, expected.divergence.filterCount);
  assert.ok(j.divergence.whole.flat().every((v: number) => Number.isFinite(v) && v >= 0));
  // the metrics do not depend on the basis
  assertClose(j.models, expected.models, () => 1e-9);
  // a stored basis with its range: the histograms come from the first scan, the only one
  const db = await openDb(DB, { readOnly: true });
  const [plan, stored] = await Promise.all([
    planCohorts(db.connection, { by: 'Training' }),
    loadBasis(db.connection, 'all'),
  ]).finally(() => db.close());
  assert.ok(stored.range);
  const passes: string[] = [];
  const one = await storeCohorts(DB, plan, {
    basis: { basis: stored.basis, range: stored.range },
    onProgress: (_, p) => {
      if (!passes.includes(p)) passes.push(p);
    },
  });
  assert.deepEqual(passes, ['layers']);
  assertClose(cohortsJson(one).divergence, j.divergence, () => 0);
  const missing = cli(['cohorts', '--db', DB, '--by', 'Training', '--basis', 'nope']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no stored basis named "nope"/);
});

test('report --db --cohorts adds the cohort section: three boxplots, the divergence chart, correlations', () => {
  const out = join(tmp, 'zoo.html');
  const r = cli([
    'report',
    '--db',
    DB,
    '--out',
    out,
    '--cohorts',
    'Training',
    '--correlate',
    'Robust Accuracy',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(out, 'utf8');
  const start = html.indexOf('id="cohorts"');
  assert.ok(start > 0, 'no cohort section');
  const section = html.slice(start, html.indexOf('</section>', start));
  assert.match(section, /Cohorts by Training/);
  for (const t of ['sparsity by depth', 'variance entropy by depth', 'orthogonality by depth'])
    assert.ok(section.includes(`<title>${t}</title>`), t);
  assert.match(section, /divergence between cohorts by depth/);
  // every model with a value is a dot named on hover; the mean is marked
  assert.match(section, /<title>pruned \(pruned\): 1<\/title>/);
  assert.ok((section.match(/class="fdb-mean"/g) ?? []).length >= 4);
  assert.match(section, /Spearman’s ρ|Spearman's ρ/);
  assert.equal(cli(['report', dataPath('digits_cnn.onnx'), '--out', out, '--cohorts', 'Training']).status, 2);
});

test('POST /api/cohorts answers the same contract; bad columns and unsafe SQL are refused', async () => {
  const srv = await startServer({ port: 0, host: '127.0.0.1', db: DB, readOnly: true });
  try {
    const post = (body: unknown) =>
      fetch(new URL('/api/cohorts', srv.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: new URL(srv.url).origin },
        body: JSON.stringify(body),
      });
    const res = await post({ by: 'training', correlate: 'Robust Accuracy' });
    assert.equal(res.status, 200);
    const { nonFinite, seconds, ...contract } = await res.json();
    assert.deepEqual(nonFinite, { layers: 0, filters: 0 });
    assert.ok(seconds >= 0);
    assertClose(contract, expected, tolerance);
    const bad = await post({ by: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, 'unknown-column');
    // refused by the SQL endpoint's guard (400 malformed / 403 not a plain SELECT), never run
    const sql = await post({ by: 'Training', where: '1 = 1; DROP TABLE layers' });
    assert.ok([400, 403].includes(sql.status), String(sql.status));
    const files = await post({ by: 'Training', where: "model IN (SELECT * FROM read_csv('/etc/passwd'))" });
    assert.ok([400, 403].includes(files.status), String(files.status));
    const get = await fetch(new URL('/api/cohorts', srv.url));
    assert.equal(get.status, 405);
  } finally {
    await srv.close();
  }
});

test('imported dataset.h5 layers have no shape: orthogonality null, the rest as from the ONNX file', () => {
  const h5 = join(tmp, 'h5.duckdb');
  assert.equal(cli(['import-h5', dataPath('dataset.h5'), '--db', h5]).status, 0);
  const onnx = join(tmp, 'onnx.duckdb');
  assert.equal(
    cli(['ingest', dataPath('digits_cnn.onnx'), '--db', onnx, '--meta', dataPath('meta.csv')]).status,
    0,
  );
  const a = JSON.parse(cli(['cohorts', '--db', h5, '--by', 'Training', '--json']).stdout);
  assert.deepEqual(a.groups, ['adversarial', 'normal']);
  assert.equal(a.models.length, 4);
  for (const m of a.models) {
    assert.ok(m.orthogonality.every((v: number | null) => v === null));
    assert.equal(m.whole.orthogonality, null);
    assert.equal(typeof m.whole.varianceEntropy, 'number');
  }
  // dataset.h5 holds digits_cnn.onnx's 3x3 filters: the same sparsity and entropy in every bin
  const b = JSON.parse(cli(['cohorts', '--db', onnx, '--by', 'Training', '--json']).stdout);
  const fromH5 = a.models.find((m: { model: string }) => m.model === 'digits_cnn');
  const fromOnnx = b.models[0];
  assertClose(fromH5.sparsity, fromOnnx.sparsity, () => 1e-12);
  assertClose(fromH5.varianceEntropy, fromOnnx.varianceEntropy, () => 1e-12);
  assert.ok(fromOnnx.orthogonality.some((v: number | null) => v !== null));
});

test('cohort bins: "first", then right-closed intervals on numpy.linspace(0, 1, 11)', () => {
  assert.equal(COHORT_BINS.length, 11);
  assert.equal(cohortBin(0, 0), 0);
  assert.equal(cohortBin(0, null), 0);
  assert.equal(cohortBin(3, 0.3), 3); // 0.3 <= 0.30000000000000004: (0.2, 0.3]
  assert.equal(cohortBin(3, 0.30000000000000004), 3);
  assert.equal(cohortBin(3, 0.3000000000000001), 4);
  assert.equal(cohortBin(1, 0.1), 1);
  assert.equal(cohortBin(1, 1e-9), 1);
  assert.equal(cohortBin(5, 1), 10);
  assert.equal(cohortBin(2, 0), -1); // pandas.cut leaves 0 out of (0, 0.1]
  assert.equal(cohortBin(2, 1.5), -1);
  assert.equal(cohortBin(null, null), -1);
  assert.equal(COHORT_BINS[cohortBin(7, 0.7)], '(0.6, 0.7]');
});

test('cohort layers: sparse is <= max|W|/100, all-zero and one-channel layers', () => {
  // 4 filters of 3x3, out 2 × in 2; filter 1's peak is exactly max/100 → sparse (`<=`)
  const w = new Float32Array(36);
  w[0] = 2;
  w[9 + 4] = 0.02;
  w[18 + 1] = -1;
  w[18 + 2] = 0.5;
  w[27 + 8] = 0.021;
  const r = measureCohortLayer(w, 4, 2);
  assert.equal(r.stats.sparse, 1);
  assert.equal(r.stats.kept, 3);
  assert.deepEqual(Array.from(r.kept.scaled.subarray(0, 9)), [1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.ok(r.stats.orthogonality !== null && r.stats.entropy !== null);
  const zero = measureCohortLayer(new Float32Array(36), 4, 2);
  assert.equal(zero.stats.sparse, 4);
  assert.equal(zero.stats.entropy, null);
  // zero rows stay zero and the diagonal counts: 1 − 2/(2·1)
  assert.equal(zero.stats.orthogonality, 0);
  const one = measureCohortLayer(w, 4, 1);
  assert.equal(one.stats.orthogonality, null);
  assert.equal(measureCohortLayer(w, 4, null).stats.orthogonality, null);
  // identical kept filters: every variance 0, left out
  const same = new Float32Array(27).fill(0.5);
  assert.equal(measureCohortLayer(same, 3, null).stats.entropy, null);
  assert.equal(keptFilters(same, 3).kept, 3);
});

test('orthogonality of layers with many output channels is computed row by row, same value', () => {
  const out = 40;
  const d = 27;
  const g = Float64Array.from({ length: out * d }, (_, i) => Math.sin(i * 1.7) * (i % 5 === 0 ? 0 : 1));
  g.fill(0, 3 * d, 4 * d); // a zero row
  const full = orthogonality(Float64Array.from(g), out, d)!;
  assert.ok(Math.abs(rowwiseOrthogonality(Float64Array.from(g), out, d) - full) < 1e-13);
  assert.ok(ORTH_GRAM_MAX >= 1024);
});

test('Spearman with average ranks as scipy.stats.spearmanr; null for constant input', () => {
  assert.deepEqual(averageRanks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  assert.ok(Math.abs(spearman([1, 2, 2, 3, 5], [2, 1, 4, 4, 3])! - 0.3947368421052632) < 1e-15);
  assert.ok(
    Math.abs(spearman([0.5, 0.5, 0.1, 0.9, 0.3, 0.3], [10, 20, 20, 5, 1, 7])! - -0.19405146605862292) < 1e-15,
  );
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
  assert.equal(spearman([1], [2]), null);
});
