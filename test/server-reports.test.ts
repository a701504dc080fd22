/**
 * The server's report downloads and content-hash lookup: GET /api/models?hash=, GET /api/models/:id/report.html
 * (the `filterdb report` of a stored model, from its file), GET /api/report.html (`filterdb report --db`).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { openDb } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { dataPath } from './support/paths.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

let srv: FixtureServer;

before(async () => {
  srv = await fixtureServer();
});
after(async () => {
  await srv?.stop();
});

async function get(path: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(new URL(path, srv.url));
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function models(): Promise<Json[]> {
  return JSON.parse((await get('/api/models')).text).models;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('GET /api/models?hash=', () => {
  it('names the stored model with the same bytes, and no other', async () => {
    const cnn = (await models()).find((m) => m.name === 'digits_cnn');
    const r = await get(`/api/models?hash=${sha256(readFileSync(dataPath('digits_cnn.onnx')))}`);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text).models, [{ id: cnn.id, name: 'digits_cnn' }]);
    // the same model in another format is other bytes
    const other = await get(`/api/models?hash=${sha256(readFileSync(dataPath('digits_cnn.pt')))}`);
    assert.deepEqual(JSON.parse(other.text).models, []);
  });

  it('refuses a malformed hash with 400', async () => {
    const r = await get('/api/models?hash=md5:abc');
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.text).error.message, /sha256/);
  });
});

describe('GET /api/models/:id/report.html', () => {
  it('is the model report of the stored file, as a download, with every measured layer', async () => {
    const cnn = (await models()).find((m) => m.name === 'digits_cnn');
    const r = await get(`/api/models/${cnn.id}/report.html`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers.get('content-type')), /^text\/html/);
    assert.match(
      String(r.headers.get('content-disposition')),
      /attachment; filename="digits_cnn-report.html"/,
    );
    assert.match(r.text, /^<!doctype html>/i);
    assert.ok(r.text.includes('<h1>Filter report: digits_cnn.onnx</h1>'), 'titled by the file name');
    assert.ok(!r.text.includes(srv.dir) && !r.text.includes('test/data/'), 'no server path in the report');
    const q = await qualityReport(await readModel(await openModelInput(dataPath('digits_cnn.onnx'))));
    for (const l of q.layers) assert.ok(r.text.includes(l.name), `layer ${l.name} in the report`);
    assert.doesNotMatch(r.text, /<script[^>]+src=/, 'self-contained: no external scripts');
  });

  it('answers 404 for an unknown model, and a clear 404 / 409 when the file is gone or changed', async () => {
    assert.equal((await get('/api/models/999/report.html')).status, 404);
    // a database whose model file is moved away, then replaced by other bytes
    const own = await fixtureServerWithCopy();
    try {
      const id = (await (await fetch(new URL('/api/models', own.srv.url))).json()).models[0].id;
      rmSync(own.copy);
      const gone = await fetch(new URL(`/api/models/${id}/report.html`, own.srv.url));
      assert.equal(gone.status, 404);
      const goneBody = (await gone.json()).error;
      assert.equal(goneBody.code, 'report-unavailable');
      assert.match(goneBody.message, /not on the server's disk/);
      copyFileSync(dataPath('digits_dwsep.onnx'), own.copy);
      const changed = await fetch(new URL(`/api/models/${id}/report.html`, own.srv.url));
      assert.equal(changed.status, 409);
      assert.match((await changed.json()).error.message, /changed since it was ingested/);
    } finally {
      await own.srv.stop();
    }
  });
});

/** A server over a database holding one model ingested from a copy of digits_cnn.onnx in the server's dir. */
async function fixtureServerWithCopy(): Promise<{ srv: FixtureServer; copy: string }> {
  const s = await fixtureServer();
  const copy = join(s.dir, 'mine.onnx');
  copyFileSync(dataPath('digits_cnn.onnx'), copy);
  await s.close();
  const db = await openDb(join(s.dir, 'own.duckdb'));
  try {
    await ingestPaths(db, [copy], {});
  } finally {
    db.close();
  }
  const { startServer } = await import('../src/server/server.js');
  const running = await startServer({ port: 0, host: '127.0.0.1', db: join(s.dir, 'own.duckdb') });
  return {
    copy,
    srv: {
      ...running,
      dir: s.dir,
      dbPath: join(s.dir, 'own.duckdb'),
      async stop() {
        await running.close();
        rmSync(s.dir, { recursive: true, force: true });
      },
    },
  };
}

describe('GET /api/report.html', () => {
  it('is the zoo report of the database: models, drift by every metadata column, depth and model', async () => {
    const r = await get('/api/report.html');
    assert.equal(r.status, 200);
    assert.match(
      String(r.headers.get('content-disposition')),
      /attachment; filename="zoo.duckdb-report.html"/,
    );
    assert.match(r.text, /Filter database zoo\.duckdb/);
    for (const name of ['digits_cnn', 'digits_dwsep', 'Architecture', 'Visual Category'])
      assert.ok(r.text.includes(name), `${name} in the report`);
    assert.match(r.text, /<svg/);
  });
});
