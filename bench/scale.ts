/**
 * bench/scale: a synthetic filter database of N 3x3 filters (default 100 M) written through the ingest
 * write path (writeModel: one transaction per model, FilterWriter appender chunks), then measured:
 * build time, size on disk, peak RSS of the build, and full-scan aggregate times.
 *
 *   node dist/bench/scale.js                 # 100 M filters
 *   node dist/bench/scale.js --n 5e6         # quick check
 *   node dist/bench/scale.js --metrics       # also compute layer metrics (as a real ingest does)
 *   node dist/bench/scale.js --compare       # the filter-table layouts compared (same N, raw appender)
 *   node dist/bench/scale.js --db /path/x.duckdb --keep
 */
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ARRAY,
  BIGINT,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  FLOAT,
  INTEGER,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { ConvLayer, Model } from '../src/model/types.js';
import { openDb } from '../src/store/db.js';
import { writeModel } from '../src/store/ingest.js';
import { machineLine } from './machine.js';

console.error(machineLine());

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const N = Math.round(Number(value('--n', flag('--quick') ? '5e6' : '1e8')));
const dbPath = value('--db', join(tmpdir(), 'filterdb-scale.duckdb'));
const FILTERS_PER_MODEL = 4_000_000;
const CHANNELS = [64, 128, 256, 512, 384, 192];

/** Gaussian-ish float32 pool (sum of 3 uniforms), sliced at pseudo-random offsets for each layer. */
function makePool(size: number): Float32Array {
  const pool = new Float32Array(size);
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  for (let i = 0; i < size; i++) pool[i] = (rnd() + rnd() + rnd() - 1.5) * 0.05;
  return pool;
}

const pool = makePool(1 << 25);

function syntheticModel(index: number, filters: number): Model {
  const layers: ConvLayer[] = [];
  let left = filters;
  let i = 0;
  while (left > 0) {
    const c = CHANNELS[(index + i) % CHANNELS.length];
    const out = Math.max(1, Math.min(c, Math.ceil(left / c)));
    const n = out * c;
    const take = Math.min(n, left);
    const shape = take === n ? [out, c, 3, 3] : [take, 1, 3, 3];
    const count = shape[0] * shape[1];
    const offset = ((index * 7919 + i * 104729) * 9) % (pool.length - count * 9);
    layers.push({
      name: `layer${i}.weight`,
      op: 'Conv',
      kind: 'plain',
      shape,
      groups: 1,
      dtype: 'float32',
      graphDepth: i,
      convDepth: i,
      convDepthNorm: 0,
      loadWeight: async () => pool.subarray(offset, offset + count * 9),
    });
    left -= count;
    i++;
  }
  layers.forEach((l, j) => {
    l.convDepthNorm = layers.length > 1 ? j / (layers.length - 1) : 0;
  });
  return { format: 'synthetic', source: `synthetic-${index}`, graphDepthKnown: true, layers, warnings: [] };
}

function removeDb(path: string) {
  rmSync(path, { force: true });
  rmSync(`${path}.wal`, { force: true });
}

const W = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8'];
/** Full-scan aggregate: count and the sum of each of the 9 values (the PCA mean). */
const SCAN_SIMPLE = `SELECT count(*), ${W.map((w) => `sum(${w})`).join(', ')} FROM filters`;
/** Count, sums and sums of squares of the 9 values (means and variances). */
const SCAN_MOMENTS = `SELECT count(*), ${W.map((w) => `sum(${w}), sum(${w} * ${w})`).join(', ')} FROM filters`;
const cov: string[] = [];
for (let a = 0; a < 9; a++) for (let b = a; b < 9; b++) cov.push(`sum(${W[a]}::DOUBLE * ${W[b]})`);
const SCAN_COVARIANCE = `SELECT count(*), ${W.map((w) => `sum(${w}::DOUBLE)`).join(', ')}, ${cov.join(', ')} FROM filters`;
const SCAN_BY_MODEL = 'SELECT model_id, count(*), avg(w4), stddev(w4) FROM filters GROUP BY model_id';

