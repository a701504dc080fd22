/**
 * Hostile model files (issue 17): small files that claim huge work. Built by test/data/torch/make.py
 * (gen_blowups) or here; each was a hang, a multi-GB allocation or an untyped crash before.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { pytorchReader } from '../src/formats/pytorch.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { dataPath, repoRoot } from './support/paths.js';

const cli = `${repoRoot}/dist/src/cli/main.js`;

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<FilterDbError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof FilterDbError, `expected a FilterDbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected a '${code}' error`);
}

describe('PyTorch blow-ups (items 2 and 3)', () => {
  it('dag60.pt: 60 levels of shared references are walked once each (was: never finished)', async () => {
    const t0 = performance.now();
    const model = await pytorchReader.read(await openModelInput(dataPath('torch/dag60.pt')));
    assert.ok(performance.now() - t0 < 5000);
    assert.ok(model.layers.some((l) => l.name.endsWith('weight')));
  });

  it('expand20000.pt: a stride-0 view of 20000 filters is measured in bounded memory (was 3.1 GB)', async () => {
    const model = await pytorchReader.read(await openModelInput(dataPath('torch/expand20000.pt')));
    assert.deepEqual(model.layers[0].shape, [20000, 1, 3, 3]);
    const before = process.memoryUsage().rss;
    const report = await qualityReport(model);
    const grown = process.memoryUsage().rss - before;
    // 20000 copies of one filter: every pair is parallel.
    assert.ok(Math.abs(report.layers[0].metrics.orthogonality!) < 1e-9);
    assert.ok(grown < 200 * 2 ** 20, `RSS grew ${grown} bytes`);
  });

  it('expand_huge.pt: 90 M logical weights from 36 bytes are refused before loading', async () => {
    const e = await rejectsWith(
      pytorchReader.read(await openModelInput(dataPath('torch/expand_huge.pt'))),
      'too-large',
    );
    assert.match(e.message, /expand_huge\.pt: conv weight conv\.weight has 90000000 weights/);
  });

  it('inflated.pt: 64 MiB inflated from 65 KB into a [16777216,1,1,1] conv: typed too-large, exit 1', () => {
    const r = spawnSync(process.execPath, [cli, 'quality', dataPath('torch/inflated.pt')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /inflated\.pt: layer conv\.weight: 16777216 output filters .* orthogonality needs/,
    );
  });
});
