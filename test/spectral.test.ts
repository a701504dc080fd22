/**
 * WeightWatcher-compatible spectral metrics (src/metrics/spectral.ts) against the numpy transcription of
 * WeightWatcher in test/data/spectral/make_expected.py (SVD per kh·kw matrix, WWFit, apply_norm_metrics):
 * every conv of the trained digits_cnn.safetensors, the metrics .bin cases, a Gaussian, a heavy-tailed and a
 * rank-deficient layer, to 1e-6 relative.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import {
  fitPowerLaw,
  SPECTRAL_KEYS,
  type SpectralMetrics,
  spectralMetrics,
  trainingFlags,
} from '../src/metrics/spectral.js';
import { symmetricEigenvalues } from '../src/metrics/sym-eigenvalues.js';
import { openModelInput } from '../src/node/file-source.js';
import { dataPath } from './support/paths.js';
import { mulberry32 } from './support/random.js';

interface Case {
  shape: number[];
  spectral: SpectralMetrics | null;
}

const expected = JSON.parse(readFileSync(dataPath('spectral/expected.json'), 'utf8')) as Record<string, Case>;

function close(actual: number | null, want: number | null, what: string, tol = 1e-6): void {
  if (want === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: null, want ${want}`);
  const err = Math.abs(actual - want) / Math.max(1, Math.abs(want));
  assert.ok(err <= tol, `${what}: ${actual} vs ${want} (rel ${err.toExponential(2)})`);
}

function check(weight: Float32Array, c: Case, what: string): void {
  const r = spectralMetrics(weight, c.shape);
  if (c.spectral === null) {
    assert.ok(r.reason, `${what}: skipped layers say why`);
    for (const k of SPECTRAL_KEYS) assert.equal(r.metrics[k], null, `${what}.${k}`);
    return;
  }
  assert.equal(r.reason, null, `${what}: ${r.reason}`);
  for (const k of SPECTRAL_KEYS) close(r.metrics[k], c.spectral[k], `${what}.${k}`);
}

describe('spectral metrics vs the numpy WeightWatcher transcription', () => {
  it('every conv of digits_cnn.safetensors (trained)', async () => {
    const model = await readModel(await openModelInput(dataPath('digits_cnn.safetensors')));
    let n = 0;
    for (const layer of model.layers) {
      const c = expected[`digits_cnn.safetensors:${layer.name}`];
      assert.ok(c, layer.name);
      check((await layer.loadWeight()) as Float32Array, c, layer.name);
      n++;
    }
    assert.equal(n, 6);
  });

  for (const [key, c] of Object.entries(expected)) {
    if (!key.endsWith('.bin')) continue;
    it(key, () => {
      const bytes = readFileSync(dataPath(key));
      const w = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      check(w, c, key);
    });
  }

  it('3x3 depthwise layers are skipped with the reason in words (9 eigenvalues < 10)', () => {
    const r = spectralMetrics(new Float32Array(48 * 9).fill(0.1), [48, 1, 3, 3]);
    assert.match(r.reason ?? '', /only 9 eigenvalues.*fewer than 10/);
    assert.equal(r.metrics.alpha, null);
  });

  it('non-finite weights give nulls and a reason, not an error', () => {
    const w = new Float32Array(16 * 16 * 9).fill(0.5);
    w[7] = Number.NaN;
    const r = spectralMetrics(w, [16, 16, 3, 3], 1);
    assert.match(r.reason ?? '', /NaN/);
    assert.equal(r.metrics.logNorm, null);
  });

  it('training flags: alpha < 2 over-trained, > 6 under-trained, none in between', () => {
    const base = spectralMetrics(new Float32Array(0), [0, 0, 3, 3]).metrics;
    assert.deepEqual(
      trainingFlags({ ...base, alpha: 1.5 }).map((f) => f.id),
      ['over-trained'],
    );
    assert.deepEqual(
      trainingFlags({ ...base, alpha: 7 }).map((f) => f.id),
      ['under-trained'],
    );
    assert.deepEqual(trainingFlags({ ...base, alpha: 4 }), []);
    assert.deepEqual(trainingFlags(base), []);
  });

  it('the KS early exit does not change the fit (against the plain O(n²) search)', () => {
    const rnd = mulberry32(7);
    const data = Float64Array.from({ length: 300 }, () => 1 / (rnd() + 1e-3) ** 0.7).sort();
    const fit = fitPowerLaw(data);
    let bestD = Number.POSITIVE_INFINITY;
    let best = -1;
    for (let i = 0; i < data.length - 1; i++) {
      const m = data.length - i;
      let s = 0;
      for (let k = i; k < data.length; k++) s += Math.log(data[k]);
      const alpha = 1 + m / (s - m * Math.log(data[i]));
      let D = 1;
      if (alpha > 1) {
        D = 0;
        for (let k = 0; k < m; k++)
          D = Math.max(D, Math.abs(1 - (data[i + k] / data[i]) ** (1 - alpha) - k / m));
      }
      if (D < bestD) {
        bestD = D;
        best = i;
      }
    }
    assert.ok(fit);
    assert.equal(fit.xmin, data[best]);
    close(fit.D, bestD, 'D', 1e-12);
  });
});

describe('symmetricEigenvalues (Householder + QL)', () => {
  it('matches the trace, the Frobenius norm and a known spectrum', () => {
    const rnd = mulberry32(3);
    for (const n of [1, 2, 3, 10, 57]) {
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rnd() - 0.5;
      let trace = 0;
      let fro = 0;
      for (let i = 0; i < n; i++) trace += a[i * n + i];
      for (const v of a) fro += v * v;
      const ev = symmetricEigenvalues(a.slice(), n);
      for (let i = 1; i < n; i++) assert.ok(ev[i] >= ev[i - 1]);
      close(
        ev.reduce((s, v) => s + v, 0),
        trace,
        `trace n=${n}`,
        1e-12,
      );
      close(
        ev.reduce((s, v) => s + v * v, 0),
        fro,
        `frobenius n=${n}`,
        1e-12,
      );
    }
    // diag(1..5) rotated by a Householder reflection: eigenvalues 1..5
    const n = 5;
    const v = [0.3, -0.1, 0.5, 0.2, 0.4];
    const vv = v.reduce((s, x) => s + x * x, 0);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) {
          const hik = (i === k ? 1 : 0) - (2 * v[i] * v[k]) / vv;
          const hjk = (j === k ? 1 : 0) - (2 * v[j] * v[k]) / vv;
          s += hik * (k + 1) * hjk;
        }
        a[i * n + j] = s;
      }
    const ev = symmetricEigenvalues(a, n);
    for (let i = 0; i < n; i++) close(ev[i], i + 1, `eig ${i}`, 1e-13);
  });
});
