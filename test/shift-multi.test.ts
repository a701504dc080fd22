/** `shift --by A --by B --by C`: every grouping from one read of the filters, each as its own shift gives it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { storeShifts } from '../src/scan/analyses.js';
import { planSelection } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import { fixtureDb } from './support/fixture-db.js';
import { dataPath, repoRoot } from './support/paths.js';

const DB = fixtureDb('filterdb-shift-multi-');
const CLI = join(repoRoot, 'dist/src/cli/main.js');
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('shift --by Task --by Training --by depth: a JSON array, each element byte-identical to that grouping alone', () => {
  const multi = JSON.parse(
    cli('shift', '--db', DB, '--by', 'Task', '--by', 'Training', '--by', 'depth', '--json'),
  );
  assert.ok(Array.isArray(multi));
  assert.deepEqual(
    multi.map((m: { by: string }) => m.by),
    ['Task', 'Training', 'depth'],
  );
  for (const [i, by] of ['Task', 'Training', 'depth'].entries()) {
    const single = cli('shift', '--db', DB, '--by', by, '--json').trim();
    assert.ok(!single.startsWith('['), 'one --by keeps its object');
    assert.equal(JSON.stringify(multi[i]), single, by);
  }
  // the fixture answer (independent implementation) for the groupings it has
  const wanted = JSON.parse(readFileSync(dataPath('dataset.shift.depth.json'), 'utf8'));
  for (let p = 0; p < wanted.matrix.length; p++)
    for (let q = 0; q < wanted.matrix.length; q++)
      assert.ok(Math.abs(multi[2].matrix[p][q] - wanted.matrix[p][q]) < 1e-9);
});

test('several groupings: one histogram pass over the filters, the basis from the stored statistics', async () => {
  const db = await openDb(DB, { readOnly: true });
  const plans = [];
  try {
    for (const by of ['Task', 'model', 'depth']) plans.push(await planSelection(db.connection, { by }));
  } finally {
    db.close();
  }
  const passes = new Map<string, number>();
  const results = await storeShifts(DB, plans, {
    workers: 0,
    views: { kdeBins: 256, density: false },
    onProgress: (n, pass) => {
      passes.set(pass, n);
    },
  });
  assert.equal(results.length, 3);
  for (const r of results) {
    assert.equal(r.basisFrom, 'stats');
    assert.equal(r.histogramPasses, 1);
    assert.equal(r.filterCount, 8672);
    assert.ok(r.fine, 'fine histograms per grouping');
    assert.deepEqual([...r.fine.counts.keys()].sort(), [...r.groups].sort());
  }
  assert.deepEqual([...passes], [['histograms', 8672]], 'the filters were read once');
  assert.deepEqual(results[1].groups, ['digits_cnn', 'digits_cnn_adv', 'digits_denoiser', 'digits_dwsep']);
  await assert.rejects(
    storeShifts(DB, [plans[0], { ...plans[1], where: 'kind IS NULL', filterCount: 10 }]),
    /same selection/,
  );
});
