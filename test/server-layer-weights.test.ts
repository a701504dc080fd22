/**
 * `GET /api/models/:id/layers/:index/weights`: a layer's weights for the app's layer view — from the database
 * when it stores the whole layer, else from the model file (only while its content hash is unchanged) — with
 * the near-zero filters scanWeights finds, bounded by `max`.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { DEFAULT_SPARSITY_EPS, scanWeights } from '../src/metrics/quality.js';
import { openModelInput } from '../src/node/file-source.js';
import { startServer } from '../src/server/server.js';
import { openDb } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { fixtureDb } from './support/fixture-db.js';
import { dataPath } from './support/paths.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

async function get(base: string, path: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(new URL(path, base));
  return { status: res.status, body: await res.json() };
}

async function fileWeights(path: string, index: number): Promise<Float32Array> {
  const input = await openModelInput(path);
  try {
    const model = await readModel(input);
    return Float32Array.from(await model.layers[index].loadWeight());
  } finally {
    await input.close?.();
  }
}

describe('layer weights endpoint', () => {
  let srv: FixtureServer;
  let dwsepId: number;
  before(async () => {
    srv = await fixtureServer();
    const { body } = await get(srv.url, '/api/models');
    dwsepId = body.models.find((m: Json) => m.name === 'digits_dwsep').id;
  });
  after(async () => {
    await srv?.stop();
  });

  it('a 1x1 layer the database does not store comes from the model file, with its dead filters', async () => {
    const model = (await get(srv.url, `/api/models/${dwsepId}`)).body;
    const layer = model.layers[2];
    assert.deepEqual(layer.shape, [32, 16, 1, 1]);
    assert.equal(layer.storedFilters, 0, 'the fixture database keeps 3×3 filters only');
    const { status, body } = await get(srv.url, `/api/models/${dwsepId}/layers/2/weights`);
    assert.equal(status, 200);
    assert.equal(body.source, 'file');
    assert.deepEqual(body.fullShape, [32, 16, 1, 1]);
    assert.deepEqual(body.shape, [32, 16, 1, 1]);
    const want = await fileWeights(dataPath('digits_dwsep.onnx'), 2);
    assert.deepEqual(body.weights, Array.from(want));
    const scan = scanWeights(want, 512, 1, DEFAULT_SPARSITY_EPS);
    const dead = [...scan.keep.keys()].filter((i) => scan.keep[i] === 0);
    assert.deepEqual(body.dead, dead);
    assert.equal(body.deadCount, scan.sparseCount);
    // the same count the stored sparsity metric says
    assert.equal(body.deadCount / 512, layer.metrics.sparsity);
  });

  it('a stored 3×3 layer comes from the database and equals the file', async () => {
    const { body } = await get(srv.url, `/api/models/${dwsepId}/layers/0/weights`);
    assert.equal(body.source, 'database');
    assert.deepEqual(body.shape, [16, 1, 3, 3]);
    assert.deepEqual(body.weights, Array.from(await fileWeights(dataPath('digits_dwsep.onnx'), 0)));
  });

  it('max bounds the answer to whole output channels; dead indices stay among the returned filters', async () => {
    const { body } = await get(srv.url, `/api/models/${dwsepId}/layers/8/weights?max=200`);
    // 64×64×1×1: 200 values hold 3 whole output channels of 64
    assert.deepEqual(body.shape, [3, 64, 1, 1]);
    assert.equal(body.weights.length, 192);
    assert.ok(body.dead.every((i: number) => i < 192));
    for (const bad of ['0', '-1', 'x', String(2 ** 23)]) {
      const r = await get(srv.url, `/api/models/${dwsepId}/layers/8/weights?max=${bad}`);
      assert.equal(r.status, 400, bad);
    }
    assert.equal((await get(srv.url, `/api/models/${dwsepId}/layers/99/weights`)).status, 404);
    assert.equal((await get(srv.url, '/api/models/999/layers/0/weights')).status, 404);
  });
});

describe('layer weights when the model file changed or went away', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'filterdb-weights-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('409 for a changed file, 404 for a missing one, never another model’s weights', async () => {
    const copy = join(dir, 'digits_dwsep.onnx');
    copyFileSync(dataPath('digits_dwsep.onnx'), copy);
    const dbPath = join(dir, 'w.duckdb');
    const db = await openDb(dbPath);
    try {
      await ingestPaths(db, [copy], {});
    } finally {
      db.close();
    }
    const running = await startServer({ port: 0, host: '127.0.0.1', db: dbPath, readOnly: true });
    try {
      assert.equal((await get(running.url, '/api/models/0/layers/2/weights')).status, 200);
      copyFileSync(dataPath('digits_cnn.onnx'), copy);
      const changed = await get(running.url, '/api/models/0/layers/2/weights');
      assert.equal(changed.status, 409);
      assert.match(changed.body.error.message, /has changed since it was ingested/);
      rmSync(copy);
      const gone = await get(running.url, '/api/models/0/layers/2/weights');
      assert.equal(gone.status, 404);
      assert.match(gone.body.error.message, /no longer there/);
    } finally {
      await running.close();
    }
  });
});

describe('layer weights of a database imported from dataset.h5 (filters without a layer shape)', () => {
  const path = fixtureDb('filterdb-weights-h5-');
  it('the stored filters, one output per filter, with the dead ones among them', async () => {
    const running = await startServer({ port: 0, host: '127.0.0.1', db: path, readOnly: true });
    try {
      const model = (await get(running.url, '/api/models/0')).body;
      const layer = model.layers.find((l: Json) => l.storedFilters > 0);
      const { status, body } = await get(running.url, `/api/models/0/layers/${layer.index}/weights`);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.source, 'database');
      assert.deepEqual(body.fullShape, [layer.storedFilters, 1, 3, 3]);
      const stored = (await get(running.url, `/api/models/0/layers/${layer.index}/filters?max=65536`)).body;
      assert.deepEqual(body.weights, stored.weights);
      const scan = scanWeights(
        Float64Array.from(stored.weights),
        layer.storedFilters,
        9,
        DEFAULT_SPARSITY_EPS,
      );
      assert.equal(body.deadCount, scan.sparseCount);
    } finally {
      await running.close();
    }
  });
});
