/**
 * `pca`, `shift`, `cohorts --kernel KxK` (issue #14, part 1): k×k filter spaces against the numpy reference
 * (test/data/kxk/make_kxk.py → expected.json, cohorts.KxK.json) on three safetensors models with 3x3, 5x5 and
 * 7x7 convs; both scan readers and scan workers give the same bits; bad --kernel values and sizes without
 * stored filters are refused with a clear message; 3x3 output is byte for byte what it was before --kernel
 * (golden-3x3/, written by the main branch's `filterdb` of 2026-12-06, commit 5020264, on dataset.h5).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { storeShift } from '../src/scan/analyses.js';
import { planCohorts, storeCohorts } from '../src/scan/cohort-scan.js';
import { parseKernelSize } from '../src/scan/kernel-size.js';
import { planSelection, SelectionError } from '../src/scan/selection.js';
import { startServer } from '../src/server/server.js';
import { openDb } from '../src/store/db.js';
import { assertClose } from './support/assert-close.js';
import { fixtureDb } from './support/fixture-db.js';
import { dataPath, repoRoot } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-kxk-'));
const DB = join(tmp, 'kxk.duckdb');
const DB3 = join(tmp, 'only3x3.duckdb');
const CLI = join(repoRoot, 'dist/src/cli/main.js');
const FX = fixtureDb('filterdb-kxk-fx-');
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1', ...env },
  });
}

function json(args: string[], env: Record<string, string> = {}) {
  const r = cli(args, env);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const DIR = dataPath('kxk');
const META = join(DIR, 'meta.csv');
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8'));

before(() => {
  const models = readdirSync(DIR)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => join(DIR, f));
  let r = cli(['ingest', ...models, '--db', DB, '--meta', META, '--kernel', 'all']);
  assert.equal(r.status, 0, r.stderr);
  r = cli(['ingest', ...models, '--db', DB3, '--meta', META]);
  assert.equal(r.status, 0, r.stderr);
});

/** 1e-6 on drift matrices, 1e-9 on everything else. */
const tol = (path: string) => (/matrix|byBin|\.whole\[/.test(path) ? 1e-6 : 1e-9);

for (const k of ['5x5', '7x7']) {
  test(`ingest --kernel all stores every ${k} filter; pca --kernel ${k} equals numpy`, () => {
    const want = expected[k].pca;
    const got = json(['pca', '--db', DB, '--kernel', k, '--json']);
    assert.equal(got.kernel, k);
    assert.equal(got.filterCount, want.filterCount);
    const d = Number(k[0]) ** 2;
    assert.equal(got.mean.length, d);
    assert.equal(got.components.length, d);
    assertClose(got, want, tol, '', false);
  });

  test(`shift --kernel ${k} --by model and --by Task --where equal numpy`, () => {
    for (const [args, want] of [
      [['--by', 'model'], expected[k].shiftByModel],
      [['--by', 'Task', '--where', "model <> 'kxk_gamma'"], expected[k].shiftByTaskWhere],
    ] as const) {
      const got = json(['shift', '--db', DB, '--kernel', k, ...args, '--json']);
      assert.equal(got.kernel, k);
      assert.deepEqual(got.groups, want.groups);
      assert.deepEqual(got.counts, want.counts);
      assertClose(got, want, tol, '', false);
    }
  });

  test(`shift --kernel ${k}: the same bits from node-bindings batches, the native reader and two scan workers`, async () => {
    const args = ['shift', '--db', DB, '--kernel', k, '--by', 'model', '--json'];
    const native = cli(args);
    const batches = cli(args, { FILTERDB_NATIVE_SCAN: '0' });
    assert.equal(native.status, 0, native.stderr);
    assert.equal(batches.stdout, native.stdout);
    const kernel = parseKernelSize(k);
    const db = await openDb(DB, { readOnly: true });
    let plan: Awaited<ReturnType<typeof planSelection>>;
    try {
      plan = await planSelection(db.connection, { by: 'Task', kernel });
    } finally {
      db.close();
    }
    assert.equal(plan.stats, null);
    const one = await storeShift(DB, plan, { workers: 0 });
    const two = await storeShift(DB, plan, { workers: 2 });
    assert.deepEqual(two.matrix, one.matrix);
    assert.deepEqual(two.components, one.components);
    assert.deepEqual(two.range, one.range);
  });

  test(`cohorts --kernel ${k} equals numpy (make_expected.py with K = ${k[0]}), in small chunks too`, async () => {
    const want = JSON.parse(readFileSync(join(DIR, `cohorts.${k}.json`), 'utf8'));
    const got = json([
      'cohorts',
      '--db',
      DB,
      '--kernel',
      k,
      '--by',
      'Task',
      '--correlate',
      'Score',
      '--json',
    ]);
    assert.equal(got.kernel, k);
    const { kernel: _kernel, ...answer } = got;
    assertClose(answer, want, tol);
    // chunks of 100 filters: layers read alone, and several small layers together
    const db = await openDb(DB, { readOnly: true });
    let plan: Awaited<ReturnType<typeof planCohorts>>;
    try {
      plan = await planCohorts(db.connection, { by: 'Task', correlate: 'Score', kernel: parseKernelSize(k) });
    } finally {
      db.close();
    }
    const small = await storeCohorts(DB, plan, { chunkFilters: 100 });
    assertClose(small.divergence, want.divergence, tol);
    assertClose(
      small.models.map((m) => m.whole),
      want.models.map((m: { whole: unknown }) => m.whole),
      tol,
    );
  });
}

test('shift --kernel 5x5 --views: 5x5 eigen-images', () => {
  const views = join(tmp, 'views.json');
  const r = cli([
    'shift',
    '--db',
    DB,
    '--kernel',
    '5x5',
    '--by',
    'Task',
    '--views',
    views,
    '--density',
    '16',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /4,262 5x5 filters/);
  const v = JSON.parse(readFileSync(views, 'utf8'));
  assert.equal(v.eigenImages.kernel, '5x5');
  assert.equal(v.eigenImages.components.length, 25);
  for (const c of v.eigenImages.components) {
    assert.equal(c.length, 5);
    for (const row of c) assert.equal(row.length, 5);
  }
  assert.equal(v.kde.curves.length, 2 * 25);
  assert.equal(v.density.total + v.density.outside, 4262);
});

test('--kernel: bad sizes exit 2, sizes without stored filters exit 1 naming what is stored', () => {
  for (const bad of ['5', '5x', 'axb', '0x3', '1x1', '40x40']) {
    const r = cli(['shift', '--db', DB, '--by', 'model', '--kernel', bad]);
    assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--kernel/);
  }
  for (const cmd of [['shift', '--by', 'model'], ['pca'], ['cohorts', '--by', 'Task']]) {
    const r = cli([...cmd, '--db', DB, '--kernel', '9x9']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /no 9x9 filters selected; the database stores filters of 5x5: 4,262, 7x7: 3,368, 3x3: 512/,
    );
  }
  // stored without --kernel all: only the 3x3 filters, and the message says how to get the others
  const r = cli(['shift', '--db', DB3, '--by', 'model', '--kernel', '7x7']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /no 7x7 filters selected; the database stores filters of 3x3: 512 .*ingest --kernel all/,
  );
  const w = cli(['pca', '--db', DB, '--kernel', '7x7', '--where', "model = 'none'"]);
  assert.equal(w.status, 1);
  assert.match(w.stderr, /no 7x7 filters selected by --where model = 'none'/);
  const e = cli(['shift', '--engine', 'clickhouse://localhost:1/x', '--by', 'model', '--kernel', '5x5']);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /3x3 filters only/);
  const c = cli(['cohorts', '--engine', 'clickhouse://localhost:1/x', '--by', 'Task', '--kernel', '7x7']);
  assert.equal(c.status, 2, c.stderr);
  assert.match(c.stderr, /3x3 filters only/);
});

