/**
 * src/metrics/random.ts: the seeded generator the tests and benchmarks build their random layers from gives
 * mulberry32's sequence, checked against test/data/random/make_mulberry32.py (the algorithm written
 * independently with Python integers mod 2^32).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mulberry32 } from '../src/metrics/random.js';
import { dataPath } from './support/paths.js';

const { cases } = JSON.parse(readFileSync(dataPath('random/mulberry32.json'), 'utf8')) as {
  cases: { seed: number; values: number[] }[];
};

test('mulberry32: the first six values of each seed equal the Python reference exactly (seeds wrap mod 2^32)', () => {
  assert.ok(cases.length >= 6);
  for (const { seed, values } of cases) {
    const next = mulberry32(seed);
    assert.deepEqual(
      values.map(() => next()),
      values,
      `seed ${seed}`,
    );
  }
});

test('mulberry32: two generators with the same seed are independent and agree; values lie in [0, 1)', () => {
  const a = mulberry32(7);
  const b = mulberry32(7);
  const first = [a(), a(), a()];
  assert.deepEqual([b(), b(), b()], first);
  const c = mulberry32(7);
  for (let i = 0; i < 1000; i++) {
    const x = c();
    assert.ok(x >= 0 && x < 1, `${x}`);
  }
});
