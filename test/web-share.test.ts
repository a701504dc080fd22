/**
 * The web app's permalinks, downloads, compare-page behaviours and model-page sections in headless Chromium
 * (issue 16 items 4–7): URL round trips through reload and back/forward, every download's content checked
 * against what the page shows (SVG parses, PNG signature and size, CSV/JSON values), both viewports, with
 * screenshots under test-output/web-share/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { DEFAULT_WEB_ROOT } from '../src/server/server.js';
import { CHROMIUM } from './support/chromium.js';
import { dataPath, modulePath, repoRoot } from './support/paths.js';
import {
  clickDownload,
  goHash,
  haveChromium,
  openBrowser,
  type TestBrowser,
  warnNoChromium,
} from './support/web-browser.js';
import { apiJson, type FixtureServer, fixtureServer } from './support/web-server.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

warnNoChromium();
const shots = join(repoRoot, 'test-output/web-share');
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/** Parses CSV as the app writes it (RFC 4180, quoted fields with "" for a quote). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

/** The RGBA of a PNG's top-left pixel (8-bit RGBA, as Chromium writes: the first pixel is stored unfiltered). */
function firstPixel(png: Buffer): number[] {
  assert.equal(png[24], 8, 'bit depth');
  assert.equal(png[25], 6, 'colour type RGBA');
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  return [...inflateSync(Buffer.concat(idat)).subarray(1, 5)];
}