test('--by pattern (3x3 depthwise kernel labels) is refused with another --kernel, in the plans and the CLI', async () => {
  const refused = /--by pattern groups 3x3 depthwise kernels by their atlas label; 5x5 filters have none/;
  const db = await openDb(DB, { readOnly: true });
  try {
    const kernel = parseKernelSize('5x5');
    await assert.rejects(planSelection(db.connection, { by: 'pattern', kernel }), (e: Error) => {
      assert.ok(e instanceof SelectionError, String(e));
      assert.match(e.message, refused);
      return true;
    });
    await assert.rejects(planCohorts(db.connection, { by: 'pattern', kernel }), (e: Error) => {
      assert.ok(e instanceof SelectionError, String(e));
      assert.match(e.message, refused);
      return true;
    });
    // 3x3 still plans the per-filter grouping
    const p = await planSelection(db.connection, { by: 'pattern' });
    assert.ok(p.filterCount > 0);
  } finally {
    db.close();
  }
  for (const cmd of [
    ['shift', '--by', 'pattern'],
    ['shift', '--by', 'model', '--by', 'pattern'],
    ['cohorts', '--by', 'pattern'],
  ]) {
    const r = cli([...cmd, '--db', DB, '--kernel', '5x5']);
    assert.notEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, refused);
  }
});

