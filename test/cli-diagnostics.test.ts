/**
 * The CLI faces of issue 15: `quality --spectral --init` adds its fields for every format (JSON and CSV,
 * nothing renamed), bad options are usage errors (exit 2), prune-plan's JSON plan.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INIT_METRIC_KEYS } from '../src/metrics/init-distance.js';
import { SPECTRAL_KEYS } from '../src/metrics/spectral.js';
import { dataPath, modulePath, repoRoot } from './support/paths.js';

const cli = join(repoRoot, 'dist/src/cli/main.js');

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
    maxBuffer: 1 << 26,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FILES: [string, string, string][] = [
  ['onnx', dataPath('digits_dwsep.onnx'), 'kaiming-uniform'],
  ['pytorch', dataPath('digits_cnn.pt'), 'kaiming-uniform'],
  ['safetensors', dataPath('digits_cnn.safetensors'), 'kaiming-uniform'],
  ['tfjs', modulePath('@upscalerjs/default-model/models/model.json'), 'glorot-uniform'],
];

describe('quality --spectral --init', () => {
  for (const [format, file, rule] of FILES) {
    it(`${format}: every layer has the spectral metrics (or a reason) and an init verdict`, () => {
      const r = run(['quality', '--spectral', '--init', '--init-draws', '40', '--json', file]);
      assert.equal(r.code, 0, r.stderr);
      const q = JSON.parse(r.stdout);
      assert.equal(q.format, format);
      assert.equal(q.initRule, rule);
      assert.ok(q.layers.length > 0);
      for (const l of q.layers) {
        for (const k of SPECTRAL_KEYS) assert.ok(k in l.metrics, `${l.name} ${k}`);
        assert.ok('sparsity' in l.metrics && 'normL2Norm' in l.metrics, 'old keys kept');
        assert.ok(Array.isArray(l.trainingFlags));
        assert.ok(
          l.metrics.alpha !== null || typeof l.spectralReason === 'string',
          `${l.name}: value or reason`,
        );
        assert.equal(typeof l.init.nearInit, 'boolean');
        assert.equal(l.init.draws, 40);
      }
    });
  }

  it('--csv adds columns after the old ones, renames none', () => {
    const plain = run(['quality', '--csv', dataPath('digits_cnn.onnx')]);
    const more = run([
      'quality',
      '--csv',
      '--spectral',
      '--init',
      '--init-draws',
      '20',
      dataPath('digits_cnn.onnx'),
    ]);
    assert.equal(more.code, 0, more.stderr);
    const h0 = plain.stdout.split('\n')[0].split(',');
    const h1 = more.stdout.split('\n')[0].split(',');
    assert.deepEqual(h1.slice(0, h0.length), h0);
    assert.deepEqual(h1.slice(h0.length, h0.length + SPECTRAL_KEYS.length), [...SPECTRAL_KEYS]);
    for (const k of INIT_METRIC_KEYS) assert.ok(h1.includes(`${k}InitPercentile`));
    assert.ok(h1.includes('nearInit') && h1.includes('trainingFlags'));
  });

  it('plain quality output is unchanged by the new options existing', () => {
    const r = run(['quality', '--json', dataPath('digits_cnn.onnx')]);
    const q = JSON.parse(r.stdout);
    assert.ok(!('alpha' in q.layers[0].metrics));
    assert.ok(!('init' in q.layers[0]) && !('initRule' in q));
  });

  it('bad options are usage errors', () => {
    assert.equal(run(['quality', '--init-rule', 'xavier', dataPath('digits_cnn.onnx')]).code, 2);
    assert.equal(run(['quality', '--init-draws', '3', dataPath('digits_cnn.onnx')]).code, 2);
    assert.equal(run(['prune-plan', '--criterion', 'l3', dataPath('digits_cnn.onnx')]).code, 2);
    assert.equal(run(['prune-plan', '--ratio', '1', dataPath('digits_cnn.onnx')]).code, 2);
  });
});

describe('prune-plan --json', () => {
  it('plans every conv, keeps one filter per layer, counts the savings', () => {
    const r = run([
      'prune-plan',
      '--json',
      '--criterion',
      'fpgm',
      '--per-layer',
      '--ratio',
      '0.5',
      dataPath('digits_cnn.pt'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout);
    assert.equal(p.criterion, 'fpgm');
    assert.equal(p.mode, 'per-layer');
    assert.equal(p.layers.length, 6);
    let removed = 0;
    for (const l of p.layers) {
      assert.equal(l.prune.length, Math.floor(0.5 * l.filters));
      assert.equal(l.scores.length, l.filters);
      removed += l.paramsRemoved;
    }
    assert.equal(p.totals.paramsRemoved, removed);
    assert.equal(p.totals.macsRemoved, null);
  });
});
