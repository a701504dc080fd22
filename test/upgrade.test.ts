/**
 * `filterdb upgrade`: a database built before the layer statistics (test/data/filterdb-v1.duckdb, schema
 * version 1, written by filterdb at commit 83f0873 — see FIXTURES.md) is read as it is, upgraded without
 * loss, gets the same statistics a fresh import computes, and is resumable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { storeShift } from '../src/scan/analyses.js';
import { planSelection } from '../src/scan/selection.js';
import { openDb, queryRows } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { ingestPaths } from '../src/store/ingest.js';
import { upgradeDb } from '../src/store/upgrade.js';
import { dataPath, repoRoot } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-upgrade-'));
const CLI = join(repoRoot, 'dist/src/cli/main.js');
after(() => rmSync(tmp, { recursive: true, force: true }));

const V1_LAYER_COLUMNS =
  'layer_id, model_id, layer_index, name, op, kind, shape, kernel, kh, kw, groups, dtype, graph_depth, conv_depth, conv_depth_norm, n, sparsity, variance_entropy, variance_entropy_norm, variance_entropy_clean, variance_entropy_clean_norm, orthogonality, norm_l1, norm_l2, norm_l1_norm, norm_l2_norm, non_finite, flags, flag_reasons, filter_table, first_filter_id, filter_count';

function oldCopy(name: string): string {
  const path = join(tmp, name);
  copyFileSync(dataPath('filterdb-v1.duckdb'), path);
  return path;
}

/**
 * Every stored table's content, in a fixed order, as JSON (the filters as exact float32 values) — the columns
 * of the version-1 file only (the upgrade adds the layer diagnostics columns, NULL for its layers).
 */
async function contents(path: string): Promise<string> {
  const db = await openDb(path, { readOnly: true });
  try {
    const out: Record<string, unknown> = {};
    for (const [t, order] of [
      ['models', 'model_id'],
      ['model_meta', 'model_id, key'],
      ['layers', 'layer_id'],
      ['filters', 'filter_id'],
      ['filters_other', 'filter_id'],
      ['bases', 'name'],
    ])
      out[t] = await queryRows(
        db.connection,
        `SELECT ${t === 'layers' ? V1_LAYER_COLUMNS : '*'} FROM ${t} ORDER BY ${order}`,
      );
    return JSON.stringify(out);
  } finally {
    db.close();
  }
}

async function statsRows(path: string): Promise<Record<string, unknown>[]> {
  const db = await openDb(path, { readOnly: true });
  try {
    return await queryRows(
      db.connection,
      `SELECT l.name, l.filter_count, s.n, s.mean, s.scatter, s.extremes
       FROM layer_stats s JOIN layers l USING (layer_id) JOIN models m ON m.model_id = l.model_id
       ORDER BY m.name, l.layer_index`,
    );
  } finally {
    db.close();
  }
}

async function shiftByTask(path: string) {
  const db = await openDb(path, { readOnly: true });
  const plan = await planSelection(db.connection, { by: 'Task' });
  db.close();
  return storeShift(path, plan, { workers: 0 });
}

test('a version-1 database is read as it is (basis by a scan), upgraded without loss, and then shifts from its statistics', async () => {
  const path = oldCopy('old.duckdb');
  const before = await contents(path);
  const scanned = await shiftByTask(path);
  assert.equal(scanned.basisFrom, 'scan');

  const r = spawnSync(process.execPath, [CLI, 'upgrade', '--db', path, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.layers, 27);
  assert.equal(summary.filters, 8832);
  assert.equal(summary.alreadyDone, 0);

  assert.equal(await contents(path), before, 'no stored row changed');
  const db = await openDb(path, { readOnly: true });
  const version = await queryRows(
    db.connection,
    "SELECT value FROM filterdb_info WHERE key = 'schema_version'",
  );
  db.close();
  assert.deepEqual(version, [{ value: '4' }]);

  // the same statistics, to the bit, as the current import and ingest compute for the same files
  const fresh = join(tmp, 'fresh.duckdb');
  const fdb = await openDb(fresh);
  try {
    await importDatasetH5(fdb, dataPath('dataset.h5'), { skipMetrics: true });
    await ingestPaths(fdb, [dataPath('digits_dwsep.onnx')]);
  } finally {
    fdb.close();
  }
  const upgraded = await statsRows(path);
  assert.equal(upgraded.length, 27);
  assert.deepEqual(upgraded, await statsRows(fresh));

  const fromStats = await shiftByTask(path);
  assert.equal(fromStats.basisFrom, 'stats');
  assert.deepEqual(fromStats.groups, scanned.groups);
  // the basis merged per layer instead of per scan block: equal to float64 rounding, not to the bit
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(fromStats.range[i] - scanned.range[i]) < 1e-13);
  for (let p = 0; p < scanned.matrix.length; p++)
    for (let q = 0; q < scanned.matrix.length; q++)
      assert.ok(Math.abs(fromStats.matrix[p][q] - scanned.matrix[p][q]) < 1e-12);

  const again = spawnSync(process.execPath, [CLI, 'upgrade', '--db', path], { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /up to date \(27 layers with statistics\)/);
});

test('an interrupted upgrade keeps its committed batches and the next run does the rest', async () => {
  const path = oldCopy('resume.duckdb');
  const db = await openDb(path);
  try {
    await assert.rejects(
      upgradeDb(db, {
        batchFilters: 2000,
        onProgress(done) {
          if (done >= 4000) throw new Error('killed');
        },
      }),
      /killed/,
    );
    const partial = Number((await queryRows(db.connection, 'SELECT count(*) AS n FROM layer_stats'))[0].n);
    assert.ok(partial > 0 && partial < 27, `${partial} layers done`);
    const rest = await upgradeDb(db);
    assert.equal(rest.alreadyDone, partial);
    assert.equal(rest.layers, 27 - partial);
  } finally {
    db.close();
  }
  const whole = oldCopy('whole.duckdb');
  const wdb = await openDb(whole);
  await upgradeDb(wdb);
  wdb.close();
  assert.deepEqual(await statsRows(path), await statsRows(whole));
});
