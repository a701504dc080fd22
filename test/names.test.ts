/**
 * Names and order (issue 12, items 11–13): models that share a name stay apart in `--by model`, depth bins
 * are shown in depth order (JSON keeps code-point order), and the compare page never starts on an id or count
 * column.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { defaultGrouping, displayOrder } from '../src/analysis/groups.js';
import { driftHeatmapSvg } from '../src/report/svg/drift.js';
import { ridgePlotSvg } from '../src/report/svg/ridge.js';
import { startServer } from '../src/server/server.js';
import { openDb } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { runCli } from './support/cli.js';
import { dataPath } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-names-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const run = runCli;

describe('--by model groups by model id (item 11)', () => {
  const db = join(tmp, 'twins.duckdb');

  test('two files named digits_cnn stay two groups, told apart by format; JSON groups sorted as strings', () => {
    const i = run([
      'ingest',
      dataPath('digits_cnn.onnx'),
      dataPath('digits_cnn.pt'),
      dataPath('digits_dwsep.onnx'),
      '--db',
      db,
    ]);
    assert.equal(i.code, 0, i.stderr);
    const r = run(['shift', '--db', db, '--by', 'model', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(j.groups, ['digits_cnn (onnx)', 'digits_cnn (pytorch)', 'digits_dwsep']);
    const per = run([
      'sql',
      '--db',
      db,
      '--json',
      "SELECT format, sum(filter_count)::INTEGER AS n FROM layer_info WHERE filter_table = 'filters' AND model = 'digits_cnn' GROUP BY 1 ORDER BY 1",
    ]);
    const counts = JSON.parse(per.stdout) as { format: string; n: number }[];
    assert.deepEqual(
      j.counts.slice(0, 2),
      counts.map((c) => c.n),
    );
  });

  test('a metadata row matching several models is a warning on stderr, in every output mode', () => {
    const meta = join(tmp, 'meta.csv');
    writeFileSync(meta, 'model,Task\ndigits_cnn,Classification\ndigits_dwsep,Classification\n');
    for (const mode of [[], ['--json']]) {
      const r = run(['ingest', '--db', db, '--meta', meta, ...mode]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /warning: metadata row "digits_cnn" matches 2 models \(.*digits_cnn\.onnx, .*digits_cnn\.pt\)/,
      );
      assert.doesNotMatch(r.stderr, /digits_dwsep/);
    }
  });
});

describe('depth bins in depth order (item 12)', () => {
  const bins = ['(0.1, 0.2]', '(0.5, 0.6]', '(none)', '[0.0, 0.1]'];

  test('displayOrder puts [0.0, 0.1] first and (none) last; other groupings keep their order', () => {
    assert.deepEqual(
      displayOrder(bins).map((i) => bins[i]),
      ['[0.0, 0.1]', '(0.1, 0.2]', '(0.5, 0.6]', '(none)'],
    );
    assert.deepEqual(displayOrder(['b', 'a', 'c']), [0, 1, 2]);
  });

  test('the drift heat-map and the ridges draw bins by depth', () => {
    const g = bins.length;
    const matrix = Array.from({ length: g }, (_, a) =>
      Array.from({ length: g }, (_, b) => (a === b ? 0 : a + b)),
    );
    const svg = driftHeatmapSvg({ groups: bins, matrix, counts: [1, 2, 3, 4] });
    const labels = [
      ...svg.matchAll(/text-anchor="end" dominant-baseline="central"[^>]*><title>([^<]+)<\/title>/g),
    ].map((m) => m[1]);
    assert.deepEqual(labels, ['[0.0, 0.1]', '(0.1, 0.2]', '(0.5, 0.6]', '(none)']);
    // the cell of [0.0, 0.1] vs (0.1, 0.2] still holds their value (3 + 0)
    assert.match(svg, /\[0\.0, 0\.1\] \(4 filters\) vs \(0\.1, 0\.2\] \(1 filters?\): 3(\.0+)?</);
    const ridges = ridgePlotSvg(bins.map((label) => ({ label, x: [0, 1, 2], y: [0, 1, 0] })));
    const order = [...ridges.matchAll(/text-anchor="end"><title>([^<]+)<\/title>/g)].map((m) =>
      m[1].replace(/ \(\d+ values\)$/, ''),
    );
    assert.deepEqual(order, ['[0.0, 0.1]', '(0.1, 0.2]', '(0.5, 0.6]', '(none)']);
  });

  test('shift --by depth: the text table is in depth order, the JSON in code-point order', () => {
    const db = join(tmp, 'depth.duckdb');
    assert.equal(
      run(['ingest', dataPath('digits_cnn.onnx'), dataPath('digits_dwsep.onnx'), '--db', db]).code,
      0,
    );
    const t = run(['shift', '--db', db, '--by', 'depth']);
    assert.equal(t.code, 0, t.stderr);
    const rows = t.stdout
      .split('\n')
      .filter((l) => /^[[(]\d\.\d, \d\.\d\]\s/.test(l))
      .map((l) => l.split(/\s{2,}/)[0]);
    assert.ok(rows.length >= 3);
    assert.equal(rows[0], '[0.0, 0.1]');
    const starts = rows.map((r) => Number(r.slice(1, 4)));
    assert.deepEqual(
      starts,
      [...starts].sort((a, b) => a - b),
    );
    const j = JSON.parse(run(['shift', '--db', db, '--by', 'depth', '--json']).stdout);
    assert.deepEqual(j.groups, [...j.groups].sort());
    assert.equal(j.groups.at(-1), '[0.0, 0.1]');
  });
});

describe('the compare page default grouping (item 13)', () => {
  test('never an id or count column: on an imported database it is Task', async () => {
    const dbPath = join(tmp, 'h5.duckdb');
    const db = await openDb(dbPath);
    try {
      await importDatasetH5(db, dataPath('dataset.h5'));
    } finally {
      db.close();
    }
    const server = await startServer({ port: 0, host: '127.0.0.1', db: dbPath, readOnly: true });
    try {
      const info = (await (await fetch(new URL('/api/info', server.url))).json()) as {
        metaColumns: string[];
        metaDistinct: Record<string, number>;
        metaNumeric: Record<string, boolean>;
        counts: { models: number };
      };
      assert.equal(info.metaColumns[0], 'dataset_model_id');
      assert.equal(info.metaNumeric.dataset_model_id, true);
      const by = defaultGrouping(
        info.metaColumns.map((k) => ({
          name: k,
          distinct: info.metaDistinct[k],
          numeric: info.metaNumeric[k],
        })),
        info.counts.models,
      );
      assert.equal(by, 'Task');
    } finally {
      await server.close();
    }
    // name patterns alone keep id and count columns out, even when their values are not numbers
    assert.equal(
      defaultGrouping(
        [
          { name: 'dataset_model_id', distinct: 4 },
          { name: 'total_filters', distinct: 3 },
          { name: '(3, 3) filters', distinct: 3 },
          { name: 'Name', distinct: 4 },
        ],
        4,
      ),
      'Name',
    );
    assert.equal(defaultGrouping([{ name: 'layer_count', distinct: 3 }], 4), 'model');
  });
});
