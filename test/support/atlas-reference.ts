/** The numpy reference of the kernel atlas (test/data/kernel-atlas/atlas_reference.json) and its field checks. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  type AtlasThresholds,
  classifyKernel,
  type KernelClass,
  type KernelLabel,
} from '../../src/analysis/kernel-atlas.js';
import { dataPath } from './paths.js';

export interface RefCase {
  name: string;
  k: number;
  layerMaxAbs: number;
  /** Null: the defaults. */
  thresholds: AtlasThresholds | null;
  kernel: number[];
  /** `limit`: the score numpy required, max(threshold, chance score). */
  expected: Omit<KernelClass, 'label'> & { label: KernelLabel; limit?: number };
}

interface Reference {
  sigmaGrid: Record<string, number[]>;
  bank: Record<string, { singles: number; spans: number; byFamily: Record<string, number> }>;
  chance: { k: number; quantile: number; score: number }[];
  prototypes: {
    label: KernelLabel;
    k: number;
    sigma: number;
    theta: number;
    shift: [number, number];
    kernel: number[] | null;
  }[];
  cases: RefCase[];
}

export const ref = JSON.parse(
  readFileSync(dataPath('kernel-atlas/atlas_reference.json'), 'utf8'),
) as Reference;

export function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs numpy ${expected}`);
}

/** Classifies a reference case under `thresholds` and checks every field against numpy's. */
export function checkCase(c: RefCase, thresholds: AtlasThresholds | undefined): void {
  const got = classifyKernel(c.kernel, c.k, c.layerMaxAbs, thresholds);
  const e = c.expected;
  const what = `${c.name}: ${JSON.stringify(got)}`;
  assert.equal(got.label, e.label, what);
  assert.equal(got.polarity, e.polarity, what);
  assert.equal(got.family, e.family, what);
  assert.equal(got.sigma, e.sigma, what);
  assert.deepEqual(got.shift, e.shift, what);
  close(got.score, e.score, 1e-12, `${what} score`);
  close(got.margin, e.margin, 1e-12, `${what} margin`);
  if (e.theta === null) assert.equal(got.theta, null, what);
  else {
    assert.ok(got.theta !== null, what);
    close(got.theta, e.theta, 1e-6, `${what} θ`);
    // θ is rounded to 1e-6 degrees
    close(got.theta * 1e6, Math.round(e.theta * 1e6), 1e-6, `${what} θ rounding`);
  }
}
