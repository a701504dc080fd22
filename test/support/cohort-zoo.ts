/**
 * The model zoo of the cohort tests (`filterdb cohorts`): variants of the trained digits_cnn written as
 * safetensors files, with a meta.csv of `Training` and `Robust Accuracy`. Deterministic, so the Python
 * reference (test/data/cohorts/make_expected.py) reads the same files: `node dist/test/support/cohort-zoo.js DIR`
 * writes them.
 *
 * - digits_cnn: the real fixture (normal);
 * - normal_b: its weights with 5 % multiplicative noise (normal);
 * - adv_a, adv_b: "adversarial-like" — noise of 0.3–0.5 of each layer's std added (denser, more diverse
 *   filters); adv_b also has a 5x5 conv between conv3 and conv4 (depth counts every conv; only 3x3 enter);
 * - pruned: 40 % of the filters zeroed, conv4 entirely zero (every filter sparse), and a 7th conv with one
 *   output channel (no orthogonality) — 7 layers give depth bins the 6-layer models lack;
 * - pointwise: 1x1 convs only (a model without 3x3 layers);
 * - unlabeled: a small random model with no Training value (the `(none)` cohort) and no Robust Accuracy.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataPath } from './paths.js';
import { writeSafetensors } from './safetensors-writer.js';
import { gaussian, rng } from './synthetic-zoo.js';

interface Tensor {
  name: string;
  shape: number[];
  data: Float32Array<ArrayBuffer>;
}

/** The 4-D conv weights of digits_cnn.safetensors, in file order. */
export function digitsConvs(): Tensor[] {
  const buf = readFileSync(dataPath('digits_cnn.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  return Object.entries(header)
    .filter(([k, v]) => k !== '__metadata__' && v.shape.length === 4 && k.endsWith('weight'))
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])
    .map(([name, v]) => {
      const [lo, hi] = v.data_offsets;
      const bytes = buf.subarray(8 + n + lo, 8 + n + hi);
      return {
        name,
        shape: v.shape,
        data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
      };
    });
}

function std(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v;
  const m = s / a.length;
  let q = 0;
  for (const v of a) q += (v - m) * (v - m);
  return Math.sqrt(q / a.length);
}

function noisy(t: Tensor, f: (v: number, sd: number) => number): Tensor {
  const sd = std(t.data);
  return { ...t, data: Float32Array.from(t.data, (v) => f(v, sd)) };
}

function randomTensor(name: string, shape: number[], r: () => number, scale = 0.2): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { name, shape, data: Float32Array.from({ length: size }, () => scale * gaussian(r)) };
}

export const COHORT_META = `model,Training,Robust Accuracy
digits_cnn,normal,1.4
normal_b,normal,3
adv_a,adversarial,79.4
adv_b,adversarial,61.2
pruned,pruned,3
pointwise,pruned,5.5
unlabeled,,
`;

/** Writes the zoo into `dir` (created); returns the model files and the meta.csv path. */
export function writeCohortZoo(dir: string): { files: string[]; meta: string } {
  mkdirSync(dir, { recursive: true });
  const base = digitsConvs();
  const models: Record<string, Tensor[]> = {};
  const r1 = rng(1301);
  models.normal_b = base.map((t) => noisy(t, (v) => v * (1 + 0.05 * gaussian(r1))));
  const r2 = rng(1302);
  models.adv_a = base.map((t) => noisy(t, (v, sd) => v + 0.5 * sd * gaussian(r2)));
  const r3 = rng(1303);
  const advB = base.map((t) => noisy(t, (v, sd) => v + 0.3 * sd * gaussian(r3)));
  advB.splice(3, 0, randomTensor('features.conv3b.weight', [16, 32, 5, 5], r3, 0.1));
  models.adv_b = advB;
  const r4 = rng(1304);
  const pruned = base.map((t, li) => {
    const data = Float32Array.from(t.data);
    const filters = data.length / 9;
    for (let f = 0; f < filters; f++) if (li === 3 || r4() < 0.4) data.fill(0, f * 9, f * 9 + 9); // conv4: every filter zero
    return { ...t, data };
  });
  pruned.push(randomTensor('features.conv7.weight', [1, 32, 3, 3], r4, 0.15));
  models.pruned = pruned;
  const r5 = rng(1305);
  models.pointwise = [
    randomTensor('pw1.weight', [8, 4, 1, 1], r5),
    randomTensor('pw2.weight', [8, 8, 1, 1], r5),
  ];
  const r6 = rng(1306);
  models.unlabeled = [
    [8, 3],
    [8, 8],
    [8, 8],
    [8, 8],
    [8, 8],
    [4, 8],
  ].map(([o, i], k) => randomTensor(`c${k + 1}.weight`, [o, i, 3, 3], r6));
  const files = [join(dir, 'digits_cnn.safetensors')];
  writeFileSync(files[0], readFileSync(dataPath('digits_cnn.safetensors')));
  for (const [name, tensors] of Object.entries(models)) {
    const file = join(dir, `${name}.safetensors`);
    writeSafetensors(file, tensors);
    files.push(file);
  }
  const meta = join(dir, 'meta.csv');
  writeFileSync(meta, COHORT_META);
  return { files, meta };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node dist/test/support/cohort-zoo.js DIR');
  console.log(writeCohortZoo(dir).files.join('\n'));
}
