/**
 * Issue 16 items 8 and 9 in headless Chromium (playwright-core + Debian's chromium): every page of the web app
 * — models, a model with its layer detail and first-layer probe, compare with results, cohorts, the drop page
 * empty and with a dropped file — at 1280×800 and 390×844, in the light and the dark theme (prefers-color-scheme
 * emulated, theme "auto"), has zero axe-core violations (WCAG 2.1 A/AA rules), is no wider than the viewport,
 * renders plot text at ≥ 10 px on the phone, and shows a ≥ 2 px focus ring on the drop zone and on buttons when
 * reached with Tab. Screenshots go to test-output/a11y/. Prints how long the whole sweep took.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './support/chromium.js';
import { dataPath, repoRoot } from './support/paths.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

const haveChromium = existsSync(CHROMIUM);
const shots = join(repoRoot, 'test-output/a11y');
const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;
const THEMES = ['light', 'dark'] as const;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

describe('web app: responsive and accessible (axe-core)', {
  skip: haveChromium ? false : `${CHROMIUM} missing`,
}, () => {
  let srv: FixtureServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  before(async () => {
    mkdirSync(shots, { recursive: true });
    srv = await fixtureServer();
    profile = mkdtempSync(join(tmpdir(), 'filterdb-chromium-'));
    context = await launchChromium(profile);
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close();
    await srv?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function go(hash: string): Promise<void> {
    await page.goto(new URL(`/#/${hash}`, srv.url).href);
    await page.waitForSelector('#app[data-ready=true]');
  }

  async function openModel(): Promise<void> {
    await go('');
    await page.click('#models a:text("digits_cnn")');
    await page.waitForSelector('#app[data-ready=true] #layers tbody tr');
    await page.waitForSelector('#filters svg');
  }

  /** Each page state, opened from scratch (so a state never depends on the one before). */
  const STATES: { name: string; open(): Promise<void> }[] = [
    { name: 'models', open: () => go('') },
    {
      name: 'model-probe',
      async open() {
        await openModel();
        await page.click('#probe-synthetic');
        await page.waitForSelector('.probe[data-ready=true] svg', { timeout: 30_000 });
      },
    },
    {
      name: 'layer-detail',
      async open() {
        await openModel();
        await page.locator('#layers tbody tr').nth(2).click();
        await page.waitForSelector('#dialog[open] svg, #layer-view[data-ready=true] svg');
      },
    },
    {
      name: 'compare',
      async open() {
        await go('compare');
        await page.waitForSelector('#compare-result figure.drift svg');
        await page.waitForSelector('#compare-result figure.ridges svg');
      },
    },
    {
      name: 'cohorts',
      async open() {
        await go('cohorts');
        await page.waitForSelector('#cohorts-result figure.divergence svg');
      },
    },
    { name: 'drop', open: () => go('drop') },
    {
      name: 'dropped-file',
      async open() {
        await go('drop');
        await page.setInputFiles('#file-input', dataPath('digits_dwsep.onnx'));
        await page.waitForSelector('#drop-result[data-ms] #layers tbody tr', { timeout: 30_000 });
        await page.waitForSelector('#filters svg');
      },
    },
  ];

  async function axeViolations(): Promise<AxeViolation[]> {
    if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_SOURCE });
    return page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: axe is injected as a global script
      const axe = (window as any).axe;
      const r = await axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
        resultTypes: ['violations'],
      });
      return r.violations.map((v: AxeViolation) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
      }));
    });
  }

  /** The smallest on-screen font size (CSS px) of any visible SVG text, with the text it belongs to. */
  function smallestPlotText(): Promise<{ px: number; text: string } | null> {
    return page.evaluate(() => {
      let best: { px: number; text: string } | null = null;
      for (const svg of Array.from(document.querySelectorAll('#app svg')) as SVGSVGElement[]) {
        const box = svg.getBoundingClientRect();
        const vb = svg.viewBox.baseVal;
        if (box.width === 0 || !vb || vb.width === 0) continue;
        const scale = box.width / vb.width;
        for (const t of Array.from(svg.querySelectorAll('text'))) {
          if (!t.textContent?.trim() || t.getClientRects().length === 0) continue;
          const px = Number.parseFloat(getComputedStyle(t).fontSize) * scale;
          if (!best || px < best.px) best = { px, text: t.textContent.trim().slice(0, 40) };
        }
      }
      return best;
    });
  }

  /** Presses Tab until the focused element matches `selector`; returns the outline of the element that shows it. */
  async function tabTo(selector: string, ringOn = selector): Promise<{ width: number; style: string }> {
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) {
        return page.evaluate((s) => {
          const cs = getComputedStyle(document.querySelector(s)!);
          return { width: Number.parseFloat(cs.outlineWidth), style: cs.outlineStyle };
        }, ringOn);
      }
    }
    throw new Error(`Tab never reached ${selector}`);
  }

  it('every page × viewport × theme: axe clean, no wider than the viewport, readable plots, focus rings', async () => {
    const t0 = performance.now();
    const failures: string[] = [];
    let checked = 0;
    for (const vp of VIEWPORTS) {
      await page.setViewportSize({ width: vp.width, height: vp.height });
      for (const state of STATES) {
        await page.emulateMedia({ colorScheme: 'light' });
        await state.open();
        // the theme follows prefers-color-scheme live, so one opened page serves both themes
        for (const theme of THEMES) {
          const where = `${state.name} ${vp.name} ${theme}`;
          await page.emulateMedia({ colorScheme: theme });
          const scheme = await page.evaluate(() => getComputedStyle(document.documentElement).colorScheme);
          assert.equal(scheme, theme, `${where}: the page follows prefers-color-scheme`);
          const violations = await axeViolations();
          for (const v of violations)
            failures.push(
              `${where}: [${v.impact}] ${v.id} — ${v.help}\n${v.nodes.map((n) => `      ${n.target.join(' ')}: ${n.failureSummary?.replace(/\n/g, ' ')}`).join('\n')}`,
            );
          await page.screenshot({
            path: join(shots, `${state.name}-${vp.name}-${theme}.png`),
            fullPage: true,
          });
          checked++;
        }
        const widths = await page.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          inner: window.innerWidth,
        }));
        if (widths.scroll > widths.inner)
          failures.push(
            `${state.name} ${vp.name}: page is ${widths.scroll} px wide in a ${widths.inner} px viewport`,
          );
        if (vp.width < 500) {
          const small = await smallestPlotText();
          if (small && small.px < 10)
            failures.push(
              `${state.name} ${vp.name}: plot text "${small.text}" renders at ${small.px.toFixed(1)} px`,
            );
        }
      }
      // keyboard focus rings: the drop zone (its hidden file input takes the focus) and a button
      await go('drop');
      const zone = await tabTo('#file-input', '#dropzone');
      if (!(zone.width >= 2 && zone.style !== 'none'))
        failures.push(`drop zone focus ring ${vp.name}: ${zone.width}px ${zone.style}`);
      await go('compare');
      const run = await tabTo('#run');
      if (!(run.width >= 2 && run.style !== 'none'))
        failures.push(`button focus ring ${vp.name}: ${run.width}px ${run.style}`);
    }
    process.stderr.write(
      `  a11y sweep: ${checked} page states (${STATES.length} pages × 2 viewports × 2 themes) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  });
});
