/**
 * The independent distribution-shift answers on test/data/dataset.h5 and the tolerance the README claims:
 * dataset.shift.{Task,depth}.json (the fixtures' oracle) and dataset.shift.groupings.json (model, Training,
 * layer-kind; test/data/make_dataset_expected.py).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openDb } from '../../src/store/db.js';
import { importDatasetH5 } from '../../src/store/import-h5.js';
import { dataPath } from './paths.js';

export interface ShiftAnswer {
  groups: string[];
  counts: number[];
  matrix: number[][];
  explainedVarianceRatio: number[];
  components: number[][];
  range: number[];
}

const groupings = JSON.parse(readFileSync(dataPath('dataset.shift.groupings.json'), 'utf8')) as Record<
  string,
  ShiftAnswer
>;

/** The expected answer of a grouping (`Task`, `depth`, `model`, `Training` or `layer-kind`). */
export function expectedShift(by: string): ShiftAnswer {
  if (by in groupings && by !== 'generator' && by !== 'bins') return groupings[by];
  const e = JSON.parse(readFileSync(dataPath(`dataset.shift.${by}.json`), 'utf8'));
  return { ...e, counts: e.groupFilterCounts };
}

/** |a − w| ≤ rel · max(|w|, floor) entry by entry. */
export function assertClose(
  actual: number[][] | number[],
  wanted: number[][] | number[],
  rel: number,
  what: string,
  floor = 1e-12,
): void {
  const a = actual.flat();
  const w = wanted.flat();
  assert.equal(a.length, w.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const tol = rel * Math.max(Math.abs(w[i]), floor);
    assert.ok(Math.abs(a[i] - w[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${w[i]}`);
  }
}

/**
 * The README's claim: groups and counts exact, matrices, EVR and range to 1e-12 relative, components (unit
 * vectors) to 1e-12 absolute.
 */
export function assertMatchesExpected(r: ShiftAnswer, by: string): void {
  const e = expectedShift(by);
  assert.deepEqual(r.groups, e.groups);
  assert.deepEqual(r.counts, e.counts);
  assertClose(r.matrix, e.matrix, 1e-12, `${by} matrix`);
  assertClose(r.explainedVarianceRatio, e.explainedVarianceRatio, 1e-12, `${by} evr`);
  assertClose(r.components, e.components, 1e-12, `${by} components`, 1);
  assertClose(r.range, e.range, 1e-12, `${by} range`);
}

/** Σᵢ evrᵢ·(KL(Pᵢ‖Qᵢ) + KL(Qᵢ‖Pᵢ)) of every pair, diagonal included, from an answer's own histograms. */
export function matrixFromHistograms(r: {
  histograms?: number[][][];
  explainedVarianceRatio: number[];
}): number[][] {
  const h = r.histograms!;
  const kl = (p: number[], q: number[]) => p.reduce((s, v, b) => s + v * Math.log(v / q[b]), 0);
  return h.map((p) =>
    h.map((q) => r.explainedVarianceRatio.reduce((s, w, i) => s + w * (kl(p[i], q[i]) + kl(q[i], p[i])), 0)),
  );
}

/**
 * A database of dataset.h5 as the answers assume it: imported without metrics, and digits_denoiser without a
 * Training value (a NULL grouping value: its filters form the "(none)" group).
 */
export async function importAnswerDataset(path: string): Promise<void> {
  const db = await openDb(path);
  try {
    await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics: true });
    await db.connection.run(
      "DELETE FROM model_meta WHERE key = 'Training' AND model_id = (SELECT model_id FROM models WHERE name = 'digits_denoiser')",
    );
  } finally {
    db.close();
  }
}
