/**
 * Issue 16 item 9's data-table fallback: every plot of the web app (model page with its probe, compare,
 * cohorts, a dropped file) has a collapsed data table under it, and the table holds the numbers the API
 * gives — the metric curves against GET /api/models/:id, the drift matrix against POST /api/compare.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { DEFAULT_METRIC_PANELS, ridgePlotSvg } from '../src/report/svg/index.js';
import { dataPath } from './support/paths.js';
import {
  dropFile,
  haveChromium,
  openBrowser,
  type TestBrowser,
  warnNoChromium,
} from './support/web-browser.js';
import { apiJson, type FixtureServer, fixtureServer } from './support/web-server.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

warnNoChromium();

/** A figure's data table as the page shows it: header texts and each cell's exact value (or its text). */
interface ShownTable {
  figure: string;
  plot: string;
  open: boolean;
  columns: string[];
  rows: string[][];
}

/** Every figure holding a plot, with its data table (null when it has none). */
function figureTables(page: Page, root: string): Promise<(ShownTable | null)[]> {
  return page.evaluate((root) => {
    const figures = Array.from(document.querySelectorAll(`${root} figure`)).filter((f) =>
      f.querySelector(':scope > svg'),
    );
    return figures.map((f) => {
      const details = f.querySelector(':scope > details.plot-data');
      const table = details?.querySelector('table');
      if (!details || !table) return null;
      return {
        figure: f.className,
        plot: f.querySelector(':scope > svg > title')?.textContent ?? '',
        open: (details as HTMLDetailsElement).open,
        columns: Array.from(table.querySelectorAll('thead th')).map((th) => th.textContent ?? ''),
        rows: Array.from(table.querySelectorAll('tbody tr')).map((tr) =>
          Array.from(tr.children).map((c) => (c as HTMLElement).dataset.value ?? c.textContent ?? ''),
        ),
      };
    });
  }, root);
}

/** Asserts every plot under `root` has a closed, non-empty data table; returns the tables. */
async function allTables(page: Page, root: string, what: string): Promise<ShownTable[]> {
  const tables = await figureTables(page, root);
  assert.ok(tables.length > 0, `${what}: no plots found`);
  tables.forEach((t, i) => {
    assert.ok(t, `${what}: plot ${i + 1} has no data table`);
    assert.equal(t.open, false, `${what}: ${t.plot}: the table starts collapsed`);
    assert.ok(t.rows.length > 0 && t.columns.length > 1, `${what}: ${t.plot}: empty table`);
    for (const r of t.rows) assert.equal(r.length, t.columns.length, `${what}: ${t.plot}: ragged row`);
  });
  return tables as ShownTable[];
}

const cell = (v: number | null | undefined) => (v === null || v === undefined ? 'null' : String(v));

/** The metric-curve table: one row per layer, a column per default panel, equal to `layers`' metrics. */
function checkMetricCurves(tables: ShownTable[], layers: Json[], what: string): void {
  const t = tables.find((x) => x.columns.includes('orthogonality') && x.columns.includes('sparsity'));
  assert.ok(t, `${what}: no metric-curve table`);
  assert.equal(t.rows.length, layers.length, `${what}: a row per layer`);
  layers.forEach((l, i) => {
    const row = t.rows[i];
    assert.equal(row[1], l.name, `${what}: row ${i + 1} names its layer`);
    for (const p of DEFAULT_METRIC_PANELS) {
      const col = t.columns.indexOf(p.label);
      assert.ok(col > 0, `${what}: a ${p.label} column`);
      const applies = p.applies ? p.applies({ ...l, shape: l.shape ?? undefined }) : true;
      const v = applies ? l.metrics[p.key] : null;
      assert.equal(row[col], cell(Number.isFinite(v) ? v : null), `${what}: ${l.name} ${p.key}`);
    }
  });
}

