/** Depthwise kernel atlas: synthetic a·p + b + noise kernels are labelled as built; rotation; flat; random. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  chanceScore,
  classifyKernel,
  classifyLayer,
  effectiveThreshold,
  type KernelLabel,
  modelAtlas,
} from '../src/analysis/kernel-atlas.js';
import { runCli } from './support/cli.js';
import { modulePath } from './support/paths.js';
import { mulberry32 } from './support/random.js';

type Field = (x: number, y: number) => number;

/** A k×k kernel a·p + b + noise·‖p‖/k (seeded), p given on centred coordinates (x: column, y: row). */
function build(k: number, p: Field, a: number, b: number, noise: number, seed: number): number[] {
  const r = (k - 1) / 2;
  const rand = mulberry32(seed);
  const v: number[] = [];
  for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) v.push(p(x - r, y - r));
  const norm = Math.sqrt(v.reduce((s, t) => s + t * t, 0));
  return v.map((t) => a * t + b + a * noise * (norm / k) * (rand() * 2 - 1) * Math.sqrt(3));
}

const gauss =
  (s: number, cx = 0, cy = 0): Field =>
  (x, y) =>
    Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));

function edge(s: number, deg: number, cx = 0, cy = 0): Field {
  const t = (deg * Math.PI) / 180;
  return (x, y) => (Math.cos(t) * (x - cx) + Math.sin(t) * (y - cy)) * gauss(s, cx, cy)(x, y);
}

/** Bright ridge across direction deg: −∂²g/∂n². */
function line(s: number, deg: number): Field {
  const t = (deg * Math.PI) / 180;
  return (x, y) => {
    const n = Math.cos(t) * x + Math.sin(t) * y;
    return -((n * n) / (s * s) - 1) * gauss(s)(x, y);
  };
}

function saddle(s: number, deg: number): Field {
  const t = (deg * Math.PI) / 180;
  return (x, y) => {
    const u = Math.cos(t) * x + Math.sin(t) * y;
    const v = -Math.sin(t) * x + Math.cos(t) * y;
    return (u * u - v * v) * gauss(s)(x, y);
  };
}

function dog(s: number): Field {
  return (x, y) =>
    gauss(s)(x, y) / (2 * Math.PI * s * s) - gauss(1.6 * s)(x, y) / (2 * Math.PI * 2.56 * s * s);
}

/** p minus its mean over the k×k grid (a centre-surround pattern with no DC). */
function zeroMean(k: number, p: Field): Field {
  const r = (k - 1) / 2;
  let m = 0;
  for (let y = -r; y <= r; y++) for (let x = -r; x <= r; x++) m += p(x, y);
  m /= k * k;
  return (x, y) => p(x, y) - m;
}

function angleDiff(a: number, b: number, period: number): number {
  const d = (((a - b) % period) + period) % period;
  return Math.min(d, period - d);
}

