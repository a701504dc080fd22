/**
 * Hostile weights (issue 17, items 1 and 2): finite values whose squares overflow, and layers whose out×out
 * Gram matrix would not fit. Reproductions of the fuzzing findings, built here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isFilterDbError } from '../src/errors.js';
import { flagLayer } from '../src/metrics/flags.js';
import { setGramKernel } from '../src/metrics/linalg.js';
import {
  blockedOrthogonality,
  MAX_ORTHOGONALITY_MACS,
  measureLayer,
  orthogonality,
} from '../src/metrics/quality.js';
import { dataPath, repoRoot } from './support/paths.js';
import { mulberry32 as rng } from './support/random.js';
import { writeSafetensors } from './support/safetensors-writer.js';

const cli = join(repoRoot, 'dist/src/cli/main.js');

function randomWeights(length: number, seed: number): Float64Array {
  const rand = rng(seed);
  return Float64Array.from({ length }, () => rand() - 0.5);
}

describe('metrics of huge and tiny finite weights (item 1)', () => {
  it('1e200 in a float64 layer: every metric finite, as for the same layer scaled down', () => {
    const base = randomWeights(36, 1);
    const huge = base.map((v) => v * 2 ** 660); // exact: a power of two
    huge[0] = 1e200;
    const ref = huge.map((v) => v * 2 ** -660);
    const { metrics, nonFinite } = measureLayer(huge, [4, 1, 3, 3]);
    const expected = measureLayer(ref, [4, 1, 3, 3]).metrics;
    assert.equal(nonFinite, 0);
    for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
      const v = metrics[key];
      assert.ok(v === null || Number.isFinite(v), `${key} = ${v}`);
      if (key === 'normL1' || key === 'normL2') {
        assert.ok(Math.abs((v as number) / (expected[key] as number) / 2 ** 660 - 1) < 1e-12, key);
      } else assert.equal(v, expected[key], key);
    }
    assert.deepEqual(
      flagLayer(metrics, 0, [4, 1, 3, 3]).map((f) => f.id),
      flagLayer(expected, 0, [4, 1, 3, 3]).map((f) => f.id),
    );
  });

  it('weights near the float64 maximum: norms null and flagged overflow, the rest finite', () => {
    const w = randomWeights(72, 2).map((v) => v * 1.7e308);
    const { metrics } = measureLayer(w, [8, 1, 3, 3]);
    assert.equal(metrics.normL1, null);
    assert.ok(metrics.varianceEntropy !== null && Number.isFinite(metrics.varianceEntropy));
    assert.ok(metrics.orthogonality !== null && Number.isFinite(metrics.orthogonality));
    const flags = flagLayer(metrics, 0, [8, 1, 3, 3]).map((f) => f.id);
    assert.ok(flags.includes('overflow'), flags.join());
  });

  it('subnormal weights (squares underflow to 0) measure like the same layer scaled up', () => {
    const base = randomWeights(72, 3);
    const tiny = base.map((v) => v * 2 ** -1040);
    const a = measureLayer(tiny, [8, 1, 3, 3]).metrics;
    const b = measureLayer(
      tiny.map((v) => v * 2 ** 520 * 2 ** 520),
      [8, 1, 3, 3],
    ).metrics;
    assert.equal(a.orthogonality, b.orthogonality);
    assert.equal(a.varianceEntropy, b.varianceEntropy);
    assert.ok(a.varianceEntropy! > 0.5);
  });

  it('CLI: quality of a float64 safetensors conv [4,1,3,3] holding 1e200 exits 0 with finite numbers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'filterdb-huge-'));
    const file = join(dir, 'huge.safetensors');
    const data = randomWeights(36, 4);
    data[0] = 1e200;
    writeSafetensors(file, [{ name: 'conv.weight', shape: [4, 1, 3, 3], data }]);
    const r = spawnSync(process.execPath, [cli, 'quality', '--json', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const layer = JSON.parse(r.stdout).layers[0];
    assert.ok(layer.metrics.normL2 > 1e199 && Number.isFinite(layer.metrics.normL2));
    assert.ok(Number.isFinite(layer.metrics.varianceEntropy));
  });
});

describe('orthogonality without the out×out matrix (item 2)', () => {
  it('the blocked sum equals the full Gram (wasm and JS kernels), zero rows included', () => {
    for (const [out, d, seed] of [
      [2, 9, 1],
      [3, 1, 2],
      [257, 9, 3],
      [300, 1100, 4],
      [513, 18, 5],
      [600, 5, 6],
    ]) {
      const w = randomWeights(out * d, seed);
      w.fill(0, 0, d); // a zero filter
      w.fill(0, 7 * d, 8 * d);
      const full = orthogonality(w, out, d)!;
      for (const kernel of ['auto', 'js'] as const) {
        const previous = setGramKernel(kernel);
        try {
          const blocked = blockedOrthogonality(w, out, d)!;
          assert.ok(Math.abs(blocked - full) <= 1e-12, `${out}×${d} ${kernel}: ${blocked} vs ${full}`);
        } finally {
          setGramKernel(previous);
        }
      }
    }
  });

  it('[30000,1,1,1] is measured with memory bounded by a few MB (no 30000² matrix)', () => {
    const w = new Float32Array(30000);
    for (let i = 0; i < w.length; i++) w[i] = i % 2 ? 1 : -1;
    const before = process.memoryUsage().rss;
    const { metrics } = measureLayer(w, [30000, 1, 1, 1]);
    const grown = process.memoryUsage().rss - before;
    // Every pair of 1-value filters is ±parallel: |cos| = 1 everywhere → orthogonality 0.
    assert.ok(Math.abs(metrics.orthogonality!) < 1e-12, String(metrics.orthogonality));
    assert.ok(grown < 200 * 2 ** 20, `RSS grew ${grown} bytes`);
  });

  it('a spectrum over its limit (3000 filters of 1×3000): typed too-large before any work', () => {
    assert.throws(
      () => measureLayer(new Float32Array(3000 * 3000), [3000, 1, 1, 3000]),
      (e: unknown) => isFilterDbError(e) && e.code === 'too-large' && /variance entropy/.test(e.message),
    );
  });

  it('over the work limit: a typed too-large error before any work', () => {
    const out = 70000;
    const d = Math.ceil((2 * MAX_ORTHOGONALITY_MACS) / (out * out));
    assert.throws(
      () => measureLayer(new Float32Array(out * d), [out, d, 1, 1]),
      (e: unknown) => isFilterDbError(e) && e.code === 'too-large' && /orthogonality/.test(e.message),
    );
  });
});

describe('fuzz findings', () => {
  it('weights spanning 1e-231…1e247 in one layer: the eigen-solver converges (was: no convergence after 100 sweeps)', () => {
    // test/data/fuzz-repro/eigen-no-convergence.safetensors: npm run fuzz -- --format safetensors --seed 1, input 16263
    const r = spawnSync(
      process.execPath,
      [cli, 'quality', '--json', dataPath('fuzz-repro/eigen-no-convergence.safetensors')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout).layers.find((l: { name: string }) => l.name === 'd.weight');
    assert.ok(Number.isFinite(d.metrics.varianceEntropy), JSON.stringify(d.metrics));
  });
});

describe('ingest of a float64 layer holding 1e200 (item 1)', () => {
  it('counts the values float32 storage turns into Infinity as non_finite, so scans leave the layer out', async () => {
    const { openDb, queryRows } = await import('../src/store/db.js');
    const { ingestPaths } = await import('../src/store/ingest.js');
    const dir = mkdtempSync(join(tmpdir(), 'filterdb-huge-ingest-'));
    const file = join(dir, 'huge.safetensors');
    const data = randomWeights(36, 5);
    data[0] = 1e200;
    data[1] = -1e300;
    writeSafetensors(file, [{ name: 'conv.weight', shape: [4, 1, 3, 3], data }]);
    const db = await openDb(join(dir, 'db.duckdb'));
    try {
      await ingestPaths(db, [file]);
      const [layer] = await queryRows(
        db.connection,
        'SELECT non_finite, norm_l2, variance_entropy FROM layers',
      );
      assert.equal(layer.non_finite, 2);
      assert.ok(Number.isFinite(layer.variance_entropy as number));
      assert.ok((layer.norm_l2 as number) > 1e299);
    } finally {
      db.close();
    }
  });
});
