/**
 * Browser-test setup shared by the web app's test files: Debian's Chromium through playwright-core with a
 * throw-away profile, a page that records console errors, hash navigation that waits for the page to be
 * ready, dropping a model file on the drop page, and a download's bytes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Download, Page } from 'playwright-core';
import { DEFAULT_WEB_ROOT } from '../../src/server/server.js';
import { CHROMIUM, launchChromium } from './chromium.js';

export const haveChromium = existsSync(CHROMIUM);

/** Says loudly (once per file) that the browser tests are skipped, and why. */
export function warnNoChromium(): void {
  if (haveChromium) return;
  process.stderr.write(
    `\n${'!'.repeat(78)}\n!! SKIPPING the browser tests: ${CHROMIUM} is missing.\n` +
      '!! Install it with: apt-get update && apt-get install -y chromium   (.ci/run does this in CI)\n' +
      `${'!'.repeat(78)}\n\n`,
  );
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** The throw-away profile folder (removed by close). */
  profile: string;
  /** Console errors and uncaught page errors seen so far. */
  consoleErrors: string[];
  /** Loads `#/<hash>` of the app at `base` and waits until the page has rendered ({@link goHash}). */
  go(base: string, hash: string): Promise<void>;
  close(): Promise<void>;
}

/** Chromium on a fresh profile; fails when the web app is not built. */
export async function openBrowser(): Promise<TestBrowser> {
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
    profile,
    consoleErrors,
    go: (base, hash) => goHash(page, base, hash),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens `#/<hash>` of the app at `base` and waits until the page has rendered. */
export async function goHash(page: Page, base: string, hash: string): Promise<void> {
  await page.goto(new URL(`/#/${hash}`, base).href);
  await page.waitForSelector('#app[data-ready=true]');
}

/** Drops `file` on a freshly loaded drop page (new worker: cold start included) and waits for the result. */
export async function dropFile(
  page: Page,
  baseUrl: string,
  file: string,
): Promise<{ wallMs: number; appMs: number }> {
  await page.goto('about:blank');
  await goHash(page, baseUrl, 'drop');
  const t0 = performance.now();
  await page.setInputFiles('#file-input', file);
  await page.waitForSelector('#drop-result[data-ms] #layers tbody tr', { timeout: 30_000 });
  const wallMs = performance.now() - t0;
  const appMs = Number(await page.getAttribute('#drop-result', 'data-ms'));
  return { wallMs, appMs };
}

/** The bytes of a finished download. */
export async function downloadBytes(d: Download): Promise<Buffer> {
  const stream = await d.createReadStream();
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Clicks `selector` and returns the download it starts: its suggested name and bytes. */
export async function clickDownload(page: Page, selector: string): Promise<{ name: string; bytes: Buffer }> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: d.suggestedFilename(), bytes: await downloadBytes(d) };
}
