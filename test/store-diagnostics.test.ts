/**
 * The layer diagnostics columns of `layers` (src/store/layer-diagnostics.ts): `ingest --spectral --init`
 * stores what `quality --spectral --init` reports, plain ingest leaves them NULL, and a schema-1 database
 * gets the columns when opened for writing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { openDb, queryRows, queryValue } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { readDiagnostics } from '../src/store/layer-diagnostics.js';
import { dataPath } from './support/paths.js';

describe('layer diagnostics in the database', () => {
  it('ingest --spectral --init stores the quality answer; plain ingest leaves NULLs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'filterdb-diag-'));
    const db = await openDb(join(dir, 'z.duckdb'));
    try {
      await ingestPaths(db, [dataPath('digits_cnn.onnx')], {
        spectral: true,
        init: { rule: 'auto', draws: 200 },
        workers: 0,
      });
      await ingestPaths(db, [dataPath('digits_dwsep.onnx')], { workers: 0 });
      const model = await readModel(await openModelInput(dataPath('digits_cnn.onnx')));
      const report = await qualityReport(model, { spectral: true, init: { rule: 'auto', draws: 200 } });
      const rows = await queryRows(
        db.connection,
        "SELECT l.* FROM layers l JOIN models m USING (model_id) WHERE m.name = 'digits_cnn' ORDER BY layer_index",
      );
      assert.equal(rows.length, report.layers.length);
      for (const [i, l] of report.layers.entries()) {
        const d = readDiagnostics(rows[i]);
        for (const k of ['alpha', 'D', 'xmin', 'logNorm', 'stableRank', 'matrixEntropy', 'rankLoss'] as const)
          assert.equal(d.spectral[k], l.metrics[k] ?? null, `${l.name} ${k}`);
        assert.equal(d.spectralReason, l.spectralReason ?? null);
        assert.deepEqual(
          d.trainingFlags.map((f) => f.id),
          (l.trainingFlags ?? []).map((f) => f.id),
        );
        assert.ok(d.init && l.init);
        assert.equal(d.init.nearInit, l.init.nearInit);
        assert.equal(d.init.score, l.init.score);
        assert.equal(d.init.metrics.normL2.percentile, l.init.metrics.normL2?.percentile);
      }
      const nulls = await queryValue(
        db.connection,
        "SELECT count(*) FROM layers l JOIN models m USING (model_id) WHERE m.name = 'digits_dwsep' AND alpha IS NULL AND near_init IS NULL AND spectral_reason IS NULL",
      );
      assert.equal(Number(nulls), 9);
    } finally {
      db.close();
    }
  });

  it('a schema-1 database gets the columns when opened for writing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'filterdb-diag-'));
    const path = join(dir, 'old.duckdb');
    let db = await openDb(path);
    await ingestPaths(db, [dataPath('digits_cnn.onnx')], { workers: 0 });
    // make it a schema-1 file: drop the new columns (views first), set the version back
    await db.connection.run('DROP VIEW IF EXISTS layer_info');
    const cols = await queryRows(
      db.connection,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'layers' AND ordinal_position > (SELECT ordinal_position FROM information_schema.columns WHERE table_name = 'layers' AND column_name = 'filter_count')",
    );
    assert.ok(cols.length > 10);
    for (const c of cols) await db.connection.run(`ALTER TABLE layers DROP COLUMN ${c.column_name}`);
    await db.connection.run("UPDATE filterdb_info SET value = '1' WHERE key = 'schema_version'");
    db.close();
    const ro = await openDb(path, { readOnly: true });
    assert.equal(Number(await queryValue(ro.connection, 'SELECT count(*) FROM layers')), 6);
    ro.close();
    db = await openDb(path);
    try {
      assert.equal(
        await queryValue(db.connection, "SELECT value FROM filterdb_info WHERE key = 'schema_version'"),
        '4',
      );
      await ingestPaths(db, [dataPath('digits_dwsep.onnx')], { workers: 0, spectral: true });
      const n = await queryValue(db.connection, 'SELECT count(alpha) FROM layers');
      assert.equal(Number(n), 4, 'the pointwise layers of digits_dwsep have an alpha');
      assert.equal(Number(await queryValue(db.connection, 'SELECT count(*) FROM layer_info')), 15);
    } finally {
      db.close();
    }
  });
});