test('synthetic a·p + b + noise kernels of every family, size and orientation are labelled as built', () => {
  let seed = 1;
  for (const k of [3, 5, 7]) {
    const s = k === 3 ? 0.75 : 1;
    const cases: [string, Field, KernelLabel, 'on' | 'off' | null, number | null, number][] = [];
    for (const deg of [0, 90, 180, 270]) cases.push([`edge ${deg}`, edge(s, deg), 'edge', null, deg, 360]);
    cases.push(['edge half-shifted', edge(s, 0, 0.5, 0), 'edge', null, null, 360]);
    for (const deg of [0, 45, 90, 135]) cases.push([`line ${deg}`, line(s, deg), 'line', 'on', deg, 180]);
    // on 3x3 the saddle's orientation is resolved at 0° and 45° only (the grid is too coarse for 30°)
    for (const deg of k === 3 ? [0, 45] : [0, 30, 45])
      cases.push([`saddle ${deg}`, saddle(s, deg), 'saddle', null, deg, 90]);
    cases.push(['blob', gauss(s), 'blob', 'on', null, 0]);
    cases.push(['centre-surround', zeroMean(k, dog(s)), 'centre-surround', 'on', null, 0]);
    for (const [name, p, label, polarity, theta, period] of cases) {
      for (const [a, b] of [
        [1.5, 0.2],
        [-0.7, -0.1],
      ]) {
        // blob vs centre-surround is the DC fraction: those two are built without an offset
        const offset = label === 'blob' || label === 'centre-surround' ? 0 : b;
        const kernel = build(k, p, a, offset, 0.03, seed++);
        const c = classifyKernel(kernel, k, Math.max(...kernel.map(Math.abs)));
        const what = `${k}x${k} ${name} a=${a}`;
        if (label === 'edge' && a < 0 && theta !== null) {
          assert.equal(c.label, 'edge', what);
          assert.ok(angleDiff(c.theta!, theta + 180, 360) < 8, `${what}: θ ${c.theta}`);
          continue;
        }
        assert.equal(
          c.label,
          label,
          `${what}: got ${c.label} (family ${c.family}, score ${c.score}, margin ${c.margin})`,
        );
        if (polarity) assert.equal(c.polarity, a > 0 ? polarity : polarity === 'on' ? 'off' : 'on', what);
        if (theta !== null && label !== 'line')
          assert.ok(angleDiff(c.theta!, theta, period) < 8, `${what}: θ ${c.theta}`);
        if (label === 'line') assert.ok(angleDiff(c.theta!, theta!, period) <= 15, `${what}: θ ${c.theta}`);
      }
    }
  }
});

test('3x3: a half-pixel-shifted derivative is found as shifted', () => {
  const kernel = build(3, edge(0.75, 0, 0.5, 0), 1, 0, 0, 3);
  const c = classifyKernel(kernel, 3, 1);
  assert.equal(c.label, 'edge');
  assert.deepEqual(c.shift, [0.5, 0]);
  assert.ok(c.score > 0.999);
});

test('rotating a kernel by 90° turns gx into gy', () => {
  const k = 5;
  const gx = build(k, edge(1, 0), 1, 0.3, 0.02, 7);
  // rotate: new[y][x] = old[k-1-x][y] maps +x to +y
  const rot = gx.map((_, i) => {
    const y = Math.floor(i / k);
    const x = i % k;
    return gx[(k - 1 - x) * k + y];
  });
  const a = classifyKernel(gx, k, 1);
  const b = classifyKernel(rot, k, 1);
  assert.equal(a.label, 'edge');
  assert.equal(b.label, 'edge');
  assert.ok(angleDiff(a.theta!, 0, 360) < 3, `gx θ ${a.theta}`);
  assert.ok(angleDiff(b.theta!, 90, 360) < 3, `rotated θ ${b.theta}`);
});

test('flat kernels: ‖K − mean‖ below 1% of the layer max is flat, whatever the offset', () => {
  const rand = mulberry32(5);
  const layer: number[] = [];
  for (let c = 0; c < 8; c++) for (let i = 0; i < 9; i++) layer.push(c === 0 ? 1 : 0.3 + 0.001 * rand());
  const atlas = classifyLayer(layer, [8, 1, 3, 3]);
  assert.equal(atlas.kernels[0].label, 'flat');
  assert.ok(atlas.kernels.slice(1).every((x) => x.label === 'flat'));
  assert.equal(atlas.shares.flat, 1);
});

test('random-init layers come out mostly unclassified', () => {
  const rand = mulberry32(11);
  for (const [k, most] of [
    [3, 0.14],
    [5, 0.05],
    [7, 0.05],
  ]) {
    const n = 400;
    const w = Float64Array.from({ length: n * k * k }, () => {
      const u = Math.max(rand(), 1e-300);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    });
    const atlas = classifyLayer(w, [n, 1, k, k]);
    const labelled = 1 - atlas.shares.unclassified - atlas.shares.flat;
    assert.ok(labelled < most, `${k}x${k}: ${labelled} labelled`);
  }
});