describe('plot data tables (no browser)', () => {
  const curve = (label: string, n: number) => ({
    label,
    x: Array.from({ length: n }, (_, i) => i / n),
    y: Array.from({ length: n }, (_, i) => Math.exp(-i / n)),
  });
  const tableOf = (svg: string) => {
    const m = /^<svg [^>]*data-table="([^"]*)"/.exec(svg);
    return m
      ? JSON.parse(
          m[1]
            .replace(/&quot;/g, '"')
            .replace(/&#39;/g, "'")
            .replace(/&lt;/g, '<')
            .replace(/&gt;/g, '>')
            .replace(/&amp;/g, '&'),
        )
      : null;
  };

  it('only plots drawn with dataTable carry their rows (the HTML reports do not)', () => {
    const curves = [curve('a', 50), curve('b', 50)];
    assert.equal(tableOf(ridgePlotSvg(curves)), null);
    const t = tableOf(ridgePlotSvg(curves, { dataTable: true }));
    assert.deepEqual(t.columns, ['coefficient', 'density: a', 'density: b']);
    assert.equal(t.rows.length, 50);
    assert.deepEqual(t.rows[7], [curves[0].x[7], curves[0].y[7], curves[1].y[7]]);
    assert.equal(t.note, undefined);
  });

  it('long tables keep one row in k, the last row, and say so', () => {
    const t = tableOf(ridgePlotSvg([curve('a', 1000)], { dataTable: true }));
    assert.ok(t.rows.length <= 241, String(t.rows.length));
    assert.deepEqual(t.rows[1], [5 / 1000, Math.exp(-5 / 1000)]);
    assert.deepEqual(t.rows.at(-1)[0], 999 / 1000);
    assert.match(t.note, /^\d+ of 1000 rows shown \(one in 5\)$/);
  });
});

