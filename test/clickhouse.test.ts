/**
 * `export --clickhouse` and `shift|pca --engine clickhouse://…` on a real two-shard cluster on loopback
 * (Debian's clickhouse-server, started here; skipped with the reason where it cannot run): the same
 * groups, counts and matrices as the embedded path on the fixture database and on synthetic filters.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureSyntheticDb } from '../bench/shift-data.js';
import { chCommand, chRows, clickhouseClient, parseClickHouseUrl } from '../src/engine/clickhouse.js';
import { storePca, storeShift } from '../src/scan/analyses.js';
import { planSelection } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { type LocalCluster, startCluster } from './support/clickhouse-cluster.js';
import { dataPath, repoRoot } from './support/paths.js';
import { assertClose, assertSameShift } from './support/same-shift.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-chtest-'));
const FX = join(tmp, 'fx.duckdb');
const SYN = join(tmp, 'syn.duckdb');
/** Synthetic filters exported and compared (2 models of bench/shift-data's kind). */
const SYNTHETIC = 1_500_000;
const CLI = join(repoRoot, 'dist/src/cli/main.js');
let cluster: LocalCluster | null = null;
let skip: string | false = false;

before(async () => {
  const c = await startCluster();
  if ('skip' in c) {
    skip = `ClickHouse cluster not available: ${c.skip}`;
    return;
  }
  cluster = c;
  process.stderr.write(`# two ClickHouse shards answered after ${c.startSeconds.toFixed(1)} s\n`);
  const db = await openDb(FX);
  try {
    await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics: true });
  } finally {
    db.close();
  }
});

after(async () => {
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
}

const engineUrl = (table: string) =>
  `${cluster!.urls[0].replace(/^http/, 'clickhouse')}/filterdb?table=${table}`;

function exportTo(db: string, table: string) {
  const r = cli(
    'export',
    '--db',
    db,
    '--clickhouse',
    cluster!.urls.map((u) => `${u}/filterdb`).join(','),
    '--cluster',
    cluster!.cluster,
    '--table',
    table,
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { models: number; skipped: number; filters: number };
}

async function shardCounts(table: string): Promise<number[]> {
  const out = [];
  for (const u of cluster!.urls) {
    const c = clickhouseClient(parseClickHouseUrl(`${u}/filterdb`));
    out.push(Number((await chRows(c, `SELECT count() AS n FROM filterdb.${table}_local`, u))[0].n));
    await c.close();
  }
  return out;
}

async function assertEngineShift(db: string, table: string, by: string, where?: string) {
  const local = await openDb(db, { readOnly: true });
  const plan = await planSelection(local.connection, { by, where });
  local.close();
  const streamed = await storeShift(db, plan, { workers: 0 });
  const r = cli(
    'shift',
    '--engine',
    engineUrl(table),
    '--by',
    by,
    ...(where ? ['--where', where] : []),
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  assertSameShift(JSON.parse(r.stdout), streamed);
}

test('fixture database: export to two shards, resumable per model; shift and pca --engine equal the embedded path', async (t) => {
  if (skip) return t.skip(skip);
  const first = exportTo(FX, 'fx');
  assert.ok(first.models > 1 && first.skipped === 0, JSON.stringify(first));
  const shards = await shardCounts('fx');
  assert.equal(shards[0] + shards[1], first.filters);
  assert.ok(
    shards.every((n) => n > 0),
    `both shards hold filters: ${shards}`,
  );
  // a rerun skips every model; a model whose record is gone (an interrupted export) is written again, once
  const rerun = exportTo(FX, 'fx');
  assert.equal(rerun.models, 0);
  assert.equal(rerun.skipped, first.models);
  const c = clickhouseClient(parseClickHouseUrl(`${cluster!.urls[0]}/filterdb`));
  const [m] = await chRows(c, 'SELECT min(model_id) AS id FROM filterdb.fx_export', 'test');
  await chCommand(c, `ALTER TABLE filterdb.fx_export DELETE WHERE model_id = ${m.id}`, 'test');
  for (;;) {
    const [p] = await chRows(c, 'SELECT count() AS n FROM system.mutations WHERE is_done = 0', 'test');
    if (Number(p.n) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await c.close();
  const again = exportTo(FX, 'fx');
  assert.equal(again.models, 1);
  assert.equal(
    (await shardCounts('fx')).reduce((a, b) => a + b),
    first.filters,
  );
  await assertEngineShift(FX, 'fx', 'Task');
  await assertEngineShift(FX, 'fx', 'depth');
  await assertEngineShift(FX, 'fx', 'model', "Training = 'adversarial' OR conv_depth_norm < 0.5");
  const local = await openDb(FX, { readOnly: true });
  const plan = await planSelection(local.connection, {});
  local.close();
  const streamed = await storePca(FX, plan, { workers: 0 });
  const r = cli('pca', '--engine', engineUrl('fx'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.filterCount, streamed.basis.count);
  assertClose(j.components.flat(), streamed.basis.components.flat(), 1e-12, 'components', 1);
});

test(`${SYNTHETIC.toLocaleString('en-US')} synthetic filters: shift --engine equals the embedded path`, async (t) => {
  if (skip) return t.skip(skip);
  await ensureSyntheticDb(SYN, SYNTHETIC, () => {});
  const t0 = performance.now();
  const e = exportTo(SYN, 'syn');
  process.stderr.write(
    `# exported ${e.filters} filters in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  assert.equal(e.filters, SYNTHETIC);
  await assertEngineShift(SYN, 'syn', 'depth');
  await assertEngineShift(SYN, 'syn', 'Task');
});

test('bad engine URLs and missing tables are typed errors without credentials', async (t) => {
  if (skip) return t.skip(skip);
  const r = cli(
    'shift',
    '--engine',
    `${engineUrl('nosuch').replace('//', '//alice:s3cret@')}`,
    '--by',
    'Task',
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /alice/);
  assert.doesNotMatch(r.stderr, /s3cret/);
  const missing = cli('shift', '--engine', engineUrl('nosuch'), '--by', 'Task');
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /nosuch/);
  const bad = cli('shift', '--engine', 'postgres://x/y', '--by', 'Task');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /not a known engine/);
});
