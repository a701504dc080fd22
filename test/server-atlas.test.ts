/** The server's atlas and energy endpoints answer what the analysis functions give on the model files. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { atlasInputs, atlasView } from '../src/analysis/atlas-view.js';
import { dctEnergy, firstConvLayerIndex, profileCorrelation } from '../src/analysis/energy.js';
import { modelAtlas } from '../src/analysis/kernel-atlas.js';
import { readModel } from '../src/formats/detect.js';
import type { Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { dataPath } from './support/paths.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

let srv: FixtureServer;
let ids: Map<string, number>;

before(async () => {
  srv = await fixtureServer();
  const { models } = await (await fetch(new URL('/api/models', srv.url))).json();
  ids = new Map(models.map((m: Json) => [m.name, m.id]));
});
after(async () => {
  await srv?.stop();
});

async function get(path: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(new URL(path, srv.url));
  return { status: res.status, body: await res.json() };
}

async function open(name: string): Promise<Model> {
  return readModel(await openModelInput(dataPath(`${name}.onnx`)));
}

/** Through JSON, as the server sends it. */
function json<T>(x: T): T {
  return JSON.parse(JSON.stringify(x));
}

describe('server API: atlas and energy', () => {
  it('GET /api/models/:id/atlas is the atlas view of the model file', async () => {
    const model = await open('digits_dwsep');
    const inputs = await atlasInputs(model.layers);
    assert.ok(inputs.length > 0);
    const r = await get(`/api/models/${ids.get('digits_dwsep')}/atlas`);
    assert.equal(r.status, 200);
    assert.equal(r.body.model, 'digits_dwsep');
    assert.deepEqual(r.body.view, json(atlasView(inputs, modelAtlas(inputs))));
    assert.deepEqual(r.body.skipped, []);
    // a model without depthwise layers: no view
    const plain = await get(`/api/models/${ids.get('digits_cnn')}/atlas`);
    assert.equal(plain.status, 200);
    assert.equal(plain.body.view, null);
  });

  it('GET /api/models/:id/energy and /api/energy are the first layers’ DCT profiles and their correlation', async () => {
    const profiles: number[][] = [];
    for (const name of ['digits_cnn', 'digits_dwsep']) {
      const model = await open(name);
      const l = model.layers[firstConvLayerIndex(model.layers)];
      const e = dctEnergy(await l.loadWeight(), l.shape);
      const r = await get(`/api/models/${ids.get(name)}/energy`);
      assert.equal(r.status, 200);
      assert.equal(r.body.energy.layer, l.name);
      assert.deepEqual(r.body.energy.shape, l.shape);
      assert.deepEqual(r.body.energy.profile, e.profile);
      assert.deepEqual(r.body.energy.labels, e.labels);
      profiles.push(e.profile);
    }
    const all = await get('/api/energy');
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.models.map((m: Json) => m.model),
      ['digits_cnn', 'digits_dwsep'],
    );
    assert.deepEqual(all.body.correlation, profileCorrelation(profiles));
    assert.ok(all.body.correlation[0][1] > -1 && all.body.correlation[0][1] < 1);
  });

  it('unknown model → 404, wrong method → 405', async () => {
    for (const what of ['atlas', 'energy']) {
      const r = await get(`/api/models/999/${what}`);
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'unknown-model');
      assert.match(r.body.error.message, /no model with id 999/);
    }
    const res = await fetch(new URL('/api/energy', srv.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}` },
    });
    assert.equal(res.status, 405);
  });
});