test('the threshold is size-aware: the chance score falls with k, so a noisy 5x5 edge is labelled', () => {
  const [c3, c5, c7] = [3, 5, 7].map((k) => chanceScore(k, 0.9));
  assert.ok(c3 > 0.85 && c3 < 0.97, `3x3 chance ${c3}`);
  assert.ok(c5 < c3 - 0.15 && c7 < c5, `chance ${c3} ${c5} ${c7}`);
  assert.equal(chanceScore(3, 0.9), c3, 'seeded: the same value every call');
  // 3x3: the chance score rules; 5x5: the fit floor T does
  assert.equal(effectiveThreshold(3), c3);
  assert.equal(effectiveThreshold(5), 0.75);
  assert.equal(effectiveThreshold(3, { threshold: 0.6, margin: 0, chance: 0 }), 0.6);
  for (const seed of [2, 3]) {
    const kernel = build(5, edge(1, 0), 1, 0.1, 0.9, seed);
    const c = classifyKernel(kernel, 5, 1);
    assert.ok(c.score > 0.75 && c.score < 0.9, `score ${c.score}`);
    assert.equal(c.label, 'edge');
    assert.equal(classifyKernel(kernel, 5, 1, { threshold: 0.9, margin: 0.01 }).label, 'unclassified');
  }
});

test('model atlas: shares per layer, per depth bin (in depth order) and per model add up', () => {
  const g = build(3, gauss(0.75), 1, 0, 0, 1);
  const e = build(3, edge(0.75, 0), 1, 0, 0, 1);
  const m = modelAtlas([
    { layer: 'deep', shape: [2, 1, 3, 3], convDepthNorm: 0.95, weight: [...g, ...e] },
    { layer: 'shallow', shape: [1, 1, 3, 3], convDepthNorm: 0, weight: g },
  ]);
  assert.equal(m.kernelCount, 3);
  assert.deepEqual(
    m.byDepth.map((b) => b.bin),
    ['[0.0, 0.1]', '(0.9, 1.0]'],
  );
  assert.equal(m.shares.blob, 2 / 3);
  assert.equal(m.shares.edge, 1 / 3);
  assert.equal(m.layers[0].shares.edge, 0.5);
});

test('kernels CLI on a real MobileNet-style model: every depthwise kernel labelled, shares sum to 1', () => {
  const file = modulePath('@mediapipe/face_detection/face_detection_short_range.tflite');
  const r = runCli(['kernels', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    models: { kernelCount: number; shares: Record<string, number>; layers: { kernels: unknown[] }[] }[];
  };
  const m = out.models[0];
  assert.ok(m.layers.length > 0);
  assert.equal(
    m.kernelCount,
    m.layers.reduce((s, l) => s + l.kernels.length, 0),
  );
  const total = Object.values(m.shares).reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(total - 1) < 1e-9);
  // trained kernels are far from random: a real share is labelled
  assert.ok(m.shares.unclassified < 0.9, JSON.stringify(m.shares));
  const text = runCli(['kernels', file]);
  assert.match(text.stdout, /depthwise layers/);
  assert.equal(runCli(['kernels', file, '--threshold', '2']).code, 2);
});

test('kernels --db: depthwise layers rebuilt from stored filters give the file labels', () => {
  const file = modulePath('@mediapipe/face_detection/face_detection_short_range.tflite');
  const dir = mkdtempSync(join(tmpdir(), 'fdb-kernels-'));
  try {
    const db = join(dir, 'z.duckdb');
    assert.equal(runCli(['ingest', file, '--db', db]).code, 0);
    const fromDb = runCli(['kernels', '--db', db, '--json']);
    assert.equal(fromDb.code, 0, fromDb.stderr);
    const fromFile = runCli(['kernels', file, '--json']);
    type Out = { models: { layers: { kernels: { label: string }[] }[] }[] };
    const labels = (o: Out) => o.models[0].layers.flatMap((l) => l.kernels.map((k) => k.label));
    const a = labels(JSON.parse(fromDb.stdout) as Out);
    assert.equal(a.length, 978);
    assert.deepEqual(a, labels(JSON.parse(fromFile.stdout) as Out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
