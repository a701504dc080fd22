/**
 * GET /api/models/:id/first-layer: the first conv layer's weights and attributes, read again from the source
 * file when it is unchanged; from the stored filters (geometry unknown) when the file is gone or changed.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { openModelInput } from '../src/node/file-source.js';
import type { FirstLayerAnswer } from '../src/server/first-layer.js';
import { startServer } from '../src/server/server.js';
import { openDb } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { dataPath } from './support/paths.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

async function getJson(
  base: string,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL(path, base));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('GET /api/models/:id/first-layer', () => {
  let srv: FixtureServer;
  before(async () => {
    srv = await fixtureServer();
  });
  after(async () => {
    await srv?.stop();
  });

  it('reads the first layer from the unchanged source file: weights and ONNX attributes', async () => {
    const r = await getJson(srv.url, '/api/models/0/first-layer');
    assert.equal(r.status, 200);
    const a = r.body as unknown as FirstLayerAnswer;
    const m = await readModel(await openModelInput(dataPath('digits_cnn.onnx')));
    assert.equal(a.source, 'file');
    assert.equal(a.geometryKnown, true);
    assert.equal(a.name, m.layers[0].name);
    assert.deepEqual(a.shape, [16, 1, 3, 3]);
    assert.deepEqual(a.attributes, { strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1] });
    assert.deepEqual(a.weights, Array.from(await m.layers[0].loadWeight()));
  });

  it('unknown model: 404', async () => {
    const r = await getJson(srv.url, '/api/models/999/first-layer');
    assert.equal(r.status, 404);
    assert.equal((r.body.error as { code: string }).code, 'unknown-model');
  });
});

describe('GET /api/models/:id/first-layer when the source file is gone or changed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'filterdb-first-layer-'));
  const model = join(dir, 'digits_cnn.onnx');
  let running: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    copyFileSync(dataPath('digits_cnn.onnx'), model);
    const db = await openDb(join(dir, 'zoo.duckdb'));
    try {
      await ingestPaths(db, [model]);
    } finally {
      db.close();
    }
    running = await startServer({ port: 0, host: '127.0.0.1', db: join(dir, 'zoo.duckdb') });
  });
  after(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a changed file: the stored 3×3 filters, geometry unknown, and a note that says why', async () => {
    writeFileSync(model, 'not the model any more');
    const r = await getJson(running.url, '/api/models/0/first-layer');
    assert.equal(r.status, 200);
    const a = r.body as unknown as FirstLayerAnswer;
    assert.equal(a.source, 'database');
    assert.equal(a.geometryKnown, false);
    assert.match(a.notes[0], /changed since it was ingested/);
    const m = await readModel(await openModelInput(dataPath('digits_cnn.onnx')));
    const expected = Array.from(await m.layers[0].loadWeight());
    assert.equal(a.weights.length, expected.length);
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(a.weights[i] - expected[i]) < 1e-7);
  });

  it('a removed file: the stored filters, and the note says the file is not readable', async () => {
    rmSync(model);
    const r = await getJson(running.url, '/api/models/0/first-layer');
    assert.equal(r.status, 200);
    assert.match((r.body as unknown as FirstLayerAnswer).notes[0], /not readable any more/);
  });
});
