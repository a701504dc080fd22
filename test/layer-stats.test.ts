/** Per-layer sufficient statistics: computed at ingest/import, independent of how the filters were split, equal to the scan's. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LayerStatsBuilder, layerStats } from '../src/analysis/layer-stats.js';
import { batchMoments, peakScale } from '../src/analysis/moments.js';
import { fitFromStats, fitWithRangeGuess, storeShift } from '../src/scan/analyses.js';
import { PlanScanner } from '../src/scan/plan-scanner.js';
import { planSelection } from '../src/scan/selection.js';
import { openDb, queryRows } from '../src/store/db.js';
import { fixtureDb } from './support/fixture-db.js';
import { mulberry32 } from './support/random.js';

const DB = fixtureDb('filterdb-stats-');
function randomFilters(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n * 9 }, () => r() * 2 - 1);
}

test('layer statistics do not depend on how the filters are split into reads', () => {
  const n = 2048 * 3 + 517;
  const v = randomFilters(n, 7);
  const whole = layerStats(v, n);
  const b = new LayerStatsBuilder();
  const r = mulberry32(3);
  for (let at = 0; at < n; ) {
    const take = Math.min(n - at, 1 + Math.floor(r() * 3000));
    b.add(v.subarray(at * 9, (at + take) * 9), take);
    at += take;
  }
  assert.deepEqual(b.finish(), whole);
});

test('layer statistics: the moments of the peak-scaled filters (float64 two-pass reference) and real extreme filters', () => {
  const n = 5000;
  const v = randomFilters(n, 11);
  const st = layerStats(v, n);
  const ref = batchMoments(peakScale(v, n, 9, new Float64Array(n * 9)), n, 9);
  assert.equal(st.n, n);
  for (let i = 0; i < 9; i++) assert.ok(Math.abs(st.mean[i] - ref.mean[i]) < 1e-14, `mean ${i}`);
  for (let i = 0; i < 81; i++) assert.ok(Math.abs(st.scatter[i] - ref.scatter[i]) < 1e-10, `scatter ${i}`);
  // every extreme is one of the filters: at most 2 per direction and 128 of the largest norm
  const rows = new Set<string>();
  for (let r = 0; r < n; r++) rows.add(v.subarray(r * 9, r * 9 + 9).join(','));
  const e = st.extremes;
  assert.ok(e.length / 9 > 128 && e.length / 9 <= 146);
  for (let r = 0; r < e.length / 9; r++) assert.ok(rows.has(e.subarray(r * 9, r * 9 + 9).join(',')));
  // a small layer keeps all of its filters
  assert.deepEqual(layerStats(v, 146).extremes, v.slice(0, 146 * 9));
  assert.ok(layerStats(v, 147).extremes.length < 147 * 9);
});

test('import-h5 stores one statistics row per layer; the basis merged from them equals the scanned one', async () => {
  const db = await openDb(DB, { readOnly: true });
  let plan: Awaited<ReturnType<typeof planSelection>>;
  try {
    const rows = await queryRows(
      db.connection,
      'SELECT count(*) AS n, sum(s.n) AS filters, count(*) FILTER (WHERE s.n = l.filter_count) AS same FROM layer_stats s JOIN layers l USING (layer_id)',
    );
    assert.deepEqual(rows[0], { n: 22, filters: 8672, same: 22 });
    plan = await planSelection(db.connection, { by: 'Task' });
  } finally {
    db.close();
  }
  assert.ok(plan.stats);
  const fromStats = fitFromStats(plan, plan.stats);
  const scanner = new PlanScanner(DB, { ...plan, stats: null }, { workers: 0 });
  try {
    const scanned = await fitWithRangeGuess(scanner);
    for (let i = 0; i < 9; i++) {
      assert.ok(Math.abs(fromStats.basis.mean[i] - scanned.basis.mean[i]) < 1e-15);
      assert.ok(Math.abs(fromStats.basis.explainedVariance[i] - scanned.basis.explainedVariance[i]) < 1e-13);
      for (let j = 0; j < 9; j++)
        assert.ok(Math.abs(fromStats.basis.components[i][j] - scanned.basis.components[i][j]) < 1e-12);
    }
    // on this selection the stored extremes hold the extreme filters: the guess is the exact range
    assert.deepEqual(fromStats.guess, scanned.guess);
  } finally {
    await scanner.close();
  }
  const viaStats = await storeShift(DB, plan, { workers: 0 });
  const viaScan = await storeShift(DB, { ...plan, stats: null }, { workers: 0 });
  assert.equal(viaStats.basisFrom, 'stats');
  assert.equal(viaScan.basisFrom, 'scan');
  assert.deepEqual(viaStats.range, viaScan.range);
  for (let p = 0; p < viaStats.matrix.length; p++)
    for (let q = 0; q < viaStats.matrix.length; q++)
      assert.ok(Math.abs(viaStats.matrix[p][q] - viaScan.matrix[p][q]) < 1e-12);
});
