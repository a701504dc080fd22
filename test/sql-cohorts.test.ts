/**
 * `cohorts` with its aggregate passes as SQL (src/engine/sql-cohorts.ts) against the streamed path, on DuckDB's
 * dialect: the cohort zoo (ingested with metrics, so orthogonality can come from the stored layer metric or
 * from the filters) and the fixture database give the same models, metrics and matrices to 1e-12, and with the
 * streamed basis and range the same histograms, hence the same matrices bit for bit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cohortsJson } from '../src/analysis/cohorts.js';
import { pcaFromMoments } from '../src/analysis/pca.js';
import { duckdbEngine } from '../src/engine/duckdb-engine.js';
import { STORED_ORTHOGONALITY_SQL, sqlCohorts } from '../src/engine/sql-cohorts.js';
import { planCohorts, storeCohorts } from '../src/scan/cohort-scan.js';
import { openDb, queryRows } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { writeCohortZoo } from './support/cohort-zoo.js';
import { dataPath, repoRoot } from './support/paths.js';
import { assertSameCohorts } from './support/same-cohorts.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-sqlcohorts-'));
const ZOO = join(tmp, 'zoo.duckdb');
const FX = join(tmp, 'fx.duckdb');
after(() => rmSync(tmp, { recursive: true, force: true }));

before(async () => {
  const { files, meta } = writeCohortZoo(join(tmp, 'zoo'));
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'dist/src/cli/main.js'), 'ingest', ...files, '--db', ZOO, '--meta', meta],
    { encoding: 'utf8', env: { ...process.env, FILTERDB_NO_PROGRESS: '1' } },
  );
  assert.equal(r.status, 0, r.stderr);
  const db = await openDb(FX);
  try {
    await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics: true });
  } finally {
    db.close();
  }
});

async function storedOrthogonality(path: string): Promise<Map<number, number>> {
  const db = await openDb(path, { readOnly: true });
  try {
    const rows = await queryRows(db.connection, STORED_ORTHOGONALITY_SQL);
    return new Map(rows.map((r) => [Number(r.layer_id), Number(r.orthogonality)]));
  } finally {
    db.close();
  }
}

const cases: [string, { by: string; where?: string; correlate?: string }][] = [
  [ZOO, { by: 'Training', correlate: 'Robust Accuracy' }],
  [ZOO, { by: 'Training', where: "Training IN ('normal', 'adversarial')" }],
  [FX, { by: 'Task' }],
];

for (const [path, options] of cases) {
  test(`cohorts as SQL on DuckDB equal the streamed path: ${path === ZOO ? 'zoo' : 'fixture'} ${JSON.stringify(options)}`, async () => {
    const stored = await storedOrthogonality(path);
    const db = await openDb(path, { readOnly: true });
    try {
      const plan = await planCohorts(db.connection, options);
      const streamed = cohortsJson(await storeCohorts(path, plan));
      assert.ok(streamed.divergence, 'the streamed path has a divergence');
      // orthogonality from the stored layer metric where there is one, and from the filters read back
      const fromStored = await sqlCohorts(duckdbEngine(db), plan, { orthogonality: stored });
      const fromFilters = await sqlCohorts(duckdbEngine(db), plan);
      assertSameCohorts(cohortsJson(fromStored), streamed);
      assertSameCohorts(cohortsJson(fromFilters), streamed);
      const withOrth = plan.layers.filter((l) => l.out !== null && l.out >= 2).length;
      assert.equal(fromFilters.orthogonalityComputed, withOrth);
      if (path === ZOO) {
        assert.ok(withOrth > 0 && stored.size > 0, 'the zoo exercises orthogonality');
        assert.equal(fromStored.orthogonalityComputed, 0);
      }
      // with the streamed basis and range: the histograms, hence the matrices, bit for bit
      const d = streamed.divergence!;
      const basis = await basisOf(path, plan);
      const same = await sqlCohorts(duckdbEngine(db), plan, { basis: { basis, range: d.range } });
      assert.deepEqual(same.divergence?.byBin, d.byBin);
      assert.deepEqual(same.divergence?.whole, d.whole);
    } finally {
      db.close();
    }
  });
}

/** The streamed path's basis of a plan's non-sparse filters (its EVR is what the matrices weigh with). */
async function basisOf(path: string, plan: Awaited<ReturnType<typeof planCohorts>>) {
  const { batchMoments, emptyMoments, mergeMoments } = await import('../src/analysis/moments.js');
  const { keptFilters } = await import('../src/analysis/cohorts.js');
  const db = await openDb(path, { readOnly: true });
  const m = emptyMoments(9);
  try {
    for (const l of plan.layers) {
      const rows = (
        await db.connection.runAndReadAll(
          `SELECT w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters WHERE layer_id = ${l.layerId} ORDER BY filter_id`,
        )
      ).getRows();
      const w = Float32Array.from(rows.flat().map(Number));
      const k = keptFilters(w, l.count);
      if (k.kept > 0) mergeMoments(m, batchMoments(k.scaled, k.kept, 9));
    }
  } finally {
    db.close();
  }
  return pcaFromMoments(m);
}

test('cohorts needs --db or --engine, and --engine takes neither --db nor --basis', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'cohorts', ...args], {
      encoding: 'utf8',
      env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
    });
  const none = run('--by', 'Task');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--db <file> or --engine <url>/);
  const both = run('--engine', 'clickhouse://127.0.0.1:9/x', '--db', ZOO, '--by', 'Task');
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--engine takes neither --db nor --basis/);
  const other = run('--engine', 'postgres://u:secret@h/x', '--by', 'Task');
  assert.equal(other.status, 1);
  assert.match(other.stderr, /not a known engine/);
  assert.doesNotMatch(other.stderr, /secret/);
});
