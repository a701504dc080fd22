/** The web server's JSON API: answers over a fixture database, and 4xx answers with clear messages. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { distributionShift, type FilterBatch } from '../src/analysis/shift.js';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { dataPath } from './support/paths.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

let srv: FixtureServer;

before(async () => {
  srv = await fixtureServer({ maxUpload: 1 << 20 });
});
after(async () => {
  await srv?.stop();
});

/** A request as a script sends it: writes carry the server's token unless they set Origin or Authorization. */
async function api(
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers = new Headers(init?.headers);
  if ((init?.method ?? 'GET') !== 'GET' && !headers.has('origin') && !headers.has('authorization'))
    headers.set('authorization', `Bearer ${srv.token}`);
  const res = await fetch(new URL(path, srv.url), { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** A raw request: fetch would normalise "/../" away before sending it. */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const url = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertError(
  r: { status: number; body: Json },
  status: number,
  code: string,
  pattern?: RegExp,
): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, code, JSON.stringify(r.body));
  assert.equal(typeof r.body.error.message, 'string');
  if (pattern) assert.match(r.body.error.message, pattern);
}

describe('server API: answers', () => {
  it('GET /api/info names the database and its counts', async () => {
    const r = await api('/api/info');
    assert.equal(r.status, 200);
    assert.equal(r.body.db, srv.dbPath);
    assert.equal(r.body.counts.models, 2);
    assert.deepEqual(r.body.metaColumns.slice(0, 2), ['Task', 'Visual Category']);
  });

  it('GET /api/models lists models with metadata and health', async () => {
    const r = await api('/api/models');
    assert.equal(r.status, 200);
    const names = r.body.models.map((m: Json) => m.name);
    assert.deepEqual(names, ['digits_cnn', 'digits_dwsep']);
    const cnn = r.body.models[0];
    assert.equal(cnn.meta.Architecture, 'DigitsCNN');
    assert.equal(cnn.health.layers, 6);
    assert.equal(typeof cnn.health.degenerated, 'number');
    const q = await qualityReport(await readModel(await openModelInput(dataPath('digits_cnn.onnx'))));
    const flagged = q.layers.filter((l) => l.flags.some((f) => f.id !== 'tiny')).length;
    assert.equal(cnn.health.degenerated, flagged);
    assert.equal(
      cnn.health.flags.sparse,
      q.layers.filter((l) => l.flags.some((f) => f.id === 'sparse')).length,
    );
  });

  it('GET /api/models/:id gives the layers with the CLI metrics', async () => {
    const r = await api('/api/models/0');
    assert.equal(r.status, 200);
    const expected = JSON.parse(readFileSync(dataPath('digits_cnn.onnx.quality.json'), 'utf8'));
    const q = await qualityReport(await readModel(await openModelInput(dataPath('digits_cnn.onnx'))));
    assert.equal(r.body.layers.length, expected.layers.length);
    for (const [i, e] of expected.layers.entries()) {
      const g = r.body.layers[i];
      assert.equal(g.name, e.name);
      for (const [k, v] of Object.entries(e.metrics as Record<string, number | null>)) {
        if (v === null) assert.equal(g.metrics[k], null, k);
        else assert.ok(Math.abs(g.metrics[k] - v) <= 1e-9 * Math.abs(v) + 1e-9, `${e.name} ${k}`);
      }
      assert.deepEqual(g.flags, q.layers[i].flags);
    }
  });

  it('GET a layer’s filters returns whole output channels', async () => {
    const r = await api('/api/models/0/layers/0/filters?max=10');
    assert.equal(r.status, 200);
    const [out, inPer, kh, kw] = r.body.shape;
    assert.equal(r.body.weights.length, out * inPer * kh * kw);
    assert.equal(r.body.returned, out * inPer);
    assert.ok(r.body.returned <= Math.max(10, inPer));
  });

  it('POST /api/compare groups by a metadata column, by depth and by two selections', async () => {
    const byArch = await post('/api/compare', { by: 'Architecture' });
    assert.equal(byArch.status, 200, JSON.stringify(byArch.body));
    assert.deepEqual(byArch.body.groups, ['DigitsCNN', 'DigitsDWSep']);
    assert.equal(byArch.body.matrix.length, 2);
    assert.ok(byArch.body.matrix[0][1] > 0);
    assert.equal(byArch.body.components.length, 9);
    assert.equal(byArch.body.ridges.length, 9);
    const depth = await post('/api/compare', { by: 'depth', where: "model = 'digits_cnn'" });
    assert.equal(depth.status, 200, JSON.stringify(depth.body));
    assert.ok(depth.body.groups.every((g: string) => /^[[(]\d/.test(g)));
    const sel = await post('/api/compare', {
      selections: [
        { label: 'early', where: 'conv_depth_norm <= 0.5' },
        { label: 'late', where: 'conv_depth_norm > 0.5' },
      ],
    });
    assert.equal(sel.status, 200, JSON.stringify(sel.body));
    assert.deepEqual(sel.body.groups, ['early', 'late']);
  });

  it('POST /api/compare with several groupings answers each exactly as its single-grouping compare', async () => {
    const where = "model = 'digits_cnn' OR model = 'digits_dwsep'";
    const both = await post('/api/compare', { by: ['Architecture', 'depth'], where });
    assert.equal(both.status, 200, JSON.stringify(both.body));
    assert.equal(both.body.results.length, 2);
    const one = await post('/api/compare', { by: ['Architecture'], where });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.results.length, 1, 'an array of one still answers { results }');
    for (const [i, by] of ['Architecture', 'depth'].entries()) {
      const single = await post('/api/compare', { by, where });
      assert.equal(single.status, 200, JSON.stringify(single.body));
      assert.equal(single.body.results, undefined, 'a string "by" keeps the single answer');
      const r = both.body.results[i];
      assert.equal(r.by, single.body.by);
      assert.deepEqual(r.groups, single.body.groups);
      assert.deepEqual(r.counts, single.body.counts);
      assert.deepEqual(r.matrix, single.body.matrix);
      assert.deepEqual(r.explainedVarianceRatio, single.body.explainedVarianceRatio);
      assert.equal(r.filterCount, single.body.filterCount);
      assert.deepEqual(r.ridges, single.body.ridges);
    }
    assert.ok(both.body.results[1].groups.length > 2, 'depth splits into more groups than Architecture');
    assertError(await post('/api/compare', { by: [] }), 400, 'bad-request', /list/);
    assertError(await post('/api/compare', { by: ['Task', 'task'] }), 400, 'bad-request', /twice/);
    assertError(await post('/api/compare', { by: ['Task', 'NoSuchColumn'] }), 400, 'unknown-column');
  });

  it('POST /api/compare streams the same numbers as the in-memory analysis of the model files', async () => {
    // independent path: the core readers and analysis/shift.ts on the files, grouped as meta.csv says
    const groupOf = new Map([
      ['digits_cnn.onnx', 'DigitsCNN'],
      ['digits_dwsep.onnx', 'DigitsDWSep'],
    ]);
    const batches: FilterBatch[] = [];
    for (const [file, group] of groupOf) {
      const model = await readModel(await openModelInput(dataPath(file)));
      for (const layer of model.layers) {
        if (layer.op !== 'Conv' || layer.shape[2] !== 3 || layer.shape[3] !== 3) continue;
        const w = await layer.loadWeight();
        batches.push({ group, filters: w, count: w.length / 9 });
      }
    }
    const expected = await distributionShift(async function* () {
      yield* batches;
    }, 'Architecture');
    const r = await post('/api/compare', { by: 'Architecture' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.groups, expected.groups);
    assert.deepEqual(r.body.counts, expected.counts);
    for (let i = 0; i < expected.matrix.length; i++)
      for (let j = 0; j < expected.matrix.length; j++)
        assert.ok(
          Math.abs(r.body.matrix[i][j] - expected.matrix[i][j]) <= 1e-12 * Math.max(1, expected.matrix[i][j]),
          `matrix[${i}][${j}] ${r.body.matrix[i][j]} vs ${expected.matrix[i][j]}`,
        );
  });

  it('POST /api/sql runs one SELECT', async () => {
    const r = await post('/api/sql', {
      sql: 'SELECT model, count(*) AS n FROM layer_info GROUP BY 1 ORDER BY 1',
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.columns, ['model', 'n']);
    assert.deepEqual(r.body.rows, [
      ['digits_cnn', 6],
      ['digits_dwsep', 9],
    ]);
  });

  it('POST /api/models adds an uploaded model; the same bytes again are a duplicate', async () => {
    const bytes = readFileSync(dataPath('digits_cnn.pt'));
    const r = await api('/api/models?name=digits_cnn.pt', { method: 'POST', body: bytes });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.status, 'added');
    assert.equal(r.body.name, 'digits_cnn');
    const again = await api('/api/models?name=copy.pt', { method: 'POST', body: bytes });
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'duplicate');
    assert.equal(again.body.modelId, r.body.modelId);
    // the upload worker measures the spectral metrics at ingest, as `filterdb ingest` does by default
    const stored = await api(`/api/models/${r.body.modelId}`);
    const sq = await qualityReport(await readModel(await openModelInput(dataPath('digits_cnn.pt'))), {
      spectral: true,
    });
    assert.equal(stored.body.layers.length, sq.layers.length);
    assert.ok(sq.layers.some((l) => typeof l.metrics.alpha === 'number'));
    for (const [i, l] of sq.layers.entries()) {
      const g = stored.body.layers[i];
      for (const k of ['alpha', 'D', 'logSpectralNorm', 'stableRank'] as const) {
        const want = l.metrics[k] ?? null;
        if (want === null) assert.equal(g.spectral[k], null, `${l.name} ${k}`);
        else assert.ok(Math.abs(g.spectral[k] - want) <= 1e-12 * Math.abs(want), `${l.name} ${k}`);
      }
      assert.equal(g.spectralReason, l.spectralReason ?? null, l.name);
      assert.deepEqual(g.trainingFlags, l.trainingFlags ?? [], l.name);
    }
    const list = await api('/api/models');
    assert.equal(list.body.models.length, 3);
    const dup = await api('/api/models?name=digits_dwsep.onnx', {
      method: 'POST',
      body: readFileSync(dataPath('digits_dwsep.onnx')),
    });
    assert.equal(dup.body.status, 'duplicate');
    // the compare scans read the file through instances of their own: they see the upload
    const byModel = await post('/api/compare', { by: 'model' });
    assert.equal(byModel.status, 200, JSON.stringify(byModel.body));
    // the upload is a third model named digits_cnn: grouped by model id, told apart by format (issue 12, item 11)
    assert.deepEqual(byModel.body.groups, ['digits_cnn (onnx)', 'digits_cnn (pytorch)', 'digits_dwsep']);
    assert.equal(
      byModel.body.filterCount,
      list.body.models.reduce((a: number, m: Json) => a + m.filters3x3, 0),
    );
    assert.deepEqual(byModel.body.nonFinite, { layers: 0, filters: 0 });
  });
});

describe('server API: bad requests → 4xx with a clear message', () => {
  it('unknown model, layer and endpoint → 404', async () => {
    assertError(await api('/api/models/999'), 404, 'unknown-model', /no model with id 999/);
    assertError(await api('/api/models/abc'), 404, 'unknown-model');
    assertError(await api('/api/models/999/layers/0/filters'), 404, 'unknown-model');
    assertError(await api('/api/models/0/layers/99/filters'), 404, 'unknown-layer', /no layer 99/);
    assertError(await api('/api/nothing'), 404, 'not-found', /docs\/API\.md/);
  });

  it('malformed, multi-statement, writing and file-reading SQL → 400/403', async () => {
    assertError(await post('/api/sql', { sql: 'SELEC 1' }), 400, 'bad-sql', /syntax error/);
    assertError(
      await post('/api/sql', { sql: 'SELECT * FROM no_such_table' }),
      400,
      'bad-sql',
      /no_such_table/,
    );
    assertError(await post('/api/sql', { sql: 'SELECT 1; SELECT 2' }), 400, 'bad-sql', /exactly one/);
    assertError(await post('/api/sql', { sql: 'DROP TABLE models' }), 403, 'read-only');
    assertError(await post('/api/sql', { sql: "COPY models TO '/tmp/x.csv'" }), 403, 'read-only');
    assertError(await post('/api/sql', { sql: 'DELETE FROM models' }), 403, 'read-only');
    assertError(
      await post('/api/sql', { sql: "SELECT * FROM read_text('/etc/passwd')" }),
      403,
      'file-access',
      /disabled/,
    );
    assertError(await post('/api/sql', {}), 400, 'bad-request');
    assertError(
      await api('/api/sql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{oops',
      }),
      400,
      'bad-json',
    );
    const still = await post('/api/sql', { sql: 'SELECT count(*) FROM models' });
    assert.equal(still.status, 200);
  });

  it('bad compare requests → 400', async () => {
    assertError(await post('/api/compare', { by: 'NoSuchColumn' }), 400, 'unknown-column', /NoSuchColumn/);
    assertError(await post('/api/compare', { by: 'Task', where: 'no_such_col = 1' }), 400, 'bad-sql');
    assertError(
      await post('/api/compare', { by: 'Task', where: '1=1); DROP TABLE models; --' }),
      400,
      'bad-sql',
    );
    assertError(await post('/api/compare', {}), 400, 'bad-request', /either "by"/);
    assertError(
      await post('/api/compare', {
        selections: [
          { label: 'all', where: 'true' },
          { label: 'cnn', where: "model = 'digits_cnn'" },
        ],
      }),
      400,
      'bad-request',
      /"all" and "cnn" overlap/,
    );
    assertError(
      await post('/api/compare', { by: 'Task', where: "model = 'nobody'" }),
      400,
      'empty-selection',
    );
  });

  it('path traversal in static file requests → 400', async () => {
    for (const path of [
      '/../package.json',
      '/../../etc/passwd',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/%2e%2e/%2e%2e/package.json',
      '/..%5c..%5cpackage.json',
      '/index.html%00.js',
    ]) {
      const r = await raw(path);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /refused|malformed/, path);
    }
    assertError(await raw('/%E0%A4%A'), 400, 'bad-path', /malformed/);
    assertError(await api('/no-such-file.js'), 404, 'not-found');
  });

  it('oversized upload → 413 (declared or streamed)', async () => {
    const big = new Uint8Array((1 << 20) + 10);
    assertError(
      await api('/api/models?name=big.onnx', { method: 'POST', body: big }),
      413,
      'too-large',
      /exceeds the limit of 1\.0 MiB/,
    );
    // no Content-Length: the body is counted while it streams
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(300_000));
        c.close();
      },
    });
    const r = await api('/api/models?name=big.onnx', {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assertError(r, 413, 'too-large');
  });

  it('uploads that are not models, or nameless → 4xx', async () => {
    assertError(
      await api('/api/models?name=meta.csv', { method: 'POST', body: readFileSync(dataPath('meta.csv')) }),
      422,
      'not-a-model',
      /not a model file/,
    );
    assertError(await api('/api/models', { method: 'POST', body: 'x' }), 400, 'bad-name');
    assertError(await api('/api/models?name=x.onnx', { method: 'POST', body: '' }), 400, 'empty-body');
  });

  it('wrong method → 405 with Allow', async () => {
    const r = await api('/api/models', { method: 'DELETE' });
    assertError(r, 405, 'method-not-allowed', /DELETE is not allowed/);
    assert.equal(r.headers.get('allow'), 'GET, POST');
    assertError(await api('/api/compare'), 405, 'method-not-allowed');
    assertError(await api('/api/models/0', { method: 'PUT', body: '{}' }), 405, 'method-not-allowed');
    assertError(await api('/index.html', { method: 'POST', body: '' }), 405, 'method-not-allowed');
  });

  it('foreign Host (DNS rebinding) and cross-origin writes → 403', async () => {
    assertError(await raw('/api/models', { host: 'evil.example:80' }), 403, 'bad-host');
    assertError(
      await post('/api/sql', { sql: 'SELECT 1' }, { origin: 'http://evil.example' }),
      403,
      'cross-origin',
    );
    const own = await post('/api/sql', { sql: 'SELECT 1' }, { origin: new URL(srv.url).origin });
    assert.equal(own.status, 200);
  });
});
