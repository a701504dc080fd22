/**
 * Every independent shift answer on dataset.h5 (the fixtures' Task and depth, the numpy script's model and
 * Training) reproduced in this process — the store's streamed scan on this thread and the in-memory analysis
 * with its JS binning — and each matrix, diagonal included, recomputed from the answer's own histograms.
 * (test/shift.test.ts covers the CLI, the worker pool and the rest of the command.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { distributionShift } from '../src/analysis/shift.js';
import { storeShift } from '../src/scan/analyses.js';
import { storeBatchSource } from '../src/scan/plan-scanner.js';
import { planSelection, type SelectionPlan } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import {
  assertClose,
  assertMatchesExpected,
  importAnswerDataset,
  matrixFromHistograms,
} from './support/shift-expected.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-shift-fx-'));
const DB = join(tmp, 'fx.duckdb');
after(() => rmSync(tmp, { recursive: true, force: true }));
const GROUPINGS = ['Task', 'depth', 'model', 'Training'];
const plans = new Map<string, SelectionPlan>();

before(async () => {
  await importAnswerDataset(DB);
  const db = await openDb(DB, { readOnly: true });
  try {
    for (const by of GROUPINGS) plans.set(by, await planSelection(db.connection, { by }));
  } finally {
    db.close();
  }
});

for (const by of GROUPINGS) {
  test(`by ${by}: the streamed store scan and the in-memory analysis both match the independent answer to 1e-12`, async () => {
    const plan = plans.get(by)!;
    const store = await storeShift(DB, plan, { workers: 0 });
    assertMatchesExpected(store, by);
    assert.equal(store.filterCount, 8672);
    assertClose(store.matrix, matrixFromHistograms(store), 1e-12, 'matrix from its histograms', 1e-300);
    const mem = await distributionShift(storeBatchSource(DB, plan), by);
    assertMatchesExpected(mem, by);
    assertClose(mem.matrix, matrixFromHistograms(mem), 1e-12, 'matrix from its histograms', 1e-300);
  });
}
