/**
 * Synthetic filter databases for bench/shift: N 3x3 filters written through the store's write path
 * (writeModel: one transaction per model, FilterWriter appender chunks), models of 1.25 M filters, each with a
 * `Task` metadata value out of 8 (so `shift --by Task` has 8 groups), a `Training` value out of 3, and per-task filter structure (a
 * task-specific 3x3 template mixed into Gaussian noise with a depth-dependent amplitude) so the drift matrix is
 * not trivially zero. Also exports the same filters as float16 .npy (plus an int8 group-code .npy) for the
 * Python reference.
 */
import { closeSync, existsSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import duckdb from '@duckdb/node-bindings';
import { compareCodePoints, depthDecile, NONE_GROUP } from '../src/analysis/groups.js';
import type { ConvLayer, Model } from '../src/model/types.js';
import { openScanDb } from '../src/scan/filter-scan.js';
import { openDb } from '../src/store/db.js';
import { writeModel } from '../src/store/ingest.js';
import { refreshViews } from '../src/store/schema.js';
import { upgradeDb } from '../src/store/upgrade.js';

export const TASKS = [
  'Classification',
  'Detection',
  'Segmentation',
  'Denoising',
  'Super-Resolution',
  'Inpainting',
  'Depth-Estimation',
  'GAN',
];
export const TRAININGS = ['normal', 'adversarial', 'self-supervised'];
const FILTERS_PER_MODEL = 1_250_000;
const CHANNELS = [64, 128, 256, 512, 384, 192];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Gaussian-ish float32 pool (sum of 3 uniforms, unit variance), sliced at pseudo-random offsets. */
function makePool(size: number): Float32Array {
  const pool = new Float32Array(size);
  const r = rng(12345);
  for (let i = 0; i < size; i++) pool[i] = (r() + r() + r() - 1.5) * 2;
  return pool;
}

function templates(): Float32Array[] {
  const r = rng(777);
  return TASKS.map(() => Float32Array.from({ length: 9 }, () => r() * 2 - 1));
}

function syntheticModel(index: number, filters: number, pool: Float32Array, tpl: Float32Array[]): Model {
  const layers: ConvLayer[] = [];
  const task = index % TASKS.length;
  let left = filters;
  let i = 0;
  const t = tpl[task];
  while (left > 0) {
    const c = CHANNELS[(index + i) % CHANNELS.length];
    const out = Math.max(1, Math.min(c, Math.ceil(left / c)));
    const n = out * c;
    const take = Math.min(n, left);
    const shape = take === n ? [out, c, 3, 3] : [take, 1, 3, 3];
    const count = shape[0] * shape[1];
    const offset = ((index * 7919 + i * 104729) * 9) % (pool.length - count * 9);
    const layerNo = i;
    layers.push({
      name: `layer${i}.weight`,
      op: 'Conv',
      kind: i % 5 === 4 ? 'depthwise' : 'plain',
      shape,
      groups: 1,
      dtype: 'float32',
      graphDepth: i,
      convDepth: i,
      convDepthNorm: 0,
      loadWeight: async () => {
        const w = new Float32Array(count * 9);
        const amp = 0.5 + 2 / (1 + layerNo);
        const r = rng(index * 1000 + layerNo);
        for (let f = 0; f < count; f++) {
          const a = amp * (r() * 2 - 0.5);
          const o = f * 9;
          for (let j = 0; j < 9; j++) w[o + j] = (pool[offset + o + j] * 0.6 + a * t[j]) * 0.05;
        }
        return w;
      },
    });
    left -= count;
    i++;
  }
  layers.forEach((l, j) => {
    l.convDepth = j;
    l.convDepthNorm = layers.length > 1 ? j / (layers.length - 1) : 0;
  });
  return { format: 'synthetic', source: `synthetic-${index}`, graphDepthKnown: true, layers, warnings: [] };
}

export function removeDb(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.wal`, { force: true });
}

/** Builds (or, when it exists with the right count, reuses) a synthetic DB of `n` filters. */
export async function ensureSyntheticDb(
  path: string,
  n: number,
  log: (s: string) => void,
): Promise<{ built: boolean; seconds: number }> {
  if (existsSync(path) && !existsSync(`${path}.wal`)) {
    try {
      const db = await openDb(path, { readOnly: true });
      const r = await db.connection.runAndReadAll('SELECT count(*) FROM filters');
      db.close();
      if (Number(r.getRowsJS()[0][0]) === n) {
        await completeSyntheticDb(path, log);
        return { built: false, seconds: 0 };
      }
    } catch {
      // rebuild
    }
  }
  removeDb(path);
  const pool = makePool(1 << 25);
  const tpl = templates();
  const db = await openDb(path);
  const t0 = performance.now();
  let written = 0;
  let model = 0;
  while (written < n) {
    const count = Math.min(FILTERS_PER_MODEL, n - written);
    const m = syntheticModel(model, count, pool, tpl);
    await writeModel(
      db.connection,
      m,
      {
        name: m.source,
        file: `/synthetic/${m.source}`,
        hash: `synthetic:${model}`,
        bytes: count * 36,
        source: 'bench',
      },
      { skipMetrics: true },
      null,
    );
    written += count;
    model++;
    if (model % 8 === 0)
      log(
        `  built ${(written / 1e6).toFixed(0)} M filters, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );
  }
  await db.connection.run(
    `INSERT INTO model_meta SELECT model_id, 'Task', CASE model_id % ${TASKS.length} ${TASKS.map(
      (t, i) => `WHEN ${i} THEN '${t}'`,
    ).join(' ')} END FROM models`,
  );
  await refreshViews(db.connection);
  await db.connection.run('CHECKPOINT');
  db.close();
  const seconds = (performance.now() - t0) / 1000;
  await completeSyntheticDb(path, log);
  return { built: true, seconds };
}

