/**
 * The kernel atlas and energy views of the web app in headless Chromium: on a database model page (data from
 * the server), on the models page (the database's profile correlations) and for a dropped file (computed in
 * the browser's worker) — the numbers shown are the analysis functions' on the same files. Screenshots under
 * test-output/web/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { atlasInputs, atlasView } from '../src/analysis/atlas-view.js';
import { dctEnergy, firstConvLayerIndex, profileCorrelation } from '../src/analysis/energy.js';
import { KERNEL_LABELS, type ModelAtlas, modelAtlas } from '../src/analysis/kernel-atlas.js';
import { readModel } from '../src/formats/detect.js';
import type { Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { fmt } from '../src/report/svg/core.js';
import { CHROMIUM } from './support/chromium.js';
import { dataPath, modulePath, repoRoot } from './support/paths.js';
import { dropFile, goHash, openBrowser, type TestBrowser } from './support/web-browser.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

const haveChromium = existsSync(CHROMIUM);
const shots = join(repoRoot, 'test-output/web');
const FACE = modulePath('@mediapipe/face_detection/face_detection_short_range.tflite');

async function open(file: string): Promise<Model> {
  return readModel(await openModelInput(file));
}

/** The summary line the app prints for an atlas. */
function summaryText(a: ModelAtlas): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return (
    `${pct(1 - a.shares.unclassified - a.shares.flat)} of ${a.kernelCount.toLocaleString('en-US')} depthwise kernels fall into a pattern (` +
    `${KERNEL_LABELS.map((l) => `${l} ${pct(a.shares[l])}`).join(', ')}).`
  );
}

describe('web app: atlas and energy views', { skip: haveChromium ? false : `${CHROMIUM} missing` }, () => {
  let srv: FixtureServer;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    mkdirSync(shots, { recursive: true });
    srv = await fixtureServer();
    browser = await openBrowser();
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  /** Every plot inside `selector` has a <title> and a <desc>; returns how many plots there are. */
  async function accessiblePlots(selector: string): Promise<number> {
    const plots = await page.$$eval(`${selector} figure > svg`, (svgs) =>
      svgs.map((s) => ({
        title: s.querySelector(':scope > title')?.textContent ?? '',
        desc: s.querySelector(':scope > desc')?.textContent ?? '',
      })),
    );
    for (const p of plots) {
      assert.ok(p.title.length > 0, `a plot without <title> in ${selector}`);
      assert.ok(p.desc.length > 0, `a plot without <desc> in ${selector}`);
    }
    return plots.length;
  }

  it('database model page: the atlas and the energy profile from the server equal the file analyses', async () => {
    const model = await open(dataPath('digits_dwsep.onnx'));
    const inputs = await atlasInputs(model.layers);
    const atlas = modelAtlas(inputs);
    const view = atlasView(inputs, atlas);
    const { models } = await (await fetch(new URL('/api/models', srv.url))).json();
    const id = models.find((m: { name: string }) => m.name === 'digits_dwsep').id;
    await goHash(page, srv.url, `model/${id}`);
    await page.waitForSelector('#atlas figure.atlas-examples svg');
    await page.waitForSelector('#energy figure.energy-profile svg');
    assert.equal(String(await page.locator('#atlas-summary').textContent()), summaryText(atlas));
    assert.equal(
      await page.locator('#atlas .fdb-example').count(),
      view.sizes.reduce((s, z) => s + z.patterns.reduce((t, p) => t + p.examples.length, 0), 0),
    );
    // the depth bars carry each bin's shares
    for (const b of atlas.byDepth)
      for (const l of KERNEL_LABELS)
        if (b.shares[l] > 0)
          assert.equal(
            await page.locator(`#atlas rect.fdb-seg[data-label="${l}"][data-bin="${b.bin}"]`).count(),
            1,
          );
    assert.ok((await accessiblePlots('#atlas')) >= 3);
    assert.equal(await accessiblePlots('#energy'), 1);
    // the energy plot's points are the first layer's DCT profile
    const first = model.layers[firstConvLayerIndex(model.layers)];
    const e = dctEnergy(await first.loadWeight(), first.shape);
    const tips = await page.$$eval('#energy circle title', (ts) => ts.map((t) => t.textContent));
    assert.deepEqual(
      tips,
      e.profile.flatMap((v, i) => (v > 0 ? [`index ${i}: ${fmt(v)}`] : [])),
    );
    await page.locator('#atlas').screenshot({ path: join(shots, 'atlas-model.png') });
  });

  it('models page: the correlation heat-map of the first-layer profiles', async () => {
    const profiles: number[][] = [];
    for (const name of ['digits_cnn', 'digits_dwsep']) {
      const m = await open(dataPath(`${name}.onnx`));
      const l = m.layers[firstConvLayerIndex(m.layers)];
      profiles.push(dctEnergy(await l.loadWeight(), l.shape).profile);
    }
    const r = profileCorrelation(profiles)[0][1]!;
    await goHash(page, srv.url, '');
    await page.waitForSelector('#energy figure.energy-correlation svg');
    const cells = await page.$$eval('#energy figure.energy-correlation rect title', (ts) =>
      ts.map((t) => t.textContent),
    );
    assert.ok(cells.includes(`digits_cnn vs digits_dwsep: ${fmt(r, 4)}`), JSON.stringify(cells));
    assert.equal(await accessiblePlots('#energy'), 2);
  });

  it('dropped file: the worker’s atlas and energy equal the analyses in Node', async () => {
    const model = await open(FACE);
    const atlas = modelAtlas(await atlasInputs(model.layers));
    assert.ok(atlas.kernelCount > 500);
    await dropFile(page, srv.url, FACE);
    await page.waitForSelector('#drop-result #atlas figure.atlas-examples svg');
    await page.waitForSelector('#drop-result #energy figure.energy-profile svg');
    assert.equal(String(await page.locator('#drop-result #atlas-summary').textContent()), summaryText(atlas));
    const protos = await page.$$eval('#drop-result .fdb-proto', (gs) =>
      gs.map((g) => g.getAttribute('data-label')),
    );
    assert.deepEqual(protos, ['blob', 'centre-surround', 'edge', 'line', 'saddle']);
    assert.ok((await accessiblePlots('#drop-result #atlas')) >= 3);
    await page.locator('#drop-result #atlas').screenshot({ path: join(shots, 'atlas-drop.png') });
    await page.locator('#drop-result #energy').screenshot({ path: join(shots, 'energy-drop.png') });
  });

  it('no errors in the browser console', () => {
    assert.deepEqual(
      browser.consoleErrors.filter((e) => !/status of 4\d\d/.test(e)),
      [],
    );
  });
});
