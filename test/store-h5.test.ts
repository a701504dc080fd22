/** import-h5: the fixture dataset.h5 lands exactly (filters, layers, ids, metadata), streamed and idempotent. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { readPandasFrame } from '../src/formats/dataset-h5/pandas-h5.js';
import { openHdf5 } from '../src/formats/io/hdf5.js';
import { openDb, queryRows, queryValue } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { ingestPaths } from '../src/store/ingest.js';
import { dataPath, repoRoot } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-h5-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const H5 = dataPath('dataset.h5');

async function h5Contents() {
  const f = await openHdf5({ path: H5 });
  try {
    const filters = f.readFloats('/filters').data as Float32Array;
    const meta = readPandasFrame(f, '/meta');
    return { filters, meta };
  } finally {
    f.close();
  }
}

test('the pandas /meta table decodes (MultiIndex, pickled object block, int and float blocks)', async () => {
  const { meta } = await h5Contents();
  assert.deepEqual(meta.indexNames, ['model_id', 'conv_depth', 'conv_depth_norm']);
  assert.equal(meta.rows.length, 22);
  const first = meta.rows[0];
  assert.deepEqual(first.index, [0, 0, 0]);
  assert.equal(first.values.get('filter_ids'), '0:15');
  assert.equal(first.values.get('model'), 'digits_cnn');
  assert.equal(first.values.get('Task'), 'Classification');
  assert.equal(first.values.get('op_set'), 13);
  assert.equal(first.values.get('3x3_filter_share'), 1);
  const last = meta.rows[21];
  assert.equal(last.values.get('model'), 'digits_denoiser');
  assert.equal(last.values.get('Task'), 'Denoising');
  assert.equal(last.index[2], 1);
});

test('import-h5 stores exactly the filters, layers and metadata of dataset.h5; re-import is a no-op', async () => {
  const { filters, meta } = await h5Contents();
  const db = await openDb(join(tmp, 'a.duckdb'));
  try {
    const s = await importDatasetH5(db, H5, { blockRows: 1000 });
    assert.equal(s.filters, filters.length / 9);
    assert.equal(s.unreferencedFilters, 0);
    assert.deepEqual(
      s.models.map((m) => m.name),
      ['digits_cnn', 'digits_dwsep', 'digits_cnn_adv', 'digits_denoiser'],
    );
    // every value, in filter-id order = /filters row order
    const rows = await queryRows(db.connection, 'SELECT * FROM filters ORDER BY filter_id');
    assert.equal(rows.length, filters.length / 9);
    rows.forEach((r, i) => {
      assert.equal(r.filter_id, i);
      for (let k = 0; k < 9; k++) assert.equal(r[`w${k}`], filters[i * 9 + k]);
    });
    // one layer per /meta row, with its "start:end" (inclusive) range and depths
    const layers = await queryRows(
      db.connection,
      'SELECT l.*, m.name AS model FROM layers l JOIN models m USING (model_id) ORDER BY layer_id',
    );
    assert.equal(layers.length, meta.rows.length);
    meta.rows.forEach((row, i) => {
      const [a, b] = String(row.values.get('filter_ids')).split(':').map(Number);
      assert.equal(layers[i].first_filter_id, a);
      assert.equal(layers[i].filter_count, b - a + 1);
      assert.equal(layers[i].model, row.values.get('model'));
      assert.equal(layers[i].conv_depth, row.index[1]);
      assert.equal(layers[i].conv_depth_norm, row.index[2]);
      assert.equal(layers[i].kernel, '3x3');
    });
    const perModel = await queryRows(
      db.connection,
      'SELECT m.name, count(*) AS n, min(filter_id) AS lo, max(filter_id) AS hi FROM filters f JOIN models m USING (model_id) GROUP BY ALL ORDER BY lo',
    );
    assert.deepEqual(perModel, [
      { name: 'digits_cnn', n: 3856, lo: 0, hi: 3855 },
      { name: 'digits_dwsep', n: 160, lo: 3856, hi: 4015 },
      { name: 'digits_cnn_adv', n: 3856, lo: 4016, hi: 7871 },
      { name: 'digits_denoiser', n: 800, lo: 7872, hi: 8671 },
    ]);
    const tasks = await queryRows(
      db.connection,
      'SELECT model, "Task", "Training", "Architecture" FROM model_info ORDER BY model_id',
    );
    assert.deepEqual(tasks, [
      { model: 'digits_cnn', Task: 'Classification', Training: 'normal', Architecture: 'DigitsCNN' },
      { model: 'digits_dwsep', Task: 'Classification', Training: 'normal', Architecture: 'DigitsDWSep' },
      { model: 'digits_cnn_adv', Task: 'Classification', Training: 'adversarial', Architecture: 'DigitsCNN' },
      { model: 'digits_denoiser', Task: 'Denoising', Training: 'normal', Architecture: 'DnCNN-lite' },
    ]);
    const [m] = await queryRows(
      db.connection,
      "SELECT producer, opset, graph_depth_levels FROM models WHERE name = 'digits_cnn'",
    );
    assert.deepEqual(m, { producer: 'pytorch 1.13.0', opset: 13, graph_depth_levels: 17 });
    const byTask = await queryRows(
      db.connection,
      'SELECT "Task", count(*) AS n FROM filters JOIN layer_info USING (layer_id) GROUP BY ALL ORDER BY 1',
    );
    assert.deepEqual(byTask, [
      { Task: 'Classification', n: 7872 },
      { Task: 'Denoising', n: 800 },
    ]);

    const again = await importDatasetH5(db, H5);
    assert.deepEqual(
      again.models.map((x) => x.status),
      ['unchanged', 'unchanged', 'unchanged', 'unchanged'],
    );
    assert.equal(await queryValue(db.connection, 'SELECT count(*) FROM filters'), filters.length / 9);
  } finally {
    db.close();
  }
});

test('dataset.h5 digits_cnn equals the filters ingested from digits_cnn.onnx', async () => {
  const db = await openDb(join(tmp, 'b.duckdb'));
  try {
    await importDatasetH5(db, H5);
    await ingestPaths(db, [dataPath('digits_cnn.onnx')]);
    const q = (where: string) =>
      queryRows(
        db.connection,
        `SELECT l.layer_index, l.conv_depth_norm, f.w0, f.w4, f.w8 FROM filters f JOIN layers l USING (layer_id)
         JOIN models m ON m.model_id = f.model_id WHERE ${where} ORDER BY f.filter_id`,
      );
    const fromH5 = await q("m.format = 'dataset.h5' AND m.name = 'digits_cnn'");
    const fromOnnx = await q("m.format = 'onnx'");
    assert.equal(fromH5.length, 3856);
    assert.deepEqual(fromOnnx, fromH5);
  } finally {
    db.close();
  }
});

test('a damaged dataset.h5 is refused with an error naming it; the database keeps what it had', async () => {
  const dbPath = join(tmp, 'c.duckdb');
  const db = await openDb(dbPath);
  try {
    await importDatasetH5(db, H5);
    const bad = join(tmp, 'truncated.h5');
    writeFileSync(bad, readFileSync(H5).subarray(0, 20000));
    await assert.rejects(
      importDatasetH5(db, bad),
      (e: unknown) => e instanceof FilterDbError && /truncated\.h5/.test(e.message),
    );
    const notH5 = join(tmp, 'plain.h5');
    writeFileSync(notH5, 'hello');
    await assert.rejects(
      importDatasetH5(db, notH5),
      (e: unknown) => e instanceof FilterDbError && /plain\.h5/.test(e.message),
    );
    assert.equal(await queryValue(db.connection, 'SELECT count(*) FROM filters'), 8672);
    assert.equal(await queryValue(db.connection, 'SELECT count(*) FROM models'), 4);
  } finally {
    db.close();
  }
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'dist/src/cli/main.js'), 'import-h5', H5, '--db', dbPath, '--json'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).database.filters, 8672);
});

/** metrics key (JSON) → layers column. */
const METRIC_COLUMNS: Record<string, string> = {
  n: 'n',
  sparsity: 'sparsity',
  varianceEntropy: 'variance_entropy',
  varianceEntropyNorm: 'variance_entropy_norm',
  varianceEntropyClean: 'variance_entropy_clean',
  varianceEntropyCleanNorm: 'variance_entropy_clean_norm',
  orthogonality: 'orthogonality',
  normL1: 'norm_l1',
  normL2: 'norm_l2',
  normL1Norm: 'norm_l1_norm',
  normL2Norm: 'norm_l2_norm',
};