/**
 * Brings a synthetic database of an earlier bench up to date: the `Training` metadata (3 values, by model)
 * and the layer statistics (`filterdb upgrade`'s code, timed).
 */
async function completeSyntheticDb(path: string, log: (s: string) => void): Promise<void> {
  const db = await openDb(path);
  try {
    const has = await db.connection.runAndReadAll("SELECT count(*) FROM model_meta WHERE key = 'Training'");
    if (Number(has.getRowsJS()[0][0]) === 0) {
      // pairs of models share a value, so 4 models (5 M filters) already have two
      await db.connection.run(
        `INSERT INTO model_meta SELECT model_id, 'Training', CASE (model_id // 2) % ${TRAININGS.length} ${TRAININGS.map(
          (t, i) => `WHEN ${i} THEN '${t}'`,
        ).join(' ')} END FROM models`,
      );
      await refreshViews(db.connection);
    }
    const up = await upgradeDb(db);
    if (up.layers > 0)
      log(
        `layer statistics of ${up.layers} layers (${up.filters.toLocaleString('en-US')} filters): ${up.seconds.toFixed(1)} s`,
      );
    await db.connection.run('CHECKPOINT');
  } finally {
    db.close();
  }
}

function npyHeader(descr: string, shape: number[]): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + dict.length + 1;
  const pad = (64 - (total % 64)) % 64;
  const header = dict + ' '.repeat(pad) + '\n';
  const buf = Buffer.alloc(10 + header.length);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, 10, 'latin1');
  return buf;
}

/** float32 → float16 bits (round to nearest even). */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  let exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00 | (((x >>> 23) & 0xff) === 0xff && mant ? 0x200 : 0);
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  exp = h >>> 10;
  return sign | h;
}

/** The groupings exported for the Python reference: per filter an int8 code into `labels` (code-point order). */
export const NPY_GROUPINGS = ['Task', 'Training', 'depth'] as const;

