/**
 * The shift passes as SQL (src/engine/) against the streamed path, on DuckDB: the fixture database
 * (dataset.h5 imported) gives the same groups and counts, histograms cell for cell, and the matrix to 1e-12.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { duckdbEngine } from '../src/engine/duckdb-engine.js';
import { CLICKHOUSE, DUCKDB, histogramSql } from '../src/engine/sql-passes.js';
import { sqlShift, sqlShifts } from '../src/engine/sql-shift.js';
import { storeShift, storeShifts } from '../src/scan/analyses.js';
import { planSelection, type SelectionPlan } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { dataPath } from './support/paths.js';
import { assertSameShift } from './support/same-shift.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-sql-'));
const DB = join(tmp, 'fx.duckdb');
after(() => rmSync(tmp, { recursive: true, force: true }));

before(async () => {
  const db = await openDb(DB);
  try {
    await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics: true });
  } finally {
    db.close();
  }
});

for (const [by, where] of [
  ['Task', null],
  ['depth', null],
  ['model', "Training = 'adversarial' OR conv_depth_norm < 0.5"],
] as const) {
  test(`SQL passes on DuckDB equal the streamed shift: --by ${by}${where ? ` --where ${where}` : ''}`, async () => {
    const db = await openDb(DB, { readOnly: true });
    try {
      const plan = await planSelection(db.connection, { by, where });
      const streamed = await storeShift(DB, plan, { workers: 0 });
      const sql = await sqlShift(duckdbEngine(db), plan);
      assertSameShift(sql, streamed);
      // with the streamed basis and range, the histograms (hence the matrix) are identical bit for bit
      const same = await sqlShift(duckdbEngine(db), plan, { basis: streamed.basis, range: streamed.range });
      assert.deepEqual(same.matrix, streamed.matrix);
      assert.deepEqual(same.counts, streamed.counts);
    } finally {
      db.close();
    }
  });
}

test('several groupings (shift --by A --by B) from one set of SQL passes equal the streamed path and single runs', async () => {
  const db = await openDb(DB, { readOnly: true });
  try {
    const where = 'conv_depth_norm < 0.9';
    const plans: SelectionPlan[] = [];
    for (const by of ['Task', 'depth', 'model'])
      plans.push(await planSelection(db.connection, { by, where }));
    const streamed = await storeShifts(DB, plans, { workers: 0 });
    const sql = await sqlShifts(duckdbEngine(db), plans);
    assert.equal(sql.length, 3);
    sql.forEach((r, i) => {
      assert.equal(r.by, plans[i].by);
      assertSameShift(r, streamed[i]);
    });
    // each grouping as its own run: the same groups and counts, the matrix to rounding
    for (const [i, p] of plans.entries()) assertSameShift(await sqlShift(duckdbEngine(db), p), sql[i]);
    // with the streamed basis and range, bit for bit
    const same = await sqlShifts(duckdbEngine(db), plans, {
      basis: streamed[0].basis,
      range: streamed[0].range,
    });
    for (const [i, r] of same.entries()) assert.deepEqual(r.matrix, streamed[i].matrix);
  } finally {
    db.close();
  }
});

test('the histogram SQL puts values on bin edges where numpy does, in both dialects', () => {
  const groups = { layerIds: [3, 5], groupIds: [0, 1] };
  const basis = { mean: new Array(9).fill(0), components: new Array(81).fill(0) };
  for (const d of [DUCKDB, CLICKHOUSE]) {
    const sql = histogramSql(d, 'filters', groups, basis, [-0.1, 0.3], 7);
    // the range and step go in as exact doubles, the edge correction both ways, the last bin closed
    assert.match(sql, /1e-1/);
    assert.match(sql, /i0 - 1/);
    assert.match(sql, /i0 \+ 1/);
    assert.match(sql, /<= toFloat64\(3e-1\)|<= CAST\(3e-1 AS DOUBLE\)/);
  }
});