test('a 5x5 basis saved by pca is refused by a 3x3 shift, and reused by a 5x5 one', () => {
  const db = join(tmp, 'bases.duckdb');
  let r = cli([
    'ingest',
    join(DIR, 'kxk_alpha.safetensors'),
    join(DIR, 'kxk_beta.safetensors'),
    '--db',
    db,
    '--kernel',
    'all',
  ]);
  assert.equal(r.status, 0, r.stderr);
  r = cli(['pca', '--db', db, '--kernel', '5x5', '--save', 'b5']);
  assert.equal(r.status, 0, r.stderr);
  r = cli(['shift', '--db', db, '--by', 'model', '--basis', 'b5']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /the basis has 25 dimensions, the selected 3x3 filters have 9/);
  const fitted = json(['shift', '--db', db, '--kernel', '5x5', '--by', 'model', '--json']);
  const reused = json(['shift', '--db', db, '--kernel', '5x5', '--by', 'model', '--basis', 'b5', '--json']);
  assert.deepEqual(reused.matrix, fitted.matrix);
});

test('3x3: --kernel 3x3 and the default print what filterdb printed before --kernel, byte for byte', () => {
  const golden = (name: string) => readFileSync(join(DIR, 'golden-3x3', name), 'utf8');
  for (const [args, file] of [
    [['shift', '--by', 'Task', '--json'], 'shift.Task.json'],
    [['shift', '--by', 'depth', '--by', 'model', '--json'], 'shift.depth.model.json'],
    [['pca', '--json'], 'pca.json'],
  ] as const) {
    const plain = cli([...args, '--db', FX]);
    const explicit = cli([...args, '--db', FX, '--kernel', '3x3']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout, golden(file), file);
    assert.equal(explicit.stdout, plain.stdout, file);
  }
});

test('report --db --kernel 5x5: the zoo report of the 5x5 filters with 25 5×5 eigen-images', () => {
  const out = join(tmp, 'zoo5.html');
  const r = cli(['report', '--db', DB, '--kernel', '5x5', '--cohorts', 'Task', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(out, 'utf8');
  assert.match(html, /4,262 5×5 filters, compared along/);
  assert.match(html, />PC25</);
  assert.doesNotMatch(html, />PC26</);
  assert.match(html, /Σ over the 25 PCA coefficients/);
  const bad = cli(['report', join(DIR, 'kxk_alpha.safetensors'), '--kernel', '5x5', '--out', out]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--kernel needs --db/);
});

test('POST /api/compare and /api/cohorts take "kernel": the CLI answers; bad or absent sizes are 400s', async () => {
  const srv = await startServer({ port: 0, host: '127.0.0.1', db: DB, readOnly: true });
  try {
    const post = (path: string, body: unknown) =>
      fetch(new URL(path, srv.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: new URL(srv.url).origin },
        body: JSON.stringify(body),
      });
    const res = await post('/api/compare', { by: 'model', kernel: '7x7' });
    assert.equal(res.status, 200);
    const got = await res.json();
    assert.equal(got.kernel, '7x7');
    assert.equal(got.ridges.length, 49);
    const want = expected['7x7'].shiftByModel;
    for (const key of ['groups', 'counts', 'matrix', 'explainedVarianceRatio', 'components', 'range'])
      assertClose(got[key], want[key], () => (key === 'matrix' ? 1e-6 : 1e-9), key);
    const plain = await (await post('/api/compare', { by: 'model' })).json();
    assert.equal(plain.kernel, undefined);
    assert.equal(plain.components.length, 9);
    const coh = await post('/api/cohorts', { by: 'Task', correlate: 'Score', kernel: '5x5' });
    assert.equal(coh.status, 200);
    const { nonFinite: _n, seconds: _s, ...contract } = await coh.json();
    const { kernel: _kernel, ...answer } = contract;
    assertClose(answer, JSON.parse(readFileSync(join(DIR, 'cohorts.5x5.json'), 'utf8')), tol);
    for (const [path, body, pattern] of [
      ['/api/compare', { by: 'model', kernel: 'big' }, /"kernel": takes a kernel size/],
      ['/api/compare', { by: 'model', kernel: '9x9' }, /no 9x9 filters selected; the database stores/],
      ['/api/cohorts', { by: 'Task', kernel: '9x9' }, /no 9x9 filters selected/],
      ['/api/cohorts', { by: 'Task', kernel: 5 }, /"kernel" must be a string/],
    ] as const) {
      const r = await post(path, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match((await r.json()).error.message, pattern);
    }
  } finally {
    await srv.close();
  }
});