/**
 * Exports the filters (filter_id order) as `<base>.filters.npy` (float16, N x 3 x 3) and, per grouping of
 * {@link NPY_GROUPINGS}, each filter's group code as `<base>.<grouping>.npy` (int8, index into its labels:
 * Task and Training by model, depth by the layer's conv-depth decile as `shift --by depth`), streaming DuckDB
 * chunks.
 */
export async function exportNpy(
  dbPath: string,
  base: string,
): Promise<{ filters: string; groupings: { by: string; file: string; labels: string[] }[] }> {
  const filters = `${base}.filters.npy`;
  const scan = await openScanDb(dbPath, undefined, 1024); // ORDER BY filter_id
  const con = scan.con;
  // the labels of every layer, by grouping (one small query through node-api)
  const db = await openDb(dbPath, { readOnly: true });
  const layerRows = await db.connection.runAndReadAll(
    'SELECT layer_id, "Task", "Training", conv_depth_norm FROM layer_info WHERE filter_count > 0',
  );
  db.close();
  const layerLabels = new Map<number, string[]>();
  for (const [id, task, training, depth] of layerRows.getRowsJS())
    layerLabels.set(Number(id), [
      String(task ?? NONE_GROUP),
      String(training ?? NONE_GROUP),
      (typeof depth === 'number' ? depthDecile(depth) : null) ?? NONE_GROUP,
    ]);
  const groupings = NPY_GROUPINGS.map((by, i) => ({
    by,
    file: `${base}.${by}.npy`,
    labels: [...new Set([...layerLabels.values()].map((l) => l[i]))].sort(compareCodePoints),
  }));
  const files = [filters, ...groupings.map((g) => g.file)];
  if (files.every(existsSync)) {
    scan.close();
    return { filters, groupings };
  }
  const codeOf = new Map<number, number[]>();
  for (const [id, l] of layerLabels)
    codeOf.set(
      id,
      groupings.map((g, i) => g.labels.indexOf(l[i])),
    );
  const countRes = await duckdb.query(con, 'SELECT count(*) FROM filters');
  const countChunk = (await duckdb.fetch_chunk(countRes))!;
  const n = Number(
    new BigInt64Array(
      duckdb.vector_get_data(duckdb.data_chunk_get_vector(countChunk, 0), 8).slice().buffer,
    )[0],
  );
  // written under .part names and renamed when complete: an interrupted export is never taken for a done one
  const fd = openSync(`${filters}.part`, 'w');
  const gds = groupings.map((g) => openSync(`${g.file}.part`, 'w'));
  writeSync(fd, npyHeader('<f2', [n, 3, 3]));
  for (const gd of gds) writeSync(gd, npyHeader('|i1', [n]));
  const prep = await duckdb.prepare(
    con,
    'SELECT layer_id, w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters ORDER BY filter_id',
  );
  const res = await duckdb.execute_prepared_streaming(prep);
  for (;;) {
    const chunk = await duckdb.fetch_chunk(res);
    if (!chunk) break;
    const size = duckdb.data_chunk_get_size(chunk);
    if (size === 0) break;
    const lid = new Int32Array(
      duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, 0), size * 4).slice().buffer,
    );
    const cols = Array.from(
      { length: 9 },
      (_, k) =>
        new Float32Array(
          duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, k + 1), size * 4).slice().buffer,
        ),
    );
    const half = new Uint16Array(size * 9);
    const g = groupings.map(() => new Int8Array(size));
    for (let r = 0; r < size; r++) {
      for (let k = 0; k < 9; k++) half[r * 9 + k] = toHalf(cols[k][r]);
      const codes = codeOf.get(lid[r]);
      for (let i = 0; i < g.length; i++) g[i][r] = codes?.[i] ?? -1;
    }
    writeSync(fd, half);
    gds.forEach((gd, i) => {
      writeSync(gd, g[i]);
    });
  }
  closeSync(fd);
  for (const gd of gds) closeSync(gd);
  scan.close();
  for (const f of files) renameSync(`${f}.part`, f);
  return { filters, groupings };
}