test('import-h5 (CLI and API defaults) stores every layer metric as numpy computes it (dataset.import-h5.json)', async () => {
  const expected = JSON.parse(readFileSync(dataPath('dataset.import-h5.json'), 'utf8')) as {
    layers: { model: string; filterIds: string; metrics: Record<string, number | null> }[];
  };
  assert.equal(expected.layers.length, 22);
  const viaCli = join(tmp, 'metrics-cli.duckdb');
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'dist/src/cli/main.js'), 'import-h5', H5, '--db', viaCli],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const viaApi = join(tmp, 'metrics-api.duckdb');
  const api = await openDb(viaApi);
  try {
    await importDatasetH5(api, H5);
  } finally {
    api.close();
  }
  for (const path of [viaCli, viaApi]) {
    const db = await openDb(path, { readOnly: true });
    let layers: Record<string, unknown>[];
    try {
      layers = await queryRows(
        db.connection,
        `SELECT m.name AS model, l.first_filter_id, l.filter_count, ${Object.values(METRIC_COLUMNS)
          .map((c) => `l.${c}`)
          .join(', ')} FROM layers l JOIN models m USING (model_id) ORDER BY l.first_filter_id`,
      );
    } finally {
      db.close();
    }
    assert.equal(layers.length, expected.layers.length);
    expected.layers.forEach((e, i) => {
      const got = layers[i];
      const [a, b] = e.filterIds.split(':').map(Number);
      assert.deepEqual([got.model, got.first_filter_id, got.filter_count], [e.model, a, b - a + 1]);
      for (const [key, column] of Object.entries(METRIC_COLUMNS)) {
        const want = e.metrics[key];
        const value = got[column] as number | null;
        const what = `${path === viaCli ? 'CLI' : 'API'} ${e.model} ${e.filterIds} ${column}: ${value} vs ${want}`;
        if (want === null) assert.equal(value, null, what);
        else assert.ok(value !== null && Math.abs(value - want) <= 1e-12 * Math.max(1, Math.abs(want)), what);
      }
    });
  }
});
