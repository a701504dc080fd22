/**
 * A deterministic synthetic filter zoo for report tests and screenshots: models with metadata, layers over
 * depth, and 3×3 filters mixed from a few base shapes whose weights depend on the metadata (so groupings
 * really drift).
 */
import { depthDecile } from '../../src/analysis/groups.js';
import type { BatchSource } from '../../src/analysis/shift.js';
import type { ZooGrouping, ZooModel } from '../../src/report/zoo-report.js';
import { mulberry32 as rng } from './random.js';

export { rng };

export function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

const SHAPES = [
  [0.2, 0.5, 0.2, 0.5, 1, 0.5, 0.2, 0.5, 0.2], // centre blob
  [1, 1, 1, 0, 0, 0, -1, -1, -1], // horizontal edge
  [1, 0, -1, 1, 0, -1, 1, 0, -1], // vertical edge
  [0, 1, 1, -1, 0, 1, -1, -1, 0], // diagonal
  [-0.5, -0.5, -0.5, -0.5, 1, -0.5, -0.5, -0.5, -0.5], // centre-surround
];

export interface SyntheticModel {
  model: ZooModel;
  seed: number;
  layers: { depthNorm: number; count: number }[];
  style: number[];
  noise: number;
}

const TASKS = ['Classification', 'Segmentation', 'Detection', 'Denoising'];
const CATEGORIES = ['natural', 'medical', 'handwriting', 'remote sensing'];

export function syntheticZoo(modelCount = 12, options: { hostile?: boolean } = {}): SyntheticModel[] {
  const out: SyntheticModel[] = [];
  for (let m = 0; m < modelCount; m++) {
    const r = rng(1000 + m);
    const task = TASKS[m % TASKS.length];
    const training = m % 3 === 2 ? 'adversarial' : 'normal';
    const category =
      options.hostile && m === 0
        ? '<script>alert("x")</script>'
        : CATEGORIES[Math.floor(m / 2) % CATEGORIES.length];
    const depth = 6 + (m % 4);
    const layers = Array.from({ length: depth }, (_, i) => ({
      depthNorm: i / (depth - 1),
      count: 32 * (1 + Math.floor(i / 2)),
    }));
    const t = TASKS.indexOf(task);
    const style = SHAPES.map(
      (_, k) => 0.4 + (k === t ? 1.1 : 0) + (k === 4 && task === 'Denoising' ? 0.8 : 0) + 0.2 * r(),
    );
    out.push({
      model: {
        name: `model_${String(m).padStart(2, '0')}_${task.toLowerCase()}`,
        format: m % 2 ? 'onnx' : 'pytorch',
        layers: depth,
        filters: layers.reduce((s, l) => s + l.count, 0),
        degenerated: m % 5 === 0 ? 1 : 0,
        meta: { Task: task, Training: training, 'Visual Category': category },
      },
      seed: 7 + m * 101,
      layers,
      style,
      noise: training === 'adversarial' ? 0.12 : 0.45,
    });
  }
  return out;
}

/** Batches of one layer's filters (deterministic, regenerated on every pass). */
export function layerFilters(m: SyntheticModel, li: number): Float32Array {
  const layer = m.layers[li];
  const r = rng(m.seed + li * 7919);
  const f = new Float32Array(layer.count * 9);
  const depthNoise = m.noise * (0.6 + layer.depthNorm);
  for (let i = 0; i < layer.count; i++) {
    const a = m.style.map((s) => gaussian(r) * s * (1 - 0.5 * layer.depthNorm));
    for (let j = 0; j < 9; j++) {
      let v = 0;
      for (let k = 0; k < SHAPES.length; k++) v += a[k] * SHAPES[k][j];
      f[i * 9 + j] = 0.1 * (v + gaussian(r) * depthNoise);
    }
  }
  return f;
}

export function syntheticSource(
  zoo: SyntheticModel[],
  groupOf: (m: SyntheticModel, depthNorm: number) => string,
): BatchSource {
  return async function* () {
    for (const m of zoo) {
      for (let li = 0; li < m.layers.length; li++) {
        yield {
          group: groupOf(m, m.layers[li].depthNorm),
          filters: layerFilters(m, li),
          count: m.layers[li].count,
        };
      }
    }
  };
}

export function syntheticGroupings(
  zoo: SyntheticModel[],
  columns = ['Task', 'Training', 'Visual Category'],
): ZooGrouping[] {
  return [
    ...columns.map((c) => ({
      by: c,
      source: syntheticSource(zoo, (m) => String(m.model.meta?.[c] ?? '(none)')),
    })),
    { by: 'depth', source: syntheticSource(zoo, (_m, d) => depthDecile(d) ?? '(none)') },
  ];
}
