/**
 * The kernel atlas's size-aware chance level on 3x3 against numpy (test/data/kernel-atlas/atlas_reference.json):
 * the seeded chance scores with the quantile clamped to [0, 1], the effective threshold, and the labels of the
 * reference's 3x3 kernels under the default thresholds, where the chance score (0.918) is the limit. Kept to 3x3
 * (1000 draws per size and quantile) so that it stays fast.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chanceScore, classifyLayer, effectiveThreshold, modelAtlas } from '../src/analysis/kernel-atlas.js';
import { checkCase, close, ref } from './support/atlas-reference.js';

const chance3 = (q: number) => ref.chance.find((c) => c.k === 3 && c.quantile === q)!.score;

test('3x3 chance scores equal numpy at q = 0.9, and at q = 1.5 and −0.5 clamped to the maximum and minimum', () => {
  close(chanceScore(3, 0.9), chance3(0.9), 1e-12, 'q 0.9');
  close(chanceScore(3, 1.5), chance3(1), 1e-12, 'q 1.5');
  close(chanceScore(3, -0.5), chance3(0), 1e-12, 'q −0.5');
  assert.ok(chance3(0) < chance3(0.9) && chance3(0.9) < chance3(1));
  assert.equal(chanceScore(3, 0.9), chanceScore(3, 0.9), 'seeded: the same value every call');
});

test('effective threshold on 3x3: the larger of the floor and the chance score', () => {
  close(effectiveThreshold(3), chance3(0.9), 1e-12, 'defaults: the chance score rules');
  assert.equal(
    effectiveThreshold(3, { threshold: 0.95, margin: 0, chance: 0.9 }),
    0.95,
    'a higher floor rules',
  );
  // no chance level (0 or absent) means none at all, not the lowest chance score (0.45 at q = 0)
  assert.ok(chance3(0) > 0.3);
  assert.equal(effectiveThreshold(3, { threshold: 0.3, margin: 0, chance: 0 }), 0.3, 'chance 0');
  assert.equal(effectiveThreshold(3, { threshold: 0.3, margin: 0 }), 0.3, 'chance absent');
  close(classifyLayer([], [0, 1, 3, 3]).threshold, chance3(0.9), 1e-12, 'a layer');
  const stored = modelAtlas([{ layer: 's', shape: [0, 1, 3, 3], convDepthNorm: 0, kernels: [] }]);
  close(stored.layers[0].threshold, chance3(0.9), 1e-12, 'stored labels');
});

test('3x3 reference kernels under the default thresholds: labels equal numpy field by field', () => {
  const cases = ref.cases.filter((c) => c.k === 3 && c.thresholds === null);
  assert.ok(cases.length > 30);
  let unclassifiedByChance = 0;
  for (const c of cases) {
    checkCase(c, undefined);
    const e = c.expected;
    if (e.label === 'unclassified' && e.score >= 0.75 && e.margin >= 0.01) unclassifiedByChance++;
  }
  // some kernels pass the floor 0.75 and are unclassified only by the chance level
  assert.ok(unclassifiedByChance > 0, `${unclassifiedByChance}`);
});