describe('web app: permalinks, downloads, compare, model pages', {
  skip: haveChromium ? false : `${CHROMIUM} missing`,
}, () => {
  let srv: FixtureServer;
  let browser: TestBrowser;
  let page: Page;
  let ids: Map<string, number>;

  before(async () => {
    assert.ok(
      existsSync(join(DEFAULT_WEB_ROOT, 'index.html')),
      'the web app is not built; run npm run build',
    );
    mkdirSync(shots, { recursive: true });
    srv = await fixtureServer();
    browser = await openBrowser();
    page = browser.page;
    const { models } = (await (await fetch(new URL('/api/models', srv.url))).json()) as Json;
    ids = new Map(models.map((m: Json) => [m.name, m.id]));
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const go = (hash: string) => goHash(page, srv.url, hash);
  const hash = () => page.evaluate(() => decodeURIComponent(location.hash));
  const api = (path: string, body?: unknown): Promise<Json> => apiJson(srv, path, body);

  it('a layer is a URL: opening, reload, back and forward restore it', async () => {
    const id = ids.get('digits_cnn')!;
    await go(`model/${id}`);
    await page.waitForSelector('#layers tbody tr');
    const detail = (await api(`/api/models/${id}`)) as Json;
    await page.locator('#layers tbody tr').nth(2).click();
    await page.waitForSelector('#layer-view[data-ready=true] svg');
    assert.equal(await hash(), `#/model/${id}/layer/${detail.layers[2].index}`);
    assert.equal(await page.locator('#lv-title .lname').textContent(), detail.layers[2].name);
    assert.ok(
      (await page.locator('#layer-view figure .dl-png').count()) > 0,
      'the layer figures download too',
    );
    // reload: the same layer opens
    await page.reload();
    await page.waitForSelector('#layer-view[data-ready=true] svg');
    assert.equal(await page.locator('#lv-title .lname').textContent(), detail.layers[2].name);
    // another layer, then back: the first again; back once more: none; forward: the first
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !location.hash.includes('/layer/'));
    assert.equal(await hash(), `#/model/${id}`);
    await page.locator('#layers tbody tr').nth(4).click();
    await page.waitForSelector('#layer-view');
    assert.equal(await hash(), `#/model/${id}/layer/${detail.layers[4].index}`);
    await page.goBack();
    await page.waitForFunction(() => !location.hash.includes('/layer/'));
    assert.equal(await page.locator('#layer-view').count(), 0, 'back closes the layer');
    await page.goForward();
    await page.waitForSelector('#layer-view[data-ready=true] svg');
    assert.equal(await page.locator('#lv-title .lname').textContent(), detail.layers[4].name);
    await page.keyboard.press('Escape');
    // an unknown layer index opens nothing, and the page still renders
    await go(`model/${id}/layer/999`);
    await page.waitForSelector('#layers tbody tr');
    assert.equal(await page.locator('#layer-view').count(), 0);
  });

  it('compare state is in the URL: reload and back/forward restore grouping, selections and the colour scale', async () => {
    await go('compare');
    await page.waitForSelector('#compare-result figure.drift svg');
    // the default grouping is written into the URL without a new history entry
    assert.equal(await hash(), '#/compare?by=Architecture');
    await page.fill('#sel-a', "model = 'digits_cnn'");
    await page.fill('#sel-b', "model = 'digits_dwsep'");
    await page.fill('#lab-a', 'cnn');
    await page.click('#run');
    await page.waitForFunction(() =>
      document.querySelector('#compare-result .summary')?.textContent?.includes('by selection'),
    );
    assert.equal(
      await hash(),
      "#/compare?mode=select&a=model = 'digits_cnn'&b=model = 'digits_dwsep'&la=cnn",
    );
    await page.reload();
    await page.waitForFunction(() =>
      document.querySelector('#compare-result .summary')?.textContent?.includes('by selection'),
    );
    assert.equal(await page.inputValue('#sel-a'), "model = 'digits_cnn'");
    assert.equal(await page.inputValue('#lab-a'), 'cnn');
    assert.ok(await page.isChecked('input[name=mode][value=select]'));
    await page.goBack();
    await page.waitForSelector('#app[data-ready=true] #compare-result figure.drift svg');
    assert.equal(await hash(), '#/compare?by=Architecture');
    assert.ok(await page.isChecked('input[name=mode][value=group]'));
    assert.deepEqual(
      await page.$$eval('#by option:checked', (os) => os.map((o) => (o as HTMLOptionElement).value)),
      ['Architecture'],
    );
    await page.goForward();
    await page.waitForFunction(() =>
      document.querySelector('#compare-result .summary')?.textContent?.includes('by selection'),
    );
    assert.equal(await page.inputValue('#sel-b'), "model = 'digits_dwsep'");
    // several groupings and a condition, from a link
    await go(`compare?by=Architecture&by=depth&where=${encodeURIComponent("kind = 'plain'")}`);
    await page.waitForSelector('#compare-result section.grouping[data-by="depth"] figure.drift svg');
    assert.equal(await page.inputValue('#where'), "kind = 'plain'");
    // cohorts: the URL's choice is used
    await go(`cohorts?by=Training&where=${encodeURIComponent('conv_depth_norm >= 0')}`);
    await page.waitForSelector('#cohorts-result figure.divergence svg');
    assert.equal(await page.inputValue('#cohort-by'), 'Training');
    assert.equal(await page.inputValue('#cohort-where'), 'conv_depth_norm >= 0');
  });

  /** The drift heat-map's colour scale is fixed at 0.5: said in the caption, and the colour bar ends there. */
  async function assertScaleFixedAtHalf(): Promise<void> {
    assert.match(
      String(await page.locator('#compare-result figure.drift figcaption').textContent()),
      /Colour scale fixed at 0\.5: larger values take the top colour/,
    );
    const texts = await page.$$eval('#compare-result figure.drift svg text', (ts) =>
      ts.map((t) => t.textContent),
    );
    assert.ok(texts.includes('0.5'), JSON.stringify(texts));
  }

  it('compare page: typing selects the mode, columns complete and are quoted, sizes and KL in the text, a fixed colour scale', async () => {
    await go('compare');
    await page.waitForSelector('#compare-result figure.drift svg');
    assert.ok(await page.isChecked('input[name=mode][value=group]'));
    await page.click('#sel-a');
    await page.keyboard.type('vis');
    assert.ok(await page.isChecked('input[name=mode][value=select]'), 'typing a selection switches the mode');
    await page.waitForSelector('#sel-a-completions li');
    assert.equal(await page.locator('#sel-a-completions li').first().textContent(), 'Visual Category');
    await page.keyboard.press('Enter');
    assert.equal(await page.inputValue('#sel-a'), '"Visual Category" ');
    await page.keyboard.type("= 'handwriting' AND model = 'digits_cnn'");
    // a quote opens completion too; Tab takes the first match
    await page.fill('#sel-b', '');
    await page.click('#sel-b');
    await page.keyboard.type('"Arch');
    await page.waitForSelector('#sel-b-completions li');
    await page.keyboard.press('Tab');
    assert.equal(await page.inputValue('#sel-b'), 'Architecture ');
    await page.keyboard.type("= 'DigitsDWSep'");
    await page.click('#run');
    await page.waitForSelector('#compare-result .kl-value');
    const answer = (await api('/api/compare', {
      selections: [
        { label: 'A', where: `"Visual Category" = 'handwriting' AND model = 'digits_cnn'` },
        { label: 'B', where: "Architecture = 'DigitsDWSep'" },
      ],
    })) as Json;
    // the KL value stands in the text, exactly the API's
    assert.equal(Number(await page.getAttribute('.kl-value', 'data-value')), answer.matrix[0][1]);
    // group sizes on the labels (summary and heat-map)
    const summary = String(await page.locator('#compare-result .summary').first().textContent());
    for (const [i, g] of answer.groups.entries())
      assert.ok(summary.includes(`${g} (${answer.counts[i].toLocaleString('en-US')} filters)`), summary);
    const labels = await page.$$eval('#compare-result figure.drift svg text', (ts) =>
      ts.map((t) => t.textContent),
    );
    assert.ok(
      labels.includes(`A (${answer.counts[0].toLocaleString('en-US')})A`) ||
        labels.some((l) => l?.endsWith(`A (${answer.counts[0].toLocaleString('en-US')})`)),
      JSON.stringify(labels),
    );
    // fix the colour scale: it is the current maximum, in the URL, and kept by the next comparison
    await page.check('#fix-scale');
    const fixed = Number(await page.inputValue('#cmax'));
    // the maximum to 3 significant digits
    assert.ok(Math.abs(fixed - answer.matrix[0][1]) <= 5e-3 * answer.matrix[0][1], `${fixed}`);
    await page.fill('#cmax', '0.5');
    await page.dispatchEvent('#cmax', 'change');
    await page.waitForFunction(() => location.hash.includes('cmax=0.5'));
    await assertScaleFixedAtHalf();
    await page.check('input[name=mode][value=group]');
    await page.click('#run');
    await page.waitForFunction(() =>
      document.querySelector('#compare-result .summary')?.textContent?.includes('by Architecture'),
    );
    await assertScaleFixedAtHalf();
    await page.reload();
    await page.waitForSelector('#compare-result figure.drift svg');
    assert.ok(await page.isChecked('#fix-scale'));
    assert.equal(await page.inputValue('#cmax'), '0.5');
    await page.screenshot({ path: join(shots, 'compare-fixed-scale.png'), fullPage: true });
  });

  it('compare by depth: bins in depth order with a sequential palette', async () => {
    await go('compare?by=depth');
    await page.waitForSelector('#compare-result figure.ridges svg');
    const answer = (await api('/api/compare', { by: 'depth' })) as Json;
    const bins = [...answer.groups].filter((g: string) => /^[[(]/.test(g));
    const byDepth = [...bins].sort((a, b) => Number(/[\d.]+/.exec(a)![0]) - Number(/[\d.]+/.exec(b)![0]));
    const summary = String(await page.locator('#compare-result .summary').first().textContent());
    const positions = byDepth.map((b) => summary.indexOf(b));
    assert.ok(
      positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])),
      summary,
    );
    // the ridge curves: one colour per bin, none from the categorical palette
    const strokes = await page.$$eval('#compare-result figure.ridges svg path', (ps) =>
      ps.map((p) => /stroke:(#[0-9a-fA-F]{6})/.exec(p.getAttribute('style') ?? '')?.[1] ?? null),
    );
    const distinct = [...new Set(strokes)].filter((s) => s?.startsWith('#'));
    assert.ok(distinct.length >= Math.min(bins.length, 2), JSON.stringify(distinct));
    const okabeIto = ['#e69f00', '#56b4e9', '#009e73', '#f0e442', '#0072b2', '#d55e00', '#cc79a7', '#000000'];
    assert.ok(
      distinct.every((s) => !okabeIto.includes(String(s).toLowerCase())),
      JSON.stringify(distinct),
    );
  });

  it('downloads: figures as SVG and PNG, the layer table as CSV and JSON, the model and database reports', async () => {
    const id = ids.get('digits_cnn')!;
    await go(`model/${id}`);
    await page.waitForSelector('#basis figure.eigen svg');
    // SVG: parses as an SVG document and carries the plot stylesheet
    const svgFile = await clickDownload(page, 'figure:has(svg) .dl-svg');
    assert.match(svgFile.name, /\.svg$/);
    const svgText = svgFile.bytes.toString('utf8');
    const parsed = await page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      return {
        error: doc.querySelector('parsererror')?.textContent ?? null,
        root: doc.documentElement.nodeName,
        width: Number(doc.documentElement.getAttribute('width')),
        height: Number(doc.documentElement.getAttribute('height')),
      };
    }, svgText);
    assert.equal(parsed.error, null);
    assert.equal(parsed.root, 'svg');
    assert.match(svgText, /\.fdb-plot\{/);
    // PNG: signature, and twice the SVG's size
    const png = await clickDownload(page, 'figure:has(svg) .dl-png');
    assert.match(png.name, /\.png$/);
    assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.bytes.toString('latin1', 12, 16), 'IHDR');
    assert.equal(png.bytes.readUInt32BE(16), parsed.width * 2);
    assert.equal(png.bytes.readUInt32BE(20), parsed.height * 2);
    // the theme's colours go with the figure: light now, dark after switching (the PNG's corner is the background)
    assert.match(svgText, /style="color:rgb\(29, 33, 38\);background:rgb\(255, 255, 255\)"/);
    assert.deepEqual(firstPixel(png.bytes), [255, 255, 255, 255]);
    await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'dark'));
    const darkSvg = (await clickDownload(page, 'figure:has(svg) .dl-svg')).bytes.toString('utf8');
    assert.match(darkSvg, /style="color:rgb\(228, 231, 235\);background:rgb\(21, 24, 28\)"/);
    assert.deepEqual(
      firstPixel((await clickDownload(page, 'figure:has(svg) .dl-png')).bytes),
      [21, 24, 28, 255],
    );
    await page.evaluate(() => document.documentElement.removeAttribute('data-theme'));
    // the layer table: CSV and JSON hold exactly the values of the table's cells
    const cells = await page.$$eval('#layers tbody tr', (trs) =>
      trs.map((tr) => ({
        name: tr.getAttribute('data-layer'),
        values: Object.fromEntries(
          Array.from(tr.querySelectorAll('td[data-key]')).map((td) => [
            td.getAttribute('data-key'),
            td.getAttribute('data-value'),
          ]),
        ),
      })),
    );
    const csv = parseCsv((await clickDownload(page, '.layers-data-csv')).bytes.toString('utf8'));
    const json = JSON.parse(
      (await clickDownload(page, '.layers-data-json')).bytes.toString('utf8'),
    ) as Json[];
    assert.equal(csv.length, cells.length + 1);
    assert.equal(json.length, cells.length);
    const header = csv[0];
    for (const [i, row] of cells.entries()) {
      assert.equal(csv[i + 1][header.indexOf('name')], row.name);
      assert.equal(json[i].name, row.name);
      for (const [key, raw] of Object.entries(row.values)) {
        const want = raw === 'null' ? null : Number(raw);
        assert.equal(json[i][key], want, `${row.name} ${key} (JSON)`);
        const text = csv[i + 1][header.indexOf(key)];
        assert.equal(text === '' ? null : Number(text), want, `${row.name} ${key} (CSV)`);
      }
    }
    // the model's report, from the server
    const report = await clickDownload(page, '#model-report');
    assert.equal(report.name, 'digits_cnn-report.html');
    assert.match(report.bytes.toString('utf8'), /<h1>Filter report: digits_cnn\.onnx<\/h1>/);
    await page.screenshot({ path: join(shots, 'model-downloads.png'), fullPage: true });
    // compare: the drift matrix and the densities equal the API's answer for the page's request
    await go('compare?by=Architecture');
    await page.waitForSelector('#compare-result figure.ridges svg');
    const answer = (await api('/api/compare', { by: ['Architecture'] })).results[0] as Json;
    const drift = JSON.parse((await clickDownload(page, '.drift-data-json')).bytes.toString('utf8'));
    assert.deepEqual(drift, {
      by: answer.by,
      groups: answer.groups,
      counts: answer.counts,
      matrix: answer.matrix,
    });
    const driftCsv = parseCsv((await clickDownload(page, '.drift-data-csv')).bytes.toString('utf8'));
    assert.deepEqual(driftCsv[0], ['Architecture', 'filters', ...answer.groups]);
    for (const [i, g] of answer.groups.entries())
      assert.deepEqual(driftCsv[i + 1], [g, String(answer.counts[i]), ...answer.matrix[i].map(String)]);
    const dens = JSON.parse((await clickDownload(page, '.density-data-json')).bytes.toString('utf8'));
    assert.deepEqual(dens.ridges, answer.ridges);
    const densCsv = parseCsv((await clickDownload(page, '.density-data-csv')).bytes.toString('utf8'));
    const points = answer.ridges.reduce(
      (s: number, c: Json) => s + c.curves.reduce((t: number, k: Json) => t + k.x.length, 0),
      0,
    );
    assert.equal(densCsv.length, points + 1);
    const c0 = answer.ridges[0].curves[0];
    assert.deepEqual(densCsv[1], [
      String(answer.ridges[0].index),
      c0.label,
      String(c0.x[0]),
      String(c0.y[0]),
    ]);
    // the whole database's report
    const zoo = await clickDownload(page, '#db-report');
    assert.equal(zoo.name, 'zoo.duckdb-report.html');
    assert.match(zoo.bytes.toString('utf8'), /Filter database zoo\.duckdb/);
  });

  it('the database model page and the dropped-file page: same sections in the same order, the same basis', async () => {
    const id = ids.get('digits_cnn')!;
    await go(`model/${id}`);
    await page.waitForSelector('#basis figure.variance svg');
    const dbSections = await page.$$eval('[data-section]', (ss) =>
      ss.map((s) => s.getAttribute('data-section')),
    );
    const dbEvr = JSON.parse(String(await page.getAttribute('#basis .basis', 'data-evr'))) as number[];
    await go('drop');
    await page.setInputFiles('#file-input', dataPath('digits_cnn.onnx'));
    await page.waitForSelector('#drop-result figure.variance svg');
    const dropSections = await page.$$eval('[data-section]', (ss) =>
      ss.map((s) => s.getAttribute('data-section')),
    );
    // one order; the fixture database stores no spectral metrics, so its page has no alpha plot
    const stored = (await api(`/api/models/${id}`)) as Json;
    assert.ok(stored.layers.every((l: Json) => l.spectral.alpha === null));
    assert.deepEqual(dropSections, ['layers', 'metrics', 'alpha', 'basis', 'firstLayer']);
    assert.deepEqual(
      dbSections,
      dropSections.filter((s) => s !== 'alpha'),
    );
    const dropEvr = JSON.parse(
      String(await page.getAttribute('#drop-result .basis', 'data-evr')),
    ) as number[];
    assert.equal(dbEvr.length, 9);
    for (const [k, v] of dropEvr.entries())
      assert.ok(Math.abs(v - dbEvr[k]) <= 1e-9, `explained variance ${k}: ${v} vs ${dbEvr[k]}`);
    // said before any upload: the database already holds these bytes
    await page.waitForSelector('#already-stored');
    assert.match(String(await page.textContent('#already-stored')), /Already in the database as digits_cnn/);
    assert.equal(await page.locator('#add-to-db').count(), 0);
    // the dropped model's own report, written in the browser
    const report = await clickDownload(page, '#drop-report');
    assert.match(report.bytes.toString('utf8'), /<h1>Filter report: digits_cnn\.onnx<\/h1>/);
    // a layer of the dropped file is a URL too (while the file is loaded)
    await page.locator('#layers tbody tr').nth(1).click();
    await page.waitForSelector('#layer-view[data-ready=true] svg');
    assert.equal(await hash(), '#/drop/layer/1');
    await page.goBack();
    await page.waitForFunction(() => location.hash === '#/drop');
    assert.equal(await page.locator('#layer-view').count(), 0);
  });

  it('choosing the same file again re-runs the analysis; a TF.js folder is titled by its folder', async () => {
    await go('drop');
    await page.setInputFiles('#file-input', dataPath('digits_dwsep.onnx'));
    await page.waitForSelector('#drop-result[data-ms] #layers tbody tr');
    await page.evaluate(() => {
      (document.querySelector('#drop-summary') as HTMLElement).dataset.old = '1';
    });
    await page.setInputFiles('#file-input', dataPath('digits_dwsep.onnx'));
    await page.waitForSelector('#drop-result[data-ms] #drop-summary:not([data-old])');
    assert.equal(await page.textContent('#drop-title'), 'digits_dwsep.onnx');
    const folder = modulePath('@upscalerjs/esrgan-slim/models/x2');
    await page.setInputFiles('#folder-input', folder);
    await page.waitForSelector('#drop-result[data-ms] #layers tbody tr', { timeout: 30_000 });
    assert.equal(await page.textContent('#drop-title'), 'x2');
    assert.equal(await page.getAttribute('#drop-title', 'title'), 'model.json');
  });

  for (const vp of VIEWPORTS)
    it(`${vp.name} ${vp.width}×${vp.height}: permalinks and download buttons on every page`, async () => {
      await page.setViewportSize({ width: vp.width, height: vp.height });
      try {
        const id = ids.get('digits_dwsep')!;
        const detail = (await api(`/api/models/${id}`)) as Json;
        await go(`model/${id}/layer/${detail.layers[1].index}`);
        await page.waitForSelector('#layer-view[data-ready=true] svg');
        assert.equal(await page.locator('#lv-title .lname').textContent(), detail.layers[1].name);
        await page.screenshot({ path: join(shots, `${vp.name}-layer.png`) });
        await page.keyboard.press('Escape');
        await page.waitForSelector('#basis figure.eigen svg');
        assert.ok(await page.locator('figure .dl-png').first().isVisible());
        assert.ok(await page.locator('#model-report').isVisible());
        await page.screenshot({ path: join(shots, `${vp.name}-model.png`), fullPage: true });
        await go('compare?by=depth');
        await page.waitForSelector('#compare-result figure.ridges svg');
        assert.ok(await page.locator('.drift-data-csv').isVisible());
        await page.screenshot({ path: join(shots, `${vp.name}-compare.png`), fullPage: true });
      } finally {
        await page.setViewportSize({ width: 1280, height: 900 });
      }
    });

  it('no errors in the browser console', () => {
    const real = browser.consoleErrors.filter((e) => !/status of 4\d\d/.test(e));
    assert.deepEqual(real, []);
  });
});
