/**
 * The native scan reader (native/scan_reader.c) against the node-bindings batch reader: the same passes over
 * the same rows give the same bits; bad input is a clear error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pcaFromMoments } from '../src/analysis/pca.js';
import {
  openScanDb,
  openScanSource,
  type PassSpec,
  runScan,
  type ScanResult,
  type ScanSource,
  type ScanTask,
  totalMoments,
} from '../src/scan/filter-scan.js';
import { nativeScanReader, nativeScanUnavailable } from '../src/scan/native-scan.js';
import { planSelection, type SelectionPlan } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { dataPath, repoRoot } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-native-'));
const DB = join(tmp, 'fx.duckdb');
const CLI = join(repoRoot, 'dist/src/cli/main.js');
after(() => rmSync(tmp, { recursive: true, force: true }));

const native = nativeScanReader();
const skip = native ? false : `native scan reader unavailable: ${nativeScanUnavailable()}`;
let plan: SelectionPlan;

before(async () => {
  const db = await openDb(DB);
  try {
    await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics: true });
    plan = await planSelection(db.connection, { by: 'Task' });
  } finally {
    db.close();
  }
});

test('the native scan reader is built where CI requires it', () => {
  if (process.env.FILTERDB_REQUIRE_NATIVE === '1') assert.ok(native, nativeScanUnavailable() ?? '');
  else if (!native) assert.match(nativeScanUnavailable() ?? '', /.+/);
});

/** Every filter of the plan as one contiguous range (dataset.h5 layers follow each other). */
function task(pass: PassSpec, selected: Uint8Array | null = null): ScanTask {
  const lo = Math.min(...plan.layers.map((l) => l.first));
  const hi = Math.max(...plan.layers.map((l) => l.first + l.count));
  return { path: DB, ranges: [{ lo, hi }], selected, pass, superRows: 2048 };
}

async function both(t: ScanTask): Promise<[ScanResult, ScanResult, number[]]> {
  const src = await openScanSource(DB);
  const bindings: ScanSource = await openScanDb(DB);
  assert.ok(src.native, 'openScanSource takes the native reader when it is built');
  const progress: number[] = [];
  try {
    return [await runScan(t, (n) => progress.push(n), src), await runScan(t, undefined, bindings), progress];
  } finally {
    src.close();
    bindings.close();
  }
}

test('moments and histogram passes: native and node-bindings readers give the same bits', {
  skip,
}, async () => {
  const [m1, m2, progress] = await both(task({ kind: 'moments' }));
  assert.equal(m1.rows, plan.filterCount);
  assert.equal(
    progress.reduce((a, b) => a + b, 0),
    plan.filterCount,
  );
  assert.deepEqual(m1, m2);
  const basis = pcaFromMoments({ ...totalMoments(m1), dims: 9 });
  const mean = Float64Array.from(basis.mean);
  const comps = Float64Array.from(basis.components.flat());
  const layerGroup = new Int32Array(plan.layerSpan).fill(-1);
  plan.layers.forEach((l) => {
    layerGroup[l.layerId] = plan.groups.indexOf(l.group);
  });
  const hist: PassSpec = {
    kind: 'hist',
    mean,
    comps,
    lo: -3,
    hi: 3,
    maps: [{ layerGroup, groups: plan.groups.length, bins: 70 }],
    density: { size: 64, lo: -3.3, hi: 3.3, xIndex: 0, yIndex: 1 },
  };
  const [h1, h2] = await both(task(hist));
  assert.deepEqual(h1, h2);
  assert.equal(
    h1.hist![0].filters.reduce((a, b) => a + b, 0),
    plan.filterCount,
  );
});

test('rows of unselected layers are dropped by the native reader as by the batch reader', {
  skip,
}, async () => {
  const selected = new Uint8Array(plan.layerSpan);
  const kept = plan.layers.filter((_, i) => i % 3 !== 1);
  for (const l of kept) selected[l.layerId] = 1;
  const [r1, r2, progress] = await both(task({ kind: 'moments' }, selected));
  assert.equal(
    r1.rows,
    kept.reduce((s, l) => s + l.count, 0),
  );
  // progress counts rows read, selected or not
  assert.equal(
    progress.reduce((a, b) => a + b, 0),
    plan.filterCount,
  );
  assert.deepEqual(r1, r2);
});

test('shift --json is byte-identical with and without the native reader', { skip }, () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [CLI, 'shift', '--db', DB, '--by', 'depth', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, FILTERDB_NO_PROGRESS: '1', ...env },
    });
  const a = run({});
  const b = run({ FILTERDB_NATIVE_SCAN: '0' });
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(a.stdout, b.stdout);
});

test('the native reader refuses bad input with clear errors', { skip }, () => {
  const n = native!;
  const junk = join(tmp, 'junk.duckdb');
  writeFileSync(junk, 'this is not a database file, just text '.repeat(200));
  assert.throws(() => n.open(junk, 1, 16), /./);
  assert.throws(() => n.open(join(tmp, 'missing', 'x.duckdb'), 1, 16), /./);
  const db = n.open(DB, 1, 16);
  try {
    assert.throws(() => n.query(db, 'SELECT nope FROM filters'), /nope/);
    const scan = n.query(db, 'SELECT w0, w1 FROM filters');
    const a = new Float32Array(16);
    assert.throws(() => n.fill(scan, [a], 0, 16, null), /one destination per column/);
    assert.throws(() => n.fill(scan, [a, a], 0, 17, null), /outside a destination/);
    assert.throws(
      () => n.fill(scan, [a, new Float64Array(16) as unknown as Float32Array], 0, 16, null),
      /4-byte typed arrays/,
    );
    // a database handle is not a scan handle
    assert.throws(() => n.fill(db as never, [a, a], 0, 16, null), /fill\(scan/);
    assert.equal(n.fill(scan, [a, a], 0, 16, null), 16);
    n.closeScan(scan);
    assert.equal(n.fill(scan, [a, a], 0, 16, null), 0, 'a closed scan has ended');
  } finally {
    n.close(db);
  }
  assert.throws(() => n.query(db, 'SELECT 1'), /closed/);
});
