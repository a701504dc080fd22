/** The web app in Debian's headless Chromium: a throw-away profile, console errors collected, hash routes. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';

export interface AppBrowser {
  context: BrowserContext;
  page: Page;
  /** The profile folder (removed by close); tests may keep scratch files in it. */
  profile: string;
  /** Console errors and uncaught page errors seen so far. */
  consoleErrors: string[];
  /** Loads `#/<hash>` of the app at `base` and waits until the page says it is ready. */
  go(base: string, hash: string): Promise<void>;
  close(): Promise<void>;
}

export async function openAppBrowser(): Promise<AppBrowser> {
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
    async go(base, hash) {
      await page.goto(new URL(`/#/${hash}`, base).href);
      await page.waitForSelector('#app[data-ready=true]');
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