describe('web app: a data table under every plot', {
  skip: haveChromium ? false : 'chromium missing',
}, () => {
  let srv: FixtureServer;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    srv = await fixtureServer();
    browser = await openBrowser();
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const api = (path: string, body?: unknown): Promise<Json> => apiJson(srv, path, body);

  it('model page: metric curves equal the API; eigen-images, variance and probe bars have tables', async () => {
    const { models } = await api('/api/models');
    const id = models.find((m: Json) => m.name === 'digits_cnn').id;
    await browser.go(srv.url, `model/${id}`);
    await page.waitForSelector('#layers tbody tr');
    await page.waitForSelector('#filters svg');
    await page.waitForSelector('figure.variance svg');
    await page.click('#probe-synthetic');
    await page.waitForSelector('.probe[data-ready=true] figure.probe-bars svg', { timeout: 30_000 });
    const tables = await allTables(page, '#app', 'model page');
    const detail = await api(`/api/models/${id}`);
    checkMetricCurves(tables, detail.layers, 'model page');
    const eigen = tables.find((t) => t.figure.includes('eigen'));
    assert.ok(eigen, 'eigen-images table');
    assert.deepEqual(eigen.columns.slice(0, 3), ['component', 'explained variance', 'w[0,0]']);
    const evr = JSON.parse((await page.getAttribute('.figs.basis', 'data-evr')) ?? '[]') as number[];
    assert.deepEqual(
      eigen.rows.map((r) => Number(r[1])),
      evr,
    );
    const bars = tables.find((t) => t.figure.includes('probe-bars'));
    assert.ok(bars, 'amplification table');
    const drawn = await page.$$eval('figure.probe-bars rect[data-channel]', (rs) =>
      rs.map((r) => [Number(r.getAttribute('data-channel')), r.getAttribute('data-value')]),
    );
    for (const [c, v] of drawn) assert.equal(bars.rows[c as number][1], v, `channel ${c}`);
    // the layer view: the filter grid's table holds the weights the API serves (thinned evenly when large)
    await page.locator('#layers tbody tr').nth(2).click();
    await page.waitForSelector('#layer-view[data-ready=true] .lv-data details.plot-data');
    const w = await api(`/api/models/${id}/layers/${detail.layers[2].index}/weights?max=${1 << 20}`);
    const rows = await page.$$eval('#layer-view .lv-data tbody tr', (trs) =>
      trs.map((tr) => Array.from(tr.children).map((c) => (c as HTMLElement).dataset.value ?? c.textContent)),
    );
    const [, inPer, kh, kw] = w.shape;
    const k = kh * kw;
    assert.ok(rows.length > 0 && rows.length <= 240);
    for (const r of rows) {
      const f = Number(r[0]) * inPer + Number(r[1]);
      assert.deepEqual(r.slice(2), w.weights.slice(f * k, (f + 1) * k).map(String), `filter ${r[0]},${r[1]}`);
    }
    assert.ok(browser.consoleErrors.length === 0, browser.consoleErrors.join('\n'));
  });

  it('compare page: the drift table is the API’s matrix; the densities are thinned with a note', async () => {
    const request = page.waitForRequest((r) => r.url().endsWith('/api/compare') && r.method() === 'POST');
    await browser.go(srv.url, 'compare');
    const body = JSON.parse((await request).postData() ?? '{}');
    await page.waitForSelector('#compare-result figure.drift svg');
    await page.waitForSelector('#compare-result figure.ridges svg');
    const tables = await allTables(page, '#compare-result', 'compare');
    const answer = await api('/api/compare', body);
    const r = answer.results ? answer.results[0] : answer;
    const drift = tables.find((t) => t.figure.includes('drift'));
    assert.ok(drift, 'drift table');
    assert.deepEqual(drift.columns, [r.by, 'filters', ...r.groups]);
    assert.deepEqual(
      drift.rows,
      r.groups.map((g: string, i: number) => [g, String(r.counts[i]), ...r.matrix[i].map(cell)]),
    );
    const ridges = tables.find((t) => t.figure.includes('ridges'));
    assert.ok(ridges, 'density table');
    // group labels carry their filter counts on this page ("DigitsCNN (3,856)")
    assert.equal(ridges.columns.length, 2 + r.groups.length);
    r.groups.forEach((g: string, i: number) => {
      assert.ok(ridges.columns[2 + i].startsWith(`density: ${g}`), ridges.columns[2 + i]);
    });
    const points = r.ridges.reduce((s: number, c: Json) => s + c.curves[0].x.length, 0);
    assert.ok(ridges.rows.length <= 241, `${ridges.rows.length} rows: capped`);
    if (points > 241) {
      const note = await page.textContent('figure.ridges details.plot-data p');
      assert.match(note ?? '', /rows shown/);
    }
  });

  it('cohorts page and a dropped file: every plot has its table; the dropped file’s curves equal its layer table', async () => {
    await browser.go(srv.url, 'cohorts');
    await page.waitForSelector('#cohorts-result figure.divergence svg');
    const cohorts = await allTables(page, '#cohorts-result', 'cohorts');
    assert.ok(cohorts.some((t) => t.columns[0] === 'model' && t.columns[1] === 'cohort'));

    await dropFile(page, srv.url, dataPath('digits_dwsep.onnx'));
    await page.waitForSelector('#filters svg');
    const tables = await allTables(page, '#app', 'dropped file');
    // the layer table's cells carry the exact metrics (checked against the CLI in web.test.ts)
    const layers = await page.$$eval('#layers tbody tr', (trs) =>
      trs.map((tr) => ({
        name: tr.getAttribute('data-layer'),
        shape: (tr.children[3].textContent ?? '').split('×').map(Number),
        metrics: Object.fromEntries(
          Array.from(tr.querySelectorAll<HTMLElement>('td[data-key]')).map((td) => [
            td.dataset.key,
            td.dataset.value === 'null' ? null : Number(td.dataset.value),
          ]),
        ),
      })),
    );
    checkMetricCurves(tables, layers, 'dropped file');
    // opening a table shows it
    await page.locator('details.plot-data > summary').first().click();
    assert.ok(await page.locator('details.plot-data[open] table').first().isVisible());
  });
});