async function timeQueries(path: string, queries: Record<string, string>, reps = 3) {
  const inst = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY', memory_limit: '2GB' });
  const con = await inst.connect();
  const out: Record<string, { bestMs: number; medianMs: number }> = {};
  for (const [name, sql] of Object.entries(queries)) {
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      await con.runAndReadAll(sql);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    out[name] = { bestMs: Math.round(times[0]), medianMs: Math.round(times[Math.floor(times.length / 2)]) };
  }
  con.closeSync();
  inst.closeSync();
  return out;
}

function fileSize(path: string): number {
  let s = statSync(path).size;
  try {
    s += statSync(`${path}.wal`).size;
  } catch {
    // no WAL after a clean close
  }
  return s;
}

async function buildThroughIngestPath() {
  removeDb(dbPath);
  const db = await openDb(dbPath);
  const t0 = performance.now();
  let written = 0;
  let model = 0;
  while (written < N) {
    const n = Math.min(FILTERS_PER_MODEL, N - written);
    const m = syntheticModel(model, n);
    await writeModel(
      db.connection,
      m,
      {
        name: m.source,
        file: `/synthetic/${m.source}`,
        hash: `synthetic:${model}`,
        bytes: n * 36,
        source: 'bench',
      },
      { skipMetrics: !flag('--metrics') },
      null,
    );
    written += n;
    model++;
    if (model % 5 === 0) {
      process.stderr.write(
        `\r${(written / 1e6).toFixed(0)} M filters, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
  }
  await db.connection.run('CHECKPOINT');
  const buildS = (performance.now() - t0) / 1000;
  db.close();
  process.stderr.write('\n');
  const rssMB = process.resourceUsage().maxRSS / 1024;
  return { models: model, buildS, rssMB };
}

/** The alternative layouts, written with the same chunk-copy technique (for the layout decision). */
async function buildLayout(layout: string, path: string) {
  removeDb(path);
  const inst = await DuckDBInstance.create(path, { memory_limit: '2GB' });
  const con = await inst.connect();
  const arr = layout.startsWith('array');
  const withModel = !layout.endsWith('-nomodel');
  const comp = layout.includes('uncompressed') ? ' USING COMPRESSION uncompressed' : '';
  const wcols = arr ? 'w FLOAT[9]' : W.map((w) => `${w} FLOAT${comp}`).join(', ');
  await con.run(
    `CREATE TABLE filters (filter_id BIGINT, layer_id INTEGER, ${withModel ? 'model_id INTEGER, ' : ''}${wcols})`,
  );
  const types: DuckDBType[] = [
    BIGINT,
    INTEGER,
    ...(withModel ? [INTEGER] : []),
    ...(arr ? [ARRAY(FLOAT, 9)] : Array(9).fill(FLOAT)),
  ];
  const V = duckdb.vector_size();
  const chunk = DuckDBDataChunk.create(types);
  const raw = chunk.chunk;
  const ids = new Uint32Array(V * 2);
  const lay = new Int32Array(V);
  const mod = new Int32Array(V);
  const cols = Array.from({ length: 9 }, () => new Float32Array(V));
  const first = withModel ? 3 : 2;
  const t0 = performance.now();
  await con.run('BEGIN');
  let app = await con.createAppender('filters');
  for (let start = 0; start < N; start += V) {
    const n = Math.min(V, N - start);
    const off = ((start / V) * 104729 * 9) % (pool.length - V * 9);
    const w = pool.subarray(off, off + n * 9);
    for (let i = 0; i < n; i++) {
      const id = start + i;
      ids[i * 2] = id % 0x100000000;
      ids[i * 2 + 1] = Math.floor(id / 0x100000000);
      lay[i] = Math.floor(id / 65536);
      mod[i] = Math.floor(id / FILTERS_PER_MODEL);
    }
    duckdb.data_chunk_reset(raw);
    duckdb.data_chunk_set_size(raw, n);
    const put = (c: number, d: ArrayBufferView, bytes: number) =>
      duckdb.copy_data_to_vector(
        duckdb.data_chunk_get_vector(raw, c),
        0,
        d.buffer as ArrayBuffer,
        d.byteOffset,
        bytes,
      );
    put(0, ids, n * 8);
    put(1, lay, n * 4);
    if (withModel) put(2, mod, n * 4);
    if (arr) {
      const child = duckdb.array_vector_get_child(duckdb.data_chunk_get_vector(raw, first));
      duckdb.copy_data_to_vector(child, 0, w.buffer as ArrayBuffer, w.byteOffset, n * 36);
    } else {
      for (let k = 0; k < 9; k++) {
        const col = cols[k];
        for (let i = 0; i < n; i++) col[i] = w[i * 9 + k];
        put(first + k, col, n * 4);
      }
    }
    app.appendDataChunk(chunk);
    // one transaction per "model", as ingest does
    if ((start + n) % FILTERS_PER_MODEL < V || start + n === N) {
      app.closeSync();
      await con.run('COMMIT');
      await con.run('BEGIN');
      app = await con.createAppender('filters');
    }
  }
  app.closeSync();
  await con.run('COMMIT');
  await con.run('CHECKPOINT');
  const buildS = (performance.now() - t0) / 1000;
  con.closeSync();
  inst.closeSync();
  const q = arr
    ? `SELECT count(*), ${W.map((_, i) => `sum(w[${i + 1}])`).join(', ')} FROM filters`
    : SCAN_SIMPLE;
  const scan = await timeQueries(path, { simple: q });
  return {
    layout,
    buildS: +buildS.toFixed(1),
    sizeMB: Math.round(fileSize(path) / 1e6),
    bytesPerFilter: +(fileSize(path) / N).toFixed(1),
    scanMs: scan.simple,
  };
}

async function main() {
  if (flag('--compare')) {
    const layouts = [
      'wide-uncompressed',
      'wide-alprd',
      'array',
      'wide-uncompressed-nomodel',
      'array-nomodel',
    ];
    console.log(
      `# filter table layouts, N = ${N.toLocaleString('en')} 3x3 filters, one transaction per ${FILTERS_PER_MODEL / 1e6} M`,
    );
    for (const l of layouts) {
      const path = `${dbPath}.${l}.duckdb`;
      const r = await buildLayout(l, path);
      console.log(JSON.stringify(r));
      if (!flag('--keep')) removeDb(path);
    }
    return;
  }
  console.log(
    `# bench/scale: N = ${N.toLocaleString('en')} synthetic 3x3 filters through writeModel${flag('--metrics') ? ' (with metrics)' : ''}`,
  );
  const build = await buildThroughIngestPath();
  const size = fileSize(dbPath);
  const scans = await timeQueries(dbPath, {
    simple: SCAN_SIMPLE,
    moments: SCAN_MOMENTS,
    covariance: SCAN_COVARIANCE,
    byModel: SCAN_BY_MODEL,
  });
  const result = {
    filters: N,
    models: build.models,
    buildSeconds: +build.buildS.toFixed(1),
    filtersPerSecond: Math.round(N / build.buildS),
    sizeMB: Math.round(size / 1e6),
    bytesPerFilter: +(size / N).toFixed(1),
    buildPeakRssMB: Math.round(build.rssMB),
    scan: scans,
  };
  console.log(JSON.stringify(result, null, 2));
  const k = 1.4e9 / N;
  console.log(
    `# extrapolated to 1.4 B filters (linear): build ≈ ${((build.buildS * k) / 60).toFixed(0)} min, ` +
      `disk ≈ ${((size * k) / 1e9).toFixed(0)} GB, full scan ≈ ${((scans.simple.bestMs * k) / 1000).toFixed(0)} s ` +
      `(simple) / ${((scans.covariance.bestMs * k) / 1000).toFixed(0)} s (covariance), if the file stays in the page cache`,
  );
  if (!flag('--keep')) removeDb(dbPath);
}

await main();
