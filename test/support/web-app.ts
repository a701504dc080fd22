/**
 * Test helper for the browser tests of the web app: a headless Chromium (support/chromium.ts) with a throw-away
 * profile and the console errors collected, and the two moves every page test makes — open a page of the app
 * and drop a model file on the drop page.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { DEFAULT_WEB_ROOT } from '../../src/server/server.js';
import { launchChromium } from './chromium.js';

export interface AppBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors, in order. */
  consoleErrors: string[];
  close(): Promise<void>;
}

/** Chromium on a fresh profile; fails when the web app is not built. */
export async function openAppBrowser(): Promise<AppBrowser> {
  assert.ok(
    existsSync(join(DEFAULT_WEB_ROOT, 'index.html')),
    `the web app is not built (${DEFAULT_WEB_ROOT}); run npm run build`,
  );
  const profile = mkdtempSync(join(tmpdir(), 'filterdb-chromium-'));
  const context = await launchChromium(profile);
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  return {
    context,
    page,
    consoleErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens `#/hash` of the app served at `baseUrl` and waits until the page has rendered. */
export async function goTo(page: Page, baseUrl: string, hash: string): Promise<void> {
  await page.goto(new URL(`/#/${hash}`, baseUrl).href);
  await page.waitForSelector('#app[data-ready=true]');
}

/** Drops `file` on a freshly loaded drop page (new worker: cold start included) and waits for the result. */
export async function dropFile(
  page: Page,
  baseUrl: string,
  file: string,
): Promise<{ wallMs: number; appMs: number }> {
  await page.goto('about:blank');
  await goTo(page, baseUrl, 'drop');
  const t0 = performance.now();
  await page.setInputFiles('#file-input', file);
  await page.waitForSelector('#drop-result[data-ms] #layers tbody tr', { timeout: 30_000 });
  const wallMs = performance.now() - t0;
  const appMs = Number(await page.getAttribute('#drop-result', 'data-ms'));
  return { wallMs, appMs };
}
