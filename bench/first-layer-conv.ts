/**
 * bench/first-layer-conv: the first-layer probe's convolution (src/analysis/first-layer-conv.ts) on a 224×224
 * RGB image through a 64-filter 7×7 stride-2 layer (a ResNet stem, pads 3 → 64×112×112), in Node and in the
 * web app's Web Worker in Debian's headless Chromium (an ONNX file with that layer dropped on the drop page; the
 * normalisation is switched to force a fresh clean convolution each run, the time is the worker's own). Also
 * prints the float32-stored output's largest error against a float64 direct convolution.
 *
 *   node dist/bench/first-layer-conv.js [--runs 7] [--no-browser]
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ConvSpec,
  conv2d,
  NORMALISATIONS,
  normalise,
  pixelsOf,
  syntheticImage,
} from '../src/analysis/first-layer-conv.js';
import { CHROMIUM, launchChromium } from '../test/support/chromium.js';
import { convChain, pseudoRandom, writeOnnx } from '../test/support/onnx-writer.js';
import { fixtureServer } from '../test/support/web-server.js';
import { machineLine } from './machine.js';

const args = process.argv.slice(2);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const runs = Number(value('--runs', '7'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const list = (xs: number[]) =>
  `${xs.map((t) => t.toFixed(0)).join(', ')} ms (median ${median(xs).toFixed(1)} ms)`;

const spec: ConvSpec = {
  shape: [64, 3, 7, 7],
  groups: 1,
  strides: [2, 2],
  dilations: [1, 1],
  padMode: 'explicit',
  pads: [3, 3, 3, 3],
};
const weights = pseudoRandom(64 * 147, 7).map((v) => v * 0.05);
const x = normalise(pixelsOf(syntheticImage(), 3), NORMALISATIONS[1]);

console.log(machineLine());
const wall: number[] = [];
const cpu: number[] = [];
let y = conv2d(x, weights, spec);
for (let i = 0; i < runs; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  y = conv2d(x, weights, spec);
  wall.push(performance.now() - t0);
  cpu.push(process.cpuUsage(c0).user / 1000);
}
console.log(
  `Node ${process.version}: 224×224×3 → ${y.channels}×${y.height}×${y.width} (64 filters 7×7, stride 2)`,
);
console.log(`  wall ${list(wall)}`);
console.log(`  cpu  ${list(cpu)}`);

// precision: float64 accumulation, float32 maps, against a float64 direct convolution
let worst = 0;
let worstRel = 0;
for (let o = 0; o < 64; o++)
  for (let oy = 0; oy < 112; oy++)
    for (let ox = 0; ox < 112; ox++) {
      let s = 0;
      for (let c = 0; c < 3; c++)
        for (let ky = 0; ky < 7; ky++)
          for (let kx = 0; kx < 7; kx++) {
            const iy = oy * 2 - 3 + ky;
            const ix = ox * 2 - 3 + kx;
            if (iy >= 0 && ix >= 0 && iy < 224 && ix < 224)
              s += weights[((o * 3 + c) * 7 + ky) * 7 + kx] * x.data[(c * 224 + iy) * 224 + ix];
          }
      const e = Math.abs(y.data[(o * 112 + oy) * 112 + ox] - s);
      worst = Math.max(worst, e);
      worstRel = Math.max(worstRel, e / Math.max(1e-3, Math.abs(s)));
    }
console.log(
  `  largest error vs float64 direct: ${worst.toExponential(2)} absolute, ${worstRel.toExponential(2)} relative`,
);

if (args.includes('--no-browser') || !existsSync(CHROMIUM)) {
  console.log(
    existsSync(CHROMIUM) ? 'browser skipped (--no-browser)' : `browser skipped: ${CHROMIUM} missing`,
  );
} else {
  const dir = mkdtempSync(join(tmpdir(), 'filterdb-bench-probe-'));
  const model = join(dir, 'stem7x7.onnx');
  const onnx = convChain([
    {
      weight: { name: 'stem.weight', dims: [64, 3, 7, 7], values: weights },
      attrs: { strides: { ints: [2, 2] }, pads: { ints: [3, 3, 3, 3] } },
    },
  ]);
  writeFileSync(model, writeOnnx(onnx).bytes);
  const srv = await fixtureServer();
  const context = await launchChromium(join(dir, 'profile'));
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(new URL('/#/drop', srv.url).href);
    await page.waitForSelector('#app[data-ready=true]');
    await page.setInputFiles('#file-input', model);
    await page.waitForSelector('#probe[data-ready=true] .probe-time', { timeout: 120_000 });
    const clean: number[] = [];
    const delta: number[] = [];
    const norms = ['unit', 'imagenet'];
    for (let i = 0; i < runs; i++) {
      const norm = norms[i % 2];
      await page.selectOption('#probe-norm', norm);
      await page.waitForFunction(
        (label) =>
          document.querySelector('#probe')?.getAttribute('data-ready') === 'true' &&
          document.querySelector('#probe-status')?.textContent?.includes(label),
        norm === 'unit' ? '[0, 1]' : 'ImageNet',
        { timeout: 60_000 },
      );
      clean.push(Number(await page.getAttribute('#probe-slot-0 .probe-time', 'data-ms-clean')));
      delta.push(Number(await page.getAttribute('#probe-slot-0 .probe-time', 'data-ms-delta')));
    }
    console.log('Chromium Web Worker (the web app, a dropped ONNX with that layer):');
    console.log(`  clean convolution       ${list(clean)}`);
    console.log(`  perturbation (+ conv Δ) ${list(delta)}`);
  } finally {
    await context.close();
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
